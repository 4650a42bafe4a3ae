// macOS names the idle option TCP_KEEPALIVE, has no TCP_USER_TIMEOUT (the
// nearest is TCP_RXT_CONNDROPTIME, in seconds) and keeps its sysctl times
// in milliseconds.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sysctl.h>

#include "sockopt_posix.h"

namespace tcpka {

static int CeilSeconds(int64_t ms) { return static_cast<int>((ms + 999) / 1000); }

int SetKeepAlive(int fd, const KeepAliveRequest& req, Failure* failed) {
  if (req.enable) {
    if (req.idle_s != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPALIVE, req.idle_s, "TCP_KEEPALIVE", failed));
    if (req.interval_s != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, req.interval_s, "TCP_KEEPINTVL", failed));
    if (req.count != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, req.count, "TCP_KEEPCNT", failed));
  }
  if (req.user_timeout_ms != kLeave)
    TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_RXT_CONNDROPTIME, CeilSeconds(req.user_timeout_ms),
                           "TCP_RXT_CONNDROPTIME", failed));
  return SetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, req.enable ? 1 : 0, "SO_KEEPALIVE", failed);
}

int GetKeepAlive(int fd, KeepAliveState* out, Failure* failed) {
  int enabled = 0, drop_s = 0;
  TCPKA_TRY(GetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, &enabled, "SO_KEEPALIVE", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPALIVE, &out->idle_s, "TCP_KEEPALIVE", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval_s, "TCP_KEEPINTVL", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count, "TCP_KEEPCNT", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_RXT_CONNDROPTIME, &drop_s, "TCP_RXT_CONNDROPTIME", failed));
  out->enabled = enabled != 0;
  out->user_timeout_ms = static_cast<int64_t>(drop_s) * 1000;
  return 0;
}

static int ReadSysctl(const char* name, int* value, Failure* failed) {
  size_t len = sizeof(*value);
  if (sysctlbyname(name, value, &len, nullptr, 0) == 0) return 0;
  failed->syscall = "sysctlbyname";
  failed->what = name;
  return errno;
}

int ReadSystemDefaults(SystemDefaults* out, Failure* failed) {
  int idle_ms = 0, interval_ms = 0;
  TCPKA_TRY(ReadSysctl("net.inet.tcp.keepidle", &idle_ms, failed));
  TCPKA_TRY(ReadSysctl("net.inet.tcp.keepintvl", &interval_ms, failed));
  TCPKA_TRY(ReadSysctl("net.inet.tcp.keepcnt", &out->count, failed));
  out->idle_s = CeilSeconds(idle_ms);
  out->interval_s = CeilSeconds(interval_ms);
  return 0;
}

int ReadTcpInfo(int fd, TcpInfo* out, Failure* failed) {
  struct tcp_connection_info ti = {};
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONNECTION_INFO, &ti, &len) != 0) {
    failed->syscall = "getsockopt";
    failed->what = "TCP_CONNECTION_INFO";
    return errno;
  }
  *out = TcpInfo{ti.tcpi_state, ti.tcpi_txretransmitpackets, -1, -1,
                 static_cast<int64_t>(ti.tcpi_rto) * 1000, static_cast<int64_t>(ti.tcpi_srtt) * 1000,
                 -1, -1, -1, -1};
  return 0;
}

}  // namespace tcpka
