// findings.h: what pvetotp-check reports, and the two ways it prints a report.
//
// A finding is one configuration problem: a stable id (documented in pvetotp-check(8), so
// scripts may match on it), a severity, where it is (a path as seen on the checked system,
// never prefixed with --root, and a 1-based line or 0 when there is no line), the user it
// concerns if any, what happens because of it, and how to fix it. Findings never contain
// secrets: the secret-file checks report paths, modes and owners only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pvetotp::check {

enum class severity { info, warning, error };

std::string_view to_string(severity s) noexcept;

struct finding {
  std::string id;
  severity level = severity::warning;
  std::string file;  // path on the checked system ("/etc/pam.d/sshd"), or a pseudo source
  int line = 0;      // 1-based; 0 when the finding is not about one line
  std::string user;  // the user the finding is about, empty when it concerns everyone
  std::string what;  // what happens because of it
  std::string fix;   // what to change
};

class report {
 public:
  // Adds a finding unless an identical one (id, file, line, user) is already present: the
  // same line is often reached through several services (sshd, login, other -> common-auth).
  void add(finding f);
  const std::vector<finding>& findings() const noexcept { return findings_; }
  int count(severity s) const noexcept;

  // Human text: one block per finding, then a summary line.
  std::string to_text() const;
  // One JSON object (format documented in pvetotp-check(8)), newline terminated.
  std::string to_json(std::string_view root) const;

 private:
  std::vector<finding> findings_;
};

// JSON string escaping (RFC 8259): quotes, backslash, control characters as \u00XX.
std::string json_escape(std::string_view text);

}  // namespace pvetotp::check
