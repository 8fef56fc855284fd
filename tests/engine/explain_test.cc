#include "reflex/engine/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using ::testing::ElementsAre;
using testing::Ge;
using ::testing::IsEmpty;
using testing::MakeTable;
using testing::ParseEvent;
using testing::Path;

using Kind = ObservedValue::Kind;

// disk (first): alertname, severity, values.usage; rows on lines 2, 3, 4.
// night (collect): alertname, timestamp; one row on line 2.
// Labeling extracts `mount` from the message.
std::shared_ptr<const CompiledRuleSet> Rules() {
  TableSpec disk = MakeTable("disk", {"alertname", "severity", "values.usage"});
  RowSpec& crit =
      AddRow(&disk, "disk-crit",
             {Condition::Equals("NodeFilesystemFull"), Condition::Equals("critical"), Ge(90)},
             {Action("cleanup")});
  crit.condition_where = {{disk.file, 2, 11}, {disk.file, 2, 30}, {disk.file, 2, 39}};
  AddRow(&disk, "disk-warn",
         {Condition::Equals("NodeFilesystemFull"), Condition::Equals("warning"), Condition::Any()},
         {Action(kIgnoreAction)});
  AddRow(&disk, "disk-huge", {Condition::Equals("NodeFilesystemFull"), Condition::Any(), Ge(99)},
         {Action("page")});

  TableSpec night = MakeTable("night", {"alertname", "timestamp"}, HitPolicy::kCollect);
  AddRow(&night, "backup-window",
         {Condition::Equals("Backup"), Condition::TimeOfDay({{22 * 60, 6 * 60}}, 0)},
         {Action(kIgnoreAction)});

  LabelingSpec labeling;
  ExtractRule mount;
  mount.name = "mount";
  mount.from = Path("message");
  mount.pattern = R"(on (?P<mount>/\S*))";
  labeling.extract.push_back(mount);

  auto rs = CompiledRuleSet::Create({disk, night}, std::move(labeling), "v-test");
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

std::vector<std::string> MissRows(const TableExplanation& t) {
  std::vector<std::string> rows;
  for (const auto& m : t.near_misses) rows.push_back(m.row);
  return rows;
}

TEST(ExplainTest, NamesTheDecidingRowAmongTheMatchingRows) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e1","labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":99.5}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_EQ(e.verdict, Verdict::kKnown);
  EXPECT_EQ(e.ruleset, "v-test");
  ASSERT_EQ(e.tables.size(), 2u);
  const TableExplanation& disk = e.tables[0];
  EXPECT_EQ(disk.table, "disk");
  EXPECT_EQ(disk.file, "tables/disk.csv");
  EXPECT_EQ(disk.hit_policy, HitPolicy::kFirst);
  // Both rows hold; hit policy `first` lets the first one decide.
  EXPECT_THAT(disk.matching_rows, ElementsAre("disk-crit", "disk-huge"));
  EXPECT_THAT(disk.selected, ElementsAre("disk-crit"));
  EXPECT_THAT(MissRows(disk), ElementsAre("disk-warn"));
  EXPECT_THAT(e.tables[1].selected, IsEmpty());
  EXPECT_THAT(e.tables[1].matching_rows, IsEmpty());
}

TEST(ExplainTest, SuppressingRowGivesTheSuppressedVerdict) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"warning"},"values":{"usage":10}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_EQ(e.verdict, Verdict::kSuppressed);
  EXPECT_THAT(e.tables[0].selected, ElementsAre("disk-warn"));
}

TEST(ExplainTest, NearMissNamesTheFailingCellAndWhatTheEventHad) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e2","labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":50}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_EQ(e.verdict, Verdict::kUnknown);
  const TableExplanation& disk = e.tables[0];
  EXPECT_THAT(disk.selected, IsEmpty());
  EXPECT_THAT(disk.matching_rows, IsEmpty());
  // One failed cell each: file order.
  ASSERT_THAT(MissRows(disk), ElementsAre("disk-crit", "disk-warn", "disk-huge"));

  const NearMiss& crit = disk.near_misses[0];
  EXPECT_EQ(crit.line, 2);
  ASSERT_EQ(crit.failed.size(), 1u);
  const FailedCell& usage = crit.failed[0];
  EXPECT_EQ(usage.field, "values.usage");
  EXPECT_EQ(usage.condition, ">= 90");
  EXPECT_EQ(usage.cell_line, 2);
  EXPECT_EQ(usage.cell_column, 39);
  EXPECT_EQ(usage.actual.kind, Kind::kNumber);
  EXPECT_EQ(usage.actual.number, 50);

  const NearMiss& warn = disk.near_misses[1];
  EXPECT_EQ(warn.line, 3);
  ASSERT_EQ(warn.failed.size(), 1u);
  EXPECT_EQ(warn.failed[0].field, "severity");
  EXPECT_EQ(warn.failed[0].condition, "= warning");
  EXPECT_EQ(warn.failed[0].cell_column, 0) << "no cell position recorded for this row";
  EXPECT_EQ(warn.failed[0].actual.kind, Kind::kText);
  EXPECT_EQ(warn.failed[0].actual.text, "critical");
}

TEST(ExplainTest, NearMissesFewestFailedCellsFirstAndLimited) {
  auto rs = Rules();
  // disk-crit fails 3 cells (alertname, severity, usage), disk-warn 1, disk-huge 2.
  Event ev =
      ParseEvent(R"({"labels":{"alertname":"Other","severity":"warning"},"values":{"usage":50}})");
  Explanation all = Explain(*rs, ev, {.near_misses = 10});
  EXPECT_THAT(MissRows(all.tables[0]), ElementsAre("disk-warn", "disk-huge", "disk-crit"));
  EXPECT_EQ(all.tables[0].near_misses[2].failed.size(), 3u);

  Explanation one = Explain(*rs, ev, {.near_misses = 1});
  EXPECT_THAT(MissRows(one.tables[0]), ElementsAre("disk-warn"));
  Explanation none = Explain(*rs, ev, {.near_misses = 0});
  EXPECT_THAT(none.tables[0].near_misses, IsEmpty());
}

TEST(ExplainTest, MissingFieldAndTimestampsAreReportedAsSuch) {
  auto rs = Rules();
  Event ev = ParseEvent(R"({"timestamp":"2026-11-24T12:30:00Z","labels":{"alertname":"Backup"}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_EQ(e.verdict, Verdict::kUnknown);
  // disk-warn and disk-huge fail two cells each, disk-crit three.
  ASSERT_THAT(MissRows(e.tables[0]), ElementsAre("disk-warn", "disk-huge", "disk-crit"));
  const NearMiss& huge = e.tables[0].near_misses[1];
  EXPECT_EQ(huge.row, "disk-huge");
  ASSERT_EQ(huge.failed.size(), 2u);
  EXPECT_EQ(huge.failed[0].actual.kind, Kind::kText);
  EXPECT_EQ(huge.failed[0].actual.text, "Backup");
  EXPECT_EQ(huge.failed[1].field, "values.usage");
  EXPECT_EQ(huge.failed[1].actual.kind, Kind::kMissing);

  const TableExplanation& night = e.tables[1];
  ASSERT_EQ(night.near_misses.size(), 1u);
  ASSERT_EQ(night.near_misses[0].failed.size(), 1u);
  const FailedCell& when = night.near_misses[0].failed[0];
  EXPECT_EQ(when.field, "timestamp");
  EXPECT_EQ(when.condition, "time(22:00-06:00)");
  EXPECT_EQ(when.actual.kind, Kind::kTime);
  EXPECT_EQ(when.actual.text, "2026-11-24T12:30:00.000Z");
  EXPECT_EQ(when.actual.number, 1795523400000.0);
}

TEST(ExplainTest, UnknownEventMatchesNoTable) {
  auto rs = Rules();
  Event ev = ParseEvent(R"({"id":"u1","labels":{"alertname":"Mystery"}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_EQ(e.verdict, Verdict::kUnknown);
  for (const auto& t : e.tables) {
    EXPECT_THAT(t.selected, IsEmpty()) << t.table;
    EXPECT_THAT(t.matching_rows, IsEmpty()) << t.table;
    EXPECT_FALSE(t.near_misses.empty()) << t.table;
  }
  const std::string text = ExplanationToText(e);
  EXPECT_THAT(text, ::testing::HasSubstr("event u1  verdict: unknown  (rule set v-test)\n"));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("decided by row")));
  EXPECT_EQ(ExplanationToJson(e)["verdict"], "unknown");
}

TEST(ExplainTest, SingleEventTextTakesAWholeJsonValueOrTheFirstNonBlankLine) {
  EXPECT_EQ(SingleEventText("{\n  \"id\": \"p1\"\n}\n \r\n"), "{\n  \"id\": \"p1\"\n}");
  EXPECT_EQ(SingleEventText("\n  \r\n{\"id\":\"a\"}\r\n{\"id\":\"b\"}\n"), "{\"id\":\"a\"}\r");
  EXPECT_EQ(SingleEventText("{\"id\":\"a\"}  \n"), "{\"id\":\"a\"}");
  EXPECT_EQ(SingleEventText("\n\n"), "");
  EXPECT_EQ(SingleEventText("\n \t"), " \t");
  EXPECT_EQ(SingleEventText(""), "");
}

TEST(ExplainTest, ExplainEventTextLabelsTheEventAndKeepsItsHashId) {
  auto rs = Rules();
  const std::string line =
      R"({"labels": {"severity": "warning", "alertname": "NodeFilesystemFull"}, "message": "full on /var"})";
  auto e = ExplainEventText(*rs, "\n" + line + "\n{\"id\":\"second\"}\n", 0);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // The id hashes the line as written, as the pipeline does for the same line.
  Event direct = ParseEvent(line);
  EXPECT_EQ(e->event_id, direct.id);
  EXPECT_EQ(e->event_id.rfind("h-", 0), 0u) << e->event_id;
  using Label = std::pair<std::string, std::string>;
  EXPECT_THAT(e->labels,
              ElementsAre(Label{"severity", "warning"}, Label{"alertname", "NodeFilesystemFull"},
                          Label{"mount", "/var"}));
  EXPECT_EQ(e->verdict, Verdict::kSuppressed);
}

TEST(ExplainTest, ExplainEventTextReportsAMalformedEvent) {
  auto rs = Rules();
  auto e = ExplainEventText(*rs, "[1, 2]\n", 0);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "event must be a JSON object");
  auto blank = ExplainEventText(*rs, "\n\n", 0);
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.status().message(), "empty event");
}

TEST(ExplainTest, JsonRendererCarriesEveryField) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e2","timestamp":"2026-11-24T12:30:00Z","labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":50}})");
  const nlohmann::json j = ExplanationToJson(Explain(*rs, ev, {.near_misses = 2}));
  EXPECT_EQ(j["event_id"], "e2");
  EXPECT_EQ(j["verdict"], "unknown");
  EXPECT_EQ(j["ruleset"], "v-test");
  EXPECT_EQ(j["labels"],
            nlohmann::json({{"alertname", "NodeFilesystemFull"}, {"severity", "critical"}}));
  EXPECT_EQ(j["values"], nlohmann::json({{"usage", 50.0}}));
  ASSERT_EQ(j["tables"].size(), 2u);
  const nlohmann::json& disk = j["tables"][0];
  EXPECT_EQ(disk["table"], "disk");
  EXPECT_EQ(disk["file"], "tables/disk.csv");
  EXPECT_EQ(disk["hit_policy"], "first");
  EXPECT_EQ(disk["selected"], nlohmann::json::array());
  EXPECT_EQ(disk["matching_rows"], nlohmann::json::array());
  ASSERT_EQ(disk["near_misses"].size(), 2u);
  EXPECT_EQ(disk["near_misses"][0], nlohmann::json::parse(R"({"row":"disk-crit","line":2,"failed":[
              {"column":"values.usage","condition":">= 90","cell":"2:39","actual":50.0}]})"));
  EXPECT_EQ(disk["near_misses"][1]["failed"][0]["actual"], "critical");
  EXPECT_EQ(disk["near_misses"][1]["failed"][0]["cell"], "3:0");
  const nlohmann::json& night = j["tables"][1];
  EXPECT_EQ(night["hit_policy"], "collect");
  EXPECT_EQ(night["near_misses"][0]["failed"][0]["actual"], "NodeFilesystemFull");
  EXPECT_EQ(night["near_misses"][0]["failed"][1]["actual"], "2026-11-24T12:30:00.000Z");

  // Known: the deciding row; a missing field is null; no labels or values, no such keys.
  const nlohmann::json k = ExplanationToJson(
      Explain(*rs, ParseEvent(R"({"labels":{"alertname":"Backup"},"timestamp":0})")));
  EXPECT_FALSE(k.contains("values"));
  EXPECT_EQ(k["tables"][1]["selected"], nlohmann::json::array({"backup-window"}));
  EXPECT_TRUE(k["tables"][0]["near_misses"][0]["failed"][1]["actual"].is_null());
  const nlohmann::json bare = ExplanationToJson(Explain(*rs, ParseEvent("{}")));
  EXPECT_FALSE(bare.contains("labels"));
  EXPECT_FALSE(bare.contains("values"));
}

TEST(ExplainTest, TextRendererWritesOneBlockPerTable) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e3","timestamp":"2026-11-24T12:30:00Z","labels":{"severity":"critical","alertname":"NodeFilesystemFull"},"values":{"usage":93.5}})");
  EXPECT_EQ(ExplanationToText(Explain(*rs, ev, {.near_misses = 2})),
            "event e3  verdict: known  (rule set v-test)\n"
            "labels: severity=critical alertname=NodeFilesystemFull usage=93.5\n"
            "\n"
            "disk (tables/disk.csv, hit policy first)\n"
            "  decided by row: disk-crit\n"
            "  matching rows: disk-crit\n"
            "  near miss disk-warn (line 3): severity is \"critical\", needs = warning;\n"
            "  near miss disk-huge (line 4): values.usage is 93.5, needs >= 99;\n"
            "\n"
            "night (tables/night.csv, hit policy collect)\n"
            "  no row matches\n"
            "  near miss backup-window (line 2): alertname is \"NodeFilesystemFull\", needs = "
            "Backup; timestamp is \"2026-11-24T12:30:00.000Z\", needs time(22:00-06:00);\n");

  // Whole numbers print without a fraction; a missing field says so.
  Event low = ParseEvent(
      R"({"id":"e4","labels":{"alertname":"NodeFilesystemFull"},"values":{"usage":50}})");
  const std::string text = ExplanationToText(Explain(*rs, low));
  EXPECT_THAT(text, ::testing::HasSubstr("labels: alertname=NodeFilesystemFull usage=50\n"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "  near miss disk-crit (line 2): severity is missing, needs = critical; "
                        "values.usage is 50, needs >= 90;\n"));
}

}  // namespace
}  // namespace reflex::engine
