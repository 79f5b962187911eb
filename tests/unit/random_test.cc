// Tests for totp::random_bytes and totp::random_scratch_code.
#include "totp/random.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

namespace {

TEST(RandomBytes, SizesAreExact) {
  for (std::size_t n : {0u, 1u, 4u, 20u, 64u, 1000u, 300000u}) {
    auto r = totp::random_bytes(n);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->size(), n);
  }
}

TEST(RandomBytes, NotConstantAndNotRepeating) {
  // 32 random bytes colliding, or a 1 MiB buffer missing a byte value, has probability far
  // below 2^-200; either means the buffer was not filled.
  auto a = totp::random_bytes(32);
  auto b = totp::random_bytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(std::string(a->view()), std::string(b->view()));

  auto big = totp::random_bytes(1 << 20);
  ASSERT_TRUE(big.ok());
  std::array<int, 256> seen{};
  for (auto byte : big->span()) {
    ++seen[byte];
  }
  for (int v = 0; v < 256; ++v) {
    EXPECT_GT(seen[v], 0) << "byte value " << v << " never drawn";
  }
  // The last bytes must be random too (a short read left unfilled would be zeros).
  int zero_tail = 0;
  for (std::size_t i = big->size() - 64; i < big->size(); ++i) {
    zero_tail += (*big)[i] == 0;
  }
  EXPECT_LT(zero_tail, 16);
}

TEST(RandomScratchCode, AlwaysEightDigitsAndVaried) {
  std::set<std::uint32_t> codes;
  std::array<int, 10> first_digit{};
  for (int i = 0; i < 2000; ++i) {
    auto c = totp::random_scratch_code();
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_GE(*c, 10000000u);
    EXPECT_LE(*c, 99999999u);
    codes.insert(*c);
    ++first_digit[*c / 10000000];
  }
  EXPECT_GT(codes.size(), 1990u);  // 2000 draws from 9e7 values: collisions are rare
  EXPECT_EQ(first_digit[0], 0);
  for (int d = 1; d <= 9; ++d) {
    EXPECT_GT(first_digit[d], 100) << "leading digit " << d;  // expected ~222 each
  }
}

}  // namespace
