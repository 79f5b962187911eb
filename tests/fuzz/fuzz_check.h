// fuzz_check.h: property checks for the fuzz targets.
//
// assert() disappears in release builds and a fuzz target that only "does not crash" proves
// little, so every property goes through FUZZ_CHECK: it prints the failed condition (never the
// input: inputs may look like secrets, and libFuzzer saves the crashing input to a file anyway)
// and aborts, which both libFuzzer and the gcc replay runner report as a failure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace fuzz {

// A tiny cursor over the fuzzer's bytes, for targets that derive several parameters from one
// input. Reading past the end yields zeros, so every input is usable.
class byte_reader {
 public:
  byte_reader(const unsigned char* data, std::size_t size) : data_(data), size_(size) {}
  unsigned char byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string_view rest() const {
    return {reinterpret_cast<const char*>(data_) + pos_, size_ - pos_};
  }

 private:
  const unsigned char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace fuzz
