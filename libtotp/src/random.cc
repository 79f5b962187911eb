// random.cc: the only reader of the kernel CSPRNG.
//
// getrandom(2) rather than /dev/urandom: no file descriptor (a PAM module may run in a
// process that has exhausted or closed them, or inside a chroot without /dev), and it
// blocks until the pool is seeded instead of silently returning weak bytes at early boot.
#include "totp/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <string>

namespace totp {
namespace {

status fill_random(std::uint8_t* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    // Requests above 32 MiB - 1 return short reads; signals may interrupt large requests.
    const ssize_t got = getrandom(data + done, size - done, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      return make_error(error_code::random,
                        std::string("getrandom failed: ") + std::strerror(saved), saved);
    }
    done += static_cast<std::size_t>(got);
  }
  return {};
}

}  // namespace

result<secret_bytes> random_bytes(std::size_t size) {
  try {
    secret_bytes out(size);
    if (auto ok = fill_random(out.data(), out.size()); !ok) {
      return std::move(ok).error();
    }
    return out;
  } catch (const std::bad_alloc&) {
    return make_error(error_code::random, "out of memory while reading random bytes", ENOMEM);
  }
}

result<std::uint32_t> random_scratch_code() {
  // Rejection sampling as google-authenticator does it: a code below 10^7 would print with
  // fewer than 8 digits, so it is drawn again. Loops about 1.1 times on average.
  for (;;) {
    auto bytes = random_bytes(4);
    if (!bytes) {
      return std::move(bytes).error();
    }
    std::uint32_t value = 0;
    for (std::uint8_t b : bytes->span()) {
      value = (value << 8) | b;
    }
    value = (value & 0x7fffffffu) % 100000000u;
    if (value >= 10000000u) {
      return value;
    }
  }
}

}  // namespace totp
