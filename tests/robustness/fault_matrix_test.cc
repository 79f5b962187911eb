// Issue 7, "Faults: nothing lost": every file-system call a login makes on the secret file, its
// lock file, its temp file and its directory fails in turn with each errno of the issue, in
// every state-changing scenario. The call sites are not hand-listed: a clean run under the
// fault shim's trace yields them, so a new call in state_store.cc is covered (and predicted,
// or the test fails) automatically.
//
// What our code promises, per site, and therefore what is asserted (state_store.cc,
// fs_util.cc, authenticate.cc):
//   * A failure before the rename of a commit, or while opening/locking/reading, denies the
//     login, leaves the file byte-identical to what it was before that transaction, and leaves
//     no temp file. With `allow_readonly` a failed commit is accepted (spec 2.x: codes then
//     become reusable), the file still unchanged.
//   * Retried, hence harmless: EINTR on read, write, fsync and flock; EAGAIN on write and on
//     flock (EAGAIN is EWOULDBLOCK: lock contention, waited out). The login succeeds.
//   * Lock file open failing with EACCES/EROFS: the module locks the secret file itself
//     instead (state_store.h). The login succeeds.
//   * After the rename the new state is in place; a failing directory open/fsync still
//     denies (fail closed) but the file holds the new state, which is the safe direction: a
//     used code stays used. EACCES on the directory open and EROFS on its fsync are ignored
//     (nothing more can be done there) and the login succeeds.
//   * Closing a descriptor that was only read, or after the rename, never matters.
//   * Exactly one log line carries the failure's strerror text, and it names the step:
//     `Failed to read "<path>" for "u1": <strerror>` for the open/lock/read phase (the
//     google-authenticator wording, spec 3.1) and `Failed to update secret file "<path>":
//     <call>("<file>"): <strerror>` for a commit. A tolerated fault is not logged at all.
//   * The user sees `Error "<strerror>" while writing config` for a failed commit with
//     EPERM/ENOSPC/EROFS/EIO/EDQUOT (spec M5/M6), and never otherwise.
// One deviation is pinned down rather than hidden: when the commit's stat() of the secret
// path fails, state_store reports "was replaced by another program" without the errno (see
// k_stat_in_commit_gap below).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "robust_common.h"

namespace pvetotp::robust {
namespace {

const std::string S = itest::k_secret;
constexpr long long T = itest::k_t0;

const std::vector<std::pair<const char*, int>> k_errnos = {
    {"ENOSPC", ENOSPC}, {"EIO", EIO},     {"EROFS", EROFS},  {"EDQUOT", EDQUOT},
    {"EACCES", EACCES}, {"EINTR", EINTR}, {"EAGAIN", EAGAIN}};

struct scenario {
  std::string name;
  std::string options;  // module options
  std::string original;
  std::string answer;
  // Content after each transaction's commit (same as before when it commits nothing).
  std::string after_tx1;
  std::string after_tx2;
  bool fresh_lock = false;  // remove the .lock before each run: the first-login path
};

enum class kind { secret, lock, temp, dir, old_secret };

struct site_info {
  call_site site;
  kind what = kind::secret;
  int transaction = 0;        // 1 or 2
  bool in_commit = false;     // from the temp file's creation to the end of the transaction
  bool after_rename = false;  // the new file is already in place
  bool best_effort = false;   // a call whose failure the code ignores on purpose
};

enum class outcome { denied, accepted };

struct prediction {
  outcome result = outcome::denied;
  bool file_is_new = false;      // the failing transaction's new state is in place
  bool transaction_done = true;  // (accepted) all transactions committed normally
  bool logged = true;            // one log line carries strerror(e)
  // "read": the line is `Failed to read "<path>" for "u1": <strerror>`; otherwise the call
  // that must follow `Failed to update secret file "<path>": `, e.g. `write("`. When nothing
  // carries the errno (logged == false), a text that must be logged instead, if any.
  std::string step;
  bool user_error = false;  // `Error "..." while writing config` shown
};

kind kind_of(const std::string& path, const std::string& home) {
  if (path == home) {
    return kind::dir;
  }
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".lock") == 0) {
    return kind::lock;
  }
  // A named temp file `<secret>~XXXXXX`, or the unnamed one (O_TMPFILE), which
  // /proc/self/fd shows as "<dir>/#<inode> (deleted)" until it is linked.
  if (path.find('~') != std::string::npos || path.find("/#") != std::string::npos) {
    return kind::temp;
  }
  if (path.find("(deleted)") != std::string::npos) {
    return kind::old_secret;
  }
  return kind::secret;
}

const char* kind_name(kind k) {
  switch (k) {
    case kind::secret:
      return "secret";
    case kind::lock:
      return "lock";
    case kind::temp:
      return "temp";
    case kind::dir:
      return "dir";
    case kind::old_secret:
      return "old-secret";
  }
  return "?";
}

// Walks a clean run's trace: a transaction starts with the stat() of the secret path (outside
// a commit) and ends when the lock file is closed.
std::vector<site_info> annotate(const std::vector<call_site>& sites, const std::string& home) {
  std::vector<site_info> out;
  int transaction = 0;
  bool in_commit = false;
  bool after_rename = false;
  for (const auto& s : sites) {
    site_info info{s, kind_of(s.path, home)};
    if (s.family == "stat" && info.what == kind::secret && !in_commit) {
      ++transaction;
    }
    // A commit starts with its temp file: mkostemp, or the O_TMPFILE open of the directory
    // (the only open of the directory before the rename).
    if (s.family == "mkstemp" || (s.family == "open" && info.what == kind::dir && !after_rename)) {
      in_commit = true;
    }
    info.transaction = transaction;
    info.in_commit = in_commit;
    info.after_rename = after_rename;
    if (s.family == "rename") {
      after_rename = true;
    }
    // A lock file created by this login is fstat()ed twice: first to hand it to the secret
    // file's owner (best effort, state_store.cc open_lock_file), then to check it.
    if (!out.empty() && s.family == "fstat" && info.what == kind::lock &&
        out.back().site.family == "fstat" && out.back().what == kind::lock) {
      out.back().best_effort = true;
    }
    out.push_back(info);
    if (s.family == "close" && info.what == kind::lock) {
      in_commit = false;
      after_rename = false;
    }
  }
  return out;
}

// The commit's own stat() of the secret path (the "replaced while locked" check) turns any
// failure into error_code::changed without errno; pinned here so a fix shows up as a change.
bool stat_in_commit_gap(const site_info& s) {
  return s.site.family == "stat" && s.in_commit && !s.after_rename;
}

prediction predict(const site_info& s, int err, bool readonly) {
  prediction p;
  const std::string& f = s.site.family;
  const auto accept_quietly = [&] {
    p.result = outcome::accepted;
    p.logged = false;
    return p;
  };
  if (s.best_effort) {
    return accept_quietly();
  }
  // Descriptors closed after use: results ignored.
  if (f == "close" && !(s.what == kind::temp && s.in_commit && !s.after_rename)) {
    return accept_quietly();
  }
  if (!s.in_commit) {
    // Opening, locking, reading.
    if ((f == "read" || f == "flock") && err == EINTR) {
      return accept_quietly();
    }
    if (f == "flock" && err == EAGAIN) {
      return accept_quietly();
    }
    if (f == "open" && s.what == kind::lock && (err == EACCES || err == EROFS)) {
      return accept_quietly();
    }
    p.step = "read";
    return p;
  }
  if (!s.after_rename) {
    if ((f == "write" && (err == EINTR || err == EAGAIN)) || (f == "fsync" && err == EINTR)) {
      return accept_quietly();
    }
    static const std::map<std::string, std::string> call = {
        {"mkstemp", "mkostemp(\""}, {"write", "write(\""},   {"fstat", "fstat(\""},
        {"fchmod", "fchmod(\""},    {"fchown", "fchown(\""}, {"fsync", "fsync(\""},
        {"fcntl", "fcntl(\""},      {"close", "close(\""},   {"rename", "rename(\""},
        {"stat", "stat(\""},        {"open", "open(\""},     {"linkat", "linkat(\""}};
    auto it = call.find(f);
    p.step = it == call.end() ? f + "(\"" : it->second;
    if (stat_in_commit_gap(s)) {
      p.step = "was replaced by another program while it was locked";
      p.logged = false;  // no strerror anywhere
    }
    p.user_error = !stat_in_commit_gap(s) &&
                   (err == EPERM || err == ENOSPC || err == EROFS || err == EIO || err == EDQUOT);
    if (readonly) {
      p.result = outcome::accepted;
      p.transaction_done = false;
    }
    return p;
  }
  // After the rename: the directory sync.
  if ((f == "open" && s.what == kind::dir && err == EACCES) ||
      (f == "fsync" && s.what == kind::dir && (err == EINTR || err == EROFS))) {
    return accept_quietly();
  }
  p.file_is_new = true;
  p.step = f + "(\"";
  p.user_error = err == EPERM || err == ENOSPC || err == EROFS || err == EIO || err == EDQUOT;
  if (readonly) {
    p.result = outcome::accepted;
  }
  return p;
}

class fault_matrix : public testing::Test {
 protected:
  void SetUp() override {
    PVETOTP_REQUIRE_ROOT();
    w_ = std::make_unique<world>(itest::impl::ours);
    preload_fault_shim(*w_);
    home_ = w_->user("u1").home;
    trace_ = w_->dir() + "/fault.trace";
    log_ = w_->dir() + "/fault.log";
  }

  run_result login(const scenario& sc, const std::string& fault) {
    w_->write_secret(sc.original);
    if (sc.fresh_lock) {
      ::unlink((w_->secret_path() + ".lock").c_str());
    }
    w_->write_file(trace_, "", 0666, 0, 0);
    w_->write_file(log_, "", 0666, 0, 0);
    w_->set_env("PVETOTP_FAULT", fault);
    w_->set_env("PVETOTP_FAULT_LOG", log_);
    w_->set_env("PVETOTP_FAULT_TRACE", trace_);
    w_->set_env("PVETOTP_FAULT_TRACE_MATCH", home_);
    run_options o;
    o.service = sc.name;
    o.answers = {sc.answer};
    o.time = T;
    return w_->run(o);
  }

  // Runs one scenario through the whole matrix; returns the number of runs.
  int run_matrix(const scenario& sc) {
    w_->service(sc.name, sc.options);
    const bool readonly = sc.options.find("allow_readonly") != std::string::npos;
    // Two clean runs: the first may create the lock file, the second is the steady state.
    login(sc, "");
    auto clean = login(sc, "");
    EXPECT_EQ(clean.code, 0) << clean.dump();
    EXPECT_EQ(w_->read(w_->secret_path()), sc.after_tx2) << sc.name;
    const auto sites = annotate(parse_trace(slurp(trace_), home_), home_);
    // The sites the promises above are about must all be there, or the trace is broken.
    const auto has = [&](const std::string& family, kind k) {
      return std::any_of(sites.begin(), sites.end(), [&](const site_info& s) {
        return s.site.family == family && s.what == k;
      });
    };
    for (auto [family, k] : std::vector<std::pair<std::string, kind>>{{"open", kind::lock},
                                                                      {"flock", kind::lock},
                                                                      {"open", kind::secret},
                                                                      {"read", kind::secret},
                                                                      {"open", kind::dir},
                                                                      {"linkat", kind::temp},
                                                                      {"write", kind::temp},
                                                                      {"fsync", kind::temp},
                                                                      {"rename", kind::temp},
                                                                      {"fsync", kind::dir}}) {
      EXPECT_TRUE(has(family, k)) << sc.name << ": no " << family << " on the " << kind_name(k)
                                  << " in the trace:\n"
                                  << slurp(trace_);
    }

    int runs = 0, denied = 0, accepted = 0, mismatches = 0;
    std::string table;
    for (const auto& s : sites) {
      std::string row = "  " + std::to_string(s.transaction) + " " + s.site.family + "#" +
                        std::to_string(s.site.nth) + " " + kind_name(s.what) +
                        (s.after_rename ? " (after rename)" : "") +
                        (s.best_effort ? " (best effort)" : "") + ":";
      for (const auto& [errno_name, err] : k_errnos) {
        const std::string rule =
            s.site.family + ":" + std::to_string(s.site.nth) + ":" + errno_name + ":" + home_;
        auto r = login(sc, rule);
        ++runs;
        const prediction p = predict(s, err, readonly);
        const std::string where = sc.name + " " + rule;
        bool ok = true;
        const auto check = [&](bool condition, const std::string& what) {
          if (!condition) {
            ok = false;
            ADD_FAILURE() << where << ": " << what << "\n" << r.dump();
          }
        };

        const auto injected = lines_of(slurp(log_));
        check(injected.size() == 1, "fault injected " + std::to_string(injected.size()) +
                                        " times, want 1: the site was not reached");
        const bool success = r.code == 0;
        check(success == (p.result == outcome::accepted),
              std::string("login ") + (success ? "accepted" : "denied") + ", predicted " +
                  (p.result == outcome::accepted ? "accepted" : "denied"));
        (success ? accepted : denied) += 1;

        // The file: before the failing transaction, or its new state, or the final one. The
        // read before the prompt is an unlocked snapshot unless the file has a RATE_LIMIT to
        // count; when it writes nothing, every site belongs to the writing transaction.
        const int tx = sc.after_tx1 != sc.original ? s.transaction : 2;
        const std::string before = tx <= 1 ? sc.original : sc.after_tx1;
        const std::string after = tx <= 1 ? sc.after_tx1 : sc.after_tx2;
        std::string want;
        if (p.result == outcome::accepted && p.transaction_done) {
          want = sc.after_tx2;
        } else if (p.file_is_new) {
          want = after;
        } else {
          want = before;
        }
        check(w_->read(w_->secret_path()) == want,
              "secret file is not the expected state:\n" + w_->read(w_->secret_path()));
        check(temp_files(*w_, home_).empty(), "temp file left behind");

        const std::string text = std::strerror(err);
        int carrying = 0;
        std::string line;
        for (const auto& l : r.syslog) {
          if (l.find(text) != std::string::npos) {
            ++carrying;
            line = l;
          }
        }
        if (p.logged) {
          check(carrying == 1,
                "want exactly one log line with \"" + text + "\", got " + std::to_string(carrying));
          const std::string needle =
              p.step == "read"
                  ? "Failed to read \"" + w_->secret_path() + "\" for \"u1\": " + text
                  : "Failed to update secret file \"" + w_->secret_path() + "\": " + p.step;
          check(line.find(needle) != std::string::npos,
                "the log line does not name the step (" + needle + "): " + line);
        } else {
          check(carrying == 0, "a tolerated or unexplained fault was logged with its errno");
          if (!p.step.empty()) {
            check(r.logged(p.step), "want a log line with \"" + p.step + "\"");
          }
        }
        check(r.shown("ERROR_MSG", "while writing config") == p.user_error,
              std::string("user error message ") + (p.user_error ? "missing" : "unexpected"));
        if (!ok) {
          ++mismatches;
        }
        row += std::string(" ") + errno_name + "=" + (success ? "ok" : "deny");
      }
      table += row + "\n";
    }
    std::printf(
        "[fault matrix] %s: %zu call sites x %zu errnos = %d runs: %d denied, %d "
        "accepted, %d mismatching the prediction\n%s",
        sc.name.c_str(), sites.size(), k_errnos.size(), runs, denied, accepted, mismatches,
        table.c_str());
    std::fflush(stdout);
    return runs;
  }

  std::unique_ptr<world> w_;
  std::string home_, trace_, log_;
};

TEST_F(fault_matrix, every_call_site_every_errno_every_state_change) {
  const auto started = std::chrono::steady_clock::now();
  const std::string code = itest::totp(T);
  const std::string rl_after = S + "\n\" RATE_LIMIT 3 30 " + std::to_string(T) + "\n\" TOTP_AUTH\n";
  const std::vector<scenario> scenarios = {
      {"totp_disallow_reuse", "", S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n", code,
       S + "\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n",
       S + "\n\" DISALLOW_REUSE " + std::to_string(itest::step_of(T)) + "\n\" TOTP_AUTH\n"},
      {"hotp", "", S + "\n\" HOTP_COUNTER 1\n", itest::hotp(1), S + "\n\" HOTP_COUNTER 1\n",
       S + "\n\" HOTP_COUNTER 2\n"},
      {"scratch", "", S + "\n\" TOTP_AUTH\n12345678\n87654321\n", "12345678",
       S + "\n\" TOTP_AUTH\n12345678\n87654321\n", S + "\n\" TOTP_AUTH\n87654321\n"},
      {"scratch_first_login", "", S + "\n\" TOTP_AUTH\n12345678\n87654321\n", "12345678",
       S + "\n\" TOTP_AUTH\n12345678\n87654321\n", S + "\n\" TOTP_AUTH\n87654321\n", true},
      {"rate_limit", "", S + "\n\" RATE_LIMIT 3 30\n\" TOTP_AUTH\n", code, rl_after, rl_after},
      {"scratch_allow_readonly", "allow_readonly", S + "\n\" TOTP_AUTH\n12345678\n87654321\n",
       "12345678", S + "\n\" TOTP_AUTH\n12345678\n87654321\n", S + "\n\" TOTP_AUTH\n87654321\n"},
  };
  int total = 0;
  for (const auto& sc : scenarios) {
    total += run_matrix(sc);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[fault matrix] total: %d faulted logins in %zu scenarios, %.1f s\n", total,
              scenarios.size(), seconds);
}

}  // namespace
}  // namespace pvetotp::robust
