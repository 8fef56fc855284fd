// The SQLite side of sql.h.
#include <sqlite3.h>

#include "reflex/base/strings.h"
#include "sql.h"
#include "sqlite_util.h"

namespace reflex::actions::sql {
namespace {

// The statement as it appears in messages: one line, at most 80 bytes.
std::string What(std::string_view sql) { return base::OneLine(sql, 80); }

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string store) : Database(std::move(store)), db_(db) {}
  ~SqliteDatabase() override { sqlite3_close(db_); }

  Dialect dialect() const override { return Dialect::kSqlite; }

  engine::Result<Rows> ExecParams(std::string_view sql, std::span<const Param> params) override {
    const std::string text = ToSqlitePlaceholders(sql);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, text.c_str(), static_cast<int>(text.size()), &raw, nullptr) !=
        SQLITE_OK) {
      return Error(What(sql));
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    Rows rows;
    if (stmt == nullptr) return rows;  // only whitespace or comments
    const int expected = sqlite3_bind_parameter_count(stmt.get());
    if (expected != static_cast<int>(params.size())) {
      return engine::Internal(store() + ": " + What(sql) + ": the statement takes " +
                              std::to_string(expected) + " parameters, " +
                              std::to_string(params.size()) + " given");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      const int at = static_cast<int>(i + 1);
      if (p.is_null()) {
        sqlite3_bind_null(stmt.get(), at);
      } else if (p.is_int()) {
        sqlite3_bind_int64(stmt.get(), at, p.int_value());
      } else {
        const std::string t = p.text();
        sqlite3_bind_text(stmt.get(), at, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
      }
    }
    int rc;
    const int columns = sqlite3_column_count(stmt.get());
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      std::vector<Rows::Value> row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt.get(), c)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt.get(), c)));
            break;
          default: {
            const auto* p = sqlite3_column_text(stmt.get(), c);
            row.emplace_back(std::string(reinterpret_cast<const char*>(p),
                                         static_cast<size_t>(sqlite3_column_bytes(stmt.get(), c))));
          }
        }
      }
      rows.AddRow(std::move(row));
    }
    if (rc != SQLITE_DONE) return Error(What(sql));
    if (!sqlite3_stmt_readonly(stmt.get())) rows.set_affected(sqlite3_changes64(db_));
    return rows;
  }

  engine::Status ExecScript(std::string_view sql) override {
    const std::string text(sql);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error(What(sql));
    }
    return engine::Status::Ok();
  }

  engine::Status Begin() override {
    if (sqlite3_get_autocommit(db_) == 0) {
      return engine::Internal(store() + ": BEGIN IMMEDIATE: a transaction is already open");
    }
    return ExecScript("BEGIN IMMEDIATE");
  }

  engine::Status Commit() override {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) {
      return engine::Status::Ok();
    }
    engine::Status s = Error("COMMIT");
    Rollback();
    return s;
  }

  void Rollback() override {
    if (sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

 private:
  // sqlite::SqlError's mapping, with a unique or primary-key violation told apart.
  engine::Status Error(std::string_view what) const {
    const int ext = sqlite3_extended_errcode(db_);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return engine::AlreadyExists(store() + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
    }
    return sqlite::SqlError(db_, store(), what);
  }

  sqlite3* db_;
};

}  // namespace

engine::Result<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& o) {
  auto db = sqlite::OpenDatabase(o.path, o.store, o.create_if_missing, o.busy_timeout_ms,
                                 o.durability, /*schema=*/"");
  if (!db.ok()) return db.status();
  return std::unique_ptr<Database>(new SqliteDatabase(*db, o.store));
}

}  // namespace reflex::actions::sql
