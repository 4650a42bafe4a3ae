#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cstdlib>

#include "sockopt_posix.h"

namespace tcpka {

int SetKeepAlive(int fd, const KeepAliveRequest& req, Failure* failed) {
  // Set the timers before switching keepalive on: if one is refused, the
  // socket is not left probing with values the caller did not ask for.
  if (req.enable) {
    if (req.idle_s != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, req.idle_s, "TCP_KEEPIDLE", failed));
    if (req.interval_s != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, req.interval_s, "TCP_KEEPINTVL", failed));
    if (req.count != kLeave)
      TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, req.count, "TCP_KEEPCNT", failed));
  }
  // TCP_USER_TIMEOUT is independent of SO_KEEPALIVE, so it is honoured when
  // turning keepalive off too.
  if (req.user_timeout_ms != kLeave)
    TCPKA_TRY(SetIntOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
                           static_cast<int>(req.user_timeout_ms), "TCP_USER_TIMEOUT", failed));
  return SetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, req.enable ? 1 : 0, "SO_KEEPALIVE", failed);
}

int GetKeepAlive(int fd, KeepAliveState* out, Failure* failed) {
  int enabled = 0, user_timeout = 0;
  TCPKA_TRY(GetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, &enabled, "SO_KEEPALIVE", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, &out->idle_s, "TCP_KEEPIDLE", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval_s, "TCP_KEEPINTVL", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count, "TCP_KEEPCNT", failed));
  TCPKA_TRY(GetIntOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, "TCP_USER_TIMEOUT", failed));
  out->enabled = enabled != 0;
  out->user_timeout_ms = user_timeout;
  return 0;
}

// The sysctls live per network namespace under /proc/sys; reading the files
// of the calling thread's namespace is what `sysctl` itself does.
static int ReadProcInt(const char* path, int* value, Failure* failed) {
  failed->what = path;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    failed->syscall = "open";
    return errno;
  }
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (n < 0) {
    failed->syscall = "read";
    return err;
  }
  buf[n] = '\0';
  char* end = nullptr;
  long parsed = strtol(buf, &end, 10);
  if (end == buf) {
    failed->syscall = "read";
    return EINVAL;
  }
  *value = static_cast<int>(parsed);
  return 0;
}

int ReadSystemDefaults(SystemDefaults* out, Failure* failed) {
  TCPKA_TRY(ReadProcInt("/proc/sys/net/ipv4/tcp_keepalive_time", &out->idle_s, failed));
  TCPKA_TRY(ReadProcInt("/proc/sys/net/ipv4/tcp_keepalive_intvl", &out->interval_s, failed));
  return ReadProcInt("/proc/sys/net/ipv4/tcp_keepalive_probes", &out->count, failed);
}

int ReadTcpInfo(int fd, TcpInfo* out, Failure* failed) {
  struct tcp_info ti = {};
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
    failed->syscall = "getsockopt";
    failed->what = "TCP_INFO";
    return errno;
  }
  out->state = ti.tcpi_state;
  out->retransmits = ti.tcpi_retransmits;
  out->probes = ti.tcpi_probes;
  out->backoff = ti.tcpi_backoff;
  out->rto_us = ti.tcpi_rto;
  out->rtt_us = ti.tcpi_rtt;
  out->unacked = ti.tcpi_unacked;
  out->last_data_sent_ms = ti.tcpi_last_data_sent;
  out->last_data_recv_ms = ti.tcpi_last_data_recv;
  out->last_ack_recv_ms = ti.tcpi_last_ack_recv;
  return 0;
}

}  // namespace tcpka
