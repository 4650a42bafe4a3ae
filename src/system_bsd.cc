// System defaults and TCP_INFO on macOS and FreeBSD: the same sysctl names
// (times in milliseconds), different TCP_INFO structures.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include "sockopt_posix.h"

namespace tcpka {

static int ReadSysctl(const char* name, int* value, Failure* failed) {
  size_t len = sizeof(*value);
  if (sysctlbyname(name, value, &len, nullptr, 0) == 0) return 0;
  failed->syscall = "sysctlbyname";
  failed->what = name;
  return errno;
}

int ReadSystemDefaults(SystemDefaults* out, Failure* failed) {
  int idle_ms = 0, interval_ms = 0;
  if (int err = ReadSysctl("net.inet.tcp.keepidle", &idle_ms, failed)) return err;
  if (int err = ReadSysctl("net.inet.tcp.keepintvl", &interval_ms, failed)) return err;
  if (int err = ReadSysctl("net.inet.tcp.keepcnt", &out->count, failed)) return err;
  out->idle_s = (idle_ms + 999) / 1000;
  out->interval_s = (interval_ms + 999) / 1000;
  return 0;
}

int ReadTcpInfo(int fd, TcpInfo* out, Failure* failed) {
#if defined(__APPLE__)
  struct tcp_connection_info ti = {};
  const int option = TCP_CONNECTION_INFO;
  failed->what = "TCP_CONNECTION_INFO";
#else
  struct tcp_info ti = {};
  const int option = TCP_INFO;
  failed->what = "TCP_INFO";
#endif
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, option, &ti, &len) != 0) {
    failed->syscall = "getsockopt";
    return errno;
  }
  *out = TcpInfo{ti.tcpi_state, -1, -1, -1, -1, -1, -1, -1, -1, -1};
#if defined(__APPLE__)
  out->retransmits = ti.tcpi_txretransmitpackets;
  out->rto_us = static_cast<int64_t>(ti.tcpi_rto) * 1000;
  out->rtt_us = static_cast<int64_t>(ti.tcpi_srtt) * 1000;
#else
  out->retransmits = ti.tcpi_snd_rexmitpack;
  out->rto_us = ti.tcpi_rto;
  out->rtt_us = ti.tcpi_rtt;
  out->last_data_recv_ms = ti.tcpi_last_data_recv;
#endif
  return 0;
}

}  // namespace tcpka
