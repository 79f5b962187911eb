// secret_bytes.cc: a byte buffer that never leaves secret material behind in freed memory.
//
// Every path that gives storage back (destruction, clear, reallocation) and every path that
// shortens the live range (resize, replace, erase) wipes the bytes first with
// OPENSSL_cleanse, which the compiler cannot optimise away. The whole capacity is wiped
// on release, not just size(), because bytes beyond size() may once have been live.
#include "totp/secret_bytes.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace totp {
namespace {

void wipe_and_free(std::uint8_t* data, std::size_t capacity) noexcept {
  if (data != nullptr) {
    OPENSSL_cleanse(data, capacity);
    delete[] data;
  }
}

// Growth policy for appends: geometric, so a parser appending byte by byte is linear.
std::size_t grown_capacity(std::size_t current, std::size_t needed) {
  std::size_t doubled = current > (SIZE_MAX / 2) ? SIZE_MAX : current * 2;
  return std::max({needed, doubled, std::size_t{16}});
}

// True when [p, p+n) lies inside [base, base+size). std::less gives a total order on
// pointers, so this is well defined even for unrelated objects.
bool overlaps(const void* p, std::size_t n, const std::uint8_t* base, std::size_t size) {
  if (n == 0 || base == nullptr || size == 0) {
    return false;
  }
  auto* b = static_cast<const std::uint8_t*>(p);
  std::less<const std::uint8_t*> lt;
  return !lt(b + n - 1, base) && lt(b, base + size);
}

}  // namespace

secret_bytes::secret_bytes(std::size_t size) {
  if (size != 0) {
    data_ = new std::uint8_t[size]();
    size_ = size;
    capacity_ = size;
  }
}

secret_bytes::secret_bytes(const void* data, std::size_t size) {
  if (size != 0) {
    data_ = new std::uint8_t[size];
    std::memcpy(data_, data, size);
    size_ = size;
    capacity_ = size;
  }
}

secret_bytes::secret_bytes(secret_bytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

secret_bytes& secret_bytes::operator=(secret_bytes&& other) noexcept {
  if (this != &other) {
    wipe_and_free(data_, capacity_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

secret_bytes::~secret_bytes() {
  wipe_and_free(data_, capacity_);
}

void secret_bytes::grow_to(std::size_t capacity) {
  if (capacity <= capacity_) {
    return;
  }
  // Allocate first: if this throws, *this is unchanged. Zero-initialised so no stale heap
  // bytes ever sit between size() and capacity().
  auto* fresh = new std::uint8_t[capacity]();
  if (size_ != 0) {
    std::memcpy(fresh, data_, size_);
  }
  wipe_and_free(data_, capacity_);
  data_ = fresh;
  capacity_ = capacity;
}

void secret_bytes::reserve(std::size_t capacity) {
  grow_to(capacity);
}

void secret_bytes::resize(std::size_t size) {
  if (size > size_) {
    grow_to(size);
    std::memset(data_ + size_, 0, size - size_);
  } else if (size < size_) {
    OPENSSL_cleanse(data_ + size, size_ - size);
  }
  size_ = size;
}

void secret_bytes::push_back(std::uint8_t byte) {
  if (size_ == capacity_) {
    grow_to(grown_capacity(capacity_, size_ + 1));
  }
  data_[size_++] = byte;
}

void secret_bytes::append(const void* data, std::size_t size) {
  if (size == 0) {
    return;
  }
  if (size > SIZE_MAX - size_) {
    throw std::bad_alloc();
  }
  if (size_ + size > capacity_) {
    // The source may be a view of this very buffer, which grow_to would free: copy it
    // into a temporary secret_bytes first in that case.
    if (overlaps(data, size, data_, capacity_)) {
      secret_bytes copy(data, size);
      append(copy.data(), copy.size());
      return;
    }
    grow_to(grown_capacity(capacity_, size_ + size));
  }
  std::memmove(data_ + size_, data, size);
  size_ += size;
}

void secret_bytes::replace(std::size_t pos, std::size_t count, std::string_view replacement) {
  // Out-of-range arguments are clamped rather than reported: nothing here may throw for a
  // caller's arithmetic slip, and clamping never touches bytes outside the buffer.
  pos = std::min(pos, size_);
  count = std::min(count, size_ - pos);
  if (overlaps(replacement.data(), replacement.size(), data_, capacity_)) {
    secret_bytes copy = secret_bytes::from_string(replacement);
    replace(pos, count, copy.view());
    return;
  }
  const std::size_t tail = size_ - pos - count;
  const std::size_t new_size = size_ - count + replacement.size();
  if (new_size > capacity_) {
    auto* fresh = new std::uint8_t[new_size]();
    if (pos != 0) {
      std::memcpy(fresh, data_, pos);
    }
    if (!replacement.empty()) {
      std::memcpy(fresh + pos, replacement.data(), replacement.size());
    }
    if (tail != 0) {
      std::memcpy(fresh + pos + replacement.size(), data_ + pos + count, tail);
    }
    wipe_and_free(data_, capacity_);
    data_ = fresh;
    capacity_ = new_size;
    size_ = new_size;
    return;
  }
  if (tail != 0) {
    std::memmove(data_ + pos + replacement.size(), data_ + pos + count, tail);
  }
  if (!replacement.empty()) {
    std::memcpy(data_ + pos, replacement.data(), replacement.size());
  }
  if (new_size < size_) {
    OPENSSL_cleanse(data_ + new_size, size_ - new_size);
  }
  size_ = new_size;
}

void secret_bytes::clear() noexcept {
  wipe_and_free(data_, capacity_);
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

bool constant_time_equal(std::span<const std::uint8_t> a,
                         std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) {
    return false;  // lengths are public (a code has 6..8 digits, a key its size)
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace totp
