// secret_file.cc: google-authenticator's secret/state file as bytes plus typed accessors.
//
// Every reader here re-implements one of the reference module's scans (spec ga-compat 1.2-1.5)
// on a string_view over the file bytes, so that a file means the same thing to both modules.
// The reference parses numbers with strtoul/strtol; c_strtoul()/c_strtol() below reproduce
// those semantics (leading C white space, optional sign, decimal digits, overflow) without
// depending on the locale or on NUL-terminated copies of secret bytes.
//
// Deliberate deviations (all on input neither module ever writes), so that nonsense does not
// silently turn into a different number:
//  * values that only fit after the reference's `(int)` casts (e.g. STEP_SIZE 4294967326 or a
//    scratch code 4294967296 + 12345678) are rejected instead of wrapping;
//  * a `-` sign is rejected wherever the reference uses strtoul (RATE_LIMIT timestamps,
//    DISALLOW_REUSE steps), where it would wrap to a huge unsigned value;
//  * a malformed DISALLOW_REUSE token is an error with a message (the reference fails silently);
//  * a RESETTING_TIME_SKEW token needs digits right after its sign (`5+` is not `5+0`);
//  * set_option() on a file whose line 1 has no LF ends line 1 with a LF before inserting,
//    where the reference glues the new option onto the secret and breaks line 1;
//  * set_option() cuts the value at the first CR, LF or NUL so that a value can never
//    inject extra lines (a scratch code, say) into the file.
#include "totp/secret_file.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "totp/base32.h"

namespace totp {
namespace {

bool is_crlf(char c) {
  return c == '\r' || c == '\n';
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
// isspace() in the C locale, which is what strtoul/strtol skip.
bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The outcome of strtoul/strtol on text[pos...]: `ok` is false when no digit was found
// (strtoul would leave endptr at the start) or the value overflowed (errno ERANGE).
struct c_number {
  std::uint64_t magnitude = 0;
  bool negative = false;
  bool ok = false;
  std::size_t end = 0;  // first byte after the digits (== start when no digits)
};

c_number c_strtoul(std::string_view text, std::size_t pos) {
  c_number n;
  n.end = pos;
  std::size_t i = pos;
  while (i < text.size() && is_c_space(text[i])) {
    ++i;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    n.negative = text[i] == '-';
    ++i;
  }
  const std::size_t digits_start = i;
  bool overflow = false;
  while (i < text.size() && is_digit(text[i])) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (n.magnitude > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      overflow = true;
    } else {
      n.magnitude = n.magnitude * 10 + d;
    }
    ++i;
  }
  if (i == digits_start) {
    n.magnitude = 0;
    n.negative = false;
    return n;  // no conversion: endptr stays at pos
  }
  n.end = i;
  n.ok = !overflow;
  return n;
}

// strtol(text, nullptr, 10) as the reference uses it for HOTP_COUNTER and TIME_SKEW: garbage
// gives 0, overflow clamps to the long range.
std::int64_t c_strtol(std::string_view text) {
  const c_number n = c_strtoul(text, 0);
  if (n.end == 0) {
    return 0;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (n.negative) {
    if (!n.ok || n.magnitude > kMax + 1) {
      return std::numeric_limits<std::int64_t>::min();
    }
    return n.magnitude == kMax + 1 ? std::numeric_limits<std::int64_t>::min()
                                   : -static_cast<std::int64_t>(n.magnitude);
  }
  if (!n.ok || n.magnitude > kMax) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return static_cast<std::int64_t>(n.magnitude);
}

// Start of the line after the one containing `pos`: past the next CR/LF and the whole CR/LF
// run after it (so blank lines never count as lines).
std::size_t next_line(std::string_view text, std::size_t pos) {
  while (pos < text.size() && !is_crlf(text[pos])) {
    ++pos;
  }
  while (pos < text.size() && is_crlf(text[pos])) {
    ++pos;
  }
  return pos;
}

// Does an option line for `name` start at `pos`? `" NAME` followed by end, blank or CR/LF.
bool option_line_at(std::string_view text, std::size_t pos, std::string_view name) {
  if (text.size() - pos < name.size() + 2 || text[pos] != '"' || text[pos + 1] != ' ' ||
      text.substr(pos + 2, name.size()) != name) {
    return false;
  }
  const std::size_t after = pos + 2 + name.size();
  return after == text.size() || is_blank(text[after]) || is_crlf(text[after]);
}

// First option line for `name`, scanning from byte 0 (line 1 included, as the reference does).
std::size_t find_option_line(std::string_view text, std::string_view name, std::size_t from) {
  for (std::size_t pos = from; pos < text.size(); pos = next_line(text, pos)) {
    if (option_line_at(text, pos, name)) {
      return pos;
    }
  }
  return std::string_view::npos;
}

// The value of the option line at `pos`: after the blanks that follow NAME, up to CR/LF.
std::string_view option_value_at(std::string_view text, std::size_t pos, std::string_view name) {
  std::size_t start = pos + 2 + name.size();
  while (start < text.size() && is_blank(text[start])) {
    ++start;
  }
  std::size_t stop = start;
  while (stop < text.size() && !is_crlf(text[stop])) {
    ++stop;
  }
  return text.substr(start, stop - start);
}

// One valid scratch-code line found by the scan of spec 1.5.
struct scratch_line {
  std::size_t start;  // line start (leading blanks included; they go with the line)
  std::size_t end;    // first byte after the digits (a CR, a LF or the end)
  std::uint32_t value;
};

inline constexpr std::uint64_t kMinScratch = 10'000'000;
inline constexpr std::uint64_t kMaxScratch = 99'999'999;

// Calls visit(line) for each valid scratch code in file order until visit returns true or
// the first line that is neither blank, nor an option line, nor a valid code ends the scan.
template <class Visit>
void scan_scratch_codes(std::string_view text, Visit&& visit) {
  // Line 1 ends at the first LF only (a CR inside line 1 does not end it), as in the reference.
  std::size_t pos = text.find('\n');
  if (pos == std::string_view::npos) {
    return;
  }
  for (;;) {
    while (pos < text.size() && is_crlf(text[pos])) {
      ++pos;
    }
    if (pos < text.size() && text[pos] == '"') {
      pos = text.find('\n', pos);
      if (pos == std::string_view::npos) {
        return;
      }
      continue;
    }
    // strtoul skips any C white space, LF included: a line of blanks followed by a code
    // line reads as that code, and both lines go when it is used (reference behaviour).
    const c_number n = c_strtoul(text, pos);
    if (!n.ok || n.negative || (n.end < text.size() && !is_crlf(text[n.end])) ||
        n.magnitude < kMinScratch || n.magnitude > kMaxScratch) {
      return;
    }
    if (visit(scratch_line{pos, n.end, static_cast<std::uint32_t>(n.magnitude)})) {
      return;
    }
    pos = n.end;
  }
}

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
}

error option_error(std::string_view name, const std::string& path) {
  return make_error(error_code::bad_option,
                    "Invalid " + std::string(name) + " option in " + quoted(path));
}

// STEP_SIZE / WINDOW_SIZE: strtoul, then only a blank/CR/LF (or the end) may follow the
// digits; the reference checks just that one byte, so `30 x` is accepted like `30`.
result<std::uint32_t> strict_small_number(std::optional<std::string_view> value,
                                          std::uint32_t fallback, std::uint32_t low,
                                          std::uint32_t high, std::string_view name,
                                          const std::string& path) {
  if (!value) {
    return fallback;
  }
  const std::string_view v = *value;
  const c_number n = c_strtoul(v, 0);
  if (v.empty() || !n.ok || n.negative ||
      (n.end < v.size() && !is_blank(v[n.end]) && !is_crlf(v[n.end])) || n.magnitude < low ||
      n.magnitude > high) {
    return option_error(name, path);
  }
  return static_cast<std::uint32_t>(n.magnitude);
}

std::string_view trim_trailing_blanks(std::string_view v) {
  while (!v.empty() && is_blank(v.back())) {
    v.remove_suffix(1);
  }
  return v;
}

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool is_grace_host_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' ||
         c == '%' || c == '.' || c == '-';
}

std::optional<grace_entry> parse_grace_entry(std::string_view v) {
  std::size_t i = 0;
  while (i < v.size() && is_grace_host_char(v[i])) {
    ++i;
  }
  // 1..255 host characters, then at least one blank (HEAD reads the host as %255[...]).
  if (i == 0 || i > 255 || i == v.size() || !is_blank(v[i])) {
    return std::nullopt;
  }
  grace_entry entry;
  entry.host = std::string(v.substr(0, i));
  while (i < v.size() && is_blank(v[i])) {
    ++i;
  }
  const std::size_t digits = i;
  std::uint64_t when = 0;
  while (i < v.size() && is_digit(v[i])) {
    const auto d = static_cast<std::uint64_t>(v[i] - '0');
    if (when > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return std::nullopt;
    }
    when = when * 10 + d;
    ++i;
  }
  if (i == digits) {
    return std::nullopt;
  }
  while (i < v.size() && is_blank(v[i])) {
    ++i;
  }
  if (i != v.size()) {
    return std::nullopt;
  }
  entry.timestamp = when;
  return entry;
}

}  // namespace

result<secret_file> secret_file::parse(secret_bytes content, std::string path) {
  if (content.empty() || content.size() > kMaxSecretFileSize) {
    return make_error(error_code::file_size, "Invalid file size for " + quoted(path));
  }
  if (std::memchr(content.data(), 0, content.size()) != nullptr) {
    return make_error(error_code::file_contents, "Invalid file contents in " + quoted(path));
  }
  return secret_file(std::move(content), std::move(path));
}

std::optional<std::string_view> secret_file::option(std::string_view name) const {
  const std::string_view text = content_.view();
  const std::size_t pos = find_option_line(text, name, 0);
  if (pos == std::string_view::npos) {
    return std::nullopt;
  }
  return option_value_at(text, pos, name);
}

void secret_file::set_option(std::string_view name, std::string_view value) {
  const std::size_t cut = value.find_first_of(std::string_view("\r\n\0", 3));
  if (cut != std::string_view::npos) {
    value = value.substr(0, cut);
  }
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append("\" ").append(name).append(" ").append(value).append("\n");

  std::string_view text = content_.view();
  std::size_t start = find_option_line(text, name, 0);
  std::size_t stop = 0;
  if (start != std::string_view::npos) {
    stop = next_line(text, start);  // the old line and every CR/LF after it
  } else {
    // After line 1 and the CR/LF run that follows it, i.e. before the first non-blank line.
    std::size_t end_of_line1 = 0;
    while (end_of_line1 < text.size() && !is_crlf(text[end_of_line1])) {
      ++end_of_line1;
    }
    start = next_line(text, 0);
    if (text.substr(end_of_line1, start - end_of_line1).find('\n') == std::string_view::npos) {
      // Line 1 has no LF (a file holding only the secret): end it first, otherwise the new
      // line would be glued onto the secret and both modules would lose the key.
      content_.replace(start, 0, "\n");
      ++start;
    }
    stop = start;
  }
  content_.replace(start, stop - start, line);

  // Delete every later line for the same key, each with its CR/LF run.
  text = content_.view();
  std::size_t pos = start + line.size();
  while (pos < text.size()) {
    if (option_line_at(text, pos, name)) {
      content_.erase(pos, next_line(text, pos) - pos);
      text = content_.view();
    } else {
      pos = next_line(text, pos);
    }
  }
  modified_ = true;
}

result<secret_bytes> secret_file::key() const {
  const std::string_view text = content_.view();
  const std::string_view line1 = text.substr(0, text.find('\n'));
  auto decoded = base32_decode(line1);
  if (!decoded.ok() || decoded.value().empty()) {
    return make_error(error_code::no_secret,
                      "Could not find a valid BASE32 encoded secret in " + quoted(path_));
  }
  return std::move(decoded).value();
}

otp_mode secret_file::mode() const {
  if (hotp_counter() >= 1) {
    return otp_mode::hotp;
  }
  // A raw substring test, not an option lookup (spec 1.3, experiments I12/I13).
  if (content_.view().find("\" TOTP_AUTH") != std::string_view::npos) {
    return otp_mode::totp;
  }
  return otp_mode::none;
}

std::int64_t secret_file::hotp_counter() const {
  const auto value = option("HOTP_COUNTER");
  return value ? c_strtol(*value) : 0;
}

result<std::uint32_t> secret_file::step_size() const {
  return strict_small_number(option("STEP_SIZE"), 30, 1, 60, "STEP_SIZE", path_);
}

result<std::uint32_t> secret_file::window_size() const {
  return strict_small_number(option("WINDOW_SIZE"), 3, 1, 100, "WINDOW_SIZE", path_);
}

std::int64_t secret_file::time_skew() const {
  const auto value = option("TIME_SKEW");
  return value ? c_strtol(*value) : 0;
}

result<std::optional<std::vector<std::uint64_t>>> secret_file::disallow_reuse() const {
  const auto value = option("DISALLOW_REUSE");
  if (!value) {
    return std::optional<std::vector<std::uint64_t>>();
  }
  const std::string_view v = *value;
  std::vector<std::uint64_t> steps;
  std::size_t pos = 0;
  for (;;) {
    while (pos < v.size() && (is_blank(v[pos]) || is_crlf(v[pos]))) {
      ++pos;
    }
    if (pos == v.size()) {
      break;
    }
    const c_number n = c_strtoul(v, pos);
    if (!n.ok || n.negative || (n.end < v.size() && !is_blank(v[n.end]) && !is_crlf(v[n.end]))) {
      return make_error(error_code::bad_option, "Invalid DISALLOW_REUSE list in " + quoted(path_));
    }
    steps.push_back(n.magnitude);
    pos = n.end;
  }
  return std::optional<std::vector<std::uint64_t>>(std::move(steps));
}

result<std::optional<rate_limit_state>> secret_file::rate_limit() const {
  const auto value = option("RATE_LIMIT");
  if (!value) {
    return std::optional<rate_limit_state>();
  }
  const std::string_view v = *value;
  const error bad_limit = make_error(error_code::bad_rate_limit,
                                     "Invalid RATE_LIMIT option. Check " + quoted(path_) + ".");
  const c_number n = c_strtoul(v, 0);
  if (!n.ok || n.negative || n.magnitude < 1 || n.magnitude > 100 || n.end == v.size() ||
      !is_blank(v[n.end])) {
    return bad_limit;
  }
  const c_number m = c_strtoul(v, n.end);
  if (!m.ok || m.negative || m.magnitude < 1 || m.magnitude > 3600) {
    return bad_limit;
  }
  rate_limit_state state;
  state.attempts = static_cast<std::uint32_t>(n.magnitude);
  state.interval = static_cast<std::uint32_t>(m.magnitude);
  // Each timestamp needs a blank in front of it; strtoul then skips the rest of the blank run.
  // A trailing blank therefore finds no digits and is an error, as in the reference.
  std::size_t pos = m.end;
  while (pos < v.size()) {
    const c_number t = is_blank(v[pos]) ? c_strtoul(v, pos) : c_number{};
    if (!t.ok || t.negative) {
      return make_error(error_code::bad_rate_list,
                        "Invalid list of timestamps in RATE_LIMIT. Check " + quoted(path_) + ".");
    }
    state.timestamps.push_back(t.magnitude);
    pos = t.end;
  }
  return std::optional<rate_limit_state>(std::move(state));
}

std::vector<skew_observation> secret_file::resetting_time_skew() const {
  std::vector<skew_observation> out;
  const auto value = option("RESETTING_TIME_SKEW");
  if (!value) {
    return out;
  }
  const std::string_view v = *value;
  std::size_t pos = 0;
  while (pos < v.size()) {
    const c_number step = c_strtoul(v, pos);
    if (!step.ok || step.negative || step.end == v.size() ||
        (v[step.end] != '+' && v[step.end] != '-')) {
      break;
    }
    const bool negative = v[step.end] == '-';
    std::size_t i = step.end + 1;
    const std::size_t digits = i;
    std::uint64_t magnitude = 0;
    bool overflow = false;
    while (i < v.size() && is_digit(v[i])) {
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(v[i] - '0');
      overflow = overflow || magnitude > (std::uint64_t{1} << 40);  // far beyond any skew
      ++i;
    }
    if (i == digits || overflow || (i < v.size() && !is_blank(v[i]) && !is_crlf(v[i]))) {
      break;
    }
    const auto skew = static_cast<std::int64_t>(magnitude);
    out.push_back(skew_observation{step.magnitude, negative ? -skew : skew});
    pos = i;
  }
  return out;
}

std::array<std::optional<grace_entry>, 10> secret_file::grace_entries() const {
  std::array<std::optional<grace_entry>, 10> out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::string name = "LAST" + std::to_string(i);
    if (const auto value = option(name)) {
      out[i] = parse_grace_entry(*value);
    }
  }
  return out;
}

result<hash_algorithm> secret_file::algorithm() const {
  const auto value = option("ALGORITHM");
  if (!value) {
    return hash_algorithm::sha1;
  }
  const std::string_view v = trim_trailing_blanks(*value);
  if (equal_ignoring_ascii_case(v, "SHA1")) {
    return hash_algorithm::sha1;
  }
  if (equal_ignoring_ascii_case(v, "SHA256")) {
    return hash_algorithm::sha256;
  }
  if (equal_ignoring_ascii_case(v, "SHA512")) {
    return hash_algorithm::sha512;
  }
  return option_error("ALGORITHM", path_);
}

result<int> secret_file::digits() const {
  const auto value = option("DIGITS");
  if (!value) {
    return 6;
  }
  const std::string_view v = trim_trailing_blanks(*value);
  if (v.size() == 1 && v[0] >= '6' && v[0] <= '8') {
    return v[0] - '0';
  }
  return option_error("DIGITS", path_);
}

std::vector<std::uint32_t> secret_file::scratch_codes() const {
  std::vector<std::uint32_t> codes;
  scan_scratch_codes(content_.view(), [&](const scratch_line& line) {
    codes.push_back(line.value);
    return false;
  });
  return codes;
}

bool secret_file::remove_scratch_code(std::uint32_t code) {
  const std::string_view text = content_.view();
  std::optional<scratch_line> found;
  scan_scratch_codes(text, [&](const scratch_line& line) {
    if (line.value == code) {
      found = line;
      return true;
    }
    return false;
  });
  if (!found) {
    return false;
  }
  std::size_t stop = found->end;
  while (stop < text.size() && is_crlf(text[stop])) {
    ++stop;
  }
  content_.erase(found->start, stop - found->start);
  modified_ = true;
  return true;
}

}  // namespace totp
