#include "privileges.h"

#include <grp.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <new>

namespace pvetotp {
namespace {

// setfsuid/setfsgid return the previous value and never fail visibly; calling them a second
// time with the same id returns the id now in effect, which tells whether the switch worked.
bool switch_fsuid(uid_t uid) noexcept {
  setfsuid(uid);
  return static_cast<uid_t>(setfsuid(uid)) == uid;
}
bool switch_fsgid(gid_t gid) noexcept {
  setfsgid(gid);
  return static_cast<gid_t>(setfsgid(gid)) == gid;
}

// The account's primary and supplementary groups.
bool groups_of(const struct passwd& account, std::vector<gid_t>& out) {
  int count = 32;
  for (int attempt = 0; attempt < 16; ++attempt) {
    out.resize(static_cast<std::size_t>(count));
    int n = count;
    if (getgrouplist(account.pw_name, account.pw_gid, out.data(), &n) >= 0) {
      out.resize(static_cast<std::size_t>(n));
      return true;
    }
    count = n > count ? n : count * 2;  // n holds the needed size when the buffer was short
  }
  return false;
}

}  // namespace

privilege_guard::~privilege_guard() {
  restore();
}

bool privilege_guard::drop_to(const struct passwd& account) noexcept {
  if (dropped_) {
    return false;
  }
  // Not root: nothing to switch. To root (user=root, the central layout): already there.
  if (account.pw_uid == 0 || geteuid() != 0) {
    return true;
  }
  std::vector<gid_t> wanted;
  try {
    const int current = getgroups(0, nullptr);
    if (current < 0) {
      return false;
    }
    saved_groups_.resize(static_cast<std::size_t>(current));
    if (getgroups(current, saved_groups_.data()) != current) {
      return false;
    }
    if (account.pw_name == nullptr || !groups_of(account, wanted)) {
      return false;
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  if (setgroups(wanted.size(), wanted.data()) != 0) {
    return false;
  }
  saved_fsgid_ = static_cast<gid_t>(setfsgid(account.pw_gid));
  if (!switch_fsgid(account.pw_gid)) {
    switch_fsgid(saved_fsgid_);
    setgroups(saved_groups_.size(), saved_groups_.data());
    return false;
  }
  saved_fsuid_ = static_cast<uid_t>(setfsuid(account.pw_uid));
  if (!switch_fsuid(account.pw_uid)) {
    switch_fsuid(saved_fsuid_);
    switch_fsgid(saved_fsgid_);
    setgroups(saved_groups_.size(), saved_groups_.data());
    return false;
  }
  dropped_ = true;
  return true;
}

bool privilege_guard::restore() noexcept {
  if (!dropped_) {
    return true;
  }
  // uid first: with fsuid 0 again, the group changes below are certain to be allowed.
  if (!switch_fsuid(saved_fsuid_) || !switch_fsgid(saved_fsgid_) ||
      setgroups(saved_groups_.size(), saved_groups_.data()) != 0) {
    return false;
  }
  dropped_ = false;
  return true;
}

}  // namespace pvetotp
