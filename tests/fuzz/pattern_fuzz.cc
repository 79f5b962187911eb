// pattern_fuzz.cc: totp::match_pattern, parse_pattern_list and pattern_list_matches.
//
// The input is "<list>\0<name>\0<name>...". Properties (pattern.h, OpenSSH semantics):
//   - match_pattern agrees with an independent backtracking-free reference matcher;
//   - a pattern equal to a name matches it (`*` and `?` match themselves too);
//   - the list "*" matches every name;
//   - a name hit by a negated pattern never matches, and `!name,*` excludes exactly `name`;
//   - a list of only negations matches nothing;
//   - pattern_list_matches == (some positive matches) && (no negative matches), and
//     pattern_list_matches_any agrees with the per-name results.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "totp/pattern.h"

namespace {

// Dynamic programming over (pattern prefix, name prefix): written independently of libtotp's
// matcher so the two can disagree.
bool reference_match(std::string_view p, std::string_view s) {
  std::vector<std::vector<char>> ok(p.size() + 1, std::vector<char>(s.size() + 1, 0));
  ok[0][0] = 1;
  for (std::size_t i = 1; i <= p.size(); ++i) {
    const char c = p[i - 1];
    ok[i][0] = c == '*' && ok[i - 1][0];
    for (std::size_t j = 1; j <= s.size(); ++j) {
      if (c == '*') {
        ok[i][j] = ok[i - 1][j] || ok[i][j - 1];
      } else {
        ok[i][j] = ok[i - 1][j - 1] && (c == '?' || c == s[j - 1]);
      }
    }
  }
  return ok[p.size()][s.size()] != 0;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    std::size_t end = text.find(sep, pos);
    out.emplace_back(text.substr(pos, end == std::string_view::npos ? text.npos : end - pos));
    if (end == std::string_view::npos) {
      return out;
    }
    pos = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The DP matcher is quadratic; long inputs add nothing but time.
  if (size > 512) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = split(input, '\0');
  const std::string list_text = parts[0];
  std::vector<std::string> names(parts.begin() + 1, parts.end());
  if (names.empty()) {
    names.push_back(list_text);  // still try the list against something
  }

  const totp::pattern_list list = totp::parse_pattern_list(list_text);
  // Parsing: items are the comma-separated pieces, empty ones ignored, '!' marks a negation.
  std::size_t items = 0;
  for (const auto& item : split(list_text, ',')) {
    items += item.empty() ? 0 : 1;
  }
  FUZZ_CHECK(list.positive.size() + list.negative.size() <= items);
  FUZZ_CHECK(list.only_negations() == (list.positive.empty() && !list.negative.empty()));

  const totp::pattern_list star = totp::parse_pattern_list("*");
  for (const auto& name : names) {
    FUZZ_CHECK(totp::pattern_list_matches(star, name));
    FUZZ_CHECK(totp::match_pattern(name, name));
    FUZZ_CHECK(totp::match_pattern(list_text, name) == reference_match(list_text, name));

    bool any_positive = false;
    bool any_negative = false;
    for (const auto& p : list.positive) {
      FUZZ_CHECK(totp::match_pattern(p, name) == reference_match(p, name));
      any_positive = any_positive || reference_match(p, name);
    }
    for (const auto& p : list.negative) {
      any_negative = any_negative || reference_match(p, name);
    }
    const bool matches = totp::pattern_list_matches(list, name);
    FUZZ_CHECK(matches == (any_positive && !any_negative));
    if (any_negative || list.only_negations()) {
      FUZZ_CHECK(!matches);
    }
    // A negated name excludes that name even when a catch-all follows.
    if (!name.empty() && name.find(',') == std::string::npos && name[0] != '!') {
      FUZZ_CHECK(!totp::pattern_list_matches(totp::parse_pattern_list("!" + name + ",*"), name));
      FUZZ_CHECK(!totp::pattern_list_matches(totp::parse_pattern_list("*,!" + name), name));
      FUZZ_CHECK(!totp::pattern_list_matches(totp::parse_pattern_list("!" + name), name));
    }
  }

  bool any_hit = false;
  bool any_excluded = false;
  for (const auto& name : names) {
    bool pos = false;
    bool neg = false;
    for (const auto& p : list.positive) {
      pos = pos || reference_match(p, name);
    }
    for (const auto& p : list.negative) {
      neg = neg || reference_match(p, name);
    }
    any_hit = any_hit || pos;
    any_excluded = any_excluded || neg;
  }
  FUZZ_CHECK(totp::pattern_list_matches_any(list, names) == (any_hit && !any_excluded));
  return 0;
}
