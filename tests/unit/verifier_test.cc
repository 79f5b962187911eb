// verifier_test.cc: google-authenticator's verification policy (spec ga-compat 3.4-3.10) at a
// fixed `now`. Every expected code comes from `oathtool` run as a separate process, so a bug
// shared by our generator and our verifier cannot hide; file contents are compared byte for
// byte because the files must stay interchangeable with pam_google_authenticator.so.
#include "totp/verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace totp {
namespace {

constexpr const char* kSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
constexpr const char* kUnitTestSecret = "2SH3V3GDW7ZNMGYE";  // upstream unit-test secret
constexpr const char* kPath = "/home/u/.google_authenticator";
constexpr std::uint64_t kNow = 1700000010;          // step 56666667 at 30 s
constexpr std::uint64_t kStepT = 56666666ull * 30;  // 1699999980, the spec's B1/skew base

// Runs oathtool and returns the code it printed; memoised because many cases share codes.
std::uint32_t oathtool(const std::string& args) {
  static std::map<std::string, std::uint32_t> cache;
  if (auto it = cache.find(args); it != cache.end())
    return it->second;
  const std::string command = "oathtool " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return 0;
  }
  char line[64] = {};
  const bool got = std::fgets(line, sizeof line, pipe) != nullptr;
  const int status = pclose(pipe);
  if (!got || status != 0) {
    ADD_FAILURE() << "oathtool failed: " << command;
    return 0;
  }
  const auto value = static_cast<std::uint32_t>(std::stoul(line));
  cache.emplace(args, value);
  return value;
}

// TOTP code a client with clock `epoch` shows (oathtool --totp).
std::uint32_t totp_code(std::uint64_t epoch, const char* secret = kSecret, int step = 30,
                        const std::string& mode = "") {
  return oathtool("--totp" + mode + " -s " + std::to_string(step) + " -b " + secret + " -N @" +
                  std::to_string(epoch));
}
std::uint32_t hotp_code(std::uint64_t counter, const char* secret = kSecret) {
  return oathtool("--hotp -b " + std::string(secret) + " -c " + std::to_string(counter));
}

secret_file make_file(const std::string& text) {
  auto parsed = secret_file::parse(secret_bytes::from_string(text), kPath);
  EXPECT_TRUE(parsed.ok()) << text;
  return std::move(parsed).value();
}
std::string text_of(const secret_file& file) {
  return std::string(file.bytes().view());
}
std::string with_secret(const std::string& rest, const char* secret = kSecret) {
  return std::string(secret) + "\n" + rest;
}

// One authentication attempt with a single candidate, as the module runs it.
check_result attempt(secret_file& file, std::uint64_t now, std::uint32_t code, int length = 6,
                     verify_options options = {}) {
  auto session = verification_session::begin(file, now, options);
  EXPECT_TRUE(session.ok());
  if (!session.ok())
    return {};
  check_result r = session->try_code(file, code, length);
  session->finish(file);
  return r;
}

bool accepted(const check_result& r) {
  return r.outcome == check_outcome::accepted;
}

// --- TOTP window (spec 3.6, section 4 A8-A11, I1-I3, I14) ---

struct window_case {
  const char* name;
  const char* options;  // option lines after the secret
  int step;             // period the client uses
  std::int64_t offset;  // client clock minus server clock, seconds
  bool accept;
};

class totp_window : public ::testing::TestWithParam<window_case> {};

TEST_P(totp_window, accepts_exactly_the_configured_offsets) {
  const window_case& c = GetParam();
  secret_file file = make_file(with_secret(std::string("\" TOTP_AUTH\n") + c.options));
  const std::uint32_t code = totp_code(kNow + c.offset, kSecret, c.step);
  // noskewadj keeps a rejection free of resync side effects; the window alone decides.
  const check_result r = attempt(file, kNow, code, 6, {.skew_adjust = false});
  EXPECT_EQ(accepted(r), c.accept) << c.name;
  if (c.accept) {
    EXPECT_EQ(r.method, accept_method::totp);
    EXPECT_FALSE(file.modified()) << "a plain TOTP success must not rewrite the file (A1)";
  }
}

INSTANTIATE_TEST_SUITE_P(
    spec, totp_window,
    ::testing::Values(
        window_case{"A1 current", "", 30, 0, true}, window_case{"A8 -30s", "", 30, -30, true},
        window_case{"A9 +30s", "", 30, 30, true}, window_case{"A10 -60s", "", 30, -60, false},
        window_case{"A11 +60s", "", 30, 60, false},
        window_case{"I1 60s step -60", "\" STEP_SIZE 60\n", 60, -60, true},
        window_case{"I1 60s step 0", "\" STEP_SIZE 60\n", 60, 0, true},
        window_case{"I1 60s step +60", "\" STEP_SIZE 60\n", 60, 60, true},
        window_case{"I1 60s step -120", "\" STEP_SIZE 60\n", 60, -120, false},
        window_case{"I1 60s step +120", "\" STEP_SIZE 60\n", 60, 120, false},
        window_case{"60s file, 30s client", "\" STEP_SIZE 60\n", 30, 0, false},
        window_case{"I2 window 6 -3", "\" WINDOW_SIZE 6\n", 30, -90, false},
        window_case{"I2 window 6 -2", "\" WINDOW_SIZE 6\n", 30, -60, true},
        window_case{"I2 window 6 +3", "\" WINDOW_SIZE 6\n", 30, 90, true},
        window_case{"I2 window 6 +4", "\" WINDOW_SIZE 6\n", 30, 120, false},
        window_case{"I3 window 1 -1", "\" WINDOW_SIZE 1\n", 30, -30, false},
        window_case{"I3 window 1 0", "\" WINDOW_SIZE 1\n", 30, 0, true},
        window_case{"I3 window 1 +1", "\" WINDOW_SIZE 1\n", 30, 30, false},
        window_case{"window 17 -8", "\" WINDOW_SIZE 17\n", 30, -240, true},
        window_case{"window 17 -9", "\" WINDOW_SIZE 17\n", 30, -270, false},
        window_case{"window 17 +8", "\" WINDOW_SIZE 17\n", 30, 240, true},
        window_case{"window 17 +9", "\" WINDOW_SIZE 17\n", 30, 270, false},
        window_case{"I14 first line wins +2", "\" WINDOW_SIZE 1\n\" WINDOW_SIZE 17\n", 30, 60,
                    false},
        window_case{"I14 first line wins 0", "\" WINDOW_SIZE 1\n\" WINDOW_SIZE 17\n", 30, 0, true},
        window_case{"TIME_SKEW 2 at 0", "\" TIME_SKEW 2\n", 30, 0, false},
        window_case{"TIME_SKEW 2 at +1", "\" TIME_SKEW 2\n", 30, 30, true},
        window_case{"TIME_SKEW 2 at +2", "\" TIME_SKEW 2\n", 30, 60, true},
        window_case{"TIME_SKEW 2 at +3", "\" TIME_SKEW 2\n", 30, 90, true},
        window_case{"TIME_SKEW 2 at +4", "\" TIME_SKEW 2\n", 30, 120, false},
        window_case{"TIME_SKEW -3 at -3", "\" TIME_SKEW -3\n", 30, -90, true}));

TEST(totp_window_upstream, step_size_60_and_window_6_sequences) {
  // Upstream scenario 6/7 (spec 7): server at step 10000, codes of neighbouring steps. For
  // WINDOW_SIZE 6 the rows follow the verified offsets -2..+3 of spec 3.6/I2 (spec 7 lists
  // 9996..10003, which does not fit that formula when the clock sits at step 10000).
  struct row {
    const char* options;
    int step;
    std::uint64_t code_step;
    bool accept;
  };
  const row rows[] = {
      {"\" STEP_SIZE 60\n", 60, 9998, false},
      {"\" STEP_SIZE 60\n", 60, 9999, true},
      {"\" STEP_SIZE 60\n", 60, 10001, true},
      {"\" STEP_SIZE 60\n", 60, 10002, false},
      {"\" STEP_SIZE 60\n", 60, 10000, true},
      {"", 30, 9998, false},
      {"", 30, 9999, true},
      {"", 30, 10001, true},
      {"", 30, 10002, false},
      {"\" WINDOW_SIZE 6\n", 30, 9997, false},
      {"\" WINDOW_SIZE 6\n", 30, 9998, true},
      {"\" WINDOW_SIZE 6\n", 30, 10003, true},
      {"\" WINDOW_SIZE 6\n", 30, 10004, false},
      {"\" WINDOW_SIZE 6\n", 30, 10000, true},
  };
  for (const row& r : rows) {
    secret_file file =
        make_file(with_secret(std::string("\" TOTP_AUTH\n") + r.options, kUnitTestSecret));
    const std::uint32_t code = totp_code(r.code_step * r.step, kUnitTestSecret, r.step);
    EXPECT_EQ(accepted(attempt(file, 10000ull * r.step, code, 6, {.skew_adjust = false})), r.accept)
        << r.options << " step " << r.code_step;
  }
  EXPECT_EQ(totp_code(300000, kUnitTestSecret), 50548u);  // the unit test's `050548`
}

TEST(totp, requires_totp_auth_and_rejects_wrong_codes) {
  const std::uint32_t code = totp_code(kNow);
  secret_file no_mode = make_file(with_secret(""));
  EXPECT_EQ(attempt(no_mode, kNow, code).outcome, check_outcome::rejected);  // D1b
  EXPECT_FALSE(no_mode.modified());

  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  EXPECT_EQ(attempt(file, kNow, (code + 1) % 1000000, 6, {.skew_adjust = false}).outcome,
            check_outcome::rejected);
  // The raw-substring rule (I12/I13) comes from secret_file; a buried TOTP_AUTH enables TOTP.
  secret_file buried = make_file(with_secret("\" FOO_BAR \" TOTP_AUTH\n"));
  EXPECT_TRUE(accepted(attempt(buried, kNow, code)));
  // An 8-digit candidate skips TOTP (value >= 10^6) even though its last digits match.
  EXPECT_EQ(attempt(file, kNow, 10000000 + code, 8).outcome, check_outcome::rejected);
}

TEST(totp, invalid_step_or_window_is_a_config_error) {
  const std::uint32_t code = totp_code(kNow);
  for (const char* option : {"\" STEP_SIZE 61\n", "\" STEP_SIZE 0\n", "\" WINDOW_SIZE 101\n",
                             "\" WINDOW_SIZE x\n", "\" WINDOW_SIZE 17x\n"}) {
    secret_file file = make_file(with_secret(std::string("\" TOTP_AUTH\n") + option));
    const check_result r = attempt(file, kNow, code);
    EXPECT_EQ(r.outcome, check_outcome::config_error) << option;
    ASSERT_TRUE(r.problem.has_value()) << option;
    const std::string expected =
        std::string(option).find("STEP") != std::string::npos
            ? "Invalid STEP_SIZE option in \"" + std::string(kPath) + "\""
            : "Invalid WINDOW_SIZE option in \"" + std::string(kPath) + "\"";
    EXPECT_EQ(r.problem->message, expected);
    EXPECT_FALSE(file.modified());
  }
}

// --- DISALLOW_REUSE (3.7) ---

TEST(disallow_reuse, b1_sequence_with_exact_lists) {
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" DISALLOW_REUSE\n"));
  const auto list = [&] { return std::string(file.option("DISALLOW_REUSE").value_or("<none>")); };
  const std::string reuse_message =
      "Trying to reuse a previously used time-based code (\"" + std::string(kPath) +
      "\"). Retry again in 30 seconds. Warning! This might mean, you are currently subject to a "
      "man-in-the-middle attack.";

  ASSERT_TRUE(accepted(attempt(file, kStepT, totp_code(kStepT))));
  EXPECT_EQ(text_of(file), secret + "\n\" TOTP_AUTH\n\" DISALLOW_REUSE 56666666\n");

  check_result again = attempt(file, kStepT, totp_code(kStepT));
  EXPECT_EQ(again.outcome, check_outcome::reused);
  ASSERT_TRUE(again.problem.has_value());
  EXPECT_EQ(again.problem->message, reuse_message);
  EXPECT_EQ(list(), "56666666");

  EXPECT_EQ(attempt(file, kStepT + 30, totp_code(kStepT)).outcome, check_outcome::reused);
  EXPECT_EQ(list(), "56666666");

  ASSERT_TRUE(accepted(attempt(file, kStepT + 30, totp_code(kStepT + 30))));
  EXPECT_EQ(list(), "56666666 56666667");

  ASSERT_TRUE(accepted(attempt(file, kStepT + 30, totp_code(kStepT + 60))));  // future code
  EXPECT_EQ(list(), "56666666 56666667 56666668");

  ASSERT_TRUE(accepted(attempt(file, kStepT + 300, totp_code(kStepT + 300))));
  EXPECT_EQ(list(), "56666676");
  EXPECT_EQ(text_of(file), secret + "\n\" TOTP_AUTH\n\" DISALLOW_REUSE 56666676\n");
}

TEST(disallow_reuse, upstream_pruning_with_window_6) {
  secret_file file = make_file(
      with_secret("\" TOTP_AUTH\n\" WINDOW_SIZE 6\n\" DISALLOW_REUSE\n", kUnitTestSecret));
  for (std::uint64_t step = 10000; step <= 10007; ++step) {
    ASSERT_TRUE(accepted(attempt(file, step * 30, totp_code(step * 30, kUnitTestSecret)))) << step;
    if (step == 10000) {
      EXPECT_EQ(attempt(file, step * 30, totp_code(step * 30, kUnitTestSecret)).outcome,
                check_outcome::reused);
    }
  }
  EXPECT_EQ(file.option("DISALLOW_REUSE").value_or(""), "10002 10003 10004 10005 10006 10007");
}

TEST(disallow_reuse, crlf_file_keeps_other_lines) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\r\n\" DISALLOW_REUSE\r\n12345678\r\n"));
  ASSERT_TRUE(accepted(attempt(file, kStepT, totp_code(kStepT))));
  EXPECT_EQ(text_of(file),
            std::string(kSecret) + "\n\" TOTP_AUTH\r\n\" DISALLOW_REUSE 56666666\n12345678\r\n");
}

TEST(disallow_reuse, malformed_list_is_a_config_error) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" DISALLOW_REUSE abc\n"));  // I15
  const check_result r = attempt(file, kNow, totp_code(kNow));
  EXPECT_EQ(r.outcome, check_outcome::config_error);
  ASSERT_TRUE(r.problem.has_value());
  auto expected = file.disallow_reuse();
  ASSERT_FALSE(expected.ok());
  EXPECT_EQ(r.problem->message, expected.error().message);
  EXPECT_FALSE(r.problem->message.empty());
  EXPECT_FALSE(file.modified());
}

// --- time-skew resync (3.8) ---

TEST(skew, client_150s_behind_resyncs_on_third_attempt) {
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));

  check_result r = attempt(file, kStepT, totp_code(kStepT - 150));
  EXPECT_EQ(r.outcome, check_outcome::rejected);
  EXPECT_TRUE(r.skew_candidate_found);
  EXPECT_EQ(text_of(file), secret + "\n\" RESETTING_TIME_SKEW 56666666-5\n\" TOTP_AUTH\n");

  // The same code again is no new evidence: rejected, nothing written.
  secret_file repeat = make_file(text_of(file));
  r = attempt(repeat, kStepT, totp_code(kStepT - 150));
  EXPECT_EQ(r.outcome, check_outcome::rejected);
  EXPECT_TRUE(r.skew_candidate_found);
  EXPECT_FALSE(repeat.modified());

  r = attempt(file, kStepT + 30, totp_code(kStepT + 30 - 150));
  EXPECT_EQ(r.outcome, check_outcome::rejected);
  EXPECT_EQ(text_of(file),
            secret + "\n\" RESETTING_TIME_SKEW 56666666-5 56666667-5\n\" TOTP_AUTH\n");

  r = attempt(file, kStepT + 60, totp_code(kStepT + 60 - 150));
  EXPECT_EQ(r.outcome, check_outcome::accepted);
  EXPECT_EQ(r.method, accept_method::totp_resync);
  EXPECT_TRUE(r.skew_candidate_found);
  EXPECT_EQ(text_of(file), secret + "\n\" TIME_SKEW -5\n\" RESETTING_TIME_SKEW \n\" TOTP_AUTH\n");

  // Later codes from the skewed client are accepted normally, without rewriting the file.
  secret_file later = make_file(text_of(file));
  r = attempt(later, kStepT + 90, totp_code(kStepT + 90 - 150));
  EXPECT_EQ(r.method, accept_method::totp);
  EXPECT_FALSE(later.modified());
}

TEST(skew, upstream_1000_steps_behind_err_err_ok_ok) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n", kUnitTestSecret));
  const check_outcome expected[] = {check_outcome::rejected, check_outcome::rejected,
                                    check_outcome::accepted, check_outcome::accepted};
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t now = (10000ull + i) * 30;
    EXPECT_EQ(attempt(file, now, totp_code(now - 1000 * 30, kUnitTestSecret)).outcome, expected[i])
        << "attempt " << i;
  }
  EXPECT_EQ(file.time_skew(), -1000);
  EXPECT_EQ(file.option("RESETTING_TIME_SKEW").value_or("<none>"), "");
}

TEST(skew, noskewadj_rejects_without_search) {
  const std::string original = with_secret("\" TOTP_AUTH\n", kUnitTestSecret);
  const std::uint32_t code = totp_code((10000 - 10) * 30, kUnitTestSecret);
  secret_file off = make_file(original);
  const check_result r = attempt(off, 10000 * 30, code, 6, {.skew_adjust = false});
  EXPECT_EQ(r.outcome, check_outcome::rejected);
  EXPECT_FALSE(r.skew_candidate_found);
  EXPECT_FALSE(off.modified());

  secret_file on = make_file(original);  // the same code with the search on is recorded
  EXPECT_TRUE(attempt(on, 10000 * 30, code).skew_candidate_found);
  EXPECT_EQ(on.option("RESETTING_TIME_SKEW").value_or(""), "10000-10");
}

TEST(skew, a10_a11_record_both_directions) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  EXPECT_EQ(attempt(file, kNow, totp_code(kNow - 60)).outcome, check_outcome::rejected);
  EXPECT_EQ(attempt(file, kNow, totp_code(kNow + 60)).outcome, check_outcome::rejected);
  EXPECT_EQ(file.option("RESETTING_TIME_SKEW").value_or(""), "56666667-2 56666667+2");
}

TEST(skew, inconsistent_evidence_is_kept_not_applied) {
  struct row {
    const char* stored;
    std::int64_t skew_steps;  // client offset in steps at server step 56666666
    const char* list_after;   // nullptr: accepted with TIME_SKEW `avg`
    int avg;
  };
  const row rows[] = {
      {"56666660-5 56666663-5", -5, "56666660-5 56666663-5 56666666-5", 0},  // gap of 3
      {"56666664-7 56666665-5", -5, "56666664-7 56666665-5 56666666-5", 0},  // skew off by 2
      {"56666664-5 56666664-5", -5, "56666664-5 56666664-5 56666666-5", 0},  // no increase
      {"56666663-4 56666664-4", -5, nullptr, -4},      // -13/3 truncates toward zero
      {"56666662+4 56666664+4", 5, nullptr, 4},        // steps +2, +2; 13/3
      {"1-1 56666664-5 56666665-5", -5, nullptr, -5},  // only the last 3 count
  };
  for (const row& r : rows) {
    secret_file file = make_file(
        with_secret(std::string("\" RESETTING_TIME_SKEW ") + r.stored + "\n\" TOTP_AUTH\n"));
    const check_result result =
        attempt(file, kStepT, totp_code(kStepT + static_cast<std::uint64_t>(r.skew_steps * 30)));
    if (r.list_after != nullptr) {
      EXPECT_EQ(result.outcome, check_outcome::rejected) << r.stored;
      EXPECT_EQ(file.option("RESETTING_TIME_SKEW").value_or(""), r.list_after);
      EXPECT_FALSE(file.option("TIME_SKEW").has_value());
    } else {
      EXPECT_EQ(result.method, accept_method::totp_resync) << r.stored;
      EXPECT_EQ(file.option("TIME_SKEW").value_or(""), std::to_string(r.avg)) << r.stored;
      EXPECT_EQ(file.option("RESETTING_TIME_SKEW").value_or("<none>"), "");
    }
  }
}

TEST(skew, resync_code_is_recorded_in_disallow_reuse) {
  // P2: the reference accepted the resync code once more; we record its step.
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" DISALLOW_REUSE\n"));
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t now = kStepT + 30 * i;
    EXPECT_EQ(attempt(file, now, totp_code(now - 150)).outcome, check_outcome::rejected);
  }
  EXPECT_EQ(text_of(file), secret +
                               "\n\" RESETTING_TIME_SKEW 56666666-5 56666667-5\n\" TOTP_AUTH\n\" "
                               "DISALLOW_REUSE\n");
  const std::uint32_t third = totp_code(kStepT + 60 - 150);
  EXPECT_EQ(attempt(file, kStepT + 60, third).method, accept_method::totp_resync);
  EXPECT_EQ(text_of(file), secret +
                               "\n\" TIME_SKEW -5\n\" RESETTING_TIME_SKEW \n\" TOTP_AUTH\n\" "
                               "DISALLOW_REUSE 56666663\n");
  EXPECT_EQ(attempt(file, kStepT + 60, third).outcome, check_outcome::reused);
  // The skewed client's next code is fine and prunes nothing still inside the window.
  EXPECT_TRUE(accepted(attempt(file, kStepT + 90, totp_code(kStepT + 90 - 150))));
  EXPECT_EQ(file.option("DISALLOW_REUSE").value_or(""), "56666663 56666664");
}

TEST(skew, search_reaches_1499_but_not_1500_steps) {
  for (const std::int64_t steps : {-1499, 1499, -1500, 1500}) {
    secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
    const check_result r =
        attempt(file, kNow, totp_code(kNow + static_cast<std::uint64_t>(steps * 30)));
    EXPECT_EQ(r.skew_candidate_found, std::abs(steps) < 1500) << steps;
  }
}

TEST(skew, full_search_cost) {
  // Always 3000 codes; report the cost of a miss so regressions in keying show up.
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  auto session = verification_session::begin(file, kNow, {});
  ASSERT_TRUE(session.ok());
  const auto start = std::chrono::steady_clock::now();
  // A code that appears nowhere in the +-1499 window is unlikely to be found by chance;
  // whatever it is, the search runs to the end.
  const check_result r = session->try_code(file, 999999, 6);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_NE(r.outcome, check_outcome::config_error);
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  std::printf("skew search (3000 HMAC-SHA1 codes): %.2f ms\n", ms);
  EXPECT_LT(ms, 2000.0);
}

// --- rate limiting (3.4) ---

TEST(rate_limit, c1_sequence_with_exact_lines) {
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n"));
  const std::uint64_t t = 1700000000;
  struct step {
    std::uint64_t now;
    rate_limit_decision decision;
  };
  const step steps[] = {
      {t, rate_limit_decision::allowed},      {t + 1, rate_limit_decision::allowed},
      {t + 2, rate_limit_decision::allowed},  {t + 3, rate_limit_decision::exceeded},
      {t + 4, rate_limit_decision::exceeded},
  };
  for (const step& s : steps) {
    auto d = apply_rate_limit(file, s.now);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s.decision) << s.now;
    EXPECT_TRUE(file.modified());
  }
  EXPECT_EQ(text_of(file),
            secret + "\n\" RATE_LIMIT 3 30 1700000002 1700000003 1700000004\n\" TOTP_AUTH\n");
  EXPECT_EQ(*apply_rate_limit(file, t + 5), rate_limit_decision::exceeded);
  EXPECT_EQ(*apply_rate_limit(file, t + 31), rate_limit_decision::exceeded);
  EXPECT_EQ(file.option("RATE_LIMIT").value_or(""), "3 30 1700000004 1700000005 1700000031");
  EXPECT_EQ(*apply_rate_limit(file, t + 40), rate_limit_decision::allowed);
  EXPECT_EQ(text_of(file), secret + "\n\" RATE_LIMIT 3 30 1700000031 1700000040\n\" TOTP_AUTH\n");
}

TEST(rate_limit, upstream_4_per_120) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" RATE_LIMIT 4 120\n"));
  const std::pair<std::uint64_t, rate_limit_decision> steps[] = {
      {20000, rate_limit_decision::allowed},  {20001, rate_limit_decision::allowed},
      {20002, rate_limit_decision::allowed},  {20003, rate_limit_decision::allowed},
      {20004, rate_limit_decision::exceeded}, {20006, rate_limit_decision::allowed},
  };
  for (const auto& [step, decision] : steps) {
    auto d = apply_rate_limit(file, step * 30);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, decision) << step;
  }
  EXPECT_EQ(file.option("RATE_LIMIT").value_or(""), "4 120 600060 600090 600120 600180");
}

TEST(rate_limit, boundary_now_minus_m_is_kept) {
  const std::uint64_t t = 1700000000;
  const std::string text = with_secret("\" RATE_LIMIT 1 30 1700000000\n");
  secret_file at30 = make_file(text);
  EXPECT_EQ(*apply_rate_limit(at30, t + 30), rate_limit_decision::exceeded);
  EXPECT_EQ(at30.option("RATE_LIMIT").value_or(""), "1 30 1700000030");
  secret_file at31 = make_file(text);
  EXPECT_EQ(*apply_rate_limit(at31, t + 31), rate_limit_decision::allowed);
  EXPECT_EQ(at31.option("RATE_LIMIT").value_or(""), "1 30 1700000031");
}

TEST(rate_limit, future_timestamps_are_discarded_and_blanks_normalised) {
  secret_file file =
      make_file(with_secret("\" RATE_LIMIT 2 30 1700000100\t 1699999990  1700000200\n"));
  EXPECT_EQ(*apply_rate_limit(file, 1700000000), rate_limit_decision::allowed);
  EXPECT_EQ(file.option("RATE_LIMIT").value_or(""), "2 30 1699999990 1700000000");
}

TEST(rate_limit, not_configured_leaves_file_alone) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  EXPECT_EQ(*apply_rate_limit(file, kNow), rate_limit_decision::not_configured);
  EXPECT_FALSE(file.modified());
}

TEST(rate_limit, invalid_lines_are_errors_with_spec_messages) {
  const std::string limit_msg = "Invalid RATE_LIMIT option. Check \"" + std::string(kPath) + "\".";
  const std::string list_msg =
      "Invalid list of timestamps in RATE_LIMIT. Check \"" + std::string(kPath) + "\".";
  struct row {
    const char* line;
    error_code code;
    const std::string* message;
  };
  const row rows[] = {
      {"\" RATE_LIMIT 0 30\n", error_code::bad_rate_limit, &limit_msg},    // I8
      {"\" RATE_LIMIT 101 30\n", error_code::bad_rate_limit, &limit_msg},  // I10
      {"\" RATE_LIMIT 3 3601\n", error_code::bad_rate_limit, &limit_msg},
      {"\" RATE_LIMIT 3 30 \n", error_code::bad_rate_list, &list_msg},  // I9 trailing space
      {"\" RATE_LIMIT 3 30 17x\n", error_code::bad_rate_list, &list_msg},
  };
  for (const row& r : rows) {
    secret_file file = make_file(with_secret(r.line));
    auto d = apply_rate_limit(file, kNow);
    ASSERT_FALSE(d.ok()) << r.line;
    EXPECT_EQ(d.error().code, r.code) << r.line;
    EXPECT_EQ(d.error().message, *r.message) << r.line;
    EXPECT_FALSE(file.modified());
  }
}

// --- HOTP (3.9) ---

TEST(hotp, h1_to_h4_counter_sequence) {
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" HOTP_COUNTER 1\n"));
  struct row {
    std::uint64_t code_counter;
    bool accept;
    const char* counter_after;
  };
  const row rows[] = {{1, true, "2"}, {1, false, "3"}, {5, true, "6"}, {9, false, "7"}};
  for (const row& r : rows) {
    const check_result result = attempt(file, kNow, hotp_code(r.code_counter));
    EXPECT_EQ(accepted(result), r.accept) << r.code_counter;
    if (r.accept) {
      EXPECT_EQ(result.method, accept_method::hotp);
    }
    EXPECT_EQ(text_of(file), secret + "\n\" HOTP_COUNTER " + r.counter_after + "\n");
  }
}

TEST(hotp, upstream_unit_test_sequence) {
  EXPECT_EQ(hotp_code(1, kUnitTestSecret), 293240u);
  EXPECT_EQ(hotp_code(5, kUnitTestSecret), 932068u);
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" HOTP_COUNTER 1\n", kUnitTestSecret));
  EXPECT_TRUE(accepted(attempt(file, kNow, 293240)));
  EXPECT_EQ(file.hotp_counter(), 2);
  EXPECT_FALSE(accepted(attempt(file, kNow, 293240)));
  EXPECT_EQ(file.hotp_counter(), 3);
  EXPECT_TRUE(accepted(attempt(file, kNow, 932068)));
  EXPECT_EQ(file.hotp_counter(), 6);
}

TEST(hotp, h5_no_increment_hotp) {
  secret_file file = make_file(with_secret("\" HOTP_COUNTER 4\n"));
  EXPECT_FALSE(
      accepted(attempt(file, kNow, hotp_code(9), 6, {.increment_hotp_on_failure = false})));
  EXPECT_FALSE(file.modified());
  EXPECT_EQ(file.hotp_counter(), 4);
}

TEST(hotp, h6_hotp_wins_over_totp_auth) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" HOTP_COUNTER 1\n"));
  EXPECT_FALSE(accepted(attempt(file, kNow, totp_code(kNow))));
  EXPECT_EQ(file.hotp_counter(), 2);
  EXPECT_TRUE(accepted(attempt(file, kNow, hotp_code(3))));
  EXPECT_EQ(file.hotp_counter(), 4);
}

TEST(hotp, h7_h8_counter_zero_is_not_hotp) {
  secret_file with_totp = make_file(with_secret("\" HOTP_COUNTER 0\n\" TOTP_AUTH\n"));
  EXPECT_EQ(attempt(with_totp, kNow, totp_code(kNow)).method, accept_method::totp);
  secret_file neither = make_file(with_secret("\" HOTP_COUNTER 0\n12345678\n"));
  EXPECT_FALSE(accepted(attempt(neither, kNow, totp_code(kNow))));
  EXPECT_FALSE(accepted(attempt(neither, kNow, hotp_code(0))));
  EXPECT_FALSE(accepted(attempt(neither, kNow, hotp_code(1))));
  EXPECT_FALSE(neither.modified());
  EXPECT_EQ(attempt(neither, kNow, 12345678, 8).method, accept_method::scratch);
}

TEST(hotp, window_edges_and_one_advance_per_session) {
  secret_file file = make_file(with_secret("\" HOTP_COUNTER 10\n\" WINDOW_SIZE 5\n"));
  EXPECT_FALSE(accepted(attempt(file, kNow, hotp_code(15))));  // c+w is outside
  EXPECT_EQ(file.hotp_counter(), 11);
  EXPECT_FALSE(accepted(attempt(file, kNow, hotp_code(10))));  // below c
  EXPECT_EQ(file.hotp_counter(), 12);
  EXPECT_TRUE(accepted(attempt(file, kNow, hotp_code(16))));  // c+w-1
  EXPECT_EQ(file.hotp_counter(), 17);

  // Two wrong candidates in one session advance by one from the starting value.
  auto session = verification_session::begin(file, kNow, {});
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE(accepted(session->try_code(file, hotp_code(30), 6)));
  EXPECT_FALSE(accepted(session->try_code(file, hotp_code(31), 6)));
  session->finish(file);
  EXPECT_EQ(file.hotp_counter(), 18);

  // A failure followed by a success: the success's counter stands.
  auto mixed = verification_session::begin(file, kNow, {});
  ASSERT_TRUE(mixed.ok());
  EXPECT_FALSE(accepted(mixed->try_code(file, hotp_code(40), 6)));
  EXPECT_TRUE(accepted(mixed->try_code(file, hotp_code(19), 6)));
  mixed->finish(file);
  EXPECT_EQ(file.hotp_counter(), 20);
}

TEST(hotp, malformed_candidates_do_not_advance) {
  secret_file file = make_file(with_secret("\" HOTP_COUNTER 3\n"));
  EXPECT_FALSE(accepted(attempt(file, kNow, 12345678, 8)));  // 8 digits, not a scratch code
  EXPECT_FALSE(accepted(attempt(file, kNow, 1234567, 7)));
  EXPECT_FALSE(file.modified());
}

TEST(hotp, invalid_window_is_a_config_error) {
  secret_file file = make_file(with_secret("\" HOTP_COUNTER 3\n\" WINDOW_SIZE 0\n"));
  const check_result r = attempt(file, kNow, hotp_code(3));
  EXPECT_EQ(r.outcome, check_outcome::config_error);
  ASSERT_TRUE(r.problem.has_value());
  EXPECT_EQ(r.problem->message, "Invalid WINDOW_SIZE option in \"" + std::string(kPath) + "\"");
}

// --- scratch codes (1.5, 3.5) ---

TEST(scratch, used_once_and_removed) {
  const std::string secret(kSecret);
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n87654321\n12345678\n"));
  EXPECT_EQ(attempt(file, kNow, 12345678, 8).method, accept_method::scratch);
  EXPECT_EQ(text_of(file), secret + "\n\" TOTP_AUTH\n87654321\n");
  EXPECT_EQ(attempt(file, kNow, 12345678, 8).outcome, check_outcome::rejected);
  EXPECT_EQ(attempt(file, kNow, 87654321, 8).method, accept_method::scratch);
  EXPECT_EQ(text_of(file), secret + "\n\" TOTP_AUTH\n");
}

TEST(scratch, upstream_added_later) {
  const std::string before = with_secret("\" TOTP_AUTH\n", kUnitTestSecret);
  secret_file without = make_file(before);
  EXPECT_FALSE(accepted(attempt(without, 10000 * 30, 12345678, 8)));
  secret_file with = make_file(before + "12345678\n");
  EXPECT_TRUE(accepted(attempt(with, 10000 * 30, 12345678, 8)));
  EXPECT_FALSE(accepted(attempt(with, 10000 * 30, 12345678, 8)));
}

TEST(scratch, six_digit_candidates_never_match) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n12345678\n10000000\n"));
  EXPECT_FALSE(accepted(attempt(file, kNow, 12345678, 6, {.skew_adjust = false})));
  EXPECT_FALSE(accepted(attempt(file, kNow, 10000000, 7, {.skew_adjust = false})));
  EXPECT_FALSE(file.modified());
  EXPECT_EQ(file.scratch_codes().size(), 2u);
}

TEST(scratch, works_without_mode_and_does_not_move_hotp_counter) {
  secret_file none = make_file(with_secret("12345678\n"));  // D1
  EXPECT_EQ(attempt(none, kNow, 12345678, 8).method, accept_method::scratch);

  const std::string secret(kSecret);
  secret_file hotp = make_file(with_secret("\" HOTP_COUNTER 7\n12345678\n"));  // H9
  EXPECT_EQ(attempt(hotp, kNow, 12345678, 8).method, accept_method::scratch);
  EXPECT_EQ(text_of(hotp), secret + "\n\" HOTP_COUNTER 7\n");
}

// --- grace period (3.10) ---

TEST(grace, window_is_strict_and_zero_never_holds) {
  const std::uint64_t t = 1700000000;
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  ASSERT_TRUE(record_grace_login(file, "10.0.0.1", t).ok());
  EXPECT_EQ(text_of(file), std::string(kSecret) + "\n\" LAST0 10.0.0.1 1700000000\n\" TOTP_AUTH\n");
  EXPECT_TRUE(within_grace_period(file, "10.0.0.1", t + 3599, 3600));
  EXPECT_FALSE(within_grace_period(file, "10.0.0.1", t + 3600, 3600));
  EXPECT_FALSE(within_grace_period(file, "10.0.0.1", t + 3601, 3600));
  EXPECT_FALSE(within_grace_period(file, "10.0.0.1", t, 0));  // J3
  EXPECT_FALSE(within_grace_period(file, "10.0.0.2", t + 1, 3600));
  EXPECT_FALSE(within_grace_period(file, "", t + 1, 3600));  // no RHOST
}

TEST(grace, ipv6_zone_and_exact_host_compare) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  ASSERT_TRUE(record_grace_login(file, "fe80::1%eth0", 1700000000).ok());
  EXPECT_EQ(file.option("LAST0").value_or(""), "fe80::1%eth0 1700000000");
  EXPECT_TRUE(within_grace_period(file, "fe80::1%eth0", 1700000001, 60));
  EXPECT_FALSE(within_grace_period(file, "fe80::1", 1700000001, 60));

  // 1.08 let 10.0.0.1 match a stored 10.0.0.12 (prefix); HEAD compares exactly.
  secret_file prefix = make_file(with_secret("\" LAST0 10.0.0.12 1700000000\n"));
  EXPECT_FALSE(within_grace_period(prefix, "10.0.0.1", 1700000001, 3600));
  EXPECT_TRUE(within_grace_period(prefix, "10.0.0.12", 1700000001, 3600));
  ASSERT_TRUE(record_grace_login(prefix, "10.0.0.1", 1700000005).ok());
  EXPECT_EQ(prefix.option("LAST0").value_or(""), "10.0.0.12 1700000000");
  EXPECT_EQ(prefix.option("LAST1").value_or(""), "10.0.0.1 1700000005");
  EXPECT_TRUE(within_grace_period(prefix, "10.0.0.1", 1700000006, 3600));
}

TEST(grace, update_in_place_then_lru_after_11_hosts) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(record_grace_login(file, "host" + std::to_string(i), 1700000000 + i).ok());
  }
  ASSERT_TRUE(record_grace_login(file, "host3", 1700000100).ok());  // own entry updated
  EXPECT_EQ(file.option("LAST2").value_or(""), "host3 1700000100");
  ASSERT_TRUE(record_grace_login(file, "host11", 1700000200).ok());
  EXPECT_EQ(file.option("LAST0").value_or(""), "host11 1700000200");  // host1 was oldest
  // host3 was refreshed, so host2 is now the oldest and goes next.
  ASSERT_TRUE(record_grace_login(file, "host12", 1700000300).ok());
  EXPECT_EQ(file.option("LAST1").value_or(""), "host12 1700000300");
  EXPECT_EQ(file.option("LAST2").value_or(""), "host3 1700000100");
  EXPECT_EQ(file.option("LAST9").value_or(""), "host10 1700000010");
}

TEST(grace, all_future_entries_never_produce_last_slash) {
  std::string text = with_secret("\" TOTP_AUTH\n");
  for (int i = 0; i < 10; ++i) {
    text += "\" LAST" + std::to_string(i) + " h" + std::to_string(i) + " " +
            std::to_string(1800000000 - i) + "\n";  // all in the future; h9 is the oldest
  }
  secret_file file = make_file(text);
  ASSERT_TRUE(record_grace_login(file, "newhost", 1700000000).ok());
  EXPECT_EQ(text_of(file).find("LAST/"), std::string::npos);
  EXPECT_EQ(file.option("LAST9").value_or(""), "newhost 1700000000");
}

TEST(grace, invalid_hosts_are_refused) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n"));
  for (const std::string& host : {std::string(""), std::string("bad host"), std::string("a;b"),
                                  std::string("x\n\" TOTP_AUTH"), std::string(256, 'a')}) {
    const status s = record_grace_login(file, host, 1700000000);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, error_code::invalid_argument);
  }
  EXPECT_FALSE(file.modified());
  EXPECT_TRUE(record_grace_login(file, std::string(255, 'a'), 1700000000).ok());
}

// --- ALGORITHM / DIGITS extension lines ---

TEST(extensions, sha256_eight_digits) {
  secret_file file =
      make_file(with_secret("\" TOTP_AUTH\n\" ALGORITHM SHA256\n\" DIGITS 8\n12345678\n"));
  auto session = verification_session::begin(file, kNow, {});
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->digits(), 8);
  const std::uint32_t code = totp_code(kNow, kSecret, 30, "=sha256 --digits=8");
  EXPECT_EQ(attempt(file, kNow, code, 8).method, accept_method::totp);
  EXPECT_EQ(attempt(file, kNow, totp_code(kNow - 30, kSecret, 30, "=sha256 --digits=8"), 8).method,
            accept_method::totp);
  EXPECT_FALSE(accepted(attempt(file, kNow, code % 1000000, 6, {.skew_adjust = false})));
  EXPECT_FALSE(accepted(attempt(file, kNow, totp_code(kNow, kSecret, 30, " --digits=8"), 8,
                                {.skew_adjust = false})));  // SHA-1 code
  EXPECT_EQ(attempt(file, kNow, 12345678, 8).method, accept_method::scratch);
}

TEST(extensions, sha512_seven_digits) {
  secret_file file = make_file(with_secret("\" TOTP_AUTH\n\" ALGORITHM SHA512\n\" DIGITS 7\n"));
  const std::uint32_t code = totp_code(kNow + 30, kSecret, 30, "=sha512 --digits=7");
  EXPECT_EQ(attempt(file, kNow, code, 7).method, accept_method::totp);
  EXPECT_FALSE(accepted(attempt(file, kNow, code, 6, {.skew_adjust = false})));
}

TEST(extensions, bad_lines_and_bad_secret_fail_begin) {
  for (const char* text : {"\" TOTP_AUTH\n\" ALGORITHM MD5\n", "\" TOTP_AUTH\n\" DIGITS 9\n"}) {
    secret_file file = make_file(with_secret(text));
    auto session = verification_session::begin(file, kNow, {});
    ASSERT_FALSE(session.ok()) << text;
    EXPECT_EQ(session.error().code, error_code::bad_option);
  }
  secret_file bad = make_file("JBSWY3DP!HPK3PXP\n\" TOTP_AUTH\n");  // E4
  auto session = verification_session::begin(bad, kNow, {});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code, error_code::no_secret);
}

}  // namespace
}  // namespace totp
