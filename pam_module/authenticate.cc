// The flow follows google-authenticator's (spec ga-compat 3.1) with two locked transactions
// instead of one unlocked read-modify-write:
//
//   1. options -> user -> filters (PAM_IGNORE when out of scope: no prompt, no file access)
//   2. drop to the file owner's identity
//   3. transaction 1 (locked): read, rate limit, persist the attempt
//   4. grace period, rate-limit refusal, nullok
//   5. code from PAM_AUTHTOK (try/use_first_pass) and/or the prompt, with no lock held while
//      the user types
//   6. transaction 2 (locked): re-read, verify, persist; a failed write denies
//
// Re-reading in step 6 is what makes a scratch code or a TOTP step single-use under
// parallel logins: the decision is made on the state as it is when the lock is held.
#include "authenticate.h"

#include <pwd.h>
#include <security/pam_ext.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conversation.h"
#include "filter.h"
#include "log.h"
#include "options.h"
#include "privileges.h"
#include "secret_path.h"
#include "totp/code_input.h"
#include "totp/secret_file.h"
#include "totp/state_store.h"
#include "totp/verifier.h"

namespace pvetotp {
namespace {

using totp::error_code;

// A passwd entry with the storage its strings point into. The buffer is not zero-filled
// (getpw*_r writes what it uses) and starts at glibc's usual need, so a lookup costs the
// lookup and not a 4 KiB memset.
struct account_entry {
  struct passwd pw {};
  std::unique_ptr<char[]> buffer;
};

template <class Lookup>
std::optional<account_entry> lookup_account(Lookup lookup) {
  for (std::size_t size = 1024; size <= (1u << 20); size *= 2) {
    account_entry entry;
    entry.buffer = std::make_unique_for_overwrite<char[]>(size);
    struct passwd* found = nullptr;
    const int rc = lookup(&entry.pw, entry.buffer.get(), size, &found);
    if (rc == ERANGE)
      continue;
    if (rc != 0 || found == nullptr)
      return std::nullopt;
    return entry;
  }
  return std::nullopt;
}

std::optional<account_entry> lookup_by_name(const std::string& name) {
  return lookup_account([&](struct passwd* pw, char* buf, std::size_t size, struct passwd** out) {
    return getpwnam_r(name.c_str(), pw, buf, size, out);
  });
}

std::optional<account_entry> lookup_by_uid(uid_t uid) {
  return lookup_account([&](struct passwd* pw, char* buf, std::size_t size, struct passwd** out) {
    return getpwuid_r(uid, pw, buf, size, out);
  });
}

std::optional<std::string> item_string(pam_handle_t* pamh, int type) {
  const void* item = nullptr;
  if (pam_get_item(pamh, type, &item) != PAM_SUCCESS || item == nullptr)
    return std::nullopt;
  return std::string(static_cast<const char*>(item));
}

std::uint64_t now_seconds() {
  const std::time_t t = std::time(nullptr);
  return t < 0 ? 0 : static_cast<std::uint64_t>(t);
}

std::string in_quotes(const std::string& text) {
  return "\"" + text + "\"";
}

// A string the code may be taken from (spec 3.2): PAM_AUTHTOK may carry a password prefix;
// a prompt answer may not, unless forward_pass.
struct code_source {
  const totp::secret_bytes* input;
  bool from_prompt;
};

enum class verdict { accepted, rejected };

class authentication {
 public:
  authentication(pam_handle_t* pamh, int flags, const module_options& options, logger& log)
      : pamh_(pamh), silent_((flags & PAM_SILENT) != 0), options_(options), log_(log) {}

  int run();

 private:
  int decide();
  // The name for log lines. A name with no account is not logged (unless `debug`): it is
  // often a password typed into the user field.
  std::string logged_user() const {
    if (pam_user_known() || options_.has_fixed_user() || log_.debug_enabled())
      return user_;
    return have_user_ ? "(unknown user)" : "(null)";
  }
  bool resolve_account_and_path();
  totp::open_policy file_policy() const;
  void log_open_failure(const totp::error& err);
  bool write_failure_denies(const totp::error& err);
  void transaction_before_prompt();
  // One decision over the candidate sources, on `state` (edited in place), with its log
  // lines collected so that a decision made twice (optimistic, then locked) logs once.
  static constexpr int kDebugLine = -1;
  struct evaluation {
    bool accepted = false;
    bool pending = false;  // nothing matched and more input may follow
    std::size_t prefix = 0;
    const totp::secret_bytes* input = nullptr;
    std::vector<std::pair<int, std::string>> lines;
  };
  // `session`: one already begun on this very state, or null to begin one here.
  evaluation evaluate(totp::secret_file& state, const std::vector<code_source>& sources,
                      bool last_round, std::uint64_t now,
                      totp::verification_session* session = nullptr) const;
  verdict conclude(const evaluation& e, bool written);
  totp::verify_options verify_policy() const;
  // The log line for a snapshot whose verification session could not begin: the first part
  // of the file at fault, in the reference's order (secret, DIGITS, ALGORITHM).
  std::string unusable_secret_reason(const totp::error& begin_error) const;
  verdict transaction_verify(const std::vector<code_source>& sources, bool last_round);
  std::optional<totp::secret_bytes> prompt_for_code();

  pam_handle_t* pamh_;
  bool silent_;
  const module_options& options_;
  logger& log_;

  std::string user_;
  bool have_user_ = false;
  std::string service_;
  std::optional<std::string> rhost_;
  std::optional<account_entry> account_;  // the PAM user
  std::optional<account_entry> owner_;    // the identity used for file access
  bool pam_user_is_owner_ = false;        // owner_ is the PAM user's entry (account_ moved)
  bool pam_user_known() const { return account_.has_value() || pam_user_is_owner_; }
  std::optional<std::string> path_;

  // Results of the first transaction.
  std::optional<totp::secret_file> snapshot_;
  // The unlocked read behind snapshot_, kept open so that checking it is still current
  // costs one fstat; empty when the snapshot came from a locked read (RATE_LIMIT).
  std::optional<totp::locked_file> snapshot_file_;
  // Begun on snapshot_ when its secret was validated, for the optimistic decision.
  std::optional<totp::verification_session> snapshot_session_;
  bool usable_secret_ = false;
  bool missing_nullok_ = false;
  bool deny_without_prompt_ = false;
  bool rate_limited_ = false;
  int code_digits_ = 6;

  // Results of verification.
  bool hotp_candidate_failed_ = false;
  std::size_t accepted_prefix_ = 0;
  const totp::secret_bytes* accepted_input_ = nullptr;
};

totp::open_policy authentication::file_policy() const {
  totp::open_policy policy;
  if (!options_.no_strict_owner)
    policy.required_owner = owner_->pw.pw_uid;
  policy.allowed_permissions = options_.allowed_permissions;
  // Paths under /etc/pve get the pmxcfs rules (mount check, cluster lock); others are
  // unaffected (see totp::cluster_store).
  policy.cluster = totp::cluster_store{};
  return policy;
}

void authentication::log_open_failure(const totp::error& err) {
  switch (err.code) {
    case error_code::not_found:
    case error_code::io:
      if (err.message.rfind(totp::cluster_error_prefix, 0) == 0) {
        // Not mounted / no quorum: the cause is in the message, strerror alone misleads.
        log_.error(err.message + "; denying " + in_quotes(user_));
        break;
      }
      log_.error("Failed to read " + in_quotes(*path_) + " for " + in_quotes(user_) + ": " +
                 (err.sys_errno != 0 ? std::string(strerror(err.sys_errno)) : err.message));
      break;
    case error_code::bad_owner:
      if (options_.has_fixed_user())
        log_.error("Secret file " + in_quotes(*path_) + " must be owned by user id " +
                   std::to_string(owner_->pw.pw_uid));
      else
        log_.error("Secret file " + in_quotes(*path_) + " must be owned by " + in_quotes(user_));
      break;
    default:
      log_.error(err.message);
  }
}

bool authentication::write_failure_denies(const totp::error& err) {
  log_.error("Failed to update secret file " + in_quotes(*path_) + ": " + err.message);
  switch (err.sys_errno) {
    case EPERM:
    case ENOSPC:
    case EROFS:
    case EIO:
    case EDQUOT:
      tell_user_error(
          pamh_, silent_,
          std::string("Error \"") + strerror(err.sys_errno) + "\" while writing config");
      break;
    default:
      break;
  }
  if (options_.allow_readonly) {
    log_.warning("allow_readonly: accepting although the new state of " + in_quotes(*path_) +
                 " was not saved");
    return false;
  }
  return true;
}

// Finds whose identity the file is accessed with and where it is. False: deny at once
// (configuration error, as the reference does for a failed user= lookup).
bool authentication::resolve_account_and_path() {
  if (options_.fixed_uid) {
    owner_ = lookup_by_uid(*options_.fixed_uid);
    if (!owner_) {
      log_.error("Cannot look up user id " + std::to_string(*options_.fixed_uid));
      return false;
    }
  } else if (options_.fixed_user) {
    owner_ = lookup_by_name(*options_.fixed_user);
    if (!owner_) {
      log_.error("Failed to look up user " + in_quotes(*options_.fixed_user));
      return false;
    }
  } else if (account_) {
    owner_ = std::move(account_);  // the PAM user owns its own file
    account_.reset();
    pam_user_is_owner_ = true;
  }

  if (!have_user_)
    return true;  // no path: prompt and fail
  if (!options_.has_fixed_user() && !pam_user_known()) {
    // Unknown user: prompt anyway so the answer does not reveal which accounts exist. The
    // name is not logged unless debugging: it may be a password typed into the wrong field.
    log_.error("Unknown user, asking for a code anyway");
    log_.debug([&] { return "user(" + in_quotes(user_) + ") not found"; });
    return true;
  }
  std::optional<std::string> home;
  if (!options_.has_fixed_user())
    home = std::string(owner_->pw.pw_dir ? owner_->pw.pw_dir : "");
  auto expanded = expand_secret_path(options_.secret_template, user_, home);
  if (!expanded) {
    log_.error(expanded.error().message);
    return true;
  }
  path_ = std::move(expanded).value();
  return true;
}

void authentication::transaction_before_prompt() {
  // Read without the lock first: writers replace the file by rename, so this is always one
  // complete version, and most files (no RATE_LIMIT) need nothing written before the prompt.
  totp::open_policy snapshot_policy = file_policy();
  snapshot_policy.lock = false;
  auto file = totp::locked_file::open(*path_, snapshot_policy);
  if (!file) {
    if (file.error().code == error_code::not_found && options_.nullok) {
      missing_nullok_ = true;
      return;
    }
    log_open_failure(file.error());
    return;
  }
  log_.debug([&] { return in_quotes(*path_) + " read"; });
  auto parsed = totp::secret_file::parse(file->content().clone(), *path_);
  if (!parsed) {
    log_.error(parsed.error().message);
    return;
  }
  if (!parsed->option("RATE_LIMIT")) {
    snapshot_ = std::move(parsed).value();
    snapshot_file_ = std::move(file).value();
    return;
  }

  // RATE_LIMIT: count this attempt under the lock, on the state as it is now, and persist it
  // before anybody is prompted. This is what makes the limit hold for parallel logins (the
  // reference counts in memory and writes at the end, if at all).
  auto locked = totp::locked_file::open(*path_, file_policy());
  if (!locked) {
    log_open_failure(locked.error());
    deny_without_prompt_ = true;
    return;
  }
  parsed = totp::secret_file::parse(locked->content().clone(), *path_);
  if (!parsed) {
    log_.error(parsed.error().message);
    return;
  }
  auto decision = totp::apply_rate_limit(*parsed, now_seconds());
  if (!decision) {
    log_.error(decision.error().message);
    deny_without_prompt_ = true;
  } else if (*decision != totp::rate_limit_decision::not_configured) {
    if (auto saved = locked->commit(parsed->bytes().span()); !saved) {
      if (write_failure_denies(saved.error()))
        deny_without_prompt_ = true;
    }
    rate_limited_ = *decision == totp::rate_limit_decision::exceeded;
  }
  snapshot_ = std::move(parsed).value();  // no snapshot_file_: verification takes the lock
}

std::optional<totp::secret_bytes> authentication::prompt_for_code() {
  const std::string text = options_.prompt         ? *options_.prompt
                           : options_.forward_pass ? "Password & verification code: "
                                                   : "Verification code: ";
  const int style = options_.echo_code ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF;
  auto answer = ask_user(pamh_, style, text);
  if (!answer) {
    // The reference asks once more when the conversation fails (spec 3.2, L3/L4).
    log_.error("Did not receive verification code from user");
    answer = ask_user(pamh_, style, text);
    if (!answer)
      log_.error("Did not receive verification code from user");
  } else if (answer->empty()) {
    log_.error("Did not receive verification code from user");
  }
  return answer;
}

std::string authentication::unusable_secret_reason(const totp::error& begin_error) const {
  auto key = snapshot_->key();
  if (!key)
    return key.error().message;
  if (key->empty())
    return "Could not find a valid BASE32 encoded secret in " + in_quotes(*path_);
  if (auto digits = snapshot_->digits(); !digits)
    return digits.error().message;
  if (auto algorithm = snapshot_->algorithm(); !algorithm)
    return algorithm.error().message;
  return begin_error.message;
}

totp::verify_options authentication::verify_policy() const {
  totp::verify_options policy;
  policy.skew_adjust = options_.skew_adjust;
  policy.increment_hotp_on_failure = options_.increment_hotp_on_failure;
  return policy;
}

authentication::evaluation authentication::evaluate(totp::secret_file& state,
                                                    const std::vector<code_source>& sources,
                                                    bool last_round, std::uint64_t now,
                                                    totp::verification_session* session) const {
  evaluation e;
  std::optional<totp::verification_session> begun;
  if (session == nullptr) {
    auto started = totp::verification_session::begin(state, now, verify_policy());
    if (!started) {
      e.lines.push_back({LOG_ERR, started.error().message});
      return e;
    }
    begun = std::move(started).value();
    session = &*begun;
  }
  session->set_now(now);
  bool stop = false;
  for (const code_source& source : sources) {
    if (stop)
      break;
    const std::string_view text = source.input->view();
    if (totp::is_openssh_dummy_password(text))
      e.lines.push_back(
          {LOG_INFO,
           "Dummy password supplied by PAM. Did OpenSSH 'PermitRootLogin <anything but yes>' or "
           "some other config block this login?"});
    // Each source is tried as a TOTP/HOTP code, then as an 8-digit scratch code.
    for (const bool scratch : {false, true}) {
      const int length = scratch ? 8 : session->digits();
      auto candidate = totp::split_code_input(text, length, scratch);
      if (!candidate)
        continue;
      if (source.from_prompt && !options_.forward_pass && candidate->prefix_length != 0)
        continue;
      const totp::check_result checked = session->try_code(state, candidate->value, length);
      if (checked.skew_candidate_found)
        e.lines.push_back({kDebugLine, "time skew adjusted"});
      if (checked.outcome == totp::check_outcome::rejected)
        continue;
      stop = true;
      if (checked.outcome == totp::check_outcome::accepted) {
        e.accepted = true;
        e.prefix = candidate->prefix_length;
        e.input = source.input;
        if (checked.method == totp::accept_method::scratch)
          e.lines.push_back(
              {kDebugLine, "scratch code used and removed from " + in_quotes(*path_)});
      } else if (checked.problem) {
        e.lines.push_back({LOG_ERR, checked.problem->message});
      }
      break;
    }
  }
  if (!e.accepted && !stop && !last_round) {
    e.pending = true;  // more input may follow: decide nothing, write nothing
    return e;
  }
  if (!e.accepted)
    session->finish(state);  // HOTP: a failed session advances the counter
  if (e.accepted && options_.grace_period != 0 && rhost_) {
    if (auto recorded = totp::record_grace_login(state, *rhost_, now); !recorded)
      e.lines.push_back({LOG_ERR, "Failed to store grace_period timestamp in config: " +
                                      recorded.error().message});
  }
  return e;
}

verdict authentication::conclude(const evaluation& e, bool written) {
  for (const auto& [priority, text] : e.lines) {
    if (priority == kDebugLine)
      log_.debug(text);
    else if (priority == LOG_ERR)
      log_.error(text);
    else
      log_.info(text);
  }
  if (written)
    log_.debug([&] { return in_quotes(*path_) + " written"; });
  else if (!e.accepted && !e.pending)
    log_.debug([&] { return "no scratch code used from " + in_quotes(*path_); });
  if (e.accepted) {
    accepted_prefix_ = e.prefix;
    accepted_input_ = e.input;
    return verdict::accepted;
  }
  return verdict::rejected;
}

verdict authentication::transaction_verify(const std::vector<code_source>& sources,
                                           bool last_round) {
  const std::uint64_t now = now_seconds();  // read after the prompt: the user took time

  // Optimistic path: most logins change nothing (a TOTP code without DISALLOW_REUSE, or a
  // wrong code). Decide on the snapshot; if that needs no write and the file is still the
  // version we read, the decision is the one the locked path would make, without taking the
  // lock or reading again. Anything that writes (scratch code, reuse list, HOTP counter, skew
  // evidence, grace entry) goes through the lock and is decided again on the fresh state.
  if (snapshot_ && snapshot_file_) {
    auto copy = totp::secret_file::parse(snapshot_->bytes().clone(), *path_);
    if (copy) {
      // The session begun on the snapshot before the prompt (keyed once) serves this one
      // decision; a session remembers failed HOTP candidates, so it is not used twice.
      std::optional<totp::verification_session> prepared = std::move(snapshot_session_);
      snapshot_session_.reset();
      evaluation e = evaluate(*copy, sources, last_round, now, prepared ? &*prepared : nullptr);
      if ((e.pending || !copy->modified()) && snapshot_file_->still_current()) {
        if (last_round)
          snapshot_file_.reset();
        return conclude(e, false);
      }
    }
  }
  // Closed before the locked read: the rename of a commit should free the old inode, not
  // leave it to our close later.
  snapshot_file_.reset();

  auto file = totp::locked_file::open(*path_, file_policy());
  if (!file) {
    log_open_failure(file.error());
    return verdict::rejected;
  }
  auto parsed = totp::secret_file::parse(file->content().clone(), *path_);
  if (!parsed) {
    log_.error(parsed.error().message);
    return verdict::rejected;
  }
  totp::secret_file& state = *parsed;
  evaluation e = evaluate(state, sources, last_round, now);
  bool written = false;
  if (!e.pending && state.modified()) {
    if (auto saved = file->commit(state.bytes().span()); !saved) {
      conclude(e, false);
      if (write_failure_denies(saved.error()))
        return verdict::rejected;
      return e.accepted ? verdict::accepted : verdict::rejected;
    }
    written = true;
  }
  return conclude(e, written);
}

int authentication::decide() {
  if (const char* name = nullptr; pam_get_user(pamh_, &name, nullptr) == PAM_SUCCESS && name) {
    user_ = name;
    have_user_ = true;
  } else {
    log_.error("pam_get_user() failed to get a user name when checking verification code");
  }
  service_ = item_string(pamh_, PAM_SERVICE).value_or("");
  rhost_ = item_string(pamh_, PAM_RHOST);
  log_.debug([&] { return "start of pam_pvetotp " PVETOTP_VERSION " for " + in_quotes(user_); });

  // With user= the PAM user's own entry matters only to a groups= filter.
  if (have_user_ && (!options_.has_fixed_user() || options_.groups))
    account_ = lookup_by_name(user_);
  if (have_user_ && (options_.users || options_.groups || options_.services)) {
    const filter_decision filter =
        evaluate_filters(options_, user_, service_, account_ ? &account_->pw : nullptr);
    for (const std::string& warning : filter.warnings)
      log_.warning(warning);
    if (!filter.applies) {
      log_.debug([&] { return "skipped for " + in_quotes(user_) + ": " + filter.reason; });
      return PAM_IGNORE;
    }
  }

  if (!resolve_account_and_path())
    return PAM_AUTH_ERR;

  privilege_guard privileges;
  if (path_ && owner_) {
    if (!privileges.drop_to(owner_->pw)) {
      log_.error("Failed to change user id to " + in_quotes(owner_->pw.pw_name));
      return PAM_AUTH_ERR;
    }
    transaction_before_prompt();
  }
  const int result = [&] {
    if (snapshot_ && options_.grace_period != 0 && rhost_ &&
        totp::within_grace_period(*snapshot_, *rhost_, now_seconds(), options_.grace_period)) {
      log_.info("within grace period: " + in_quotes(user_));
      return PAM_SUCCESS;
    }
    if (missing_nullok_)
      return PAM_IGNORE;
    if (rate_limited_) {
      log_.error("Too many concurrent login attempts (" + in_quotes(*path_) +
                 "). Please try again.");
      return PAM_AUTH_ERR;
    }
    if (deny_without_prompt_)
      return PAM_AUTH_ERR;

    if (snapshot_) {
      // Begin the verification session now: it validates the secret, DIGITS and ALGORITHM
      // and keys HMAC once, and the decision after the prompt reuses it.
      if (auto session = totp::verification_session::begin(*snapshot_, 0, verify_policy())) {
        code_digits_ = session->digits();
        usable_secret_ = true;
        if (snapshot_file_)
          snapshot_session_ = std::move(session).value();
        log_.debug([&] { return "shared secret in " + in_quotes(*path_) + " processed"; });
      } else {
        log_.error(unusable_secret_reason(session.error()));
      }
    }
    if (!usable_secret_)
      log_.warning("No secret configured for user " + logged_user() + ", asking for code anyway.");
    log_.debug([&] { return "pam_pvetotp for host " + in_quotes(rhost_.value_or("(null)")); });

    verdict outcome = verdict::rejected;
    std::optional<totp::secret_bytes> authtok;
    if (options_.use_first_pass || options_.try_first_pass)
      authtok = current_authtok(pamh_);
    const bool may_prompt = !options_.use_first_pass;
    bool stop_before_prompt = false;

    if (authtok) {
      if (usable_secret_) {
        outcome = transaction_verify({{&*authtok, false}}, !may_prompt);
      } else if (totp::split_code_input(authtok->view(), code_digits_, false)) {
        // The reference stops here without prompting when there is no secret and
        // PAM_AUTHTOK already looks like a code (spec 3.2, last quirk).
        stop_before_prompt = true;
      }
    }
    std::optional<totp::secret_bytes> answer;
    if (outcome != verdict::accepted && may_prompt && !stop_before_prompt) {
      answer = prompt_for_code();
      if (answer && usable_secret_)
        outcome = transaction_verify({{&*answer, true}}, true);
    }

    if (outcome == verdict::accepted && options_.forward_pass && accepted_input_ != nullptr) {
      const std::string prefix(accepted_input_->view().substr(0, accepted_prefix_));
      const int rc = pam_set_item(pamh_, PAM_AUTHTOK, prefix.c_str());
      if (rc != PAM_SUCCESS) {
        log_.error("Failed to forward the password to the next module");
        outcome = verdict::rejected;
      }
    }
    if (outcome == verdict::accepted) {
      log_.info("Accepted google_authenticator for " + user_);
      return PAM_SUCCESS;
    }
    log_.error("Invalid verification code for " + logged_user());
    return PAM_AUTH_ERR;
  }();

  if (!privileges.restore()) {
    log_.error("Cannot switch back from the file owner's identity; denying");
    return PAM_SYSTEM_ERR;
  }
  return result;
}

int authentication::run() {
  const int result = decide();
  if (log_.debug_enabled())
    log_.debug("end of pam_pvetotp for " + in_quotes(user_) +
               ". Result: " + pam_strerror(pamh_, result));
  return result;
}

}  // namespace

int authenticate(pam_handle_t* pamh, int flags, std::span<const char* const> args) {
  logger log(pamh);
  auto options = parse_module_options(args);
  if (!options) {
    log.error(options.error().message);
    return PAM_AUTH_ERR;
  }
  log.set_debug(options->debug);
  authentication auth(pamh, flags, *options, log);
  return auth.run();
}

}  // namespace pvetotp
