// Node gives JavaScript no SOCKET handle on Windows, so per-socket options
// are set from lib/ through Node's own setKeepAlive; the system defaults are
// read in system_win.cc.
#include "keepalive.h"

namespace tcpka {

int SetKeepAlive(int, const KeepAliveRequest&, Failure* failed) { return Unsupported("setsockopt", "SO_KEEPALIVE", failed); }
int GetKeepAlive(int, KeepAliveState*, Failure* failed) { return Unsupported("getsockopt", "SO_KEEPALIVE", failed); }

}  // namespace tcpka
