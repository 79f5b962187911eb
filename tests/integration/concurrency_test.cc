// Issue 4 item 1 / spec 9.1 (R1-R3): 40 parallel pvetotp-pamclient processes against one secret
// file, each trial released at once through a barrier file. The reference accepts one scratch
// code 3-13 times and lets 40 of 40 past RATE_LIMIT 3 30; ours must be exact.
#include <cstdio>

#include "harness.h"

namespace pvetotp::itest {
namespace {

const std::string S = k_secret;
constexpr long long T = k_t0;
constexpr int k_parallel = 40;
constexpr int k_trials = 5;

class concurrency : public ours_test {
 protected:
  // Runs one answer per process (cycled), all at time T; returns the results.
  std::vector<run_result> burst(const std::vector<std::string>& answers, int trial) {
    std::string barrier = w().dir() + "/go." + std::to_string(trial);
    std::vector<pending_run> runs;
    for (int i = 0; i < k_parallel; ++i) {
      run_options o;
      o.answers = {answers[i % answers.size()]};
      o.time = T;
      o.barrier = barrier;
      runs.push_back(w().start(o));
    }
    w().write_file(barrier, "", 0644, 0, 0);
    std::vector<run_result> out;
    for (auto& p : runs) {
      out.push_back(w().finish(p));
    }
    return out;
  }
  static int successes(const std::vector<run_result>& rs) {
    int n = 0;
    for (const auto& r : rs) {
      n += r.code == 0;
    }
    return n;
  }
  static int prompted(const std::vector<run_result>& rs) {
    int n = 0;
    for (const auto& r : rs) {
      n += r.prompts() > 0;
    }
    return n;
  }
};

TEST_F(concurrency, R1_one_scratch_code_accepted_exactly_once) {
  for (int trial = 0; trial < k_trials; ++trial) {
    auto path = w().write_secret(S + "\n\" TOTP_AUTH\n87654321\n");
    auto rs = burst({"87654321"}, trial);
    int ok = successes(rs);
    std::printf("R1 trial %d: scratch code accepted %d/%d\n", trial, ok, k_parallel);
    EXPECT_EQ(ok, 1) << rs.front().dump();
    EXPECT_EQ(w().read(path), S + "\n\" TOTP_AUTH\n");
  }
}

TEST_F(concurrency, R3_one_totp_step_under_disallow_reuse_accepted_exactly_once) {
  std::string code = totp(T);
  for (int trial = 0; trial < k_trials; ++trial) {
    auto path = w().write_secret(S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n");
    auto rs = burst({code}, trial);
    int ok = successes(rs);
    std::printf("R3 trial %d: TOTP code accepted %d/%d\n", trial, ok, k_parallel);
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(w().read(path), S + "\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n");
  }
}

TEST_F(concurrency, R2_rate_limit_lets_at_most_n_reach_the_prompt) {
  for (int trial = 0; trial < k_trials; ++trial) {
    auto path = w().write_secret(S + "\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n");
    auto rs = burst({"abcdef"}, trial);
    int p = prompted(rs);
    std::printf("R2 trial %d: %d/%d reached the prompt (limit 3)\n", trial, p, k_parallel);
    EXPECT_EQ(p, 3);
    EXPECT_EQ(successes(rs), 0);
    EXPECT_EQ(w().read(path), S + "\n\" RATE_LIMIT 3 30 " + std::to_string(T) + " " +
                                  std::to_string(T) + " " + std::to_string(T) + "\n\" TOTP_AUTH\n");
  }
}

TEST_F(concurrency, R4_no_correct_login_fails_spuriously) {
  for (int trial = 0; trial < k_trials; ++trial) {
    std::string bytes = S + "\n\" TOTP_AUTH\n";
    std::vector<std::string> codes;
    for (int i = 0; i < k_parallel; ++i) {
      codes.push_back(std::to_string(20000000 + trial * 1000 + i * 7));
      bytes += codes.back() + "\n";
    }
    auto path = w().write_secret(bytes);
    auto rs = burst(codes, trial);
    int ok = successes(rs);
    std::printf("R4 trial %d: distinct scratch codes accepted %d/%d\n", trial, ok, k_parallel);
    EXPECT_EQ(ok, k_parallel);
    EXPECT_EQ(w().read(path), S + "\n\" TOTP_AUTH\n");
  }
}

}  // namespace
}  // namespace pvetotp::itest
