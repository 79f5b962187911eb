// secret_file_fuzz.cc: totp::secret_file parsing and the edit-and-reparse round trip.
//
// Properties (spec ga-compat 1.1-1.5 and secret_file.h):
//   - parse() accepts exactly the inputs of 1..65536 bytes without NUL; larger inputs never parse;
//   - an untouched file serialises to the exact input bytes;
//   - every error message is one of the fixed administrator texts for the path, so no secret
//     bytes can end up in a log line;
//   - set_option(NAME, v) then re-parse gives v back for NAME and keeps every other line;
//   - remove_scratch_code(c) then re-parse: c appears once less in scratch_codes(); removing a
//     code that is not there changes nothing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "totp/secret_file.h"

namespace {

constexpr const char* k_path = "/fuzz/.google_authenticator";

bool is_known_message(const std::string& message) {
  const std::string q = std::string("\"") + k_path + "\"";
  static const std::vector<std::string> fixed = {
      "Invalid file size for " + q,
      "Invalid file contents in " + q,
      "Could not find a valid BASE32 encoded secret in " + q,
      "Invalid DISALLOW_REUSE list in " + q,
      "Invalid RATE_LIMIT option. Check " + q + ".",
      "Invalid list of timestamps in RATE_LIMIT. Check " + q + ".",
      "Invalid STEP_SIZE option in " + q,
      "Invalid WINDOW_SIZE option in " + q,
      "Invalid ALGORITHM option in " + q,
      "Invalid DIGITS option in " + q,
  };
  return std::find(fixed.begin(), fixed.end(), message) != fixed.end();
}

template <class T>
void check_error_text(const totp::result<T>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(is_known_message(r.error().message));
  }
}

// Exercise every accessor: none may crash, and their errors must be the fixed texts.
void read_everything(const totp::secret_file& file) {
  check_error_text(file.key());
  (void)file.mode();
  (void)file.hotp_counter();
  check_error_text(file.step_size());
  check_error_text(file.window_size());
  (void)file.time_skew();
  check_error_text(file.disallow_reuse());
  check_error_text(file.rate_limit());
  (void)file.resetting_time_skew();
  (void)file.grace_entries();
  check_error_text(file.algorithm());
  check_error_text(file.digits());
}

// The non-empty segments between CR/LF runs, without the option lines for `name`.
std::vector<std::string_view> other_lines(std::string_view text, std::string_view name) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty()) {
      const std::string head = "\" " + std::string(name);
      bool is_option =
          line.substr(0, head.size()) == head &&
          (line.size() == head.size() || line[head.size()] == ' ' || line[head.size()] == '\t');
      if (!is_option) {
        out.push_back(line);
      }
    }
    pos = end + 1;
  }
  return out;
}

std::size_t count_of(const std::vector<std::uint32_t>& codes, std::uint32_t code) {
  return static_cast<std::size_t>(std::count(codes.begin(), codes.end(), code));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool has_nul = input.find('\0') != std::string_view::npos;
  const bool size_ok = size >= 1 && size <= totp::kMaxSecretFileSize;

  // Above the cap nothing parses, whatever the content: pad this input past 64 KiB. Only for
  // a sixteenth of the inputs (chosen by the last byte), since the copy dominates a run.
  if (size > 0 && data[size - 1] % 16 == 0) {
    totp::secret_bytes big = totp::secret_bytes::from_string(input);
    big.resize(totp::kMaxSecretFileSize + 1);
    for (std::size_t i = size; i < big.size(); ++i) {
      big[i] = 'A';
    }
    auto r = totp::secret_file::parse(std::move(big), k_path);
    FUZZ_CHECK(!r.ok());
    FUZZ_CHECK(r.error().code == totp::error_code::file_size);
    FUZZ_CHECK(is_known_message(r.error().message));
  }

  auto parsed = totp::secret_file::parse(totp::secret_bytes::from_string(input), k_path);
  FUZZ_CHECK(parsed.ok() == (size_ok && !has_nul));
  if (!parsed.ok()) {
    FUZZ_CHECK(is_known_message(parsed.error().message));
    return 0;
  }
  totp::secret_file& file = parsed.value();
  FUZZ_CHECK(!file.modified());
  FUZZ_CHECK(file.bytes().view() == input);
  read_everything(file);

  // --- set_option round trip ---
  static const char* const names[] = {
      "STEP_SIZE", "WINDOW_SIZE",  "DISALLOW_REUSE", "RATE_LIMIT",
      "TOTP_AUTH", "HOTP_COUNTER", "TIME_SKEW",      "RESETTING_TIME_SKEW",
      "LAST0",     "DIGITS",       "ALGORITHM"};
  const std::string_view name = names[size % (sizeof(names) / sizeof(names[0]))];
  // A value the file format can hold: no CR/LF/NUL inside, no leading blank (option() skips
  // those). Taken from the input's tail so the fuzzer controls it.
  std::string value;
  for (char c : input.substr(size / 2, 24)) {
    if (c != '\r' && c != '\n' && c != '\0') {
      value.push_back(c);
    }
  }
  value.erase(0, value.find_first_not_of(" \t"));
  {
    auto copy = totp::secret_file::parse(file.bytes().clone(), k_path);
    FUZZ_CHECK(copy.ok());
    copy->set_option(name, value);
    FUZZ_CHECK(copy->modified());
    auto again = totp::secret_file::parse(copy->bytes().clone(), k_path);
    if (copy->bytes().size() <= totp::kMaxSecretFileSize) {
      FUZZ_CHECK(again.ok());
      auto got = again->option(name);
      FUZZ_CHECK(got.has_value());
      FUZZ_CHECK(*got == value);
      FUZZ_CHECK(other_lines(input, name) == other_lines(again->bytes().view(), name));
      read_everything(again.value());
    }
  }

  // --- scratch-code removal ---
  const std::vector<std::uint32_t> codes = file.scratch_codes();
  for (std::uint32_t code : codes) {
    FUZZ_CHECK(code >= 10000000u && code <= 99999999u);
  }
  if (!codes.empty()) {
    const std::uint32_t victim = codes[data[0] % codes.size()];
    auto copy = totp::secret_file::parse(file.bytes().clone(), k_path);
    FUZZ_CHECK(copy.ok());
    FUZZ_CHECK(copy->remove_scratch_code(victim));
    auto again = totp::secret_file::parse(copy->bytes().clone(), k_path);
    FUZZ_CHECK(again.ok());
    const auto left = again->scratch_codes();
    FUZZ_CHECK(count_of(left, victim) + 1 == count_of(codes, victim));
    FUZZ_CHECK(left.size() + 1 == codes.size());
    // The secret line is untouched by a scratch-code removal.
    const auto first_line = [](std::string_view t) { return t.substr(0, t.find_first_of("\r\n")); };
    FUZZ_CHECK(first_line(again->bytes().view()) == first_line(input));
  }
  {
    // 10000000 - 1 is never a valid scratch code: nothing may change.
    auto copy = totp::secret_file::parse(file.bytes().clone(), k_path);
    FUZZ_CHECK(copy.ok());
    FUZZ_CHECK(!copy->remove_scratch_code(9999999u));
    FUZZ_CHECK(copy->bytes().view() == input);
  }
  return 0;
}
