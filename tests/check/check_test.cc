// Runs the built pvetotp-check on every fixture tree of tests/data/check and asserts the
// exact set of findings (id, severity, file, line, user) from its --json output, the exit
// status, and that the JSON is well formed. Trees are assembled in a temporary directory:
// base-debian12, then the fixture's files over it, then owners and modes that git cannot
// keep, then the per-test breakage (wrong owner, loose mode, symlink).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kData = fs::path(PVETOTP_TEST_DATA_DIR) / "check";

// ------------------------------------------------------------------ a tiny JSON reader
// Enough of RFC 8259 to validate the tool's output and read the findings back: objects,
// arrays, strings with escapes, integers, true/false/null. Any deviation throws.
struct json {
  enum kind { null_v, bool_v, num_v, str_v, arr_v, obj_v } k = null_v;
  bool b = false;
  long long n = 0;
  std::string s;
  std::vector<json> a;
  std::vector<std::pair<std::string, json>> o;
  const json& at(const std::string& key) const {
    for (const auto& [kk, v] : o)
      if (kk == key)
        return v;
    throw std::runtime_error("missing key " + key);
  }
};

class json_parser {
 public:
  explicit json_parser(std::string t) : t_(std::move(t)) {}
  json parse() {
    json v = value();
    ws();
    if (i_ != t_.size())
      fail("trailing data");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("json: " + why + " at " + std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && std::strchr(" \t\r\n", t_[i_]))
      ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c))
      fail(std::string("expected ") + c);
  }
  std::string str() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= t_.size())
        fail("unterminated string");
      char c = t_[i_++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size())
        fail("bad escape");
      char e = t_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (i_ + 4 > t_.size())
            fail("short \\u");
          out += static_cast<char>(std::stoi(t_.substr(i_, 4), nullptr, 16));
          i_ += 4;
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
  json value() {
    ws();
    json v;
    if (i_ >= t_.size())
      fail("unexpected end");
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.k = json::obj_v;
      if (eat('}'))
        return v;
      do {
        ws();
        std::string key = str();
        expect(':');
        v.o.emplace_back(key, value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.k = json::arr_v;
      if (eat(']'))
        return v;
      do
        v.a.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.k = json::str_v;
      v.s = str();
    } else if (t_.compare(i_, 4, "true") == 0 || t_.compare(i_, 5, "false") == 0) {
      v.k = json::bool_v;
      v.b = t_[i_] == 't';
      i_ += v.b ? 4 : 5;
    } else if (t_.compare(i_, 4, "null") == 0) {
      i_ += 4;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t start = i_++;
      while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_])))
        ++i_;
      v.k = json::num_v;
      v.n = std::stoll(t_.substr(start, i_ - start));
    } else {
      fail("unexpected character");
    }
    return v;
  }
  std::string t_;
  std::size_t i_ = 0;
};

// ------------------------------------------------------------------ running the tool

struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp_fd(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    s.append(buf, static_cast<std::size_t>(n));
  return s;
}

run_result run_tool(const std::vector<std::string>& args) {
  const fs::path err_file = fs::temp_directory_path() / ("check_err." + std::to_string(getpid()));
  int out_pipe[2];
  if (pipe(out_pipe) != 0)
    return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    FILE* e = fopen(err_file.c_str(), "w");
    if (e)
      dup2(fileno(e), 2);
    close(out_pipe[0]);
    std::vector<char*> argv;
    std::string bin = PVETOTP_CHECK_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  run_result r;
  r.out = slurp_fd(out_pipe[0]);
  close(out_pipe[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream ef(err_file);
  std::stringstream ss;
  ss << ef.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

// ------------------------------------------------------------------ fixture trees

unsigned uid_of(const fs::path& root, const std::string& name) {
  std::ifstream in(root / "etc/passwd");
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string f[4];
    for (auto& x : f)
      std::getline(s, x, ':');
    if (f[0] == name)
      return static_cast<unsigned>(std::stoul(f[2]));
  }
  return 65534;
}

class tree {
 public:
  explicit tree(const std::string& overlay) {
    char tmpl[] = "/tmp/pvetotp-check-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    const auto opts = fs::copy_options::recursive | fs::copy_options::overwrite_existing;
    fs::copy(kData / "base-debian12", dir_, opts);
    if (!overlay.empty())
      fs::copy(kData / overlay, dir_, opts);
    // The owner and mode a correctly enrolled user's file has: the user, 0400.
    fix_secret(dir_ / "root/.google_authenticator", 0);
    if (fs::exists(dir_ / "home"))
      for (const auto& h : fs::directory_iterator(dir_ / "home"))
        fix_secret(h.path() / ".google_authenticator", uid_of(dir_, h.path().filename()));
  }
  ~tree() { fs::remove_all(dir_); }
  const fs::path& path() const { return dir_; }

 private:
  static void fix_secret(const fs::path& p, unsigned uid) {
    if (!fs::exists(p))
      return;
    EXPECT_EQ(chown(p.c_str(), uid, uid), 0);
    EXPECT_EQ(chmod(p.c_str(), 0400), 0);
  }
  fs::path dir_;
};

using expected = std::tuple<std::string, std::string, std::string, int, std::string>;

std::vector<expected> findings_of(const json& doc) {
  std::vector<expected> out;
  for (const auto& f : doc.at("findings").a) {
    const json& user = f.at("user");
    out.emplace_back(f.at("id").s, f.at("severity").s, f.at("file").s,
                     static_cast<int>(f.at("line").n), user.k == json::null_v ? "" : user.s);
    EXPECT_FALSE(f.at("what").s.empty());
    EXPECT_FALSE(f.at("fix").s.empty());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct fixture_case {
  std::string name;
  int exit_status;
  std::vector<expected> findings;
  std::function<void(const fs::path&)> mutate;  // breaks the tree before the run
  std::vector<std::string> extra_args;
};

std::ostream& operator<<(std::ostream& os, const fixture_case& c) {
  return os << c.name;
}

const std::string kSecretM = "/home/mgrsys/.google_authenticator";

std::vector<fixture_case> cases() {
  const std::string sshd = "/etc/pam.d/sshd";
  const std::string ca = "/etc/pam.d/common-auth";
  return {
      {"clean-debian12", 0, {}, {}, {}},
      {"clean-guide", 0, {}, {}, {}},
      {"clean-pve-guarded", 0, {{"pam-auth-update-hand-edit", "info", ca, 28, ""}}, {}, {}},
      {"clean-conf", 0, {}, {}, {}},
      {"module-bypassable", 1, {{"module-bypassable", "error", sshd, 3, ""}}, {}, {}},
      {"module-bypassable-optional", 1, {{"module-bypassable", "error", sshd, 3, ""}}, {}, {}},
      {"module-bypassable-bracket", 1, {{"module-bypassable", "error", sshd, 3, ""}}, {}, {}},
      {"module-bypassable-jump", 1, {{"module-bypassable", "error", sshd, 2, ""}}, {}, {}},
      {"module-bypassable-done", 1, {{"module-bypassable", "error", sshd, 2, ""}}, {}, {}},
      {"filter-only-negations", 1, {{"filter-only-negations", "error", sshd, 3, ""}}, {}, {}},
      {"pve-web-login-broken",
       1,
       {{"pam-auth-update-hand-edit", "info", ca, 27, ""},
        {"pve-web-login-broken", "error", ca, 27, ""}},
       {},
       {}},
      {"pve-web-login-broken-ours",
       1,
       {{"pam-auth-update-hand-edit", "info", ca, 27, ""},
        {"pve-web-login-broken", "error", ca, 27, ""}},
       {},
       {}},
      {"sshd-password-before-kbdint",
       1,
       {{"sshd-password-before-kbdint", "error", "/etc/ssh/sshd_config.d/totp.conf", 2, "mgrsys"},
        {"sshd-password-before-kbdint", "error", "/etc/ssh/sshd_config.d/totp.conf", 2, "root"}},
       {},
       {}},
      {"sshd-kbdint-disabled",
       1,
       {{"sshd-kbdint-disabled", "error", "/etc/ssh/sshd_config", 62, "mgrsys"},
        {"sshd-kbdint-disabled", "error", "/etc/ssh/sshd_config", 62, "root"}},
       {},
       {}},
      {"sshd-kbdint-disabled-usepam",
       0,
       {{"sshd-kbdint-disabled", "warning", "/etc/ssh/sshd_config.d/totp.conf", 2, "mgrsys"},
        {"sshd-kbdint-disabled", "warning", "/etc/ssh/sshd_config.d/totp.conf", 2, "root"}},
       {},
       {}},
      {"sshd-common-auth-included",
       0,
       {{"sshd-common-auth-included", "warning", sshd, 4, "mgrsys"}},
       {},
       {}},
      {"sshd-root-password-login",
       1,
       {{"sshd-root-password-login", "error", "/etc/ssh/sshd_config.d/root.conf", 1, "root"}},
       {},
       {}},
      {"secret-missing",
       1,
       {{"secret-missing", "error", "/home/bob/.google_authenticator", 0, "bob"}},
       {},
       {}},
      {"secret-missing-nullok",
       0,
       {{"secret-missing", "warning", "/home/bob/.google_authenticator", 0, "bob"}},
       {},
       {}},
      {"secret-owner",
       1,
       {{"secret-owner", "error", kSecretM, 0, "mgrsys"}},
       [](const fs::path& r) { ASSERT_EQ(chown((r / kSecretM.substr(1)).c_str(), 0, 0), 0); },
       {}},
      {"secret-mode",
       1,
       {{"secret-mode", "error", kSecretM, 0, "mgrsys"}},
       [](const fs::path& r) { ASSERT_EQ(chmod((r / kSecretM.substr(1)).c_str(), 0644), 0); },
       {}},
      {"secret-symlink",
       1,
       {{"secret-symlink", "error", kSecretM, 0, "mgrsys"}},
       [](const fs::path& r) {
         const fs::path p = r / kSecretM.substr(1);
         fs::rename(p, r / "home/mgrsys/real-secret");
         fs::create_symlink("real-secret", p);
       },
       {}},
      {"secret-invalid", 1, {{"secret-invalid", "error", kSecretM, 0, "mgrsys"}}, {}, {}},
      {"secret-invalid-option", 1, {{"secret-invalid", "error", kSecretM, 0, "mgrsys"}}, {}, {}},
      {"pam-auth-update-hand-edit",
       1,
       {{"pam-auth-update-hand-edit", "error", ca, 25, ""}},
       {},
       {}},
      {"clock-unsynchronised",
       0,
       {{"clock-unsynchronised", "warning", "/var/lib/pvetotp-check/ntp-synchronized", 0, ""}},
       {},
       {}},
      // --user narrows the scope: bob is not checked, so nothing is missing.
      {"secret-missing", 0, {}, {}, {"--user", "mgrsys"}},
  };
}

// clean-conf is completed with the files of conf/ installed the way conf/ documents it.
void install_conf(const fs::path& root) {
  const fs::path conf = fs::path(PVETOTP_SOURCE_DIR) / "conf";
  const auto ow = fs::copy_options::overwrite_existing;
  fs::copy_file(conf / "pam.d/sshd", root / "etc/pam.d/sshd", ow);
  // Empty directories do not survive a git clone: create every destination directory.
  fs::create_directories(root / "etc/ssh/sshd_config.d");
  fs::copy_file(conf / "sshd_config.d/pvetotp.conf", root / "etc/ssh/sshd_config.d/pvetotp.conf",
                ow);
  fs::create_directories(root / "usr/share/pam-configs");
  fs::copy_file(conf / "pam-configs/pvetotp", root / "usr/share/pam-configs/pvetotp", ow);
}

class check_fixture : public ::testing::TestWithParam<fixture_case> {};

TEST_P(check_fixture, findings_and_exit_status) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to give secret files their owners";
  const fixture_case& c = GetParam();
  tree t(c.name);
  if (c.name == "clean-conf")
    install_conf(t.path());
  if (c.mutate)
    c.mutate(t.path());
  std::vector<std::string> args = {"--root", t.path().string(), "--json"};
  args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
  const run_result r = run_tool(args);
  SCOPED_TRACE(r.out + r.err);
  json doc;
  ASSERT_NO_THROW(doc = json_parser(r.out).parse());
  EXPECT_EQ(doc.at("version").n, 1);
  EXPECT_EQ(doc.at("root").s, t.path().string());
  std::vector<expected> want = c.findings;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(findings_of(doc), want);
  int errors = 0, warnings = 0, infos = 0;
  for (const auto& f : want) {
    const auto& sev = std::get<1>(f);
    (sev == "error" ? errors : sev == "warning" ? warnings : infos)++;
  }
  EXPECT_EQ(doc.at("summary").at("errors").n, errors);
  EXPECT_EQ(doc.at("summary").at("warnings").n, warnings);
  EXPECT_EQ(doc.at("summary").at("info").n, infos);
  EXPECT_EQ(r.status, c.exit_status);
  EXPECT_TRUE(r.err.empty());

  // The text output reports the same findings with file:line, what happens and the fix.
  args.erase(std::find(args.begin(), args.end(), "--json"));
  const run_result text = run_tool(args);
  EXPECT_EQ(text.status, c.exit_status);
  for (const auto& [id, sev, file, line, user] : want) {
    std::string head =
        sev + ": " + file + (line > 0 ? ":" + std::to_string(line) : "") + ": [" + id + "]";
    EXPECT_NE(text.out.find(head), std::string::npos) << head;
  }
  if (!want.empty()) {
    EXPECT_NE(text.out.find("  what happens: "), std::string::npos);
    EXPECT_NE(text.out.find("  fix: "), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(fixtures, check_fixture, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<fixture_case>& i) {
                           std::string n =
                               i.param.name + (i.param.extra_args.empty() ? "" : "_with_user");
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Every fixture directory is exercised by some case (a fixture nobody runs cannot fail).
TEST(check_fixtures, every_tree_has_a_case) {
  std::vector<std::string> names;
  for (const auto& c : cases())
    names.push_back(c.name);
  for (const auto& e : fs::directory_iterator(kData)) {
    if (!e.is_directory() || e.path().filename() == "base-debian12")
      continue;
    EXPECT_NE(std::find(names.begin(), names.end(), e.path().filename().string()), names.end())
        << e.path();
  }
}

// The clean-conf common-auth was produced by pam-auth-update from conf/pam-configs/pvetotp;
// if the profile's Auth line changes, the fixture must be regenerated.
TEST(check_fixtures, clean_conf_matches_profile) {
  std::ifstream profile(fs::path(PVETOTP_SOURCE_DIR) / "conf/pam-configs/pvetotp");
  std::string line, auth_line;
  bool in_auth = false;
  while (std::getline(profile, line)) {
    if (line.rfind("Auth:", 0) == 0) {
      in_auth = true;
      continue;
    }
    if (in_auth && !line.empty() && line[0] == '\t') {
      auth_line = line.substr(1);
      break;
    }
  }
  ASSERT_FALSE(auth_line.empty());
  std::ifstream ca(kData / "clean-conf/etc/pam.d/common-auth");
  std::stringstream s;
  s << ca.rdbuf();
  EXPECT_NE(s.str().find("auth\t" + auth_line + "\n"), std::string::npos) << auth_line;
}

TEST(check_cli, missing_root_exits_2) {
  const run_result r = run_tool({"--root", "/nonexistent/pvetotp-check"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos);
}

TEST(check_cli, missing_passwd_exits_2) {
  if (geteuid() != 0)
    GTEST_SKIP();
  tree t("clean-debian12");
  fs::remove(t.path() / "etc/passwd");
  EXPECT_EQ(run_tool({"--root", t.path().string()}).status, 2);
}

TEST(check_cli, unknown_user_exits_2) {
  if (geteuid() != 0)
    GTEST_SKIP();
  tree t("clean-debian12");
  const run_result r = run_tool({"--root", t.path().string(), "--user", "nosuchuser"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown user nosuchuser"), std::string::npos);
}

TEST(check_cli, bad_option_exits_2) {
  EXPECT_EQ(run_tool({"--frobnicate"}).status, 2);
}

TEST(check_cli, json_escapes_control_characters) {
  // A user name cannot carry quotes, but the root path can: it must come out escaped.
  if (geteuid() != 0)
    GTEST_SKIP();
  tree t("clean-debian12");
  const fs::path odd = t.path().string() + "-\"q\\";
  fs::rename(t.path(), odd);
  const run_result r = run_tool({"--root", odd.string(), "--json"});
  fs::rename(odd, t.path());
  json doc;
  ASSERT_NO_THROW(doc = json_parser(r.out).parse()) << r.out;
  EXPECT_EQ(doc.at("root").s, odd.string());
}

TEST(check_cli, live_system_runs) {
  // The live system's result is not fixed; the tool must still answer 0 or 1 with valid JSON.
  const run_result r = run_tool({"--json"});
  EXPECT_TRUE(r.status == 0 || r.status == 1) << r.status << r.err;
  EXPECT_NO_THROW(json_parser(r.out).parse()) << r.out;
}

}  // namespace
