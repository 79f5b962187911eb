// Spec ga-compat.md section 4 families F (permissions, owner, symlinks), M (write failures),
// N (user= and secret= expansion), J (grace period) and P (interactions), through real libpam.
// `flow_files` runs against both modules; `ours_files` holds our deliberate differences
// (mode/owner/group kept, symlinks kept, setuid refused, ${USER} sanitised, HEAD grace period).
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "harness.h"

namespace pvetotp::itest {
namespace {

const std::string S = k_secret;
const std::string TOTP = S + "\n\" TOTP_AUTH\n";
const std::string REUSE = S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n";
constexpr long long T = k_t0;

class files : public compat_test {};
class ours_files : public ours_test {};

// ---- F: permissions, owner, file type --------------------------------------------------------

TEST_P(files, F1_to_F4_permission_check) {
  w().service("f3", "allowed_perm=0640");
  w().write_secret(TOTP, 0600);
  EXPECT_EQ(auth(totp(T), T).code, 0) << "F1 0600";
  w().write_secret(TOTP, 0640);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << "F2 0640";
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("permissions (0640) are more permissive than 0600")) << r.dump();
  EXPECT_EQ(auth(totp(T), T, "f3").code, 0) << "F3 0640 with allowed_perm=0640";
  w().write_secret(TOTP, 0700);
  EXPECT_EQ(auth(totp(T), T).code, 7) << "F4 0700";
}

TEST_P(files, F6_root_owned_0400_is_unreadable_after_privilege_drop) {
  w().write_file(w().secret_path(), TOTP, 0400, 0, 0);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("Failed to read \"" + w().secret_path() + "\" for \"u1\"")) << r.dump();
}

TEST_P(files, F7_F13_owner_check_and_no_strict_owner) {
  w().write_file(w().secret_path(), TOTP, 0444, 0, 0);
  w().service("f7", "no_strict_owner allowed_perm=0444");
  w().service("f13", "allowed_perm=0444");
  EXPECT_EQ(auth(totp(T), T, "f7").code, 0) << "F7";
  auto r = auth(totp(T), T, "f13");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_TRUE(r.logged("Secret file \"" + w().secret_path() + "\" must be owned by \"u1\""))
      << r.dump();
}

TEST_P(files, F9_symlink_to_valid_file_accepted) {
  const auto& u = w().user("u1");
  std::string target = u.home + "/real_secret";
  w().write_file(target, TOTP, 0400, u.uid, u.gid);
  ASSERT_EQ(symlink(target.c_str(), w().secret_path().c_str()), 0);
  EXPECT_EQ(auth(totp(T), T).code, 0);
}

TEST_P(files, F10_directory_is_not_a_regular_file) {
  mkdir(w().secret_path().c_str(), 0700);
  ASSERT_EQ(chown(w().secret_path().c_str(), 50001, 50001), 0);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.prompts(), 1);
  EXPECT_TRUE(r.logged("is not a regular file")) << r.dump();
}

TEST_F(ours_files, F5_setuid_bit_fails_permission_check) {
  // Spec 9.5: the reference accepts 04400; ours refuses it.
  w().write_secret(TOTP, 04400);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 1);
}

TEST_F(ours_files, F14_symlink_kept_and_target_updated) {
  const auto& u = w().user("u1");
  std::string target = u.home + "/real_secret";
  w().write_file(target, REUSE, 0400, u.uid, u.gid);
  ASSERT_EQ(symlink(target.c_str(), w().secret_path().c_str()), 0);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_TRUE(S_ISLNK(w().lstat_of(w().secret_path()).st_mode)) << "symlink must stay a symlink";
  EXPECT_EQ(w().read(target), S + "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T), T).code, 7) << "reuse blocked through the symlink";
  EXPECT_TRUE(w().leftovers(u.home, {".google_authenticator", "real_secret"}).empty());
}

TEST_F(ours_files, Write_keeps_mode_owner_and_group) {
  w().service("g", "allowed_perm=0640");
  auto path = w().secret_path();
  w().write_file(path, REUSE, 0640, 50001, 50100);  // group totp, not u1's primary group
  auto r = auth(totp(T), T, "g");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
  auto st = w().stat_of(path);
  EXPECT_EQ(st.st_mode & 07777, 0640u) << "the reference forces 0400";
  EXPECT_EQ(st.st_uid, 50001u);
  EXPECT_EQ(st.st_gid, 50100u) << "the reference switches to the primary group";
  EXPECT_TRUE(w().leftovers(w().user("u1").home, {".google_authenticator"}).empty());
}

TEST_F(ours_files, Stale_temp_files_never_block_a_login) {
  const auto& u = w().user("u1");
  auto path = w().write_secret(REUSE);
  w().write_file(path + "~", "stale", 0400, u.uid, u.gid);
  w().write_file(path + "~XXXXXX", "stale", 0400, u.uid, u.gid);
  EXPECT_EQ(auth(totp(T), T).code, 0);
  EXPECT_EQ(w().read(path), S + "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
}

// A login that changes nothing decides on the copy read before the prompt; that decision
// stands only if the file is still that version afterwards (pvetotp(5), LOCKING).
TEST_F(ours_files, File_replaced_during_the_prompt_is_read_again) {
  const auto& u = w().user("u1");
  const auto path = w().write_secret(TOTP);
  const std::string other_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
  w().write_file(path + ".new", other_secret + "\n\" TOTP_AUTH\n", 0400, u.uid, u.gid);
  run_options o;
  o.answers = {totp(T)};  // right for the secret that was there when the prompt went out
  o.time = T;
  o.replace_on_prompt = {path + ".new", path};
  auto r = w().run(o);
  EXPECT_NE(r.out.find("REPLACED 0"), std::string::npos) << r.dump();
  EXPECT_EQ(r.code, 7) << "decided on the new secret, which the code does not match\n" << r.dump();
  EXPECT_TRUE(r.logged("Invalid verification code for u1")) << r.dump();

  // The same bytes under a new inode: read again, and the code is accepted.
  w().write_secret(TOTP);
  w().write_file(path + ".new", TOTP, 0400, u.uid, u.gid);
  o.replace_on_prompt = {path + ".new", path};
  r = w().run(o);
  EXPECT_NE(r.out.find("REPLACED 0"), std::string::npos) << r.dump();
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), TOTP);
}

TEST_F(ours_files, Rewrite_leaves_only_the_secret_and_its_lock) {
  // The new version is written unnamed (O_TMPFILE) and renamed into place: after HOTP,
  // scratch and DISALLOW_REUSE writes the directory holds nothing else.
  const auto path = w().write_secret(S + "\n\" HOTP_COUNTER 1\n12345678\n");
  EXPECT_EQ(auth(hotp(1), T).code, 0);
  EXPECT_EQ(auth("12345678", T).code, 0);
  EXPECT_EQ(w().read(path), S + "\n\" HOTP_COUNTER 2\n");
  w().write_secret(REUSE);
  EXPECT_EQ(auth(totp(T), T).code, 0);
  EXPECT_TRUE(w().leftovers(w().user("u1").home, {".google_authenticator"}).empty());
}

// ---- M: write failures -----------------------------------------------------------------------

TEST_P(files, M1_M2_M3_unwritable_directory) {
  const auto& u = w().user("u1");
  auto path = w().write_secret(REUSE);
  if (!reference()) {
    // Our lock file lives beside the secret; create it while the directory is still writable,
    // as any earlier login would have.
    w().write_file(path + ".lock", "", 0600, u.uid, u.gid);
  }
  chmod(u.home.c_str(), 0555);
  w().service("ro", "allow_readonly");

  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << "M1: state cannot be saved, so a correct code is denied\n" << r.dump();
  EXPECT_EQ(w().read(path), REUSE) << "old file byte-identical";
  if (reference()) {
    EXPECT_TRUE(r.logged("Failed to create tempfile")) << r.dump();
  }
  EXPECT_TRUE(r.logged("Failed to update secret file") || r.logged("Failed to create tempfile"))
      << r.dump();

  r = auth(totp(T), T, "ro");
  EXPECT_EQ(r.code, 0) << "M2: allow_readonly\n" << r.dump();
  EXPECT_EQ(w().read(path), REUSE);

  w().write_secret(TOTP);  // no state change needed
  chmod(u.home.c_str(), 0555);
  r = auth(totp(T), T);
  EXPECT_EQ(r.code, 0) << "M3: nothing to write\n" << r.dump();
  EXPECT_TRUE(w().leftovers(u.home, {".google_authenticator"}).empty());
  chmod(u.home.c_str(), 0755);
}

// Mounts a small tmpfs over the user's home inside a private mount namespace of this test
// process (children inherit it), so nothing outside the test sees the mount.
bool private_tmpfs(const std::string& where, const char* size, std::string& why) {
  if (unshare(CLONE_NEWNS) != 0) {
    why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    return false;
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    why = std::string("make / private: ") + std::strerror(errno);
    return false;
  }
  std::string opts = std::string("size=") + size + ",mode=0755,uid=50001,gid=50001";
  if (mount("tmpfs", where.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
    why = std::string("mount tmpfs: ") + std::strerror(errno);
    return false;
  }
  return true;
}

TEST_P(files, M5_full_filesystem_denies_keeps_old_file_no_temp_file) {
  const auto& u = w().user("u1");
  std::string why;
  if (!private_tmpfs(u.home, "64k", why)) {
    GTEST_SKIP() << "no private tmpfs: " << why;
  }
  auto path = w().write_secret(REUSE);
  if (!reference()) {
    w().write_file(path + ".lock", "", 0600, u.uid, u.gid);
  }
  {
    int fd = open((u.home + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::string chunk(4096, 'f');
    while (write(fd, chunk.data(), chunk.size()) > 0) {
    }
    while (write(fd, "f", 1) > 0) {
    }
    close(fd);
  }
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_TRUE(r.shown("ERROR_MSG", "Error \"No space left on device\" while writing config"))
      << r.dump();
  EXPECT_EQ(w().read(path), REUSE);
  EXPECT_TRUE(w().leftovers(u.home, {".google_authenticator", "filler"}).empty());
  umount2(u.home.c_str(), MNT_DETACH);
}

TEST_P(files, M6_read_only_filesystem_denies_and_keeps_old_file) {
  const auto& u = w().user("u1");
  std::string why;
  if (!private_tmpfs(u.home, "1m", why)) {
    GTEST_SKIP() << "no private tmpfs: " << why;
  }
  auto path = w().write_secret(REUSE);
  if (!reference()) {
    w().write_file(path + ".lock", "", 0600, u.uid, u.gid);
  }
  ASSERT_EQ(mount(nullptr, u.home.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  auto r = auth(totp(T), T);
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(w().read(path), REUSE);
  EXPECT_TRUE(w().leftovers(u.home, {".google_authenticator"}).empty());
  if (reference()) {
    EXPECT_TRUE(r.shown("ERROR_MSG", "Error \"Read-only file system\" while writing config"))
        << r.dump();
  }
  umount2(u.home.c_str(), MNT_DETACH);
}

// ---- N: user= and secret= --------------------------------------------------------------------

TEST_P(files, N1_fixed_user_and_USER_expansion) {
  const auto& u2 = w().user("u2");
  std::string shared = w().dir() + "/shared";
  mkdir(shared.c_str(), 0755);
  ASSERT_EQ(chown(shared.c_str(), u2.uid, u2.gid), 0);
  w().write_file(shared + "/u1", REUSE, 0400, u2.uid, u2.gid);
  w().service("n1", "user=u2 secret=" + shared + "/${USER}");
  w().service("n1num", "user=50002 secret=" + shared + "/${USER}");
  auto r = auth(totp(T), T, "n1");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(shared + "/u1"), S + "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
  EXPECT_EQ(auth(totp(T + 30), T + 30, "n1num").code, 0) << "numeric user=";
}

TEST_P(files, N4_N6_user_with_home_in_secret_is_an_error) {
  w().write_secret(TOTP);
  w().service("n4", "user=u2 secret=~/.google_authenticator");
  w().service("n6", "user=u2");
  if (!reference()) {
    // Deliberate (spec 9.5): user= without secret= can never work, so ours refuses the
    // configuration at once, without a prompt, and says what is missing.
    auto r = auth(totp(T), T, "n6");
    EXPECT_EQ(r.code, 7) << r.dump();
    EXPECT_EQ(r.prompts(), 0);
    EXPECT_TRUE(r.logged("needs \"secret=\"")) << r.dump();
  }
  for (const char* svc :
       reference() ? std::vector<const char*>{"n4", "n6"} : std::vector<const char*>{"n4"}) {
    auto r = auth(totp(T), T, svc);
    EXPECT_EQ(r.code, 7) << svc << r.dump();
    EXPECT_EQ(r.prompts(), 1) << svc;
    EXPECT_TRUE(r.logged("Home dir in 'secret' not implemented when 'user' set")) << r.dump();
  }
}

TEST_P(files, N5_unknown_fixed_user_denies_without_prompt) {
  w().service("n5", "user=nosuchuser secret=/tmp/x");
  auto r = auth(totp(T), T, "n5");
  EXPECT_EQ(r.code, 7) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_TRUE(r.logged("Failed to look up user \"nosuchuser\"")) << r.dump();
}

TEST_P(files, N2_N3_HOME_and_tilde_expansion) {
  const auto& u = w().user("u1");
  mkdir((u.home + "/x").c_str(), 0755);
  ASSERT_EQ(chown((u.home + "/x").c_str(), u.uid, u.gid), 0);
  w().write_file(u.home + "/x/a~b", TOTP, 0400, u.uid, u.gid);
  w().service("n8", "secret=~/x/a~b");
  w().service("home", "secret=${HOME}/x/a~b");
  EXPECT_EQ(auth(totp(T), T, "n8").code, 0) << "N8";
  EXPECT_EQ(auth(totp(T), T, "home").code, 0) << "${HOME}";
}

TEST_P(files, N9_tilde_after_slash_expands_in_the_middle) {
  const auto& u = w().user("u1");
  std::string base = w().dir() + "/n9";
  std::string dir = base + "/" + u.home;  // "<base>/~/x" expands to "<base>/" + home + "/x"
  std::filesystem::create_directories(dir);
  ASSERT_EQ(chown(dir.c_str(), u.uid, u.gid), 0);
  w().write_file(dir + "/x", TOTP, 0400, u.uid, u.gid);
  w().service("n9", "secret=" + base + "/~/x");
  auto r = auth(totp(T), T, "n9");
  EXPECT_EQ(r.code, 0) << r.dump();
}

TEST_F(ours_files, N10_USER_with_slash_or_leading_dot_refused) {
  const auto& u2 = w().user("u2");
  std::string shared = w().dir() + "/shared";
  mkdir(shared.c_str(), 0755);
  mkdir((shared + "/sub").c_str(), 0755);
  ASSERT_EQ(chown(shared.c_str(), u2.uid, u2.gid), 0);
  w().write_file(shared + "/victim", TOTP, 0400, u2.uid, u2.gid);
  w().write_file(shared + "/.hidden", TOTP, 0400, u2.uid, u2.gid);
  w().service("n10", "user=u2 secret=" + shared + "/${USER}");
  for (const char* name : {"sub/../victim", ".hidden"}) {
    auto r = auth({totp(T)}, T, "n10", name);
    EXPECT_EQ(r.code, 7) << name << "\n" << r.dump();
  }
}

// ---- J: grace period -------------------------------------------------------------------------

run_result remote(world& w, const std::vector<std::string>& answers, long long t,
                  const std::optional<std::string>& rhost, const std::string& service) {
  run_options o;
  o.service = service;
  o.answers = answers;
  o.time = t;
  o.rhost = rhost;
  return w.run(o);
}

TEST_P(files, J2_grace_with_disallow_reuse) {
  auto path = w().write_secret(REUSE);
  w().service("gp", "grace_period=3600");
  auto r = remote(w(), {totp(T)}, T, "10.0.0.1", "gp");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" LAST0 10.0.0.1 " + std::to_string(T) +
                                "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
  r = remote(w(), {}, T + 10, "10.0.0.1", "gp");
  EXPECT_EQ(r.code, 0) << "same host: grace\n" << r.dump();
  EXPECT_EQ(r.prompts(), 0);
  EXPECT_TRUE(r.logged(LOG_INFO, "within grace period: \"u1\"")) << r.dump();
  EXPECT_EQ(remote(w(), {}, T + 10, "10.0.0.2", "gp").prompts(), 2) << "other host";
  EXPECT_EQ(remote(w(), {}, T + 3601, "10.0.0.1", "gp").prompts(), 2) << "expired";
  EXPECT_EQ(remote(w(), {}, T + 3599, "10.0.0.1", "gp").code, 0) << "T+3599 still inside";
  EXPECT_EQ(remote(w(), {}, T + 10, std::nullopt, "gp").prompts(), 2) << "no rhost, no grace";
}

TEST_P(files, J3_grace_period_zero_never_holds) {
  w().write_secret(S + "\n\" LAST0 10.0.0.1 " + std::to_string(T) + "\n\" TOTP_AUTH\n");
  w().service("gp0", "grace_period=0");
  auto r = remote(w(), {}, T + 1, "10.0.0.1", "gp0");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.prompts(), 2);
}

TEST_P(files, J4_eleven_hosts_replace_the_oldest) {
  auto path = w().write_secret(REUSE);
  w().service("gp", "grace_period=3600");
  for (int i = 1; i <= 11; ++i) {
    long long t = T + 30 * i;
    auto r = remote(w(), {totp(t)}, t, "host" + std::to_string(i), "gp");
    ASSERT_EQ(r.code, 0) << i << r.dump();
  }
  std::string bytes = w().read(path);
  EXPECT_NE(bytes.find("\" LAST0 host11 " + std::to_string(T + 330) + "\n"), std::string::npos)
      << bytes;
  for (int i = 2; i <= 10; ++i) {
    EXPECT_NE(bytes.find("\" LAST" + std::to_string(i - 1) + " host" + std::to_string(i) + " "),
              std::string::npos)
        << bytes;
  }
  EXPECT_EQ(bytes.find("host1 "), std::string::npos) << bytes;
}

TEST_F(ours_files, J1_HEAD_grace_timestamp_always_persisted) {
  auto path = w().write_secret(TOTP);
  w().service("gp", "grace_period=3600");
  auto r = remote(w(), {totp(T)}, T, "10.0.0.1", "gp");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(w().read(path), S + "\n\" LAST0 10.0.0.1 " + std::to_string(T) + "\n\" TOTP_AUTH\n")
      << "1.08 writes nothing here (issue #193)";
  r = remote(w(), {}, T + 5, "10.0.0.1", "gp");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_F(ours_files, J5_percent_in_rhost_works) {
  w().write_secret(TOTP);
  w().service("gp", "grace_period=3600");
  EXPECT_EQ(remote(w(), {totp(T)}, T, "fe80::1%eth0", "gp").code, 0);
  auto r = remote(w(), {}, T + 5, "fe80::1%eth0", "gp");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_F(ours_files, J6_exact_host_match_not_prefix) {
  w().write_secret(S + "\n\" LAST0 10.0.0.12 " + std::to_string(T) + "\n\" TOTP_AUTH\n");
  w().service("gp", "grace_period=3600");
  auto r = remote(w(), {}, T + 5, "10.0.0.1", "gp");
  EXPECT_EQ(r.prompts(), 2) << "10.0.0.1 must not match 10.0.0.12\n" << r.dump();
  EXPECT_NE(r.code, 0);
}

TEST_F(ours_files, J7_no_LAST_slash_when_all_entries_in_future) {
  std::string lines;
  for (int i = 0; i < 10; ++i) {
    lines += "\" LAST" + std::to_string(i) + " h" + std::to_string(i) + " " +
             std::to_string(T + 10000) + "\n";
  }
  auto path = w().write_secret(S + "\n" + lines + "\" TOTP_AUTH\n");
  w().service("gp", "grace_period=3600");
  auto r = remote(w(), {totp(T)}, T, "newhost", "gp");
  EXPECT_EQ(w().read(path).find("LAST/"), std::string::npos) << w().read(path);
}

// ---- P: interactions -------------------------------------------------------------------------

TEST_P(files, P1_rate_limited_but_inside_grace_period_succeeds) {
  constexpr long long t = 1700000000;
  w().write_secret(S + "\n\" RATE_LIMIT 1 30 1700000000\n\" LAST0 10.0.0.1 1700000000\n" +
                   "\" TOTP_AUTH\n");
  w().service("gp", "grace_period=3600");
  auto r = remote(w(), {}, t + 1, "10.0.0.1", "gp");
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_EQ(r.prompts(), 0);
}

TEST_F(ours_files, P2_resync_code_is_recorded_for_disallow_reuse) {
  auto path = w().write_secret(REUSE);
  EXPECT_EQ(auth(totp(T - 150), T).code, 7);
  EXPECT_EQ(auth(totp(T + 30 - 150), T + 30).code, 7);
  auto r = auth(totp(T + 60 - 150), T + 60);
  ASSERT_EQ(r.code, 0) << "resync\n" << r.dump();
  r = auth(totp(T + 60 - 150), T + 60);
  EXPECT_EQ(r.code, 7) << "the reference accepts the resync code a second time (spec P2)\n"
                       << r.dump();
}

PVETOTP_INSTANTIATE_COMPAT(files);

}  // namespace
}  // namespace pvetotp::itest
