// Integer socket options with the failure bookkeeping every POSIX platform
// file needs.
#pragma once

#include <errno.h>
#include <sys/socket.h>

#include "keepalive.h"

namespace tcpka {

inline int SetIntOption(int fd, int level, int name, int value, const char* what,
                        Failure* failed) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) == 0) return 0;
  failed->syscall = "setsockopt";
  failed->what = what;
  return errno;
}

inline int GetIntOption(int fd, int level, int name, int* value, const char* what,
                        Failure* failed) {
  socklen_t len = sizeof(*value);
  if (getsockopt(fd, level, name, value, &len) == 0) return 0;
  failed->syscall = "getsockopt";
  failed->what = what;
  return errno;
}

}  // namespace tcpka
