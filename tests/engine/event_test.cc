#include "reflex/engine/event.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::ParseEvent;
using testing::Path;

constexpr int64_t kT0 = 1764000000000;  // 2025-11-24T16:00:00Z

TEST(FieldPathTest, ParsesEveryRoot) {
  struct Case {
    const char* text;
    FieldPath::Root root;
    const char* name;
    const char* canonical;
  } cases[] = {
      {"labels.instance", FieldPath::Root::kLabel, "instance", "labels.instance"},
      {"values.usage", FieldPath::Root::kValue, "usage", "values.usage"},
      {"labels[\"a.b\"]", FieldPath::Root::kLabel, "a.b", "labels.a.b"},
      {"message", FieldPath::Root::kMessage, "", "message"},
      {"source", FieldPath::Root::kSource, "", "source"},
      {"id", FieldPath::Root::kId, "", "id"},
      {"timestamp", FieldPath::Root::kTimestamp, "", "timestamp"},
      {"payload", FieldPath::Root::kPayload, "", "payload"},
      {"  instance\t", FieldPath::Root::kBare, "instance", "instance"},
      {"alert-name_2", FieldPath::Root::kBare, "alert-name_2", "alert-name_2"},
  };
  for (const auto& c : cases) {
    auto p = FieldPath::Parse(c.text);
    ASSERT_TRUE(p.ok()) << c.text << ": " << p.status().ToString();
    EXPECT_EQ(p->root(), c.root) << c.text;
    EXPECT_EQ(p->name(), c.name) << c.text;
    EXPECT_EQ(p->text(), c.canonical) << c.text;
  }
}

TEST(FieldPathTest, ParsesPayloadSteps) {
  auto p = FieldPath::Parse("payload.a.b[0][\"x.y\"]");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->steps().size(), 4u);
  EXPECT_EQ(p->steps()[0], (PathStep{"a", -1}));
  EXPECT_EQ(p->steps()[1], (PathStep{"b", -1}));
  EXPECT_EQ(p->steps()[2], (PathStep{"", 0}));
  EXPECT_EQ(p->steps()[3], (PathStep{"x.y", -1}));
}

TEST(FieldPathTest, RejectsMalformedPaths) {
  for (const char* bad :
       {"", "   ", "labels.", "values.", "payload..a", "payload.a[", "payload[x]", "payload[\"open",
        "payload[\"k\"x", "1abc", "foo.bar", "a b", "labels[0]"}) {
    auto p = FieldPath::Parse(bad);
    EXPECT_FALSE(p.ok()) << "accepted '" << bad << "'";
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    }
  }
  auto p = FieldPath::Parse("foo.bar");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("unknown field root 'foo'"), std::string::npos)
      << p.status().message();
}

// Regression: an array index too large for int64 (`payload.a[99999999999999999999]`) was
// silently read as [0], so the rule tested the first element instead of being rejected.
TEST(FieldPathTest, HugeArrayIndexIsRejectedRegression) {
  auto p = FieldPath::Parse("payload.a[99999999999999999999]");
  ASSERT_FALSE(p.ok()) << "parsed as index " << p->steps().back().index;
  EXPECT_NE(p.status().message().find("out of range"), std::string::npos) << p.status().message();
  auto big = FieldPath::Parse("payload.a[9223372036854775807]");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->steps().back().index, INT64_MAX);
  Event ev = ParseEvent(R"({"payload":{"a":[1,2]}})");
  EXPECT_TRUE(ev.Get(*big).missing());
  EXPECT_EQ(ev.Get(Path("payload.a[1]")).number(), 2.0);
}

TEST(EventParserTest, ParsesAllFields) {
  Event ev = ParseEvent(R"({"id":"e1","timestamp":"2026-11-24T10:00:00Z","source":"prom",
      "labels":{"alertname":"DiskFull","instance":"web1"},
      "values":{"usage":93.5,"count":"7"},"message":"disk full on /var",
      "payload":{"a":{"b":[10,"x"]}}})",
                        kT0);
  EXPECT_EQ(ev.id, "e1");
  EXPECT_EQ(ev.time_ms, *base::ParseRfc3339Millis("2026-11-24T10:00:00Z"));
  EXPECT_EQ(ev.source, "prom");
  ASSERT_NE(ev.Label("alertname"), nullptr);
  EXPECT_EQ(*ev.Label("alertname"), "DiskFull");
  EXPECT_EQ(*ev.Label("instance"), "web1");
  EXPECT_EQ(ev.Label("usage"), nullptr);
  EXPECT_EQ(ev.Value("usage"), 93.5);
  EXPECT_EQ(ev.Value("count"), 7.0);  // numeric strings are accepted as values
  EXPECT_EQ(ev.message, "disk full on /var");
  EXPECT_EQ(nlohmann::json::parse(ev.payload), nlohmann::json::parse(R"({"a":{"b":[10,"x"]}})"));
  EXPECT_NE(ev.raw.find("\"e1\""), std::string::npos);
}

TEST(EventParserTest, TimestampAliasesAndForms) {
  const int64_t base = *base::ParseRfc3339Millis("2026-11-24T10:00:00Z");
  EXPECT_EQ(ParseEvent(R"({"ts":"2026-11-24T10:00:00Z"})").time_ms, base);
  EXPECT_EQ(ParseEvent(R"({"time":"2026-11-24T10:00:00Z"})").time_ms, base);
  EXPECT_EQ(ParseEvent(R"({"timestamp":"2026-11-24T12:30:00.250+02:30"})").time_ms, base + 250);
  EXPECT_EQ(ParseEvent(R"({"timestamp":"2026-11-24T05:00:00-05:00"})").time_ms, base);
  // Epoch numbers: below 1e11 seconds, above milliseconds.
  EXPECT_EQ(ParseEvent(R"({"timestamp":1764000000})").time_ms, kT0);
  EXPECT_EQ(ParseEvent(R"({"timestamp":1764000000.5})").time_ms, kT0 + 500);
  EXPECT_EQ(ParseEvent(R"({"timestamp":1764000000000})").time_ms, kT0);
  EXPECT_EQ(ParseEvent(R"({"ts":99999999999})").time_ms, int64_t{99999999999} * 1000);
  EXPECT_EQ(ParseEvent(R"({"ts":100000000000})").time_ms, int64_t{100000000000});
  // Missing or null: the default.
  EXPECT_EQ(ParseEvent(R"({"id":"x"})", 42).time_ms, 42);
  EXPECT_EQ(ParseEvent(R"({"timestamp":null})", 43).time_ms, 43);
}

// Regression: an epoch number far outside any real date ({"ts":1e300}) was converted with
// llround into INT64_MIN, and formatting that time for the decision record overflowed a
// signed integer (undefined behaviour reachable from untrusted input). Such numbers are
// now rejected like any other malformed timestamp.
TEST(EventParserTest, EpochNumberOutOfRangeIsRejectedRegression) {
  EventParser parser;
  Event ev;
  for (const char* json : {R"({"ts":1e300})", R"({"ts":-1e300})", R"({"timestamp":9.3e18})",
                           R"({"time":18446744073709551615})", R"({"ts":1e15})"}) {
    Status s = parser.Parse(json, 0, &ev);
    ASSERT_FALSE(s.ok()) << json << " parsed as " << ev.time_ms;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.message();
  }
  // The far ends of RFC 3339 years are still fine.
  ASSERT_TRUE(parser.Parse(R"({"ts":253402300799999})", 0, &ev).ok());
  EXPECT_EQ(base::FormatRfc3339Millis(ev.time_ms), "9999-12-31T23:59:59.999Z");
  ASSERT_TRUE(parser.Parse(R"({"ts":-62135596800000})", 0, &ev).ok());
  EXPECT_EQ(base::FormatRfc3339Millis(ev.time_ms), "0001-01-01T00:00:00.000Z");
}

TEST(EventParserTest, DefaultIdIsAStableHashOfTheBytes) {
  const std::string json = R"({"labels":{"a":"b"}})";
  Event a = ParseEvent(json);
  Event b = ParseEvent(json);
  Event c = ParseEvent(R"({"labels":{"a":"c"}})");
  EXPECT_EQ(a.id.substr(0, 2), "h-");
  EXPECT_EQ(a.id.size(), 18u);
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, c.id);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(base::Fnv1a64(json)));
  EXPECT_EQ(a.id, std::string("h-") + hex);
  // A trailing CR (CRLF line) does not change the id.
  EXPECT_EQ(ParseEvent(json + "\r").id, a.id);
  // Numeric ids are kept as their text; an empty id gets the hash.
  EXPECT_EQ(ParseEvent(R"({"id":1234})").id, "1234");
  EXPECT_EQ(ParseEvent(R"({"id":""})").id.substr(0, 2), "h-");
}

TEST(EventParserTest, LabelsAreTextValuesAreNumbers) {
  Event ev = ParseEvent(
      R"({"labels":{"n":90,"f":1.5,"b":true,"s":"x","z":null},"values":{"v":90,"w":-2.5e3,"q":null}})");
  EXPECT_EQ(*ev.Label("n"), "90");
  EXPECT_EQ(*ev.Label("f"), "1.5");
  EXPECT_EQ(*ev.Label("b"), "true");
  EXPECT_EQ(*ev.Label("s"), "x");
  EXPECT_EQ(ev.Label("z"), nullptr);
  EXPECT_EQ(ev.Value("v"), 90.0);
  EXPECT_EQ(ev.Value("w"), -2500.0);
  EXPECT_FALSE(ev.Value("q").has_value());

  FieldValue l = ev.Get(Path("labels.n"));
  EXPECT_EQ(l.kind(), FieldValue::Kind::kText);
  EXPECT_EQ(l.text(), "90");
  EXPECT_EQ(l.number(), 90.0);  // text that is a number still has a numeric form
  FieldValue v = ev.Get(Path("values.w"));
  EXPECT_TRUE(v.is_number());
  EXPECT_EQ(v.text(), "-2500");
  EXPECT_EQ(v.number(), -2500.0);
  // A bare name prefers the label, then the value.
  Event both = ParseEvent(R"({"labels":{"x":"lbl"},"values":{"x":1,"y":2}})");
  EXPECT_EQ(both.Get(Path("x")).text(), "lbl");
  EXPECT_EQ(both.Get(Path("y")).number(), 2.0);
  EXPECT_TRUE(both.Get(Path("zz")).missing());
  EXPECT_TRUE(both.Get(Path("labels.y")).missing());
  EXPECT_TRUE(both.Get(Path("values.x")).is_number());
}

TEST(EventParserTest, BuiltInFieldsResolve) {
  Event ev = ParseEvent(R"({"id":"e9","ts":1764000000,"source":"s","message":"m"})");
  EXPECT_EQ(ev.Get(Path("id")).text(), "e9");
  EXPECT_EQ(ev.Get(Path("source")).text(), "s");
  EXPECT_EQ(ev.Get(Path("message")).text(), "m");
  // An event without a message or source has none: missing, not empty text.
  Event bare = ParseEvent(R"({"labels":{"a":"b"}})");
  EXPECT_TRUE(bare.Get(Path("message")).missing());
  EXPECT_TRUE(bare.Get(Path("source")).missing());
  EXPECT_FALSE(bare.Get(Path("id")).missing());
  FieldValue ts = ev.Get(Path("timestamp"));
  EXPECT_TRUE(ts.is_number());
  EXPECT_EQ(ts.number(), static_cast<double>(kT0));
}

TEST(EventParserTest, PayloadPaths) {
  Event ev = ParseEvent(
      R"({"payload":{"a":{"b":[10,"x",{"c":true}],"n":null,"o":{}},"k.d":"dot","e":2.5}})");
  EXPECT_EQ(ev.Get(Path("payload.a.b[0]")).number(), 10.0);
  EXPECT_TRUE(ev.Get(Path("payload.a.b[0]")).is_number());
  EXPECT_EQ(ev.Get(Path("payload.a.b[1]")).text(), "x");
  EXPECT_EQ(ev.Get(Path("payload.a.b[2].c")).text(), "true");
  EXPECT_EQ(ev.Get(Path("payload[\"k.d\"]")).text(), "dot");
  EXPECT_EQ(ev.Get(Path("payload.e")).text(), "2.5");
  // Objects and arrays are present with empty text; null is missing.
  FieldValue obj = ev.Get(Path("payload.a.o"));
  EXPECT_FALSE(obj.missing());
  EXPECT_EQ(obj.text(), "");
  EXPECT_TRUE(ev.Get(Path("payload.a.n")).missing());
  // Missing paths of every shape.
  for (const char* p : {"payload.zz", "payload.a.b[3]", "payload.a.b.c", "payload.e[0]",
                        "payload.a.b[1].c", "payload.e.f"}) {
    EXPECT_TRUE(ev.Get(Path(p)).missing()) << p;
  }
}

TEST(EventParserTest, WholeObjectIsThePayloadWhenAbsent) {
  Event ev = ParseEvent(R"({"labels":{"a":"b"},"extra":{"deep":[1,2,3]}})");
  EXPECT_EQ(ev.Get(Path("payload.extra.deep[2]")).number(), 3.0);
  EXPECT_EQ(ev.Get(Path("payload.labels.a")).text(), "b");
}

TEST(EventParserTest, MalformedInputIsAnError) {
  struct Case {
    std::string json;
    const char* needle;
  } cases[] = {
      {"", "empty event"},
      {"  \r", "empty event"},
      {R"({"id":"x")", "malformed JSON"},
      {R"({"labels":{"a":"b"})", "malformed JSON"},
      {"not json", "malformed JSON"},
      {"[1,2,3]", "must be a JSON object"},
      {"\"str\"", "must be a JSON object"},
      {"42", "must be a JSON object"},
      {R"({"id":{"a":1}})", "id"},
      {R"({"id":null})", "id"},
      {R"({"timestamp":"yesterday"})", "timestamp"},
      {R"({"ts":"2026-11-24T10:00:00"})", "missing 'Z' or UTC offset"},
      {R"({"time":true})", "time"},
      {R"({"source":5})", "source"},
      {R"({"message":["a"]})", "message"},
      {R"({"labels":"a=b"})", "labels"},
      {R"({"labels":{"a":{"b":1}}})", "labels.a"},
      {R"({"labels":{"a":[1]}})", "labels.a"},
      {R"({"values":[1]})", "values"},
      {R"({"values":{"v":"high"}})", "values.v"},
      {R"({"values":{"v":true}})", "values.v"},
  };
  EventParser parser;
  for (const auto& c : cases) {
    Event ev;
    Status s = parser.Parse(c.json, 0, &ev);
    ASSERT_FALSE(s.ok()) << "accepted: " << c.json;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << c.json << " -> " << s.message();
  }
}

TEST(EventParserTest, DeepNestingIsHandled) {
  EventParser parser;
  Event ev;
  // Far deeper than the parser's depth limit: an error, not a stack overflow.
  std::string deep = R"({"payload":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  Status s = parser.Parse(deep, 0, &ev);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event nested deeper than 32 levels");
  // Under a raised cap, moderate nesting parses and its payload paths resolve.
  std::string ok =
      R"({"payload":{"a":)" + std::string(500, '[') + "7" + std::string(500, ']') + "}}";
  parser.set_limits(EventLimits{.max_depth = 502});
  ASSERT_TRUE(parser.Parse(ok, 0, &ev).ok());
  std::string path = "payload.a";
  for (int i = 0; i < 500; ++i) path += "[0]";
  EXPECT_EQ(ev.Get(testing::Path(path)).number(), 7.0);
  EXPECT_FALSE(parser.Parse(deep, 0, &ev).ok());
}

// {"<group>":{"k00000":"v","k00001":"v",...}}: `n` distinct keys, about 13 bytes each.
std::string ManyKeysEvent(const char* group, int n, const char* value = "\"v\"") {
  std::string json = std::string("{\"") + group + "\":{";
  char key[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(key, sizeof key, "\"k%05d\":", i);
    if (i > 0) json += ',';
    json += key;
    json += value;
  }
  json += "}}";
  return json;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 50,000 distinct labels fit in well under 1 MiB. Inserting them one by one with a scan for
// an existing key took seconds per event (quadratic); the default cap refuses them at once.
TEST(EventParserTest, TooManyLabelsIsRefusedQuicklyWithTheReason) {
  const std::string json = ManyKeysEvent("labels", 50000);
  ASSERT_LT(json.size(), EventParser::kMaxEventBytes);
  EventParser parser;
  Event ev;
  const auto start = std::chrono::steady_clock::now();
  Status s = parser.Parse(json, 0, &ev);
  EXPECT_LT(SecondsSince(start), 2.0);  // generous: it does not hang
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "labels: too many labels: 50000 (at most 1000)");
}

TEST(EventParserTest, TooManyValuesIsRefusedQuicklyWithTheReason) {
  const std::string json = ManyKeysEvent("values", 50000, "1");
  ASSERT_LT(json.size(), EventParser::kMaxEventBytes);
  EventParser parser;
  Event ev;
  const auto start = std::chrono::steady_clock::now();
  Status s = parser.Parse(json, 0, &ev);
  EXPECT_LT(SecondsSince(start), 2.0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "values: too many values: 50000 (at most 1000)");
}

TEST(EventParserTest, NestingDeeperThanTheCapIsRefusedWithTheReason) {
  // The event object is level 1, the payload object level 2: 2 + 30 arrays = 32 levels.
  const std::string at_cap =
      R"({"payload":{"a":)" + std::string(30, '[') + "7" + std::string(30, ']') + "}}";
  EventParser parser;
  Event ev;
  ASSERT_TRUE(parser.Parse(at_cap, 0, &ev).ok());
  const std::string deeper =
      R"({"payload":{"a":)" + std::string(31, '[') + "7" + std::string(31, ']') + "}}";
  Status s = parser.Parse(deeper, 0, &ev);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event nested deeper than 32 levels");
}

// Under a raised cap the same 50,000 labels are kept, each once, in input order, in about
// linear time (bench/event_bench.cc measures the rate from 100 labels to the cap).
TEST(EventParserTest, ManyLabelsUnderARaisedCapParseQuickly) {
  const std::string labels = ManyKeysEvent("labels", 50000);
  const std::string values = ManyKeysEvent("values", 50000, "2.5");
  EventParser parser(EventLimits{.max_labels = 50000, .max_values = 50000});
  Event ev;
  const auto start = std::chrono::steady_clock::now();
  Status s = parser.Parse(labels, 0, &ev);
  EXPECT_LT(SecondsSince(start), 2.0);  // generous: seconds per event before
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(ev.labels.size(), 50000u);
  EXPECT_EQ(ev.labels.front().first, "k00000");
  EXPECT_EQ(ev.labels.back().first, "k49999");
  EXPECT_EQ(*ev.Label("k31415"), "v");

  const auto start2 = std::chrono::steady_clock::now();
  s = parser.Parse(values, 0, &ev);
  EXPECT_LT(SecondsSince(start2), 2.0);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(ev.values.size(), 50000u);
  EXPECT_EQ(ev.Value("k27182"), 2.5);
}

// A key given twice keeps its first place and takes its last value, whether the labels are
// few (scanned) or many (sorted), in any order.
TEST(EventParserTest, RepeatedKeysKeepTheirFirstPlaceAndLastValue) {
  for (int n : {3, 16, 17, 200}) {
    // Keys in descending order (not sorted), each third one repeated later with value "b".
    std::string json = R"({"labels":{)";
    std::string vals = R"("values":{)";
    for (int i = n - 1; i >= 0; --i) {
      json += "\"k" + std::to_string(i) + "\":\"a\",";
      vals += "\"k" + std::to_string(i) + "\":1,";
    }
    for (int i = 0; i < n; i += 3) {
      json += "\"k" + std::to_string(i) + "\":\"b\",";
      vals += "\"k" + std::to_string(i) + "\":2,";
    }
    json += R"("":"empty","":"again"},)" + vals + R"("z":null}})";
    Event ev = testing::ParseEvent(json);
    ASSERT_EQ(ev.labels.size(), static_cast<size_t>(n) + 1) << n;
    ASSERT_EQ(ev.values.size(), static_cast<size_t>(n)) << n;
    for (int i = 0; i < n; ++i) {
      const size_t at = static_cast<size_t>(n - 1 - i);
      EXPECT_EQ(ev.labels[at].first, "k" + std::to_string(i)) << n;
      EXPECT_EQ(ev.labels[at].second, i % 3 == 0 ? "b" : "a") << n << " k" << i;
      EXPECT_EQ(ev.values[at].first, "k" + std::to_string(i)) << n;
      EXPECT_EQ(ev.values[at].second, i % 3 == 0 ? 2.0 : 1.0) << n << " k" << i;
    }
    EXPECT_EQ(ev.labels.back(), (std::pair<std::string, std::string>("", "again"))) << n;
  }
}

TEST(EventParserTest, InvalidUtf8IsRejected) {
  EventParser parser;
  Event ev;
  std::string json = "{\"message\":\"bad \xff\xfe byte\"}";
  Status s = parser.Parse(json, 0, &ev);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // Overlong encoding and a lone surrogate as raw bytes.
  EXPECT_FALSE(parser.Parse("{\"m\":\"\xc0\xaf\"}", 0, &ev).ok());
  EXPECT_FALSE(parser.Parse("{\"m\":\"\xed\xa0\x80\"}", 0, &ev).ok());
  // Valid multi-byte text is fine.
  ASSERT_TRUE(parser.Parse("{\"message\":\"caf\xc3\xa9 \xe2\x82\xac\"}", 0, &ev).ok());
  EXPECT_EQ(ev.message, "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(EventParserTest, OversizedEventIsRejectedWithAClearError) {
  std::string big = R"({"message":")";
  big.append(EventParser::kMaxEventBytes, 'x');
  big += "\"}";
  EventParser parser;
  Event ev;
  Status s = parser.Parse(big, 0, &ev);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("exceeds the limit of " + std::to_string(EventParser::kMaxEventBytes)),
            std::string::npos)
      << s.message();
  // Just under the limit is accepted.
  std::string ok = R"({"message":")";
  ok.append(EventParser::kMaxEventBytes - ok.size() - 2, 'y');
  ok += "\"}";
  ASSERT_EQ(ok.size(), EventParser::kMaxEventBytes);
  ASSERT_TRUE(parser.Parse(ok, 0, &ev).ok());
  EXPECT_EQ(ev.message.size(), EventParser::kMaxEventBytes - 14);
}

TEST(EventParserTest, ParserIsReusableAndClearsTheEvent) {
  EventParser parser;
  Event ev;
  ASSERT_TRUE(parser
                  .Parse(R"({"labels":{"a":"1"},"values":{"v":1},"message":"m",
      "payload":{"p":1}})",
                         0, &ev)
                  .ok());
  EXPECT_EQ(ev.Get(Path("payload.p")).number(), 1.0);
  ASSERT_TRUE(parser.Parse(R"({"labels":{"b":"2"},"payload":{"q":2}})", 0, &ev).ok());
  EXPECT_EQ(ev.Label("a"), nullptr);
  EXPECT_FALSE(ev.Value("v").has_value());
  EXPECT_EQ(ev.message, "");
  EXPECT_TRUE(ev.Get(Path("payload.p")).missing());  // the payload cache was dropped
  EXPECT_EQ(ev.Get(Path("payload.q")).number(), 2.0);
  // A failed parse leaves no stale fields behind.
  EXPECT_FALSE(parser.Parse("{", 0, &ev).ok());
  EXPECT_EQ(ev.Label("b"), nullptr);
}

TEST(EventTest, CopyDropsThePayloadCacheButKeepsThePayload) {
  Event ev = ParseEvent(R"({"payload":{"p":"one"}})");
  EXPECT_EQ(ev.Get(Path("payload.p")).text(), "one");
  Event copy = ev;
  copy.payload = R"({"p":"two"})";
  EXPECT_EQ(copy.Get(Path("payload.p")).text(), "two");
  Event assigned;
  assigned = ev;
  EXPECT_EQ(assigned.Get(Path("payload.p")).text(), "one");
  Event moved = std::move(copy);
  EXPECT_EQ(moved.Get(Path("payload.p")).text(), "two");
}

TEST(EventTest, SetLabelAndSetValueReplace) {
  Event ev;
  ev.SetLabel("a", "1");
  ev.SetLabel("a", "2");
  ev.SetValue("v", 1);
  ev.SetValue("v", 3);
  EXPECT_EQ(ev.labels.size(), 1u);
  EXPECT_EQ(*ev.Label("a"), "2");
  EXPECT_EQ(ev.values.size(), 1u);
  EXPECT_EQ(ev.Value("v"), 3.0);
}

TEST(FieldValueTest, NumbersFormatShortestAndSurviveCopies) {
  EXPECT_EQ(FieldValue::Number(90).text(), "90");
  EXPECT_EQ(FieldValue::Number(93.5).text(), "93.5");
  EXPECT_EQ(FieldValue::Number(0.1).text(), "0.1");
  EXPECT_EQ(FieldValue::Number(1e21).text(), "1e+21");
  FieldValue a = FieldValue::Number(12.25);
  FieldValue b;
  b = a;
  FieldValue c(a);
  a = FieldValue::Number(1);
  EXPECT_EQ(b.text(), "12.25");
  EXPECT_EQ(c.text(), "12.25");
  EXPECT_TRUE(FieldValue().missing());
  EXPECT_FALSE(FieldValue().number().has_value());
  EXPECT_FALSE(FieldValue::Text("abc").number().has_value());
  EXPECT_EQ(FieldValue::Text(" 7 ").number(), 7.0);
}

TEST(Rfc3339Test, ParsesForms) {
  EXPECT_EQ(*base::ParseRfc3339Millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*base::ParseRfc3339Millis("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(*base::ParseRfc3339Millis("1970-01-01T00:00:01.123456Z"), 1123);
  EXPECT_EQ(*base::ParseRfc3339Millis("1970-01-01 00:00:01.12z"), 1120);
  EXPECT_EQ(*base::ParseRfc3339Millis("1970-01-01t01:00:00+01:00"), 0);
  EXPECT_EQ(*base::ParseRfc3339Millis("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(*base::ParseRfc3339Millis("2000-02-29T12:00:00Z"), 951825600000);
  EXPECT_EQ(*base::ParseRfc3339Millis("1969-12-31T23:59:59.999Z"), -1);
  for (const char* bad :
       {"", "2026-11-24", "2026-11-24T10:00Z", "2026-13-01T00:00:00Z", "2026-11-24T24:00:00Z",
        "2026-11-24T10:00:00", "2026-11-24T10:00:00.Z", "2026-11-24T10:00:00+0100",
        "2026-11-24T10:00:00+01", "2026/11/24T10:00:00Z", "2026-11-24T10:00:00Zjunk",
        "2026-11-24T10:60:00Z", "2026-00-10T10:00:00Z"}) {
    auto r = base::ParseRfc3339Millis(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "' as " << (r.ok() ? *r : 0);
  }
}

TEST(Rfc3339Test, FormatsAndRoundTrips) {
  EXPECT_EQ(base::FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(base::FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(base::FormatRfc3339Millis(951825600123), "2000-02-29T12:00:00.123Z");
  std::string out = "x";
  base::AppendRfc3339Millis(kT0, &out);
  EXPECT_EQ(out, "x2025-11-24T16:00:00.000Z");
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{-86400000}, kT0, kT0 + 999,
                     int64_t{253402300799999}, int64_t{-62135596800000}, int64_t{951782400000},
                     int64_t{4102444800000}}) {
    const std::string s = base::FormatRfc3339Millis(ms);
    auto back = base::ParseRfc3339Millis(s);
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, ms) << s;
  }
  // Every millisecond step across a few day boundaries.
  for (int64_t ms = -3 * 86400000LL; ms < 3 * 86400000LL; ms += 3600000LL * 7 + 13) {
    EXPECT_EQ(*base::ParseRfc3339Millis(base::FormatRfc3339Millis(ms)), ms);
  }
}

// Regression: the default seed was 1469598103934665603 (a digit short of the FNV-1a 64-bit
// offset basis 14695981039346656037), so base::Fnv1a64 did not compute FNV-1a.
TEST(Fnv1aTest, StandardOffsetBasisRegression) {
  EXPECT_EQ(base::Fnv1a64(""), 14695981039346656037ULL);
  EXPECT_EQ(base::Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(base::Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_NE(base::Fnv1a64("a", 1), base::Fnv1a64("a"));
}

std::string Json(std::string_view s) {
  std::string out;
  base::AppendJsonString(s, &out);
  return out;
}

TEST(EventTest, SwapExchangesEverythingIncludingTheParsedPayload) {
  Event a = ParseEvent(R"({"id":"a","source":"s1","message":"m1","labels":{"x":"1"},)"
                       R"("values":{"v":1},"payload":{"p":"one"}})");
  Event b = ParseEvent(R"({"id":"b","labels":{"y":"2","z":"3"},"k":"whole"})");
  ASSERT_EQ(a.Get(Path("payload.p")).text(), "one");  // caches a's parsed payload
  swap(a, b);
  EXPECT_EQ(a.id, "b");
  EXPECT_EQ(a.labels.size(), 2u);
  EXPECT_TRUE(a.values.empty());
  EXPECT_TRUE(a.Get(Path("message")).missing());
  EXPECT_EQ(a.Get(Path("payload.k")).text(), "whole");  // the whole event is its payload
  EXPECT_TRUE(a.Get(Path("payload.p")).missing());
  EXPECT_EQ(b.id, "a");
  EXPECT_EQ(b.source, "s1");
  EXPECT_EQ(*b.Label("x"), "1");
  EXPECT_EQ(b.Value("v"), 1.0);
  EXPECT_EQ(b.Get(Path("payload.p")).text(), "one");
  EXPECT_TRUE(b.Get(Path("payload.k")).missing());
}

TEST(JsonStringTest, EscapesSpecials) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Json(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(Json(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(Json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Json("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
}

TEST(JsonStringTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Json("a\xff"
                 "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(Json("\xc3"), "\"\\ufffd\"");                                   // truncated sequence
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  // Whatever the bytes, the output parses as JSON and round-trips valid text.
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  all += "caf\xc3\xa9";
  const std::string out = Json(all);
  auto parsed = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << out;
  const std::string back = parsed.get<std::string>();
  EXPECT_EQ(back.substr(0, 128), all.substr(0, 128));
  EXPECT_TRUE(base::IsValidUtf8(back));
  EXPECT_EQ(back.substr(back.size() - 5), "caf\xc3\xa9");
}

TEST(Utf8Test, Validation) {
  EXPECT_TRUE(base::IsValidUtf8(""));
  EXPECT_TRUE(base::IsValidUtf8("ascii"));
  EXPECT_TRUE(base::IsValidUtf8("\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(base::IsValidUtf8("\x80"));
  EXPECT_EQ(base::FirstInvalidUtf8("ab\xe2\x82"), 2u);
  EXPECT_EQ(base::FirstInvalidUtf8("ok"), std::string_view::npos);
  EXPECT_EQ(base::FirstInvalidUtf8("\xc3\xa9\xff"), 2u);
}

}  // namespace
}  // namespace reflex::engine
