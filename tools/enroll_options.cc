// enroll_options.cc: command-line parsing for pvetotp-enroll (see enroll_options.h).
#include "enroll_options.h"

#include <array>
#include <charconv>
#include <vector>

#ifndef PVETOTP_VERSION
#error "PVETOTP_VERSION comes from libtotp's CMake target"
#endif

namespace pvetotp {
namespace {

enum class opt_id {
  help,
  version,
  counter,
  no_confirm,
  time,
  disallow_reuse,
  allow_reuse,
  force,
  label,
  issuer,
  quiet,
  qr_mode,
  rate_limit,
  rate_time,
  no_rate_limit,
  secret,
  step_size,
  window_size,
  minimal_window,
  emergency_codes,
  algorithm,
  digits,
  qr_png,
  user,
  store,
};

struct opt_spec {
  char short_name;  // 0: long only
  std::string_view long_name;
  bool has_arg;
  opt_id id;
};

// The reference's option string `+hcCtdDfl:i:qQ:r:R:us:S:w:We:` plus our long-only
// extensions.
constexpr std::array<opt_spec, 25> kOptions{{
    {'h', "help", false, opt_id::help},
    {0, "version", false, opt_id::version},
    {'c', "counter-based", false, opt_id::counter},
    {'C', "no-confirm", false, opt_id::no_confirm},
    {'t', "time-based", false, opt_id::time},
    {'d', "disallow-reuse", false, opt_id::disallow_reuse},
    {'D', "allow-reuse", false, opt_id::allow_reuse},
    {'f', "force", false, opt_id::force},
    {'l', "label", true, opt_id::label},
    {'i', "issuer", true, opt_id::issuer},
    {'q', "quiet", false, opt_id::quiet},
    {'Q', "qr-mode", true, opt_id::qr_mode},
    {'r', "rate-limit", true, opt_id::rate_limit},
    {'R', "rate-time", true, opt_id::rate_time},
    {'u', "no-rate-limit", false, opt_id::no_rate_limit},
    {'s', "secret", true, opt_id::secret},
    {'S', "step-size", true, opt_id::step_size},
    {'w', "window-size", true, opt_id::window_size},
    {'W', "minimal-window", false, opt_id::minimal_window},
    {'e', "emergency-codes", true, opt_id::emergency_codes},
    {0, "algorithm", true, opt_id::algorithm},
    {0, "digits", true, opt_id::digits},
    {0, "qr-png", true, opt_id::qr_png},
    {0, "user", true, opt_id::user},
    {0, "store", true, opt_id::store},
}};

// The name messages use: the reference names short options (`-r`); extensions are long-only.
std::string flag_name(const opt_spec& spec) {
  if (spec.short_name != 0)
    return std::string("-") + spec.short_name;
  return "--" + std::string(spec.long_name);
}

// Strict decimal with optional sign; anything else (empty, trailing junk, overflow) is
// nullopt and reported with the option's range, as the reference does for strtol failures.
std::optional<long> parse_number(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+')
    ++first;
  long value = 0;
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last)
    return std::nullopt;
  return value;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i]))
      return false;
  }
  return true;
}

class parser {
 public:
  parse_result result;

  // Returns false when parsing must stop (error, help, version).
  bool apply(const opt_spec& spec, std::optional<std::string_view> arg) {
    enroll_options& o = result.options;
    switch (spec.id) {
      case opt_id::help:
        result.action = parse_action::help;
        return false;
      case opt_id::version:
        result.action = parse_action::version;
        return false;
      case opt_id::counter:
      case opt_id::time:
        if (o.mode != enroll_mode::ask)
          return fail("Duplicate -c and/or -t option detected");
        o.mode = spec.id == opt_id::time ? enroll_mode::totp : enroll_mode::hotp;
        return true;
      case opt_id::disallow_reuse:
      case opt_id::allow_reuse:
        if (o.reuse != reuse_choice::ask)
          return fail("Duplicate -d and/or -D option detected");
        o.reuse = spec.id == opt_id::disallow_reuse ? reuse_choice::disallow : reuse_choice::allow;
        return true;
      case opt_id::no_confirm:
        return set_flag(spec, o.no_confirm);
      case opt_id::force:
        return set_flag(spec, o.force);
      case opt_id::quiet:
        return set_flag(spec, o.quiet);
      case opt_id::label:
        if (!once(spec, o.label.has_value()))
          return false;
        o.label = std::string(*arg);
        return true;
      case opt_id::issuer:
        if (!once(spec, o.issuer.has_value()))
          return false;
        o.issuer = std::string(*arg);
        return true;
      case opt_id::qr_mode: {
        if (!once(spec, seen_qr_))
          return false;
        seen_qr_ = true;
        if (equals_ignore_case(*arg, "NONE")) {
          o.qr = totp::qr_style::none;
        } else if (equals_ignore_case(*arg, "ANSI")) {
          o.qr = totp::qr_style::ansi;
        } else if (equals_ignore_case(*arg, "UTF8")) {
          o.qr = totp::qr_style::utf8;
        } else {
          return fail("Invalid qr-mode \"" + std::string(*arg) +
                      "\" (-Q accepts NONE, ANSI or UTF8)");
        }
        return true;
      }
      case opt_id::rate_limit:
        if (o.rate_limit)
          return fail("Duplicate -r option detected");
        if (o.no_rate_limit)
          return fail("-u is mutually exclusive with -r");
        return set_number(spec, *arg, 1, 10, o.rate_limit);
      case opt_id::rate_time:
        if (o.rate_time)
          return fail("Duplicate -R option detected");
        if (o.no_rate_limit)
          return fail("-u is mutually exclusive with -R");
        return set_number(spec, *arg, 15, 600, o.rate_time);
      case opt_id::no_rate_limit:
        if (o.no_rate_limit)
          return fail("Duplicate -u option detected");
        if (o.rate_limit || o.rate_time)
          return fail("-u is mutually exclusive with -r/-R");
        o.no_rate_limit = true;
        return true;
      case opt_id::secret:
        if (!once(spec, o.secret_path.has_value()))
          return false;
        if (arg->empty())
          return fail("-s must be followed by a filename");
        o.secret_path = std::string(*arg);
        return true;
      case opt_id::step_size:
        if (!once(spec, o.step_size.has_value()))
          return false;
        return set_number(spec, *arg, 1, 60, o.step_size);
      case opt_id::window_size:
      case opt_id::minimal_window:
        if (o.window_size || o.minimal_window)
          return fail("Duplicate -w/-W option detected");
        if (spec.id == opt_id::minimal_window) {
          o.minimal_window = true;
          return true;
        }
        return set_number(spec, *arg, 1, 21, o.window_size);
      case opt_id::emergency_codes: {
        if (!once(spec, seen_emergency_))
          return false;
        seen_emergency_ = true;
        std::optional<int> n;
        if (!set_number(spec, *arg, 0, 10, n))
          return false;
        o.emergency_codes = *n;
        return true;
      }
      case opt_id::algorithm: {
        if (!once(spec, seen_algorithm_))
          return false;
        seen_algorithm_ = true;
        const auto algorithm = totp::parse_hash_algorithm(*arg);
        if (!algorithm) {
          return fail("Invalid algorithm \"" + std::string(*arg) +
                      "\" (--algorithm accepts SHA1, SHA256 or SHA512)");
        }
        o.algorithm = *algorithm;
        return true;
      }
      case opt_id::digits: {
        if (!once(spec, seen_digits_))
          return false;
        seen_digits_ = true;
        std::optional<int> n;
        if (!set_number(spec, *arg, totp::kMinDigits, totp::kMaxDigits, n))
          return false;
        o.digits = *n;
        return true;
      }
      case opt_id::qr_png:
        if (!once(spec, o.qr_png.has_value()))
          return false;
        if (arg->empty())
          return fail("--qr-png must be followed by a filename");
        o.qr_png = std::string(*arg);
        return true;
      case opt_id::user:
        if (!once(spec, o.user.has_value()))
          return false;
        // A user name never contains '/': refusing it here keeps the home lookup honest.
        if (arg->empty() || arg->find('/') != std::string_view::npos) {
          return fail("--user must be followed by a user name");
        }
        o.user = std::string(*arg);
        return true;
      case opt_id::store:
        if (!once(spec, o.store.has_value()))
          return false;
        if (arg->empty())
          return fail("--store must be followed by a directory");
        o.store = std::string(*arg);
        return true;
    }
    return fail("internal error: unhandled option " + flag_name(spec));
  }

  // Missing argument at the end of the command line: say what the option wants.
  bool missing_argument(const opt_spec& spec) {
    switch (spec.id) {
      case opt_id::rate_limit:
        return fail("-r requires an argument in the range 1..10");
      case opt_id::rate_time:
        return fail("-R requires an argument in the range 15..600");
      case opt_id::step_size:
        return fail("-S requires an argument in the range 1..60");
      case opt_id::window_size:
        return fail("-w requires an argument in the range 1..21");
      case opt_id::emergency_codes:
        return fail("-e requires an argument in the range 0..10");
      case opt_id::digits:
        return fail("--digits requires an argument in the range 6..8");
      case opt_id::secret:
        return fail("-s must be followed by a filename");
      case opt_id::qr_png:
        return fail("--qr-png must be followed by a filename");
      case opt_id::user:
        return fail("--user must be followed by a user name");
      case opt_id::store:
        return fail("--store must be followed by a directory");
      case opt_id::qr_mode:
        return fail("-Q requires an argument: NONE, ANSI or UTF8");
      case opt_id::algorithm:
        return fail("--algorithm requires an argument: SHA1, SHA256 or SHA512");
      default:
        return fail(flag_name(spec) + " requires an argument");
    }
  }

  bool fail(std::string message, int status = 1, bool usage = false) {
    result.action = parse_action::error;
    result.message = std::move(message);
    result.exit_status = status;
    result.show_usage = usage;
    return false;
  }

  // Checks after the whole command line was read (the reference's order).
  void finish() {
    const enroll_options& o = result.options;
    if (o.reuse != reuse_choice::ask && o.mode != enroll_mode::totp) {
      if (o.mode == enroll_mode::hotp) {
        fail("Reuse of tokens is not a meaningful parameter in counter-based mode");
      } else {
        fail("Must select time-based mode, when using -d or -D");
      }
      return;
    }
    if (o.rate_limit.has_value() != o.rate_time.has_value()) {
      fail("Must set -r when setting -R, and vice versa");
    }
  }

 private:
  bool once(const opt_spec& spec, bool seen) {
    if (seen)
      return fail("Duplicate " + flag_name(spec) + " option detected");
    return true;
  }
  bool set_flag(const opt_spec& spec, bool& flag) {
    if (!once(spec, flag))
      return false;
    flag = true;
    return true;
  }
  bool set_number(const opt_spec& spec, std::string_view text, long min, long max,
                  std::optional<int>& out) {
    const auto value = parse_number(text);
    if (!value || *value < min || *value > max) {
      return fail(flag_name(spec) + " requires an argument in the range " + std::to_string(min) +
                  ".." + std::to_string(max));
    }
    out = static_cast<int>(*value);
    return true;
  }

  bool seen_qr_ = false;
  bool seen_emergency_ = false;
  bool seen_algorithm_ = false;
  bool seen_digits_ = false;
};

const opt_spec* find_short(char c) {
  for (const auto& spec : kOptions) {
    if (spec.short_name == c)
      return &spec;
  }
  return nullptr;
}

}  // namespace

parse_result parse_enroll_options(std::span<const std::string_view> args) {
  parser p;
  const auto positional = [&](std::string_view arg) {
    // The reference prints its usage and exits 0 without writing anything, so a typo such
    // as `-l root @pam` looks like success; we stop with a distinct status instead.
    p.fail("Unexpected argument \"" + std::string(arg) +
               "\": pvetotp-enroll takes options only (see --help)",
           2);
    return p.result;
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size())
        return positional(args[i + 1]);
      break;
    }
    if (arg.starts_with("--")) {
      std::string_view name = arg.substr(2);
      std::optional<std::string_view> value;
      if (const auto eq = name.find('='); eq != std::string_view::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      // Exact match first, then a unique prefix (getopt_long's rule).
      const opt_spec* match = nullptr;
      std::vector<const opt_spec*> candidates;
      for (const auto& spec : kOptions) {
        if (spec.long_name == name) {
          match = &spec;
          break;
        }
        if (!name.empty() && spec.long_name.starts_with(name))
          candidates.push_back(&spec);
      }
      if (!match && candidates.size() == 1)
        match = candidates.front();
      if (!match) {
        std::string message;
        if (candidates.size() > 1) {
          message = "option '--" + std::string(name) + "' is ambiguous; possibilities:";
          for (const auto* c : candidates)
            message += " '--" + std::string(c->long_name) + "'";
        } else {
          message = "unrecognized option '--" + std::string(name) + "'";
        }
        p.fail(message + "\nFailed to parse command line", 1, true);
        return p.result;
      }
      if (!match->has_arg && value) {
        p.fail("option '--" + std::string(match->long_name) +
                   "' doesn't allow an argument\nFailed to parse command line",
               1, true);
        return p.result;
      }
      if (match->has_arg && !value) {
        if (i + 1 >= args.size()) {
          p.missing_argument(*match);
          return p.result;
        }
        value = args[++i];
      }
      if (!p.apply(*match, value))
        return p.result;
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      // A cluster of short options; an option taking an argument eats the rest of the
      // cluster, or the next argument.
      for (std::size_t k = 1; k < arg.size(); ++k) {
        const opt_spec* spec = find_short(arg[k]);
        if (spec == nullptr) {
          p.fail("invalid option -- '" + std::string(1, arg[k]) + "'\nFailed to parse command line",
                 1, true);
          return p.result;
        }
        std::optional<std::string_view> value;
        if (spec->has_arg) {
          if (k + 1 < arg.size()) {
            value = arg.substr(k + 1);
          } else if (i + 1 < args.size()) {
            value = args[++i];
          } else {
            p.missing_argument(*spec);
            return p.result;
          }
        }
        if (!p.apply(*spec, value))
          return p.result;
        if (spec->has_arg)
          break;
      }
      continue;
    }
    return positional(arg);
  }
  p.finish();
  return p.result;
}

parse_result parse_enroll_options(int argc, const char* const* argv) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return parse_enroll_options(std::span<const std::string_view>(args));
}

std::string version_text() {
  return std::string("pvetotp-enroll ") + PVETOTP_VERSION;
}

std::string usage_text() {
  return R"(Usage: pvetotp-enroll [options]
Creates a TOTP/HOTP secret file compatible with pam_pvetotp and pam_google_authenticator.

  -h, --help                 show this help and exit
      --version              show the version and exit
  -t, --time-based           time-based codes (TOTP)
  -c, --counter-based        counter-based codes (HOTP)
  -d, --disallow-reuse       refuse a TOTP code that was already used (TOTP only)
  -D, --allow-reuse          accept a TOTP code more than once (TOTP only)
  -C, --no-confirm           do not ask for a code from the app
  -f, --force                write the file without asking; replace an existing one
  -l, --label=LABEL          account label in the otpauth URI (default: login@hostname)
  -i, --issuer=ISSUER        issuer in the otpauth URI (default: hostname; "" for none)
  -q, --quiet                print nothing and do not ask for a code
  -Q, --qr-mode=MODE         QR code on the terminal: NONE, ANSI or UTF8 (default UTF8)
  -r, --rate-limit=N         allow N logins (1..10) ...
  -R, --rate-time=M          ... every M seconds (15..600)
  -u, --no-rate-limit        no rate limit
  -s, --secret=FILE          write FILE instead of ~/.google_authenticator
  -S, --step-size=S          TOTP period in seconds (1..60, default 30)
  -w, --window-size=W        codes accepted around the current one (1..21, default 3)
  -W, --minimal-window       smallest window (3 for TOTP, 1 for HOTP)
  -e, --emergency-codes=N    number of scratch codes (0..10, default 5)
      --algorithm=ALG        HMAC hash: SHA1 (default), SHA256 or SHA512
      --digits=N             code length 6 (default), 7 or 8
      --qr-png=FILE          also write the QR code as a PNG image (mode 0600)
      --user=NAME            (root) enroll NAME: file in NAME's home, owned by NAME
      --store=DIR            central layout: write DIR/<user> (root-owned, 0600, no
                             chmod/chown; e.g. /etc/pve/priv/pvetotp on a PVE cluster)

Without -t/-c, -d/-D (TOTP), -w/-W and -r -R/-u the missing choices are asked for.
Exit status: 0 success, 1 error, 2 unexpected argument.
)";
}

}  // namespace pvetotp
