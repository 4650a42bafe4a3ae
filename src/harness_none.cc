// The peer-killing helpers of the test harness are Linux-only.
#include "keepalive.h"

namespace tcpka {

static int Unsupported(const char* what, Failure* failed) {
  failed->syscall = "setsockopt";
  failed->what = what;
  return kNotSupported;
}

int AttachDropFilter(int, Failure* failed) { return Unsupported("SO_ATTACH_FILTER", failed); }
int DetachFilter(int, Failure* failed) { return Unsupported("SO_DETACH_FILTER", failed); }
int SetRepairMode(int, bool, Failure* failed) { return Unsupported("TCP_REPAIR", failed); }

}  // namespace tcpka
