// random.h: the only place that reads the kernel CSPRNG (getrandom(2)).
#pragma once

#include <cstddef>
#include <cstdint>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

// `size` bytes from getrandom(2) (blocking until the pool is initialised, EINTR retried).
result<secret_bytes> random_bytes(std::size_t size);

// A scratch code as google-authenticator makes them: 4 random bytes, big-endian, masked to
// 31 bits, mod 10^8, redrawn until >= 10^7, so every code has exactly 8 digits.
result<std::uint32_t> random_scratch_code();

}  // namespace totp
