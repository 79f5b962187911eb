#include "pam_stack.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace pvetotp::check {
namespace {

const char* const kTypes[] = {"auth", "account", "password", "session"};

bool is_type(const std::string& t) {
  return std::find(std::begin(kTypes), std::end(kTypes), t) != std::end(kTypes);
}

// Splits a logical line into fields. A field starting with '[' runs to the matching ']'
// (bracket controls, and module arguments that contain spaces); libpam allows `\]` inside.
std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    if (i >= text.size())
      break;
    std::string tok;
    if (text[i] == '[') {
      ++i;
      while (i < text.size() && text[i] != ']') {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == ']')
          ++i;
        tok += text[i++];
      }
      if (i < text.size())
        ++i;  // ']'
      out.push_back("[" + tok + "]");
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
        tok += text[i++];
      out.push_back(tok);
    }
  }
  return out;
}

pam_control parse_control(const std::string& tok) {
  pam_control c;
  if (tok.size() >= 2 && tok.front() == '[') {
    std::istringstream in(tok.substr(1, tok.size() - 2));
    std::string item;
    while (in >> item) {
      auto eq = item.find('=');
      if (eq == std::string::npos)
        continue;
      std::string key = item.substr(0, eq);
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      c.actions[key] = item.substr(eq + 1);
    }
  } else {
    c.simple = tok;
  }
  return c;
}

// Turns one logical line (comment already removed) into a pam_line; false if it is not one.
bool parse_fields(const std::vector<std::string>& t, pam_line& l) {
  if (t.empty())
    return false;
  if (t[0] == "@include") {
    if (t.size() < 2)
      return false;
    l.type = "@include";
    l.control.simple = "include";
    l.module = t[1];
    return true;
  }
  std::string type = t[0];
  if (!type.empty() && type[0] == '-') {
    l.dash = true;
    type.erase(0, 1);
  }
  if (!is_type(type) || t.size() < 3)
    return false;
  l.type = type;
  l.control = parse_control(t[1]);
  l.module = t[2];
  for (std::size_t k = 3; k < t.size(); ++k) {
    std::string a = t[k];
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']')
      a = a.substr(1, a.size() - 2);
    l.args.push_back(a);
  }
  return true;
}

std::string read_text(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream s;
  if (ok)
    s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string pam_control::action_for(const std::string& code) const {
  if (!simple.empty()) {
    const bool positive = code == "success" || code == "new_authtok_reqd";
    if (simple == "required")
      return positive ? "ok" : code == "ignore" ? "ignore" : "bad";
    if (simple == "requisite")
      return positive ? "ok" : code == "ignore" ? "ignore" : "die";
    if (simple == "sufficient")
      return positive ? "done" : "ignore";
    if (simple == "optional")
      return positive ? "ok" : "ignore";
    return "bad";
  }
  if (auto it = actions.find(code); it != actions.end())
    return it->second;
  if (auto it = actions.find("default"); it != actions.end())
    return it->second;
  return "bad";
}

std::string pam_control::text() const {
  if (!simple.empty())
    return simple;
  std::string out = "[";
  for (const auto& [k, v] : actions) {
    if (out.size() > 1)
      out += ' ';
    out += k + "=" + v;
  }
  return out + "]";
}

std::string pam_line::module_name() const {
  auto slash = module.rfind('/');
  return slash == std::string::npos ? module : module.substr(slash + 1);
}

std::optional<std::string> pam_line::arg_value(const std::string& name) const {
  std::optional<std::string> v;
  for (const auto& a : args)
    if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')
      v = a.substr(name.size() + 1);
  return v;
}

bool pam_line::has_arg(const std::string& name) const {
  return std::find(args.begin(), args.end(), name) != args.end();
}

pam_file parse_pam_file(const std::string& path, const std::string& text) {
  pam_file f;
  f.path = path;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    const int first = lineno;
    // Backslash-newline joins physical lines, as libpam does.
    while (!raw.empty() && raw.back() == '\\') {
      raw.pop_back();
      std::string more;
      if (!std::getline(in, more))
        break;
      ++lineno;
      raw += " " + more;
    }
    auto hash = raw.find('#');
    std::string active = hash == std::string::npos ? raw : raw.substr(0, hash);
    pam_line l;
    l.file = path;
    l.line = first;
    if (parse_fields(tokenize(active), l)) {
      f.lines.push_back(std::move(l));
      continue;
    }
    // A commented-out PAM line (`#@include common-auth`) is kept, marked, so checks can
    // tell "disabled on purpose" apart from "never there".
    if (hash != std::string::npos && active.find_first_not_of(" \t") == std::string::npos) {
      std::string rest = raw.substr(hash);
      rest.erase(0, rest.find_first_not_of("# \t"));
      pam_line c;
      c.file = path;
      c.line = first;
      if (!rest.empty() && parse_fields(tokenize(rest), c)) {
        c.commented = true;
        f.lines.push_back(std::move(c));
      }
    }
  }
  return f;
}

pam_config::pam_config(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/')
    root_.pop_back();
}

bool pam_config::load() {
  const std::string dir = root_ + "/etc/pam.d";
  DIR* d = opendir(dir.c_str());
  if (!d) {
    error_ = "cannot read " + dir;
    return false;
  }
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..")
      continue;
    names_.push_back(n);
  }
  closedir(d);
  std::sort(names_.begin(), names_.end());
  return true;
}

std::vector<std::string> pam_config::services() const {
  return names_;
}

bool pam_config::has_service(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

const pam_file* pam_config::load_file(const std::string& name) const {
  auto it = files_.find(name);
  if (it != files_.end())
    return it->second ? &*it->second : nullptr;
  // Absolute include targets are taken inside the checked root; relative ones in pam.d.
  std::string shown = name.empty() || name[0] != '/' ? "/etc/pam.d/" + name : name;
  bool ok = false;
  std::string text = read_text(root_ + shown, ok);
  auto& slot = files_[name];
  if (ok)
    slot = parse_pam_file(shown, text);
  return slot ? &*slot : nullptr;
}

const pam_file* pam_config::file(const std::string& name) const {
  return load_file(name);
}

const pam_file* pam_config::service_file(const std::string& service) const {
  if (const pam_file* f = load_file(service))
    return f;
  return load_file("other");
}

void pam_config::append(const pam_file& f, const std::string& type, int frame, int& next_frame,
                        std::vector<std::string>& chain, std::vector<stack_entry>& out,
                        int depth) const {
  if (depth > 16)
    return;  // include loops: libpam also gives up at a fixed depth
  chain.push_back(f.path);
  for (const auto& l : f.lines) {
    if (l.commented)
      continue;
    if (l.type == "@include" ||
        (l.type == type && (l.control.simple == "include" || l.control.simple == "substack"))) {
      if (const pam_file* inc = load_file(l.module)) {
        int sub = frame;
        if (l.control.simple == "substack")
          sub = next_frame++;
        append(*inc, type, sub, next_frame, chain, out, depth + 1);
      }
      continue;
    }
    if (l.type != type)
      continue;
    out.push_back(stack_entry{&l, frame, chain});
  }
  chain.pop_back();
}

std::vector<stack_entry> pam_config::stack(const std::string& service,
                                           const std::string& type) const {
  std::vector<stack_entry> out;
  const pam_file* f = service_file(service);
  if (!f)
    return out;
  int next_frame = 1;
  std::vector<std::string> chain;
  append(*f, type, 0, next_frame, chain, out, 0);
  return out;
}

}  // namespace pvetotp::check
