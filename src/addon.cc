// N-API surface. Input is validated in lib/ before it gets here; this file
// only converts arguments, calls the platform layer and turns an errno into
// an error shaped like Node's own system errors.
#include <napi.h>

#include <string>

#include "find_fd.h"
#include "harness.h"
#include "keepalive.h"

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#ifdef _WIN32
// The three libuv calls that name an error the way Node does. Declared here,
// not through <uv.h>, so the addon compiles against the node-api-headers
// package alone (the Windows cross build has no Node source headers); node
// and node.exe export them beside N-API. POSIX names errors itself
// (errno_name.h): other runtimes lack them.
extern "C" {
int uv_translate_sys_error(int sys_errno);
const char* uv_err_name(int err);
const char* uv_strerror(int err);
}
#else
#include "errno_name.h"
#endif

namespace {

using tcpka::Failure;

// code/errno/syscall as Node sets them (errno negative, libuv's naming), plus
// the option so the message says which of several calls failed.
Napi::Error SystemError(Napi::Env env, int err, const Failure& failed) {
#ifdef _WIN32
  int uv_err = uv_translate_sys_error(err);
  const char* code = uv_err_name(uv_err);
  std::string text = uv_strerror(uv_err);
#else
  int uv_err = -err;
  const char* code = tcpka::ErrnoName(err);
  std::string text = tcpka::ErrnoMessage(err);
#endif
  std::string message = std::string(failed.syscall) + " " + failed.what + " " + code + ": " + text;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  error.Set("errno", Napi::Number::New(env, uv_err));
  error.Set("syscall", failed.syscall);
  error.Set("option", failed.what);
  return error;
}

int FdArg(const Napi::CallbackInfo& info) {
  return info[0].As<Napi::Number>().Int32Value();
}

Napi::Value Set(const Napi::CallbackInfo& info) {
  tcpka::KeepAliveRequest req;
  req.enable = info[1].As<Napi::Boolean>().Value();
  req.idle_s = info[2].As<Napi::Number>().Int32Value();
  req.interval_s = info[3].As<Napi::Number>().Int32Value();
  req.count = info[4].As<Napi::Number>().Int32Value();
  req.user_timeout_ms = info[5].As<Napi::Number>().Int64Value();
  Failure failed;
  if (int err = tcpka::SetKeepAlive(FdArg(info), req, &failed))
    throw SystemError(info.Env(), err, failed);
  return info.Env().Undefined();
}

// Get and Defaults answer with arrays: setKeepAlive() reads the state back
// on every call that leaves a field out, and lib/ turns the seconds into ms
// anyway. Info is a diagnostic of ten named, nullable fields: an object.
Napi::Value Get(const Napi::CallbackInfo& info) {
  tcpka::KeepAliveState state;
  Failure failed;
  if (int err = tcpka::GetKeepAlive(FdArg(info), &state, &failed))
    throw SystemError(info.Env(), err, failed);
  Napi::Array out = Napi::Array::New(info.Env(), 5);
  out[0u] = Napi::Boolean::New(info.Env(), state.enabled);
  out[1u] = Napi::Number::New(info.Env(), state.idle_s);
  out[2u] = Napi::Number::New(info.Env(), state.interval_s);
  out[3u] = Napi::Number::New(info.Env(), state.count);
  out[4u] = Napi::Number::New(info.Env(), static_cast<double>(state.user_timeout_ms));
  return out;
}

Napi::Value Defaults(const Napi::CallbackInfo& info) {
  tcpka::SystemDefaults defaults;
  Failure failed;
  if (int err = tcpka::ReadSystemDefaults(&defaults, &failed))
    throw SystemError(info.Env(), err, failed);
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out[0u] = Napi::Number::New(info.Env(), defaults.idle_s);
  out[1u] = Napi::Number::New(info.Env(), defaults.interval_s);
  out[2u] = Napi::Number::New(info.Env(), defaults.count);
  return out;
}

// [address, port] of the peer, also after the connection died: getpeername()
// refuses a closed TCP socket (ENOTCONN) but SO_PEERNAME reads the address
// the kernel keeps until the descriptor is closed. So the death report needs
// no copy of the address per socket. null where it cannot be read.
Napi::Value PeerName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef __linux__
  int fd = FdArg(info);
  char text[INET6_ADDRSTRLEN];
  auto pair = [&](int port) {
    Napi::Array out = Napi::Array::New(env, 2);
    out[0u] = Napi::String::New(env, text);
    out[1u] = Napi::Number::New(env, port);
    return out;
  };
  // The kernel refuses a buffer longer than the address: IPv6's size first, then IPv4's.
  sockaddr_in6 v6{};
  socklen_t len = sizeof(v6);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERNAME, &v6, &len) == 0 && v6.sin6_family == AF_INET6 &&
      inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text)))
    return pair(ntohs(v6.sin6_port));
  sockaddr_in v4{};
  len = sizeof(v4);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERNAME, &v4, &len) == 0 && v4.sin_family == AF_INET &&
      inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text)))
    return pair(ntohs(v4.sin_port));
#endif
  return env.Null();
}

// findConnectionFd(hint, localAddress, localPort, remoteAddress, remotePort):
// the descriptor of that TCP connection in this process, or -1.
Napi::Value FindFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tcpka::Connection conn;
  const std::string local = info[1].As<Napi::String>().Utf8Value();
  const std::string remote = info[3].As<Napi::String>().Utf8Value();
  if (!tcpka::ParseEndpoint(local.c_str(), info[2].As<Napi::Number>().Int32Value(), &conn.local) ||
      !tcpka::ParseEndpoint(remote.c_str(), info[4].As<Napi::Number>().Int32Value(), &conn.remote))
    return Napi::Number::New(env, -1);
  int fd = -1;
  Failure failed;
  if (int err = tcpka::FindConnectionFd(conn, FdArg(info), &fd, &failed)) throw SystemError(env, err, failed);
  return Napi::Number::New(env, fd);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  tcpka::TcpInfo ti;
  Failure failed;
  if (int err = tcpka::ReadTcpInfo(FdArg(info), &ti, &failed))
    throw SystemError(info.Env(), err, failed);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  auto put = [&](const char* key, int64_t v) {
    out.Set(key, v < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(v)));
  };
  put("state", ti.state);
  put("retransmits", ti.retransmits);
  put("probes", ti.probes);
  put("backoff", ti.backoff);
  put("rtoUs", ti.rto_us);
  put("rttUs", ti.rtt_us);
  put("unacked", ti.unacked);
  put("lastDataSentMs", ti.last_data_sent_ms);
  put("lastDataRecvMs", ti.last_data_recv_ms);
  put("lastAckRecvMs", ti.last_ack_recv_ms);
  return out;
}

template <int (*Fn)(int, Failure*)>
Napi::Value FdCall(const Napi::CallbackInfo& info) {
  Failure failed;
  if (int err = Fn(FdArg(info), &failed)) throw SystemError(info.Env(), err, failed);
  return info.Env().Undefined();
}

Napi::Value Repair(const Napi::CallbackInfo& info) {
  Failure failed;
  if (int err = tcpka::SetRepairMode(FdArg(info), info[1].As<Napi::Boolean>().Value(), &failed))
    throw SystemError(info.Env(), err, failed);
  return info.Env().Undefined();
}

// The test harness's functions on an object of their own (lib/harness/native.ts),
// so the library's binding lists only what the library uses.
Napi::Object HarnessExports(Napi::Env env) {
  Napi::Object harness = Napi::Object::New(env);
  harness.Set("attachDropFilter", Napi::Function::New<FdCall<tcpka::AttachDropFilter>>(env, "attachDropFilter"));
  harness.Set("detachFilter", Napi::Function::New<FdCall<tcpka::DetachFilter>>(env, "detachFilter"));
  harness.Set("setRepairMode", Napi::Function::New<Repair>(env, "setRepairMode"));
  return harness;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setKeepAlive", Napi::Function::New<Set>(env, "setKeepAlive"));
  exports.Set("getKeepAlive", Napi::Function::New<Get>(env, "getKeepAlive"));
  exports.Set("systemDefaults", Napi::Function::New<Defaults>(env, "systemDefaults"));
  exports.Set("tcpInfo", Napi::Function::New<Info>(env, "tcpInfo"));
  exports.Set("peerName", Napi::Function::New<PeerName>(env, "peerName"));
  exports.Set("findConnectionFd", Napi::Function::New<FindFd>(env, "findConnectionFd"));
  exports.Set("harness", HarnessExports(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tcp_keepalive, Init)
