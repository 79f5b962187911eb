// uri.h: otpauth:// Key URI for authenticator apps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "totp/otp.h"
#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

struct uri_params {
  bool hotp = false;   // otpauth://hotp/ instead of totp
  std::string label;   // e.g. "root@pam"
  std::string issuer;  // empty: no &issuer=
  hash_algorithm algorithm = hash_algorithm::sha1;
  int digits = 6;
  std::uint32_t period = 30;  // TOTP only
  std::uint64_t counter = 1;  // HOTP only; always written for HOTP
};

// `otpauth://totp/<label>?secret=<b32>&issuer=<issuer>[&algorithm=..][&digits=..][&period=..]`
// (HOTP: `&counter=N` always). Label and issuer are percent-encoded as google-authenticator
// does (spec 6.4: %XX for % & ? = , bytes <= 0x20 and >= 0x7F). algorithm/digits/period are
// written only when they differ from SHA1/6/30, so default URIs stay byte-identical to the
// reference CLI's. The URI contains the secret, hence secret_bytes. Fails with too_large
// when 3 * length + 1 > 10000 (the reference CLI's guard).
result<secret_bytes> build_otpauth_uri(const secret_bytes& base32_secret, const uri_params& params);

// Percent-encoding used for label and issuer.
std::string uri_encode_component(std::string_view text);

}  // namespace totp
