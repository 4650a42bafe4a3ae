// Keepalive socket options on Linux, macOS and FreeBSD: the same calls under
// different names and units, so the differences are named once here.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "sockopt_posix.h"

namespace tcpka {
namespace {

#if defined(__APPLE__)
// macOS calls the idle time TCP_KEEPALIVE and has no TCP_USER_TIMEOUT; the
// nearest, TCP_RXT_CONNDROPTIME, drops a connection whose retransmissions
// went unanswered for that many seconds.
constexpr int kIdleOption = TCP_KEEPALIVE;
constexpr const char* kIdleName = "TCP_KEEPALIVE";
constexpr int kUserTimeoutOption = TCP_RXT_CONNDROPTIME;
constexpr const char* kUserTimeoutName = "TCP_RXT_CONNDROPTIME";
constexpr int kUserTimeoutUnitMs = 1000;
#elif defined(__FreeBSD__)
constexpr int kIdleOption = TCP_KEEPIDLE;
constexpr const char* kIdleName = "TCP_KEEPIDLE";
#ifdef TCP_MAXUNACKTIME  // FreeBSD 13 and later
constexpr int kUserTimeoutOption = TCP_MAXUNACKTIME;
#else
constexpr int kUserTimeoutOption = -1;
#endif
constexpr const char* kUserTimeoutName = "TCP_MAXUNACKTIME";
constexpr int kUserTimeoutUnitMs = 1000;
#else
constexpr int kIdleOption = TCP_KEEPIDLE;
constexpr const char* kIdleName = "TCP_KEEPIDLE";
constexpr int kUserTimeoutOption = TCP_USER_TIMEOUT;
constexpr const char* kUserTimeoutName = "TCP_USER_TIMEOUT";
constexpr int kUserTimeoutUnitMs = 1;
#endif

int SetUserTimeout(int fd, int64_t ms, Failure* failed) {
  if (kUserTimeoutOption < 0) {
    failed->syscall = "setsockopt";
    failed->what = kUserTimeoutName;
    return ENOPROTOOPT;
  }
  // Where the kernel counts seconds, round up so a small timeout never becomes 0 (off).
  int value = static_cast<int>((ms + kUserTimeoutUnitMs - 1) / kUserTimeoutUnitMs);
  return SetIntOption(fd, IPPROTO_TCP, kUserTimeoutOption, value, kUserTimeoutName, failed);
}

}  // namespace

int SetKeepAlive(int fd, const KeepAliveRequest& req, Failure* failed) {
  // Set the timers before switching keepalive on: if one is refused, the
  // socket is not left probing with values the caller did not ask for.
  if (req.enable) {
    if (req.idle_s != kLeave) {
      if (int err = SetIntOption(fd, IPPROTO_TCP, kIdleOption, req.idle_s, kIdleName, failed)) return err;
    }
    if (req.interval_s != kLeave) {
      if (int err = SetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, req.interval_s, "TCP_KEEPINTVL", failed)) return err;
    }
    if (req.count != kLeave) {
      if (int err = SetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, req.count, "TCP_KEEPCNT", failed)) return err;
    }
  }
  // The user timeout is independent of SO_KEEPALIVE, so it is honoured when
  // turning keepalive off too.
  if (req.user_timeout_ms != kLeave) {
    if (int err = SetUserTimeout(fd, req.user_timeout_ms, failed)) return err;
  }
  return SetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, req.enable ? 1 : 0, "SO_KEEPALIVE", failed);
}

int GetKeepAlive(int fd, KeepAliveState* out, Failure* failed) {
  int enabled = 0;
  if (int err = GetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, &enabled, "SO_KEEPALIVE", failed)) return err;
  if (int err = GetIntOption(fd, IPPROTO_TCP, kIdleOption, &out->idle_s, kIdleName, failed)) return err;
  if (int err = GetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval_s, "TCP_KEEPINTVL", failed)) return err;
  if (int err = GetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count, "TCP_KEEPCNT", failed)) return err;
  out->enabled = enabled != 0;
  out->user_timeout_ms = -1;
  if (kUserTimeoutOption >= 0) {
    int user_timeout = 0;
    if (int err = GetIntOption(fd, IPPROTO_TCP, kUserTimeoutOption, &user_timeout, kUserTimeoutName, failed)) return err;
    out->user_timeout_ms = static_cast<int64_t>(user_timeout) * kUserTimeoutUnitMs;
  }
  return 0;
}

}  // namespace tcpka
