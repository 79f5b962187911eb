#include "checks.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "pam_stack.h"
#include "sshd_config.h"
#include "totp/pattern.h"
#include "totp/secret_bytes.h"
#include "totp/secret_file.h"

namespace pvetotp::check {
namespace {

constexpr const char* kPveService = "proxmox-ve-auth";
constexpr const char* kOurModule = "pam_pvetotp.so";
constexpr const char* kGaModule = "pam_google_authenticator.so";

// ---------------------------------------------------------------- accounts

struct account {
  std::string name;
  unsigned uid = 0;
  unsigned gid = 0;
  std::string home;
  std::string shell;
  std::vector<std::string> groups;  // primary first, then supplementary
};

struct group_entry {
  std::string name;
  unsigned gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::stringstream in(s);
  while (std::getline(in, item, sep))
    out.push_back(item);
  if (!s.empty() && s.back() == sep)
    out.push_back("");
  return out;
}

unsigned to_uint(const std::string& s) {
  try {
    return static_cast<unsigned>(std::stoul(s));
  } catch (...) {
    return 0;
  }
}

struct account_db {
  std::vector<account> accounts;
  std::vector<group_entry> groups;

  const account* find(const std::string& name) const {
    for (const auto& a : accounts)
      if (a.name == name)
        return &a;
    return nullptr;
  }
  const account* find_uid(unsigned uid) const {
    for (const auto& a : accounts)
      if (a.uid == uid)
        return &a;
    return nullptr;
  }
};

// With --root the fixture's files are read directly; on the live system NSS is asked, so
// LDAP/SSSD users that are in a TOTP group are seen too.
bool load_accounts(const std::string& root, account_db& db, std::string& err) {
  if (!root.empty()) {
    std::ifstream pw(root + "/etc/passwd"), gr(root + "/etc/group");
    if (!pw || !gr) {
      err = "cannot read " + root + (pw ? "/etc/group" : "/etc/passwd");
      return false;
    }
    std::string line;
    while (std::getline(pw, line)) {
      auto f = split(line, ':');
      if (f.size() < 7 || f[0].empty() || f[0][0] == '#')
        continue;
      db.accounts.push_back(account{f[0], to_uint(f[2]), to_uint(f[3]), f[5], f[6], {}});
    }
    while (std::getline(gr, line)) {
      auto f = split(line, ':');
      if (f.size() < 4 || f[0].empty() || f[0][0] == '#')
        continue;
      group_entry g{f[0], to_uint(f[2]), {}};
      for (auto& m : split(f[3], ','))
        if (!m.empty())
          g.members.push_back(m);
      db.groups.push_back(std::move(g));
    }
  } else {
    setpwent();
    while (passwd* p = getpwent())
      db.accounts.push_back(account{p->pw_name,
                                    p->pw_uid,
                                    p->pw_gid,
                                    p->pw_dir ? p->pw_dir : "",
                                    p->pw_shell ? p->pw_shell : "",
                                    {}});
    endpwent();
    setgrent();
    while (group* g = getgrent()) {
      group_entry e{g->gr_name, g->gr_gid, {}};
      for (char** m = g->gr_mem; m && *m; ++m)
        e.members.push_back(*m);
      db.groups.push_back(std::move(e));
    }
    endgrent();
    if (db.accounts.empty()) {
      err = "cannot enumerate users";
      return false;
    }
  }
  for (auto& a : db.accounts) {
    for (const auto& g : db.groups)
      if (g.gid == a.gid)
        a.groups.push_back(g.name);
    for (const auto& g : db.groups)
      if (g.gid != a.gid &&
          std::find(g.members.begin(), g.members.end(), a.name) != g.members.end())
        a.groups.push_back(g.name);
  }
  return true;
}

// ---------------------------------------------------------------- module lines

bool is_totp(const pam_line& l) {
  const auto n = l.module_name();
  return n == kOurModule || n == kGaModule;
}
bool is_ours(const pam_line& l) {
  return l.module_name() == kOurModule;
}

std::string where(const pam_line& l) {
  return l.file + ":" + std::to_string(l.line);
}

// Our module applies when every filter list present matches (users=, groups=), else it
// returns PAM_IGNORE; google-authenticator's module has no filters.
bool applies_to_user(const pam_line& l, const account& a) {
  if (!is_ours(l))
    return true;
  if (auto u = l.arg_value("users");
      u && !totp::pattern_list_matches(totp::parse_pattern_list(*u), a.name))
    return false;
  if (auto g = l.arg_value("groups");
      g && !totp::pattern_list_matches_any(totp::parse_pattern_list(*g), a.groups))
    return false;
  return true;
}

bool applies_to_service(const pam_line& l, const std::string& service) {
  if (!is_ours(l))
    return true;
  if (auto s = l.arg_value("services"))
    return totp::pattern_list_matches(totp::parse_pattern_list(*s), service);
  return true;
}

bool is_jump(const std::string& action) {
  return !action.empty() &&
         std::all_of(action.begin(), action.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Jump count of an action known to be all digits; absurd values clamp instead of throwing.
int jump_value(const std::string& action) {
  return action.size() > 6 ? 999999 : std::stoi(action);
}

// Number of entries of `frame` strictly between positions i and j.
int distance(const std::vector<stack_entry>& s, std::size_t i, std::size_t j) {
  int n = 0;
  for (std::size_t k = i + 1; k < j; ++k)
    if (s[k].frame == s[i].frame)
      ++n;
  return n;
}

// (return value, action) pairs of a control that end or jump the stack.
std::vector<std::pair<std::string, std::string>> leaving_actions(const pam_control& c) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!c.simple.empty()) {
    if (c.simple == "sufficient")
      out.emplace_back("success", "done");
    return out;
  }
  for (const auto& [code, action] : c.actions)
    if (action == "done" || is_jump(action))
      out.emplace_back(code, action);
  return out;
}

// Does `pam_succeed_if` line `l` jump over position j for the PVE web login? Only lines
// whose every condition is about the service are trusted as a guard: one that also tests
// the user only exempts some users.
bool guards_pve(const std::vector<stack_entry>& s, std::size_t i, std::size_t j) {
  const pam_line& l = *s[i].line;
  if (l.module_name() != "pam_succeed_if.so")
    return false;
  static const std::set<std::string> flags = {"quiet", "quiet_fail", "quiet_success",
                                              "debug", "use_uid",    "audit"};
  std::vector<std::string> t;
  for (const auto& a : l.args)
    if (!flags.count(a))
      t.push_back(a);
  if (t.empty() || t.size() % 3 != 0)
    return false;
  bool all_true = true;
  for (std::size_t k = 0; k < t.size(); k += 3) {
    if (t[k] != "service")
      return false;
    const std::string& op = t[k + 1];
    const std::string& v = t[k + 2];
    bool r = false;
    if (op == "=" || op == "eq") {
      r = v == kPveService;
    } else if (op == "!=" || op == "ne") {
      r = v != kPveService;
    } else if (op == "in" || op == "notin") {
      auto items = split(v, ':');
      r = std::find(items.begin(), items.end(), kPveService) != items.end();
      if (op == "notin")
        r = !r;
    } else if (op == "=~" || op == "!~") {
      r = fnmatch(v.c_str(), kPveService, 0) == 0;
      if (op == "!~")
        r = !r;
    } else {
      return false;
    }
    all_true = all_true && r;
  }
  const std::string action = l.control.action_for(all_true ? "success" : "auth_err");
  if (action == "done")
    return true;
  return is_jump(action) && jump_value(action) >= distance(s, i, j) + 1;
}

// ---------------------------------------------------------------- helpers

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  status = ::pclose(p);
  return out;
}

bool safe_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// AuthenticationMethods: space-separated lists of comma-separated methods; "any" = no list.
std::vector<std::vector<std::string>> method_lists(const std::string& value) {
  std::vector<std::vector<std::string>> out;
  if (lower(value) == "any" || value.empty())
    return out;
  std::istringstream in(value);
  std::string list;
  while (in >> list) {
    std::vector<std::string> methods;
    for (auto m : split(list, ',')) {
      if (auto c = m.find(':'); c != std::string::npos)
        m.erase(c);  // keyboard-interactive:pam
      methods.push_back(lower(m));
    }
    out.push_back(methods);
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// ---------------------------------------------------------------- the checker

class checker {
 public:
  checker(const options& o, outcome& out) : opts_(o), out_(out), pam_(o.root), sshd_(o.root) {}

  void run() {
    if (!pam_.load()) {
      out_.read_errors.push_back(pam_.error());
      return;
    }
    std::string err;
    if (!load_accounts(opts_.root, db_, err)) {
      out_.read_errors.push_back(err);
      return;
    }
    if (!sshd_.load())
      out_.read_errors.push_back(sshd_.error());
    pve_ = is_dir(opts_.root + "/etc/pve") || exists(opts_.root + "/usr/bin/pveversion");

    for (const auto& name : pam_.services()) {
      if (name.rfind("common-", 0) == 0)
        continue;  // included pieces, not services
      services_.push_back(name);
    }
    if (pve_ && !pam_.has_service(kPveService))
      services_.push_back(kPveService);
    for (const auto& svc : services_)
      stacks_[svc] = pam_.stack(svc, "auth");

    check_filters();
    for (const auto& [svc, s] : stacks_)
      check_bypass(svc, s);
    if (pve_)
      check_pve();
    check_pam_auth_update();
    compute_scope();
    for (const account* a : scope_) {
      check_secrets(*a);
      if (sshd_.present())
        check_sshd(*a);
    }
    check_clock();
  }

 private:
  void add(std::string id, severity s, std::string file, int line, std::string user,
           std::string what, std::string fix) {
    out_.findings.add(finding{std::move(id), s, std::move(file), line, std::move(user),
                              std::move(what), std::move(fix)});
  }

  // ------------------------------------------------ filter-only-negations
  void check_filters() {
    std::set<const pam_line*> seen;
    for (const auto& [svc, s] : stacks_)
      for (const auto& e : s) {
        if (!is_ours(*e.line) || !seen.insert(e.line).second)
          continue;
        for (const char* key : {"users", "groups", "services"}) {
          auto v = e.line->arg_value(key);
          if (!v)
            continue;
          auto list = totp::parse_pattern_list(*v);
          if (!list.only_negations() && !list.positive.empty())
            continue;
          add("filter-only-negations", severity::error, e.line->file, e.line->line, "",
              std::string(key) + "=" + *v +
                  " has no positive pattern, so it matches nobody: the module returns "
                  "PAM_IGNORE for every login and nobody is asked for a code",
              "start the list with what it should match, e.g. " + std::string(key) + "=*," +
                  (list.negative.empty() ? std::string("...") : "!" + list.negative.front()));
        }
      }
  }

  // ------------------------------------------------ module-bypassable
  void check_bypass(const std::string& svc, const std::vector<stack_entry>& s) {
    for (std::size_t j = 0; j < s.size(); ++j) {
      const pam_line& t = *s[j].line;
      if (!is_totp(t))
        continue;
      // Its own control: a failed code must fail the stack.
      const pam_control& c = t.control;
      std::string weak;
      if (c.simple == "optional" || c.simple == "sufficient") {
        weak = "'" + c.simple + "'";
      } else {
        for (const char* code : {"auth_err", "authinfo_unavail", "maxtries"}) {
          auto a = c.action_for(code);
          if (a != "bad" && a != "die") {
            weak = std::string(code) + "=" + a;
            break;
          }
        }
      }
      if (!weak.empty())
        add("module-bypassable", severity::error, t.file, t.line, "",
            t.module_name() + " is " + weak + " in service " + svc +
                ": a wrong or missing code does not fail the login, so the second factor "
                "can be skipped" +
                (c.simple == "sufficient" ? " (and a right code alone ends the stack)" : ""),
            "use 'required' (or '[success=ok default=die]'); leave filtering to the module's "
            "users=/groups=/services= options, which return PAM_IGNORE");
      // Earlier lines that jump over it or end the stack before it.
      for (std::size_t i = 0; i < j; ++i) {
        const pam_line& l = *s[i].line;
        if (s[i].frame != s[j].frame)
          continue;
        const auto mod = l.module_name();
        // Filters that skip on purpose (root su, the proxmox-ve-auth guard) are not bypasses.
        if (mod == "pam_succeed_if.so" || mod == "pam_rootok.so" || is_totp(l))
          continue;
        for (const auto& [code, action] : leaving_actions(l.control)) {
          const bool over = action == "done" || jump_value(action) >= distance(s, i, j) + 1;
          if (!over)
            continue;
          add("module-bypassable", severity::error, l.file, l.line, "",
              "when " + mod + " returns " + code + ", libpam " +
                  (action == "done" ? std::string("ends the stack")
                                    : "jumps " + action + " line(s)") +
                  " and never runs " + t.module_name() + " at " + where(t) + " (service " + svc +
                  "): no code is asked",
              "move the TOTP line before " + mod +
                  " or fix the jump count so that it "
                  "lands on the TOTP line, not past it");
          break;
        }
      }
    }
  }

  // ------------------------------------------------ pve-web-login-broken
  void check_pve() {
    const auto& s = stacks_[kPveService];
    const pam_file* f = pam_.service_file(kPveService);
    for (std::size_t j = 0; j < s.size(); ++j) {
      const pam_line& t = *s[j].line;
      if (!is_totp(t) || !applies_to_service(t, kPveService))
        continue;
      bool guarded = false;
      for (std::size_t i = 0; i < j && !guarded; ++i)
        guarded = guards_pve(s, i, j);
      if (guarded)
        continue;
      const bool fwd = t.has_arg("forward_pass");
      std::string via = f ? f->path : std::string("(none)");
      add("pve-web-login-broken", fwd ? severity::warning : severity::error, t.file, t.line, "",
          fwd ? "PVE's web login (PAM service proxmox-ve-auth, via " + via + ") runs " +
                    t.module_name() +
                    " with forward_pass: users must type password and code in one field, and "
                    "API clients that log in with a password break"
              : "PVE's web login (PAM service proxmox-ve-auth, which has no file and falls "
                "back to " +
                    via + ") runs " + t.module_name() +
                    "; PVE answers every prompt with the password, so the code check fails "
                    "and every web login fails after a ~3 s delay",
          is_ours(t) ? "add services=*,!proxmox-ve-auth (or an allow-list such as "
                       "services=sshd,login) to the module arguments, or move the line to "
                       "/etc/pam.d/sshd"
                     : "put 'auth [success=1 default=ignore] pam_succeed_if.so quiet service "
                       "= proxmox-ve-auth' right before it, or move the line to "
                       "/etc/pam.d/sshd, or use pam_pvetotp.so with services=");
    }
  }

  // ------------------------------------------------ pam-auth-update-hand-edit
  struct saved_entry {
    std::string key;
  };

  static std::string managed_key(const pam_control& c, const std::string& module) {
    // pam-auth-update compares control and module only, ignoring jump counts ("end" or a
    // number), since it renumbers them itself; options are merged, not compared.
    pam_control n = c;
    for (auto& [k, v] : n.actions)
      if (v == "end" || is_jump(v))
        v = "";
    return n.text() + " " + module;
  }

  std::vector<std::string> saved_keys(const std::string& type, bool& have) {
    std::vector<std::string> keys;
    have = false;
    std::ifstream in(opts_.root + "/var/lib/pam/" + type);
    auto take = [&](const std::string& line) {
      pam_line l;
      auto f = parse_pam_file("", type.substr(0, type.find('-')) + " " + line);
      if (!f.lines.empty())
        keys.push_back(managed_key(f.lines[0].control, f.lines[0].module));
    };
    if (in) {
      have = true;
      std::string line;
      while (std::getline(in, line))
        if (line.rfind("Module:", 0) != 0 && !line.empty())
          take(line);
      return keys;
    }
    // No saved state (never run here): accept any line that some profile can produce.
    const std::string dir = opts_.root + "/usr/share/pam-configs";
    if (!is_dir(dir))
      return keys;
    std::string field = type.substr(0, type.find('-'));
    field[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(field[0])));
    int st = 0;
    (void)st;
    for (const auto& name : list_dir(dir)) {
      std::ifstream p(dir + "/" + name);
      std::string line;
      bool in_field = false;
      while (std::getline(p, line)) {
        if (!line.empty() && !std::isspace(static_cast<unsigned char>(line[0]))) {
          in_field = line.rfind(field + ":", 0) == 0 || line.rfind(field + "-Initial:", 0) == 0;
          continue;
        }
        if (in_field) {
          have = true;
          take(line);
        }
      }
    }
    return keys;
  }

  static std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.')
          out.push_back(e->d_name);
      closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void check_pam_auth_update() {
    for (const char* type : {"auth", "account", "password", "session", "session-noninteractive"}) {
      const std::string name = std::string("common-") + type;
      if (!pam_.has_service(name))
        continue;
      std::ifstream in(opts_.root + "/etc/pam.d/" + name);
      std::string line;
      int lineno = 0, state = 0;
      std::vector<std::pair<int, std::string>> managed;  // (line, text) inside the blocks
      std::vector<std::pair<int, std::string>> outside;
      while (std::getline(in, line)) {
        ++lineno;
        if (line.rfind("# here are the per-package modules (the \"Primary\" block)", 0) == 0) {
          state = 1;
          continue;
        }
        if (line.rfind("# here's the fallback if no module succeeds", 0) == 0 && state == 1) {
          state = 2;
          continue;
        }
        if (line.rfind("# and here are more per-package modules (the \"Additional\" block)", 0) ==
                0 &&
            state == 2) {
          state = 3;
          continue;
        }
        if (line.rfind("# end of pam-auth-update config", 0) == 0 && state == 3) {
          state = 4;
          continue;
        }
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
          continue;
        if (state == 1 || state == 3)
          managed.emplace_back(lineno, line);
        else
          outside.emplace_back(lineno, line);
      }
      if (state == 0)
        continue;  // not managed by pam-auth-update
      const std::string shown = "/etc/pam.d/" + name;
      bool have = false;
      auto keys = saved_keys(type, have);
      std::size_t pos = 0;
      for (const auto& [ln, text] : managed) {
        auto f = parse_pam_file(shown, text);
        if (f.lines.empty())
          continue;
        const pam_line& l = f.lines[0];
        const std::string key = managed_key(l.control, l.module);
        // Saved entries are consumed in order, as pam-auth-update does; a line that matches
        // none is reported without consuming, so the lines after it are still compared.
        std::size_t at = pos;
        while (at < keys.size() && keys[at] != key)
          ++at;
        if (at < keys.size()) {
          pos = at + 1;
          continue;
        }
        if (!have)
          continue;
        add("pam-auth-update-hand-edit", is_totp(l) ? severity::error : severity::warning, shown,
            ln, "",
            "this line inside the block that pam-auth-update manages did not come from a "
            "profile: the next pam-auth-update run (any package that ships a PAM profile) "
            "refuses to merge and, when forced, rewrites the block and drops the line" +
                std::string(is_totp(l) ? ", silently removing the second factor" : ""),
            is_totp(l) && is_ours(l)
                ? "remove the line and run 'pam-auth-update --enable pvetotp' (profile "
                  "/usr/share/pam-configs/pvetotp)"
                : "move the line outside the managed block, or ship it as a profile in "
                  "/usr/share/pam-configs and enable it with pam-auth-update");
      }
      for (const auto& [ln, text] : outside) {
        auto f = parse_pam_file(shown, text);
        if (f.lines.empty() || !is_totp(f.lines[0]))
          continue;
        add("pam-auth-update-hand-edit", severity::info, shown, ln, "",
            "a TOTP module added by hand outside pam-auth-update's block: kept by "
            "pam-auth-update, but it applies to every service that includes " +
                name,
            "prefer the pvetotp profile ('pam-auth-update --enable pvetotp') or a line in the "
            "service's own file");
      }
    }
  }

  // ------------------------------------------------ scope
  void compute_scope() {
    if (!opts_.users.empty()) {
      for (const auto& u : opts_.users) {
        if (const account* a = db_.find(u))
          scope_.push_back(a);
        else
          out_.read_errors.push_back("unknown user " + u);
      }
      return;
    }
    std::set<std::string> names{"root"};
    bool filtered = false;
    for (const auto& [svc, s] : stacks_)
      for (const auto& e : s) {
        if (!is_ours(*e.line))
          continue;
        if (auto g = e.line->arg_value("groups")) {
          filtered = true;
          auto list = totp::parse_pattern_list(*g);
          for (const auto& a : db_.accounts)
            if (totp::pattern_list_matches_any(list, a.groups))
              names.insert(a.name);
        }
        if (auto u = e.line->arg_value("users")) {
          filtered = true;
          auto list = totp::parse_pattern_list(*u);
          for (const auto& a : db_.accounts)
            if (totp::pattern_list_matches(list, a.name))
              names.insert(a.name);
        }
      }
    if (!filtered) {
      // No group filter to go by: root plus the accounts people log in with.
      for (const auto& a : db_.accounts) {
        const bool nologin =
            a.shell.ends_with("nologin") || a.shell.ends_with("false") || a.shell.ends_with("sync");
        if (a.uid >= 1000 && a.uid < 60000 && !nologin)
          names.insert(a.name);
      }
    }
    for (const auto& n : names)
      if (const account* a = db_.find(n))
        scope_.push_back(a);
  }

  // ------------------------------------------------ secret files
  std::string expand(const std::string& tmpl, const account& a) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size();) {
      if (tmpl[i] == '~' && (i == 0 || tmpl[i - 1] == '/')) {
        out += a.home;
        ++i;
      } else if (tmpl.compare(i, 7, "${HOME}") == 0) {
        out += a.home;
        i += 7;
      } else if (tmpl.compare(i, 7, "${USER}") == 0) {
        out += a.name;
        i += 7;
      } else {
        out += tmpl[i++];
      }
    }
    return out;
  }

  // Whether sshd can run the PAM auth stack for `a` at all: only keyboard-interactive and
  // password (both with UsePAM) do. A root that may only use keys never reaches the TOTP
  // line in /etc/pam.d/sshd, so a missing secret file is no lockout there.
  bool sshd_runs_pam_auth(const account& a) {
    if (!sshd_.present())
      return true;
    auto eff = sshd_.effective(a.name, a.groups);
    if (lower(eff["usepam"].value) != "yes")
      return false;
    const bool kbd = lower(eff["kbdinteractiveauthentication"].value) == "yes";
    const bool pw = lower(eff["passwordauthentication"].value) == "yes";
    const auto lists = method_lists(eff["authenticationmethods"].value);
    if (lists.empty())
      return kbd || pw;
    for (const auto& l : lists)
      if ((kbd && contains(l, "keyboard-interactive")) || (pw && contains(l, "password")))
        return true;
    return false;
  }

  void check_secrets(const account& a) {
    std::set<std::string> done;
    const bool via_sshd = sshd_runs_pam_auth(a);
    for (const auto& svc : services_) {
      if (svc == "sshd" && !via_sshd)
        continue;
      for (const auto& e : stacks_[svc]) {
        const pam_line& l = *e.line;
        if (!is_totp(l) || !applies_to_service(l, svc) || !applies_to_user(l, a))
          continue;
        const std::string path =
            expand(l.arg_value("secret").value_or("~/.google_authenticator"), a);
        if (!done.insert(path).second)
          continue;
        check_secret_file(a, l, svc, path);
      }
    }
  }

  void check_secret_file(const account& a, const pam_line& l, const std::string& svc,
                         const std::string& path) {
    const std::string full = opts_.root + path;
    const std::string used = "used by " + where(l) + " (service " + svc + ")";
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        out_.read_errors.push_back("cannot stat " + full + ": " + std::strerror(errno));
        return;
      }
      const bool nullok = l.has_arg("nullok");
      add("secret-missing", nullok ? severity::warning : severity::error, path, 0, a.name,
          nullok ? a.name + " has no secret file and " + l.module_name() +
                       " has nullok: they log in without a code (" + used + ")"
                 : a.name + " has no secret file and " + l.module_name() +
                       " has no nullok: every login of " + a.name +
                       " through this stack fails, locking them out (" + used + ")",
          "enroll the user (pvetotp-enroll, run as " + a.name + ")" +
              (nullok ? std::string(", then drop nullok") : std::string("")));
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      add("secret-symlink", severity::error, path, 0, a.name,
          "the secret file is a symbolic link: pam_pvetotp refuses it (the user is locked out); "
          "google-authenticator follows it and replaces it with a regular file on the first "
          "update, and a link lets the user point the module at files they do not own (" +
              used + ")",
          "replace the link with the file itself: cp --remove-destination \"$(readlink -f " + path +
              ")\" " + path);
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      add("secret-invalid", severity::error, path, 0, a.name,
          "the secret file is not a regular file: the module treats the user as not enrolled (" +
              used + ")",
          "remove it and enroll the user again");
      return;
    }
    // Owner: the target user, or user= when given; no_strict_owner turns the check off.
    unsigned want_uid = a.uid;
    std::string want = a.name;
    if (auto u = l.arg_value("user")) {
      want = *u;
      if (!u->empty() && std::isdigit(static_cast<unsigned char>((*u)[0]))) {
        want_uid = to_uint(*u);
      } else if (const account* o = db_.find(*u)) {
        want_uid = o->uid;
      }
    }
    if (!l.has_arg("no_strict_owner") && st.st_uid != want_uid) {
      const account* owner = db_.find_uid(st.st_uid);
      add("secret-owner", severity::error, path, 0, a.name,
          "the secret file is owned by " +
              (owner ? owner->name : "uid " + std::to_string(st.st_uid)) + ", not " + want +
              ": the module refuses it and every login of " + a.name + " fails (" + used + ")",
          "chown " + want + " " + path);
    }
    unsigned allowed = 0600;
    if (auto p = l.arg_value("allowed_perm"))
      allowed = static_cast<unsigned>(std::strtoul(p->c_str(), nullptr, 8));
    const unsigned mode = st.st_mode & 07777;
    if ((mode & ~allowed) != 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04o", mode);
      add("secret-mode", severity::error, path, 0, a.name,
          std::string("the secret file has mode ") + buf +
              ": other users may read the secret and scratch codes, and the module refuses "
              "the file, so every login of " +
              a.name + " fails (" + used + ")",
          "chmod 0600 " + path);
    }
    check_secret_content(a, full, path, used);
  }

  void check_secret_content(const account& a, const std::string& full, const std::string& path,
                            const std::string& used) {
    int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      out_.read_errors.push_back("cannot open " + full + ": " + std::strerror(errno));
      return;
    }
    totp::secret_bytes bytes;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      bytes.append(buf, static_cast<std::size_t>(n));
      if (bytes.size() > totp::kMaxSecretFileSize)
        break;  // parse() reports the size
    }
    ::close(fd);
    auto invalid = [&](const std::string& why) {
      add("secret-invalid", severity::error, path, 0, a.name,
          why + ": the module cannot use the file and every login of " + a.name + " fails (" +
              used + ")",
          "enroll the user again (pvetotp-enroll), or correct the line named above");
    };
    auto parsed = totp::secret_file::parse(std::move(bytes), path);
    if (!parsed)
      return invalid(parsed.error().message);
    const totp::secret_file& f = parsed.value();
    if (auto k = f.key(); !k)
      return invalid(k.error().message);
    if (f.mode() == totp::otp_mode::none)
      return invalid(
          "neither \" TOTP_AUTH nor \" HOTP_COUNTER is set, so only scratch codes "
          "are accepted");
    if (auto r = f.step_size(); !r)
      return invalid(r.error().message);
    if (auto r = f.window_size(); !r)
      return invalid(r.error().message);
    if (auto r = f.rate_limit(); !r)
      return invalid(r.error().message);
    if (auto r = f.disallow_reuse(); !r)
      return invalid(r.error().message);
    if (auto r = f.algorithm(); !r)
      return invalid(r.error().message);
    if (auto r = f.digits(); !r)
      return invalid(r.error().message);
  }

  // ------------------------------------------------ sshd
  std::map<std::string, sshd_value> sshd_settings(const account& a) {
    auto eff = sshd_.effective(a.name, a.groups);
    if (!opts_.root.empty() || !safe_name(a.name) || ::access("/usr/sbin/sshd", X_OK) != 0)
      return eff;
    // On the live system sshd itself is the authority on what applies to this user.
    int status = 0;
    auto text =
        run_command("/usr/sbin/sshd -T -C user=" + a.name +
                        ",host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22 2>/dev/null",
                    status);
    if (status != 0 || text.empty())
      return eff;
    auto t = parse_sshd_t(text);
    for (auto& [k, v] : eff) {
      auto it = t.find(k);
      if (it == t.end())
        continue;
      if (lower(it->second) != lower(v.value))
        v = sshd_value{it->second, "sshd -T", 0};
    }
    return eff;
  }

  static std::string loc_file(const sshd_value& v) {
    return v.file.empty() ? "/etc/ssh/sshd_config" : v.file;
  }

  void check_sshd(const account& a) {
    auto eff = sshd_settings(a);
    const auto& am = eff["authenticationmethods"];
    const auto lists = method_lists(am.value);
    const auto& kbd = eff["kbdinteractiveauthentication"];
    const auto& pam = eff["usepam"];
    const bool kbd_on = lower(kbd.value) == "yes";
    const bool pam_on = lower(pam.value) == "yes";

    // sshd-password-before-kbdint
    for (const auto& l : lists) {
      auto p = std::find(l.begin(), l.end(), "password");
      auto k = std::find(l.begin(), l.end(), "keyboard-interactive");
      if (p != l.end() && k != l.end() && p < k)
        add("sshd-password-before-kbdint", severity::error, loc_file(am), am.line, a.name,
            "AuthenticationMethods '" + am.value +
                "' asks for 'password' before 'keyboard-interactive': with UsePAM the password "
                "method runs the PAM stack too, whose TOTP prompt is answered with the "
                "password, so the login fails",
            "drop 'password' from the list: keyboard-interactive already asks for the password "
            "and the code");
    }
    // sshd-kbdint-disabled
    std::size_t need = 0;
    for (const auto& l : lists)
      need += contains(l, "keyboard-interactive") ? 1 : 0;
    if (need > 0 && (!kbd_on || !pam_on)) {
      const sshd_value& cause = !kbd_on ? kbd : pam;
      const bool all = need == lists.size();
      add("sshd-kbdint-disabled", all ? severity::error : severity::warning,
          cause.file.empty() ? loc_file(am) : cause.file, cause.file.empty() ? am.line : cause.line,
          a.name,
          "AuthenticationMethods '" + am.value + "' requires keyboard-interactive but " +
              (!kbd_on ? "KbdInteractiveAuthentication is no" : "UsePAM is no") +
              (all ? ": no list can complete, " + a.name + " cannot log in over SSH"
                   : ": the lists that need it can never complete"),
          !kbd_on ? std::string("set 'KbdInteractiveAuthentication yes'")
                  : std::string("set 'UsePAM yes'"));
    }
    // sshd-common-auth-included
    const bool kbd_used = kbd_on && pam_on && (lists.empty() || need > 0);
    check_sshd_common_auth(a, lists, kbd_used);
    // sshd-root-password-login
    if (a.name == "root") {
      const auto& prl = eff["permitrootlogin"];
      if (lower(prl.value) == "yes") {
        const bool pw_on = lower(eff["passwordauthentication"].value) == "yes";
        bool keyless = lists.empty() && (pw_on || kbd_on);
        bool pw_alone = lists.empty() && pw_on;
        for (const auto& l : lists) {
          if (contains(l, "publickey"))
            continue;
          if ((contains(l, "password") && pw_on) || (contains(l, "keyboard-interactive") && kbd_on))
            keyless = true;
          if (l.size() == 1 && l[0] == "password" && pw_on)
            pw_alone = true;
        }
        if (keyless)
          add("sshd-root-password-login", pw_alone ? severity::error : severity::warning,
              loc_file(prl), prl.line, "root",
              std::string("PermitRootLogin yes lets root log in over SSH without a key") +
                  (pw_alone ? ", with the password alone: root is the first account every "
                              "brute-force attack tries"
                            : " (password and keyboard-interactive are open to guessing)"),
              "set 'PermitRootLogin prohibit-password' (PVE cluster nodes use keys), or add "
              "'Match User root' with 'AuthenticationMethods publickey'");
      }
    }
  }

  void check_sshd_common_auth(const account& a, const std::vector<std::vector<std::string>>& lists,
                              bool kbd_used) {
    const pam_file* f = pam_.file("sshd");
    if (!f)
      return;
    const pam_line* inc = nullptr;
    for (const auto& l : f->lines)
      if (!l.commented && l.module == "common-auth" &&
          (l.type == "@include" ||
           (l.type == "auth" && (l.control.simple == "include" || l.control.simple == "substack"))))
        inc = &l;
    if (!inc)
      return;
    const auto& s = stacks_["sshd"];
    bool in_common = false, elsewhere = false;
    for (const auto& e : s) {
      if (!is_totp(*e.line) || !applies_to_service(*e.line, "sshd") || !applies_to_user(*e.line, a))
        continue;
      (e.line->file == "/etc/pam.d/common-auth" ? in_common : elsewhere) = true;
    }
    if (in_common && elsewhere) {
      add("sshd-common-auth-included", severity::error, inc->file, inc->line, a.name,
          "the sshd stack runs a TOTP module from common-auth and another one of its own: " +
              a.name +
              " is asked for a code twice, and with reuse prevention the second "
              "prompt rejects the same code",
          "comment out '@include common-auth' in /etc/pam.d/sshd (keep pam_unix there if the "
          "password is wanted), or drop one of the TOTP lines");
      return;
    }
    if (!elsewhere || !kbd_used)
      return;
    bool key_and_kbd = false;
    for (const auto& l : lists)
      key_and_kbd =
          key_and_kbd || (contains(l, "publickey") && contains(l, "keyboard-interactive"));
    if (key_and_kbd)
      add("sshd-common-auth-included", severity::warning, inc->file, inc->line, a.name,
          "'@include common-auth' is still active in the sshd stack while SSH asks for a key "
          "and keyboard-interactive: " +
              a.name +
              " is asked for the Unix password as well as the code, and keyboard-interactive "
              "turns into a password-guessing channel",
          "comment out '@include common-auth' in /etc/pam.d/sshd, as the hardening guide does");
  }

  // ------------------------------------------------ clock
  void check_clock() {
    std::string state;  // "yes", "no" or "" for unknown
    std::string source;
    if (!opts_.root.empty()) {
      // Fixture trees describe the clock in a file of our own (see pvetotp-check(8)).
      source = "/var/lib/pvetotp-check/ntp-synchronized";
      std::ifstream in(opts_.root + source);
      if (!in)
        return;
      in >> state;
      state = lower(state);
    } else {
      int status = 0;
      if (::access("/usr/bin/timedatectl", X_OK) == 0) {
        auto t =
            run_command("/usr/bin/timedatectl show -p NTPSynchronized --value 2>/dev/null", status);
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
          t.pop_back();
        if (status == 0 && (t == "yes" || t == "no")) {
          state = t;
          source = "timedatectl";
        }
      }
      if (state.empty()) {
        timex tx{};
        if (::adjtimex(&tx) >= 0) {
          state = (tx.status & STA_UNSYNC) ? "no" : "yes";
          source = "adjtimex(2)";
        }
      }
    }
    if (state == "no")
      add("clock-unsynchronised", severity::warning, source, 0, "",
          "the system clock is not synchronised: TOTP codes are computed from the time, so a "
          "clock that drifts more than one step (30 s) rejects every valid code",
          "enable time synchronisation (chrony or systemd-timesyncd) and check "
          "'timedatectl show -p NTPSynchronized'");
  }

  const options& opts_;
  outcome& out_;
  pam_config pam_;
  sshd_config sshd_;
  account_db db_;
  bool pve_ = false;
  std::vector<std::string> services_;
  std::map<std::string, std::vector<stack_entry>> stacks_;
  std::vector<const account*> scope_;
};

}  // namespace

outcome run_checks(const options& opts) {
  outcome out;
  checker c(opts, out);
  c.run();
  return out;
}

}  // namespace pvetotp::check
