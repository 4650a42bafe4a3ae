// An errno as Node names it (code, negative errno, message), without
// libuv. Node exports libuv's uv_err_name and friends to addons, but Bun and
// Deno do not all (Bun 1.4.5 exports uv_translate_sys_error as a stub that
// aborts the process, Deno 2.9.6 has no uv_err_name): an addon calling them
// dies on its first error there. On POSIX libuv's error is the negated
// errno and its name the errno's macro name, so both are had here; the
// message is strerror()'s, in lower case as libuv's are.
#pragma once

#ifndef _WIN32
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

namespace tcpka {

inline const char* ErrnoName(int err) {
#define TCPKA_ERRNO_NAME(e) \
  case e:                   \
    return #e;
  switch (err) {
    // First: ENOTSUP and EOPNOTSUPP are one value on Linux, and Node calls it ENOTSUP.
    TCPKA_ERRNO_NAME(ENOTSUP)
#if EOPNOTSUPP != ENOTSUP
    TCPKA_ERRNO_NAME(EOPNOTSUPP)
#endif
    TCPKA_ERRNO_NAME(EACCES)
    TCPKA_ERRNO_NAME(EADDRINUSE)
    TCPKA_ERRNO_NAME(EAFNOSUPPORT)
    TCPKA_ERRNO_NAME(EAGAIN)
    TCPKA_ERRNO_NAME(EBADF)
    TCPKA_ERRNO_NAME(EBUSY)
    TCPKA_ERRNO_NAME(ECONNABORTED)
    TCPKA_ERRNO_NAME(ECONNREFUSED)
    TCPKA_ERRNO_NAME(ECONNRESET)
    TCPKA_ERRNO_NAME(EFAULT)
    TCPKA_ERRNO_NAME(EHOSTUNREACH)
    TCPKA_ERRNO_NAME(EINTR)
    TCPKA_ERRNO_NAME(EINVAL)
    TCPKA_ERRNO_NAME(EIO)
    TCPKA_ERRNO_NAME(EISDIR)
    TCPKA_ERRNO_NAME(ELOOP)
    TCPKA_ERRNO_NAME(EMFILE)
    TCPKA_ERRNO_NAME(ENAMETOOLONG)
    TCPKA_ERRNO_NAME(ENETUNREACH)
    TCPKA_ERRNO_NAME(ENFILE)
    TCPKA_ERRNO_NAME(ENOBUFS)
    TCPKA_ERRNO_NAME(ENODEV)
    TCPKA_ERRNO_NAME(ENOENT)
    TCPKA_ERRNO_NAME(ENOMEM)
    TCPKA_ERRNO_NAME(ENOPROTOOPT)
    TCPKA_ERRNO_NAME(ENOSYS)
    TCPKA_ERRNO_NAME(ENOTCONN)
    TCPKA_ERRNO_NAME(ENOTDIR)
    TCPKA_ERRNO_NAME(ENOTSOCK)
    TCPKA_ERRNO_NAME(ENXIO)
    TCPKA_ERRNO_NAME(EPERM)
    TCPKA_ERRNO_NAME(EPIPE)
    TCPKA_ERRNO_NAME(EPROTO)
    TCPKA_ERRNO_NAME(EPROTONOSUPPORT)
    TCPKA_ERRNO_NAME(ERANGE)
    TCPKA_ERRNO_NAME(EROFS)
    TCPKA_ERRNO_NAME(ESRCH)
    TCPKA_ERRNO_NAME(ETIMEDOUT)
    default:
      return "UNKNOWN";
  }
#undef TCPKA_ERRNO_NAME
}

inline std::string ErrnoMessage(int err) {
  std::string message = strerror(err);
  if (!message.empty()) message[0] = static_cast<char>(tolower(static_cast<unsigned char>(message[0])));
  return message;
}

}  // namespace tcpka
#endif
