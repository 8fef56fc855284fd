#include "reflex/engine/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reflex/engine/decision.h"
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

// disk (first): alertname, severity, values.usage; rows on lines 2, 3, 4. disk-crit runs
// cleanup(host, team, note) and page, with a runbook.
// night (collect): alertname, timestamp; one row on line 2.
// Labeling extracts `mount` from the message.
std::shared_ptr<const CompiledRuleSet> Rules() {
  TableSpec disk = MakeTable("disk", {"alertname", "severity", "values.usage"});
  RowSpec& crit =
      AddRow(&disk, "disk-crit",
             {Condition::Equals("NodeFilesystemFull"), Condition::Equals("critical"), Ge(90)},
             {Action("cleanup", {{"host", "{{labels.instance}}"},
                                 {"team", "{{ labels.team | default(\"ops\") }}"},
                                 {"note", "usage {{values.usage}}% on \"{{labels.instance}}\""}}),
              Action("page")});
  crit.runbook = "https://runbooks.example/disk";
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
  // disk-warn comes after the deciding row: had it matched, disk-crit still decides.
  EXPECT_THAT(MissRows(disk), IsEmpty());
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

  // Known: the deciding row; a missing field is null; labels and values are always objects.
  const nlohmann::json k = ExplanationToJson(
      Explain(*rs, ParseEvent(R"({"labels":{"alertname":"Backup"},"timestamp":0})")));
  EXPECT_EQ(k["values"], nlohmann::json::object());
  EXPECT_EQ(k["tables"][1]["selected"], nlohmann::json::array({"backup-window"}));
  EXPECT_TRUE(k["tables"][0]["near_misses"][0]["failed"][1]["actual"].is_null());
  const nlohmann::json bare = ExplanationToJson(Explain(*rs, ParseEvent("{}")));
  EXPECT_EQ(bare["labels"], nlohmann::json::object());
  EXPECT_EQ(bare["values"], nlohmann::json::object());
}

TEST(ExplainTest, TextRendererWritesOneBlockPerTable) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e3","timestamp":"2026-11-24T12:30:00Z","labels":{"severity":"critical","alertname":"NodeFilesystemFull"},"values":{"usage":93.5}})");
  EXPECT_EQ(ExplanationToText(Explain(*rs, ev, {.near_misses = 2})),
            "event e3  verdict: known  (rule set v-test)\n"
            "labels: severity=critical alertname=NodeFilesystemFull\n"
            "values: usage=93.5\n"
            "\n"
            "disk (tables/disk.csv, hit policy first)\n"
            "  decided by row: disk-crit (line 2)\n"
            "    action cleanup: host=\"\" (labels.instance missing), team=\"ops\" (labels.team "
            "missing), note=\"usage 93.5% on \\\"\\\"\" (labels.instance missing)\n"
            "    action page\n"
            "    runbook: https://runbooks.example/disk\n"
            "  matching rows: disk-crit\n"
            "\n"
            "night (tables/night.csv, hit policy collect)\n"
            "  no row matches\n"
            "  near miss backup-window (line 2): alertname is \"NodeFilesystemFull\", needs = "
            "Backup; timestamp is \"2026-11-24T12:30:00.000Z\", needs time(22:00-06:00);\n");

  // Whole numbers print without a fraction; a missing field says so.
  Event low = ParseEvent(
      R"({"id":"e4","labels":{"alertname":"NodeFilesystemFull"},"values":{"usage":50}})");
  const std::string text = ExplanationToText(Explain(*rs, low));
  EXPECT_THAT(text, ::testing::HasSubstr("labels: alertname=NodeFilesystemFull\n"
                                         "values: usage=50\n"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "  near miss disk-crit (line 2): severity is missing, needs = critical; "
                        "values.usage is 50, needs >= 90;\n"));
}

// ---- the deciding rows' actions -----------------------------------------------------------

TEST(ExplainTest, DecidingRowListsItsActionsWithParametersRenderedOverTheEvent) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"critical","instance":"web-1:9100"},"values":{"usage":97}})");
  Explanation e = Explain(*rs, ev);
  const TableExplanation& disk = e.tables[0];
  ASSERT_EQ(disk.decided.size(), 1u);
  const DecidingRow& row = disk.decided[0];
  EXPECT_EQ(row.row, "disk-crit");
  EXPECT_EQ(row.line, 2);
  EXPECT_EQ(row.runbook, "https://runbooks.example/disk");
  EXPECT_EQ(row.not_run, "");
  ASSERT_EQ(row.actions.size(), 2u);
  const RenderedAction& cleanup = row.actions[0];
  EXPECT_EQ(cleanup.name, "cleanup");
  ASSERT_EQ(cleanup.params.size(), 3u);
  EXPECT_EQ(cleanup.params[0].name, "host");
  EXPECT_EQ(cleanup.params[0].value, "web-1:9100");
  EXPECT_THAT(cleanup.params[0].missing, IsEmpty());
  // A missing field renders as its default (or empty), as in the decision; explain names it.
  EXPECT_EQ(cleanup.params[1].name, "team");
  EXPECT_EQ(cleanup.params[1].value, "ops");
  EXPECT_THAT(cleanup.params[1].missing, ElementsAre("labels.team"));
  EXPECT_EQ(cleanup.params[2].value, "usage 97% on \"web-1:9100\"");
  EXPECT_EQ(row.actions[1].name, "page");
  EXPECT_THAT(row.actions[1].params, IsEmpty());
  // A table that decided nothing has no deciding rows.
  EXPECT_THAT(e.tables[1].decided, IsEmpty());
}

// The parameters explain shows are the ones the decision record hands the executor.
TEST(ExplainTest, RenderedParametersAreTheOnesTheDecisionCarries) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"critical","instance":"h\"1\n","team":"db"},"values":{"usage":90.25}})");
  MatchScratch scratch;
  MatchResult result;
  rs->Match(ev, &scratch, &result);
  std::string record;
  AppendDecisionJson(*rs, ev, result, 0, &record);
  const nlohmann::json decision = nlohmann::json::parse(record);
  ASSERT_EQ(decision["matches"].size(), 1u);
  const nlohmann::json& actions = decision["matches"][0]["actions"];

  Explanation e = Explain(*rs, ev);
  ASSERT_EQ(e.tables[0].decided.size(), 1u);
  const DecidingRow& row = e.tables[0].decided[0];
  ASSERT_EQ(row.actions.size(), actions.size());
  for (size_t a = 0; a < row.actions.size(); ++a) {
    EXPECT_EQ(row.actions[a].name, actions[a]["name"]);
    nlohmann::json params = nlohmann::json::object();
    for (const auto& p : row.actions[a].params) params[p.name] = p.value;
    EXPECT_EQ(params, actions[a]["params"]) << row.actions[a].name;
  }
  EXPECT_EQ(ExplanationToJson(e)["tables"][0]["decided"][0]["actions"], actions);
}

TEST(ExplainTest, ActionsThatDoNotRunSayWhyAsTheDecisionDoes) {
  // A resolved event: disk-crit has no status condition, so its actions do not run.
  auto rs = Rules();
  Event resolved = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"critical","status":"resolved"},"values":{"usage":97}})");
  Explanation r = Explain(*rs, resolved);
  ASSERT_EQ(r.tables[0].decided.size(), 1u);
  EXPECT_EQ(r.tables[0].decided[0].not_run, kNotRunResolved);
  EXPECT_EQ(ExplanationToJson(r)["tables"][0]["decided"][0]["not_run"],
            std::string(kNotRunResolved));
  EXPECT_THAT(ExplanationToText(r),
              ::testing::HasSubstr("    runbook: https://runbooks.example/disk\n"
                                   "    not run: " +
                                   std::string(kNotRunResolved) + "\n"));

  // An ignore row in one table silences the row another table selected.
  TableSpec silence = MakeTable("silence", {"alertname"});
  AddRow(&silence, "quiet", {Condition::Equals("Flap")}, {Action(kIgnoreAction)});
  TableSpec act = MakeTable("act", {"alertname"});
  AddRow(&act, "restart", {Condition::Equals("Flap")}, {Action("restart", {{"x", "1"}})});
  auto two = CompiledRuleSet::Create({silence, act}, {}, "v-2");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  Explanation s = Explain(**two, ParseEvent(R"({"labels":{"alertname":"Flap"}})"));
  EXPECT_EQ(s.verdict, Verdict::kSuppressed);
  ASSERT_EQ(s.tables[0].decided.size(), 1u);
  EXPECT_EQ(s.tables[0].decided[0].not_run, "") << "the ignore row itself is what ran";
  ASSERT_EQ(s.tables[1].decided.size(), 1u);
  EXPECT_EQ(s.tables[1].decided[0].not_run, kNotRunSuppressed);
}

// ---- which near misses are listed ---------------------------------------------------------

TEST(ExplainTest, NearMissesAreTheRowsThatCouldHaveDecidedInsteadFirstPolicy) {
  auto rs = Rules();
  // disk-huge decides; disk-crit and disk-warn come before it and fail one cell each.
  Event ev = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"major"},"values":{"usage":99.5}})");
  Explanation e = Explain(*rs, ev);
  EXPECT_THAT(e.tables[0].selected, ElementsAre("disk-huge"));
  EXPECT_THAT(MissRows(e.tables[0]), ElementsAre("disk-crit", "disk-warn"));

  // disk-warn decides: only disk-crit, before it, could have decided instead.
  Event warn = ParseEvent(
      R"({"labels":{"alertname":"NodeFilesystemFull","severity":"warning"},"values":{"usage":50}})");
  Explanation w = Explain(*rs, warn);
  EXPECT_THAT(w.tables[0].selected, ElementsAre("disk-warn"));
  EXPECT_THAT(MissRows(w.tables[0]), ElementsAre("disk-crit"));
  // The night table decided nothing: every row that does not match is a candidate.
  EXPECT_THAT(MissRows(w.tables[1]), ElementsAre("backup-window"));
}

TEST(ExplainTest, NearMissesAreTheRowsThatCouldHaveDecidedInsteadPriorityAndCollect) {
  TableSpec prio = MakeTable("prio", {"alertname", "env"}, HitPolicy::kPriority);
  AddRow(&prio, "same-earlier", {Condition::Equals("B"), Condition::Any()}, {Action("e")}, 1);
  AddRow(&prio, "low", {Condition::Equals("A"), Condition::Any()}, {Action("a")}, 1);
  AddRow(&prio, "high-prod", {Condition::Equals("A"), Condition::Equals("prod")}, {Action("b")},
         10);
  AddRow(&prio, "mid", {Condition::Equals("A"), Condition::Equals("dev")}, {Action("c")}, 5);
  AddRow(&prio, "same-later", {Condition::Equals("A"), Condition::Equals("qa")}, {Action("d")}, 1);
  TableSpec all = MakeTable("all", {"alertname", "env"}, HitPolicy::kCollect);
  AddRow(&all, "c1", {Condition::Equals("A"), Condition::Any()}, {Action("a")});
  AddRow(&all, "c2", {Condition::Equals("A"), Condition::Equals("prod")}, {Action("b")});
  auto rs = CompiledRuleSet::Create({prio, all}, {}, "v-p");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();

  Explanation e = Explain(**rs, ParseEvent(R"({"labels":{"alertname":"A","env":"stage"}})"),
                          {.near_misses = 10});
  // `low` (priority 1, line 3) decides. Rows of a higher priority could have outranked it,
  // and so could `same-earlier` (its priority, before it); `same-later` could not.
  EXPECT_THAT(e.tables[0].selected, ElementsAre("low"));
  EXPECT_THAT(MissRows(e.tables[0]), ElementsAre("same-earlier", "high-prod", "mid"));
  // Under collect every matching row decides, so every row that does not match is listed.
  EXPECT_THAT(e.tables[1].selected, ElementsAre("c1"));
  EXPECT_THAT(MissRows(e.tables[1]), ElementsAre("c2"));
}

TEST(ExplainTest, TextAndJsonListTheDecidingRowsWithTheirActions) {
  auto rs = Rules();
  Event ev = ParseEvent(
      R"({"id":"e9","labels":{"alertname":"NodeFilesystemFull","severity":"critical","instance":"h1","team":"db"},"values":{"usage":91,"free":3}})");
  Explanation e = Explain(*rs, ev);
  const std::string text = ExplanationToText(e);
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "labels: alertname=NodeFilesystemFull severity=critical instance=h1 "
                        "team=db\n"
                        "values: usage=91 free=3\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("  decided by row: disk-crit (line 2)\n"
                                         "    action cleanup: host=\"h1\", team=\"db\", "
                                         "note=\"usage 91% on \\\"h1\\\"\"\n"
                                         "    action page\n"
                                         "    runbook: https://runbooks.example/disk\n"
                                         "  matching rows: disk-crit\n"));

  const nlohmann::json j = ExplanationToJson(e);
  EXPECT_EQ(j["labels"], nlohmann::json({{"alertname", "NodeFilesystemFull"},
                                         {"severity", "critical"},
                                         {"instance", "h1"},
                                         {"team", "db"}}));
  EXPECT_EQ(j["values"], nlohmann::json({{"usage", 91.0}, {"free", 3.0}}));
  EXPECT_EQ(j["tables"][0]["decided"], nlohmann::json::parse(R"([{
    "row": "disk-crit", "line": 2, "runbook": "https://runbooks.example/disk",
    "actions": [
      {"name": "cleanup", "params": {"host": "h1", "team": "db", "note": "usage 91% on \"h1\""}},
      {"name": "page", "params": {}}
    ]}])"));
  EXPECT_EQ(j["tables"][1]["decided"], nlohmann::json::array());

  // Fields a parameter reads that the event lacks are named.
  const nlohmann::json bare = ExplanationToJson(Explain(
      *rs,
      ParseEvent(
          R"({"labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":91}})")));
  EXPECT_EQ(bare["tables"][0]["decided"][0]["actions"][0]["missing"],
            nlohmann::json({{"host", {"labels.instance"}},
                            {"team", {"labels.team"}},
                            {"note", {"labels.instance"}}}));
  EXPECT_FALSE(bare["tables"][0]["decided"][0]["actions"][1].contains("missing"));
  const std::string none = ExplanationToText(Explain(*rs, ParseEvent("{}")));
  EXPECT_THAT(none, ::testing::HasSubstr("\nlabels: (none)\nvalues: (none)\n"));
}

}  // namespace
}  // namespace reflex::engine
