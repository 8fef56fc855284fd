// The escalation store in the store suite (store_suite.h): the same grouping, counts, state
// changes and reopening on SQLite and on PostgreSQL; replicas (each its own store on one
// database) recording one shape at once; schema versions, and SQLite files from before them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "reflex/actions/escalations.h"
#include "sql.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

using engine::StatusCode;
using ::testing::HasSubstr;

std::unique_ptr<EscalationStore> OpenEscalations(const StoreBackend& backend,
                                                 EscalationOptions options = {}) {
  auto s = EscalationStore::Open(backend.store(), backend.sqlite_path(), std::move(options));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// An Alertmanager-style event: alertname and severity make its shape (the default fields);
// `status` resolved makes it a resolution.
std::string Alert(const std::string& id, const std::string& name, const std::string& status,
                  const std::string& instance = "db-01") {
  std::string j = "{";
  if (!id.empty()) j += R"("id":")" + id + R"(",)";
  j += R"("source":"am","labels":{"alertname":")" + name + R"(","severity":"critical","status":")" +
       status + R"(","instance":")" + instance + R"("}})";
  return j;
}

bool SqliteBackendIn(const StoreBackend& backend) {
  return backend.store().kind == base::StoreKind::kSqlite;
}

TEST_P(StoreSuite, EscalationsRecordGroupCountAckAndResolveRoundTrip) {
  auto store = OpenEscalations(*backend_);
  ASSERT_NE(store, nullptr);
  auto a1 = store->RecordUnknown(Alert("e1", "DiskFull", "firing", "db-01"), 1000);
  auto a2 = store->RecordUnknown(Alert("e2", "DiskFull", "firing", "db-02"), 2000);
  auto a3 = store->RecordUnknown(Alert("", "DiskFull", "firing", "db-03"), 3000);
  auto b1 = store->RecordUnknown(Alert("e4", "CpuHot", "firing"), 2500);
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  ASSERT_TRUE(a2.ok() && a3.ok() && b1.ok()) << a2.status().ToString();
  EXPECT_EQ(a1->outcome, RecordOutcome::kNew);
  EXPECT_TRUE(a1->notify);
  EXPECT_EQ(a2->outcome, RecordOutcome::kRepeat);
  EXPECT_FALSE(a2->notify) << "an unknown event's repeat is not told again";
  EXPECT_EQ(a3->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(a3->count, 3);
  EXPECT_EQ(a2->group_id, a1->group_id);
  EXPECT_EQ(b1->outcome, RecordOutcome::kNew);
  EXPECT_NE(b1->group_id, a1->group_id);

  // A redelivery of an event id is not counted again.
  auto again = store->RecordUnknown(Alert("e2", "DiskFull", "firing", "db-02"), 4000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, RecordOutcome::kReplayed);
  EXPECT_EQ(again->group_id, a1->group_id);
  EXPECT_EQ(again->count, 3);

  auto list = store->List({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, a1->group_id) << "most recently seen first";
  EXPECT_EQ((*list)[0].count, 3);
  EXPECT_EQ((*list)[0].first_seen_ms, 1000);
  EXPECT_EQ((*list)[0].last_seen_ms, 3000);
  EXPECT_EQ((*list)[1].count, 1);
  auto by_shape = store->List({.shape_contains = "CpuHot"});
  ASSERT_TRUE(by_shape.ok()) << by_shape.status().ToString();
  ASSERT_EQ(by_shape->size(), 1u);
  EXPECT_EQ((*by_shape)[0].id, b1->group_id);
  auto page = store->List({.limit = 1, .after = std::make_pair(int64_t{3000}, a1->group_id)});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, b1->group_id);

  ASSERT_TRUE(store->Ack(a1->group_id, "alice", "looking").ok());
  engine::Status twice = store->Ack(a1->group_id, "bob", "me too");
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition) << twice.ToString();
  EXPECT_EQ(store->Ack(999999, "alice", "").code(), StatusCode::kNotFound);
  // A repeat while acknowledged is counted and leaves the state alone.
  auto a5 = store->RecordUnknown(Alert("e5", "DiskFull", "firing"), 5000);
  ASSERT_TRUE(a5.ok()) << a5.status().ToString();
  EXPECT_EQ(a5->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(a5->count, 4);
  ASSERT_TRUE(store->Resolve(a1->group_id, "alice", "fixed").ok());
  EXPECT_EQ(store->Resolve(a1->group_id, "alice", "").code(), StatusCode::kFailedPrecondition);

  auto g = store->Get(a1->group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->state, EscalationState::kResolved);
  EXPECT_EQ(g->state_by, "alice");
  EXPECT_EQ(g->state_note, "fixed");
  EXPECT_EQ(g->count, 4);
  EXPECT_EQ(g->samples.size(), 4u);
  ASSERT_EQ(g->history.size(), 3u);
  EXPECT_EQ(g->history[0].state, EscalationState::kOpen);
  EXPECT_EQ(g->history[0].note, "first seen");
  EXPECT_EQ(g->history[1].state, EscalationState::kAcknowledged);
  EXPECT_EQ(g->history[1].by, "alice");
  EXPECT_EQ(g->history[2].state, EscalationState::kResolved);
  EXPECT_EQ(store->Get(999999).status().code(), StatusCode::kNotFound);

  auto open = store->CountByKind(EscalationState::kOpen);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->at(EscalationKind::kUnknownEvent), 1);
  EXPECT_EQ(open->at(EscalationKind::kActionFailed), 0);

  // What another process (or replica) sees: the same, from the database.
  auto other = OpenEscalations(*backend_);
  ASSERT_NE(other, nullptr);
  auto seen = other->Get(a1->group_id);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->count, 4);
  EXPECT_EQ(seen->state, EscalationState::kResolved);
}

TEST_P(StoreSuite, EscalationsActionRepeatsAreToldOnlyOutsideTheDedupWindow) {
  auto store = OpenEscalations(*backend_, {.dedup_window_ms = 1000});
  ASSERT_NE(store, nullptr);
  ActionEscalation e;
  e.kind = EscalationKind::kActionFailed;
  e.action = "restart";
  e.table = "t";
  e.row = "r1";
  e.reason = "exit 1";
  auto first = store->RecordAction(e, 10'000);
  auto within = store->RecordAction(e, 10'500);
  auto outside = store->RecordAction(e, 11'600);
  ASSERT_TRUE(first.ok() && within.ok() && outside.ok()) << first.status().ToString();
  EXPECT_EQ(first->outcome, RecordOutcome::kNew);
  EXPECT_TRUE(first->notify);
  EXPECT_EQ(within->outcome, RecordOutcome::kRepeat);
  EXPECT_FALSE(within->notify);
  EXPECT_TRUE(outside->notify);
  EXPECT_EQ(outside->count, 3);
}

// Two replicas, each its own store on one database, record the same shapes at the same time:
// one group per shape, whose count is every occurrence of both, and one kNew per shape.
TEST_P(StoreSuite, EscalationsTwoReplicasRecordingOneShapeAtOnceEndWithOneGroupAndTheSum) {
  auto replica1 = OpenEscalations(*backend_);
  auto replica2 = OpenEscalations(*backend_);
  ASSERT_NE(replica1, nullptr);
  ASSERT_NE(replica2, nullptr);
  constexpr int kPerReplica = 150;
  constexpr int kShapes = 5;
  std::atomic<int> failures{0};
  std::atomic<int> news{0};
  std::atomic<bool> go{false};
  auto run = [&](EscalationStore* store, const std::string& replica) {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < kPerReplica; ++i) {
      // Both replicas walk the shapes in one order, so they race on every group's creation.
      const std::string shape = "Storm" + std::to_string(i % kShapes);
      auto r =
          store->RecordUnknown(Alert(replica + "-" + std::to_string(i), shape, "firing"), 1000 + i);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        ++failures;
      } else if (r->outcome == RecordOutcome::kNew) {
        ++news;
      } else if (r->outcome != RecordOutcome::kRepeat) {
        ADD_FAILURE() << "outcome " << OutcomeName(r->outcome);
        ++failures;
      }
    }
  };
  std::thread t1(run, replica1.get(), "r1");
  std::thread t2(run, replica2.get(), "r2");
  go = true;
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(news.load(), kShapes) << "each shape is new exactly once";
  auto groups = replica1->List({});
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), static_cast<size_t>(kShapes));
  int64_t total = 0;
  std::set<std::string> fingerprints;
  for (const auto& g : *groups) {
    EXPECT_EQ(g.state, EscalationState::kOpen);
    EXPECT_EQ(g.count, 2 * kPerReplica / kShapes) << g.fingerprint;
    fingerprints.insert(g.fingerprint);
    total += g.count;
  }
  EXPECT_EQ(fingerprints.size(), static_cast<size_t>(kShapes));
  EXPECT_EQ(total, 2 * kPerReplica);
  auto db = Connect();
  EXPECT_EQ(Count(*db, "escalation_groups WHERE state <> 'resolved'"), kShapes);
  EXPECT_EQ(Count(*db, "escalation_events"), 2 * kPerReplica) << "every event id remembered";
  EXPECT_EQ(Count(*db, "escalation_events WHERE group_id = 0"), 0);
}

// The same event id delivered to both replicas at once is counted once.
TEST_P(StoreSuite, EscalationsOneEventIdDeliveredToTwoReplicasAtOnceCountsOnce) {
  auto replica1 = OpenEscalations(*backend_);
  auto replica2 = OpenEscalations(*backend_);
  ASSERT_NE(replica1, nullptr);
  ASSERT_NE(replica2, nullptr);
  constexpr int kEvents = 100;
  std::atomic<int> replayed{0};
  std::atomic<bool> go{false};
  auto run = [&](EscalationStore* store) {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < kEvents; ++i) {
      auto r = store->RecordUnknown(Alert("dup-" + std::to_string(i), "Flap", "firing"), 1000);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (r->outcome == RecordOutcome::kReplayed) ++replayed;
    }
  };
  std::thread t1(run, replica1.get());
  std::thread t2(run, replica2.get());
  go = true;
  t1.join();
  t2.join();
  EXPECT_EQ(replayed.load(), kEvents);
  auto groups = replica2->List({});
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].count, kEvents);
}

TEST_P(StoreSuite, EscalationsAResolvedGroupReopensOnlyOnANewFiringEvent) {
  auto store = OpenEscalations(*backend_);
  ASSERT_NE(store, nullptr);
  auto fire = store->RecordUnknown(Alert("f1", "DiskFull", "firing"), 1000);
  ASSERT_TRUE(fire.ok()) << fire.status().ToString();
  auto resolved = store->RecordUnknown(Alert("r1", "DiskFull", "resolved"), 2000);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->outcome, RecordOutcome::kResolved);
  EXPECT_TRUE(resolved->notify);
  EXPECT_EQ(resolved->group_id, fire->group_id);
  EXPECT_EQ(resolved->count, 1) << "a resolution is not an occurrence";

  // Another resolution, and a redelivered old firing event, change nothing.
  auto resolved_again = store->RecordUnknown(Alert("r2", "DiskFull", "resolved"), 3000);
  ASSERT_TRUE(resolved_again.ok()) << resolved_again.status().ToString();
  EXPECT_EQ(resolved_again->outcome, RecordOutcome::kNoOpenGroup);
  EXPECT_FALSE(resolved_again->notify);
  auto redelivered = store->RecordUnknown(Alert("f1", "DiskFull", "firing"), 3500);
  ASSERT_TRUE(redelivered.ok()) << redelivered.status().ToString();
  EXPECT_EQ(redelivered->outcome, RecordOutcome::kReplayed);
  auto g = store->Get(fire->group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->state, EscalationState::kResolved);
  EXPECT_EQ(g->state_by, "reflex");
  EXPECT_EQ(g->count, 1);
  EXPECT_EQ(g->reopen_count, 0);
  // A resolution for a shape never seen makes no group.
  auto stray = store->RecordUnknown(Alert("r3", "NeverFired", "resolved"), 3600);
  ASSERT_TRUE(stray.ok()) << stray.status().ToString();
  EXPECT_EQ(stray->outcome, RecordOutcome::kNoOpenGroup);
  EXPECT_EQ(stray->group_id, 0);

  // A new firing event opens it again; the count continues.
  auto refire = store->RecordUnknown(Alert("f2", "DiskFull", "firing"), 4000);
  ASSERT_TRUE(refire.ok()) << refire.status().ToString();
  EXPECT_EQ(refire->outcome, RecordOutcome::kReopened);
  EXPECT_TRUE(refire->notify);
  EXPECT_EQ(refire->group_id, fire->group_id);
  EXPECT_EQ(refire->count, 2);
  auto repeat = store->RecordUnknown(Alert("f3", "DiskFull", "firing"), 4500);
  ASSERT_TRUE(repeat.ok()) << repeat.status().ToString();
  EXPECT_EQ(repeat->outcome, RecordOutcome::kRepeat);
  g = store->Get(fire->group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->state, EscalationState::kOpen);
  EXPECT_EQ(g->reopen_count, 1);
  EXPECT_EQ(g->count, 3);
  ASSERT_EQ(g->history.size(), 3u);
  EXPECT_EQ(g->history[1].state, EscalationState::kResolved);
  EXPECT_EQ(g->history[2].state, EscalationState::kOpen);
  EXPECT_EQ(g->history[2].note, "reopened by a new occurrence");
  auto groups = store->List({});
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->size(), 1u);
}

TEST_P(StoreSuite, EscalationsBatchesAreAllOrNothingAndSymptomsCountOnce) {
  auto store = OpenEscalations(*backend_);
  ASSERT_NE(store, nullptr);
  const std::string x1 = Alert("x1", "LinkDown", "firing");
  const std::string x2 = Alert("x2", "LinkDown", "firing");
  auto batch = store->RecordUnknownBatch(std::vector<std::string_view>{x1, x2, x1}, 100);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*batch)[0].outcome, RecordOutcome::kNew);
  EXPECT_EQ((*batch)[1].outcome, RecordOutcome::kRepeat);
  EXPECT_EQ((*batch)[2].outcome, RecordOutcome::kReplayed);
  const std::string x3 = Alert("x3", "LinkDown", "firing");
  auto bad = store->RecordUnknownBatch(std::vector<std::string_view>{x3, "{not json"}, 200);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto g = store->Get((*batch)[0].group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->count, 2) << "the failed batch counted nothing";

  auto counted = store->RecordSymptoms({{"sym-1", "x1", "switch-3"},
                                        {"sym-1", "x1", "switch-3"},
                                        {"sym-2", "never-escalated", "switch-4"}},
                                       300);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(*counted, 1) << "one symptom id counts once; a root without a group not at all";
  auto again = store->RecordSymptoms({{"sym-1", "x1", "switch-3"}}, 400);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 0);
  g = store->Get((*batch)[0].group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->symptoms, 1);
  EXPECT_EQ(g->root_cause, "switch-3");
}

TEST_P(StoreSuite, EscalationsPruneDeletesOldResolvedGroupsCapsTheCountAndForgetsIds) {
  engine::ManualClock clock(0);
  auto store = OpenEscalations(*backend_, {.replay_window_ms = 500, .clock = &clock});
  ASSERT_NE(store, nullptr);
  auto a = store->RecordUnknown(Alert("a1", "A", "firing"), 1000);
  auto b = store->RecordUnknown(Alert("b1", "B", "firing"), 2000);
  auto c = store->RecordUnknown(Alert("c1", "C", "firing"), 3000);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
  clock.Set(1500);
  ASSERT_TRUE(store->Resolve(a->group_id, "alice", "done").ok());

  // Cutoff 2000: A (resolved, last active 1500) goes with its sample; B (open) stays.
  auto aged = store->Prune({.max_age_ms = 1000}, 3000);
  ASSERT_TRUE(aged.ok()) << aged.status().ToString();
  EXPECT_EQ(aged->groups_deleted, 1);
  EXPECT_EQ(aged->samples_deleted, 1);
  EXPECT_EQ(aged->event_ids_deleted, 2) << "a1 and b1 are older than the replay window";
  EXPECT_EQ(aged->groups_kept, 2);
  EXPECT_EQ(aged->samples_kept, 2);
  EXPECT_EQ(store->Get(a->group_id).status().code(), StatusCode::kNotFound);

  auto capped = store->Prune({.max_groups = 1, .batch = 1}, 3000);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_EQ(capped->groups_deleted, 1);
  EXPECT_EQ(capped->groups_kept, 1);
  auto left = store->List({});
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, c->group_id) << "the least recently seen goes first";
  // A forgotten id counts again.
  auto b_again = store->RecordUnknown(Alert("b1", "B", "firing"), 3100);
  ASSERT_TRUE(b_again.ok()) << b_again.status().ToString();
  EXPECT_EQ(b_again->outcome, RecordOutcome::kNew);
}

TEST_P(StoreSuite, EscalationsOnAFreshDatabaseGetVersionOneAndRefuseANewerSchema) {
  ASSERT_NE(OpenEscalations(*backend_), nullptr);
  auto db = Connect();
  sql::Rows rows = Must(*db,
                        "SELECT version FROM schema_migrations WHERE component = 'escalations' "
                        "ORDER BY version");
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Int(0, 0), 1);
  ASSERT_NE(OpenEscalations(*backend_), nullptr) << "opening again applies nothing";
  EXPECT_EQ(Count(*db, "schema_migrations WHERE component = 'escalations'"), 1);

  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('escalations', 2, 'from the future', 0)")
                  .ok());
  auto refused = EscalationStore::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("escalation store: database schema version 2 is newer than this reflex "
                        "(knows up to 1): upgrade reflex"));
}

// The schema of the release before versioning, as it created it (escalation_meta version 2).
constexpr const char* kSchemaBeforeVersioning = R"sql(
CREATE TABLE escalation_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO escalation_meta VALUES('schema_version', '2');
CREATE TABLE escalation_groups(
  id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  shape TEXT NOT NULL, count INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, state TEXT NOT NULL, state_by TEXT NOT NULL DEFAULT '',
  state_at INTEGER NOT NULL DEFAULT 0, state_note TEXT NOT NULL DEFAULT '',
  reopen_count INTEGER NOT NULL DEFAULT 0, action TEXT NOT NULL DEFAULT '',
  rule_table TEXT NOT NULL DEFAULT '', rule_row TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '', symptoms INTEGER NOT NULL DEFAULT 0,
  root_cause TEXT NOT NULL DEFAULT '');
CREATE INDEX escalation_groups_state ON escalation_groups(state, last_seen);
CREATE TABLE escalation_samples(
  id INTEGER PRIMARY KEY,
  group_id INTEGER NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at INTEGER NOT NULL, event TEXT NOT NULL, truncated INTEGER NOT NULL DEFAULT 0);
CREATE INDEX escalation_samples_group ON escalation_samples(group_id, id);
CREATE TABLE escalation_history(
  id INTEGER PRIMARY KEY,
  group_id INTEGER NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at INTEGER NOT NULL, state TEXT NOT NULL, actor TEXT NOT NULL, note TEXT NOT NULL);
CREATE INDEX escalation_history_group ON escalation_history(group_id, id);
CREATE TABLE escalation_events(
  event_id TEXT PRIMARY KEY, group_id INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX escalation_events_at ON escalation_events(at);
)sql";

TEST_P(StoreSuite, EscalationsStateFileFromBeforeVersioningOpensWithItsRows) {
  if (!SqliteBackendIn(*backend_)) GTEST_SKIP() << "state files from before versioning are SQLite";
  // The fingerprint the store gives the shape, so that a new occurrence finds the old group.
  std::string fingerprint;
  {
    reflex::test::TempDir probe_dir;
    auto probe = EscalationStore::Open(probe_dir.File("probe.db"), {});
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    auto r = (*probe)->RecordUnknown(Alert("", "DiskFull", "firing"), 1);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    fingerprint = r->fingerprint;
  }
  {
    auto db = Connect();
    ASSERT_TRUE(db->ExecScript(kSchemaBeforeVersioning).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO escalation_groups(id, fingerprint, kind, shape, count, "
                         "first_seen, last_seen, state, state_by, state_at, state_note) "
                         "VALUES(7, $1, 'unknown_event', '[]', 41, 100, 200, 'acknowledged', "
                         "'alice', 150, 'looking')",
                         fingerprint)
                    .ok());
    ASSERT_TRUE(db->ExecScript("INSERT INTO escalation_samples(group_id, at, event) VALUES(7, "
                               "100, '{\"id\":\"old\"}');"
                               "INSERT INTO escalation_history(group_id, at, state, actor, note) "
                               "VALUES(7, 100, 'open', 'reflex', 'first seen');"
                               "INSERT INTO escalation_events VALUES('old-1', 7, 190);")
                    .ok());
  }
  auto store = OpenEscalations(*backend_);
  ASSERT_NE(store, nullptr);
  auto g = store->Get(7);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->count, 41);
  EXPECT_EQ(g->state, EscalationState::kAcknowledged);
  EXPECT_EQ(g->state_by, "alice");
  EXPECT_EQ(g->samples.size(), 1u);
  EXPECT_EQ(g->history.size(), 1u);
  // Its remembered event ids still count once; a new occurrence joins the old group.
  auto replay = store->RecordUnknown(Alert("old-1", "DiskFull", "firing"), 300);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->outcome, RecordOutcome::kReplayed);
  auto next = store->RecordUnknown(Alert("new-1", "DiskFull", "firing"), 400);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(next->group_id, 7);
  EXPECT_EQ(next->count, 42);
  auto db = Connect();
  EXPECT_EQ(Count(*db, "schema_migrations WHERE component = 'escalations' AND version = 1"), 1);
}

// The first layout (escalation_meta version 1) had no symptom columns: they are added.
TEST_P(StoreSuite, EscalationsStateFileOfTheFirstLayoutGainsTheSymptomColumns) {
  if (!SqliteBackendIn(*backend_)) GTEST_SKIP() << "state files from before versioning are SQLite";
  {
    auto db = Connect();
    ASSERT_TRUE(
        db->ExecScript(
              "CREATE TABLE escalation_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
              "INSERT INTO escalation_meta VALUES('schema_version', '1');"
              "CREATE TABLE escalation_groups(id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL "
              "UNIQUE, kind TEXT NOT NULL, shape TEXT NOT NULL, count INTEGER NOT NULL, "
              "first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, state TEXT NOT NULL, "
              "state_by TEXT NOT NULL DEFAULT '', state_at INTEGER NOT NULL DEFAULT 0, "
              "state_note TEXT NOT NULL DEFAULT '', reopen_count INTEGER NOT NULL DEFAULT 0, "
              "action TEXT NOT NULL DEFAULT '', rule_table TEXT NOT NULL DEFAULT '', rule_row "
              "TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '');"
              "INSERT INTO escalation_groups(fingerprint, kind, shape, count, first_seen, "
              "last_seen, state) VALUES('f1', 'unknown_event', '[]', 3, 1, 2, 'open');"
              "CREATE TABLE escalation_events(event_id TEXT PRIMARY KEY, group_id INTEGER NOT "
              "NULL, at INTEGER NOT NULL) WITHOUT ROWID;"
              "INSERT INTO escalation_events VALUES('root-1', 1, 2);")
            .ok());
  }
  auto store = OpenEscalations(*backend_);
  ASSERT_NE(store, nullptr);
  auto counted = store->RecordSymptoms({{"sym-1", "root-1", "switch-3"}}, 10);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(*counted, 1);
  auto g = store->Get(1);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->count, 3);
  EXPECT_EQ(g->symptoms, 1);
  EXPECT_EQ(g->root_cause, "switch-3");
  store.reset();
  EXPECT_NE(OpenEscalations(*backend_), nullptr) << "and opens again";
}

}  // namespace
}  // namespace reflex::actions::test
