// base32.cc: RFC 4648 base32, written strictly and read the way google-authenticator reads
// secret files (ga-compat 1.2), so every existing file keeps working.
#include "totp/base32.h"

#include <cerrno>
#include <new>

namespace totp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Value of one base32 character under the lenient rules, -1 if the character is to be
// skipped, -2 if it is invalid.
int decode_char(char c) noexcept {
  switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case '-':
      return -1;
    case '0':
      return 'O' - 'A';  // typo for the letter O
    case '1':
      return 'L' - 'A';  // typo for the letter L
    case '8':
      return 'B' - 'A';  // typo for the letter B
    default:
      break;
  }
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a';
  }
  if (c >= '2' && c <= '7') {
    return c - '2' + 26;
  }
  return -2;
}

}  // namespace

secret_bytes base32_encode(std::span<const std::uint8_t> data) {
  secret_bytes out;
  out.reserve((data.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;  // holds at most 12 pending bits
  int bits = 0;
  for (std::uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(static_cast<std::uint8_t>(kAlphabet[(buffer >> bits) & 0x1f]));
    }
  }
  if (bits > 0) {
    // The final group is padded with zero bits on the right (RFC 4648 section 6).
    out.push_back(static_cast<std::uint8_t>(kAlphabet[(buffer << (5 - bits)) & 0x1f]));
  }
  buffer = 0;
  return out;
}

result<secret_bytes> base32_decode(std::string_view text) {
  if (text.size() > kMaxBase32Input) {
    return make_error(error_code::bad_base32, "base32 text is longer than 100000 characters");
  }
  try {
    secret_bytes out;
    out.reserve(text.size() * 5 / 8 + 1);
    std::uint32_t buffer = 0;  // holds at most 12 pending bits
    int bits = 0;
    for (char c : text) {
      const int value = decode_char(c);
      if (value == -1) {
        continue;
      }
      if (value < 0) {
        // The character itself is not named: it is part of a secret.
        return make_error(error_code::bad_base32, "invalid character in base32 text");
      }
      buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<std::uint8_t>(buffer >> bits));
        buffer &= (1u << bits) - 1;
      }
    }
    // Fewer than 8 leftover bits cannot form a byte and are dropped, as google-authenticator
    // does (it never checks that they are zero).
    buffer = 0;
    return out;
  } catch (const std::bad_alloc&) {
    return make_error(error_code::io, "out of memory while decoding base32", ENOMEM);
  }
}

}  // namespace totp
