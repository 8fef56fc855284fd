#include "reflex/engine/pipeline.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "reflex/engine/clock.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using testing::Ge;
using testing::MakeTable;
using testing::Path;

std::shared_ptr<const CompiledRuleSet> Rules(std::string version = "v1") {
  LabelingSpec labeling;
  ExtractRule mount;
  mount.name = "mount";
  mount.from = Path("message");
  mount.pattern = R"(on (?P<mountpoint>/\S*))";
  labeling.extract.push_back(mount);
  LookupTable inv;
  inv.name = "inventory";
  inv.key = Path("labels.instance");
  inv.columns = {"team", "env"};
  inv.rows["web1"] = {"web", "prod"};
  inv.rows["dev1"] = {"web", "dev"};
  labeling.lookups.push_back(inv);

  TableSpec disk = MakeTable("disk", {"alertname", "mountpoint", "values.usage", "env"});
  AddRow(
      &disk, "dev-quiet",
      {Condition::Equals("DiskFull"), Condition::Any(), Condition::Any(), Condition::Equals("dev")},
      {Action(kIgnoreAction)});
  RowSpec& var =
      AddRow(&disk, "var-full",
             {Condition::Equals("DiskFull"), Condition::Prefix({"/var"}), Ge(90), Condition::Any()},
             {Action("cleanup", {{"host", "{{labels.instance}}"},
                                 {"path", "{{mountpoint}}"},
                                 {"team", "{{team | default(\"ops\")}}"}})});
  var.runbook = "rb://disk/var";
  auto rs = CompiledRuleSet::Create({disk}, std::move(labeling), std::move(version));
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

TEST(PipelineTest, LabelsMatchesAndWritesTheDecision) {
  ManualClock clock(1764000000000);
  Pipeline p(Rules());
  std::string out;
  ASSERT_TRUE(p.Process(R"({"id":"e1","source":"prom","message":"disk full on /var/log",
      "labels":{"alertname":"DiskFull","instance":"web1"},"values":{"usage":95}})",
                        clock.NowMillis(), &out)
                  .ok());
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["event_id"], "e1");
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["ruleset"], "v1");
  EXPECT_EQ(j["source"], "prom");
  // No timestamp in the event: now stands in for it.
  EXPECT_EQ(j["event_time"], "2025-11-24T16:00:00.000Z");
  EXPECT_EQ(j["decided_at"], "2025-11-24T16:00:00.000Z");
  ASSERT_EQ(j["matches"].size(), 1u);
  EXPECT_EQ(j["matches"][0]["row"], "var-full");
  EXPECT_EQ(j["matches"][0]["line"], 3);
  EXPECT_EQ(j["matches"][0]["runbook"], "rb://disk/var");
  EXPECT_EQ(j["matches"][0]["actions"][0]["params"],
            nlohmann::json::parse(R"({"host":"web1","path":"/var/log","team":"web"})"));
  // The labeled event and the result stay inspectable.
  EXPECT_EQ(*p.event().Label("mountpoint"), "/var/log");
  EXPECT_EQ(*p.event().Label("env"), "prod");
  EXPECT_EQ(p.result().verdict, Verdict::kKnown);
}

TEST(PipelineTest, VerdictsAcrossEventsAndAppending) {
  ManualClock clock(1000);
  Pipeline p(Rules());
  std::string out;
  ASSERT_TRUE(p.Process(R"({"id":"a","labels":{"alertname":"DiskFull","instance":"dev1"}})",
                        clock.NowMillis(), &out)
                  .ok());
  out.push_back('\n');
  clock.Advance(500);
  ASSERT_TRUE(
      p.Process(R"({"id":"b","labels":{"alertname":"CPU"}})", clock.NowMillis(), &out).ok());
  out.push_back('\n');
  ASSERT_TRUE(p.Process(R"({"id":"c","message":"on /var","labels":{"alertname":"DiskFull",
      "instance":"db9"},"values":{"usage":"91"}})",
                        clock.NowMillis(), &out)
                  .ok());
  std::vector<nlohmann::json> lines;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    lines.push_back(nlohmann::json::parse(out.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["verdict"], "suppressed");
  EXPECT_EQ(lines[0]["matches"][0]["row"], "dev-quiet");
  EXPECT_EQ(lines[1]["verdict"], "unknown");
  EXPECT_EQ(lines[1]["decided_at"], "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(lines[2]["verdict"], "known");
  EXPECT_EQ(lines[2]["matches"][0]["actions"][0]["params"]["team"], "ops");  // no inventory row
  // Labels from an earlier event do not leak into a later one.
  EXPECT_EQ(p.event().Label("env"), nullptr);
}

TEST(PipelineTest, MalformedInputIsAnErrorNotACrash) {
  Pipeline p(Rules());
  const std::string inputs[] = {
      "",
      "{",
      "null",
      "[]",
      R"({"labels":{"alertname":["x"]}})",
      R"({"values":{"usage":"lots"}})",
      R"({"ts":"not a time"})",
      std::string("{\"message\":\"\xff\"}"),
      std::string("{\"id\":\"a\0b\"}", 12),
      std::string(EventParser::kMaxEventBytes + 1, ' '),
      R"({"labels":{"alertname":"DiskFull"})",
  };
  for (const std::string& in : inputs) {
    std::string out = "untouched";
    Status s = p.Process(in, 0, &out);
    EXPECT_FALSE(s.ok()) << in.substr(0, 80);
    EXPECT_EQ(out, "untouched") << "nothing is appended on error";
  }
  // The pipeline still works afterwards.
  std::string out;
  ASSERT_TRUE(p.Process(R"({"labels":{"alertname":"CPU"}})", 0, &out).ok());
  EXPECT_NE(out.find("\"verdict\":\"unknown\""), std::string::npos);
}

// Regression: Process parsed straight into the pipeline's event, so a failed Process left
// event() cleared or half-filled while result() still described the previous event,
// contrary to "the event and match of the last successful Process".
TEST(PipelineTest, FailedProcessKeepsTheLastSuccessfulEventRegression) {
  Pipeline p(Rules());
  ASSERT_TRUE(
      p.Process(R"({"id":"good","labels":{"alertname":"DiskFull","instance":"dev1"}})", 0, nullptr)
          .ok());
  ASSERT_EQ(p.result().verdict, Verdict::kSuppressed);
  // Fails after the labels were read.
  EXPECT_FALSE(
      p.Process(R"({"id":"bad","labels":{"alertname":"CPU"},"values":{"v":"x"}})", 0, nullptr)
          .ok());
  EXPECT_EQ(p.event().id, "good");
  ASSERT_NE(p.event().Label("alertname"), nullptr);
  EXPECT_EQ(*p.event().Label("alertname"), "DiskFull");
  EXPECT_EQ(*p.event().Label("env"), "dev");
  EXPECT_EQ(p.result().verdict, Verdict::kSuppressed);
  // And the next success replaces both.
  ASSERT_TRUE(p.Process(R"({"id":"next","labels":{"alertname":"CPU"}})", 0, nullptr).ok());
  EXPECT_EQ(p.event().id, "next");
  EXPECT_EQ(p.event().Label("env"), nullptr);
  EXPECT_EQ(p.result().verdict, Verdict::kUnknown);
}

TEST(PipelineTest, NullOutputAndSwappingRules) {
  Pipeline p(Rules("v1"));
  ASSERT_TRUE(
      p.Process(R"({"labels":{"alertname":"DiskFull","instance":"dev1"}})", 0, nullptr).ok());
  EXPECT_EQ(p.result().verdict, Verdict::kSuppressed);
  p.SetRules(Rules("v2"));
  EXPECT_EQ(p.rules()->version(), "v2");
  std::string out;
  ASSERT_TRUE(p.Process(R"({"labels":{"alertname":"X"}})", 0, &out).ok());
  EXPECT_EQ(nlohmann::json::parse(out)["ruleset"], "v2");
}

TEST(PipelineTest, ManyEventsThroughOnePipelineMatchTheReference) {
  auto rs = Rules();
  Pipeline p(rs);
  EventParser parser;
  const char* alerts[] = {"DiskFull", "CPU", "diskfull"};
  const char* instances[] = {"web1", "dev1", "db1"};
  const char* mounts[] = {"/var", "/var/lib", "/home", ""};
  int n = 0;
  for (const char* a : alerts) {
    for (const char* i : instances) {
      for (const char* m : mounts) {
        for (int usage : {50, 90, 99}) {
          const std::string json = std::string(R"({"message":"full on )") + m +
                                   R"(","labels":{"alertname":")" + a + R"(","instance":")" + i +
                                   R"("},"values":{"usage":)" + std::to_string(usage) + "}}";
          ASSERT_TRUE(p.Process(json, 0, nullptr).ok()) << json;
          Event ev;
          ASSERT_TRUE(parser.Parse(json, 0, &ev).ok());
          rs->Label(&ev);
          MatchResult want;
          ReferenceMatch(rs->tables(), ev, &want);
          EXPECT_EQ(p.result().matches, want.matches) << json;
          EXPECT_EQ(p.result().verdict, want.verdict) << json;
          ++n;
        }
      }
    }
  }
  EXPECT_EQ(n, 108);
}

}  // namespace
}  // namespace reflex::engine
