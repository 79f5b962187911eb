// privileges.h: scoped switch of the filesystem identity to the account that owns the
// secret file, so a user-controlled path (~/.google_authenticator, symlinks in it) is opened
// with that user's rights and never with root's.
//
// Wraps pam_modutil_drop_priv/regain_priv (setgroups + setfsgid + setfsuid; a no-op when the
// caller is not root). Not nestable. The destructor regains if restore() was not called; an
// explicit restore() lets the caller turn a failure into PAM_SYSTEM_ERR.
#pragma once

#include <pwd.h>
#include <security/pam_modutil.h>

namespace pvetotp {

class privilege_guard {
 public:
  explicit privilege_guard(pam_handle_t* pamh) noexcept;
  privilege_guard(const privilege_guard&) = delete;
  privilege_guard& operator=(const privilege_guard&) = delete;
  ~privilege_guard();

  // False when the switch failed (nothing is switched then).
  bool drop_to(const struct passwd& account) noexcept;
  // True when privileges are back (or were never dropped).
  bool restore() noexcept;
  bool dropped() const noexcept { return dropped_; }

 private:
  pam_handle_t* pamh_;
  gid_t group_buffer_[PAM_MODUTIL_NGROUPS];
  struct pam_modutil_privs privs_;
  bool dropped_ = false;
};

}  // namespace pvetotp
