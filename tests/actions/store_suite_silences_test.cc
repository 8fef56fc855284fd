// The store suite (store_suite.h) for the silence store and the notice outbox, written once and
// run against every backend: the Alertmanager round trip and the version, concurrent writers on
// two connections, the outbox's claims with leases shared by two replicas, the schema versions
// (a newer database is refused; a SQLite file from before versioning keeps its rows).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "migrate.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/actions/notifier.h"
#include "reflex/actions/silence_store.h"
#include "reflex/engine/clock.h"
#include "sql.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

using engine::LabelMatcher;
using engine::Silence;
using engine::StatusCode;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'764'000'000'000;
constexpr int64_t kHour = 3600 * 1000;

std::unique_ptr<SilenceStore> OpenSilences(const StoreBackend& b, const engine::Clock* clock) {
  auto s = SilenceStore::Open(b.store(), b.sqlite_path(), {.clock = clock});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<NoticeOutbox> OpenOutbox(const StoreBackend& b, const std::string& owner,
                                         int64_t lease_ms = 60'000) {
  auto o = NoticeOutbox::Open(b.store(), b.sqlite_path(), {.owner = owner, .lease_ms = lease_ms});
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? std::move(*o) : nullptr;
}

Silence MakeSilence(int64_t start, int64_t end, const std::string& alert = "DiskFull") {
  Silence s;
  s.matchers = {LabelMatcher{"alertname", alert, false, true},
                LabelMatcher{"instance", "db-.*", true, true}};
  s.starts_at_ms = start;
  s.ends_at_ms = end;
  s.created_by = "alice";
  s.comment = "it's \"disk\" — swap";
  return s;
}

Notice MakeNotice(int64_t escalation_id) {
  Notice n;
  n.kind = NoticeKind::kNewUnknown;
  n.escalation_id = escalation_id;
  n.fingerprint = "fp-" + std::to_string(escalation_id);
  n.count = 1;
  return n;
}

int64_t VersionOf(SilenceStore& s) {
  auto v = s.Version();
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : -1;
}

std::vector<int64_t> Ids(const std::vector<OutboxEntry>& entries) {
  std::vector<int64_t> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

// ---- the silence store ----

TEST_P(StoreSuite, SilencesAddListExpireReplaceAndPruneRoundTrip) {
  engine::ManualClock clock(kT0);
  auto store = OpenSilences(*backend_, &clock);
  ASSERT_NE(store, nullptr);
  auto active = store->Add(MakeSilence(kT0, kT0 + kHour));
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  auto pending = store->Add(MakeSilence(kT0 + kHour, kT0 + 2 * kHour, "CpuHigh"));
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(store->Add(MakeSilence(kT0 + kHour, kT0)).status().code(),
            StatusCode::kInvalidArgument);

  auto list = store->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, *pending);  // the latest start first
  const Silence& a = (*list)[1];
  EXPECT_EQ(a.id, *active);
  EXPECT_EQ(a.starts_at_ms, kT0);
  EXPECT_EQ(a.ends_at_ms, kT0 + kHour);
  EXPECT_EQ(a.updated_at_ms, kT0);
  EXPECT_EQ(a.created_by, "alice");
  EXPECT_EQ(a.comment, "it's \"disk\" — swap");
  ASSERT_EQ(a.matchers.size(), 2u);
  EXPECT_EQ(a.matchers[1].name, "instance");
  EXPECT_TRUE(a.matchers[1].is_regex);

  // Expire: ends now; a pending one never starts; twice is refused; unknown is not found.
  clock.Advance(1000);
  ASSERT_TRUE(store->Expire(*active).ok());
  auto got = store->Get(*active);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->ends_at_ms, kT0 + 1000);
  EXPECT_EQ(got->starts_at_ms, kT0);
  ASSERT_TRUE(store->Expire(*pending).ok());
  got = store->Get(*pending);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->starts_at_ms, kT0 + 1000);
  EXPECT_EQ(got->ends_at_ms, kT0 + 1000);
  EXPECT_EQ(store->Expire(*active).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Expire("no-such-id").code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Get("no-such-id").status().code(), StatusCode::kNotFound);

  // Replace: Add with an existing id expires it and stores the new one under a new id.
  auto live = store->Add(MakeSilence(kT0, kT0 + kHour, "Replace"));
  ASSERT_TRUE(live.ok());
  clock.Advance(1000);
  Silence changed = MakeSilence(kT0, kT0 + 3 * kHour, "Replace");
  changed.id = *live;
  auto replaced = store->Add(changed);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_NE(*replaced, *live);
  got = store->Get(*live);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ends_at_ms, kT0 + 2000);
  got = store->Get(*replaced);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ends_at_ms, kT0 + 3 * kHour);
  changed.id = "no-such-id";
  EXPECT_EQ(store->Add(changed).status().code(), StatusCode::kNotFound);

  // A second handle on the same database sees the same silences.
  auto other = OpenSilences(*backend_, &clock);
  ASSERT_NE(other, nullptr);
  auto seen = other->List();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size(), 4u);

  // Prune deletes what ended more than max_age ago, nothing else.
  clock.Advance(10'000);
  auto pruned = store->Prune(/*max_age_ms=*/5000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 3);  // active, pending and the replaced one ended by kT0 + 2000
  auto left = other->List();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, *replaced);
}

TEST_P(StoreSuite, SilencesVersionMovesWithEveryWriteAndOnlyWithWrites) {
  engine::ManualClock clock(kT0);
  auto store = OpenSilences(*backend_, &clock);
  auto other = OpenSilences(*backend_, &clock);
  ASSERT_NE(store, nullptr);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(VersionOf(*store), 0);
  auto id = store->Add(MakeSilence(kT0, kT0 + kHour));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(VersionOf(*store), 1);
  EXPECT_EQ(VersionOf(*other), 1);  // another connection sees the bump
  ASSERT_TRUE(other->Expire(*id).ok());
  EXPECT_EQ(VersionOf(*store), 2);
  // Failed writes and reads leave it.
  EXPECT_FALSE(store->Expire(*id).ok());
  EXPECT_FALSE(store->Add(MakeSilence(kT0 + kHour, kT0)).ok());
  ASSERT_TRUE(store->List().ok());
  auto none = store->Prune(kHour);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(VersionOf(*store), 2);
  // A replace bumps twice, the expiry and the add, in one transaction.
  auto second = store->Add(MakeSilence(kT0, kT0 + kHour, "Other"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(VersionOf(*store), 3);
  Silence again = MakeSilence(kT0, kT0 + 2 * kHour, "Other");
  again.id = *second;
  ASSERT_TRUE(store->Add(again).ok());
  EXPECT_EQ(VersionOf(*store), 5);  // the expiry and the add
  clock.Advance(kHour + 1);
  auto pruned = store->Prune(0);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(VersionOf(*other), 6);
}

// Two connections (two replicas) write at once: every add is kept, every write bumps the
// version once, and a silence both expire at once is expired once.
TEST_P(StoreSuite, SilencesConcurrentWritersOnTwoConnectionsLoseNothing) {
  constexpr int kEach = 25;
  engine::ManualClock clock(kT0);
  std::unique_ptr<SilenceStore> stores[2] = {OpenSilences(*backend_, &clock),
                                             OpenSilences(*backend_, &clock)};
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);
  std::atomic<int> failures{0};
  std::vector<std::string> added[2];
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        auto id = stores[w]->Add(
            MakeSilence(kT0, kT0 + kHour, "W" + std::to_string(w) + "_" + std::to_string(i)));
        if (!id.ok()) {
          ++failures;
          continue;
        }
        added[w].push_back(*id);
        // Every other one expired again right away: a read-modify-write.
        if (i % 2 == 0 && !stores[w]->Expire(*id).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto all = stores[0]->List();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), static_cast<size_t>(2 * kEach));
  std::set<std::string> ids;
  for (const auto& s : *all) ids.insert(s.id);
  EXPECT_EQ(ids.size(), all->size());
  const int expires = 2 * ((kEach + 1) / 2);
  EXPECT_EQ(VersionOf(*stores[1]), 2 * kEach + expires);

  // Both connections expire the same silences at once: one wins each, one bump each.
  const int64_t before = VersionOf(*stores[0]);
  std::vector<std::string> live;
  for (int i = 1; i < kEach; i += 2) live.push_back(added[0][static_cast<size_t>(i)]);
  std::atomic<int> won{0}, refused{0};
  threads.clear();
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (const auto& id : live) {
        engine::Status s = stores[w]->Expire(id);
        if (s.ok()) {
          ++won;
        } else if (s.code() == StatusCode::kFailedPrecondition) {
          ++refused;
        } else {
          ADD_FAILURE() << s.ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), static_cast<int>(live.size()));
  EXPECT_EQ(refused.load(), static_cast<int>(live.size()));
  EXPECT_EQ(VersionOf(*stores[0]), before + static_cast<int64_t>(live.size()));
}

TEST_P(StoreSuite, SilencesRecordTheirSchemaVersionAndRefuseANewerDatabase) {
  engine::ManualClock clock(kT0);
  ASSERT_NE(OpenSilences(*backend_, &clock), nullptr);
  auto db = Connect();
  auto v = sql::AppliedVersion(*db, "silences");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('silences', 9, 'from the future', 0)")
                  .ok());
  auto s = SilenceStore::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
  EXPECT_EQ(s.status().message(),
            "silence store: database schema version 9 is newer than this reflex (knows up to 1): "
            "upgrade reflex");
}

// ---- the notice outbox ----

TEST_P(StoreSuite, OutboxAddClaimDeliverAndFail) {
  auto outbox = OpenOutbox(*backend_, "replica-a");
  ASSERT_NE(outbox, nullptr);
  EXPECT_EQ(outbox->owner(), "replica-a");
  auto id1 = outbox->Add("ops", MakeNotice(1), kT0);
  ASSERT_TRUE(id1.ok()) << id1.status().ToString();
  auto id2 = outbox->Add("ops", MakeNotice(2), kT0);
  ASSERT_TRUE(id2.ok());
  auto other_target = outbox->Add("pager", MakeNotice(3), kT0);
  ASSERT_TRUE(other_target.ok());
  EXPECT_GT(*id2, *id1);

  // Added notices are the adder's: not claimable by it as "others'", claimable as its own.
  auto others = outbox->Claim("ops", 10, kT0, /*include_own=*/false);
  ASSERT_TRUE(others.ok()) << others.status().ToString();
  EXPECT_TRUE(others->empty());
  auto own = outbox->Claim("ops", 10, kT0, /*include_own=*/true);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  ASSERT_EQ(Ids(*own), (std::vector<int64_t>{*id1, *id2}));
  auto notice = NoticeFromJson((*own)[1].notice_json);
  ASSERT_TRUE(notice.ok()) << notice.status().ToString();
  EXPECT_EQ(notice->escalation_id, 2);
  EXPECT_EQ((*own)[0].target, "ops");
  auto limited = outbox->Claim("ops", 1, kT0, true);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(Ids(*limited), (std::vector<int64_t>{*id1}));

  ASSERT_TRUE(outbox->MarkDelivered(*id1, kT0 + 1).ok());
  ASSERT_TRUE(outbox->MarkFailed(*id2, "HTTP 400: \"bad\"", kT0 + 1).ok());
  EXPECT_EQ(*outbox->Count("pending"), 1);
  EXPECT_EQ(*outbox->Count("delivered"), 1);
  EXPECT_EQ(*outbox->Count("failed"), 1);
  auto pending = outbox->Claim("ops", 10, kT0 + 2, true);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  auto renew = outbox->Renew(*id1, kT0 + 2);
  ASSERT_TRUE(renew.ok());
  EXPECT_FALSE(*renew) << "a delivered notice is no longer held";

  // Prune keeps what is pending, drops the old outcomes.
  auto pruned = outbox->Prune(/*max_age_ms=*/1, /*max_rows=*/0, kT0 + 10);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->deleted, 2);
  EXPECT_EQ(pruned->kept, 1);
  auto capped = outbox->Prune(0, /*max_rows=*/1, kT0 + 10);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_EQ(capped->deleted, 0);
  EXPECT_EQ(capped->kept, 1);

  auto db = Connect();
  auto v = sql::AppliedVersion(*db, "notice_outbox");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 2);
}

// Two replicas claim the same target's backlog at once, in small batches: every notice is
// claimed by exactly one of them.
TEST_P(StoreSuite, OutboxTwoReplicasNeverClaimTheSameNotice) {
  constexpr int kNotices = 80;
  auto seed = OpenOutbox(*backend_, "seed");
  ASSERT_NE(seed, nullptr);
  std::set<int64_t> all;
  for (int i = 0; i < kNotices; ++i) {
    auto id = seed->Add("ops", MakeNotice(i), kT0);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(seed->Release(*id).ok());  // unclaimed, as after the seed's graceful stop
    all.insert(*id);
  }
  std::unique_ptr<NoticeOutbox> replicas[2] = {OpenOutbox(*backend_, "r1"),
                                               OpenOutbox(*backend_, "r2")};
  ASSERT_NE(replicas[0], nullptr);
  ASSERT_NE(replicas[1], nullptr);
  std::vector<int64_t> claimed[2];
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      while (true) {
        auto got = replicas[r]->Claim("ops", 3, kT0 + 1, /*include_own=*/false);
        if (!got.ok()) {
          ++failures;
          ADD_FAILURE() << got.status().ToString();
          return;
        }
        if (got->empty()) return;
        for (const auto& e : *got) claimed[r].push_back(e.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> union_ids;
  for (const auto& c : claimed) union_ids.insert(c.begin(), c.end());
  EXPECT_EQ(claimed[0].size() + claimed[1].size(), all.size()) << "a notice claimed twice";
  EXPECT_EQ(union_ids, all);
  // Each outcome is recorded by the holder only.
  for (int r = 0; r < 2; ++r) {
    for (int64_t id : claimed[r]) {
      EXPECT_EQ(replicas[1 - r]->MarkDelivered(id, kT0 + 2).code(),
                StatusCode::kFailedPrecondition);
      ASSERT_TRUE(replicas[r]->MarkDelivered(id, kT0 + 2).ok());
    }
  }
  EXPECT_EQ(*seed->Count("delivered"), kNotices);
}

// A replica that died keeps its claims until their lease expires; then another takes them
// over, and the first can no longer record an outcome for them.
TEST_P(StoreSuite, OutboxExpiredLeaseIsTakenOverByAnotherReplica) {
  auto dead = OpenOutbox(*backend_, "dead", /*lease_ms=*/1000);
  auto live = OpenOutbox(*backend_, "live", /*lease_ms=*/1000);
  ASSERT_NE(dead, nullptr);
  ASSERT_NE(live, nullptr);
  auto id = dead->Add("ops", MakeNotice(7), kT0);  // held until kT0 + 1000
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto early = live->Claim("ops", 10, kT0 + 999, /*include_own=*/true);
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_TRUE(early->empty()) << "a live lease is respected";
  // Renewing keeps it.
  auto renewed = dead->Renew(*id, kT0 + 500);  // now held until kT0 + 1500
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(*renewed);
  auto still = live->Claim("ops", 10, kT0 + 1200, false);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->empty());

  auto taken = live->Claim("ops", 10, kT0 + 1500, false);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(Ids(*taken), (std::vector<int64_t>{*id}));
  auto lost = dead->Renew(*id, kT0 + 1600);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(*lost);
  EXPECT_EQ(dead->MarkDelivered(*id, kT0 + 1600).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(dead->MarkFailed(*id, "late", kT0 + 1600).code(), StatusCode::kFailedPrecondition);
  // The dead one restarting (same owner) does not take it back while the new lease holds.
  auto back = dead->Claim("ops", 10, kT0 + 1700, /*include_own=*/true);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
  ASSERT_TRUE(live->MarkDelivered(*id, kT0 + 1700).ok());
  EXPECT_EQ(*live->Count("delivered"), 1);
  EXPECT_EQ(*live->Count("pending"), 0);
}

TEST_P(StoreSuite, OutboxRefusesADatabaseNewerThanThisBinary) {
  ASSERT_NE(OpenOutbox(*backend_, "a"), nullptr);
  auto db = Connect();
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('notice_outbox', 3, 'from the future', 0)")
                  .ok());
  auto o = NoticeOutbox::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kFailedPrecondition) << o.status().ToString();
  EXPECT_THAT(o.status().message(),
              HasSubstr("notice outbox: database schema version 3 is newer than this reflex "
                        "(knows up to 2)"));
}

// A state file from before versioning (SQLite only): the silences, their version and the
// outbox's pending notice were written by the old schema, without schema_migrations. They open
// with their rows; the outbox's notice is unclaimed and claimable.
TEST_P(StoreSuite, PreVersioningSqliteFileOpensSilencesAndOutboxWithTheirRows) {
  {
    auto probe = Connect();
    if (probe->dialect() != sql::Dialect::kSqlite) GTEST_SKIP() << "SQLite state files only";
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(backend_->sqlite_path().c_str(), &raw), SQLITE_OK);
  const std::string old_schema = R"sql(
    CREATE TABLE IF NOT EXISTS silences (
      id TEXT PRIMARY KEY,
      matchers TEXT NOT NULL,
      starts_at INTEGER NOT NULL,
      ends_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      comment TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS silences_ends_at ON silences (ends_at);
    CREATE TABLE IF NOT EXISTS silence_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT OR IGNORE INTO silence_meta (key, value) VALUES ('version', 0);
    INSERT INTO silences VALUES ('old-id',
      '[{"name":"alertname","value":"Old","isRegex":false,"isEqual":true}]',
      1764000000000, 1764003600000, 1764000000000, 'bob', 'from before');
    UPDATE silence_meta SET value = 5 WHERE key = 'version';
    CREATE TABLE IF NOT EXISTS notice_outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      target TEXT NOT NULL,
      notice TEXT NOT NULL,
      state TEXT NOT NULL,
      last_error TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS notice_outbox_pending ON notice_outbox (state, target, id);
    INSERT INTO notice_outbox (target, notice, state, created_at, updated_at)
      VALUES ('ops', ')sql" + NoticeToJson(MakeNotice(42)) +
                                 R"sql(', 'pending', 1, 1);
  )sql";
  ASSERT_EQ(sqlite3_exec(raw, old_schema.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);

  engine::ManualClock clock(kT0);
  auto silences =
      SilenceStore::Open(backend_->sqlite_path(), {.create_if_missing = false, .clock = &clock});
  ASSERT_TRUE(silences.ok()) << silences.status().ToString();
  auto list = (*silences)->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "old-id");
  EXPECT_EQ((*list)[0].created_by, "bob");
  ASSERT_EQ((*list)[0].matchers.size(), 1u);
  EXPECT_EQ((*list)[0].matchers[0].value, "Old");
  EXPECT_EQ(VersionOf(**silences), 5);
  ASSERT_TRUE((*silences)->Expire("old-id").ok());
  EXPECT_EQ(VersionOf(**silences), 6);

  auto outbox = OpenOutbox(*backend_, "new");
  ASSERT_NE(outbox, nullptr);
  auto claimed = outbox->Claim("ops", 10, kT0, /*include_own=*/false);
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ(claimed->size(), 1u);
  auto notice = NoticeFromJson((*claimed)[0].notice_json);
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->escalation_id, 42);
  ASSERT_TRUE(outbox->MarkDelivered((*claimed)[0].id, kT0).ok());

  auto db = Connect();
  auto sv = sql::AppliedVersion(*db, "silences");
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ(*sv, 1);
  auto ov = sql::AppliedVersion(*db, "notice_outbox");
  ASSERT_TRUE(ov.ok());
  EXPECT_EQ(*ov, 2);
}

}  // namespace
}  // namespace reflex::actions::test
