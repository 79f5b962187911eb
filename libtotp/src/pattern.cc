// pattern.cc: OpenSSH-style pattern lists (`*`, `?`, `!negation`, comma separated).
//
// match_pattern() is the classic greedy-star matcher with a single backtrack point: when a
// later literal fails, only the most recent `*` needs to absorb one more character, because
// an earlier star can never help more than the latest one. That keeps the cost at
// O(|pattern| * |name|) instead of the exponential blow-up of naive recursion on `*a*a*a*b`.
#include "totp/pattern.h"

namespace totp {

bool match_pattern(std::string_view pattern, std::string_view name) noexcept {
  std::size_t p = 0;
  std::size_t n = 0;
  std::size_t star = std::string_view::npos;  // position of the last `*` seen in pattern
  std::size_t star_name = 0;                  // name position that star currently resumes at
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_name = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_name;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

pattern_list parse_pattern_list(std::string_view text) {
  pattern_list list;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    // Empty items (`a,,b`, a leading or trailing comma) and a bare `!` name nothing; they are
    // dropped rather than turned into patterns that could only match the empty name.
    if (!item.empty() && item.front() == '!') {
      if (item.size() > 1) {
        list.negative.emplace_back(item.substr(1));
      }
    } else if (!item.empty()) {
      list.positive.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return list;
}

namespace {

bool any_match(const std::vector<std::string>& patterns, std::string_view name) noexcept {
  for (const auto& pattern : patterns) {
    if (match_pattern(pattern, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool pattern_list_matches(const pattern_list& list, std::string_view name) noexcept {
  // A negated match excludes whatever its position in the list.
  if (any_match(list.negative, name)) {
    return false;
  }
  return any_match(list.positive, name);
}

bool pattern_list_matches_any(const pattern_list& list,
                              std::span<const std::string> names) noexcept {
  bool matched = false;
  for (const auto& name : names) {
    if (any_match(list.negative, name)) {
      return false;  // one excluded group excludes the user, as in OpenSSH's Match Group
    }
    matched = matched || any_match(list.positive, name);
  }
  return matched;
}

}  // namespace totp
