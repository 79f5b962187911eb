// enroll_cli_test.cc: pvetotp-enroll as a process.
//
// Expected codes come from oathtool, QR images are decoded by zbarimg, the --user account
// comes from nss_wrapper; the program under test is the built binary, nothing is linked in.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const std::string kBinary = std::string(PVETOTP_BINARY_DIR) + "/tools/pvetotp-enroll";
const std::vector<std::string> kGuide = {"-t",
                                         "-d",
                                         "-f",
                                         "-r",
                                         "3",
                                         "-R",
                                         "30",
                                         "-w",
                                         "3",
                                         "-Q",
                                         "utf8",
                                         "-i",
                                         "pve.homelab.cloud",
                                         "-l",
                                         "root@pam"};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/pvetotp-enroll-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p == nullptr)
      std::abort();
    path_ = p;
    ::chmod(p, 0755);  // so a test can run the tool as another user below it
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary) << text;
  ::chmod(path.c_str(), mode);
}

struct run_options {
  std::string stdin_text;
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"};
  std::optional<uid_t> run_as;  // drop to this uid/gid (same number) before exec
};

run_options env_opts(std::vector<std::string> env, std::optional<uid_t> run_as = std::nullopt) {
  run_options o;
  o.env = std::move(env);
  o.run_as = run_as;
  return o;
}

run_options stdin_opts(std::string text) {
  run_options o;
  o.stdin_text = std::move(text);
  return o;
}

struct process_result {
  int status = -1;
  std::string out;
  std::string err;
};

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void exec_child(std::vector<std::string> args, std::vector<std::string> env,
                             std::optional<uid_t> run_as) {
  if (run_as) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(*run_as) != 0 || ::setuid(*run_as) != 0) {
      ::_exit(126);
    }
  }
  args.insert(args.begin(), kBinary);
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  ::execve(kBinary.c_str(), argv.data(), envp.data());
  ::_exit(127);
}

// Runs the tool with pipes on stdin/stdout/stderr; stdin gets `stdin_text` then EOF.
process_result run(const std::vector<std::string>& args, const run_options& opts = {}) {
  int in[2], out[2], err[2];
  if (::pipe(in) || ::pipe(out) || ::pipe(err))
    std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      ::close(fd);
    exec_child(args, opts.env, opts.run_as);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  (void)!::write(in[1], opts.stdin_text.data(), opts.stdin_text.size());
  ::close(in[1]);
  process_result r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, 20000) <= 0)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// The tool on a pseudo-terminal, driven like `expect` does.
class pty_session {
 public:
  explicit pty_session(const std::vector<std::string>& args, std::vector<std::string> env) {
    pid_ = ::forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ < 0)
      std::abort();
    if (pid_ == 0)
      exec_child(args, std::move(env), std::nullopt);
  }
  ~pty_session() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(fd_);
  }

  // Reads until `needle` appears after the last match; returns the text up to and including
  // it (since the last match). Fails the test on timeout or EOF.
  std::string expect(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const auto at = out_.find(needle, mark_);
      if (at != std::string::npos) {
        std::string seen = out_.substr(mark_, at + needle.size() - mark_);
        mark_ = at + needle.size();
        return seen;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0 || !read_some()) {
        ADD_FAILURE() << "timeout/EOF waiting for \"" << needle << "\"; got:\n"
                      << out_.substr(mark_);
        return {};
      }
    }
  }
  void send(const std::string& text) { (void)!::write(fd_, text.data(), text.size()); }
  void send_eof() { send("\x04"); }  // VEOF at the start of a line
  int wait() {
    while (read_some()) {
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return out_; }

 private:
  bool read_some() {
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0)
      return false;  // EIO once the child closed the terminal
    out_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
  std::size_t mark_ = 0;
};

std::string shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

std::string oathtool(const std::string& args) {
  return shell("oathtool " + args);
}

std::string field(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos)
    return {};
  const auto start = at + prefix.size();
  const auto end = text.find_first_of("\r\n", start);
  return text.substr(start, end - start);
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return 0;
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Everything in `dir` except the given names (temp-file leftovers would show up here).
std::vector<std::string> other_entries(const std::string& dir, std::vector<std::string> known) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (std::find(known.begin(), known.end(), name) == known.end())
      out.push_back(name);
  }
  return out;
}

const char* const kScratch5 = "([1-9][0-9]{7}\n){5}";
const char* const kSecret = "[A-Z2-7]{32}\n";

// --- the guide's command line ---------------------------------------------------------

TEST(EnrollCli, GuideCommandLineWithOathtoolConfirmation) {
  temp_dir dir;
  const std::string path = dir / "ga";
  pty_session s(concat(kGuide, {"-s", path}), {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"});
  const std::string before = s.expect("Your new secret key is: ");
  EXPECT_NE(before.find("\u2588"), std::string::npos) << "UTF8 QR expected";
  const std::string uri = field(before, "Your otpauth URI is: ");
  const std::string secret = s.expect("\r\n").substr(0, 32);
  ASSERT_TRUE(std::regex_match(secret, std::regex("[A-Z2-7]{32}")));
  EXPECT_EQ(uri, "otpauth://totp/root@pam?secret=" + secret + "&issuer=pve.homelab.cloud");

  // A wrong code: the answer must not reveal the right one (the reference prints it).
  s.expect("Enter code from app (-1 to skip): ");
  const std::string wrong = oathtool("--totp -b " + secret + " -N '2001-01-01 00:00:00 UTC'");
  s.send(wrong + "\n");
  const std::string reply = s.expect("Enter code from app (-1 to skip): ");
  EXPECT_NE(reply.find("Code incorrect. Try again."), std::string::npos) << reply;
  const std::string reply_without_echo = reply.substr(reply.find("Code incorrect"));
  for (const char* when : {"now - 30 seconds", "now", "now + 30 seconds"}) {
    const std::string code = oathtool("--totp -b " + secret + " -N '" + std::string(when) + "'");
    if (code == wrong)
      continue;
    EXPECT_EQ(reply_without_echo.find(code), std::string::npos) << "printed the right code";
  }
  // The right code, from oathtool.
  s.send(oathtool("--totp -b " + secret) + "\n");
  EXPECT_NE(s.expect("Code confirmed").size(), 0u);
  const std::string codes = s.expect("Secret: ");
  s.expect("Issuer: pve.homelab.cloud");
  EXPECT_EQ(s.wait(), 0);
  EXPECT_NE(codes.find("User:   root@pam"), std::string::npos) << codes;
  EXPECT_EQ(field(s.output(), "Secret: "), secret);

  const std::string file = read_file(path);
  EXPECT_TRUE(std::regex_match(file, std::regex(secret +
                                                "\n\" RATE_LIMIT 3 30\n\" WINDOW_SIZE 3\n"
                                                "\" DISALLOW_REUSE\n\" TOTP_AUTH\n" +
                                                kScratch5)))
      << file;
  EXPECT_EQ(file_mode(path), 0400);
  // The printed scratch codes are the file's.
  std::smatch m;
  std::string rest = file.substr(file.find("TOTP_AUTH\n") + 10);
  for (std::istringstream lines(rest); std::getline(lines, rest);) {
    EXPECT_NE(codes.find("  " + rest + "\r\n"), std::string::npos) << rest;
  }
  EXPECT_TRUE(other_entries(dir.path(), {"ga"}).empty());
}

TEST(EnrollCli, GuideCommandLineNoConfirmPrintsCurrentTotpCode) {
  temp_dir dir;
  auto r = run(concat(kGuide, {"-C", "-s", dir / "ga"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string secret = field(r.out, "Your new secret key is: ");
  const std::string code = field(r.out, "Your current verification code is ");
  ASSERT_EQ(code.size(), 6u);
  const std::string now = oathtool("--totp -b " + secret);
  const std::string prev = oathtool("--totp -b " + secret + " -N 'now - 30 seconds'");
  EXPECT_TRUE(code == now || code == prev) << code << " vs " << now;
  EXPECT_TRUE(
      std::regex_match(read_file(dir / "ga"), std::regex(std::string(kSecret) +
                                                         "\" RATE_LIMIT 3 30\n\" WINDOW_SIZE 3\n"
                                                         "\" DISALLOW_REUSE\n\" TOTP_AUTH\n" +
                                                         kScratch5)));
  EXPECT_EQ(r.out.find("Enter code"), std::string::npos);
}

TEST(EnrollCli, ConfirmationEofExitsOneAndWritesNothing) {
  temp_dir dir;
  auto r = run(concat(kGuide, {"-s", dir / "ga"}));  // stdin is empty
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(exists(dir / "ga"));
}

// --- layouts of spec 1.6 ----------------------------------------------------------------

TEST(EnrollCli, SpecLayoutStepSizeAndTenCodes) {
  temp_dir dir;
  auto r = run({"-t", "-d", "-f", "-C", "-r", "5", "-R", "60", "-S", "60", "-w", "5", "-e", "10",
                "-Q", "NONE", "-s", dir / "ga"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_match(
      read_file(dir / "ga"),
      std::regex(std::string(kSecret) + "\" RATE_LIMIT 5 60\n\" WINDOW_SIZE 5\n\" STEP_SIZE "
                                        "60\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n"
                                        "([1-9][0-9]{7}\n){10}")));
  // -S is not in a default... it is in ours: period=60.
  EXPECT_NE(field(r.out, "Your otpauth URI is: ").find("&period=60"), std::string::npos);
}

TEST(EnrollCli, SpecLayoutHotpWithoutScratchCodes) {
  temp_dir dir;
  auto r = run({"-c", "-f", "-Q", "utf8", "-e", "0", "-w", "7", "-u", "-s", dir / "ga"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string file = read_file(dir / "ga");
  EXPECT_TRUE(std::regex_match(
      file, std::regex(std::string(kSecret) + "\" WINDOW_SIZE 7\n\" HOTP_COUNTER 1\n")))
      << file;
  EXPECT_EQ(r.out.find("scratch codes"), std::string::npos) << "-e 0 prints no header";
  const std::string secret = field(r.out, "Your new secret key is: ");
  EXPECT_EQ(field(r.out, "Your verification code for code 1 is "),
            oathtool("--hotp -c 1 -b " + secret));
  const std::string uri = field(r.out, "Your otpauth URI is: ");
  EXPECT_TRUE(std::regex_match(
      uri, std::regex("otpauth://hotp/[^?]+\\?secret=" + secret + "&issuer=[^&]+&counter=1")))
      << uri;
}

TEST(EnrollCli, MinimalWindowDependsOnMode) {
  temp_dir dir;
  auto h = run({"-c", "-f", "-Q", "none", "-q", "-W", "-u", "-s", dir / "h"});
  ASSERT_EQ(h.status, 0) << h.err;
  EXPECT_TRUE(std::regex_match(
      read_file(dir / "h"),
      std::regex(std::string(kSecret) + "\" WINDOW_SIZE 1\n\" HOTP_COUNTER 1\n" + kScratch5)));
  EXPECT_EQ(h.out, "") << "-q prints nothing";
  auto t = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", dir / "t"});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_TRUE(std::regex_match(
      read_file(dir / "t"),
      std::regex(std::string(kSecret) + "\" WINDOW_SIZE 3\n\" TOTP_AUTH\n" + kScratch5)));
}

TEST(EnrollCli, ExtensionLinesAndUriParameters) {
  temp_dir dir;
  auto r = run({"-t", "-D", "-f",        "-C",   "-u",          "-w",     "3",
                "-S", "60", "-Q",        "none", "--algorithm", "sha256", "--digits",
                "8",  "-l", "alice@pam", "-i",   "pve",         "-s",     dir / "ga"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_match(read_file(dir / "ga"),
                               std::regex(std::string(kSecret) +
                                          "\" WINDOW_SIZE 3\n\" STEP_SIZE 60\n\" TOTP_AUTH\n"
                                          "\" ALGORITHM SHA256\n\" DIGITS 8\n" +
                                          kScratch5)));
  const std::string secret = field(r.out, "Your new secret key is: ");
  EXPECT_EQ(field(r.out, "Your otpauth URI is: "),
            "otpauth://totp/alice@pam?secret=" + secret +
                "&issuer=pve&algorithm=SHA256&digits=8&period=60");
  const std::string code = field(r.out, "Your current verification code is ");
  const std::string now = oathtool("--totp=sha256 -d 8 -s 60 -b " + secret);
  const std::string prev =
      oathtool("--totp=sha256 -d 8 -s 60 -b " + secret + " -N 'now - 60 seconds'");
  EXPECT_TRUE(code == now || code == prev) << code << " vs " << now;
  EXPECT_NE(r.out.find("cannot share it"), std::string::npos);
}

TEST(EnrollCli, QrModes) {
  temp_dir dir;
  auto ansi = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "ansi", "-s", dir / "a"});
  EXPECT_NE(ansi.out.find("\x1b[7m  "), std::string::npos);
  EXPECT_EQ(ansi.out.find("\u2588"), std::string::npos);
  auto none = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", dir / "n"});
  EXPECT_EQ(none.out.find("\x1b["), std::string::npos);
  EXPECT_EQ(none.out.find("\u2580"), std::string::npos);
  auto def = run({"-t", "-D", "-f", "-C", "-u", "-W", "-s", dir / "d"});
  EXPECT_NE(def.out.find("\u2580"), std::string::npos) << "UTF8 is the default";
}

// --- interactive mode through a pseudo-terminal --------------------------------------------

TEST(EnrollCli, InteractiveLikeTheSpecRun) {
  temp_dir dir;
  pty_session s({"-s", dir / "ga"}, {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"});
  s.expect("Do you want authentication tokens to be time-based (y/n) ");
  s.send("maybe\n");  // not y/n: asked again
  s.expect("Do you want authentication tokens to be time-based (y/n) ");
  s.send("y\n");
  s.expect("Enter code from app (-1 to skip): ");
  s.send("-1\n");
  s.expect("Code confirmation skipped");
  s.expect("Your emergency scratch codes are:");
  s.expect("Do you want me to update your \"" + dir / "ga" + "\" file? (y/n) ");
  s.send("y\n");
  s.expect("man-in-the-middle attacks (y/n) ");
  s.send("y\n");
  s.expect("Do you want to do so? (y/n) ");
  s.send("n\n");
  s.expect("Do you want to enable rate-limiting? (y/n) ");
  s.send("Yes\n");
  EXPECT_EQ(s.wait(), 0);
  EXPECT_TRUE(std::regex_match(
      read_file(dir / "ga"),
      std::regex(std::string(kSecret) + "\" RATE_LIMIT 3 30\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n" +
                 kScratch5)));
  EXPECT_EQ(file_mode(dir / "ga"), 0400);
}

TEST(EnrollCli, InteractiveHotpWideWindowNoRateLimit) {
  temp_dir dir;
  pty_session s({"-s", dir / "ga", "-Q", "none"}, {"PATH=/usr/bin:/bin"});
  s.expect("time-based (y/n) ");
  s.send("n\n");
  s.expect("Your verification code for code 1 is ");
  s.expect("file? (y/n) ");
  s.send("y\n");
  const std::string q = s.expect("Do you want to do so? (y/n) ");
  EXPECT_NE(q.find("three tokens are valid"), std::string::npos) << q;
  EXPECT_EQ(q.find("man-in-the-middle"), std::string::npos) << "no reuse question for HOTP";
  s.send("y\n");
  s.expect("rate-limiting? (y/n) ");
  s.send("n\n");
  EXPECT_EQ(s.wait(), 0);
  EXPECT_TRUE(std::regex_match(
      read_file(dir / "ga"),
      std::regex(std::string(kSecret) + "\" WINDOW_SIZE 17\n\" HOTP_COUNTER 1\n" + kScratch5)));
}

TEST(EnrollCli, InteractiveNoToUpdateWritesNothing) {
  temp_dir dir;
  pty_session s({"-t", "-C", "-s", dir / "ga"}, {"PATH=/usr/bin:/bin"});
  s.expect("file? (y/n) ");
  s.send("n\n");
  EXPECT_EQ(s.wait(), 0);
  EXPECT_FALSE(exists(dir / "ga"));
}

TEST(EnrollCli, InteractiveEofExitsOne) {
  temp_dir dir;
  pty_session s({"-s", dir / "ga"}, {"PATH=/usr/bin:/bin"});
  s.expect("time-based (y/n) ");
  s.send_eof();
  EXPECT_EQ(s.wait(), 1);
  EXPECT_FALSE(exists(dir / "ga"));
  // Same with pipes at a later question.
  auto r = run({"-t", "-C", "-f", "-s", dir / "ga"}, stdin_opts("y\n"));
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(exists(dir / "ga"));
}

// --- errors -----------------------------------------------------------------------------------

TEST(EnrollCli, FlagErrorsAndExitStatus) {
  struct error_case {
    std::vector<std::string> args;
    int status;
    std::string message;
  };
  const std::vector<error_case> cases = {
      {{"-c", "-t"}, 1, "Duplicate -c and/or -t option detected"},
      {{"-t", "-d", "-D"}, 1, "Duplicate -d and/or -D option detected"},
      {{"-d"}, 1, "Must select time-based mode, when using -d or -D"},
      {{"-c", "-d"}, 1, "Reuse of tokens is not a meaningful parameter in counter-based mode"},
      {{"-r", "11"}, 1, "-r requires an argument in the range 1..10"},
      {{"-R", "14"}, 1, "-R requires an argument in the range 15..600"},
      {{"-r", "3"}, 1, "Must set -r when setting -R, and vice versa"},
      {{"-u", "-r", "3"}, 1, "-u is mutually exclusive with -r"},
      {{"-u", "-R", "30"}, 1, "-u is mutually exclusive with -R"},
      {{"-r", "3", "-R", "30", "-u"}, 1, "-u is mutually exclusive with -r/-R"},
      {{"-s", ""}, 1, "-s must be followed by a filename"},
      {{"-S", "61"}, 1, "-S requires an argument in the range 1..60"},
      {{"-w", "22"}, 1, "-w requires an argument in the range 1..21"},
      {{"-w", "3", "-W"}, 1, "Duplicate -w/-W option detected"},
      {{"-e", "11"}, 1, "-e requires an argument in the range 0..10"},
      {{"-Q", "X"}, 1, "Invalid qr-mode \"X\" (-Q accepts NONE, ANSI or UTF8)"},
      {{"-f", "-f"}, 1, "Duplicate -f option detected"},
      {{"--digits=9"}, 1, "--digits requires an argument in the range 6..8"},
      {{"--algorithm=MD5"},
       1,
       "Invalid algorithm \"MD5\" (--algorithm accepts SHA1, SHA256 or SHA512)"},
      {{"-Z"}, 1, "invalid option -- 'Z'\nFailed to parse command line"},
      {{"--storage=/x"}, 1, "unrecognized option '--storage'\nFailed to parse command line"},
      {{"-t", "stray"},
       2,
       "Unexpected argument \"stray\": pvetotp-enroll takes options only (see --help)"},
      {{"-l", "root", "@pam"},
       2,
       "Unexpected argument \"@pam\": pvetotp-enroll takes options only (see --help)"},
  };
  temp_dir dir;
  for (const auto& c : cases) {
    auto args = c.args;
    SCOPED_TRACE(args.front());
    auto r = run(args, env_opts({"PATH=/usr/bin:/bin", "HOME=" + dir.path()}));
    EXPECT_EQ(r.status, c.status);
    EXPECT_NE(r.err.find(c.message + "\n"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_TRUE(fs::is_empty(dir.path())) << "an error never writes a file";
}

TEST(EnrollCli, HelpAndVersion) {
  auto v = run({"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(std::regex_match(v.out, std::regex("pvetotp-enroll [0-9]+\\.[0-9]+\\.[0-9]+\n")))
      << v.out;
  auto h = run({"-h"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("--qr-png"), std::string::npos);
  auto bad = run({"-x"});
  EXPECT_NE(bad.err.find("Usage: pvetotp-enroll"), std::string::npos);
}

TEST(EnrollCli, HomeRules) {
  temp_dir dir;
  const std::vector<std::string> args = {"-t", "-D", "-f", "-C", "-u", "-W", "-q"};
  auto unset = run(args, env_opts({"PATH=/usr/bin:/bin"}));
  EXPECT_EQ(unset.status, 1);
  EXPECT_EQ(unset.err, "Cannot determine home directory\n");
  auto relative = run(args, env_opts({"HOME=relative/dir"}));
  EXPECT_EQ(relative.status, 1);
  EXPECT_EQ(relative.err, "Cannot determine home directory\n");
  auto ok = run(args, env_opts({"HOME=" + dir.path()}));
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(file_mode(dir / ".google_authenticator"), 0400);
}

// --- never lose the old secret -------------------------------------------------------------

TEST(EnrollCli, FailedWriteInReadOnlyDirectoryKeepsOldFile) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to run the tool as nobody";
  temp_dir dir;
  const std::string sub = dir / "ro";
  ::mkdir(sub.c_str(), 0755);  // root-owned: nobody cannot create the temp file here
  const std::string path = sub + "/ga";
  const std::string old = "OLDSECRETOLDSECRET\n\" TOTP_AUTH\n12345678\n";
  write_file(path, old, 0400);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", path},
               env_opts({"PATH=/usr/bin:/bin"}, 65534));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Failed to write new secret to \"" + path + "\""), std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(path), old);
  EXPECT_EQ(file_mode(path), 0400);
  EXPECT_TRUE(other_entries(sub, {"ga"}).empty());
}

TEST(EnrollCli, SymlinkTargetIsRefusedAndKept) {
  temp_dir dir;
  const std::string real = dir / "real";
  write_file(real, "OLD\n", 0400);
  ASSERT_EQ(::symlink(real.c_str(), (dir / "link").c_str()), 0);
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", dir / "link"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(read_file(real), "OLD\n");
  EXPECT_EQ(fs::read_symlink(dir / "link"), real);
}

TEST(EnrollCli, MissingDirectoryFails) {
  temp_dir dir;
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", dir / "no/such/ga"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Failed to write new secret"), std::string::npos) << r.err;
}

TEST(EnrollCli, ForceReplacesExistingFile) {
  temp_dir dir;
  write_file(dir / "ga", "OLD\n", 0400);
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-s", dir / "ga"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(dir / "ga").substr(0, 32), field(r.out, "Your new secret key is: "));
  EXPECT_EQ(file_mode(dir / "ga"), 0400);
  EXPECT_TRUE(other_entries(dir.path(), {"ga"}).empty());
}

// --- --user --------------------------------------------------------------------------------

class EnrollCliUser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "--user needs root";
    if (!exists(kNssWrapper))
      GTEST_SKIP() << "libnss_wrapper.so not installed";
    home_ = dir_ / "home";
    ::mkdir(home_.c_str(), 0755);
    ASSERT_EQ(::chown(home_.c_str(), 4242, 4343), 0);
    write_file(dir_ / "passwd",
               "root:x:0:0:root:/root:/bin/sh\nenrolltest:x:4242:4343::" + home_ + ":/bin/sh\n",
               0644);
    write_file(dir_ / "group", "root:x:0:\nenrollgrp:x:4343:\n", 0644);
    env_ = {"PATH=/usr/bin:/bin", "LD_PRELOAD=" + std::string(kNssWrapper),
            "NSS_WRAPPER_PASSWD=" + dir_ / "passwd", "NSS_WRAPPER_GROUP=" + dir_ / "group",
            // nss_wrapper's RTLD_DEEPBIND is refused by ASan in the sanitizer build.
            "NSS_WRAPPER_DISABLE_DEEPBIND=1"};
  }
  static constexpr const char* kNssWrapper = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";
  temp_dir dir_;
  std::string home_;
  std::vector<std::string> env_;
};

TEST_F(EnrollCliUser, WritesFileOwnedByUser) {
  auto r = run(concat(kGuide, {"-C", "--user", "enrolltest"}), env_opts(env_));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string path = home_ + "/.google_authenticator";
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4343u);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_TRUE(other_entries(home_, {".google_authenticator"}).empty());
  EXPECT_NE(r.out.find("User:   root@pam"), std::string::npos);

  // Without -f an existing file is refused, before any secret is shown, and kept.
  const std::string before = read_file(path);
  auto again = run({"-t", "-D", "-C", "-u", "-W", "--user", "enrolltest"}, env_opts(env_));
  EXPECT_EQ(again.status, 1);
  EXPECT_EQ(again.err, "\"" + path + "\" already exists; use -f to replace it\n");
  EXPECT_EQ(again.out.find("secret key"), std::string::npos);
  EXPECT_EQ(read_file(path), before);

  // With -f it is replaced, still owned by the user.
  auto forced =
      run({"-t", "-D", "-f", "-C", "-u", "-W", "-q", "--user", "enrolltest"}, env_opts(env_));
  ASSERT_EQ(forced.status, 0) << forced.err;
  EXPECT_NE(read_file(path), before);
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
}

TEST_F(EnrollCliUser, DefaultLabelUsesTheUser) {
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "-Q", "none", "-i", "", "--user", "enrolltest"},
               env_opts(env_));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = field(r.out, "Your otpauth URI is: ");
  EXPECT_EQ(uri.rfind("otpauth://totp/enrolltest@", 0), 0u) << uri;
  EXPECT_EQ(uri.find("&issuer="), std::string::npos) << uri;
  EXPECT_NE(r.out.find("User:   enrolltest@pam"), std::string::npos);
}

TEST_F(EnrollCliUser, UnknownUserAndNonRoot) {
  auto r = run({"-t", "-D", "-f", "-C", "-u", "-W", "--user", "nosuchuser"}, env_opts(env_));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "--user: no such user \"nosuchuser\"\n");
  auto nr =
      run({"-t", "-D", "-f", "-C", "-u", "-W", "--user", "enrolltest"}, env_opts(env_, 65534));
  EXPECT_EQ(nr.status, 1);
  EXPECT_EQ(nr.err, "--user requires root privileges\n");
  EXPECT_FALSE(exists(home_ + "/.google_authenticator"));
}

// --- --qr-png ------------------------------------------------------------------------------

TEST(EnrollCli, QrPngDecodesToThePrintedUri) {
  temp_dir dir;
  const std::string png = dir / "qr.png";
  auto r = run(concat(kGuide, {"-C", "-s", dir / "ga", "--qr-png", png}));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string uri = field(r.out, "Your otpauth URI is: ");
  ASSERT_FALSE(uri.empty());
  EXPECT_EQ(shell("zbarimg --raw -q '" + png + "'"), uri);
  EXPECT_EQ(file_mode(png), 0600);

  // Non-default parameters survive the image too.
  const std::string png2 = dir / "qr2.png";
  auto r2 = run({"-c", "-f", "-u", "-W", "-Q", "none", "--digits", "8", "--algorithm", "SHA512",
                 "-l", "a b&c", "-s", dir / "ga2", "--qr-png", png2});
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_EQ(shell("zbarimg --raw -q '" + png2 + "'"), field(r2.out, "Your otpauth URI is: "));
}

TEST(EnrollCli, QrPngThatExistsStopsBeforeEnrolling) {
  temp_dir dir;
  const std::string png = dir / "qr.png";
  write_file(png, "not mine", 0644);
  auto r = run(concat(kGuide, {"-C", "-s", dir / "ga", "--qr-png", png}));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--qr-png"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir / "ga"));
  EXPECT_EQ(read_file(png), "not mine");
}

TEST(EnrollCli, QrPngRemovedWhenTheSecretFileCannotBeWritten) {
  temp_dir dir;
  const std::string png = dir / "qr.png";
  auto r = run(concat(kGuide, {"-C", "-s", dir / "no/such/ga", "--qr-png", png}));
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(exists(png));
}

}  // namespace
