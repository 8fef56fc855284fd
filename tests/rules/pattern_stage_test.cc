// PatternStage (engine/pattern_stage.h) over a rule set loaded from a rules directory: the
// patterns decide unknown events (pending, then one decision per outcome), known members
// stay decided by their tables, timers fire with no further event, and a reload keeps or
// gives up the state by the patterns' version.
#include "reflex/engine/pattern_stage.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diag_test_util.h"
#include "reflex/engine/pipeline.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"
#include "reflex/rules/test_cases.h"

namespace reflex::rules {
namespace {

using engine::PatternDecision;
using engine::PatternOutcome;
using engine::Verdict;
using nlohmann::json;
using test_util::All;

constexpr const char* kTable =
    "table,disk\n"
    "hit_policy,first\n"
    "id,alertname,action\n"
    "disk-full,DiskFull,\"page(team=storage)\"\n";

constexpr const char* kPatterns = R"y(- name: disk-and-backup
  kind: all_of
  group_by: [labels.instance]
  within: 10m
  members:
    - {name: disk, when: {alertname: DiskFull}}
    - {name: backup, when: {alertname: BackupFailed}}
  actions:
    - page(team="{{events.count}} on {{events.first.labels.instance}}")
  runbook: https://runbooks.example/disk-and-backup
- name: backup-never-finished
  kind: absence
  group_by: [labels.job]
  within: 1m
  members:
    - {name: start, when: {alertname: BackupStarted}}
    - {name: done, when: {alertname: BackupFinished}}
  actions: [escalate]
)y";

MemorySource Dir(const std::string& patterns = kPatterns) {
  MemorySource fs;
  fs.Put("r/tables/disk.csv", kTable);
  fs.Put("r/actions.yaml", "actions:\n  page: {kind: webhook, params: [team]}\n");
  fs.Put("r/patterns/p.yaml", patterns);
  return fs;
}

std::shared_ptr<const engine::CompiledRuleSet> Compiled(const MemorySource& fs) {
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  Diagnostics diags;
  return Compile(std::move(lr), &diags);
}

// Decides one event with the tables, then shows it to the stage, as the Kafka loop does.
struct Harness {
  explicit Harness(std::shared_ptr<const engine::CompiledRuleSet> rules)
      : pipeline(rules), stage(engine::PatternStage::Create(rules)) {}
  // Returns the event's own decision; pattern decisions go to `out`.
  json Feed(const std::string& event, int64_t t) {
    EXPECT_TRUE(pipeline.Process(event, t, nullptr).ok());
    if (stage->Observe(pipeline.event(), pipeline.result().verdict, t, t, &out)) {
      pipeline.MarkPending();
    }
    std::string d;
    pipeline.AppendDecision(t, &d);
    return json::parse(d);
  }
  engine::Pipeline pipeline;
  std::unique_ptr<engine::PatternStage> stage;
  std::vector<PatternDecision> out;
};

std::string Alert(const std::string& id, const std::string& name, const std::string& instance,
                  int64_t t) {
  return R"({"id":")" + id + R"(","timestamp":)" + std::to_string(t) +
         R"(,"labels":{"alertname":")" + name + R"(","instance":")" + instance +
         R"(","job":"nightly"}})";
}

TEST(PatternStageTest, NoPatternsNoStage) {
  MemorySource fs = Dir();
  fs.Remove("r/patterns/p.yaml");
  EXPECT_EQ(engine::PatternStage::Create(Compiled(fs)), nullptr);
}

TEST(PatternStageTest, AllOfDecidesItsMembersAsOneKnownDecision) {
  Harness h(Compiled(Dir()));
  ASSERT_NE(h.stage, nullptr);
  // The backup failure has no row: it waits for the disk alert, pending, not escalated.
  json first = h.Feed(Alert("b1", "BackupFailed", "db-1", 1000), 1000);
  EXPECT_EQ(first["verdict"], "pending");
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.stage->pending(), 1u);
  // The disk alert is known by its own row (its page runs) and completes the pattern.
  json second = h.Feed(Alert("d1", "DiskFull", "db-1", 5000), 5000);
  EXPECT_EQ(second["verdict"], "known");
  ASSERT_EQ(h.out.size(), 1u);
  const PatternDecision& d = h.out[0];
  EXPECT_EQ(d.outcome, PatternOutcome::kMatched);
  EXPECT_EQ(d.verdict, Verdict::kKnown);
  EXPECT_EQ(d.event_id, "pattern:disk-and-backup:db-1:d1");
  json j = json::parse(d.decision_json);
  EXPECT_EQ(j["event_id"], d.event_id);
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["pattern"]["name"], "disk-and-backup");
  EXPECT_EQ(j["pattern"]["kind"], "all_of");
  EXPECT_EQ(j["pattern"]["outcome"], "matched");
  EXPECT_EQ(j["pattern"]["group"], json({{"instance", "db-1"}}));
  EXPECT_EQ(j["pattern"]["member_ids"], json({"d1", "b1"}));  // member order
  EXPECT_EQ(j["pattern"]["pending_ids"], json({"b1"}));
  ASSERT_EQ(j["matches"].size(), 1u);
  EXPECT_EQ(j["matches"][0]["table"], "pattern:disk-and-backup");
  EXPECT_EQ(j["matches"][0]["row"], "disk-and-backup");
  EXPECT_EQ(j["matches"][0]["actions"][0]["name"], "page");
  // events.first is the earliest by event time: the backup failure.
  EXPECT_EQ(j["matches"][0]["actions"][0]["params"]["team"], "2 on db-1");
  EXPECT_EQ(j["matches"][0]["runbook"], "https://runbooks.example/disk-and-backup");
  json ev = json::parse(d.event_json);
  EXPECT_EQ(ev["id"], d.event_id);
  EXPECT_EQ(ev["source"], "reflex.pattern");
  EXPECT_EQ(ev["labels"]["instance"], "db-1");
  EXPECT_EQ(ev["labels"]["pattern"], "disk-and-backup");
  EXPECT_EQ(h.stage->pending(), 0u);
}

TEST(PatternStageTest, TheUnknownEventThatCompletesAPatternIsDecidedByIt) {
  // Two unknown members: the second completes the match at once; it is not escalated.
  MemorySource fs =
      Dir("- name: pair\n  kind: all_of\n  group_by: [instance]\n  within: 1m\n  members:\n"
          "    - {name: a, when: {alertname: A}}\n    - {name: b, when: {alertname: B}}\n"
          "  actions: [escalate]\n");
  Harness p(Compiled(fs));
  EXPECT_EQ(p.Feed(Alert("a1", "A", "h", 1000), 1000)["verdict"], "pending");
  EXPECT_EQ(p.Feed(Alert("b1", "B", "h", 2000), 2000)["verdict"], "pending");
  ASSERT_EQ(p.out.size(), 1u);
  EXPECT_EQ(json::parse(p.out[0].decision_json)["pattern"]["pending_ids"], json({"a1", "b1"}));
  // A second A within the window of a group that holds one is a member but not held:
  // decided alone, by its tables (unknown here).
  EXPECT_EQ(p.Feed(Alert("a2", "A", "h", 3000), 3000)["verdict"], "pending");
  EXPECT_EQ(p.Feed(Alert("a3", "A", "h", 3500), 3500)["verdict"], "unknown");
  EXPECT_EQ(p.stage->pending(), 1u);
}

TEST(PatternStageTest, AWindowClosingEscalatesOnlyItsPendingMembers) {
  Harness h(Compiled(Dir()));
  h.Feed(Alert("b1", "BackupFailed", "db-1", 0), 0);
  h.stage->Advance(600000, &h.out);  // the window [0, 600000] is still open
  EXPECT_TRUE(h.out.empty());
  h.stage->Advance(600001, &h.out);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_EQ(h.out[0].verdict, Verdict::kUnknown);
  json j = json::parse(h.out[0].decision_json);
  EXPECT_EQ(j["verdict"], "unknown");
  EXPECT_EQ(j["pattern"]["outcome"], "timed_out");
  EXPECT_EQ(j["pattern"]["pending_ids"], json({"b1"}));
  EXPECT_TRUE(j["matches"].empty());
  EXPECT_EQ(json::parse(h.out[0].event_json)["labels"]["pattern_outcome"], "timed_out");
  // A window whose members were all decided by their tables leaves nothing to decide.
  h.out.clear();
  EXPECT_EQ(h.Feed(Alert("d1", "DiskFull", "db-2", 700000), 700000)["verdict"], "known");
  h.stage->Advance(2000000, &h.out);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_TRUE(h.out[0].decision_json.empty());
}

TEST(PatternStageTest, AbsenceFiresOnTheClockWithNoFurtherEvent) {
  Harness h(Compiled(Dir()));
  EXPECT_EQ(h.Feed(Alert("s1", "BackupStarted", "x", 1000), 1000)["verdict"], "unknown");
  h.stage->Advance(61000, &h.out);
  EXPECT_TRUE(h.out.empty());
  h.stage->Advance(61001, &h.out);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].outcome, PatternOutcome::kAbsent);
  EXPECT_EQ(h.out[0].event_id, "pattern:backup-never-finished:nightly:s1");
  json j = json::parse(h.out[0].decision_json);
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["matches"][0]["actions"][0]["name"], "escalate");
  EXPECT_EQ(j["pattern"]["group"], json({{"job", "nightly"}}));
}

TEST(PatternStageTest, SameIdsOnEveryRun) {
  std::vector<std::string> runs[2];
  for (auto& ids : runs) {
    Harness h(Compiled(Dir()));
    h.Feed(Alert("b1", "BackupFailed", "db-1", 1000), 1000);
    h.Feed(Alert("s1", "BackupStarted", "db-1", 1000), 1000);
    h.Feed(Alert("d1", "DiskFull", "db-1", 2000), 2000);
    h.stage->Advance(100000, &h.out);
    for (const auto& d : h.out) ids.push_back(d.event_id + " " + d.decision_json.substr(0, 60));
  }
  EXPECT_EQ(runs[0].size(), 2u);
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(PatternStageTest, AReloadKeepsStateUnlessThePatternsChange) {
  MemorySource fs = Dir();
  Harness h(Compiled(fs));
  h.Feed(Alert("b1", "BackupFailed", "db-1", 1000), 1000);
  // A table changes, the patterns do not: the open window survives.
  fs.Put("r/tables/disk.csv", std::string(kTable) + "disk-warn,DiskWarn,\"page(team=x)\"\n");
  auto tables_changed = Compiled(fs);
  ASSERT_TRUE(h.stage->SetRules(tables_changed, 2000, &h.out));
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.stage->rules(), tables_changed);
  EXPECT_EQ(h.stage->pending(), 1u);
  // The patterns change: the held event leaves as evicted and is escalated.
  fs.Put("r/patterns/p.yaml", std::string(kPatterns) + "  description: changed\n");
  ASSERT_TRUE(h.stage->SetRules(Compiled(fs), 3000, &h.out));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].outcome, PatternOutcome::kEvicted);
  EXPECT_EQ(h.out[0].verdict, Verdict::kUnknown);
  EXPECT_EQ(json::parse(h.out[0].decision_json)["pattern"]["pending_ids"], json({"b1"}));
  EXPECT_EQ(h.stage->pending(), 0u);
  EXPECT_EQ(h.stage->correlator().stats(0).keys, 0u);
  // Patterns removed: the stage is done.
  h.out.clear();
  h.Feed(Alert("b2", "BackupFailed", "db-1", 4000), 4000);
  fs.Remove("r/patterns/p.yaml");
  EXPECT_FALSE(h.stage->SetRules(Compiled(fs), 5000, &h.out));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].outcome, PatternOutcome::kEvicted);
}

// The changelog records: a new stage restored from the latest record of every key carries
// on (the pending member is decided by the outcome the next event completes), a group is
// written once per change and a tombstone when it is gone.
TEST(PatternStageTest, StateRecordsRestoreHeldEventsWithWhetherTheyArePending) {
  auto rules = Compiled(Dir());
  Harness h(rules);
  h.stage->TrackChanges(true);
  h.Feed(Alert("b1", "BackupFailed", "db-1", 1000), 1000);      // pending (no row)
  h.Feed(Alert("s1", "BackupStarted", "nightly", 1500), 1500);  // unknown; arms the absence
  std::vector<engine::PatternStage::StateRecord> records;
  h.stage->TakeChanges(&records);
  ASSERT_EQ(records.size(), 2u);
  std::map<std::string, std::string> log;
  for (auto& r : records) log[r.key] = r.value;
  ASSERT_TRUE(log.count("disk-and-backup/db-1")) << log.begin()->first;
  json v = json::parse(log["disk-and-backup/db-1"]);
  EXPECT_EQ(v["pattern"], "disk-and-backup");
  EXPECT_EQ(v["kind"], "all_of");
  EXPECT_EQ(v["group_by"], json({"labels.instance"}));
  ASSERT_EQ(v["held"].size(), 1u);
  EXPECT_EQ(v["held"][0]["id"], "b1");
  EXPECT_EQ(v["held"][0]["pending"], true);
  EXPECT_EQ(v["deadline"], 601000);
  records.clear();
  h.stage->TakeChanges(&records);
  EXPECT_TRUE(records.empty());  // nothing changed since

  // Another replica takes the partition.
  std::vector<engine::PatternStage::StateRecord> latest;
  for (auto& [k, val] : log) latest.push_back({k, val});
  Harness next(rules);
  next.stage->TrackChanges(true);
  auto restored = next.stage->Restore(latest, 2000, &next.out);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, 2u);
  EXPECT_TRUE(next.out.empty());
  EXPECT_EQ(next.stage->pending(), 1u);
  // The disk alert completes the window opened before the move; b1 is decided by it.
  next.Feed(Alert("d1", "DiskFull", "db-1", 5000), 5000);
  ASSERT_EQ(next.out.size(), 1u);
  EXPECT_EQ(next.out[0].outcome, PatternOutcome::kMatched);
  json d = json::parse(next.out[0].decision_json);
  EXPECT_EQ(d["pattern"]["member_ids"], json({"d1", "b1"}));
  EXPECT_EQ(d["pattern"]["pending_ids"], json({"b1"}));
  // events.first (b1) was captured before the move.
  EXPECT_EQ(d["matches"][0]["actions"][0]["params"]["team"], "2 on db-1");
  // The absence armed before the move fires on the new owner's clock.
  next.out.clear();
  next.stage->Advance(61501, &next.out);
  ASSERT_EQ(next.out.size(), 1u);
  EXPECT_EQ(next.out[0].outcome, PatternOutcome::kAbsent);
  // Both groups are gone now: tombstones.
  records.clear();
  next.stage->TakeChanges(&records);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].value.empty());
  EXPECT_TRUE(records[1].value.empty());
}

TEST(PatternStageTest, RestoredGroupsOfAPatternNoLongerThereAreReleased) {
  Harness h(Compiled(Dir()));
  h.stage->TrackChanges(true);
  h.Feed(Alert("b1", "BackupFailed", "db-1", 1000), 1000);
  std::vector<engine::PatternStage::StateRecord> records;
  h.stage->TakeChanges(&records);
  ASSERT_EQ(records.size(), 1u);
  // The new owner's rules have no patterns at all.
  MemorySource fs = Dir();
  fs.Remove("r/patterns/p.yaml");
  auto stage = engine::PatternStage::Create(Compiled(fs), /*even_without_patterns=*/true);
  ASSERT_NE(stage, nullptr);
  stage->TrackChanges(true);
  std::vector<PatternDecision> out;
  auto restored = stage->Restore(records, 9000, &out);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(*restored, 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "disk-and-backup");
  EXPECT_EQ(out[0].outcome, PatternOutcome::kEvicted);
  EXPECT_EQ(out[0].verdict, Verdict::kUnknown);  // b1 was pending: escalated, not lost
  json d = json::parse(out[0].decision_json);
  EXPECT_EQ(d["pattern"]["pending_ids"], json({"b1"}));
  EXPECT_EQ(d["pattern"]["group"], json({{"instance", "db-1"}}));
  // Its tombstone, so the next owner does not release it again.
  std::vector<engine::PatternStage::StateRecord> after;
  stage->TakeChanges(&after);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].key, records[0].key);
  EXPECT_TRUE(after[0].value.empty());
  // A record that is not what a stage writes is an error naming its key.
  auto bad = stage->Restore({{"x/y", "{\"pattern\":1}"}}, 9000, &out);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'x/y'"), std::string::npos) << bad.status().ToString();
}

// patterns/*.cases.jsonl: timed sequences with the outcomes they must give, run by
// VerifyRuleSet (so `reflex test` and every reload); failures say which outcome differed.
TEST(PatternCasesTest, TimedSequencesAreVerifiedWithTheRuleSet) {
  MemorySource fs = Dir();
  auto ev = [](const std::string& id, const std::string& name) {
    return R"({"id":")" + id + R"(","labels":{"alertname":")" + name +
           R"(","instance":"db-1","job":"nightly"}})";
  };
  const std::string good =
      R"({"name":"disk then backup","events":[{"at":"0s","event":)" + ev("b1", "BackupFailed") +
      R"(},{"at":"5m","event":)" + ev("d1", "DiskFull") +
      R"(}],"expect":[{"pattern":"disk-and-backup","outcome":"matched","members":["d1","b1"]}],)"
      R"("expect_verdicts":{"b1":"pending","d1":"known"}})"
      "\n"
      R"({"name":"backup never finishes","events":[{"event":)" +
      ev("s1", "BackupStarted") +
      R"(}],"until":"2m","expect":[{"pattern":"backup-never-finished","outcome":"absent"}]})"
      "\n";
  fs.Put("r/patterns/p.cases.jsonl", good);
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  ASSERT_EQ(lr.case_files.size(), 1u);
  auto files = std::vector<CaseFile>{{"r/patterns/p.cases.jsonl", good}};
  Diagnostics d;
  auto rules = Compile(LoadRules(fs, "r"), &d);
  RuleSetVerification v = VerifyRuleSet(*rules, files, 0);
  ASSERT_EQ(v.pattern_outcomes.size(), 2u);
  EXPECT_TRUE(v.pattern_outcomes[0].passed) << v.pattern_outcomes[0].detail;
  EXPECT_TRUE(v.pattern_outcomes[1].passed) << v.pattern_outcomes[1].detail;
  EXPECT_TRUE(v.passed());

  // The disk alert comes 11 minutes later: the window closed, the backup failure timed out.
  const std::string late = R"({"name":"too late","events":[{"at":"0s","event":)" +
                           ev("b1", "BackupFailed") + R"(},{"at":"11m","event":)" +
                           ev("d1", "DiskFull") +
                           R"(}],"expect":[{"pattern":"disk-and-backup","outcome":"matched"}]})"
                           "\n"
                           R"({"name":"wrong verdict","events":[{"event":)" +
                           ev("b1", "BackupFailed") +
                           R"(}],"expect":[],"expect_verdicts":{"b1":"unknown"}})"
                           "\n";
  RuleSetVerification bad = VerifyRuleSet(*rules, {{"r/patterns/p.cases.jsonl", late}}, 0);
  EXPECT_FALSE(bad.passed());
  ASSERT_EQ(bad.pattern_outcomes.size(), 2u);
  EXPECT_EQ(bad.pattern_outcomes[0].detail,
            "outcome 1: expected disk-and-backup matched, got disk-and-backup timed_out");
  EXPECT_EQ(bad.pattern_outcomes[1].detail, "event 'b1': expected unknown, got pending");
  ASSERT_EQ(bad.FailureLines().size(), 2u);
  EXPECT_EQ(bad.FailureLines()[0],
            "r/patterns/p.cases.jsonl:1: case 'too late' failed: outcome 1: expected "
            "disk-and-backup matched, got disk-and-backup timed_out");

  // A malformed case is an error at its line.
  RuleSetVerification broken = VerifyRuleSet(
      *rules,
      {{"r/patterns/p.cases.jsonl",
        "\n{\"name\":\"x\",\"events\":[{\"at\":\"soon\",\"event\":{}}],\"expect\":[]}\n"}},
      0);
  EXPECT_FALSE(broken.passed());
  EXPECT_DIAG_AT(broken.diags, "case 'x': 'at'", 2, 1);
}

}  // namespace
}  // namespace reflex::rules
