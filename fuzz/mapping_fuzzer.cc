// Fuzz target: reflex::connectors payload mapping (Alertmanager, fields) and SplitDocuments.
// Invariants: a failed call leaves its output as it was and gives a reason; every event an
// Alertmanager or fields mapping produces is one JSON object that the engine's own event
// parser accepts (so what ingest accepts, the pipeline decides); the fields mapping keeps
// the input as the event's payload; every document SplitDocuments returns is a JSON object.
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
using reflex::connectors::MappingSpec;

namespace {

Mapping FieldsMapping() {
  MappingSpec spec;
  spec.kind = MappingKind::kFields;
  spec.id = "/id";
  spec.timestamp = "/ts";
  spec.source = "/src";
  spec.source_name = "fuzz";
  spec.message = "/msg/0";
  spec.labels = {{"host", "/host/name"}, {"sev", "/sev"}, {"a/b", "/x~1y"}};
  spec.values = {{"load", "/load"}, {"n", "/m/n"}};
  auto m = Mapping::Of(spec, "fuzz");
  REFLEX_FUZZ_CHECK(m.ok(), m.status().message().c_str());
  return *m;
}

void CheckMapped(const Mapping& m, std::string_view text) {
  std::vector<std::string> events = {"sentinel"};
  reflex::engine::Status s = m.Map(text, &events);
  if (!s.ok()) {
    REFLEX_FUZZ_CHECK(!s.message().empty(), "error without a reason");
    REFLEX_FUZZ_CHECK(events.size() == 1 && events[0] == "sentinel", "failed Map appended");
    return;
  }
  static reflex::engine::EventParser parser;
  reflex::engine::Event ev;
  for (size_t i = 1; i < events.size(); ++i) {
    const auto j = nlohmann::json::parse(events[i], nullptr, false);
    REFLEX_FUZZ_CHECK(!j.is_discarded() && j.is_object(), events[i].c_str());
    REFLEX_FUZZ_CHECK(j.contains("payload"), "mapped event without its payload");
    reflex::engine::Status ps = parser.Parse(events[i], 0, &ev);
    REFLEX_FUZZ_CHECK(ps.ok(), ps.message().c_str());
    if (m.spec().kind == MappingKind::kFields) {
      REFLEX_FUZZ_CHECK(events.size() == 2, "fields mapping made more than one event");
      REFLEX_FUZZ_CHECK(j["payload"] == nlohmann::json::parse(text, nullptr, false),
                        "payload is not the input");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  static const Mapping alertmanager = Mapping::OfKind(MappingKind::kAlertmanager);
  static const Mapping fields = FieldsMapping();

  CheckMapped(alertmanager, text);
  CheckMapped(fields, text);

  std::vector<std::string> docs = {"sentinel"}, where;
  reflex::engine::Status s = reflex::connectors::SplitDocuments(text, &docs, &where);
  if (!s.ok()) {
    REFLEX_FUZZ_CHECK(!s.message().empty(), "error without a reason");
    REFLEX_FUZZ_CHECK(docs.size() == 1 && where.empty(), "failed split added documents");
    return 0;
  }
  REFLEX_FUZZ_CHECK(where.size() + 1 == docs.size(), "one location per document");
  for (size_t i = 1; i < docs.size(); ++i) {
    const auto j = nlohmann::json::parse(docs[i], nullptr, false);
    REFLEX_FUZZ_CHECK(!j.is_discarded() && j.is_object(), docs[i].c_str());
  }
  return 0;
}
