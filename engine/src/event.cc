#include "reflex/engine/event.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

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

// Days since 1970-01-01 for a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
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
  std::unique_ptr<char[]> buf;
  size_t cap = 0;
};

EventParser::EventParser() : impl_(std::make_unique<Impl>()) {}
EventParser::~EventParser() = default;

namespace {

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

  simdjson::dom::element root;
  if (auto err = impl_->parser.parse(impl_->buf.get(), json.size(), false).get(root); err) {
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
        auto ms = ParseRfc3339Millis(std::string_view(v.get_string().value_unsafe()));
        if (!ms.ok()) return FieldError(key, ms.status().message());
        out->time_ms = *ms;
      } else if (v.is_number()) {
        // Beyond year 9999 no date is meant, and the millisecond value would not fit the
        // arithmetic that formats it.
        const double d = v.get_double().value_unsafe();
        if (!(std::fabs(d) < kMaxEpochMillis)) {
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
      std::string text;
      for (auto l : lo) {
        if (l.value.is_null()) continue;
        if (!ScalarText(l.value, &text)) {
          return FieldError("labels." + std::string(l.key),
                            "expected a string, number or boolean, not an object or array");
        }
        out->SetLabel(l.key, text);
      }
    } else if (key == "values") {
      if (v.is_null()) continue;
      simdjson::dom::object vo;
      if (v.get_object().get(vo)) return FieldError(key, "expected an object of numbers");
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
        out->SetValue(n.key, d);
      }
    } else if (key == "payload") {
      out->payload = simdjson::minify(v);
    }
  }
  if (!have_time) out->time_ms = default_time_ms;
  if (out->id.empty()) out->id = "h-" + Hex16(Fnv1a64(json));
  return Status::Ok();
}

// ---- time ------------------------------------------------------------------------------

Result<int64_t> ParseRfc3339Millis(std::string_view s) {
  auto bad = [&](const char* why) {
    return InvalidArgument("bad RFC 3339 timestamp '" + std::string(s.substr(0, 64)) + "': " + why);
  };
  auto num = [&](size_t pos, size_t len, int* out) {
    if (pos + len > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || s.size() < 19 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' ||
      !num(8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, &h) ||
      s[13] != ':' || !num(14, 2, &mi) || s[16] != ':' || !num(17, 2, &se)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return bad("field out of range");
  }
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (i == start) return bad("empty fraction");
    for (; digits < 3; ++digits) frac_ms *= 10;
  }
  int offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!num(i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, &om)) {
      return bad("bad UTC offset");
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad("missing 'Z' or UTC offset");
  }
  if (i != s.size()) return bad("trailing characters");
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000 + frac_ms;
}

void AppendRfc3339Millis(int64_t ms, std::string* out) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t frac = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // civil_from_days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  // Hand-formatted: this runs twice per decision, and snprintf dominated the profile.
  char buf[32];
  auto put = [&](int pos, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[pos + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, sod / 3600, 2);
  buf[13] = ':';
  put(14, (sod / 60) % 60, 2);
  buf[16] = ':';
  put(17, sod % 60, 2);
  buf[19] = '.';
  put(20, frac, 3);
  buf[23] = 'Z';
  out->append(buf, 24);
}

std::string FormatRfc3339Millis(int64_t ms) {
  std::string s;
  AppendRfc3339Millis(ms, &s);
  return s;
}

// ---- helpers ---------------------------------------------------------------------------

uint64_t Fnv1a64(std::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid.
size_t Utf8SeqLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xF0 && c1 < 0x90) return 0;
    if (c == 0xF4 && c1 > 0x8F) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

size_t FirstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SeqLen(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

void AppendJsonString(std::string_view s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  size_t run_start = 0;
  auto flush = [&](size_t end) { out->append(s.data() + run_start, end - run_start); };
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t n = Utf8SeqLen(s, i);
      if (n > 0) {
        i += n;
        continue;
      }
      flush(i);
      out->append("\\ufffd");
      ++i;
      run_start = i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
    ++i;
    run_start = i;
  }
  flush(s.size());
  out->push_back('"');
}

}  // namespace reflex::engine
