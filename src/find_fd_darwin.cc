// macOS: proc_pidinfo(PROC_PIDLISTFDS) lists the process's descriptors with
// their kind, so only sockets are compared. The list is read into a buffer
// sized by a first call; descriptors opened between the two calls are not
// in it, which cannot hide the connection asked about (it is already open).
#include <libproc.h>
#include <sys/proc_info.h>
#include <unistd.h>

#include <vector>

#include "find_fd_posix.h"

namespace tcpka {

bool ParseEndpoint(const char* text, int port, Endpoint* out) { return ParseEndpointPosix(text, port, out); }

int FindConnectionFd(const Connection& conn, int hint, int* fd, Failure* failed) {
  *fd = -1;
  if (hint >= 0 && IsConnection(hint, conn)) {
    *fd = hint;
    return 0;
  }
  const pid_t pid = getpid();
  int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, nullptr, 0);
  if (bytes <= 0) {
    failed->syscall = "proc_pidinfo";
    failed->what = "PROC_PIDLISTFDS";
    return errno;
  }
  std::vector<proc_fdinfo> fds(static_cast<size_t>(bytes) / sizeof(proc_fdinfo) + 16);
  bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds.data(), static_cast<int>(fds.size() * sizeof(proc_fdinfo)));
  if (bytes <= 0) {
    failed->syscall = "proc_pidinfo";
    failed->what = "PROC_PIDLISTFDS";
    return errno;
  }
  const size_t count = static_cast<size_t>(bytes) / sizeof(proc_fdinfo);
  for (size_t i = 0; i < count; i++) {
    if (fds[i].proc_fdtype != PROX_FDTYPE_SOCKET || fds[i].proc_fd == hint) continue;
    if (IsConnection(fds[i].proc_fd, conn)) {
      *fd = fds[i].proc_fd;
      break;
    }
  }
  return 0;
}

}  // namespace tcpka
