// verifier.h: google-authenticator's verification policy, as pure functions over a
// secret_file (spec ga-compat 3.4-3.10). The caller supplies `now`, the candidate codes and
// the remote host; everything the policy changes is written into the secret_file with its
// byte-exact edit rules, and the caller persists secret_file::bytes() if modified().
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "totp/otp.h"
#include "totp/result.h"
#include "totp/secret_file.h"

namespace totp {

// --- rate limiting (3.4): runs before the prompt, on every call that read the file ---
enum class rate_limit_decision { not_configured, allowed, exceeded };
// Adds `now`, drops entries older than now - m and newer than now, keeps the n newest when
// exceeded, rewrites the RATE_LIMIT line (marks the file modified when configured). Errors:
// bad_rate_limit / bad_rate_list with the spec's messages.
result<rate_limit_decision> apply_rate_limit(secret_file& file, std::uint64_t now);

// --- grace period (3.10, HEAD semantics: exact host comparison, '%' allowed) ---
bool within_grace_period(const secret_file& file, std::string_view rhost, std::uint64_t now,
                         std::uint64_t grace_seconds);
// Records `" LASTn <rhost> <now>` (update the host's entry, else the first free index, else the
// oldest). Hosts outside [0-9a-zA-Z:%.-] or over 255 characters are refused with
// invalid_argument. Never writes index -1 ("LAST/").
status record_grace_login(secret_file& file, std::string_view rhost, std::uint64_t now);

// --- code checks (3.5-3.9) ---
struct verify_options {
  bool skew_adjust = true;                // false with `noskewadj`
  bool increment_hotp_on_failure = true;  // false with `no_increment_hotp`
};

enum class check_outcome {
  accepted,      // the code matched; `method` says how
  rejected,      // no match (try the next candidate)
  reused,        // TOTP step already used under DISALLOW_REUSE (stop)
  config_error,  // STEP_SIZE/WINDOW_SIZE/DISALLOW_REUSE/ALGORITHM/DIGITS invalid (stop)
};
enum class accept_method { none, scratch, hotp, totp, totp_resync };

struct check_result {
  check_outcome outcome = check_outcome::rejected;
  accept_method method = accept_method::none;
  std::optional<error> problem;       // set for config_error
  bool skew_candidate_found = false;  // for the `debug: time skew adjusted` line
};

// One authentication attempt: keys HMAC once, then checks up to four candidates (the modes of
// spec 3.2) in order. The first result that is not `rejected` ends the loop; then call
// finish() exactly once.
class verification_session {
 public:
  // Fails with no_secret when line 1 is not a usable key, bad_option for a bad
  // ALGORITHM/DIGITS line.
  static result<verification_session> begin(const secret_file& file, std::uint64_t now,
                                            const verify_options& options);

  // `code` typed with `code_length` digits (6..8). Order: scratch codes (only 8-digit
  // candidates in [10^7, 10^8)) -> HOTP when HOTP_COUNTER >= 1 -> TOTP when `" TOTP_AUTH`;
  // candidates >= 10^digits skip HOTP/TOTP. TOTP: window around step+TIME_SKEW, in increasing
  // order up to the first match; DISALLOW_REUSE checked and updated (resync codes recorded too);
  // skew search over +-1499 steps (always 3000 codes) unless disabled. HOTP: counters c..c+w-1.
  check_result try_code(secret_file& file, std::uint32_t code, int code_length);

  // HOTP only: after a session in which a well-formed candidate failed, advance the counter
  // by one from its starting value (unless disabled). No-op otherwise.
  void finish(secret_file& file);

  int digits() const noexcept;  // code length for TOTP/HOTP candidates (DIGITS, default 6)
  // The time TOTP codes are checked against. A session may be begun (keyed, validated)
  // before the user is prompted and given the time once the answer is there.
  void set_now(std::uint64_t now) noexcept;

  verification_session(verification_session&&) noexcept;
  verification_session& operator=(verification_session&&) noexcept;
  ~verification_session();

 private:
  verification_session() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace totp
