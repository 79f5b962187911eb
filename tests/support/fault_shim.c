// libpvetotp_faultshim.so: LD_PRELOAD fault injection for the robustness tests only. Never
// linked into anything, never installed.
//
// PVETOTP_FAULT=<rule>[;<rule>...]   rule = FUNC:N:ACTION:PATTERN
//   FUNC     a family of libc calls (below). Every call of the family whose path contains
//            PATTERN (for descriptor calls: the path the descriptor names, read from
//            /proc/self/fd) counts; the Nth such call (1-based, "*" = every one) gets ACTION.
//   ACTION   an errno name (ENOSPC, EIO, EROFS, EDQUOT, EACCES, EINTR, EAGAIN, EPERM, ...) or
//            a number: the call does nothing and returns -1 with that errno (close still
//            closes, as Linux does);
//            PAUSE: record "PAUSED ..." in PVETOTP_FAULT_MARK and sleep until killed, so a
//            test can SIGKILL the process at exactly that call.
// PVETOTP_FAULT_LOG=<file>           one "INJECT FUNC N ERRNO PATH" line per injected fault,
//                                    so a test can tell a fault that never fired from one
//                                    that was handled.
// PVETOTP_FAULT_TRACE=<file>         one "FUNC PATH" line per call whose path contains
// PVETOTP_FAULT_TRACE_MATCH=<text>   <text>, before any fault: the list of call sites.
//
// Families (the symbols glibc exports for them, so fortified and LFS variants are caught):
//   open     open open64 __open_2 __open64_2 openat openat64 __openat_2 __openat64_2
//   read     read __read_chk          write    write
//   fsync    fsync fdatasync          rename   rename renameat renameat2
//   linkat   linkat (by the new name: the commit links its unnamed temp file)
//   flock    flock                    fcntl    fcntl fcntl64
//   mkstemp  mkstemp mkstemp64 mkostemp mkostemp64 mkstemps mkostemps
//   fchmod   fchmod                   fchown   fchown
//   fstat    fstat fstat64            stat     stat stat64
//   close    close                    unlink   unlink
// pam_pvetotp.so imports exactly these names (objdump -T); the list is checked by the
// fault-matrix test's trace, which fails if a site it expects is missing.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

enum family {
  F_OPEN,
  F_READ,
  F_WRITE,
  F_FSYNC,
  F_RENAME,
  F_FLOCK,
  F_FCNTL,
  F_MKSTEMP,
  F_FCHMOD,
  F_FCHOWN,
  F_FSTAT,
  F_STAT,
  F_CLOSE,
  F_UNLINK,
  F_LINKAT,
  F_COUNT
};

static const char* const family_names[F_COUNT] = {"open",  "read",  "write",   "fsync",  "rename",
                                                  "flock", "fcntl", "mkstemp", "fchmod", "fchown",
                                                  "fstat", "stat",  "close",   "unlink", "linkat"};

#define MAX_RULES 8
#define ACTION_PAUSE (-1)

struct rule {
  int family;
  long nth;  // 0 = every call
  int action;
  char pattern[512];
  long seen;
};

static struct rule rules[MAX_RULES];
static int rule_count;
static int configured;
static int log_fd = -1;
static int trace_fd = -1;
static int mark_fd = -1;
static const char* trace_match;
static __thread int inside;  // our own bookkeeping must not count or fault

static const struct {
  const char* name;
  int value;
} errno_names[] = {
    {"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EROFS", EROFS},   {"EDQUOT", EDQUOT},
    {"EACCES", EACCES}, {"EINTR", EINTR},   {"EAGAIN", EAGAIN}, {"EPERM", EPERM},
    {"ENOENT", ENOENT}, {"EEXIST", EEXIST}, {"EBADF", EBADF},   {"EINVAL", EINVAL},
    {"ENOMEM", ENOMEM}, {"EMFILE", EMFILE}, {"EFBIG", EFBIG},   {"ENOLCK", ENOLCK},
};

static void* next_symbol(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == NULL) {
    // Abort loudly: silently skipping interposition would make every fault a no-op.
    static const char msg[] = "fault_shim: missing libc symbol\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    abort();
  }
  return p;
}

// The real function, typed like our definition of it (which is also libc's prototype).
#define REAL(name, type_unused)         \
  static __typeof__(&name) real_##name; \
  if (!real_##name)                     \
  real_##name = (__typeof__(&name))next_symbol(#name)

static int parse_family(const char* text, size_t len) {
  for (int i = 0; i < F_COUNT; ++i) {
    if (strlen(family_names[i]) == len && strncmp(family_names[i], text, len) == 0) {
      return i;
    }
  }
  return -1;
}

static int parse_action(const char* text, size_t len) {
  if (len == 5 && strncmp(text, "PAUSE", 5) == 0) {
    return ACTION_PAUSE;
  }
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; ++i) {
    if (strlen(errno_names[i].name) == len && strncmp(errno_names[i].name, text, len) == 0) {
      return errno_names[i].value;
    }
  }
  char buffer[16];
  if (len == 0 || len >= sizeof buffer) {
    return 0;
  }
  memcpy(buffer, text, len);
  buffer[len] = '\0';
  return atoi(buffer);
}

static void bad_config(const char* why) {
  char line[256];
  int n = snprintf(line, sizeof line, "fault_shim: bad PVETOTP_FAULT: %s\n", why);
  ssize_t ignored = write(2, line, (size_t)n);
  (void)ignored;
  abort();
}

static int open_append(const char* env) {
  const char* path = getenv(env);
  if (path == NULL || *path == '\0') {
    return -1;
  }
  REAL(open, int (*)(const char*, int, ...));
  return real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
}

// Runs before the module drops its filesystem uid, so the log files can be opened as root.
__attribute__((constructor)) static void configure(void) {
  if (configured) {
    return;
  }
  configured = 1;
  inside = 1;
  log_fd = open_append("PVETOTP_FAULT_LOG");
  trace_fd = open_append("PVETOTP_FAULT_TRACE");
  mark_fd = open_append("PVETOTP_FAULT_MARK");
  trace_match = getenv("PVETOTP_FAULT_TRACE_MATCH");
  const char* spec = getenv("PVETOTP_FAULT");
  while (spec != NULL && *spec != '\0' && rule_count < MAX_RULES) {
    const char* end = strchr(spec, ';');
    size_t len = end ? (size_t)(end - spec) : strlen(spec);
    const char* fields[4];
    size_t lengths[4];
    const char* p = spec;
    for (int i = 0; i < 4; ++i) {
      const char* colon = i < 3 ? memchr(p, ':', len - (size_t)(p - spec)) : NULL;
      fields[i] = p;
      lengths[i] = colon ? (size_t)(colon - p) : len - (size_t)(p - spec);
      if (i < 3 && colon == NULL) {
        bad_config("expected FUNC:N:ACTION:PATTERN");
      }
      p = colon ? colon + 1 : p;
    }
    struct rule* r = &rules[rule_count++];
    r->family = parse_family(fields[0], lengths[0]);
    if (r->family < 0) {
      bad_config("unknown function family");
    }
    r->nth = lengths[1] == 1 && fields[1][0] == '*' ? 0 : strtol(fields[1], NULL, 10);
    r->action = parse_action(fields[2], lengths[2]);
    if (r->action == 0) {
      bad_config("unknown action");
    }
    if (lengths[3] >= sizeof r->pattern) {
      bad_config("pattern too long");
    }
    memcpy(r->pattern, fields[3], lengths[3]);
    r->pattern[lengths[3]] = '\0';
    spec = end ? end + 1 : NULL;
  }
  inside = 0;
}

static void append_line(int fd, const char* line, size_t len) {
  if (fd >= 0) {
    REAL(write, ssize_t(*)(int, const void*, size_t));
    ssize_t ignored = real_write(fd, line, len);
    (void)ignored;
  }
}

static const char* fd_path(int fd, char* buffer, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buffer, size - 1);
  if (n < 0) {
    n = 0;
  }
  buffer[n] = '\0';
  return buffer;
}

// Decides what happens to one call: 0 = run it, otherwise the errno to fail with. PAUSE
// never returns.
static int decide(int family, const char* path) {
  if (inside) {
    return 0;
  }
  if (!configured) {
    configure();
  }
  if (path == NULL) {
    path = "";
  }
  inside = 1;
  int saved_errno = errno;
  char line[1200];
  if (trace_fd >= 0 && trace_match != NULL && strstr(path, trace_match) != NULL) {
    int n = snprintf(line, sizeof line, "%s %s\n", family_names[family], path);
    append_line(trace_fd, line, (size_t)n);
  }
  int action = 0;
  for (int i = 0; i < rule_count && action == 0; ++i) {
    struct rule* r = &rules[i];
    if (r->family != family || strstr(path, r->pattern) == NULL) {
      continue;
    }
    r->seen++;
    if (r->nth != 0 && r->seen != r->nth) {
      continue;
    }
    action = r->action;
    if (action == ACTION_PAUSE) {
      int n =
          snprintf(line, sizeof line, "PAUSED %s %ld %s\n", family_names[family], r->seen, path);
      append_line(mark_fd, line, (size_t)n);
      for (;;) {
        struct timespec t = {3600, 0};
        nanosleep(&t, NULL);
      }
    }
    int n = snprintf(line, sizeof line, "INJECT %s %ld %d %s\n", family_names[family], r->seen,
                     action, path);
    append_line(log_fd, line, (size_t)n);
  }
  errno = saved_errno;
  inside = 0;
  return action;
}

static int decide_fd(int family, int fd) {
  if (inside || (rule_count == 0 && trace_fd < 0 && configured)) {
    return 0;
  }
  char path[1024];
  return decide(family, fd_path(fd, path, sizeof path));
}

#define FAIL_WITH(err) \
  do {                 \
    errno = (err);     \
    return -1;         \
  } while (0)

// ---- open ---------------------------------------------------------------------------------

static mode_t mode_argument(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define DEFINE_OPEN(name)                                  \
  SHIM_EXPORT int name(const char* path, int flags, ...) { \
    va_list ap;                                            \
    va_start(ap, flags);                                   \
    mode_t mode = mode_argument(flags, ap);                \
    va_end(ap);                                            \
    int err = decide(F_OPEN, path);                        \
    if (err)                                               \
      FAIL_WITH(err);                                      \
    REAL(name, int (*)(const char*, int, ...));            \
    return real_##name(path, flags, mode);                 \
  }
DEFINE_OPEN(open)
DEFINE_OPEN(open64)

#define DEFINE_OPENAT(name)                                           \
  SHIM_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    va_list ap;                                                       \
    va_start(ap, flags);                                              \
    mode_t mode = mode_argument(flags, ap);                           \
    va_end(ap);                                                       \
    int err = decide(F_OPEN, path);                                   \
    if (err)                                                          \
      FAIL_WITH(err);                                                 \
    REAL(name, int (*)(int, const char*, int, ...));                  \
    return real_##name(dirfd, path, flags, mode);                     \
  }
DEFINE_OPENAT(openat)
DEFINE_OPENAT(openat64)

SHIM_EXPORT int __open_2(const char* path, int flags) {
  int err = decide(F_OPEN, path);
  if (err)
    FAIL_WITH(err);
  REAL(__open_2, int (*)(const char*, int));
  return real___open_2(path, flags);
}
SHIM_EXPORT int __open64_2(const char* path, int flags) {
  int err = decide(F_OPEN, path);
  if (err)
    FAIL_WITH(err);
  REAL(__open64_2, int (*)(const char*, int));
  return real___open64_2(path, flags);
}
SHIM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  int err = decide(F_OPEN, path);
  if (err)
    FAIL_WITH(err);
  REAL(__openat_2, int (*)(int, const char*, int));
  return real___openat_2(dirfd, path, flags);
}
SHIM_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  int err = decide(F_OPEN, path);
  if (err)
    FAIL_WITH(err);
  REAL(__openat64_2, int (*)(int, const char*, int));
  return real___openat64_2(dirfd, path, flags);
}

// ---- read / write -------------------------------------------------------------------------

SHIM_EXPORT ssize_t read(int fd, void* buf, size_t count) {
  int err = decide_fd(F_READ, fd);
  if (err)
    FAIL_WITH(err);
  REAL(read, ssize_t(*)(int, void*, size_t));
  return real_read(fd, buf, count);
}
SHIM_EXPORT ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
  int err = decide_fd(F_READ, fd);
  if (err)
    FAIL_WITH(err);
  REAL(__read_chk, ssize_t(*)(int, void*, size_t, size_t));
  return real___read_chk(fd, buf, count, buflen);
}
SHIM_EXPORT ssize_t write(int fd, const void* buf, size_t count) {
  int err = decide_fd(F_WRITE, fd);
  if (err)
    FAIL_WITH(err);
  REAL(write, ssize_t(*)(int, const void*, size_t));
  return real_write(fd, buf, count);
}

// ---- fsync / fdatasync --------------------------------------------------------------------

SHIM_EXPORT int fsync(int fd) {
  int err = decide_fd(F_FSYNC, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fsync, int (*)(int));
  return real_fsync(fd);
}
SHIM_EXPORT int fdatasync(int fd) {
  int err = decide_fd(F_FSYNC, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fdatasync, int (*)(int));
  return real_fdatasync(fd);
}

// ---- linkat -------------------------------------------------------------------------------

SHIM_EXPORT int linkat(int fromdir, const char* from, int todir, const char* to, int flags) {
  int err = decide(F_LINKAT, to);
  if (err)
    FAIL_WITH(err);
  REAL(linkat, int (*)(int, const char*, int, const char*, int));
  return real_linkat(fromdir, from, todir, to, flags);
}

// ---- rename -------------------------------------------------------------------------------
// Matched on the source path: for the module that is the temp file, for which the pattern
// of the secret file's directory matches as well.

SHIM_EXPORT int rename(const char* from, const char* to) {
  int err = decide(F_RENAME, from);
  if (err)
    FAIL_WITH(err);
  REAL(rename, int (*)(const char*, const char*));
  return real_rename(from, to);
}
SHIM_EXPORT int renameat(int fromdir, const char* from, int todir, const char* to) {
  int err = decide(F_RENAME, from);
  if (err)
    FAIL_WITH(err);
  REAL(renameat, int (*)(int, const char*, int, const char*));
  return real_renameat(fromdir, from, todir, to);
}
SHIM_EXPORT int renameat2(int fromdir, const char* from, int todir, const char* to,
                          unsigned int flags) {
  int err = decide(F_RENAME, from);
  if (err)
    FAIL_WITH(err);
  REAL(renameat2, int (*)(int, const char*, int, const char*, unsigned int));
  return real_renameat2(fromdir, from, todir, to, flags);
}

// ---- locks --------------------------------------------------------------------------------

SHIM_EXPORT int flock(int fd, int operation) {
  int err = decide_fd(F_FLOCK, fd);
  if (err)
    FAIL_WITH(err);
  REAL(flock, int (*)(int, int));
  return real_flock(fd, operation);
}

// fcntl's third argument is an int or a pointer depending on the command; passing it on as
// a pointer-sized value is what glibc's own wrappers do on the supported ABIs.
SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int err = decide_fd(F_FCNTL, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fcntl, int (*)(int, int, ...));
  return real_fcntl(fd, cmd, arg);
}
SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int err = decide_fd(F_FCNTL, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fcntl64, int (*)(int, int, ...));
  return real_fcntl64(fd, cmd, arg);
}

// ---- temp files ---------------------------------------------------------------------------

SHIM_EXPORT int mkstemp(char* tmpl) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkstemp, int (*)(char*));
  return real_mkstemp(tmpl);
}
SHIM_EXPORT int mkstemp64(char* tmpl) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkstemp64, int (*)(char*));
  return real_mkstemp64(tmpl);
}
SHIM_EXPORT int mkostemp(char* tmpl, int flags) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkostemp, int (*)(char*, int));
  return real_mkostemp(tmpl, flags);
}
SHIM_EXPORT int mkostemp64(char* tmpl, int flags) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkostemp64, int (*)(char*, int));
  return real_mkostemp64(tmpl, flags);
}
SHIM_EXPORT int mkstemps(char* tmpl, int suffixlen) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkstemps, int (*)(char*, int));
  return real_mkstemps(tmpl, suffixlen);
}
SHIM_EXPORT int mkostemps(char* tmpl, int suffixlen, int flags) {
  int err = decide(F_MKSTEMP, tmpl);
  if (err)
    FAIL_WITH(err);
  REAL(mkostemps, int (*)(char*, int, int));
  return real_mkostemps(tmpl, suffixlen, flags);
}

// ---- metadata -----------------------------------------------------------------------------

SHIM_EXPORT int fchmod(int fd, mode_t mode) {
  int err = decide_fd(F_FCHMOD, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fchmod, int (*)(int, mode_t));
  return real_fchmod(fd, mode);
}
SHIM_EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  int err = decide_fd(F_FCHOWN, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fchown, int (*)(int, uid_t, gid_t));
  return real_fchown(fd, uid, gid);
}
SHIM_EXPORT int fstat(int fd, struct stat* st) {
  int err = decide_fd(F_FSTAT, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fstat, int (*)(int, struct stat*));
  return real_fstat(fd, st);
}
SHIM_EXPORT int fstat64(int fd, struct stat64* st) {
  int err = decide_fd(F_FSTAT, fd);
  if (err)
    FAIL_WITH(err);
  REAL(fstat64, int (*)(int, struct stat64*));
  return real_fstat64(fd, st);
}
SHIM_EXPORT int stat(const char* path, struct stat* st) {
  int err = decide(F_STAT, path);
  if (err)
    FAIL_WITH(err);
  REAL(stat, int (*)(const char*, struct stat*));
  return real_stat(path, st);
}
SHIM_EXPORT int stat64(const char* path, struct stat64* st) {
  int err = decide(F_STAT, path);
  if (err)
    FAIL_WITH(err);
  REAL(stat64, int (*)(const char*, struct stat64*));
  return real_stat64(path, st);
}

// ---- close / unlink -----------------------------------------------------------------------

SHIM_EXPORT int close(int fd) {
  int err = decide_fd(F_CLOSE, fd);
  REAL(close, int (*)(int));
  if (err) {
    // Linux releases the descriptor even when close reports an error.
    (void)real_close(fd);
    FAIL_WITH(err);
  }
  return real_close(fd);
}
SHIM_EXPORT int unlink(const char* path) {
  int err = decide(F_UNLINK, path);
  if (err)
    FAIL_WITH(err);
  REAL(unlink, int (*)(const char*));
  return real_unlink(path);
}
