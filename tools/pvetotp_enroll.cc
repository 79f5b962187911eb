// pvetotp_enroll.cc: pvetotp-enroll, a compatible replacement for google-authenticator(1).
//
// Flow (spec ga-compat 6.3): options -> target file and account -> mode question -> secret,
// scratch codes, URI -> QR, secret, confirmation or verification code, scratch codes ->
// "update file?" -> reuse / window / rate-limit questions -> atomic write -> what the
// Proxmox VE web console's TOTP dialog asks for.
//
// Differences from the reference, on purpose: the confirmation loop never reveals the right
// code; a TOTP confirmation accepts the previous and next step too (the code can roll over
// while the user types); `-e 0` prints no scratch-code header; the file is written through
// libtotp's atomic writer (unique temp, fsync, rename, directory fsync), so a failed write
// never costs the old secret; `--user` writes a file the module accepts (owned by the user).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "enroll_options.h"
#include "totp/base32.h"
#include "totp/otp.h"
#include "totp/qr.h"
#include "totp/random.h"
#include "totp/secret_bytes.h"
#include "totp/state_store.h"
#include "totp/uri.h"

namespace {

using pvetotp::enroll_mode;
using pvetotp::enroll_options;
using pvetotp::reuse_choice;

constexpr std::size_t kSecretBytes = 20;  // 160 bits -> 32 base32 characters

// Thrown only inside this program to unwind to main() with an exit status (EOF on a
// question, a failed step); nothing here is library code.
struct exit_request {
  int status;
};

[[noreturn]] void fail(const std::string& message, int status = 1) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", message.c_str());
  throw exit_request{status};
}

void print_secret(const totp::secret_bytes& bytes) {
  if (bytes.empty())
    return;  // data() is null then, which fwrite must not be given
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

// One line from stdin without the newline, in wiped memory (typed codes are secret).
// nullopt on EOF before any character.
std::optional<totp::secret_bytes> read_line() {
  std::fflush(stdout);
  totp::secret_bytes line;
  for (;;) {
    const int c = std::fgetc(stdin);
    if (c == EOF) {
      if (line.empty())
        return std::nullopt;
      return line;
    }
    if (c == '\n')
      return line;
    line.push_back(static_cast<std::uint8_t>(c));
  }
}

// y/n question: the first character decides, anything else asks again; EOF ends the
// program with status 1 after a newline, as the reference does.
bool ask_yes_no(const std::string& prompt) {
  for (;;) {
    std::fputs(prompt.c_str(), stdout);
    const auto line = read_line();
    if (!line) {
      std::fputc('\n', stdout);
      throw exit_request{1};
    }
    const char c = line->empty() ? '\0' : static_cast<char>((*line)[0]);
    if (c == 'y' || c == 'Y')
      return true;
    if (c == 'n' || c == 'N')
      return false;
  }
}

std::string host_name() {
  char buf[128] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0')
    return "unix";
  return buf;
}

struct target_account {
  std::string path;
  std::string login;
  std::optional<uid_t> owner;  // set with --user
  std::optional<gid_t> group;
  bool central = false;  // --store: mode 0600, owner left as created (root)
};

// --store DIR: the central layout (`secret=DIR/${USER} user=root`), e.g. on a Proxmox VE
// cluster's /etc/pve/priv/pvetotp. The file stays root's with the mode the directory gives a
// fresh 0600 file; no owner or mode is set, because pmxcfs refuses both (EPERM).
target_account resolve_store_target(const enroll_options& o) {
  if (o.secret_path)
    fail("--store and -s are mutually exclusive");
  target_account t;
  if (o.user) {
    if (::geteuid() != 0)
      fail("--user requires root privileges");
    const passwd* pw = ::getpwnam(o.user->c_str());
    if (pw == nullptr)
      fail("--user: no such user \"" + *o.user + "\"");
    t.login = pw->pw_name;
  } else {
    const passwd* pw = ::getpwuid(::getuid());
    if (pw == nullptr)
      fail("Cannot determine the user name for --store");
    t.login = pw->pw_name;
  }
  std::string dir = *o.store;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  t.path = dir + "/" + t.login;
  t.central = true;
  return t;
}

target_account resolve_target(const enroll_options& o) {
  if (o.store)
    return resolve_store_target(o);
  target_account t;
  if (o.user) {
    if (::geteuid() != 0)
      fail("--user requires root privileges");
    errno = 0;
    const passwd* pw = ::getpwnam(o.user->c_str());
    if (pw == nullptr)
      fail("--user: no such user \"" + *o.user + "\"");
    const std::string home = pw->pw_dir ? pw->pw_dir : "";
    if (!o.secret_path && (home.empty() || home[0] != '/')) {
      fail("--user: user \"" + *o.user + "\" has no absolute home directory");
    }
    t.login = pw->pw_name;
    t.owner = pw->pw_uid;
    t.group = pw->pw_gid;
    t.path = o.secret_path ? *o.secret_path : home + "/.google_authenticator";
    return t;
  }
  if (o.secret_path) {
    t.path = *o.secret_path;
  } else {
    const char* home = std::getenv("HOME");
    if (home == nullptr || home[0] != '/')
      fail("Cannot determine home directory");
    t.path = std::string(home) + "/.google_authenticator";
  }
  const passwd* pw = ::getpwuid(::getuid());
  t.login = pw ? pw->pw_name : std::to_string(::getuid());
  return t;
}

// Parses a typed confirmation code; nullopt for anything that is not an optionally signed
// decimal number (the reference reads it as 0, which could match the code 000000).
std::optional<long long> parse_typed_code(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 12)
    return std::nullopt;
  long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

// The TOTP confirmation loop. Never prints the expected code: someone at the terminal who
// does not have the app would otherwise learn it.
void confirm_totp(const totp::otp_generator& gen, std::uint32_t period) {
  for (;;) {
    std::fputs("Enter code from app (-1 to skip): ", stdout);
    const auto line = read_line();
    if (!line) {
      std::fputc('\n', stdout);
      throw exit_request{1};
    }
    const auto typed = parse_typed_code(line->view());
    if (typed && *typed < 0) {
      std::puts("Code confirmation skipped");
      return;
    }
    bool match = false;
    if (typed) {
      const auto step = totp::totp_counter(static_cast<std::int64_t>(std::time(nullptr)), period);
      if (!step)
        fail("Cannot compute the current time step: " + step.error().message);
      for (const std::int64_t offset : {-1, 0, 1}) {
        const auto counter = totp::checked_add(*step, offset);
        if (!counter)
          continue;
        const auto code = gen.code(*counter);
        if (!code)
          fail("Cannot compute a code: " + code.error().message);
        match |= static_cast<long long>(*code) == *typed;
      }
    }
    if (match) {
      std::puts("Code confirmed");
      return;
    }
    std::puts("Code incorrect. Try again.");
  }
}

std::string window_question(bool hotp, int step) {
  if (hotp) {
    return "By default, three tokens are valid at any one time.  This accounts for codes "
           "that\nwere generated in the app but never used for a login. If that happens "
           "often,\nthe window of accepted codes can be increased from its default size of 3 "
           "to 17.\nDo you want to do so? (y/n) ";
  }
  const std::string s = std::to_string(step);
  return "By default, a new token is generated every " + s +
         " seconds by the mobile app.\nTo tolerate clocks that drift apart, the previous, the "
         "current and the next\ncode are accepted (a window of 3). If this host and your phone "
         "are poorly\nsynchronised, the window can be widened to 17 codes (8 before the current "
         "one\nand 8 after), which tolerates a time skew of up to " +
         std::to_string(8 * step / 60) + " minutes" +
         (8 * step % 60 ? " " + std::to_string(8 * step % 60) + " seconds" : "") +
         ".\nDo you want to do so? (y/n) ";
}

std::string reuse_question(int step) {
  return "Do you want to disallow multiple uses of the same authentication\ntoken? This "
         "restricts you to one login about every " +
         std::to_string(step) +
         "s, but it increases\nyour chances to notice or even prevent man-in-the-middle attacks "
         "(y/n) ";
}

constexpr const char* kRateLimitQuestion =
    "If the computer that you are logging into isn't hardened against brute-force\nlogin "
    "attempts, you can enable rate-limiting for the authentication module.\nBy default, this "
    "limits attackers to no more than 3 login attempts every 30s.\nDo you want to enable "
    "rate-limiting? (y/n) ";

int run(const enroll_options& o) {
  const target_account target = resolve_target(o);
  // With --user we refuse to replace unless -f (the admin may be about to destroy a
  // colleague's working enrollment); say so before any secret is shown. The atomic writer
  // checks again without a race.
  const bool replace = !o.user || o.force;
  struct stat st {};
  if (!replace && ::lstat(target.path.c_str(), &st) == 0) {
    fail("\"" + target.path + "\" already exists; use -f to replace it");
  }

  bool hotp = false;
  if (o.mode == enroll_mode::ask) {
    hotp = !ask_yes_no("\nDo you want authentication tokens to be time-based (y/n) ");
  } else {
    hotp = o.mode == enroll_mode::hotp;
  }
  const int step = (!hotp && o.step_size) ? *o.step_size : 30;

  auto key = totp::random_bytes(kSecretBytes);
  if (!key)
    fail("Cannot read random bytes: " + key.error().message);
  const totp::secret_bytes secret = totp::base32_encode(key->span());
  std::vector<std::uint32_t> scratch;
  for (int i = 0; i < o.emergency_codes; ++i) {
    auto code = totp::random_scratch_code();
    if (!code)
      fail("Cannot read random bytes: " + code.error().message);
    scratch.push_back(*code);
  }

  const std::string host = host_name();
  totp::uri_params params;
  params.hotp = hotp;
  params.label = o.label ? *o.label : target.login + "@" + host;
  params.issuer = o.issuer ? *o.issuer : host;
  params.algorithm = o.algorithm;
  params.digits = o.digits;
  params.period = static_cast<std::uint32_t>(step);
  params.counter = 1;
  auto uri = totp::build_otpauth_uri(secret, params);
  if (!uri)
    fail(uri.error().message);

  auto gen = totp::otp_generator::create(key->span(), o.algorithm, o.digits);
  if (!gen)
    fail("Cannot set up the code generator: " + gen.error().message);

  if (!o.quiet) {
    auto qr = totp::render_qr_text(*uri, o.qr);
    if (!qr) {
      std::puts(
          "Failed to use libqrencode to show QR code visually for scanning.\n"
          "Consider typing the OTP secret into your app manually.");
    } else {
      print_secret(*qr);
    }
    std::fputs("Your otpauth URI is: ", stdout);
    print_secret(*uri);
    std::fputs("\nYour new secret key is: ", stdout);
    print_secret(secret);
    std::fputc('\n', stdout);
    if (!hotp && !o.no_confirm) {
      confirm_totp(*gen, static_cast<std::uint32_t>(step));
    } else {
      // HOTP: the first code the module will accept. TOTP with -C: the current code, not
      // the reference's HOTP value for counter 1, which no TOTP login ever accepts.
      std::uint64_t counter = 1;
      if (!hotp) {
        auto now = totp::totp_counter(static_cast<std::int64_t>(std::time(nullptr)),
                                      static_cast<std::uint32_t>(step));
        if (!now)
          fail("Cannot compute the current time step: " + now.error().message);
        counter = *now;
      }
      auto code = gen->code(counter);
      if (!code)
        fail("Cannot compute a code: " + code.error().message);
      const std::string text = totp::format_code(*code, o.digits);
      if (hotp) {
        std::printf("Your verification code for code 1 is %s\n", text.c_str());
      } else {
        std::printf("Your current verification code is %s\n", text.c_str());
      }
    }
    if (!scratch.empty()) {
      std::puts("Your emergency scratch codes are:");
      for (const auto code : scratch)
        std::printf("  %08u\n", code);
    }
  }

  if (o.qr_png) {
    auto written = totp::write_qr_png(*uri, *o.qr_png);
    if (!written)
      fail("--qr-png: " + written.error().message + "; nothing was enrolled");
  }
  // From here on a failure removes the PNG we just created: it would show a secret that
  // protects nothing.
  struct png_guard {
    const std::optional<std::string>& path;
    bool keep = false;
    ~png_guard() {
      if (path && !keep)
        ::unlink(path->c_str());
    }
  } png{o.qr_png};

  if (!o.force) {
    if (!ask_yes_no("\nDo you want me to update your \"" + target.path + "\" file? (y/n) ")) {
      return 0;
    }
  }

  bool disallow_reuse = false;
  if (!hotp) {
    disallow_reuse = o.reuse == reuse_choice::ask ? ask_yes_no(reuse_question(step))
                                                  : o.reuse == reuse_choice::disallow;
  }
  std::optional<int> window = o.window_size;
  if (o.minimal_window)
    window = hotp ? 1 : 3;
  if (o.ask_window() && ask_yes_no(window_question(hotp, step)))
    window = 17;
  std::optional<int> rate_limit = o.rate_limit;
  std::optional<int> rate_time = o.rate_time;
  if (o.ask_rate_limit() && ask_yes_no(kRateLimitQuestion)) {
    rate_limit = 3;
    rate_time = 30;
  }

  // Spec 1.6 order: secret, RATE_LIMIT, WINDOW_SIZE, STEP_SIZE, DISALLOW_REUSE, TOTP_AUTH or
  // HOTP_COUNTER 1; then our extension lines (only when not the default, so a default file
  // is byte-compatible with the reference's); then the scratch codes. The extensions go
  // after the mode line so the reference's prefix stays intact; its scratch-code scan skips
  // `"` lines, so they do not hide the codes.
  totp::secret_bytes file;
  file.append(secret.data(), secret.size());
  file.append("\n");
  if (rate_limit && rate_time) {
    file.append("\" RATE_LIMIT " + std::to_string(*rate_limit) + " " + std::to_string(*rate_time) +
                "\n");
  }
  if (window)
    file.append("\" WINDOW_SIZE " + std::to_string(*window) + "\n");
  if (!hotp && o.step_size)
    file.append("\" STEP_SIZE " + std::to_string(*o.step_size) + "\n");
  if (disallow_reuse)
    file.append("\" DISALLOW_REUSE\n");
  file.append(hotp ? "\" HOTP_COUNTER 1\n" : "\" TOTP_AUTH\n");
  if (o.algorithm != totp::hash_algorithm::sha1) {
    file.append("\" ALGORITHM " + std::string(totp::to_string(o.algorithm)) + "\n");
  }
  if (o.digits != 6)
    file.append("\" DIGITS " + std::to_string(o.digits) + "\n");
  for (const auto code : scratch) {
    char line[16];
    const int n = std::snprintf(line, sizeof line, "%08u\n", code);
    file.append(line, static_cast<std::size_t>(n));
  }

  totp::create_options create;
  create.mode = target.central ? 0600 : 0400;
  create.owner = target.owner;
  create.group = target.group;
  create.replace = replace;
  const auto written = totp::write_file_atomically(target.path, file.span(), create);
  if (!written) {
    const auto& err = written.error();
    if (err.code == totp::error_code::exists) {
      fail("\"" + target.path + "\" already exists; use -f to replace it");
    }
    fail("Failed to write new secret to \"" + target.path + "\": " + err.message +
         "\nAny existing file was left unchanged.");
  }
  png.keep = true;

  if (!o.quiet) {
    // The Proxmox VE web console has its own TOTP factor (Datacenter > Permissions > Two
    // Factor > Add > TOTP); entering the same secret there gives one app entry for both.
    const std::string pve_user = o.label ? *o.label : target.login + "@pam";
    std::printf(
        "\nTo use the same key for the Proxmox VE web console, add a TOTP factor there\n"
        "(Datacenter > Permissions > Two Factor > Add > TOTP) with:\n"
        "  User:   %s\n  Secret: ",
        pve_user.c_str());
    print_secret(secret);
    std::printf("\n  Issuer: %s\n",
                params.issuer.empty() ? "(leave empty)" : params.issuer.c_str());
    if (hotp || o.algorithm != totp::hash_algorithm::sha1 || o.digits != 6 || step != 30) {
      std::puts(
          "  Note: that dialog only creates SHA1, 6-digit, 30-second TOTP keys; this key\n"
          "  differs, so the web console cannot share it.");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const pvetotp::parse_result parsed = pvetotp::parse_enroll_options(argc, argv);
  switch (parsed.action) {
    case pvetotp::parse_action::help:
      std::fputs(pvetotp::usage_text().c_str(), stdout);
      return 0;
    case pvetotp::parse_action::version:
      std::printf("%s\n", pvetotp::version_text().c_str());
      return 0;
    case pvetotp::parse_action::error:
      if (parsed.show_usage)
        std::fputs(pvetotp::usage_text().c_str(), stderr);
      std::fprintf(stderr, "%s\n", parsed.message.c_str());
      return parsed.exit_status;
    case pvetotp::parse_action::run:
      break;
  }
  try {
    return run(parsed.options);
  } catch (const exit_request& request) {
    std::fflush(stdout);
    return request.status;
  }
}
