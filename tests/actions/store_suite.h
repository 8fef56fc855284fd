// The store suite's fixture: the tests of store_suite_test.cc are written once against a
// StoreBackend, and each binary instantiates them on its database, SQLite
// (store_sqlite_test.cc) or PostgreSQL (store_pg_test.cc). Each test gets a fresh, empty
// database, the StoreConfig and file path a store opens it with, and raw connections to it
// (sql.h) to look at or tamper with what the store wrote.
//
// Thread-safety: a backend belongs to one test; Connect() may be called from any thread.
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite, ::testing::Values(SqliteBackendParam()),
//                            BackendName);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include "reflex/actions/audit.h"
#include "reflex/base/store_config.h"
#include "sql.h"
#include "temp_dir.h"

namespace reflex::actions::test {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // The store's database, as AuditLog::Open(store(), sqlite_path(), ...) takes it.
  virtual base::StoreConfig store() const = 0;
  virtual std::string sqlite_path() const = 0;
  // Another connection to the same database, or a failed test (nullptr).
  virtual std::unique_ptr<sql::Database> Connect() const = 0;
};

// How a suite instantiation makes a backend for each test; make() returns nullptr (with the
// test skipped, GTEST_SKIP in the factory's caller) when the backend is not available.
struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> make;
};
// gtest prints a parameter by its name.
inline void PrintTo(const BackendParam& p, std::ostream* os) { *os << p.name; }
inline std::string BackendName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

// A SQLite file in a fresh temporary directory.
class SqliteBackend : public StoreBackend {
 public:
  base::StoreConfig store() const override { return {}; }
  std::string sqlite_path() const override { return dir_.File("reflex.db"); }
  std::unique_ptr<sql::Database> Connect() const override {
    auto db = sql::OpenSqlite({.path = sqlite_path(), .store = "test"});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

 private:
  reflex::test::TempDir dir_;
};

inline BackendParam SqliteBackendParam() {
  return {"Sqlite", [] { return std::make_unique<SqliteBackend>(); }};
}

// The fixture of the suite (store_suite_test.cc). A backend's make() returning nullptr skips
// the test.
class StoreSuite : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (backend_ == nullptr) GTEST_SKIP() << GetParam().name << " is not available";
  }

  std::unique_ptr<AuditLog> OpenAudit() {
    auto a = AuditLog::Open(backend_->store(), backend_->sqlite_path(), {});
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : nullptr;
  }

  // A raw connection; throws (failing the test) when there is none.
  std::unique_ptr<sql::Database> Connect() {
    auto db = backend_->Connect();
    if (db == nullptr) throw std::runtime_error("no connection");
    return db;
  }

  static sql::Rows Must(sql::Database& db, std::string_view q) {
    auto r = db.Exec(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : sql::Rows();
  }

  static int64_t Count(sql::Database& db, const std::string& from_where) {
    sql::Rows r = Must(db, "SELECT COUNT(*) FROM " + from_where);
    return r.size() == 1 ? r.Int(0, 0) : -1;
  }

  static AuditEntry Entry(int64_t at, std::string actor, std::string action, std::string target) {
    return {.at_ms = at,
            .actor = std::move(actor),
            .role = "operator",
            .via = "api",
            .action = std::move(action),
            .target = std::move(target),
            .outcome = "ok"};
  }

  std::unique_ptr<StoreBackend> backend_;
};

}  // namespace reflex::actions::test
