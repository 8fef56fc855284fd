// Payload mapping: turns the bytes one source delivers into zero or more Reflex events.
//
// Five kinds (docs/ingest.md has the full reference):
//   kind: event         the bytes already are one Reflex event (docs/events.md); they pass
//                       through untouched: passthrough() is true and callers may skip Map().
//   kind: alertmanager  a Prometheus Alertmanager webhook payload (version "4"): one event
//                       per alert. Alertmanager carries numbers as text; the annotations and
//                       labels named in values_from_annotations / values_from_labels become
//                       the event's `values` when their text is a finite number (else they are
//                       left out of values, kept where they were, and reported as a note).
//   kind: fields        the user's own JSON object; JSON pointers (RFC 6901) name where the
//                       id, timestamp, source, message, labels and values are. The original
//                       object becomes the event's `payload`, byte for byte.
//   kind: influx        metric samples in Influx line protocol (Telegraf's Kafka output): one
//                       event per line, the measurement as label `__name__`, the tags as
//                       labels, every numeric or boolean field as a value, the timestamp (in
//                       the configured precision, ns by default) as the event time. The payload
//                       is text, not JSON (reads_text()).
//   kind: prometheus_json  one Prometheus sample as JSON (remote-write-to-Kafka adapters):
//                       {"name", "labels", "value" (text or number), "timestamp"}: one event,
//                       label `__name__` = name, `values.value` = the sample (NaN / ±Inf are
//                       left out of values and noted).
// Mapped events are checked against the event format at ingest (a bad timestamp, a label
// that is an object, a value that is not a number are errors here, not dead letters later).
//
// Thread-safety: a Mapping is immutable after FromYaml/Of; Map() is const and may run on
// many threads at once.
//
//   auto m = Mapping::FromYaml(YAML::Load("kind: alertmanager"), "sources[0].mapping");
//   std::vector<std::string> events;
//   if (Status s = m->Map(body, &events); !s.ok()) reject(s.message());
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/config_schema.h"
#include "reflex/base/enum_names.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace reflex::connectors {

enum class MappingKind { kEvent, kAlertmanager, kFields, kInflux, kPrometheusJson };

inline constexpr base::EnumNames<MappingKind, 5> kMappingKindNames{
    {{{MappingKind::kEvent, "event"},
      {MappingKind::kAlertmanager, "alertmanager"},
      {MappingKind::kFields, "fields"},
      {MappingKind::kInflux, "influx"},
      {MappingKind::kPrometheusJson, "prometheus_json"}}}};
// "event", "alertmanager", "fields", "influx", "prometheus_json".
const char* MappingKindName(MappingKind kind);

// The unit of a line-protocol timestamp (kind influx): Telegraf and InfluxDB write ns.
enum class InfluxPrecision { kNanoseconds, kMicroseconds, kMilliseconds, kSeconds };
inline constexpr base::EnumNames<InfluxPrecision, 4> kInfluxPrecisionNames{
    {{{InfluxPrecision::kNanoseconds, "ns"},
      {InfluxPrecision::kMicroseconds, "us"},
      {InfluxPrecision::kMilliseconds, "ms"},
      {InfluxPrecision::kSeconds, "s"}}}};

// The typed form of a source's `mapping:` key. Pointers are RFC 6901 JSON pointers
// ("/host/name"); an empty pointer means "not mapped".
struct MappingSpec {
  MappingKind kind = MappingKind::kEvent;  // Default: kEvent.
  // kind fields only:
  std::string id;           // string or number; unmapped or missing: the engine hashes the event
  std::string timestamp;    // RFC 3339 string or epoch number; missing: decision time
  std::string source;       // text; missing: source_name
  std::string source_name;  // constant source, used when `source` is unmapped or missing
  std::string message;      // text (numbers and booleans become their text)
  std::vector<std::pair<std::string, std::string>> labels;  // label name -> pointer
  std::vector<std::pair<std::string, std::string>> values;  // value name -> pointer
  // kind alertmanager only: annotation / label names whose text, when it is a finite number
  // ("97.5", "-3", "1e3"), becomes the event value of the same name. A label stays a label
  // as well. When both name the same key, the annotation's number wins.
  std::vector<std::string> values_from_annotations;
  std::vector<std::string> values_from_labels;
  // kind influx only: the unit of the line timestamps. Default: ns.
  InfluxPrecision precision = InfluxPrecision::kNanoseconds;
};

class Mapping {
 public:
  // The pass-through mapping (kind event).
  Mapping() = default;

  // Reads a `mapping:` node (MappingSchema(), or the shorthand `mapping: alertmanager`) at
  // key path `path`; every problem goes to ctx with its position. nullopt on any error.
  static std::optional<Mapping> Read(const YAML::Node& node, const std::string& path,
                                     base::ConfigContext& ctx);
  // Parses a `mapping:` node. `where` is the node's key path in the config, used as the
  // prefix of every error (e.g. "sources[1].mapping.labels.host: expected a JSON pointer
  // starting with '/'"); all errors are reported at once, one per line. A null/undefined
  // node gives the pass-through mapping. Unknown keys are errors that list the valid ones.
  [[nodiscard]] static engine::Result<Mapping> FromYaml(const YAML::Node& node,
                                                        const std::string& where);
  // Validates a spec built in code (same checks as FromYaml; `where` prefixes errors).
  [[nodiscard]] static engine::Result<Mapping> Of(MappingSpec spec,
                                                  const std::string& where = "mapping");
  // The mapping of a kind with its defaults: any kind but kFields needs no more (kFields
  // gives a fields mapping with nothing mapped: the event is only the payload).
  static Mapping OfKind(MappingKind kind);

  // Maps one payload and appends its events to `events`. On error returns
  // InvalidArgument with the reason and leaves `events` as it was (all or nothing).
  // kind event appends `bytes` unchanged and does not look at them. Each mapped event must
  // keep to `limits` (the run config's processing.max_*), as the pipeline will check; an
  // Alertmanager alert with more labels than that is refused before its event is built.
  // Time is linear in the size of `bytes` (O(n log n) in the number of keys).
  // When `notes` is not null it receives one line per thing the mapping left out without
  // refusing the payload: an annotation or label named in values_from_* whose text is not a
  // number ("alerts[0].annotations.cpu: \"high\" is not a number; left out of values").
  [[nodiscard]] engine::Status Map(std::string_view bytes, std::vector<std::string>* events,
                                   const engine::EventLimits& limits = {},
                                   std::vector<std::string>* notes = nullptr) const;

  // True for kind event: the payload is the event; callers may use the bytes as they are.
  bool passthrough() const { return spec_.kind == MappingKind::kEvent; }
  // True for kind influx: a payload is text (many lines), not JSON documents, so a webhook
  // body is one payload as it is (SplitPayload) and a test case's `event` is a JSON string.
  bool reads_text() const { return spec_.kind == MappingKind::kInflux; }
  const MappingSpec& spec() const { return spec_; }

 private:
  explicit Mapping(MappingSpec spec) : spec_(std::move(spec)) {}
  engine::Status MapAlertmanager(std::string_view bytes, std::vector<std::string>* events,
                                 const engine::EventLimits& limits,
                                 std::vector<std::string>* notes) const;
  engine::Status MapFields(std::string_view bytes, std::vector<std::string>* events,
                           const engine::EventLimits& limits) const;
  engine::Status MapInflux(std::string_view bytes, std::vector<std::string>* events,
                           const engine::EventLimits& limits) const;
  engine::Status MapPrometheusJson(std::string_view bytes, std::vector<std::string>* events,
                                   const engine::EventLimits& limits,
                                   std::vector<std::string>* notes) const;

  MappingSpec spec_;
};

// The schema of a `mapping:` mapping (for `reflex config schema`).
const base::Schema<MappingSpec>& MappingSchema();

// Splits a webhook body that holds several documents: one JSON object (passed on as it is),
// a JSON array (each element is one document, re-serialized compactly), or JSON Lines (one
// document per line, passed on as it is; blank lines and a trailing CR are skipped). Every
// document must be a JSON object. On error returns InvalidArgument naming the element
// ("index 3: ...") or line ("line 4: ...") and leaves `docs` as it was. An empty array gives
// no documents; an empty body is an error. When `where` is not null it receives, per
// document, "index N" / "line N" (empty for a single object), to prefix later errors.
[[nodiscard]] engine::Status SplitDocuments(std::string_view body, std::vector<std::string>* docs,
                                            std::vector<std::string>* where = nullptr);

// Splits a webhook body the way `mapping` reads it: one payload, as it is, for a mapping that
// reads text (kind influx: the lines of one body are one payload), else SplitDocuments.
[[nodiscard]] engine::Status SplitPayload(const Mapping& mapping, std::string_view body,
                                          std::vector<std::string>* docs,
                                          std::vector<std::string>* where = nullptr);

// One event of a body mapped by MapDocuments, with where in the body it came from: "alerts[1]"
// (kind alertmanager), "line 3" (kind influx: the line of the sample), "line 2" / "index 0" (a body
// of several documents), both joined by
// ", ", or "" for the only event of a single object.
struct MappedEvent {
  std::string event;
  std::string where;
};
// Splits `body` into documents (SplitPayload) and maps each with `mapping`, appending the
// events in order; for offline tools (`reflex explain`, `reflex test`) that show each event
// of a captured payload. All or nothing: on error returns InvalidArgument prefixed by the
// document's place ("line 2: alerts: expected an array of alerts") and leaves `events` as
// it was. Pass-through events are checked with ValidateEvent. `notes` as for Mapping::Map.
[[nodiscard]] engine::Status MapDocuments(const Mapping& mapping, std::string_view body,
                                          std::vector<MappedEvent>* events,
                                          const engine::EventLimits& limits = {},
                                          std::vector<std::string>* notes = nullptr);

// Checks one event with the engine's own parser (engine::EventParser, one per thread) under
// `limits`: OK when a pipeline with the same limits will decide it, else InvalidArgument
// with the reason it would be dead-lettered for (docs/events.md). The webhook server runs it
// on pass-through events so a bad one is a 400 at the door rather than a dead letter later.
[[nodiscard]] engine::Status ValidateEvent(std::string_view event,
                                           const engine::EventLimits& limits = {});

}  // namespace reflex::connectors
