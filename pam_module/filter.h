// filter.h: users=, groups= and services= decide whether the module applies at all, before
// any prompt or file access. A user outside the filters gets PAM_IGNORE, never PAM_SUCCESS.
#pragma once

#include <pwd.h>

#include <string>
#include <string_view>
#include <vector>

#include "options.h"

namespace pvetotp {

struct filter_decision {
  bool applies = true;
  std::string reason;                 // why it does not apply (for the debug line)
  std::vector<std::string> warnings;  // configuration smells worth a LOG_WARNING
};

// `account` is nullptr for an unknown user: such a user is in no group, so a groups= filter
// never matches it (users= still matches by name).
filter_decision evaluate_filters(const module_options& options, std::string_view user,
                                 std::string_view service, const struct passwd* account);

// Names of all groups of `account` (primary and supplementary), via getgrouplist.
std::vector<std::string> group_names_of(const struct passwd& account);

}  // namespace pvetotp
