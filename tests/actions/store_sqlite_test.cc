// The store suite (store_suite_test.cc) on SQLite files, and what only SQLite has: the state
// files written before schema versioning, and the placeholder rewrite.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "migrate.h"
#include "reflex/actions/audit.h"
#include "sql.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite, ::testing::Values(SqliteBackendParam()), BackendName);

TEST(SqlitePlaceholders, DollarNumbersBecomeQuestionNumbersOutsideQuotesAndComments) {
  EXPECT_EQ(sql::ToSqlitePlaceholders("SELECT $1, $12 FROM t WHERE a = $2"),
            "SELECT ?1, ?12 FROM t WHERE a = ?2");
  EXPECT_EQ(sql::ToSqlitePlaceholders("SELECT '$1', \"$2\", 'it''s $3', $4"),
            "SELECT '$1', \"$2\", 'it''s $3', ?4");
  EXPECT_EQ(sql::ToSqlitePlaceholders("SELECT $1 -- $2\n, /* $3 */ $4"),
            "SELECT ?1 -- $2\n, /* $3 */ ?4");
  EXPECT_EQ(sql::ToSqlitePlaceholders("SELECT $a, $"), "SELECT $a, $");  // not positional
  EXPECT_EQ(sql::ToSqlitePlaceholders("SELECT 'unterminated $1"), "SELECT 'unterminated $1");
}

// A state file from before versioning: audit_log made by the old CREATE TABLE IF NOT EXISTS,
// no schema_migrations. It opens, keeps its rows, and is at version 1 afterwards.
TEST(SqliteAuditLog, AStateFileFromBeforeVersioningOpensWithItsRows) {
  reflex::test::TempDir dir;
  const std::string path = dir.File("reflex.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  const char* old_schema = R"sql(
    CREATE TABLE IF NOT EXISTS audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      actor TEXT NOT NULL,
      role TEXT NOT NULL,
      via TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      outcome TEXT NOT NULL,
      detail TEXT NOT NULL,
      before TEXT NOT NULL,
      after TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
    INSERT INTO audit_log (at, actor, role, via, action, target, outcome, detail, before, after)
      VALUES (42, 'old', 'admin', 'cli', 'rules.rollback', 'rules/3', 'ok', '', '', '');
  )sql";
  ASSERT_EQ(sqlite3_exec(raw, old_schema, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);

  auto audit = AuditLog::Open(path, {.create_if_missing = false});
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  auto rows = (*audit)->List({});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].actor, "old");
  EXPECT_EQ((*rows)[0].at_ms, 42);
  auto next = (*audit)->Record({.at_ms = 43, .actor = "new", .action = "x.y", .outcome = "ok"});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(*next, (*rows)[0].id);

  auto db = sql::OpenSqlite({.path = path, .store = "test", .create_if_missing = false});
  ASSERT_TRUE(db.ok());
  auto v = sql::AppliedVersion(**db, "audit_log");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
}

TEST(SqliteAuditLog, AMissingFileIsNotCreatedWhenNotAskedTo) {
  reflex::test::TempDir dir;
  auto audit = AuditLog::Open(dir.File("none.db"), {.create_if_missing = false});
  EXPECT_EQ(audit.status().code(), engine::StatusCode::kNotFound) << audit.status().ToString();
}

}  // namespace
}  // namespace reflex::actions::test
