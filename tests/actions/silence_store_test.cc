// SilenceStore on a real SQLite file: add (validated, a UUID id), list, get, expire as
// Alertmanager does (endsAt = now; a pending one never starts), replace by id, the version
// another process's writes move, prune, and reopening keeps everything.
#include "reflex/actions/silence_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

namespace reflex::actions {
namespace {

namespace fs = std::filesystem;
using engine::LabelMatcher;
using engine::Silence;
using engine::SilenceState;

constexpr int64_t kT0 = 1764000000000;
constexpr int64_t kHour = 3600 * 1000;

class SilenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("silence_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = (dir_ / "reflex.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SilenceStore> Open() {
    auto s = SilenceStore::Open(path_, {.clock = &clock_});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static Silence Make(int64_t start, int64_t end) {
    Silence s;
    s.matchers = {LabelMatcher{"alertname", "DiskFull", false, true},
                  LabelMatcher{"instance", "db-.*", true, true}};
    s.starts_at_ms = start;
    s.ends_at_ms = end;
    s.created_by = "alice";
    s.comment = "disk swap";
    return s;
  }
  fs::path dir_;
  std::string path_;
  engine::ManualClock clock_{kT0};
};

TEST_F(SilenceStoreTest, AddListGetAndReopen) {
  auto store = Open();
  auto id = store->Add(Make(kT0, kT0 + kHour));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(std::regex_match(
      *id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << *id;
  auto pending = store->Add(Make(kT0 + kHour, kT0 + 2 * kHour));
  ASSERT_TRUE(pending.ok());
  EXPECT_NE(*pending, *id);
  store.reset();
  store = Open();  // durable
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, *pending);  // latest start first
  auto got = store->Get(*id);
  ASSERT_TRUE(got.ok());
  Silence want = Make(kT0, kT0 + kHour);
  want.id = *id;
  want.updated_at_ms = kT0;
  EXPECT_EQ(*got, want);
  EXPECT_EQ(store->Get("nope").status().code(), engine::StatusCode::kNotFound);
}

TEST_F(SilenceStoreTest, RefusesWhatAlertmanagerRefuses) {
  auto store = Open();
  Silence all_empty = Make(kT0, kT0 + kHour);
  all_empty.matchers = {LabelMatcher{"instance", ".*", true, true}};
  EXPECT_EQ(store->Add(all_empty).status().message(),
            "at least one matcher must not match the empty string");
  EXPECT_EQ(store->Add(Make(kT0 - 2 * kHour, kT0 - kHour)).status().message(),
            "end time can't be in the past");
  EXPECT_EQ(store->Add(Make(kT0, kT0)).status().message(), "start time must be before end time");
  EXPECT_TRUE(store->List()->empty());  // nothing stored
}

TEST_F(SilenceStoreTest, ExpireEndsActiveAndCancelsPending) {
  auto store = Open();
  const std::string active = *store->Add(Make(kT0 - kHour, kT0 + kHour));
  const std::string pending = *store->Add(Make(kT0 + kHour, kT0 + 2 * kHour));
  clock_.Set(kT0 + 5);
  ASSERT_TRUE(store->Expire(active).ok());
  ASSERT_TRUE(store->Expire(pending).ok());
  auto a = store->Get(active);
  EXPECT_EQ(a->ends_at_ms, kT0 + 5);
  EXPECT_EQ(a->starts_at_ms, kT0 - kHour);
  EXPECT_EQ(engine::StateAt(*a, kT0 + 5), SilenceState::kExpired);
  auto p = store->Get(pending);
  EXPECT_EQ(p->starts_at_ms, kT0 + 5);
  EXPECT_EQ(p->ends_at_ms, kT0 + 5);
  EXPECT_EQ(engine::StateAt(*p, kT0 + 2 * kHour - 1), SilenceState::kExpired);  // never starts
  EXPECT_EQ(store->Expire(active).message(), "silence " + active + " already expired");
  EXPECT_EQ(store->Expire(active).code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Expire("nope").code(), engine::StatusCode::kNotFound);
}

TEST_F(SilenceStoreTest, AddWithAnIdReplacesThatSilence) {
  auto store = Open();
  const std::string old_id = *store->Add(Make(kT0, kT0 + kHour));
  Silence longer = Make(kT0, kT0 + 3 * kHour);
  longer.id = old_id;
  auto new_id = store->Add(longer);
  ASSERT_TRUE(new_id.ok());
  EXPECT_NE(*new_id, old_id);
  EXPECT_EQ(engine::StateAt(*store->Get(old_id), kT0), SilenceState::kExpired);
  EXPECT_EQ(store->Get(*new_id)->ends_at_ms, kT0 + 3 * kHour);
  longer.id = "no-such-id";
  EXPECT_EQ(store->Add(longer).status().code(), engine::StatusCode::kNotFound);
}

TEST_F(SilenceStoreTest, VersionMovesWithWritesOfAnotherConnection) {
  auto reader = Open();
  auto writer = Open();
  const int64_t v0 = *reader->Version();
  const std::string id = *writer->Add(Make(kT0, kT0 + kHour));
  const int64_t v1 = *reader->Version();
  EXPECT_GT(v1, v0);
  ASSERT_TRUE(writer->Expire(id).ok());
  EXPECT_GT(*reader->Version(), v1);
}

TEST_F(SilenceStoreTest, PruneDeletesOnlyLongExpiredSilences) {
  auto store = Open();
  const std::string old_one = *store->Add(Make(kT0, kT0 + kHour));
  const std::string live = *store->Add(Make(kT0, kT0 + 100 * kHour));
  clock_.Set(kT0 + 10 * kHour);
  auto n = store->Prune(5 * kHour);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(store->Get(old_one).status().code(), engine::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get(live).ok());
}

TEST_F(SilenceStoreTest, OpenWithoutCreateNamesTheMissingFile) {
  auto s = SilenceStore::Open(path_, {.create_if_missing = false});
  EXPECT_EQ(s.status().code(), engine::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "no state database at " + path_);
}

}  // namespace
}  // namespace reflex::actions
