// secret_file.h: the google-authenticator secret/state file, as bytes plus typed accessors.
//
// The file is kept as its exact bytes; accessors parse on demand with google-authenticator's
// rules (spec ga-compat sections 1.2-1.5) and edits reproduce its rewrite rules byte for
// byte (1.3), so files stay interchangeable with pam_google_authenticator.so. A file that
// nothing edited serialises to the bytes it was read from. Pure: no I/O, no clock.
//
// Error messages are the administrator-facing texts of the spec (they name the path given
// to parse(), never secrets).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "totp/otp.h"
#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

inline constexpr std::size_t kMaxSecretFileSize = 65536;

enum class otp_mode { none, totp, hotp };

struct rate_limit_state {
  std::uint32_t attempts = 0;  // n: 1..100
  std::uint32_t interval = 0;  // m: 1..3600 seconds
  std::vector<std::uint64_t> timestamps;
};

struct skew_observation {  // one `<step><+|-><skew>` token of RESETTING_TIME_SKEW
  std::uint64_t step = 0;
  std::int64_t skew = 0;
};

struct grace_entry {  // `" LASTn <host> <epoch>`
  std::string host;
  std::uint64_t timestamp = 0;
};

class secret_file {
 public:
  // Checks size 1..kMaxSecretFileSize (error file_size: `Invalid file size for "<path>"`) and
  // NUL bytes (file_contents: `Invalid file contents in "<path>"`). Nothing else is checked
  // here: like the reference, each option is validated when it is used.
  static result<secret_file> parse(secret_bytes content, std::string path);

  const secret_bytes& bytes() const noexcept { return content_; }
  const std::string& path() const noexcept { return path_; }
  bool modified() const noexcept { return modified_; }

  // --- raw option lines (spec 1.3) ---
  // Value of the first line `" NAME[ value]` (NAME followed by end, space, tab, CR or LF);
  // leading blanks skipped, value runs to the next CR/LF. The view points into bytes() and
  // is invalidated by any edit.
  std::optional<std::string_view> option(std::string_view name) const;
  // Replace the first line for NAME in place by `" NAME value\n` (an empty value still gets
  // the space), consuming the CR/LF run after it; or insert it right after line 1; then
  // delete every later line for NAME.
  void set_option(std::string_view name, std::string_view value);

  // --- typed accessors ---
  // Line 1 decoded (lenient base32). no_secret: `Could not find a valid BASE32 encoded secret
  // in "<path>"`.
  result<secret_bytes> key() const;
  // hotp when HOTP_COUNTER >= 1, else totp when the raw substring `" TOTP_AUTH` occurs
  // anywhere, else none.
  otp_mode mode() const;
  std::int64_t hotp_counter() const;  // strtol semantics; absent or garbage -> 0
  result<std::uint32_t> step_size()
      const;  // default 30; 1..60 strict; `Invalid STEP_SIZE option in "<path>"`
  result<std::uint32_t> window_size()
      const;  // default 3; 1..100 strict; `Invalid WINDOW_SIZE option in "<path>"`
  std::int64_t time_skew() const;  // strtol semantics, default 0
  // nullopt: no DISALLOW_REUSE line. bad_option on a malformed token (the reference fails
  // silently; we name it: `Invalid DISALLOW_REUSE list in "<path>"`).
  result<std::optional<std::vector<std::uint64_t>>> disallow_reuse() const;
  // nullopt: no RATE_LIMIT line. bad_rate_limit: `Invalid RATE_LIMIT option. Check "<path>".`
  // bad_rate_list: `Invalid list of timestamps in RATE_LIMIT. Check "<path>".`
  result<std::optional<rate_limit_state>> rate_limit() const;
  // Parsed tokens up to the first malformed one (the reference stops quietly there).
  std::vector<skew_observation> resetting_time_skew() const;
  // LAST0..LAST9 by index; malformed entries are nullopt.
  std::array<std::optional<grace_entry>, 10> grace_entries() const;
  // Extensions (ignored by google-authenticator): `" ALGORITHM SHA1|SHA256|SHA512` (default
  // SHA1) and `" DIGITS 6|7|8` (default 6). bad_option when present but invalid.
  result<hash_algorithm> algorithm() const;
  result<int> digits() const;

  // --- scratch codes (spec 1.5) ---
  std::vector<std::uint32_t> scratch_codes() const;
  // Removes the first scratch-code line equal to `code` together with the CR/LF run after
  // it. Returns false when no valid scratch code equals `code`.
  bool remove_scratch_code(std::uint32_t code);

 private:
  secret_file(secret_bytes content, std::string path) noexcept
      : content_(std::move(content)), path_(std::move(path)) {}
  secret_bytes content_;
  std::string path_;
  bool modified_ = false;
};

}  // namespace totp
