// replay_main.cc: runs a fuzz target over its checked-in corpus without libFuzzer.
//
// gcc has no libFuzzer, but the seed corpus still encodes cases worth keeping (every seed once
// reached new coverage, some once crashed), so the normal build links each target with this
// main and ctest feeds it every file under tests/fuzz/corpus/<target>/. Property violations
// abort() inside LLVMFuzzerTestOneInput, which fails the ctest case.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Copy into an exactly-sized heap block so ASan catches reads past the end, as libFuzzer does.
  std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
  exact.shrink_to_fit();
  LLVMFuzzerTestOneInput(exact.data(), exact.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(root, ec)) {
      std::vector<std::filesystem::path> paths;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) {
          paths.push_back(entry.path());
        }
      }
      std::sort(paths.begin(), paths.end());  // stable order: a failure replays the same way
      for (const auto& p : paths) {
        ok = replay_file(p) && ok;
        ++files;
      }
    } else {
      ok = replay_file(root) && ok;
      ++files;
    }
  }
  if (files == 0) {
    // An empty corpus would make the test pass without running anything.
    std::fprintf(stderr, "no corpus files found\n");
    return 1;
  }
  std::printf("replayed %zu inputs\n", files);
  return ok ? 0 : 1;
}
