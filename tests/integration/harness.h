// Integration-test harness: runs the real PAM module through real libpam in a child process.
//
// Each test builds a throw-away "world" under /tmp: passwd/group files for nss_wrapper, home
// directories owned by fake uids, a PAM confdir with generated service files, and secret files
// with chosen bytes, mode and owner. The child is tests/support/pvetotp-pamclient, started with
// posix_spawn and LD_PRELOAD=libnss_wrapper.so:libpvetotp_testshim.so so users, the clock and
// syslog are all private to the test. Nothing under /etc is touched.
//
// The module path is a parameter: the same scenario can run against our pam_pvetotp.so and
// against Debian's pam_google_authenticator.so (1.08), which validates both the harness and the
// expectations wherever the two are meant to behave the same.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pvetotp::itest {

enum class impl { ours, reference };

std::string impl_name(impl which);
std::string module_path(impl which);

// Printable test-parameter names: "ours" / "reference".
struct impl_param_name {
  std::string operator()(const testing::TestParamInfo<impl>& info) const {
    return impl_name(info.param);
  }
};

// The secret used throughout the spec's experiments.
inline constexpr const char* k_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
// A time on a 30 s step boundary: step 56666666 (spec "skew" and B1 experiments use it).
inline constexpr long long k_t0 = 1699999980;

struct message {
  std::string style;  // PROMPT_ECHO_OFF, PROMPT_ECHO_ON, ERROR_MSG, TEXT_INFO
  std::string text;
};

struct run_result {
  int code = -1;  // the client's RESULT line of the last round, -1 if none
  std::string code_name;
  int exit_status = -1;
  std::vector<int> round_codes;
  std::vector<message> messages;
  std::vector<std::string> syslog;  // "<priority> <message>" as captured by the shim
  std::string out;                  // the client's whole stdout
  double seconds = 0;               // wall time of the child

  int prompts() const;
  // True when the module returned PAM_IGNORE (the probe stack then shows a marker message).
  bool ignored() const;
  bool logged(std::string_view needle) const;
  // severity is the syslog level (LOG_ERR = 3 ...), matched on priority & 7.
  bool logged(int severity, std::string_view needle) const;
  bool shown(std::string_view style, std::string_view needle) const;
  // Everything, for failure messages.
  std::string dump() const;
};

struct run_options {
  std::string service = "test";
  std::string user = "u1";
  std::optional<std::string> rhost;
  std::optional<std::string> authtok;
  std::vector<std::string> answers;
  bool pve = false;
  std::string password;
  int repeat = 1;
  std::optional<long long> time;  // pinned epoch; unset = real clock
  std::string barrier;            // see pvetotp-pamclient --barrier
  // rename(first, second) at the first prompt (pvetotp-pamclient --replace-on-prompt).
  std::optional<std::pair<std::string, std::string>> replace_on_prompt;
};

struct user_info {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

// A spawned client that has not been collected yet (concurrency tests start many).
struct pending_run {
  pid_t pid = -1;
  int stdout_fd = -1;
  std::string syslog_path;
  double started = 0;
};

class world {
 public:
  // Creates the temp world with users root, nobody, u1 (uid 50001, member of totp), u2 (50002)
  // and groups root, nogroup, u1, u2, totp (50100), other (50101).
  explicit world(impl which);
  explicit world(std::string module);
  ~world();
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& module() const { return module_; }
  const std::string& confdir() const { return confdir_; }
  bool is_reference() const { return reference_; }

  const user_info& add_user(const std::string& name, uid_t uid, gid_t gid, bool make_home = true);
  void add_group(const std::string& name, gid_t gid, const std::vector<std::string>& members);
  const user_info& user(const std::string& name) const;
  std::string secret_path(const std::string& user = "u1") const;

  // The probe stack: the module line with `options`, then a marker that only runs when the
  // module returned PAM_IGNORE, then pam_permit; failures of the module end the stack with the
  // module's own code (`die`), successes with PAM_SUCCESS (`done`). This behaves like
  // `auth required <module>` except that PAM_IGNORE becomes observable.
  void service(const std::string& name, const std::string& options);
  // Exactly the brief's layout: `auth required <module> <options>` + `account required
  // pam_permit.so`.
  void plain_service(const std::string& name, const std::string& options);
  // Any text; "@MODULE@" is replaced by the module path.
  void raw_service(const std::string& name, const std::string& text);

  // pam_matrix password database (user:password:service lines).
  void set_passdb(const std::vector<std::string>& lines);
  const std::string& passdb() const { return passdb_; }

  void write_file(const std::string& path, std::string_view bytes, mode_t mode, uid_t uid,
                  gid_t gid) const;
  // Writes the user's secret file (default path, mode 0400, owned by the user).
  std::string write_secret(std::string_view bytes, mode_t mode = 0400,
                           const std::string& user = "u1") const;
  std::string read(const std::string& path) const;
  struct stat stat_of(const std::string& path) const;   // follows symlinks
  struct stat lstat_of(const std::string& path) const;  // does not
  bool exists(const std::string& path) const;
  std::vector<std::string> list_dir(const std::string& path) const;
  // Names in `path` that look like temp files left behind (anything but the given names and the
  // module's `.lock` files).
  std::vector<std::string> leftovers(const std::string& path,
                                     const std::vector<std::string>& expected) const;

  run_result run(const run_options& options) const;
  pending_run start(const run_options& options) const;
  run_result finish(pending_run& run) const;

  // Extra environment for the child (e.g. PAM_MATRIX_PASSWD).
  void set_env(const std::string& key, const std::string& value) { extra_env_[key] = value; }

 private:
  void write_nss_files() const;

  std::string module_;
  bool reference_ = false;
  std::string dir_;
  std::string confdir_;
  std::string passwd_path_;
  std::string group_path_;
  std::string passdb_;
  std::vector<user_info> users_;
  struct group_info {
    std::string name;
    gid_t gid;
    std::vector<std::string> members;
  };
  std::vector<group_info> groups_;
  std::map<std::string, std::string> extra_env_;
  mutable unsigned run_counter_ = 0;
};

// Codes from oathtool, run as a separate process (never from our own code).
std::string totp(long long epoch, const std::string& secret = k_secret, int step = 30,
                 int digits = 6, const std::string& algorithm = "sha1");
std::string hotp(long long counter, const std::string& secret = k_secret, int digits = 6);

// The TOTP step number the module computes (epoch / step).
inline long long step_of(long long epoch, int step = 30) {
  return epoch / step;
}

bool running_as_root();

// Runs argv, returns exit status (or -1) and stdout.
struct process_output {
  int status = -1;
  std::string out;
};
process_output run_process(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env = {});

}  // namespace pvetotp::itest

// Every integration test needs root: fake uids own the files and the module switches fsuid.
#define PVETOTP_REQUIRE_ROOT()                                                             \
  do {                                                                                     \
    if (!::pvetotp::itest::running_as_root()) {                                            \
      GTEST_SKIP() << "integration tests need root (setfsuid to fake users, chown files)"; \
    }                                                                                      \
  } while (0)

namespace pvetotp::itest {

// Base fixture: one world per test, built for the module under test. Parameterised suites
// (ours + reference) derive from it together with testing::WithParamInterface<impl>.
class module_test : public testing::Test {
 protected:
  void make_world(impl which);
  world& w() { return *world_; }

  // One authentication with the given typed answers at a pinned time.
  run_result auth(const std::vector<std::string>& answers, long long t,
                  const std::string& service = "test", const std::string& user = "u1");
  run_result auth(const std::string& answer, long long t, const std::string& service = "test") {
    return auth(std::vector<std::string>{answer}, t, service);
  }

  std::unique_ptr<world> world_;
};

// Suites that run against both modules: behaviour that 1.08 and pam_pvetotp share.
class compat_test : public module_test, public testing::WithParamInterface<impl> {
 protected:
  void SetUp() override { make_world(GetParam()); }
  bool reference() const { return GetParam() == impl::reference; }
};

// Suites for pam_pvetotp only: its deliberate differences and extensions.
class ours_test : public module_test {
 protected:
  void SetUp() override { make_world(impl::ours); }
};

}  // namespace pvetotp::itest

#define PVETOTP_INSTANTIATE_COMPAT(suite)                                                        \
  INSTANTIATE_TEST_SUITE_P(                                                                      \
      , suite, testing::Values(::pvetotp::itest::impl::ours, ::pvetotp::itest::impl::reference), \
      ::pvetotp::itest::impl_param_name())
