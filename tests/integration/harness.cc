#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace pvetotp::itest {
namespace {

constexpr const char* k_ignore_marker = "PVETOTP-TEST-MODULE-RETURNED-IGNORE";
constexpr const char* k_reference_module =
    "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so";
constexpr const char* k_nss_wrapper = "libnss_wrapper.so";

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("write");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// Spawns argv with stdout (and stderr) on a pipe; returns pid and the read end.
std::pair<pid_t, int> spawn_with_pipe(std::vector<std::string> argv, std::vector<std::string> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    fail("pipe2");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  auto args = c_array(argv);
  auto envp = c_array(env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    errno = rc;
    fail("posix_spawn " + argv[0]);
  }
  return {pid, fds[0]};
}

// Reads until EOF or the deadline; a hung child is killed so a broken module cannot hang CI.
int collect(pid_t pid, int fd, std::string& out, int timeout_seconds = 60) {
  auto deadline = now_seconds() + timeout_seconds;
  char buf[4096];
  for (;;) {
    int left_ms = static_cast<int>((deadline - now_seconds()) * 1000);
    if (left_ms <= 0) {
      kill(pid, SIGKILL);
      out += "\nHARNESS: child killed after timeout\n";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, left_ms);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string octal(mode_t m) {
  std::ostringstream s;
  s << std::oct << m;
  return s.str();
}

}  // namespace

std::string impl_name(impl which) {
  return which == impl::ours ? "ours" : "reference";
}

std::string module_path(impl which) {
  return which == impl::ours ? std::string(PVETOTP_MODULE_PATH) : std::string(k_reference_module);
}

bool running_as_root() {
  return geteuid() == 0;
}

process_output run_process(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env) {
  std::vector<std::string> e = env;
  if (e.empty()) {
    for (char** p = environ; *p; ++p) {
      e.emplace_back(*p);
    }
  }
  auto [pid, fd] = spawn_with_pipe(argv, e);
  process_output result;
  result.status = collect(pid, fd, result.out);
  return result;
}

std::string totp(long long epoch, const std::string& secret, int step, int digits,
                 const std::string& algorithm) {
  std::vector<std::string> argv = {
      "oathtool", algorithm == "sha1" ? "--totp" : "--totp=" + algorithm,
      "-b",       secret,
      "-s",       std::to_string(step) + "s",
      "-d",       std::to_string(digits),
      "-N",       "@" + std::to_string(epoch)};
  auto r = run_process(argv);
  if (r.status != 0) {
    throw std::runtime_error("oathtool failed: " + r.out);
  }
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) {
    r.out.pop_back();
  }
  return r.out;
}

std::string hotp(long long counter, const std::string& secret, int digits) {
  auto r = run_process({"oathtool", "--hotp", "-b", secret, "-c", std::to_string(counter), "-d",
                        std::to_string(digits)});
  if (r.status != 0) {
    throw std::runtime_error("oathtool failed: " + r.out);
  }
  while (!r.out.empty() && r.out.back() == '\n') {
    r.out.pop_back();
  }
  return r.out;
}

// ---- run_result ---------------------------------------------------------------------------

int run_result::prompts() const {
  return static_cast<int>(std::count_if(messages.begin(), messages.end(), [](const message& m) {
    return m.style == "PROMPT_ECHO_OFF" || m.style == "PROMPT_ECHO_ON";
  }));
}

bool run_result::ignored() const {
  return shown("TEXT_INFO", k_ignore_marker);
}

bool run_result::logged(std::string_view needle) const {
  return std::any_of(syslog.begin(), syslog.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

bool run_result::logged(int severity, std::string_view needle) const {
  return std::any_of(syslog.begin(), syslog.end(), [&](const std::string& l) {
    return (std::atoi(l.c_str()) & 7) == severity && l.find(needle) != std::string::npos;
  });
}

bool run_result::shown(std::string_view style, std::string_view needle) const {
  return std::any_of(messages.begin(), messages.end(), [&](const message& m) {
    return m.style == style && m.text.find(needle) != std::string::npos;
  });
}

std::string run_result::dump() const {
  std::string s = "--- client stdout (exit " + std::to_string(exit_status) + ") ---\n" + out;
  s += "--- syslog ---\n";
  for (const auto& l : syslog) {
    s += l + "\n";
  }
  return s;
}

// ---- world --------------------------------------------------------------------------------

world::world(impl which) : world(module_path(which)) {
  reference_ = which == impl::reference;
}

world::world(std::string module) : module_(std::move(module)) {
  char tmpl[] = "/tmp/pvetotp-itest-XXXXXX";
  if (!mkdtemp(tmpl)) {
    fail("mkdtemp");
  }
  dir_ = tmpl;
  // 0755 so the module, running with the fake user's fsuid, can traverse to the homes.
  chmod(dir_.c_str(), 0755);
  confdir_ = dir_ + "/pam.d";
  mkdir(confdir_.c_str(), 0755);
  mkdir((dir_ + "/home").c_str(), 0755);
  passwd_path_ = dir_ + "/passwd";
  group_path_ = dir_ + "/group";
  passdb_ = dir_ + "/passdb";

  users_.push_back({"root", 0, 0, "/root"});
  users_.push_back({"nobody", 65534, 65534, "/nonexistent"});
  groups_.push_back({"root", 0, {}});
  groups_.push_back({"nogroup", 65534, {}});
  groups_.push_back({"totp", 50100, {}});
  groups_.push_back({"other", 50101, {}});
  add_user("u1", 50001, 50001);
  add_user("u2", 50002, 50002);
  for (auto& g : groups_) {
    if (g.name == "totp") {
      g.members = {"u1"};
    }
  }
  write_nss_files();
}

world::~world() {
  if (!dir_.empty() && std::getenv("PVETOTP_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

const user_info& world::add_user(const std::string& name, uid_t uid, gid_t gid, bool make_home) {
  user_info u{name, uid, gid, dir_ + "/home/" + name};
  if (make_home) {
    mkdir(u.home.c_str(), 0755);
    if (chown(u.home.c_str(), uid, gid) != 0) {
      fail("chown home");
    }
  }
  users_.push_back(u);
  if (std::none_of(groups_.begin(), groups_.end(), [&](auto& g) { return g.gid == gid; })) {
    groups_.push_back({name, gid, {}});
  }
  write_nss_files();
  return users_.back();
}

void world::add_group(const std::string& name, gid_t gid, const std::vector<std::string>& members) {
  groups_.push_back({name, gid, members});
  write_nss_files();
}

const user_info& world::user(const std::string& name) const {
  for (const auto& u : users_) {
    if (u.name == name) {
      return u;
    }
  }
  throw std::runtime_error("no such test user " + name);
}

std::string world::secret_path(const std::string& user_name) const {
  return user(user_name).home + "/.google_authenticator";
}

void world::write_nss_files() const {
  std::string passwd;
  for (const auto& u : users_) {
    passwd += u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.gid) + ":" + u.name +
              ":" + u.home + ":/bin/sh\n";
  }
  std::string group;
  for (const auto& g : groups_) {
    group += g.name + ":x:" + std::to_string(g.gid) + ":";
    for (size_t i = 0; i < g.members.size(); ++i) {
      group += (i ? "," : "") + g.members[i];
    }
    group += "\n";
  }
  write_file(passwd_path_, passwd, 0644, 0, 0);
  write_file(group_path_, group, 0644, 0, 0);
}

void world::service(const std::string& name, const std::string& options) {
  raw_service(name,
              "auth [success=done new_authtok_reqd=done ignore=ignore default=die] @MODULE@ " +
                  options + "\n" + "auth optional pam_echo.so " + k_ignore_marker + "\n" +
                  "auth required pam_permit.so\n" + "account required pam_permit.so\n");
}

void world::plain_service(const std::string& name, const std::string& options) {
  raw_service(name, "auth required @MODULE@ " + options + "\naccount required pam_permit.so\n");
}

void world::raw_service(const std::string& name, const std::string& text) {
  std::string t = text;
  for (size_t pos; (pos = t.find("@MODULE@")) != std::string::npos;) {
    t.replace(pos, 8, module_);
  }
  for (size_t pos; (pos = t.find("@PASSDB@")) != std::string::npos;) {
    t.replace(pos, 8, passdb_);
  }
  write_file(confdir_ + "/" + name, t, 0644, 0, 0);
}

void world::set_passdb(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  write_file(passdb_, text, 0644, 0, 0);
}

void world::write_file(const std::string& path, std::string_view bytes, mode_t mode, uid_t uid,
                       gid_t gid) const {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fail("create " + path);
  }
  write_all(fd, bytes);
  if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0) {
    fail("chown/chmod " + path + " to " + octal(mode));
  }
  ::close(fd);
}

std::string world::write_secret(std::string_view bytes, mode_t mode,
                                const std::string& user_name) const {
  const auto& u = user(user_name);
  std::string path = secret_path(user_name);
  write_file(path, bytes, mode, u.uid, u.gid);
  return path;
}

std::string world::read(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "<cannot read " + path + ">";
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct stat world::stat_of(const std::string& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail("stat " + path);
  }
  return st;
}

struct stat world::lstat_of(const std::string& path) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    fail("lstat " + path);
  }
  return st;
}

bool world::exists(const std::string& path) const {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> world::list_dir(const std::string& path) const {
  std::vector<std::string> names;
  DIR* d = opendir(path.c_str());
  if (!d) {
    return names;
  }
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      names.push_back(n);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> world::leftovers(const std::string& path,
                                          const std::vector<std::string>& expected) const {
  std::vector<std::string> out;
  for (const auto& n : list_dir(path)) {
    bool is_lock = n.size() > 5 && n.compare(n.size() - 5, 5, ".lock") == 0;
    if (!is_lock && std::find(expected.begin(), expected.end(), n) == expected.end()) {
      out.push_back(n);
    }
  }
  return out;
}

pending_run world::start(const run_options& o) const {
  pending_run p;
  p.syslog_path =
      dir_ + "/syslog." + std::to_string(getpid()) + "." + std::to_string(run_counter_++);
  // Pre-created world-writable: the module logs after dropping its fsuid to the target user.
  write_file(p.syslog_path, "", 0666, 0, 0);

  std::vector<std::string> argv = {PVETOTP_PAMCLIENT_PATH, "--confdir", confdir_, "--service",
                                   o.service};
  if (!o.user.empty()) {
    argv.insert(argv.end(), {"--user", o.user});
  }
  if (o.rhost) {
    argv.insert(argv.end(), {"--rhost", *o.rhost});
  }
  if (o.authtok) {
    argv.insert(argv.end(), {"--authtok", *o.authtok});
  }
  for (const auto& a : o.answers) {
    argv.insert(argv.end(), {"--answer", a});
  }
  if (o.pve) {
    argv.insert(argv.end(), {"--pve", "--password", o.password});
  }
  if (o.repeat != 1) {
    argv.insert(argv.end(), {"--repeat", std::to_string(o.repeat)});
  }
  if (!o.barrier.empty()) {
    argv.insert(argv.end(), {"--barrier", o.barrier});
  }
  if (o.replace_on_prompt) {
    argv.insert(argv.end(),
                {"--replace-on-prompt", o.replace_on_prompt->first, o.replace_on_prompt->second});
  }

  std::vector<std::string> env = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      std::string("LD_PRELOAD=") + k_nss_wrapper + ":" + PVETOTP_TESTSHIM_PATH,
      "NSS_WRAPPER_PASSWD=" + passwd_path_,
      "NSS_WRAPPER_GROUP=" + group_path_,
      "PVETOTP_TEST_SYSLOG=" + p.syslog_path,
      "PAM_MATRIX_PASSWD=" + passdb_,
  };
  if (o.time) {
    env.push_back("PVETOTP_TEST_TIME=" + std::to_string(*o.time));
  }
  // Extra variables replace defaults of the same name: a duplicated name is read as its first
  // occurrence by getenv but its last by ld.so, so it must never be there twice.
  for (const auto& [k, v] : extra_env_) {
    const std::string prefix = k + "=";
    auto same = std::find_if(env.begin(), env.end(),
                             [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    if (same != env.end()) {
      *same = prefix + v;
    } else {
      env.push_back(prefix + v);
    }
  }
  // Sanitizer builds of the module need their runtime options to reach the child.
  // NSS_WRAPPER_DISABLE_DEEPBIND: nss_wrapper dlopens libc with RTLD_DEEPBIND, which ASan
  // refuses (it aborts the client); scripts/test.sh --sanitize sets it to 1 (issue 7).
  for (const char* k :
       {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "NSS_WRAPPER_DISABLE_DEEPBIND"}) {
    if (const char* v = std::getenv(k)) {
      env.push_back(std::string(k) + "=" + v);
    }
  }
  p.started = now_seconds();
  auto [pid, fd] = spawn_with_pipe(argv, env);
  p.pid = pid;
  p.stdout_fd = fd;
  return p;
}

run_result world::finish(pending_run& p) const {
  run_result r;
  r.exit_status = collect(p.pid, p.stdout_fd, r.out);
  r.seconds = now_seconds() - p.started;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("MSG ", 0) == 0) {
      auto space = line.find(' ', 4);
      message m;
      m.style = line.substr(4, space - 4);
      m.text = space == std::string::npos ? "" : line.substr(space + 1);
      r.messages.push_back(m);
    } else if (line.rfind("RESULT ", 0) == 0) {
      std::istringstream f(line.substr(7));
      f >> r.code_name >> r.code;
      r.round_codes.push_back(r.code);
    }
  }
  std::istringstream log(read(p.syslog_path));
  for (std::string line; std::getline(log, line);) {
    r.syslog.push_back(line);
  }
  ::unlink(p.syslog_path.c_str());
  return r;
}

run_result world::run(const run_options& options) const {
  auto p = start(options);
  return finish(p);
}

}  // namespace pvetotp::itest

namespace pvetotp::itest {

void module_test::make_world(impl which) {
  if (!running_as_root()) {
    GTEST_SKIP() << "integration tests need root (setfsuid to fake users, chown files)";
  }
  std::string module = module_path(which);
  if (access(module.c_str(), R_OK) != 0) {
    GTEST_FAIL() << "module not found: " << module << " (build target pam_pvetotp first)";
  }
  world_ = std::make_unique<world>(which);
  world_->service("test", "");
}

run_result module_test::auth(const std::vector<std::string>& answers, long long t,
                             const std::string& service, const std::string& user) {
  run_options o;
  o.service = service;
  o.user = user;
  o.answers = answers;
  o.time = t;
  return world_->run(o);
}

}  // namespace pvetotp::itest
