// Tests for totp::base32_encode / base32_decode: RFC 4648 vectors, google-authenticator's
// lenient reading rules (spec ga-compat 1.2), and round trips checked against coreutils.
#include "totp/base32.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "totp/random.h"
#include "vectors.h"

namespace {

std::string strip_padding(std::string s) {
  while (!s.empty() && s.back() == '=') {
    s.pop_back();
  }
  return s;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Base32, Rfc4648EncodeVectors) {
  auto rows = pvetotp_test::load_vectors("rfc4648_base32.txt", 2);
  EXPECT_EQ(rows.size(), 7u);
  for (const auto& row : rows) {
    const std::string& input = row.fields[0];
    auto encoded = totp::base32_encode(bytes_of(input));
    EXPECT_EQ(encoded.view(), strip_padding(row.fields[1])) << "line " << row.line;
  }
}

TEST(Base32, Rfc4648DecodeVectors) {
  for (const auto& row : pvetotp_test::load_vectors("rfc4648_base32.txt", 2)) {
    auto decoded = totp::base32_decode(strip_padding(row.fields[1]));
    ASSERT_TRUE(decoded.ok()) << "line " << row.line;
    EXPECT_EQ(decoded->view(), row.fields[0]) << "line " << row.line;
    // The padded form is what the RFC prints, but '=' is not accepted (spec 1.2).
    if (row.fields[1].find('=') != std::string::npos) {
      auto padded = totp::base32_decode(row.fields[1]);
      ASSERT_FALSE(padded.ok()) << "line " << row.line;
      EXPECT_EQ(padded.error().code, totp::error_code::bad_base32);
    }
  }
}

struct lenient_case {
  const char* name;
  std::string input;
  bool ok;
  std::string expected;  // decoded bytes when ok
};

// "JBSWY3DPEHPK3PXP" is the base32 of "Hello!\xde\xad\xbe\xef".
const std::string kHello = "Hello!\xde\xad\xbe\xef";

TEST(Base32, LeniencyTable) {
  const lenient_case cases[] = {
      {"plain", "JBSWY3DPEHPK3PXP", true, kHello},
      {"spaces", "JBSW Y3DP EHPK 3PXP", true, kHello},
      {"leading and trailing spaces", "  JBSWY3DPEHPK3PXP  ", true, kHello},
      {"tabs", "JBSW\tY3DP\tEHPK\t3PXP", true, kHello},
      {"CR LF", "JBSWY3DP\r\nEHPK3PXP\r\n", true, kHello},
      {"lone CR", "JBSWY3DPEHPK3PXP\r", true, kHello},
      {"LF", "JBSWY3DP\nEHPK3PXP", true, kHello},
      {"dashes", "JBSW-Y3DP-EHPK-3PXP", true, kHello},
      {"lower case", "jbswy3dpehpk3pxp", true, kHello},
      {"mixed case", "jBsWy3dPeHpK3pXp", true, kHello},
      {"everything skippable", " \t\r\n-JBSW- \t\r\nY3DPEHPK3PXP", true, kHello},
      // Typo mappings, checked bit by bit in TypoMappingsAreExact below.
      {"zero means O", "0000", true, "\x73\x9c"},
      {"one means L", "1111", true, "\x5a\xd6"},
      {"eight means B", "8888", true, "\x08\x42"},
      {"digits 2-7 are base32", "234567", true, "\xd6\xf9\xdf"},
      {"'=' padding is invalid", "MZXW6===", false, {}},
      {"lone '='", "=", false, {}},
      {"'!' is invalid", "JBSWY3DP!EHPK3PXP", false, {}},
      {"'9' is invalid", "JBSW9", false, {}},
      {"NUL is invalid", std::string("JBSW\0Y3DP", 9), false, {}},
      {"'_' is invalid", "JBSW_Y3DP", false, {}},
      {"non-ASCII is invalid", "JBSW\xc3\xa9", false, {}},
      {"vertical tab is not skipped", "JBSW\vY3DP", false, {}},
      {"empty", "", true, {}},
      {"only separators", " - \t\r\n", true, {}},
      {"one char: 5 bits dropped", "M", true, {}},
      {"two chars: one byte, 2 bits dropped", "MY", true, "f"},
      {"leftover bits need not be zero", "MZ", true, "f"},
      {"seven chars: four bytes, 3 bits dropped", "MZXW6YQ", true, "foob"},
  };
  for (const auto& c : cases) {
    auto r = totp::base32_decode(c.input);
    ASSERT_EQ(r.ok(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(std::string(r->view()), c.expected) << c.name;
    } else {
      EXPECT_EQ(r.error().code, totp::error_code::bad_base32) << c.name;
      EXPECT_FALSE(r.error().message.empty()) << c.name;
    }
  }
}

TEST(Base32, TypoMappingsAreExact) {
  // Independent of the table above: the mapped letters decode bit-for-bit like the letters.
  // O = 14 = 01110, L = 11 = 01011, B = 1 = 00001.
  EXPECT_EQ(std::string(totp::base32_decode("00000000")->view()),
            std::string("\x73\x9c\xe7\x39\xce", 5));
  EXPECT_EQ(std::string(totp::base32_decode("11111111")->view()),
            std::string("\x5a\xd6\xb5\xad\x6b", 5));
  EXPECT_EQ(std::string(totp::base32_decode("88888888")->view()),
            std::string("\x08\x42\x10\x84\x21", 5));
}

TEST(Base32, SpecExampleE5) {
  auto spaced = totp::base32_decode("jbsw y3dp-ehpk 3pxp jbsw y3dp ehpk 3pxp");
  auto plain = totp::base32_decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
  ASSERT_TRUE(spaced.ok());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(spaced->size(), 20u);
  EXPECT_EQ(std::string(spaced->view()), std::string(plain->view()));
  EXPECT_EQ(std::string(plain->view()), kHello + kHello);
}

TEST(Base32, LengthBoundary) {
  std::string at_limit(totp::kMaxBase32Input, 'A');
  auto ok = totp::base32_decode(at_limit);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), totp::kMaxBase32Input * 5 / 8);
  EXPECT_EQ(ok->span()[0], 0);

  std::string over = at_limit + "A";
  auto bad = totp::base32_decode(over);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, totp::error_code::bad_base32);

  // The limit counts characters, skipped ones included.
  std::string spaces_over(totp::kMaxBase32Input + 1, ' ');
  EXPECT_FALSE(totp::base32_decode(spaces_over).ok());
}

TEST(Base32, EncodeHasNoPaddingAndIsUpperCase) {
  for (std::size_t n = 0; n <= 40; ++n) {
    auto data = totp::random_bytes(n);
    ASSERT_TRUE(data.ok());
    auto encoded = totp::base32_encode(data->span());
    EXPECT_EQ(encoded.size(), (n * 8 + 4) / 5) << n;
    for (auto c : encoded.span()) {
      EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << n;
    }
  }
}

TEST(Base32, RandomRoundTrips) {
  std::mt19937 rng(4648);
  for (int i = 0; i < 2000; ++i) {
    std::string data(rng() % 100, '\0');
    for (auto& c : data) {
      c = static_cast<char>(rng());
    }
    auto encoded = totp::base32_encode(bytes_of(data));
    auto decoded = totp::base32_decode(encoded.view());
    ASSERT_TRUE(decoded.ok()) << i;
    ASSERT_EQ(std::string(decoded->view()), data) << "round " << i;
  }
}

TEST(Base32, MatchesCoreutilsBase32) {
  // coreutils `base32` is an independent encoder; it pads with '=', we do not.
  std::mt19937 rng(1234);
  int checked = 0;
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 10u, 16u, 20u, 31u, 64u}) {
    std::string data(n, '\0');
    for (auto& c : data) {
      c = static_cast<char>(rng());
    }
    // Octal escapes: POSIX printf (dash) has no \x.
    std::string escaped;
    for (unsigned char c : data) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      escaped += buf;
    }
    auto out = pvetotp_test::run_tool("printf '" + escaped + "' | base32 -w 0");
    ASSERT_EQ(out.exit_status, 0) << "coreutils base32 not runnable";
    ASSERT_EQ(out.lines.size(), 1u);
    auto encoded = totp::base32_encode(bytes_of(data));
    EXPECT_EQ(std::string(encoded.view()), strip_padding(out.lines[0])) << "n=" << n;
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

}  // namespace
