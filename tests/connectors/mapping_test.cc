// Payload mapping: kind event / alertmanager / fields, body splitting, config errors.
#include "reflex/connectors/mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reflex/base/time.h"
#include "reflex/engine/event.h"
#include "reflex/engine/explain.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::connectors {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// A realistic Alertmanager v4 webhook: two firing alerts and one resolved.
constexpr const char* kAlertmanagerPayload = R"({
  "version": "4",
  "groupKey": "{}/{severity=\"critical\"}:{alertname=\"NodeFilesystemFull\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "reflex",
  "groupLabels": {"alertname": "NodeFilesystemFull"},
  "commonLabels": {"alertname": "NodeFilesystemFull", "severity": "critical"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager.example.com:9093",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "NodeFilesystemFull", "severity": "critical", "instance": "db-01:9100"},
      "annotations": {"summary": "Filesystem on /var is 96% full", "description": "long text"},
      "startsAt": "2026-11-24T03:12:00.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.com/graph?g0.expr=x",
      "fingerprint": "a1b2c3d4e5f60708"
    },
    {
      "status": "firing",
      "labels": {"alertname": "NodeFilesystemFull", "severity": "critical", "instance": "db-02:9100", "status": "custom"},
      "annotations": {"description": "Only a description"},
      "startsAt": "2026-11-24T03:13:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "",
      "fingerprint": "b1b2c3d4e5f60708"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "NodeFilesystemFull", "severity": "critical", "instance": "db-03:9100"},
      "annotations": {"message": "From message"},
      "startsAt": "2026-11-24T02:00:00Z",
      "endsAt": "2026-11-24T03:00:00Z",
      "generatorURL": "",
      "fingerprint": "c1b2c3d4e5f60708"
    }
  ]
})";

Mapping Parse(const std::string& yaml) {
  auto m = Mapping::FromYaml(YAML::Load(yaml), "sources[1].mapping");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? *m : Mapping();
}

std::string ErrorOf(const std::string& yaml) {
  auto m = Mapping::FromYaml(YAML::Load(yaml), "sources[1].mapping");
  EXPECT_FALSE(m.ok()) << yaml;
  return m.ok() ? std::string() : m.status().message();
}

std::string MapError(const Mapping& m, std::string_view bytes) {
  std::vector<std::string> events = {"sentinel"};
  engine::Status s = m.Map(bytes, &events);
  EXPECT_FALSE(s.ok()) << bytes;
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(events, std::vector<std::string>{"sentinel"}) << "a failed Map appended events";
  return s.message();
}

// Parses a mapped event with the engine's own parser (what the pipeline will do).
engine::Event ParseEvent(const std::string& text) {
  engine::EventParser parser;
  engine::Event ev;
  engine::Status s = parser.Parse(text, 42, &ev);
  EXPECT_TRUE(s.ok()) << s.message() << " in " << text;
  return ev;
}

TEST(MappingConfig, DefaultAndNullNodeArePassThrough) {
  EXPECT_TRUE(Mapping().passthrough());
  auto m = Mapping::FromYaml(YAML::Node(), "m");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->passthrough());
  EXPECT_TRUE(Parse("kind: event").passthrough());
  EXPECT_EQ(Parse("alertmanager").spec().kind, MappingKind::kAlertmanager);  // shorthand
}

TEST(MappingConfig, FieldsSpecIsRead) {
  Mapping m = Parse(R"(
kind: fields
id: /event/id
timestamp: /when
source_name: zabbix
message: /text
labels: {host: /host/name, "app.kubernetes.io/name": /app}
values: {load: /metrics/load}
)");
  const MappingSpec& s = m.spec();
  EXPECT_FALSE(m.passthrough());
  EXPECT_EQ(s.kind, MappingKind::kFields);
  EXPECT_EQ(s.id, "/event/id");
  EXPECT_EQ(s.timestamp, "/when");
  EXPECT_EQ(s.source_name, "zabbix");
  EXPECT_EQ(s.message, "/text");
  ASSERT_EQ(s.labels.size(), 2u);
  EXPECT_EQ(s.labels[0], (std::pair<std::string, std::string>("host", "/host/name")));
  ASSERT_EQ(s.values.size(), 1u);
  EXPECT_EQ(s.values[0].second, "/metrics/load");
}

TEST(MappingConfig, ErrorsNameTheKeyPath) {
  EXPECT_EQ(ErrorOf("kind: fields\nlabels: {host: host/name}"),
            "sources[1].mapping.labels.host: expected a JSON pointer starting with '/'");
  EXPECT_EQ(ErrorOf("kind: fields\nid: ''"),
            "sources[1].mapping.id: expected a JSON pointer starting with '/'");
  EXPECT_EQ(ErrorOf("kind: fields\nmessage: /a~2b"),
            "sources[1].mapping.message: bad JSON pointer '/a~2b': '~' must be followed by '0' "
            "or '1'");
  EXPECT_EQ(ErrorOf("kind: kafka"),
            "sources[1].mapping.kind: unknown value 'kafka' (expected one of: event, alertmanager, "
            "fields, influx, prometheus_json)");
  EXPECT_EQ(ErrorOf("kind: fields\nlables: {a: /a}"),
            "sources[1].mapping.lables: unknown key (valid keys: kind, id, timestamp, source, "
            "source_name, message, labels, values, values_from_annotations, values_from_labels, "
            "precision)");
  EXPECT_EQ(ErrorOf("kind: alertmanager\nlabels: {a: /a}"),
            "sources[1].mapping.labels: only valid with kind: fields");
  EXPECT_EQ(ErrorOf("kind: event\nextra: 1"),
            "sources[1].mapping.extra: unknown key (valid keys: kind, id, timestamp, source, "
            "source_name, message, labels, values, values_from_annotations, values_from_labels, "
            "precision)");
  EXPECT_EQ(ErrorOf("kind: fields\nlabels: [/a]"),
            "sources[1].mapping.labels: expected a map of name: JSON pointer");
  EXPECT_EQ(ErrorOf("kind: fields\nsource_name: {a: 1}"),
            "sources[1].mapping.source_name: expected a string");
  EXPECT_EQ(ErrorOf("[1, 2]"), "sources[1].mapping: expected a mapping");
}

TEST(MappingConfig, EveryErrorIsReportedAtOnce) {
  const std::string e = ErrorOf("kind: fields\nid: x\nbogus: 1\nvalues: {v: /a~9}");
  EXPECT_THAT(e, HasSubstr("sources[1].mapping.id: expected a JSON pointer starting with '/'"));
  EXPECT_THAT(e, HasSubstr("sources[1].mapping.bogus: unknown key"));
  EXPECT_THAT(e, HasSubstr("sources[1].mapping.values.v: bad JSON pointer '/a~9'"));
}

TEST(MappingConfig, OfChecksSpecsBuiltInCode) {
  MappingSpec spec;
  spec.kind = MappingKind::kEvent;
  spec.labels.emplace_back("host", "/h");
  auto m = Mapping::Of(spec, "m");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "m: field pointers are only valid with kind: fields (kind is event)");
  spec.kind = MappingKind::kFields;
  spec.labels.emplace_back("host", "/g");
  m = Mapping::Of(spec, "m");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "m.labels.host: duplicate name");
}

TEST(MappingEvent, PassesBytesThroughUntouched) {
  const Mapping m;
  std::vector<std::string> events;
  const std::string raw = "{\"id\": 1,   \"labels\":{}}  ";
  ASSERT_TRUE(m.Map(raw, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], raw);
  // Not even looked at: malformed bytes are the pipeline's to dead-letter.
  ASSERT_TRUE(m.Map("not json", &events).ok());
  EXPECT_EQ(events[1], "not json");
}

TEST(MappingAlertmanager, OneEventPerAlert) {
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  EXPECT_FALSE(m.passthrough());
  std::vector<std::string> events;
  ASSERT_TRUE(m.Map(kAlertmanagerPayload, &events).ok());
  ASSERT_EQ(events.size(), 3u);

  const json e0 = json::parse(events[0]);
  EXPECT_EQ(e0["id"], "a1b2c3d4e5f60708-2026-11-24T03:12:00.123456789Z");
  EXPECT_EQ(e0["timestamp"], "2026-11-24T03:12:00.123456789Z");
  EXPECT_EQ(e0["source"], "alertmanager");
  EXPECT_EQ(e0["labels"]["alertname"], "NodeFilesystemFull");
  EXPECT_EQ(e0["labels"]["instance"], "db-01:9100");
  EXPECT_EQ(e0["labels"]["status"], "firing");
  EXPECT_EQ(e0["message"], "Filesystem on /var is 96% full");  // summary wins
  EXPECT_EQ(e0["payload"]["receiver"], "reflex");
  EXPECT_EQ(e0["payload"]["externalURL"], "http://alertmanager.example.com:9093");
  EXPECT_EQ(e0["payload"]["groupKey"],
            "{}/{severity=\"critical\"}:{alertname=\"NodeFilesystemFull\"}");
  EXPECT_EQ(e0["payload"]["generatorURL"], "http://prometheus.example.com/graph?g0.expr=x");
  EXPECT_EQ(e0["payload"]["annotations"]["description"], "long text");

  const json e1 = json::parse(events[1]);
  EXPECT_EQ(e1["labels"]["status"], "custom");  // an alert's own label is kept
  EXPECT_EQ(e1["message"], "Only a description");

  const json e2 = json::parse(events[2]);
  EXPECT_EQ(e2["id"], "c1b2c3d4e5f60708-2026-11-24T02:00:00Z-resolved");
  EXPECT_EQ(e2["timestamp"], "2026-11-24T03:00:00Z");  // endsAt for a resolved alert
  EXPECT_EQ(e2["labels"]["status"], "resolved");
  EXPECT_EQ(e2["message"], "From message");

  // The engine reads them as intended.
  engine::Event ev = ParseEvent(events[0]);
  EXPECT_EQ(ev.id, "a1b2c3d4e5f60708-2026-11-24T03:12:00.123456789Z");
  EXPECT_EQ(ev.time_ms, *base::ParseRfc3339Millis("2026-11-24T03:12:00.123Z"));
  EXPECT_EQ(ev.source, "alertmanager");
  ASSERT_NE(ev.Label("severity"), nullptr);
  EXPECT_EQ(*ev.Label("severity"), "critical");
  EXPECT_EQ(ev.Get(*engine::FieldPath::Parse("payload.receiver")).text(), "reflex");
  engine::Event resolved = ParseEvent(events[2]);
  EXPECT_EQ(resolved.time_ms, *base::ParseRfc3339Millis("2026-11-24T03:00:00Z"));
}

// An Alertmanager payload whose annotations carry numbers as text (how Prometheus templates
// `{{ $value }}` into them).
constexpr const char* kCpuPayload = R"({
  "version": "4", "status": "firing", "receiver": "reflex",
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "NodeCPUHighUsage", "instance": "web-01:9100", "cores": "8"},
     "annotations": {"summary": "CPU busy", "cpu": "97.5", "load": " 1e1 "},
     "startsAt": "2026-11-24T03:12:00Z", "fingerprint": "f1"},
    {"status": "firing",
     "labels": {"alertname": "NodeCPUHighUsage", "instance": "web-02:9100", "cores": "many"},
     "annotations": {"cpu": "high", "load": "NaN"},
     "startsAt": "2026-11-24T03:12:00Z", "fingerprint": "f2"}
  ]})";

TEST(MappingAlertmanager, ValuesFromAnnotationsAndLabels) {
  const Mapping m = Parse(
      "kind: alertmanager\nvalues_from_annotations: [cpu, load, absent]\n"
      "values_from_labels: [cores]");
  EXPECT_EQ(m.spec().values_from_annotations, (std::vector<std::string>{"cpu", "load", "absent"}));
  EXPECT_EQ(m.spec().values_from_labels, std::vector<std::string>{"cores"});
  std::vector<std::string> events, notes;
  ASSERT_TRUE(m.Map(kCpuPayload, &events, {}, &notes).ok());
  ASSERT_EQ(events.size(), 2u);
  const json e0 = json::parse(events[0]);
  EXPECT_EQ(e0["values"]["cpu"], 97.5);
  EXPECT_EQ(e0["values"]["load"], 10.0);
  EXPECT_EQ(e0["values"]["cores"], 8.0);
  EXPECT_EQ(e0["labels"]["cores"], "8");  // a label stays a label as well
  EXPECT_FALSE(e0["values"].contains("absent"));
  engine::Event ev = ParseEvent(events[0]);
  ASSERT_TRUE(ev.Value("cpu").has_value());
  EXPECT_DOUBLE_EQ(*ev.Value("cpu"), 97.5);

  // Text that is not a number is never 0: it is left out of values, kept where it was, and
  // noted.
  const json e1 = json::parse(events[1]);
  EXPECT_FALSE(e1.contains("values"));
  EXPECT_EQ(e1["labels"]["cores"], "many");
  EXPECT_EQ(e1["payload"]["annotations"]["cpu"], "high");
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "alerts[1].annotations.cpu: \"high\" is not a number; left out of values",
                       "alerts[1].annotations.load: \"NaN\" is not a number; left out of values",
                       "alerts[1].labels.cores: \"many\" is not a number; left out of values"}));

  // Without the options nothing becomes a value.
  events.clear();
  ASSERT_TRUE(Mapping::OfKind(MappingKind::kAlertmanager).Map(kCpuPayload, &events).ok());
  EXPECT_FALSE(json::parse(events[0]).contains("values"));
}

TEST(MappingAlertmanager, AnnotationValueDecidesARow) {
  rules::MemorySource fs;
  fs.Put("r/tables/cpu.csv",
         "table,cpu\n"
         "id,alertname,values.cpu,action\n"
         "cpu-hot,NodeCPUHighUsage,>= 95,escalate\n");
  rules::LoadedRules lr = rules::LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors());
  rules::Diagnostics cd;
  auto rs = rules::Compile(std::move(lr), &cd);
  ASSERT_NE(rs, nullptr);

  const Mapping m = Parse("kind: alertmanager\nvalues_from_annotations: [cpu]");
  std::vector<std::string> events;
  ASSERT_TRUE(m.Map(kCpuPayload, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  auto hot = engine::ExplainEventText(*rs, events[0], 0);
  ASSERT_TRUE(hot.ok()) << hot.status().message();
  EXPECT_EQ(hot->verdict, engine::Verdict::kKnown);
  ASSERT_EQ(hot->tables.size(), 1u);
  EXPECT_EQ(hot->tables[0].selected, std::vector<std::string>{"cpu-hot"});
  auto high = engine::ExplainEventText(*rs, events[1], 0);  // "high" is no number: no match
  ASSERT_TRUE(high.ok());
  EXPECT_EQ(high->verdict, engine::Verdict::kUnknown);
}

TEST(MappingConfig, ValuesFromAreForAlertmanagerOnly) {
  EXPECT_THAT(ErrorOf("kind: fields\nvalues_from_annotations: [cpu]"),
              HasSubstr("values_from_annotations"));
  EXPECT_THAT(ErrorOf("kind: alertmanager\nvalues_from_labels: [a, a]"),
              HasSubstr("sources[1].mapping.values_from_labels: duplicate name 'a'"));
  MappingSpec spec;
  spec.kind = MappingKind::kEvent;
  spec.values_from_labels = {"x"};
  EXPECT_FALSE(Mapping::Of(spec).ok());
  spec.kind = MappingKind::kAlertmanager;
  EXPECT_TRUE(Mapping::Of(spec).ok());
}

TEST(MappingAlertmanager, ResolvedAndRefiredAlertsAreNewEvents) {
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  auto payload = [](const char* status, const char* starts, const char* ends) {
    json p = {{"version", "4"}, {"status", status}, {"receiver", "r"}};
    p["alerts"] = json::array({json{{"status", status},
                                    {"labels", {{"alertname", "A"}}},
                                    {"annotations", json::object()},
                                    {"startsAt", starts},
                                    {"endsAt", ends},
                                    {"fingerprint", "f00"}}});
    return p.dump();
  };
  std::vector<std::string> ev;
  ASSERT_TRUE(m.Map(payload("firing", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), &ev).ok());
  // The same alert notified again (repeat_interval): the same id, recognizable as a repeat.
  ASSERT_TRUE(m.Map(payload("firing", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), &ev).ok());
  ASSERT_TRUE(m.Map(payload("resolved", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"), &ev).ok());
  ASSERT_TRUE(m.Map(payload("firing", "2026-01-02T00:00:00Z", "0001-01-01T00:00:00Z"), &ev).ok());
  ASSERT_EQ(ev.size(), 4u);
  auto id = [&](size_t i) { return json::parse(ev[i])["id"].get<std::string>(); };
  EXPECT_EQ(id(0), id(1));
  EXPECT_NE(id(0), id(2));
  EXPECT_NE(id(0), id(3));
  EXPECT_NE(id(2), id(3));
  // Resolved with Go's zero endsAt: falls back to startsAt.
  ASSERT_TRUE(m.Map(payload("resolved", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), &ev).ok());
  EXPECT_EQ(json::parse(ev[4])["timestamp"], "2026-01-01T00:00:00Z");
}

TEST(MappingAlertmanager, MissingFingerprintHashesTheLabels) {
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  std::vector<std::string> ev;
  const char* a =
      R"({"version":"4","alerts":[{"labels":{"a":"1","b":"2"}},{"labels":{"b":"2","a":"1"}},
                     {"labels":{"a":"2"}}]})";
  ASSERT_TRUE(m.Map(a, &ev).ok());
  ASSERT_EQ(ev.size(), 3u);
  const std::string id0 = json::parse(ev[0])["id"];
  EXPECT_THAT(id0, ::testing::MatchesRegex("h[0-9a-f]{16}"));
  EXPECT_EQ(id0, json::parse(ev[1])["id"].get<std::string>());
  EXPECT_NE(id0, json::parse(ev[2])["id"].get<std::string>());
  // No startsAt: no timestamp (the decision time stands in); group status defaults firing.
  EXPECT_FALSE(json::parse(ev[0]).contains("timestamp"));
  EXPECT_EQ(json::parse(ev[0])["labels"]["status"], "firing");
}

TEST(MappingAlertmanager, EmptyAlertsGiveNoEvents) {
  std::vector<std::string> ev;
  ASSERT_TRUE(
      Mapping::OfKind(MappingKind::kAlertmanager).Map(R"({"version":"4","alerts":[]})", &ev).ok());
  EXPECT_TRUE(ev.empty());
}

TEST(MappingAlertmanager, ErrorMessages) {
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  EXPECT_THAT(MapError(m, "{\"version\":"), HasSubstr("malformed JSON: parse error"));
  EXPECT_EQ(MapError(m, "[1]"),
            "expected an Alertmanager webhook payload (a JSON object), got an array");
  EXPECT_EQ(MapError(m, R"({"alerts":[]})"),
            "version: missing; expected \"4\" (Alertmanager webhook version 4)");
  EXPECT_EQ(MapError(m, R"({"version":"3","alerts":[]})"),
            "version: expected \"4\" (Alertmanager webhook version 4), got \"3\"");
  EXPECT_EQ(MapError(m, R"({"version":"4"})"), "alerts: expected an array of alerts");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":{}})"), "alerts: expected an array of alerts");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":[{},7]})"),
            "alerts[1]: expected an object, got a number");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":[{"labels":{"a":1}}]})"),
            "alerts[0].labels.a: expected a string, got a number");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":[{"labels":[]}]})"),
            "alerts[0].labels: expected an object, got an array");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":[{"status":"pending"}]})"),
            "alerts[0].status: expected \"firing\" or \"resolved\", got \"pending\"");
  EXPECT_EQ(MapError(m, R"({"version":"4","alerts":[{"fingerprint":5}]})"),
            "alerts[0].fingerprint: expected a string, got a number");
  EXPECT_THAT(MapError(m, R"({"version":"4","alerts":[{"startsAt":"yesterday"}]})"),
              HasSubstr("alerts[0].startsAt: bad RFC 3339 timestamp 'yesterday'"));
  // One bad alert rejects the whole payload: nothing half-mapped.
  EXPECT_THAT(MapError(m, R"({"version":"4","alerts":[{"labels":{"a":"1"}},{"status":1}]})"),
              HasSubstr("alerts[1].status"));
}

TEST(MappingFields, NestedPointersAndConstantSource) {
  const Mapping m = Parse(R"(
kind: fields
id: /event/id
timestamp: /event/clock
source_name: zabbix
message: /event/name
labels: {host: /host/name, severity: /event/severity, port: /host/port, "a/b": /x~1y, up: /host/up}
values: {load: /metrics/0/value, ratio: /metrics/1/value}
)");
  const std::string payload =
      R"({"event":{"id":"z-17","clock":1795489200,"name":"High load","severity":"high"},)"
      R"("host":{"name":"web-01","port":9100,"up":true},"x/y":"slash",)"
      R"("metrics":[{"value":3.5},{"value":"0.25"}]})";
  std::vector<std::string> events;
  ASSERT_TRUE(m.Map(payload, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  const json e = json::parse(events[0]);
  EXPECT_EQ(e["id"], "z-17");
  EXPECT_EQ(e["timestamp"], 1795489200);
  EXPECT_EQ(e["source"], "zabbix");
  EXPECT_EQ(e["message"], "High load");
  EXPECT_EQ(e["labels"], (json{{"host", "web-01"},
                               {"severity", "high"},
                               {"port", "9100"},
                               {"a/b", "slash"},
                               {"up", "true"}}));
  EXPECT_EQ(e["values"]["load"], 3.5);
  // The payload is the original object, byte for byte.
  EXPECT_NE(events[0].find(payload), std::string::npos);
  EXPECT_EQ(e["payload"], json::parse(payload));

  engine::Event ev = ParseEvent(events[0]);
  EXPECT_EQ(ev.id, "z-17");
  EXPECT_EQ(ev.time_ms, 1795489200000);
  EXPECT_EQ(ev.Value("ratio"), 0.25);
  EXPECT_EQ(ev.Get(*engine::FieldPath::Parse("payload.event.severity")).text(), "high");
}

TEST(MappingFields, MissingAndNullFieldsAreLeftOut) {
  const Mapping m = Parse(R"(
kind: fields
id: /id
source: /src
source_name: fallback
message: /msg
labels: {host: /host, gone: /nowhere/deep, idx: /list/7}
values: {v: /v}
)");
  std::vector<std::string> events;
  ASSERT_TRUE(m.Map(R"({"host":"h","msg":null,"v":null,"list":[1]})", &events).ok());
  const json e = json::parse(events.at(0));
  EXPECT_FALSE(e.contains("id"));
  EXPECT_FALSE(e.contains("message"));
  EXPECT_EQ(e["source"], "fallback");
  EXPECT_EQ(e["labels"], (json{{"host", "h"}}));
  EXPECT_EQ(e["values"], json::object());
  // With `source` present, it wins over the constant.
  ASSERT_TRUE(m.Map(R"({"src":"nagios"})", &events).ok());
  EXPECT_EQ(json::parse(events.at(1))["source"], "nagios");
  // Without an id the engine hashes the event: the same payload, the same id.
  ASSERT_TRUE(m.Map(R"({"src":"nagios"})", &events).ok());
  EXPECT_EQ(ParseEvent(events[1]).id, ParseEvent(events[2]).id);
}

TEST(MappingFields, ErrorMessages) {
  const Mapping m = Parse(R"(
kind: fields
id: /id
timestamp: /ts
message: /msg
labels: {host: /host}
values: {load: /load}
)");
  EXPECT_THAT(MapError(m, "{\"host\":"), HasSubstr("malformed JSON: "));
  EXPECT_EQ(MapError(m, "[1,2]"), "expected a JSON object, got an array");
  EXPECT_EQ(MapError(m, R"({"host":{"name":"x"}})"),
            "labels.host: /host resolves to an object; expected text or a number");
  EXPECT_EQ(MapError(m, R"({"msg":["a"]})"),
            "message: /msg resolves to an array; expected text or a number");
  EXPECT_EQ(MapError(m, R"({"id":{}})"),
            "id: /id resolves to an object; expected text or a number");
  EXPECT_EQ(MapError(m, R"({"load":true})"),
            "values.load: /load resolves to a boolean; expected a number");
  EXPECT_THAT(MapError(m, R"({"load":"very high"})"),
              HasSubstr("values.load: expected a number, got \"very high\""));
  EXPECT_THAT(MapError(m, R"({"ts":"soon"})"),
              HasSubstr("timestamp: /ts: bad RFC 3339 timestamp 'soon'"));
  EXPECT_EQ(MapError(m, R"({"ts":[1]})"),
            "timestamp: /ts resolves to an array; expected an RFC 3339 string or an epoch number");
  EXPECT_EQ(MapError(m, std::string(600, '[') + std::string(600, ']')),
            "JSON nested deeper than 512 levels");
  EXPECT_THAT(MapError(m, "{\"host\":\"\xff\"}"), HasSubstr("malformed JSON"));
}

// {"k00000":"v","k00001":"v",...}: `n` distinct keys, about 13 bytes each.
std::string ManyKeysObject(int n) {
  std::string text = "{";
  char key[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(key, sizeof key, "\"k%05d\":", i);
    if (i > 0) text += ',';
    text += key;
    text += "\"v\"";
  }
  return text + "}";
}

// An Alertmanager webhook whose one alert carries `labels`.
std::string AlertWithLabels(const std::string& labels) {
  return R"({"version":"4","status":"firing","alerts":[{"fingerprint":"f1","labels":)" + labels +
         R"(,"startsAt":"2026-11-24T03:12:00Z"}]})";
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Building the labels of an alert one by one into an insertion-ordered object was quadratic:
// an alert with 50,000 labels (under 1 MiB) took seconds to map. It is refused at once, with
// the alert named.
TEST(MappingAlertmanager, TooManyLabelsIsRefusedQuicklyWithTheReason) {
  const std::string payload = AlertWithLabels(ManyKeysObject(50000));
  ASSERT_LT(payload.size(), size_t{1} << 20);
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  const auto start = std::chrono::steady_clock::now();
  const std::string error = MapError(m, payload);
  EXPECT_LT(SecondsSince(start), 2.0);  // generous: it does not hang
  EXPECT_EQ(error, "alerts[0].labels: too many labels: 50000 (at most 1000)");
}

// Under a raised cap the alert maps, in about linear time, its labels sorted then `status`.
TEST(MappingAlertmanager, ManyLabelsUnderARaisedCapMapQuickly) {
  const std::string payload = AlertWithLabels(ManyKeysObject(30000));
  const Mapping m = Mapping::OfKind(MappingKind::kAlertmanager);
  std::vector<std::string> events;
  const auto start = std::chrono::steady_clock::now();
  engine::Status s = m.Map(payload, &events, engine::EventLimits{.max_labels = 30001});
  EXPECT_LT(SecondsSince(start), 2.0);  // generous: seconds before
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(events.size(), 1u);
  engine::EventParser parser(engine::EventLimits{.max_labels = 30001});
  engine::Event ev;
  ASSERT_TRUE(parser.Parse(events[0], 0, &ev).ok());
  ASSERT_EQ(ev.labels.size(), 30001u);
  EXPECT_EQ(ev.labels[0].first, "k00000");
  EXPECT_EQ(ev.labels[29999].first, "k29999");
  EXPECT_EQ(ev.labels[30000], (std::pair<std::string, std::string>("status", "firing")));
  // One over the raised cap (status makes 30,001 + 1) is the engine's refusal, per alert.
  EXPECT_EQ(MapError(m, AlertWithLabels(ManyKeysObject(30001))),
            "alerts[0].labels: too many labels: 30001 (at most 1000)");
  events.clear();
  s = m.Map(AlertWithLabels(ManyKeysObject(30001)), &events,
            engine::EventLimits{.max_labels = 30001});
  EXPECT_EQ(s.message(), "alerts[0]: labels: too many labels: 30002 (at most 30001)");
}

TEST(MappingFields, PayloadNestedDeeperThanTheCapIsRefused) {
  const Mapping m = Parse("{kind: fields, labels: {host: /host}}");
  // The mapped event wraps the object as its payload: event 1, payload 2, then 31 arrays.
  const std::string deep =
      R"({"host":"h","x":)" + std::string(31, '[') + "1" + std::string(31, ']') + "}";
  EXPECT_EQ(MapError(m, deep), "event nested deeper than 32 levels");
  const std::string fits =
      R"({"host":"h","x":)" + std::string(30, '[') + "1" + std::string(30, ']') + "}";
  std::vector<std::string> events;
  EXPECT_TRUE(m.Map(fits, &events).ok());
}

TEST(ValidateEvent, RefusesEventsOverTheCaps) {
  engine::Status s = ValidateEvent(std::string(R"({"labels":)") + ManyKeysObject(1001) + "}");
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "labels: too many labels: 1001 (at most 1000)");
  EXPECT_TRUE(ValidateEvent(std::string(R"({"labels":)") + ManyKeysObject(1000) + "}").ok());
}

TEST(ValidateEvent, UsesTheEngineParser) {
  EXPECT_TRUE(ValidateEvent(R"({"id":"x","labels":{"a":"1"}})").ok());
  engine::Status s = ValidateEvent(R"({"values":{"load":"very high"}})");
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("values.load: expected a number"));
  EXPECT_FALSE(ValidateEvent("[1]").ok());
  EXPECT_FALSE(ValidateEvent("{").ok());
}

TEST(SplitDocuments, ObjectArrayAndJsonLines) {
  std::vector<std::string> docs, where;
  ASSERT_TRUE(SplitDocuments("  {\"a\": 1}\n", &docs, &where).ok());
  EXPECT_EQ(docs, std::vector<std::string>{"{\"a\": 1}"});
  EXPECT_EQ(where, std::vector<std::string>{""});

  // A pretty-printed object over several lines is still one document.
  docs.clear();
  ASSERT_TRUE(SplitDocuments("{\n  \"a\": 1\n}\n", &docs).ok());
  EXPECT_EQ(docs.size(), 1u);

  docs.clear();
  where.clear();
  ASSERT_TRUE(SplitDocuments(R"([{"a":1}, {"b":[1,2]}])", &docs, &where).ok());
  EXPECT_EQ(docs, (std::vector<std::string>{R"({"a":1})", R"({"b":[1,2]})"}));
  EXPECT_EQ(where, (std::vector<std::string>{"index 0", "index 1"}));

  docs.clear();
  where.clear();
  ASSERT_TRUE(SplitDocuments("{\"a\":1}\r\n\n  \n{\"b\":2}", &docs, &where).ok());
  EXPECT_EQ(docs, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(where, (std::vector<std::string>{"line 1", "line 4"}));

  docs.clear();
  ASSERT_TRUE(SplitDocuments("[]", &docs).ok());
  EXPECT_TRUE(docs.empty());
}

TEST(SplitDocuments, ErrorsNameIndexOrLineAndAddNothing) {
  auto err = [](std::string_view body) {
    std::vector<std::string> docs = {"x"};
    engine::Status s = SplitDocuments(body, &docs);
    EXPECT_FALSE(s.ok()) << body;
    EXPECT_EQ(docs.size(), 1u);
    return s.message();
  };
  EXPECT_EQ(err(""), "empty body: expected a JSON object, an array of objects or JSON Lines");
  EXPECT_EQ(err(" \n "), "empty body: expected a JSON object, an array of objects or JSON Lines");
  EXPECT_EQ(err(R"([{"a":1}, 2])"), "index 1: expected a JSON object, got a number");
  EXPECT_THAT(err(R"([{"a":1}, )"), HasSubstr("malformed JSON"));
  EXPECT_EQ(err("\"text\""), "expected a JSON object, got a string");
  EXPECT_THAT(err("{\"a\":1}\n{\"b\":\n{\"c\":3}"), HasSubstr("line 2: malformed JSON"));
  EXPECT_EQ(err("{\"a\":1}\n[1]"), "line 2: expected a JSON object, got an array");
  EXPECT_THAT(err("{\"a\":"), HasSubstr("malformed JSON"));
}

}  // namespace
}  // namespace reflex::connectors
