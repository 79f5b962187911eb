// leak_check.cc: pvetotp-leakcheck, many authentications through real libpam in one process.
//
// sshd's monitor and pvedaemon keep the module loaded for weeks, so a few bytes lost per login
// add up. This driver loads the built pam_pvetotp.so through libpam (pam_start_confdir with a
// private service directory, nothing under /etc) and runs N authentications, rotating through
// four paths of the module: right TOTP code, wrong code, scratch code (removes it from the
// file, so the state store's rewrite runs too) and a missing secret file. Each outcome is
// checked, so a broken setup cannot pass as "no leak".
//
// What proves the absence of leaks is the environment it runs in (see CMakeLists.txt):
// LeakSanitizer in the sanitizer build, valgrind --leak-check=full in the normal build, and
// --max-rss-growth-kib, which compares VmRSS after a warm-up with VmRSS at the end.
//
// Right codes come from oathtool (an independent implementation), refreshed when the 30 s
// step changes; the module's default window of 3 tolerates a step change in between.
#include <dlfcn.h>
#include <security/pam_appl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* k_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
// Test-only scratch codes; the file is rewritten with all of them when they run out.
const std::vector<std::string> k_scratch = {"11111111", "22222222", "33333333", "44444444",
                                            "55555555", "66666666", "77777777", "88888888"};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pvetotp-leakcheck: %s\n", what.c_str());
  std::exit(2);
}

std::string run_oathtool(long long epoch) {
  const std::string cmd =
      "oathtool --totp -b " + std::string(k_secret) + " -N @" + std::to_string(epoch);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    die("cannot run oathtool");
  }
  char buf[64] = {};
  const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
  const int status = pclose(p);
  if (!got || status != 0) {
    die("oathtool failed (is it installed?)");
  }
  std::string code(buf);
  while (!code.empty() && (code.back() == '\n' || code.back() == '\r')) {
    code.pop_back();
  }
  return code;
}

// The right code for now and a code that is wrong for every step the module might accept.
struct codes {
  long long step = -1;
  std::string right;
  std::string wrong;
};

void refresh(codes& c) {
  const long long step = static_cast<long long>(std::time(nullptr)) / 30;
  if (step == c.step) {
    return;
  }
  std::set<std::string> near;
  for (long long s = step - 3; s <= step + 3; ++s) {
    near.insert(run_oathtool(s * 30));
  }
  c.step = step;
  c.right = run_oathtool(step * 30);
  for (const char* candidate : {"000000", "111111", "222222", "333333", "444444"}) {
    if (near.count(candidate) == 0) {
      c.wrong = candidate;
      break;
    }
  }
}

long vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

void write_file(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) {
      die("cannot write " + tmp);
    }
  }
  if (chmod(tmp.c_str(), 0400) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    die("cannot install " + path);
  }
}

std::string scratch_file_bytes() {
  std::string bytes = std::string(k_secret) + "\n\" TOTP_AUTH\n";
  for (const auto& s : k_scratch) {
    bytes += s + "\n";
  }
  return bytes;
}

// The conversation answers every prompt with the planned text; libpam frees the replies.
struct conv_state {
  std::string answer;
  int prompts = 0;
};

int conversation(int n, const struct pam_message** msgs, struct pam_response** out, void* data) {
  auto* state = static_cast<conv_state*>(data);
  auto* replies =
      static_cast<pam_response*>(std::calloc(static_cast<size_t>(n), sizeof(pam_response)));
  if (replies == nullptr) {
    return PAM_BUF_ERR;
  }
  for (int i = 0; i < n; ++i) {
    if (msgs[i]->msg_style == PAM_PROMPT_ECHO_OFF || msgs[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      replies[i].resp = strdup(state->answer.c_str());
      ++state->prompts;
    }
  }
  *out = replies;
  return PAM_SUCCESS;
}

// libpam applies the module's fail delay through this hook; skipping it keeps 10,000 runs fast.
void no_delay(int, unsigned, void*) {}

enum class path_kind { right, wrong, scratch, missing };

struct tally {
  long runs = 0, unexpected = 0;
  long right = 0, wrong = 0, scratch = 0, missing = 0;
};

struct setup {
  std::string confdir;
  std::string secret_dir;
  std::string user_right = "lc_right";  // <dir>/lc_right: the secret, no scratch codes used
  std::string user_scratch = "lc_scratch";
  std::string user_missing = "lc_missing";  // no file
};

void authenticate_once(const setup& s, path_kind kind, codes& c, std::size_t& scratch_next,
                       tally& t) {
  refresh(c);
  conv_state state;
  std::string user;
  int expected = PAM_AUTH_ERR;
  switch (kind) {
    case path_kind::right:
      user = s.user_right, state.answer = c.right, expected = PAM_SUCCESS, ++t.right;
      break;
    case path_kind::wrong:
      user = s.user_right, state.answer = c.wrong, ++t.wrong;
      break;
    case path_kind::scratch:
      if (scratch_next == k_scratch.size()) {
        write_file(s.secret_dir + "/" + s.user_scratch, scratch_file_bytes());
        scratch_next = 0;
      }
      user = s.user_scratch, state.answer = k_scratch[scratch_next++], expected = PAM_SUCCESS;
      ++t.scratch;
      break;
    case path_kind::missing:
      user = s.user_missing, state.answer = c.right, ++t.missing;
      break;
  }
  pam_conv conv{conversation, &state};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start_confdir("leakcheck", user.c_str(), &conv, s.confdir.c_str(), &pamh);
  if (rc != PAM_SUCCESS) {
    die("pam_start_confdir failed: " + std::to_string(rc));
  }
  pam_set_item(pamh, PAM_FAIL_DELAY, reinterpret_cast<const void*>(&no_delay));
  pam_set_item(pamh, PAM_RHOST, "192.0.2.1");
  rc = pam_authenticate(pamh, 0);
  pam_end(pamh, rc);
  ++t.runs;
  if (rc != expected) {
    if (++t.unexpected <= 5) {
      std::fprintf(stderr, "run %ld (%s): pam_authenticate returned %d, expected %d\n", t.runs,
                   user.c_str(), rc, expected);
    }
  }
}

void usage() {
  std::fprintf(stderr,
               "usage: pvetotp-leakcheck --module PATH [--count N] [--warmup N] "
               "[--max-rss-growth-kib K] [--keep-loaded]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string module;
  long count = 10000;
  long warmup = 0;
  long max_growth = -1;
  bool keep_loaded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
      }
      return argv[++i];
    };
    if (a == "--module") {
      module = next();
    } else if (a == "--count") {
      count = std::stol(next());
    } else if (a == "--warmup") {
      warmup = std::stol(next());
    } else if (a == "--max-rss-growth-kib") {
      max_growth = std::stol(next());
    } else if (a == "--keep-loaded") {
      keep_loaded = true;
    } else {
      usage();
    }
  }
  if (module.empty() || access(module.c_str(), R_OK) != 0) {
    die("module not found: " + module);
  }
  // libpam reads a relative module path as relative to its own security directory.
  if (char* absolute = realpath(module.c_str(), nullptr)) {
    module = absolute;
    std::free(absolute);
  }
  // libpam dlcloses the module at every pam_end. Under LeakSanitizer and valgrind that turns
  // a leak's stack into "<unknown module>"; pinning it keeps the report readable. The RSS run
  // leaves it out so load/unload cycles are measured too.
  if (keep_loaded && dlopen(module.c_str(), RTLD_NOW | RTLD_NODELETE) == nullptr) {
    die(std::string("dlopen: ") + dlerror());
  }

  char dir_template[] = "/tmp/pvetotp-leakcheck.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    die("mkdtemp failed");
  }
  setup s;
  const std::string dir = dir_template;
  s.confdir = dir + "/pam.d";
  s.secret_dir = dir + "/secrets";
  if (mkdir(s.confdir.c_str(), 0700) != 0 || mkdir(s.secret_dir.c_str(), 0700) != 0) {
    die("mkdir failed");
  }
  // user=<our uid>: the files belong to whoever runs the test (root in CI), and the PAM user
  // name only selects the file, so no account database is needed.
  {
    std::ofstream svc(s.confdir + "/leakcheck");
    svc << "auth required " << module << " secret=" << s.secret_dir << "/${USER} user=" << getuid()
        << "\n"
        << "account required pam_permit.so\n";
  }
  write_file(s.secret_dir + "/" + s.user_right, std::string(k_secret) + "\n\" TOTP_AUTH\n");
  write_file(s.secret_dir + "/" + s.user_scratch, scratch_file_bytes());

  codes c;
  std::size_t scratch_next = 0;
  tally t;
  const path_kind order[] = {path_kind::right, path_kind::wrong, path_kind::scratch,
                             path_kind::missing};
  for (long i = 0; i < warmup; ++i) {
    authenticate_once(s, order[i % 4], c, scratch_next, t);
  }
  const long rss_before = vm_rss_kib();
  tally measured;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    authenticate_once(s, order[i % 4], c, scratch_next, measured);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long rss_after = vm_rss_kib();

  std::printf(
      "authentications: %ld (right %ld, wrong %ld, scratch %ld, missing file %ld) "
      "after %ld warm-up\n",
      measured.runs, measured.right, measured.wrong, measured.scratch, measured.missing, warmup);
  std::printf("time: %.2f s (%.0f us per authentication)\n", seconds,
              measured.runs ? seconds * 1e6 / static_cast<double>(measured.runs) : 0.0);
  std::printf(
      "VmRSS: %ld KiB before, %ld KiB after, growth %ld KiB (%.1f bytes per "
      "authentication)\n",
      rss_before, rss_after, rss_after - rss_before,
      measured.runs ? static_cast<double>(rss_after - rss_before) * 1024.0 /
                          static_cast<double>(measured.runs)
                    : 0.0);

  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
    std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  }
  int status = 0;
  if (t.unexpected + measured.unexpected > 0) {
    std::printf("FAIL: %ld authentications had an unexpected result\n",
                t.unexpected + measured.unexpected);
    status = 1;
  }
  if (max_growth >= 0 && rss_after - rss_before > max_growth) {
    std::printf("FAIL: VmRSS grew by %ld KiB, more than the allowed %ld KiB\n",
                rss_after - rss_before, max_growth);
    status = 1;
  }
  return status;
}
