// fs_util.h (internal): the small pieces of POSIX file handling that state_store.cc builds
// on. Nothing here throws except through allocation (callers catch std::bad_alloc at the
// public boundary); every failure comes back as a totp::error naming the call and the path,
// so an administrator reading the log knows which step failed on which file.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp::fs {

// Owns one file descriptor. Move-only so a descriptor has exactly one owner and is closed
// exactly once; close() exists separately from the destructor because the result of
// close(2) matters after a write (NFS and some FUSE file systems report write errors there).
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  ~unique_fd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept;
  // Closes now and reports: 0 on success, else the errno of close(2). The descriptor is
  // gone either way (Linux never leaves it open after close, even on EINTR).
  int close() noexcept;

 private:
  int fd_ = -1;
};

// `<call>("<path>"): <strerror(err)>`, the one shape of every io message in libtotp.
std::string describe_errno(std::string_view call, std::string_view path, int err);

// Reads a whole file whose fstat size is `expected_size` into secret memory, retrying on
// EINTR. Reading stops at cap + 1 bytes. Errors: io (read failed), file_size (more than `cap`
// bytes came back: `Invalid file size for "<display_path>"`), changed (the byte count
// differs from `expected_size`, i.e. somebody who does not take our lock wrote the file while
// we read it).
result<secret_bytes> read_all_bounded(int fd, std::size_t expected_size, std::size_t cap,
                                      const std::string& display_path);

// Writes every byte, looping over short writes, EINTR and EAGAIN (a descriptor somebody set
// O_NONBLOCK on). Error: io naming `write("<display_path>")`.
status write_all(int fd, std::span<const std::uint8_t> data, const std::string& display_path);

// fsync(2) of the directory holding `path`, so a rename into it survives a crash. A
// directory we may write into but not open for reading (mode 0300) cannot be synced; that is
// not an error, because the rename it follows already happened and cannot be undone. File
// systems that do not support fsync on directories (EINVAL) are treated the same way.
status fsync_directory_of(const std::string& path);

// The directory part of `path` ("." for a bare name, "/" for "/x").
std::string directory_of(const std::string& path);

}  // namespace totp::fs
