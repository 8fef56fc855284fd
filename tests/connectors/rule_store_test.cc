// RuleStore and RuleWatcher against real rules directories in a temp dir: reload of an
// edited table, refusal of a bad one (old set keeps serving), no-op on an unchanged set,
// readers matching on another thread during 50 swaps, and the inotify watcher (write,
// rename into place, one reload per burst, replaced tables/ directory, Stop).
#include "reflex/connectors/rule_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "../cli/run_cli.h"
#include "reflex/engine/pipeline.h"
#include "reflex/engine/topology.h"

namespace reflex::connectors {
namespace {

namespace fs = std::filesystem;
using cli_test::ReadFile;
using cli_test::TempDir;
using ::testing::HasSubstr;

// Polls `cond` every 10 ms for up to 20 s.
template <typename F>
bool WaitFor(F cond) {
  for (int i = 0; i < 2000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

std::string CopyExamples(const TempDir& tmp) {
  const fs::path dst = fs::path(tmp.path()) / "rules";
  fs::copy(fs::path(REFLEX_SOURCE_DIR) / "rules/examples", dst, fs::copy_options::recursive);
  return dst.string();
}

// A one-table rules directory whose single row is named after `variant`.
std::string SwapTable(const std::string& variant) {
  return "table,swap\nhit_policy,first\nid,alertname,action,param.variant\nrow-" + variant +
         ",Test,fix," + variant + "\n";
}
std::string OtherTable(const std::string& variant) {
  return "table,other\nhit_policy,first\nid,alertname,action\nother-" + variant + ",Test,fix\n";
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

std::unique_ptr<RuleStore> MustCreate(RuleStoreOptions o) {
  auto s = RuleStore::Create(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(RuleStoreTest, CreateLoadsTheDirectory) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  std::vector<ReloadResult> seen;
  auto store = MustCreate(
      {.rules_dir = dir, .on_reload = [&](const ReloadResult& r) { seen.push_back(r); }});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_EQ(store->version(), LoadRuleSnapshot(dir).version);
  EXPECT_THAT(store->version(), ::testing::MatchesRegex("v-[0-9a-f]{16}"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].trigger, "start");
  EXPECT_EQ(seen[0].outcome, ReloadResult::Outcome::kSwapped);
  EXPECT_EQ(seen[0].old_version, "");
  EXPECT_GE(seen[0].tables, 6u);
}

TEST(RuleStoreTest, CreateFailsWithDiagnostics) {
  TempDir tmp;
  tmp.Write("rules/tables/bad.csv",
            "table,bad\nhit_policy,first\nid,values.x,action\nr1,>= abc,fix\n");
  auto s = RuleStore::Create({.rules_dir = tmp.path() + "/rules"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), ::testing::ContainsRegex("tables/bad\\.csv:4:[0-9]+"));
  auto missing = RuleStore::Create({.rules_dir = tmp.path() + "/nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("not a rules directory"));
}

TEST(RuleStoreTest, ReloadPicksUpAnEditedTable) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  const auto before = store->Current();
  const std::string path = dir + "/tables/disk_full.csv";
  WriteFile(path,
            ReadFile(path) +
                "disk-extra,NodeFilesystemFull,/srv/extra,,,escalate,,1,,Added by the test\n");
  ReloadResult r = store->Reload("test");
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kSwapped) << ::testing::PrintToString(r.diagnostics);
  EXPECT_EQ(r.trigger, "test");
  EXPECT_EQ(r.old_version, before->version());
  EXPECT_NE(r.new_version, before->version());
  EXPECT_EQ(store->version(), r.new_version);
  EXPECT_EQ(store->generation(), 2u);
  EXPECT_EQ(store->Current()->row_count(), before->row_count() + 1);
  EXPECT_EQ(store->counters().swapped, 1u);

  // The new row decides an event.
  engine::Pipeline p(store->Current());
  std::string out;
  ASSERT_TRUE(
      p.Process(R"({"labels":{"alertname":"NodeFilesystemFull","mountpoint":"/srv/extra"}})", 0,
                &out)
          .ok());
  EXPECT_THAT(out, HasSubstr("\"disk-extra\""));
  EXPECT_THAT(out, HasSubstr(r.new_version));
}

TEST(RuleStoreTest, BadTableIsRefusedAndTheOldSetKeepsServing) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  std::vector<ReloadResult> seen;
  auto store = MustCreate(
      {.rules_dir = dir, .on_reload = [&](const ReloadResult& r) { seen.push_back(r); }});
  ASSERT_NE(store, nullptr);
  const auto before = store->Current();
  WriteFile(dir + "/tables/broken.csv",
            "table,broken\nhit_policy,first\nid,values.usage,action\nr1,>= lots,escalate\n");
  ReloadResult r = store->Reload("sighup");
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kRefused);
  EXPECT_FALSE(r.ok());
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_THAT(r.diagnostics[0], ::testing::ContainsRegex("tables/broken\\.csv:4:[0-9]+: error: "));
  EXPECT_EQ(store->Current(), before);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_EQ(store->counters().refused, 1u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].outcome, ReloadResult::Outcome::kRefused);

  // Fixing the file brings the reload through.
  fs::remove(dir + "/tables/broken.csv");
  WriteFile(dir + "/tables/fixed.csv",
            "table,fixed\nhit_policy,first\nid,values.usage,action\nr1,>= 99,escalate\n");
  EXPECT_EQ(store->Reload("sighup").outcome, ReloadResult::Outcome::kSwapped);
  EXPECT_EQ(store->generation(), 2u);
}

// Topology files reload with the tables: a bad one (a dependency cycle) is refused like a bad
// table and the old set, with its topology, keeps serving; so is an emit row that re-triggers
// itself (a rule-chaining cycle).
TEST(RuleStoreTest, BadTopologyOrChainingCycleIsRefusedAndTheOldSetKeepsServing) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  WriteFile(dir + "/topology/nodes.csv", "id,depends_on\nweb-1,db-1\ndb-1,\n");
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  const auto before = store->Current();
  ASSERT_NE(before->topology(), nullptr);
  EXPECT_EQ(before->topology()->node_count(), 2u);

  WriteFile(dir + "/topology/nodes.csv", "id,depends_on\nweb-1,db-1\ndb-1,web-1\n");
  ReloadResult r = store->Reload("sighup");
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kRefused);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_THAT(r.diagnostics[0],
              ::testing::ContainsRegex("topology/nodes\\.csv:3:[0-9]+: error: dependency cycle: "
                                       "(web-1 -> db-1 -> web-1|db-1 -> web-1 -> db-1)"));
  EXPECT_EQ(store->Current(), before);

  // A valid topology comes through with the next reload.
  WriteFile(dir + "/topology/nodes.csv", "id,depends_on\nweb-1,db-1\ndb-1,\napp-1,db-1\n");
  EXPECT_EQ(store->Reload("sighup").outcome, ReloadResult::Outcome::kSwapped);
  const auto second = store->Current();
  EXPECT_EQ(second->topology()->node_count(), 3u);

  // An emit action whose conclusion matches the row that emits it.
  WriteFile(dir + "/actions.yaml",
            ReadFile(dir + "/actions.yaml") +
                "\n  conclude:\n    kind: emit\n    event: {labels: {alertname: Looping}}\n");
  WriteFile(dir + "/tables/loop.csv",
            "table,loop\nhit_policy,first\nid,alertname,action\nagain,Looping,conclude\n");
  ReloadResult loop = store->Reload("sighup");
  EXPECT_EQ(loop.outcome, ReloadResult::Outcome::kRefused);
  EXPECT_THAT(::testing::PrintToString(loop.diagnostics),
              HasSubstr("rule chaining cycle: a conclusion event can trigger its own rule again: "
                        "loop/again"));
  EXPECT_EQ(store->Current(), second);
}

// The validate hook sees each candidate that loaded and differs from the running set; its
// refusal counts like a load error, with the status's lines as the diagnostics.
TEST(RuleStoreTest, ValidateHookRefusesACandidateAndTheOldSetKeepsServing) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  std::vector<std::string> asked;  // versions the hook saw
  bool refuse = false;
  std::vector<ReloadResult> seen;
  auto store = MustCreate({.rules_dir = dir,
                           .on_reload = [&](const ReloadResult& r) { seen.push_back(r); },
                           .validate =
                               [&](const RuleSnapshot& candidate) {
                                 asked.push_back(candidate.version);
                                 EXPECT_TRUE(candidate.ok());
                                 return refuse
                                            ? engine::InvalidArgument("first reason\nsecond reason")
                                            : engine::Status::Ok();
                               }});
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(asked.size(), 1u);  // the initial load
  EXPECT_EQ(asked[0], store->version());
  const auto before = store->Current();

  EXPECT_EQ(store->Reload("test").outcome, ReloadResult::Outcome::kUnchanged);
  EXPECT_EQ(asked.size(), 1u) << "an unchanged set is not validated again";

  WriteFile(dir + "/tables/extra.csv",
            "table,extra\nhit_policy,first\nid,alertname,action\nx1,Extra,escalate\n");
  refuse = true;
  ReloadResult r = store->Reload("test");
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kRefused);
  EXPECT_FALSE(r.validation.ok());
  EXPECT_EQ(r.diagnostics, (std::vector<std::string>{"first reason", "second reason"}));
  EXPECT_NE(r.new_version, before->version());
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1], r.new_version);
  EXPECT_EQ(store->Current(), before);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_EQ(store->counters().refused, 1u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].outcome, ReloadResult::Outcome::kRefused);

  // A set that does not load never reaches the hook; its refusal has an OK validation.
  WriteFile(dir + "/tables/broken.csv",
            "table,broken\nhit_policy,first\nid,values.usage,action\nr1,>= lots,escalate\n");
  ReloadResult broken = store->Reload("test");
  EXPECT_EQ(broken.outcome, ReloadResult::Outcome::kRefused);
  EXPECT_TRUE(broken.validation.ok());
  EXPECT_EQ(asked.size(), 2u);
  fs::remove(dir + "/tables/broken.csv");

  refuse = false;
  EXPECT_EQ(store->Reload("test").outcome, ReloadResult::Outcome::kSwapped);
  EXPECT_EQ(store->generation(), 2u);

  // At start a refusal fails Create with the reason.
  auto refused = RuleStore::Create({.rules_dir = dir, .validate = [&](const RuleSnapshot&) {
                                      return engine::InvalidArgument("case 'x' failed");
                                    }});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "rules in " + dir + " are refused:\ncase 'x' failed");
}

TEST(RuleStoreTest, UnchangedSetIsANoOp) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  const auto before = store->Current();
  // Rewriting a file with the same bytes changes nothing.
  const std::string path = dir + "/tables/oom_kill.csv";
  WriteFile(path, ReadFile(path));
  ReloadResult r = store->Reload("watch");
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kUnchanged);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.new_version, r.old_version);
  EXPECT_EQ(store->Current(), before);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_EQ(store->counters().unchanged, 1u);
  EXPECT_EQ(store->counters().swapped, 0u);
}

TEST(RuleStoreTest, ReadersSeeWholeRuleSetsDuringFiftySwaps) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/rules";
  // The two variants' versions, and which rows each one must produce.
  std::map<std::string, std::string> variant_of;
  for (const std::string v : {"A", "B"}) {
    WriteFile(dir + "/tables/swap.csv", SwapTable(v));
    WriteFile(dir + "/tables/other.csv", OtherTable(v));
    RuleSnapshot snap = LoadRuleSnapshot(dir);
    ASSERT_TRUE(snap.ok()) << ::testing::PrintToString(snap.Errors());
    variant_of[snap.version] = v;
  }
  ASSERT_EQ(variant_of.size(), 2u);
  auto store = MustCreate({.rules_dir = dir});  // variant B
  ASSERT_NE(store, nullptr);

  std::atomic<bool> done{false};
  std::atomic<uint64_t> processed{0}, last_generation_seen{0};
  std::atomic<int> bad{0};
  std::string first_bad;
  std::thread reader([&] {
    engine::Pipeline p(store->Current());
    uint64_t gen = store->generation();
    std::string out;
    for (uint64_t i = 0; i < 50'000'000 && !done.load(); ++i) {
      if (i % 8 == 0) {  // per "batch": check the generation, only then load the pointer
        const uint64_t g = store->generation();
        if (g != gen) {
          gen = g;
          p.SetRules(store->Current());
        }
      }
      out.clear();
      if (!p.Process(R"({"id":"e","labels":{"alertname":"Test"}})", 0, &out).ok()) {
        if (bad.fetch_add(1) == 0) first_bad = "process failed";
        continue;
      }
      auto j = nlohmann::json::parse(out, nullptr, false);
      const std::string version = j.is_object() ? j.value("ruleset", "") : "";
      auto it = variant_of.find(version);
      std::string rows;
      if (j.is_object() && j.contains("matches")) {
        for (const auto& m : j["matches"]) rows += m.value("row", "") + ",";
      }
      if (it == variant_of.end() || rows.find("row-" + it->second + ",") == std::string::npos ||
          rows.find("other-" + it->second + ",") == std::string::npos ||
          rows.find(it->second == "A" ? "-B," : "-A,") != std::string::npos) {
        if (bad.fetch_add(1) == 0) first_bad = out;
      }
      processed.fetch_add(1);
      last_generation_seen.store(gen);
    }
  });

  for (int k = 0; k < 50; ++k) {
    const std::string v = k % 2 == 0 ? "A" : "B";
    WriteFile(dir + "/tables/swap.csv", SwapTable(v));
    WriteFile(dir + "/tables/other.csv", OtherTable(v));
    ReloadResult r = store->Reload("test");
    ASSERT_EQ(r.outcome, ReloadResult::Outcome::kSwapped) << k;
    auto found = variant_of.find(r.new_version);
    ASSERT_TRUE(found != variant_of.end() && found->second == v) << r.new_version;
    // Let the reader decide at least one event with this generation before the next swap.
    const uint64_t g = store->generation();
    const uint64_t before = processed.load();
    ASSERT_TRUE(WaitFor([&] { return last_generation_seen.load() >= g && processed > before; }));
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << first_bad;
  EXPECT_GE(processed.load(), 50u);
  EXPECT_EQ(store->generation(), 51u);
}

TEST(RuleWatcherTest, ReloadsOnceForABurstOfWrites) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/rules";
  WriteFile(dir + "/tables/swap.csv", SwapTable("A"));
  WriteFile(dir + "/tables/other.csv", OtherTable("A"));
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  // A debounce far longer than the burst takes, so the burst is one change.
  RuleWatcher watcher = RuleWatcher::ForStore(store.get(), std::chrono::milliseconds(500));
  ASSERT_TRUE(watcher.Start().ok());

  // An editor saving two files, one of them in several writes.
  {
    std::ofstream f(dir + "/tables/swap.csv", std::ios::binary | std::ios::trunc);
    const std::string text = SwapTable("B");
    f << text.substr(0, 10);
    f.flush();
    f << text.substr(10);
  }
  WriteFile(dir + "/tables/other.csv", OtherTable("B"));
  const std::string want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return watcher.fired() >= 1; }));
  EXPECT_EQ(store->version(), want);  // the reload saw the whole burst
  EXPECT_EQ(store->counters().swapped, 1u);

  // A sentinel change: every event of the burst was handled before it, so exactly one more
  // reload means the burst gave exactly one.
  WriteFile(dir + "/tables/swap.csv", SwapTable("C"));
  const std::string want2 = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want2 && watcher.fired() >= 2; }));
  EXPECT_EQ(watcher.fired(), 2u);
  EXPECT_EQ(store->counters().swapped, 2u);
  watcher.Stop();
}

TEST(RuleWatcherTest, SeesARenameIntoPlace) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  RuleWatcher watcher = RuleWatcher::ForStore(store.get(), std::chrono::milliseconds(50));
  ASSERT_TRUE(watcher.Start().ok());
  const std::string path = dir + "/tables/oom_kill.csv";
  // Write a temp file beside it, then rename over the table (vim, emacs, sed -i, ...).
  WriteFile(dir + "/tables/.oom_kill.csv.swp", ReadFile(path) + "\n");
  const std::string old_version = store->version();
  ASSERT_EQ(std::rename((dir + "/tables/.oom_kill.csv.swp").c_str(), path.c_str()), 0);
  const std::string want = LoadRuleSnapshot(dir).version;
  ASSERT_NE(want, old_version);
  // The callback swaps the set before fired() counts it.
  ASSERT_TRUE(WaitFor([&] { return store->version() == want && watcher.fired() >= 1; }));
  EXPECT_EQ(store->counters().swapped, 1u);
}

TEST(RuleWatcherTest, SeesANewTableAndTopLevelFiles) {
  TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  RuleWatcher watcher = RuleWatcher::ForStore(store.get(), std::chrono::milliseconds(50));
  ASSERT_TRUE(watcher.Start().ok());
  WriteFile(dir + "/tables/zz_new.csv",
            "table,zz_new\nhit_policy,first\nid,alertname,action\nz1,Zed,escalate\n");
  std::string want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want; }));
  // The lookup file lives in lookups/, an immediate subdirectory.
  const std::string inventory = dir + "/lookups/inventory.csv";
  WriteFile(inventory, ReadFile(inventory) + "\n");
  want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want; }));
}

TEST(RuleWatcherTest, FollowsAReplacedTablesDirectory) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/rules";
  WriteFile(dir + "/tables/swap.csv", SwapTable("A"));
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  RuleWatcher watcher = RuleWatcher::ForStore(store.get(), std::chrono::milliseconds(50));
  ASSERT_TRUE(watcher.Start().ok());
  // Deploy a whole new tables/ by renaming (rsync --delay-updates, git checkout, ...).
  WriteFile(dir + "/tables.new/swap.csv", SwapTable("B"));
  fs::rename(dir + "/tables", dir + "/tables.old");
  fs::rename(dir + "/tables.new", dir + "/tables");
  std::string want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want; }));
  // An edit inside the new directory is seen too.
  WriteFile(dir + "/tables/swap.csv", SwapTable("C"));
  want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want; }));
}

TEST(RuleWatcherTest, ReloadsWhenTheDirectoryComesBack) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/rules";
  WriteFile(dir + "/tables/swap.csv", SwapTable("A"));
  auto store = MustCreate({.rules_dir = dir});
  ASSERT_NE(store, nullptr);
  RuleWatcher watcher = RuleWatcher::ForStore(store.get(), std::chrono::milliseconds(50));
  ASSERT_TRUE(watcher.Start().ok());
  // Replace the whole directory: rename it away, then put a new one in its place.
  WriteFile(tmp.path() + "/rules.new/tables/swap.csv", SwapTable("B"));
  fs::rename(dir, tmp.path() + "/rules.old");
  fs::rename(tmp.path() + "/rules.new", dir);
  const std::string want = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want; }));
  // And it is watched again.
  WriteFile(dir + "/tables/swap.csv", SwapTable("C"));
  const std::string want2 = LoadRuleSnapshot(dir).version;
  ASSERT_TRUE(WaitFor([&] { return store->version() == want2; }));
}

TEST(RuleStoreTest, LogReloadResultWritesOneLinePerOutcome) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/rules";
  WriteFile(dir + "/tables/swap.csv", SwapTable("A"));
  std::ostringstream out;
  Logger log(out, LogLevel::kDebug);
  auto store = MustCreate(
      {.rules_dir = dir, .on_reload = [&](const ReloadResult& r) { LogReloadResult(log, r); }});
  ASSERT_NE(store, nullptr);
  (void)store->Reload("sighup");  // unchanged
  WriteFile(dir + "/tables/bad.csv",
            "table,bad\nhit_policy,first\nid,values.x,action\nr1,>= many,escalate\n");
  (void)store->Reload("watch");  // refused
  std::istringstream in(out.str());
  std::vector<nlohmann::json> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["msg"], "rules reloaded");
  EXPECT_EQ(lines[0]["trigger"], "start");
  EXPECT_EQ(lines[0]["version"], store->version());
  EXPECT_EQ(lines[0]["tables"], 1);
  EXPECT_EQ(lines[1]["msg"], "rules unchanged");
  EXPECT_EQ(lines[1]["level"], "debug");
  EXPECT_EQ(lines[2]["msg"], "rules refused");
  EXPECT_EQ(lines[2]["level"], "error");
  EXPECT_EQ(lines[2]["version"], store->version());
  EXPECT_EQ(lines[2]["errors"], 1);
  EXPECT_THAT(lines[2]["error"].get<std::string>(),
              ::testing::ContainsRegex("tables/bad\\.csv:4:[0-9]+: error: "));
}

TEST(RuleWatcherTest, StartAndStopLifecycle) {
  TempDir tmp;
  int calls = 0;
  {
    RuleWatcher never({.dir = tmp.path()}, [&] { ++calls; });
    never.Stop();  // never started: fine
    never.Stop();
  }
  RuleWatcher missing({.dir = tmp.path() + "/absent"}, [&] { ++calls; });
  engine::Status s = missing.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("absent"));

  RuleWatcher w({.dir = tmp.path(), .debounce = std::chrono::milliseconds(10)}, [&] { ++calls; });
  ASSERT_TRUE(w.Start().ok());
  EXPECT_FALSE(w.Start().ok());  // already started
  tmp.Write("x.txt", "1");
  ASSERT_TRUE(WaitFor([&] { return w.fired() >= 1; }));
  w.Stop();
  w.Stop();  // idempotent
  const uint64_t fired = w.fired();
  EXPECT_EQ(calls, static_cast<int>(fired));
  // Restartable after Stop.
  ASSERT_TRUE(w.Start().ok());
  tmp.Write("y.txt", "2");
  ASSERT_TRUE(WaitFor([&] { return w.fired() > fired; }));
}  // the destructor stops it

}  // namespace
}  // namespace reflex::connectors
