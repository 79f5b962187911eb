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
// Rewrites: unique temp file `<target>~XXXXXX` in the target's directory (O_EXCL, 0600),
// complete write, fsync, owner/group/mode copied from the file it replaces, rename over the
// target, fsync of the directory. On any failure the temp file is removed and the target is
// byte-identical.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

struct open_policy {
  std::optional<uid_t> required_owner;  // nullopt: owner not checked (no_strict_owner)
  mode_t allowed_permissions = 0600;    // bits of (mode & 0777) outside this set are refused;
                                        // setuid, setgid and sticky are always refused
  std::size_t max_size = 65536;         // size must be 1..max_size
  std::chrono::milliseconds lock_timeout{10000};
};

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
