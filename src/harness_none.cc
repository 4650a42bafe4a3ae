// The peer-killing helpers of the test harness are Linux-only.
#include "harness.h"

namespace tcpka {

int AttachDropFilter(int, Failure* failed) { return Unsupported("setsockopt", "SO_ATTACH_FILTER", failed); }
int DetachFilter(int, Failure* failed) { return Unsupported("setsockopt", "SO_DETACH_FILTER", failed); }
int SetRepairMode(int, bool, Failure* failed) { return Unsupported("setsockopt", "TCP_REPAIR", failed); }

}  // namespace tcpka
