// Issue 6: a file written by pvetotp-enroll logs in through real libpam, with our module and
// with Debian's pam_google_authenticator.so (so it is truly interchangeable), using a code that
// oathtool computes from the secret the CLI printed.
//
// Issue 5: how filters combine with nullok, unknown users and the other options.
#include <regex>

#include "harness.h"

namespace pvetotp::itest {
namespace {

std::string enroll_binary() {
  return std::string(PVETOTP_BINARY_DIR) + "/tools/pvetotp-enroll";
}

class enroll_login : public compat_test {};

TEST_P(enroll_login, GuideEnrollmentLogsInWithTheOathtoolCode) {
  PVETOTP_REQUIRE_ROOT();
  // The guide's flags (seed 000), written into u1's home with --user, owned by u1.
  process_output enrolled = run_process(
      {enroll_binary(), "-t", "-d", "-f", "-C", "-r", "3", "-R", "30", "-w", "3", "-Q", "none",
       "-i", "pve.example", "-l", "u1@pam", "--user", "u1"},
      {"LD_PRELOAD=libnss_wrapper.so", "NSS_WRAPPER_DISABLE_DEEPBIND=1",
       "NSS_WRAPPER_PASSWD=" + w().dir() + "/passwd", "NSS_WRAPPER_GROUP=" + w().dir() + "/group"});
  ASSERT_EQ(enrolled.status, 0) << enrolled.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(enrolled.out, m, std::regex("Your new secret key is: ([A-Z2-7]+)")))
      << enrolled.out;
  const std::string secret = m[1];
  const std::string path = w().secret_path();
  const std::string before = w().read(path);
  EXPECT_EQ(before.substr(0, secret.size() + 1), secret + "\n");
  EXPECT_EQ(w().stat_of(path).st_uid, w().user("u1").uid);
  EXPECT_EQ(w().stat_of(path).st_mode & 07777, 0400u);

  const long long t = 1800000000;  // pinned: the code and the module agree on the step
  w().plain_service("login", "");
  run_options o;
  o.service = "login";
  o.time = t;
  o.answers = {totp(t, secret)};
  run_result first = w().run(o);
  EXPECT_EQ(first.code, 0) << first.dump();
  run_result replay = w().run(o);
  EXPECT_EQ(replay.code, 7) << "DISALLOW_REUSE from -d\n" << replay.dump();

  // The first scratch code the CLI printed works once.
  ASSERT_TRUE(std::regex_search(enrolled.out, m, std::regex("\n  ([1-9][0-9]{7})\n")))
      << enrolled.out;
  o.time = t + 31;  // a new second for the rate limit window is not needed: 3 attempts in 30 s
  o.answers = {m[1]};
  EXPECT_EQ(w().run(o).code, 0);
  EXPECT_EQ(w().read(path).find(std::string(m[1])), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(both, enroll_login, testing::Values(impl::ours, impl::reference),
                         impl_param_name());

// --- filters x other options (ours only) ---
class filter_combinations : public ours_test {};

TEST_F(filter_combinations, MemberWithoutFileAndNullokIsIgnoredWithoutPrompt) {
  PVETOTP_REQUIRE_ROOT();
  w().service("f", "groups=totp nullok");
  auto r = auth(std::vector<std::string>{}, k_t0, "f", "u1");
  EXPECT_TRUE(r.ignored()) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_F(filter_combinations, MemberWithoutFileAndWithoutNullokIsPromptedAndDenied) {
  PVETOTP_REQUIRE_ROOT();
  w().service("f", "groups=totp");
  auto r = auth(std::vector<std::string>{"123456"}, k_t0, "f", "u1");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
}

TEST_F(filter_combinations, UnknownUserIsInNoGroupSoAGroupFilterIgnoresIt) {
  PVETOTP_REQUIRE_ROOT();
  w().service("f", "groups=totp");
  auto r = auth(std::vector<std::string>{}, k_t0, "f", "ghost");
  EXPECT_TRUE(r.ignored()) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_FALSE(r.logged("ghost")) << "unknown names are not logged without debug\n" << r.dump();
}

TEST_F(filter_combinations, UnknownUserMatchedByNameIsPromptedAndDenied) {
  PVETOTP_REQUIRE_ROOT();
  w().service("f", "users=ghost,u1 nullok");
  auto r = auth(std::vector<std::string>{"123456"}, k_t0, "f", "ghost");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1) << "no enumeration: an unknown user in scope is still prompted";
}

TEST_F(filter_combinations, ServiceFilterSkipsOtherServicesEvenForMembers) {
  PVETOTP_REQUIRE_ROOT();
  w().write_secret(k_secret + std::string("\n\" TOTP_AUTH\n"));
  w().service("cron", "services=sshd,login");
  auto r = auth(std::vector<std::string>{}, k_t0, "cron", "u1");
  EXPECT_TRUE(r.ignored()) << r.dump();
  w().service("login", "services=sshd,login");
  EXPECT_EQ(auth(totp(k_t0), k_t0, "login").code, 0);
}

TEST_F(filter_combinations, EveryListMustMatch) {
  PVETOTP_REQUIRE_ROOT();
  w().write_secret(k_secret + std::string("\n\" TOTP_AUTH\n"));
  w().service("both", "users=u1 groups=other");  // u1 is not in group other
  EXPECT_TRUE(auth(std::vector<std::string>{}, k_t0, "both").ignored());
  w().service("both2", "users=u1 groups=totp");
  EXPECT_EQ(auth(totp(k_t0), k_t0, "both2").code, 0);
}

TEST_F(filter_combinations, BadOptionStillDeniesBeforeTheFilterIsEvaluated) {
  PVETOTP_REQUIRE_ROOT();
  w().service("f", "groups=other bogus");  // u1 is outside the filter, but the line is broken
  auto r = auth(std::vector<std::string>{}, k_t0, "f", "u1");
  EXPECT_EQ(r.code, 7) << "a broken configuration fails closed\n" << r.dump();
  EXPECT_FALSE(r.ignored());
  EXPECT_TRUE(r.logged("Unrecognized option \"bogus\"")) << r.dump();
}

TEST_F(filter_combinations, SkippedUserIsNotRateLimitedOrWritten) {
  PVETOTP_REQUIRE_ROOT();
  const std::string file =
      w().write_secret(k_secret + std::string("\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n"), 0400, "u2");
  w().service("f", "groups=totp");
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(auth(std::vector<std::string>{}, k_t0 + i, "f", "u2").ignored());
  EXPECT_EQ(w().read(file), k_secret + std::string("\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n"));
}

}  // namespace
}  // namespace pvetotp::itest
