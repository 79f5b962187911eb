// state_store.cc: locked read and atomic, durable rewrite of secret files. The design is in
// the header comment of totp/state_store.h; the comments here explain the choices made on
// the way.
#include "totp/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "fs_util.h"
#include "totp/random.h"

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

error lock_timeout_error(std::chrono::milliseconds timeout, const std::string& path) {
  return make_error(error_code::lock_timeout, "Timed out after " + std::to_string(timeout.count()) +
                                                  " ms waiting for the lock on \"" + path + "\"");
}

// flock with a bounded wait. Non-blocking attempts with a growing pause instead of a
// blocking flock() plus alarm(): a PAM module must not touch the host's signal handlers or
// timers, and the pauses start short because the lock is normally held for well under a
// millisecond.
status flock_until(int fd, clock_type::time_point deadline, const std::string& display_path,
                   std::chrono::milliseconds timeout) {
  // Holders keep the lock for microseconds (a read) to a few milliseconds (two fsyncs): yield
  // a few times first, then sleep from 50 us up to 5 ms.
  std::chrono::microseconds pause{50};
  constexpr std::chrono::microseconds max_pause{5000};
  int yields = 0;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      return {};
    }
    if (errno == EWOULDBLOCK && yields < 4) {
      ++yields;
      sched_yield();
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return io_error("flock", display_path, errno);
    }
    const auto now = clock_type::now();
    if (now >= deadline) {
      return lock_timeout_error(timeout, display_path);
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
  const bool chowned = want_uid != static_cast<uid_t>(-1) || want_gid != static_cast<gid_t>(-1);
  if (chowned) {
    if (::fchown(fd.get(), want_uid, want_gid) != 0) {
      return io_error("fchown", tmp_path, errno);
    }
  }
  // After fchown, because chown may clear mode bits. Skipped when the new file already has
  // the mode: pmxcfs (/etc/pve) gives every file its fixed mode and answers any chmod other
  // than exactly that one with EPERM, so asking needlessly could only fail there.
  if (chowned || (tmp_st.st_mode & 07777) != (mode & 0777)) {
    if (::fchmod(fd.get(), mode & 0777) != 0) {
      return io_error("fchmod", tmp_path, errno);
    }
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

// How error messages name the unnamed temp file of `target`: its directory, marked.
std::string unnamed_temp_name(const std::string& target) {
  return fs::directory_of(target) + " (O_TMPFILE)";
}

// The new version as an unnamed file in the target's directory (O_TMPFILE, mode 0600). Until
// it is complete and on disk it has no name, so a writer killed before then leaves nothing
// behind, and on a file system without a journal its fsync does not have to write the
// directory too (that happens once, after the rename). An invalid descriptor with an ok
// status means the file system cannot do this (FUSE, old kernels): use make_temp_file.
result<fs::unique_fd> make_unnamed_temp(const std::string& target) {
  const std::string dir = fs::directory_of(target);
  fs::unique_fd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) {
    const int err = errno;
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) {
      return fs::unique_fd();
    }
    return io_error("open", unnamed_temp_name(target), err);
  }
  return fd;
}

// Gives the unnamed file behind `fd` the name `<target>~XXXXXX` (random; linkat fails with
// EEXIST rather than replace anything). Linking a descriptor needs its /proc/self/fd path:
// the alternative, AT_EMPTY_PATH, needs CAP_DAC_READ_SEARCH, which a switched fsuid drops.
// Without /proc: io with ENOENT.
result<std::string> link_unnamed_temp(int fd, const std::string& target) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto noise = random_bytes(6);
    if (!noise) {
      return std::move(noise).error();
    }
    std::string name = target + "~";
    for (const std::uint8_t byte : noise->span()) {
      name.push_back(alphabet[byte % alphabet.size()]);
    }
    if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      return name;
    }
    if (errno != EEXIST) {
      return io_error("linkat", target + "~XXXXXX", errno);
    }
  }
  return io_error("linkat", target + "~XXXXXX", EEXIST);
}

// ---- Proxmox VE cluster file system (pmxcfs) --------------------------------------------

std::string cluster_lock_name_impl(const cluster_store& store, const std::string& resolved_path);

// `root` without trailing slashes ("/" stays "/").
std::string without_trailing_slash(std::string root) {
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  return root;
}

bool lexically_under(const std::string& path, const std::string& root) {
  if (root == "/") {
    return !path.empty() && path[0] == '/';
  }
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

// realpath(3) as a std::string; nullopt with errno set when it fails. The malloc'd result is
// freed on every path, also when the copy throws.
std::optional<std::string> realpath_of(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) {
    return std::nullopt;
  }
  return std::string(resolved.get());
}

// The root as the kernel names it, so it compares with realpath() results; the lexical form
// when it cannot be resolved (not there at all: then it is not mounted either).
std::string canonical_root(const cluster_store& store) {
  // Cached per process, the answer "not there" included: resolving it cost two readlink
  // calls per open on every login of a host without Proxmox VE. The cached answer can only
  // go stale if the root is later created *as a symbolic link* and a secret path names the
  // link's target; a root that appears as the usual directory (pve-cluster installed, pmxcfs
  // mounted) resolves to its lexical form, which is what was cached. Paths that name the
  // root itself are always recognised lexically.
  static std::mutex cache_mutex;
  static std::string cached_lexical;
  static std::string cached_canonical;
  const std::string lexical = without_trailing_slash(store.root);
  {
    std::lock_guard<std::mutex> guard(cache_mutex);
    if (!cached_canonical.empty() && cached_lexical == lexical) {
      return cached_canonical;
    }
  }
  std::optional<std::string> resolved = realpath_of(lexical);
  std::string out = resolved ? std::move(*resolved) : lexical;
  std::lock_guard<std::mutex> guard(cache_mutex);
  cached_lexical = lexical;
  cached_canonical = out;
  return out;
}

// The cluster store is mounted when statfs on `dir` reports its file system type. An
// unmounted /etc/pve is an empty directory on the root file system (early boot, pve-cluster
// stopped, crashed): reading or, worse, writing there would split the state from the
// cluster's, and a missing file there must not count as "not enrolled".
status require_mounted(const cluster_store& store, const std::string& root,
                       const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) {
    const int err = errno;
    return make_error(error_code::io,
                      std::string(cluster_error_prefix) + "\"" + root +
                          "\" is not mounted (pve-cluster not "
                          "running?): " +
                          fs::describe_errno("statfs", dir, err),
                      ENOTCONN);
  }
  if (static_cast<std::int64_t>(static_cast<std::uint32_t>(fs.f_type)) !=
      static_cast<std::int64_t>(static_cast<std::uint32_t>(store.fs_magic))) {
    char text[32];
    std::snprintf(text, sizeof text, "0x%" PRIx32, static_cast<std::uint32_t>(fs.f_type));
    return make_error(error_code::io,
                      std::string(cluster_error_prefix) + "\"" + root +
                          "\" is not mounted (pve-cluster not running?): \"" + dir +
                          "\" has file system type " + text,
                      ENOTCONN);
  }
  return {};
}

// Where pmxcfs keeps a file private to root: `priv/...` or `nodes/<node>/priv/...`.
bool in_private_area(const std::string& relative) {
  if (relative.rfind("priv/", 0) == 0) {
    return true;
  }
  if (relative.rfind("nodes/", 0) == 0) {
    const auto slash = relative.find('/', 6);
    return slash != std::string::npos && relative.compare(slash + 1, 5, "priv/") == 0;
  }
  return false;
}

// pmxcfs's fixed metadata, checked on top of the usual checks: root-owned (pmxcfs shows
// every file as root:www-data, so the group is not looked at) and nothing for group or
// others, which rules out everything outside priv/ (0640 there: readable by www-data, i.e.
// pveproxy) whatever allowed_perm says.
status check_cluster_stat(const struct stat& st, const std::string& path) {
  if (st.st_uid != 0) {
    return make_error(error_code::bad_owner, "Secret file \"" + path +
                                                 "\" on the cluster file system must be owned "
                                                 "by root");
  }
  if ((st.st_mode & 0077) != 0) {
    char text[160];
    std::snprintf(text, sizeof text, "(%04o) allow group or others to read it; keep it under priv/",
                  static_cast<unsigned>(st.st_mode & 07777));
    return make_error(error_code::bad_permissions, "Secret file \"" + path +
                                                       "\" is on the cluster file system and its "
                                                       "permissions " +
                                                       text);
  }
  return {};
}

error no_quorum_error(const std::string& root, std::string_view call, const std::string& path,
                      int err) {
  return make_error(error_code::io,
                    std::string(cluster_error_prefix) + "\"" + root +
                        "\" refuses writes (no quorum?): " + fs::describe_errno(call, path, err),
                    err);
}

// A held `mkdir` lock; rmdir on release. pmxcfs replicates the mkdir, so exactly one node
// wins it, whatever the node-local flocks say.
class cluster_lock {
 public:
  cluster_lock() = default;
  explicit cluster_lock(std::string dir) : dir_(std::move(dir)) {}
  cluster_lock(const cluster_lock&) = delete;
  cluster_lock& operator=(const cluster_lock&) = delete;
  cluster_lock(cluster_lock&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  cluster_lock& operator=(cluster_lock&& other) noexcept {
    if (this != &other) {
      release();
      dir_ = std::move(other.dir_);
      other.dir_.clear();
    }
    return *this;
  }
  ~cluster_lock() { release(); }

  bool held() const noexcept { return !dir_.empty(); }
  // A failed rmdir leaves the lock to expire (120 s on pmxcfs); there is nobody to report
  // it to here, and the waiters' bounded wait turns it into a clear lock_timeout.
  void release() noexcept {
    if (!dir_.empty()) {
      (void)::rmdir(dir_.c_str());
      dir_.clear();
    }
  }

 private:
  std::string dir_;
};

// Takes the cluster lock for `resolved`, waiting until `deadline`. pmxcfs honours mkdir on
// an existing lock directory with EEXIST; a directory left by a crashed holder is asked back
// with utime(dir, 0, 0), which pmxcfs grants only when its own record of the lock is older
// than its expiry. We send that request only when the directory's mtime (its creation time)
// says the holder has had more than lock_expiry, so a live holder (whose critical section is
// milliseconds long) is never disturbed, and pmxcfs's decision keeps two nodes from both
// taking over. Pauses grow from 2 ms to 100 ms: every mkdir is a cluster-wide message.
result<cluster_lock> acquire_cluster_lock(const cluster_store& store, const std::string& root,
                                          const std::string& resolved,
                                          clock_type::time_point deadline,
                                          std::chrono::milliseconds timeout,
                                          const std::string& display_path) {
  const std::string lock_dir =
      store.lock_dir.empty() ? root + "/priv/lock" : without_trailing_slash(store.lock_dir);
  const std::string dir = lock_dir + "/" + cluster_lock_name_impl(store, resolved);
  std::chrono::microseconds pause{2000};
  constexpr std::chrono::microseconds max_pause{100000};
  bool made_parent = false;
  for (;;) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
      return cluster_lock(dir);
    }
    int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == ENOENT && !made_parent) {
      // priv/lock exists on every PVE node; create it for a fresh or test store.
      made_parent = true;
      if (::mkdir(lock_dir.c_str(), 0700) == 0 || errno == EEXIST) {
        continue;
      }
      err = errno;
    }
    if (err == EACCES || err == EROFS) {
      return no_quorum_error(root, "mkdir", dir, err);
    }
    if (err != EEXIST) {
      return io_error("mkdir", dir, err);
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        continue;  // released between our mkdir and lstat: try again at once
      }
      return io_error("lstat", dir, errno);
    }
    const std::time_t now = std::time(nullptr);
    if (S_ISDIR(st.st_mode) && st.st_mtime > 0 &&
        now - st.st_mtime > static_cast<std::time_t>(store.lock_expiry.count())) {
      const struct timespec zero[2] = {{0, 0}, {0, 0}};
      (void)::utimensat(AT_FDCWD, dir.c_str(), zero, AT_SYMLINK_NOFOLLOW);  // pmxcfs decides
    }
    const auto now_steady = clock_type::now();
    if (now_steady >= deadline) {
      return make_error(error_code::lock_timeout, "Timed out after " +
                                                      std::to_string(timeout.count()) +
                                                      " ms waiting for the cluster lock \"" + dir +
                                                      "\" on \"" + display_path + "\"");
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now_steady);
    std::this_thread::sleep_for(left < pause ? left : pause);
    pause = pause * 2 > max_pause ? max_pause : pause * 2;
  }
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
  // Set when the file is on the cluster store. Declared after lock_fd so that destruction
  // releases the cluster lock before the node-local flock, the reverse of taking them.
  std::optional<cluster_store> cluster;
  std::string cluster_root;  // canonical
  std::chrono::milliseconds lock_timeout{0};
  cluster_lock cluster_held;
  bool snapshot_only = false;  // opened with open_policy::lock == false
};

// Opens (creating on first use) `<resolved>.lock`. An invalid descriptor with an ok status
// means "no lock file possible here, lock the secret file instead".
result<fs::unique_fd> open_lock_file(const std::string& resolved, const struct stat& secret_st) {
  const std::string lock_path = resolved + ".lock";
  constexpr int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  // The lock file exists after the first login: open it without O_CREAT, which would take
  // the directory's lock and serialise logins of every user whose file shares a directory.
  fs::unique_fd fd(::open(lock_path.c_str(), O_RDWR | flags));
  const bool existed = static_cast<bool>(fd);
  const int first_errno = existed ? 0 : errno;
  if (!existed && first_errno == ENOENT) {
    fd.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | flags, 0600));
  }
  if (existed) {
    // nothing to do
  } else if (fd) {
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
    int err = first_errno == ENOENT ? errno : first_errno;
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

// The file to read, lock and replace. Only a symbolic link in the last component changes
// that (the lock file and the temp file must sit beside the real file); links in parent
// directories lead to the same directory either way, so the common case costs one lstat
// instead of realpath's readlink per component.
result<std::string> resolve(const std::string& path) {
  struct stat link_st {};
  if (::lstat(path.c_str(), &link_st) != 0) {
    if (errno == ENOENT) {
      return not_found_error(path);
    }
    return io_error("lstat", path, errno);
  }
  if (!S_ISLNK(link_st.st_mode)) {
    return path;
  }
  std::optional<std::string> resolved = realpath_of(path);
  if (!resolved) {
    if (errno == ENOENT) {
      return not_found_error(path);
    }
    return io_error("realpath", path, errno);
  }
  return std::move(*resolved);
}

// Decides whether `path` is in the cluster store and, if so, that the store is usable and
// the file is in its private area. Runs before the path is resolved (a missing file in an
// unmounted /etc/pve must read as "not mounted", never as not_found) and again after.
status classify_cluster(const std::string& path, const std::string* resolved,
                        const open_policy& policy, file_state& state) {
  if (!policy.cluster || state.cluster) {
    return {};
  }
  const cluster_store& store = *policy.cluster;
  const std::string lexical_root = without_trailing_slash(store.root);
  const std::string root = canonical_root(store);
  const bool under = resolved ? lexically_under(*resolved, root)
                              : lexically_under(path, lexical_root) || lexically_under(path, root);
  if (!under) {
    return {};
  }
  if (auto mounted = require_mounted(store, lexical_root, lexical_root); !mounted) {
    return mounted;
  }
  if (policy.required_owner && *policy.required_owner != 0) {
    return make_error(error_code::bad_owner, "Secret file \"" + path +
                                                 "\" is on the cluster file system, where every "
                                                 "file is owned by root: configure user=root");
  }
  state.cluster = store;
  state.cluster_root = root;
  return {};
}

// After resolving: the file must be in the private area of the same mounted store.
status check_cluster_location(const std::string& path, file_state& state) {
  const std::string& root = state.cluster_root;
  if (!lexically_under(state.resolved, root) ||
      !in_private_area(state.resolved.substr(root.size() + 1))) {
    return make_error(error_code::bad_permissions,
                      "Secret file \"" + path + "\" on the cluster file system must be under \"" +
                          root + "/priv/\" (elsewhere www-data can read it)");
  }
  return require_mounted(*state.cluster, root, fs::directory_of(state.resolved));
}

// Other nodes do not see our flock: on the cluster store the mkdir lock is taken too, and
// kept in `state` until the commit (or the handle) releases it. No-op elsewhere.
status take_cluster_lock(file_state& state, clock_type::time_point deadline,
                         std::chrono::milliseconds timeout, const std::string& path) {
  if (!state.cluster) {
    return {};
  }
  auto held = acquire_cluster_lock(*state.cluster, state.cluster_root, state.resolved, deadline,
                                   timeout, path);
  if (!held) {
    return std::move(held).error();
  }
  state.cluster_held = std::move(held).value();
  return {};
}

// The last step of every open: the cluster store's own rules on the opened file, then the
// whole content, bounded by the policy's size cap.
status check_and_read(file_state& state, const open_policy& policy, const std::string& path) {
  if (state.cluster) {
    if (auto checked = check_cluster_stat(state.st, path); !checked) {
      return checked;
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

// A read-only snapshot of `state.resolved`: the same checks as a locked open, no lock;
// commit() refuses to write it. The descriptor is kept, which lets still_current() check the
// file with an fstat instead of a path walk.
status read_snapshot(file_state& state, const open_policy& policy, const std::string& path) {
  auto fd = open_secret(state.resolved, path, policy, state.st);
  if (!fd) {
    return std::move(fd).error();
  }
  state.file_fd = std::move(fd).value();
  if (auto read = check_and_read(state, policy, path); !read) {
    return read;
  }
  state.snapshot_only = true;
  return {};
}

status open_impl(const std::string& path, const open_policy& policy, file_state& state) {
  if (auto classified = classify_cluster(path, nullptr, policy, state); !classified) {
    return classified;
  }
  if (!policy.lock && !state.cluster) {
    // Not in the store by its name: open the name itself (O_NOFOLLOW, so no lstat first).
    // Unless it is a symbolic link (ELOOP), resolving would give the same path and the
    // classification after it the same answer.
    state.path = path;
    state.resolved = path;
    status read = read_snapshot(state, policy, path);
    if (read || read.error().sys_errno != ELOOP) {
      return read;
    }
  }
  auto resolved = resolve(path);
  if (!resolved) {
    return std::move(resolved).error();
  }
  state.path = path;
  state.resolved = std::move(resolved).value();
  if (auto classified = classify_cluster(path, &state.resolved, policy, state); !classified) {
    return classified;
  }
  if (state.cluster) {
    if (auto located = check_cluster_location(path, state); !located) {
      return located;
    }
  }

  if (!policy.lock) {
    return read_snapshot(state, policy, path);
  }

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
  if (state.cluster) {
    if (auto checked = check_cluster_stat(pre, path); !checked) {
      return checked;
    }
  }

  const auto timeout =
      policy.lock_timeout.count() < 0 ? std::chrono::milliseconds(0) : policy.lock_timeout;
  const auto deadline = clock_type::now() + timeout;
  auto lock = open_lock_file(state.resolved, pre);
  if (!lock) {
    return std::move(lock).error();
  }
  state.lock_fd = std::move(lock).value();

  state.lock_timeout = timeout;
  if (state.lock_fd) {
    if (auto locked = flock_until(state.lock_fd.get(), deadline, path, timeout); !locked) {
      return std::move(locked).error();
    }
    // Other nodes do not see our flock: the cluster lock comes next, before the read.
    if (auto held = take_cluster_lock(state, deadline, timeout, path); !held) {
      return held;
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
        return lock_timeout_error(timeout, path);
      }
    }
    if (state.cluster) {
      // The file was opened before the cluster lock here, so another node may have replaced
      // it in between; reading the old inode would resurrect used codes.
      if (auto held = take_cluster_lock(state, deadline, timeout, path); !held) {
        return held;
      }
      struct stat now {};
      if (::stat(state.resolved.c_str(), &now) != 0 || !same_inode(now, state.st)) {
        return make_error(error_code::changed, "Secret file \"" + path +
                                                   "\" was replaced on another node while it "
                                                   "was being locked");
      }
    }
  }
  return check_and_read(state, policy, path);
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

bool locked_file::still_current() const noexcept {
  if (!impl_ || !impl_->file_fd) {
    return false;
  }
  const struct stat& then = impl_->st;
  struct stat now {};
  if (::fstat(impl_->file_fd.get(), &now) != 0) {
    return false;
  }
  // Writing, chmod, chown, link and unlink all move ctime; a rename over the path unlinks
  // this inode (link count 0, ctime moved).
  const bool same =
      now.st_ino == then.st_ino && now.st_dev == then.st_dev && now.st_size == then.st_size &&
      now.st_nlink != 0 && now.st_nlink == then.st_nlink &&
      now.st_mtim.tv_sec == then.st_mtim.tv_sec && now.st_mtim.tv_nsec == then.st_mtim.tv_nsec &&
      now.st_ctim.tv_sec == then.st_ctim.tv_sec && now.st_ctim.tv_nsec == then.st_ctim.tv_nsec;
  if (!same) {
    return false;
  }
  if (impl_->resolved == impl_->path) {
    return true;
  }
  // Reached through a symbolic link: the link itself may have been pointed elsewhere.
  struct stat named {};
  return ::stat(impl_->path.c_str(), &named) == 0 && same_inode(named, now);
}

namespace {

// The rewrite itself, with every lock this handle needs already held.
// A process killed between mkostemp and rename leaves `<name>~XXXXXX` behind. While we hold
// the lock no writer of ours owns such a file, so after a commit the ones owned by the secret
// file's owner and older than a minute are removed (a writer that ignores the lock, such as
// google-authenticator's module, is never that slow, so its live temp file is left alone).
// Best effort: a failure here changes nothing that matters.
void remove_stale_temp_files(const std::string& resolved, uid_t owner) noexcept {
  const std::size_t slash = resolved.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : resolved.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? resolved : resolved.substr(slash + 1);
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) {
    return;
  }
  const std::time_t now = std::time(nullptr);
  while (const struct dirent* entry = ::readdir(listing)) {
    const std::string_view name(entry->d_name);
    if (name.size() != base.size() + 7 || name.substr(0, base.size()) != base ||
        name[base.size()] != '~') {
      continue;
    }
    bool random_suffix = true;
    for (const char c : name.substr(base.size() + 1)) {
      random_suffix = random_suffix &&
                      ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    }
    struct stat st {};
    if (!random_suffix ||
        ::fstatat(::dirfd(listing), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_uid != owner || st.st_mtime + 60 > now) {
      continue;
    }
    ::unlinkat(::dirfd(listing), entry->d_name, 0);
  }
  ::closedir(listing);
}

status commit_locked(file_state& state, std::span<const std::uint8_t> new_content) {
  // Allocate the new in-memory copy first, so nothing can fail after the rename except
  // the directory sync.
  secret_bytes copy(new_content.data(), new_content.size());

  // The new version, complete and fsynced, under a temp name `<target>~XXXXXX`; `keep` is a
  // descriptor on it. Unnamed until then where the file system allows (not on pmxcfs).
  std::string tmp_path;
  fs::unique_fd keep;
  std::optional<temp_file_guard> guard;
  if (!state.cluster) {
    auto unnamed = make_unnamed_temp(state.resolved);
    if (!unnamed) {
      return std::move(unnamed).error();
    }
    if (fs::unique_fd fd = std::move(unnamed).value()) {
      if (auto filled = fill_temp_file(fd, unnamed_temp_name(state.resolved), new_content,
                                       state.st.st_uid, state.st.st_gid, state.st.st_mode, &keep);
          !filled) {
        return filled;  // nothing to clean up: the file had no name
      }
      auto linked = link_unnamed_temp(keep.get(), state.resolved);
      if (linked) {
        tmp_path = std::move(linked).value();
        guard.emplace(tmp_path);
      } else if (linked.error().sys_errno == ENOENT) {
        keep.reset();  // no /proc to link it by: write a named temp file instead
      } else {
        return std::move(linked).error();
      }
    }
  }
  if (!guard) {
    auto created = make_temp_file(state.resolved, tmp_path);
    if (!created) {
      return std::move(created).error();
    }
    fs::unique_fd fd = std::move(created).value();
    guard.emplace(tmp_path);
    if (auto filled = fill_temp_file(fd, tmp_path, new_content, state.st.st_uid, state.st.st_gid,
                                     state.st.st_mode, &keep);
        !filled) {
      return filled;
    }
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
  guard->disarm();
  state.file_fd = std::move(keep);
  state.st = new_st;
  state.content = std::move(copy);
  // Leftovers first, then the directory sync: the listing is cheap while the directory is
  // in the page cache untouched by I/O, but right after its fsync it cost a tenth of the
  // whole rewrite (pam_bench (b): 1.52x -> 1.43x the reference); and the sync then also
  // makes the removals durable.
  remove_stale_temp_files(state.resolved, new_st.st_uid);
  return fs::fsync_directory_of(state.resolved);
}

}  // namespace

status locked_file::commit(std::span<const std::uint8_t> new_content) {
  try {
    if (impl_ && impl_->snapshot_only) {
      return make_error(error_code::invalid_argument,
                        "commit on a snapshot of \"" + impl_->path + "\" opened without the lock");
    }
    if (!impl_ || !impl_->file_fd) {
      return make_error(error_code::invalid_argument, "commit on a closed locked_file");
    }
    file_state& state = *impl_;
    if (!state.cluster) {
      return commit_locked(state, new_content);
    }
    if (!state.cluster_held.held()) {
      // A second commit on the same handle: the cluster lock went with the first one. Take it
      // again; commit_locked refuses if another node replaced the file meanwhile.
      auto held = acquire_cluster_lock(*state.cluster, state.cluster_root, state.resolved,
                                       clock_type::now() + state.lock_timeout, state.lock_timeout,
                                       state.path);
      if (!held) {
        return std::move(held).error();
      }
      state.cluster_held = std::move(held).value();
    }
    status done = commit_locked(state, new_content);
    // Held only from the read to the commit: every other node waits on it.
    state.cluster_held.release();
    if (!done && done.error().sys_errno == EACCES) {
      error err = std::move(done).error();
      return make_error(error_code::io,
                        std::string(cluster_error_prefix) + "\"" +
                            without_trailing_slash(state.cluster->root) +
                            "\" refuses writes (no quorum?): " + err.message,
                        EACCES);
    }
    return done;
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
      if (::link(tmp_path.c_str(), path.c_str()) == 0) {
        guard.disarm();
        (void)::unlink(tmp_path.c_str());
      } else if (errno == EEXIST) {
        return make_error(error_code::exists, "\"" + path + "\" already exists");
      } else if (errno == EPERM) {
        // No hard links either (pmxcfs: its FUSE 2 interface answers RENAME_NOREPLACE with
        // EINVAL and link with EPERM). Check and rename: another writer creating the file in
        // between would be replaced, a window only a second concurrent enrollment can hit.
        struct stat again {};
        if (::lstat(path.c_str(), &again) == 0) {
          return make_error(error_code::exists, "\"" + path + "\" already exists");
        }
        if (errno != ENOENT) {
          return io_error("lstat", path, errno);
        }
        if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
          return io_error("rename", tmp_path, errno);
        }
        guard.disarm();
      } else {
        return io_error("link", tmp_path, errno);
      }
    }
    return fs::fsync_directory_of(path);
  } catch (const std::bad_alloc&) {
    return out_of_memory();
  } catch (...) {
    return internal_failure();
  }
}

namespace {
std::string cluster_lock_name_impl(const cluster_store& store, const std::string& resolved_path) {
  const std::string root = canonical_root(store);
  const std::string lexical = without_trailing_slash(store.root);
  std::string_view relative = resolved_path;
  if (lexically_under(resolved_path, root)) {
    relative.remove_prefix(root.size() + 1);
  } else if (lexically_under(resolved_path, lexical)) {
    relative.remove_prefix(lexical.size() + 1);
  }
  // PVE's own lock ids replace '/' and '.' with '_'; we replace everything that is not a
  // safe name byte, so no path can produce "..", a '/', or a byte a shell would mangle.
  std::string name = "pvetotp-";
  for (const char c : relative) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    name.push_back(keep ? c : '_');
  }
  constexpr std::size_t max_name = 200;  // below NAME_MAX with room for pmxcfs
  if (name.size() > max_name) {
    // FNV-1a over the full relative path keeps long names apart after truncation.
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const char c : relative) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ull;
    }
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, "-%016" PRIx64, hash);
    name.resize(max_name - 17);
    name.append(suffix);
  }
  return name;
}

}  // namespace

// Public and noexcept in spirit: the only failure is allocation, reported as an empty name.
std::string cluster_lock_name(const cluster_store& store, const std::string& resolved_path) {
  try {
    return cluster_lock_name_impl(store, resolved_path);
  } catch (...) {
    return {};
  }
}

}  // namespace totp
