// hmac_internal.h: HMAC with the key schedule done once (internal to libtotp).
//
// HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)). The hash states after absorbing the
// two padded-key blocks depend only on the key, so they are computed once in create() and
// every MAC afterwards starts from copies of them: two compression-function calls per
// short message instead of four, and no rehashing of keys longer than a block.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "totp/otp.h"
#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp::detail {

struct hmac_scratch;  // a work digest context plus a MAC buffer, reused between calls
class hmac_precomputed;

// The MAC of one message. It lives in the owner's scratch buffer until the lease ends; the
// destructor wipes it and hands the scratch back for reuse. A lease must not outlive the
// hmac_precomputed that made it.
class mac_lease {
 public:
  mac_lease(const hmac_precomputed* owner, hmac_scratch* scratch, std::size_t size) noexcept
      : owner_(owner), scratch_(scratch), size_(size) {}
  mac_lease(mac_lease&& other) noexcept;
  mac_lease& operator=(mac_lease&&) = delete;
  mac_lease(const mac_lease&) = delete;
  mac_lease& operator=(const mac_lease&) = delete;
  ~mac_lease();

  std::span<const std::uint8_t> bytes() const noexcept;

 private:
  const hmac_precomputed* owner_;
  hmac_scratch* scratch_;
  std::size_t size_;
};

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

  // The MAC of `message`. Thread-safe: the precomputed states are only read, and the one
  // cached scratch is handed out with an atomic exchange (a concurrent caller that finds the
  // slot empty allocates its own).
  result<mac_lease> compute(std::span<const std::uint8_t> message) const;

 private:
  friend class mac_lease;
  void give_back(hmac_scratch* scratch) const noexcept;
  hmac_precomputed(EVP_MD_CTX* inner, EVP_MD_CTX* outer, std::size_t size) noexcept
      : inner_(inner), outer_(outer), size_(size) {}
  void release() noexcept;

  EVP_MD_CTX* inner_ = nullptr;  // state after H absorbed K' ^ ipad
  EVP_MD_CTX* outer_ = nullptr;  // state after H absorbed K' ^ opad
  std::size_t size_ = 0;
  // Allocating a digest context and a wiped buffer per code would cost about as much as the
  // hashing itself; one spare is kept so the 3000-code skew search allocates once.
  mutable std::atomic<hmac_scratch*> spare_{nullptr};
};

}  // namespace totp::detail
