// result.h: the closed error vocabulary of libtotp and a small result<T>.
//
// Nothing in libtotp's public API throws. Every fallible call returns result<T>: either a
// value or an `error` (a code from the closed list below, the errno that caused it where one
// did, and a message for the administrator's log). Messages never contain secrets, codes or
// scratch codes; they may contain paths and option names.
//
// std::expected is not used on purpose: GCC 12 only offers it under -std=c++23 and clang 14
// (needed for libFuzzer) cannot compile libstdc++'s <expected>.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace totp {

enum class error_code {
  invalid_argument,  // a parameter outside its documented range (digits, period, ...)
  bad_base32,        // a character that is not base32, or nothing left after decoding
  file_size,         // secret file empty or larger than the cap (spec 1.1)
  file_contents,     // NUL byte in a secret file
  no_secret,         // line 1 holds no valid base32 secret
  bad_option,        // an option line with a malformed value (STEP_SIZE, WINDOW_SIZE, ...)
  bad_rate_limit,    // RATE_LIMIT n/m out of range
  bad_rate_list,     // RATE_LIMIT timestamp list malformed
  overflow,          // counter or time arithmetic would overflow
  crypto,            // OpenSSL reported a failure
  random,            // the kernel CSPRNG failed
  io,                // a system call failed; error::sys_errno says which errno
  not_found,         // the file does not exist (ENOENT); kept apart for `nullok`
  not_regular,       // not a regular file
  bad_permissions,   // mode has bits outside the allowed set (or setuid/setgid/sticky)
  bad_owner,         // owned by somebody else
  lock_timeout,      // the per-file lock could not be taken within the bounded wait
  changed,           // the file changed under us (should not happen while we hold the lock)
  exists,            // refusing to replace an existing file
  symlink,           // refusing to follow or replace a symbolic link
  too_large,         // an output would exceed a documented limit (URI, QR)
  qr,                // libqrencode failed
};

// Short stable name of a code ("io", "bad_owner", ...), for logs and tests.
std::string_view to_string(error_code code) noexcept;

struct error {
  error_code code;
  std::string message;  // one line, for the administrator; never contains secrets
  int sys_errno = 0;    // errno for error_code::io / not_found / ..., 0 otherwise
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}        // NOLINT: implicit
  result(totp::error err) : state_(std::in_place_index<1>, std::move(err)) {}  // NOLINT: implicit

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const totp::error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  totp::error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, totp::error> state_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(totp::error err) : error_(std::move(err)), ok_(false) {}  // NOLINT: implicit

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const totp::error& error() const& {
    assert(!ok_);
    return error_;
  }
  totp::error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  totp::error error_{error_code::invalid_argument, {}, 0};
  bool ok_ = true;
};

using status = result<void>;

// Convenience constructor: make_error(error_code::io, "rename(...) failed", errno).
inline error make_error(error_code code, std::string message, int sys_errno = 0) {
  return error{code, std::move(message), sys_errno};
}

}  // namespace totp
