// Small RAII helpers over the SQLite C API shared by the action journal and the escalation
// store (internal to reflex::actions). Each store keeps its own connection; these only
// finalize statements and roll back transactions that were not committed.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include "reflex/base/durability.h"
#include "reflex/engine/status.h"

namespace reflex::actions::sqlite {

// A prepared statement, finalized on scope exit. A statement that failed to prepare
// returns its error code from Step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // SQLITE_ROW or SQLITE_DONE, or an error code.
  int Step() { return ok() ? sqlite3_step(stmt_) : rc_; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// One mapping of SQLite failures to Status for every store: a database that is busy,
// locked, full, read-only, unopenable or failing I/O is kUnavailable (worth retrying later);
// anything else is kInternal. Message: "<store>: <what>: <SQLite's message>".
inline engine::Status SqlError(sqlite3* db, std::string_view store, std::string_view what) {
  std::string m(store);
  m += ": ";
  m += what;
  m += ": ";
  m += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  const int code = db != nullptr ? sqlite3_errcode(db) : SQLITE_NOMEM;
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR || code == SQLITE_FULL ||
      code == SQLITE_CANTOPEN || code == SQLITE_READONLY) {
    return engine::Unavailable(std::move(m));
  }
  return engine::Internal(std::move(m));
}

// BEGIN IMMEDIATE (takes the write lock at once, so two connections never deadlock on a
// lock upgrade) ... COMMIT; rolled back on scope exit unless committed. Errors are
// SqlError's, naming `store`.
class Transaction {
 public:
  Transaction(sqlite3* db, std::string_view store) : db_(db), store_(store) {}
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  [[nodiscard]] engine::Status Begin() {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqlError(db_, store_, "BEGIN IMMEDIATE");
    }
    open_ = true;
    return engine::Status::Ok();
  }
  [[nodiscard]] engine::Status Commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqlError(db_, store_, "COMMIT");
    }
    open_ = false;
    return engine::Status::Ok();
  }

 private:
  sqlite3* db_;
  std::string_view store_;
  bool open_ = false;
};

// Runs SQL text (several statements allowed); on failure returns false and sets *error to
// SQLite's message.
inline bool ExecSql(sqlite3* db, const char* sql, std::string* error) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return true;
  *error = err != nullptr ? err : "unknown error";
  sqlite3_free(err);
  return false;
}

// PRAGMA synchronous of a connection (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA), or -1 when it
// cannot be read.
inline int SynchronousLevel(sqlite3* db) {
  Stmt q(db, "PRAGMA synchronous");
  return q.Step() == SQLITE_ROW ? static_cast<int>(q.Int(0)) : -1;
}

// Opens a store's connection to the state database at `path`: creates the file and its
// parent directories when `create_if_missing` (else kNotFound "no state database at
// <path>"), sets the busy timeout, WAL, the durability's synchronous level, and runs
// `schema` (idempotent SQL). The WAL switch and the schema may meet another opener's lock:
// they are retried up to the busy timeout. kUnavailable naming `store` otherwise.
inline engine::Result<sqlite3*> OpenDatabase(const std::string& path, std::string_view store,
                                             bool create_if_missing, int busy_timeout_ms,
                                             base::Durability durability, const char* schema) {
  const std::string name(store);
  if (path.empty()) return engine::InvalidArgument(name + ": empty database path");
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
  if (create_if_missing) {
    flags |= SQLITE_OPEN_CREATE;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
    }
  } else if (std::error_code ec; !std::filesystem::exists(path, ec)) {
    return engine::NotFound("no state database at " + path);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return engine::Unavailable(name + ": cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    std::string m;
    const bool ok = ExecSql(db, "PRAGMA journal_mode=WAL", &m) &&
                    ExecSql(db, base::SqliteSynchronousPragma(durability), &m) &&
                    ExecSql(db, schema, &m);
    if (ok) return db;
    const int code = sqlite3_errcode(db) & 0xff;
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      sqlite3_close(db);
      return engine::Unavailable(name + ": " + path + ": " + m);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace reflex::actions::sqlite
