// The seam between the N-API layer (addon.cc) and one source file per OS.
// The platform files know socket options and sysctls, nothing of JavaScript;
// every function returns 0 or an errno and names what failed, so that
// addon.cc alone turns errors into JavaScript exceptions.
#pragma once

#include <cerrno>
#include <cstdint>

namespace tcpka {

// Values the caller does not want changed are kLeave. Times are already in
// the unit the JS layer promised the kernel: whole seconds for idle and
// interval, milliseconds for the user timeout (converted per platform).
constexpr int kLeave = -1;

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

// Filled on failure: the call that failed and the option, sysctl or file it
// was about.
struct Failure {
  const char* syscall = "";
  const char* what = "";
};

// For an option this OS does not have. libuv reads the returned number as an
// errno on POSIX and as a Win32 error on Windows, so each gets its own code
// for "not supported": ERROR_NOT_SUPPORTED (50 in winerror.h) is the Windows
// code uv_translate_sys_error names ENOTSUP. WSAEOPNOTSUPP is not in its
// table and comes out UNKNOWN (test/package/prebuild-win32.test.ts checks
// this under wine).
inline int Unsupported(const char* syscall, const char* what, Failure* failed) {
  failed->syscall = syscall;
  failed->what = what;
#ifdef _WIN32
  return 50;
#else
  return ENOTSUP;
#endif
}

int SetKeepAlive(int fd, const KeepAliveRequest& req, Failure* failed);
int GetKeepAlive(int fd, KeepAliveState* out, Failure* failed);
int ReadSystemDefaults(SystemDefaults* out, Failure* failed);
int ReadTcpInfo(int fd, TcpInfo* out, Failure* failed);

}  // namespace tcpka
