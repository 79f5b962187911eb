// state_store.h: reading and atomically rewriting secret files, with one exclusive lock per
// file held from the read to the commit.
//
// Locking: flock(2) on a sibling lock file `<target>.lock` (created mode 0600 on first use,
// never renamed or unlinked, so every process locks the same inode; a crash releases it).
// If the directory does not let us create the lock file, the secret file itself is locked:
// no rename can replace it then either. The wait is bounded (non-blocking retries, no
// signals). Symlinks: the path is resolved once; the final target is read, locked and
// replaced atomically, so a symlink stays a symlink.
//
// Rewrites: a new file in the target's directory, unnamed (O_TMPFILE, 0600) where the file
// system and /proc allow, else a unique `<target>~XXXXXX` (O_EXCL, 0600); complete write,
// owner/group/mode copied from the file it replaces (fchown/fchmod are only called when the
// new file differs, which pmxcfs needs: it refuses chmod with EPERM), fsync; an unnamed file
// is then linked as `<target>~XXXXXX`; rename over the target, fsync of the directory. On any
// failure the temp file is removed (an unnamed one vanishes by itself) and the target is
// byte-identical. Secret files on a Proxmox VE cluster file system: see
// cluster_store.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

// A Proxmox VE cluster file system (pmxcfs, normally mounted on /etc/pve) that may hold
// secret files. pmxcfs replicates every write to all nodes, fixes owner (root:www-data) and
// modes (0600 under priv/), refuses chmod/chown to anything else, has no links, keeps
// flock/fcntl locks node-local and refuses writes (EACCES) without quorum.
//
// When open_policy::cluster is set and the path (as given or resolved) lies under `root`:
//  - `root` must be mounted: statfs(2) f_type == fs_magic, otherwise the open fails with io
//    (ENOTCONN) "... is not mounted ..." *before* any not_found, so `nullok` can never turn
//    a stopped pve-cluster into a login without a second factor;
//  - the file must be under `<root>/priv/` (the only place www-data cannot read), owned by
//    root, with no group/other permission bits; required_owner, if set, must be 0;
//  - besides the node-local flock, a cluster-wide lock is taken: mkdir
//    `<lock_dir>/pvetotp-<escaped path>`, after the flock, from the read until commit()
//    finishes (or destruction), with the same bounded wait (lock_timeout). A lock directory
//    whose mtime is older than lock_expiry is handed back with utime(dir, 0, 0), pmxcfs's own
//    request to drop an expired lock; pmxcfs decides, so two nodes cannot both take it over;
//  - EACCES from the lock mkdir or the rewrite is reported as "no quorum".
// Paths outside `root` are unaffected.
struct cluster_store {
  std::string root = "/etc/pve";
  std::string lock_dir;  // empty: <root>/priv/lock
  // statfs f_type of a mounted pmxcfs: FUSE_SUPER_MAGIC. Tests without FUSE put their own.
  std::int64_t fs_magic = 0x65735546;
  std::chrono::seconds lock_expiry{120};  // pmxcfs's CFS_LOCK_TIMEOUT
};

struct open_policy {
  std::optional<uid_t> required_owner;  // nullopt: owner not checked (no_strict_owner)
  mode_t allowed_permissions = 0600;    // bits of (mode & 0777) outside this set are refused;
                                        // setuid, setgid and sticky are always refused
  std::size_t max_size = 65536;         // size must be 1..max_size
  std::chrono::milliseconds lock_timeout{10000};
  // false: a read-only snapshot with the same checks and no lock (writers replace the file
  // by rename, so a snapshot is always one complete version); commit() then refuses.
  bool lock = true;
  std::optional<cluster_store> cluster;  // see cluster_store; nullopt: no pmxcfs handling
};

// Every error about the cluster store itself (not mounted, no quorum) starts with this, so
// a caller that logs only strerror() for io errors can recognise and log the whole message.
inline constexpr std::string_view cluster_error_prefix = "Cluster file system ";

// The lock directory name used for `resolved_path` inside `store` ("pvetotp-" and the path
// below the root with every byte outside [A-Za-z0-9-] replaced by '_', plus a hash when that
// would be longer than 200 bytes). Exposed for tests and for administrators clearing a lock.
std::string cluster_lock_name(const cluster_store& store, const std::string& resolved_path);

// Checks, in the reference's order: regular file (not_regular: `Secret file "<path>" is not
// a regular file`), permissions (bad_permissions: `Secret file permissions (0640) are more
// permissive than 0600`), owner (bad_owner), size (file_size). ENOENT -> not_found; other
// open/read failures -> io with errno.
class locked_file {
 public:
  // Resolve, lock, open (O_NOFOLLOW|O_CLOEXEC|O_NOCTTY on the resolved path), check, read.
  static result<locked_file> open(const std::string& path, const open_policy& policy);

  const secret_bytes& content() const noexcept;
  const struct stat& file_stat() const noexcept;
  const std::string& path() const noexcept;           // as given
  const std::string& resolved_path() const noexcept;  // the file actually read and replaced

  // True when the file read at open() is, as far as its metadata shows, unchanged and still
  // the file the path names: same inode, size, mtime, ctime and link count (a rename over
  // the path or an unlink drops the count and moves ctime; so does any write, chmod or
  // chown). One fstat on the descriptor kept from open(), plus a stat of the path when it
  // was reached through a symbolic link (the link may have been re-pointed). Meant for a
  // snapshot (lock == false) whose decision needs no write.
  bool still_current() const noexcept;

  // Atomic replace (see above). The lock stays held until destruction. Each failing step
  // gives io with errno and a message naming the step, e.g. `fsync("<tmp>"): No space left
  // on device`.
  status commit(std::span<const std::uint8_t> new_content);

  locked_file(locked_file&&) noexcept;
  locked_file& operator=(locked_file&&) noexcept;
  ~locked_file();  // releases the lock

 private:
  locked_file();
  struct impl;
  std::unique_ptr<impl> impl_;
};

// For enrollment: write `content` to `path` atomically (same temp/fsync/rename/dir-fsync
// sequence) with the given owner, group and mode. Refuses with `exists` when the path exists
// and !replace, and with `symlink` when it is a symbolic link. Never removes or truncates an
// existing file on failure. `owner`/`group` are applied with fchown only when set.
struct create_options {
  mode_t mode = 0400;
  std::optional<uid_t> owner;
  std::optional<gid_t> group;
  bool replace = false;
};
status write_file_atomically(const std::string& path, std::span<const std::uint8_t> content,
                             const create_options& options);

}  // namespace totp
