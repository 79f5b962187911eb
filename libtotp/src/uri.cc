// uri.cc: otpauth:// Key URI builder (contract in totp/uri.h).
#include "totp/uri.h"

#include <string>

namespace totp {
namespace {

// The reference CLI refuses a label or issuer whose percent-encoded worst case (3 bytes per
// input byte plus NUL) would exceed this; we keep the same limit so labels behave alike.
constexpr std::size_t kMaxEncodedComponent = 10000;

bool needs_escape(unsigned char c) noexcept {
  return c <= 0x20 || c >= 0x7f || c == '%' || c == '&' || c == '?' || c == '=';
}

void append_encoded(secret_bytes& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (needs_escape(c)) {
      const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 0x0f]};
      out.append(escaped, sizeof escaped);
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

std::string uri_encode_component(std::string_view text) {
  secret_bytes tmp;
  append_encoded(tmp, text);
  return std::string(tmp.view());
}

result<secret_bytes> build_otpauth_uri(const secret_bytes& base32_secret,
                                       const uri_params& params) {
  if (params.digits < kMinDigits || params.digits > kMaxDigits) {
    return make_error(error_code::invalid_argument, "otpauth URI: digits must be 6..8");
  }
  if (!params.hotp && params.period == 0) {
    return make_error(error_code::invalid_argument, "otpauth URI: period must be at least 1");
  }
  // Same guard as the reference: it escapes each component into a buffer of 3 * length + 1
  // bytes and gives up when that would be unreasonable (a label of ~3.3 kB).
  for (const std::string* component : {&params.label, &params.issuer}) {
    if (3 * component->size() + 1 > kMaxEncodedComponent) {
      return make_error(error_code::too_large, "Error: Generated URL would be unreasonably large.");
    }
  }

  secret_bytes uri;
  uri.reserve(64 + base32_secret.size() + 3 * (params.label.size() + params.issuer.size()));
  uri.append(params.hotp ? "otpauth://hotp/" : "otpauth://totp/");
  append_encoded(uri, params.label);
  uri.append("?secret=");
  uri.append(base32_secret.data(), base32_secret.size());
  if (!params.issuer.empty()) {
    uri.append("&issuer=");
    append_encoded(uri, params.issuer);
  }
  // Only non-defaults, so a default enrollment is byte-identical to the reference CLI's URI;
  // apps assume SHA1/6/30 when a parameter is absent (GA#106 is what happens otherwise).
  if (params.algorithm != hash_algorithm::sha1) {
    uri.append("&algorithm=");
    uri.append(to_string(params.algorithm));
  }
  if (params.digits != 6) {
    uri.append("&digits=");
    uri.append(std::to_string(params.digits));
  }
  if (params.hotp) {
    // The Key URI format requires counter for HOTP; the reference leaves it out.
    uri.append("&counter=");
    uri.append(std::to_string(params.counter));
  } else if (params.period != 30) {
    uri.append("&period=");
    uri.append(std::to_string(params.period));
  }
  return uri;
}

}  // namespace totp
