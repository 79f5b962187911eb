#include "findings.h"

#include <algorithm>
#include <cstdio>

namespace pvetotp::check {

std::string_view to_string(severity s) noexcept {
  switch (s) {
    case severity::info:
      return "info";
    case severity::warning:
      return "warning";
    case severity::error:
      return "error";
  }
  return "error";
}

void report::add(finding f) {
  const bool seen = std::any_of(findings_.begin(), findings_.end(), [&](const finding& o) {
    return o.id == f.id && o.file == f.file && o.line == f.line && o.user == f.user;
  });
  if (!seen)
    findings_.push_back(std::move(f));
}

int report::count(severity s) const noexcept {
  return static_cast<int>(std::count_if(findings_.begin(), findings_.end(),
                                        [s](const finding& f) { return f.level == s; }));
}

std::string report::to_text() const {
  std::string out;
  // Errors first: they are the ones that lock people out or let attackers in.
  std::vector<const finding*> sorted;
  for (const auto& f : findings_)
    sorted.push_back(&f);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const finding* a, const finding* b) { return a->level > b->level; });
  for (const finding* f : sorted) {
    out += to_string(f->level);
    out += ": ";
    out += f->file;
    if (f->line > 0)
      out += ":" + std::to_string(f->line);
    out += ": [" + f->id + "]";
    if (!f->user.empty())
      out += " (user " + f->user + ")";
    out += "\n  what happens: " + f->what + "\n  fix: " + f->fix + "\n";
  }
  out += std::to_string(count(severity::error)) + " error(s), " +
         std::to_string(count(severity::warning)) + " warning(s), " +
         std::to_string(count(severity::info)) + " info\n";
  return out;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string report::to_json(std::string_view root) const {
  std::string out = "{\"version\":1,\"root\":\"" + json_escape(root) + "\",\"findings\":[";
  bool first = true;
  for (const auto& f : findings_) {
    if (!first)
      out += ",";
    first = false;
    out += "{\"id\":\"" + json_escape(f.id) + "\",\"severity\":\"" +
           std::string(to_string(f.level)) + "\",\"file\":\"" + json_escape(f.file) +
           "\",\"line\":" + std::to_string(f.line) + ",\"user\":";
    out += f.user.empty() ? std::string("null") : "\"" + json_escape(f.user) + "\"";
    out += ",\"what\":\"" + json_escape(f.what) + "\",\"fix\":\"" + json_escape(f.fix) + "\"}";
  }
  out += "],\"summary\":{\"errors\":" + std::to_string(count(severity::error)) +
         ",\"warnings\":" + std::to_string(count(severity::warning)) +
         ",\"info\":" + std::to_string(count(severity::info)) + "}}\n";
  return out;
}

}  // namespace pvetotp::check
