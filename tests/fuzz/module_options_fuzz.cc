// module_options_fuzz.cc: pvetotp::parse_module_options, the PAM configuration-line parser.
//
// The input is split on NUL and space into argv, as libpam splits a module line. Properties:
//   - an error names the argument it is about (the message contains that argv element, or
//     `user=` for the user=-without-secret= rule), so an administrator can find the typo;
//   - a successful parse reflects argv: every flag given is set, the last secret=/user=/
//     authtok_prompt=/filter value wins, and the fixed-user rule holds.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "options.h"

namespace {

bool has(const std::vector<std::string>& args, std::string_view word) {
  for (const auto& a : args) {
    if (a == word) {
      return true;
    }
  }
  return false;
}

// Value of the last `prefix...` argument, if any.
const std::string* last_with(const std::vector<std::string>& args, std::string_view prefix) {
  const std::string* found = nullptr;
  for (const auto& a : args) {
    if (std::string_view(a).substr(0, prefix.size()) == prefix) {
      found = &a;
    }
  }
  return found;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  std::size_t pos = 0;
  while (pos <= input.size()) {
    std::size_t end = input.find_first_of(std::string_view("\0 ", 2), pos);
    if (end == std::string_view::npos) {
      end = input.size();
    }
    if (end > pos) {
      args.emplace_back(input.substr(pos, end - pos));
    }
    pos = end + 1;
  }
  std::vector<const char*> argv;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }

  auto parsed = pvetotp::parse_module_options(argv);
  if (!parsed.ok()) {
    const std::string& message = parsed.error().message;
    FUZZ_CHECK(!message.empty());
    FUZZ_CHECK(parsed.error().code == totp::error_code::bad_option);
    bool names_one = false;
    for (const auto& a : args) {
      names_one = names_one || message.find(a) != std::string::npos;
    }
    // The only error about a combination rather than one argument names the option itself.
    names_one =
        names_one || (last_with(args, "user=") && message.find("\"user=\"") != std::string::npos);
    FUZZ_CHECK(names_one);
    return 0;
  }

  const pvetotp::module_options& o = parsed.value();
  FUZZ_CHECK(o.debug == has(args, "debug"));
  FUZZ_CHECK(o.nullok == has(args, "nullok"));
  FUZZ_CHECK(o.forward_pass == has(args, "forward_pass"));
  FUZZ_CHECK(o.try_first_pass == has(args, "try_first_pass"));
  FUZZ_CHECK(o.use_first_pass == has(args, "use_first_pass"));
  FUZZ_CHECK(o.allow_readonly == has(args, "allow_readonly"));
  FUZZ_CHECK(o.no_strict_owner == has(args, "no_strict_owner"));
  FUZZ_CHECK(o.skew_adjust == !has(args, "noskewadj"));
  FUZZ_CHECK(o.increment_hotp_on_failure == !has(args, "no_increment_hotp"));
  FUZZ_CHECK(o.echo_code ==
             (has(args, "echo_verification_code") || has(args, "echo-verification-code")));

  const std::string* secret = last_with(args, "secret=");
  FUZZ_CHECK(o.secret_given == (secret != nullptr));
  FUZZ_CHECK(o.secret_template ==
             (secret ? secret->substr(7) : std::string(pvetotp::kDefaultSecretTemplate)));
  if (o.has_fixed_user()) {
    FUZZ_CHECK(o.secret_given);
    FUZZ_CHECK(last_with(args, "user=") != nullptr);
  }
  if (const std::string* user = last_with(args, "user=")) {
    FUZZ_CHECK(o.has_fixed_user());
    if (o.fixed_user) {
      FUZZ_CHECK(*o.fixed_user == user->substr(5));
    }
  }
  const std::string* prompt = last_with(args, "authtok_prompt=");
  FUZZ_CHECK(o.prompt.has_value() == (prompt != nullptr));
  if (prompt) {
    FUZZ_CHECK(*o.prompt == prompt->substr(15));
  }
  const std::string* users = last_with(args, "users=");
  FUZZ_CHECK(o.users.has_value() == (users != nullptr));
  if (users) {
    FUZZ_CHECK(o.users_text == users->substr(6));
    FUZZ_CHECK(!o.users->positive.empty() || !o.users->negative.empty());
  }
  FUZZ_CHECK(o.allowed_permissions != 0);
  FUZZ_CHECK((o.allowed_permissions & ~07777u) == 0);
  return 0;
}
