// EscalationStore on a real SQLite file in a temporary directory: grouping, counts, bounded
// samples, state transitions, reopening, persistence across reopen, concurrent writers.
#include "reflex/actions/escalations.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace reflex::actions {
namespace {

using engine::StatusCode;

using reflex::test::TempDir;

std::string Alert(const std::string& name, const std::string& severity,
                  const std::string& instance = "db-01", const std::string& source = "prom") {
  return R"({"source":")" + source + R"(","labels":{"alertname":")" + name + R"(","severity":")" +
         severity + R"(","instance":")" + instance + R"("}})";
}

std::unique_ptr<EscalationStore> OpenStore(const std::string& path, EscalationOptions o = {}) {
  auto s = EscalationStore::Open(path, std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

class EscalationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(1'700'000'000'000);
    EscalationOptions o;
    o.clock = &clock_;
    store_ = OpenStore(db_path(), o);
    ASSERT_NE(store_, nullptr);
  }
  std::string db_path() const { return dir_.File("sub/reflex.db"); }

  TempDir dir_;
  engine::ManualClock clock_;
  std::unique_ptr<EscalationStore> store_;
};

TEST_F(EscalationStoreTest, GroupsByShapeAndCounts) {
  auto a1 = store_->RecordUnknown(Alert("DiskFull", "critical", "db-01"), 1000);
  auto a2 = store_->RecordUnknown(Alert("DiskFull", "critical", "db-02"), 2000);
  auto b1 = store_->RecordUnknown(Alert("DiskFull", "warning"), 3000);
  ASSERT_TRUE(a1.ok() && a2.ok() && b1.ok()) << a1.status().ToString();
  EXPECT_EQ(a1->outcome, RecordOutcome::kNew);
  EXPECT_EQ(a2->outcome, RecordOutcome::kRepeat);  // instance is not part of the shape
  EXPECT_EQ(a2->group_id, a1->group_id);
  EXPECT_EQ(a2->fingerprint, a1->fingerprint);
  EXPECT_EQ(a2->count, 2);
  EXPECT_EQ(a1->fingerprint.size(), 16u);
  EXPECT_EQ(b1->outcome, RecordOutcome::kNew);
  EXPECT_NE(b1->group_id, a1->group_id);

  auto g = store_->Get(a1->group_id);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->kind, EscalationKind::kUnknownEvent);
  EXPECT_EQ(g->count, 2);
  EXPECT_EQ(g->first_seen_ms, 1000);
  EXPECT_EQ(g->last_seen_ms, 2000);
  EXPECT_EQ(g->state, EscalationState::kOpen);
  ASSERT_EQ(g->shape.size(), 3u);
  EXPECT_EQ(g->shape[0].first, "source");
  EXPECT_EQ(g->shape[0].second, "prom");
  EXPECT_EQ(g->shape[1].first, "labels.alertname");
  EXPECT_EQ(g->shape[1].second, "DiskFull");
  EXPECT_EQ(g->shape[2].second, "critical");
  ASSERT_EQ(g->samples.size(), 2u);
  EXPECT_NE(g->samples[1].event.find("db-02"), std::string::npos);

  auto all = store_->List({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, b1->group_id);   // most recently seen first
  EXPECT_TRUE((*all)[0].samples.empty());  // List does not load samples
}

TEST_F(EscalationStoreTest, MissingFieldIsDistinctFromEmpty) {
  auto missing = store_->RecordUnknown(R"({"labels":{"alertname":"X"}})", 1);
  auto empty = store_->RecordUnknown(R"({"labels":{"alertname":"X","severity":""}})", 2);
  ASSERT_TRUE(missing.ok() && empty.ok());
  EXPECT_NE(missing->group_id, empty->group_id);
  auto g = store_->Get(missing->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->shape[0].second.has_value());  // no source
  EXPECT_FALSE(g->shape[2].second.has_value());  // no severity
  auto json = nlohmann::json::parse(EscalationGroupJson(*g));
  EXPECT_TRUE(json["shape"]["source"].is_null());
  EXPECT_EQ(json["shape"]["labels.alertname"], "X");
}

TEST_F(EscalationStoreTest, ConfigurableFingerprintFields) {
  EscalationOptions o;
  o.fingerprint_fields = {"labels.instance"};
  auto store = OpenStore(dir_.File("other.db"), o);
  ASSERT_NE(store, nullptr);
  auto a = store->RecordUnknown(Alert("A", "critical", "h1"), 1);
  auto b = store->RecordUnknown(Alert("B", "warning", "h1"), 2);
  auto c = store->RecordUnknown(Alert("A", "critical", "h2"), 3);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->group_id, b->group_id);
  EXPECT_NE(a->group_id, c->group_id);

  o.fingerprint_fields = {"labels["};
  auto bad = EscalationStore::Open(dir_.File("bad.db"), o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("labels["), std::string::npos);
}

TEST_F(EscalationStoreTest, SamplesBoundedInNumberAndBytes) {
  EscalationOptions o;
  o.max_samples = 3;
  o.max_sample_bytes = 100;
  auto store = OpenStore(dir_.File("bounded.db"), o);
  ASSERT_NE(store, nullptr);
  int64_t id = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = store->RecordUnknown(Alert("A", "critical", "host-" + std::to_string(i)), i);
    ASSERT_TRUE(r.ok());
    id = r->group_id;
  }
  std::string big = R"({"labels":{"alertname":"A","severity":"critical"},"message":")" +
                    std::string(500, 'm') + "\"}";
  std::string big_other =
      R"({"labels":{"alertname":"Big"},"message":")" + std::string(300, 'x') + "\"}";
  auto b = store->RecordUnknown(big_other, 20);
  ASSERT_TRUE(b.ok());
  auto g = store->Get(id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->count, 10);
  ASSERT_EQ(g->samples.size(), 3u);
  EXPECT_NE(g->samples[0].event.find("host-0"), std::string::npos);  // the first ones kept
  auto gb = store->Get(b->group_id);
  ASSERT_TRUE(gb.ok());
  ASSERT_EQ(gb->samples.size(), 1u);
  EXPECT_TRUE(gb->samples[0].truncated);
  EXPECT_EQ(gb->samples[0].event.size(), 100u);
  // A truncated sample is not valid JSON: the JSON view keeps it as text.
  auto json = nlohmann::json::parse(EscalationGroupJson(*gb));
  EXPECT_TRUE(json["samples"][0]["event_text"].is_string());
}

TEST_F(EscalationStoreTest, AckResolveReopen) {
  auto r = store_->RecordUnknown(Alert("A", "critical"), 10);
  ASSERT_TRUE(r.ok());
  clock_.Set(20);
  ASSERT_TRUE(store_->Ack(r->group_id, "alice", "looking").ok());
  auto g = store_->Get(r->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->state, EscalationState::kAcknowledged);
  EXPECT_EQ(g->state_by, "alice");
  EXPECT_EQ(g->state_note, "looking");
  EXPECT_EQ(g->state_at_ms, 20);

  // A repeat while acknowledged stays acknowledged.
  auto rep = store_->RecordUnknown(Alert("A", "critical"), 25);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(store_->Get(r->group_id)->state, EscalationState::kAcknowledged);

  clock_.Set(30);
  ASSERT_TRUE(store_->Resolve(r->group_id, "bob", "disk replaced").ok());
  g = store_->Get(r->group_id);
  EXPECT_EQ(g->state, EscalationState::kResolved);
  EXPECT_EQ(g->state_by, "bob");

  auto again = store_->RecordUnknown(Alert("A", "critical", "db-09"), 40);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, RecordOutcome::kReopened);
  EXPECT_EQ(again->group_id, r->group_id);
  EXPECT_EQ(again->count, 3);
  g = store_->Get(r->group_id);
  EXPECT_EQ(g->state, EscalationState::kOpen);
  EXPECT_EQ(g->reopen_count, 1);
  EXPECT_EQ(g->count, 3);
  EXPECT_NE(g->samples.back().event.find("db-09"), std::string::npos);
  ASSERT_EQ(g->history.size(), 4u);
  EXPECT_EQ(g->history[0].note, "first seen");
  EXPECT_EQ(g->history[1].state, EscalationState::kAcknowledged);
  EXPECT_EQ(g->history[2].state, EscalationState::kResolved);
  EXPECT_EQ(g->history[2].note, "disk replaced");
  EXPECT_EQ(g->history[3].state, EscalationState::kOpen);
  EXPECT_EQ(g->history[3].by, "reflex");

  // Resolve straight from open is allowed.
  EXPECT_TRUE(store_->Resolve(r->group_id, "carol", "").ok());
}

TEST_F(EscalationStoreTest, InvalidTransitionsAreRefused) {
  auto r = store_->RecordUnknown(Alert("A", "critical"), 10);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(store_->Ack(r->group_id, "a", "").ok());
  engine::Status twice = store_->Ack(r->group_id, "a", "");
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.message().find("acknowledged"), std::string::npos) << twice.message();
  ASSERT_TRUE(store_->Resolve(r->group_id, "a", "").ok());
  EXPECT_EQ(store_->Resolve(r->group_id, "a", "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Ack(r->group_id, "a", "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Ack(9999, "a", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve(9999, "a", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(9999).status().code(), StatusCode::kNotFound);
  // The refused changes left no trace.
  auto g = store_->Get(r->group_id);
  EXPECT_EQ(g->history.size(), 3u);
}

TEST_F(EscalationStoreTest, ListFilters) {
  auto a = store_->RecordUnknown(Alert("A", "critical"), 1);
  auto b = store_->RecordUnknown(Alert("B", "critical"), 2);
  auto c = store_->RecordUnknown(Alert("C", "critical"), 3);
  ActionEscalation fail;
  fail.action = "restart";
  fail.table = "t";
  fail.row = "r1";
  fail.reason = "HTTP 500";
  auto d = store_->RecordAction(fail, 4);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  ASSERT_TRUE(store_->Ack(b->group_id, "x", "").ok());
  ASSERT_TRUE(store_->Resolve(c->group_id, "x", "").ok());
  auto ids = [&](EscalationFilter f) {
    std::vector<int64_t> out;
    auto list = store_->List(f);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (list.ok()) {
      for (const auto& g : *list) out.push_back(g.id);
    }
    return out;
  };
  EXPECT_EQ(ids({.state = EscalationState::kOpen}),
            (std::vector<int64_t>{d->group_id, a->group_id}));
  EXPECT_EQ(ids({.state = EscalationState::kAcknowledged}), (std::vector<int64_t>{b->group_id}));
  EXPECT_EQ(ids({.state = EscalationState::kResolved}), (std::vector<int64_t>{c->group_id}));
  EXPECT_EQ(ids({.kind = EscalationKind::kActionFailed}), (std::vector<int64_t>{d->group_id}));
  EXPECT_EQ(ids({.limit = 2}), (std::vector<int64_t>{d->group_id, c->group_id}));
  // Shape, time and paging filters (the REST API's).
  const std::string fp = store_->Get(b->group_id)->fingerprint;
  EXPECT_EQ(ids({.fingerprint = fp}), (std::vector<int64_t>{b->group_id}));
  EXPECT_EQ(ids({.shape_contains = "C"}), (std::vector<int64_t>{c->group_id}));
  EXPECT_EQ(ids({.shape_contains = "no such text"}), (std::vector<int64_t>{}));
  EXPECT_EQ(ids({.seen_since_ms = 2, .seen_until_ms = 4}),
            (std::vector<int64_t>{c->group_id, b->group_id}));
  // Page by page, two at a time: every group once, in order.
  std::vector<int64_t> paged;
  std::optional<std::pair<int64_t, int64_t>> after;
  for (int page = 0; page < 5; ++page) {
    auto list = store_->List({.limit = 2, .after = after});
    ASSERT_TRUE(list.ok());
    if (list->empty()) break;
    for (const auto& g : *list) paged.push_back(g.id);
    after = std::make_pair(list->back().last_seen_ms, list->back().id);
  }
  EXPECT_EQ(paged, (std::vector<int64_t>{d->group_id, c->group_id, b->group_id, a->group_id}));

  // The counts behind reflex_escalations_open: every kind, 0 included.
  auto open = store_->CountByKind(EscalationState::kOpen);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->size(), kEscalationKindNames.entries.size());
  EXPECT_EQ(open->at(EscalationKind::kUnknownEvent), 1);
  EXPECT_EQ(open->at(EscalationKind::kActionFailed), 1);
  EXPECT_EQ(open->at(EscalationKind::kApprovalExpired), 0);
  auto acked = store_->CountByKind(EscalationState::kAcknowledged);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->at(EscalationKind::kUnknownEvent), 1);
}

TEST_F(EscalationStoreTest, ActionEscalationsGroupByActionTableRow) {
  ActionEscalation e;
  e.kind = EscalationKind::kActionFailed;
  e.action = "cleanup_logs";
  e.table = "disk_full";
  e.row = "disk-crit";
  e.reason = "HTTP 500 after 3 attempts";
  e.event_json = Alert("NodeFilesystemFull", "critical");
  auto a = store_->RecordAction(e, 100);
  e.reason = "connection refused";
  auto b = store_->RecordAction(e, 200);
  e.kind = EscalationKind::kApprovalExpired;
  auto c = store_->RecordAction(e, 300);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
  EXPECT_EQ(a->group_id, b->group_id);
  EXPECT_EQ(b->outcome, RecordOutcome::kRepeat);
  EXPECT_NE(c->group_id, a->group_id);  // another kind is another group
  auto g = store_->Get(a->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->kind, EscalationKind::kActionFailed);
  EXPECT_EQ(g->action, "cleanup_logs");
  EXPECT_EQ(g->table, "disk_full");
  EXPECT_EQ(g->row, "disk-crit");
  EXPECT_EQ(g->reason, "connection refused");  // the latest reason
  EXPECT_EQ(g->samples.size(), 2u);
  auto json = nlohmann::json::parse(EscalationGroupJson(*g));
  EXPECT_EQ(json["kind"], "action_failed");
  EXPECT_EQ(json["action"], "cleanup_logs");
  EXPECT_EQ(json["samples"][0]["event"]["labels"]["alertname"], "NodeFilesystemFull");

  ActionEscalation wrong;
  wrong.kind = EscalationKind::kUnknownEvent;
  EXPECT_EQ(store_->RecordAction(wrong, 1).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EscalationStoreTest, MalformedEventIsRefusedAndNothingWritten) {
  auto bad = store_->RecordUnknown("{not json", 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  std::string a = Alert("A", "critical");
  std::vector<std::string_view> batch = {a, "[1,2]"};
  auto b = store_->RecordUnknownBatch(batch, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("event 1"), std::string::npos) << b.status().message();
  EXPECT_TRUE(store_->List({})->empty());
}

TEST_F(EscalationStoreTest, BatchRecordsInOrderInOneTransaction) {
  std::vector<std::string> events = {Alert("A", "critical"), Alert("B", "critical"),
                                     Alert("A", "critical"), Alert("A", "critical")};
  std::vector<std::string_view> views(events.begin(), events.end());
  auto r = store_->RecordUnknownBatch(views, 5);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].outcome, RecordOutcome::kNew);
  EXPECT_EQ((*r)[1].outcome, RecordOutcome::kNew);
  EXPECT_EQ((*r)[2].outcome, RecordOutcome::kRepeat);
  EXPECT_EQ((*r)[3].count, 3);

  engine::EventParser parser;
  engine::Event ev;
  ASSERT_TRUE(parser.Parse(Alert("B", "critical"), 0, &ev).ok());
  auto r2 = store_->RecordUnknownBatch(std::vector<const engine::Event*>{&ev, &ev}, 6);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)[1].group_id, (*r)[1].group_id);
  EXPECT_EQ((*r2)[1].count, 3);
  EXPECT_EQ(store_->Fingerprint(ev), (*r)[1].fingerprint);
}

TEST_F(EscalationStoreTest, ReopeningTheDatabaseKeepsEverything) {
  auto r = store_->RecordUnknown(Alert("A", "critical"), 10);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(store_->Ack(r->group_id, "alice", "on it").ok());
  store_.reset();

  auto store = OpenStore(db_path());
  ASSERT_NE(store, nullptr);
  auto g = store->Get(r->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->state, EscalationState::kAcknowledged);
  EXPECT_EQ(g->state_note, "on it");
  EXPECT_EQ(g->samples.size(), 1u);
  auto again = store->RecordUnknown(Alert("A", "critical"), 20);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->group_id, r->group_id);
  EXPECT_EQ(again->count, 2);
}

// Symptoms of a topology root (decision muted_by.root_event) are counted on the group of
// the root's escalated event, once per symptom, with the root node; a root that was never
// escalated counts nothing.
TEST_F(EscalationStoreTest, SymptomsAreCountedOnTheRootsEscalationOncePerEvent) {
  auto root =
      store_->RecordUnknown(R"({"id":"r1","labels":{"alertname":"DbDown","instance":"db-1"}})", 10);
  ASSERT_TRUE(root.ok());
  using S = EscalationStore::SymptomOf;
  auto n = store_->RecordSymptoms({S{"s1", "r1", "db-1"}, S{"s2", "r1", "db-1"},
                                   S{"s1", "r1", "db-1"},  // a batch decided again
                                   S{"s3", "never-escalated", "db-2"}},
                                  20);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);
  auto g = store_->Get(root->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->symptoms, 2);
  EXPECT_EQ(g->root_cause, "db-1");
  EXPECT_EQ(g->count, 1) << "symptoms are not occurrences of the root";
  auto j = nlohmann::json::parse(EscalationGroupJson(*g));
  EXPECT_EQ(j["symptoms"], 2);
  EXPECT_EQ(j["root_cause"], "db-1");
  // A later occurrence of the symptom id as an unknown event is its own occurrence.
  auto later = store_->RecordUnknown(
      R"({"id":"s1","labels":{"alertname":"DiskFull","instance":"web-1"}})", 30);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->outcome, RecordOutcome::kNew);
}

// A store written by a reflex from before symptoms (schema 1) gets the new columns.
TEST(EscalationStoreMigrationTest, SchemaOneStoreGainsTheSymptomColumns) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* sql =
        "CREATE TABLE escalation_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO escalation_meta VALUES('schema_version', '1');"
        "CREATE TABLE escalation_groups(id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL "
        "UNIQUE, kind TEXT NOT NULL, shape TEXT NOT NULL, count INTEGER NOT NULL, first_seen "
        "INTEGER NOT NULL, last_seen INTEGER NOT NULL, state TEXT NOT NULL, state_by TEXT NOT "
        "NULL DEFAULT '', state_at INTEGER NOT NULL DEFAULT 0, state_note TEXT NOT NULL DEFAULT "
        "'', reopen_count INTEGER NOT NULL DEFAULT 0, action TEXT NOT NULL DEFAULT '', "
        "rule_table TEXT NOT NULL DEFAULT '', rule_row TEXT NOT NULL DEFAULT '', reason TEXT NOT "
        "NULL DEFAULT '');"
        "INSERT INTO escalation_groups(fingerprint, kind, shape, count, first_seen, last_seen, "
        "state) VALUES('f1', 'unknown_event', '{}', 3, 1, 2, 'open');";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  auto groups = store->List({});
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].count, 3);
  EXPECT_EQ((*groups)[0].symptoms, 0);
  store.reset();
  EXPECT_NE(OpenStore(path), nullptr) << "opening it again (schema 2 now) works";
}

TEST_F(EscalationStoreTest, UsesWalAndPrefixedTablesOnly) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                               nullptr),
            SQLITE_OK);
  int tables = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    if (name == "schema_migrations") continue;  // the versions, shared by the stores
    EXPECT_EQ(name.rfind("escalation_", 0), 0u) << name;
    ++tables;
  }
  EXPECT_EQ(tables, 5);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(EscalationStoreTest, OpenErrors) {
  EscalationOptions no_create;
  no_create.create_if_missing = false;
  auto missing = EscalationStore::Open(dir_.File("nope.db"), no_create);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(missing.status().message().find("nope.db"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("nope.db")));

  std::string junk = dir_.File("junk.db");
  {
    FILE* f = fopen(junk.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("this is not a database, just some text that is long enough to be a header....", f);
    fclose(f);
  }
  auto bad = EscalationStore::Open(junk, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("junk.db"), std::string::npos) << bad.status().ToString();
}

TEST_F(EscalationStoreTest, ConcurrentWritersFromTwoThreadsAndTwoConnections) {
  // Thread 1 writes through the shared store; thread 2 through its own connection to the
  // same file (as the journal or a second process would). Every occurrence is counted.
  auto second = OpenStore(db_path());
  ASSERT_NE(second, nullptr);
  constexpr int kPerThread = 200;
  auto writer = [](EscalationStore* store, int base, int* failures) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string shape = (i % 2 == 0) ? "Even" : "Odd";
      auto r = store->RecordUnknown(Alert(shape, "critical"), base + i);
      if (!r.ok()) ++*failures;
    }
  };
  int f1 = 0, f2 = 0, f3 = 0;
  std::thread t1(writer, store_.get(), 0, &f1);
  std::thread t2(writer, second.get(), 10000, &f2);
  std::thread t3(writer, store_.get(), 20000, &f3);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(f1 + f2 + f3, 0);
  auto groups = store_->List({});
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].count + (*groups)[1].count, 3 * kPerThread);
  EXPECT_EQ((*groups)[0].count, 3 * kPerThread / 2);
}

}  // namespace
}  // namespace reflex::actions

namespace reflex::actions {
namespace {

// Counts rows of `table` in the database at `path` through a connection of its own.
int64_t CountRows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const std::string sql = "SELECT count(*) FROM " + table;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST_F(EscalationStoreTest, RetentionCapsGroupsResolvedFirstThenOldest) {
  // A sender inventing a new alert name per event makes one group per event: the cap holds.
  const int64_t t0 = clock_.NowMillis();
  std::vector<int64_t> ids;
  for (int i = 0; i < 30; ++i) {
    auto r = store_->RecordUnknown(Alert("Invented" + std::to_string(i), "warning"), t0 + i);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.push_back(r->group_id);
  }
  // Two of the newest groups are resolved: they go before any older open group.
  ASSERT_TRUE(store_->Resolve(ids[28], "alice", "fixed").ok());
  ASSERT_TRUE(store_->Resolve(ids[29], "alice", "fixed").ok());
  auto pruned =
      store_->Prune({.max_age_ms = 0, .max_groups = 10, .batch = 3}, t0 + 100);  // small batches
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->groups_deleted, 20);
  EXPECT_EQ(pruned->groups_kept, 10);
  EXPECT_EQ(pruned->samples_deleted, 20);  // each group had one sample
  EXPECT_EQ(pruned->samples_kept, 10);
  auto left = store_->List({});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 10u);
  // Kept: the ten most recently seen of the open groups (ids[18..27]); both resolved are gone.
  for (const auto& g : *left) {
    EXPECT_EQ(g.state, EscalationState::kOpen);
    EXPECT_GE(g.id, ids[18]);
    EXPECT_LE(g.id, ids[27]);
  }
  EXPECT_EQ(store_->Get(ids[29]).status().code(), StatusCode::kNotFound);
  // Samples and history of deleted groups went with them.
  EXPECT_EQ(CountRows(db_path(), "escalation_samples"), 10);
  EXPECT_EQ(CountRows(db_path(), "escalation_history"), 10);
  // Within the cap, nothing more goes.
  auto again = store_->Prune({.max_age_ms = 0, .max_groups = 10}, t0 + 100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->groups_deleted, 0);
}

TEST_F(EscalationStoreTest, RetentionByAgeDropsOldResolvedGroupsAndOldSamplesOnly) {
  const int64_t day = 24 * 3600 * 1000LL;
  const int64_t t0 = clock_.NowMillis();
  auto old_resolved = store_->RecordUnknown(Alert("OldResolved", "warning"), t0);
  auto old_open = store_->RecordUnknown(Alert("OldOpen", "warning"), t0);
  auto fresh_resolved = store_->RecordUnknown(Alert("FreshResolved", "warning"), t0);
  ASSERT_TRUE(old_resolved.ok() && old_open.ok() && fresh_resolved.ok());
  ASSERT_TRUE(store_->Resolve(old_resolved->group_id, "bob", "").ok());  // resolved at t0
  // FreshResolved is seen again and resolved 40 days later: its activity is recent.
  ASSERT_TRUE(store_->RecordUnknown(Alert("FreshResolved", "warning"), t0 + 40 * day).ok());
  clock_.Set(t0 + 40 * day);
  ASSERT_TRUE(store_->Resolve(fresh_resolved->group_id, "bob", "").ok());
  auto pruned = store_->Prune({.max_age_ms = 30 * day, .max_groups = 0}, t0 + 41 * day);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->groups_deleted, 1);
  EXPECT_EQ(store_->Get(old_resolved->group_id).status().code(), StatusCode::kNotFound);
  // An open group is never dropped for age (a person has yet to look), but its old samples
  // are; the group keeps its count and shape.
  auto open = store_->Get(old_open->group_id);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->samples.empty());
  EXPECT_EQ(open->count, 1);
  auto fresh = store_->Get(fresh_resolved->group_id);
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->samples.size(), 1u);  // the sample of day 40 stays; day 0's went
  EXPECT_EQ(fresh->samples[0].at_ms, t0 + 40 * day);
  EXPECT_EQ(pruned->samples_deleted, 3);  // old_resolved's (with it), old_open's, fresh's first
  EXPECT_EQ(pruned->groups_kept, 2);
  EXPECT_EQ(pruned->samples_kept, 1);
}

// At-least-once delivery redelivers the events of an uncommitted batch after a restart: an
// event id recorded before is not a new occurrence (count, samples and last_seen stay), in
// another batch, in the same batch, and through another connection. An event without an id
// of its own (a hash of its bytes) counts every time. Prune forgets ids past the window.
TEST_F(EscalationStoreTest, ARedeliveredEventIdIsNotCountedAgain) {
  auto with_id = [](const std::string& id) {
    return R"({"id":")" + id + R"(","source":"prom","labels":{"alertname":"Mystery"}})";
  };
  auto first = store_->RecordUnknown(with_id("ev-1"), 1000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->outcome, RecordOutcome::kNew);
  auto again = store_->RecordUnknown(with_id("ev-1"), 2000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, RecordOutcome::kReplayed);
  EXPECT_EQ(again->group_id, first->group_id);
  EXPECT_EQ(again->count, 1);
  auto batch = store_->RecordUnknownBatch(
      std::vector<std::string_view>{with_id("ev-2"), with_id("ev-1"), with_id("ev-2")}, 3000);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)[0].outcome, RecordOutcome::kRepeat);
  EXPECT_EQ((*batch)[0].count, 2);
  EXPECT_EQ((*batch)[1].outcome, RecordOutcome::kReplayed);
  EXPECT_EQ((*batch)[2].outcome, RecordOutcome::kReplayed);
  auto other = OpenStore(db_path());  // another process after a restart
  ASSERT_NE(other, nullptr);
  auto replay = other->RecordUnknown(with_id("ev-2"), 4000);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->outcome, RecordOutcome::kReplayed);
  auto g = store_->Get(first->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->count, 2);
  EXPECT_EQ(g->last_seen_ms, 3000);
  EXPECT_EQ(g->samples.size(), 2u);

  // No id of its own: the same bytes twice are two occurrences.
  const std::string no_id = R"({"source":"prom","labels":{"alertname":"Mystery"}})";
  ASSERT_TRUE(store_->RecordUnknown(no_id, 5000).ok());
  auto twice = store_->RecordUnknown(no_id, 6000);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(twice->count, 4);

  // Past the replay window (24 h by default) the id is forgotten: it counts again.
  const int64_t day = 24 * 3600 * 1000LL;
  auto pruned = store_->Prune({.max_age_ms = 0, .max_groups = 0}, 3000 + day + 1);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->event_ids_deleted, 2);
  EXPECT_EQ(CountRows(db_path(), "escalation_events"), 0);
  auto late = store_->RecordUnknown(with_id("ev-1"), 3000 + day + 2);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->outcome, RecordOutcome::kRepeat);
  EXPECT_EQ(late->count, 5);
}

TEST(EscalationStoreDurabilityTest, DurabilityChoosesTheSynchronousLevel) {
  TempDir dir;
  auto normal = OpenStore(dir.File("normal.db"));
  ASSERT_NE(normal, nullptr);
  EXPECT_EQ(normal->SynchronousLevel(), 1);  // NORMAL
  EscalationOptions o;
  o.durability = base::Durability::kFsync;
  auto full = OpenStore(dir.File("full.db"), o);
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->SynchronousLevel(), 2);  // FULL
}

// An Alertmanager-style alert: `status` firing or resolved, with its own event id.
std::string StatusAlert(const std::string& id, const std::string& status,
                        const std::string& instance = "db-01") {
  return R"({"id":")" + id +
         R"(","source":"alertmanager","labels":{"alertname":"DiskFull",)"
         R"("severity":"critical","instance":")" +
         instance + R"(","status":")" + status + R"("}})";
}

// Before, a resolved alert was one more occurrence of its group (count 3, state open).
TEST_F(EscalationStoreTest, ResolvedEventResolvesTheOpenGroupAndIsNotCounted) {
  auto f1 = store_->RecordUnknown(StatusAlert("a-1", "firing", "db-01"), 1000);
  auto f2 = store_->RecordUnknown(StatusAlert("a-2", "firing", "db-02"), 2000);
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_TRUE(f1->notify);
  EXPECT_FALSE(f2->notify) << "a repeat of an open unknown group is not told again";
  auto r = store_->RecordUnknown(StatusAlert("a-1-resolved", "resolved"), 3000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, RecordOutcome::kResolved);
  EXPECT_EQ(r->group_id, f1->group_id);
  EXPECT_EQ(r->fingerprint, f1->fingerprint) << "the same group key (PagerDuty dedup key)";
  EXPECT_EQ(r->count, 2) << "a resolution is no occurrence";
  EXPECT_TRUE(r->notify);
  auto g = store_->Get(f1->group_id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->count, 2);
  EXPECT_EQ(g->state, EscalationState::kResolved);
  EXPECT_EQ(g->state_by, "reflex");
  EXPECT_EQ(g->state_note, "resolved by a resolved event (a-1-resolved)");
  ASSERT_FALSE(g->history.empty());
  EXPECT_EQ(g->history.back().state, EscalationState::kResolved);
  EXPECT_EQ(g->samples.size(), 2u) << "the resolved event is no sample";

  // A later resolved event for the resolved group changes nothing.
  auto again = store_->RecordUnknown(StatusAlert("a-2-resolved", "resolved", "db-02"), 4000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, RecordOutcome::kNoOpenGroup);
  EXPECT_FALSE(again->notify);
  auto g2 = store_->Get(f1->group_id);
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(g2->count, 2);
  EXPECT_EQ(g2->state, EscalationState::kResolved);
  EXPECT_EQ(g2->state_at_ms, 3000);
  EXPECT_EQ(g2->history.size(), g->history.size());

  // Redelivery of the resolved event that resolved it: a replay, nothing changes.
  auto replay = store_->RecordUnknown(StatusAlert("a-1-resolved", "resolved"), 4500);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->outcome, RecordOutcome::kReplayed);
  EXPECT_FALSE(replay->notify);

  // Only a new firing event reopens it.
  auto refire = store_->RecordUnknown(StatusAlert("a-3", "firing"), 5000);
  ASSERT_TRUE(refire.ok());
  EXPECT_EQ(refire->outcome, RecordOutcome::kReopened);
  EXPECT_EQ(refire->count, 3);
  EXPECT_TRUE(refire->notify);
}

TEST_F(EscalationStoreTest, ResolvedEventWithoutAGroupRecordsNothing) {
  auto r = store_->RecordUnknown(StatusAlert("x-resolved", "resolved"), 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, RecordOutcome::kNoOpenGroup);
  EXPECT_EQ(r->group_id, 0);
  EXPECT_FALSE(r->notify);
  auto all = store_->List({});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  // Batches too: the firing event opens the group, the resolved one in the same batch
  // resolves it, uncounted.
  auto batch = store_->RecordUnknownBatch(
      {StatusAlert("b-1", "firing"), StatusAlert("b-1-resolved", "resolved")}, 2000);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)[0].outcome, RecordOutcome::kNew);
  EXPECT_EQ((*batch)[1].outcome, RecordOutcome::kResolved);
  EXPECT_EQ((*batch)[1].count, 1);
}

// Before, every repeat of an action escalation was told again.
TEST_F(EscalationStoreTest, ActionEscalationRepeatsWithinTheDedupWindowAreCountedNotNotified) {
  EscalationOptions o;
  o.clock = &clock_;
  o.dedup_window_ms = 60'000;
  auto store = OpenStore(dir_.File("dedup.db"), o);
  ASSERT_NE(store, nullptr);
  ActionEscalation e;
  e.kind = EscalationKind::kEscalateAction;
  e.action = "escalate";
  e.table = "disk";
  e.row = "disk-crit";
  auto first = store->RecordAction(e, 0);
  auto second = store->RecordAction(e, 30'000);
  auto third = store->RecordAction(e, 80'000);    // 50 s after the previous one
  auto fourth = store->RecordAction(e, 150'000);  // 70 s after the previous one
  ASSERT_TRUE(first.ok() && second.ok() && third.ok() && fourth.ok());
  EXPECT_TRUE(first->notify);
  EXPECT_FALSE(second->notify);
  EXPECT_FALSE(third->notify) << "identical repeats keep the window open";
  EXPECT_TRUE(fourth->notify);
  EXPECT_EQ(fourth->count, 4) << "every repeat is counted on the group";
  // Without a window (the default) every repeat is told, as before.
  auto plain = store_->RecordAction(e, 0);
  auto repeat = store_->RecordAction(e, 1);
  ASSERT_TRUE(plain.ok() && repeat.ok());
  EXPECT_TRUE(repeat->notify);
}

}  // namespace
}  // namespace reflex::actions
