// secret_bytes.h: the one type that holds secret material.
//
// Decoded keys, the base32 text of a key, the bytes of a secret file, a code typed by the
// user and HMAC outputs all live in secret_bytes. It is move-only (no accidental copies),
// wipes its storage with OPENSSL_cleanse on destruction, on clear() and whenever it
// reallocates, and has no stream operator, so it cannot end up in a log line by accident.
// Use clone() when a copy is really wanted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace totp {

class secret_bytes {
 public:
  secret_bytes() noexcept = default;
  explicit secret_bytes(std::size_t size);  // `size` zero bytes
  secret_bytes(const void* data, std::size_t size);
  static secret_bytes from_string(std::string_view text) {
    return secret_bytes(text.data(), text.size());
  }

  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  secret_bytes(secret_bytes&& other) noexcept;
  secret_bytes& operator=(secret_bytes&& other) noexcept;
  ~secret_bytes();

  secret_bytes clone() const { return secret_bytes(data_, size_); }

  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::uint8_t& operator[](std::size_t i) noexcept { return data_[i]; }
  const std::uint8_t& operator[](std::size_t i) const noexcept { return data_[i]; }

  std::span<const std::uint8_t> span() const noexcept { return {data_, size_}; }
  std::span<std::uint8_t> span() noexcept { return {data_, size_}; }
  // A view of the bytes as text (for parsers). The view dies with this object.
  std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }

  void reserve(std::size_t capacity);
  void resize(std::size_t size);  // new bytes are zero; shrinking wipes the tail
  void push_back(std::uint8_t byte);
  void append(const void* data, std::size_t size);
  void append(std::string_view text) { append(text.data(), text.size()); }
  // Replace bytes [pos, pos+count) with `replacement` (used by the secret-file editor).
  void replace(std::size_t pos, std::size_t count, std::string_view replacement);
  void erase(std::size_t pos, std::size_t count) { replace(pos, count, {}); }
  void clear() noexcept;  // wipes, keeps nothing

 private:
  void grow_to(std::size_t capacity);
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Constant-time equality of two byte ranges (the lengths themselves are not secret).
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

}  // namespace totp
