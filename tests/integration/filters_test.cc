// Issue 5: users=, groups=, services= filters, and the Proxmox VE login path.
//
// The stack is built like Debian 12's common-auth, with pam_matrix (libpam-wrapper) standing in
// for pam_unix so passwords come from a test file and there is no fail delay:
//   auth [success=1 default=ignore] pam_matrix.so passdb=...
//   auth requisite pam_deny.so
//   auth required  pam_permit.so
//   auth required  pam_pvetotp.so groups=totp services=*,!proxmox-ve-auth nullok
// u1 is in group totp and has a secret; u2 is not in the group.
#include <sys/stat.h>

#include <cstdio>

#include "harness.h"

namespace pvetotp::itest {
namespace {

const std::string S = k_secret;
const std::string TOTP = S + "\n\" TOTP_AUTH\n";
constexpr long long T = k_t0;
constexpr const char* k_matrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";

class filters : public ours_test {
 protected:
  void SetUp() override {
    ours_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    w().set_passdb({"u1:pw1:proxmox-ve-auth", "u2:pw2:proxmox-ve-auth", "u1:pw1:login",
                    "u2:pw2:login", "u1:pw1:sshd", "u2:pw2:sshd"});
    std::string stack = std::string("auth [success=1 default=ignore] ") + k_matrix +
                        " passdb=@PASSDB@\n"
                        "auth requisite pam_deny.so\n"
                        "auth required pam_permit.so\n"
                        "auth required @MODULE@ groups=totp services=*,!proxmox-ve-auth nullok\n"
                        "account required pam_permit.so\n";
    for (const char* svc : {"proxmox-ve-auth", "login", "sshd"}) {
      w().raw_service(svc, stack);
    }
    secret_ = w().write_secret(TOTP);
  }

  run_result pve(const std::string& user, const std::string& password) {
    run_options o;
    o.service = "proxmox-ve-auth";
    o.user = user;
    o.pve = true;
    o.password = password;
    o.rhost = "::ffff:192.0.2.1";
    o.time = T;
    return w().run(o);
  }
  std::string secret_;
};

TEST_F(filters, PVE_login_member_and_nonmember_need_only_the_password) {
  for (auto [user, pw] : {std::pair{"u1", "pw1"}, std::pair{"u2", "pw2"}}) {
    auto r = pve(user, pw);
    std::printf("PVE-style login (proxmox-ve-auth) %s: %s in %.3f s\n", user, r.code_name.c_str(),
                r.seconds);
    EXPECT_EQ(r.code, 0) << user << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1) << "only the password prompt\n" << r.dump();
    EXPECT_FALSE(r.shown("PROMPT_ECHO_OFF", "Verification code")) << r.dump();
    EXPECT_LT(r.seconds, 1.0) << user;
    EXPECT_TRUE(r.out.find("ACCT PAM_SUCCESS") != std::string::npos) << r.dump();
  }
  EXPECT_EQ(w().read(secret_), TOTP);
}

TEST_F(filters, PVE_login_wrong_password_denied) {
  auto r = pve("u2", "nope");
  EXPECT_NE(r.code, 0) << r.dump();
}

TEST_F(filters, Login_member_needs_password_and_code) {
  for (const char* svc : {"login", "sshd"}) {
    auto r = auth({"pw1", totp(T)}, T, svc, "u1");
    EXPECT_EQ(r.code, 0) << svc << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 2) << r.dump();
    EXPECT_TRUE(r.shown("PROMPT_ECHO_OFF", "Verification code: ")) << r.dump();
  }
}

TEST_F(filters, Login_nonmember_needs_only_password) {
  for (const char* svc : {"login", "sshd"}) {
    auto r = auth({"pw2"}, T, svc, "u2");
    EXPECT_EQ(r.code, 0) << svc << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1) << r.dump();
  }
}

TEST_F(filters, Login_member_with_wrong_code_denied) {
  for (const char* svc : {"login", "sshd"}) {
    auto r = auth({"pw1", "abcdef"}, T, svc, "u1");
    EXPECT_NE(r.code, 0) << svc << "\n" << r.dump();
    r = auth({"pw1"}, T, svc, "u1");
    EXPECT_NE(r.code, 0) << "no code at all\n" << r.dump();
  }
}

// A filtered-out user must never cause the secret file to be opened: a FIFO would block an
// open() for reading (the harness would kill the client after its timeout), and a root-owned
// 0000 file would log "Failed to read".
TEST_F(filters, Filtered_out_user_never_opens_the_secret_file) {
  const auto& u2 = w().user("u2");
  std::string path = w().secret_path("u2");
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  ASSERT_EQ(chown(path.c_str(), u2.uid, u2.gid), 0);
  w().service("groups", "groups=totp");
  w().service("users", "users=*,!u2");
  w().service("services", "services=login");
  for (const char* svc : {"groups", "users", "services"}) {
    auto r = auth({"123456"}, T, svc, "u2");
    EXPECT_TRUE(r.ignored()) << svc << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 0) << svc;
    EXPECT_LT(r.seconds, 5.0) << svc << ": did the module open the FIFO?";
  }
  ASSERT_EQ(unlink(path.c_str()), 0);
  w().write_file(path, TOTP, 0000, 0, 0);
  for (const char* svc : {"groups", "users", "services"}) {
    auto r = auth({"123456"}, T, svc, "u2");
    EXPECT_TRUE(r.ignored()) << svc << "\n" << r.dump();
    EXPECT_FALSE(r.logged("Failed to read")) << r.dump();
  }
}

TEST_F(filters, Filter_match_still_requires_the_code) {
  w().service("users", "users=u1");
  w().service("groups", "groups=tot?");
  for (const char* svc : {"users", "groups"}) {
    auto r = auth({"abcdef"}, T, svc, "u1");
    EXPECT_EQ(r.code, 7) << svc << "\n" << r.dump();
    EXPECT_EQ(r.prompts(), 1);
    EXPECT_EQ(auth({totp(T)}, T, svc, "u1").code, 0) << svc;
  }
}

TEST_F(filters, Negation_only_list_matches_nobody_and_warns) {
  w().service("neg", "users=!u2");
  auto r = auth({totp(T)}, T, "neg", "u1");
  EXPECT_TRUE(r.ignored()) << r.dump();
  EXPECT_TRUE(r.logged("users=")) << "warning names the option\n" << r.dump();
}

TEST_F(filters, Unknown_group_name_warns_but_does_not_fail) {
  w().service("g", "groups=totp,nosuchgroup");
  auto r = auth({totp(T)}, T, "g", "u1");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged("nosuchgroup")) << r.dump();
}

TEST_F(filters, Skipped_user_is_never_success) {
  // With only our module in the stack, a filtered-out user must not be let in.
  w().plain_service("only", "users=u1");
  auto r = auth({}, T, "only", "u2");
  EXPECT_NE(r.code, 0) << r.dump();
}

}  // namespace
}  // namespace pvetotp::itest
