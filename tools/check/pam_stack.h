// pam_stack.h: reading Linux-PAM service files the way libpam does, as far as a checker
// needs it.
//
// A service file is parsed into lines (type, control, module, arguments) with their file
// and line number. stack() then flattens one service and one type (auth, account, ...) the
// way libpam builds its handler chain: `@include FILE` (Debian) and `TYPE include FILE`
// insert the matching lines of another file in place; `TYPE substack FILE` does the same
// but marks the inserted lines with their own frame, because jumps cannot leave a
// substack. A service without a file uses `other`, as libpam does; that fallback is how
// PVE's `proxmox-ve-auth` ends up running `common-auth`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pvetotp::check {

struct pam_control {
  // required, requisite, sufficient, optional (as written), or "" for a bracket control.
  std::string simple;
  // [value=action ...] for bracket controls; actions are kept as text ("ignore", "1", ...).
  std::map<std::string, std::string> actions;

  // The action libpam takes for return value `code` (e.g. "auth_err", "success"): for
  // simple controls the documented equivalent, else actions[code], else actions["default"],
  // else "bad" (libpam treats an unset value as bad).
  std::string action_for(const std::string& code) const;
  std::string text() const;  // as it would be written in the file
};

struct pam_line {
  std::string file;  // path on the checked system, e.g. /etc/pam.d/common-auth
  int line = 0;
  std::string type;     // auth, account, password, session, or "@include"
  bool dash = false;    // `-auth`: silently skipped when the module is missing
  pam_control control;  // include/substack are in control.simple
  std::string module;   // module path as written, or the included file name
  std::vector<std::string> args;
  bool commented = false;  // a `#`-commented line that would be a valid PAM line

  // basename without directory, e.g. "pam_unix.so"
  std::string module_name() const;
  // value of `name=...` argument (last one wins, as in most modules); nullopt if absent
  std::optional<std::string> arg_value(const std::string& name) const;
  bool has_arg(const std::string& name) const;
};

struct stack_entry {
  const pam_line* line = nullptr;
  int frame = 0;  // 0 for the service itself; each substack gets its own number
  std::vector<std::string> include_chain;  // files that led here, outermost first
};

struct pam_file {
  std::string path;             // on the checked system
  std::vector<pam_line> lines;  // active lines and commented-out PAM-looking lines
};

class pam_config {
 public:
  // root: the directory standing for "/" ("" or "/" for the live system).
  explicit pam_config(std::string root);

  // False when DIR/etc/pam.d cannot be read at all.
  bool load();
  const std::string& error() const noexcept { return error_; }

  // Service names that have a file (everything in pam.d, including common-*).
  std::vector<std::string> services() const;
  bool has_service(const std::string& name) const;
  // The file libpam would use for `service`: its own, else "other"; nullptr if neither.
  const pam_file* service_file(const std::string& service) const;
  const pam_file* file(const std::string& name) const;  // by name in pam.d

  // The flattened chain of `type` lines for `service` (see file comment).
  std::vector<stack_entry> stack(const std::string& service, const std::string& type) const;

  const std::string& root() const noexcept { return root_; }

 private:
  const pam_file* load_file(const std::string& name) const;
  void append(const pam_file& f, const std::string& type, int frame, int& next_frame,
              std::vector<std::string>& chain, std::vector<stack_entry>& out, int depth) const;

  std::string root_;
  std::string error_;
  mutable std::map<std::string, std::optional<pam_file>> files_;
  std::vector<std::string> names_;
};

// Parses the text of one file; exposed for unit tests.
pam_file parse_pam_file(const std::string& path, const std::string& text);

}  // namespace pvetotp::check
