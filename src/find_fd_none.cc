// Windows and FreeBSD: no lookup of a connection's descriptor. On Windows
// Node gives no socket handle to JavaScript in any case (per-socket options
// go through Node's own setKeepAlive); FreeBSD has no runtime here that
// hides the fd. The JS layer does not call this where it is unsupported.
#include "find_fd.h"

#include <cstring>

namespace tcpka {

bool ParseEndpoint(const char*, int port, Endpoint* out) {
  memset(out->address, 0, sizeof(out->address));
  out->port = port;
  return true;
}

int FindConnectionFd(const Connection&, int, int* fd, Failure* failed) {
  *fd = -1;
  return Unsupported("FindConnectionFd", "a connection's file descriptor", failed);
}

}  // namespace tcpka
