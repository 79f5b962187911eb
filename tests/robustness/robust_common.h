// Helpers shared by the robustness tests: the fault shim's environment, its log files, and
// secret-file checks. Built on the integration harness (tests/integration/harness.h).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace pvetotp::robust {

using itest::run_options;
using itest::run_result;
using itest::world;

// One call the module made on the secret file, its lock, its temp file or its directory, as
// the fault shim's trace saw it: the family, the path, and the how-many-th call of that family
// on a path under the pattern it was (what a fault rule's N counts).
struct call_site {
  std::string family;
  std::string path;
  int nth = 0;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// The harness starts the client with LD_PRELOAD=nss_wrapper:testshim; an extra LD_PRELOAD in
// the world's environment comes later in envp, and ld.so takes the last one, so this list
// must repeat the harness's two libraries. Whether the shim really got loaded is checked by
// every test through its log files, never assumed.
inline void preload_fault_shim(world& w) {
  w.set_env("LD_PRELOAD", std::string("libnss_wrapper.so:") + PVETOTP_TESTSHIM_PATH_R + ":" +
                              PVETOTP_FAULTSHIM_PATH);
}

// Fresh, world-writable (the module logs after dropping its fsuid) empty file.
inline std::string fresh_file(const world& w, const std::string& name) {
  const std::string path = w.dir() + "/" + name;
  w.write_file(path, "", 0666, 0, 0);
  return path;
}

inline std::vector<call_site> parse_trace(const std::string& text, const std::string& pattern) {
  std::vector<call_site> sites;
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& line : lines_of(text)) {
    auto space = line.find(' ');
    call_site s{line.substr(0, space), line.substr(space + 1), 0};
    if (s.path.find(pattern) == std::string::npos) {
      continue;
    }
    int* n = nullptr;
    for (auto& [f, c] : counts) {
      if (f == s.family) {
        n = &c;
      }
    }
    if (n == nullptr) {
      counts.emplace_back(s.family, 0);
      n = &counts.back().second;
    }
    s.nth = ++*n;
    sites.push_back(s);
  }
  return sites;
}

// Temp files (`<name>~XXXXXX`) in a directory.
inline std::vector<std::string> temp_files(const world& w, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : w.list_dir(dir)) {
    if (n.find('~') != std::string::npos) {
      out.push_back(n);
    }
  }
  return out;
}

}  // namespace pvetotp::robust
