// enroll_options.h: the command line of pvetotp-enroll, parsed and validated.
//
// Pure: no I/O, no globals (getopt's optind is deliberately not used, so tests can parse any
// number of command lines in one process). The accepted syntax is getopt_long's with the
// reference CLI's option string `+hcCtdDfl:i:qQ:r:R:us:S:w:We:`: clustered short options
// (`-tdf`), attached or separate arguments (`-r3`, `-r 3`), `--name=value` or `--name value`,
// unambiguous long-option prefixes (`--rate-l=3`), `--` ends the options. The leading `+`
// means the first non-option argument stops option parsing; we reject it (exit 2) instead of
// the reference's silent exit 0.
//
// Validation follows spec ga-compat 6.1: each option at most once, ranges, mutual
// exclusions, with the reference's messages (which name the flag and the range) and its
// exit status 1.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "totp/otp.h"
#include "totp/qr.h"

namespace pvetotp {

enum class enroll_mode { ask, totp, hotp };
enum class reuse_choice { ask, disallow, allow };

struct enroll_options {
  enroll_mode mode = enroll_mode::ask;       // -t / -c
  reuse_choice reuse = reuse_choice::ask;    // -d / -D (TOTP only)
  bool no_confirm = false;                   // -C
  bool force = false;                        // -f: no "update file?" question
  bool quiet = false;                        // -q
  std::optional<std::string> label;          // -l; nullopt: <login>@<hostname>
  std::optional<std::string> issuer;         // -i; nullopt: hostname; "": none
  totp::qr_style qr = totp::qr_style::utf8;  // -Q; our default is UTF8 (reference: ANSI)
  std::optional<int> rate_limit;             // -r 1..10
  std::optional<int> rate_time;              // -R 15..600
  bool no_rate_limit = false;                // -u
  std::optional<std::string> secret_path;    // -s
  std::optional<int> step_size;              // -S 1..60
  std::optional<int> window_size;            // -w 1..21
  bool minimal_window = false;               // -W
  int emergency_codes = 5;                   // -e 0..10
  // Extensions.
  totp::hash_algorithm algorithm = totp::hash_algorithm::sha1;  // --algorithm
  int digits = 6;                                               // --digits 6..8
  std::optional<std::string> qr_png;                            // --qr-png FILE
  std::optional<std::string> user;                              // --user NAME
  std::optional<std::string> store;  // --store DIR: central layout, file <DIR>/<user>, root 0600

  // Whether a question of spec 6.3 will be asked.
  bool ask_window() const noexcept { return !window_size && !minimal_window; }
  bool ask_rate_limit() const noexcept { return !rate_limit && !no_rate_limit; }
};

enum class parse_action {
  run,      // enroll with `options`
  help,     // print usage_text() to stdout, exit 0
  version,  // print version_text() to stdout, exit 0
  error,    // print `message` (and usage_text() when show_usage) to stderr, exit `exit_status`
};

struct parse_result {
  parse_action action = parse_action::run;
  enroll_options options;
  std::string message;  // one or more lines, no trailing newline
  bool show_usage = false;
  int exit_status = 0;
};

// args excludes argv[0].
parse_result parse_enroll_options(std::span<const std::string_view> args);

// Convenience for main(): argv as given to main.
parse_result parse_enroll_options(int argc, const char* const* argv);

std::string usage_text();
std::string version_text();  // "pvetotp-enroll <version>"

}  // namespace pvetotp
