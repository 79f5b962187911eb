// Spec ga-compat.md section 4, families A-E, G, H, I, L and the skew sequence, plus the rows of
// table 3.11 they cover, through real libpam. Runs against our module and, because 1.08 behaves
// the same in every scenario here, against Debian's pam_google_authenticator.so too.
#include <syslog.h>

#include "harness.h"

namespace pvetotp::itest {
namespace {

const std::string S = k_secret;
const std::string TOTP = S + "\n\" TOTP_AUTH\n";
constexpr long long T = k_t0;  // step 56666666
const std::string wrong_code = "abcdef";

class flow : public compat_test {};

// ---- A: TOTP basics --------------------------------------------------------------------------

TEST_P(flow, A1_correct_code_succeeds_without_rewrite) {
  auto path = w().write_secret(TOTP);
  auto before = w().stat_of(path);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Verification code: ")) << r.dump();
  EXPECT_TRUE(r.logged(LOG_INFO, "Accepted google_authenticator for u1")) << r.dump();
  auto after = w().stat_of(path);
  EXPECT_EQ(w().read(path), TOTP);
  EXPECT_EQ(before.st_ino, after.st_ino) << "A1: nothing changed, so the file is not rewritten";
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST_P(flow, A2_to_A7_malformed_or_wrong_codes_fail) {
  auto path = w().write_secret(TOTP);
  std::string code = totp(T);
  for (const std::string& input :
       {std::string("abcdef"), code.substr(1), "0" + code, " " + code, code + " ", code + "x"}) {
    auto r = auth(input, T);
    EXPECT_EQ(r.code, 7) << "input '" << input << "'\n" << r.dump();  // PAM_AUTH_ERR
    EXPECT_EQ(r.prompts(), 1);
    EXPECT_TRUE(r.logged(LOG_ERR, "Invalid verification code for u1")) << r.dump();
  }
  EXPECT_EQ(w().read(path), TOTP) << "malformed input must not change state";
}

TEST_P(flow, A5_empty_answer_fails_with_did_not_receive) {
  w().write_secret(TOTP);
  auto r = auth("", T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1) << "an empty answer is an answer: no second prompt";
  EXPECT_TRUE(r.logged("Did not receive verification code from user")) << r.dump();
}

TEST_P(flow, A8_A9_previous_and_next_step_accepted) {
  w().write_secret(TOTP);
  EXPECT_EQ(auth(totp(T - 30), T).code, 0);
  EXPECT_EQ(auth(totp(T + 30), T).code, 0);
}

TEST_P(flow, A10_A11_two_steps_off_fail_and_record_skew_candidates) {
  auto path = w().write_secret(TOTP);
  auto r = auth(totp(T - 60), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" RESETTING_TIME_SKEW 56666666-2\n\" TOTP_AUTH\n");
  r = auth(totp(T + 60), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" RESETTING_TIME_SKEW 56666666-2 56666666+2\n\" TOTP_AUTH\n");
}

TEST_P(flow, A10_noskewadj_records_nothing) {
  w().service("noskew", "noskewadj");
  auto path = w().write_secret(TOTP);
  EXPECT_EQ(auth(totp(T - 60), T, "noskew").code, 7);
  EXPECT_EQ(w().read(path), TOTP);
}

// ---- skew: client 150 s behind, server steps 56666666..69 ------------------------------------

TEST_P(flow, Skew_third_consistent_code_resyncs_and_sets_TIME_SKEW) {
  auto path = w().write_secret(TOTP);
  auto r = auth(totp(T - 150), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" RESETTING_TIME_SKEW 56666666-5\n\" TOTP_AUTH\n");
  r = auth(totp(T + 30 - 150), T + 30);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" RESETTING_TIME_SKEW 56666666-5 56666667-5\n\" TOTP_AUTH\n");
  r = auth(totp(T + 60 - 150), T + 60);
  EXPECT_EQ(r.code, 0) << "third consistent attempt is accepted\n" << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" TIME_SKEW -5\n\" RESETTING_TIME_SKEW \n\" TOTP_AUTH\n");
  r = auth(totp(T + 90 - 150), T + 90);
  EXPECT_EQ(r.code, 0) << "skewed client now works normally\n" << r.dump();
}

TEST_P(flow, Skew_same_code_twice_changes_nothing) {
  auto path = w().write_secret(TOTP);
  EXPECT_EQ(auth(totp(T - 150), T).code, 7);
  auto once = w().read(path);
  EXPECT_EQ(auth(totp(T - 150), T).code, 7);
  EXPECT_EQ(w().read(path), once);
}

// ---- B: DISALLOW_REUSE -----------------------------------------------------------------------

TEST_P(flow, B1_disallow_reuse_sequence_and_pruning) {
  const std::string head = S + "\n\" DISALLOW_REUSE";
  const std::string tail = "\n\" TOTP_AUTH\n";
  auto path = w().write_secret(head + tail);

  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), head + " 56666666" + tail);

  r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << "same code twice\n" << r.dump();
  EXPECT_TRUE(r.logged("Trying to reuse a previously used time-based code")) << r.dump();
  EXPECT_EQ(w().read(path), head + " 56666666" + tail);

  r = auth(totp(T), T + 30);
  EXPECT_EQ(r.code, 7) << "same code 30 s later (previous step, still in window)\n" << r.dump();

  r = auth(totp(T + 30), T + 30);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), head + " 56666666 56666667" + tail);

  r = auth(totp(T + 60), T + 30);
  EXPECT_EQ(r.code, 0) << "future code inside the window\n" << r.dump();
  EXPECT_EQ(w().read(path), head + " 56666666 56666667 56666668" + tail);

  r = auth(totp(T + 300), T + 300);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), head + " 56666676" + tail) << "old steps pruned";
}

// ---- C: RATE_LIMIT ---------------------------------------------------------------------------

TEST_P(flow, C1_rate_limit_sliding_window) {
  constexpr long long t = 1700000000;
  const std::string rl = S + "\n\" RATE_LIMIT 3 30";
  const std::string tail = "\n\" TOTP_AUTH\n";
  auto path = w().write_secret(rl + tail);
  for (int i = 0; i < 3; ++i) {
    auto r = auth(wrong_code, t + i);
    EXPECT_EQ(r.code, 7) << r.dump();
    EXPECT_EQ(r.prompts(), 1) << "attempt " << i << " is within the limit";
  }
  EXPECT_EQ(w().read(path), rl + " 1700000000 1700000001 1700000002" + tail);
  for (int i = 3; i < 5; ++i) {
    auto r = auth(wrong_code, t + i);
    EXPECT_EQ(r.code, 7) << r.dump();
    EXPECT_EQ(r.prompts(), 0) << "refused before the prompt";
    EXPECT_TRUE(
        r.logged("Too many concurrent login attempts (\"" + path + "\"). Please try again."))
        << r.dump();
  }
  EXPECT_EQ(w().read(path), rl + " 1700000002 1700000003 1700000004" + tail);

  auto r = auth(totp(t + 5), t + 5);
  EXPECT_EQ(r.code, 7) << "a correct code is refused too\n" << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  r = auth(totp(t + 31), t + 31);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), rl + " 1700000004 1700000005 1700000031" + tail);
  r = auth(totp(t + 40), t + 40);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), rl + " 1700000031 1700000040" + tail);
}

TEST_P(flow, C2_rate_limit_boundary_is_inclusive) {
  constexpr long long t = 1700000000;
  auto path = w().write_secret(S + "\n\" RATE_LIMIT 1 30 1700000000\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(t + 30), t + 30).prompts(), 0) << "T+30 is still inside the window";
  w().write_secret(S + "\n\" RATE_LIMIT 1 30 1700000000\n\" TOTP_AUTH\n");
  auto r = auth(totp(t + 31), t + 31);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" RATE_LIMIT 1 30 1700000031\n\" TOTP_AUTH\n");
}

// ---- D/E: scratch codes and file layout ------------------------------------------------------

TEST_P(flow, D1_scratch_codes_used_once_and_strictly_parsed) {
  auto path = w().write_secret(TOTP + "87654321\n12345678\n01234567\n");
  auto before = w().stat_of(path);
  auto r = auth("87654321", T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), TOTP + "12345678\n01234567\n");
  EXPECT_NE(w().stat_of(path).st_ino, before.st_ino) << "replaced by rename";
  for (const char* input : {"87654321", "x12345678", "1234567", "01234567"}) {
    r = auth(input, T);
    EXPECT_EQ(r.code, 7) << "input " << input << "\n" << r.dump();
  }
  EXPECT_EQ(w().read(path), TOTP + "12345678\n01234567\n");
  EXPECT_EQ(auth("12345678", T).code, 0);
  EXPECT_EQ(w().read(path), TOTP + "01234567\n");
}

TEST_P(flow, D1b_scratch_only_file) {
  auto path = w().write_secret(S + "\n12345678\n");
  EXPECT_EQ(auth(totp(T), T).code, 7) << "no TOTP_AUTH: TOTP codes rejected";
  auto r = auth("12345678", T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n");
}

TEST_P(flow, E1_junk_line_ends_scratch_scan) {
  auto path = w().write_secret(TOTP + "junk\n12345678\n");
  EXPECT_EQ(auth("12345678", T).code, 7);
  EXPECT_EQ(w().read(path), TOTP + "junk\n12345678\n");
}

TEST_P(flow, E2_indented_scratch_code_accepted) {
  auto path = w().write_secret(TOTP + "  12345678\n");
  EXPECT_EQ(auth("12345678", T).code, 0);
  EXPECT_EQ(w().read(path), TOTP);
}

TEST_P(flow, E3_crlf_file_rewritten_line_gets_lf_others_kept) {
  auto path = w().write_secret(S + "\r\n\" DISALLOW_REUSE\r\n\" TOTP_AUTH\r\n12345678\r\n");
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\r\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\r\n12345678\r\n");
  r = auth("12345678", T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\r\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\r\n");
}

TEST_P(flow, E4_invalid_base32_prompts_and_fails) {
  w().write_secret("JBSWY3DP!HPK3PXP\n\" TOTP_AUTH\n");
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("Could not find a valid BASE32 encoded secret")) << r.dump();
  EXPECT_TRUE(r.logged(LOG_WARNING, "No secret configured for user u1, asking for code anyway."))
      << r.dump();
}

TEST_P(flow, E5_lenient_base32_spelling) {
  w().write_secret("jbsw y3dp-ehpk 3pxp jbsw y3dp ehpk 3pxp\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T), T).code, 0);
}

TEST_P(flow, E6_E7_E8_size_and_nul_checks_prompt_and_fail) {
  struct c {
    std::string bytes;
    const char* log;
  };
  std::vector<c> cases = {
      {"", "Invalid file size"},
      {S + "\n\" TOTP_AUTH\n" + std::string(1, '\0') + "\n", "Invalid file contents"},
      {TOTP + std::string(70 * 1024, 'x') + "\n", "Invalid file size"}};
  for (const auto& k : cases) {
    w().write_secret(k.bytes);
    auto r = auth(totp(T), T);
    EXPECT_EQ(r.code, 7) << k.log << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1);
    EXPECT_TRUE(r.logged(k.log)) << r.dump();
  }
}

TEST_P(flow, E9_60k_file_with_junk_accepted) {
  w().write_secret(TOTP + "junk\n" + std::string(60 * 1024, 'y') + "\n");
  EXPECT_EQ(auth(totp(T), T).code, 0);
}

// ---- G: missing files, nullok, unknown users, bad options -----------------------------------

TEST_P(flow, G1_missing_file_prompts_and_fails) {
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1) << "no user enumeration: still prompted";
  EXPECT_TRUE(r.logged("Failed to read \"" + w().secret_path() + "\" for \"u1\"")) << r.dump();
  EXPECT_TRUE(r.logged(LOG_WARNING, "No secret configured for user u1, asking for code anyway."));
  EXPECT_TRUE(r.logged(LOG_ERR, "Invalid verification code for u1"));
}

TEST_P(flow, G2_G3_nullok_missing_file_is_ignore_without_prompt) {
  w().service("nullok", "nullok");
  auto r = auth(std::vector<std::string>{}, T, "nullok");
  EXPECT_TRUE(r.ignored()) << r.dump();
  EXPECT_EQ(r.code, 0) << "G3: with pam_permit after it, the stack succeeds";
  EXPECT_EQ(r.prompts(), 0);
  // G2: the brief's plain stack (`auth required` only + account) gives no success.
  w().plain_service("plain", "nullok");
  r = auth(std::vector<std::string>{}, T, "plain");
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_P(flow, G4_G5_nullok_covers_only_missing_files) {
  w().service("nullok", "nullok");
  w().write_file(w().secret_path(), TOTP, 0400, 0, 0);  // root-owned 0400: unreadable as u1
  auto r = auth(totp(T), T, "nullok");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("Failed to read")) << r.dump();

  w().write_secret(TOTP, 0644);
  r = auth(totp(T), T, "nullok");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("permissions (0644) are more permissive than 0600")) << r.dump();
}

TEST_P(flow, G6_nullok_missing_directory_is_ignore) {
  w().service("g6", "nullok secret=/nonexistent/dir/x");
  auto r = auth(std::vector<std::string>{}, T, "g6");
  EXPECT_TRUE(r.ignored()) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_P(flow, G7_G8_unknown_user_prompts_and_fails_even_with_nullok) {
  w().service("nullok", "nullok");
  for (const char* svc : {"test", "nullok"}) {
    auto r = auth({totp(T)}, T, svc, "ghost");
    EXPECT_EQ(r.code, 7) << svc << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1);
    if (reference()) {
      // glibc reports a missing user as rc 0 + NULL (`not found`); nss_wrapper returns ENOENT,
      // which the spec's other branch logs as `getpwnam_r("ghost")!=0: 2`.
      EXPECT_TRUE(r.logged("user(\"ghost\") not found") || r.logged("getpwnam_r(\"ghost\")"))
          << r.dump();
      EXPECT_TRUE(r.logged(LOG_WARNING, "No secret configured for user ghost")) << r.dump();
    } else {
      // Deliberate: a name with no account is never logged (it is often a password typed
      // into the user field); the lines say "unknown user" instead.
      EXPECT_TRUE(r.logged("Unknown user, asking for a code anyway")) << r.dump();
      EXPECT_TRUE(r.logged(LOG_WARNING, "No secret configured for user (unknown user)"))
          << r.dump();
      EXPECT_TRUE(r.logged("Invalid verification code for (unknown user)")) << r.dump();
      EXPECT_FALSE(r.logged("ghost")) << r.dump();
    }
  }
}

TEST_P(flow, G9_unknown_option_denies_without_prompt) {
  w().service("g9", "bogus_option");
  w().write_secret(TOTP);
  auto r = auth(totp(T), T, "g9");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_TRUE(r.logged("Unrecognized option \"bogus_option\"")) << r.dump();
}

TEST_P(flow, F11_F12_bad_allowed_perm_denies_without_prompt) {
  w().write_secret(TOTP);
  for (const char* opt : {"allowed_perm=abc", "allowed_perm=0"}) {
    w().service("f11", opt);
    auto r = auth(totp(T), T, "f11");
    EXPECT_EQ(r.code, 7) << opt << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 0);
    EXPECT_TRUE(r.logged("Invalid permissions in setting")) << r.dump();
  }
}

TEST_P(flow, Table_invalid_grace_period_denies_without_prompt) {
  w().write_secret(TOTP);
  w().service("gp", "grace_period=-5");
  auto r = auth(totp(T), T, "gp");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_TRUE(r.logged("grace_period must be a positive number of seconds")) << r.dump();
}

// ---- H: HOTP --------------------------------------------------------------------------------

TEST_P(flow, H1_to_H4_hotp_counter) {
  auto path = w().write_secret(S + "\n\" HOTP_COUNTER 1\n");
  EXPECT_EQ(auth(hotp(1), T).code, 0) << "H1";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 2\n");
  EXPECT_EQ(auth(hotp(1), T).code, 7) << "H2 replay";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 3\n");
  EXPECT_EQ(auth(hotp(5), T).code, 0) << "H3 inside window 3..5";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 6\n");
  EXPECT_EQ(auth(hotp(9), T).code, 7) << "H4 outside window 6..8";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 7\n");
}

TEST_P(flow, H5_no_increment_hotp) {
  w().service("h5", "no_increment_hotp");
  auto path = w().write_secret(S + "\n\" HOTP_COUNTER 4\n");
  EXPECT_EQ(auth(hotp(100), T, "h5").code, 7);
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 4\n");
}

TEST_P(flow, H6_hotp_wins_over_totp) {
  auto path = w().write_secret(S + "\n\" HOTP_COUNTER 1\n\" TOTP_AUTH\n");
  std::string t = totp(T);
  if (t == hotp(1) || t == hotp(2) || t == hotp(3)) {
    GTEST_SKIP() << "codes collide";
  }
  EXPECT_EQ(auth(t, T).code, 7);
  EXPECT_EQ(auth(hotp(2), T).code, 0);
}

TEST_P(flow, H7_H8_counter_zero_is_not_hotp) {
  w().write_secret(S + "\n\" HOTP_COUNTER 0\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T), T).code, 0) << "H7: TOTP works";
  auto path = w().write_secret(S + "\n\" HOTP_COUNTER 0\n12345678\n");
  EXPECT_EQ(auth(hotp(0), T).code, 7) << "H8";
  EXPECT_EQ(auth(totp(T), T).code, 7) << "H8";
  EXPECT_EQ(auth("12345678", T).code, 0) << "H8: only scratch codes";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 0\n");
}

TEST_P(flow, H9_H11_H12_what_does_not_advance_the_counter) {
  auto path = w().write_secret(S + "\n\" HOTP_COUNTER 5\n12345678\n");
  EXPECT_EQ(auth("12345678", T).code, 0) << "H9 scratch";
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 5\n");
  for (const char* junk : {"", "abcdef", "12345"}) {
    EXPECT_EQ(auth(junk, T).code, 7);
  }
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 5\n") << "H12";
  path = w().write_secret(S + "\n\" RATE_LIMIT 1 30 1700000000\n\" HOTP_COUNTER 5\n");
  auto r = auth(hotp(5), 1700000001);
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_EQ(w().read(path), S + "\n\" RATE_LIMIT 1 30 1700000001\n\" HOTP_COUNTER 5\n") << "H11";
}

// ---- I: option-line validation ---------------------------------------------------------------

TEST_P(flow, I4_to_I6_invalid_step_or_window_fail_after_prompt) {
  struct c {
    const char* line;
    const char* log;
  };
  for (auto k : {c{"\" STEP_SIZE 61", "Invalid STEP_SIZE option in"},
                 c{"\" WINDOW_SIZE 101", "Invalid WINDOW_SIZE option in"},
                 c{"\" WINDOW_SIZE x", "Invalid WINDOW_SIZE option in"},
                 c{"\" WINDOW_SIZE 17x", "Invalid WINDOW_SIZE option in"}}) {
    w().write_secret(S + "\n" + k.line + "\n\" TOTP_AUTH\n");
    auto r = auth(totp(T), T);
    EXPECT_EQ(r.code, 7) << k.line << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1) << k.line;
    EXPECT_TRUE(r.logged(k.log)) << r.dump();
  }
}

TEST_P(flow, I7_to_I10_invalid_rate_limit_denies_without_prompt) {
  struct c {
    const char* line;
    const char* log;
  };
  for (auto k : {c{"\" RATE_LIMIT 0 30", "Invalid RATE_LIMIT option. Check"},
                 c{"\" RATE_LIMIT 3 30 ", "Invalid list of timestamps in RATE_LIMIT. Check"},
                 c{"\" RATE_LIMIT 101 30", "Invalid RATE_LIMIT option. Check"},
                 c{"\" RATE_LIMIT 3 3601", "Invalid RATE_LIMIT option. Check"}}) {
    std::string bytes = S + "\n" + k.line + "\n\" TOTP_AUTH\n";
    auto path = w().write_secret(bytes);
    auto r = auth(totp(T), T);
    EXPECT_EQ(r.code, 7) << k.line << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 0) << k.line;
    EXPECT_TRUE(r.logged(k.log)) << r.dump();
  }
}

TEST_P(flow, I1_step_size_60) {
  w().write_secret(S + "\n\" STEP_SIZE 60\n\" TOTP_AUTH\n");
  constexpr long long t = 1700000040;  // multiple of 60
  EXPECT_EQ(auth(totp(t - 60, S, 60), t).code, 0);
  EXPECT_EQ(auth(totp(t, S, 60), t).code, 0);
  EXPECT_EQ(auth(totp(t + 60, S, 60), t).code, 0);
  w().service("noskew", "noskewadj");
  EXPECT_EQ(auth(totp(t - 120, S, 60), t, "noskew").code, 7);
  EXPECT_EQ(auth(totp(t + 120, S, 60), t, "noskew").code, 7);
}

TEST_P(flow, I2_I3_window_sizes) {
  w().service("noskew", "noskewadj");
  w().write_secret(S + "\n\" WINDOW_SIZE 6\n\" TOTP_AUTH\n");
  for (int off : {-2, -1, 0, 1, 2, 3}) {
    EXPECT_EQ(auth(totp(T + off * 30), T, "noskew").code, 0) << "window 6 offset " << off;
  }
  for (int off : {-3, 4}) {
    EXPECT_EQ(auth(totp(T + off * 30), T, "noskew").code, 7) << "window 6 offset " << off;
  }
  w().write_secret(S + "\n\" WINDOW_SIZE 1\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T), T, "noskew").code, 0);
  EXPECT_EQ(auth(totp(T - 30), T, "noskew").code, 7);
  EXPECT_EQ(auth(totp(T + 30), T, "noskew").code, 7);
}

TEST_P(flow, TimeSkew_line_shifts_window) {
  w().service("noskew", "noskewadj");
  w().write_secret(S + "\n\" TIME_SKEW 2\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T), T, "noskew").code, 7);
  for (int off : {1, 2, 3}) {
    EXPECT_EQ(auth(totp(T + off * 30), T, "noskew").code, 0) << off;
  }
}

TEST_P(flow, I11_to_I13_totp_detection_and_unknown_lines) {
  for (const std::string& bytes : {S + "\n\" FOO bar\n\" TOTP_AUTH\n", S + "\n\" TOTP_AUTHX\n",
                                   S + "\n\" FOO_BAR \" TOTP_AUTH\n"}) {
    w().write_secret(bytes);
    EXPECT_EQ(auth(totp(T), T).code, 0) << bytes;
  }
}

TEST_P(flow, I14_first_option_line_wins) {
  w().service("noskew", "noskewadj");
  w().write_secret(S + "\n\" WINDOW_SIZE 1\n\" WINDOW_SIZE 17\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T + 60), T, "noskew").code, 7);
}

TEST_P(flow, I15_malformed_disallow_reuse_rejects_correct_code) {
  w().write_secret(S + "\n\" DISALLOW_REUSE abc\n\" TOTP_AUTH\n");
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  if (!reference()) {
    // Spec 9.5: ours names the problem; the reference fails silently.
    EXPECT_TRUE(r.logged("DISALLOW_REUSE")) << r.dump();
  }
}

// ---- L: prompts and conversation failure -----------------------------------------------------

TEST_P(flow, L1_L2_prompt_styles) {
  w().write_secret(TOTP);
  w().service("echo", "echo_verification_code");
  w().service("echo2", "echo-verification-code");
  auto r = auth(totp(T), T, "echo");
  EXPECT_TRUE(r.shown("PROMPT_ECHO_ON", "Verification code: ")) << r.dump();
  EXPECT_EQ(r.code, 0);
  r = auth(totp(T), T, "echo2");
  EXPECT_TRUE(r.shown("PROMPT_ECHO_ON", "Verification code: ")) << r.dump();
  r = auth(totp(T), T);
  ASSERT_EQ(r.messages.size(), 1u) << r.dump();
  EXPECT_EQ(r.messages[0].style, "PROMPT_ECHO_OFF");
  EXPECT_EQ(r.messages[0].text, "Verification code: ");
}

TEST_P(flow, L3_L4_conversation_error_prompts_twice_then_fails) {
  w().write_secret(TOTP);
  auto r = auth(std::vector<std::string>{}, T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 2) << r.dump();
  EXPECT_TRUE(r.logged("Did not receive verification code from user")) << r.dump();
}

TEST_P(flow, L5_authtok_prompt_and_forward_pass_prompt_texts) {
  w().write_secret(TOTP);
  w().raw_service("custom", "auth required @MODULE@ [authtok_prompt=Your token please: ]\n");
  auto r = auth(totp(T), T, "custom");
  EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Your token please: ")) << r.dump();
  EXPECT_EQ(r.code, 0);
  w().service("fwd", "forward_pass");
  r = auth("pw" + totp(T), T, "fwd");
  EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Password & verification code: ")) << r.dump();
  EXPECT_EQ(r.code, 0);
}

PVETOTP_INSTANTIATE_COMPAT(flow);

}  // namespace
}  // namespace pvetotp::itest
