// The normalized event and how any of its fields is addressed.
//
// Every source (Kafka, webhook, file replay) produces an Event: id, timestamp, source,
// labels (string -> string), values (string -> number), message text and the raw payload.
// A FieldPath names one field: `labels.instance`, `values.usage`, `message`, `source`, `id`,
// `timestamp`, `payload.a.b[0]`, or a bare name (`instance`), which means the label of that
// name and, when there is no such label, the value of that name.
//
// Thread-safety: an Event is a value owned by one thread at a time. Payload() parses the
// payload lazily and caches it, so even const access must not race.
//
//   EventParser parser;
//   Event ev;
//   if (Status s = parser.Parse(R"({"labels":{"alertname":"DiskFull"}})", 0, &ev); !s.ok()) ...
//   FieldValue v = ev.Get(*FieldPath::Parse("alertname"));
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/status.h"

namespace reflex::engine {

// One step of a payload path: an object key or an array index.
struct PathStep {
  std::string key;  // used when index < 0
  int64_t index = -1;
  bool operator==(const PathStep&) const = default;
};

class FieldPath {
 public:
  enum class Root { kBare, kLabel, kValue, kMessage, kSource, kId, kTimestamp, kPayload, kMeta };

  // Parses `labels.x`, `values.x`, `message`, `source`, `id`, `timestamp`,
  // `payload`, `payload.a.b[0]`, `payload["key with.dots"]`, `meta.key`,
  // `meta["header.x-trace"]`, or a bare identifier.
  static Result<FieldPath> Parse(std::string_view text);

  Root root() const { return root_; }
  // Label / value / meta / bare name; empty for the other roots.
  const std::string& name() const { return name_; }
  const std::vector<PathStep>& steps() const { return steps_; }
  // The canonical text, e.g. "labels.instance".
  const std::string& text() const { return text_; }

  bool operator==(const FieldPath& o) const { return text_ == o.text_; }

 private:
  Root root_ = Root::kBare;
  std::string name_;
  std::vector<PathStep> steps_;
  std::string text_;
};

// A resolved field: missing, text or number. `text` views memory owned by the Event (or by
// this object's small buffer for formatted numbers); it lives as long as both do and the
// event is not modified.
class FieldValue {
 public:
  enum class Kind { kMissing, kText, kNumber };

  FieldValue() = default;
  static FieldValue Text(std::string_view s) {
    FieldValue v;
    v.kind_ = Kind::kText;
    v.text_ = s;
    return v;
  }
  static FieldValue Number(double d);

  Kind kind() const { return kind_; }
  bool missing() const { return kind_ == Kind::kMissing; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  // The text form; numbers are formatted shortest-round-trip ("93.5", "90").
  std::string_view text() const;
  // The numeric form: the number, or the text parsed as a number when it is one.
  std::optional<double> number() const;

  FieldValue(const FieldValue& o) { *this = o; }
  FieldValue& operator=(const FieldValue& o);

 private:
  Kind kind_ = Kind::kMissing;
  std::string_view text_;
  double number_ = 0;
  // A number's text, formatted on first use of text() (most numbers are only compared as
  // numbers); buf_len_ == 0 means not formatted yet.
  mutable char buf_[32] = {};
  mutable uint8_t buf_len_ = 0;
};

class Event {
 public:
  Event();
  ~Event();
  Event(const Event&);
  Event& operator=(const Event&);
  Event(Event&&) noexcept;
  Event& operator=(Event&&) noexcept;

  std::string id;
  int64_t time_ms = 0;  // event time, ms since the Unix epoch (UTC)
  std::string source;
  std::string message;
  // Small sorted-by-insertion lists: events carry a handful of labels, and a linear scan
  // beats hashing at that size.
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, double>> values;
  std::string raw;  // the original bytes as received
  // The payload as JSON text when the event carried a "payload" key; empty when the whole
  // event object is the payload (then `raw` holds it; no second copy on the hot path).
  std::string payload;
  // Transport metadata set by the connector that delivered the event, never by its JSON:
  // `key`, `topic`, `partition`, `offset`, `header.<name>` for Kafka. Read as `meta.<name>`.
  std::vector<std::pair<std::string, std::string>> meta;
  const std::string& payload_text() const { return payload.empty() ? raw : payload; }

  const std::string* Label(std::string_view key) const;
  const std::string* Meta(std::string_view key) const;
  std::optional<double> Value(std::string_view key) const;
  // Adds or replaces a label.
  void SetLabel(std::string_view key, std::string_view value);
  void SetValue(std::string_view key, double value);

  // The payload parsed as JSON (cached); nullptr when there is none or it does not parse.
  const nlohmann::json* Payload() const;

  FieldValue Get(const FieldPath& path) const;

  // Empties the event but keeps allocated capacity (for reuse on the hot path).
  void Clear();

  // Exchanges contents, buffers included (cheaper than std::swap's three moves).
  void Swap(Event& other) noexcept;
  friend void swap(Event& a, Event& b) noexcept { a.Swap(b); }

 private:
  mutable std::unique_ptr<nlohmann::json> payload_cache_;
  mutable bool payload_parsed_ = false;
};

// Parses one JSON event into an Event. Accepted form (all keys optional):
//   {"id": "...", "timestamp": "RFC 3339" | epoch number, "source": "...",
//    "labels": {"k": "v", ...}, "values": {"k": 1.5, ...}, "message": "...",
//    "payload": {...}}
// `ts` and `time` are accepted for `timestamp`. Epoch numbers below 1e11 are seconds,
// larger ones milliseconds. When "payload" is absent the whole object is the payload.
// A missing id becomes "h-" + a hash of the raw bytes; a missing timestamp becomes
// `default_time_ms`.
//
// Not thread-safe: one parser per thread (it owns reusable buffers).
class EventParser {
 public:
  EventParser();
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Largest accepted event; larger input is rejected (and dead-lettered by callers).
  static constexpr size_t kMaxEventBytes = 1 << 20;

  Status Parse(std::string_view json, int64_t default_time_ms, Event* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflex::engine
