// Issue 7: concurrency soak. 8 processes x 500 logins against one secret file with a mix of
// right, wrong, replayed and scratch codes, DISALLOW_REUSE, and a pinned clock that steps
// forward (15 s per phase, so every TOTP step spans two phases) for all processes at once.
//
// Asserted at the end, from the processes' own results:
//   * every scratch code accepted at most once, and exactly once if it was tried at all (no
//     rate limit: nothing may refuse a valid unused code); the file keeps exactly the others;
//   * every TOTP step accepted at most once, and exactly once if its code was tried while the
//     step was inside the window (window 3: current step +-1); never outside it;
//   * wrong codes never accepted; no result other than PAM_SUCCESS / PAM_AUTH_ERR; no error in
//     the log (no failed write, no lock timeout);
//   * the file parses at the end, with the original key.
// The workers (pvetotp-soakworker) run their logins in-process through real libpam, so 4000
// logins take seconds; the secret file lives in the world under /tmp (ext4 here, real fsync).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "robust_common.h"
#include "totp/secret_bytes.h"
#include "totp/secret_file.h"

extern char** environ;

namespace pvetotp::robust {
namespace {

const std::string S = itest::k_secret;
constexpr long long T = itest::k_t0;
constexpr int k_workers = 8;
constexpr int k_logins_per_worker = 500;
constexpr int k_phases = 50;
constexpr int k_per_phase = k_logins_per_worker / k_phases;
constexpr int k_phase_seconds = 15;
constexpr int k_scratch_codes = 300;

long long phase_time(int phase) {
  return T + static_cast<long long>(phase) * k_phase_seconds;
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

TEST(soak, eight_processes_500_logins_each_one_file) {
  PVETOTP_REQUIRE_ROOT();
  const auto started = std::chrono::steady_clock::now();
  world w(itest::impl::ours);
  w.service("soak", "noskewadj");
  const std::string home = w.user("u1").home;
  const std::string path = w.secret_path();

  // Codes for every step the soak can touch, from oathtool; they must be distinct or a
  // result could not be attributed to one step.
  const long long first_step = itest::step_of(phase_time(0)) - 3;
  const long long last_step = itest::step_of(phase_time(k_phases - 1)) + 3;
  std::map<long long, std::string> code_of;
  std::map<std::string, long long> step_of_code;
  for (long long s = first_step; s <= last_step; ++s) {
    code_of[s] = itest::totp(s * 30);
    ASSERT_TRUE(step_of_code.emplace(code_of[s], s).second) << "two steps share a code";
  }
  std::vector<std::string> scratch;
  std::string file = S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n";
  for (int i = 0; i < k_scratch_codes; ++i) {
    scratch.push_back(std::to_string(10000000 + i * 299993 % 89999999));
    file += scratch.back() + "\n";
  }
  ASSERT_EQ(std::set<std::string>(scratch.begin(), scratch.end()).size(), scratch.size());
  w.write_secret(file);

  // Scripts: per login one of right / replayed (current step again or the previous one) /
  // expired (3 steps old) / wrong / scratch (drawn with repetition, so many are replayed).
  std::mt19937 rng(7);
  std::map<std::string, int> kind_count;
  const std::string sync = w.dir() + "/sync";
  ::mkdir(sync.c_str(), 0755);
  std::vector<pid_t> pids;
  std::vector<std::string> outputs, syslogs;
  for (int id = 0; id < k_workers; ++id) {
    std::string script;
    for (int phase = 0; phase < k_phases; ++phase) {
      const long long now = phase_time(phase);
      const long long step = itest::step_of(now);
      for (int i = 0; i < k_per_phase; ++i) {
        const int roll = std::uniform_int_distribution<int>(0, 99)(rng);
        std::string answer, kind;
        if (roll < 35) {
          answer = code_of[step], kind = "right";
        } else if (roll < 50) {
          answer = code_of[step - (roll % 2)], kind = "replayed";
        } else if (roll < 60) {
          answer = code_of[step - 3], kind = "expired";
        } else if (roll < 80) {
          do {
            char text[8];
            std::snprintf(text, sizeof text, "%06d",
                          std::uniform_int_distribution<int>(0, 999999)(rng));
            answer = text;
          } while (step_of_code.count(answer) != 0);
          kind = "wrong";
        } else {
          answer = scratch[std::uniform_int_distribution<int>(0, k_scratch_codes - 1)(rng)];
          kind = "scratch";
        }
        ++kind_count[kind];
        script += std::to_string(phase) + " " + std::to_string(now) + " " + answer + "\n";
      }
    }
    const std::string script_path = w.dir() + "/script." + std::to_string(id);
    w.write_file(script_path, script, 0644, 0, 0);
    outputs.push_back(w.dir() + "/out." + std::to_string(id));
    syslogs.push_back(w.dir() + "/syslog.soak." + std::to_string(id));
    w.write_file(syslogs.back(), "", 0666, 0, 0);

    std::vector<std::string> argv = {PVETOTP_SOAKWORKER_PATH,
                                     "--confdir",
                                     w.confdir(),
                                     "--service",
                                     "soak",
                                     "--user",
                                     "u1",
                                     "--script",
                                     script_path,
                                     "--sync-dir",
                                     sync,
                                     "--id",
                                     std::to_string(id)};
    std::vector<std::string> env = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        std::string("LD_PRELOAD=libnss_wrapper.so:") + PVETOTP_TESTSHIM_PATH_R,
        "NSS_WRAPPER_PASSWD=" + w.dir() + "/passwd",
        "NSS_WRAPPER_GROUP=" + w.dir() + "/group",
        "PVETOTP_TEST_SYSLOG=" + syslogs.back(),
        "PVETOTP_TEST_TIME=" + std::to_string(T)};
    std::vector<char*> args, envp;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, outputs.back().c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    pids.push_back(pid);
  }

  // Phase by phase: release all workers, wait until all are done, move the clock.
  bool stalled = false;
  for (int phase = 0; phase < k_phases && !stalled; ++phase) {
    w.write_file(sync + "/go." + std::to_string(phase), "", 0644, 0, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int id = 0; id < k_workers; ++id) {
      const std::string done = sync + "/done." + std::to_string(id) + "." + std::to_string(phase);
      while (!exists(done)) {
        if (std::chrono::steady_clock::now() > deadline) {
          stalled = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }
  for (pid_t pid : pids) {
    if (stalled) {
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker status " << status;
  }
  ASSERT_FALSE(stalled) << "a worker stopped making progress";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Tally.
  std::map<std::string, int> scratch_accepted, scratch_tried;
  std::map<long long, int> step_accepted;
  std::set<long long> step_tried_in_window;
  int logins = 0, accepted = 0, wrong_accepted = 0, outside_window_accepted = 0, odd_codes = 0;
  for (const auto& out : outputs) {
    for (const auto& line : lines_of(slurp(out))) {
      std::istringstream f(line);
      std::string tag, answer;
      int phase = 0, index = 0, rc = -1;
      f >> tag >> phase >> index >> rc >> answer;
      ++logins;
      if (rc != 0 && rc != 7) {  // PAM_SUCCESS, PAM_AUTH_ERR
        ++odd_codes;
        continue;
      }
      const bool ok = rc == 0;
      accepted += ok;
      const long long current = itest::step_of(phase_time(phase));
      if (answer.size() == 8) {
        ++scratch_tried[answer];
        scratch_accepted[answer] += ok;
      } else if (auto it = step_of_code.find(answer); it != step_of_code.end()) {
        const long long s = it->second;
        const bool in_window = s >= current - 1 && s <= current + 1;
        if (in_window) {
          step_tried_in_window.insert(s);
        } else if (ok) {
          ++outside_window_accepted;
        }
        step_accepted[s] += ok;
      } else if (ok) {
        ++wrong_accepted;
      }
    }
  }
  EXPECT_EQ(logins, k_workers * k_logins_per_worker);
  EXPECT_EQ(odd_codes, 0);
  EXPECT_EQ(wrong_accepted, 0);
  EXPECT_EQ(outside_window_accepted, 0);
  int scratch_used = 0, scratch_double = 0, scratch_never = 0;
  for (const auto& [code, n] : scratch_tried) {
    scratch_used += scratch_accepted[code] == 1;
    scratch_double += scratch_accepted[code] > 1;
    scratch_never += scratch_accepted[code] == 0;
  }
  EXPECT_EQ(scratch_double, 0) << "a scratch code was accepted twice";
  EXPECT_EQ(scratch_never, 0) << "a valid unused scratch code was refused";
  int steps_once = 0, steps_double = 0;
  for (const auto& [s, n] : step_accepted) {
    steps_once += n == 1;
    steps_double += n > 1;
  }
  EXPECT_EQ(steps_double, 0) << "a TOTP step was accepted twice under DISALLOW_REUSE";
  for (long long s : step_tried_in_window) {
    EXPECT_EQ(step_accepted[s], 1) << "step " << s << " was tried inside the window";
  }
  for (const auto& log : syslogs) {
    for (const auto& line : lines_of(slurp(log))) {
      EXPECT_TRUE(line.find("Failed") == std::string::npos &&
                  line.find("Timed out") == std::string::npos)
          << line;
    }
  }

  // The file at the end: parses, same key, exactly the scratch codes never accepted.
  const std::string end = w.read(path);
  auto parsed = totp::secret_file::parse(totp::secret_bytes(end.data(), end.size()), path);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(end.substr(0, S.size() + 1), S + "\n");
  std::set<std::uint32_t> left;
  for (auto c : parsed->scratch_codes())
    left.insert(c);
  std::set<std::uint32_t> want;
  for (const auto& c : scratch) {
    if (scratch_accepted[c] == 0)
      want.insert(static_cast<std::uint32_t>(std::stoul(c)));
  }
  EXPECT_EQ(left, want);
  EXPECT_TRUE(temp_files(w, home).empty());

  std::printf(
      "[soak] %d processes x %d logins = %d logins in %.1f s (%.0f logins/s), %d phases of %d s "
      "(steps %lld..%lld)\n"
      "[soak] mix: %d right, %d replayed, %d expired, %d wrong, %d scratch; %d accepted\n"
      "[soak] TOTP: %d steps accepted exactly once, 0 twice; scratch: %zu distinct codes tried, "
      "%d accepted exactly once, 0 twice; %zu left in the file\n",
      k_workers, k_logins_per_worker, logins, seconds, logins / seconds, k_phases, k_phase_seconds,
      itest::step_of(phase_time(0)), itest::step_of(phase_time(k_phases - 1)), kind_count["right"],
      kind_count["replayed"], kind_count["expired"], kind_count["wrong"], kind_count["scratch"],
      accepted, steps_once, scratch_tried.size(), scratch_used, left.size());
}

}  // namespace
}  // namespace pvetotp::robust
