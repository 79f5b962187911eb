// secret_path.h: expansion of the secret= template (google-authenticator's rules, spec 2.3),
// with `${USER}` sanitised: the PAM user name comes from the client, so a name with '/' or a
// leading '.' could point the module at another file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "totp/result.h"

namespace pvetotp {

// `home` is nullopt when user= is set: `~` and `${HOME}` are then an error. `~` expands only
// at the start or right after '/', and not directly after another expansion; `${HOME}`
// anywhere; no recursion. Errors carry the log line.
totp::result<std::string> expand_secret_path(std::string_view pattern, std::string_view user,
                                             const std::optional<std::string>& home);

}  // namespace pvetotp
