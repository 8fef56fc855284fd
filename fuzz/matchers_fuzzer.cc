// Fuzz target: reflex::engine::ParseMatchers (amtool matcher strings, silences and
// inhibit.yaml). Invariants: an error names a column within the text plus one
// ("column N: ...", 1 <= N <= size + 1); every parsed matcher prints (ToString) as text that
// parses back to exactly that matcher; compiling it never crashes, and a compiled matcher
// answers for an absent label.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_check.h"
#include "reflex/engine/silence.h"

using namespace reflex::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  auto parsed = ParseMatchers(text);
  if (!parsed.ok()) {
    const std::string& m = parsed.status().message();
    constexpr std::string_view kPrefix = "column ";
    REFLEX_FUZZ_CHECK(m.rfind(kPrefix, 0) == 0, m.c_str());
    const long column = std::strtol(m.c_str() + kPrefix.size(), nullptr, 10);
    REFLEX_FUZZ_CHECK(column >= 1 && column <= static_cast<long>(size) + 1, m.c_str());
    return 0;
  }
  for (const LabelMatcher& m : *parsed) {
    const std::string printed = m.ToString();
    auto again = ParseMatchers(printed);
    REFLEX_FUZZ_CHECK(again.ok() && again->size() == 1 && (*again)[0] == m, printed.c_str());
    auto compiled = CompiledMatcher::Create(m);
    if (compiled.ok()) (void)compiled->Matches(std::string_view());
  }
  return 0;
}
