#include "reflex/engine/replay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using ::testing::ElementsAre;
using testing::Ge;
using ::testing::IsEmpty;
using testing::MakeTable;

using Line = Replayer::Line;

// disk (first): disk-crit (usage >= 90) runs cleanup; disk-warn is suppressed.
std::shared_ptr<const CompiledRuleSet> Rules() {
  TableSpec disk = MakeTable("disk", {"alertname", "severity", "values.usage"});
  AddRow(&disk, "disk-crit", {Condition::Equals("DiskFull"), Condition::Equals("critical"), Ge(90)},
         {Action("cleanup")});
  AddRow(&disk, "disk-warn",
         {Condition::Equals("DiskFull"), Condition::Equals("warning"), Condition::Any()},
         {Action(kIgnoreAction)});
  auto rs = CompiledRuleSet::Create({disk}, LabelingSpec{}, "v1");
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

constexpr const char* kCrit =
    R"({"id":"c","labels":{"alertname":"DiskFull","severity":"critical"},"values":{"usage":95}})";
constexpr const char* kWarn =
    R"({"id":"w","labels":{"alertname":"DiskFull","severity":"warning"}})";

TEST(ReplayTest, DecidesEachLineWithTheClockTime) {
  ManualClock clock(1795523400000);  // 2026-11-24T12:30:00Z
  Replayer replay(Rules(), clock, "events.jsonl");
  std::string decision;
  EXPECT_EQ(replay.Feed(std::string(kCrit) + "\r", &decision, nullptr), Line::kDecided);
  const auto j = nlohmann::json::parse(decision, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << decision;
  EXPECT_EQ(j["event_id"], "c");
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["decided_at"], "2026-11-24T12:30:00.000Z");
  EXPECT_EQ(j["matches"][0]["row"], "disk-crit");

  // Without an output the line is still decided and counted.
  EXPECT_EQ(replay.Feed(kWarn, nullptr, nullptr), Line::kDecided);
  EXPECT_EQ(replay.decided(), 2u);
  EXPECT_EQ(replay.verdicts(Verdict::kKnown), 1u);
  EXPECT_EQ(replay.verdicts(Verdict::kSuppressed), 1u);
  EXPECT_EQ(replay.verdicts(Verdict::kUnknown), 0u);
}

TEST(ReplayTest, BlankLinesAreSkippedButNumbered) {
  ManualClock clock(0);
  Replayer replay(Rules(), clock, "in");
  std::string decision, record;
  EXPECT_EQ(replay.Feed("", &decision, &record), Line::kBlank);
  EXPECT_EQ(replay.Feed(" \t\r", &decision, &record), Line::kBlank);
  EXPECT_EQ(decision, "");
  EXPECT_EQ(record, "");
  EXPECT_EQ(replay.Feed("[1]", &decision, &record), Line::kMalformed);
  EXPECT_EQ(decision, "") << "a malformed line has no decision";
  EXPECT_EQ(nlohmann::json::parse(record)["line"], 3) << "blank lines keep their numbers";
  EXPECT_EQ(replay.lines(), 3u);
  EXPECT_EQ(replay.decided(), 0u);
  EXPECT_EQ(replay.malformed(), 1u);
}

TEST(ReplayTest, MalformedLinesGetADeadLetterRecordWithTheReasonAndTheBytes) {
  ManualClock clock(0);
  Replayer replay(Rules(), clock, "events.jsonl");
  std::string record;
  EXPECT_EQ(replay.Feed(kCrit, nullptr, &record), Line::kDecided);
  EXPECT_EQ(record, "");
  EXPECT_EQ(replay.Feed("{\"id\":", nullptr, &record), Line::kMalformed);
  const auto j = nlohmann::json::parse(record);
  EXPECT_EQ(j["file"], "events.jsonl");
  EXPECT_EQ(j["line"], 2);
  EXPECT_THAT(j["reason"].get<std::string>(), ::testing::StartsWith("malformed JSON: "));
  EXPECT_EQ(j["raw"], "{\"id\":");
  EXPECT_FALSE(j.contains("raw_base64"));
  EXPECT_EQ(replay.malformed(), 1u);
  EXPECT_EQ(replay.decided(), 1u);
}

TEST(ReplayTest, DeadLetterRecordKeepsInvalidUtf8AsBase64) {
  EXPECT_EQ(DeadLetterRecord("f", 7, "bad", "ok \"q\""),
            R"({"file":"f","line":7,"reason":"bad","raw":"ok \"q\""})");
  // 0xff 0xfe is not UTF-8; base64 "//4=".
  EXPECT_EQ(DeadLetterRecord("-", 1, "why", "\xff\xfe"),
            R"({"file":"-","line":1,"reason":"why","raw_base64":"//4="})");
  EXPECT_EQ(DeadLetterRecord("-", 2, "why", "a\xff"),
            R"({"file":"-","line":2,"reason":"why","raw_base64":"Yf8="})");
  EXPECT_EQ(DeadLetterRecord("-", 3, "why", "ab\xff"),
            R"({"file":"-","line":3,"reason":"why","raw_base64":"YWL/"})");
}

TEST(ReplayTest, TalliesTopRowsAndUnknownShapes) {
  ManualClock clock(0);
  Replayer replay(Rules(), clock, "in");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(replay.Feed(kWarn, nullptr, nullptr), Line::kDecided);
  ASSERT_EQ(replay.Feed(kCrit, nullptr, nullptr), Line::kDecided);
  // Unknown: two of one shape (label order does not matter), one of another, one without
  // an alertname.
  ASSERT_EQ(replay.Feed(R"({"labels":{"alertname":"Mystery","b":"1","a":"2"}})", nullptr, nullptr),
            Line::kDecided);
  ASSERT_EQ(replay.Feed(R"({"labels":{"a":"3","alertname":"Mystery","b":"4"}})", nullptr, nullptr),
            Line::kDecided);
  ASSERT_EQ(replay.Feed(R"({"labels":{"alertname":"Other"}})", nullptr, nullptr), Line::kDecided);
  ASSERT_EQ(replay.Feed(R"({"labels":{"host":"h"}})", nullptr, nullptr), Line::kDecided);
  EXPECT_EQ(replay.verdicts(Verdict::kUnknown), 4u);

  EXPECT_THAT(replay.TopRows(10),
              ElementsAre(NamedCount{"disk/disk-warn", 3}, NamedCount{"disk/disk-crit", 1}));
  EXPECT_THAT(replay.TopRows(1), ElementsAre(NamedCount{"disk/disk-warn", 3}));
  EXPECT_THAT(replay.UnknownShapes(10), ElementsAre(NamedCount{"Mystery {a,alertname,b}", 2},
                                                    NamedCount{"(no alertname) {host}", 1},
                                                    NamedCount{"Other {alertname}", 1}));
  EXPECT_THAT(replay.UnknownShapes(0), IsEmpty());
}

}  // namespace
}  // namespace reflex::engine
