// fs_util.cc: see fs_util.h.
#include "fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace totp::fs {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

unique_fd::~unique_fd() {
  reset();
}

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) {
    // The result is deliberately dropped here: callers that care use close().
    (void)::close(fd_);
  }
  fd_ = fd;
}

int unique_fd::close() noexcept {
  if (fd_ < 0) {
    return 0;
  }
  int fd = release();
  // No retry on EINTR: on Linux the descriptor is already released, and closing it again
  // could close a descriptor another thread just opened.
  if (::close(fd) != 0) {
    return errno;
  }
  return 0;
}

std::string describe_errno(std::string_view call, std::string_view path, int err) {
  std::string message;
  message.reserve(call.size() + path.size() + 48);
  message.append(call);
  message.append("(\"");
  message.append(path);
  message.append("\"): ");
  char buffer[128];
  // GNU strerror_r: returns a pointer that may or may not be `buffer`; thread-safe unlike
  // strerror(), which matters inside a PAM module loaded into a threaded daemon.
  message.append(strerror_r(err, buffer, sizeof buffer));
  return message;
}

result<secret_bytes> read_all_bounded(int fd, std::size_t expected_size, std::size_t cap,
                                      const std::string& display_path) {
  // One extra byte beyond what may legally be there tells "grew" apart from "exact".
  const std::size_t limit = (expected_size < cap ? expected_size : cap) + 1;
  secret_bytes data(limit);
  std::size_t got = 0;
  while (got < limit) {
    ssize_t n = ::read(fd, data.data() + got, limit - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return make_error(error_code::io, describe_errno("read", display_path, errno), errno);
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < limit - (got - static_cast<std::size_t>(n))) {
      break;  // a short read of a regular file means end of file: no second read() needed
    }
  }
  data.resize(got);  // shrinking wipes the unused tail
  if (got > cap) {
    return make_error(error_code::file_size, "Invalid file size for \"" + display_path + "\"");
  }
  if (got != expected_size) {
    return make_error(error_code::changed,
                      "File \"" + display_path + "\" changed size while it was being read");
  }
  return data;
}

status write_all(int fd, std::span<const std::uint8_t> data, const std::string& display_path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {
        // Only possible if somebody set O_NONBLOCK; regular files are always "ready", so a
        // plain retry cannot spin for long.
        continue;
      }
      return make_error(error_code::io, describe_errno("write", display_path, errno), errno);
    }
    if (n == 0) {
      // write(2) returning 0 for a non-empty buffer means no progress is possible.
      return make_error(error_code::io, describe_errno("write", display_path, ENOSPC), ENOSPC);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::string directory_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

status fsync_directory_of(const std::string& path) {
  const std::string dir = directory_of(path);
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == EACCES) {
      return {};  // write+search but no read permission: nothing more we can do
    }
    return make_error(error_code::io, describe_errno("open", dir, errno), errno);
  }
  while (::fsync(fd.get()) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno == EINVAL || errno == EROFS) {
      return {};  // the file system has no notion of syncing a directory
    }
    return make_error(error_code::io, describe_errno("fsync", dir, errno), errno);
  }
  return {};
}

}  // namespace totp::fs
