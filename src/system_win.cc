// Windows: the system-wide keepalive defaults from the registry. There is no
// TCP_INFO to read for a socket JavaScript holds (Node gives no handle).
#include <windows.h>

#include "keepalive.h"

namespace tcpka {

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

int ReadTcpInfo(int, TcpInfo*, Failure* failed) { return Unsupported("getsockopt", "TCP_INFO", failed); }

}  // namespace tcpka
