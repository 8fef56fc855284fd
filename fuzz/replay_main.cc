// A main() for fuzz targets built without libFuzzer: feeds every file named on the command
// line (directories are walked, recursively) to LLVMFuzzerTestOneInput once, so a corpus
// replays as an ordinary test under any compiler and sanitizer.
//
//   replay_csv fuzz/corpus/csv            # exit 0 when every input ran
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Copy into an exactly-sized heap buffer so ASan sees reads past the end.
  std::vector<uint8_t> buf(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  size_t runs = 0;
  bool ok = true;
  for (int a = 1; a < argc; ++a) {
    std::error_code ec;
    const std::filesystem::path p(argv[a]);
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        std::fprintf(stderr, "%s: empty corpus\n", argv[a]);
        ok = false;
      }
      for (const auto& f : files) {
        ok = RunFile(f) && ok;
        ++runs;
      }
    } else if (std::filesystem::is_regular_file(p, ec)) {
      ok = RunFile(p) && ok;
      ++runs;
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[a]);
      ok = false;
    }
  }
  std::printf("replayed %zu inputs\n", runs);
  return ok ? 0 : 1;
}
