// log.h: the module's only way to talk to syslog (through pam_syslog, so lines carry the
// service and module name). Texts follow google-authenticator's where one exists, so
// existing fail2ban filters keep matching. Never pass a code, secret or password here.
#pragma once

#include <security/pam_ext.h>
#include <syslog.h>

#include <concepts>
#include <string>
#include <string_view>

namespace pvetotp {

class logger {
 public:
  explicit logger(pam_handle_t* pamh) noexcept : pamh_(pamh) {}
  void set_debug(bool on) noexcept { debug_ = on; }
  bool debug_enabled() const noexcept { return debug_; }

  void error(std::string_view message) const noexcept { write(LOG_ERR, message); }
  void warning(std::string_view message) const noexcept { write(LOG_WARNING, message); }
  void info(std::string_view message) const noexcept { write(LOG_INFO, message); }
  // `debug: <message>` at LOG_INFO, only with the `debug` option (as the reference does).
  void debug(std::string_view message) const noexcept;
  // The same, with the message built only when debugging is on: most lines name paths and
  // users, and building them on every login would cost allocations nobody reads.
  template <std::invocable Make>
  void debug(Make&& make) const {
    if (debug_)
      debug(std::string_view(make()));
  }

 private:
  void write(int priority, std::string_view message) const noexcept;
  pam_handle_t* pamh_;
  bool debug_ = false;
};

}  // namespace pvetotp
