// state_store.cc: locked read and atomic, durable rewrite of secret files. The design is in
// the header comment of totp/state_store.h; the comments here explain the choices made on
// the way.
#include "totp/state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <thread>
#include <vector>

#include "fs_util.h"

namespace totp {
namespace {

using clock_type = std::chrono::steady_clock;

// Neither message allocates beyond the small-string buffer, so they are safe to build
// after std::bad_alloc.
error out_of_memory() {
  return make_error(error_code::io, "out of memory", ENOMEM);
}
error internal_failure() {
  return make_error(error_code::io, "internal error", 0);
}

error io_error(std::string_view call, std::string_view path, int err) {
  return make_error(error_code::io, fs::describe_errno(call, path, err), err);
}

// The reference's message for a file that is not there; the module's `nullok` keys off the
// not_found code, the text is for the log.
error not_found_error(const std::string& path) {
  return make_error(error_code::not_found,
                    "Failed to read \"" + path + "\": No such file or directory", ENOENT);
}

bool same_inode(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The checks, in the reference's order. Run twice: once on stat() before any lock file is
// created (so a user without a usable secret file never gets a `.lock` next to it), and
// once, authoritatively, on fstat() of the descriptor we actually read.
status check_stat(const struct stat& st, const open_policy& policy, const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return make_error(error_code::not_regular,
                      "Secret file \"" + path + "\" is not a regular file");
  }
  const mode_t perms = st.st_mode & 07777;
  // Unlike the reference (spec F5), setuid/setgid/sticky are refused whatever the policy
  // says: no secret file has a reason to carry them, and a set bit suggests tampering.
  if ((perms & ~policy.allowed_permissions) != 0 || (perms & 07000) != 0) {
    char text[96];
    std::snprintf(text, sizeof text, "Secret file permissions (%04o) are more permissive than %04o",
                  static_cast<unsigned>(perms),
                  static_cast<unsigned>(policy.allowed_permissions & 07777));
    return make_error(error_code::bad_permissions, text);
  }
  if (policy.required_owner && st.st_uid != *policy.required_owner) {
    return make_error(error_code::bad_owner, "Secret file \"" + path + "\" must be owned by uid " +
                                                 std::to_string(*policy.required_owner));
  }
  if (st.st_size < 1 || static_cast<std::uintmax_t>(st.st_size) > policy.max_size) {
    return make_error(error_code::file_size, "Invalid file size for \"" + path + "\"");
  }
  return {};
}

// flock with a bounded wait. Non-blocking attempts with a growing pause instead of a
// blocking flock() plus alarm(): a PAM module must not touch the host's signal handlers or
// timers, and the pauses start short because the lock is normally held for well under a
// millisecond.
status flock_until(int fd, clock_type::time_point deadline, const std::string& display_path,
                   std::chrono::milliseconds timeout) {
  std::chrono::microseconds pause{500};
  constexpr std::chrono::microseconds max_pause{20000};
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      return {};
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return io_error("flock", display_path, errno);
    }
    const auto now = clock_type::now();
    if (now >= deadline) {
      return make_error(error_code::lock_timeout,
                        "Timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for the lock on \"" + display_path + "\"");
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    std::this_thread::sleep_for(left < pause ? left : pause);
    pause = pause * 2 > max_pause ? max_pause : pause * 2;
  }
}

// A mkostemp template for `target`, as a writable buffer.
std::vector<char> temp_template(const std::string& target) {
  std::vector<char> buffer(target.begin(), target.end());
  for (char c : std::string_view("~XXXXXX")) {
    buffer.push_back(c);
  }
  buffer.push_back('\0');
  return buffer;
}

// Removes the temp file unless disarmed: every early return of a rewrite leaves the
// directory as it found it.
class temp_file_guard {
 public:
  explicit temp_file_guard(const std::string& path) : path_(path) {}
  temp_file_guard(const temp_file_guard&) = delete;
  temp_file_guard& operator=(const temp_file_guard&) = delete;
  ~temp_file_guard() {
    if (armed_) {
      (void)::unlink(path_.c_str());
    }
  }
  void disarm() noexcept { armed_ = false; }

 private:
  const std::string& path_;
  bool armed_ = true;
};

// The common tail of both rewrites: write, set owner/group/mode, fsync, close. `fd` is the
// fresh temp file; it is closed on return. On success `*keep` (if given) receives a
// duplicate of the descriptor, opened before the close, which refers to the new inode.
status fill_temp_file(fs::unique_fd& fd, const std::string& tmp_path,
                      std::span<const std::uint8_t> content, std::optional<uid_t> owner,
                      std::optional<gid_t> group, mode_t mode, fs::unique_fd* keep) {
  if (auto written = fs::write_all(fd.get(), content, tmp_path); !written) {
    return written;
  }
  struct stat tmp_st {};
  if (::fstat(fd.get(), &tmp_st) != 0) {
    return io_error("fstat", tmp_path, errno);
  }
  // Only ask for the ids that differ: a non-root user can then still "copy" a group it is a
  // member of, and an unprivileged rewrite of its own file never needs CAP_CHOWN. If an id
  // really differs and cannot be set, fail rather than silently hand the file to someone
  // else.
  const uid_t want_uid = owner && *owner != tmp_st.st_uid ? *owner : static_cast<uid_t>(-1);
  const gid_t want_gid = group && *group != tmp_st.st_gid ? *group : static_cast<gid_t>(-1);
  if (want_uid != static_cast<uid_t>(-1) || want_gid != static_cast<gid_t>(-1)) {
    if (::fchown(fd.get(), want_uid, want_gid) != 0) {
      return io_error("fchown", tmp_path, errno);
    }
  }
  // After fchown, because chown may clear mode bits.
  if (::fchmod(fd.get(), mode & 0777) != 0) {
    return io_error("fchmod", tmp_path, errno);
  }
  while (::fsync(fd.get()) != 0) {
    if (errno != EINTR) {
      return io_error("fsync", tmp_path, errno);
    }
  }
  if (keep != nullptr) {
    // A second descriptor on the same open file: it lets the caller keep the new inode (and a
    // flock on it) across the close below, whose result we still want to see.
    fs::unique_fd dup(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!dup) {
      return io_error("fcntl", tmp_path, errno);
    }
    *keep = std::move(dup);
  }
  if (int err = fd.close(); err != 0) {
    return io_error("close", tmp_path, err);
  }
  return {};
}

// Creates the temp file next to `target`. mkostemp creates it O_EXCL with mode 0600, so the
// umask is left alone: it could only make that stricter, and changing it is a process-wide
// side effect that races with other threads of a PAM host.
result<fs::unique_fd> make_temp_file(const std::string& target, std::string& tmp_path) {
  std::vector<char> name = temp_template(target);
  fs::unique_fd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) {
    return io_error("mkostemp", target + "~XXXXXX", errno);
  }
  tmp_path.assign(name.data());
  return fd;
}

// Everything a locked_file holds. Defined outside the class so the helpers below can
// reach it; locked_file::impl is just this.
struct file_state {
  std::string path;
  std::string resolved;
  fs::unique_fd lock_fd;  // the `.lock` file; invalid when the secret file itself is locked
  fs::unique_fd file_fd;  // the inode we read (after a commit: the one we wrote)
  struct stat st {};
  secret_bytes content;
};

// Opens (creating on first use) `<resolved>.lock`. An invalid descriptor with an ok status
// means "no lock file possible here, lock the secret file instead".
result<fs::unique_fd> open_lock_file(const std::string& resolved, const struct stat& secret_st) {
  const std::string lock_path = resolved + ".lock";
  constexpr int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  fs::unique_fd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | flags, 0600));
  if (fd) {
    // Created by us. If we are root acting on somebody else's file, hand the lock file to
    // that owner, so their own later logins can open it instead of falling back. Best
    // effort: the lock works either way.
    struct stat lock_st {};
    if (::fstat(fd.get(), &lock_st) == 0 &&
        (lock_st.st_uid != secret_st.st_uid || lock_st.st_gid != secret_st.st_gid)) {
      if (::fchown(fd.get(), secret_st.st_uid, secret_st.st_gid) != 0) {
        // Ignored on purpose (see above).
      }
    }
  } else {
    int err = errno;
    if (err == EEXIST) {
      fd.reset(::open(lock_path.c_str(), O_RDWR | flags));
      err = fd ? 0 : errno;
    }
    if (!fd && (err == EACCES || err == EPERM || err == EROFS)) {
      // flock works on a read-only descriptor as well.
      fd.reset(::open(lock_path.c_str(), O_RDONLY | flags));
      err = fd ? 0 : errno;
    }
    if (!fd) {
      if (err == ENOENT || err == EACCES || err == EPERM || err == EROFS) {
        return fs::unique_fd();  // fall back to locking the secret file
      }
      return io_error("open", lock_path, err);
    }
  }
  struct stat lock_st {};
  if (::fstat(fd.get(), &lock_st) != 0) {
    return io_error("fstat", lock_path, errno);
  }
  if (!S_ISREG(lock_st.st_mode)) {
    return make_error(error_code::not_regular,
                      "Lock file \"" + lock_path + "\" is not a regular file");
  }
  return fd;
}

// Opens the secret file and checks it. Any failure to open is reported with the path as the
// caller gave it, which is what the administrator configured.
result<fs::unique_fd> open_secret(const std::string& resolved, const std::string& path,
                                  const open_policy& policy, struct stat& st) {
  // O_NONBLOCK so a FIFO planted at the path cannot hang us in open(); it has no effect on
  // the regular files that pass the checks.
  fs::unique_fd fd(
      ::open(resolved.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) {
      return not_found_error(path);
    }
    return io_error("open", path, errno);
  }
  if (::fstat(fd.get(), &st) != 0) {
    return io_error("fstat", path, errno);
  }
  if (auto checked = check_stat(st, policy, path); !checked) {
    return std::move(checked).error();
  }
  return fd;
}

result<std::string> resolve(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) {
    if (errno == ENOENT) {
      return not_found_error(path);
    }
    return io_error("realpath", path, errno);
  }
  std::string out;
  try {
    out = resolved;
  } catch (...) {
    std::free(resolved);
    throw;
  }
  std::free(resolved);
  return out;
}

status open_impl(const std::string& path, const open_policy& policy, file_state& state) {
  auto resolved = resolve(path);
  if (!resolved) {
    return std::move(resolved).error();
  }
  state.path = path;
  state.resolved = std::move(resolved).value();

  struct stat pre {};
  if (::stat(state.resolved.c_str(), &pre) != 0) {
    if (errno == ENOENT) {
      return not_found_error(path);
    }
    return io_error("stat", path, errno);
  }
  if (auto checked = check_stat(pre, policy, path); !checked) {
    return std::move(checked).error();
  }

  const auto timeout =
      policy.lock_timeout.count() < 0 ? std::chrono::milliseconds(0) : policy.lock_timeout;
  const auto deadline = clock_type::now() + timeout;
  auto lock = open_lock_file(state.resolved, pre);
  if (!lock) {
    return std::move(lock).error();
  }
  state.lock_fd = std::move(lock).value();

  if (state.lock_fd) {
    if (auto locked = flock_until(state.lock_fd.get(), deadline, path, timeout); !locked) {
      return std::move(locked).error();
    }
    auto fd = open_secret(state.resolved, path, policy, state.st);
    if (!fd) {
      return std::move(fd).error();
    }
    state.file_fd = std::move(fd).value();
  } else {
    // Locking the secret file itself: a writer replaces the inode by rename, so after
    // getting the lock check that the path still names the inode we locked, else start over
    // on the new one.
    for (;;) {
      auto fd = open_secret(state.resolved, path, policy, state.st);
      if (!fd) {
        return std::move(fd).error();
      }
      if (auto locked = flock_until(fd->get(), deadline, path, timeout); !locked) {
        return std::move(locked).error();
      }
      struct stat now {};
      if (::stat(state.resolved.c_str(), &now) == 0 && same_inode(now, state.st)) {
        // Re-read the metadata under the lock; the checks above ran before it.
        if (::fstat(fd->get(), &state.st) != 0) {
          return io_error("fstat", path, errno);
        }
        if (auto checked = check_stat(state.st, policy, path); !checked) {
          return std::move(checked).error();
        }
        state.file_fd = std::move(fd).value();
        break;
      }
      if (clock_type::now() >= deadline) {
        return make_error(error_code::lock_timeout,
                          "Timed out after " + std::to_string(timeout.count()) +
                              " ms waiting for the lock on \"" + path + "\"");
      }
    }
  }

  auto content = fs::read_all_bounded(
      state.file_fd.get(), static_cast<std::size_t>(state.st.st_size), policy.max_size, path);
  if (!content) {
    return std::move(content).error();
  }
  state.content = std::move(content).value();
  return {};
}

}  // namespace

struct locked_file::impl : file_state {};

locked_file::locked_file() = default;
locked_file::locked_file(locked_file&&) noexcept = default;
locked_file& locked_file::operator=(locked_file&&) noexcept = default;
// Closing the descriptors releases the flock (the lock file itself stays, by design).
locked_file::~locked_file() = default;

result<locked_file> locked_file::open(const std::string& path, const open_policy& policy) {
  try {
    locked_file file;
    file.impl_ = std::make_unique<impl>();
    auto opened = open_impl(path, policy, *file.impl_);
    if (!opened) {
      return std::move(opened).error();
    }
    return file;
  } catch (const std::bad_alloc&) {
    return out_of_memory();
  } catch (...) {
    return internal_failure();
  }
}

namespace {
const secret_bytes empty_content;
const struct stat empty_stat {};
const std::string empty_string;
}  // namespace

const secret_bytes& locked_file::content() const noexcept {
  return impl_ ? impl_->content : empty_content;
}
const struct stat& locked_file::file_stat() const noexcept {
  return impl_ ? impl_->st : empty_stat;
}
const std::string& locked_file::path() const noexcept {
  return impl_ ? impl_->path : empty_string;
}
const std::string& locked_file::resolved_path() const noexcept {
  return impl_ ? impl_->resolved : empty_string;
}

status locked_file::commit(std::span<const std::uint8_t> new_content) {
  try {
    if (!impl_ || !impl_->file_fd) {
      return make_error(error_code::invalid_argument, "commit on a closed locked_file");
    }
    file_state& state = *impl_;
    std::string tmp_path;
    auto created = make_temp_file(state.resolved, tmp_path);
    if (!created) {
      return std::move(created).error();
    }
    fs::unique_fd fd = std::move(created).value();
    temp_file_guard guard(tmp_path);

    // Allocate the new in-memory copy first, so nothing can fail after the rename except
    // the directory sync.
    secret_bytes copy(new_content.data(), new_content.size());

    fs::unique_fd keep;
    if (auto filled = fill_temp_file(fd, tmp_path, new_content, state.st.st_uid, state.st.st_gid,
                                     state.st.st_mode, &keep);
        !filled) {
      return filled;
    }
    if (!state.lock_fd) {
      // The lock lives on the secret inode itself; take it on the new inode before it
      // becomes visible under the real name (nobody else can know the temp name yet).
      if (::flock(keep.get(), LOCK_EX | LOCK_NB) != 0) {
        return io_error("flock", tmp_path, errno);
      }
    }
    struct stat new_st {};
    if (::fstat(keep.get(), &new_st) != 0) {
      return io_error("fstat", tmp_path, errno);
    }

    // Everybody who writes this file honours the lock, so this should never trigger; it is
    // here for the programs that do not (an editor, the reference module), whose change we
    // refuse to overwrite blindly.
    struct stat held {};
    struct stat now {};
    if (::fstat(state.file_fd.get(), &held) != 0) {
      return io_error("fstat", state.path, errno);
    }
    if (::stat(state.resolved.c_str(), &now) != 0 || !same_inode(held, now)) {
      return make_error(error_code::changed, "Secret file \"" + state.path +
                                                 "\" was replaced by another program while it "
                                                 "was locked");
    }

    if (::rename(tmp_path.c_str(), state.resolved.c_str()) != 0) {
      return io_error("rename", tmp_path, errno);
    }
    guard.disarm();
    state.file_fd = std::move(keep);
    state.st = new_st;
    state.content = std::move(copy);
    return fs::fsync_directory_of(state.resolved);
  } catch (const std::bad_alloc&) {
    return out_of_memory();
  } catch (...) {
    return internal_failure();
  }
}

status write_file_atomically(const std::string& path, std::span<const std::uint8_t> content,
                             const create_options& options) {
  try {
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) {
      if (S_ISLNK(existing.st_mode)) {
        return make_error(error_code::symlink,
                          "Refusing to replace symbolic link \"" + path + "\"");
      }
      if (!options.replace) {
        return make_error(error_code::exists, "\"" + path + "\" already exists");
      }
      if (!S_ISREG(existing.st_mode)) {
        return make_error(error_code::not_regular, "\"" + path + "\" is not a regular file");
      }
    } else if (errno != ENOENT) {
      return io_error("lstat", path, errno);
    }

    std::string tmp_path;
    auto created = make_temp_file(path, tmp_path);
    if (!created) {
      return std::move(created).error();
    }
    fs::unique_fd fd = std::move(created).value();
    temp_file_guard guard(tmp_path);
    if (auto filled = fill_temp_file(fd, tmp_path, content, options.owner, options.group,
                                     options.mode, nullptr);
        !filled) {
      return filled;
    }

    if (options.replace) {
      if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
        return io_error("rename", tmp_path, errno);
      }
      guard.disarm();
    } else if (::renameat2(AT_FDCWD, tmp_path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) ==
               0) {
      // RENAME_NOREPLACE closes the window between the lstat above and here, in which
      // somebody could create the file we must not replace.
      guard.disarm();
    } else {
      const int err = errno;
      if (err == EEXIST) {
        return make_error(error_code::exists, "\"" + path + "\" already exists");
      }
      if (err != EINVAL && err != ENOSYS) {
        return io_error("rename", tmp_path, err);
      }
      // File systems without RENAME_NOREPLACE: link() never replaces either; the temp name
      // is then removed and the file lives on under `path`.
      if (::link(tmp_path.c_str(), path.c_str()) != 0) {
        if (errno == EEXIST) {
          return make_error(error_code::exists, "\"" + path + "\" already exists");
        }
        return io_error("link", tmp_path, errno);
      }
      guard.disarm();
      (void)::unlink(tmp_path.c_str());
    }
    return fs::fsync_directory_of(path);
  } catch (const std::bad_alloc&) {
    return out_of_memory();
  } catch (...) {
    return internal_failure();
  }
}

}  // namespace totp
