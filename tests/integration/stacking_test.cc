// Spec ga-compat.md 3.3 and experiments K1-K7: stacking with forward_pass, use_first_pass and
// try_first_pass. pam_unix is replaced by pam_exec: `expose_authtok` both provides PAM_AUTHTOK
// (it prompts "Password: " and stores the answer when none is set) and, with a checker script,
// verifies a forwarded password. Both modules behave the same here.
#include <syslog.h>

#include "harness.h"

namespace pvetotp::itest {
namespace {

const std::string S = k_secret;
const std::string TOTP = S + "\n\" TOTP_AUTH\n";
constexpr long long T = k_t0;

class stacking : public compat_test {
 protected:
  void SetUp() override {
    compat_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    checker_ = w().dir() + "/check_pw1.sh";
    // pam_exec writes the token followed by a NUL byte on stdin.
    w().write_file(checker_, "#!/bin/sh\npw=$(tr -d '\\000')\n[ \"$pw\" = \"pw1\" ]\n", 0755, 0, 0);
    w().raw_service("k1",
                    "auth required @MODULE@ forward_pass\n"
                    "auth required pam_exec.so quiet expose_authtok " +
                        checker_ + "\naccount required pam_permit.so\n");
    w().raw_service("k2",
                    "auth required pam_exec.so quiet expose_authtok /bin/true\n"
                    "auth required @MODULE@ use_first_pass\n"
                    "account required pam_permit.so\n");
    w().raw_service("k3",
                    "auth required pam_exec.so quiet expose_authtok /bin/true\n"
                    "auth required @MODULE@ try_first_pass\n"
                    "account required pam_permit.so\n");
    w().raw_service("k5",
                    "auth required @MODULE@ use_first_pass\n"
                    "account required pam_permit.so\n");
    w().write_secret(TOTP + "12345678\n");
  }
  std::string checker_;
};

TEST_P(stacking, K1_forward_pass_password_reaches_next_module) {
  auto r = auth("pw1" + totp(T), T, "k1");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Password & verification code: ")) << r.dump();
}

TEST_P(stacking, K1b_wrong_code_fails) {
  auto r = auth(std::vector<std::string>{"pw1000000"}, T, "k1");
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged("Invalid verification code for u1")) << r.dump();
}

TEST_P(stacking, K1c_wrong_password_right_code_fails_in_next_module) {
  auto r = auth("bad" + totp(T), T, "k1");
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged("Accepted google_authenticator for u1")) << r.dump();
}

TEST_P(stacking, K1d_password_plus_scratch_code) {
  auto r = auth(std::vector<std::string>{"pw112345678"}, T, "k1");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 1) << "mode 3 reuses the answer of mode 2";
  EXPECT_EQ(w().read(w().secret_path()), TOTP);
}

TEST_P(stacking, K2_use_first_pass_takes_code_from_authtok) {
  for (const std::string& tok : {totp(T), "junk" + totp(T)}) {
    auto r = auth(tok, T, "k2");
    EXPECT_EQ(r.code, 0) << tok << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1) << "only pam_exec's Password: prompt";
    EXPECT_FALSE(r.shown("PROMPT_ECHO_OFF", "Verification code")) << r.dump();
  }
  auto r = auth(std::vector<std::string>{"ab12345678"}, T, "k2");
  EXPECT_EQ(r.code, 0) << "K2d scratch code with a prefix\n" << r.dump();
  r = auth(std::vector<std::string>{"wrong"}, T, "k2");
  EXPECT_EQ(r.code, 7) << "K2c\n" << r.dump();
  EXPECT_EQ(r.prompts(), 1);
}

TEST_P(stacking, K3_try_first_pass_falls_back_to_prompt) {
  auto r = auth({"pw1", totp(T)}, T, "k3");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 2);
  EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Verification code: ")) << r.dump();
}

TEST_P(stacking, K5_use_first_pass_without_authtok_fails_without_prompt) {
  auto r = auth(std::vector<std::string>{}, T, "k5");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_P(stacking, K7_openssh_dummy_password_hint) {
  auto r = auth(std::vector<std::string>{"\b\n\r\177INCORRECT"}, T, "k2");
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged(LOG_INFO, "Dummy password supplied by PAM")) << r.dump();
}

PVETOTP_INSTANTIATE_COMPAT(stacking);

}  // namespace
}  // namespace pvetotp::itest
