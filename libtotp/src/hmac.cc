// hmac.cc: the only place in libtotp that talks to OpenSSL's digests. See hmac_internal.h for
// why the deprecated fixed-size SHA*_CTX interface is used.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <utility>

#include "hmac_internal.h"
#include "totp/secret_bytes.h"

namespace totp::detail {
namespace {

union hash_state {
  SHA_CTX sha1;
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

struct geometry {
  std::size_t block;
  std::size_t digest;
};

geometry geometry_of(hash_algorithm algorithm) noexcept {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return {SHA_CBLOCK, SHA_DIGEST_LENGTH};
    case hash_algorithm::sha256:
      return {SHA256_CBLOCK, SHA256_DIGEST_LENGTH};
    case hash_algorithm::sha512:
      return {SHA512_CBLOCK, SHA512_DIGEST_LENGTH};
  }
  return {0, 0};
}

bool hash_init(hash_algorithm a, hash_state& s) noexcept {
  switch (a) {
    case hash_algorithm::sha1:
      return SHA1_Init(&s.sha1) == 1;
    case hash_algorithm::sha256:
      return SHA256_Init(&s.sha256) == 1;
    case hash_algorithm::sha512:
      return SHA512_Init(&s.sha512) == 1;
  }
  return false;
}

bool hash_update(hash_algorithm a, hash_state& s, const void* data, std::size_t size) noexcept {
  switch (a) {
    case hash_algorithm::sha1:
      return SHA1_Update(&s.sha1, data, size) == 1;
    case hash_algorithm::sha256:
      return SHA256_Update(&s.sha256, data, size) == 1;
    case hash_algorithm::sha512:
      return SHA512_Update(&s.sha512, data, size) == 1;
  }
  return false;
}

bool hash_final(hash_algorithm a, hash_state& s, std::uint8_t* out) noexcept {
  switch (a) {
    case hash_algorithm::sha1:
      return SHA1_Final(out, &s.sha1) == 1;
    case hash_algorithm::sha256:
      return SHA256_Final(out, &s.sha256) == 1;
    case hash_algorithm::sha512:
      return SHA512_Final(out, &s.sha512) == 1;
  }
  return false;
}

// Wipes a hash state copy on every exit path: it holds key-derived chaining values.
struct wiped_state {
  hash_state state;
  ~wiped_state() { OPENSSL_cleanse(&state, sizeof(state)); }
};

}  // namespace

struct hmac_precomputed::states {
  hash_state inner;  // after absorbing K' ^ ipad
  hash_state outer;  // after absorbing K' ^ opad
  ~states() { OPENSSL_cleanse(this, sizeof(*this)); }
};

result<hmac_precomputed> hmac_precomputed::create(std::span<const std::uint8_t> key,
                                                  hash_algorithm algorithm) {
  if (key.empty()) {
    return make_error(error_code::invalid_argument, "HMAC key is empty");
  }
  const geometry g = geometry_of(algorithm);
  if (g.block == 0) {
    return make_error(error_code::invalid_argument, "unknown hash algorithm");
  }
  try {
    // K' = K padded with zeros to the block size, or H(K) padded if K is longer (RFC 2104).
    secret_bytes block_key(g.block);
    if (key.size() > g.block) {
      wiped_state h;
      if (!hash_init(algorithm, h.state) ||
          !hash_update(algorithm, h.state, key.data(), key.size()) ||
          !hash_final(algorithm, h.state, block_key.data())) {
        return make_error(error_code::crypto, "hashing a long HMAC key failed in OpenSSL");
      }
    } else {
      std::copy(key.begin(), key.end(), block_key.data());
    }
    secret_bytes pad(g.block);
    auto made = std::make_unique<states>();
    for (auto [target, pad_byte] : {std::pair{&made->inner, std::uint8_t{0x36}},
                                    std::pair{&made->outer, std::uint8_t{0x5c}}}) {
      for (std::size_t i = 0; i < g.block; ++i) {
        pad[i] = static_cast<std::uint8_t>(block_key[i] ^ pad_byte);
      }
      if (!hash_init(algorithm, *target) || !hash_update(algorithm, *target, pad.data(), g.block)) {
        return make_error(error_code::crypto, "HMAC key setup failed in OpenSSL");
      }
    }
    return hmac_precomputed(made.release(), algorithm, g.digest);
  } catch (const std::bad_alloc&) {
    return make_error(error_code::crypto, "out of memory while keying HMAC", ENOMEM);
  }
}

hmac_precomputed::hmac_precomputed(hmac_precomputed&& other) noexcept
    : states_(std::exchange(other.states_, nullptr)),
      algorithm_(other.algorithm_),
      size_(std::exchange(other.size_, 0)) {}

hmac_precomputed& hmac_precomputed::operator=(hmac_precomputed&& other) noexcept {
  if (this != &other) {
    delete states_;
    states_ = std::exchange(other.states_, nullptr);
    algorithm_ = other.algorithm_;
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

hmac_precomputed::~hmac_precomputed() {
  delete states_;
}

status hmac_precomputed::compute(std::span<const std::uint8_t> message,
                                 std::uint8_t* out) const noexcept {
  if (states_ == nullptr) {
    return make_error(error_code::invalid_argument, "HMAC used after being moved from");
  }
  // The inner digest is parked in `out` and absorbed by the outer hash before the outer
  // final overwrites it, so no other buffer ever holds it.
  wiped_state work;
  work.state = states_->inner;
  if (!hash_update(algorithm_, work.state, message.data(), message.size()) ||
      !hash_final(algorithm_, work.state, out)) {
    return make_error(error_code::crypto, "HMAC computation failed in OpenSSL");
  }
  work.state = states_->outer;
  if (!hash_update(algorithm_, work.state, out, size_) ||
      !hash_final(algorithm_, work.state, out)) {
    return make_error(error_code::crypto, "HMAC computation failed in OpenSSL");
  }
  return {};
}

}  // namespace totp::detail
