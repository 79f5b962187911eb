// libpvetotp_testshim.so: LD_PRELOAD library for the integration tests only.
//
// PVETOTP_TEST_TIME=<epoch>   pins the wall clock: time(), gettimeofday() and
//                             clock_gettime(CLOCK_REALTIME[_COARSE]) return that second.
// PVETOTP_TEST_SYSLOG=<file>  captures syslog: every syslog()/vsyslog() call (including the
//                             fortified __syslog_chk/__vsyslog_chk that _FORTIFY_SOURCE builds and
//                             libpam's pam_syslog use) appends "<priority> <message>\n" to <file>.
//
// Neither the module nor libpam knows about these variables; interposition works because both
// call these functions through the PLT. Other clocks are forwarded to libc via RTLD_NEXT so
// timeouts (e.g. a lock wait on CLOCK_MONOTONIC) keep working while the wall clock is frozen.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

static int pinned_time(time_t* out) {
  const char* v = getenv("PVETOTP_TEST_TIME");
  if (!v || !*v) {
    return 0;
  }
  char* end = NULL;
  long long t = strtoll(v, &end, 10);
  if (end == v) {
    return 0;
  }
  *out = (time_t)t;
  return 1;
}

typedef int (*clock_gettime_fn)(clockid_t, struct timespec*);
typedef int (*gettimeofday_fn)(struct timeval*, void*);
typedef time_t (*time_fn)(time_t*);

SHIM_EXPORT time_t time(time_t* out) {
  time_t t;
  if (!pinned_time(&t)) {
    static time_fn real;
    if (!real) {
      real = (time_fn)dlsym(RTLD_NEXT, "time");
    }
    t = real(NULL);
  }
  if (out) {
    *out = t;
  }
  return t;
}

SHIM_EXPORT int gettimeofday(struct timeval* tv, void* tz) {
  time_t t;
  if (!pinned_time(&t)) {
    static gettimeofday_fn real;
    if (!real) {
      real = (gettimeofday_fn)dlsym(RTLD_NEXT, "gettimeofday");
    }
    return real(tv, tz);
  }
  if (tv) {
    tv->tv_sec = t;
    tv->tv_usec = 0;
  }
  return 0;
}

SHIM_EXPORT int clock_gettime(clockid_t clock, struct timespec* ts) {
  time_t t;
  if ((clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE) && pinned_time(&t)) {
    ts->tv_sec = t;
    ts->tv_nsec = 0;
    return 0;
  }
  static clock_gettime_fn real;
  if (!real) {
    real = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
  }
  return real(clock, ts);
}

// Opened while the process still runs as root: the module drops its filesystem uid to the
// target user before it logs most lines, and that user cannot create files in the test dir.
static int capture_fd = -1;

__attribute__((constructor)) static void open_capture_file(void) {
  const char* path = getenv("PVETOTP_TEST_SYSLOG");
  if (path && *path) {
    capture_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  }
}

// Appends one record with a single write() on an O_APPEND descriptor, so the lines of 40
// concurrent clients sharing one capture file never interleave.
static void capture(int priority, const char* format, va_list ap) {
  const char* path = getenv("PVETOTP_TEST_SYSLOG");
  if (!path || !*path) {
    return;
  }
  char message[4096];
  vsnprintf(message, sizeof message, format, ap);
  size_t len = strlen(message);
  while (len > 0 && message[len - 1] == '\n') {
    message[--len] = '\0';  // the reference module ends one message with a literal newline
  }
  char line[8192];
  int n = snprintf(line, sizeof line, "%d ", priority);
  for (size_t i = 0; i < len && n < (int)sizeof line - 3; ++i) {
    if (message[i] == '\n') {
      line[n++] = '\\';
      line[n++] = 'n';
    } else {
      line[n++] = message[i];
    }
  }
  line[n++] = '\n';
  int fd = capture_fd;
  if (fd < 0) {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  }
  if (fd < 0) {
    return;
  }
  ssize_t ignored = write(fd, line, (size_t)n);
  (void)ignored;
  if (fd != capture_fd) {
    close(fd);
  }
}

// Capturing replaces the real syslog entirely: there is no syslog daemon on the test machine
// and the lines are only useful to the test anyway.
#define CAPTURE_OR_FORWARD(priority, format, ap)             \
  do {                                                       \
    int saved_errno = errno;                                 \
    const char* p = getenv("PVETOTP_TEST_SYSLOG");           \
    if (p && *p) {                                           \
      errno = saved_errno; /* keep %m meaningful */          \
      capture(priority, format, ap);                         \
    } else {                                                 \
      typedef void (*vsyslog_fn)(int, const char*, va_list); \
      static vsyslog_fn real;                                \
      if (!real) {                                           \
        real = (vsyslog_fn)dlsym(RTLD_NEXT, "vsyslog");      \
      }                                                      \
      errno = saved_errno;                                   \
      real(priority, format, ap);                            \
    }                                                        \
    errno = saved_errno;                                     \
  } while (0)

SHIM_EXPORT void vsyslog(int priority, const char* format, va_list ap) {
  CAPTURE_OR_FORWARD(priority, format, ap);
}

SHIM_EXPORT void syslog(int priority, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  CAPTURE_OR_FORWARD(priority, format, ap);
  va_end(ap);
}

SHIM_EXPORT void __vsyslog_chk(int priority, int flag, const char* format, va_list ap) {
  (void)flag;
  CAPTURE_OR_FORWARD(priority, format, ap);
}

SHIM_EXPORT void __syslog_chk(int priority, int flag, const char* format, ...) {
  (void)flag;
  va_list ap;
  va_start(ap, format);
  CAPTURE_OR_FORWARD(priority, format, ap);
  va_end(ap);
}

SHIM_EXPORT void openlog(const char* ident, int option, int facility) {
  if (getenv("PVETOTP_TEST_SYSLOG")) {
    return;
  }
  typedef void (*openlog_fn)(const char*, int, int);
  static openlog_fn real;
  if (!real) {
    real = (openlog_fn)dlsym(RTLD_NEXT, "openlog");
  }
  real(ident, option, facility);
}

SHIM_EXPORT void closelog(void) {
  if (getenv("PVETOTP_TEST_SYSLOG")) {
    return;
  }
  typedef void (*closelog_fn)(void);
  static closelog_fn real;
  if (!real) {
    real = (closelog_fn)dlsym(RTLD_NEXT, "closelog");
  }
  real();
}
