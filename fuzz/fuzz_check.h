// Helpers shared by the fuzz targets: an invariant check that aborts with a message (so
// libFuzzer and the corpus replay both report it as a crash), and input-size caps.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

// Aborts when `cond` is false: an invariant of the code under test does not hold.
#define REFLEX_FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", __FILE__, __LINE__, #cond, what); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace reflex::fuzz {

// Input larger than this is skipped: it finds no new paths, only slows the fuzzer down.
inline constexpr size_t kMaxInput = 160 * 1024;  // above kMaxCellBytes, so the cap is reachable

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

// Number of lines of `text`: 1 + line ends, where a line end is LF, CRLF or a lone CR (the
// CSV reader accepts old Mac line ends).
inline int LineCount(std::string_view text) {
  int n = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    n += text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'));
  }
  return n;
}

}  // namespace reflex::fuzz
