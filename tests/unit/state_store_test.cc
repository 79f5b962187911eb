// Tests for the state store (locked read, atomic durable rewrite) and its fs_util helpers.
//
// Several tests need root: to give files to other uids, to drop a forked child to a non-root
// uid so directory permissions really apply, to set the immutable flag, and to mount a tiny
// tmpfs in a private mount namespace. They skip with a message when not root. Forked
// children never use gtest assertions; they report through their exit status (0 = all
// good, anything else names the check that failed) and explain on stderr.
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../libtotp/src/fs_util.h"  // internal header, tested directly
#include "../support/temp_dir.h"        // tests/CMakeLists.txt adds unit/support, not support
#include "totp/state_store.h"

namespace {

using pvetotp::test::temp_dir;
using totp::create_options;
using totp::error_code;
using totp::locked_file;
using totp::open_policy;
using namespace std::chrono_literals;

constexpr uid_t kOtherUid = 12345;
constexpr gid_t kOtherGid = 23456;

std::span<const std::uint8_t> bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

void write_file(const std::string& path, std::string_view content, mode_t mode = 0600) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  ASSERT_TRUE(out) << "cannot write " << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << std::strerror(errno);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// How errors name the new version while it is an unnamed (O_TMPFILE) file in `dir`.
std::string unnamed_temp(const std::string& dir) {
  return dir + " (O_TMPFILE)";
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Any `<name>~XXXXXX` temp file left behind (the stale one a test plants is passed as
// `except`).
std::vector<std::string> temp_files(const std::string& dir, const std::string& except = "") {
  std::vector<std::string> found;
  for (const auto& name : list_dir(dir)) {
    if (name.find('~') != std::string::npos && name != except) {
      found.push_back(name);
    }
  }
  return found;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

bool is_root() {
  return ::geteuid() == 0;
}

// Runs `fn` in a forked child and returns its exit status (128 + signal if killed).
template <class F>
int run_child(F&& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    int rc = 97;
    try {
      rc = fn();
    } catch (...) {
      rc = 98;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool drop_to(uid_t uid, gid_t gid) {
  return ::setgroups(0, nullptr) == 0 && ::setgid(gid) == 0 && ::setuid(uid) == 0;
}

open_policy default_policy() {
  open_policy policy;
  policy.lock_timeout = 5000ms;
  return policy;
}

#define SKIP_UNLESS_ROOT()                                                         \
  do {                                                                             \
    if (!is_root()) {                                                              \
      GTEST_SKIP() << "needs root (ownership, privilege drop or mount namespace)"; \
    }                                                                              \
  } while (0)

// ---------------------------------------------------------------------------------------
// fs_util

TEST(FsUtil, UniqueFdClosesOnceAndMoves) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  totp::fs::unique_fd a(fds[0]);
  totp::fs::unique_fd b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), fds[0]);
  EXPECT_EQ(b.close(), 0);
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1);  // really closed
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(b.close(), 0);  // closing nothing is fine
}

TEST(FsUtil, ReadAllBoundedExactSize) {
  temp_dir dir;
  write_file(dir.file("f"), "hello");
  totp::fs::unique_fd fd(::open(dir.file("f").c_str(), O_RDONLY));
  auto data = totp::fs::read_all_bounded(fd.get(), 5, 100, "f");
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->view(), "hello");
}

TEST(FsUtil, ReadAllBoundedDetectsSizeMismatchAndCap) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "abc", 3), 3);
  ::close(fds[1]);
  totp::fs::unique_fd in(fds[0]);
  auto shorter = totp::fs::read_all_bounded(in.get(), 5, 100, "p");
  ASSERT_FALSE(shorter);
  EXPECT_EQ(shorter.error().code, error_code::changed);

  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "abcdefg", 7), 7);
  ::close(fds[1]);
  in.reset(fds[0]);
  auto longer = totp::fs::read_all_bounded(in.get(), 5, 5, "p");
  ASSERT_FALSE(longer);
  EXPECT_EQ(longer.error().code, error_code::file_size);
  EXPECT_EQ(longer.error().message, "Invalid file size for \"p\"");
}

TEST(FsUtil, ReadErrorNamesCall) {
  totp::fs::unique_fd fd(::open("/tmp", O_RDONLY | O_DIRECTORY));
  auto data = totp::fs::read_all_bounded(fd.get(), 5, 100, "/tmp");
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error().code, error_code::io);
  EXPECT_EQ(data.error().sys_errno, EISDIR);
  EXPECT_EQ(data.error().message, "read(\"/tmp\"): Is a directory");
}

TEST(FsUtil, WriteAllAndErrors) {
  temp_dir dir;
  totp::fs::unique_fd fd(::open(dir.file("w").c_str(), O_WRONLY | O_CREAT, 0600));
  std::string big(200000, 'x');
  ASSERT_TRUE(totp::fs::write_all(fd.get(), bytes(big), "w"));
  EXPECT_EQ(read_file(dir.file("w")), big);

  totp::fs::unique_fd ro(::open(dir.file("w").c_str(), O_RDONLY));
  auto failed = totp::fs::write_all(ro.get(), bytes("x"), "w");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().sys_errno, EBADF);
  EXPECT_EQ(failed.error().message.rfind("write(\"w\"): ", 0), 0u);
}

TEST(FsUtil, DirectoryOfAndFsync) {
  EXPECT_EQ(totp::fs::directory_of("/a/b/c"), "/a/b");
  EXPECT_EQ(totp::fs::directory_of("/c"), "/");
  EXPECT_EQ(totp::fs::directory_of("c"), ".");
  temp_dir dir;
  EXPECT_TRUE(totp::fs::fsync_directory_of(dir.file("x")));
  auto missing = totp::fs::fsync_directory_of(dir.file("nope/x"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().sys_errno, ENOENT);
}

// ---------------------------------------------------------------------------------------
// locked_file::open and its checks

class StateStore : public ::testing::Test {
 protected:
  temp_dir dir_{"pvetotp-state"};
  std::string file_ = dir_.file("secret");
};

TEST_F(StateStore, ReadsRegularFile) {
  const std::string text = "JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n";
  write_file(file_, text);
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->content().view(), text);
  EXPECT_EQ(f->path(), file_);
  EXPECT_EQ(f->resolved_path(), file_);
  EXPECT_EQ(static_cast<std::size_t>(f->file_stat().st_size), text.size());
  EXPECT_EQ(f->file_stat().st_ino, stat_of(file_).st_ino);
  // The lock file appears next to it and is kept (never unlinked).
  EXPECT_EQ(list_dir(dir_.path()), (std::vector<std::string>{"secret", "secret.lock"}));
  EXPECT_EQ(stat_of(file_ + ".lock").st_mode & 07777, 0600u);
}

TEST_F(StateStore, DirectoryIsNotRegular) {
  ASSERT_EQ(::mkdir(file_.c_str(), 0700), 0);
  auto f = locked_file::open(file_, default_policy());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::not_regular);
  EXPECT_EQ(f.error().message, "Secret file \"" + file_ + "\" is not a regular file");
}

TEST_F(StateStore, FifoIsNotRegularAndDoesNotHang) {
  ASSERT_EQ(::mkfifo(file_.c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  auto f = locked_file::open(file_, default_policy());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::not_regular);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // Refused before locking: no lock file next to something that is not a secret file.
  EXPECT_EQ(list_dir(dir_.path()), std::vector<std::string>{"secret"});
}

TEST_F(StateStore, PermissionsOutsideAllowedAreRefused) {
  write_file(file_, "KEY\n", 0640);
  auto f = locked_file::open(file_, default_policy());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_permissions);
  EXPECT_EQ(f.error().message, "Secret file permissions (0640) are more permissive than 0600");

  open_policy relaxed = default_policy();
  relaxed.allowed_permissions = 0640;
  auto g = locked_file::open(file_, relaxed);
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->content().view(), "KEY\n");
}

TEST_F(StateStore, StricterModesPass) {
  write_file(file_, "KEY\n", 0400);
  EXPECT_TRUE(locked_file::open(file_, default_policy()));
}

TEST_F(StateStore, SetuidSetgidStickyAlwaysRefused) {
  for (mode_t mode : {04400, 02600, 01600}) {
    SCOPED_TRACE(mode);
    ::unlink(file_.c_str());  // the previous round's 0400 file is not writable for non-root
    write_file(file_, "KEY\n", mode);
    ASSERT_EQ(stat_of(file_).st_mode & 07777, mode);
    open_policy everything = default_policy();
    everything.allowed_permissions = 07777;  // even a policy that "allows" them
    auto f = locked_file::open(file_, everything);
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, error_code::bad_permissions);
    char expected[96];
    std::snprintf(expected, sizeof expected,
                  "Secret file permissions (%04o) are more permissive than 7777",
                  static_cast<unsigned>(mode));
    EXPECT_EQ(f.error().message, expected);
  }
}

TEST_F(StateStore, WrongOwnerRefused) {
  write_file(file_, "KEY\n");
  open_policy policy = default_policy();
  policy.required_owner = ::geteuid() + 1;
  auto f = locked_file::open(file_, policy);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_owner);
  EXPECT_EQ(f.error().message, "Secret file \"" + file_ + "\" must be owned by uid " +
                                   std::to_string(::geteuid() + 1));
  policy.required_owner = ::geteuid();
  EXPECT_TRUE(locked_file::open(file_, policy));
}

TEST_F(StateStore, WrongOwnerAsRoot) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "KEY\n");
  ASSERT_EQ(::chown(file_.c_str(), kOtherUid, kOtherGid), 0);
  open_policy policy = default_policy();
  policy.required_owner = 0;
  auto f = locked_file::open(file_, policy);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_owner);
  policy.required_owner = kOtherUid;
  EXPECT_TRUE(locked_file::open(file_, policy));
  policy.required_owner.reset();  // no_strict_owner
  EXPECT_TRUE(locked_file::open(file_, policy));
}

TEST_F(StateStore, ChecksRunInReferenceOrder) {
  // Bad permissions and wrong owner and empty: permissions are reported first.
  write_file(file_, "", 0644);
  open_policy policy = default_policy();
  policy.required_owner = ::geteuid() + 1;
  auto f = locked_file::open(file_, policy);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_permissions);
  // Wrong owner and empty: owner first.
  ASSERT_EQ(::chmod(file_.c_str(), 0600), 0);
  f = locked_file::open(file_, policy);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_owner);
  // Only empty left.
  policy.required_owner.reset();
  f = locked_file::open(file_, policy);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::file_size);
}

TEST_F(StateStore, SizeLimits) {
  write_file(file_, "");
  auto empty = locked_file::open(file_, default_policy());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, error_code::file_size);
  EXPECT_EQ(empty.error().message, "Invalid file size for \"" + file_ + "\"");

  write_file(file_, std::string(65536, 'A'));
  auto max = locked_file::open(file_, default_policy());
  ASSERT_TRUE(max) << max.error().message;
  EXPECT_EQ(max->content().size(), 65536u);

  write_file(file_, std::string(65537, 'A'));
  auto over = locked_file::open(file_, default_policy());
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, error_code::file_size);
}

TEST_F(StateStore, MissingFileIsNotFound) {
  auto f = locked_file::open(file_, default_policy());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::not_found);
  EXPECT_EQ(f.error().sys_errno, ENOENT);
  EXPECT_EQ(f.error().message, "Failed to read \"" + file_ + "\": No such file or directory");
  // A dangling symlink is "not there" as well.
  ASSERT_EQ(::symlink(dir_.file("nowhere").c_str(), file_.c_str()), 0);
  auto g = locked_file::open(file_, default_policy());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, error_code::not_found);
  // No lock file for a user without a secret file (nullok users stay untouched).
  EXPECT_EQ(list_dir(dir_.path()), std::vector<std::string>{"secret"});
}

TEST_F(StateStore, UnreadableFileIsIoWithErrno) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "KEY\n", 0400);  // root-owned 0400: unreadable to the user (spec F6)
  int rc = run_child([&] {
    if (!drop_to(kOtherUid, kOtherGid)) {
      return 2;
    }
    open_policy policy = default_policy();
    policy.required_owner.reset();
    auto f = locked_file::open(file_, policy);
    if (f) {
      return 3;
    }
    if (f.error().code != error_code::io || f.error().sys_errno != EACCES) {
      std::fprintf(stderr, "got %s\n", f.error().message.c_str());
      return 4;
    }
    if (f.error().message != "open(\"" + file_ + "\"): Permission denied") {
      std::fprintf(stderr, "message %s\n", f.error().message.c_str());
      return 5;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST_F(StateStore, SymlinkIsReadThroughAndStaysASymlink) {
  const std::string target = dir_.file("real");
  write_file(target, "OLD\n");
  ASSERT_EQ(::symlink("real", file_.c_str()), 0);  // relative link
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->content().view(), "OLD\n");
  EXPECT_EQ(f->path(), file_);
  EXPECT_EQ(f->resolved_path(), target);
  ASSERT_TRUE(f->commit(bytes("NEW\n")));

  struct stat link_st {};
  ASSERT_EQ(::lstat(file_.c_str(), &link_st), 0);
  EXPECT_TRUE(S_ISLNK(link_st.st_mode));
  char buffer[64] = {};
  ASSERT_GT(::readlink(file_.c_str(), buffer, sizeof buffer - 1), 0);
  EXPECT_STREQ(buffer, "real");
  EXPECT_EQ(read_file(target), "NEW\n");
  // The lock belongs to the target, not the link.
  EXPECT_EQ(list_dir(dir_.path()), (std::vector<std::string>{"real", "real.lock", "secret"}));
}

// ---------------------------------------------------------------------------------------
// snapshots (lock == false) and still_current()

open_policy snapshot_policy() {
  open_policy policy = default_policy();
  policy.lock = false;
  return policy;
}

TEST_F(StateStore, SnapshotTakesNoLockAndRefusesCommit) {
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto f = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->content().view(), "JBSWY3DPEHPK3PXP\n");
  EXPECT_EQ(list_dir(dir_.path()), (std::vector<std::string>{"secret"}));  // no lock file
  EXPECT_TRUE(f->still_current());
  EXPECT_FALSE(f->commit(bytes("X\n")));
  EXPECT_EQ(read_file(file_), "JBSWY3DPEHPK3PXP\n");
}

TEST_F(StateStore, SnapshotKeepsTheChecksOfALockedOpen) {
  write_file(file_, "JBSWY3DPEHPK3PXP\n", 0640);
  auto loose = locked_file::open(file_, snapshot_policy());
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error().code, error_code::bad_permissions);
  ASSERT_EQ(::unlink(file_.c_str()), 0);
  auto missing = locked_file::open(file_, snapshot_policy());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::not_found);
  ASSERT_EQ(::mkfifo(file_.c_str(), 0600), 0);
  auto fifo = locked_file::open(file_, snapshot_policy());
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().code, error_code::not_regular);
}

TEST_F(StateStore, SnapshotIsNoLongerCurrentAfterARenameOver) {
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto f = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(f) << f.error().message;
  // Same bytes, new inode: what every writer (ours, the reference, an editor) does.
  const std::string other = dir_.file("other");
  write_file(other, "JBSWY3DPEHPK3PXP\n");
  ASSERT_EQ(::rename(other.c_str(), file_.c_str()), 0);
  EXPECT_FALSE(f->still_current());
}

TEST_F(StateStore, SnapshotIsNoLongerCurrentAfterAnEditInPlace) {
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto f = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(f) << f.error().message;
  {
    std::ofstream out(file_, std::ios::binary | std::ios::app);
    out << "\" TOTP_AUTH\n";
  }
  EXPECT_FALSE(f->still_current());
}

TEST_F(StateStore, SnapshotIsNoLongerCurrentAfterUnlinkOrChmod) {
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto removed = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_EQ(::unlink(file_.c_str()), 0);
  EXPECT_FALSE(removed->still_current());

  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto chmodded = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(chmodded) << chmodded.error().message;
  ASSERT_EQ(::chmod(file_.c_str(), 0400), 0);
  EXPECT_FALSE(chmodded->still_current());
}

TEST_F(StateStore, SnapshotThroughASymlinkNoticesTheLinkBeingRepointed) {
  const std::string first = dir_.file("first");
  const std::string second = dir_.file("second");
  write_file(first, "JBSWY3DPEHPK3PXP\n");
  write_file(second, "JBSWY3DPEHPK3PXP\n");
  ASSERT_EQ(::symlink("first", file_.c_str()), 0);
  auto f = locked_file::open(file_, snapshot_policy());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->resolved_path(), first);
  EXPECT_TRUE(f->still_current());
  // The target itself is untouched; only the link now names another file.
  const std::string link2 = dir_.file("link2");
  ASSERT_EQ(::symlink("second", link2.c_str()), 0);
  ASSERT_EQ(::rename(link2.c_str(), file_.c_str()), 0);
  EXPECT_FALSE(f->still_current());
}

// ---------------------------------------------------------------------------------------
// commit

TEST_F(StateStore, CommitReplacesContentAndKeepsMode) {
  for (mode_t mode : {0600, 0640, 0400}) {
    SCOPED_TRACE(mode);
    write_file(file_, "OLD CONTENT\n", mode);
    const ino_t old_inode = stat_of(file_).st_ino;
    open_policy policy = default_policy();
    policy.allowed_permissions = 0640;
    auto f = locked_file::open(file_, policy);
    ASSERT_TRUE(f) << f.error().message;
    const std::string fresh = "NEW\r\nCONTENT\0WITH NUL\n" + std::to_string(mode);
    ASSERT_TRUE(f->commit(bytes(fresh)));
    EXPECT_EQ(read_file(file_), fresh);
    const struct stat st = stat_of(file_);
    EXPECT_EQ(st.st_mode & 07777, mode);
    EXPECT_NE(st.st_ino, old_inode);  // replaced by rename, not rewritten in place
    EXPECT_EQ(f->content().view(), fresh);
    EXPECT_EQ(f->file_stat().st_ino, st.st_ino);
    EXPECT_TRUE(temp_files(dir_.path()).empty());
  }
}

TEST_F(StateStore, CommitKeepsOwnerAndGroup) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "OLD\n");
  ASSERT_EQ(::chown(file_.c_str(), kOtherUid, kOtherGid), 0);
  open_policy policy = default_policy();
  policy.required_owner = kOtherUid;
  auto f = locked_file::open(file_, policy);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_TRUE(f->commit(bytes("NEW\n")));
  const struct stat st = stat_of(file_);
  EXPECT_EQ(st.st_uid, kOtherUid);
  EXPECT_EQ(st.st_gid, kOtherGid);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(read_file(file_), "NEW\n");
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, CommitAsTheOwnerKeepsASupplementaryGroup) {
  // A non-root owner can keep the file's group (it is a member) without CAP_CHOWN.
  SKIP_UNLESS_ROOT();
  ASSERT_EQ(::chown(dir_.path().c_str(), kOtherUid, kOtherGid), 0);
  write_file(file_, "OLD\n", 0640);
  ASSERT_EQ(::chown(file_.c_str(), kOtherUid, kOtherGid + 1), 0);
  int rc = run_child([&] {
    gid_t extra = kOtherGid + 1;
    if (::setgroups(1, &extra) != 0 || ::setgid(kOtherGid) != 0 || ::setuid(kOtherUid) != 0) {
      return 2;
    }
    open_policy policy = default_policy();
    policy.allowed_permissions = 0640;
    auto f = locked_file::open(file_, policy);
    if (!f) {
      std::fprintf(stderr, "%s\n", f.error().message.c_str());
      return 3;
    }
    auto committed = f->commit(bytes("NEW\n"));
    if (!committed) {
      std::fprintf(stderr, "%s\n", committed.error().message.c_str());
      return 4;
    }
    return 0;
  });
  ASSERT_EQ(rc, 0);
  const struct stat st = stat_of(file_);
  EXPECT_EQ(st.st_uid, kOtherUid);
  EXPECT_EQ(st.st_gid, kOtherGid + 1);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(read_file(file_), "NEW\n");
}

TEST_F(StateStore, CommitRefusesToChangeOwnershipSilently) {
  // A root-run open of a file owned by someone else, committed after dropping to a third
  // uid that may write the directory: fchown must fail and the commit with it.
  SKIP_UNLESS_ROOT();
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0777), 0);
  write_file(file_, "OLD\n", 0644);
  ASSERT_EQ(::chown(file_.c_str(), kOtherUid, kOtherGid), 0);
  int rc = run_child([&] {
    open_policy policy = default_policy();
    policy.allowed_permissions = 0644;
    if (!drop_to(kOtherUid + 1, kOtherGid + 1)) {
      return 2;
    }
    auto f = locked_file::open(file_, policy);
    if (!f) {
      std::fprintf(stderr, "%s\n", f.error().message.c_str());
      return 3;
    }
    auto committed = f->commit(bytes("NEW\n"));
    if (committed || committed.error().sys_errno != EPERM ||
        committed.error().message.rfind("fchown(\"" + unnamed_temp(dir_.path()) + "\")", 0) != 0) {
      std::fprintf(stderr, "%s\n", committed ? "ok" : committed.error().message.c_str());
      return 4;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(read_file(file_), "OLD\n");
  EXPECT_EQ(stat_of(file_).st_uid, kOtherUid);
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, SecondCommitOnSameHandle) {
  write_file(file_, "ONE\n");
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->commit(bytes("TWO\n")));
  ASSERT_TRUE(f->commit(bytes("THREE\n")));
  EXPECT_EQ(read_file(file_), "THREE\n");
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, CommitDetectsReplacementByNonLockingWriter) {
  write_file(file_, "OURS\n");
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f);
  // Somebody who ignores the lock (an editor, the reference module) replaces the file.
  write_file(dir_.file("other"), "THEIRS\n");
  ASSERT_EQ(::rename(dir_.file("other").c_str(), file_.c_str()), 0);
  auto committed = f->commit(bytes("MINE\n"));
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, error_code::changed);
  EXPECT_EQ(read_file(file_), "THEIRS\n");
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

// ---------------------------------------------------------------------------------------
// commit failures leave the target byte-identical and no temp file behind

TEST_F(StateStore, CommitFailsInReadOnlyDirectory) {
  SKIP_UNLESS_ROOT();
  const std::string sub = dir_.file("ro");
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  const std::string path = sub + "/secret";
  const std::string original = "ORIGINAL\n\" RATE_LIMIT 3 30\n";
  write_file(path, original);
  ASSERT_EQ(::chown(path.c_str(), kOtherUid, kOtherGid), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
  int rc = run_child([&] {
    if (!drop_to(kOtherUid, kOtherGid)) {
      return 2;
    }
    open_policy policy = default_policy();
    policy.required_owner = kOtherUid;
    // No lock file can be created here: open falls back to locking the file itself.
    auto f = locked_file::open(path, policy);
    if (!f) {
      std::fprintf(stderr, "open: %s\n", f.error().message.c_str());
      return 3;
    }
    auto committed = f->commit(bytes("NEW\n"));
    if (committed) {
      return 4;
    }
    const auto& e = committed.error();
    if (e.code != error_code::io || e.sys_errno != EACCES ||
        e.message != "open(\"" + unnamed_temp(sub) + "\"): Permission denied") {
      std::fprintf(stderr, "commit: %s\n", e.message.c_str());
      return 5;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(read_file(path), original);
  EXPECT_EQ(list_dir(sub), std::vector<std::string>{"secret"});
}

TEST_F(StateStore, CommitFailsOnFullFilesystem) {
  SKIP_UNLESS_ROOT();
  const std::string mnt = dir_.file("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  const std::string path = mnt + "/secret";
  const std::string original(3000, 'O');
  int rc = run_child([&] {
    if (::unshare(CLONE_NEWNS) != 0) {
      std::fprintf(stderr, "unshare: %s\n", std::strerror(errno));
      return 77;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=16k,mode=0755") != 0) {
      std::fprintf(stderr, "mount: %s\n", std::strerror(errno));
      return 77;
    }
    {
      std::ofstream out(path, std::ios::binary);
      out << original;
    }
    if (::chmod(path.c_str(), 0600) != 0) {
      return 2;
    }
    auto f = locked_file::open(path, default_policy());
    if (!f) {
      std::fprintf(stderr, "open: %s\n", f.error().message.c_str());
      return 3;
    }
    // Fill the rest of the file system.
    int filler = ::open((mnt + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
    char block[4096] = {};
    while (::write(filler, block, sizeof block) > 0) {
    }
    ::close(filler);
    auto committed = f->commit(bytes(std::string(8192, 'N')));
    if (committed) {
      return 4;
    }
    const auto& e = committed.error();
    if (e.code != error_code::io || e.sys_errno != ENOSPC ||
        e.message.rfind("write(\"" + unnamed_temp(mnt) + "\")", 0) != 0 ||
        e.message.find("\"): No space left on device") == std::string::npos) {
      std::fprintf(stderr, "commit: %s\n", e.message.c_str());
      return 5;
    }
    if (read_file(path) != original) {
      return 6;
    }
    if (list_dir(mnt) != std::vector<std::string>{"filler", "secret", "secret.lock"}) {
      return 7;
    }
    return 0;
  });
  if (rc == 77) {
    GTEST_SKIP() << "cannot create a private mount namespace with a tmpfs here";
  }
  EXPECT_EQ(rc, 0);
}

TEST_F(StateStore, CommitWithoutProcFallsBackToANamedTempFile) {
  // The unnamed temp file is linked through /proc/self/fd; with no /proc (a bare chroot, say)
  // the commit must still work, through mkostemp, and leave nothing behind.
  SKIP_UNLESS_ROOT();
  write_file(file_, "OLD\n");
  int rc = run_child([&] {
    if (::unshare(CLONE_NEWNS) != 0) {
      std::fprintf(stderr, "unshare: %s\n", std::strerror(errno));
      return 77;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/proc", "tmpfs", 0, "size=16k,mode=0755") != 0) {
      std::fprintf(stderr, "mount: %s\n", std::strerror(errno));
      return 77;
    }
    if (::access("/proc/self/fd", F_OK) == 0) {
      return 2;  // /proc is still there: the test would prove nothing
    }
    auto f = locked_file::open(file_, default_policy());
    if (!f) {
      std::fprintf(stderr, "open: %s\n", f.error().message.c_str());
      return 3;
    }
    if (auto committed = f->commit(bytes("NEW\n")); !committed) {
      std::fprintf(stderr, "commit: %s\n", committed.error().message.c_str());
      return 4;
    }
    return 0;
  });
  if (rc == 77) {
    GTEST_SKIP() << "cannot create a private mount namespace here";
  }
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(read_file(file_), "NEW\n");
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, CommitFailsWhenRenameFails) {
  SKIP_UNLESS_ROOT();
  const std::string original = "ORIGINAL\n";
  write_file(file_, original);
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f);
  // An immutable target cannot be renamed over; everything before the rename still works.
  totp::fs::unique_fd fd(::open(file_.c_str(), O_RDONLY));
  int flags = 0;
  if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) {
    GTEST_SKIP() << "file system has no inode flags: " << std::strerror(errno);
  }
  int immutable = flags | FS_IMMUTABLE_FL;
  if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &immutable) != 0) {
    GTEST_SKIP() << "cannot set the immutable flag: " << std::strerror(errno);
  }
  auto committed = f->commit(bytes("NEW\n"));
  ASSERT_EQ(::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags), 0);
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, error_code::io);
  EXPECT_EQ(committed.error().sys_errno, EPERM);
  EXPECT_EQ(committed.error().message.rfind("rename(\"" + file_ + "~", 0), 0u)
      << committed.error().message;
  EXPECT_EQ(read_file(file_), original);
  EXPECT_TRUE(temp_files(dir_.path()).empty());
  // The handle is still usable once the obstacle is gone.
  ASSERT_TRUE(f->commit(bytes("NEW\n")));
  EXPECT_EQ(read_file(file_), "NEW\n");
}

// ---------------------------------------------------------------------------------------
// locking

// `children` processes, released together, each read a counter, wait a little and write it
// back incremented. Lost updates would show as a final count below `children`.
int increment_concurrently(const std::string& path, int children, uid_t uid, gid_t gid) {
  int gate[2];
  if (::pipe(gate) != 0) {
    return -1;
  }
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int i = 0; i < children; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      if (uid != 0 && !drop_to(uid, gid)) {
        ::_exit(2);
      }
      open_policy policy;
      policy.lock_timeout = 20000ms;
      auto f = locked_file::open(path, policy);
      if (!f) {
        std::fprintf(stderr, "open: %s\n", f.error().message.c_str());
        ::_exit(3);
      }
      int value = std::stoi(std::string(f->content().view()));
      std::this_thread::sleep_for(1ms);
      auto committed = f->commit(bytes(std::to_string(value + 1) + "\n"));
      if (!committed) {
        std::fprintf(stderr, "commit: %s\n", committed.error().message.c_str());
        ::_exit(4);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // releases every child at once
  int failures = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++failures;
    }
  }
  return failures;
}

TEST_F(StateStore, ConcurrentRewritesAreSerialised) {
  write_file(file_, "0\n");
  ASSERT_EQ(increment_concurrently(file_, 20, 0, 0), 0);
  EXPECT_EQ(read_file(file_), "20\n");
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, ConcurrentRewritesAreSerialisedWithoutLockFile) {
  // The user cannot open the (root-owned 0600) lock file, so every child locks the secret
  // file itself; the inode re-check after each rename must still serialise them.
  SKIP_UNLESS_ROOT();
  ASSERT_EQ(::chown(dir_.path().c_str(), kOtherUid, kOtherGid), 0);
  write_file(file_, "0\n");
  ASSERT_EQ(::chown(file_.c_str(), kOtherUid, kOtherGid), 0);
  write_file(file_ + ".lock", "");
  ASSERT_EQ(increment_concurrently(file_, 12, kOtherUid, kOtherGid), 0);
  EXPECT_EQ(read_file(file_), "12\n");
  EXPECT_EQ(stat_of(file_).st_uid, kOtherUid);
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

// Forks a child that opens `path` (taking the lock), reports readiness on a pipe and then
// waits until the returned fd is closed. Returns the child's pid, or -1.
pid_t hold_lock_in_child(const std::string& path, int& release_fd) {
  int ready[2];
  int release[2];
  if (::pipe(ready) != 0 || ::pipe(release) != 0) {
    return -1;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    auto f = locked_file::open(path, default_policy());
    char status = f ? 'y' : 'n';
    (void)!::write(ready[1], &status, 1);
    char c;
    while (::read(release[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char status = 'n';
  if (::read(ready[0], &status, 1) != 1 || status != 'y') {
    pid = -1;
  }
  ::close(ready[0]);
  release_fd = release[1];
  return pid;
}

TEST_F(StateStore, LockTimeoutIsBounded) {
  write_file(file_, "KEY\n");
  int release_fd = -1;
  pid_t holder = hold_lock_in_child(file_, release_fd);
  ASSERT_GT(holder, 0);
  open_policy policy = default_policy();
  policy.lock_timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto f = locked_file::open(file_, policy);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ::close(release_fd);
  ::waitpid(holder, nullptr, 0);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::lock_timeout);
  EXPECT_EQ(f.error().message, "Timed out after 200 ms waiting for the lock on \"" + file_ + "\"");
  EXPECT_GE(elapsed, 195ms);
  EXPECT_LT(elapsed, 700ms);
  std::printf("lock timeout 200 ms took %.1f ms\n",
              std::chrono::duration<double, std::milli>(elapsed).count());
  // Once the holder is gone the lock is free at once.
  EXPECT_TRUE(locked_file::open(file_, policy));
}

TEST_F(StateStore, WaiterGetsTheLockWhenHolderReleases) {
  write_file(file_, "KEY\n");
  int release_fd = -1;
  pid_t holder = hold_lock_in_child(file_, release_fd);
  ASSERT_GT(holder, 0);
  std::thread releaser([&] {
    std::this_thread::sleep_for(100ms);
    ::close(release_fd);
  });
  auto start = std::chrono::steady_clock::now();
  auto f = locked_file::open(file_, default_policy());
  auto elapsed = std::chrono::steady_clock::now() - start;
  releaser.join();
  ::waitpid(holder, nullptr, 0);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_GE(elapsed, 90ms);
  EXPECT_LT(elapsed, 1000ms);
}

TEST_F(StateStore, KilledHolderDoesNotBlock) {
  write_file(file_, "KEY\n");
  int release_fd = -1;
  pid_t holder = hold_lock_in_child(file_, release_fd);
  ASSERT_GT(holder, 0);
  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  ::waitpid(holder, nullptr, 0);
  ::close(release_fd);
  open_policy policy = default_policy();
  policy.lock_timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto f = locked_file::open(file_, policy);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_TRUE(f->commit(bytes("NEW\n")));
}

TEST_F(StateStore, StaleTempFileDoesNotBlock) {
  write_file(file_, "KEY\n");
  const std::string stale = file_ + "~abc123";
  write_file(stale, "half-written leftover");
  open_policy policy = default_policy();
  policy.lock_timeout = 200ms;
  auto f = locked_file::open(file_, policy);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_TRUE(f->commit(bytes("NEW\n")));
  EXPECT_EQ(read_file(file_), "NEW\n");
  EXPECT_EQ(read_file(stale), "half-written leftover");  // somebody else's file: untouched
  EXPECT_TRUE(temp_files(dir_.path(), "secret~abc123").empty());
}

TEST_F(StateStore, CommitRemovesOnlyOldLeftoversOfThisFile) {
  write_file(file_, "KEY\n");
  const auto age = [](const std::string& path, int seconds) {
    const struct timespec then[2] = {{std::time(nullptr) - seconds, 0},
                                     {std::time(nullptr) - seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), then, AT_SYMLINK_NOFOLLOW), 0);
  };
  const std::string old_leftover = file_ + "~Ab12cD";  // a killed writer, long ago
  const std::string fresh = file_ + "~xyz789";         // maybe somebody writing right now
  const std::string other_name = file_ + "~backup1";   // not our pattern (7 characters)
  const std::string other_file = dir_.path() + "/other~abc123";
  for (const auto& p : {old_leftover, fresh, other_name, other_file}) {
    write_file(p, "leftover");
  }
  age(old_leftover, 3600);
  age(other_name, 3600);
  age(other_file, 3600);
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_TRUE(f->commit(bytes("NEW\n")));
  EXPECT_EQ(read_file(file_), "NEW\n");
  EXPECT_FALSE(std::filesystem::exists(old_leftover)) << "an hour-old leftover is removed";
  EXPECT_TRUE(std::filesystem::exists(fresh)) << "a recent temp file is left alone";
  EXPECT_TRUE(std::filesystem::exists(other_name));
  EXPECT_TRUE(std::filesystem::exists(other_file));
}

// ---------------------------------------------------------------------------------------
// write_file_atomically

TEST_F(StateStore, WriteCreatesWithMode) {
  create_options options;
  options.mode = 0640;
  ASSERT_TRUE(totp::write_file_atomically(file_, bytes("SECRET\n"), options));
  EXPECT_EQ(read_file(file_), "SECRET\n");
  EXPECT_EQ(stat_of(file_).st_mode & 07777, 0640u);  // exact, whatever the umask
  EXPECT_EQ(list_dir(dir_.path()), std::vector<std::string>{"secret"});

  options.mode = 0400;
  ASSERT_TRUE(totp::write_file_atomically(dir_.file("second"), bytes("X"), options));
  EXPECT_EQ(stat_of(dir_.file("second")).st_mode & 07777, 0400u);
}

TEST_F(StateStore, WriteAppliesOwnerAndGroup) {
  SKIP_UNLESS_ROOT();
  create_options options;
  options.owner = kOtherUid;
  options.group = kOtherGid;
  ASSERT_TRUE(totp::write_file_atomically(file_, bytes("SECRET\n"), options));
  const struct stat st = stat_of(file_);
  EXPECT_EQ(st.st_uid, kOtherUid);
  EXPECT_EQ(st.st_gid, kOtherGid);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  // The result is what locked_file accepts for that user.
  open_policy policy = default_policy();
  policy.required_owner = kOtherUid;
  auto f = locked_file::open(file_, policy);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->content().view(), "SECRET\n");
}

TEST_F(StateStore, WriteRefusesExistingUnlessReplace) {
  write_file(file_, "OLD\n");
  create_options options;
  auto refused = totp::write_file_atomically(file_, bytes("NEW\n"), options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::exists);
  EXPECT_EQ(read_file(file_), "OLD\n");
  EXPECT_EQ(list_dir(dir_.path()), std::vector<std::string>{"secret"});

  options.replace = true;
  const ino_t old_inode = stat_of(file_).st_ino;
  ASSERT_TRUE(totp::write_file_atomically(file_, bytes("NEW\n"), options));
  EXPECT_EQ(read_file(file_), "NEW\n");
  EXPECT_EQ(stat_of(file_).st_mode & 07777, 0400u);
  EXPECT_NE(stat_of(file_).st_ino, old_inode);
  EXPECT_EQ(list_dir(dir_.path()), std::vector<std::string>{"secret"});
}

TEST_F(StateStore, WriteRefusesSymlink) {
  const std::string target = dir_.file("target");
  write_file(target, "OLD\n");
  ASSERT_EQ(::symlink(target.c_str(), file_.c_str()), 0);
  create_options options;
  options.replace = true;
  auto refused = totp::write_file_atomically(file_, bytes("NEW\n"), options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::symlink);
  EXPECT_EQ(read_file(target), "OLD\n");
  struct stat st {};
  ASSERT_EQ(::lstat(file_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));

  // A dangling one as well: writing through it would create a file elsewhere.
  const std::string dangling = dir_.file("dangling");
  ASSERT_EQ(::symlink(dir_.file("elsewhere").c_str(), dangling.c_str()), 0);
  auto also = totp::write_file_atomically(dangling, bytes("NEW\n"), create_options{});
  ASSERT_FALSE(also);
  EXPECT_EQ(also.error().code, error_code::symlink);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("elsewhere")));
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(StateStore, WriteRefusesDirectory) {
  ASSERT_EQ(::mkdir(file_.c_str(), 0700), 0);
  create_options options;
  options.replace = true;
  auto refused = totp::write_file_atomically(file_, bytes("NEW\n"), options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::not_regular);
}

TEST_F(StateStore, WriteFailureInReadOnlyDirectoryKeepsOldFile) {
  SKIP_UNLESS_ROOT();
  const std::string sub = dir_.file("ro");
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  const std::string path = sub + "/secret";
  write_file(path, "OLD\n", 0400);
  ASSERT_EQ(::chown(path.c_str(), kOtherUid, kOtherGid), 0);
  ASSERT_EQ(::chown(sub.c_str(), kOtherUid, kOtherGid), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
  int rc = run_child([&] {
    if (!drop_to(kOtherUid, kOtherGid)) {
      return 2;
    }
    create_options options;
    options.replace = true;
    auto written = totp::write_file_atomically(path, bytes("NEW\n"), options);
    if (written) {
      return 3;
    }
    if (written.error().code != error_code::io || written.error().sys_errno != EACCES) {
      std::fprintf(stderr, "%s\n", written.error().message.c_str());
      return 4;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(read_file(path), "OLD\n");
  EXPECT_EQ(list_dir(sub), std::vector<std::string>{"secret"});
}

TEST_F(StateStore, MovedFromHandleIsHarmless) {
  write_file(file_, "KEY\n");
  auto f = locked_file::open(file_, default_policy());
  ASSERT_TRUE(f);
  locked_file moved = std::move(f).value();
  EXPECT_EQ(moved.content().view(), "KEY\n");
  // The lock moved with the handle: another opener must still wait.
  open_policy quick = default_policy();
  quick.lock_timeout = 50ms;
  int rc = run_child([&] {
    auto g = locked_file::open(file_, quick);
    return !g && g.error().code == error_code::lock_timeout ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

// ---- Proxmox VE cluster store (issue 11): lock-dir logic on a plain directory --------------
// The temp dir stands in for /etc/pve: fs_magic is set to its own statfs type, so the mount
// check passes; the pmxcfs rules themselves are exercised by tests/pmxcfs.

class ClusterStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(priv_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(dir_.file("priv/pvetotp").c_str(), 0700), 0);
    struct statfs fs {};
    ASSERT_EQ(::statfs(dir_.path().c_str(), &fs), 0);
    store_.root = dir_.path();
    store_.fs_magic = static_cast<std::uint32_t>(fs.f_type);
    policy_.required_owner = 0;
    policy_.cluster = store_;
  }
  std::string lock_dir() const {
    return dir_.file("priv/lock/" + totp::cluster_lock_name(store_, file_));
  }
  bool exists(const std::string& path) const {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  temp_dir dir_{"pvetotp-cluster"};
  std::string priv_ = dir_.file("priv");
  std::string file_ = dir_.file("priv/pvetotp/alice");
  totp::cluster_store store_;
  open_policy policy_;
};

TEST_F(ClusterStore, LockNameEscapesAndBoundsLength) {
  EXPECT_EQ(totp::cluster_lock_name(store_, file_), "pvetotp-priv_pvetotp_alice");
  EXPECT_EQ(totp::cluster_lock_name(store_, dir_.file("priv/pvetotp/a.b c/../x")),
            "pvetotp-priv_pvetotp_a_b_c____x");
  const std::string long_a = dir_.file("priv/" + std::string(300, 'a') + "1");
  const std::string long_b = dir_.file("priv/" + std::string(300, 'a') + "2");
  const std::string name_a = totp::cluster_lock_name(store_, long_a);
  EXPECT_EQ(name_a.size(), 200u);
  EXPECT_NE(name_a, totp::cluster_lock_name(store_, long_b));
  EXPECT_EQ(name_a, totp::cluster_lock_name(store_, long_a));
}

TEST_F(ClusterStore, LockHeldFromReadToCommitThenReleased) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  {
    auto f = locked_file::open(file_, policy_);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_TRUE(exists(lock_dir())) << lock_dir();
    ASSERT_TRUE(f->commit(bytes("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n")));
    EXPECT_FALSE(exists(lock_dir())) << "released by commit";
    // A second commit takes it again for its duration only.
    ASSERT_TRUE(f->commit(bytes("JBSWY3DPEHPK3PXP\n")));
    EXPECT_FALSE(exists(lock_dir()));
  }
  {
    auto f = locked_file::open(file_, policy_);
    ASSERT_TRUE(f);
    EXPECT_TRUE(exists(lock_dir()));
  }
  EXPECT_FALSE(exists(lock_dir())) << "released on destruction without commit";
  EXPECT_EQ(read_file(file_), "JBSWY3DPEHPK3PXP\n");
}

TEST_F(ClusterStore, LockReleasedWhenCommitFails) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  auto f = locked_file::open(file_, policy_);
  ASSERT_TRUE(f);
  // Another writer (think: another node that ignored the lock) replaces the file.
  write_file(file_ + ".other", "OTHER\n");
  ASSERT_EQ(::rename((file_ + ".other").c_str(), file_.c_str()), 0);
  auto saved = f->commit(bytes("MINE\n"));
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, error_code::changed);
  EXPECT_FALSE(exists(lock_dir()));
  EXPECT_EQ(read_file(file_), "OTHER\n");
}

TEST_F(ClusterStore, LiveLockIsHonouredWithBoundedWait) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  ASSERT_EQ(::mkdir(dir_.file("priv/lock").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(lock_dir().c_str(), 0700), 0);
  policy_.lock_timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto f = locked_file::open(file_, policy_);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::lock_timeout);
  EXPECT_NE(f.error().message.find("cluster lock"), std::string::npos) << f.error().message;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  EXPECT_TRUE(exists(lock_dir())) << "somebody else's live lock is never removed";
  EXPECT_GT(stat_of(lock_dir()).st_mtime, 0) << "and never asked back";
}

TEST_F(ClusterStore, LockReleasedByItsHolderIsTaken) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  ASSERT_EQ(::mkdir(dir_.file("priv/lock").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(lock_dir().c_str(), 0700), 0);
  std::thread holder([&] {
    std::this_thread::sleep_for(200ms);
    ::rmdir(lock_dir().c_str());
  });
  auto f = locked_file::open(file_, policy_);
  holder.join();
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(exists(lock_dir()));
}

// pmxcfs releases an expired lock when asked with utime(dir, 0, 0); a thread plays pmxcfs.
TEST_F(ClusterStore, ExpiredLockIsAskedBackAndTaken) {
  SKIP_UNLESS_ROOT();
  write_file(file_, "JBSWY3DPEHPK3PXP\n");
  ASSERT_EQ(::mkdir(dir_.file("priv/lock").c_str(), 0700), 0);
  const std::string lock = lock_dir();
  ASSERT_EQ(::mkdir(lock.c_str(), 0700), 0);
  const std::time_t old = std::time(nullptr) - 121 - 2;
  const struct timeval times[2] = {{old, 0}, {old, 0}};
  ASSERT_EQ(::utimes(lock.c_str(), times), 0);
  std::atomic<bool> asked{false};
  std::atomic<bool> stop{false};
  std::thread pmxcfs([&] {
    while (!stop) {
      struct stat st {};
      if (::stat(lock.c_str(), &st) == 0 && st.st_mtime == 0) {
        asked = true;
        ::rmdir(lock.c_str());
        return;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  policy_.lock_timeout = 3s;
  auto f = locked_file::open(file_, policy_);
  stop = true;
  pmxcfs.join();
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(asked);
  EXPECT_TRUE(exists(lock)) << "now held by us";
}

TEST_F(ClusterStore, UnmountedStoreIsNotMountedNeverNotFound) {
  store_.fs_magic = 0x65735546;  // FUSE: the temp dir is not
  policy_.cluster = store_;
  auto missing = locked_file::open(file_, policy_);  // file does not exist either
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::io);
  EXPECT_EQ(missing.error().sys_errno, ENOTCONN);
  EXPECT_EQ(missing.error().message.rfind(totp::cluster_error_prefix, 0), 0u);
  EXPECT_NE(missing.error().message.find("is not mounted"), std::string::npos);
  store_.root = dir_.file("absent");
  policy_.cluster = store_;
  auto absent = locked_file::open(dir_.file("absent/priv/x"), policy_);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().sys_errno, ENOTCONN);
}

TEST_F(ClusterStore, LayoutRulesApplyOnlyUnderTheRoot) {
  SKIP_UNLESS_ROOT();
  // Outside priv/: refused even when allowed_perm would accept group read.
  const std::string outside = dir_.file("alice");
  write_file(outside, "JBSWY3DPEHPK3PXP\n", 0600);
  auto f = locked_file::open(outside, policy_);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, error_code::bad_permissions);
  EXPECT_NE(f.error().message.find("must be under"), std::string::npos);
  // Group-readable under priv/ with a lenient allowed_perm: refused on the cluster store.
  write_file(file_, "JBSWY3DPEHPK3PXP\n", 0640);
  policy_.allowed_permissions = 0640;
  auto g = locked_file::open(file_, policy_);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, error_code::bad_permissions);
  // A non-root owner requirement cannot work on pmxcfs: said plainly.
  ASSERT_EQ(::chmod(file_.c_str(), 0600), 0);
  policy_.required_owner = kOtherUid;
  auto h = locked_file::open(file_, policy_);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, error_code::bad_owner);
  EXPECT_NE(h.error().message.find("user=root"), std::string::npos);
  // Elsewhere nothing changes: no lock dir, the usual rules.
  temp_dir other{"pvetotp-local"};
  const std::string local = other.file("secret");
  write_file(local, "JBSWY3DPEHPK3PXP\n", 0600);
  policy_.required_owner = 0;
  policy_.allowed_permissions = 0600;
  auto l = locked_file::open(local, policy_);
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_FALSE(exists(dir_.file("priv/lock")));
}

TEST_F(ClusterStore, RewriteDoesNotChmodWhenModeAlreadyMatches) {
  SKIP_UNLESS_ROOT();
  // A directory whose new files already come out 0600 root: commit must succeed without
  // any fchmod. Made observable with a file mode pmxcfs would give: checked by tests/pmxcfs
  // (the emulation answers any other chmod with EPERM); here the content and mode survive.
  write_file(file_, "JBSWY3DPEHPK3PXP\n", 0600);
  auto f = locked_file::open(file_, policy_);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->commit(bytes("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n")));
  EXPECT_EQ(stat_of(file_).st_mode & 07777, 0600u);
}

}  // namespace
