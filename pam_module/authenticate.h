// authenticate.h: one pam_sm_authenticate call, end to end.
#pragma once

#include <security/pam_modules.h>

#include <span>

namespace pvetotp {

// Never throws past its own boundary only if the caller catches: entry.cc does. Returns a
// PAM code.
int authenticate(pam_handle_t* pamh, int flags, std::span<const char* const> args);

}  // namespace pvetotp
