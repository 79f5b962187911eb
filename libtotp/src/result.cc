// result.cc: stable names for the closed error vocabulary.
#include "totp/result.h"

namespace totp {

std::string_view to_string(error_code code) noexcept {
  // A switch without `default` lets -Wswitch flag a code added to the enum but not here.
  switch (code) {
    case error_code::invalid_argument:
      return "invalid_argument";
    case error_code::bad_base32:
      return "bad_base32";
    case error_code::file_size:
      return "file_size";
    case error_code::file_contents:
      return "file_contents";
    case error_code::no_secret:
      return "no_secret";
    case error_code::bad_option:
      return "bad_option";
    case error_code::bad_rate_limit:
      return "bad_rate_limit";
    case error_code::bad_rate_list:
      return "bad_rate_list";
    case error_code::overflow:
      return "overflow";
    case error_code::crypto:
      return "crypto";
    case error_code::random:
      return "random";
    case error_code::io:
      return "io";
    case error_code::not_found:
      return "not_found";
    case error_code::not_regular:
      return "not_regular";
    case error_code::bad_permissions:
      return "bad_permissions";
    case error_code::bad_owner:
      return "bad_owner";
    case error_code::lock_timeout:
      return "lock_timeout";
    case error_code::changed:
      return "changed";
    case error_code::exists:
      return "exists";
    case error_code::symlink:
      return "symlink";
    case error_code::too_large:
      return "too_large";
    case error_code::qr:
      return "qr";
  }
  // Only reachable with a value cast from outside the enum's range.
  return "unknown";
}

}  // namespace totp
