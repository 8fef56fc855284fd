// Fuzz target: the Prometheus JSON sample mapping (kind prometheus_json).
// Invariants: a failed Map leaves its output as it was and gives a reason; a sample maps to
// exactly one event, a JSON object the engine's own parser accepts, whose label __name__ is
// the metric name, whose only value is `value` (absent exactly when a note says the sample is
// not a finite number) and whose payload is the input.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "reflex/connectors/mapping.h"
#include "reflex/engine/event.h"

using reflex::connectors::Mapping;
using reflex::connectors::MappingKind;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  static const Mapping m = Mapping::OfKind(MappingKind::kPrometheusJson);
  static reflex::engine::EventParser parser;
  std::vector<std::string> events = {"sentinel"}, notes;
  reflex::engine::Status s = m.Map(text, &events, {.max_labels = 16}, &notes);
  if (!s.ok()) {
    REFLEX_FUZZ_CHECK(!s.message().empty(), "error without a reason");
    REFLEX_FUZZ_CHECK(events.size() == 1 && events[0] == "sentinel", "failed Map appended");
    REFLEX_FUZZ_CHECK(notes.empty(), "failed Map noted");
    return 0;
  }
  REFLEX_FUZZ_CHECK(events.size() == 2, "a sample is one event");
  reflex::engine::Event ev;
  reflex::engine::Status ps = parser.Parse(events[1], 0, &ev);
  REFLEX_FUZZ_CHECK(ps.ok(), ps.message().c_str());
  REFLEX_FUZZ_CHECK(ev.source == "prometheus", events[1].c_str());
  const std::string* name = ev.Label("__name__");
  REFLEX_FUZZ_CHECK(name != nullptr && !name->empty(), events[1].c_str());
  REFLEX_FUZZ_CHECK(ev.values.size() == (notes.empty() ? 1u : 0u), events[1].c_str());
  const nlohmann::json* payload = ev.Payload();
  REFLEX_FUZZ_CHECK(payload != nullptr && *payload == nlohmann::json::parse(text, nullptr, false),
                    "payload is not the input");
  return 0;
}
