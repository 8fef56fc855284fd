// A thin layer over libpq, PostgreSQL's C client, for the stores that keep their state in
// PostgreSQL (internal to reflex::actions, the counterpart of sqlite_util.h): a connection,
// statements with text parameters, their rows, a transaction rolled back unless committed,
// and one mapping of PostgreSQL's failures to Status.
//
// Ownership: a Connection owns its libpq connection (closed when it goes); Rows owns its
// result. A Transaction refers to a Connection, which must outlive it and stay in place (do
// not move a Connection while a Transaction on it is alive).
//
// Thread-safety: a Connection and its Rows are not thread-safe: one thread at a time (a store
// gives each worker its own connection, or guards a shared one with a mutex). Distinct
// connections may be used from distinct threads at once (libpq is built thread-safe).
//
// Errors (PgError): a connection that cannot be opened or is lost, and the SQLSTATEs worth
// retrying later — 40001 serialization failure, 40P01 deadlock, 55P03 lock not available,
// 57014 query canceled (statement or lock timeout), 57P01/57P02/57P03 admin or crash shutdown
// and server starting up, class 53 insufficient resources, class 08 connection exception —
// are kUnavailable. A unique violation (23505) is kAlreadyExists, and only that: the
// status callers test to tell "this key is already there" (IsUniqueViolation). Everything
// else is kInternal. Messages read "<store>: <what>: <server message>", <what> being the
// statement (abridged) or the step ("connect", "BEGIN", "COMMIT").
//
//   auto conn = pg::Connect(dsn, "journal");
//   if (!conn.ok()) return conn.status();
//   auto rows = conn->Exec("SELECT id FROM runs WHERE state = $1 LIMIT $2", "queued", 10);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "reflex/engine/status.h"
#include "sql_param.h"

// libpq's handles, declared here so that users of this header need not see libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace reflex::actions::pg {

// SQLSTATE of a unique violation; PgError maps it, and only it, to kAlreadyExists.
inline constexpr std::string_view kUniqueViolation = "23505";

// The Status code PgError gives a failure with this SQLSTATE (five characters; empty when the
// server sent none): kUnavailable, kAlreadyExists or kInternal, as listed above.
engine::StatusCode CodeForSqlState(std::string_view sqlstate);

// The parameters and the unique-violation test are the SQL layer's (sql_param.h).
using sql::IsUniqueViolation;
using sql::kNull;
using sql::Null;
using sql::Param;

// The rows of a statement's result, or the count of rows it changed. Values are read by row
// and column index (0-based; both must be in range, else the behaviour is undefined).
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);  // takes ownership
  ~Rows();
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  int size() const;  // rows returned (0 for a statement that returns none)
  bool empty() const { return size() == 0; }
  int columns() const;
  // The index of the column named `name`, or -1.
  int Column(std::string_view name) const;
  // Rows an INSERT / UPDATE / DELETE (or SELECT) touched, from the command tag; 0 if none.
  int64_t affected() const;

  bool IsNull(int row, int col) const;
  // The value as an integer (bigint, int, smallint); 0 for NULL. A value that is not an
  // integer is a programming error (asserted; 0 in release builds).
  int64_t Int(int row, int col) const;
  // The value as text ("" for NULL).
  std::string Text(int row, int col) const;
  // A boolean column: true for 't'.
  bool Bool(int row, int col) const;

 private:
  friend class Connection;
  pg_result* result_ = nullptr;
};

// A connection to one database, named after the store that uses it (for messages).
class Connection {
 public:
  Connection(pg_conn* conn, std::string store);  // takes ownership; use Connect()
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with parameters $1 .. $n. Errors: PgError's (kUnavailable,
  // kAlreadyExists for a unique violation, kInternal); kInvalidArgument for a text
  // parameter holding a NUL byte (PostgreSQL text cannot hold one).
  template <typename... Args>
  [[nodiscard]] engine::Result<Rows> Exec(std::string_view sql, const Args&... args) {
    if constexpr (sizeof...(Args) == 0) {
      return ExecParams(sql, {});
    } else {
      const Param params[] = {Param(args)...};
      return ExecParams(sql, params);
    }
  }
  [[nodiscard]] engine::Result<Rows> ExecParams(std::string_view sql,
                                                std::span<const Param> params);
  // Runs SQL text without parameters, several statements allowed (a schema, a migration).
  [[nodiscard]] engine::Status ExecScript(std::string_view sql);

  // False once the connection is lost (the server went away or ended this session): every
  // later statement fails kUnavailable, and the store should connect again.
  bool ok() const;
  // The server process serving this session (pg_backend_pid()).
  int backend_pid() const;
  const std::string& store() const { return store_; }

 private:
  friend class Transaction;
  pg_conn* conn_ = nullptr;
  std::string store_;
};

// Opens a connection described by `dsn` (a libpq connection string or URI; without them
// there, connect_timeout=10 and client_encoding=UTF8 are added, and application_name=reflex).
// Server notices (NOTICE, WARNING) are dropped, not printed. Errors: kInvalidArgument for a
// malformed `dsn` (the message does not repeat it: it may hold a password); kUnavailable
// "<store>: connect: <libpq's message>" when the server cannot be reached or refuses the
// session.
[[nodiscard]] engine::Result<Connection> Connect(const std::string& dsn, std::string_view store);

// The Status for a failure on `conn`: `result` is the failed statement's (nullptr when libpq
// returned none); `what` names the statement or step. See the mapping at the top.
engine::Status PgError(const pg_conn* conn, const pg_result* result, std::string_view store,
                       std::string_view what);

// BEGIN ... COMMIT on one connection; rolled back on scope exit unless committed.
//
//   pg::Transaction tx(*conn);
//   if (auto s = tx.Begin(); !s.ok()) return s;
//   ... conn->Exec(...) ...
//   return tx.Commit();
class Transaction {
 public:
  explicit Transaction(Connection& conn) : conn_(conn) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // `begin` may set the isolation level: "BEGIN ISOLATION LEVEL SERIALIZABLE".
  [[nodiscard]] engine::Status Begin(std::string_view begin = "BEGIN");
  // Commits. A transaction in which a statement failed cannot commit: the server rolls it
  // back, and Commit returns kInternal "<store>: COMMIT: the transaction had failed and was
  // rolled back" (a serialization failure at COMMIT is kUnavailable, from PgError). When the
  // connection is lost during COMMIT (kUnavailable), whether it committed is unknown: what is
  // retried must be idempotent or checked first.
  [[nodiscard]] engine::Status Commit();
  // Rolls back now (also done on scope exit); a lost connection is not an error here.
  void Rollback();

 private:
  Connection& conn_;
  bool open_ = false;
};

}  // namespace reflex::actions::pg
