// System defaults and TCP_INFO on Linux.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cstdlib>

#include "sockopt_posix.h"

namespace tcpka {

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
  if (int err = ReadProcInt("/proc/sys/net/ipv4/tcp_keepalive_time", &out->idle_s, failed)) return err;
  if (int err = ReadProcInt("/proc/sys/net/ipv4/tcp_keepalive_intvl", &out->interval_s, failed)) return err;
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
