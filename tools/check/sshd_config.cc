#include "sshd_config.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "totp/pattern.h"

namespace pvetotp::check {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// sshd's argument splitting: whitespace separated, double quotes group; a first token may
// also be separated from its value by '='.
std::vector<std::string> split_args(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (std::isspace(static_cast<unsigned char>(text[i]))))
      ++i;
    if (i >= text.size())
      break;
    std::string tok;
    if (text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"')
        tok += text[i++];
      if (i < text.size())
        ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
        tok += text[i++];
    }
    out.push_back(tok);
  }
  return out;
}

// Defaults of Debian 12's sshd (OpenSSH 9.2) for the keywords the checks read.
const std::map<std::string, std::string>& defaults() {
  static const std::map<std::string, std::string> d = {
      {"usepam", "no"},
      {"kbdinteractiveauthentication", "yes"},
      {"passwordauthentication", "yes"},
      {"pubkeyauthentication", "yes"},
      {"authenticationmethods", "any"},
      {"permitrootlogin", "prohibit-password"},
  };
  return d;
}

}  // namespace

bool sshd_list_matches(const std::string& list, const std::string& name) {
  bool positive = false;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      continue;
    if (item[0] == '!') {
      if (totp::match_pattern(item.substr(1), name))
        return false;
    } else if (totp::match_pattern(item, name)) {
      positive = true;
    }
  }
  return positive;
}

std::map<std::string, std::string> parse_sshd_t(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find(' ');
    if (sp == std::string::npos)
      continue;
    std::string key = lower(line.substr(0, sp));
    if (!out.count(key))
      out[key] = line.substr(sp + 1);
  }
  return out;
}

sshd_config::sshd_config(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/')
    root_.pop_back();
}

bool sshd_config::load() {
  std::ifstream probe(root_ + "/etc/ssh/sshd_config");
  if (!probe) {
    // No sshd at all is not an error: a host without OpenSSH has nothing to check here.
    present_ = false;
    return true;
  }
  present_ = true;
  parse_file("/etc/ssh/sshd_config", -1, 0);
  return error_.empty();
}

void sshd_config::parse_file(const std::string& shown, int match_block, int depth) {
  if (depth > 16)
    return;
  std::ifstream in(root_ + shown);
  if (!in) {
    error_ = "cannot read " + root_ + shown;
    return;
  }
  std::string raw;
  int lineno = 0;
  int block = match_block;
  while (std::getline(in, raw)) {
    ++lineno;
    auto start = raw.find_first_not_of(" \t\r");
    if (start == std::string::npos || raw[start] == '#')
      continue;
    std::string text = raw.substr(start);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
      text.pop_back();
    // keyword, then optional '=' or whitespace
    std::size_t k = 0;
    while (k < text.size() && !std::isspace(static_cast<unsigned char>(text[k])) && text[k] != '=')
      ++k;
    std::string keyword = lower(text.substr(0, k));
    std::string rest = text.substr(k);
    rest.erase(0, rest.find_first_not_of(" \t"));
    if (!rest.empty() && rest[0] == '=')
      rest.erase(0, 1);
    std::vector<std::string> args = split_args(rest);
    if (keyword == "match") {
      sshd_match m;
      m.file = shown;
      m.line = lineno;
      for (std::size_t i = 0; i < args.size(); ++i) {
        std::string crit = lower(args[i]);
        if (crit == "all") {
          m.criteria.emplace_back("all", "");
        } else if (i + 1 < args.size()) {
          m.criteria.emplace_back(crit, args[++i]);
        }
      }
      matches_.push_back(std::move(m));
      block = static_cast<int>(matches_.size()) - 1;
      continue;
    }
    if (keyword == "include") {
      for (const auto& pat : args) {
        std::string full = pat[0] == '/' ? pat : "/etc/ssh/" + pat;
        glob_t g{};
        if (::glob((root_ + full).c_str(), 0, nullptr, &g) == 0) {
          for (std::size_t i = 0; i < g.gl_pathc; ++i)
            parse_file(std::string(g.gl_pathv[i]).substr(root_.size()), block, depth + 1);
        }
        globfree(&g);
      }
      continue;
    }
    std::string value;
    for (const auto& a : args)
      value += (value.empty() ? "" : " ") + a;
    if (keyword == "challengeresponseauthentication")
      keyword = "kbdinteractiveauthentication";
    directives_.push_back(sshd_directive{keyword, value, shown, lineno, block});
  }
}

std::map<std::string, sshd_value> sshd_config::effective(
    const std::string& user, const std::vector<std::string>& groups) const {
  std::vector<bool> active(matches_.size(), false);
  for (std::size_t i = 0; i < matches_.size(); ++i) {
    bool all = true;
    for (const auto& [crit, list] : matches_[i].criteria) {
      bool ok = false;
      if (crit == "all") {
        ok = true;
      } else if (crit == "user") {
        ok = sshd_list_matches(list, user);
      } else if (crit == "group") {
        // sshd accepts the block when any one of the user's groups matches the list.
        for (const auto& g : groups)
          ok = ok || sshd_list_matches(list, g);
      }
      all = all && ok;
    }
    active[i] = all;
  }
  std::map<std::string, sshd_value> global, matched;
  for (const auto& d : directives_) {
    if (d.match_block < 0) {
      if (!global.count(d.keyword))
        global[d.keyword] = sshd_value{d.value, d.file, d.line};
    } else if (active[d.match_block]) {
      if (!matched.count(d.keyword))
        matched[d.keyword] = sshd_value{d.value, d.file, d.line};
    }
  }
  std::map<std::string, sshd_value> out;
  for (const auto& [k, v] : defaults())
    out[k] = sshd_value{v, "", 0};
  for (const auto& [k, v] : global)
    out[k] = v;
  for (const auto& [k, v] : matched)
    out[k] = v;
  return out;
}

}  // namespace pvetotp::check
