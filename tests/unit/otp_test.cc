// Tests for HOTP/TOTP generation: RFC 4226 and RFC 6238 vectors from tests/data/vectors,
// argument errors, keys longer than the hash block (checked against oathtool), and the
// counter arithmetic helpers.
#include "totp/otp.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "vectors.h"

namespace {

using totp::hash_algorithm;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <class T>
T parse(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  EXPECT_TRUE(ec == std::errc() && end == text.data() + text.size()) << "bad number " << text;
  return value;
}

TEST(Hotp, Rfc4226AppendixDThroughGenerator) {
  auto rows = pvetotp_test::load_vectors("rfc4226_hotp.txt", 4);
  ASSERT_EQ(rows.size(), 10u);
  auto generator = totp::otp_generator::create(bytes_of(rows[0].fields[0]), hash_algorithm::sha1,
                                               parse<int>(rows[0].fields[2]));
  ASSERT_TRUE(generator.ok()) << generator.error().message;
  for (const auto& row : rows) {
    ASSERT_EQ(row.fields[0], rows[0].fields[0]);
    const int digits = parse<int>(row.fields[2]);
    auto code = generator->code(parse<std::uint64_t>(row.fields[1]));
    ASSERT_TRUE(code.ok()) << "line " << row.line;
    EXPECT_EQ(totp::format_code(*code, digits), row.fields[3]) << "line " << row.line;
  }
}

TEST(Hotp, Rfc4226AppendixDThroughOneShot) {
  for (const auto& row : pvetotp_test::load_vectors("rfc4226_hotp.txt", 4)) {
    const int digits = parse<int>(row.fields[2]);
    auto code = totp::hotp(bytes_of(row.fields[0]), parse<std::uint64_t>(row.fields[1]),
                           hash_algorithm::sha1, digits);
    ASSERT_TRUE(code.ok()) << "line " << row.line;
    EXPECT_EQ(totp::format_code(*code, digits), row.fields[3]) << "line " << row.line;
  }
}

TEST(Totp, Rfc6238AppendixB) {
  auto rows = pvetotp_test::load_vectors("rfc6238_totp.txt", 6);
  ASSERT_EQ(rows.size(), 18u);
  int per_algorithm[3] = {0, 0, 0};
  for (const auto& row : rows) {
    auto algorithm = totp::parse_hash_algorithm(row.fields[0]);
    ASSERT_TRUE(algorithm.has_value()) << "line " << row.line;
    ++per_algorithm[static_cast<int>(*algorithm)];
    const int digits = parse<int>(row.fields[4]);
    auto counter =
        totp::totp_counter(parse<std::int64_t>(row.fields[2]), parse<std::uint32_t>(row.fields[3]));
    ASSERT_TRUE(counter.ok()) << "line " << row.line;
    auto generator = totp::otp_generator::create(bytes_of(row.fields[1]), *algorithm, digits);
    ASSERT_TRUE(generator.ok()) << "line " << row.line;
    EXPECT_EQ(generator->algorithm(), *algorithm);
    EXPECT_EQ(generator->digits(), digits);
    auto code = generator->code(*counter);
    ASSERT_TRUE(code.ok()) << "line " << row.line;
    EXPECT_EQ(totp::format_code(*code, digits), row.fields[5]) << "line " << row.line;
    auto one_shot = totp::hotp(bytes_of(row.fields[1]), *counter, *algorithm, digits);
    ASSERT_TRUE(one_shot.ok());
    EXPECT_EQ(*one_shot, *code) << "line " << row.line;
  }
  EXPECT_EQ(per_algorithm[0], 6);
  EXPECT_EQ(per_algorithm[1], 6);
  EXPECT_EQ(per_algorithm[2], 6);
}

TEST(Otp, DigitsOutOfRangeAreRejected) {
  const std::string key = "12345678901234567890";
  for (int digits : {-1, 0, 1, 5, 9, 10, 100}) {
    auto g = totp::otp_generator::create(bytes_of(key), hash_algorithm::sha1, digits);
    ASSERT_FALSE(g.ok()) << digits;
    EXPECT_EQ(g.error().code, totp::error_code::invalid_argument) << digits;
    auto h = totp::hotp(bytes_of(key), 0, hash_algorithm::sha1, digits);
    ASSERT_FALSE(h.ok()) << digits;
    EXPECT_EQ(h.error().code, totp::error_code::invalid_argument) << digits;
  }
  for (int digits : {6, 7, 8}) {
    EXPECT_TRUE(totp::otp_generator::create(bytes_of(key), hash_algorithm::sha1, digits).ok());
  }
}

TEST(Otp, SevenDigitsMatchesOathtool) {
  // RFC 4226 lists only 6 digits; 7 is legal in google-authenticator files.
  auto out = pvetotp_test::run_tool(
      "oathtool --hotp --digits=7 --counter=0 -w 9 3132333435363738393031323334353637383930");
  ASSERT_EQ(out.exit_status, 0);
  ASSERT_EQ(out.lines.size(), 10u);
  auto g = totp::otp_generator::create(bytes_of("12345678901234567890"), hash_algorithm::sha1, 7);
  ASSERT_TRUE(g.ok());
  for (std::uint64_t c = 0; c < 10; ++c) {
    EXPECT_EQ(totp::format_code(*g->code(c), 7), out.lines[c]) << c;
  }
}

TEST(Otp, EmptyKeyIsRejected) {
  std::span<const std::uint8_t> empty;
  for (auto algorithm : {hash_algorithm::sha1, hash_algorithm::sha256, hash_algorithm::sha512}) {
    auto g = totp::otp_generator::create(empty, algorithm, 6);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.error().code, totp::error_code::invalid_argument);
    auto h = totp::hotp(empty, 1, algorithm, 6);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error().code, totp::error_code::invalid_argument);
  }
}

TEST(Otp, MovedGeneratorStillWorksAndMovedFromFailsCleanly) {
  auto g = totp::otp_generator::create(bytes_of("12345678901234567890"), hash_algorithm::sha1, 6);
  ASSERT_TRUE(g.ok());
  totp::otp_generator moved = std::move(g).value();
  EXPECT_EQ(totp::format_code(*moved.code(1), 6), "287082");
  totp::otp_generator target = std::move(moved);
  EXPECT_EQ(totp::format_code(*target.code(9), 6), "520489");
  auto after = moved.code(1);  // NOLINT(bugprone-use-after-move): must fail, not crash
  EXPECT_FALSE(after.ok());
}

// code() is const and may be called from several threads at once (the generator keeps a
// reusable scratch buffer internally; this checks it is never shared between two calls).
TEST(Otp, ConcurrentCodesAreCorrect) {
  auto g = totp::otp_generator::create(bytes_of("12345678901234567890"), hash_algorithm::sha1, 6);
  ASSERT_TRUE(g.ok());
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 2000; ++round) {
        const auto counter = static_cast<std::uint64_t>(round % 10);
        auto code = g->code(counter);
        if (!code.ok() || totp::format_code(*code, 6) != expected[counter]) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

// Keys longer than the block (64 bytes for SHA-1/SHA-256, 128 for SHA-512) are hashed
// first; boundary lengths and long keys are checked against oathtool.
TEST(Otp, LongKeysMatchOathtool) {
  int checked = 0;
  for (std::size_t length : {63u, 64u, 65u, 100u, 127u, 128u, 129u, 200u, 1000u}) {
    std::string key(length, '\0');
    for (std::size_t i = 0; i < length; ++i) {
      key[i] = static_cast<char>((i * 37 + length) & 0xff);
    }
    for (auto algorithm : {hash_algorithm::sha1, hash_algorithm::sha256, hash_algorithm::sha512}) {
      std::string mode(totp::to_string(algorithm));
      for (auto& c : mode) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      const std::int64_t now = 1700000000 + static_cast<std::int64_t>(length);
      auto out = pvetotp_test::run_tool("oathtool --totp=" + mode + " --digits=8 --now=@" +
                                        std::to_string(now) + " -w 2 " + pvetotp_test::to_hex(key));
      ASSERT_EQ(out.exit_status, 0);
      ASSERT_EQ(out.lines.size(), 3u);
      auto g = totp::otp_generator::create(bytes_of(key), algorithm, 8);
      ASSERT_TRUE(g.ok());
      const std::uint64_t counter = *totp::totp_counter(now, 30);
      for (std::uint64_t i = 0; i < 3; ++i) {
        EXPECT_EQ(totp::format_code(*g->code(counter + i), 8), out.lines[i])
            << "key length " << length << " " << mode << " step " << i;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 81);
}

TEST(Otp, ExtremeCountersMatchOathtool) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  auto out = pvetotp_test::run_tool("oathtool --hotp --counter=" + std::to_string(max - 2) +
                                    " -w 2 3132333435363738393031323334353637383930");
  ASSERT_EQ(out.exit_status, 0);
  ASSERT_EQ(out.lines.size(), 3u);
  auto g = totp::otp_generator::create(bytes_of("12345678901234567890"), hash_algorithm::sha1, 6);
  ASSERT_TRUE(g.ok());
  for (std::uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(totp::format_code(*g->code(max - 2 + i), 6), out.lines[i]) << i;
  }
}

TEST(Otp, ParseHashAlgorithm) {
  EXPECT_EQ(totp::parse_hash_algorithm("SHA1"), hash_algorithm::sha1);
  EXPECT_EQ(totp::parse_hash_algorithm("sha1"), hash_algorithm::sha1);
  EXPECT_EQ(totp::parse_hash_algorithm("Sha256"), hash_algorithm::sha256);
  EXPECT_EQ(totp::parse_hash_algorithm("sHA512"), hash_algorithm::sha512);
  for (const char* bad :
       {"", "SHA", "SHA-1", "SHA-256", "SHA1 ", " SHA1", "MD5", "SHA384", "SHA5120", "SHA3-256"}) {
    EXPECT_FALSE(totp::parse_hash_algorithm(bad).has_value()) << '"' << bad << '"';
  }
  EXPECT_EQ(totp::to_string(hash_algorithm::sha1), "SHA1");
  EXPECT_EQ(totp::to_string(hash_algorithm::sha256), "SHA256");
  EXPECT_EQ(totp::to_string(hash_algorithm::sha512), "SHA512");
}

TEST(FormatCode, PadsWithZeros) {
  EXPECT_EQ(totp::format_code(12345, 6), "012345");
  EXPECT_EQ(totp::format_code(0, 6), "000000");
  EXPECT_EQ(totp::format_code(0, 8), "00000000");
  EXPECT_EQ(totp::format_code(7081804, 8), "07081804");
  EXPECT_EQ(totp::format_code(999999, 6), "999999");
  EXPECT_EQ(totp::format_code(1234567, 7), "1234567");
  EXPECT_EQ(totp::format_code(42, 7), "0000042");
}

TEST(TotpCounter, EdgeCases) {
  using totp::totp_counter;
  EXPECT_EQ(*totp_counter(0, 30), 0u);
  EXPECT_EQ(*totp_counter(29, 30), 0u);
  EXPECT_EQ(*totp_counter(30, 30), 1u);
  EXPECT_EQ(*totp_counter(59, 30), 1u);
  EXPECT_EQ(*totp_counter(1111111109, 30), 37037036u);
  EXPECT_EQ(*totp_counter(1111111111, 30), 37037037u);
  EXPECT_EQ(*totp_counter(20000000000, 30), 666666666u);
  EXPECT_EQ(*totp_counter(119, 60), 1u);
  EXPECT_EQ(*totp_counter(12345, 1), 12345u);
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(*totp_counter(max, 1), static_cast<std::uint64_t>(max));
  EXPECT_EQ(*totp_counter(max, std::numeric_limits<std::uint32_t>::max()),
            static_cast<std::uint64_t>(max) / std::numeric_limits<std::uint32_t>::max());

  // t0 shifts the epoch.
  EXPECT_EQ(*totp_counter(100, 30, 100), 0u);
  EXPECT_EQ(*totp_counter(130, 30, 100), 1u);
  EXPECT_EQ(*totp_counter(-30, 30, -60), 1u);
  // The full int64 span does not fit in int64 but fits in uint64: no overflow.
  EXPECT_EQ(*totp_counter(max, 1, min), std::numeric_limits<std::uint64_t>::max());

  auto zero_period = totp_counter(100, 0);
  ASSERT_FALSE(zero_period.ok());
  EXPECT_EQ(zero_period.error().code, totp::error_code::invalid_argument);
  auto negative = totp_counter(-1, 30);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, totp::error_code::invalid_argument);
  auto before_t0 = totp_counter(99, 30, 100);
  ASSERT_FALSE(before_t0.ok());
  EXPECT_EQ(before_t0.error().code, totp::error_code::invalid_argument);
  EXPECT_FALSE(totp_counter(min, 30).ok());
}

TEST(CheckedAdd, OverflowAndUnderflow) {
  using totp::checked_add;
  const std::uint64_t umax = std::numeric_limits<std::uint64_t>::max();
  const std::int64_t imax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t imin = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(checked_add(10, 5), 15u);
  EXPECT_EQ(checked_add(10, -5), 5u);
  EXPECT_EQ(checked_add(10, -10), 0u);
  EXPECT_EQ(checked_add(10, -11), std::nullopt);
  EXPECT_EQ(checked_add(0, 0), 0u);
  EXPECT_EQ(checked_add(0, -1), std::nullopt);
  EXPECT_EQ(checked_add(umax, 0), umax);
  EXPECT_EQ(checked_add(umax - 1, 1), umax);
  EXPECT_EQ(checked_add(umax, 1), std::nullopt);
  EXPECT_EQ(checked_add(umax, -1), umax - 1);
  EXPECT_EQ(checked_add(umax, imax), std::nullopt);
  EXPECT_EQ(checked_add(umax - static_cast<std::uint64_t>(imax), imax), umax);
  EXPECT_EQ(checked_add(0, imax), static_cast<std::uint64_t>(imax));
  // INT64_MIN's magnitude is 2^63, which has no int64 negation.
  const std::uint64_t two63 = std::uint64_t{1} << 63;
  EXPECT_EQ(checked_add(two63, imin), 0u);
  EXPECT_EQ(checked_add(two63 - 1, imin), std::nullopt);
  EXPECT_EQ(checked_add(umax, imin), umax - two63);
}

TEST(ErrorCode, NamesAreStableAndDistinct) {
  using totp::error_code;
  EXPECT_EQ(totp::to_string(error_code::invalid_argument), "invalid_argument");
  EXPECT_EQ(totp::to_string(error_code::bad_base32), "bad_base32");
  EXPECT_EQ(totp::to_string(error_code::io), "io");
  EXPECT_EQ(totp::to_string(error_code::bad_owner), "bad_owner");
  EXPECT_EQ(totp::to_string(error_code::qr), "qr");
  std::set<std::string_view> names;
  for (int c = static_cast<int>(error_code::invalid_argument);
       c <= static_cast<int>(error_code::qr); ++c) {
    auto name = totp::to_string(static_cast<error_code>(c));
    EXPECT_NE(name, "unknown") << c;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(error_code::qr) + 1);
}

}  // namespace
