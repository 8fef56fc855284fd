// The store suite (store_suite_test.cc) on a real PostgreSQL server that this binary starts
// once (tests/pg_server.h), a fresh database per test; and what only PostgreSQL has:
// replicas migrating one database at once, and a lost connection opened again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "migrate.h"
#include "pg_server.h"
#include "reflex/actions/audit.h"
#include "sql.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

using engine::StatusCode;

::testing::Environment* const kPg =
    ::testing::AddGlobalTestEnvironment(new reflex::test::PgEnvironment);

// A fresh database on the binary's server.
std::string FreshDatabase() {
  static std::atomic<int> next{0};
  reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
  if (server == nullptr) return "";
  return server->CreateDatabase("store_" + std::to_string(next++));
}

class PgBackend : public StoreBackend {
 public:
  explicit PgBackend(std::string dsn) : dsn_(std::move(dsn)) {}
  base::StoreConfig store() const override {
    return {.kind = base::StoreKind::kPostgresql, .dsn = dsn_};
  }
  std::string sqlite_path() const override { return "/nonexistent/unused.db"; }
  std::unique_ptr<sql::Database> Connect() const override {
    auto db = sql::OpenPostgres(dsn_, "test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

 private:
  std::string dsn_;
};

INSTANTIATE_TEST_SUITE_P(Postgresql, StoreSuite,
                         ::testing::Values(BackendParam{"Postgresql",
                                                        []() -> std::unique_ptr<StoreBackend> {
                                                          std::string dsn = FreshDatabase();
                                                          if (dsn.empty()) return nullptr;
                                                          return std::make_unique<PgBackend>(dsn);
                                                        }}),
                         BackendName);

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(reflex::test::PgEnvironment::server(), nullptr);
    dsn_ = FreshDatabase();
  }
  std::string dsn_;
};

// Replicas starting at once against one database: every migrator succeeds and each migration
// runs once (a second run of version 1's CREATE TABLE, or of version 2's INSERT into a
// primary key, would fail). The advisory lock makes the others wait, then find nothing to do.
TEST_F(PgStoreTest, ConcurrentMigratorsAllSucceedAndApplyEachMigrationOnce) {
  constexpr int kMigrators = 6;
  const sql::Migration list[] = {
      {1, "table", "", "CREATE TABLE once (id BIGINT PRIMARY KEY, by_pid INTEGER NOT NULL)"},
      // Slow enough that the migrators overlap.
      {2, "row", "",
       "SELECT pg_sleep(0.2); INSERT INTO once (id, by_pid) VALUES (1, pg_backend_pid())"},
  };
  std::vector<std::unique_ptr<sql::Database>> dbs;
  for (int i = 0; i < kMigrators; ++i) {
    auto db = sql::OpenPostgres(dsn_, "replica " + std::to_string(i));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    dbs.push_back(std::move(*db));
  }
  std::atomic<int> ready{0};
  std::vector<engine::Status> results(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kMigrators) std::this_thread::yield();
      auto v = sql::Migrate(*dbs[static_cast<size_t>(i)], "once", list);
      results[static_cast<size_t>(i)] = v.ok() ? engine::Status::Ok() : v.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  auto rows = dbs[0]->Exec("SELECT COUNT(*) FROM once");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->Int(0, 0), 1);
  auto applied =
      dbs[0]->Exec("SELECT COUNT(*) FROM schema_migrations WHERE component = $1", "once");
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->Int(0, 0), 2);
}

// The same through the store: replicas opening the audit log on a fresh database at once.
TEST_F(PgStoreTest, ReplicasOpeningTheAuditLogAtOnceAllSucceed) {
  constexpr int kReplicas = 4;
  std::vector<engine::Status> results(kReplicas);
  std::vector<std::thread> threads;
  const base::StoreConfig store{.kind = base::StoreKind::kPostgresql, .dsn = dsn_};
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      auto a = AuditLog::Open(store, "", {});
      results[static_cast<size_t>(i)] = a.ok() ? engine::Status::Ok() : a.status();
      if (a.ok()) {
        auto r = (*a)->Record({.at_ms = i, .actor = "r", .action = "x.y", .outcome = "ok"});
        if (!r.ok()) results[static_cast<size_t>(i)] = r.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  auto a = AuditLog::Open(store, "", {});
  ASSERT_TRUE(a.ok());
  auto all = (*a)->List({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kReplicas));
}

// The server ends the log's session (a restart, a failover, an administrator): the statement
// that finds out fails kUnavailable, and the next one runs on a new connection.
TEST_F(PgStoreTest, ALostConnectionIsOpenedAgainByTheNextStatement) {
  const base::StoreConfig store{.kind = base::StoreKind::kPostgresql, .dsn = dsn_};
  auto a = AuditLog::Open(store, "", {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE((*a)->Record({.at_ms = 1, .actor = "before", .outcome = "ok"}).ok());
  auto admin = sql::OpenPostgres(dsn_, "admin");
  ASSERT_TRUE(admin.ok());
  auto killed = (*admin)->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  ASSERT_EQ(killed->size(), 1);
  auto first = (*a)->List({});
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  }
  auto second = (*a)->Record({.at_ms = 2, .actor = "after", .outcome = "ok"});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto all = (*a)->List({});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(PgStoreTest, AnUnreachableServerIsUnavailableAndABadDsnInvalid) {
  const int port = reflex::test::FreeLoopbackPort();
  auto down =
      AuditLog::Open({.kind = base::StoreKind::kPostgresql,
                      .dsn = "host=127.0.0.1 port=" + std::to_string(port) + " connect_timeout=2"},
                     "", {});
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  EXPECT_THAT(down.status().message(), ::testing::HasSubstr("audit log: connect:"));
  auto bad =
      AuditLog::Open({.kind = base::StoreKind::kPostgresql, .dsn = "host='unterminated"}, "", {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
}

}  // namespace
}  // namespace reflex::actions::test
