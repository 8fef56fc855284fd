// Fuzz target: the `reflex run` config parser (connectors/config.h).
// Invariants: it never throws or crashes on any text; a refused config gives a message that
// starts with the file name on every line (file:line:col: key: ...); an accepted one has a
// non-empty rules directory and group id, at least one source, and every number inside the
// documented ranges.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_check.h"
#include "reflex/connectors/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A fixed environment: `*_env` keys resolve only FUZZ_SET.
  const reflex::connectors::EnvLookup env = [](const std::string& name) {
    return name == "FUZZ_SET" ? std::optional<std::string>("v") : std::nullopt;
  };
  auto cfg = reflex::connectors::ParseRunConfig(text, "fuzz.yaml", env);
  if (!cfg.ok()) {
    const std::string& m = cfg.status().message();
    REFLEX_FUZZ_CHECK(!m.empty(), "refused without a reason");
    std::istringstream lines(m);
    std::string line;
    while (std::getline(lines, line)) {
      REFLEX_FUZZ_CHECK(line.rfind("fuzz.yaml", 0) == 0, line.c_str());
    }
    return 0;
  }
  REFLEX_FUZZ_CHECK(!cfg->sources.empty(), "accepted without a source");
  REFLEX_FUZZ_CHECK(!cfg->kafka.group_id.empty(), "accepted an empty group id");
  REFLEX_FUZZ_CHECK(cfg->processing.workers >= 1 && cfg->processing.workers <= 64, "workers");
  REFLEX_FUZZ_CHECK(cfg->processing.batch_size >= 1, "batch_size");
  for (const auto& s : cfg->sources) {
    REFLEX_FUZZ_CHECK(!s.name.empty(), "source without a name");
    REFLEX_FUZZ_CHECK(s.topics.empty() != s.pattern.empty(), "source needs topics xor pattern");
  }
  return 0;
}
