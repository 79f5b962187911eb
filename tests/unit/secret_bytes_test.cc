// Tests for totp::secret_bytes: ownership (move-only, clone), editing semantics used by the
// secret-file editor, and constant-time comparison.
#include "totp/secret_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

namespace {

using totp::secret_bytes;

std::string text(const secret_bytes& s) {
  return std::string(s.view());
}

static_assert(!std::is_copy_constructible_v<secret_bytes>);
static_assert(!std::is_copy_assignable_v<secret_bytes>);
static_assert(std::is_nothrow_move_constructible_v<secret_bytes>);
static_assert(std::is_nothrow_move_assignable_v<secret_bytes>);

TEST(SecretBytes, DefaultIsEmpty) {
  secret_bytes s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.view(), "");
  EXPECT_TRUE(s.span().empty());
}

TEST(SecretBytes, SizedConstructorZeroFills) {
  secret_bytes s(5);
  ASSERT_EQ(s.size(), 5u);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i], 0) << i;
  }
  secret_bytes none(std::size_t{0});
  EXPECT_TRUE(none.empty());
}

TEST(SecretBytes, FromStringAndPointer) {
  auto s = secret_bytes::from_string("hello");
  EXPECT_EQ(text(s), "hello");
  const char raw[] = {'a', '\0', 'b'};
  secret_bytes with_nul(raw, sizeof raw);
  ASSERT_EQ(with_nul.size(), 3u);
  EXPECT_EQ(with_nul[1], 0);
  EXPECT_EQ(with_nul[2], 'b');
}

TEST(SecretBytes, MoveConstructLeavesSourceEmpty) {
  auto a = secret_bytes::from_string("secret");
  const std::uint8_t* storage = a.data();
  secret_bytes b(std::move(a));
  EXPECT_EQ(text(b), "secret");
  EXPECT_EQ(b.data(), storage);  // moved, not copied
  EXPECT_TRUE(a.empty());        // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytes, MoveAssignReplacesAndEmptiesSource) {
  auto a = secret_bytes::from_string("first");
  auto b = secret_bytes::from_string("second value");
  b = std::move(a);
  EXPECT_EQ(text(b), "first");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  // Self-move must not destroy the contents.
  auto& alias = b;
  b = std::move(alias);
  EXPECT_EQ(text(b), "first");
}

TEST(SecretBytes, CloneIsIndependent) {
  auto a = secret_bytes::from_string("abc");
  secret_bytes b = a.clone();
  EXPECT_EQ(text(b), "abc");
  EXPECT_NE(a.data(), b.data());
  b[0] = 'X';
  EXPECT_EQ(text(a), "abc");
  EXPECT_EQ(text(b), "Xbc");
  secret_bytes empty;
  EXPECT_TRUE(empty.clone().empty());
}

TEST(SecretBytes, PushBackAndAppendGrow) {
  secret_bytes s;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const auto c = static_cast<char>('a' + i % 26);
    s.push_back(static_cast<std::uint8_t>(c));
    expected.push_back(c);
  }
  EXPECT_EQ(text(s), expected);
  s.append("XYZ");
  s.append(nullptr, 0);
  EXPECT_EQ(text(s), expected + "XYZ");
}

TEST(SecretBytes, AppendFromItselfAcrossReallocation) {
  auto s = secret_bytes::from_string("abcd");  // capacity == size, so append reallocates
  s.append(s.view());
  EXPECT_EQ(text(s), "abcdabcd");
  s.append(s.view().substr(2, 3));
  EXPECT_EQ(text(s), "abcdabcdcda");
}

TEST(SecretBytes, ReserveKeepsContents) {
  auto s = secret_bytes::from_string("keep");
  s.reserve(4096);
  EXPECT_EQ(text(s), "keep");
  s.reserve(1);  // never shrinks
  EXPECT_EQ(text(s), "keep");
}

TEST(SecretBytes, ResizeZeroFillsAndShrinkWipesTail) {
  auto s = secret_bytes::from_string("abcdef");
  s.resize(3);
  EXPECT_EQ(text(s), "abc");
  // The storage is kept when shrinking, so the old tail is observable through data():
  // it must have been wiped.
  const std::uint8_t* storage = s.data();
  EXPECT_EQ(storage[3], 0);
  EXPECT_EQ(storage[4], 0);
  EXPECT_EQ(storage[5], 0);
  s.resize(5);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[3], 0);
  EXPECT_EQ(s[4], 0);
  s.resize(100);
  ASSERT_EQ(s.size(), 100u);
  EXPECT_EQ(std::string(s.view().substr(0, 3)), "abc");
  for (std::size_t i = 3; i < 100; ++i) {
    EXPECT_EQ(s[i], 0) << i;
  }
  s.resize(0);
  EXPECT_TRUE(s.empty());
}

TEST(SecretBytes, ReplaceSameLength) {
  auto s = secret_bytes::from_string("hello world");
  s.replace(6, 5, "there");
  EXPECT_EQ(text(s), "hello there");
}

TEST(SecretBytes, ReplaceShorterWipesFreedTail) {
  auto s = secret_bytes::from_string("\" WINDOW_SIZE 17\nrest");
  const std::size_t old_size = s.size();
  s.replace(2, 14, "X");  // "WINDOW_SIZE 17" -> "X"
  EXPECT_EQ(text(s), "\" X\nrest");
  const std::uint8_t* storage = s.data();
  for (std::size_t i = s.size(); i < old_size; ++i) {
    EXPECT_EQ(storage[i], 0) << i;
  }
}

TEST(SecretBytes, ReplaceLongerReallocates) {
  auto s = secret_bytes::from_string("a-b");
  s.replace(1, 1, " in the middle ");
  EXPECT_EQ(text(s), "a in the middle b");
}

TEST(SecretBytes, ReplaceInsertAtEdges) {
  auto s = secret_bytes::from_string("middle");
  s.replace(0, 0, "<");
  s.replace(s.size(), 0, ">");
  EXPECT_EQ(text(s), "<middle>");
}

TEST(SecretBytes, ReplaceWithViewOfItself) {
  auto s = secret_bytes::from_string("abcdef");
  s.replace(0, 2, s.view().substr(3));  // "def" replaces "ab"
  EXPECT_EQ(text(s), "defcdef");
  auto t = secret_bytes::from_string("abc");
  t.replace(3, 0, t.view());  // grows: the source must survive reallocation
  EXPECT_EQ(text(t), "abcabc");
}

TEST(SecretBytes, ReplaceClampsOutOfRange) {
  auto s = secret_bytes::from_string("abc");
  s.replace(1, 100, "Z");
  EXPECT_EQ(text(s), "aZ");
  s.replace(50, 3, "!");
  EXPECT_EQ(text(s), "aZ!");
}

TEST(SecretBytes, Erase) {
  auto s = secret_bytes::from_string("line1\nline2\nline3\n");
  s.erase(6, 6);
  EXPECT_EQ(text(s), "line1\nline3\n");
  s.erase(0, s.size());
  EXPECT_TRUE(s.empty());
}

TEST(SecretBytes, ClearReleasesEverything) {
  auto s = secret_bytes::from_string("gone");
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.data(), nullptr);
  s.append("back");  // usable after clear
  EXPECT_EQ(text(s), "back");
}

TEST(ConstantTimeEqual, Table) {
  auto a = secret_bytes::from_string("123456");
  auto b = secret_bytes::from_string("123456");
  auto c = secret_bytes::from_string("123457");
  auto d = secret_bytes::from_string("023456");
  auto shorter = secret_bytes::from_string("12345");
  secret_bytes empty1;
  secret_bytes empty2;
  EXPECT_TRUE(totp::constant_time_equal(a.span(), b.span()));
  EXPECT_FALSE(totp::constant_time_equal(a.span(), c.span()));  // last byte differs
  EXPECT_FALSE(totp::constant_time_equal(a.span(), d.span()));  // first byte differs
  EXPECT_FALSE(totp::constant_time_equal(a.span(), shorter.span()));
  EXPECT_FALSE(totp::constant_time_equal(shorter.span(), a.span()));
  EXPECT_TRUE(totp::constant_time_equal(empty1.span(), empty2.span()));
  EXPECT_FALSE(totp::constant_time_equal(empty1.span(), a.span()));
}

}  // namespace
