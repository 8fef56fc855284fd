// RuleHistory against real files in a temp dir: what a recorded version holds, dedup of a
// version seen again, keeping the newest 10, rollback (files restored, version hash equal,
// extra table files removed, other files left alone), refusal of unknown and broken
// versions; RuleStore recording its activations; and the `reflex rules history|rollback`
// commands, both in-process (AddRulesCommands) and as the real binary.
#include "reflex/connectors/rule_history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "../cli/run_cli.h"
#include "../rules/xlsx_writer.h"
#include "modules.h"
#include "reflex/connectors/rule_store.h"

namespace reflex::connectors {
namespace {

namespace fs = std::filesystem;
using cli_test::ReadFile;
using cli_test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string CopyExamples(const TempDir& tmp) {
  const fs::path dst = fs::path(tmp.path()) / "rules";
  fs::copy(fs::path(REFLEX_SOURCE_DIR) / "rules/examples", dst, fs::copy_options::recursive);
  return dst.string();
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

// Makes the examples' disk_full table differ by one extra row named `id`.
void EditDiskTable(const std::string& dir, const std::string& id) {
  const std::string path = dir + "/tables/disk_full.csv";
  WriteFile(path, ReadFile(path) + id + ",NodeFilesystemFull,/srv/" + id + ",,,escalate,,1,,\n");
}

std::unique_ptr<RuleHistory> MustOpen(RuleHistoryOptions o) {
  auto h = RuleHistory::Open(std::move(o));
  EXPECT_TRUE(h.ok()) << h.status().message();
  return h.ok() ? std::move(*h) : nullptr;
}

RuleSnapshot MustLoad(const std::string& dir) {
  RuleSnapshot s = LoadRuleSnapshot(dir);
  EXPECT_TRUE(s.ok()) << ::testing::PrintToString(s.Errors());
  return s;
}

TEST(RuleSnapshotTest, RecordsEveryFileTheLoaderRead) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  WriteFile(dir + "/notes.txt", "not a rule file");
  RuleSnapshot s = MustLoad(dir + "/");  // a trailing slash gives the same version
  EXPECT_EQ(s.version, MustLoad(dir).version);
  std::set<std::string> names;
  for (const auto& [rel, bytes] : s.files) {
    names.insert(rel);
    EXPECT_EQ(bytes, ReadFile(dir + "/" + rel)) << rel;
  }
  EXPECT_TRUE(names.count("actions.yaml"));
  EXPECT_TRUE(names.count("labeling.yaml"));
  EXPECT_TRUE(names.count("lookups/inventory.csv"));
  EXPECT_TRUE(names.count("tables/disk_full.csv"));
  EXPECT_TRUE(names.count("tables/noise.yaml"));
  EXPECT_TRUE(names.count("tables/disk_full.cases.csv"));
  EXPECT_TRUE(names.count("tables/noise.cases.jsonl"));
  EXPECT_FALSE(names.count("notes.txt"));
  EXPECT_FALSE(names.count("README.md"));
  EXPECT_EQ(s.tables, s.rules->tables().size());
  EXPECT_EQ(s.rows, s.rules->row_count());
}

TEST(RuleHistoryTest, RecordCopiesTheFilesAndWritesAManifest) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  engine::ManualClock clock(1795514400000);  // 2026-11-24T10:00:00Z
  auto history = MustOpen({.state_dir = tmp.path() + "/state", .clock = &clock});
  ASSERT_NE(history, nullptr);
  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE(history->Record(s, "start").ok());

  const std::string vdir = history->VersionDir(s.version);
  EXPECT_EQ(vdir, tmp.path() + "/state/rules-history/" + s.version);
  for (const auto& [rel, bytes] : s.files) EXPECT_EQ(ReadFile(vdir + "/" + rel), bytes) << rel;
  auto m = nlohmann::json::parse(ReadFile(vdir + "/manifest.json"));
  EXPECT_EQ(m["version"], s.version);
  EXPECT_EQ(m["activated_at"], "2026-11-24T10:00:00.000Z");
  EXPECT_EQ(m["trigger"], "start");
  EXPECT_EQ(m["previous"], "");
  EXPECT_EQ(m["tables"], s.tables);
  ASSERT_EQ(m["files"].size(), s.files.size());
  EXPECT_EQ(m["files"][0]["path"], s.files.begin()->first);
  EXPECT_EQ(m["files"][0]["size"], s.files.begin()->second.size());
  // The copy is a rules directory of its own with the same version.
  EXPECT_EQ(MustLoad(vdir).version, s.version);

  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].version, s.version);
  EXPECT_TRUE((*listed)[0].current);
  EXPECT_EQ((*listed)[0].rows, s.rows);
  EXPECT_EQ((*listed)[0].activations, 1u);
}

TEST(RuleHistoryTest, FsyncDurabilityRecordsTheSameHistory) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history =
      MustOpen({.state_dir = tmp.path() + "/state", .durability = base::Durability::kFsync});
  ASSERT_NE(history, nullptr);
  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE(history->Record(s, "start").ok());
  EXPECT_EQ(MustLoad(history->VersionDir(s.version)).version, s.version);
  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].activations, 1u);
  // No temporary file or directory is left behind.
  for (const auto& e : std::filesystem::directory_iterator(tmp.path() + "/state/rules-history")) {
    EXPECT_NE(e.path().filename().string().rfind(".", 0), 0u) << e.path();
  }
}

TEST(RuleHistoryTest, AVersionSeenAgainIsNotCopiedAgain) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  engine::ManualClock clock(1000);
  auto history = MustOpen({.state_dir = tmp.path() + "/state", .clock = &clock});
  ASSERT_NE(history, nullptr);
  RuleSnapshot a = MustLoad(dir);
  ASSERT_TRUE(history->Record(a, "start").ok());
  // A marker in A's copy survives A's second activation: nothing was copied again.
  WriteFile(history->VersionDir(a.version) + "/marker", "x");
  EditDiskTable(dir, "b1");
  RuleSnapshot b = MustLoad(dir);
  clock.Advance(1000);
  ASSERT_TRUE(history->Record(b, "watch").ok());
  clock.Advance(1000);
  ASSERT_TRUE(history->Record(a, "rollback").ok());
  EXPECT_TRUE(fs::exists(history->VersionDir(a.version) + "/marker"));

  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  const HistoryEntry& top = (*listed)[0];
  EXPECT_EQ(top.version, a.version);
  EXPECT_TRUE(top.current);
  EXPECT_EQ(top.activations, 2u);
  EXPECT_EQ(top.trigger, "rollback");
  EXPECT_EQ(top.previous, b.version);
  EXPECT_EQ(top.activated_at_ms, 3000);
  EXPECT_EQ(top.first_activated_at_ms, 1000);
  EXPECT_EQ((*listed)[1].version, b.version);
  EXPECT_FALSE((*listed)[1].current);
  EXPECT_EQ((*listed)[1].previous, a.version);

  // activations.jsonl: one JSON line per activation.
  std::ifstream log(history->dir() + "/activations.jsonl");
  std::vector<std::string> triggers;
  for (std::string line; std::getline(log, line);) {
    triggers.push_back(nlohmann::json::parse(line).at("trigger"));
  }
  EXPECT_THAT(triggers, ElementsAre("start", "watch", "rollback"));
}

TEST(RuleHistoryTest, KeepsTheNewestTenAndPrunesTheRest) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  engine::ManualClock clock(1000);
  auto history = MustOpen({.state_dir = tmp.path() + "/state", .clock = &clock});
  ASSERT_NE(history, nullptr);
  std::vector<std::string> versions;
  for (int i = 0; i < 12; ++i) {
    if (i > 0) EditDiskTable(dir, "r" + std::to_string(i));
    RuleSnapshot s = MustLoad(dir);
    clock.Advance(1000);
    ASSERT_TRUE(history->Record(s, "watch").ok());
    versions.push_back(s.version);
  }
  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ((*listed)[i].version, versions[11 - i]) << i;
  EXPECT_FALSE(fs::exists(history->VersionDir(versions[0])));
  EXPECT_FALSE(fs::exists(history->VersionDir(versions[1])));
  EXPECT_TRUE(fs::exists(history->VersionDir(versions[2])));
  const std::string log = ReadFile(history->dir() + "/activations.jsonl");
  EXPECT_THAT(log, ::testing::Not(HasSubstr(versions[0])));
  EXPECT_THAT(log, HasSubstr(versions[2]));

  // A smaller limit prunes on the next record; the current one is always kept.
  auto small = MustOpen({.state_dir = tmp.path() + "/state", .keep = 3, .clock = &clock});
  ASSERT_TRUE(small->Record(MustLoad(dir), "sighup").ok());
  listed = small->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].version, versions[11]);
  EXPECT_TRUE((*listed)[0].current);
}

TEST(RuleHistoryTest, RollbackRestoresFilesAndTheVersion) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  RuleSnapshot old = MustLoad(dir);
  ASSERT_TRUE(history->Record(old, "start").ok());
  const std::string disk_before = ReadFile(dir + "/tables/disk_full.csv");

  // The new set: an edited table, a new table with cases, an edited lookup file, and
  // files that are not rules.
  EditDiskTable(dir, "new1");
  WriteFile(dir + "/tables/extra.csv",
            "table,extra\nhit_policy,first\nid,alertname,action\nx1,Extra,escalate\n");
  WriteFile(dir + "/tables/extra.cases.jsonl", "{}\n");
  WriteFile(dir + "/tables/notes.md", "keep me");
  WriteFile(dir + "/lookups/inventory.csv", ReadFile(dir + "/lookups/inventory.csv") + "\n");
  RuleSnapshot now = MustLoad(dir);
  ASSERT_NE(now.version, old.version);
  ASSERT_TRUE(history->Record(now, "watch").ok());

  auto report = history->Rollback(old.version, dir);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->version, old.version);
  EXPECT_EQ(report->previous_version, now.version);
  EXPECT_EQ(report->resulting_version, old.version);
  EXPECT_THAT(report->changed, ElementsAre("lookups/inventory.csv", "tables/disk_full.csv"));
  EXPECT_TRUE(report->added.empty());
  EXPECT_THAT(report->removed, ElementsAre("tables/extra.cases.jsonl", "tables/extra.csv"));
  EXPECT_EQ(report->unchanged, old.files.size() - 2);

  EXPECT_EQ(MustLoad(dir).version, old.version);
  EXPECT_EQ(ReadFile(dir + "/tables/disk_full.csv"), disk_before);
  EXPECT_FALSE(fs::exists(dir + "/tables/extra.csv"));
  EXPECT_EQ(ReadFile(dir + "/tables/notes.md"), "keep me");
  EXPECT_TRUE(fs::exists(dir + "/README.md"));
  for (const auto& e : fs::directory_iterator(dir + "/tables")) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr("reflex-tmp")));
  }
}

// A workbook is a table file like any other: recorded byte for byte, and removed by a
// rollback to a set that did not have it (Excel's lock file beside it is not a rule file).
TEST(RuleHistoryTest, RollbackRemovesAWorkbookTheOldSetDidNotHave) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  RuleSnapshot old = MustLoad(dir);
  ASSERT_TRUE(history->Record(old, "start").ok());

  const std::string book =
      test::XlsxWriter()
          .AddSheet("Sheet1", test::InlineRows({{"id", "alertname", "action"},
                                                {"x1", "ExtraFromExcel", "escalate"}}))
          .Build();
  WriteFile(dir + "/tables/extra.xlsx", book);
  WriteFile(dir + "/tables/~$extra.xlsx", "Excel's lock file");
  RuleSnapshot now = MustLoad(dir);
  ASSERT_NE(now.version, old.version);
  EXPECT_EQ(now.tables, old.tables + 1);
  ASSERT_EQ(now.files.count("tables/extra.xlsx"), 1u);
  EXPECT_EQ(now.files.at("tables/extra.xlsx"), book);
  EXPECT_EQ(now.files.count("tables/~$extra.xlsx"), 0u);
  ASSERT_TRUE(history->Record(now, "watch").ok());

  auto report = history->Rollback(old.version, dir);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(report->removed, ElementsAre("tables/extra.xlsx"));
  EXPECT_EQ(report->resulting_version, old.version);
  EXPECT_FALSE(fs::exists(dir + "/tables/extra.xlsx"));
  EXPECT_TRUE(fs::exists(dir + "/tables/~$extra.xlsx"));
}

TEST(RuleHistoryTest, RollbackRestoresDeletedFiles) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  RuleSnapshot old = MustLoad(dir);
  ASSERT_TRUE(history->Record(old, "start").ok());
  fs::remove(dir + "/tables/oom_kill.csv");
  fs::remove(dir + "/actions.yaml");
  auto report = history->Rollback(old.version, dir);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_THAT(report->added, ElementsAre("actions.yaml", "tables/oom_kill.csv"));
  EXPECT_EQ(MustLoad(dir).version, old.version);
}

TEST(RuleHistoryTest, RollbackToAnUnknownVersionIsRefused) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  auto empty = history->Rollback("v-0000000000000000", dir);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), engine::StatusCode::kNotFound);
  EXPECT_THAT(empty.status().message(), HasSubstr("no versions are recorded"));

  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE(history->Record(s, "start").ok());
  const std::string before = ReadFile(dir + "/tables/disk_full.csv");
  for (const std::string bad : {"v-0000000000000000", "../rules", "", "manifest.json"}) {
    auto r = history->Rollback(bad, dir);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), engine::StatusCode::kNotFound);
    EXPECT_THAT(r.status().message(), HasSubstr("known versions: " + s.version + " (current)"));
  }
  EXPECT_EQ(ReadFile(dir + "/tables/disk_full.csv"), before);
}

TEST(RuleHistoryTest, RollbackRefusesAVersionThatNoLongerCompiles) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  RuleSnapshot old = MustLoad(dir);
  ASSERT_TRUE(history->Record(old, "start").ok());
  EditDiskTable(dir, "later");
  const std::string current = ReadFile(dir + "/tables/disk_full.csv");

  // Damage the copy: a bad cell.
  WriteFile(history->VersionDir(old.version) + "/tables/zz.csv",
            "table,zz\nhit_policy,first\nid,values.x,action\nr1,>= many,escalate\n");
  auto r = history->Rollback(old.version, dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("no longer compiles"));
  EXPECT_THAT(r.status().message(), ::testing::ContainsRegex("tables/zz\\.csv:4:[0-9]+"));

  // A copy that compiles but whose bytes changed is damaged, not restored.
  fs::remove(history->VersionDir(old.version) + "/tables/zz.csv");
  WriteFile(history->VersionDir(old.version) + "/tables/oom_kill.csv",
            ReadFile(dir + "/tables/oom_kill.csv") + "\n");
  r = history->Rollback(old.version, dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("damaged"));
  EXPECT_EQ(ReadFile(dir + "/tables/disk_full.csv"), current);
}

TEST(RuleHistoryTest, RuleStoreRecordsEachActivation) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto history = MustOpen({.state_dir = tmp.path() + "/state"});
  ASSERT_NE(history, nullptr);
  auto store = RuleStore::Create({.rules_dir = dir, .history = history.get()});
  ASSERT_TRUE(store.ok()) << store.status().message();
  const std::string v1 = (*store)->version();
  EditDiskTable(dir, "s1");
  ReloadResult r = (*store)->Reload("sighup");
  ASSERT_EQ(r.outcome, ReloadResult::Outcome::kSwapped);
  EXPECT_TRUE(r.history.ok()) << r.history.message();
  // Neither a refused nor an unchanged reload is recorded.
  EXPECT_EQ((*store)->Reload("sighup").outcome, ReloadResult::Outcome::kUnchanged);
  WriteFile(dir + "/tables/bad.csv",
            "table,bad\nhit_policy,first\nid,values.x,action\nr1,>= many,escalate\n");
  EXPECT_EQ((*store)->Reload("sighup").outcome, ReloadResult::Outcome::kRefused);

  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].version, r.new_version);
  EXPECT_EQ((*listed)[0].trigger, "sighup");
  EXPECT_EQ((*listed)[0].previous, v1);
  EXPECT_EQ((*listed)[1].version, v1);
  EXPECT_EQ((*listed)[1].trigger, "start");
}

// ---- reflex rules history | rollback, in-process ----------------------------------------

struct CmdResult {
  int code = -1;
  std::string out, err;
};

CmdResult RunRulesCmd(std::vector<std::string> args) {
  CLI::App app{"test"};
  app.require_subcommand(1);
  cli::Runner run;
  cli::AddRulesCommands(app, &run);
  args.insert(args.begin(), "reflex");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CmdResult r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.code = run ? run() : 2;
  } catch (const CLI::ParseError& e) {
    r.code = e.get_exit_code() == 0 ? 0 : 2;
  }
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

TEST(RulesCommandTest, HistoryListsNewestFirstWithTheCurrentMarked) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  const std::string state = tmp.path() + "/state";
  // No history there is an error that says where it looked (issue: it used to print an
  // empty history for any mistyped directory).
  CmdResult none = RunRulesCmd({"rules", "history", "--state-dir", state});
  EXPECT_EQ(none.code, 2) << none.err;
  EXPECT_THAT(none.err, HasSubstr("no rule history at " + state + "/rules-history"));

  engine::ManualClock clock(1795514400000);
  auto history = MustOpen({.state_dir = state, .clock = &clock});
  RuleSnapshot a = MustLoad(dir);
  ASSERT_TRUE(history->Record(a, "start").ok());
  EditDiskTable(dir, "h1");
  RuleSnapshot b = MustLoad(dir);
  clock.Advance(60000);
  ASSERT_TRUE(history->Record(b, "sighup").ok());

  CmdResult text = RunRulesCmd({"rules", "history", "--state-dir", state});
  ASSERT_EQ(text.code, 0) << text.err;
  const size_t pos_b = text.out.find("* " + b.version);
  const size_t pos_a = text.out.find("  " + a.version);
  ASSERT_NE(pos_b, std::string::npos) << text.out;
  ASSERT_NE(pos_a, std::string::npos) << text.out;
  EXPECT_LT(pos_b, pos_a);
  EXPECT_THAT(text.out, HasSubstr("2026-11-24T10:01:00.000Z"));
  EXPECT_THAT(text.out, HasSubstr("sighup"));

  CmdResult js = RunRulesCmd({"rules", "history", "--state-dir", state, "--json"});
  ASSERT_EQ(js.code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["version"], b.version);
  EXPECT_EQ(j[0]["current"], true);
  EXPECT_EQ(j[0]["trigger"], "sighup");
  EXPECT_EQ(j[0]["rows"], b.rows);
  EXPECT_EQ(j[0]["tables"], b.tables);
  EXPECT_EQ(j[1]["version"], a.version);
  EXPECT_EQ(j[1]["current"], false);
  EXPECT_EQ(j[1]["activated_at"], "2026-11-24T10:00:00.000Z");
}

TEST(RulesCommandTest, RollbackExitCodes) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  const std::string state = tmp.path() + "/state";
  auto history = MustOpen({.state_dir = state});
  RuleSnapshot a = MustLoad(dir);
  ASSERT_TRUE(history->Record(a, "start").ok());
  EditDiskTable(dir, "c1");

  CmdResult ok =
      RunRulesCmd({"rules", "rollback", a.version, "--rules", dir, "--state-dir", state});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("rolled back"));
  EXPECT_THAT(ok.out, HasSubstr("changed  tables/disk_full.csv"));
  EXPECT_EQ(MustLoad(dir).version, a.version);

  CmdResult unknown = RunRulesCmd(
      {"rules", "rollback", "v-1111111111111111", "--rules", dir, "--state-dir", state});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown rule-set version"));
  EXPECT_THAT(unknown.err, HasSubstr(a.version));

  WriteFile(history->VersionDir(a.version) + "/tables/zz.csv",
            "table,zz\nhit_policy,first\nid,values.x,action\nr1,>= many,escalate\n");
  CmdResult broken =
      RunRulesCmd({"rules", "rollback", a.version, "--rules", dir, "--state-dir", state});
  EXPECT_EQ(broken.code, 1);
  EXPECT_THAT(broken.err, HasSubstr("no longer compiles"));
  fs::remove(history->VersionDir(a.version) + "/tables/zz.csv");

  CmdResult no_dir = RunRulesCmd(
      {"rules", "rollback", a.version, "--rules", tmp.path() + "/absent", "--state-dir", state});
  EXPECT_EQ(no_dir.code, 2);
  EXPECT_THAT(no_dir.err, HasSubstr("does not exist"));

  CmdResult usage = RunRulesCmd({"rules", "rollback", a.version});  // no --rules
  EXPECT_EQ(usage.code, 2);
}

// ---- the real binary --------------------------------------------------------------------

TEST(RulesCommandTest, RealBinaryRollsBack) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  const std::string state = tmp.path() + "/state";
  auto history = MustOpen({.state_dir = state});
  RuleSnapshot a = MustLoad(dir);
  ASSERT_TRUE(history->Record(a, "start").ok());
  EditDiskTable(dir, "bin1");
  ASSERT_TRUE(history->Record(MustLoad(dir), "watch").ok());

  auto h = cli_test::RunCli({"rules", "history", "--state-dir", state, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.Describe();
  auto j = nlohmann::json::parse(h.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["version"], a.version);

  auto r = cli_test::RunCli({"rules", "rollback", a.version, "--rules", dir, "--state-dir", state});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(MustLoad(dir).version, a.version);
  auto bad = cli_test::RunCli({"rules", "rollback", "nope", "--rules", dir, "--state-dir", state});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
}

}  // namespace
}  // namespace reflex::connectors
