// code_input.cc: what the user typed -> candidate code (spec ga-compat 3.2).
//
// The code is always the tail of the input, so that "password + code" (forward_pass) and a
// bare code split the same way; the caller decides whether a non-empty prefix is allowed.
#include "totp/code_input.h"

#include "totp/otp.h"

namespace totp {

std::optional<code_candidate> split_code_input(std::string_view input, int code_length,
                                               bool scratch) noexcept {
  if (code_length < kMinDigits || code_length > kMaxDigits) {
    return std::nullopt;
  }
  const auto length = static_cast<std::size_t>(code_length);
  if (input.size() < length) {
    return std::nullopt;
  }
  const std::size_t prefix = input.size() - length;
  const std::string_view code = input.substr(prefix);
  // Scratch codes lie in [10^7, 10^8): a leading zero can never be one (spec D1).
  if (scratch && code.front() == '0') {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (const char c : code) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return code_candidate{value, prefix};
}

bool is_openssh_dummy_password(std::string_view input) noexcept {
  // sshd hands PAM "\b\n\r\177INCORRECT" for logins it has already refused; the first byte
  // is enough to recognise it and can never start a real code.
  return !input.empty() && input.front() == '\b';
}

}  // namespace totp
