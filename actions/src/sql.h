// One SQL interface over the two databases the stores can live in, SQLite (the embedded
// default) and PostgreSQL (shared by replicas), so that a store is written once (internal to
// reflex::actions; the layers under it are sqlite_util.h and pg_util.h).
//
// SQL is written once, with PostgreSQL's positional placeholders $1, $2, ...; on SQLite they
// are rewritten to ?1, ?2, ... (outside quoted text). Both sides accept `RETURNING`, `ON
// CONFLICT ... DO NOTHING`, `CAST(x AS TEXT|BIGINT)`, substr/length; new ids come back with
// `RETURNING id` (there is no last-insert-id call). Where the SQL must differ (column types
// in a schema, say) a store asks dialect(), or gives a migration its text per dialect
// (migrate.h). Values come back as integers, text or NULL; on PostgreSQL every value travels
// as text and Int() parses it.
//
// Ownership: a Database owns its connection (closed when it goes) and is held by one store
// through a unique_ptr. Rows owns copies of its values. A Transaction refers to a Database,
// which must outlive it.
//
// Thread-safety: a Database is not thread-safe: a store keeps one and guards it with its own
// mutex (every call and every Transaction under that mutex). Distinct Databases may be used
// from distinct threads at once.
//
// Errors (one mapping for both backends; messages read "<store>: <what>: <database message>",
// <what> being the step or the statement, abridged): a database that is busy, locked, full,
// unreachable or lost, and PostgreSQL's SQLSTATEs worth retrying (pg_util.h), are
// kUnavailable; a unique or primary-key violation is kAlreadyExists, and only that
// (IsUniqueViolation, sql_param.h); anything else is kInternal. A PostgreSQL connection that was
// lost is opened again by the next statement outside a transaction.
//
//   auto db = sql::OpenSqlite({.path = "reflex.db", .store = "audit log"});
//   auto rows = (*db)->Exec("INSERT INTO t (a, b) VALUES ($1, $2) RETURNING id", 7, "x");
//   int64_t id = rows->Int(0, 0);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/engine/status.h"
#include "sql_param.h"

namespace reflex::actions::sql {

enum class Dialect : uint8_t { kSqlite, kPostgresql };

// The rows a statement returned (copied out of the database), and how many rows it changed.
// Values are read by row and column index, 0-based; both must be in range (asserted).
class Rows {
 public:
  using Value = std::variant<std::monostate, int64_t, std::string>;

  int size() const { return static_cast<int>(rows_.size()); }
  bool empty() const { return rows_.empty(); }
  // Rows an INSERT / UPDATE / DELETE changed (0 for other statements).
  int64_t affected() const { return affected_; }

  bool IsNull(int row, int col) const;
  // The value as an integer; 0 for NULL and for text that is not one.
  int64_t Int(int row, int col) const;
  // The value as text (integers in decimal; "" for NULL).
  std::string Text(int row, int col) const;

  // For the backends: one more row; the changed-row count.
  void AddRow(std::vector<Value> row) { rows_.push_back(std::move(row)); }
  void set_affected(int64_t n) { affected_ = n; }

 private:
  const Value& At(int row, int col) const;
  std::vector<std::vector<Value>> rows_;
  int64_t affected_ = 0;
};

// A connection to one database, named after the store that uses it (for messages).
class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Dialect dialect() const = 0;
  const std::string& store() const { return store_; }

  // Runs one statement with parameters $1 .. $n (errors: the mapping at the top;
  // kInvalidArgument for text holding a NUL byte on PostgreSQL).
  template <typename... Args>
  [[nodiscard]] engine::Result<Rows> Exec(std::string_view sql, const Args&... args) {
    if constexpr (sizeof...(Args) == 0) {
      return ExecParams(sql, {});
    } else {
      const Param params[] = {Param(args)...};
      return ExecParams(sql, params);
    }
  }
  [[nodiscard]] virtual engine::Result<Rows> ExecParams(std::string_view sql,
                                                        std::span<const Param> params) = 0;
  // Runs SQL text without parameters, several statements allowed (a schema, a migration).
  [[nodiscard]] virtual engine::Status ExecScript(std::string_view sql) = 0;

  // Transactions; use Transaction below rather than these. Begin is BEGIN IMMEDIATE on
  // SQLite (the write lock at once, so two writers never deadlock upgrading), BEGIN on
  // PostgreSQL. Commit of a PostgreSQL transaction in which a statement failed rolls back and
  // returns kInternal. Rollback never fails (a lost connection has rolled back already).
  [[nodiscard]] virtual engine::Status Begin() = 0;
  [[nodiscard]] virtual engine::Status Commit() = 0;
  virtual void Rollback() = 0;

 protected:
  explicit Database(std::string store) : store_(std::move(store)) {}

 private:
  std::string store_;
};

// Begin ... Commit on one Database; rolled back on scope exit unless committed.
//
//   sql::Transaction tx(db);
//   if (auto s = tx.Begin(); !s.ok()) return s;
//   ... db.Exec(...) ...
//   return tx.Commit();
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction() {
    if (open_) db_.Rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  [[nodiscard]] engine::Status Begin() {
    engine::Status s = db_.Begin();
    open_ = s.ok();
    return s;
  }
  [[nodiscard]] engine::Status Commit() {
    open_ = false;
    return db_.Commit();
  }

 private:
  Database& db_;
  bool open_ = false;
};

struct SqliteOptions {
  std::string path;   // the database file
  std::string store;  // names the store in messages
  bool create_if_missing = true;
  int busy_timeout_ms = 5000;
  base::Durability durability = base::Durability::kNormal;
};

// The SQLite options of a store whose own options (AuditOptions, JournalOptions, ...) carry
// busy_timeout_ms, durability and, when it has one, create_if_missing.
template <typename StoreOptions>
SqliteOptions SqliteFor(const std::string& path, std::string_view store, const StoreOptions& o) {
  SqliteOptions s{.path = path,
                  .store = std::string(store),
                  .busy_timeout_ms = o.busy_timeout_ms,
                  .durability = o.durability};
  if constexpr (requires { o.create_if_missing; }) s.create_if_missing = o.create_if_missing;
  return s;
}

// Opens (and with create_if_missing creates, with its parent directories) a SQLite file in
// WAL mode with the durability's synchronous level. kNotFound "no state database at <path>"
// when it is missing and may not be created; kUnavailable when it cannot be opened.
[[nodiscard]] engine::Result<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& options);

// Connects to PostgreSQL with a libpq connection string (pg::Connect). kInvalidArgument for a
// malformed string (not repeated: it may hold a password); kUnavailable when the server
// cannot be reached or refuses the session.
[[nodiscard]] engine::Result<std::unique_ptr<Database>> OpenPostgres(const std::string& dsn,
                                                                     std::string_view store);

// The database a store keeps its state in, as `store` (storage.store) says: PostgreSQL
// (OpenPostgres with store.dsn, named sqlite.store), or the SQLite file `sqlite` describes.
[[nodiscard]] engine::Result<std::unique_ptr<Database>> Open(const base::StoreConfig& store,
                                                             const SqliteOptions& sqlite);

// `sql` with $N placeholders rewritten to ?N, outside '...' strings, "..." identifiers and
// comments (exposed for tests).
std::string ToSqlitePlaceholders(std::string_view sql);

}  // namespace reflex::actions::sql
