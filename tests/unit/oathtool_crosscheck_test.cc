// Cross-checks libtotp against oathtool (OATH Toolkit), an independent implementation, on
// thousands of random cases: secret length 10..64 bytes, SHA1/SHA256/SHA512, 6..8 digits,
// period 30 or 60, times up to year ~2600, and HOTP counters up to 2^64-1.
//
// One oathtool process per batch: `-w 9` prints the codes for ten successive steps, so the
// process cost is shared by ten comparisons. The seed is fixed so a failure reproduces; every
// failure prints the whole case (key in hex, algorithm, digits, period, time or counter) as an
// oathtool command line that can be pasted into a shell.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "totp/base32.h"
#include "totp/otp.h"
#include "vectors.h"

namespace {

using totp::hash_algorithm;

constexpr std::uint64_t kSeed = 0x70767e707470ULL;  // fixed: failures must reproduce
constexpr int kWindow = 9;                          // oathtool -w 9 prints 10 codes

struct random_case {
  std::string key;  // raw bytes
  hash_algorithm algorithm;
  int digits;
  std::uint32_t period;
  std::int64_t time;
  bool base32;  // hand oathtool our base32 encoding instead of hex
};

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string mode_name(hash_algorithm a) {
  switch (a) {
    case hash_algorithm::sha1:
      return "sha1";
    case hash_algorithm::sha256:
      return "sha256";
    case hash_algorithm::sha512:
      return "sha512";
  }
  return "?";
}

class generator_source {
 public:
  explicit generator_source(std::uint64_t seed) : rng_(seed) {}

  random_case next() {
    random_case c;
    c.key.resize(uniform(10, 64));
    for (auto& b : c.key) {
      b = static_cast<char>(uniform(0, 255));
    }
    c.algorithm = static_cast<hash_algorithm>(uniform(0, 2));
    c.digits = static_cast<int>(uniform(6, 8));
    c.period = uniform(0, 1) == 0 ? 30 : 60;
    // Mostly realistic times, some far in the future (beyond 2038 and 32-bit counters).
    c.time = uniform(0, 3) == 0 ? static_cast<std::int64_t>(uniform(0, 20000000000))
                                : static_cast<std::int64_t>(uniform(1500000000, 2200000000));
    c.base32 = uniform(0, 3) == 0;
    return c;
  }

  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
  }

 private:
  std::mt19937_64 rng_;
};

std::string key_argument(const random_case& c) {
  if (c.base32) {
    return "--base32 " + std::string(totp::base32_encode(bytes_of(c.key)).view());
  }
  return pvetotp_test::to_hex(c.key);
}

TEST(OathtoolCrosscheck, RandomTotpCases) {
  generator_source source(kSeed);
  constexpr int kBatches = 150;
  int compared = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    const random_case c = source.next();
    const std::string command =
        "oathtool --totp=" + mode_name(c.algorithm) + " --digits=" + std::to_string(c.digits) +
        " --time-step-size=" + std::to_string(c.period) + "s --now=@" + std::to_string(c.time) +
        " -w " + std::to_string(kWindow) + " " + key_argument(c);
    auto out = pvetotp_test::run_tool(command);
    ASSERT_EQ(out.exit_status, 0) << "oathtool failed: " << command;
    ASSERT_EQ(out.lines.size(), static_cast<std::size_t>(kWindow + 1)) << command;

    auto generator = totp::otp_generator::create(bytes_of(c.key), c.algorithm, c.digits);
    ASSERT_TRUE(generator.ok()) << generator.error().message << " for " << command;
    auto counter = totp::totp_counter(c.time, c.period);
    ASSERT_TRUE(counter.ok()) << command;
    for (int i = 0; i <= kWindow; ++i) {
      auto code = generator->code(*counter + static_cast<std::uint64_t>(i));
      ASSERT_TRUE(code.ok()) << command;
      EXPECT_EQ(totp::format_code(*code, c.digits), out.lines[i])
          << "batch " << batch << " step +" << i << " (counter " << *counter + i << ", key length "
          << c.key.size() << "): " << command;
      ++compared;
    }
  }
  std::printf("[ crosscheck ] %d TOTP codes compared with oathtool in %d processes\n", compared,
              kBatches);
  EXPECT_EQ(compared, kBatches * (kWindow + 1));
  EXPECT_GE(compared, 1000);
}

TEST(OathtoolCrosscheck, RandomHotpCases) {
  generator_source source(kSeed + 1);
  constexpr int kBatches = 50;
  int compared = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    const random_case c = source.next();
    // Small counters (fresh tokens), large ones, and ones that end exactly at 2^64-1.
    std::uint64_t counter;
    switch (batch % 3) {
      case 0:
        counter = source.uniform(0, 1000);
        break;
      case 1:
        counter = source.uniform(0, UINT64_MAX - kWindow);
        break;
      default:
        counter = UINT64_MAX - kWindow;
        break;
    }
    const std::string command = "oathtool --hotp --digits=" + std::to_string(c.digits) +
                                " --counter=" + std::to_string(counter) + " -w " +
                                std::to_string(kWindow) + " " + key_argument(c);
    auto out = pvetotp_test::run_tool(command);
    ASSERT_EQ(out.exit_status, 0) << "oathtool failed: " << command;
    ASSERT_EQ(out.lines.size(), static_cast<std::size_t>(kWindow + 1)) << command;
    // oathtool's HOTP is HMAC-SHA1 only.
    auto generator = totp::otp_generator::create(bytes_of(c.key), hash_algorithm::sha1, c.digits);
    ASSERT_TRUE(generator.ok()) << command;
    for (int i = 0; i <= kWindow; ++i) {
      auto code = totp::hotp(bytes_of(c.key), counter + static_cast<std::uint64_t>(i),
                             hash_algorithm::sha1, c.digits);
      auto code2 = generator->code(counter + static_cast<std::uint64_t>(i));
      ASSERT_TRUE(code.ok() && code2.ok()) << command;
      EXPECT_EQ(*code, *code2) << command;
      EXPECT_EQ(totp::format_code(*code, c.digits), out.lines[i])
          << "batch " << batch << " counter " << counter + i << ": " << command;
      ++compared;
    }
  }
  std::printf("[ crosscheck ] %d HOTP codes compared with oathtool in %d processes\n", compared,
              kBatches);
  EXPECT_EQ(compared, kBatches * (kWindow + 1));
}

// The dev helper pvetotp-testcodes must print what oathtool prints (demo.sh relies on it).
TEST(OathtoolCrosscheck, TestcodesBinaryAgrees) {
  const std::string binary = std::string(PVETOTP_BINARY_DIR) + "/tests/support/pvetotp-testcodes";
  if (std::FILE* f = std::fopen(binary.c_str(), "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << binary << " not built";
  }
  generator_source source(kSeed + 2);
  int compared = 0;
  for (int batch = 0; batch < 12; ++batch) {
    const random_case c = source.next();
    const std::string b32(totp::base32_encode(bytes_of(c.key)).view());
    std::string upper_mode = mode_name(c.algorithm);
    for (auto& ch : upper_mode) {
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    auto ours = pvetotp_test::run_tool(binary + " --secret " + b32 + " --algorithm " + upper_mode +
                                       " --digits " + std::to_string(c.digits) + " --period " +
                                       std::to_string(c.period) + " --time " +
                                       std::to_string(c.time) + " --window 2");
    auto theirs = pvetotp_test::run_tool("oathtool --base32 --totp=" + mode_name(c.algorithm) +
                                         " --digits=" + std::to_string(c.digits) +
                                         " --time-step-size=" + std::to_string(c.period) +
                                         "s --now=@" + std::to_string(c.time) + " -w 2 " + b32);
    ASSERT_EQ(ours.exit_status, 0);
    ASSERT_EQ(theirs.exit_status, 0);
    ASSERT_EQ(ours.lines.size(), 3u);
    EXPECT_EQ(ours.lines, theirs.lines) << "secret " << b32 << " " << upper_mode;
    compared += 3;
  }
  EXPECT_EQ(compared, 36);
}

}  // namespace
