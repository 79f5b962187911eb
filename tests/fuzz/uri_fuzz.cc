// uri_fuzz.cc: totp::build_otpauth_uri and uri_encode_component.
//
// The input is "<flags><label>\0<issuer>". Properties (uri.h, spec ga-compat 6.4):
//   - the URI parses back: scheme/type, then the label up to '?', then '&'-separated key=value
//     pairs with exactly the expected keys; percent-decoding label and issuer gives the input;
//   - no raw '&', '?', '=' (nor '%' that is not an escape) inside label or issuer, so the
//     structure cannot be forged by a user name;
//   - algorithm/digits/period appear only when they differ from SHA1/6/30, counter always
//     for HOTP; invalid digits/period fail instead of producing a URI.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "totp/uri.h"

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Characters that must never appear raw inside a component.
bool raw_structure_free(std::string_view component) {
  return component.find_first_of("&?=") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::byte_reader in(data, size);
  const std::uint8_t flags = in.byte();
  const std::uint8_t knob = in.byte();
  const std::string_view rest = in.rest();
  const std::size_t nul = rest.find('\0');

  totp::uri_params params;
  params.hotp = (flags & 1) != 0;
  params.label = std::string(rest.substr(0, nul));
  params.issuer = nul == std::string_view::npos ? std::string() : std::string(rest.substr(nul + 1));
  params.algorithm = (flags & 6) == 2   ? totp::hash_algorithm::sha256
                     : (flags & 6) == 4 ? totp::hash_algorithm::sha512
                                        : totp::hash_algorithm::sha1;
  params.digits = (flags & 8) ? 5 + knob % 5 : 6;     // 5..9: includes invalid values
  params.period = (flags & 16) ? knob % 4 * 30 : 30;  // 0, 30, 60, 90
  params.counter = (flags & 32) ? knob * 1000003ull : 1;

  const totp::secret_bytes secret = totp::secret_bytes::from_string("JBSWY3DPEHPK3PXP");
  auto uri = totp::build_otpauth_uri(secret, params);
  const bool valid_numbers =
      params.digits >= 6 && params.digits <= 8 && (params.hotp || params.period >= 1);
  if (!valid_numbers) {
    FUZZ_CHECK(!uri.ok());
    FUZZ_CHECK(uri.error().code == totp::error_code::invalid_argument);
    return 0;
  }
  if (!uri.ok()) {
    FUZZ_CHECK(uri.error().code == totp::error_code::too_large);
    FUZZ_CHECK(3 * params.label.size() + 1 > 10000 || 3 * params.issuer.size() + 1 > 10000);
    return 0;
  }

  const std::string_view text = uri->view();
  const std::string_view scheme = params.hotp ? "otpauth://hotp/" : "otpauth://totp/";
  FUZZ_CHECK(text.substr(0, scheme.size()) == scheme);
  const std::string_view after = text.substr(scheme.size());
  const std::size_t question = after.find('?');
  FUZZ_CHECK(question != std::string_view::npos);
  const std::string_view label = after.substr(0, question);
  FUZZ_CHECK(raw_structure_free(label));
  auto label_decoded = percent_decode(label);
  FUZZ_CHECK(label_decoded.has_value());
  FUZZ_CHECK(*label_decoded == params.label);

  std::map<std::string, std::string> query;
  std::string_view q = after.substr(question + 1);
  while (true) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const std::size_t eq = pair.find('=');
    FUZZ_CHECK(eq != std::string_view::npos);
    const std::string_view value = pair.substr(eq + 1);
    FUZZ_CHECK(raw_structure_free(value));
    FUZZ_CHECK(query.emplace(std::string(pair.substr(0, eq)), std::string(value)).second);
    if (amp == std::string_view::npos) {
      break;
    }
    q = q.substr(amp + 1);
  }
  FUZZ_CHECK(query["secret"] == "JBSWY3DPEHPK3PXP");
  std::size_t expected_keys = 1;
  if (!params.issuer.empty()) {
    FUZZ_CHECK(query.count("issuer") == 1);
    auto issuer_decoded = percent_decode(query["issuer"]);
    FUZZ_CHECK(issuer_decoded.has_value());
    FUZZ_CHECK(*issuer_decoded == params.issuer);
    ++expected_keys;
  } else {
    FUZZ_CHECK(query.count("issuer") == 0);
  }
  if (params.algorithm != totp::hash_algorithm::sha1) {
    FUZZ_CHECK(query["algorithm"] ==
               (params.algorithm == totp::hash_algorithm::sha256 ? "SHA256" : "SHA512"));
    ++expected_keys;
  }
  if (params.digits != 6) {
    FUZZ_CHECK(query["digits"] == std::to_string(params.digits));
    ++expected_keys;
  }
  if (params.hotp) {
    FUZZ_CHECK(query["counter"] == std::to_string(params.counter));
    ++expected_keys;
  } else if (params.period != 30) {
    FUZZ_CHECK(query["period"] == std::to_string(params.period));
    ++expected_keys;
  }
  FUZZ_CHECK(query.size() == expected_keys);

  // The component encoder alone: decodes back, and leaves no structural character raw.
  const std::string encoded = totp::uri_encode_component(params.label);
  FUZZ_CHECK(raw_structure_free(encoded));
  auto back = percent_decode(encoded);
  FUZZ_CHECK(back.has_value() && *back == params.label);
  return 0;
}
