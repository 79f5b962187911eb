// sshd_config.h: the effective sshd settings for one user, with the line that set them.
//
// Reads DIR/etc/ssh/sshd_config, follows `Include` (globs, relative to /etc/ssh, in
// lexical order, also inside Match blocks) and evaluates `Match` blocks for a given user
// and group set the way sshd does: in the global part the first value of a keyword wins;
// values from matching Match blocks override the global ones, and among those the first
// wins again. Match criteria that depend on the connection (Address, Host, LocalAddress,
// LocalPort, RDomain) cannot be known here and are treated as not matching; `All` matches.
//
// On the live system (no --root) the caller may instead ask sshd itself (`sshd -T -C`);
// read_sshd_t() parses that output into the same shape, keeping the file locations found
// by parsing so findings can still point at a line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pvetotp::check {

struct sshd_value {
  std::string value;  // arguments joined by one space, keyword-specific case kept
  std::string file;   // where it was set; empty for a built-in default
  int line = 0;
};

struct sshd_directive {
  std::string keyword;  // lower case
  std::string value;
  std::string file;
  int line = 0;
  int match_block = -1;  // index into match criteria, -1 for global
};

struct sshd_match {
  std::vector<std::pair<std::string, std::string>> criteria;  // (lower-case name, pattern list)
  std::string file;
  int line = 0;
};

class sshd_config {
 public:
  explicit sshd_config(std::string root);
  // False when the main file cannot be read; error() says why.
  bool load();
  const std::string& error() const noexcept { return error_; }
  bool present() const noexcept { return present_; }

  // Effective settings for `user` whose groups (primary first) are `groups`. Keys are
  // lower-case keywords; every keyword the checks use is present, with Debian's OpenSSH
  // 9.2 default when nothing sets it.
  std::map<std::string, sshd_value> effective(const std::string& user,
                                              const std::vector<std::string>& groups) const;

 private:
  void parse_file(const std::string& shown, int match_block, int depth);
  std::string root_;
  std::string error_;
  bool present_ = false;
  std::vector<sshd_directive> directives_;
  std::vector<sshd_match> matches_;
};

// Match one sshd pattern list (`a*,!b`) against one name, OpenSSH's rules: a negated hit
// rejects, otherwise any positive hit accepts.
bool sshd_list_matches(const std::string& list, const std::string& name);

// Parses `sshd -T` output ("keyword value" lines) into lower-case keyword -> value.
std::map<std::string, std::string> parse_sshd_t(const std::string& text);

}  // namespace pvetotp::check
