#include "filter.h"

#include <grp.h>

#include <cerrno>

#include <algorithm>

namespace pvetotp {
namespace {

bool has_wildcard(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

bool group_exists(const std::string& name) {
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buffer(4096);
  while (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == ERANGE &&
         buffer.size() < (1u << 20))
    buffer.resize(buffer.size() * 2);
  return found != nullptr;
}

void warn_about_list(const char* option, const std::optional<totp::pattern_list>& list,
                     filter_decision& decision) {
  if (!list || !list->only_negations())
    return;
  decision.warnings.push_back(std::string("Filter ") + option + "=" +
                              "... contains only negated patterns and matches nobody; write "
                              "\"*,!name\" to mean \"everybody but name\"");
}

}  // namespace

std::vector<std::string> group_names_of(const struct passwd& account) {
  std::vector<gid_t> gids(64);
  int count = static_cast<int>(gids.size());
  while (getgrouplist(account.pw_name, account.pw_gid, gids.data(), &count) == -1) {
    if (count <= static_cast<int>(gids.size()))
      count = static_cast<int>(gids.size()) * 2;
    if (count > 65536)
      break;
    gids.resize(static_cast<std::size_t>(count));
  }
  gids.resize(static_cast<std::size_t>(std::max(count, 0)));
  std::vector<std::string> names;
  std::vector<char> buffer(4096);
  for (gid_t gid : gids) {
    struct group entry {};
    struct group* found = nullptr;
    int rc;
    while ((rc = getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
           buffer.size() < (1u << 20))
      buffer.resize(buffer.size() * 2);
    if (rc == 0 && found != nullptr)
      names.emplace_back(found->gr_name);
  }
  return names;
}

filter_decision evaluate_filters(const module_options& options, std::string_view user,
                                 std::string_view service, const struct passwd* account) {
  filter_decision decision;
  warn_about_list("users", options.users, decision);
  warn_about_list("groups", options.groups, decision);
  warn_about_list("services", options.services, decision);
  if (options.groups) {
    for (const auto* patterns : {&options.groups->positive, &options.groups->negative})
      for (const std::string& name : *patterns)
        if (!has_wildcard(name) && !group_exists(name))
          decision.warnings.push_back("Filter groups=" + options.groups_text + " names group \"" +
                                      name + "\", which does not exist");
  }

  if (options.services && !totp::pattern_list_matches(*options.services, service)) {
    decision.applies = false;
    decision.reason =
        "service \"" + std::string(service) + "\" is not in services=" + options.services_text;
    return decision;
  }
  if (options.users && !totp::pattern_list_matches(*options.users, user)) {
    decision.applies = false;
    decision.reason = "user is not in users=" + options.users_text;
    return decision;
  }
  if (options.groups) {
    const std::vector<std::string> groups =
        account != nullptr ? group_names_of(*account) : std::vector<std::string>{};
    if (!totp::pattern_list_matches_any(*options.groups, groups)) {
      decision.applies = false;
      decision.reason = account != nullptr
                            ? "user is not in groups=" + options.groups_text
                            : "unknown user is in no group of groups=" + options.groups_text;
      return decision;
    }
  }
  return decision;
}

}  // namespace pvetotp
