// Payload mapping of metric samples: kind influx (line protocol) and kind prometheus_json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reflex/base/time.h"
#include "reflex/connectors/mapping.h"
#include "reflex/engine/event.h"

namespace reflex::connectors {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using json = nlohmann::json;

Mapping Parse(const std::string& yaml) {
  auto m = Mapping::FromYaml(YAML::Load(yaml), "sources[0].mapping");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? *m : Mapping();
}

std::vector<std::string> MapOk(const Mapping& m, std::string_view bytes,
                               std::vector<std::string>* notes = nullptr,
                               const engine::EventLimits& limits = {}) {
  std::vector<std::string> events;
  engine::Status s = m.Map(bytes, &events, limits, notes);
  EXPECT_TRUE(s.ok()) << s.message() << " for " << bytes;
  return events;
}

std::string MapError(const Mapping& m, std::string_view bytes,
                     const engine::EventLimits& limits = {}) {
  std::vector<std::string> events = {"sentinel"};
  engine::Status s = m.Map(bytes, &events, limits);
  EXPECT_FALSE(s.ok()) << bytes;
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(events, std::vector<std::string>{"sentinel"}) << "a failed Map appended events";
  return s.message();
}

engine::Event ParseEvent(const std::string& text) {
  engine::EventParser parser;
  engine::Event ev;
  engine::Status s = parser.Parse(text, 42, &ev);
  EXPECT_TRUE(s.ok()) << s.message() << " in " << text;
  return ev;
}

const Mapping& Influx() {
  static const Mapping m = Mapping::OfKind(MappingKind::kInflux);
  return m;
}
const Mapping& Prom() {
  static const Mapping m = Mapping::OfKind(MappingKind::kPrometheusJson);
  return m;
}

// ---- influx ----------------------------------------------------------------------------

TEST(MappingInflux, TelegrafLinesBecomeOneEventPerLine) {
  // Two lines as Telegraf's Kafka output writes them (ns timestamps), one of them batched.
  const std::string payload =
      "cpu,cpu=cpu-total,host=db-01 usage_idle=3.5,usage_user=90.25 1795489200000000000\n"
      "disk,host=db-01,path=/var free=1024i,inodes_free=77u,ro=false,fstype=\"ext4\" "
      "1795489201500000000\n";
  const auto events = MapOk(Influx(), payload);
  ASSERT_EQ(events.size(), 2u);
  const engine::Event cpu = ParseEvent(events[0]);
  EXPECT_EQ(cpu.source, "influx");
  EXPECT_EQ(cpu.time_ms, 1795489200000);
  EXPECT_THAT(cpu.labels, ElementsAre(Pair("__name__", "cpu"), Pair("cpu", "cpu-total"),
                                      Pair("host", "db-01")));
  EXPECT_THAT(cpu.values, ElementsAre(Pair("usage_idle", 3.5), Pair("usage_user", 90.25)));
  EXPECT_TRUE(engine::IsDerivedEventId(cpu.id)) << "the engine hashes the event for its id";

  const engine::Event disk = ParseEvent(events[1]);
  EXPECT_EQ(disk.time_ms, 1795489201500);
  EXPECT_THAT(disk.values, ElementsAre(Pair("free", 1024), Pair("inodes_free", 77), Pair("ro", 0)))
      << "integers, unsigned and booleans are values; strings are not";
  const json payload_json = *disk.Payload();
  EXPECT_EQ(payload_json["measurement"], "disk");
  EXPECT_EQ(payload_json["tags"]["path"], "/var");
  EXPECT_EQ(payload_json["fields"]["fstype"], "ext4");
  EXPECT_EQ(payload_json["fields"]["ro"], false);
  EXPECT_EQ(payload_json["fields"]["free"], 1024);
  EXPECT_EQ(payload_json["time"], 1795489201500000000);
}

TEST(MappingInflux, EscapesOfTheLineProtocol) {
  const std::string line =
      R"(my\ meas\,ure=x,tag\ key\,a\=b=tag\ val\,c\=d field\ k\=e\,f="say \"hi\", C:\\dir\x",n=1 10)"
      "\n";
  const auto events = MapOk(Influx(), line);
  ASSERT_EQ(events.size(), 1u);
  const engine::Event ev = ParseEvent(events[0]);
  EXPECT_THAT(ev.labels,
              ElementsAre(Pair("__name__", "my meas,ure=x"), Pair("tag key,a=b", "tag val,c=d")));
  EXPECT_THAT(ev.values, ElementsAre(Pair("n", 1)));
  EXPECT_EQ((*ev.Payload())["fields"]["field k=e,f"], R"(say "hi", C:\dir\x)")
      << "\\\" and \\\\ are escapes in a string; any other backslash stays";
}

TEST(MappingInflux, ValuesTypesAndBooleans) {
  const auto events =
      MapOk(Influx(),
            "m a=1,b=-2.5e3,c=+4,d=-9223372036854775808i,e=18446744073709551615u,"
            "f=t,g=T,h=true,i=True,j=TRUE,k=f,l=F,m=false,n=False,o=FALSE,p=\"text\"");
  ASSERT_EQ(events.size(), 1u);
  const engine::Event ev = ParseEvent(events[0]);
  EXPECT_EQ(ev.Value("a"), 1);
  EXPECT_EQ(ev.Value("b"), -2500);
  EXPECT_EQ(ev.Value("c"), 4);
  EXPECT_EQ(ev.Value("d"), -9223372036854775808.0);
  EXPECT_EQ(ev.Value("e"), 18446744073709551615.0);
  for (const char* t : {"f", "g", "h", "i", "j"}) EXPECT_EQ(ev.Value(t), 1) << t;
  for (const char* f : {"k", "l", "m", "n", "o"}) EXPECT_EQ(ev.Value(f), 0) << f;
  EXPECT_FALSE(ev.Value("p").has_value());
  const json p = *ev.Payload();
  EXPECT_EQ(p["fields"]["d"], INT64_MIN) << "the payload keeps the exact integer";
  EXPECT_EQ(p["fields"]["e"], UINT64_MAX);
  EXPECT_FALSE(p.contains("time")) << "no timestamp: the decision time";
}

TEST(MappingInflux, BlankLinesCommentsCrlfAndNewlinesInStrings) {
  const std::string payload =
      "# a comment\r\n"
      "\r\n"
      "   m,h=a v=1 1000000\r\n"
      "m,h=b msg=\"two\nlines\",v=2 2000000\n"
      "\n"
      "m,h=c v=3  \n";
  std::vector<MappedEvent> events;
  ASSERT_TRUE(MapDocuments(Influx(), payload, &events).ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].where, "line 3");
  EXPECT_EQ(events[1].where, "line 4");
  EXPECT_EQ(events[2].where, "line 7") << "the line after the string's newline is line 6";
  EXPECT_EQ((*ParseEvent(events[1].event).Payload())["fields"]["msg"], "two\nlines");
  EXPECT_EQ(ParseEvent(events[0].event).time_ms, 1);
}

TEST(MappingInflux, PrecisionIsConfigurable) {
  for (const auto& [precision, ts, ms] : std::vector<std::tuple<std::string, std::string, int64_t>>{
           {"ns", "1795489200123456789", 1795489200123},
           {"us", "1795489200123456", 1795489200123},
           {"ms", "1795489200123", 1795489200123},
           {"s", "1795489200", 1795489200000},
           {"ns", "-1", -1},  // before the epoch: rounded down
       }) {
    const Mapping m = Parse("{kind: influx, precision: " + precision + "}");
    const auto events = MapOk(m, "m v=1 " + ts);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(ParseEvent(events[0]).time_ms, ms) << precision << " " << ts;
  }
  EXPECT_THAT(MapError(Parse("{kind: influx, precision: s}"), "m v=1 253402300800"),
              HasSubstr("line 1: timestamp 253402300800 (s) is outside the years 0001..9999"));
}

TEST(MappingInflux, BadLinesAreRefusedWithTheLineAndTheReason) {
  struct Case {
    std::string payload, error;
  };
  for (const Case& c : std::vector<Case>{
           {"m", "line 1: missing fields"},
           {"m ", "line 1: missing fields"},
           {",h=a v=1", "line 1: missing measurement name"},
           {"m,h v=1", "line 1: tag \"h\": expected '=' after the tag key, got a space"},
           {"m,h= v=1", "line 1: tag \"h\": empty tag value"},
           {"m,=a v=1", "line 1: empty tag key"},
           {"m,h=a,h=b v=1", "line 1: tag \"h\" given twice"},
           {"m v", "line 1: field \"v\": expected '=' after the field key"},
           {"m v=", "line 1: field \"v\": missing value"},
           {"m v=abc", "line 1: field \"v\": bad value \"abc\""},
           {"m v=NaN", "line 1: field \"v\": bad value \"NaN\""},
           {"m v=inf", "line 1: field \"v\": bad value \"inf\""},
           {"m v=1e999", "line 1: field \"v\": number \"1e999\" is out of range"},
           {"m v=1.5i", "line 1: field \"v\": bad integer \"1.5i\""},
           {"m v=9223372036854775808i",
            "line 1: field \"v\": integer \"9223372036854775808i\" is out of range"},
           {"m v=-1u", "line 1: field \"v\": negative unsigned integer \"-1u\""},
           {"m v=\"open", "line 1: field \"v\": unterminated string"},
           {"m v=1 12x", "line 1: bad timestamp \"12x\" (expected an integer)"},
           {"m v=1 99999999999999999999",
            "line 1: timestamp \"99999999999999999999\" is out of range"},
           {"m v=1 1 2", "line 1: unexpected text after the timestamp: \"2\""},
           {"m v=1\"x\"", "line 1: field \"v\": bad value \"1\\\"x\\\"\""},
           {"m,__name__=x v=1", "line 1: tag \"__name__\" is reserved"},
           {"m v=1\nm v=2\nm,host v=3", "line 3: tag \"host\": expected '='"},
           {"m v=1\n\xff v=2", "not valid UTF-8 (byte 6)"},
       }) {
    EXPECT_THAT(MapError(Influx(), c.payload), HasSubstr(c.error)) << c.payload;
  }
}

TEST(MappingInflux, DuplicateFieldKeepsTheLastValue) {
  const auto events = MapOk(Influx(), "m v=1,w=2,v=3");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(ParseEvent(events[0]).values, ElementsAre(Pair("v", 3), Pair("w", 2)));
}

TEST(MappingInflux, CapsOnTagsAndFieldsFollowTheEventLimits) {
  std::string wide = "m";
  for (int i = 0; i < 20; ++i) wide += ",t" + std::to_string(i) + "=x";
  wide += " v=1";
  EXPECT_THAT(MapError(Influx(), wide, engine::EventLimits{.max_labels = 20}),
              HasSubstr("line 1: too many tags (at most 19)"));
  EXPECT_EQ(MapOk(Influx(), wide, nullptr, engine::EventLimits{.max_labels = 21}).size(), 1u);
  EXPECT_THAT(MapError(Influx(), "m a=1,b=2,c=3", engine::EventLimits{.max_values = 2}),
              HasSubstr("line 1: too many fields (at most 2)"));
}

TEST(MappingInflux, ConfigPrecisionOnlyWithInflux) {
  EXPECT_EQ(Parse("influx").spec().kind, MappingKind::kInflux);
  EXPECT_EQ(Parse("{kind: influx, precision: ms}").spec().precision,
            InfluxPrecision::kMilliseconds);
  auto bad = Mapping::FromYaml(YAML::Load("{kind: influx, precision: minutes}"), "m");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("m.precision: unknown value 'minutes'"));
  auto other = Mapping::FromYaml(YAML::Load("{kind: prometheus_json, precision: s}"), "m");
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.status().message(), HasSubstr("only valid with kind: influx"));
}

TEST(MappingInflux, AWebhookBodyIsOnePayloadOfLines) {
  std::vector<std::string> docs, where;
  ASSERT_TRUE(SplitPayload(Influx(), "m v=1\nm v=2\n", &docs, &where).ok());
  EXPECT_EQ(docs, std::vector<std::string>{"m v=1\nm v=2\n"});
  docs.clear();
  EXPECT_FALSE(SplitPayload(Prom(), "m v=1\n", &docs).ok()) << "JSON kinds split documents";
}

// ---- prometheus_json --------------------------------------------------------------------

TEST(MappingPrometheusJson, AdapterSampleBecomesOneEvent) {
  // As prometheus-kafka-adapter writes a sample (value as text, RFC 3339 time).
  const std::string sample =
      R"({"timestamp":"2026-11-24T03:12:00Z","value":"97.5","name":"node_load1",)"
      R"("labels":{"__name__":"node_load1","instance":"db-01:9100","job":"node"}})";
  std::vector<std::string> notes;
  const auto events = MapOk(Prom(), sample, &notes);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(notes.empty());
  const engine::Event ev = ParseEvent(events[0]);
  EXPECT_EQ(ev.source, "prometheus");
  EXPECT_EQ(ev.time_ms, *base::ParseRfc3339Millis("2026-11-24T03:12:00Z"));
  EXPECT_THAT(ev.labels, ElementsAre(Pair("__name__", "node_load1"), Pair("instance", "db-01:9100"),
                                     Pair("job", "node")));
  EXPECT_THAT(ev.values, ElementsAre(Pair("value", 97.5)));
  EXPECT_EQ(*ev.Payload(), json::parse(sample)) << "the payload is the sample";
}

TEST(MappingPrometheusJson, NumbersAndSpecialValues) {
  auto value_of = [](const std::string& v, std::vector<std::string>* notes) {
    const auto events = MapOk(Prom(), R"({"name":"m","value":)" + v + "}", notes);
    EXPECT_EQ(events.size(), 1u);
    return ParseEvent(events.at(0)).Value("value");
  };
  std::vector<std::string> notes;
  EXPECT_EQ(value_of("1.5", &notes), 1.5);
  EXPECT_EQ(value_of("\"-2e3\"", &notes), -2000);
  EXPECT_EQ(value_of("\"+7\"", &notes), 7);
  EXPECT_TRUE(notes.empty());
  for (const char* special : {"\"NaN\"", "\"+Inf\"", "\"-Inf\"", "\"Inf\""}) {
    notes.clear();
    EXPECT_FALSE(value_of(special, &notes).has_value()) << special;
    ASSERT_EQ(notes.size(), 1u) << special;
    EXPECT_THAT(notes[0], HasSubstr("is not a finite number; left out of values"));
  }
}

TEST(MappingPrometheusJson, NameFromLabelsAndEpochTimestamp) {
  const auto events = MapOk(
      Prom(), R"({"labels":{"__name__":"up","job":"x"},"value":1,"timestamp":1795489200000})");
  ASSERT_EQ(events.size(), 1u);
  const engine::Event ev = ParseEvent(events[0]);
  EXPECT_EQ(*ev.Label("__name__"), "up");
  EXPECT_EQ(ev.time_ms, 1795489200000);
}

TEST(MappingPrometheusJson, BadSamplesAreRefusedWithTheReason) {
  struct Case {
    std::string payload, error;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "malformed JSON"},
           {"[1]", "expected a Prometheus sample (a JSON object), got an array"},
           {R"({"value":"1"})", "name: missing (and no labels.__name__)"},
           {R"({"name":"","value":"1"})", "name: expected the metric name"},
           {R"({"name":3,"value":"1"})", "name: expected the metric name"},
           {R"({"name":"m"})", "value: missing"},
           {R"({"name":"m","value":"high"})", "value: expected a number or its text"},
           {R"({"name":"m","value":"1.5x"})", "value: expected a number or its text"},
           {R"({"name":"m","value":true})", "value: expected a number or its text"},
           {R"({"name":"m","value":"1","labels":[]})", "labels: expected an object, got an array"},
           {R"({"name":"m","value":"1","labels":{"a":1}})",
            "labels.a: expected a string, got a number"},
           {R"({"name":"m","value":"1","labels":{"__name__":"n"}})",
            "labels.__name__: \"n\" differs from name \"m\""},
           {R"({"name":"m","value":"1","timestamp":"yesterday"})",
            "timestamp: bad RFC 3339 timestamp"},
           {R"({"name":"m","value":"1","timestamp":true})",
            "timestamp: expected an RFC 3339 string or an epoch number"},
       }) {
    EXPECT_THAT(MapError(Prom(), c.payload), HasSubstr(c.error)) << c.payload;
  }
  EXPECT_THAT(MapError(Prom(), R"({"name":"m","value":"1","labels":{"a":"1","b":"2"}})",
                       engine::EventLimits{.max_labels = 2}),
              HasSubstr("labels: too many labels: 3 (at most 2)"));
}

TEST(MappingPrometheusJson, ShorthandAndDocumentsOfAWebhookBody) {
  EXPECT_EQ(Parse("prometheus_json").spec().kind, MappingKind::kPrometheusJson);
  std::vector<MappedEvent> events;
  ASSERT_TRUE(
      MapDocuments(Prom(), R"([{"name":"a","value":"1"},{"name":"b","value":"2"}])", &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].where, "index 1");
}

}  // namespace
}  // namespace reflex::connectors
