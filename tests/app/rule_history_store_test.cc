// The rule-set history kept in the store's database (app/rule_history_store.h: RuleHistory
// over actions::RuleSetStore), on a real SQLite file and on a real PostgreSQL server this
// binary starts (tests/pg_server.h; skipped without one unless CI=true): what `reflex run`
// records (a workbook's bytes included) lists back, a rollback from the database restores
// the rules directory byte for byte, an unknown version is refused with the known ones, two
// replicas recording the same set keep one copy and each its activation, and
// OpenExistingRuleHistory on PostgreSQL needs no local file.
#include "reflex/app/rule_history_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../rules/xlsx_writer.h"
#include "pg_server.h"
#include "reflex/actions/rule_set_store.h"
#include "reflex/app/state_dir.h"
#include "reflex/connectors/rule_history.h"
#include "temp_dir.h"

namespace reflex::app {
namespace {

namespace fs = std::filesystem;
using connectors::LoadRuleSnapshot;
using connectors::RuleHistory;
using connectors::RuleSnapshot;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

[[maybe_unused]] auto* const kPg =
    ::testing::AddGlobalTestEnvironment(new reflex::test::PgEnvironment);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string CopyExamples(const reflex::test::TempDir& tmp) {
  const fs::path dst = fs::path(tmp.path()) / "rules";
  fs::copy(fs::path(REFLEX_SOURCE_DIR) / "rules/examples", dst, fs::copy_options::recursive);
  return dst.string();
}

RuleSnapshot MustLoad(const std::string& dir) {
  RuleSnapshot s = LoadRuleSnapshot(dir);
  EXPECT_TRUE(s.ok()) << ::testing::PrintToString(s.Errors());
  return s;
}

struct Backend {
  std::string name;
};
void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class RuleHistoryStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().name == "Postgresql") {
      reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
      if (server == nullptr) GTEST_SKIP() << "no PostgreSQL server";
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      std::string db = std::string("rh_") + info->name();
      for (char& c : db) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      store_.kind = base::StoreKind::kPostgresql;
      store_.dsn = server->CreateDatabase(db.substr(0, 60));
    }
  }

  std::string DbPath() const { return tmp_.File("reflex.db"); }

  // A history over the store, as `reflex run` opens it with storage.store on PostgreSQL.
  std::unique_ptr<RuleHistory> Open(const std::string& replica, size_t keep = 10) {
    auto store = actions::RuleSetStore::Open(store_, DbPath(), {});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    return RuleHistory::WithStorage(
        std::make_unique<StoreRuleHistoryStorage>(std::move(*store), "the test store"),
        {.keep = keep, .replica = replica});
  }

  reflex::test::TempDir tmp_;
  base::StoreConfig store_;
};

TEST_P(RuleHistoryStoreTest, RollbackFromTheDatabaseRestoresTheFilesByteForByte) {
  const std::string dir = CopyExamples(tmp_);
  auto history = Open("replica-a");
  ASSERT_NE(history, nullptr);
  EXPECT_EQ(history->dir(), "the test store");

  // The old set has a workbook (binary: NUL bytes, invalid UTF-8).
  const std::string book =
      reflex::test::XlsxWriter()
          .AddSheet("Sheet1", reflex::test::InlineRows(
                                  {{"id", "alertname", "action"}, {"x1", "FromExcel", "escalate"}}))
          .Build();
  ASSERT_NE(book.find('\0'), std::string::npos);
  tmp_.Write("rules/tables/book.xlsx", book);
  RuleSnapshot old = MustLoad(dir);
  ASSERT_EQ(old.files.count("tables/book.xlsx"), 1u);
  ASSERT_TRUE(history->Record(old, "start").ok());
  std::map<std::string, std::string> old_bytes;
  for (const auto& [rel, bytes] : old.files) old_bytes[rel] = bytes;

  // The new set: the workbook changed, a table gone, a table added.
  const std::string book2 =
      reflex::test::XlsxWriter()
          .AddSheet("Sheet1", reflex::test::InlineRows({{"id", "alertname", "action"},
                                                        {"x2", "FromExcelToo", "escalate"}}))
          .Build();
  tmp_.Write("rules/tables/book.xlsx", book2);
  fs::remove(dir + "/tables/oom_kill.csv");
  tmp_.Write("rules/tables/extra.csv",
             "table,extra\nhit_policy,first\nid,alertname,action\nx1,Extra,escalate\n");
  RuleSnapshot now = MustLoad(dir);
  ASSERT_NE(now.version, old.version);
  ASSERT_TRUE(history->Record(now, "watch").ok());

  auto listed = history->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].version, now.version);
  EXPECT_TRUE((*listed)[0].current);
  EXPECT_EQ((*listed)[0].previous, old.version);
  EXPECT_EQ((*listed)[1].version, old.version);
  EXPECT_EQ((*listed)[1].tables, old.tables);
  ASSERT_EQ((*listed)[1].files.size(), old.files.size());

  auto report = history->Rollback(old.version, dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->resulting_version, old.version);
  EXPECT_EQ(report->previous_version, now.version);
  EXPECT_THAT(report->changed, ElementsAre("tables/book.xlsx"));
  EXPECT_THAT(report->added, ElementsAre("tables/oom_kill.csv"));
  EXPECT_THAT(report->removed, ElementsAre("tables/extra.csv"));
  for (const auto& [rel, bytes] : old_bytes) EXPECT_EQ(ReadFile(dir + "/" + rel), bytes) << rel;
  EXPECT_EQ(MustLoad(dir).version, old.version);
}

TEST_P(RuleHistoryStoreTest, AnUnknownVersionIsRefusedWithTheKnownOnes) {
  const std::string dir = CopyExamples(tmp_);
  auto history = Open("replica-a");
  ASSERT_NE(history, nullptr);
  auto empty = history->Rollback("v-0000000000000000", dir);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), engine::StatusCode::kNotFound);
  EXPECT_THAT(empty.status().message(), HasSubstr("no versions are recorded in the test store"));
  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE(history->Record(s, "start").ok());
  const std::string before = ReadFile(dir + "/tables/disk_full.csv");
  for (const std::string bad : {"v-0000000000000000", "../rules", ""}) {
    auto r = history->Rollback(bad, dir);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), engine::StatusCode::kNotFound);
    EXPECT_THAT(r.status().message(), HasSubstr("known versions: " + s.version + " (current)"));
  }
  EXPECT_EQ(ReadFile(dir + "/tables/disk_full.csv"), before);
}

TEST_P(RuleHistoryStoreTest, TwoReplicasRecordingTheSameSetKeepOneCopyAndBothActivations) {
  const std::string dir = CopyExamples(tmp_);
  auto a = Open("host-a:/var/lib/reflex/reflex.db");
  auto b = Open("host-b:/var/lib/reflex/reflex.db");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE(a->Record(s, "start").ok());
  ASSERT_TRUE(b->Record(s, "start").ok());
  // Both see the one shared history.
  for (RuleHistory* h : {a.get(), b.get()}) {
    auto listed = h->List();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].activations, 2u);
    EXPECT_TRUE((*listed)[0].current);
    EXPECT_EQ((*listed)[0].previous, s.version);  // b's start followed a's
  }
  auto store = actions::RuleSetStore::Open(store_, DbPath(), {});
  ASSERT_TRUE(store.ok());
  auto acts = (*store)->Activations();
  ASSERT_TRUE(acts.ok());
  ASSERT_EQ(acts->size(), 2u);
  EXPECT_EQ((*acts)[0].replica, "host-a:/var/lib/reflex/reflex.db");
  EXPECT_EQ((*acts)[1].replica, "host-b:/var/lib/reflex/reflex.db");
  auto versions = (*store)->Versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].replica, "host-a:/var/lib/reflex/reflex.db");
}

TEST_P(RuleHistoryStoreTest, KeepsTheNewestVersionsInTheDatabase) {
  const std::string dir = CopyExamples(tmp_);
  auto history = Open("replica-a", /*keep=*/2);
  ASSERT_NE(history, nullptr);
  std::vector<std::string> versions;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      tmp_.Write("rules/tables/disk_full.csv",
                 ReadFile(dir + "/tables/disk_full.csv") + "r" + std::to_string(i) +
                     ",NodeFilesystemFull,/srv/r" + std::to_string(i) + ",,,escalate,,1,,\n");
    }
    RuleSnapshot s = MustLoad(dir);
    ASSERT_TRUE(history->Record(s, "watch").ok());
    versions.push_back(s.version);
  }
  auto listed = history->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].version, versions[3]);
  EXPECT_EQ((*listed)[1].version, versions[2]);
  auto store = actions::RuleSetStore::Open(store_, DbPath(), {});
  ASSERT_TRUE(store.ok());
  auto acts = (*store)->Activations();
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ(acts->size(), 2u);  // the pruned versions' activations went with them
  auto gone = (*store)->Files(versions[0]);
  EXPECT_EQ(gone.status().code(), engine::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Stores, RuleHistoryStoreTest,
                         ::testing::Values(Backend{"Sqlite"}, Backend{"Postgresql"}),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

// `reflex rules history|rollback` open the shared database on PostgreSQL: what a run recorded
// is there with no file in the state directory, and the run mode's opener records into it.
TEST(OpenExistingRuleHistoryTest, OnPostgresqlNeedsNoLocalFile) {
  reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
  if (server == nullptr) GTEST_SKIP() << "no PostgreSQL server";
  reflex::test::TempDir tmp;
  const std::string dir = CopyExamples(tmp);
  connectors::StorageConfig storage;
  storage.store.kind = base::StoreKind::kPostgresql;
  storage.store.dsn = server->CreateDatabase("rh_open_existing");
  const std::string state_dir = tmp.File("state");
  auto run = OpenRunRuleHistory(storage, state_dir, StateDbPath(state_dir), "host-a:x");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ((*run)->dir(), "postgresql store");
  RuleSnapshot s = MustLoad(dir);
  ASSERT_TRUE((*run)->Record(s, "start").ok());
  EXPECT_FALSE(fs::exists(state_dir + "/rules-history"));

  StateLocation loc;
  loc.state_dir = tmp.File("elsewhere");  // no file at all
  loc.state_dir_source = "--state-dir";
  loc.db_path = StateDbPath(loc.state_dir);
  loc.storage = storage;
  auto history = OpenExistingRuleHistory(loc);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  auto listed = (*history)->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].version, s.version);
  EXPECT_FALSE(fs::exists(loc.state_dir));

  // On SQLite the history is still the state directory's files.
  loc.storage = {};
  auto files = OpenExistingRuleHistory(loc);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), engine::StatusCode::kNotFound);
}

}  // namespace
}  // namespace reflex::app
