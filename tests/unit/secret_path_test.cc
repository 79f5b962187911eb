// secret= expansion: google-authenticator's rules (spec 2.3, N1-N9) and our ${USER} guard.
#include <gtest/gtest.h>

#include "secret_path.h"

namespace {

using pvetotp::expand_secret_path;
const std::optional<std::string> kHome = std::string("/home/u");

TEST(SecretPath, DefaultTemplate) {
  EXPECT_EQ(*expand_secret_path("~/.google_authenticator", "u", kHome),
            "/home/u/.google_authenticator");
}

TEST(SecretPath, TildeOnlyAtStartOrAfterSlashAndNotAfterAnExpansion) {
  EXPECT_EQ(*expand_secret_path("~/x/a~b", "u", kHome), "/home/u/x/a~b");    // N8
  EXPECT_EQ(*expand_secret_path("/tmp/~/x", "u", kHome), "/tmp//home/u/x");  // N9
  EXPECT_EQ(*expand_secret_path("~~", "u", kHome), "/home/u~");  // literal after expansion
  EXPECT_EQ(*expand_secret_path("x~", "u", kHome), "x~");
}

TEST(SecretPath, HomeAndUserVariables) {
  EXPECT_EQ(*expand_secret_path("${HOME}/.ga", "u", kHome), "/home/u/.ga");
  EXPECT_EQ(*expand_secret_path("/etc/otp/${USER}", "alice", std::nullopt), "/etc/otp/alice");
  EXPECT_EQ(*expand_secret_path("/s/${USER}/${USER}", "bob", kHome), "/s/bob/bob");
  // No recursion: a home containing ${USER} stays literal.
  EXPECT_EQ(*expand_secret_path("~/f", "u", std::string("/h/${USER}")), "/h/${USER}/f");
}

TEST(SecretPath, UserNamesThatEscapeTheDirectoryAreRefused) {
  for (const char* name : {"../root", "a/b", ".hidden", ".", ""}) {
    auto r = expand_secret_path("/etc/otp/${USER}", name, std::nullopt);
    EXPECT_FALSE(r.ok()) << name;
  }
}

TEST(SecretPath, HomeErrors) {
  auto fixed = expand_secret_path("~/x", "u", std::nullopt);
  ASSERT_FALSE(fixed.ok());
  EXPECT_EQ(fixed.error().message, "Home dir in 'secret' not implemented when 'user' set");
  auto relative = expand_secret_path("${HOME}/x", "u", std::string("home/u"));
  ASSERT_FALSE(relative.ok());
  EXPECT_EQ(relative.error().message, "User \"u\" home dir not absolute");
  auto none = expand_secret_path("~/x", "u", std::string());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "user(\"u\") has no home dir");
}

}  // namespace
