// Tests of totp::secret_file against the behaviour of google-authenticator's module
// (spec ga-compat sections 1, 3.4, 3.7, 3.8, 3.10 and the experiments of section 4).
// Expected bytes after edits are written out literally; fixture expectations are in
// tests/data/secret_files/MANIFEST and checked here one by one.
#include "totp/secret_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

namespace totp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kDir = std::string(PVETOTP_TEST_DATA_DIR) + "/secret_files";
constexpr char kSecret[] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
// RFC 4648 test value: JBSWY3DPEHPK3PXP is "Hello!" followed by DE AD BE EF.
const std::string kKey = std::string("Hello!\xDE\xAD\xBE\xEF", 10) + "Hello!\xDE\xAD\xBE\xEF";

std::string read_fixture(const std::string& name) {
  std::ifstream in(kDir + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

secret_file make(const std::string& text,
                 const std::string& path = "/home/u/.google_authenticator") {
  auto parsed = secret_file::parse(secret_bytes::from_string(text), path);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return std::move(parsed).value();
}

secret_file load(const std::string& name) {
  return make(read_fixture(name), kDir + "/" + name);
}

std::string bytes_of(const secret_file& f) {
  return std::string(f.bytes().view());
}

std::string quoted(const std::string& name) {
  return "\"" + kDir + "/" + name + "\"";
}

// ---------------------------------------------------------------------------------------
// Fixture inventory: every fixture is exercised, every exercised fixture exists.

const std::set<std::string> kFixtures = {
    "cli_totp_default.txt",
    "cli_totp_step60_10codes.txt",
    "cli_hotp_no_scratch.txt",
    "cli_interactive.txt",
    "cli_head_32char_secret.txt",
    "e1_junk_before_scratch.txt",
    "e2_indented_scratch.txt",
    "e3_crlf.txt",
    "e4_bad_base32.txt",
    "e5_lenient_secret.txt",
    "e6_empty.txt",
    "e7_nul.txt",
    "i4_step_size_61.txt",
    "i5_window_size_101.txt",
    "i6_window_size_x.txt",
    "i7_window_size_17x.txt",
    "i8_rate_limit_0_30.txt",
    "i9_rate_limit_trailing_space.txt",
    "i10_rate_limit_101_30.txt",
    "i11_unknown_option.txt",
    "i12_totp_authx.txt",
    "i13_totp_auth_buried.txt",
    "i14_window_first_wins.txt",
    "i15_disallow_reuse_abc.txt",
    "d1_leading_zero_scratch.txt",
    "d1b_scratch_only.txt",
    "h7_hotp_counter_0_totp.txt",
    "h8_hotp_counter_0_only.txt",
    "state_full.txt",
    "ext_invalid.txt",
    "secret_only_no_newline.txt",
};

TEST(SecretFileFixtures, InventoryMatchesDirectoryAndManifest) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().filename() != "MANIFEST") {
      on_disk.insert(entry.path().filename().string());
    }
  }
  EXPECT_EQ(on_disk, kFixtures);
  std::set<std::string> in_manifest;
  std::istringstream manifest(read_fixture("MANIFEST"));
  for (std::string line; std::getline(manifest, line);) {
    if (!line.empty() && line[0] != '#') {
      in_manifest.insert(line.substr(0, line.find_first_of(" |")));
    }
  }
  EXPECT_EQ(in_manifest, kFixtures);
}

// ---------------------------------------------------------------------------------------
// parse(): size and NUL checks (spec 1.1, E6-E8).

TEST(SecretFileParse, EmptyFileIsInvalidSize) {  // E6
  auto r = secret_file::parse(secret_bytes::from_string(read_fixture("e6_empty.txt")),
                              kDir + "/e6_empty.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::file_size);
  EXPECT_EQ(r.error().message, "Invalid file size for " + quoted("e6_empty.txt"));
}

TEST(SecretFileParse, NulByteIsInvalidContents) {  // E7
  const std::string text = read_fixture("e7_nul.txt");
  ASSERT_NE(text.find('\0'), std::string::npos);
  auto r = secret_file::parse(secret_bytes::from_string(text), kDir + "/e7_nul.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::file_contents);
  EXPECT_EQ(r.error().message, "Invalid file contents in " + quoted("e7_nul.txt"));
}

std::string padded_totp_file(std::size_t size) {
  std::string text = std::string(kSecret) + "\n\" TOTP_AUTH\n";
  while (text.size() < size) {
    text += "junk line after the options, kept as is\n";
  }
  text.resize(size);
  return text;
}

TEST(SecretFileParse, SizeBoundary65536And65537) {
  EXPECT_TRUE(secret_file::parse(secret_bytes::from_string(padded_totp_file(65536)), "/f").ok());
  auto r = secret_file::parse(secret_bytes::from_string(padded_totp_file(65537)), "/f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::file_size);
  EXPECT_EQ(r.error().message, "Invalid file size for \"/f\"");
  EXPECT_TRUE(secret_file::parse(secret_bytes::from_string("A"), "/f").ok());  // 1 byte
}

TEST(SecretFileParse, SeventyKilobytesIsInvalidSize) {  // E8
  auto r = secret_file::parse(secret_bytes::from_string(padded_totp_file(70 * 1024)), "/big");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::file_size);
}

TEST(SecretFileParse, SixtyKilobytesWithJunkWorks) {  // E9
  const std::string text = padded_totp_file(60 * 1024);
  secret_file f = make(text);
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.step_size().value(), 30u);
  EXPECT_EQ(f.window_size().value(), 3u);
  EXPECT_THAT(f.scratch_codes(), IsEmpty());
  f.set_option("TIME_SKEW", "1");
  EXPECT_EQ(bytes_of(f), std::string(kSecret) + "\n\" TIME_SKEW 1\n" + text.substr(33));
}

// ---------------------------------------------------------------------------------------
// Fixtures: the CLI layouts of spec 1.6.

TEST(SecretFileFixtures, CliTotpDefault) {
  secret_file f = load("cli_totp_default.txt");
  EXPECT_EQ(f.bytes().size(), 135u);
  ASSERT_TRUE(f.key().ok());
  EXPECT_EQ(f.key().value().size(), 16u);  // 26 base32 chars -> 128 bits
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.step_size().value(), 30u);
  EXPECT_EQ(f.window_size().value(), 3u);
  auto rl = f.rate_limit();
  ASSERT_TRUE(rl.ok());
  ASSERT_TRUE(rl.value().has_value());
  EXPECT_EQ(rl.value()->attempts, 3u);
  EXPECT_EQ(rl.value()->interval, 30u);
  EXPECT_THAT(rl.value()->timestamps, IsEmpty());
  auto reuse = f.disallow_reuse();
  ASSERT_TRUE(reuse.ok());
  ASSERT_TRUE(reuse.value().has_value());
  EXPECT_THAT(*reuse.value(), IsEmpty());
  EXPECT_THAT(f.scratch_codes(), ElementsAre(93129982, 31183962, 69019178, 76663855, 57796179));
  EXPECT_EQ(f.algorithm().value(), hash_algorithm::sha1);
  EXPECT_EQ(f.digits().value(), 6);
}

TEST(SecretFileFixtures, CliTotpStep60TenCodes) {
  secret_file f = load("cli_totp_step60_10codes.txt");
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.step_size().value(), 60u);
  EXPECT_EQ(f.window_size().value(), 5u);
  EXPECT_EQ(f.rate_limit().value()->attempts, 5u);
  EXPECT_EQ(f.rate_limit().value()->interval, 60u);
  EXPECT_EQ(f.scratch_codes().size(), 10u);
  EXPECT_EQ(f.scratch_codes().front(), 33329405u);
  EXPECT_EQ(f.scratch_codes().back(), 36790520u);
}

TEST(SecretFileFixtures, CliHotpNoScratch) {
  secret_file f = load("cli_hotp_no_scratch.txt");
  EXPECT_EQ(f.mode(), otp_mode::hotp);
  EXPECT_EQ(f.hotp_counter(), 1);
  EXPECT_EQ(f.window_size().value(), 7u);
  EXPECT_FALSE(f.rate_limit().value().has_value());
  EXPECT_FALSE(f.disallow_reuse().value().has_value());
  EXPECT_THAT(f.scratch_codes(), IsEmpty());
}

TEST(SecretFileFixtures, CliInteractive) {
  secret_file f = load("cli_interactive.txt");
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.window_size().value(), 3u);
  EXPECT_EQ(f.rate_limit().value()->attempts, 3u);
  EXPECT_TRUE(f.disallow_reuse().value().has_value());
  EXPECT_EQ(f.scratch_codes().size(), 5u);
}

TEST(SecretFileFixtures, CliHead32CharSecret) {
  secret_file f = load("cli_head_32char_secret.txt");
  ASSERT_TRUE(f.key().ok());
  EXPECT_EQ(f.key().value().size(), 20u);  // 160 bits
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.scratch_codes().size(), 5u);
}

// ---------------------------------------------------------------------------------------
// Fixtures: experiments E1-E5, I4-I15, D1, H7/H8.

TEST(SecretFileFixtures, E1JunkBeforeScratchCodeEndsTheScan) {
  secret_file f = load("e1_junk_before_scratch.txt");
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_THAT(f.scratch_codes(), IsEmpty());
  EXPECT_FALSE(f.remove_scratch_code(12345678));
  EXPECT_FALSE(f.modified());
}

TEST(SecretFileFixtures, E2IndentedScratchCode) {
  secret_file f = load("e2_indented_scratch.txt");
  EXPECT_THAT(f.scratch_codes(), ElementsAre(12345678));
  EXPECT_TRUE(f.remove_scratch_code(12345678));
  EXPECT_EQ(bytes_of(f), std::string(kSecret) + "\n\" TOTP_AUTH\n");
}

TEST(SecretFileFixtures, E3Crlf) {
  secret_file f = load("e3_crlf.txt");
  ASSERT_TRUE(f.key().ok());
  EXPECT_EQ(std::string(f.key().value().view()), kKey);
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.option("DISALLOW_REUSE"), std::optional<std::string_view>(""));
  EXPECT_THAT(*f.disallow_reuse().value(), IsEmpty());
  EXPECT_THAT(f.scratch_codes(), ElementsAre(12345678, 87654321));
  // The module's two edits of E3: the rewritten option line ends in LF, other CRLF lines stay.
  f.set_option("DISALLOW_REUSE", "56666666");
  EXPECT_TRUE(f.remove_scratch_code(12345678));
  EXPECT_EQ(bytes_of(f),
            std::string(kSecret) + "\r\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\r\n87654321\r\n");
}

TEST(SecretFileFixtures, E4BadBase32) {
  secret_file f = load("e4_bad_base32.txt");
  auto key = f.key();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, error_code::no_secret);
  EXPECT_EQ(key.error().message,
            "Could not find a valid BASE32 encoded secret in " + quoted("e4_bad_base32.txt"));
}

TEST(SecretFileFixtures, E5LenientSecret) {
  secret_file f = load("e5_lenient_secret.txt");
  ASSERT_TRUE(f.key().ok());
  EXPECT_EQ(std::string(f.key().value().view()), kKey);
}

TEST(SecretFileFixtures, I4StepSize61) {
  secret_file f = load("i4_step_size_61.txt");
  auto step = f.step_size();
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().code, error_code::bad_option);
  EXPECT_EQ(step.error().message, "Invalid STEP_SIZE option in " + quoted("i4_step_size_61.txt"));
  EXPECT_EQ(f.window_size().value(), 3u);
}

TEST(SecretFileFixtures, I5ToI7InvalidWindowSize) {
  for (const char* name :
       {"i5_window_size_101.txt", "i6_window_size_x.txt", "i7_window_size_17x.txt"}) {
    secret_file f = load(name);
    auto w = f.window_size();
    ASSERT_FALSE(w.ok()) << name;
    EXPECT_EQ(w.error().code, error_code::bad_option);
    EXPECT_EQ(w.error().message, "Invalid WINDOW_SIZE option in " + quoted(name));
    EXPECT_EQ(f.step_size().value(), 30u);
  }
}

TEST(SecretFileFixtures, I8AndI10InvalidRateLimit) {
  for (const char* name : {"i8_rate_limit_0_30.txt", "i10_rate_limit_101_30.txt"}) {
    auto r = load(name).rate_limit();
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, error_code::bad_rate_limit);
    EXPECT_EQ(r.error().message, "Invalid RATE_LIMIT option. Check " + quoted(name) + ".");
  }
}

TEST(SecretFileFixtures, I9RateLimitTrailingSpace) {
  auto r = load("i9_rate_limit_trailing_space.txt").rate_limit();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::bad_rate_list);
  EXPECT_EQ(r.error().message, "Invalid list of timestamps in RATE_LIMIT. Check " +
                                   quoted("i9_rate_limit_trailing_space.txt") + ".");
}

TEST(SecretFileFixtures, I11UnknownOptionKept) {
  secret_file f = load("i11_unknown_option.txt");
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.option("SOME_FUTURE_OPTION"), std::optional<std::string_view>("42"));
  f.set_option("TIME_SKEW", "2");
  EXPECT_EQ(bytes_of(f),
            std::string(kSecret) + "\n\" TIME_SKEW 2\n\" SOME_FUTURE_OPTION 42\n\" TOTP_AUTH\n");
}

TEST(SecretFileFixtures, I12AndI13TotpBySubstring) {
  secret_file x = load("i12_totp_authx.txt");
  EXPECT_EQ(x.mode(), otp_mode::totp);
  EXPECT_FALSE(x.option("TOTP_AUTH").has_value());  // not an option line for TOTP_AUTH
  EXPECT_EQ(load("i13_totp_auth_buried.txt").mode(), otp_mode::totp);
}

TEST(SecretFileFixtures, I14FirstLineWins) {
  EXPECT_EQ(load("i14_window_first_wins.txt").window_size().value(), 1u);
}

TEST(SecretFileFixtures, I15DisallowReuseAbc) {
  auto r = load("i15_disallow_reuse_abc.txt").disallow_reuse();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::bad_option);
  EXPECT_EQ(r.error().message,
            "Invalid DISALLOW_REUSE list in " + quoted("i15_disallow_reuse_abc.txt"));
}

TEST(SecretFileFixtures, D1LeadingZeroCodeEndsTheScan) {
  secret_file f = load("d1_leading_zero_scratch.txt");
  EXPECT_THAT(f.scratch_codes(), ElementsAre(87654321, 11223344));
  EXPECT_FALSE(f.remove_scratch_code(1234567));
  EXPECT_FALSE(f.remove_scratch_code(55555555));
  EXPECT_TRUE(f.remove_scratch_code(87654321));
  EXPECT_FALSE(f.remove_scratch_code(87654321));  // used once only
  EXPECT_EQ(bytes_of(f), std::string(kSecret) + "\n\" TOTP_AUTH\n11223344\n01234567\n55555555\n");
}

TEST(SecretFileFixtures, D1bScratchOnly) {
  secret_file f = load("d1b_scratch_only.txt");
  EXPECT_EQ(f.mode(), otp_mode::none);
  EXPECT_THAT(f.scratch_codes(), ElementsAre(87654321));
}

TEST(SecretFileFixtures, H7HotpCounterZeroIsTotp) {
  secret_file f = load("h7_hotp_counter_0_totp.txt");
  EXPECT_EQ(f.hotp_counter(), 0);
  EXPECT_EQ(f.mode(), otp_mode::totp);
}

TEST(SecretFileFixtures, H8HotpCounterZeroAloneIsNone) {
  secret_file f = load("h8_hotp_counter_0_only.txt");
  EXPECT_EQ(f.mode(), otp_mode::none);
  EXPECT_THAT(f.scratch_codes(), ElementsAre(12345678));
}

TEST(SecretFileFixtures, StateFull) {
  secret_file f = load("state_full.txt");
  EXPECT_EQ(f.mode(), otp_mode::totp);
  EXPECT_EQ(f.step_size().value(), 60u);
  EXPECT_EQ(f.window_size().value(), 6u);
  EXPECT_EQ(f.time_skew(), -5);
  auto rl = f.rate_limit();
  ASSERT_TRUE(rl.ok());
  EXPECT_EQ(rl.value()->attempts, 3u);
  EXPECT_EQ(rl.value()->interval, 30u);
  EXPECT_THAT(rl.value()->timestamps, ElementsAre(1700000002, 1700000003, 1700000004));
  EXPECT_THAT(*f.disallow_reuse().value(), ElementsAre(10002, 10003, 10004));
  auto skews = f.resetting_time_skew();
  ASSERT_EQ(skews.size(), 2u);
  EXPECT_EQ(skews[0].step, 56666666u);
  EXPECT_EQ(skews[0].skew, -5);
  EXPECT_EQ(skews[1].step, 56666667u);
  EXPECT_EQ(skews[1].skew, -5);
  auto grace = f.grace_entries();
  ASSERT_TRUE(grace[0].has_value());
  EXPECT_EQ(grace[0]->host, "10.0.0.1");
  EXPECT_EQ(grace[0]->timestamp, 1700000010u);
  ASSERT_TRUE(grace[1].has_value());
  EXPECT_EQ(grace[1]->host, "10.0.0.2");
  EXPECT_EQ(grace[1]->timestamp, 1700000020u);
  for (std::size_t i = 2; i < grace.size(); ++i) {
    EXPECT_FALSE(grace[i].has_value()) << i;
  }
  EXPECT_EQ(f.algorithm().value(), hash_algorithm::sha256);
  EXPECT_EQ(f.digits().value(), 8);
  EXPECT_THAT(f.scratch_codes(), ElementsAre(11111111, 22222222));
}

TEST(SecretFileFixtures, ExtensionsInvalid) {
  secret_file f = load("ext_invalid.txt");
  ASSERT_FALSE(f.algorithm().ok());
  EXPECT_EQ(f.algorithm().error().code, error_code::bad_option);
  EXPECT_EQ(f.algorithm().error().message,
            "Invalid ALGORITHM option in " + quoted("ext_invalid.txt"));
  ASSERT_FALSE(f.digits().ok());
  EXPECT_EQ(f.digits().error().message, "Invalid DIGITS option in " + quoted("ext_invalid.txt"));
  EXPECT_EQ(f.mode(), otp_mode::totp);
}

TEST(SecretFileFixtures, SecretOnlyWithoutNewline) {
  secret_file f = load("secret_only_no_newline.txt");
  ASSERT_TRUE(f.key().ok());
  EXPECT_EQ(std::string(f.key().value().view()), kKey);
  EXPECT_EQ(f.mode(), otp_mode::none);
  EXPECT_THAT(f.scratch_codes(), IsEmpty());
  // Our documented choice: end line 1 with a LF first (the reference glues the option onto
  // the secret, which then no longer decodes).
  f.set_option("TOTP_AUTH", "");
  EXPECT_EQ(bytes_of(f), std::string(kSecret) + "\n\" TOTP_AUTH \n");
  EXPECT_EQ(std::string(f.key().value().view()), kKey);
  EXPECT_EQ(f.mode(), otp_mode::totp);
}

TEST(SecretFileFixtures, UntouchedFilesRoundTripByteIdentical) {
  for (const auto& name : kFixtures) {
    if (name == "e6_empty.txt" || name == "e7_nul.txt") {
      continue;
    }
    const std::string original = read_fixture(name);
    secret_file f = make(original, name);
    // Every reader, and edits that find nothing to do, leave the bytes alone.
    (void)f.key();
    (void)f.mode();
    (void)f.step_size();
    (void)f.window_size();
    (void)f.rate_limit();
    (void)f.disallow_reuse();
    (void)f.resetting_time_skew();
    (void)f.grace_entries();
    (void)f.scratch_codes();
    EXPECT_FALSE(f.remove_scratch_code(99999999)) << name;
    EXPECT_FALSE(f.modified()) << name;
    EXPECT_EQ(bytes_of(f), original) << name;
  }
}

// ---------------------------------------------------------------------------------------
// option(): the read grammar of spec 1.3.

TEST(SecretFileOption, Grammar) {
  secret_file f = make(
      "S\n\" WINDOW_SIZEX 9\n\" WINDOW_SIZE \t 5  \r\n\" STEP_SIZE\t7\n\" EMPTY\n\" "
      "TAIL 1");
  EXPECT_EQ(f.option("WINDOW_SIZE"), std::optional<std::string_view>("5  "));
  EXPECT_EQ(f.option("WINDOW_SIZEX"), std::optional<std::string_view>("9"));
  EXPECT_EQ(f.option("STEP_SIZE"), std::optional<std::string_view>("7"));
  EXPECT_EQ(f.option("EMPTY"), std::optional<std::string_view>(""));
  EXPECT_EQ(f.option("TAIL"), std::optional<std::string_view>("1"));
  EXPECT_FALSE(f.option("WINDOW").has_value());  // NAME must end at a blank/CR/LF/end
  EXPECT_FALSE(f.option("MISSING").has_value());
  EXPECT_FALSE(f.option("S").has_value());  // needs `" ` in front
}

TEST(SecretFileOption, BlankLinesAndCrOnlySeparatorsAreLineBreaks) {
  secret_file f = make("S\r\r\n\n\" A 1\r\" B 2\n\n\n\" C 3");
  EXPECT_EQ(f.option("A"), std::optional<std::string_view>("1"));
  EXPECT_EQ(f.option("B"), std::optional<std::string_view>("2"));
  EXPECT_EQ(f.option("C"), std::optional<std::string_view>("3"));
}

TEST(SecretFileOption, IndentedLineIsNotAnOption) {
  secret_file f = make("S\n \" A 1\n\"  B 2\n");
  EXPECT_FALSE(f.option("A").has_value());
  EXPECT_FALSE(f.option("B").has_value());  // exactly one space after the quote
}

TEST(SecretFileOption, ScanStartsAtByteZero) {
  secret_file f = make("\" A 1\n\" A 2\n");
  EXPECT_EQ(f.option("A"), std::optional<std::string_view>("1"));
}

// ---------------------------------------------------------------------------------------
// set_option(): the rewrite rules of spec 1.3, expected bytes written out.

TEST(SecretFileSetOption, InsertsRightAfterLineOne) {
  secret_file f = make("S\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n12345678\n");
  EXPECT_FALSE(f.modified());
  f.set_option("TIME_SKEW", "-5");
  EXPECT_TRUE(f.modified());
  EXPECT_EQ(bytes_of(f), "S\n\" TIME_SKEW -5\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n12345678\n");
  f.set_option("LAST0", "10.0.0.1 1700000010");
  EXPECT_EQ(bytes_of(f),
            "S\n\" LAST0 10.0.0.1 1700000010\n\" TIME_SKEW -5\n\" RATE_LIMIT 3 30\n\" "
            "TOTP_AUTH\n12345678\n");
}

TEST(SecretFileSetOption, InsertGoesAfterTheBlankLinesUnderLineOne) {
  secret_file f = make("S\r\n\n\r\n\" TOTP_AUTH\n");
  f.set_option("TIME_SKEW", "1");
  EXPECT_EQ(bytes_of(f), "S\r\n\n\r\n\" TIME_SKEW 1\n\" TOTP_AUTH\n");
}

TEST(SecretFileSetOption, LineOneEndingInLoneCrGetsALf) {
  secret_file f = make("S\r");
  f.set_option("TIME_SKEW", "0");
  EXPECT_EQ(bytes_of(f), "S\r\n\" TIME_SKEW 0\n");
}

TEST(SecretFileSetOption, ReplacesInPlaceKeepingCrlfElsewhere) {
  secret_file f = make("S\r\n\" RATE_LIMIT 3 30 1\r\n\" DISALLOW_REUSE 1\r\n\" TOTP_AUTH\r\n");
  f.set_option("RATE_LIMIT", "3 30 1 2");
  EXPECT_EQ(bytes_of(f), "S\r\n\" RATE_LIMIT 3 30 1 2\n\" DISALLOW_REUSE 1\r\n\" TOTP_AUTH\r\n");
}

TEST(SecretFileSetOption, ConsumesBlankLinesAfterReplacedLine) {
  secret_file f = make("S\n\" HOTP_COUNTER 1\n\n\r\n\n12345678\n");
  f.set_option("HOTP_COUNTER", "2");
  EXPECT_EQ(bytes_of(f), "S\n\" HOTP_COUNTER 2\n12345678\n");
}

TEST(SecretFileSetOption, ReplacedLastLineWithoutNewlineGetsLf) {
  secret_file f = make("S\n\" TOTP_AUTH\n\" DISALLOW_REUSE 5");
  f.set_option("DISALLOW_REUSE", "5 6");
  EXPECT_EQ(bytes_of(f), "S\n\" TOTP_AUTH\n\" DISALLOW_REUSE 5 6\n");
}

TEST(SecretFileSetOption, RemovesDuplicateKeys) {
  secret_file f = make(
      "S\n\" WINDOW_SIZE 1\n\" TOTP_AUTH\n\" WINDOW_SIZE 17\r\n\r\n\" WINDOW_SIZEX 2\n\" "
      "WINDOW_SIZE\n12345678\n\" WINDOW_SIZE 4");
  f.set_option("WINDOW_SIZE", "5");
  EXPECT_EQ(bytes_of(f), "S\n\" WINDOW_SIZE 5\n\" TOTP_AUTH\n\" WINDOW_SIZEX 2\n12345678\n");
}

TEST(SecretFileSetOption, AdjacentDuplicatesAllRemoved) {
  secret_file f = make("S\n\" A 1\n\" A 2\n\" A 3\n\" B\n");
  f.set_option("A", "9");
  EXPECT_EQ(bytes_of(f), "S\n\" A 9\n\" B\n");
}

TEST(SecretFileSetOption, EmptyValueKeepsTrailingSpace) {
  secret_file f =
      make("S\n\" RESETTING_TIME_SKEW 56666666-5 56666667-5\n\" TIME_SKEW 0\n\" TOTP_AUTH\n");
  f.set_option("TIME_SKEW", "-5");
  f.set_option("RESETTING_TIME_SKEW", "");
  EXPECT_EQ(bytes_of(f), "S\n\" RESETTING_TIME_SKEW \n\" TIME_SKEW -5\n\" TOTP_AUTH\n");
  EXPECT_THAT(f.resetting_time_skew(), IsEmpty());
}

TEST(SecretFileSetOption, ValueIsCutAtLineBreak) {
  secret_file f = make("S\n\" TOTP_AUTH\n");
  f.set_option("LAST0", "host 1\n12345678");
  EXPECT_EQ(bytes_of(f), "S\n\" LAST0 host 1\n\" TOTP_AUTH\n");
  EXPECT_THAT(f.scratch_codes(), IsEmpty());
}

TEST(SecretFileSetOption, SettingSameValueStillMarksModified) {
  // The reference marks the file changed on every set (e.g. the RATE_LIMIT rewrite).
  secret_file f = make("S\n\" RATE_LIMIT 3 30\n");
  f.set_option("RATE_LIMIT", "3 30");
  EXPECT_TRUE(f.modified());
  EXPECT_EQ(bytes_of(f), "S\n\" RATE_LIMIT 3 30\n");
}

// ---------------------------------------------------------------------------------------
// Typed accessors.

secret_file with_option(const std::string& line) {
  return make("S\n" + line + "\n\" TOTP_AUTH\n", "/p");
}

TEST(SecretFileTyped, StepSize) {
  EXPECT_EQ(make("S\n").step_size().value(), 30u);
  struct row {
    const char* value;
    std::optional<std::uint32_t> expected;
  };
  for (const row& r : std::initializer_list<row>{
           {"1", 1},
           {"30", 30},
           {"60", 60},
           {"+45", 45},
           {"30 ", 30},
           {"30\t", 30},
           {"30 x", 30},  // the reference checks only the byte after the digits
           {"0", std::nullopt},
           {"61", std::nullopt},
           {"-30", std::nullopt},
           {"30x", std::nullopt},
           {"x", std::nullopt},
           {"", std::nullopt},
           {"4294967326", std::nullopt},
           {"99999999999999999999999", std::nullopt}}) {
    auto s = with_option(std::string("\" STEP_SIZE ") + r.value).step_size();
    if (r.expected) {
      ASSERT_TRUE(s.ok()) << r.value;
      EXPECT_EQ(s.value(), *r.expected) << r.value;
    } else {
      ASSERT_FALSE(s.ok()) << r.value;
      EXPECT_EQ(s.error().code, error_code::bad_option);
      EXPECT_EQ(s.error().message, "Invalid STEP_SIZE option in \"/p\"");
    }
  }
}

TEST(SecretFileTyped, WindowSize) {
  EXPECT_EQ(make("S\n").window_size().value(), 3u);
  EXPECT_EQ(with_option("\" WINDOW_SIZE 1").window_size().value(), 1u);
  EXPECT_EQ(with_option("\" WINDOW_SIZE 100").window_size().value(), 100u);
  EXPECT_EQ(with_option("\" WINDOW_SIZE 17\r").window_size().value(), 17u);
  for (const char* bad : {"0", "101", "x", "17x", "", "-1"}) {
    auto w = with_option(std::string("\" WINDOW_SIZE ") + bad).window_size();
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.error().message, "Invalid WINDOW_SIZE option in \"/p\"");
  }
}

TEST(SecretFileTyped, HotpCounterAndModeUseStrtol) {
  EXPECT_EQ(with_option("\" HOTP_COUNTER 1").mode(), otp_mode::hotp);
  EXPECT_EQ(with_option("\" HOTP_COUNTER 12abc").hotp_counter(), 12);
  EXPECT_EQ(with_option("\" HOTP_COUNTER +7").hotp_counter(), 7);
  EXPECT_EQ(with_option("\" HOTP_COUNTER abc").hotp_counter(), 0);
  EXPECT_EQ(with_option("\" HOTP_COUNTER abc").mode(), otp_mode::totp);
  EXPECT_EQ(with_option("\" HOTP_COUNTER -3").hotp_counter(), -3);
  EXPECT_EQ(with_option("\" HOTP_COUNTER -3").mode(), otp_mode::totp);
  EXPECT_EQ(with_option("\" HOTP_COUNTER 99999999999999999999").hotp_counter(),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(make("S\n\" HOTP_COUNTER 0\n").mode(), otp_mode::none);
  EXPECT_EQ(make("S\n").hotp_counter(), 0);
  // HOTP wins over TOTP_AUTH.
  EXPECT_EQ(make("S\n\" TOTP_AUTH\n\" HOTP_COUNTER 4\n").mode(), otp_mode::hotp);
  // The substring test needs the quote and the space.
  EXPECT_EQ(make("S\nTOTP_AUTH\n").mode(), otp_mode::none);
  EXPECT_EQ(make("S\n\"TOTP_AUTH\n").mode(), otp_mode::none);
}

TEST(SecretFileTyped, TimeSkew) {
  EXPECT_EQ(make("S\n").time_skew(), 0);
  EXPECT_EQ(with_option("\" TIME_SKEW -5").time_skew(), -5);
  EXPECT_EQ(with_option("\" TIME_SKEW 2").time_skew(), 2);
  EXPECT_EQ(with_option("\" TIME_SKEW 3junk").time_skew(), 3);
  EXPECT_EQ(with_option("\" TIME_SKEW junk").time_skew(), 0);
}

TEST(SecretFileTyped, RateLimit) {
  EXPECT_FALSE(make("S\n").rate_limit().value().has_value());
  auto ok = with_option("\" RATE_LIMIT 3\t30  1700000002\t1700000003").rate_limit();
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()->attempts, 3u);
  EXPECT_EQ(ok.value()->interval, 30u);
  EXPECT_THAT(ok.value()->timestamps, ElementsAre(1700000002, 1700000003));
  EXPECT_EQ(with_option("\" RATE_LIMIT 100 3600").rate_limit().value()->attempts, 100u);
  EXPECT_EQ(with_option("\" RATE_LIMIT 1 1").rate_limit().value()->interval, 1u);
  for (const char* bad :
       {"0 30", "101 30", "3 0", "3 3601", "3", "3x30", "x 30", "3 x", "", "-3 30", "3 -30"}) {
    auto r = with_option(std::string("\" RATE_LIMIT ") + bad).rate_limit();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::bad_rate_limit) << bad;
    EXPECT_EQ(r.error().message, "Invalid RATE_LIMIT option. Check \"/p\".");
  }
  for (const char* bad :
       {"3 30 ", "3 30x", "3 30 x", "3 30 5 ", "3 30 5x", "3 30 -5", "3 30 99999999999999999999"}) {
    auto r = with_option(std::string("\" RATE_LIMIT ") + bad).rate_limit();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::bad_rate_list) << bad;
    EXPECT_EQ(r.error().message, "Invalid list of timestamps in RATE_LIMIT. Check \"/p\".");
  }
}

TEST(SecretFileTyped, DisallowReuse) {
  EXPECT_FALSE(make("S\n").disallow_reuse().value().has_value());
  EXPECT_THAT(*with_option("\" DISALLOW_REUSE").disallow_reuse().value(), IsEmpty());
  EXPECT_THAT(*with_option("\" DISALLOW_REUSE 56666666 \t56666667  ").disallow_reuse().value(),
              ElementsAre(56666666, 56666667));
  for (const char* bad : {"abc", "5 x", "5x", "5 -6", "5,6"}) {
    auto r = with_option(std::string("\" DISALLOW_REUSE ") + bad).disallow_reuse();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::bad_option);
    EXPECT_EQ(r.error().message, "Invalid DISALLOW_REUSE list in \"/p\"");
  }
}

TEST(SecretFileTyped, ResettingTimeSkewStopsAtFirstMalformedToken) {
  EXPECT_THAT(make("S\n").resetting_time_skew(), IsEmpty());
  auto all = with_option("\" RESETTING_TIME_SKEW 59848142-2 59848142+2 10+0").resetting_time_skew();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].step, 59848142u);
  EXPECT_EQ(all[0].skew, -2);
  EXPECT_EQ(all[1].skew, 2);
  EXPECT_EQ(all[2].step, 10u);
  EXPECT_EQ(all[2].skew, 0);
  auto some = with_option("\" RESETTING_TIME_SKEW 1+2 bad 3+4").resetting_time_skew();
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].step, 1u);
  EXPECT_EQ(some[0].skew, 2);
  for (const char* bad : {"5", "5+", "5*3", "+3", "5+3x", "x"}) {
    EXPECT_THAT(with_option(std::string("\" RESETTING_TIME_SKEW ") + bad).resetting_time_skew(),
                IsEmpty())
        << bad;
  }
}

TEST(SecretFileTyped, GraceEntries) {
  secret_file f = make(
      "S\n\" LAST3 fe80::1%eth0 1700000000\n\" LAST5 bad/host 5\n\" LAST6 host\n\" LAST7 "
      "host 12x\n\" LAST8 host  42  \n\" LAST9 " +
      std::string(256, 'h') + " 1\n\" LAST1 " + std::string(255, 'h') + " 1\n");
  auto g = f.grace_entries();
  ASSERT_TRUE(g[3].has_value());
  EXPECT_EQ(g[3]->host, "fe80::1%eth0");
  EXPECT_EQ(g[3]->timestamp, 1700000000u);
  EXPECT_FALSE(g[5].has_value());
  EXPECT_FALSE(g[6].has_value());
  EXPECT_FALSE(g[7].has_value());
  ASSERT_TRUE(g[8].has_value());
  EXPECT_EQ(g[8]->timestamp, 42u);
  EXPECT_FALSE(g[9].has_value());
  ASSERT_TRUE(g[1].has_value());
  EXPECT_FALSE(g[0].has_value());
}

TEST(SecretFileTyped, AlgorithmAndDigits) {
  EXPECT_EQ(make("S\n").algorithm().value(), hash_algorithm::sha1);
  EXPECT_EQ(make("S\n").digits().value(), 6);
  EXPECT_EQ(with_option("\" ALGORITHM SHA512").algorithm().value(), hash_algorithm::sha512);
  EXPECT_EQ(with_option("\" ALGORITHM sha1 ").algorithm().value(), hash_algorithm::sha1);
  EXPECT_FALSE(with_option("\" ALGORITHM").algorithm().ok());
  EXPECT_FALSE(with_option("\" ALGORITHM SHA3").algorithm().ok());
  EXPECT_EQ(with_option("\" DIGITS 7").digits().value(), 7);
  EXPECT_FALSE(with_option("\" DIGITS 5").digits().ok());
  EXPECT_FALSE(with_option("\" DIGITS 66").digits().ok());
  EXPECT_FALSE(with_option("\" DIGITS").digits().ok());
}

// ---------------------------------------------------------------------------------------
// Scratch codes (spec 1.5).

TEST(SecretFileScratch, ScanRules) {
  EXPECT_THAT(make("S\n\n\r\n\" A\n12345678\r\n\" B\n\n99999999\n10000000").scratch_codes(),
              ElementsAre(12345678, 99999999, 10000000));
  EXPECT_THAT(make("S\n+12345678\n\t23456789\n").scratch_codes(), ElementsAre(12345678, 23456789));
  EXPECT_THAT(make("S\n12345678 \n23456789\n").scratch_codes(), IsEmpty());  // trailing blank
  EXPECT_THAT(make("S\n9999999\n23456789\n").scratch_codes(), IsEmpty());    // 7 digits
  EXPECT_THAT(make("S\n100000000\n23456789\n").scratch_codes(), IsEmpty());  // 9 digits
  EXPECT_THAT(make("S\n-12345678\n").scratch_codes(), IsEmpty());
  EXPECT_THAT(make("S\n \" A\n12345678\n").scratch_codes(), IsEmpty());  // indented quote
  EXPECT_THAT(make("S").scratch_codes(), IsEmpty());
  EXPECT_THAT(make("12345678\n").scratch_codes(), IsEmpty());  // line 1 is the secret
  // strtoul semantics kept on purpose: leading zeros before 8 significant digits.
  EXPECT_THAT(make("S\n012345678\n").scratch_codes(), ElementsAre(12345678));
  // Line 1 ends at the first LF only; a CR inside it does not start a new line.
  EXPECT_THAT(make("S\r12345678\n23456789\n").scratch_codes(), ElementsAre(23456789));
}

TEST(SecretFileScratch, RemoveFirstMiddleLast) {
  const std::string head = "S\n\" TOTP_AUTH\n";
  {
    secret_file f = make(head + "11111111\n22222222\n33333333\n");
    EXPECT_TRUE(f.remove_scratch_code(11111111));
    EXPECT_EQ(bytes_of(f), head + "22222222\n33333333\n");
    EXPECT_TRUE(f.modified());
  }
  {
    secret_file f = make(head + "11111111\n22222222\n33333333\n");
    EXPECT_TRUE(f.remove_scratch_code(22222222));
    EXPECT_EQ(bytes_of(f), head + "11111111\n33333333\n");
  }
  {
    secret_file f = make(head + "11111111\n22222222\n33333333\n");
    EXPECT_TRUE(f.remove_scratch_code(33333333));
    EXPECT_EQ(bytes_of(f), head + "11111111\n22222222\n");
  }
  {
    secret_file f = make(head + "11111111\n22222222\n33333333");  // no trailing newline
    EXPECT_TRUE(f.remove_scratch_code(33333333));
    EXPECT_EQ(bytes_of(f), head + "11111111\n22222222\n");
  }
  {
    secret_file f = make(head + "11111111\n22222222\n33333333");
    EXPECT_TRUE(f.remove_scratch_code(22222222));
    EXPECT_EQ(bytes_of(f), head + "11111111\n33333333");
  }
}

TEST(SecretFileScratch, RemoveCrlfAndBlankRuns) {
  secret_file f = make("S\r\n\" TOTP_AUTH\r\n11111111\r\n\r\n22222222\r\n");
  EXPECT_TRUE(f.remove_scratch_code(11111111));
  EXPECT_EQ(bytes_of(f), "S\r\n\" TOTP_AUTH\r\n22222222\r\n");
  EXPECT_TRUE(f.remove_scratch_code(22222222));
  EXPECT_EQ(bytes_of(f), "S\r\n\" TOTP_AUTH\r\n");
}

TEST(SecretFileScratch, RemoveTakesIndentationAndBlankLinePrefix) {
  // strtoul skips white space across the LF, so the blank-with-spaces line goes too.
  secret_file f = make("S\n   \n12345678\n\" TOTP_AUTH\n");
  EXPECT_THAT(f.scratch_codes(), ElementsAre(12345678));
  EXPECT_TRUE(f.remove_scratch_code(12345678));
  EXPECT_EQ(bytes_of(f), "S\n\" TOTP_AUTH\n");
}

TEST(SecretFileScratch, RemoveUnknownCodeChangesNothing) {
  const std::string text = "S\n11111111\njunk\n22222222\n";
  secret_file f = make(text);
  EXPECT_FALSE(f.remove_scratch_code(22222222));  // behind the junk line
  EXPECT_FALSE(f.remove_scratch_code(12345678));
  EXPECT_FALSE(f.modified());
  EXPECT_EQ(bytes_of(f), text);
}

}  // namespace
}  // namespace totp
