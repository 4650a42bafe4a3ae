// The seam between the N-API layer (addon.cc) and one source file per OS.
// The platform files know socket options and sysctls, nothing of JavaScript;
// every function returns 0 or an errno and names what failed, so that
// addon.cc alone turns errors into JavaScript exceptions.
#pragma once

#include <cstdint>

#ifdef _WIN32
#include <winerror.h>
#else
#include <cerrno>
#endif

namespace tcpka {

// Values the caller does not want changed are kLeave. Times are already in
// the unit the JS layer promised the kernel: whole seconds for idle and
// interval, milliseconds for the user timeout (converted per platform).
constexpr int kLeave = -1;

// The error for "this OS has no such option". addon.cc hands every error to
// uv_translate_sys_error, which on Windows reads a Windows error code, not
// an errno: a POSIX ENOTSUP there came out as UNKNOWN. ERROR_NOT_SUPPORTED is
// the Windows code libuv maps to ENOTSUP (WSAEOPNOTSUPP maps to nothing).
#ifdef _WIN32
constexpr int kNotSupported = ERROR_NOT_SUPPORTED;
#else
constexpr int kNotSupported = ENOTSUP;
#endif

struct KeepAliveRequest {
  bool enable;
  int idle_s;
  int interval_s;
  int count;
  int64_t user_timeout_ms;
};

struct KeepAliveState {
  bool enabled;
  int idle_s;
  int interval_s;
  int count;
  int64_t user_timeout_ms;  // -1 where the platform has no such option
};

struct SystemDefaults {
  int idle_s;
  int interval_s;
  int count;
};

// A subset of TCP_INFO that every platform can fill; -1 means unknown.
struct TcpInfo {
  int state;
  int64_t retransmits;
  int64_t probes;
  int64_t backoff;
  int64_t rto_us;
  int64_t rtt_us;
  int64_t unacked;
  int64_t last_data_sent_ms;
  int64_t last_data_recv_ms;
  int64_t last_ack_recv_ms;
};

// On failure: *failed names the option, sysctl or file involved and
// *syscall the call that failed.
struct Failure {
  const char* syscall = "";
  const char* what = "";
};

int SetKeepAlive(int fd, const KeepAliveRequest& req, Failure* failed);
int GetKeepAlive(int fd, KeepAliveState* out, Failure* failed);
int ReadSystemDefaults(SystemDefaults* out, Failure* failed);
int ReadTcpInfo(int fd, TcpInfo* out, Failure* failed);

// Test-harness helpers: ways to make a peer die. kNotSupported where the OS
// has no equivalent.
int AttachDropFilter(int fd, Failure* failed);
int DetachFilter(int fd, Failure* failed);
int SetRepairMode(int fd, bool on, Failure* failed);

}  // namespace tcpka
