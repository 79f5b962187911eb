// hmac_internal.h: HMAC with the key schedule done once (internal to libtotp).
//
// HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)). The hash states after absorbing the
// two padded-key blocks depend only on the key, so they are computed once in create() and
// every MAC afterwards starts from copies of them: two compression-function calls per
// short message instead of four, and no rehashing of keys longer than a block.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "totp/otp.h"
#include "totp/result.h"

namespace totp::detail {

class hmac_precomputed {
 public:
  // invalid_argument for an empty key, crypto when OpenSSL fails.
  static result<hmac_precomputed> create(std::span<const std::uint8_t> key,
                                         hash_algorithm algorithm);

  hmac_precomputed(const hmac_precomputed&) = delete;
  hmac_precomputed& operator=(const hmac_precomputed&) = delete;
  hmac_precomputed(hmac_precomputed&& other) noexcept;
  hmac_precomputed& operator=(hmac_precomputed&& other) noexcept;
  ~hmac_precomputed();

  // Bytes of MAC output (20, 32 or 64).
  std::size_t size() const noexcept { return size_; }

  // Writes the MAC of `message` into out[0, size()). `out` must hold at least size() bytes.
  // Thread-safe: the precomputed states are only read.
  status compute(std::span<const std::uint8_t> message, std::span<std::uint8_t> out) const;

 private:
  hmac_precomputed(EVP_MD_CTX* inner, EVP_MD_CTX* outer, std::size_t size) noexcept
      : inner_(inner), outer_(outer), size_(size) {}
  void release() noexcept;

  EVP_MD_CTX* inner_ = nullptr;  // state after H absorbed K' ^ ipad
  EVP_MD_CTX* outer_ = nullptr;  // state after H absorbed K' ^ opad
  std::size_t size_ = 0;
};

}  // namespace totp::detail
