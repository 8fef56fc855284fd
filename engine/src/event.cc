#include "reflex/engine/event.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/engine/condition.h"

namespace reflex::engine {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-'; }

constexpr const char* kRoots =
    "expected labels.<name>, values.<name>, payload..., meta.<name>, message, source, id, "
    "timestamp or a bare label name";

// Parses `.key`, `["key"]` and `[n]` steps of a payload path starting at `s`.
Status ParseSteps(std::string_view s, std::vector<PathStep>* steps) {
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
      size_t start = i;
      while (i < s.size() && s[i] != '.' && s[i] != '[') ++i;
      if (i == start) return InvalidArgument("empty key in path at offset " + std::to_string(i));
      steps->push_back(PathStep{std::string(s.substr(start, i - start)), -1});
    } else if (s[i] == '[') {
      ++i;
      if (i < s.size() && s[i] == '"') {
        ++i;
        std::string key;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          key.push_back(s[i++]);
        }
        if (i >= s.size()) return InvalidArgument("unterminated quoted key in path");
        ++i;  // closing quote
        if (i >= s.size() || s[i] != ']') return InvalidArgument("expected ']' after quoted key");
        ++i;
        steps->push_back(PathStep{std::move(key), -1});
      } else {
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start || i >= s.size() || s[i] != ']') {
          return InvalidArgument("expected an array index like [0] at offset " +
                                 std::to_string(start));
        }
        int64_t idx = 0;
        if (std::from_chars(s.data() + start, s.data() + i, idx).ec != std::errc()) {
          return InvalidArgument("array index out of range at offset " + std::to_string(start));
        }
        ++i;
        steps->push_back(PathStep{"", idx});
      }
    } else {
      return InvalidArgument("unexpected '" + std::string(1, s[i]) + "' in path at offset " +
                             std::to_string(i));
    }
  }
  return Status::Ok();
}

std::string Hex16(uint64_t v) {
  static const char* kDigits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return s;
}

int64_t EpochNumberToMillis(double d) {
  if (std::fabs(d) < 1e11) return static_cast<int64_t>(std::llround(d * 1000.0));
  return static_cast<int64_t>(std::llround(d));
}

}  // namespace

// ---- FieldPath -------------------------------------------------------------------------

Result<FieldPath> FieldPath::Parse(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  FieldPath p;
  if (text.empty()) return InvalidArgument("empty field name");
  auto starts = [&](std::string_view pre) { return text.substr(0, pre.size()) == pre; };
  if (starts("meta.")) {
    std::string_view name = text.substr(5);
    if (name.empty()) return InvalidArgument("missing name after 'meta.'");
    p.root_ = Root::kMeta;
    p.name_ = std::string(name);
    p.text_ = std::string(text);
    return p;
  }
  if (starts("meta[")) {
    std::vector<PathStep> steps;
    if (Status s = ParseSteps(text.substr(4), &steps); !s.ok()) return s;
    if (steps.size() != 1 || steps[0].index >= 0) return InvalidArgument("expected meta[\"name\"]");
    p.root_ = Root::kMeta;
    p.name_ = steps[0].key;
    p.text_ = "meta." + p.name_;
    return p;
  }
  if (starts("labels.") || starts("values.")) {
    p.root_ = starts("labels.") ? Root::kLabel : Root::kValue;
    std::string_view name = text.substr(7);
    if (name.empty()) return InvalidArgument("missing name after '" + std::string(text) + "'");
    p.name_ = std::string(name);
    p.text_ = std::string(text);
    return p;
  }
  if (starts("labels[") || starts("values[")) {
    std::vector<PathStep> steps;
    if (Status s = ParseSteps(text.substr(6), &steps); !s.ok()) return s;
    if (steps.size() != 1 || steps[0].index >= 0) {
      return InvalidArgument("expected " + std::string(text.substr(0, 6)) + "[\"name\"]");
    }
    p.root_ = starts("labels[") ? Root::kLabel : Root::kValue;
    p.name_ = steps[0].key;
    p.text_ = std::string(text.substr(0, 6)) + "." + p.name_;
    return p;
  }
  if (text == "message")
    p.root_ = Root::kMessage;
  else if (text == "source")
    p.root_ = Root::kSource;
  else if (text == "id")
    p.root_ = Root::kId;
  else if (text == "timestamp")
    p.root_ = Root::kTimestamp;
  else if (starts("payload") && (text.size() == 7 || text[7] == '.' || text[7] == '[')) {
    p.root_ = Root::kPayload;
    if (Status s = ParseSteps(text.substr(7), &p.steps_); !s.ok()) {
      return InvalidArgument("bad payload path '" + std::string(text) + "': " + s.message());
    }
  } else {
    if (!IsIdentStart(text[0])) {
      return InvalidArgument("bad field name '" + std::string(text) + "': " + kRoots);
    }
    for (char c : text) {
      if (!IsIdentChar(c)) {
        size_t dot = text.find('.');
        if (dot != std::string_view::npos) {
          return InvalidArgument("unknown field root '" + std::string(text.substr(0, dot)) +
                                 "' in '" + std::string(text) + "': " + kRoots);
        }
        return InvalidArgument("bad character '" + std::string(1, c) + "' in field name '" +
                               std::string(text) + "'");
      }
    }
    p.root_ = Root::kBare;
    p.name_ = std::string(text);
  }
  p.text_ = std::string(text);
  return p;
}

// ---- FieldValue ------------------------------------------------------------------------

FieldValue FieldValue::Number(double d) {
  FieldValue v;
  v.kind_ = Kind::kNumber;
  v.number_ = d == 0 ? 0.0 : d;  // -0 is 0: same text ("0"), same hash key, same compare
  return v;
}

FieldValue& FieldValue::operator=(const FieldValue& o) {
  kind_ = o.kind_;
  text_ = o.text_;
  number_ = o.number_;
  buf_len_ = o.buf_len_;
  if (buf_len_ != 0) std::memcpy(buf_, o.buf_, buf_len_);
  return *this;
}

std::string_view FieldValue::text() const {
  if (kind_ != Kind::kNumber) return text_;
  if (buf_len_ == 0) {
    auto r = std::to_chars(buf_, buf_ + sizeof(buf_), number_);
    buf_len_ = static_cast<uint8_t>(r.ptr - buf_);
  }
  return std::string_view(buf_, buf_len_);
}

std::optional<double> FieldValue::number() const {
  if (kind_ == Kind::kNumber) return number_;
  if (kind_ == Kind::kText) return ParseNumber(text_);
  return std::nullopt;
}

// ---- Event -----------------------------------------------------------------------------

bool IsDerivedEventId(std::string_view id) {
  if (id.size() != 18 || id.substr(0, 2) != "h-") return false;
  for (char c : id.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Event::Event() = default;
Event::~Event() = default;
Event::Event(const Event& o)
    : id(o.id),
      time_ms(o.time_ms),
      source(o.source),
      message(o.message),
      labels(o.labels),
      values(o.values),
      raw(o.raw),
      payload(o.payload),
      meta(o.meta) {}
Event& Event::operator=(const Event& o) {
  if (this != &o) {
    id = o.id;
    time_ms = o.time_ms;
    source = o.source;
    message = o.message;
    labels = o.labels;
    values = o.values;
    raw = o.raw;
    payload = o.payload;
    meta = o.meta;
    payload_cache_.reset();
    payload_parsed_ = false;
  }
  return *this;
}
Event::Event(Event&&) noexcept = default;
Event& Event::operator=(Event&&) noexcept = default;

void Event::Swap(Event& other) noexcept {
  using std::swap;
  swap(id, other.id);
  swap(time_ms, other.time_ms);
  swap(source, other.source);
  swap(message, other.message);
  swap(labels, other.labels);
  swap(values, other.values);
  swap(raw, other.raw);
  swap(payload, other.payload);
  swap(meta, other.meta);
  swap(payload_cache_, other.payload_cache_);
  swap(payload_parsed_, other.payload_parsed_);
}

const std::string* Event::Label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return &v;
  }
  return nullptr;
}

const std::string* Event::Meta(std::string_view key) const {
  for (const auto& [k, v] : meta) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<double> Event::Value(std::string_view key) const {
  for (const auto& [k, v] : values) {
    if (k == key) return v;
  }
  return std::nullopt;
}

void Event::SetLabel(std::string_view key, std::string_view value) {
  for (auto& [k, v] : labels) {
    if (k == key) {
      v.assign(value);
      return;
    }
  }
  labels.emplace_back(std::string(key), std::string(value));
}

void Event::SetValue(std::string_view key, double value) {
  for (auto& [k, v] : values) {
    if (k == key) {
      v = value;
      return;
    }
  }
  values.emplace_back(std::string(key), value);
}

const nlohmann::json* Event::Payload() const {
  if (!payload_parsed_) {
    payload_parsed_ = true;
    if (const std::string& text = payload_text(); !text.empty()) {
      auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) payload_cache_ = std::make_unique<nlohmann::json>(std::move(j));
    }
  }
  return payload_cache_.get();
}

FieldValue Event::Get(const FieldPath& path) const {
  switch (path.root()) {
    case FieldPath::Root::kBare: {
      if (const std::string* l = Label(path.name())) return FieldValue::Text(*l);
      if (auto v = Value(path.name())) return FieldValue::Number(*v);
      return FieldValue();
    }
    case FieldPath::Root::kLabel: {
      if (const std::string* l = Label(path.name())) return FieldValue::Text(*l);
      return FieldValue();
    }
    case FieldPath::Root::kValue: {
      if (auto v = Value(path.name())) return FieldValue::Number(*v);
      return FieldValue();
    }
    // An event without a message or source has none: `missing` matches it, `exists` does not.
    case FieldPath::Root::kMessage:
      return message.empty() ? FieldValue() : FieldValue::Text(message);
    case FieldPath::Root::kSource:
      return source.empty() ? FieldValue() : FieldValue::Text(source);
    case FieldPath::Root::kId:
      return FieldValue::Text(id);
    case FieldPath::Root::kTimestamp:
      return FieldValue::Number(static_cast<double>(time_ms));
    case FieldPath::Root::kMeta: {
      if (const std::string* m = Meta(path.name())) return FieldValue::Text(*m);
      return FieldValue();
    }
    case FieldPath::Root::kPayload: {
      const nlohmann::json* j = Payload();
      if (j == nullptr) return FieldValue();
      for (const PathStep& st : path.steps()) {
        if (st.index >= 0) {
          if (!j->is_array() || static_cast<size_t>(st.index) >= j->size()) return FieldValue();
          j = &(*j)[static_cast<size_t>(st.index)];
        } else {
          if (!j->is_object()) return FieldValue();
          auto it = j->find(st.key);
          if (it == j->end()) return FieldValue();
          j = &*it;
        }
      }
      if (j->is_string()) return FieldValue::Text(j->get_ref<const std::string&>());
      if (j->is_number()) return FieldValue::Number(j->get<double>());
      if (j->is_boolean()) return FieldValue::Text(j->get<bool>() ? "true" : "false");
      if (j->is_null()) return FieldValue();
      return FieldValue::Text("");  // an object or array: present, no scalar text
    }
  }
  return FieldValue();
}

void Event::Clear() {
  id.clear();
  time_ms = 0;
  source.clear();
  message.clear();
  labels.clear();
  values.clear();
  raw.clear();
  payload.clear();
  meta.clear();
  payload_cache_.reset();
  payload_parsed_ = false;
}

// ---- EventParser -----------------------------------------------------------------------

struct EventParser::Impl {
  simdjson::dom::parser parser;
  int parser_depth = 0;  // the EventLimits::max_depth `parser` was sized for; 0: none yet
  std::unique_ptr<char[]> buf;
  size_t cap = 0;
  std::vector<uint32_t> order;  // scratch of KeepLastOfEachKey
};

EventParser::EventParser(EventLimits limits) : impl_(std::make_unique<Impl>()), limits_(limits) {}
EventParser::~EventParser() = default;

namespace {

// Below this many entries duplicates are found by a scan (n^2 / 2 compares of short keys
// beat sorting); above it by sorting indices.
constexpr size_t kScanDedupeMax = 16;

// Removes repeated keys from `kv`, built in input order: a repeated key keeps its first
// place and takes its last value (what setting each pair in turn gives). O(n) when the keys
// are strictly increasing (already unique) or few, else O(n log n).
template <typename V>
void KeepLastOfEachKey(std::vector<std::pair<std::string, V>>* kv, std::vector<uint32_t>* order) {
  auto& v = *kv;
  const size_t n = v.size();
  if (n < 2) return;
  bool increasing = true;
  for (size_t i = 1; i < n && increasing; ++i) increasing = v[i - 1].first < v[i].first;
  if (increasing) return;
  if (n <= kScanDedupeMax) {
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      size_t j = 0;
      while (j < kept && v[j].first != v[i].first) ++j;
      if (j < kept) {
        v[j].second = std::move(v[i].second);
      } else {
        if (kept != i) v[kept] = std::move(v[i]);
        ++kept;
      }
    }
    v.resize(kept);
    return;
  }
  // Indices sorted by key, ties in input order: each run of one key is its occurrences.
  order->resize(n);
  for (size_t i = 0; i < n; ++i) (*order)[i] = static_cast<uint32_t>(i);
  std::sort(order->begin(), order->end(), [&v](uint32_t a, uint32_t b) {
    const int c = v[a].first.compare(v[b].first);
    return c != 0 ? c < 0 : a < b;
  });
  std::vector<char> drop;  // allocated at the first repeat only
  for (size_t r = 0; r < n;) {
    size_t e = r + 1;
    while (e < n && v[(*order)[e]].first == v[(*order)[r]].first) ++e;
    if (e - r > 1) {
      if (drop.empty()) drop.assign(n, 0);
      v[(*order)[r]].second = std::move(v[(*order)[e - 1]].second);
      for (size_t k = r + 1; k < e; ++k) drop[(*order)[k]] = 1;
    }
    r = e;
  }
  if (drop.empty()) return;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (drop[i]) continue;
    if (kept != i) v[kept] = std::move(v[i]);
    ++kept;
  }
  v.resize(kept);
}

Status FieldError(std::string_view key, const std::string& what) {
  return InvalidArgument(std::string(key) + ": " + what);
}

// Scalar JSON as label text. Fails for objects and arrays.
bool ScalarText(simdjson::dom::element e, std::string* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      out->assign(std::string_view(e.get_string().value_unsafe()));
      return true;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      *out = simdjson::minify(e);
      return true;
    case simdjson::dom::element_type::BOOL:
      out->assign(e.get_bool().value_unsafe() ? "true" : "false");
      return true;
    default:
      return false;
  }
}

}  // namespace

Status EventParser::Parse(std::string_view json, int64_t default_time_ms, Event* out) {
  out->Clear();
  if (json.size() > kMaxEventBytes) {
    return ResourceExhausted("event of " + std::to_string(json.size()) +
                             " bytes exceeds the limit of " + std::to_string(kMaxEventBytes));
  }
  // Trim surrounding whitespace (a CRLF line ending, say).
  while (!json.empty() && (json.back() == '\r' || json.back() == ' ' || json.back() == '\t')) {
    json.remove_suffix(1);
  }
  if (json.empty()) return InvalidArgument("empty event");
  const size_t need = json.size() + simdjson::SIMDJSON_PADDING;
  if (impl_->cap < need) {
    impl_->cap = std::max(need, size_t{4096});
    impl_->buf = std::make_unique<char[]>(impl_->cap);
  }
  std::memcpy(impl_->buf.get(), json.data(), json.size());
  std::memset(impl_->buf.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);

  // simdjson's max_depth counts one more than the containers it lets nest.
  const int depth = std::clamp(limits_.max_depth, 1, EventLimits::kDepthCeiling);
  if (impl_->parser_depth != depth) {
    if (auto err =
            impl_->parser.allocate(std::max(need, size_t{4096}), static_cast<size_t>(depth) + 1);
        err) {
      impl_->parser_depth = 0;
      return ResourceExhausted(std::string("event parser: ") + simdjson::error_message(err));
    }
    impl_->parser_depth = depth;
  }
  simdjson::dom::element root;
  if (auto err = impl_->parser.parse(impl_->buf.get(), json.size(), false).get(root); err) {
    if (err == simdjson::DEPTH_ERROR) {
      return InvalidArgument("event nested deeper than " + std::to_string(depth) + " levels");
    }
    return InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return InvalidArgument("event must be a JSON object");

  out->raw.assign(json);
  bool have_time = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    simdjson::dom::element v = field.value;
    if (key == "id") {
      if (!ScalarText(v, &out->id)) return FieldError(key, "expected a string or number");
    } else if (key == "timestamp" || key == "ts" || key == "time") {
      if (v.is_string()) {
        auto ms = base::ParseRfc3339Millis(std::string_view(v.get_string().value_unsafe()));
        if (!ms.ok()) return FieldError(key, ms.status().message());
        out->time_ms = *ms;
      } else if (v.is_number()) {
        // Beyond year 9999 no date is meant, and the millisecond value would not fit the
        // arithmetic that formats it.
        const double d = v.get_double().value_unsafe();
        if (!(std::fabs(d) < base::kMaxEpochMillis)) {
          return FieldError(key, "epoch number out of range");
        }
        out->time_ms = EpochNumberToMillis(d);
      } else if (v.is_null()) {
        continue;
      } else {
        return FieldError(key, "expected an RFC 3339 string or an epoch number");
      }
      have_time = true;
    } else if (key == "source") {
      if (!v.is_string()) return FieldError(key, "expected a string");
      out->source.assign(std::string_view(v.get_string().value_unsafe()));
    } else if (key == "message") {
      if (v.is_null()) continue;
      if (!v.is_string()) return FieldError(key, "expected a string");
      out->message.assign(std::string_view(v.get_string().value_unsafe()));
    } else if (key == "labels") {
      if (v.is_null()) continue;
      simdjson::dom::object lo;
      if (v.get_object().get(lo)) return FieldError(key, "expected an object of strings");
      // size() saturates at 0xFFFFFF, far above any cap an event of kMaxEventBytes reaches.
      if (const size_t n = out->labels.size() + lo.size(); n > limits_.max_labels) {
        return FieldError(key, "too many labels: " + std::to_string(n) + " (at most " +
                                   std::to_string(limits_.max_labels) + ")");
      }
      // Appended as they come, repeats resolved once at the end: a scan per label would make
      // building quadratic in their number.
      out->labels.reserve(out->labels.size() + lo.size());
      for (auto l : lo) {
        if (l.value.is_null()) continue;
        std::string& text = out->labels.emplace_back(std::string(l.key), std::string()).second;
        if (!ScalarText(l.value, &text)) {
          return FieldError("labels." + std::string(l.key),
                            "expected a string, number or boolean, not an object or array");
        }
      }
      KeepLastOfEachKey(&out->labels, &impl_->order);
    } else if (key == "values") {
      if (v.is_null()) continue;
      simdjson::dom::object vo;
      if (v.get_object().get(vo)) return FieldError(key, "expected an object of numbers");
      if (const size_t n = out->values.size() + vo.size(); n > limits_.max_values) {
        return FieldError(key, "too many values: " + std::to_string(n) + " (at most " +
                                   std::to_string(limits_.max_values) + ")");
      }
      out->values.reserve(out->values.size() + vo.size());
      for (auto n : vo) {
        double d = 0;
        if (n.value.is_number()) {
          d = n.value.get_double().value_unsafe();
        } else if (n.value.is_string()) {
          auto parsed = ParseNumber(std::string_view(n.value.get_string().value_unsafe()));
          if (!parsed) {
            return FieldError("values." + std::string(n.key),
                              "expected a number, got \"" +
                                  std::string(n.value.get_string().value_unsafe()) + "\"");
          }
          d = *parsed;
        } else if (n.value.is_null()) {
          continue;
        } else {
          return FieldError("values." + std::string(n.key), "expected a number");
        }
        out->values.emplace_back(std::string(n.key), d);
      }
      KeepLastOfEachKey(&out->values, &impl_->order);
    } else if (key == "payload") {
      out->payload = simdjson::minify(v);
    }
  }
  if (!have_time) out->time_ms = default_time_ms;
  if (out->id.empty()) out->id = "h-" + Hex16(base::Fnv1a64(json));
  return Status::Ok();
}

}  // namespace reflex::engine
