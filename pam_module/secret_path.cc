#include "secret_path.h"

namespace pvetotp {

totp::result<std::string> expand_secret_path(std::string_view pattern, std::string_view user,
                                             const std::optional<std::string>& home) {
  using totp::error_code;
  using totp::make_error;
  const auto need_home = [&]() -> totp::result<std::string> {
    if (!home)
      return make_error(error_code::invalid_argument,
                        "Home dir in 'secret' not implemented when 'user' set");
    if (home->empty())
      return make_error(error_code::invalid_argument,
                        "user(\"" + std::string(user) + "\") has no home dir");
    if ((*home)[0] != '/')
      return make_error(error_code::invalid_argument,
                        "User \"" + std::string(user) + "\" home dir not absolute");
    return *home;
  };

  std::string out;
  bool after_expansion = false;
  for (std::size_t i = 0; i < pattern.size();) {
    const std::string_view rest = pattern.substr(i);
    if (rest[0] == '~' && !after_expansion && (i == 0 || pattern[i - 1] == '/')) {
      auto h = need_home();
      if (!h)
        return std::move(h).error();
      out += *h;
      i += 1;
      after_expansion = true;
      continue;
    }
    if (rest.starts_with("${HOME}")) {
      auto h = need_home();
      if (!h)
        return std::move(h).error();
      out += *h;
      i += 7;
      after_expansion = true;
      continue;
    }
    if (rest.starts_with("${USER}")) {
      if (user.empty() || user.find('/') != std::string_view::npos || user[0] == '.')
        return make_error(error_code::invalid_argument,
                          "Refusing to expand ${USER} in 'secret': the user name is empty, "
                          "contains '/' or starts with '.'");
      out += user;
      i += 7;
      after_expansion = true;
      continue;
    }
    out += rest[0];
    i += 1;
    after_expansion = false;
  }
  return out;
}

}  // namespace pvetotp
