// options.h: module arguments from the PAM configuration line, parsed into one struct.
//
// Pure: no PAM calls, no lookups. Every default lives in module_options' initialisers. A
// misspelled or malformed argument is an error (the caller denies without prompting): in a
// second-factor module a typo must never quietly turn into "no restriction".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "totp/pattern.h"
#include "totp/result.h"

namespace pvetotp {

inline constexpr const char* kDefaultSecretTemplate = "~/.google_authenticator";

struct module_options {
  std::string secret_template = kDefaultSecretTemplate;  // secret=
  bool secret_given = false;
  std::optional<uid_t> fixed_uid;         // user=<number>
  std::optional<std::string> fixed_user;  // user=<name> (looked up at authentication time)
  std::optional<std::string> prompt;      // authtok_prompt=
  bool no_strict_owner = false;
  mode_t allowed_permissions = 0600;  // allowed_perm=
  bool debug = false;
  bool try_first_pass = false;
  bool use_first_pass = false;
  bool forward_pass = false;
  bool skew_adjust = true;                // noskewadj clears it
  bool increment_hotp_on_failure = true;  // no_increment_hotp clears it
  bool nullok = false;
  bool echo_code = false;          // echo_verification_code / echo-verification-code
  std::uint64_t grace_period = 0;  // grace_period=
  bool allow_readonly = false;
  // Filters (pattern lists); the module applies only when every given list matches.
  std::optional<totp::pattern_list> users;
  std::optional<totp::pattern_list> groups;
  std::optional<totp::pattern_list> services;
  std::string users_text, groups_text, services_text;  // as written, for log lines

  bool has_fixed_user() const { return fixed_uid.has_value() || fixed_user.has_value(); }
};

// Parses argv left to right; a later occurrence of an option overrides an earlier one.
// Errors carry the administrator's log line, e.g. `Unrecognized option "foo"`.
totp::result<module_options> parse_module_options(std::span<const char* const> args);

}  // namespace pvetotp
