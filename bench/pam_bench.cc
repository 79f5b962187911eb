// pvetotp-pam-bench: end-to-end comparison of pam_pvetotp.so with Debian's
// pam_google_authenticator.so through real libpam.
//
// Why it is built this way:
// - One pam_handle_t per (scenario, module), created up front and kept for every iteration, so
//   what is timed is pam_authenticate + pam_acct_mgmt running the module, not pam_start parsing
//   the service file and dlopen()ing the module.
// - Both modules get identical secret files (separate copies, since the HOTP state diverges)
//   and identical inputs, and are run in alternating blocks (ours first in even blocks, the
//   reference first in odd ones), so drift of the machine (frequency, page cache, neighbours)
//   hits both equally.
// - A `pam_permit`-only stack is measured the same way; the table reports the module cost
//   above that floor, which is what the issue's anchors (45 us / 450 us / 2.5 ms) describe.
// - The wall clock is pinned with the test shim (LD_PRELOAD, PVETOTP_TEST_TIME): the program
//   re-executes itself with it, so a TOTP code computed once stays valid for the whole run and
//   both modules see the same `now`. Elapsed time is measured with CLOCK_MONOTONIC, which the
//   shim forwards to libc.
// - Every expected code comes from oathtool, run before any measurement; nothing here
//   computes an OTP itself.
//
// This is benchmark code: the codes and the (fixed, public) test key are test data and are
// handled as plain strings on purpose.
#include <fcntl.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// A public test key (20 bytes, base32). Any fixed key works; it only has to be the same for
// both modules and oathtool.
constexpr const char* kKey = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
// A pinned epoch at the start of a 30-second step, far from any real "now" on purpose.
constexpr std::int64_t kPinnedTime = 1750000020;
constexpr int kStep = 30;
constexpr int kParallel = 8;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pam_bench: %s\n", what.c_str());
  std::exit(2);
}

// --- oathtool ----------------------------------------------------------------------------

std::vector<std::string> run_lines(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe)
    die("cannot run: " + command);
  std::vector<std::string> lines;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe)) {
    std::string line(buffer);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    lines.push_back(line);
  }
  if (pclose(pipe) != 0)
    die("command failed: " + command);
  return lines;
}

// Codes for `count` consecutive TOTP steps starting at the step containing `start`.
std::vector<std::string> oath_totp(std::int64_t start, int count) {
  auto lines = run_lines("oathtool -b --totp -s " + std::to_string(kStep) + " -N @" +
                         std::to_string(start) + " -w " + std::to_string(count - 1) + " " + kKey);
  if (static_cast<int>(lines.size()) != count)
    die("oathtool --totp returned an unexpected number of codes");
  return lines;
}

// Codes for HOTP counters first .. first+count-1.
std::vector<std::string> oath_hotp(std::uint64_t first, int count) {
  auto lines = run_lines("oathtool -b --hotp -c " + std::to_string(first) + " -w " +
                         std::to_string(count - 1) + " " + kKey);
  if (static_cast<int>(lines.size()) != count)
    die("oathtool --hotp returned an unexpected number of codes");
  return lines;
}

// --- files -------------------------------------------------------------------------------

void write_file(const std::string& path, const std::string& content, mode_t mode) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    die("cannot create " + path + ": " + std::strerror(errno));
  if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    die("short write to " + path);
  ::fchmod(fd, mode);
  ::close(fd);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void remove_tree(const std::string& root) {
  const std::string cmd = "rm -rf -- '" + root + "'";
  if (std::system(cmd.c_str()) != 0)
    std::fprintf(stderr, "pam_bench: could not remove %s\n", root.c_str());
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    die("mkdir " + path + ": " + std::strerror(errno));
}

std::string totp_file(bool disallow_reuse) {
  std::string text = std::string(kKey) + "\n\" TOTP_AUTH\n";
  if (disallow_reuse)
    text += "\" DISALLOW_REUSE\n";
  return text;
}

std::string hotp_file() {
  return std::string(kKey) + "\n\" HOTP_COUNTER 1\n";
}

// --- PAM ---------------------------------------------------------------------------------

// The conversation answers every prompt with the prepared code. `answer` points at a string
// that outlives the handle.
struct conv_data {
  const std::string* answer = nullptr;
};

int converse(int count, const struct pam_message** messages, struct pam_response** responses,
             void* appdata) {
  auto* data = static_cast<conv_data*>(appdata);
  auto* replies = static_cast<pam_response*>(std::calloc(count, sizeof(pam_response)));
  if (!replies)
    return PAM_BUF_ERR;
  for (int i = 0; i < count; ++i) {
    const int style = messages[i]->msg_style;
    if ((style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) && data->answer)
      replies[i].resp = ::strdup(data->answer->c_str());
  }
  *responses = replies;
  return PAM_SUCCESS;
}

class session {
 public:
  session(const std::string& confdir, const std::string& service, const std::string& user) {
    conv_.conv = converse;
    conv_.appdata_ptr = &data_;
    const int rc = pam_start_confdir(service.c_str(), user.c_str(), &conv_, confdir.c_str(), &h_);
    if (rc != PAM_SUCCESS || !h_)
      die("pam_start_confdir(" + service + ") failed: " + std::to_string(rc));
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    if (h_)
      pam_end(h_, PAM_SUCCESS);
  }

  // One login: authenticate, then account management, as a real service does.
  int login(const std::string& code) {
    data_.answer = &code;
    int rc = pam_authenticate(h_, 0);
    if (rc == PAM_SUCCESS)
      rc = pam_acct_mgmt(h_, 0);
    data_.answer = nullptr;
    return rc;
  }

 private:
  conv_data data_;
  struct pam_conv conv_ {};
  pam_handle_t* h_ = nullptr;
};

// A service file in our private confdir; pam_start_confdir reads only that directory.
void write_service(const std::string& confdir, const std::string& name,
                   const std::string& auth_line) {
  write_file(confdir + "/" + name, auth_line + "\naccount required pam_permit.so\n", 0644);
}

double now_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const double rank = p * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = static_cast<std::size_t>(std::ceil(rank));
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

// --- sequential scenarios ----------------------------------------------------------------

enum module_index { ours = 0, reference = 1 };
constexpr std::array<const char*, 2> kModuleNames{"ours", "reference"};

struct sequential_case {
  std::string key;    // short id used in the table
  std::string label;  // what it measures
  std::array<std::unique_ptr<session>, 2> sessions;
  std::function<const std::string&(int module, std::size_t n)> code;  // n-th login's input
  int expected = PAM_SUCCESS;
  int block = 0;   // iterations per block
  int warmup = 0;  // unrecorded iterations per module before the first block
  std::array<std::vector<double>, 2> samples;
  std::array<std::size_t, 2> done{};  // logins so far, warm-up included
  std::array<int, 2> unexpected{};    // results other than `expected`
  std::array<std::string, 2> files;   // secret file per module (empty for the floor)
};

void run_iterations(sequential_case& c, int module, int count, bool record) {
  for (int i = 0; i < count; ++i) {
    const std::string& code = c.code(module, c.done[module]);
    const double t0 = now_us();
    const int rc = c.sessions[module]->login(code);
    const double t1 = now_us();
    ++c.done[module];
    if (rc != c.expected)
      ++c.unexpected[module];
    if (record)
      c.samples[module].push_back(t1 - t0);
  }
}

// --- floors: the bare system calls behind (a) and (b), no module at all -------------------
// Two variants of one sequence, timed in alternating blocks like the modules are; the first
// vector is ours' variant, the second the reference's.
struct floor_samples {
  std::vector<double> ours, reference;
};

template <class Run>  // Run(bool ours_variant)
floor_samples measure_floor(int blocks, int per_block, int warmup, Run run) {
  floor_samples out;
  for (int i = 0; i < warmup; ++i)
    run(i % 2 == 0);
  for (int b = 0; b < blocks; ++b) {
    for (const bool ours_variant : {b % 2 == 0, b % 2 != 0}) {
      for (int i = 0; i < per_block; ++i) {
        const double t0 = now_us();
        run(ours_variant);
        (ours_variant ? out.ours : out.reference).push_back(now_us() - t0);
      }
    }
  }
  return out;
}

// (a): what any module must do for a correct TOTP code with `user=root secret=<file>`: look
// up the account named by user= (NSS; for "files" a stat of nsswitch.conf and an open, read
// and close of /etc/passwd) and read the secret file once. The reference looks the account up
// twice, so its variant has two lookups.
void lookup_and_read(const std::string& file, int lookups) {
  for (int i = 0; i < lookups; ++i) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buffer[4096];
    if (::getpwnam_r("root", &pw, buffer, sizeof buffer, &found) != 0 || found == nullptr)
      die("syscall floor: getpwnam_r(root) failed");
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st {};
  char content[512];
  if (fd < 0 || ::fstat(fd, &st) != 0 || ::read(fd, content, sizeof content) <= 0)
    die("syscall floor: cannot read " + file);
  ::close(fd);
}

// (b): the rewrite as the reference does it (named temp file, write, fsync, rename) and as
// ours does it (unnamed O_TMPFILE file, write, fsync, link to a temp name, rename, then fsync
// of the directory, so that the rename itself survives a crash). Run in the benchmark's own
// directory, this is the ratio no implementation of "also fsync the directory" can go below
// on this disk.
void one_rewrite(const std::string& dir, bool ours_variant) {
  const std::string target = dir + "/io-floor";
  const std::string temp = target + "~tmp";
  const std::string content = hotp_file();
  const int fd = ours_variant ? ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)
                              : ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    die("io floor: cannot create the temp file in " + dir + ": " + std::strerror(errno));
  if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()) ||
      ::fsync(fd) != 0)
    die("io floor: write/fsync failed: " + std::string(std::strerror(errno)));
  if (ours_variant) {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) != 0)
      die("io floor: linkat failed: " + std::string(std::strerror(errno)));
  }
  if (::close(fd) != 0 || ::rename(temp.c_str(), target.c_str()) != 0)
    die("io floor: rename failed: " + std::string(std::strerror(errno)));
  if (ours_variant) {
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0)
      die("io floor: directory fsync failed: " + std::string(std::strerror(errno)));
    ::close(dfd);
  }
}

// --- parallel scenarios ------------------------------------------------------------------

struct parallel_result {
  double seconds = 0;
  long successes = 0;
  long failures = 0;
};

// Forks kParallel children; child p logs in `per_process` times as users[p] with the codes
// code(p, i), after all children have opened their handle. The parent times from releasing
// the children until the last one has exited.
parallel_result run_parallel(const std::string& confdir, const std::string& service,
                             const std::vector<std::string>& users, int per_process,
                             const std::function<std::string(int p, int i)>& code,
                             const std::function<std::int64_t(int p, int i)>& pinned_time) {
  int ready[2], go[2], results[2];
  if (::pipe(ready) != 0 || ::pipe(go) != 0 || ::pipe(results) != 0)
    die("pipe failed");
  std::vector<pid_t> children;
  for (int p = 0; p < kParallel; ++p) {
    const pid_t pid = ::fork();
    if (pid < 0)
      die("fork failed");
    if (pid == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      ::close(results[0]);
      // Codes are prepared before the start signal so the timed loop only logs in.
      std::vector<std::string> codes;
      std::vector<std::string> times;
      for (int i = 0; i < per_process; ++i) {
        codes.push_back(code(p, i));
        times.push_back(std::to_string(pinned_time(p, i)));
      }
      long ok = 0, bad = 0;
      {
        session s(confdir, service, users[p]);
        char byte = 1;
        if (::write(ready[1], &byte, 1) != 1)
          _exit(3);
        if (::read(go[0], &byte, 1) < 0)  // EOF when the parent closes its end
          _exit(3);
        for (int i = 0; i < per_process; ++i) {
          // The shim reads PVETOTP_TEST_TIME on every clock call.
          ::setenv("PVETOTP_TEST_TIME", times[i].c_str(), 1);
          if (s.login(codes[i]) == PAM_SUCCESS)
            ++ok;
          else
            ++bad;
        }
        long counts[2] = {ok, bad};
        if (::write(results[1], counts, sizeof counts) != sizeof counts)
          _exit(3);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  ::close(ready[1]);
  ::close(go[0]);
  ::close(results[1]);
  for (int p = 0; p < kParallel; ++p) {
    char byte;
    if (::read(ready[0], &byte, 1) != 1)
      die("a child failed before starting");
  }
  const double t0 = now_us();
  ::close(go[1]);
  parallel_result result;
  for (int p = 0; p < kParallel; ++p) {
    long counts[2];
    if (::read(results[0], counts, sizeof counts) != sizeof counts)
      die("a child died while logging in");
    result.successes += counts[0];
    result.failures += counts[1];
  }
  const double t1 = now_us();
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      die("a child exited abnormally");
  }
  ::close(ready[0]);
  ::close(results[0]);
  result.seconds = (t1 - t0) / 1e6;
  return result;
}

struct parallel_case {
  std::string key;
  std::string label;
  bool shared = false;  // one user for all processes
  std::array<std::string, 2> service;
  std::function<std::string(int p, int i, int round)> code;
  std::function<std::int64_t(int p, int i, int round)> time;
  std::array<std::vector<double>, 2> rates;  // logins/s per round
  std::array<long, 2> failures{};
  std::array<long, 2> logins{};
};

// --- options -----------------------------------------------------------------------------

struct options {
  std::string ours;
  std::string reference = "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so";
  std::string shim;
  std::string dir;  // parent of the temp dir; default /var/tmp (a disk, like real secrets)
  double scale = 1.0;
  int blocks = 20;
  bool keep = false;
  // Profiling aid: run only this sequential scenario (floor, a, b or c), nothing parallel.
  std::string only;
};

void usage() {
  std::fprintf(stderr,
               "usage: pam_bench --ours PATH.so --shim libpvetotp_testshim.so\n"
               "                 [--reference PATH.so] [--dir DIR] [--scale F] [--blocks N]"
               " [--keep]\n"
               "                 [--only floor|a|b|c|d1|d2|d3|d4]   (profiling: one scenario)\n");
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage();
      return argv[++i];
    };
    if (a == "--ours")
      o.ours = value();
    else if (a == "--reference")
      o.reference = value();
    else if (a == "--shim")
      o.shim = value();
    else if (a == "--dir")
      o.dir = value();
    else if (a == "--scale")
      o.scale = std::atof(value().c_str());
    else if (a == "--blocks")
      o.blocks = std::atoi(value().c_str());
    else if (a == "--only")
      o.only = value();
    else if (a == "--keep")
      o.keep = true;
    else
      usage();
  }
  if (o.ours.empty() || o.shim.empty() || o.scale <= 0 || o.blocks < 2)
    usage();
  return o;
}

std::string absolute(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real)
    die("no such file: " + path);
  std::string out(real);
  std::free(real);
  return out;
}

// Re-executes this program with the clock shim preloaded, once.
void ensure_pinned_clock(const options& o, char** argv) {
  if (std::getenv("PVETOTP_BENCH_CHILD")) {
    if (std::time(nullptr) != kPinnedTime)
      die("the clock shim is not active (time() is not pinned)");
    return;
  }
  std::string preload = absolute(o.shim);
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old)
    preload += std::string(":") + old;
  ::setenv("LD_PRELOAD", preload.c_str(), 1);
  ::setenv("PVETOTP_TEST_TIME", std::to_string(kPinnedTime).c_str(), 1);
  // Both modules log one line per login; with no syslog daemon on a bench machine glibc would
  // retry connecting to /dev/log on every line. Sending the lines to /dev/null through the shim
  // makes logging cheap and equal for both.
  ::setenv("PVETOTP_TEST_SYSLOG", "/dev/null", 1);
  ::setenv("PVETOTP_BENCH_CHILD", "1", 1);
  ::execv("/proc/self/exe", argv);
  die(std::string("re-exec failed: ") + std::strerror(errno));
}

std::string fmt_us(double us) {
  char buf[32];
  if (us >= 1000)
    std::snprintf(buf, sizeof buf, "%.2f ms", us / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1f us", us);
  return buf;
}

void print_row(const std::string& scenario, const std::string& ours, const std::string& ref,
               const std::string& ratio, const std::string& target, const std::string& result) {
  std::printf("%-56s %-24s %-24s %7s %-22s %s\n", scenario.c_str(), ours.c_str(), ref.c_str(),
              ratio.c_str(), target.c_str(), result.c_str());
}

std::string fmt_ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", v);
  return buf;
}

std::string fmt_rate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_args(argc, argv);
  ensure_pinned_clock(opt, argv);
  const std::string ours_so = absolute(opt.ours);
  const std::string ref_so = absolute(opt.reference);
  const std::array<std::string, 2> module_paths{ours_so, ref_so};

  auto scaled = [&](int n) { return std::max(1, static_cast<int>(std::lround(n * opt.scale))); };
  const int blocks = opt.blocks;
  const int block_a = scaled(100), block_b = scaled(25), block_c = scaled(5);
  const int warmup = 20;
  const int per_process = scaled(150);
  const int rounds = 4;  // parallel rounds per module, alternating

  // --- all codes, from oathtool, before anything is timed -------------------------------
  const std::vector<std::string> totp_now = oath_totp(kPinnedTime, 1);
  // HOTP: the sequential case consumes one counter per login; each parallel round too.
  const int hotp_needed = std::max(warmup + blocks * block_b, rounds * per_process) + 10;
  const std::vector<std::string> hotp_codes = oath_hotp(1, hotp_needed);
  // A wrong code: not the code of any step the skew search (+-1500 steps) or the window could
  // reach, so no attempt finds a skew candidate and the file stays unchanged.
  std::string wrong;
  {
    const auto around = oath_totp(kPinnedTime - 1510 * kStep, 3021);
    const std::set<std::string> reachable(around.begin(), around.end());
    for (int v = 123456; v < 1000000 && wrong.empty(); ++v) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%06d", v);
      if (!reachable.count(buf))
        wrong = buf;
    }
  }
  // Shared user with DISALLOW_REUSE: every login gets its own step (and its own pinned time),
  // so every code is fresh and must pass, and every login rewrites the one shared file.
  const int fresh_steps = rounds * kParallel * per_process;
  const std::int64_t fresh_base = kPinnedTime + 100000LL * kStep;
  const std::vector<std::string> fresh_codes = oath_totp(fresh_base, fresh_steps);

  // --- the world: temp dir, secret files, service files ---------------------------------
  std::string parent = opt.dir;
  if (parent.empty())
    parent = "/var/tmp";
  std::string root_template = parent + "/pvetotp-bench.XXXXXX";
  if (!::mkdtemp(root_template.data()))
    die("mkdtemp in " + parent + ": " + std::strerror(errno));
  const std::string root = root_template;
  const std::string confdir = root + "/pam.d";
  make_dir(confdir);
  for (int m = 0; m < 2; ++m)
    make_dir(root + "/" + kModuleNames[m]);

  auto module_line = [&](int m, const std::string& secret, const std::string& extra) {
    return "auth required " + module_paths[m] + " secret=" + secret + " user=root" +
           (extra.empty() ? "" : " " + extra);
  };
  write_service(confdir, "floor", "auth required pam_permit.so");

  // Sequential scenarios. (floor, a, b, c) are run interleaved block by block.
  std::vector<sequential_case> cases;
  auto add_case = [&](const std::string& key, const std::string& label, const std::string& file,
                      const std::string& content, int expected, int block) {
    sequential_case c;
    c.key = key;
    c.label = label;
    c.expected = expected;
    c.block = block;
    c.warmup = warmup;
    for (int m = 0; m < 2; ++m) {
      const std::string service = key + "-" + kModuleNames[m];
      if (file.empty()) {
        c.sessions[m] = std::make_unique<session>(confdir, "floor", "root");
        continue;
      }
      c.files[m] = root + "/" + kModuleNames[m] + "/" + file;
      write_file(c.files[m], content, 0600);
      write_service(confdir, service, module_line(m, c.files[m], ""));
      c.sessions[m] = std::make_unique<session>(confdir, service, "root");
    }
    cases.push_back(std::move(c));
  };
  add_case("floor", "pam_permit only (floor)", "", "", PAM_SUCCESS, block_a);
  add_case("a", "(a) correct TOTP, no state change", "totp", totp_file(false), PAM_SUCCESS,
           block_a);
  add_case("b", "(b) correct HOTP, state written", "hotp", hotp_file(), PAM_SUCCESS, block_b);
  add_case("c", "(c) wrong code, skew search", "wrong", totp_file(false), PAM_AUTH_ERR, block_c);
  cases[0].code = [&](int, std::size_t) -> const std::string& { return totp_now[0]; };
  cases[1].code = [&](int, std::size_t) -> const std::string& { return totp_now[0]; };
  cases[2].code = [&](int, std::size_t n) -> const std::string& { return hotp_codes.at(n); };
  cases[3].code = [&](int, std::size_t) -> const std::string& { return wrong; };

  std::array<std::string, 2> before_a, before_c;
  for (int m = 0; m < 2; ++m) {
    before_a[m] = read_file(cases[1].files[m]);
    before_c[m] = read_file(cases[3].files[m]);
  }

  std::fprintf(stderr, "pam_bench: temp dir %s; %d blocks; sequential runs...\n", root.c_str(),
               blocks);
  if (!opt.only.empty()) {
    std::erase_if(cases, [&](const sequential_case& c) { return c.key != opt.only; });
    if (cases.empty() && !opt.only.starts_with("d"))
      usage();
  }
  for (auto& c : cases)
    for (int m = 0; m < 2; ++m)
      run_iterations(c, m, c.warmup, false);
  for (int b = 0; b < blocks; ++b) {
    const std::array<int, 2> order =
        b % 2 == 0 ? std::array<int, 2>{ours, reference} : std::array<int, 2>{reference, ours};
    for (auto& c : cases)
      for (int m : order)
        run_iterations(c, m, c.block, true);
  }

  if (!opt.only.empty() && !opt.only.starts_with("d")) {
    for (const auto& c : cases)
      for (int m = 0; m < 2; ++m)
        std::printf("%s %s median %s, %d unexpected results\n", c.key.c_str(), kModuleNames[m],
                    fmt_us(percentile(c.samples[m], 0.5)).c_str(), c.unexpected[m]);
    cases.clear();
    if (!opt.keep)
      remove_tree(root);
    return 0;
  }

  // The system-call floor of (a), on the (a) file, and the I/O floor of (b), in the same
  // directory as the secret files.
  // Only in a full run: with --only dN the sequential cases (and their files) are gone.
  floor_samples syscall_floor, io_floor;
  if (opt.only.empty()) {
    std::fprintf(stderr, "pam_bench: floors of (a) and (b)...\n");
    syscall_floor = measure_floor(blocks, block_a, 100, [&](bool ours_variant) {
      lookup_and_read(cases[1].files[0], ours_variant ? 1 : 2);
    });
    io_floor = measure_floor(blocks, block_b * 2, 10,
                             [&](bool ours_variant) { one_rewrite(root, ours_variant); });
  }

  // --- parallel scenarios ---------------------------------------------------------------
  std::vector<std::string> distinct_users, shared_users;
  for (int p = 0; p < kParallel; ++p) {
    distinct_users.push_back("benchuser" + std::to_string(p));
    shared_users.push_back("benchshared");
  }
  std::vector<parallel_case> pcases;
  auto add_parallel = [&](const std::string& key, const std::string& label, bool shared,
                          const std::string& content) {
    parallel_case c;
    c.key = key;
    c.label = label;
    c.shared = shared;
    for (int m = 0; m < 2; ++m) {
      const std::string dir = root + "/" + kModuleNames[m] + "/" + key;
      make_dir(dir);
      for (const auto& user : shared ? shared_users : distinct_users)
        write_file(dir + "/" + user, content, 0600);
      c.service[m] = "d" + key + "-" + kModuleNames[m];
      write_service(confdir, c.service[m], module_line(m, dir + "/${USER}", ""));
    }
    pcases.push_back(std::move(c));
  };
  add_parallel("1", "(d) 8 users, TOTP (read only)", false, totp_file(false));
  add_parallel("2", "(d) 8 users, HOTP (write per login)", false, hotp_file());
  add_parallel("3", "(d) 1 shared user, TOTP (read only)", true, totp_file(false));
  add_parallel("4", "(d) 1 shared user, DISALLOW_REUSE, new step each (write)", true,
               totp_file(true));
  const auto pinned = [](int, int, int) { return kPinnedTime; };
  pcases[0].code = [&](int, int, int) { return totp_now[0]; };
  pcases[0].time = pinned;
  pcases[1].code = [&](int, int i, int round) { return hotp_codes.at(round * per_process + i); };
  pcases[1].time = pinned;
  pcases[2].code = [&](int, int, int) { return totp_now[0]; };
  pcases[2].time = pinned;
  auto fresh_index = [&](int p, int i, int round) {
    return (round * kParallel + p) * per_process + i;
  };
  pcases[3].code = [&](int p, int i, int round) {
    return fresh_codes.at(fresh_index(p, i, round));
  };
  pcases[3].time = [&](int p, int i, int round) {
    return fresh_base + static_cast<std::int64_t>(fresh_index(p, i, round)) * kStep;
  };

  std::fprintf(stderr, "pam_bench: parallel runs (%d processes x %d logins, %d rounds)...\n",
               kParallel, per_process, rounds);
  if (!opt.only.empty())
    std::erase_if(pcases, [&](const parallel_case& c) { return "d" + c.key != opt.only; });
  for (auto& c : pcases) {
    std::array<int, 2> round_of{};
    for (int r = 0; r < 2 * rounds; ++r) {
      // ours, ref, ref, ours, ours, ref, ...: each module goes first equally often.
      const int m = ((r + 1) / 2) % 2 == 0 ? ours : reference;
      const int round = round_of[m]++;
      const auto res = run_parallel(
          confdir, c.service[m], c.shared ? shared_users : distinct_users, per_process,
          [&](int p, int i) { return c.code(p, i, round); },
          [&](int p, int i) { return c.time(p, i, round); });
      c.rates[m].push_back(static_cast<double>(res.successes + res.failures) / res.seconds);
      c.failures[m] += res.failures;
      c.logins[m] += res.successes + res.failures;
    }
  }

  if (!opt.only.empty()) {
    for (const auto& c : pcases)
      for (int m = 0; m < 2; ++m)
        std::printf("d%s %s %.0f logins/s, %ld/%ld failed\n", c.key.c_str(), kModuleNames[m],
                    percentile(c.rates[m], 0.5), c.failures[m], c.logins[m]);
    cases.clear();
    if (!opt.keep)
      remove_tree(root);
    return 0;
  }

  // --- sanity: the scenarios did what they claim ------------------------------------------
  bool sane = true;
  for (int m = 0; m < 2; ++m) {
    if (read_file(cases[1].files[m]) != before_a[m]) {
      std::fprintf(stderr, "pam_bench: %s changed the (a) file\n", kModuleNames[m]);
      sane = false;
    }
    if (read_file(cases[3].files[m]) != before_c[m]) {
      std::fprintf(stderr, "pam_bench: %s changed the (c) file\n", kModuleNames[m]);
      sane = false;
    }
    const std::string hotp = read_file(cases[2].files[m]);
    const std::string want = "\" HOTP_COUNTER " + std::to_string(1 + cases[2].done[m]);
    if (hotp.find(want) == std::string::npos) {
      std::fprintf(stderr, "pam_bench: %s's HOTP file does not hold %s\n", kModuleNames[m],
                   want.c_str());
      sane = false;
    }
  }
  for (auto& c : cases)
    for (int m = 0; m < 2; ++m)
      if (c.unexpected[m] != 0) {
        std::fprintf(stderr, "pam_bench: %s: %s gave %d unexpected results\n", c.key.c_str(),
                     kModuleNames[m], c.unexpected[m]);
        sane = false;
      }

  // --- report: one table ---------------------------------------------------------------
  std::vector<double> floor_all = cases[0].samples[0];
  floor_all.insert(floor_all.end(), cases[0].samples[1].begin(), cases[0].samples[1].end());
  const double floor_median = percentile(floor_all, 0.5);

  std::printf("\n");
  print_row("scenario", "ours", "reference", "ratio", "target", "result");
  print_row("floor: pam_permit only, whole login (p50, p90)",
            (fmt_us(floor_median) + ", " + fmt_us(percentile(floor_all, 0.9))).c_str(), "", "", "",
            "");
  bool all_pass = sane;
  const std::array<double, 4> targets{0, 0.5, 1.2, 0.2};
  for (std::size_t i = 1; i < cases.size(); ++i) {
    const auto& c = cases[i];
    // Module cost: the login's latency minus the floor's median.
    auto cost = [&](int m, double p) { return percentile(c.samples[m], p) - floor_median; };
    const double ratio = cost(0, 0.5) / cost(1, 0.5);
    const bool pass = ratio <= targets[i] && c.unexpected[0] == 0;
    all_pass = all_pass && pass;
    print_row((c.label + " (p50, p90)").c_str(),
              (fmt_us(cost(0, 0.5)) + ", " + fmt_us(cost(0, 0.9))).c_str(),
              (fmt_us(cost(1, 0.5)) + ", " + fmt_us(cost(1, 0.9))).c_str(),
              fmt_ratio(ratio).c_str(), ("<= " + fmt_ratio(targets[i]) + " module cost").c_str(),
              pass ? "PASS" : "MISS");
  }
  // Not targets: the floors behind (a) and (b), see measure_floor.
  auto floor_row = [&](const char* label, const floor_samples& f, const char* note) {
    const double o = percentile(f.ours, 0.5);
    const double r = percentile(f.reference, 0.5);
    print_row(label, (fmt_us(o) + ", " + fmt_us(percentile(f.ours, 0.9))).c_str(),
              (fmt_us(r) + ", " + fmt_us(percentile(f.reference, 0.9))).c_str(),
              fmt_ratio(o / r).c_str(), note, "info");
  };
  floor_row("(a) floor: account lookup(s) + file read (p50, p90)", syscall_floor,
            "(1 vs 2 lookups)");
  floor_row("(b) I/O floor: bare syscalls, no module (p50, p90)", io_floor, "(+ dir fsync)");
  for (auto& c : pcases) {
    const double o = percentile(c.rates[0], 0.5);
    const double r = percentile(c.rates[1], 0.5);
    // Zero spurious failures everywhere; on distinct users also at least the reference's rate.
    const bool pass = c.failures[0] == 0 && (c.shared || o >= r);
    all_pass = all_pass && pass;
    auto cell = [&](int m, double rate) {
      return fmt_rate(rate) + "/s, " + std::to_string(c.failures[m]) + "/" +
             std::to_string(c.logins[m]) + " failed";
    };
    print_row(c.label.c_str(), cell(0, o).c_str(), cell(1, r).c_str(), fmt_ratio(o / r).c_str(),
              c.shared ? "0 failed" : ">= 1.00x, 0 failed", pass ? "PASS" : "MISS");
  }
  std::printf(
      "\nLatency rows: module cost = latency of pam_authenticate+pam_acct_mgmt minus the floor's\n"
      "median, %zu/%zu/%zu logins per module for (a)/(b)/(c), %d interleaved blocks. (d): %d\n"
      "processes x %d logins, median logins/s of %d rounds per module; a failure is a correct\n"
      "code rejected. Secret files under %s; scenario checks %s.\n",
      cases[1].samples[0].size(), cases[2].samples[0].size(), cases[3].samples[0].size(), blocks,
      kParallel, per_process, rounds, parent.c_str(), sane ? "OK" : "FAILED");
  cases.clear();  // pam_end before the files go
  if (!opt.keep)
    remove_tree(root);
  return all_pass ? 0 : 1;
}
