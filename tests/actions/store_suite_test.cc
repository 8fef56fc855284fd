// The store suite: the SQL layer (sql.h), the schema migrations (migrate.h) and the audit log
// (the first store on them), written once and run against every backend (store_backend.h):
// store_sqlite_test.cc instantiates it on SQLite files, store_pg_test.cc on PostgreSQL.
#include "store_suite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "migrate.h"
#include "reflex/actions/audit.h"
#include "sql.h"

namespace reflex::actions::test {
namespace {

using engine::StatusCode;
using ::testing::HasSubstr;

// ---- the SQL layer ----

TEST_P(StoreSuite, ParametersRowsAndReturningAreTheSameOnBothDatabases) {
  auto db = Connect();
  ASSERT_TRUE(db->ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY, body TEXT, n BIGINT)").ok());
  const std::string text = "it's \"quoted\" $1 ünïcødé -- not a comment";
  // Parameters out of order and reused; $10 is not $1 followed by 0.
  auto ins = db->Exec("INSERT INTO t (id, body, n) VALUES ($2, $1, $3) RETURNING id, body", text,
                      int64_t{7}, sql::kNull);
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  ASSERT_EQ(ins->size(), 1);
  EXPECT_EQ(ins->Int(0, 0), 7);
  EXPECT_EQ(ins->Text(0, 1), text);
  EXPECT_EQ(ins->affected(), 1);
  auto ten = db->Exec(
      "SELECT CAST($10 AS BIGINT), '$1', CAST($1 AS BIGINT), CAST($2 AS BIGINT), "
      "CAST($3 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS BIGINT), "
      "CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS BIGINT) /* $3 */ -- $4",
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  ASSERT_TRUE(ten.ok()) << ten.status().ToString();
  EXPECT_EQ(ten->Int(0, 0), 10);
  EXPECT_EQ(ten->Text(0, 1), "$1");  // quoted text and comments are left alone
  EXPECT_EQ(ten->Int(0, 2), 1);
  EXPECT_EQ(ten->Int(0, 10), 9);

  // A bool is 1 or 0: an integer column stores it, and each database reads it as a truth value.
  auto flags = db->Exec("INSERT INTO t (id, body, n) VALUES ($1, 'flag', $2), ($3, 'flag', $4)",
                        8, true, 9, false);
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  auto truthy = db->Exec("SELECT id FROM t WHERE body = 'flag' AND n = $1", true);
  ASSERT_TRUE(truthy.ok()) << truthy.status().ToString();
  ASSERT_EQ(truthy->size(), 1);
  EXPECT_EQ(truthy->Int(0, 0), 8);
  ASSERT_TRUE(db->Exec("DELETE FROM t WHERE body = 'flag'").ok());

  auto back = db->Exec("SELECT id, body, n FROM t WHERE id = $1", 7);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1);
  EXPECT_EQ(back->Int(0, 0), 7);
  EXPECT_EQ(back->Text(0, 1), text);
  EXPECT_TRUE(back->IsNull(0, 2));
  EXPECT_EQ(back->Int(0, 2), 0);

  auto none = db->Exec("INSERT INTO t (id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING", 7, "x");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->affected(), 0);
  auto del = db->Exec("DELETE FROM t WHERE id > $1", 0);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->affected(), 1);
}

TEST_P(StoreSuite, ErrorsMapToOneSetOfCodes) {
  auto db = Connect();
  ASSERT_TRUE(db->ExecScript("CREATE TABLE u (id BIGINT PRIMARY KEY)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO u (id) VALUES ($1)", 1).ok());
  auto dup = db->Exec("INSERT INTO u (id) VALUES ($1)", 1);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().ToString();
  EXPECT_TRUE(sql::IsUniqueViolation(dup.status()));
  EXPECT_THAT(dup.status().message(), HasSubstr("test: INSERT INTO u"));
  auto bad = db->Exec("SELECT nothing FROM no_such_table");
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal) << bad.status().ToString();
  EXPECT_FALSE(sql::IsUniqueViolation(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("no_such_table"));
  // The connection is still usable.
  EXPECT_EQ(Count(*db, "u"), 1);
}

TEST_P(StoreSuite, TransactionRollsBackOnScopeExitAndKeepsWhatCommitted) {
  auto db = Connect();
  auto other = Connect();
  ASSERT_TRUE(db->ExecScript("CREATE TABLE v (id BIGINT PRIMARY KEY)").ok());
  {
    sql::Transaction tx(*db);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(db->Exec("INSERT INTO v (id) VALUES ($1), ($2)", 1, 2).ok());
    EXPECT_EQ(Count(*db, "v"), 2);
  }
  EXPECT_EQ(Count(*db, "v"), 0);
  {
    sql::Transaction tx(*db);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(db->Exec("INSERT INTO v (id) VALUES ($1)", 3).ok());
    ASSERT_TRUE(tx.Commit().ok());
  }
  EXPECT_EQ(Count(*other, "v"), 1);
  // A failed statement inside a transaction: nothing of it stays.
  {
    sql::Transaction tx(*db);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(db->Exec("INSERT INTO v (id) VALUES ($1)", 4).ok());
    EXPECT_FALSE(db->Exec("INSERT INTO v (id) VALUES ($1)", 3).ok());
  }
  EXPECT_EQ(Count(*other, "v"), 1);
}

// ---- migrations ----

constexpr sql::Migration kToy[] = {
    {1, "t1", "CREATE TABLE toy (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",
     "CREATE TABLE toy (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"},
    {2, "a row", "INSERT INTO toy (id, note) VALUES (1, 'two')",
     "INSERT INTO toy (id, note) VALUES (1, 'two')"},
    {3, "a column", "ALTER TABLE toy ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'",
     "ALTER TABLE toy ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'"},
};

TEST_P(StoreSuite, MigrationsApplyInOrderOnceAndOnlyWhatIsPending) {
  auto db = Connect();
  auto v0 = sql::AppliedVersion(*db, "toy");
  ASSERT_TRUE(v0.ok()) << v0.status().ToString();
  EXPECT_EQ(*v0, 0);
  auto v2 = sql::Migrate(*db, "toy", std::span(kToy).first(2));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(*v2, 2);
  EXPECT_EQ(Count(*db, "toy"), 1);
  // Again with the same list: nothing applied (migration 2's insert would fail twice).
  auto again = sql::Migrate(*db, "toy", std::span(kToy).first(2));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Count(*db, "toy"), 1);
  // A longer list: only 3.
  auto v3 = sql::Migrate(*db, "toy", kToy);
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_EQ(*v3, 3);
  sql::Rows rows = Must(*db, "SELECT note, extra FROM toy");
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Text(0, 1), "x");
  sql::Rows applied =
      Must(*db,
           "SELECT version, description FROM schema_migrations WHERE component = 'toy' "
           "ORDER BY version");
  ASSERT_EQ(applied.size(), 3);
  EXPECT_EQ(applied.Int(0, 0), 1);
  EXPECT_EQ(applied.Text(2, 1), "a column");
  auto v = sql::AppliedVersion(*db, "toy");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
}

TEST_P(StoreSuite, AFailingMigrationLeavesTheDatabaseAsItWas) {
  auto db = Connect();
  ASSERT_TRUE(sql::Migrate(*db, "toy", std::span(kToy).first(1)).ok());
  const sql::Migration broken[] = {
      kToy[0],
      {2, "new table", "CREATE TABLE toy2 (id INTEGER)", "CREATE TABLE toy2 (id BIGINT)"},
      {3, "broken", "INSERT INTO no_such_table VALUES (1)", "INSERT INTO no_such_table VALUES (1)"},
  };
  auto r = sql::Migrate(*db, "toy", broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("(migration 3 of toy: broken)"));
  auto v = sql::AppliedVersion(*db, "toy");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1);
  EXPECT_FALSE(db->Exec("SELECT COUNT(*) FROM toy2").ok()) << "migration 2 was rolled back";
}

TEST_P(StoreSuite, AMigrationListWithAGapIsRefused) {
  auto db = Connect();
  const sql::Migration gap[] = {kToy[0], kToy[2]};
  auto r = sql::Migrate(*db, "toy", gap);
  EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("migration 2 of toy has version 3"));
}

TEST_P(StoreSuite, AuditLogOnAFreshDatabaseGetsEveryVersionAndReopeningAppliesNothing) {
  ASSERT_NE(OpenAudit(), nullptr);
  auto db = Connect();
  sql::Rows rows = Must(*db,
                        "SELECT version, description, applied_at FROM schema_migrations WHERE "
                        "component = 'audit_log' ORDER BY version");
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Int(0, 0), 1);
  EXPECT_THAT(rows.Text(0, 1), HasSubstr("audit_log table"));
  const int64_t applied_at = rows.Int(0, 2);
  EXPECT_GT(applied_at, 1'600'000'000'000);  // Unix milliseconds

  ASSERT_NE(OpenAudit(), nullptr);
  sql::Rows again =
      Must(*db, "SELECT version, applied_at FROM schema_migrations WHERE component = 'audit_log'");
  ASSERT_EQ(again.size(), 1);
  EXPECT_EQ(again.Int(0, 1), applied_at);
}

TEST_P(StoreSuite, AuditLogRefusesADatabaseNewerThanThisBinary) {
  ASSERT_NE(OpenAudit(), nullptr);
  auto db = Connect();
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('audit_log', 7, 'from the future', 0)")
                  .ok());
  auto a = AuditLog::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(sql::IsUniqueViolation(a.status())) << "a newer schema is not a duplicate key";
  EXPECT_EQ(a.status().message(),
            "audit log: database schema version 7 is newer than this reflex (knows up to 1): "
            "upgrade reflex");
  // Another component's versions are not this store's business.
  ASSERT_TRUE(db->Exec("DELETE FROM schema_migrations WHERE version = 7").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('journal', 9, 'other store', 0)")
                  .ok());
  EXPECT_NE(OpenAudit(), nullptr);
}

// ---- the audit log ----

TEST_P(StoreSuite, AuditRecordsRoundTripNewestFirstWithIncreasingIds) {
  auto audit = OpenAudit();
  ASSERT_NE(audit, nullptr);
  AuditEntry full = Entry(1000, "alice", "escalation.ack", "escalation/12");
  full.detail = "it's \"fine\" — ünïcødé";
  full.before = R"({"state":"open"})";
  full.after = R"({"state":"acknowledged"})";
  auto id1 = audit->Record(full);
  ASSERT_TRUE(id1.ok()) << id1.status().ToString();
  auto id2 = audit->Record(Entry(2000, "bob", "silence.add", "silence/x"));
  ASSERT_TRUE(id2.ok()) << id2.status().ToString();
  EXPECT_GT(*id2, *id1);

  auto all = audit->List({});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, *id2);
  const AuditEntry& e = (*all)[1];
  EXPECT_EQ(e.id, *id1);
  EXPECT_EQ(e.at_ms, 1000);
  EXPECT_EQ(e.actor, "alice");
  EXPECT_EQ(e.role, "operator");
  EXPECT_EQ(e.via, "api");
  EXPECT_EQ(e.action, "escalation.ack");
  EXPECT_EQ(e.target, "escalation/12");
  EXPECT_EQ(e.outcome, "ok");
  EXPECT_EQ(e.detail, full.detail);
  EXPECT_EQ(e.before, full.before);
  EXPECT_EQ(e.after, full.after);
  EXPECT_EQ((*all)[0].before, "");

  // A second handle on the same database sees the same log.
  auto other = OpenAudit();
  ASSERT_NE(other, nullptr);
  auto seen = other->List({});
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size(), 2u);
}

TEST_P(StoreSuite, AuditListFiltersAndPages) {
  auto audit = OpenAudit();
  ASSERT_NE(audit, nullptr);
  ASSERT_TRUE(audit->Record(Entry(100, "alice", "escalation.ack", "escalation/1")).ok());
  ASSERT_TRUE(audit->Record(Entry(200, "bob", "escalation.resolve", "escalation/1")).ok());
  ASSERT_TRUE(audit->Record(Entry(300, "alice", "escalationx.other", "escalation/2")).ok());
  ASSERT_TRUE(audit->Record(Entry(400, "carol", "approval.approve", "run/7")).ok());
  ASSERT_TRUE(audit->Record(Entry(500, "alice", "escalation", "escalation/3")).ok());

  auto actions_of = [&](const AuditFilter& f) {
    std::vector<std::string> out;
    auto r = audit->List(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (const auto& e : *r) out.push_back(std::to_string(e.at_ms));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(actions_of({.actor = "alice"}), (V{"500", "300", "100"}));
  EXPECT_EQ(actions_of({.action = "escalation.ack"}), (V{"100"}));
  EXPECT_EQ(actions_of({.action = "escalation."}), (V{"200", "100"}));  // a prefix
  EXPECT_EQ(actions_of({.action = "escalation"}), (V{"500"}));          // exact
  EXPECT_EQ(actions_of({.target = "escalation/1"}), (V{"200", "100"}));
  EXPECT_EQ(actions_of({.since_ms = 300}), (V{"500", "400", "300"}));
  EXPECT_EQ(actions_of({.actor = "alice", .action = "escalation.", .target = "escalation/1"}),
            (V{"100"}));
  EXPECT_EQ(actions_of({.actor = "nobody"}), V{});
  // 'it''s' and wildcards are values, not SQL.
  EXPECT_EQ(actions_of({.actor = "' OR 1=1 --"}), V{});
  EXPECT_EQ(actions_of({.action = "%."}), V{});

  // Paging: two at a time, by the last id seen.
  auto page1 = audit->List({.limit = 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  auto page2 = audit->List({.before_id = page1->back().id, .limit = 2});
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  auto page3 = audit->List({.before_id = page2->back().id, .limit = 2});
  ASSERT_TRUE(page3.ok());
  ASSERT_EQ(page3->size(), 1u);
  EXPECT_EQ((*page1)[0].at_ms, 500);
  EXPECT_EQ((*page2)[0].at_ms, 300);
  EXPECT_EQ((*page3)[0].at_ms, 100);
}

TEST_P(StoreSuite, AuditPruneDeletesOlderThanTheAgeAndCountsThem) {
  auto audit = OpenAudit();
  ASSERT_NE(audit, nullptr);
  for (int64_t at : {100, 200, 300, 400}) {
    ASSERT_TRUE(audit->Record(Entry(at, "a", "x.y", "t/1")).ok());
  }
  auto pruned = audit->Prune(/*max_age_ms=*/150, /*now_ms=*/450);  // older than 300
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  auto left = audit->List({});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ(left->back().at_ms, 300);
  auto none = audit->Prune(150, 450);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

// Several handles (as several processes or replicas) write at once: every entry is kept,
// each with its own id.
TEST_P(StoreSuite, AuditConcurrentWritersFromSeveralHandlesKeepEveryEntry) {
  constexpr int kWriters = 3, kEach = 40;
  std::vector<std::unique_ptr<AuditLog>> logs;
  for (int i = 0; i < kWriters; ++i) {
    logs.push_back(OpenAudit());
    ASSERT_NE(logs.back(), nullptr);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        // Two threads per handle: the handle's mutex guards its connection.
        auto r = logs[static_cast<size_t>(w)]->Record(
            Entry(i, "w" + std::to_string(w), "x.y", "t/" + std::to_string(i)));
        if (!r.ok()) ++failures;
      }
    });
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        if (!logs[static_cast<size_t>(w)]->List({.limit = 5}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = logs[0]->List({.limit = 1000});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kWriters * kEach));
  std::set<int64_t> ids;
  for (const auto& e : *all) ids.insert(e.id);
  EXPECT_EQ(ids.size(), all->size());
}

}  // namespace
}  // namespace reflex::actions::test
