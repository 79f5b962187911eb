// pvetotp-testcodes: dev-only helper that prints libtotp's code for a base32 secret, so
// scripts (demo.sh, integration tests) can compare it with oathtool or feed it to a login.
// Never installed: a tool that prints codes has no place on a production host.
//
//   pvetotp-testcodes --secret B32 [--algorithm SHA1|SHA256|SHA512] [--digits 6..8]
//                     [--period N] [--time UNIX] [--counter N] [--window N]
//
// --counter switches to HOTP; --window N prints N+1 successive codes (like oathtool -w).
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "totp/base32.h"
#include "totp/otp.h"

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

int usage() {
  std::fputs(
      "usage: pvetotp-testcodes --secret BASE32 [--algorithm SHA1|SHA256|SHA512] "
      "[--digits 6..8] [--period SECONDS] [--time UNIX_TIME] [--counter N] [--window N]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string secret_text;
  totp::hash_algorithm algorithm = totp::hash_algorithm::sha1;
  int digits = 6;
  std::uint32_t period = 30;
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  bool hotp_mode = false;
  std::uint64_t counter = 0;
  std::uint32_t window = 0;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) {
      return usage();
    }
    std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "--secret") {
      secret_text = value;
    } else if (arg == "--algorithm") {
      auto parsed = totp::parse_hash_algorithm(value);
      ok = parsed.has_value();
      if (ok) {
        algorithm = *parsed;
      }
    } else if (arg == "--digits") {
      ok = parse_number(value, digits);
    } else if (arg == "--period") {
      ok = parse_number(value, period);
    } else if (arg == "--time") {
      ok = parse_number(value, now);
    } else if (arg == "--counter") {
      ok = parse_number(value, counter);
      hotp_mode = true;
    } else if (arg == "--window") {
      ok = parse_number(value, window);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "pvetotp-testcodes: bad option or value: %s\n", argv[i - 1]);
      return usage();
    }
  }
  if (secret_text.empty()) {
    return usage();
  }

  auto key = totp::base32_decode(secret_text);
  if (!key) {
    std::fprintf(stderr, "pvetotp-testcodes: %s\n", key.error().message.c_str());
    return 1;
  }
  auto generator = totp::otp_generator::create(key->span(), algorithm, digits);
  if (!generator) {
    std::fprintf(stderr, "pvetotp-testcodes: %s\n", generator.error().message.c_str());
    return 1;
  }
  if (!hotp_mode) {
    auto step = totp::totp_counter(now, period);
    if (!step) {
      std::fprintf(stderr, "pvetotp-testcodes: %s\n", step.error().message.c_str());
      return 1;
    }
    counter = *step;
  }
  for (std::uint32_t i = 0; i <= window; ++i) {
    auto c = totp::checked_add(counter, i);
    if (!c) {
      std::fputs("pvetotp-testcodes: counter overflow\n", stderr);
      return 1;
    }
    auto code = generator->code(*c);
    if (!code) {
      std::fprintf(stderr, "pvetotp-testcodes: %s\n", code.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", totp::format_code(*code, digits).c_str());
  }
  return 0;
}
