// enroll_options_test.cc: pvetotp-enroll's command line (spec ga-compat 6.1 plus extensions).
#include "enroll_options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace {

using pvetotp::enroll_mode;
using pvetotp::parse_action;
using pvetotp::reuse_choice;

pvetotp::parse_result parse(std::initializer_list<const char*> args) {
  std::vector<std::string_view> v(args.begin(), args.end());
  return pvetotp::parse_enroll_options(std::span<const std::string_view>(v));
}

pvetotp::enroll_options ok(std::initializer_list<const char*> args) {
  auto r = parse(args);
  EXPECT_EQ(r.action, parse_action::run) << r.message;
  return r.options;
}

void expect_error(std::initializer_list<const char*> args, const std::string& message,
                  int status = 1) {
  auto r = parse(args);
  EXPECT_EQ(r.action, parse_action::error);
  EXPECT_EQ(r.message, message);
  EXPECT_EQ(r.exit_status, status);
}

TEST(EnrollOptionsTest, GuideCommandLine) {
  auto o = ok({"-t", "-d", "-f", "-r", "3", "-R", "30", "-w", "3", "-Q", "utf8", "-i",
               "pve.homelab.cloud", "-l", "root@pam"});
  EXPECT_EQ(o.mode, enroll_mode::totp);
  EXPECT_EQ(o.reuse, reuse_choice::disallow);
  EXPECT_TRUE(o.force);
  EXPECT_EQ(o.rate_limit, 3);
  EXPECT_EQ(o.rate_time, 30);
  EXPECT_EQ(o.window_size, 3);
  EXPECT_EQ(o.qr, totp::qr_style::utf8);
  EXPECT_EQ(o.issuer, "pve.homelab.cloud");
  EXPECT_EQ(o.label, "root@pam");
  EXPECT_FALSE(o.ask_window());
  EXPECT_FALSE(o.ask_rate_limit());
  EXPECT_FALSE(o.no_confirm);
  EXPECT_EQ(o.emergency_codes, 5);
}

TEST(EnrollOptionsTest, Defaults) {
  auto o = ok({});
  EXPECT_EQ(o.mode, enroll_mode::ask);
  EXPECT_EQ(o.reuse, reuse_choice::ask);
  EXPECT_EQ(o.qr, totp::qr_style::utf8);
  EXPECT_EQ(o.emergency_codes, 5);
  EXPECT_EQ(o.digits, 6);
  EXPECT_EQ(o.algorithm, totp::hash_algorithm::sha1);
  EXPECT_FALSE(o.label || o.issuer || o.secret_path || o.step_size || o.qr_png || o.user);
  EXPECT_TRUE(o.ask_window());
  EXPECT_TRUE(o.ask_rate_limit());
}

TEST(EnrollOptionsTest, LongFormsOfEveryFlag) {
  auto o = ok({"--time-based",
               "--disallow-reuse",
               "--no-confirm",
               "--force",
               "--label=L",
               "--issuer",
               "I",
               "--quiet",
               "--qr-mode=ansi",
               "--rate-limit=10",
               "--rate-time=600",
               "--secret=/tmp/x",
               "--step-size",
               "60",
               "--window-size=21",
               "--emergency-codes=0",
               "--algorithm=sha512",
               "--digits=8",
               "--qr-png=/tmp/q.png",
               "--user=alice"});
  EXPECT_EQ(o.mode, enroll_mode::totp);
  EXPECT_EQ(o.reuse, reuse_choice::disallow);
  EXPECT_TRUE(o.no_confirm && o.force && o.quiet);
  EXPECT_EQ(o.label, "L");
  EXPECT_EQ(o.issuer, "I");
  EXPECT_EQ(o.qr, totp::qr_style::ansi);
  EXPECT_EQ(o.rate_limit, 10);
  EXPECT_EQ(o.rate_time, 600);
  EXPECT_EQ(o.secret_path, "/tmp/x");
  EXPECT_EQ(o.step_size, 60);
  EXPECT_EQ(o.window_size, 21);
  EXPECT_EQ(o.emergency_codes, 0);
  EXPECT_EQ(o.algorithm, totp::hash_algorithm::sha512);
  EXPECT_EQ(o.digits, 8);
  EXPECT_EQ(o.qr_png, "/tmp/q.png");
  EXPECT_EQ(o.user, "alice");

  auto h = ok({"--counter-based", "--minimal-window", "--no-rate-limit", "--qr-mode", "NONE"});
  EXPECT_EQ(h.mode, enroll_mode::hotp);
  EXPECT_TRUE(h.minimal_window);
  EXPECT_TRUE(h.no_rate_limit);
  EXPECT_EQ(h.qr, totp::qr_style::none);
  EXPECT_EQ(ok({"--time-based", "--allow-reuse"}).reuse, reuse_choice::allow);
}

TEST(EnrollOptionsTest, ShortFormsClustersAndAttachedArguments) {
  auto o = ok({"-tDCfq", "-r3", "-R", "15", "-S1", "-w1", "-e10", "-lL", "-iI", "-s/x", "-QUtF8"});
  EXPECT_EQ(o.mode, enroll_mode::totp);
  EXPECT_EQ(o.reuse, reuse_choice::allow);
  EXPECT_TRUE(o.no_confirm && o.force && o.quiet);
  EXPECT_EQ(o.rate_limit, 3);
  EXPECT_EQ(o.rate_time, 15);
  EXPECT_EQ(o.step_size, 1);
  EXPECT_EQ(o.window_size, 1);
  EXPECT_EQ(o.emergency_codes, 10);
  EXPECT_EQ(o.label, "L");
  EXPECT_EQ(o.issuer, "I");
  EXPECT_EQ(o.secret_path, "/x");
  EXPECT_EQ(o.qr, totp::qr_style::utf8);
  // -c -u, then -r takes the next word as its argument, which -u excludes.
  expect_error({"-cur", "3"}, "-u is mutually exclusive with -r");
}

TEST(EnrollOptionsTest, ClusterEndingInArgumentOption) {
  auto o = ok({"-tfw", "5"});
  EXPECT_EQ(o.window_size, 5);
  EXPECT_TRUE(o.force);
  // An argument starting with '-' is still the argument, as with getopt.
  expect_error({"-e", "-1"}, "-e requires an argument in the range 0..10");
  EXPECT_EQ(ok({"-l", "-t"}).label, "-t");
}

TEST(EnrollOptionsTest, LongPrefixesAndAmbiguity) {
  EXPECT_EQ(ok({"--rate-l=3", "--rate-t=30"}).rate_limit, 3);
  EXPECT_EQ(ok({"--ti"}).mode, enroll_mode::totp);
  auto r = parse({"--rate=3"});
  EXPECT_EQ(r.action, parse_action::error);
  EXPECT_EQ(r.message,
            "option '--rate' is ambiguous; possibilities: '--rate-limit' '--rate-time'\n"
            "Failed to parse command line");
  EXPECT_TRUE(r.show_usage);
  EXPECT_EQ(r.exit_status, 1);
}

TEST(EnrollOptionsTest, HelpAndVersion) {
  EXPECT_EQ(parse({"-h"}).action, parse_action::help);
  EXPECT_EQ(parse({"--help"}).action, parse_action::help);
  EXPECT_EQ(parse({"-t", "--help", "-c"}).action, parse_action::help);
  EXPECT_EQ(parse({"--version"}).action, parse_action::version);
  EXPECT_EQ(pvetotp::version_text(), std::string("pvetotp-enroll ") + PVETOTP_VERSION);
  const std::string usage = pvetotp::usage_text();
  for (const char* flag :
       {"--help",           "--version",     "--time-based",     "--counter-based",
        "--disallow-reuse", "--allow-reuse", "--no-confirm",     "--force",
        "--label",          "--issuer",      "--quiet",          "--qr-mode",
        "--rate-limit",     "--rate-time",   "--no-rate-limit",  "--secret",
        "--step-size",      "--window-size", "--minimal-window", "--emergency-codes",
        "--algorithm",      "--digits",      "--qr-png",         "--user"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

TEST(EnrollOptionsTest, RangesAtTheirEdges) {
  struct range {
    const char* flag;
    long min, max;
    const char* message;
  };
  const range ranges[] = {
      {"-r", 1, 10, "-r requires an argument in the range 1..10"},
      {"-R", 15, 600, "-R requires an argument in the range 15..600"},
      {"-S", 1, 60, "-S requires an argument in the range 1..60"},
      {"-w", 1, 21, "-w requires an argument in the range 1..21"},
      {"-e", 0, 10, "-e requires an argument in the range 0..10"},
      {"--digits", 6, 8, "--digits requires an argument in the range 6..8"},
  };
  for (const auto& r : ranges) {
    SCOPED_TRACE(r.flag);
    for (long v : {r.min, r.max}) {
      const std::string s = std::to_string(v);
      auto res = parse({"-t", r.flag, s.c_str(), "-r", "3", "-R", "30"});
      // -r / -R duplicates are expected for those two rows: check only the flag itself.
      if (std::string(r.flag) == "-r" || std::string(r.flag) == "-R") {
        std::vector<std::string_view> v2 = {r.flag, s, std::string(r.flag) == "-r" ? "-R" : "-r",
                                            std::string(r.flag) == "-r" ? "30" : "3"};
        res = pvetotp::parse_enroll_options(std::span<const std::string_view>(v2));
      }
      EXPECT_EQ(res.action, parse_action::run) << res.message;
    }
    for (long v : {r.min - 1, r.max + 1}) {
      const std::string s = std::to_string(v);
      expect_error({r.flag, s.c_str()}, r.message);
    }
    for (const char* junk : {"", "x", "3x", "1.5", "99999999999999999999"}) {
      expect_error({r.flag, junk}, r.message);
    }
    expect_error({r.flag}, r.message);  // missing argument
  }
}

TEST(EnrollOptionsTest, ModeAndReuseExclusions) {
  expect_error({"-c", "-t"}, "Duplicate -c and/or -t option detected");
  expect_error({"-t", "-t"}, "Duplicate -c and/or -t option detected");
  expect_error({"-c", "-c"}, "Duplicate -c and/or -t option detected");
  expect_error({"-t", "-d", "-D"}, "Duplicate -d and/or -D option detected");
  expect_error({"-t", "-d", "-d"}, "Duplicate -d and/or -D option detected");
  expect_error({"-d"}, "Must select time-based mode, when using -d or -D");
  expect_error({"-D", "-f"}, "Must select time-based mode, when using -d or -D");
  expect_error({"-c", "-d"}, "Reuse of tokens is not a meaningful parameter in counter-based mode");
  expect_error({"-D", "-c"}, "Reuse of tokens is not a meaningful parameter in counter-based mode");
  EXPECT_EQ(ok({"-d", "-t"}).reuse, reuse_choice::disallow);  // order does not matter
}

TEST(EnrollOptionsTest, RateLimitExclusions) {
  expect_error({"-r", "3"}, "Must set -r when setting -R, and vice versa");
  expect_error({"-R", "30"}, "Must set -r when setting -R, and vice versa");
  expect_error({"-u", "-r", "3"}, "-u is mutually exclusive with -r");
  expect_error({"-u", "-R", "30"}, "-u is mutually exclusive with -R");
  expect_error({"-r", "3", "-u"}, "-u is mutually exclusive with -r/-R");
  expect_error({"-R", "30", "-u"}, "-u is mutually exclusive with -r/-R");
  expect_error({"-u", "-u"}, "Duplicate -u option detected");
  expect_error({"-r", "3", "-r", "4"}, "Duplicate -r option detected");
  expect_error({"-R", "30", "-R", "40"}, "Duplicate -R option detected");
}

TEST(EnrollOptionsTest, WindowExclusions) {
  expect_error({"-w", "3", "-W"}, "Duplicate -w/-W option detected");
  expect_error({"-W", "-w", "3"}, "Duplicate -w/-W option detected");
  expect_error({"-W", "-W"}, "Duplicate -w/-W option detected");
  expect_error({"-w", "3", "-w", "3"}, "Duplicate -w/-W option detected");
}

TEST(EnrollOptionsTest, EveryOtherOptionOnlyOnce) {
  expect_error({"-C", "-C"}, "Duplicate -C option detected");
  expect_error({"-f", "--force"}, "Duplicate -f option detected");
  expect_error({"-q", "-q"}, "Duplicate -q option detected");
  expect_error({"-l", "a", "-l", "b"}, "Duplicate -l option detected");
  expect_error({"-i", "a", "-i", "b"}, "Duplicate -i option detected");
  expect_error({"-Q", "none", "-Q", "utf8"}, "Duplicate -Q option detected");
  expect_error({"-s", "a", "-s", "b"}, "Duplicate -s option detected");
  expect_error({"-S", "30", "-S", "30"}, "Duplicate -S option detected");
  expect_error({"-e", "1", "-e", "1"}, "Duplicate -e option detected");
  expect_error({"--algorithm=sha1", "--algorithm=sha1"}, "Duplicate --algorithm option detected");
  expect_error({"--digits=6", "--digits=6"}, "Duplicate --digits option detected");
  expect_error({"--qr-png=a", "--qr-png=b"}, "Duplicate --qr-png option detected");
  expect_error({"--user=a", "--user=b"}, "Duplicate --user option detected");
}

TEST(EnrollOptionsTest, ValueErrors) {
  expect_error({"-Q", "big"}, "Invalid qr-mode \"big\" (-Q accepts NONE, ANSI or UTF8)");
  expect_error({"-Q"}, "-Q requires an argument: NONE, ANSI or UTF8");
  expect_error({"-s", ""}, "-s must be followed by a filename");
  expect_error({"--secret="}, "-s must be followed by a filename");
  expect_error({"-s"}, "-s must be followed by a filename");
  expect_error({"--algorithm=MD5"},
               "Invalid algorithm \"MD5\" (--algorithm accepts SHA1, SHA256 or SHA512)");
  expect_error({"--algorithm"}, "--algorithm requires an argument: SHA1, SHA256 or SHA512");
  expect_error({"--qr-png="}, "--qr-png must be followed by a filename");
  expect_error({"--qr-png"}, "--qr-png must be followed by a filename");
  expect_error({"--user="}, "--user must be followed by a user name");
  expect_error({"--user", "../x"}, "--user must be followed by a user name");
  expect_error({"--user"}, "--user must be followed by a user name");
  expect_error({"-l"}, "-l requires an argument");
  expect_error({"-i"}, "-i requires an argument");
  // Empty label/issuer are values, not errors (empty issuer: no &issuer=).
  EXPECT_EQ(ok({"-i", ""}).issuer, "");
  EXPECT_EQ(ok({"--algorithm", "Sha256"}).algorithm, totp::hash_algorithm::sha256);
  EXPECT_EQ(ok({"--digits", "7"}).digits, 7);
}

TEST(EnrollOptionsTest, UnknownOptionsShowUsage) {
  auto r = parse({"-x"});
  EXPECT_EQ(r.action, parse_action::error);
  EXPECT_EQ(r.message, "invalid option -- 'x'\nFailed to parse command line");
  EXPECT_TRUE(r.show_usage);
  EXPECT_EQ(r.exit_status, 1);
  expect_error({"--bogus"}, "unrecognized option '--bogus'\nFailed to parse command line");
  expect_error({"--storage=/x"}, "unrecognized option '--storage'\nFailed to parse command line");
  expect_error({"--force=yes"},
               "option '--force' doesn't allow an argument\nFailed to parse command line");
}

// Issue 11: --store DIR (central layout, e.g. /etc/pve/priv/pvetotp).
TEST(EnrollOptionsTest, StoreTakesADirectoryOnce) {
  auto r = parse({"--store", "/etc/pve/priv/pvetotp"});
  ASSERT_EQ(r.action, parse_action::run) << r.message;
  EXPECT_EQ(r.options.store, "/etc/pve/priv/pvetotp");
  EXPECT_EQ(parse({"--store=/d"}).options.store, "/d");
  expect_error({"--store="}, "--store must be followed by a directory");
  EXPECT_EQ(parse({"--store=/a", "--store=/b"}).action, parse_action::error);
}

TEST(EnrollOptionsTest, StrayArgumentIsExitStatus2) {
  expect_error({"-t", "extra"},
               "Unexpected argument \"extra\": pvetotp-enroll takes options only (see --help)", 2);
  // The classic typo: a space inside the label.
  expect_error({"-l", "root", "@pam"},
               "Unexpected argument \"@pam\": pvetotp-enroll takes options only (see --help)", 2);
  expect_error({"--", "x"},
               "Unexpected argument \"x\": pvetotp-enroll takes options only (see --help)", 2);
  expect_error({"-"}, "Unexpected argument \"-\": pvetotp-enroll takes options only (see --help)",
               2);
  // '+' in the getopt string: nothing after the first positional is parsed.
  expect_error({"x", "-Z"},
               "Unexpected argument \"x\": pvetotp-enroll takes options only (see --help)", 2);
  EXPECT_EQ(parse({"-t", "--"}).action, parse_action::run);
}

TEST(EnrollOptionsTest, FirstErrorWins) {
  expect_error({"-r", "99", "-c", "-t"}, "-r requires an argument in the range 1..10");
  expect_error({"-c", "-t", "-r", "99"}, "Duplicate -c and/or -t option detected");
}

}  // namespace
