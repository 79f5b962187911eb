// base32_fuzz.cc: totp::base32_decode / base32_encode.
//
// Properties (spec ga-compat 1.2, base32.h):
//   - decode(encode(x)) == x, and encode() writes only A-Z2-7, ceil(8n/5) characters, no '=';
//   - decode never accepts '=' (or anything outside the lenient alphabet);
//   - leniency is an equivalence: lower case, 0/1/8 for O/L/B, and inserted blanks or '-'
//     decode exactly like the canonical text;
//   - text longer than kMaxBase32Input never decodes.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "totp/base32.h"

namespace {

bool lenient_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') || c == '0' ||
         c == '1' || c == '8' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-';
}

bool same(const totp::result<totp::secret_bytes>& a, const totp::result<totp::secret_bytes>& b) {
  if (a.ok() != b.ok()) {
    return false;
  }
  return !a.ok() || a->view() == b->view();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Round trip of arbitrary bytes.
  totp::secret_bytes encoded = totp::base32_encode({data, size});
  FUZZ_CHECK(encoded.size() == (size * 8 + 4) / 5);
  for (std::uint8_t c : encoded.span()) {
    FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'));
  }
  auto decoded = totp::base32_decode(encoded.view());
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(decoded->view() == text);

  // The input as base32 text: accepted exactly when every character is in the lenient set.
  auto direct = totp::base32_decode(text);
  bool all_lenient = true;
  for (char c : text) {
    all_lenient = all_lenient && lenient_char(c);
  }
  FUZZ_CHECK(direct.ok() == all_lenient);
  if (text.find('=') != std::string_view::npos) {
    FUZZ_CHECK(!direct.ok());
  }
  if (direct.ok()) {
    // Canonical form: upper case, the look-alike digits mapped back, separators dropped.
    std::string canonical;
    std::string variant;  // lower case, look-alikes, a '-' and a blank between characters
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-') {
        continue;
      }
      char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (up == '0') {
        up = 'O';
      } else if (up == '1') {
        up = 'L';
      } else if (up == '8') {
        up = 'B';
      }
      canonical.push_back(up);
      char alt = up == 'O' ? '0' : up == 'L' ? '1' : up == 'B' ? '8' : up;
      variant.push_back(i % 2 ? static_cast<char>(std::tolower(static_cast<unsigned char>(alt)))
                              : alt);
      variant.append(i % 3 == 0 ? "-" : i % 3 == 1 ? " " : "");
    }
    FUZZ_CHECK(same(direct, totp::base32_decode(canonical)));
    FUZZ_CHECK(same(direct, totp::base32_decode(variant)));
    // Trailing bits that do not fill a byte are dropped.
    FUZZ_CHECK(direct->size() == canonical.size() * 5 / 8);
    // Appending '=' padding makes any text invalid.
    FUZZ_CHECK(!totp::base32_decode(canonical + "=").ok());
    FUZZ_CHECK(!totp::base32_decode(canonical + "====").ok());
  }

  // The length cap: the same text grown past kMaxBase32Input never decodes.
  if (size > 0 && data[0] == 'Z') {
    std::string big(totp::kMaxBase32Input + 1, 'A');
    big.replace(0, size, text.substr(0, std::min(size, big.size())));
    FUZZ_CHECK(!totp::base32_decode(big).ok());
  }
  return 0;
}
