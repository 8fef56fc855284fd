// Fuzz target: the Influx line protocol mapping (kind influx), in every timestamp precision.
// Invariants: a failed Map leaves its output as it was and gives a reason naming the line
// ("line N: ...") or the encoding; every event it makes is a JSON object the engine's own
// parser accepts, with the measurement as label __name__ and the line's parts in its payload;
// MapDocuments agrees with Map on the events and places each on a line of the input.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "reflex/connectors/mapping.h"
#include "reflex/engine/event.h"

using reflex::connectors::InfluxPrecision;
using reflex::connectors::Mapping;
using reflex::connectors::MappingKind;
using reflex::connectors::MappingSpec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  static const std::vector<Mapping> mappings = [] {
    std::vector<Mapping> out;
    for (InfluxPrecision p : {InfluxPrecision::kNanoseconds, InfluxPrecision::kMicroseconds,
                              InfluxPrecision::kMilliseconds, InfluxPrecision::kSeconds}) {
      MappingSpec spec;
      spec.kind = MappingKind::kInflux;
      spec.precision = p;
      auto m = Mapping::Of(spec, "fuzz");
      REFLEX_FUZZ_CHECK(m.ok(), m.status().message().c_str());
      out.push_back(*m);
    }
    return out;
  }();
  static reflex::engine::EventParser parser;
  reflex::engine::Event ev;
  const reflex::engine::EventLimits limits{.max_labels = 16, .max_values = 16};
  for (const Mapping& m : mappings) {
    std::vector<std::string> events = {"sentinel"};
    reflex::engine::Status s = m.Map(text, &events, limits);
    if (!s.ok()) {
      REFLEX_FUZZ_CHECK(!s.message().empty(), "error without a reason");
      REFLEX_FUZZ_CHECK(
          s.message().rfind("line ", 0) == 0 || s.message().rfind("not valid UTF-8", 0) == 0,
          s.message().c_str());
      REFLEX_FUZZ_CHECK(events.size() == 1 && events[0] == "sentinel", "failed Map appended");
      continue;
    }
    for (size_t i = 1; i < events.size(); ++i) {
      reflex::engine::Status ps = parser.Parse(events[i], 0, &ev);
      REFLEX_FUZZ_CHECK(ps.ok(), ps.message().c_str());
      const std::string* name = ev.Label("__name__");
      REFLEX_FUZZ_CHECK(name != nullptr && !name->empty(), events[i].c_str());
      REFLEX_FUZZ_CHECK(ev.source == "influx", events[i].c_str());
      const nlohmann::json* payload = ev.Payload();
      REFLEX_FUZZ_CHECK(payload != nullptr && (*payload)["measurement"] == *name,
                        events[i].c_str());
      REFLEX_FUZZ_CHECK(ev.labels.size() == (*payload)["tags"].size() + 1, events[i].c_str());
      REFLEX_FUZZ_CHECK(ev.values.size() <= (*payload)["fields"].size(), events[i].c_str());
    }
    std::vector<reflex::connectors::MappedEvent> placed;
    s = reflex::connectors::MapDocuments(m, text, &placed, limits);
    REFLEX_FUZZ_CHECK(s.ok(), s.message().c_str());
    REFLEX_FUZZ_CHECK(placed.size() + 1 == events.size(), "MapDocuments disagrees with Map");
    for (size_t i = 0; i < placed.size(); ++i) {
      REFLEX_FUZZ_CHECK(placed[i].event == events[i + 1], "MapDocuments disagrees with Map");
      REFLEX_FUZZ_CHECK(placed[i].where.rfind("line ", 0) == 0, placed[i].where.c_str());
    }
  }
  return 0;
}
