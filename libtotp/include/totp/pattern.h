// pattern.h: OpenSSH-style pattern lists for the users=, groups= and services= filters.
//
// A list is comma-separated patterns; `*` matches any run of characters, `?` exactly one;
// a leading `!` negates. The list matches a name when some positive pattern matches it and
// no negated pattern does (a negated match excludes, whatever the order). Matching is
// case-sensitive (user, group and service names are). Empty items are ignored; spaces are
// not trimmed (they are never part of a valid name).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace totp {

bool match_pattern(std::string_view pattern, std::string_view name) noexcept;

struct pattern_list {
  std::vector<std::string> positive;
  std::vector<std::string> negative;  // stored without the '!'
  // A list made only of negations can match nothing (OpenSSH semantics).
  bool only_negations() const noexcept { return positive.empty() && !negative.empty(); }
};

pattern_list parse_pattern_list(std::string_view text);
bool pattern_list_matches(const pattern_list& list, std::string_view name) noexcept;
// True when the list matches at least one of `names` and none of them hits a negation.
bool pattern_list_matches_any(const pattern_list& list,
                              std::span<const std::string> names) noexcept;

}  // namespace totp
