// Linux: the process's descriptors are the entries of /proc/self/fd.
// Where /proc is not mounted (some minimal containers) the lookup fails with
// the error of opening it, and the JS layer reports that no fd was found.
#include <dirent.h>

#include <cstdlib>

#include "find_fd_posix.h"

namespace tcpka {

bool ParseEndpoint(const char* text, int port, Endpoint* out) { return ParseEndpointPosix(text, port, out); }

int FindConnectionFd(const Connection& conn, int hint, int* fd, Failure* failed) {
  *fd = -1;
  if (hint >= 0 && IsConnection(hint, conn)) {
    *fd = hint;
    return 0;
  }
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    failed->syscall = "opendir";
    failed->what = "/proc/self/fd";
    return errno;
  }
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long candidate = strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || candidate == own || candidate == hint) continue;
    if (IsConnection(static_cast<int>(candidate), conn)) {
      *fd = static_cast<int>(candidate);
      break;
    }
  }
  closedir(dir);
  return 0;
}

}  // namespace tcpka
