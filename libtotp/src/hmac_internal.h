// hmac_internal.h: HMAC with the key schedule done once (internal to libtotp).
//
// HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)). The hash states after absorbing the
// two padded-key blocks depend only on the key, so they are computed once in create() and
// every MAC afterwards starts from copies of them: two compression-function calls per short
// message instead of four, and no rehashing of keys longer than a block.
//
// The states are OpenSSL's fixed-size SHA*_CTX structs, copied by value. The EVP interface
// would allocate and free a provider context on every EVP_MD_CTX_copy_ex, which costs about
// as much as the hashing itself: a skew search computes 3000 codes per failed login, and an
// attacker can make us do that at will. These low-level functions are deprecated in OpenSSL
// 3 but present in every 3.x release (Debian 12: 3.0, Debian 13: 3.5); the RFC vector tests
// and the oathtool cross-check catch any difference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "totp/otp.h"
#include "totp/result.h"

namespace totp::detail {

inline constexpr std::size_t kMaxMacSize = 64;  // SHA-512

class hmac_precomputed {
 public:
  // invalid_argument for an empty key, crypto when OpenSSL fails.
  static result<hmac_precomputed> create(std::span<const std::uint8_t> key,
                                         hash_algorithm algorithm);

  hmac_precomputed(const hmac_precomputed&) = delete;
  hmac_precomputed& operator=(const hmac_precomputed&) = delete;
  hmac_precomputed(hmac_precomputed&& other) noexcept;
  hmac_precomputed& operator=(hmac_precomputed&& other) noexcept;
  ~hmac_precomputed();  // wipes the key-derived states

  // Bytes of MAC output (20, 32 or 64).
  std::size_t size() const noexcept { return size_; }

  // Writes the MAC of `message` to out[0..size()). Const and allocation-free, so one
  // generator may be used from several threads. `out` must hold kMaxMacSize bytes.
  status compute(std::span<const std::uint8_t> message, std::uint8_t* out) const noexcept;

 private:
  struct states;  // the inner and outer hash states, defined in hmac.cc
  hmac_precomputed(states* s, hash_algorithm algorithm, std::size_t size) noexcept
      : states_(s), algorithm_(algorithm), size_(size) {}
  states* states_ = nullptr;
  hash_algorithm algorithm_ = hash_algorithm::sha1;
  std::size_t size_ = 0;
};

}  // namespace totp::detail
