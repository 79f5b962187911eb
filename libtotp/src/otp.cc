// otp.cc: HOTP (RFC 4226) and TOTP (RFC 6238) on top of the precomputed HMAC.
#include "totp/otp.h"

#include <cerrno>
#include <limits>
#include <new>
#include <utility>

#include <openssl/crypto.h>

#include "hmac_internal.h"

namespace totp {
namespace {

constexpr std::uint32_t kPowersOfTen[] = {1,      10,      100,      1000,      10000,
                                          100000, 1000000, 10000000, 100000000, 1000000000};

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') {
      x = static_cast<char>(x - 'a' + 'A');
    }
    if (y >= 'a' && y <= 'z') {
      y = static_cast<char>(y - 'a' + 'A');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<hash_algorithm> parse_hash_algorithm(std::string_view name) noexcept {
  for (auto algorithm : {hash_algorithm::sha1, hash_algorithm::sha256, hash_algorithm::sha512}) {
    if (equals_ignoring_case(name, to_string(algorithm))) {
      return algorithm;
    }
  }
  return std::nullopt;
}

std::string_view to_string(hash_algorithm algorithm) noexcept {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return "SHA1";
    case hash_algorithm::sha256:
      return "SHA256";
    case hash_algorithm::sha512:
      return "SHA512";
  }
  return "SHA1";  // unreachable for values inside the enum
}

struct otp_generator::state {
  explicit state(detail::hmac_precomputed m) noexcept : mac(std::move(m)) {}
  detail::hmac_precomputed mac;
};

otp_generator::otp_generator(std::unique_ptr<state> s, hash_algorithm algorithm,
                             int digits) noexcept
    : state_(std::move(s)), algorithm_(algorithm), digits_(digits) {}
otp_generator::otp_generator(otp_generator&&) noexcept = default;
otp_generator& otp_generator::operator=(otp_generator&&) noexcept = default;
otp_generator::~otp_generator() = default;

result<otp_generator> otp_generator::create(std::span<const std::uint8_t> key,
                                            hash_algorithm algorithm, int digits) {
  if (digits < kMinDigits || digits > kMaxDigits) {
    return make_error(error_code::invalid_argument, "code length must be 6, 7 or 8 digits");
  }
  if (key.empty()) {
    return make_error(error_code::invalid_argument, "the secret key is empty");
  }
  auto mac = detail::hmac_precomputed::create(key, algorithm);
  if (!mac) {
    return std::move(mac).error();
  }
  try {
    auto s = std::make_unique<state>(std::move(mac).value());
    return otp_generator(std::move(s), algorithm, digits);
  } catch (const std::bad_alloc&) {
    return make_error(error_code::crypto, "out of memory while creating the OTP generator", ENOMEM);
  }
}

result<std::uint32_t> otp_generator::code(std::uint64_t counter) const {
  if (!state_) {
    return make_error(error_code::invalid_argument, "OTP generator used after being moved from");
  }
  std::uint8_t message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<std::uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  // The MAC is secret material: it stays in this stack buffer, which is wiped below.
  std::uint8_t mac_buffer[detail::kMaxMacSize];
  if (auto computed = state_->mac.compute(message, mac_buffer); !computed) {
    OPENSSL_cleanse(mac_buffer, sizeof(mac_buffer));
    return std::move(computed).error();
  }
  const std::span<const std::uint8_t> mac(mac_buffer, state_->mac.size());
  // Dynamic truncation (RFC 4226 5.3): the low nibble of the last byte picks a 4-byte
  // window; the top bit is dropped so the value is the same signed or unsigned.
  const std::size_t offset = mac[mac.size() - 1] & 0x0f;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(mac[offset + 3]);
  OPENSSL_cleanse(mac_buffer, sizeof(mac_buffer));
  return binary % kPowersOfTen[digits_];
}

result<std::uint32_t> hotp(std::span<const std::uint8_t> key, std::uint64_t counter,
                           hash_algorithm algorithm, int digits) {
  auto generator = otp_generator::create(key, algorithm, digits);
  if (!generator) {
    return std::move(generator).error();
  }
  return generator->code(counter);
}

result<std::uint64_t> totp_counter(std::int64_t unix_time, std::uint32_t period, std::int64_t t0) {
  if (period == 0) {
    return make_error(error_code::invalid_argument, "TOTP period must not be zero");
  }
  if (unix_time < t0) {
    return make_error(error_code::invalid_argument, "time lies before the TOTP epoch");
  }
  // unix_time - t0 can exceed INT64_MAX (t0 negative), but it is never negative here and
  // always fits in 64 unsigned bits, and unsigned subtraction is exact modulo 2^64.
  const std::uint64_t elapsed =
      static_cast<std::uint64_t>(unix_time) - static_cast<std::uint64_t>(t0);
  return elapsed / period;
}

std::string format_code(std::uint32_t code, int digits) {
  std::string text = std::to_string(code);
  if (digits > 0 && text.size() < static_cast<std::size_t>(digits)) {
    text.insert(0, static_cast<std::size_t>(digits) - text.size(), '0');
  }
  return text;
}

std::optional<std::uint64_t> checked_add(std::uint64_t counter, std::int64_t offset) noexcept {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (offset >= 0) {
    const auto up = static_cast<std::uint64_t>(offset);
    if (counter > kMax - up) {
      return std::nullopt;
    }
    return counter + up;
  }
  // |offset| without negating INT64_MIN (which would overflow).
  const std::uint64_t down = static_cast<std::uint64_t>(-(offset + 1)) + 1;
  if (down > counter) {
    return std::nullopt;
  }
  return counter - down;
}

}  // namespace totp
