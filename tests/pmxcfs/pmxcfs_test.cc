// Issue 11: secret files on a Proxmox VE cluster file system, without a cluster.
//
// Each test runs in a private mount namespace: /etc gets a throw-away overlay so /etc/pve can
// exist, and a fresh tmpfs is mounted on /etc/pve. The PAM client (real libpam, the built
// module with `secret=/etc/pve/priv/pvetotp/${USER} user=root`, exactly the documented line)
// and pvetotp-enroll run with libpvetotp_pmxcfs_emu.so preloaded, which enforces pmxcfs's
// rules on that tmpfs (see pmxcfs_emu.c). Two "nodes" are processes with PMXEMU_NODE=a or b:
// they share the files and the mkdir locks but not their flocks.
//
// The first group of tests checks the emulation itself against spec pve-and-peers 1.7 with
// ordinary tools (chmod, chown, ln, dd, flock, mv) run under the shim, so the module tests
// below stand on a checked emulation.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace pvetotp::itest {
namespace {

constexpr const char* k_store = "/etc/pve";
constexpr const char* k_dir = "/etc/pve/priv/pvetotp";
constexpr const char* k_lock = "/etc/pve/priv/lock/pvetotp-priv_pvetotp_u1";
constexpr gid_t k_www_data = 33;
const std::string S = k_secret;
constexpr long long T = k_t0;

// Once per process (ctest runs every test in its own process).
std::string namespace_problem() {
  static std::string problem = [] {
    if (!running_as_root())
      return std::string("needs root (mount namespace, fake users)");
    if (::unshare(CLONE_NEWNS) != 0)
      return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return std::string("mount --make-rprivate /: ") + std::strerror(errno);
    struct stat st {};
    if (::stat(k_store, &st) != 0) {
      // An overlay on /etc (private to this namespace) so the real /etc is not touched.
      char tmpl[] = "/tmp/pvetotp-pmxcfs-etc.XXXXXX";
      if (::mkdtemp(tmpl) == nullptr)
        return std::string("mkdtemp: ") + std::strerror(errno);
      const std::string base = tmpl;
      ::mkdir((base + "/upper").c_str(), 0755);
      ::mkdir((base + "/work").c_str(), 0755);
      const std::string opts =
          "lowerdir=/etc,upperdir=" + base + "/upper,workdir=" + base + "/work";
      if (::mount("overlay", "/etc", "overlay", 0, opts.c_str()) != 0)
        return std::string("overlay on /etc: ") + std::strerror(errno);
      if (::mkdir(k_store, 0755) != 0)
        return std::string("mkdir /etc/pve: ") + std::strerror(errno);
      // The overlay's upper dir only holds the empty pve/ directory; removed at exit.
      static std::string cleanup = base;
      std::atexit([] {
        ::umount2("/etc", MNT_DETACH);
        std::error_code ec;
        std::filesystem::remove_all(cleanup, ec);
      });
    }
    return std::string();
  }();
  return problem;
}

void must(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

void make_store_dir(const std::string& path, mode_t mode) {
  must(::mkdir(path.c_str(), mode) == 0 || errno == EEXIST, "mkdir " + path);
  must(::chown(path.c_str(), 0, k_www_data) == 0, "chown " + path);
  must(::chmod(path.c_str(), mode) == 0, "chmod " + path);
}

class pmxcfs : public ours_test {
 protected:
  void SetUp() override {
    const std::string problem = namespace_problem();
    if (!problem.empty())
      GTEST_SKIP() << problem;
    ours_test::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    ASSERT_EQ(::mount("tmpfs", k_store, "tmpfs", 0, "mode=0755,size=16m"), 0)
        << std::strerror(errno);
    mounted_ = true;
    ASSERT_EQ(::chown(k_store, 0, k_www_data), 0);
    make_store_dir("/etc/pve/priv", 0700);
    make_store_dir("/etc/pve/priv/lock", 0700);
    make_store_dir(k_dir, 0700);
    ctl_ = w().dir() + "/emu";
    ASSERT_EQ(::mkdir(ctl_.c_str(), 0700), 0);
    w().service("test", "secret=/etc/pve/priv/pvetotp/${USER} user=root");
  }
  void TearDown() override {
    if (mounted_)
      ::umount2(k_store, MNT_DETACH);
  }

  std::vector<std::string> emu_env(const std::string& node) const {
    return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            std::string("LD_PRELOAD=libnss_wrapper.so:") + PVETOTP_PMXCFS_EMU_PATH,
            "NSS_WRAPPER_PASSWD=" + w_dir() + "/passwd",
            "NSS_WRAPPER_DISABLE_DEEPBIND=1",
            "NSS_WRAPPER_GROUP=" + w_dir() + "/group",
            "PMXEMU_ROOT=" + std::string(k_store),
            "PMXEMU_CTL=" + ctl_,
            "PMXEMU_NODE=" + node};
  }
  std::string w_dir() const { return world_->dir(); }

  // A shell command run as root under the emulation on `node`; returns its exit status.
  int sh(const std::string& command, const std::string& node = "a") {
    return run_process({"/bin/sh", "-c", command}, emu_env(node)).status;
  }
  process_output sh_out(const std::string& command, const std::string& node = "a") {
    return run_process({"/bin/sh", "-c", "{ " + command + "; } 2>&1"}, emu_env(node));
  }

  void use_node(const std::string& node) {
    w().set_env("LD_PRELOAD", std::string("libnss_wrapper.so:") + PVETOTP_TESTSHIM_PATH + ":" +
                                  PVETOTP_PMXCFS_EMU_PATH);
    w().set_env("PMXEMU_ROOT", k_store);
    w().set_env("PMXEMU_CTL", ctl_);
    w().set_env("PMXEMU_NODE", node);
  }
  run_result login(const std::string& node, const std::string& answer, long long t) {
    use_node(node);
    run_options o;
    o.answers = {answer};
    o.time = t;
    return w().run(o);
  }
  pending_run start_login(const std::string& node, const std::string& answer, long long t,
                          const std::string& barrier) {
    use_node(node);
    run_options o;
    o.answers = {answer};
    o.time = t;
    o.barrier = barrier;
    return w().start(o);
  }

  // The file as pmxcfs would hold it after `pvetotp-enroll --store`.
  std::string put_secret(const std::string& bytes) {
    const std::string path = std::string(k_dir) + "/u1";
    w().write_file(path, bytes, 0600, 0, k_www_data);
    return path;
  }
  void set_no_quorum(bool on) {
    const std::string flag = ctl_ + "/no-quorum";
    if (on)
      w().write_file(flag, "", 0600, 0, 0);
    else
      ::unlink(flag.c_str());
  }

  std::string ctl_;
  bool mounted_ = false;
};

// ---- the emulation against spec 1.7 -----------------------------------------------------------

TEST_F(pmxcfs, emu_owner_and_mode_are_fixed) {
  ASSERT_EQ(sh("echo x > /etc/pve/priv/f && echo y > /etc/pve/g && mkdir /etc/pve/d"), 0);
  EXPECT_EQ(w().stat_of("/etc/pve/priv/f").st_mode & 07777, 0600u);
  EXPECT_EQ(w().stat_of("/etc/pve/priv/f").st_uid, 0u);
  EXPECT_EQ(w().stat_of("/etc/pve/priv/f").st_gid, k_www_data);
  EXPECT_EQ(w().stat_of("/etc/pve/g").st_mode & 07777, 0640u);
  EXPECT_EQ(w().stat_of("/etc/pve/d").st_mode & 07777, 0755u);
  // chmod: only exactly the fixed mode succeeds; everything else is EPERM.
  EXPECT_EQ(sh("chmod 0600 /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("chmod 0400 /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("chmod 0640 /etc/pve/priv/f"), 0);
  EXPECT_EQ(sh("chmod 0640 /etc/pve/g"), 0);
  EXPECT_NE(sh("chmod 0600 /etc/pve/g"), 0);
  EXPECT_NE(sh("chmod 0700 /etc/pve/d"), 0);
  EXPECT_NE(sh_out("chmod 0400 /etc/pve/priv/f").out.find("Operation not permitted"),
            std::string::npos);
  // chown: root / www-data / unchanged are no-ops, anything else EPERM.
  EXPECT_EQ(sh("chown 0:33 /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("chown nobody /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("chown :root /etc/pve/priv/f"), 0);
  EXPECT_EQ(w().stat_of("/etc/pve/priv/f").st_mode & 07777, 0600u);
  EXPECT_EQ(w().stat_of("/etc/pve/priv/f").st_gid, k_www_data);
  // Outside the store nothing changes.
  const std::string outside = w().dir() + "/outside";
  EXPECT_EQ(sh("echo z > " + outside + " && chmod 0400 " + outside), 0);
  EXPECT_EQ(w().stat_of(outside).st_mode & 07777, 0400u);
}

TEST_F(pmxcfs, emu_no_links_but_rename_and_excl_create_work) {
  ASSERT_EQ(sh("echo x > /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("ln /etc/pve/priv/f /etc/pve/priv/hard"), 0);
  EXPECT_NE(sh("ln -s /etc/pve/priv/f /etc/pve/priv/soft"), 0);
  EXPECT_NE(sh_out("ln -s f /etc/pve/priv/soft").out.find("Operation not permitted"),
            std::string::npos);
  EXPECT_FALSE(w().exists("/etc/pve/priv/hard"));
  // rename replaces an existing target; O_EXCL (set -C) refuses an existing name.
  ASSERT_EQ(sh("echo new > /etc/pve/priv/tmp && mv -f /etc/pve/priv/tmp /etc/pve/priv/f"), 0);
  EXPECT_EQ(w().read("/etc/pve/priv/f"), "new\n");
  EXPECT_NE(sh("set -C; echo again > /etc/pve/priv/f"), 0);
  EXPECT_EQ(w().read("/etc/pve/priv/f"), "new\n");
  // RENAME_NOREPLACE (mv -n on coreutils 9 uses renameat2) is EINVAL on pmxcfs's FUSE 2
  // interface; the emulation says so rather than silently honouring it.
  ASSERT_EQ(sh("mkdir /etc/pve/priv/lock/held"), 0);
  EXPECT_NE(sh("mv /etc/pve/priv/lock/held /etc/pve/priv/lock/moved"), 0);
  EXPECT_TRUE(w().exists("/etc/pve/priv/lock/held"));
}

TEST_F(pmxcfs, emu_size_cap_is_1_mib) {
  // dd writes with write(2), as libtotp does (stdio's internal writes are not interposed).
  EXPECT_EQ(sh("dd if=/dev/zero of=/etc/pve/priv/big bs=1024 count=1024 status=none"), 0);
  const auto out = sh_out("dd if=/dev/zero of=/etc/pve/priv/big2 bs=1025 count=1024 status=none");
  EXPECT_NE(out.status, 0);
  EXPECT_NE(out.out.find("File too large"), std::string::npos) << out.out;
  EXPECT_EQ(w().stat_of("/etc/pve/priv/big2").st_size, 1023 * 1025);
}

TEST_F(pmxcfs, emu_flocks_are_node_local) {
  ASSERT_EQ(sh("echo x > /etc/pve/priv/f"), 0);
  // Node a holds the lock for 2 s; node a's second process must fail a non-blocking flock,
  // node b's must get it.
  const std::string hold = "flock -x /etc/pve/priv/f -c 'touch " + ctl_ + "/held; sleep 2'";
  pid_t holder = ::fork();
  if (holder == 0) {
    _exit(sh(hold, "a"));
  }
  for (int i = 0; i < 200 && !w().exists(ctl_ + "/held"); ++i)
    ::usleep(10000);
  ASSERT_TRUE(w().exists(ctl_ + "/held"));
  EXPECT_NE(sh("flock -xn /etc/pve/priv/f true", "a"), 0) << "same node must conflict";
  EXPECT_EQ(sh("flock -xn /etc/pve/priv/f true", "b"), 0) << "other node must not see it";
  int status = 0;
  ::waitpid(holder, &status, 0);
}

TEST_F(pmxcfs, emu_no_quorum_refuses_writes_with_eacces) {
  ASSERT_EQ(sh("echo x > /etc/pve/priv/f"), 0);
  set_no_quorum(true);
  const auto out = sh_out("echo y > /etc/pve/priv/f");
  EXPECT_NE(out.status, 0);
  EXPECT_NE(out.out.find("Permission denied"), std::string::npos) << out.out;
  EXPECT_NE(sh("mkdir /etc/pve/priv/lock/x"), 0);
  EXPECT_NE(sh("rm /etc/pve/priv/f"), 0);
  EXPECT_NE(sh("echo n > /etc/pve/priv/n"), 0);
  EXPECT_EQ(sh("cat /etc/pve/priv/f > /dev/null"), 0) << "reads still work";
  EXPECT_EQ(sh_out("stat -c %a /etc/pve/priv/f").out, "400\n");
  set_no_quorum(false);
  EXPECT_EQ(sh("echo y > /etc/pve/priv/f"), 0);
}

TEST_F(pmxcfs, emu_statfs_and_lock_expiry) {
  EXPECT_EQ(sh_out("stat -f -c %t /etc/pve").out, "65735546\n");
  EXPECT_NE(sh_out("stat -f -c %t /tmp").out, "65735546\n");
  ASSERT_EQ(sh("mkdir /etc/pve/priv/lock/x"), 0);
  EXPECT_NE(sh("mkdir /etc/pve/priv/lock/x", "b"), 0) << "mkdir is the cluster-wide lock";
  // utime(dir, 0, 0) releases only an expired lock.
  EXPECT_EQ(sh("touch -d @0 /etc/pve/priv/lock/x"), 0);
  EXPECT_TRUE(w().exists("/etc/pve/priv/lock/x")) << "fresh lock must stay";
  const struct timeval old[2] = {{T - 500, 0}, {T - 500, 0}};
  ASSERT_EQ(::utimes("/etc/pve/priv/lock/x", old), 0);
  auto env = emu_env("b");
  env.push_back("NSS_WRAPPER_DISABLE_DEEPBIND=1");
  env.push_back("LD_PRELOAD=libnss_wrapper.so:" + std::string(PVETOTP_TESTSHIM_PATH) + ":" +
                PVETOTP_PMXCFS_EMU_PATH);
  env.push_back("PVETOTP_TEST_TIME=" + std::to_string(T));
  EXPECT_EQ(run_process({"/bin/sh", "-c", "touch -d @0 /etc/pve/priv/lock/x"}, env).status, 0);
  EXPECT_FALSE(w().exists("/etc/pve/priv/lock/x")) << "expired lock must be released";
}

// ---- the module on the emulated cluster ------------------------------------------------------

TEST_F(pmxcfs, enroll_with_store_then_login_on_both_nodes) {
  auto env = emu_env("a");
  const auto enrolled = run_process({PVETOTP_ENROLL_PATH, "-t", "-d", "-f", "-C", "-q", "-w", "3",
                                     "-u", "-e", "2", "--user", "u1", "--store", k_dir},
                                    env);
  ASSERT_EQ(enrolled.status, 0) << enrolled.out;
  const std::string path = std::string(k_dir) + "/u1";
  ASSERT_TRUE(w().exists(path));
  const struct stat st = w().stat_of(path);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, k_www_data);
  EXPECT_TRUE(w().leftovers(k_dir, {"u1"}).empty());
  std::istringstream file(w().read(path));
  std::string secret;
  std::getline(file, secret);
  ASSERT_EQ(secret.size(), 32u);

  auto a = login("a", totp(T, secret), T);
  EXPECT_EQ(a.code, 0) << a.dump();
  auto b = login("b", totp(T + 60, secret), T + 60);
  EXPECT_EQ(b.code, 0) << b.dump();
  EXPECT_FALSE(w().exists(k_lock)) << "cluster lock released after each login";
  // A second enrollment without -f keeps the first (no hard links, no RENAME_NOREPLACE here).
  const auto again = run_process({PVETOTP_ENROLL_PATH, "-t", "-d", "-C", "-q", "-w", "3", "-u",
                                  "--user", "u1", "--store", k_dir},
                                 env);
  EXPECT_NE(again.status, 0);
  std::istringstream file2(w().read(path));
  std::string secret2;
  std::getline(file2, secret2);
  EXPECT_EQ(secret2, secret);
}

TEST_F(pmxcfs, code_used_on_node_a_is_refused_on_node_b) {
  const std::string path = put_secret(S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n");
  const std::string code = totp(T);
  auto a = login("a", code, T);
  ASSERT_EQ(a.code, 0) << a.dump();
  auto b = login("b", code, T);
  EXPECT_NE(b.code, 0) << b.dump();
  EXPECT_TRUE(b.logged("Trying to reuse a previously used time-based code")) << b.dump();
  const struct stat st = w().stat_of(path);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, k_www_data);
}

TEST_F(pmxcfs, scratch_code_accepted_once_across_nodes_in_parallel) {
  constexpr int k_parallel = 16;
  for (int trial = 0; trial < 3; ++trial) {
    const std::string path = put_secret(S + "\n\" TOTP_AUTH\n87654321\n12345678\n");
    const std::string barrier = w().dir() + "/go." + std::to_string(trial);
    std::vector<pending_run> runs;
    for (int i = 0; i < k_parallel; ++i)
      runs.push_back(start_login(i % 2 ? "b" : "a", "87654321", T, barrier));
    w().write_file(barrier, "", 0644, 0, 0);
    int ok = 0;
    std::string dumps;
    for (auto& p : runs) {
      auto r = w().finish(p);
      ok += r.code == 0;
      // Losers must lose on the state they read under the cluster lock. Without that lock
      // the commit's inode check still stops a double use, but only by failing the write
      // ("was replaced by another program"), which this catches.
      if ((r.code != 0 && !r.logged("Invalid verification code")) || r.logged("was replaced"))
        dumps += r.dump();
    }
    std::printf("trial %d: scratch code accepted %d/%d across two nodes\n", trial, ok, k_parallel);
    EXPECT_EQ(ok, 1) << dumps;
    EXPECT_TRUE(dumps.empty()) << dumps;
    EXPECT_EQ(w().read(path), S + "\n\" TOTP_AUTH\n12345678\n");
    EXPECT_FALSE(w().exists(k_lock));
  }
}

TEST_F(pmxcfs, stale_lock_dir_does_not_block_but_a_live_one_does) {
  put_secret(S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n");
  ASSERT_EQ(::mkdir(k_lock, 0700), 0);
  const struct timeval old[2] = {{T - 121 - 5, 0}, {T - 121 - 5, 0}};
  ASSERT_EQ(::utimes(k_lock, old), 0);
  auto r = login("b", totp(T), T);
  EXPECT_EQ(r.code, 0) << r.dump();
  EXPECT_LT(r.seconds, 5.0);
  EXPECT_FALSE(w().exists(k_lock));

  // A lock taken 30 s ago by a live holder is honoured: bounded wait, then a clear denial.
  ASSERT_EQ(::mkdir(k_lock, 0700), 0);
  const struct timeval recent[2] = {{T + 30 - 30, 0}, {T + 30 - 30, 0}};
  ASSERT_EQ(::utimes(k_lock, recent), 0);
  auto blocked = login("a", totp(T + 30), T + 30);
  EXPECT_NE(blocked.code, 0);
  EXPECT_TRUE(blocked.logged("waiting for the cluster lock")) << blocked.dump();
  EXPECT_GE(blocked.seconds, 9.0);
  EXPECT_TRUE(w().exists(k_lock)) << "a live lock is never taken over";
}

TEST_F(pmxcfs, no_quorum_denies_cleanly_and_keeps_the_file) {
  const std::string bytes = S + "\n\" RATE_LIMIT 3 30\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n";
  const std::string path = put_secret(bytes);
  set_no_quorum(true);
  auto r = login("a", totp(T), T);
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged(3, "refuses writes (no quorum?)")) << r.dump();
  EXPECT_EQ(w().read(path), bytes);
  EXPECT_TRUE(w().leftovers(k_dir, {"u1"}).empty());
  EXPECT_FALSE(w().exists(k_lock));
  // Quorum back: the same code works, nothing was lost.
  set_no_quorum(false);
  auto again = login("b", totp(T), T);
  EXPECT_EQ(again.code, 0) << again.dump();
}

TEST_F(pmxcfs, unmounted_store_denies_even_with_nullok) {
  w().service("test", "secret=/etc/pve/priv/pvetotp/${USER} user=root nullok");
  ASSERT_EQ(::umount2(k_store, MNT_DETACH), 0);
  mounted_ = false;
  auto r = login("a", totp(T), T);
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_FALSE(r.ignored()) << "nullok must not skip the second factor";
  EXPECT_TRUE(r.logged(3, "is not mounted")) << r.dump();
}

TEST_F(pmxcfs, file_outside_priv_is_refused) {
  w().service("test", "secret=/etc/pve/pvetotp-${USER} user=root allowed_perm=0640");
  ASSERT_EQ(sh("printf '%s\\n\" TOTP_AUTH\\n' " + S + " > /etc/pve/pvetotp-u1"), 0);
  auto r = login("a", totp(T), T);
  EXPECT_NE(r.code, 0) << r.dump();
  EXPECT_TRUE(r.logged("must be under")) << r.dump();
}

}  // namespace
}  // namespace pvetotp::itest
