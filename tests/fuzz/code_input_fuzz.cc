// code_input_fuzz.cc: totp::split_code_input, checked against its specification.
//
// Properties (spec ga-compat 3.2, code_input.h), for every length 6..8, scratch or not:
//   - a candidate exists exactly when the last `len` bytes are decimal digits (first digit 1-9
//     for scratch codes) and the input is long enough;
//   - value < 10^len, value is those digits as an integer, prefix_length + len == input size;
//   - scratch codes of length 8 lie in [10^7, 10^8);
//   - lengths outside 6..8 never produce a candidate.
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "totp/code_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int len = 5; len <= 9; ++len) {
    for (bool scratch : {false, true}) {
      auto got = totp::split_code_input(input, len, scratch);
      if (len < 6 || len > 8) {
        FUZZ_CHECK(!got.has_value());
        continue;
      }
      const auto n = static_cast<std::size_t>(len);
      bool expect = size >= n;
      std::uint64_t value = 0;
      if (expect) {
        const std::string_view tail = input.substr(size - n);
        for (char c : tail) {
          expect = expect && c >= '0' && c <= '9';
          value = value * 10 + static_cast<std::uint64_t>(c - '0');
        }
        expect = expect && !(scratch && tail.front() == '0');
      }
      FUZZ_CHECK(got.has_value() == expect);
      if (!got) {
        continue;
      }
      std::uint64_t limit = 1;
      for (int i = 0; i < len; ++i) {
        limit *= 10;
      }
      FUZZ_CHECK(got->value < limit);
      FUZZ_CHECK(got->value == value);
      FUZZ_CHECK(got->prefix_length + n == size);
      if (scratch) {
        FUZZ_CHECK(got->value >= limit / 10);
      }
      if (scratch && len == 8) {
        FUZZ_CHECK(got->value >= 10000000u && got->value < 100000000u);
      }
    }
  }
  // OpenSSH's dummy password starts with a backspace, and only that.
  FUZZ_CHECK(totp::is_openssh_dummy_password(input) == (size > 0 && data[0] == '\b'));
  return 0;
}
