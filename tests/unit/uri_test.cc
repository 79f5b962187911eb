// uri_test.cc: otpauth URI building and percent-encoding (spec ga-compat 6.4).
#include "totp/uri.h"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string build(const totp::uri_params& params,
                  const char* secret = "NTLUIZIEJGMP25OYYDNNQ75JR4") {
  auto uri = totp::build_otpauth_uri(totp::secret_bytes::from_string(secret), params);
  EXPECT_TRUE(uri.ok()) << (uri.ok() ? "" : uri.error().message);
  return uri.ok() ? std::string(uri->view()) : std::string();
}

TEST(UriTest, SpecExampleLabelAndIssuerEncoding) {
  totp::uri_params p;
  p.label = "alice smith@host&x=1";
  p.issuer = "My Co/Prod?";
  EXPECT_EQ(build(p),
            "otpauth://totp/alice%20smith@host%26x%3D1?secret=NTLUIZIEJGMP25OYYDNNQ75JR4"
            "&issuer=My%20Co/Prod%3F");
}

TEST(UriTest, SpecExampleDefaults) {
  totp::uri_params p;
  p.label = "gaspec-u1@vm";
  p.issuer = "vm";
  EXPECT_EQ(build(p, "KTHF2DPBT5RIZNG55ZZFZXS5GI"),
            "otpauth://totp/gaspec-u1@vm?secret=KTHF2DPBT5RIZNG55ZZFZXS5GI&issuer=vm");
}

TEST(UriTest, GuideLine) {
  totp::uri_params p;
  p.label = "root@pam";
  p.issuer = "pve.homelab.cloud";
  EXPECT_EQ(build(p, "HPDSSXPJ5BFJIXIIZD7EYTMJVM"),
            "otpauth://totp/root@pam?secret=HPDSSXPJ5BFJIXIIZD7EYTMJVM&issuer=pve.homelab.cloud");
}

TEST(UriTest, EmptyIssuerIsLeftOut) {
  totp::uri_params p;
  p.label = "bob@h";
  EXPECT_EQ(build(p, "ABC"), "otpauth://totp/bob@h?secret=ABC");
}

TEST(UriTest, EncodesEveryReservedAndControlByte) {
  EXPECT_EQ(totp::uri_encode_component("%&?= \t\n\x7f\x80\xff"), "%25%26%3F%3D%20%09%0A%7F%80%FF");
  // Literal, as the reference leaves them.
  EXPECT_EQ(totp::uri_encode_component("a/b:c@d#e+f!~"), "a/b:c@d#e+f!~");
  EXPECT_EQ(totp::uri_encode_component(std::string("\x01\x1f", 2)), "%01%1F");
  EXPECT_EQ(totp::uri_encode_component("M\xc3\xbcller"), "M%C3%BCller");
  EXPECT_EQ(totp::uri_encode_component(""), "");
}

TEST(UriTest, NonDefaultParametersAreWritten) {
  totp::uri_params p;
  p.label = "root@pam";
  p.issuer = "pve";
  p.algorithm = totp::hash_algorithm::sha256;
  p.digits = 8;
  p.period = 60;
  EXPECT_EQ(build(p, "ABC"),
            "otpauth://totp/root@pam?secret=ABC&issuer=pve&algorithm=SHA256&digits=8&period=60");
  p.algorithm = totp::hash_algorithm::sha512;
  p.digits = 6;
  p.period = 30;
  EXPECT_EQ(build(p, "ABC"), "otpauth://totp/root@pam?secret=ABC&issuer=pve&algorithm=SHA512");
  p.algorithm = totp::hash_algorithm::sha1;
  p.digits = 7;
  EXPECT_EQ(build(p, "ABC"), "otpauth://totp/root@pam?secret=ABC&issuer=pve&digits=7");
  p.digits = 6;
  p.period = 15;
  EXPECT_EQ(build(p, "ABC"), "otpauth://totp/root@pam?secret=ABC&issuer=pve&period=15");
}

TEST(UriTest, HotpAlwaysCarriesCounterAndNeverPeriod) {
  totp::uri_params p;
  p.hotp = true;
  p.label = "u@h";
  p.issuer = "h";
  p.period = 60;  // meaningless for HOTP
  EXPECT_EQ(build(p, "ABC"), "otpauth://hotp/u@h?secret=ABC&issuer=h&counter=1");
  p.counter = 42;
  p.digits = 8;
  EXPECT_EQ(build(p, "ABC"), "otpauth://hotp/u@h?secret=ABC&issuer=h&digits=8&counter=42");
}

TEST(UriTest, SizeGuardAtTheReferenceLimit) {
  totp::uri_params p;
  // 3 * 3333 + 1 = 10000 is allowed, 3 * 3334 + 1 = 10003 is not.
  p.label = std::string(3333, 'a');
  EXPECT_TRUE(totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p).ok());
  p.label = std::string(3334, 'a');
  auto too_big = totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, totp::error_code::too_large);
  EXPECT_EQ(too_big.error().message, "Error: Generated URL would be unreasonably large.");
  p.label = "x";
  p.issuer = std::string(3334, 'i');
  EXPECT_FALSE(totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p).ok());
}

TEST(UriTest, RejectsInvalidDigitsAndPeriod) {
  totp::uri_params p;
  p.digits = 5;
  EXPECT_EQ(totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p).error().code,
            totp::error_code::invalid_argument);
  p.digits = 9;
  EXPECT_FALSE(totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p).ok());
  p.digits = 6;
  p.period = 0;
  EXPECT_FALSE(totp::build_otpauth_uri(totp::secret_bytes::from_string("ABC"), p).ok());
}

}  // namespace
