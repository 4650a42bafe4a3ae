// Comparing one descriptor with a connection's endpoints, the same on every
// POSIX platform. Edge cases, each decided here:
// - A listening socket has the same local endpoint as the sockets it
//   accepted; getpeername() fails on it (ENOTCONN), so it never matches.
// - A client and the server socket that accepted it, both in this process
//   (loopback), have the same two endpoints swapped: comparing local with
//   local and remote with remote tells them apart.
// - A socket not yet connected has no peer: it never matches, and the JS
//   layer does not ask before the runtime reports a remote address.
// - A dup()ed descriptor is the same kernel socket: the first one found is
//   as good as any.
// - A connected UDP socket can have the same endpoints: SO_TYPE must say
//   SOCK_STREAM. A Unix-domain socket has another address family.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "find_fd.h"

namespace tcpka {

inline bool EndpointOf(const sockaddr_storage& addr, Endpoint* out) {
  if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    memcpy(out->address, &v6.sin6_addr, 16);
    out->port = ntohs(v6.sin6_port);
    return true;
  }
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(out->address, kMappedPrefix, 12);
    memcpy(out->address + 12, &v4.sin_addr, 4);
    out->port = ntohs(v4.sin_port);
    return true;
  }
  return false;
}

inline bool SameEndpoint(const Endpoint& a, const Endpoint& b) {
  return a.port == b.port && memcmp(a.address, b.address, 16) == 0;
}

// getsockname() first: it fails at once on a descriptor that is not a
// socket (ENOTSOCK), which most descriptors of a process are not.
inline bool IsConnection(int fd, const Connection& conn) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  Endpoint endpoint;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  if (!EndpointOf(addr, &endpoint) || !SameEndpoint(endpoint, conn.local)) return false;
  len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  if (!EndpointOf(addr, &endpoint) || !SameEndpoint(endpoint, conn.remote)) return false;
  int type = 0;
  len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

inline bool ParseEndpointPosix(const char* text, int port, Endpoint* out) {
  char copy[INET6_ADDRSTRLEN + 64];
  strncpy(copy, text, sizeof(copy) - 1);
  copy[sizeof(copy) - 1] = '\0';
  // The zone of a link-local address ("%eth0") is not part of the address
  // getsockname() reports.
  if (char* zone = strchr(copy, '%')) *zone = '\0';
  sockaddr_storage addr{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(addr);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(addr);
  if (inet_pton(AF_INET, copy, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, copy, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
  } else {
    return false;
  }
  if (!EndpointOf(addr, out)) return false;
  out->port = port;
  return true;
}

}  // namespace tcpka
