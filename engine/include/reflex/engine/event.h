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

#include <cstddef>
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
  // Lists in insertion order, keys unique: events carry a handful of labels, and a linear
  // scan beats hashing at that size. EventParser caps their length (EventLimits), which
  // bounds a lookup; it builds them in O(n log n) at worst (see Parse).
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
  // Adds or replaces a label (a scan: for the few labels labeling adds, not for building).
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

// True for an id EventParser made for an event that had none: "h-" and 16 lowercase hex
// digits of a hash of its bytes (the same bytes always get the same id).
bool IsDerivedEventId(std::string_view id);

// Caps on the shape of one event, checked by EventParser beside kMaxEventBytes. They bound
// the time one event takes (parse, label lookups) and the stack the payload can need; an
// event over a cap is refused with InvalidArgument naming it ("labels: too many labels: 5000
// (at most 1000)", "event nested deeper than 32 levels"), which callers dead-letter or
// answer with 400. The run config sets them (processing.max_labels, ...).
struct EventLimits {
  // Most keys in the event's `labels` object. Default: 1000.
  size_t max_labels = 1000;
  // Most keys in the event's `values` object. Default: 1000.
  size_t max_values = 1000;
  // Deepest nesting of objects and arrays, the event object itself being level 1 (its
  // `labels` object level 2, a mapped payload's top level 2; an empty [] or {} innermost
  // adds no level). Default: 32.
  // REQUIRES: 1 <= max_depth <= kDepthCeiling.
  int max_depth = 32;

  // The deepest nesting any parser is built for (payloads are walked recursively).
  static constexpr int kDepthCeiling = 1024;
  // No count caps, depth kDepthCeiling: for re-reading events that were accepted once
  // already (under caps that may have been raised), never for input.
  static constexpr EventLimits Unbounded() {
    return EventLimits{SIZE_MAX, SIZE_MAX, kDepthCeiling};
  }
};

// Parses one JSON event into an Event. Accepted form (all keys optional):
//   {"id": "...", "timestamp": "RFC 3339" | epoch number, "source": "...",
//    "labels": {"k": "v", ...}, "values": {"k": 1.5, ...}, "message": "...",
//    "payload": {...}}
// `ts` and `time` are accepted for `timestamp`. Epoch numbers below 1e11 are seconds,
// larger ones milliseconds. When "payload" is absent the whole object is the payload.
// A missing id becomes "h-" + a hash of the raw bytes; a missing timestamp becomes
// `default_time_ms`. A key given twice in `labels` or `values` keeps its first place and
// its last value. The caps of `limits` apply (EventLimits); building the labels and values
// takes O(n log n) in their number at worst, O(n) when the keys come sorted or are few.
//
// Not thread-safe: one parser per thread (it owns reusable buffers).
class EventParser {
 public:
  explicit EventParser(EventLimits limits = {});
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Largest accepted event; larger input is rejected (and dead-lettered by callers).
  static constexpr size_t kMaxEventBytes = 1 << 20;

  // On error returns InvalidArgument (malformed, or over a cap of limits()) or
  // ResourceExhausted (over kMaxEventBytes) with the reason; `out` then holds nothing of an
  // earlier event, but may hold part of this one.
  Status Parse(std::string_view json, int64_t default_time_ms, Event* out);

  const EventLimits& limits() const { return limits_; }
  // Takes effect from the next Parse. REQUIRES: 1 <= limits.max_depth <= kDepthCeiling.
  void set_limits(const EventLimits& limits) { limits_ = limits; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  EventLimits limits_;
};

}  // namespace reflex::engine
