// Ways for the test harness to make a peer die without telling the other
// end. Both need CAP_NET_ADMIN on current kernels.
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "harness.h"
#include "sockopt_posix.h"

namespace tcpka {

int AttachDropFilter(int fd, Failure* failed) {
  // A classic BPF program of one instruction, "return 0": every segment that
  // arrives for this socket is dropped before TCP sees it, so the peer neither
  // reads nor acknowledges anything: a blackhole seen from the other end.
  struct sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  struct sock_fprog program = {1, drop_all};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) == 0) return 0;
  failed->syscall = "setsockopt";
  failed->what = "SO_ATTACH_FILTER";
  return errno;
}

int DetachFilter(int fd, Failure* failed) {
  int unused = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) == 0) return 0;
  failed->syscall = "setsockopt";
  failed->what = "SO_DETACH_FILTER";
  return errno;
}

// A socket closed in repair mode vanishes without FIN or RST, the way a
// rebooted host forgets its connections.
int SetRepairMode(int fd, bool on, Failure* failed) {
  return SetIntOption(fd, IPPROTO_TCP, TCP_REPAIR, on ? 1 : 0, "TCP_REPAIR", failed);
}

}  // namespace tcpka
