#include "reflex/engine/decision.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "reflex/base/utf8.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using testing::Ge;
using testing::MakeTable;
using testing::ParseEvent;

constexpr int64_t kNow = 1764000000123;  // 2025-11-24T16:00:00.123Z

std::shared_ptr<const CompiledRuleSet> Rules() {
  TableSpec disk = MakeTable("disk", {"alertname", "values.usage"}, HitPolicy::kCollect);
  RowSpec& crit = AddRow(&disk, "disk-crit", {Condition::Equals("DiskFull"), Ge(95)},
                         {Action("cleanup", {{"host", "{{labels.instance}}"},
                                             {"mount", "{{labels.mount | default(\"/\")}}"}}),
                          Action("page", {{"team", "{{labels.team}}"}})});
  crit.runbook = "https://runbooks.example/disk#crit";
  AddRow(&disk, "disk-any", {Condition::Equals("DiskFull"), Condition::Any()},
         {Action(kEscalateAction)});
  TableSpec noise = MakeTable("noise", {"alertname"});
  AddRow(&noise, "watchdog", {Condition::Equals("Watchdog")}, {Action(kIgnoreAction)});
  auto rs = CompiledRuleSet::Create({disk, noise}, {}, "v-1a2b\"3c");
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

nlohmann::json Decide(const CompiledRuleSet& rs, const Event& ev, std::string* raw = nullptr) {
  MatchScratch scratch;
  MatchResult m;
  rs.Match(ev, &scratch, &m);
  std::string out = "prefix:";
  AppendDecisionJson(rs, ev, m, kNow, &out);
  EXPECT_EQ(out.substr(0, 7), "prefix:");  // appends, does not overwrite
  out.erase(0, 7);
  EXPECT_EQ(out.find('\n'), std::string::npos) << "one line per decision";
  if (raw) *raw = out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  return j;
}

TEST(DecisionJsonTest, KnownDecisionHasEveryField) {
  auto rs = Rules();
  Event ev = ParseEvent(R"({"id":"e1","timestamp":"2026-11-24T10:00:00Z","source":"prometheus",
      "labels":{"alertname":"DiskFull","instance":"web1","team":"storage"},
      "values":{"usage":97}})");
  auto j = Decide(*rs, ev);
  EXPECT_EQ(j["event_id"], "e1");
  EXPECT_EQ(j["event_time"], "2026-11-24T10:00:00.000Z");
  EXPECT_EQ(j["decided_at"], "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["ruleset"], "v-1a2b\"3c");
  EXPECT_EQ(j["source"], "prometheus");
  ASSERT_EQ(j["matches"].size(), 2u);
  const auto& m0 = j["matches"][0];
  EXPECT_EQ(m0["table"], "disk");
  EXPECT_EQ(m0["row"], "disk-crit");
  EXPECT_EQ(m0["file"], "tables/disk.csv");
  EXPECT_EQ(m0["line"], 2);
  EXPECT_EQ(m0["runbook"], "https://runbooks.example/disk#crit");
  ASSERT_EQ(m0["actions"].size(), 2u);
  EXPECT_EQ(m0["actions"][0],
            nlohmann::json::parse(R"({"name":"cleanup","params":{"host":"web1","mount":"/"}})"));
  EXPECT_EQ(m0["actions"][1],
            nlohmann::json::parse(R"({"name":"page","params":{"team":"storage"}})"));
  const auto& m1 = j["matches"][1];
  EXPECT_EQ(m1["row"], "disk-any");
  EXPECT_EQ(m1["line"], 3);
  EXPECT_FALSE(m1.contains("runbook"));
  EXPECT_EQ(m1["actions"], nlohmann::json::parse(R"([{"name":"escalate","params":{}}])"));
  // Key order is fixed: event_id first, matches last (checked on the text, since
  // nlohmann::json sorts keys).
  std::string raw;
  Decide(*rs, ev, &raw);
  EXPECT_EQ(raw.rfind("{\"event_id\":\"e1\",\"event_time\":", 0), 0u) << raw;
  EXPECT_LT(raw.find("\"verdict\""), raw.find("\"matches\""));
}

TEST(DecisionJsonTest, DecisionTimeFollowsEveryCall) {
  // Each decision carries the time it was given, whatever came before.
  auto rs = Rules();
  Event ev = ParseEvent(R"({"labels":{"alertname":"Watchdog"}})", kNow);
  MatchScratch scratch;
  MatchResult m;
  rs->Match(ev, &scratch, &m);
  auto decided_at = [&](int64_t now) {
    std::string out;
    AppendDecisionJson(*rs, ev, m, now, &out);
    return nlohmann::json::parse(out)["decided_at"].get<std::string>();
  };
  EXPECT_EQ(decided_at(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(decided_at(kNow), "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(decided_at(kNow), "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(decided_at(kNow + 1), "2025-11-24T16:00:00.124Z");
  EXPECT_EQ(decided_at(0), "1970-01-01T00:00:00.000Z");
}

TEST(DecisionJsonTest, SuppressedAndUnknown) {
  auto rs = Rules();
  auto sup = Decide(*rs, ParseEvent(R"({"id":"w","labels":{"alertname":"Watchdog"}})"));
  EXPECT_EQ(sup["verdict"], "suppressed");
  ASSERT_EQ(sup["matches"].size(), 1u);
  EXPECT_EQ(sup["matches"][0]["table"], "noise");
  EXPECT_EQ(sup["matches"][0]["actions"][0]["name"], "ignore");
  EXPECT_FALSE(sup.contains("source"));  // no source: no key

  auto unk = Decide(*rs, ParseEvent(R"({"id":"u","ts":0,"labels":{"alertname":"Other"}})"));
  EXPECT_EQ(unk["verdict"], "unknown");
  EXPECT_TRUE(unk["matches"].is_array());
  EXPECT_TRUE(unk["matches"].empty());
  EXPECT_EQ(unk["event_time"], "1970-01-01T00:00:00.000Z");
}

TEST(DecisionJsonTest, ActionsUnderASuppressedVerdictAreMarkedNotRun) {
  // A DiskFull alert that a (collect) row silences: the disk rows still match, but nothing runs.
  TableSpec disk = MakeTable("disk", {"alertname"});
  AddRow(&disk, "disk", {Condition::Equals("DiskFull")}, {Action("cleanup")});
  TableSpec maint = MakeTable("maint", {"alertname"});
  AddRow(&maint, "quiet", {Condition::Equals("DiskFull")}, {Action(kIgnoreAction)});
  auto rs = CompiledRuleSet::Create({disk, maint}, {}, "v");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  auto j = Decide(**rs, ParseEvent(R"({"id":"d","labels":{"alertname":"DiskFull"}})"));
  EXPECT_EQ(j["verdict"], "suppressed");
  ASSERT_EQ(j["matches"].size(), 2u) << j.dump();
  EXPECT_EQ(j["matches"][0]["row"], "disk");
  EXPECT_EQ(j["matches"][0]["not_run"], std::string(kNotRunSuppressed));
  EXPECT_EQ(j["matches"][0]["actions"][0]["name"], "cleanup") << "still shown, marked not run";
  EXPECT_FALSE(j["matches"][1].contains("not_run")) << "the ignore row itself ran nothing";
}

TEST(DecisionJsonTest, AResolvedEventRunsOnlyRowsThatHandleResolutions) {
  TableSpec disk = MakeTable("disk", {"alertname", "status"});
  AddRow(&disk, "clean", {Condition::Equals("DiskFull"), Condition::Any()}, {Action("cleanup")});
  TableSpec close = MakeTable("close", {"alertname", "labels.status"});
  AddRow(&close, "ticket", {Condition::Equals("DiskFull"), Condition::Equals("resolved")},
         {Action("close_ticket")});
  auto rs = CompiledRuleSet::Create({disk, close}, {}, "v");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  auto firing =
      Decide(**rs, ParseEvent(R"({"id":"f","labels":{"alertname":"DiskFull","status":"firing"}})"));
  ASSERT_EQ(firing["matches"].size(), 1u);
  EXPECT_FALSE(firing["matches"][0].contains("not_run")) << firing.dump();
  auto resolved = Decide(
      **rs, ParseEvent(R"({"id":"r","labels":{"alertname":"DiskFull","status":"resolved"}})"));
  EXPECT_EQ(resolved["verdict"], "known");
  ASSERT_EQ(resolved["matches"].size(), 2u) << resolved.dump();
  EXPECT_EQ(resolved["matches"][0]["row"], "clean");
  EXPECT_EQ(resolved["matches"][0]["not_run"], std::string(kNotRunResolved))
      << "a blank status cell does not take on resolutions";
  EXPECT_EQ(resolved["matches"][1]["row"], "ticket");
  EXPECT_FALSE(resolved["matches"][1].contains("not_run")) << "it says status = resolved";
  // No status label at all is not a resolution.
  auto plain = Decide(**rs, ParseEvent(R"({"id":"p","labels":{"alertname":"DiskFull"}})"));
  EXPECT_FALSE(plain["matches"][0].contains("not_run")) << plain.dump();
}

TEST(DecisionJsonTest, EscapesEventTextAndRenderedParams) {
  auto rs = Rules();
  Event ev;
  ev.id = "id\"with\\quotes\n";
  ev.source = "src\x01";
  ev.time_ms = 0;
  ev.SetLabel("alertname", "DiskFull");
  ev.SetLabel("instance", "web1\"; rm -rf /\xff");
  ev.SetValue("usage", 99);
  std::string raw;
  auto j = Decide(*rs, ev, &raw);
  EXPECT_EQ(j["event_id"], "id\"with\\quotes\n");
  EXPECT_EQ(j["source"], "src\x01");
  // Invalid UTF-8 in a rendered parameter becomes U+FFFD; the line stays valid JSON.
  EXPECT_EQ(j["matches"][0]["actions"][0]["params"]["host"], "web1\"; rm -rf /\xef\xbf\xbd");
  EXPECT_TRUE(base::IsValidUtf8(raw));
}

}  // namespace
}  // namespace reflex::engine
