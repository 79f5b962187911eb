// The module-argument parser: every google-authenticator option, our filters, and that every
// malformed or unknown argument is an error (the module then denies without prompting).
#include <gtest/gtest.h>

#include <vector>

#include "options.h"

namespace {

using pvetotp::module_options;
using pvetotp::parse_module_options;

totp::result<module_options> parse(std::vector<const char*> args) {
  return parse_module_options(std::span<const char* const>(args.data(), args.size()));
}

TEST(ModuleOptions, DefaultsMatchTheReference) {
  auto o = parse({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->secret_template, "~/.google_authenticator");
  EXPECT_EQ(o->allowed_permissions, 0600u);
  EXPECT_FALSE(o->nullok);
  EXPECT_TRUE(o->skew_adjust);
  EXPECT_TRUE(o->increment_hotp_on_failure);
  EXPECT_EQ(o->grace_period, 0u);
  EXPECT_FALSE(o->has_fixed_user());
  EXPECT_FALSE(o->users || o->groups || o->services);
}

TEST(ModuleOptions, EveryFlagSetsItsField) {
  auto o = parse({"no_strict_owner", "debug", "try_first_pass", "use_first_pass", "forward_pass",
                  "noskewadj", "no_increment_hotp", "nullok", "echo_verification_code",
                  "allow_readonly", "allowed_perm=0640", "grace_period=3600",
                  "authtok_prompt=Your token please: ", "secret=/etc/otp/${USER}", "user=root"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(o->no_strict_owner && o->debug && o->try_first_pass && o->use_first_pass &&
              o->forward_pass && o->nullok && o->echo_code && o->allow_readonly);
  EXPECT_FALSE(o->skew_adjust);
  EXPECT_FALSE(o->increment_hotp_on_failure);
  EXPECT_EQ(o->allowed_permissions, 0640u);
  EXPECT_EQ(o->grace_period, 3600u);
  EXPECT_EQ(*o->prompt, "Your token please: ");
  EXPECT_EQ(o->secret_template, "/etc/otp/${USER}");
  EXPECT_EQ(*o->fixed_user, "root");
}

TEST(ModuleOptions, DashedEchoAliasAndOctalWithoutLeadingZero) {
  auto o = parse({"echo-verification-code", "allowed_perm=640"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->echo_code);
  EXPECT_EQ(o->allowed_permissions, 0640u);
}

TEST(ModuleOptions, NumericUserIsAUidWithoutLookup) {
  auto o = parse({"user=1000", "secret=/x/${USER}"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o->fixed_uid, 1000u);
  EXPECT_FALSE(o->fixed_user);
}

TEST(ModuleOptions, LaterOccurrenceOverrides) {
  auto o = parse({"allowed_perm=0600", "allowed_perm=0640", "secret=/a", "secret=/b"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->allowed_permissions, 0640u);
  EXPECT_EQ(o->secret_template, "/b");
}

struct bad_case {
  std::vector<const char*> args;
  const char* message;
};

TEST(ModuleOptions, MalformedArgumentsAreErrorsNamingTheArgument) {
  const std::vector<bad_case> cases = {
      {{"bogus_option"}, "Unrecognized option \"bogus_option\""},
      {{"nullok=1"}, "Unrecognized option \"nullok=1\""},
      {{"allowed_perm=abc"},
       "Invalid permissions in setting \"allowed_perm=abc\". allowed_perm setting must be a "
       "positive octal integer."},
      {{"allowed_perm=0"},
       "Invalid permissions in setting \"allowed_perm=0\". allowed_perm setting must be a "
       "positive octal integer."},
      {{"allowed_perm=0689"},
       "Invalid permissions in setting \"allowed_perm=0689\". allowed_perm setting must be a "
       "positive octal integer."},
      {{"grace_period=-5"},
       "Invalid value in setting \"grace_period=-5\".grace_period must be a positive number of "
       "seconds."},
      {{"grace_period=10x"},
       "Invalid value in setting \"grace_period=10x\".grace_period must be a positive number of "
       "seconds."},
      {{"user=1abc", "secret=/x"}, "Invalid user id in setting \"user=1abc\""},
      {{"secret="}, "Invalid setting \"secret=\": empty path"},
      {{"groups="}, "Invalid filter in setting \"groups=\": empty list"},
      {{"users=,"}, "Invalid filter in setting \"users=,\": empty list"},
  };
  for (const bad_case& c : cases) {
    auto o = parse(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_EQ(o.error().message, c.message);
  }
}

TEST(ModuleOptions, UserWithoutSecretIsRefused) {
  auto o = parse({"user=root"});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("needs \"secret=\""), std::string::npos);
}

TEST(ModuleOptions, FilterListsAreParsed) {
  auto o = parse({"groups=totp,!nototp", "services=*,!proxmox-ve-auth", "users=alice,bob"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->groups->positive, std::vector<std::string>{"totp"});
  EXPECT_EQ(o->groups->negative, std::vector<std::string>{"nototp"});
  EXPECT_EQ(o->services->negative, std::vector<std::string>{"proxmox-ve-auth"});
  EXPECT_EQ(o->users->positive.size(), 2u);
  EXPECT_EQ(o->services_text, "*,!proxmox-ve-auth");
}

}  // namespace
