#include "log.h"

namespace pvetotp {

void logger::write(int priority, std::string_view message) const noexcept {
  // "%.*s" keeps a '%' in a path or host name from being read as a format directive.
  pam_syslog(pamh_, priority, "%.*s", static_cast<int>(message.size()), message.data());
}

void logger::debug(std::string_view message) const noexcept {
  if (!debug_)
    return;
  pam_syslog(pamh_, LOG_INFO, "debug: %.*s", static_cast<int>(message.size()), message.data());
}

}  // namespace pvetotp
