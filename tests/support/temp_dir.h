// temp_dir.h: a scratch directory for one test, removed with everything in it when the
// object dies.
//
// Created under /tmp with mkdtemp and then opened up to 0755, so a child process that has
// dropped to an unprivileged uid (the way the PAM module runs) can still reach the files a
// root test put there. Removal first makes every directory writable again, so a test that
// left a 0555 directory behind (to provoke EACCES) does not leak it when it runs as non-root.
// Header-only; usable from any test.
#pragma once

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pvetotp::test {

class temp_dir {
 public:
  explicit temp_dir(std::string_view prefix = "pvetotp-test") {
    std::string pattern = "/tmp/";
    pattern.append(prefix);
    pattern.append(".XXXXXX");
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
      throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = buffer.data();
    if (::chmod(path_.c_str(), 0755) != 0) {
      throw std::runtime_error(std::string("chmod: ") + std::strerror(errno));
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() { remove(); }

  const std::string& path() const noexcept { return path_; }
  // `<dir>/<name>`.
  std::string file(std::string_view name) const {
    std::string out = path_;
    out.push_back('/');
    out.append(name);
    return out;
  }

  // Removes the tree now (the destructor then does nothing).
  void remove() noexcept {
    if (path_.empty()) {
      return;
    }
    // Pre-order walk (no FTW_DEPTH) so each directory is writable before its entries are
    // visited; FTW_PHYS so a symlink in the tree is never followed out of it.
    ::nftw(
        path_.c_str(),
        [](const char* p, const struct stat* st, int type, struct FTW*) {
          if (type == FTW_D || type == FTW_DNR) {
            ::chmod(p, (st->st_mode & 07777) | 0700);
          }
          return 0;
        },
        16, FTW_PHYS);
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }

 private:
  std::string path_;
};

}  // namespace pvetotp::test
