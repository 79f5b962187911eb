// verifier.cc: google-authenticator's verification policy (spec ga-compat 3.4-3.10) over a
// secret_file. Pure: `now` comes from the caller, every state change goes through the
// secret_file edit operations so the rewritten file stays byte-compatible with the reference.
//
// Deliberate differences from the reference module (spec 9.5), all on the safe side:
//  * a malformed DISALLOW_REUSE list is reported (config_error with a message) instead of
//    failing silently;
//  * a code accepted through a skew resync is recorded in DISALLOW_REUSE (P2);
//  * grace-period hosts are compared exactly (HEAD), '%' is allowed, and an update never
//    writes the index -1 key `LAST/`;
//  * codes are compared in constant time and the whole window is always computed.
#include "totp/verifier.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace totp {
namespace {

// The skew search looks this many steps either side of the current step (spec 3.8: +-1499
// steps, about +-12.5 h at 30 s), always computing every code so its duration does not
// depend on where (or whether) the code matched.
constexpr std::int64_t kSkewSearchSteps = 1500;
constexpr std::uint32_t kScratchMin = 10'000'000;
constexpr std::uint32_t kScratchMax = 99'999'999;
constexpr std::size_t kMaxHostLength = 255;
constexpr int kGraceSlots = 10;

// All-ones when a == b, zero otherwise, without a data-dependent branch: the caller scans
// whole windows and must not reveal through timing which offset (if any) matched.
std::uint32_t equal_mask(std::uint32_t a, std::uint32_t b) noexcept {
  const std::uint32_t x = a ^ b;
  return ((x | (0u - x)) >> 31) - 1u;
}

std::uint64_t widen_mask(std::uint32_t mask) noexcept {
  return 0ull - (mask & 1u);
}

std::uint64_t select(std::uint64_t mask, std::uint64_t if_set, std::uint64_t if_clear) noexcept {
  return (if_set & mask) | (if_clear & ~mask);
}

std::uint32_t pow10(int digits) noexcept {
  std::uint32_t v = 1;
  for (int i = 0; i < digits; ++i)
    v *= 10;
  return v;
}

std::string unsigned_text(std::uint64_t v) {
  return std::to_string(v);
}

// `%d%+d`, the RESETTING_TIME_SKEW token format (`56666666-5`, `59848142+2`).
std::string skew_token(const skew_observation& o) {
  std::string out = std::to_string(static_cast<std::int64_t>(o.step));
  out += o.skew < 0 ? '-' : '+';
  // Magnitude via unsigned arithmetic so INT64_MIN cannot overflow.
  const std::uint64_t magnitude =
      o.skew < 0 ? 0ull - static_cast<std::uint64_t>(o.skew) : static_cast<std::uint64_t>(o.skew);
  out += std::to_string(magnitude);
  return out;
}

template <class Range, class Format>
std::string join(const Range& items, Format format) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty())
      out += ' ';
    out += format(item);
  }
  return out;
}

bool valid_host(std::string_view host) noexcept {
  if (host.empty() || host.size() > kMaxHostLength)
    return false;
  return std::all_of(host.begin(), host.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == ':' || ch == '%' || ch == '.' || ch == '-';
  });
}

std::string grace_key(int index) {
  return "LAST" + std::to_string(index);
}

check_result make_config_error(error problem) {
  check_result r;
  r.outcome = check_outcome::config_error;
  r.problem = std::move(problem);
  return r;
}

check_result make_accepted(accept_method method) {
  check_result r;
  r.outcome = check_outcome::accepted;
  r.method = method;
  return r;
}

}  // namespace

// --- rate limiting (3.4) ---

result<rate_limit_decision> apply_rate_limit(secret_file& file, std::uint64_t now) {
  auto parsed = file.rate_limit();
  if (!parsed)
    return std::move(parsed).error();
  if (!parsed->has_value())
    return rate_limit_decision::not_configured;
  const rate_limit_state& state = **parsed;

  std::vector<std::uint64_t> stamps = state.timestamps;
  stamps.push_back(now);
  std::sort(stamps.begin(), stamps.end());
  // Entries exactly `now - m` old still count (verified boundary: with `1 30 T`, T+30 is
  // refused). Future-dated entries are dropped: a clock that went backwards, or a forged
  // entry, must not lock the account.
  const std::uint64_t oldest_kept = now >= state.interval ? now - state.interval : 0;
  std::erase_if(stamps, [&](std::uint64_t t) { return t < oldest_kept || t > now; });

  rate_limit_decision decision = rate_limit_decision::allowed;
  if (stamps.size() > state.attempts) {
    decision = rate_limit_decision::exceeded;
    stamps.erase(stamps.begin(), stamps.end() - state.attempts);  // keep the n newest
  }
  std::string value = std::to_string(state.attempts) + ' ' + std::to_string(state.interval);
  for (std::uint64_t t : stamps)
    value += ' ' + unsigned_text(t);
  file.set_option("RATE_LIMIT", value);
  return decision;
}

// --- grace period (3.10) ---

bool within_grace_period(const secret_file& file, std::string_view rhost, std::uint64_t now,
                         std::uint64_t grace_seconds) {
  if (rhost.empty() || grace_seconds == 0)
    return false;
  for (const auto& entry : file.grace_entries()) {
    if (!entry || entry->host != rhost)
      continue;
    // Only the first entry for the host counts, as in the reference. `epoch + N > now`,
    // saturating so a huge stored epoch cannot wrap around into "expired".
    const std::uint64_t limit =
        entry->timestamp > std::numeric_limits<std::uint64_t>::max() - grace_seconds
            ? std::numeric_limits<std::uint64_t>::max()
            : entry->timestamp + grace_seconds;
    return limit > now;
  }
  return false;
}

status record_grace_login(secret_file& file, std::string_view rhost, std::uint64_t now) {
  if (!valid_host(rhost)) {
    return make_error(error_code::invalid_argument,
                      "Failed to store grace_period timestamp in config (invalid remote host)");
  }
  const auto entries = file.grace_entries();
  int own = -1, empty = -1, oldest = -1, malformed = -1;
  for (int i = 0; i < kGraceSlots; ++i) {
    const auto& entry = entries[static_cast<std::size_t>(i)];
    if (!entry) {
      const auto raw = file.option(grace_key(i));
      if (!raw || raw->find_first_not_of(" \t") == std::string_view::npos) {
        if (empty < 0)
          empty = i;
      } else if (malformed < 0) {
        malformed = i;
      }
      continue;
    }
    if (entry->host == rhost && own < 0)
      own = i;
    // The reference only considers entries older than `now` and ends up at index -1
    // (`LAST/`) when all are in the future; taking the minimum over all entries avoids that.
    if (oldest < 0 || entry->timestamp < entries[static_cast<std::size_t>(oldest)]->timestamp) {
      oldest = i;
    }
  }
  // Malformed lines are kept like the reference does; one is only reused when no valid
  // entry is left to replace (every slot malformed).
  const int index = own >= 0 ? own : empty >= 0 ? empty : oldest >= 0 ? oldest : malformed;
  if (index < 0) {
    return make_error(error_code::invalid_argument,
                      "Failed to store grace_period timestamp in config");
  }
  std::string value(rhost);
  value += ' ';
  value += unsigned_text(now);
  file.set_option(grace_key(index), value);
  return {};
}

// --- verification session (3.5-3.9) ---

struct verification_session::impl {
  otp_generator generator;
  std::uint64_t now = 0;
  verify_options options;
  int digits = kMinDigits;
  // HOTP: set when a well-formed candidate was checked against HOTP and failed; finish()
  // then advances the counter by one from `hotp_start`, so that a wrong guess burns a value.
  bool hotp_must_advance = false;
  std::int64_t hotp_start = 0;

  explicit impl(otp_generator g) : generator(std::move(g)) {}

  // Code for `counter`; nullopt for a counter outside uint64 (never matches).
  result<std::optional<std::uint32_t>> code_at(std::uint64_t base, std::int64_t offset) const {
    const auto counter = checked_add(base, offset);
    if (!counter)
      return std::optional<std::uint32_t>{};
    auto c = generator.code(*counter);
    if (!c)
      return std::move(c).error();
    return std::optional<std::uint32_t>{*c};
  }

  check_result check_scratch(secret_file& file, std::uint32_t code);
  check_result check_hotp(secret_file& file, std::uint32_t code);
  check_result check_totp(secret_file& file, std::uint32_t code);
  check_result skew_search(secret_file& file, std::uint32_t code, std::uint64_t tm,
                           std::uint32_t step, std::uint32_t window);
  // Applies DISALLOW_REUSE for an accepted step `c`: reused / config_error, or records c.
  std::optional<check_result> record_reuse(secret_file& file, std::uint64_t c, std::uint32_t step,
                                           std::uint32_t window);
};

check_result verification_session::impl::check_scratch(secret_file& file, std::uint32_t code) {
  // Scan every code so the time taken does not reveal the position of a match.
  std::uint32_t found = 0;
  for (std::uint32_t scratch : file.scratch_codes())
    found |= equal_mask(scratch, code);
  if (found == 0)
    return {};
  if (!file.remove_scratch_code(code))
    return {};
  return make_accepted(accept_method::scratch);
}

check_result verification_session::impl::check_hotp(secret_file& file, std::uint32_t code) {
  auto window = file.window_size();
  if (!window)
    return make_config_error(std::move(window).error());
  const std::int64_t counter = file.hotp_counter();
  if (!hotp_must_advance)
    hotp_start = counter;

  std::uint64_t found = 0, matched = 0;
  for (std::uint32_t i = 0; i < *window; ++i) {
    auto c = code_at(static_cast<std::uint64_t>(counter), i);
    if (!c)
      return make_config_error(std::move(c).error());
    if (!c->has_value())
      continue;
    const std::uint64_t eq = widen_mask(equal_mask(**c, code));
    matched = select(eq & ~found, i, matched);
    found |= eq;
  }
  if (found == 0) {
    hotp_must_advance = true;
    return {};
  }
  // A success already moves the counter past the starting value; no extra advance.
  hotp_must_advance = false;
  file.set_option("HOTP_COUNTER", std::to_string(counter + static_cast<std::int64_t>(matched) + 1));
  return make_accepted(accept_method::hotp);
}

std::optional<check_result> verification_session::impl::record_reuse(secret_file& file,
                                                                     std::uint64_t c,
                                                                     std::uint32_t step,
                                                                     std::uint32_t window) {
  auto list = file.disallow_reuse();
  if (!list)
    return make_config_error(std::move(list).error());
  if (!list->has_value())
    return std::nullopt;
  const std::vector<std::uint64_t>& used = **list;
  if (std::find(used.begin(), used.end(), c) != used.end()) {
    check_result r;
    r.outcome = check_outcome::reused;
    r.problem = make_error(error_code::invalid_argument,
                           "Trying to reuse a previously used time-based code (\"" + file.path() +
                               "\"). Retry again in " + std::to_string(step) +
                               " seconds. Warning! This might mean, you are currently subject to "
                               "a man-in-the-middle attack.");
    return r;
  }
  // Steps at least a window away from the accepted one can never match again; drop them so
  // the line stays short.
  std::vector<std::uint64_t> kept;
  for (std::uint64_t b : used) {
    const std::uint64_t distance = b > c ? b - c : c - b;
    if (distance < window)
      kept.push_back(b);
  }
  kept.push_back(c);
  file.set_option("DISALLOW_REUSE", join(kept, unsigned_text));
  return std::nullopt;
}

check_result verification_session::impl::check_totp(secret_file& file, std::uint32_t code) {
  auto step = file.step_size();
  if (!step)
    return make_config_error(std::move(step).error());
  auto window = file.window_size();
  if (!window)
    return make_config_error(std::move(window).error());

  const std::uint64_t tm = now / *step;
  const auto centre = checked_add(tm, file.time_skew());
  const std::int64_t lo = -static_cast<std::int64_t>((*window - 1) / 2);
  const std::int64_t hi = static_cast<std::int64_t>(*window / 2);

  std::uint64_t found = 0, matched = 0;
  if (centre) {
    // Increasing offsets, stopping at the first match: the reference records that step
    // under DISALLOW_REUSE, and recording a later one of two colliding steps would let the
    // code be replayed. Stopping early reveals only which step the caller's own correct
    // code belonged to; a wrong code still costs every code of the window.
    for (std::int64_t i = lo; i <= hi && found == 0; ++i) {
      auto c = code_at(*centre, i);
      if (!c)
        return make_config_error(std::move(c).error());
      if (!c->has_value())
        continue;
      const std::uint64_t eq = widen_mask(equal_mask(**c, code));
      matched = select(eq, *centre + static_cast<std::uint64_t>(i), matched);
      found |= eq;
    }
  }
  if (found != 0) {
    if (auto stop = record_reuse(file, matched, *step, *window))
      return std::move(*stop);
    return make_accepted(accept_method::totp);
  }
  if (!options.skew_adjust)
    return {};
  return skew_search(file, code, tm, *step, *window);
}

check_result verification_session::impl::skew_search(secret_file& file, std::uint32_t code,
                                                     std::uint64_t tm, std::uint32_t step,
                                                     std::uint32_t window) {
  // Preference order -0, +0, -1, +1, ...: smallest |offset| wins, negative side first. The
  // skew is relative to tm, not to the stored TIME_SKEW.
  std::uint64_t found = 0;
  std::int64_t skew = 0;
  for (std::int64_t i = 0; i < kSkewSearchSteps; ++i) {
    for (const std::int64_t offset : {-i, i}) {
      auto c = code_at(tm, offset);
      if (!c)
        return make_config_error(std::move(c).error());
      if (!c->has_value())
        continue;
      const std::uint64_t eq = widen_mask(equal_mask(**c, code));
      skew = static_cast<std::int64_t>(select(eq & ~found, static_cast<std::uint64_t>(offset),
                                              static_cast<std::uint64_t>(skew)));
      found |= eq;
    }
  }
  check_result r;
  if (found == 0)
    return r;
  r.skew_candidate_found = true;

  std::vector<skew_observation> seen = file.resetting_time_skew();
  if (seen.size() > 3)
    seen.erase(seen.begin(), seen.end() - 3);
  const skew_observation now_seen{tm, skew};
  // The same code typed again (same absolute step) is no new evidence; change nothing.
  if (!seen.empty() && seen.back().step + static_cast<std::uint64_t>(seen.back().skew) ==
                           tm + static_cast<std::uint64_t>(skew)) {
    return r;
  }
  seen.push_back(now_seen);
  if (seen.size() > 3)
    seen.erase(seen.begin());

  bool consistent = seen.size() == 3;
  for (std::size_t i = 0; consistent && i < 2; ++i) {
    const std::uint64_t next = seen[i + 1].step;
    const std::uint64_t prev = seen[i].step;
    consistent = next > prev && next - prev <= 2;
    const std::int64_t d = seen[i].skew - skew;
    consistent = consistent && d >= -1 && d <= 1;
  }
  if (!consistent) {
    file.set_option("RESETTING_TIME_SKEW", join(seen, skew_token));
    return r;
  }

  // Three consistent sightings: the client clock really is off. The code that completed the
  // evidence is accepted; its step goes into DISALLOW_REUSE so it cannot be replayed (the
  // reference forgets this, P2). Reuse is checked before anything is written.
  const std::uint64_t matched = tm + static_cast<std::uint64_t>(skew);
  const std::int64_t average = (seen[0].skew + seen[1].skew + seen[2].skew) / 3;
  if (auto stop = record_reuse(file, matched, step, window))
    return std::move(*stop);
  file.set_option("TIME_SKEW", std::to_string(average));
  file.set_option("RESETTING_TIME_SKEW", "");
  check_result accepted = make_accepted(accept_method::totp_resync);
  accepted.skew_candidate_found = true;
  return accepted;
}

result<verification_session> verification_session::begin(const secret_file& file, std::uint64_t now,
                                                         const verify_options& options) {
  auto key = file.key();
  if (!key)
    return std::move(key).error();
  auto algorithm = file.algorithm();
  if (!algorithm)
    return std::move(algorithm).error();
  auto digits = file.digits();
  if (!digits)
    return std::move(digits).error();
  // Keyed once: the HMAC pads are computed here and reused for every code of the session,
  // which keeps the 3000-code skew search cheap.
  auto generator = otp_generator::create(key->span(), *algorithm, *digits);
  if (!generator)
    return std::move(generator).error();

  verification_session session;
  session.impl_ = std::make_unique<impl>(std::move(generator).value());
  session.impl_->now = now;
  session.impl_->options = options;
  session.impl_->digits = *digits;
  return session;
}

check_result verification_session::try_code(secret_file& file, std::uint32_t code,
                                            int code_length) {
  if (!impl_)
    return {};
  // Scratch codes are 8 digits in [10^7, 10^8) whatever DIGITS says (spec 1.5).
  if (code_length == 8 && code >= kScratchMin && code <= kScratchMax) {
    check_result r = impl_->check_scratch(file, code);
    if (r.outcome != check_outcome::rejected)
      return r;
  }
  // Only candidates typed with the configured length reach HOTP/TOTP; with 6 digits this is
  // the reference's "value < 10^6" rule, and with DIGITS 8 a 6-digit guess cannot match an
  // 8-digit code that happens to start with "00".
  if (code_length != impl_->digits || code >= pow10(impl_->digits))
    return {};
  switch (file.mode()) {
    case otp_mode::hotp:
      return impl_->check_hotp(file, code);
    case otp_mode::totp:
      return impl_->check_totp(file, code);
    case otp_mode::none:
      break;
  }
  return {};
}

void verification_session::finish(secret_file& file) {
  if (!impl_ || !impl_->hotp_must_advance)
    return;
  impl_->hotp_must_advance = false;
  if (!impl_->options.increment_hotp_on_failure)
    return;
  file.set_option("HOTP_COUNTER", std::to_string(impl_->hotp_start + 1));
}

int verification_session::digits() const noexcept {
  return impl_ ? impl_->digits : kMinDigits;
}

void verification_session::set_now(std::uint64_t now) noexcept {
  if (impl_)
    impl_->now = now;
}

verification_session::verification_session(verification_session&&) noexcept = default;
verification_session& verification_session::operator=(verification_session&&) noexcept = default;
verification_session::~verification_session() = default;

}  // namespace totp
