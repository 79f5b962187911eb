// privileges.h: scoped switch of the filesystem identity to the account that owns the
// secret file, so a user-controlled path (~/.google_authenticator, symlinks in it) is opened
// with that user's rights and never with root's.
//
// The switch is done here rather than with pam_modutil_drop_priv, whose handling of
// supplementary groups differs between Linux-PAM releases: the user's full group list is
// installed (setgroups), then setfsgid and setfsuid, each verified. That is what lets a
// rewrite keep a file's group when it is one of the user's supplementary groups (fchown to
// it), on Debian 12 and 13 alike. A caller that is not root has nothing to switch (it can only
// reach what it may reach anyway): drop_to() succeeds without changing anything. Not nestable.
// The destructor restores if restore() was not called; an explicit restore() lets the caller
// turn a failure into PAM_SYSTEM_ERR.
#pragma once

#include <pwd.h>
#include <sys/types.h>

#include <vector>

namespace pvetotp {

class privilege_guard {
 public:
  privilege_guard() noexcept = default;
  privilege_guard(const privilege_guard&) = delete;
  privilege_guard& operator=(const privilege_guard&) = delete;
  ~privilege_guard();

  // False when the switch failed; nothing is switched then.
  bool drop_to(const struct passwd& account) noexcept;
  // True when the original identity is back (or was never changed).
  bool restore() noexcept;
  bool dropped() const noexcept { return dropped_; }

 private:
  std::vector<gid_t> saved_groups_;
  uid_t saved_fsuid_ = 0;
  gid_t saved_fsgid_ = 0;
  bool dropped_ = false;
};

}  // namespace pvetotp
