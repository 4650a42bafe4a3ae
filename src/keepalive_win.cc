// Node gives JavaScript no SOCKET handle on Windows, so per-socket options
// are set from lib/ through Node's own setKeepAlive; only the system
// defaults are read here.
#include "keepalive.h"

#include <windows.h>

namespace tcpka {

static int NoHandle(const char* what, Failure* failed) {
  failed->syscall = "setsockopt";
  failed->what = what;
  return kNotSupported;
}

int SetKeepAlive(int, const KeepAliveRequest&, Failure* failed) { return NoHandle("SO_KEEPALIVE", failed); }
int GetKeepAlive(int, KeepAliveState*, Failure* failed) { return NoHandle("SO_KEEPALIVE", failed); }
int ReadTcpInfo(int, TcpInfo*, Failure* failed) { return NoHandle("TCP_INFO", failed); }

// KeepAliveTime and KeepAliveInterval are optional registry values (ms);
// absent, Windows uses 2 h and 1 s. The probe count is fixed at 10 since
// Vista (TcpMaxDataRetransmissions no longer applies to keepalive).
static int RegistryMs(const wchar_t* name, DWORD fallback) {
  DWORD value = 0, size = sizeof(value);
  LSTATUS status = RegGetValueW(HKEY_LOCAL_MACHINE, L"SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters",
                                name, RRF_RT_REG_DWORD, nullptr, &value, &size);
  return static_cast<int>(status == ERROR_SUCCESS ? value : fallback);
}

int ReadSystemDefaults(SystemDefaults* out, Failure*) {
  out->idle_s = (RegistryMs(L"KeepAliveTime", 7200000) + 999) / 1000;
  out->interval_s = (RegistryMs(L"KeepAliveInterval", 1000) + 999) / 1000;
  out->count = 10;
  return 0;
}

}  // namespace tcpka
