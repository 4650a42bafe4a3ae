// The test harness's ways to make a peer die without telling the other end.
// Not part of the library: addon.cc exports them on a separate `harness`
// object that only lib/harness/ reads. Unsupported() where the OS has no
// equivalent.
#pragma once

#include "keepalive.h"

namespace tcpka {

int AttachDropFilter(int fd, Failure* failed);
int DetachFilter(int fd, Failure* failed);
int SetRepairMode(int fd, bool on, Failure* failed);

}  // namespace tcpka
