// libpvetotp_pmxcfs_emu.so: LD_PRELOAD emulation of the Proxmox VE cluster file system
// (pmxcfs) rules of spec pve-and-peers 1.7 over an ordinary directory, for tests only.
//
// Why a shim and not FUSE: CI machines often have no usable /dev/fuse (and libfuse3 is not
// installed here); a preload library needs nothing but a directory. The tests mount a private
// tmpfs on the emulated root (in their own mount namespace), so "on the emulated file system"
// is simply "st_dev equals the root's", for paths and descriptors alike.
//
// Environment:
//   PMXEMU_ROOT  mount point of the emulated store (e.g. /etc/pve). The shim is inert unless
//                it is a mount point (its st_dev differs from its parent's): an unmounted
//                /etc/pve must look exactly like one.
//   PMXEMU_CTL   control directory (not on the store): `no-quorum` flag file, per-node lock
//                shadows, the lock used to make lock expiry atomic.
//   PMXEMU_NODE  this process's node name ("a", "b"): processes of one node share flocks,
//                processes of different nodes do not.
//
// Rules (spec 1.7) and how each is emulated:
//   owner        created files/dirs get root:www-data (33) with the real chown; chown to
//                anything but root/www-data/-1 fails EPERM, the allowed ones are no-ops.
//   mode         created objects get 0600/0700 under priv/ (or nodes/<n>/priv/), else
//                0640/0755; chmod succeeds (as a no-op) only for exactly that mode, else EPERM.
//   links        link/linkat/symlink/symlinkat into the store fail EPERM.
//   quorum       while PMXEMU_CTL/no-quorum exists: every modifying call (open for writing,
//                create, mkdir, rmdir, unlink, rename, truncate, write, utime) fails EACCES and
//                stat shows no write bits.
//   size         a write or truncate that would make a file larger than 1 MiB fails EFBIG.
//   rename       works, replacing a target; renameat2 with flags fails EINVAL (pmxcfs's FUSE 2
//                interface); lock directories under priv/lock/ cannot be renamed (EACCES).
//   locks        flock/fcntl locks on store files are taken on a per-node shadow file keyed by
//                inode, so they exclude processes of the same node only.
//   statfs       reports FUSE_SUPER_MAGIC for the store.
//   lock dirs    mkdir is atomic (the real one); utime(dir, 0, 0) on priv/lock/<id> removes it
//                when its mtime is more than 120 s old by time() (pinned by the test shim when
//                PVETOTP_TEST_TIME is set), otherwise does nothing.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define EMU_EXPORT __attribute__((visibility("default")))
#define FUSE_MAGIC 0x65735546
#define WWW_DATA_GID 33
#define MAX_FILE (1024 * 1024)
#define LOCK_EXPIRY 120
#define MAX_FDS 4096

#define REAL(name) ((__typeof__(&name))real_fn(#name))

static void* real_fn(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (fn == NULL) {
    fprintf(stderr, "pmxcfs_emu: no %s\n", name);
    abort();
  }
  return fn;
}

static int initialised;
static int active;
static dev_t store_dev;
static char store_root[PATH_MAX];  // canonical
static int shadow_fd[MAX_FDS];

static void init(void) {
  if (initialised) {
    return;
  }
  initialised = 1;
  for (int i = 0; i < MAX_FDS; ++i) {
    shadow_fd[i] = -1;
  }
  const char* root = getenv("PMXEMU_ROOT");
  if (root == NULL || getenv("PMXEMU_CTL") == NULL || realpath(root, store_root) == NULL) {
    return;
  }
  char parent[PATH_MAX + 4];
  snprintf(parent, sizeof parent, "%s/..", store_root);
  struct stat st, pst;
  if (REAL(stat)(store_root, &st) != 0 || REAL(stat)(parent, &pst) != 0 ||
      st.st_dev == pst.st_dev) {
    return;  // not mounted: inert
  }
  store_dev = st.st_dev;
  active = 1;
}

static int no_quorum(void) {
  char flag[PATH_MAX];
  snprintf(flag, sizeof flag, "%s/no-quorum", getenv("PMXEMU_CTL"));
  return access(flag, F_OK) == 0;
}

static int fd_on_store(int fd) {
  init();
  struct stat st;
  return active && fd >= 0 && REAL(fstat)(fd, &st) == 0 && st.st_dev == store_dev;
}

// The path, or for a name that does not exist yet its directory, is on the store.
static int at_on_store(int dirfd, const char* path) {
  init();
  if (!active || path == NULL) {
    return 0;
  }
  struct stat st;
  if (REAL(fstatat)(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return st.st_dev == store_dev;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char* slash = strrchr(dir, '/');
  if (slash == NULL) {
    snprintf(dir, sizeof dir, ".");
  } else if (slash == dir) {
    dir[1] = '\0';
  } else {
    *slash = '\0';
  }
  return REAL(fstatat)(dirfd, dir, &st, 0) == 0 && st.st_dev == store_dev;
}

static int path_on_store(const char* path) {
  return at_on_store(AT_FDCWD, path);
}

// Canonical absolute name of a store object (existing, or its directory + last component).
static int canonical(int dirfd, const char* path, char* out) {
  char full[PATH_MAX * 2];
  if (path[0] != '/' && dirfd != AT_FDCWD) {
    char link[64], dir[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, dir, sizeof dir - 1);
    if (n < 0) {
      return -1;
    }
    dir[n] = '\0';
    snprintf(full, sizeof full, "%s/%s", dir, path);
  } else {
    snprintf(full, sizeof full, "%s", path);
  }
  if (realpath(full, out) != NULL) {
    return 0;
  }
  char* slash = strrchr(full, '/');
  if (slash == NULL) {
    return getcwd(out, PATH_MAX) != NULL ? (strncat(out, "/", PATH_MAX - strlen(out) - 1),
                                            strncat(out, full, PATH_MAX - strlen(out) - 1), 0)
                                         : -1;
  }
  *slash = '\0';
  char dir[PATH_MAX];
  if (realpath(full[0] ? full : "/", dir) == NULL) {
    return -1;
  }
  snprintf(out, PATH_MAX, "%s/%s", dir, slash + 1);
  return 0;
}

static int fd_canonical(int fd, char* out) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, PATH_MAX - 1);
  if (n < 0) {
    return -1;
  }
  out[n] = '\0';
  return 0;
}

static const char* relative(const char* canon) {
  size_t n = strlen(store_root);
  if (strncmp(canon, store_root, n) == 0 && canon[n] == '/') {
    return canon + n + 1;
  }
  return "";
}

static int is_private(const char* canon) {
  const char* rel = relative(canon);
  if (strcmp(rel, "priv") == 0 || strncmp(rel, "priv/", 5) == 0) {
    return 1;
  }
  if (strncmp(rel, "nodes/", 6) == 0) {
    const char* slash = strchr(rel + 6, '/');
    return slash != NULL && (strcmp(slash + 1, "priv") == 0 || strncmp(slash + 1, "priv/", 5) == 0);
  }
  return 0;
}

static int is_lock_dir(const char* canon) {
  const char* rel = relative(canon);
  return strncmp(rel, "priv/lock/", 10) == 0 && strchr(rel + 10, '/') == NULL;
}

static mode_t fixed_mode(int dir, int private_area) {
  if (dir) {
    return private_area ? 0700 : 0755;
  }
  return private_area ? 0600 : 0640;
}

// Gives a just-created object pmxcfs's fixed metadata, with the real calls.
static void fix_fd(int fd) {
  char canon[PATH_MAX];
  struct stat st;
  if (fd_canonical(fd, canon) != 0 || REAL(fstat)(fd, &st) != 0) {
    return;
  }
  (void)REAL(fchown)(fd, 0, WWW_DATA_GID);
  (void)REAL(fchmod)(fd, fixed_mode(S_ISDIR(st.st_mode), is_private(canon)));
}

static int fail(int err) {
  errno = err;
  return -1;
}

// ---- open and create ----------------------------------------------------------------------

static int writes(int flags) {
  return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

static int after_open(int fd, int flags) {
  if (fd >= 0 && (flags & O_CREAT) != 0 && fd_on_store(fd)) {
    fix_fd(fd);
  }
  return fd;
}

static int emu_openat(int dirfd, const char* path, int flags, mode_t mode) {
  if (at_on_store(dirfd, path) && writes(flags) && no_quorum()) {
    return fail(EACCES);
  }
  return after_open(REAL(openat)(dirfd, path, flags, mode), flags);
}

#define MODE_ARG(flags)                    \
  mode_t mode = 0;                         \
  if ((flags) & (O_CREAT | __O_TMPFILE)) { \
    va_list ap;                            \
    va_start(ap, flags);                   \
    mode = (mode_t)va_arg(ap, int);        \
    va_end(ap);                            \
  }

EMU_EXPORT int open(const char* path, int flags, ...) {
  MODE_ARG(flags);
  return emu_openat(AT_FDCWD, path, flags, mode);
}
EMU_EXPORT int open64(const char* path, int flags, ...) {
  MODE_ARG(flags);
  return emu_openat(AT_FDCWD, path, flags, mode);
}
EMU_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags);
  return emu_openat(dirfd, path, flags, mode);
}
EMU_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags);
  return emu_openat(dirfd, path, flags, mode);
}
EMU_EXPORT int __open_2(const char* path, int flags) {
  return emu_openat(AT_FDCWD, path, flags, 0);
}
EMU_EXPORT int __open64_2(const char* path, int flags) {
  return emu_openat(AT_FDCWD, path, flags, 0);
}
EMU_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  return emu_openat(dirfd, path, flags, 0);
}
EMU_EXPORT int creat(const char* path, mode_t mode) {
  return emu_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
EMU_EXPORT int creat64(const char* path, mode_t mode) {
  return emu_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

// glibc creates temp files with internal calls this library cannot see: wrap the whole call.
#define TEMP_WRAPPER(name, params, args)      \
  EMU_EXPORT int name params {                \
    if (path_on_store(tmpl) && no_quorum()) { \
      return fail(EACCES);                    \
    }                                         \
    int fd = REAL(name) args;                 \
    if (fd >= 0 && fd_on_store(fd)) {         \
      fix_fd(fd);                             \
    }                                         \
    return fd;                                \
  }
TEMP_WRAPPER(mkstemp, (char* tmpl), (tmpl))
TEMP_WRAPPER(mkstemp64, (char* tmpl), (tmpl))
TEMP_WRAPPER(mkostemp, (char* tmpl, int flags), (tmpl, flags))
TEMP_WRAPPER(mkostemp64, (char* tmpl, int flags), (tmpl, flags))

EMU_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  const int on = at_on_store(dirfd, path);
  if (on && no_quorum()) {
    return fail(EACCES);
  }
  const int rc = REAL(mkdirat)(dirfd, path, mode);
  if (rc == 0 && on) {
    int fd = REAL(openat)(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
      fix_fd(fd);
      REAL(close)(fd);
    }
  }
  return rc;
}
EMU_EXPORT int mkdir(const char* path, mode_t mode) {
  return mkdirat(AT_FDCWD, path, mode);
}

// ---- removal and rename -------------------------------------------------------------------

EMU_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  if (at_on_store(dirfd, path) && no_quorum()) {
    return fail(EACCES);
  }
  return REAL(unlinkat)(dirfd, path, flags);
}
EMU_EXPORT int unlink(const char* path) {
  return unlinkat(AT_FDCWD, path, 0);
}
EMU_EXPORT int rmdir(const char* path) {
  if (path_on_store(path) && no_quorum()) {
    return fail(EACCES);
  }
  return REAL(rmdir)(path);
}

EMU_EXPORT int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                         unsigned int flags) {
  if (at_on_store(olddirfd, oldpath) || at_on_store(newdirfd, newpath)) {
    if (no_quorum()) {
      return fail(EACCES);
    }
    if (flags != 0) {
      return fail(EINVAL);
    }
    char canon[PATH_MAX];
    struct stat st;
    if (canonical(olddirfd, oldpath, canon) == 0 && is_lock_dir(canon) &&
        REAL(fstatat)(olddirfd, oldpath, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      return fail(EACCES);
    }
    return REAL(renameat)(olddirfd, oldpath, newdirfd, newpath);
  }
  return REAL(renameat2)(olddirfd, oldpath, newdirfd, newpath, flags);
}
EMU_EXPORT int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  return renameat2(olddirfd, oldpath, newdirfd, newpath, 0);
}
EMU_EXPORT int rename(const char* oldpath, const char* newpath) {
  return renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

// ---- links ---------------------------------------------------------------------------------

EMU_EXPORT int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                      int flags) {
  if (at_on_store(olddirfd, oldpath) || at_on_store(newdirfd, newpath)) {
    return fail(EPERM);
  }
  return REAL(linkat)(olddirfd, oldpath, newdirfd, newpath, flags);
}
EMU_EXPORT int link(const char* oldpath, const char* newpath) {
  return linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}
EMU_EXPORT int symlinkat(const char* target, int newdirfd, const char* linkpath) {
  if (at_on_store(newdirfd, linkpath)) {
    return fail(EPERM);
  }
  return REAL(symlinkat)(target, newdirfd, linkpath);
}
EMU_EXPORT int symlink(const char* target, const char* linkpath) {
  return symlinkat(target, AT_FDCWD, linkpath);
}

// ---- owner and mode ------------------------------------------------------------------------

static int chown_allowed(uid_t uid, gid_t gid) {
  return (uid == 0 || uid == (uid_t)-1) && (gid == WWW_DATA_GID || gid == (gid_t)-1);
}

EMU_EXPORT int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  if (at_on_store(dirfd, path)) {
    return chown_allowed(uid, gid) ? 0 : fail(EPERM);
  }
  return REAL(fchownat)(dirfd, path, uid, gid, flags);
}
EMU_EXPORT int chown(const char* path, uid_t uid, gid_t gid) {
  return fchownat(AT_FDCWD, path, uid, gid, 0);
}
EMU_EXPORT int lchown(const char* path, uid_t uid, gid_t gid) {
  return fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}
EMU_EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  if (fd_on_store(fd)) {
    return chown_allowed(uid, gid) ? 0 : fail(EPERM);
  }
  return REAL(fchown)(fd, uid, gid);
}

EMU_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  if (at_on_store(dirfd, path)) {
    char canon[PATH_MAX];
    struct stat st;
    if (canonical(dirfd, path, canon) != 0 || REAL(fstatat)(dirfd, path, &st, 0) != 0) {
      return -1;
    }
    return (mode & 07777) == fixed_mode(S_ISDIR(st.st_mode), is_private(canon)) ? 0 : fail(EPERM);
  }
  return REAL(fchmodat)(dirfd, path, mode, flags);
}
EMU_EXPORT int chmod(const char* path, mode_t mode) {
  return fchmodat(AT_FDCWD, path, mode, 0);
}
EMU_EXPORT int fchmod(int fd, mode_t mode) {
  if (fd_on_store(fd)) {
    char canon[PATH_MAX];
    struct stat st;
    if (fd_canonical(fd, canon) != 0 || REAL(fstat)(fd, &st) != 0) {
      return -1;
    }
    return (mode & 07777) == fixed_mode(S_ISDIR(st.st_mode), is_private(canon)) ? 0 : fail(EPERM);
  }
  return REAL(fchmod)(fd, mode);
}

// ---- writes and sizes ----------------------------------------------------------------------

static int write_refused(int fd, off_t end_offset) {
  if (!fd_on_store(fd)) {
    return 0;
  }
  if (no_quorum()) {
    errno = EACCES;
    return 1;
  }
  if (end_offset > MAX_FILE) {
    errno = EFBIG;
    return 1;
  }
  return 0;
}

EMU_EXPORT ssize_t write(int fd, const void* buf, size_t count) {
  if (fd_on_store(fd)) {
    const off_t at = lseek(fd, 0, SEEK_CUR);
    if (write_refused(fd, (at < 0 ? 0 : at) + (off_t)count)) {
      return -1;
    }
  }
  return REAL(write)(fd, buf, count);
}
EMU_EXPORT ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  if (write_refused(fd, offset + (off_t)count)) {
    return -1;
  }
  return REAL(pwrite)(fd, buf, count, offset);
}
EMU_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  return pwrite(fd, buf, count, offset);
}
EMU_EXPORT int ftruncate(int fd, off_t length) {
  if (write_refused(fd, length)) {
    return -1;
  }
  return REAL(ftruncate)(fd, length);
}
EMU_EXPORT int ftruncate64(int fd, off_t length) {
  return ftruncate(fd, length);
}
EMU_EXPORT int truncate(const char* path, off_t length) {
  if (path_on_store(path)) {
    if (no_quorum()) {
      return fail(EACCES);
    }
    if (length > MAX_FILE) {
      return fail(EFBIG);
    }
  }
  return REAL(truncate)(path, length);
}

// ---- node-local locks ----------------------------------------------------------------------

static int shadow_for(int fd) {
  if (fd < 0 || fd >= MAX_FDS) {
    return -1;
  }
  if (shadow_fd[fd] >= 0) {
    return shadow_fd[fd];
  }
  struct stat st;
  if (REAL(fstat)(fd, &st) != 0) {
    return -1;
  }
  const char* node = getenv("PMXEMU_NODE");
  char dir[PATH_MAX], path[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/node-%s", getenv("PMXEMU_CTL"), node ? node : "default");
  (void)REAL(mkdirat)(AT_FDCWD, dir, 0700);
  snprintf(path, sizeof path, "%s/ino-%llu", dir, (unsigned long long)st.st_ino);
  shadow_fd[fd] = REAL(openat)(AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  return shadow_fd[fd];
}

EMU_EXPORT int flock(int fd, int operation) {
  if (fd_on_store(fd)) {
    const int shadow = shadow_for(fd);
    if (shadow < 0) {
      return fail(EIO);
    }
    return REAL(flock)(shadow, operation);
  }
  return REAL(flock)(fd, operation);
}

static int is_lock_cmd(int cmd) {
  return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK || cmd == F_OFD_SETLK ||
         cmd == F_OFD_SETLKW || cmd == F_OFD_GETLK;
}

EMU_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (is_lock_cmd(cmd) && fd_on_store(fd)) {
    const int shadow = shadow_for(fd);
    if (shadow < 0) {
      return fail(EIO);
    }
    return REAL(fcntl)(shadow, cmd, arg);
  }
  return REAL(fcntl)(fd, cmd, arg);
}
EMU_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl(fd, cmd, arg);
}

EMU_EXPORT int close(int fd) {
  if (fd >= 0 && fd < MAX_FDS && shadow_fd[fd] >= 0) {
    REAL(close)(shadow_fd[fd]);  // a closed descriptor drops its locks, as the kernel does
    shadow_fd[fd] = -1;
  }
  return REAL(close)(fd);
}

// ---- metadata ------------------------------------------------------------------------------

static void patch_statfs(struct statfs* buf) {
  buf->f_type = FUSE_MAGIC;
}
EMU_EXPORT int statfs(const char* path, struct statfs* buf) {
  const int rc = REAL(statfs)(path, buf);
  if (rc == 0 && path_on_store(path)) {
    patch_statfs(buf);
  }
  return rc;
}
EMU_EXPORT int statfs64(const char* path, struct statfs64* buf) {
  return statfs(path, (struct statfs*)buf);
}
EMU_EXPORT int fstatfs(int fd, struct statfs* buf) {
  const int rc = REAL(fstatfs)(fd, buf);
  if (rc == 0 && fd_on_store(fd)) {
    patch_statfs(buf);
  }
  return rc;
}
EMU_EXPORT int fstatfs64(int fd, struct statfs64* buf) {
  return fstatfs(fd, (struct statfs*)buf);
}

// Without quorum pmxcfs shows every file and directory without write permission.
static void patch_stat(struct stat* st) {
  init();
  if (active && st->st_dev == store_dev && no_quorum()) {
    st->st_mode &= ~(mode_t)0222;
  }
}
EMU_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  const int rc = REAL(fstatat)(dirfd, path, st, flags);
  if (rc == 0) {
    patch_stat(st);
  }
  return rc;
}
EMU_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
  return fstatat(dirfd, path, (struct stat*)st, flags);
}
EMU_EXPORT int stat(const char* path, struct stat* st) {
  return fstatat(AT_FDCWD, path, st, 0);
}
EMU_EXPORT int stat64(const char* path, struct stat64* st) {
  return fstatat(AT_FDCWD, path, (struct stat*)st, 0);
}
EMU_EXPORT int lstat(const char* path, struct stat* st) {
  return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
EMU_EXPORT int lstat64(const char* path, struct stat64* st) {
  return fstatat(AT_FDCWD, path, (struct stat*)st, AT_SYMLINK_NOFOLLOW);
}
EMU_EXPORT int fstat(int fd, struct stat* st) {
  const int rc = REAL(fstat)(fd, st);
  if (rc == 0) {
    patch_stat(st);
  }
  return rc;
}
EMU_EXPORT int fstat64(int fd, struct stat64* st) {
  return fstat(fd, (struct stat*)st);
}

EMU_EXPORT int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf) {
  const int rc = REAL(statx)(dirfd, path, flags, mask, buf);
  init();
  if (rc == 0 && active && makedev(buf->stx_dev_major, buf->stx_dev_minor) == store_dev &&
      no_quorum()) {
    buf->stx_mode &= (__u16)~0222;
  }
  return rc;
}

// utime(lockdir, 0, 0): pmxcfs's "release this lock if it has expired". The check and the
// removal run under one flock in the control directory, so two takers cannot both remove.
EMU_EXPORT int utimensat(int dirfd, const char* path, const struct timespec times[2], int flags) {
  if (at_on_store(dirfd, path)) {
    if (no_quorum()) {
      return fail(EACCES);
    }
    char canon[PATH_MAX];
    if (times != NULL && times[1].tv_sec == 0 && times[1].tv_nsec == 0 &&
        canonical(dirfd, path, canon) == 0 && is_lock_dir(canon)) {
      char guard_path[PATH_MAX];
      snprintf(guard_path, sizeof guard_path, "%s/expiry.lock", getenv("PMXEMU_CTL"));
      const int guard = REAL(openat)(AT_FDCWD, guard_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (guard < 0 || REAL(flock)(guard, LOCK_EX) != 0) {
        return fail(EIO);
      }
      struct stat st;
      int rc = 0;
      if (REAL(fstatat)(AT_FDCWD, canon, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = -1;
      } else if (S_ISDIR(st.st_mode) && time(NULL) - st.st_mtime > LOCK_EXPIRY) {
        rc = REAL(rmdir)(canon);
      }
      const int saved = errno;
      REAL(close)(guard);
      errno = saved;
      return rc;
    }
  }
  return REAL(utimensat)(dirfd, path, times, flags);
}
