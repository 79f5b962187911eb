// pvetotp-micro-bench: Google Benchmark microbenchmarks of libtotp's hot paths.
//
// What a login costs inside the module, piece by piece: one HOTP/TOTP code with a keyed
// generator (the per-code cost of a window check or a skew search) versus a one-shot hotp()
// that keys HMAC for every call (what a naive implementation pays 3000 times per wrong code),
// a whole window check and the 3000-code skew search through verification_session, and the
// secret-file parsing and editing every login does.
//
// Inputs are RFC 4226/6238 test vectors (key "12345678901234567890"); the correct codes below
// are the RFC's published values, so a broken generator shows up as a skipped benchmark
// instead of a fast wrong one.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "totp/otp.h"
#include "totp/secret_bytes.h"
#include "totp/secret_file.h"
#include "totp/verifier.h"

namespace {

using totp::hash_algorithm;

// RFC 6238 appendix B seeds: 20, 32 and 64 bytes for SHA-1, SHA-256 and SHA-512.
std::string_view rfc_seed(hash_algorithm algorithm) {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return "12345678901234567890";
    case hash_algorithm::sha256:
      return "12345678901234567890123456789012";
    case hash_algorithm::sha512:
      return "1234567890123456789012345678901234567890123456789012345678901234";
  }
  return {};
}

hash_algorithm algorithm_arg(const benchmark::State& state) {
  return static_cast<hash_algorithm>(state.range(0));
}

// RFC 4226 appendix D: HOTP(counter 0) = 755224 for the SHA-1 seed.
constexpr std::uint32_t kRfc4226Counter0 = 755224;
// RFC 6238 appendix B, SHA-1, T = 59 s: 94287082, i.e. 287082 with 6 digits.
constexpr std::uint64_t kRfc6238Time = 59;
constexpr std::uint32_t kRfc6238Code6 = 287082;
// Base32 of the SHA-1 seed, as line 1 of a secret file.
constexpr std::string_view kSeedBase32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

void BM_hotp_keyed_generator(benchmark::State& state) {
  const auto algorithm = algorithm_arg(state);
  const auto seed = totp::secret_bytes::from_string(rfc_seed(algorithm));
  auto generator = totp::otp_generator::create(seed.span(), algorithm, 6);
  if (!generator) {
    state.SkipWithError("otp_generator::create failed");
    return;
  }
  if (algorithm == hash_algorithm::sha1 && *generator->code(0) != kRfc4226Counter0) {
    state.SkipWithError("HOTP does not match RFC 4226");
    return;
  }
  std::uint64_t counter = 0;
  for (auto _ : state) {
    auto code = generator->code(counter++);
    benchmark::DoNotOptimize(code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_hotp_keyed_generator)->Arg(0)->Arg(1)->Arg(2)->ArgName("sha1_256_512");

void BM_hotp_one_shot(benchmark::State& state) {
  const auto algorithm = algorithm_arg(state);
  const auto seed = totp::secret_bytes::from_string(rfc_seed(algorithm));
  std::uint64_t counter = 0;
  for (auto _ : state) {
    auto code = totp::hotp(seed.span(), counter++, algorithm, 6);
    benchmark::DoNotOptimize(code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_hotp_one_shot)->Arg(0)->Arg(1)->Arg(2)->ArgName("sha1_256_512");

// TOTP = time step + HOTP; the generator is keyed once, as a login does.
void BM_totp_keyed_generator(benchmark::State& state) {
  const auto algorithm = algorithm_arg(state);
  const auto seed = totp::secret_bytes::from_string(rfc_seed(algorithm));
  auto generator = totp::otp_generator::create(seed.span(), algorithm, 6);
  if (!generator) {
    state.SkipWithError("otp_generator::create failed");
    return;
  }
  std::int64_t now = 1'111'111'109;
  for (auto _ : state) {
    auto step = totp::totp_counter(now++, 30);
    auto code = generator->code(*step);
    benchmark::DoNotOptimize(code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_totp_keyed_generator)->Arg(0)->Arg(1)->Arg(2)->ArgName("sha1_256_512");

// Keying alone: what otp_generator::create (the pad-state precomputation) costs.
void BM_generator_create(benchmark::State& state) {
  const auto algorithm = algorithm_arg(state);
  const auto seed = totp::secret_bytes::from_string(rfc_seed(algorithm));
  for (auto _ : state) {
    auto generator = totp::otp_generator::create(seed.span(), algorithm, 6);
    benchmark::DoNotOptimize(generator);
  }
}
BENCHMARK(BM_generator_create)->Arg(0)->Arg(1)->Arg(2)->ArgName("sha1_256_512");

totp::secret_file make_file(std::string_view text) {
  return std::move(totp::secret_file::parse(totp::secret_bytes::from_string(text), "bench"))
      .value();
}

std::string window_file(int window) {
  return std::string(kSeedBase32) + "\n\" WINDOW_SIZE " + std::to_string(window) +
         "\n\" TOTP_AUTH\n";
}

// A correct code through the whole policy: begin() keys HMAC, try_code() computes the full
// window (every code, constant time) and compares.
void BM_window_check(benchmark::State& state) {
  const int window = static_cast<int>(state.range(0));
  totp::secret_file file = make_file(window_file(window));
  for (auto _ : state) {
    auto session = totp::verification_session::begin(file, kRfc6238Time, {});
    const auto checked = session->try_code(file, kRfc6238Code6, 6);
    if (checked.outcome != totp::check_outcome::accepted) {
      state.SkipWithError("the RFC 6238 code was not accepted");
      break;
    }
    session->finish(file);
    benchmark::DoNotOptimize(checked);
  }
}
BENCHMARK(BM_window_check)->Arg(3)->Arg(17)->ArgName("window");

// A wrong code with skew adjustment on: window plus the 3000-code search. The input is a code
// no step in reach produces (the file is left unmodified), so every iteration does the same.
void BM_skew_search(benchmark::State& state) {
  const std::string text = std::string(kSeedBase32) + "\n\" TOTP_AUTH\n";
  const std::uint64_t now = 1'111'111'109;
  std::uint32_t wrong = 0;
  for (std::uint32_t candidate = 123456; candidate < 1'000'000; ++candidate) {
    totp::secret_file probe = make_file(text);
    auto session = totp::verification_session::begin(probe, now, {});
    const auto checked = session->try_code(probe, candidate, 6);
    if (checked.outcome == totp::check_outcome::rejected && !checked.skew_candidate_found &&
        !probe.modified()) {
      wrong = candidate;
      break;
    }
  }
  totp::secret_file file = make_file(text);
  for (auto _ : state) {
    auto session = totp::verification_session::begin(file, now, {});
    const auto checked = session->try_code(file, wrong, 6);
    session->finish(file);
    benchmark::DoNotOptimize(checked);
  }
  state.SetItemsProcessed(state.iterations() * 3000);
}
BENCHMARK(BM_skew_search)->Unit(benchmark::kMicrosecond);

// The same without skew adjustment (`noskewadj`): just the window.
void BM_wrong_code_noskewadj(benchmark::State& state) {
  const std::string text = std::string(kSeedBase32) + "\n\" TOTP_AUTH\n";
  totp::secret_file file = make_file(text);
  totp::verify_options options;
  options.skew_adjust = false;
  for (auto _ : state) {
    auto session = totp::verification_session::begin(file, 1'111'111'109, options);
    const auto checked = session->try_code(file, 123456, 6);
    benchmark::DoNotOptimize(checked);
  }
}
BENCHMARK(BM_wrong_code_noskewadj);

// A file as pvetotp-enroll / google-authenticator writes it, after some use.
constexpr std::string_view kRealisticFile =
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
    "\" RATE_LIMIT 3 30 1750000001 1750000012\n"
    "\" WINDOW_SIZE 17\n"
    "\" DISALLOW_REUSE 58333333 58333334\n"
    "\" TOTP_AUTH\n"
    "58214317\n"
    "29472016\n"
    "77104592\n"
    "40183375\n"
    "91826453\n";

// Parse plus every accessor a login reads (the parse itself is lazy).
void BM_secret_file_parse(benchmark::State& state) {
  for (auto _ : state) {
    auto file = totp::secret_file::parse(totp::secret_bytes::from_string(kRealisticFile), "bench");
    auto key = file->key();
    auto mode = file->mode();
    auto window = file->window_size();
    auto step = file->step_size();
    auto skew = file->time_skew();
    auto reuse = file->disallow_reuse();
    auto limit = file->rate_limit();
    auto scratch = file->scratch_codes();
    benchmark::DoNotOptimize(key);
    benchmark::DoNotOptimize(mode);
    benchmark::DoNotOptimize(window);
    benchmark::DoNotOptimize(step);
    benchmark::DoNotOptimize(skew);
    benchmark::DoNotOptimize(reuse);
    benchmark::DoNotOptimize(limit);
    benchmark::DoNotOptimize(scratch);
  }
}
BENCHMARK(BM_secret_file_parse);

// The edits a login makes: update DISALLOW_REUSE and RATE_LIMIT, use a scratch code.
void BM_secret_file_edit(benchmark::State& state) {
  for (auto _ : state) {
    auto file = totp::secret_file::parse(totp::secret_bytes::from_string(kRealisticFile), "bench");
    file->set_option("DISALLOW_REUSE", "58333334 58333335");
    file->set_option("RATE_LIMIT", "3 30 1750000012 1750000040");
    const bool removed = file->remove_scratch_code(77104592);
    if (!removed) {
      state.SkipWithError("scratch code not found");
      break;
    }
    benchmark::DoNotOptimize(file->bytes().data());
  }
}
BENCHMARK(BM_secret_file_edit);

}  // namespace

BENCHMARK_MAIN();
