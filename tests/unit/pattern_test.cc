// Tests of the OpenSSH-style pattern lists used by users=, groups= and services=.
#include "totp/pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace totp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(MatchPattern, Table) {
  struct row {
    const char* pattern;
    const char* name;
    bool expected;
  };
  const row rows[] = {
      {"root", "root", true},
      {"root", "roo", false},
      {"root", "rooty", false},
      {"root", "Root", false},
      {"ROOT", "root", false},
      {"*", "", true},
      {"*", "anything", true},
      {"", "", true},
      {"", "a", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"adm*", "admin", true},
      {"adm*", "adm", true},
      {"adm*", "ad", false},
      {"*min", "admin", true},
      {"*min", "mi", false},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXcYYb", false},
      {"a*a*b", "aaaab", true},
      {"*ab", "aab", true},
      {"*a?", "xxaab", true},
      {"**", "x", true},
      {"*?", "", false},
      {"*x", "*ax", true},
      {"svc-*-??", "svc-web-01", true},
      {"svc-*-??", "svc-web-1", false},
      {"user@pve", "user@pve", true},
      {"*@pve", "root@pam", false},
  };
  for (const row& r : rows) {
    EXPECT_EQ(match_pattern(r.pattern, r.name), r.expected)
        << "pattern '" << r.pattern << "' name '" << r.name << "'";
  }
}

TEST(MatchPattern, NoExponentialBlowUp) {
  // Naive recursive matching takes ~2^30 steps here; ours is O(|p| * |n|).
  const std::string pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  const std::string name(5000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(match_pattern(pattern, name));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(PatternList, Parse) {
  const pattern_list l = parse_pattern_list(",a,,!b,c*,!,,!d?,");
  EXPECT_THAT(l.positive, ElementsAre("a", "c*"));
  EXPECT_THAT(l.negative, ElementsAre("b", "d?"));
  EXPECT_FALSE(l.only_negations());
  EXPECT_THAT(parse_pattern_list("").positive, IsEmpty());
  EXPECT_THAT(parse_pattern_list(",,,").negative, IsEmpty());
  // Spaces are not trimmed: " a" is a pattern that no real name matches.
  EXPECT_THAT(parse_pattern_list("a, b").positive, ElementsAre("a", " b"));
}

TEST(PatternList, Semantics) {
  struct row {
    const char* list;
    const char* name;
    bool expected;
  };
  const row rows[] = {
      {"alice,bob", "bob", true},
      {"alice,bob", "carol", false},
      {"*,!root", "root", false},  // negation after the wildcard
      {"!root,*", "root", false},  // negation before it: same result
      {"*,!root", "alice", true},
      {"adm*,!admin", "admin", false},
      {"adm*,!admin", "admins", true},
      {"!root", "alice", false},  // only negations: matches nothing
      {"!root,!bob", "root", false},
      {"a,,b", "b", true},  // empty items ignored
      {",a,", "a", true},   // leading/trailing commas
      {"", "a", false},
      {"a, b", "b", false},  // spaces are part of the pattern
      {"a, b", " b", true},
      {"Alice", "alice", false},  // case-sensitive
      {"sshd,sudo", "sshd", true},
      {"ss?d", "sshd", true},
      {"*", "", true},  // `*` matches the empty string too
  };
  for (const row& r : rows) {
    const pattern_list l = parse_pattern_list(r.list);
    EXPECT_EQ(pattern_list_matches(l, r.name), r.expected)
        << "list '" << r.list << "' name '" << r.name << "'";
  }
  EXPECT_TRUE(parse_pattern_list("!root").only_negations());
  EXPECT_FALSE(parse_pattern_list("").only_negations());
}

TEST(PatternList, GroupLists) {
  const std::vector<std::string> groups = {"users", "wheel", "nopam"};
  EXPECT_TRUE(pattern_list_matches_any(parse_pattern_list("wheel"), groups));
  EXPECT_TRUE(pattern_list_matches_any(parse_pattern_list("adm,wh*"), groups));
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("adm,staff"), groups));
  // A negated group excludes the user even though another group matches, in either order.
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("wheel,!nopam"), groups));
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("!nopam,wheel"), groups));
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("*,!nopam"), groups));
  EXPECT_TRUE(pattern_list_matches_any(parse_pattern_list("*,!other"), groups));
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("!other"), groups));
  EXPECT_FALSE(pattern_list_matches_any(parse_pattern_list("*"), std::vector<std::string>{}));
}

}  // namespace
}  // namespace totp
