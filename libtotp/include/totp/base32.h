// base32.h: RFC 4648 base32 as google-authenticator writes and reads it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

// RFC 4648 alphabet, upper case, no '=' padding. The text of a key is secret, hence
// secret_bytes.
secret_bytes base32_encode(std::span<const std::uint8_t> data);

// google-authenticator's lenient decoder (spec ga-compat 1.2): skips space, tab, CR, LF and
// '-'; letters in any case; maps 0->O, 1->L, 8->B; any other character (including '=')
// fails with bad_base32; trailing bits that do not fill a byte are dropped. Input longer
// than kMaxBase32Input characters fails with bad_base32. An input that decodes to zero
// bytes succeeds with an empty result (the caller decides whether that is a valid key).
inline constexpr std::size_t kMaxBase32Input = 100000;
result<secret_bytes> base32_decode(std::string_view text);

}  // namespace totp
