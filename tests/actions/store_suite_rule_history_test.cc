// The store suite (store_suite.h) for the rule-set history store (rule_set_store.h), written
// once and run against every backend: a version's record and its files round trip with bytes
// PostgreSQL text cannot hold (NUL, invalid UTF-8), a version stored twice is kept once, two
// replicas storing the same new version at once both succeed with one copy, pruning, the
// replica of each activation, and a database newer than this binary refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "migrate.h"
#include "reflex/actions/rule_set_store.h"
#include "sql.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

using engine::StatusCode;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'764'000'000'000;

std::unique_ptr<RuleSetStore> OpenRuleSets(const StoreBackend& b) {
  auto s = RuleSetStore::Open(b.store(), b.sqlite_path(), {});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string VersionName(int i) {
  std::string hex = std::to_string(i);
  return "v-" + std::string(16 - hex.size(), '0') + hex;
}

RuleSetVersion MakeVersion(const std::string& version, const std::string& replica) {
  return {.version = version,
          .first_activated_at_ms = kT0,
          .trigger = "start",
          .previous = "",
          .rules_dir = "/etc/reflex/rules",
          .tables = 2,
          .rows = 7,
          .replica = replica};
}

// A workbook-like binary file (every byte value, NUL and invalid UTF-8 among them) and text.
std::map<std::string, std::string> MakeFiles() {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += std::string("\0\0\xff\xfe\xc3(", 6);
  return {{"tables/book.xlsx", binary},
          {"tables/disk.csv", "id,alertname,action\nr1,DiskFull,escalate\n"},
          {"labeling.yaml", ""},
          {"tables/x.csv", "a"},
          {"tables/xy.csv", "ab"}};
}

TEST_P(StoreSuite, RuleHistoryVersionAndBinaryFilesRoundTrip) {
  auto store = OpenRuleSets(*backend_);
  ASSERT_NE(store, nullptr);
  const std::string v = VersionName(1);
  auto has = store->HasVersion(v);
  ASSERT_TRUE(has.ok()) << has.status().ToString();
  EXPECT_FALSE(*has);
  auto none = store->Files(v);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound) << none.status().ToString();

  const auto files = MakeFiles();
  ASSERT_TRUE(store->PutVersion(MakeVersion(v, "replica-a"), files).ok());
  has = store->HasVersion(v);
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(*has);

  auto got = store->Files(v);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, files);  // byte for byte

  auto versions = store->Versions();
  ASSERT_TRUE(versions.ok()) << versions.status().ToString();
  ASSERT_EQ(versions->size(), 1u);
  const RuleSetVersion& r = (*versions)[0];
  EXPECT_EQ(r.version, v);
  EXPECT_EQ(r.first_activated_at_ms, kT0);
  EXPECT_EQ(r.trigger, "start");
  EXPECT_EQ(r.rules_dir, "/etc/reflex/rules");
  EXPECT_EQ(r.tables, 2);
  EXPECT_EQ(r.rows, 7);
  EXPECT_EQ(r.replica, "replica-a");
  ASSERT_EQ(r.files.size(), files.size());
  size_t i = 0;
  for (const auto& [path, bytes] : files) {
    EXPECT_EQ(r.files[i].path, path);
    EXPECT_EQ(r.files[i].size, static_cast<int64_t>(bytes.size())) << path;
    ++i;
  }
  // Another connection (another replica) reads the same bytes.
  auto other = OpenRuleSets(*backend_);
  ASSERT_NE(other, nullptr);
  got = other->Files(v);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, files);
}

TEST_P(StoreSuite, RuleHistoryVersionStoredTwiceKeepsOneCopyAndBothActivations) {
  auto store = OpenRuleSets(*backend_);
  ASSERT_NE(store, nullptr);
  const std::string v = VersionName(2);
  const auto files = MakeFiles();
  ASSERT_TRUE(store->PutVersion(MakeVersion(v, "replica-a"), files).ok());
  ASSERT_TRUE(store
                  ->AppendActivation(
                      {.version = v, .at_ms = kT0, .trigger = "start", .replica = "replica-a"})
                  .ok());
  engine::Status again = store->PutVersion(MakeVersion(v, "replica-b"), files);
  ASSERT_TRUE(again.ok()) << again.ToString();
  ASSERT_TRUE(store
                  ->AppendActivation({.version = v,
                                      .at_ms = kT0 + 1000,
                                      .trigger = "sighup",
                                      .previous = v,
                                      .replica = "replica-b"})
                  .ok());

  auto db = Connect();
  EXPECT_EQ(Count(*db, "rule_history_versions"), 1);
  EXPECT_EQ(Count(*db, "rule_history_files"), static_cast<int64_t>(files.size()));
  auto versions = store->Versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].replica, "replica-a");  // the first copy stays

  auto acts = store->Activations();
  ASSERT_TRUE(acts.ok()) << acts.status().ToString();
  ASSERT_EQ(acts->size(), 2u);
  EXPECT_EQ((*acts)[0].trigger, "start");
  EXPECT_EQ((*acts)[0].replica, "replica-a");
  EXPECT_EQ((*acts)[0].previous, "");
  EXPECT_EQ((*acts)[1].trigger, "sighup");
  EXPECT_EQ((*acts)[1].at_ms, kT0 + 1000);
  EXPECT_EQ((*acts)[1].previous, v);
  EXPECT_EQ((*acts)[1].replica, "replica-b");
}

TEST_P(StoreSuite, RuleHistoryTwoReplicasStoringTheSameVersionAtOnceBothSucceed) {
  constexpr int kRounds = 10;
  std::unique_ptr<RuleSetStore> replicas[2] = {OpenRuleSets(*backend_), OpenRuleSets(*backend_)};
  ASSERT_NE(replicas[0], nullptr);
  ASSERT_NE(replicas[1], nullptr);
  const auto files = MakeFiles();
  std::barrier sync(2);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      const std::string replica = w == 0 ? "replica-a" : "replica-b";
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();  // both start storing the same new version together
        const std::string v = VersionName(100 + round);
        engine::Status s = replicas[w]->PutVersion(MakeVersion(v, replica), files);
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << replica << " " << v << ": " << s.ToString();
        }
        s = replicas[w]->AppendActivation(
            {.version = v, .at_ms = kT0 + round, .trigger = "start", .replica = replica});
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto db = Connect();
  EXPECT_EQ(Count(*db, "rule_history_versions"), kRounds);
  EXPECT_EQ(Count(*db, "rule_history_files"), kRounds * static_cast<int64_t>(files.size()));
  EXPECT_EQ(Count(*db, "rule_history_activations"), 2 * kRounds);
  for (int round = 0; round < kRounds; ++round) {
    auto got = replicas[round % 2]->Files(VersionName(100 + round));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, files);
  }
  auto acts = replicas[0]->Activations();
  ASSERT_TRUE(acts.ok());
  int by_a = 0, by_b = 0;
  for (const auto& a : *acts) (a.replica == "replica-a" ? by_a : by_b)++;
  EXPECT_EQ(by_a, kRounds);
  EXPECT_EQ(by_b, kRounds);
}

TEST_P(StoreSuite, RuleHistoryPruneDropsWholeVersionsAndTrimsActivations) {
  auto store = OpenRuleSets(*backend_);
  ASSERT_NE(store, nullptr);
  const auto files = MakeFiles();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store->PutVersion(MakeVersion(VersionName(i), "a"), files).ok());
    for (int k = 0; k < 2; ++k) {
      ASSERT_TRUE(store
                      ->AppendActivation({.version = VersionName(i),
                                          .at_ms = kT0 + 10 * i + k,
                                          .trigger = "watch",
                                          .replica = "a"})
                      .ok());
    }
  }
  // Nothing to remove and room for every activation: nothing changes.
  ASSERT_TRUE(store->Prune({}, 1000).ok());
  auto acts = store->Activations();
  ASSERT_TRUE(acts.ok());
  EXPECT_EQ(acts->size(), 6u);

  engine::Status s = store->Prune({VersionName(1)}, 3);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto versions = store->Versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, VersionName(2));
  EXPECT_EQ((*versions)[1].version, VersionName(3));
  auto gone = store->Files(VersionName(1));
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  auto db = Connect();
  EXPECT_EQ(Count(*db, "rule_history_files"), 2 * static_cast<int64_t>(files.size()));
  acts = store->Activations();
  ASSERT_TRUE(acts.ok());
  ASSERT_EQ(acts->size(), 3u);  // the newest three, oldest first
  EXPECT_EQ((*acts)[0].at_ms, kT0 + 21);
  EXPECT_EQ((*acts)[1].at_ms, kT0 + 30);
  EXPECT_EQ((*acts)[2].at_ms, kT0 + 31);
}

TEST_P(StoreSuite, RuleHistoryRecordsItsSchemaVersionAndRefusesANewerDatabase) {
  ASSERT_NE(OpenRuleSets(*backend_), nullptr);
  auto db = Connect();
  auto v = sql::AppliedVersion(*db, "rule_history");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(schema::RuleHistoryVersion(), 1);
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('rule_history', 2, 'from the future', 0)")
                  .ok());
  auto s = RuleSetStore::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
  EXPECT_THAT(s.status().message(),
              HasSubstr("rule history: database schema version 2 is newer than this reflex "
                        "(knows up to 1): upgrade reflex"));
}

}  // namespace
}  // namespace reflex::actions::test
