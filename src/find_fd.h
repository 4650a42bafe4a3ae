// Finding the descriptor of a TCP connection inside this process, for
// runtimes that hold the kernel socket but give JavaScript no fd (Bun's
// http server sockets, every Deno socket). The caller names the connection
// by its two endpoints; one file per OS enumerates the process's
// descriptors, and find_fd_posix.h compares each with the endpoints.
#pragma once

#include <cstdint>

#include "keepalive.h"

namespace tcpka {

// An IPv4 address is held as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so
// that a dual-stack socket's ::ffff:127.0.0.1 and a runtime's "127.0.0.1"
// compare equal. Port in host order.
struct Endpoint {
  uint8_t address[16];
  int port;
};

struct Connection {
  Endpoint local;
  Endpoint remote;
};

// Parses a textual address ("127.0.0.1", "::1", "fe80::1%eth0",
// "::ffff:10.0.0.1"); false when it is none of these.
bool ParseEndpoint(const char* text, int port, Endpoint* out);

// Sets *fd to the descriptor of the connected TCP socket whose local and
// remote endpoints are `conn`, or to -1 when no descriptor of this process
// is that connection. `hint` (or -1) is checked first: the descriptor found
// last time, so a repeated lookup costs two system calls.
int FindConnectionFd(const Connection& conn, int hint, int* fd, Failure* failed);

}  // namespace tcpka
