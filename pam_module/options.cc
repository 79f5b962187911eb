#include "options.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>

namespace pvetotp {
namespace {

using totp::error_code;
using totp::make_error;

bool starts_with(std::string_view text, std::string_view prefix, std::string_view* rest) {
  if (text.substr(0, prefix.size()) != prefix)
    return false;
  *rest = text.substr(prefix.size());
  return true;
}

// Strict unsigned decimal/octal: the whole text must be digits of `base`.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, int base, std::uint64_t max) {
  if (text.empty())
    return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    int digit = c - '0';
    if (c < '0' || digit >= base)
      return std::nullopt;
    if (value > (max - static_cast<std::uint64_t>(digit)) / static_cast<std::uint64_t>(base))
      return std::nullopt;
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
  }
  return value;
}

totp::result<totp::pattern_list> parse_filter(std::string_view arg, std::string_view value) {
  totp::pattern_list list = totp::parse_pattern_list(value);
  if (list.positive.empty() && list.negative.empty())
    return make_error(error_code::bad_option,
                      "Invalid filter in setting \"" + std::string(arg) + "\": empty list");
  return list;
}

}  // namespace

totp::result<module_options> parse_module_options(std::span<const char* const> args) {
  module_options options;
  for (const char* raw : args) {
    if (raw == nullptr)
      continue;
    const std::string_view arg(raw);
    std::string_view value;
    if (starts_with(arg, "secret=", &value)) {
      if (value.empty())
        return make_error(error_code::bad_option, "Invalid setting \"secret=\": empty path");
      options.secret_template = std::string(value);
      options.secret_given = true;
    } else if (starts_with(arg, "user=", &value)) {
      // A number is a uid used without lookup (as the reference does); unlike the reference,
      // trailing junk after the number is an error instead of being ignored.
      options.fixed_uid.reset();
      options.fixed_user.reset();
      if (value.empty())
        return make_error(error_code::bad_option, "Invalid setting \"user=\": empty user");
      if (value[0] >= '0' && value[0] <= '9') {
        auto uid = parse_unsigned(value, 10, INT_MAX);
        if (!uid)
          return make_error(error_code::bad_option,
                            "Invalid user id in setting \"" + std::string(arg) + "\"");
        options.fixed_uid = static_cast<uid_t>(*uid);
      } else {
        options.fixed_user = std::string(value);
      }
    } else if (starts_with(arg, "authtok_prompt=", &value)) {
      options.prompt = std::string(value);
    } else if (arg == "no_strict_owner") {
      options.no_strict_owner = true;
    } else if (starts_with(arg, "allowed_perm=", &value)) {
      auto perm = parse_unsigned(value, 8, 07777);
      if (!perm || *perm == 0)
        return make_error(error_code::bad_option,
                          "Invalid permissions in setting \"" + std::string(arg) +
                              "\". allowed_perm setting must be a positive octal integer.");
      options.allowed_permissions = static_cast<mode_t>(*perm);
    } else if (arg == "debug") {
      options.debug = true;
    } else if (arg == "try_first_pass") {
      options.try_first_pass = true;
    } else if (arg == "use_first_pass") {
      options.use_first_pass = true;
    } else if (arg == "forward_pass") {
      options.forward_pass = true;
    } else if (arg == "noskewadj") {
      options.skew_adjust = false;
    } else if (arg == "no_increment_hotp") {
      options.increment_hotp_on_failure = false;
    } else if (arg == "nullok") {
      options.nullok = true;
    } else if (arg == "echo_verification_code" || arg == "echo-verification-code") {
      options.echo_code = true;
    } else if (starts_with(arg, "grace_period=", &value)) {
      auto seconds = parse_unsigned(value, 10, UINT32_MAX);
      if (!seconds)
        return make_error(error_code::bad_option,
                          "Invalid value in setting \"" + std::string(arg) +
                              "\".grace_period must be a positive number of seconds.");
      options.grace_period = *seconds;
    } else if (arg == "allow_readonly") {
      options.allow_readonly = true;
    } else if (starts_with(arg, "users=", &value)) {
      auto list = parse_filter(arg, value);
      if (!list)
        return std::move(list).error();
      options.users = std::move(list).value();
      options.users_text = std::string(value);
    } else if (starts_with(arg, "groups=", &value)) {
      auto list = parse_filter(arg, value);
      if (!list)
        return std::move(list).error();
      options.groups = std::move(list).value();
      options.groups_text = std::string(value);
    } else if (starts_with(arg, "services=", &value)) {
      auto list = parse_filter(arg, value);
      if (!list)
        return std::move(list).error();
      options.services = std::move(list).value();
      options.services_text = std::string(value);
    } else {
      return make_error(error_code::bad_option, "Unrecognized option \"" + std::string(arg) + "\"");
    }
  }
  // The reference accepts `user=` without `secret=` and then fails every login because the
  // default template needs a home directory (spec 9.5). Say so at once instead.
  if (options.has_fixed_user() && !options.secret_given)
    return make_error(error_code::bad_option,
                      "Setting \"user=\" needs \"secret=\" (the default ~/ path has no home "
                      "directory to expand when user= is set)");
  return options;
}

}  // namespace pvetotp
