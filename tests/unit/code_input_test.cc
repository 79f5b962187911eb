// Tests of split_code_input() and is_openssh_dummy_password() (spec ga-compat 3.2, A2-A7, D1,
// K1d, K7).
#include "totp/code_input.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace totp {
namespace {

struct row {
  std::string input;
  int length;
  bool scratch;
  std::optional<std::uint32_t> value;  // nullopt: rejected
  std::size_t prefix = 0;
};

TEST(CodeInput, Table) {
  const row rows[] = {
      // Plain codes of each length; leading zeros compare as integers.
      {"123456", 6, false, 123456, 0},
      {"012345", 6, false, 12345, 0},
      {"000000", 6, false, 0, 0},
      {"1234567", 7, false, 1234567, 0},
      {"0123456", 7, false, 123456, 0},
      {"12345678", 8, false, 12345678, 0},
      {"01234567", 8, false, 1234567, 0},   // an 8-digit OTP may start with 0 ...
      {"01234567", 8, true, std::nullopt},  // ... a scratch code may not (D1)
      {"87654321", 8, true, 87654321, 0},
      {"10000000", 8, true, 10000000, 0},
      {"99999999", 8, true, 99999999, 0},
      // The code is the tail; whatever precedes it is the prefix (password part).
      {"pw1123456", 6, false, 123456, 3},
      {" 123456", 6, false, 123456, 1},       // A7: a prefix the caller must refuse
      {"0123456", 6, false, 123456, 1},       // A4: 7 digits, 6-digit mode: prefix "0"
      {"pw187654321", 8, true, 87654321, 3},  // K1d: scratch code after a password
      {"pw187654321", 6, false, 654321, 5},   // K1d: mode 2 reads its last 6 digits
      {"ab12345678", 6, false, 345678, 4},
      // Rejections.
      {"123456 ", 6, false, std::nullopt},  // A7: trailing junk
      {"12345", 6, false, std::nullopt},    // A3: too short
      {"", 6, false, std::nullopt},
      {"abcdef", 6, false, std::nullopt},  // A6
      {"12345a", 6, false, std::nullopt},
      {"+12345", 6, false, std::nullopt},
      {"-12345", 6, false, std::nullopt},
      {"12 456", 6, false, std::nullopt},
      {"1234567", 8, true, std::nullopt},  // 7 digits for a scratch code
      {"x12345678", 8, true, 12345678,
       1},  // D1 `x12345678`: split OK, the caller refuses the prefix
      {"1234\xd9\xa3"
       "56",
       6, false, std::nullopt},  // non-ASCII digit bytes
      // Lengths outside 6..8 are refused outright.
      {"12345", 5, false, std::nullopt},
      {"123456789", 9, false, std::nullopt},
  };
  for (const row& r : rows) {
    SCOPED_TRACE("input '" + r.input + "' length " + std::to_string(r.length) +
                 (r.scratch ? " scratch" : ""));
    const auto c = split_code_input(r.input, r.length, r.scratch);
    if (!r.value) {
      EXPECT_FALSE(c.has_value());
      continue;
    }
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->value, *r.value);
    EXPECT_EQ(c->prefix_length, r.prefix);
  }
}

TEST(CodeInput, PrefixIsTheBytesBeforeTheCode) {
  const std::string input = "secret-password042042";
  const auto c = split_code_input(input, 6, false);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(input.substr(0, c->prefix_length), "secret-password");
  EXPECT_EQ(c->value, 42042u);
}

TEST(CodeInput, OpensshDummyPassword) {
  EXPECT_TRUE(is_openssh_dummy_password("\b\n\r\177INCORRECT"));
  EXPECT_TRUE(is_openssh_dummy_password("\b"));
  EXPECT_FALSE(is_openssh_dummy_password(""));
  EXPECT_FALSE(is_openssh_dummy_password("123456"));
  EXPECT_FALSE(is_openssh_dummy_password("x\b"));
}

}  // namespace
}  // namespace totp
