// hmac.cc: the only place in libtotp that talks to OpenSSL's digests.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <new>
#include <utility>

#include "hmac_internal.h"
#include "totp/secret_bytes.h"

namespace totp::detail {
namespace {

const char* digest_name(hash_algorithm algorithm) noexcept {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return "SHA1";
    case hash_algorithm::sha256:
      return "SHA256";
    case hash_algorithm::sha512:
      return "SHA512";
  }
  return nullptr;
}

struct md_deleter {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using md_ptr = std::unique_ptr<EVP_MD, md_deleter>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

error crypto_error(const char* what) {
  return make_error(error_code::crypto, what);
}

// A digest context that has absorbed one block: the key XOR `pad_byte`.
result<md_ctx_ptr> keyed_state(const EVP_MD* md, const secret_bytes& block_key,
                               std::uint8_t pad_byte) {
  secret_bytes pad(block_key.size());  // wiped when it goes out of scope
  for (std::size_t i = 0; i < block_key.size(); ++i) {
    pad[i] = static_cast<std::uint8_t>(block_key[i] ^ pad_byte);
  }
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), pad.data(), pad.size()) != 1) {
    return crypto_error("HMAC key setup failed in OpenSSL");
  }
  return ctx;
}

}  // namespace

struct hmac_scratch {
  explicit hmac_scratch(std::size_t mac_size) : mac(mac_size) {}
  hmac_scratch(const hmac_scratch&) = delete;
  hmac_scratch& operator=(const hmac_scratch&) = delete;
  ~hmac_scratch() { EVP_MD_CTX_free(work); }
  EVP_MD_CTX* work = nullptr;
  secret_bytes mac;
};

mac_lease::mac_lease(mac_lease&& other) noexcept
    : owner_(other.owner_), scratch_(std::exchange(other.scratch_, nullptr)), size_(other.size_) {}

mac_lease::~mac_lease() {
  if (scratch_ != nullptr) {
    owner_->give_back(scratch_);
  }
}

std::span<const std::uint8_t> mac_lease::bytes() const noexcept {
  return {scratch_->mac.data(), size_};
}

result<hmac_precomputed> hmac_precomputed::create(std::span<const std::uint8_t> key,
                                                  hash_algorithm algorithm) {
  if (key.empty()) {
    return make_error(error_code::invalid_argument, "HMAC key is empty");
  }
  const char* name = digest_name(algorithm);
  if (name == nullptr) {
    return make_error(error_code::invalid_argument, "unknown hash algorithm");
  }
  try {
    // An explicit fetch (rather than EVP_sha1()) resolves the provider once, here.
    md_ptr md(EVP_MD_fetch(nullptr, name, nullptr));
    if (!md) {
      return crypto_error("OpenSSL has no digest for the hash algorithm");
    }
    const int block_size = EVP_MD_get_block_size(md.get());
    const int digest_size = EVP_MD_get_size(md.get());
    if (block_size <= 0 || digest_size <= 0 || digest_size > block_size) {
      return crypto_error("OpenSSL reported an unexpected digest geometry");
    }

    // K' = K padded with zeros to the block size, or H(K) padded if K is longer (RFC 2104).
    secret_bytes block_key(static_cast<std::size_t>(block_size));
    if (key.size() > block_key.size()) {
      unsigned int written = 0;
      if (EVP_Digest(key.data(), key.size(), block_key.data(), &written, md.get(), nullptr) != 1 ||
          written != static_cast<unsigned int>(digest_size)) {
        return crypto_error("hashing a long HMAC key failed in OpenSSL");
      }
    } else {
      std::copy(key.begin(), key.end(), block_key.data());
    }

    auto inner = keyed_state(md.get(), block_key, 0x36);
    if (!inner) {
      return std::move(inner).error();
    }
    auto outer = keyed_state(md.get(), block_key, 0x5c);
    if (!outer) {
      return std::move(outer).error();
    }
    return hmac_precomputed(inner->release(), outer->release(),
                            static_cast<std::size_t>(digest_size));
  } catch (const std::bad_alloc&) {
    return make_error(error_code::crypto, "out of memory while keying HMAC", ENOMEM);
  }
}

hmac_precomputed::hmac_precomputed(hmac_precomputed&& other) noexcept
    : inner_(std::exchange(other.inner_, nullptr)),
      outer_(std::exchange(other.outer_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      spare_(other.spare_.exchange(nullptr)) {}

hmac_precomputed& hmac_precomputed::operator=(hmac_precomputed&& other) noexcept {
  if (this != &other) {
    release();
    inner_ = std::exchange(other.inner_, nullptr);
    outer_ = std::exchange(other.outer_, nullptr);
    size_ = std::exchange(other.size_, 0);
    spare_.store(other.spare_.exchange(nullptr));
  }
  return *this;
}

hmac_precomputed::~hmac_precomputed() {
  release();
}

// OpenSSL's digest providers free their state with OPENSSL_clear_free, so the key-derived
// chaining values do not survive in freed memory.
void hmac_precomputed::release() noexcept {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
  inner_ = nullptr;
  outer_ = nullptr;
  delete spare_.exchange(nullptr);  // its MAC buffer was wiped when it was given back
}

void hmac_precomputed::give_back(hmac_scratch* scratch) const noexcept {
  OPENSSL_cleanse(scratch->mac.data(), scratch->mac.size());
  hmac_scratch* empty = nullptr;
  if (!spare_.compare_exchange_strong(empty, scratch)) {
    delete scratch;  // another call already returned one; keep at most one spare
  }
}

result<mac_lease> hmac_precomputed::compute(std::span<const std::uint8_t> message) const {
  if (inner_ == nullptr || outer_ == nullptr) {
    return make_error(error_code::invalid_argument, "HMAC used after being moved from");
  }
  hmac_scratch* scratch = spare_.exchange(nullptr);
  if (scratch == nullptr) {
    try {
      scratch = new hmac_scratch(size_);
    } catch (const std::bad_alloc&) {
      return make_error(error_code::crypto, "out of memory while computing HMAC", ENOMEM);
    }
    scratch->work = EVP_MD_CTX_new();
    if (scratch->work == nullptr) {
      delete scratch;
      return crypto_error("EVP_MD_CTX_new failed");
    }
  }
  // From here on the lease owns the scratch and returns it (wiped) on every path.
  mac_lease lease(this, scratch, size_);
  EVP_MD_CTX* work = scratch->work;
  std::uint8_t* out = scratch->mac.data();
  unsigned int written = 0;
  // The inner digest is parked in the MAC buffer and consumed by the outer update before
  // the outer final overwrites it, so no other buffer ever holds it.
  if (EVP_MD_CTX_copy_ex(work, inner_) != 1 ||
      EVP_DigestUpdate(work, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(work, out, &written) != 1 || written != size_ ||
      EVP_MD_CTX_copy_ex(work, outer_) != 1 || EVP_DigestUpdate(work, out, size_) != 1 ||
      EVP_DigestFinal_ex(work, out, &written) != 1 || written != size_) {
    return crypto_error("HMAC computation failed in OpenSSL");
  }
  return lease;
}

}  // namespace totp::detail
