#include "reflex/connectors/mapping.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "line_protocol.h"
#include "reflex/base/config_schema.h"
#include "reflex/base/hash.h"
#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/event.h"

namespace reflex::connectors {

using engine::InvalidArgument;
using engine::Result;
using engine::Status;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// Deeper documents are refused before they are parsed into a DOM: serializing and freeing a
// DOM recurses, and a 10 MiB body of '[' must not exhaust the stack.
constexpr int kMaxDepth = 512;

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string_view StripBom(std::string_view s) {
  if (s.substr(0, kBom.size()) == kBom) s.remove_prefix(kBom.size());
  return s;
}

// Deepest nesting of [ and { outside strings. Bytes inside strings are skipped with their
// escapes; malformed text gives some number, and the parser reports the real error.
int NestingDepth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// "malformed JSON: parse error at line 1, column 9: ..." for text nlohmann refuses.
std::string ParseErrorOf(std::string_view text) {
  try {
    const json unused = json::parse(text);
    (void)unused;
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (size_t p = what.find("] ");
        what.rfind("[json.exception", 0) == 0 && p != std::string::npos) {
      what.erase(0, p + 2);
    }
    return "malformed JSON: " + what;
  }
  return "malformed JSON";
}

// Parses `text` into `out`; on failure returns the reason.
Status ParseJson(std::string_view text, json* out) {
  if (NestingDepth(text) > kMaxDepth) {
    return InvalidArgument("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  *out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return InvalidArgument(ParseErrorOf(text));
  return Status::Ok();
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string Dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string_view TypeName(const json& j) {
  return j.is_number() ? std::string_view("number") : std::string_view(j.type_name());
}

// "a number", "an object", ...
std::string WithArticle(const json& j) {
  std::string_view t = TypeName(j);
  const bool vowel = !t.empty() && (t[0] == 'a' || t[0] == 'o');
  return std::string(vowel ? "an " : "a ") + std::string(t);
}

// The text form of a scalar (string as is, number as JSON writes it, boolean as
// "true"/"false"); nullopt for objects and arrays.
std::optional<std::string> ScalarText(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return std::string(j.get<bool>() ? "true" : "false");
  if (j.is_number()) return Dump(j);
  return std::nullopt;
}

// Resolves an RFC 6901 pointer; nullptr when absent (or null).
const json* Resolve(const json& doc, const std::string& pointer) {
  try {
    const json::json_pointer p(pointer);
    if (!doc.contains(p)) return nullptr;
    const json& v = doc.at(p);
    return v.is_null() ? nullptr : &v;
  } catch (const json::exception&) {
    return nullptr;
  }
}

// Checks a pointer given in the config; empty string when fine.
std::string PointerError(const std::string& pointer) {
  if (pointer.empty() || pointer[0] != '/') return "expected a JSON pointer starting with '/'";
  try {
    json::json_pointer p(pointer);
  } catch (const json::exception&) {
    return "bad JSON pointer '" + pointer + "': '~' must be followed by '0' or '1'";
  }
  return {};
}

// Reports each bad JSON pointer and each empty or duplicate label/value name of a spec.
void CheckSpec(const MappingSpec& spec,
               const std::function<void(const std::string& key, const std::string& msg)>& bad) {
  auto check = [&](const std::string& key, const std::string& pointer) {
    if (pointer.empty()) return;
    if (std::string e = PointerError(pointer); !e.empty()) bad(key, e);
  };
  check("id", spec.id);
  check("timestamp", spec.timestamp);
  check("source", spec.source);
  check("message", spec.message);
  for (const char* group : {"labels", "values"}) {
    const auto& entries = std::string_view(group) == "labels" ? spec.labels : spec.values;
    std::set<std::string> seen;
    for (const auto& [name, pointer] : entries) {
      if (name.empty()) {
        bad(group, "empty name");
        continue;
      }
      if (!seen.insert(name).second) bad(std::string(group) + "." + name, "duplicate name");
      check(std::string(group) + "." + name, pointer);
    }
  }
  std::set<std::string> from_labels;
  for (const std::string& name : spec.values_from_labels) {
    if (name.empty()) bad("values_from_labels", "empty name");
    if (!from_labels.insert(name).second)
      bad("values_from_labels", "duplicate name '" + name + "'");
  }
  std::set<std::string> from_annotations;
  for (const std::string& name : spec.values_from_annotations) {
    if (name.empty()) bad("values_from_annotations", "empty name");
    if (!from_annotations.insert(name).second) {
      bad("values_from_annotations", "duplicate name '" + name + "'");
    }
  }
}

// The number a text holds: the whole text (spaces around it allowed) is a finite decimal
// or exponent number. nullopt for "", "97%", "high", "NaN", "inf".
std::optional<double> NumberInText(std::string_view text) {
  text = base::Trim(text);
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

// Mapped events are checked against the engine's own parser, so what the mapping accepts the
// pipeline decides (and a problem shows at ingest, not as a dead letter later).
Status ValidateEvent(std::string_view event, const engine::EventLimits& limits) {
  thread_local engine::EventParser parser;
  thread_local engine::Event ev;
  parser.set_limits(limits);
  Status s = parser.Parse(event, 0, &ev);
  ev.Clear();
  if (!s.ok() && s.code() != engine::StatusCode::kInvalidArgument) {
    return InvalidArgument(s.message());
  }
  return s;
}

const char* MappingKindName(MappingKind kind) { return kMappingKindNames.Name(kind).data(); }

// ---------------------------------------------------------------------------------------
// Configuration

Result<Mapping> Mapping::Of(MappingSpec spec, const std::string& where) {
  base::Diagnostics diags;
  if (spec.kind != MappingKind::kFields) {
    const bool has_fields = !spec.id.empty() || !spec.timestamp.empty() || !spec.source.empty() ||
                            !spec.source_name.empty() || !spec.message.empty() ||
                            !spec.labels.empty() || !spec.values.empty();
    if (has_fields) {
      diags.Error("", 0, 0, where,
                  std::string("field pointers are only valid with kind: fields (kind is ") +
                      MappingKindName(spec.kind) + ")");
    }
  }
  if (spec.kind != MappingKind::kAlertmanager &&
      (!spec.values_from_annotations.empty() || !spec.values_from_labels.empty())) {
    diags.Error("", 0, 0, where,
                std::string("values_from_annotations and values_from_labels are only valid with "
                            "kind: alertmanager (kind is ") +
                    MappingKindName(spec.kind) + ")");
  }
  if (spec.kind != MappingKind::kInflux && spec.precision != InfluxPrecision::kNanoseconds) {
    diags.Error(
        "", 0, 0, base::JoinKeyPath(where, "precision"),
        std::string("only valid with kind: influx (kind is ") + MappingKindName(spec.kind) + ")");
  }
  CheckSpec(spec, [&](const std::string& key, const std::string& message) {
    diags.Error("", 0, 0, base::JoinKeyPath(where, key), message);
  });
  if (diags.has_errors()) return diags.ToStatus();
  return Mapping(std::move(spec));
}

Mapping Mapping::OfKind(MappingKind kind) {
  MappingSpec spec;
  spec.kind = kind;
  return Mapping(std::move(spec));
}

namespace {

// A JSON pointer field: a string starting with '/', checked where it is written.
base::Schema<MappingSpec>::Field& PointerField(base::Schema<MappingSpec>& m, const char* key,
                                               std::string MappingSpec::*member, const char* doc) {
  return m.Custom(key, "JSON pointer", doc,
                  [member](const YAML::Node& n, const std::string& p, MappingSpec* out,
                           base::ConfigContext& ctx) {
                    auto v = base::ReadString(n, p, ctx);
                    if (!v) return;
                    if (std::string e = PointerError(*v); !e.empty()) return ctx.Error(n, p, e);
                    out->*member = std::move(*v);
                  });
}

// A `name: JSON pointer` mapping (labels, values); each pointer checked where it is written.
base::Schema<MappingSpec>::Field& PointerMapField(
    base::Schema<MappingSpec>& m, const char* key,
    std::vector<std::pair<std::string, std::string>> MappingSpec::*member, const char* doc) {
  return m.Custom(key, "map of name: JSON pointer", doc,
                  [member](const YAML::Node& n, const std::string& p, MappingSpec* out,
                           base::ConfigContext& ctx) {
                    if (!n.IsMap()) return ctx.Error(n, p, "expected a map of name: JSON pointer");
                    for (const auto& kv : n) {
                      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
                      const std::string at = p + "." + name;
                      const std::string v = kv.second.IsScalar() ? kv.second.Scalar() : "";
                      if (std::string e = PointerError(v); !e.empty()) {
                        ctx.Error(kv.second, at, e);
                        continue;
                      }
                      (out->*member).emplace_back(name, v);
                    }
                  });
}

}  // namespace

const base::Schema<MappingSpec>& MappingSchema() {
  static const base::Schema<MappingSpec> schema = [] {
    base::Schema<MappingSpec> m;
    auto fields = [](const MappingSpec& spec) { return spec.kind == MappingKind::kFields; };
    const std::string kFields = "kind: fields";
    m.Enum("kind", &MappingSpec::kind, kMappingKindNames,
           "event: the bytes are a Reflex event; alertmanager: an Alertmanager webhook payload, "
           "one event per alert; fields: your own JSON object, mapped by JSON pointers; influx: "
           "metric samples in Influx line protocol, one event per line; prometheus_json: one "
           "Prometheus sample as JSON (name, labels, value, timestamp)");
    PointerField(m, "id", &MappingSpec::id, "the event id (else a hash of the event)")
        .OnlyWhen(fields, kFields);
    PointerField(m, "timestamp", &MappingSpec::timestamp,
                 "an RFC 3339 text or epoch number (else the decision time)")
        .OnlyWhen(fields, kFields);
    PointerField(m, "source", &MappingSpec::source, "the event source").OnlyWhen(fields, kFields);
    m.NonEmptyString("source_name", &MappingSpec::source_name,
                     "constant source when `source` is unmapped or missing")
        .OnlyWhen(fields, kFields);
    PointerField(m, "message", &MappingSpec::message, "the message text").OnlyWhen(fields, kFields);
    PointerMapField(m, "labels", &MappingSpec::labels, "label name: JSON pointer")
        .OnlyWhen(fields, kFields);
    PointerMapField(m, "values", &MappingSpec::values, "value name: JSON pointer to a number")
        .OnlyWhen(fields, kFields);
    auto alertmanager = [](const MappingSpec& spec) {
      return spec.kind == MappingKind::kAlertmanager;
    };
    const std::string kAlertmanager = "kind: alertmanager";
    m.Strings("values_from_annotations", &MappingSpec::values_from_annotations,
              "annotation names whose text, when it is a number (\"97.5\"), becomes the event "
              "value of that name; other text is left out of values (never read as 0) and "
              "counted in reflex_mapping_values_skipped_total")
        .OnlyWhen(alertmanager, kAlertmanager);
    m.Strings("values_from_labels", &MappingSpec::values_from_labels,
              "label names whose text, when it is a number, also becomes the event value of "
              "that name (the label stays); other text stays a label only")
        .OnlyWhen(alertmanager, kAlertmanager);
    m.Enum("precision", &MappingSpec::precision, kInfluxPrecisionNames,
           "the unit of the line timestamps (Telegraf and InfluxDB write ns)")
        .OnlyWhen([](const MappingSpec& spec) { return spec.kind == MappingKind::kInflux; },
                  "kind: influx");
    return m;
  }();
  return schema;
}

std::optional<Mapping> Mapping::Read(const YAML::Node& node, const std::string& path,
                                     base::ConfigContext& ctx) {
  if (!node.IsDefined() || node.IsNull()) return Mapping();
  MappingSpec spec;
  const size_t errors = ctx.error_count();
  if (node.IsScalar()) {  // `mapping: alertmanager` shorthand
    if (auto k = kMappingKindNames.Parse(node.Scalar())) {
      spec.kind = *k;
    } else {
      ctx.Error(node, path,
                "unknown value '" + node.Scalar() +
                    "' (expected one of: " + kMappingKindNames.List() + ")");
    }
  } else {
    MappingSchema().Read(node, path, &spec, ctx);
  }
  // Pointers were checked as they were read; names are checked here, as for specs built in
  // code (Of).
  CheckSpec(spec, [&](const std::string& key, const std::string& message) {
    ctx.Error(node, base::JoinKeyPath(path, key), message);
  });
  if (ctx.error_count() > errors) return std::nullopt;
  return Mapping(std::move(spec));
}

Result<Mapping> Mapping::FromYaml(const YAML::Node& node, const std::string& where) {
  base::Diagnostics diags;
  base::ConfigContext ctx("", base::NoEnv(), &diags);
  auto m = Read(node, where, ctx);
  if (!m) return diags.ToStatus();
  return std::move(*m);
}

// ---------------------------------------------------------------------------------------
// Mapping

Status Mapping::Map(std::string_view bytes, std::vector<std::string>* events,
                    const engine::EventLimits& limits, std::vector<std::string>* notes) const {
  switch (spec_.kind) {
    case MappingKind::kEvent:
      events->emplace_back(bytes);
      return Status::Ok();
    case MappingKind::kAlertmanager:
      return MapAlertmanager(bytes, events, limits, notes);
    case MappingKind::kFields:
      return MapFields(bytes, events, limits);
    case MappingKind::kInflux:
      return MapInflux(bytes, events, limits);
    case MappingKind::kPrometheusJson:
      return MapPrometheusJson(bytes, events, limits, notes);
  }
  return engine::Internal("unknown mapping kind");
}

Status Mapping::MapFields(std::string_view bytes, std::vector<std::string>* events,
                          const engine::EventLimits& limits) const {
  const std::string_view raw = StripBom(bytes);
  json doc;
  if (Status s = ParseJson(raw, &doc); !s.ok()) return s;
  if (!doc.is_object()) return InvalidArgument("expected a JSON object, got " + WithArticle(doc));

  ojson ev = ojson::object();
  auto not_text = [](const std::string& field, const std::string& pointer, const json& v) {
    return InvalidArgument(field + ": " + pointer + " resolves to " + WithArticle(v) +
                           "; expected text or a number");
  };
  if (!spec_.id.empty()) {
    if (const json* v = Resolve(doc, spec_.id)) {
      if (v->is_number()) {
        ev["id"] = *v;
      } else if (auto t = ScalarText(*v)) {
        ev["id"] = *t;
      } else {
        return not_text("id", spec_.id, *v);
      }
    }
  }
  if (!spec_.timestamp.empty()) {
    if (const json* v = Resolve(doc, spec_.timestamp)) {
      if (v->is_string()) {
        const std::string text = v->get<std::string>();
        if (auto ms = base::ParseRfc3339Millis(text); !ms.ok()) {
          return InvalidArgument("timestamp: " + spec_.timestamp + ": " + ms.status().message());
        }
        ev["timestamp"] = text;
      } else if (v->is_number()) {
        ev["timestamp"] = *v;
      } else {
        return InvalidArgument("timestamp: " + spec_.timestamp + " resolves to " + WithArticle(*v) +
                               "; expected an RFC 3339 string or an epoch number");
      }
    }
  }
  {
    std::optional<std::string> source;
    if (!spec_.source.empty()) {
      if (const json* v = Resolve(doc, spec_.source)) {
        source = ScalarText(*v);
        if (!source) return not_text("source", spec_.source, *v);
      }
    }
    if (!source && !spec_.source_name.empty()) source = spec_.source_name;
    if (source) ev["source"] = *source;
  }
  if (!spec_.labels.empty()) {
    ojson labels = ojson::object();
    for (const auto& [name, pointer] : spec_.labels) {
      if (const json* v = Resolve(doc, pointer)) {
        auto t = ScalarText(*v);
        if (!t) return not_text("labels." + name, pointer, *v);
        labels[name] = *t;
      }
    }
    ev["labels"] = std::move(labels);
  }
  if (!spec_.values.empty()) {
    ojson values = ojson::object();
    for (const auto& [name, pointer] : spec_.values) {
      if (const json* v = Resolve(doc, pointer)) {
        if (!v->is_number() && !v->is_string()) {
          return InvalidArgument("values." + name + ": " + pointer + " resolves to " +
                                 WithArticle(*v) + "; expected a number");
        }
        values[name] = *v;  // a string must hold a number: CheckEvent says so when not
      }
    }
    ev["values"] = std::move(values);
  }
  if (!spec_.message.empty()) {
    if (const json* v = Resolve(doc, spec_.message)) {
      auto t = ScalarText(*v);
      if (!t) return not_text("message", spec_.message, *v);
      ev["message"] = *t;
    }
  }
  // The payload is the original object, byte for byte: splice it in after the mapped keys.
  std::string out = Dump(ev);
  out.pop_back();  // '}'
  if (out.size() > 1) out += ',';
  out += "\"payload\":";
  out.append(raw);
  out += '}';
  if (Status s = ValidateEvent(out, limits); !s.ok()) return InvalidArgument(s.message());
  events->push_back(std::move(out));
  return Status::Ok();
}

Status Mapping::MapAlertmanager(std::string_view bytes, std::vector<std::string>* events,
                                const engine::EventLimits& limits,
                                std::vector<std::string>* notes) const {
  json doc;
  if (Status s = ParseJson(StripBom(bytes), &doc); !s.ok()) return s;
  if (!doc.is_object()) {
    return InvalidArgument("expected an Alertmanager webhook payload (a JSON object), got " +
                           WithArticle(doc));
  }
  const auto version = doc.find("version");
  if (version == doc.end()) {
    return InvalidArgument("version: missing; expected \"4\" (Alertmanager webhook version 4)");
  }
  if (!version->is_string() || version->get<std::string>() != "4") {
    return InvalidArgument("version: expected \"4\" (Alertmanager webhook version 4), got " +
                           Dump(*version));
  }
  const auto alerts = doc.find("alerts");
  if (alerts == doc.end() || !alerts->is_array()) {
    return InvalidArgument("alerts: expected an array of alerts");
  }
  std::string group_status;
  if (auto st = doc.find("status"); st != doc.end() && st->is_string()) group_status = *st;

  std::vector<std::string> out, out_notes;
  out.reserve(alerts->size());
  for (size_t i = 0; i < alerts->size(); ++i) {
    const json& alert = (*alerts)[i];
    const std::string at = "alerts[" + std::to_string(i) + "]";
    if (!alert.is_object()) {
      return InvalidArgument(at + ": expected an object, got " + WithArticle(alert));
    }
    auto str_field = [&](const char* key, std::string* dst) -> Status {
      auto it = alert.find(key);
      if (it == alert.end() || it->is_null()) return Status::Ok();
      if (!it->is_string()) {
        return InvalidArgument(at + "." + key + ": expected a string, got " + WithArticle(*it));
      }
      *dst = it->get<std::string>();
      return Status::Ok();
    };
    std::string status = group_status.empty() ? "firing" : group_status;
    std::string fingerprint, starts_at, ends_at;
    if (Status s = str_field("status", &status); !s.ok()) return s;
    if (status != "firing" && status != "resolved") {
      return InvalidArgument(at + ".status: expected \"firing\" or \"resolved\", got \"" + status +
                             "\"");
    }
    if (Status s = str_field("fingerprint", &fingerprint); !s.ok()) return s;
    if (Status s = str_field("startsAt", &starts_at); !s.ok()) return s;
    if (Status s = str_field("endsAt", &ends_at); !s.ok()) return s;

    // The labels as JSON text: the alert's own (unique and sorted, as `json` keeps them),
    // then `status` unless the alert has one. Written out rather than built in an ojson,
    // whose every insert scans the keys before it.
    std::string labels = "{";
    bool has_status = false;
    if (auto it = alert.find("labels"); it != alert.end() && !it->is_null()) {
      if (!it->is_object()) {
        return InvalidArgument(at + ".labels: expected an object, got " + WithArticle(*it));
      }
      if (it->size() > limits.max_labels) {
        return InvalidArgument(at + ".labels: too many labels: " + std::to_string(it->size()) +
                               " (at most " + std::to_string(limits.max_labels) + ")");
      }
      for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) {
          return InvalidArgument(at + ".labels." + k + ": expected a string, got " +
                                 WithArticle(v));
        }
        if (labels.size() > 1) labels += ',';
        labels += Dump(json(k));
        labels += ':';
        labels += Dump(v);
        has_status = has_status || k == "status";
      }
    }
    if (!has_status) {
      if (labels.size() > 1) labels += ',';
      labels += "\"status\":" + Dump(json(status));
    }
    labels += '}';

    // Times: startsAt for a firing alert, endsAt for a resolved one (Go's zero time,
    // 0001-01-01T00:00:00Z, means "not set" and falls back to startsAt).
    auto is_set = [](const std::string& t) { return !t.empty() && t.rfind("0001-01-01", 0) != 0; };
    for (const auto& [key, text] :
         {std::pair<const char*, const std::string*>{"startsAt", &starts_at},
          {"endsAt", &ends_at}}) {
      if (!is_set(*text)) continue;
      if (auto ms = base::ParseRfc3339Millis(*text); !ms.ok()) {
        return InvalidArgument(at + "." + key + ": " + ms.status().message());
      }
    }
    std::string timestamp = starts_at;
    if (status == "resolved" && is_set(ends_at)) timestamp = ends_at;

    if (fingerprint.empty()) {
      // Alertmanager before 0.19 sends no fingerprint: hash the label set (keys sorted).
      char buf[24];
      std::snprintf(buf, sizeof(buf), "h%016llx",
                    static_cast<unsigned long long>(
                        base::Fnv1a64(Dump(alert.value("labels", json::object())))));
      fingerprint = buf;
    }
    std::string id = fingerprint;
    if (!starts_at.empty()) id += "-" + starts_at;
    if (status == "resolved") id += "-resolved";

    // values_from_annotations / values_from_labels: numbers written as text become values.
    // Text that is not a number is left where it was and noted, never read as 0.
    ojson values = ojson::object();
    auto take_values = [&](const char* group, const std::vector<std::string>& names) {
      if (names.empty()) return;
      auto it = alert.find(group);
      if (it == alert.end() || !it->is_object()) return;
      for (const std::string& name : names) {
        auto v = it->find(name);
        if (v == it->end() || values.contains(name)) continue;
        std::optional<double> number;
        if (v->is_number()) {
          number = v->get<double>();
        } else if (v->is_string()) {
          number = NumberInText(v->get_ref<const std::string&>());
        }
        if (number) {
          values[name] = *number;
        } else {
          out_notes.push_back(at + "." + group + "." + name + ": " + Dump(*v) +
                              " is not a number; left out of values");
        }
      }
    };
    take_values("annotations", spec_.values_from_annotations);
    take_values("labels", spec_.values_from_labels);

    std::optional<std::string> message;
    if (auto ann = alert.find("annotations"); ann != alert.end() && ann->is_object()) {
      for (const char* key : {"summary", "description", "message"}) {
        auto it = ann->find(key);
        if (it != ann->end() && it->is_string() && !it->get<std::string>().empty()) {
          message = it->get<std::string>();
          break;
        }
      }
    }

    json payload = alert;
    for (const char* key : {"receiver", "groupKey", "externalURL"}) {
      if (auto it = doc.find(key); it != doc.end() && !payload.contains(key)) payload[key] = *it;
    }

    ojson ev = ojson::object();
    ev["id"] = id;
    if (is_set(timestamp)) ev["timestamp"] = timestamp;
    ev["source"] = "alertmanager";
    std::string text = Dump(ev);
    text.pop_back();
    text += ",\"labels\":";
    text += labels;
    if (!values.empty()) text += ",\"values\":" + Dump(values);
    if (message) text += ",\"message\":" + Dump(json(*message));
    text += ",\"payload\":";
    text += Dump(payload);
    text += '}';
    if (Status s = ValidateEvent(text, limits); !s.ok()) {
      return InvalidArgument(at + ": " + s.message());
    }
    out.push_back(std::move(text));
  }
  for (auto& e : out) events->push_back(std::move(e));
  if (notes != nullptr) {
    for (auto& n : out_notes) notes->push_back(std::move(n));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Metric samples: Influx line protocol and Prometheus JSON samples

namespace {

// The earliest and latest event times RFC 3339 text can show (0001-01-01, 9999-12-31).
constexpr int64_t kMinSampleMillis = -62135596800000;
constexpr int64_t kMaxSampleMillis = 253402300799999;

// Shortest text that reads back as `v`; large numbers in exponent form, so an integral double
// such as 2^64 is never written as an integer too large for a JSON reader's int64/uint64.
void AppendDouble(double v, std::string* out) {
  char buf[32];
  const auto r = std::fabs(v) >= 1e15
                     ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific)
                     : std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// A line timestamp in `precision` as ms since the epoch (rounded down); nullopt when it is
// outside the years 0001..9999.
std::optional<int64_t> InfluxMillis(int64_t ts, InfluxPrecision precision) {
  int64_t div = 1;
  switch (precision) {
    case InfluxPrecision::kNanoseconds:
      div = 1000000;
      break;
    case InfluxPrecision::kMicroseconds:
      div = 1000;
      break;
    case InfluxPrecision::kMilliseconds:
      break;
    case InfluxPrecision::kSeconds:
      if (ts > kMaxSampleMillis / 1000 || ts < kMinSampleMillis / 1000) return std::nullopt;
      return ts * 1000;
  }
  int64_t ms = ts / div;
  if (ts % div < 0) --ms;
  if (ms > kMaxSampleMillis || ms < kMinSampleMillis) return std::nullopt;
  return ms;
}

// The reserved label that names the metric (as Prometheus names it).
constexpr std::string_view kNameLabel = "__name__";

// The number a Prometheus sample value holds: a number, or text Go's ParseFloat wrote
// ("1.5", "1e3", "NaN", "+Inf", "-Inf"). nullopt when it is neither.
std::optional<double> SampleNumber(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  std::string_view t = v.get_ref<const std::string&>();
  if (t.empty()) return std::nullopt;
  bool negative = false;
  if (t.front() == '+' || t.front() == '-') {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || t.front() == '+' || t.front() == '-') return std::nullopt;
  double d = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (ptr != t.data() + t.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    d = std::numeric_limits<double>::infinity();  // "1e999": Go reads it as +Inf too
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return negative ? -d : d;
}

}  // namespace

Status Mapping::MapInflux(std::string_view bytes, std::vector<std::string>* events,
                          const engine::EventLimits& limits) const {
  const std::string_view text = StripBom(bytes);
  if (size_t bad = base::FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return InvalidArgument("not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  influx::LineCaps caps;
  caps.max_tags = limits.max_labels > 0 ? limits.max_labels - 1 : 0;  // __name__ is one
  caps.max_fields = limits.max_values;
  std::vector<influx::Line> lines;
  if (Status s = influx::ParseLineProtocol(text, caps, &lines); !s.ok()) return s;
  std::vector<std::string> out;
  out.reserve(lines.size());
  std::string ev;
  for (const influx::Line& line : lines) {
    const std::string at = "line " + std::to_string(line.line_no);
    ev.clear();
    ev += '{';
    if (line.timestamp) {
      const auto ms = InfluxMillis(*line.timestamp, spec_.precision);
      if (!ms) {
        return InvalidArgument(at + ": timestamp " + std::to_string(*line.timestamp) + " (" +
                               std::string(kInfluxPrecisionNames.Name(spec_.precision)) +
                               ") is outside the years 0001..9999");
      }
      ev += "\"timestamp\":\"";
      base::AppendRfc3339Millis(*ms, &ev);
      ev += "\",";
    }
    ev += "\"source\":\"influx\",\"labels\":{\"__name__\":";
    base::AppendJsonString(line.measurement, &ev);
    for (const auto& [k, v] : line.tags) {
      if (k == kNameLabel) {
        return InvalidArgument(at + ": tag \"__name__\" is reserved (the measurement is label " +
                               "__name__)");
      }
      ev += ',';
      base::AppendJsonString(k, &ev);
      ev += ':';
      base::AppendJsonString(v, &ev);
    }
    ev += "},\"values\":{";
    bool first = true;
    for (const influx::Field& f : line.fields) {
      const auto n = f.Number();
      if (!n) continue;
      if (!first) ev += ',';
      first = false;
      base::AppendJsonString(f.key, &ev);
      ev += ':';
      AppendDouble(*n, &ev);
    }
    ev += "},\"payload\":{\"measurement\":";
    base::AppendJsonString(line.measurement, &ev);
    ev += ",\"tags\":{";
    first = true;
    for (const auto& [k, v] : line.tags) {
      if (!first) ev += ',';
      first = false;
      base::AppendJsonString(k, &ev);
      ev += ':';
      base::AppendJsonString(v, &ev);
    }
    ev += "},\"fields\":{";
    first = true;
    for (const influx::Field& f : line.fields) {
      if (!first) ev += ',';
      first = false;
      base::AppendJsonString(f.key, &ev);
      ev += ':';
      switch (f.type) {
        case influx::FieldType::kFloat:
          AppendDouble(f.f, &ev);
          break;
        case influx::FieldType::kInt:
          AppendInt(f.i, &ev);
          break;
        case influx::FieldType::kUint:
          AppendInt(f.u, &ev);
          break;
        case influx::FieldType::kBool:
          ev += f.b ? "true" : "false";
          break;
        case influx::FieldType::kString:
          base::AppendJsonString(f.s, &ev);
          break;
      }
    }
    ev += '}';
    if (line.timestamp) {
      ev += ",\"time\":";
      AppendInt(*line.timestamp, &ev);
    }
    ev += "}}";
    if (Status s = ValidateEvent(ev, limits); !s.ok()) {
      return InvalidArgument(at + ": " + s.message());
    }
    out.push_back(ev);
  }
  for (auto& e : out) events->push_back(std::move(e));
  return Status::Ok();
}

Status Mapping::MapPrometheusJson(std::string_view bytes, std::vector<std::string>* events,
                                  const engine::EventLimits& limits,
                                  std::vector<std::string>* notes) const {
  const std::string_view raw = base::Trim(StripBom(bytes));
  json doc;
  if (Status s = ParseJson(raw, &doc); !s.ok()) return s;
  if (!doc.is_object()) {
    return InvalidArgument("expected a Prometheus sample (a JSON object), got " + WithArticle(doc));
  }
  std::string name;
  if (auto it = doc.find("name"); it != doc.end() && !it->is_null()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
      return InvalidArgument("name: expected the metric name (a non-empty string), got " +
                             Dump(*it));
    }
    name = it->get<std::string>();
  }
  const json* labels = nullptr;
  if (auto it = doc.find("labels"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      return InvalidArgument("labels: expected an object, got " + WithArticle(*it));
    }
    labels = &*it;
    const bool has_name = it->contains(kNameLabel);
    if (it->size() + (has_name ? 0 : 1) > limits.max_labels) {
      return InvalidArgument(
          "labels: too many labels: " + std::to_string(it->size() + (has_name ? 0 : 1)) +
          " (at most " + std::to_string(limits.max_labels) + ")");
    }
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return InvalidArgument("labels." + k + ": expected a string, got " + WithArticle(v));
      }
    }
    if (has_name) {
      const std::string& label_name = (*it)[std::string(kNameLabel)].get_ref<const std::string&>();
      if (name.empty()) {
        name = label_name;
      } else if (label_name != name) {
        return InvalidArgument("labels.__name__: \"" + label_name + "\" differs from name \"" +
                               name + "\"");
      }
    }
  }
  if (name.empty()) return InvalidArgument("name: missing (and no labels.__name__)");
  const auto value = doc.find("value");
  if (value == doc.end() || value->is_null()) return InvalidArgument("value: missing");
  const std::optional<double> number = SampleNumber(*value);
  if (!number) {
    return InvalidArgument(
        "value: expected a number or its text (\"1.5\", \"NaN\", \"+Inf\"), got " + Dump(*value));
  }
  std::string timestamp;
  if (auto it = doc.find("timestamp"); it != doc.end() && !it->is_null()) {
    if (it->is_string()) {
      if (auto ms = base::ParseRfc3339Millis(it->get_ref<const std::string&>()); !ms.ok()) {
        return InvalidArgument("timestamp: " + ms.status().message());
      }
      timestamp = Dump(*it);
    } else if (it->is_number()) {
      timestamp = Dump(*it);
    } else {
      return InvalidArgument("timestamp: expected an RFC 3339 string or an epoch number, got " +
                             WithArticle(*it));
    }
  }

  std::string ev = "{";
  if (!timestamp.empty()) ev += "\"timestamp\":" + timestamp + ",";
  ev += "\"source\":\"prometheus\",\"labels\":{\"__name__\":";
  base::AppendJsonString(name, &ev);
  if (labels != nullptr) {
    for (const auto& [k, v] : labels->items()) {
      if (k == kNameLabel) continue;
      ev += ',';
      base::AppendJsonString(k, &ev);
      ev += ':';
      base::AppendJsonString(v.get_ref<const std::string&>(), &ev);
    }
  }
  ev += '}';
  if (std::isfinite(*number)) {
    ev += ",\"values\":{\"value\":";
    AppendDouble(*number, &ev);
    ev += '}';
  } else if (notes != nullptr) {
    notes->push_back("value: " + Dump(*value) + " is not a finite number; left out of values");
  }
  ev += ",\"payload\":";
  ev.append(raw);
  ev += '}';
  if (Status s = ValidateEvent(ev, limits); !s.ok()) return InvalidArgument(s.message());
  events->push_back(std::move(ev));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Splitting a webhook body

namespace {

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

using base::Trim;

// A whole JSON object? Uses the SAX validator (no DOM, no recursion); empty when it is.
std::string ObjectError(std::string_view text) {
  if (NestingDepth(text) > kMaxDepth) {
    return "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels";
  }
  if (!json::accept(text)) return ParseErrorOf(text);
  const std::string_view t = Trim(StripBom(text));
  if (t.empty() || t[0] != '{') {
    json j = json::parse(text, nullptr, false);
    return "expected a JSON object, got " + WithArticle(j);
  }
  return {};
}

}  // namespace

Status SplitDocuments(std::string_view body, std::vector<std::string>* docs,
                      std::vector<std::string>* where) {
  const std::string_view trimmed = Trim(StripBom(body));
  if (trimmed.empty()) {
    return InvalidArgument("empty body: expected a JSON object, an array of objects or JSON Lines");
  }
  if (trimmed[0] == '[') {
    json arr;
    if (Status s = ParseJson(trimmed, &arr); !s.ok()) return s;
    std::vector<std::string> out;
    out.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) {
        return InvalidArgument("index " + std::to_string(i) + ": expected a JSON object, got " +
                               WithArticle(arr[i]));
      }
      out.push_back(Dump(arr[i]));
    }
    for (size_t i = 0; i < out.size(); ++i) {
      docs->push_back(std::move(out[i]));
      if (where) where->push_back("index " + std::to_string(i));
    }
    return Status::Ok();
  }
  const std::string whole_error = ObjectError(trimmed);
  if (whole_error.empty()) {
    docs->emplace_back(trimmed);
    if (where) where->emplace_back();
    return Status::Ok();
  }
  if (trimmed.find('\n') == std::string_view::npos) return InvalidArgument(whole_error);
  // JSON Lines.
  std::vector<std::string> out, out_where;
  size_t line_no = 0;
  for (size_t start = 0; start <= body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(start, end - start);
    ++line_no;
    start = end + 1;
    if (line_no == 1) line = StripBom(line);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    if (std::string e = ObjectError(line); !e.empty()) {
      return InvalidArgument("line " + std::to_string(line_no) + ": " + e);
    }
    out.emplace_back(line);
    out_where.push_back("line " + std::to_string(line_no));
  }
  for (auto& d : out) docs->push_back(std::move(d));
  if (where) {
    for (auto& w : out_where) where->push_back(std::move(w));
  }
  return Status::Ok();
}

Status SplitPayload(const Mapping& mapping, std::string_view body, std::vector<std::string>* docs,
                    std::vector<std::string>* where) {
  if (!mapping.reads_text()) return SplitDocuments(body, docs, where);
  docs->emplace_back(body);
  if (where) where->emplace_back();
  return Status::Ok();
}

Status MapDocuments(const Mapping& mapping, std::string_view body, std::vector<MappedEvent>* events,
                    const engine::EventLimits& limits, std::vector<std::string>* notes) {
  std::vector<std::string> docs, where, doc_notes;
  if (Status s = SplitPayload(mapping, body, &docs, &where); !s.ok()) return s;
  std::vector<MappedEvent> out;
  for (size_t i = 0; i < docs.size(); ++i) {
    std::vector<std::string> mapped, these_notes;
    Status s = mapping.Map(docs[i], &mapped, limits, &these_notes);
    for (auto& n : these_notes) doc_notes.push_back(where[i].empty() ? n : where[i] + ": " + n);
    if (s.ok() && mapping.passthrough()) s = ValidateEvent(mapped.back(), limits);
    if (!s.ok()) {
      return InvalidArgument(where[i].empty() ? s.message() : where[i] + ": " + s.message());
    }
    // Kind influx: each event is one line of the payload (parsed again to learn which; the
    // mapping accepted it, so it parses).
    std::vector<influx::Line> lines;
    if (mapping.spec().kind == MappingKind::kInflux) {
      influx::LineCaps caps{limits.max_labels, limits.max_values};
      (void)influx::ParseLineProtocol(StripBom(docs[i]), caps, &lines);
    }
    for (size_t k = 0; k < mapped.size(); ++k) {
      std::string at = where[i];
      if (mapping.spec().kind == MappingKind::kAlertmanager) {
        at += (at.empty() ? "" : ", ") + std::string("alerts[") + std::to_string(k) + "]";
      } else if (k < lines.size()) {
        at += (at.empty() ? "" : ", ") + std::string("line ") + std::to_string(lines[k].line_no);
      }
      out.push_back({std::move(mapped[k]), std::move(at)});
    }
  }
  for (auto& e : out) events->push_back(std::move(e));
  if (notes != nullptr) {
    for (auto& n : doc_notes) notes->push_back(std::move(n));
  }
  return Status::Ok();
}

}  // namespace reflex::connectors
