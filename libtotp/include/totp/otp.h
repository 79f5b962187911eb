// otp.h: HOTP (RFC 4226) and TOTP (RFC 6238) code generation.
//
// Pure: no clock and no randomness are read here; `now` and counters are parameters.
// otp_generator keys HMAC once (the inner and outer pad states are computed when it is
// created) so that checking a window, or the 3000 codes of a skew search, costs two
// compression-function calls per code instead of rehashing the key every time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

enum class hash_algorithm { sha1, sha256, sha512 };

// "SHA1", "SHA256", "SHA512" (case-insensitive); nullopt for anything else.
std::optional<hash_algorithm> parse_hash_algorithm(std::string_view name) noexcept;
// Upper-case name as used in otpauth URIs and the `" ALGORITHM` line: "SHA1", ...
std::string_view to_string(hash_algorithm algorithm) noexcept;

inline constexpr int kMinDigits = 6;
inline constexpr int kMaxDigits = 8;

class otp_generator {
 public:
  // Fails with invalid_argument for an empty key or digits outside 6..8, crypto on an
  // OpenSSL failure. Keys longer than the hash block are hashed first, as HMAC requires.
  static result<otp_generator> create(std::span<const std::uint8_t> key, hash_algorithm algorithm,
                                      int digits);

  otp_generator(otp_generator&&) noexcept;
  otp_generator& operator=(otp_generator&&) noexcept;
  ~otp_generator();

  // HOTP value for `counter` (8-byte big-endian message, dynamic truncation, mod 10^digits).
  result<std::uint32_t> code(std::uint64_t counter) const;
  int digits() const noexcept { return digits_; }
  hash_algorithm algorithm() const noexcept { return algorithm_; }

 private:
  struct state;
  otp_generator(std::unique_ptr<state> s, hash_algorithm algorithm, int digits) noexcept;
  std::unique_ptr<state> state_;
  hash_algorithm algorithm_;
  int digits_;
};

// One-shot HOTP (keys HMAC for this call only).
result<std::uint32_t> hotp(std::span<const std::uint8_t> key, std::uint64_t counter,
                           hash_algorithm algorithm = hash_algorithm::sha1, int digits = 6);

// TOTP time step: floor((unix_time - t0) / period). invalid_argument for period 0 or a time
// before t0.
result<std::uint64_t> totp_counter(std::int64_t unix_time, std::uint32_t period,
                                   std::int64_t t0 = 0);

// Zero-padded decimal text of a code, e.g. format_code(12345, 6) == "012345".
std::string format_code(std::uint32_t code, int digits);

// counter + offset with overflow checks (offsets are signed: window and skew arithmetic).
std::optional<std::uint64_t> checked_add(std::uint64_t counter, std::int64_t offset) noexcept;

}  // namespace totp
