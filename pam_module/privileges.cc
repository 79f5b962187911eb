#include "privileges.h"

namespace pvetotp {

privilege_guard::privilege_guard(pam_handle_t* pamh) noexcept
    : pamh_(pamh), group_buffer_{}, privs_{group_buffer_,          PAM_MODUTIL_NGROUPS,    0,
                                           static_cast<uid_t>(-1), static_cast<gid_t>(-1), 0} {}

privilege_guard::~privilege_guard() {
  restore();
}

bool privilege_guard::drop_to(const struct passwd& account) noexcept {
  if (dropped_)
    return false;
  if (pam_modutil_drop_priv(pamh_, &privs_, &account) != 0)
    return false;
  dropped_ = true;
  return true;
}

bool privilege_guard::restore() noexcept {
  if (!dropped_)
    return true;
  if (pam_modutil_regain_priv(pamh_, &privs_) != 0)
    return false;
  dropped_ = false;
  return true;
}

}  // namespace pvetotp
