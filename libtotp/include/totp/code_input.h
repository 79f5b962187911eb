// code_input.h: turning what the user typed (or PAM_AUTHTOK) into a candidate code.
//
// google-authenticator's rule (spec ga-compat 3.2): the last L characters are the code
// (L = 6..8 for TOTP/HOTP, 8 for scratch codes); all must be decimal digits; the first one
// must not be '0' for scratch codes; the characters before the code are a prefix (the
// password part with forward_pass). Codes compare as integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace totp {

struct code_candidate {
  std::uint32_t value = 0;        // the code as an integer (012345 -> 12345)
  std::size_t prefix_length = 0;  // bytes before the code; input.substr(0, prefix_length)
};

// nullopt when the input is shorter than `code_length` or the last `code_length` bytes are
// not a valid code of that length. `scratch` demands a first digit 1-9 (codes are in
// [10^7, 10^8)); otherwise the first digit may be 0. code_length must be 6..8.
std::optional<code_candidate> split_code_input(std::string_view input, int code_length,
                                               bool scratch) noexcept;

// True when the input starts with "\b": OpenSSH's fake password for a login it refused.
bool is_openssh_dummy_password(std::string_view input) noexcept;

}  // namespace totp
