#include "pg_util.h"

#include <libpq-fe.h>

#include <cassert>
#include <charconv>
#include <utility>
#include <vector>

#include "reflex/base/strings.h"

namespace reflex::actions::pg {
namespace {

// libpq's messages span lines and indent with tabs: base::OneLine puts them on one.
using base::OneLine;

// The statement as it appears in messages.
std::string What(std::string_view sql) { return OneLine(sql, 80); }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

engine::StatusCode CodeForSqlState(std::string_view s) {
  if (s == kUniqueViolation) return engine::StatusCode::kAlreadyExists;
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014" || s == "57P01" ||
      s == "57P02" || s == "57P03" || StartsWith(s, "53") || StartsWith(s, "08")) {
    return engine::StatusCode::kUnavailable;
  }
  return engine::StatusCode::kInternal;
}

engine::Status PgError(const pg_conn* conn, const pg_result* result, std::string_view store,
                       std::string_view what) {
  std::string m(store);
  m += ": ";
  m += what;
  m += ": ";
  std::string_view sqlstate;
  if (result != nullptr) {
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state != nullptr) sqlstate = state;
    if (primary != nullptr) {
      m += OneLine(primary, 500);
    } else {
      m += OneLine(PQresultErrorMessage(result), 500);
    }
  } else if (conn != nullptr) {
    m += OneLine(PQerrorMessage(conn), 500);
  } else {
    m += "out of memory";
  }
  if (!sqlstate.empty()) {
    m += " (SQLSTATE ";
    m += sqlstate;
    m += ")";
  }
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return engine::Unavailable(std::move(m));
  return engine::Status(CodeForSqlState(sqlstate), std::move(m));
}

// ---- Rows ----

Rows::Rows(pg_result* result) : result_(result) {}
Rows::~Rows() { PQclear(result_); }
Rows::Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int Rows::size() const { return result_ != nullptr ? PQntuples(result_) : 0; }
int Rows::columns() const { return result_ != nullptr ? PQnfields(result_) : 0; }
int Rows::Column(std::string_view name) const {
  if (result_ == nullptr) return -1;
  // PQfnumber folds unquoted names to lower case, as SQL does; quote to match exactly.
  const std::string quoted = "\"" + std::string(name) + "\"";
  return PQfnumber(result_, quoted.c_str());
}
int64_t Rows::affected() const {
  if (result_ == nullptr) return 0;
  const std::string_view tuples = PQcmdTuples(result_);
  int64_t n = 0;
  std::from_chars(tuples.data(), tuples.data() + tuples.size(), n);
  return n;
}
bool Rows::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = PQgetvalue(result_, row, col);
  const int len = PQgetlength(result_, row, col);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(p, p + len, v);
  assert(ec == std::errc() && end == p + len && "Rows::Int on a value that is not an integer");
  (void)end;
  return ec == std::errc() ? v : 0;
}
std::string Rows::Text(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  return std::string(PQgetvalue(result_, row, col),
                     static_cast<size_t>(PQgetlength(result_, row, col)));
}
bool Rows::Bool(int row, int col) const {
  return !IsNull(row, col) && PQgetvalue(result_, row, col)[0] == 't';
}

// ---- Connection ----

Connection::Connection(pg_conn* conn, std::string store) : conn_(conn), store_(std::move(store)) {}
Connection::~Connection() { PQfinish(conn_); }
Connection::Connection(Connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), store_(std::move(other.store_)) {}
Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    store_ = std::move(other.store_);
  }
  return *this;
}

bool Connection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
int Connection::backend_pid() const { return conn_ != nullptr ? PQbackendPID(conn_) : 0; }

engine::Result<Rows> Connection::ExecParams(std::string_view sql, std::span<const Param> params) {
  if (conn_ == nullptr) return engine::Internal(store_ + ": " + What(sql) + ": no connection");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (!p.is_null() && p.text().find('\0') != std::string::npos) {
      return engine::InvalidArgument(store_ + ": " + What(sql) + ": parameter $" +
                                     std::to_string(i + 1) + " holds a NUL byte");
    }
    values.push_back(p.is_null() ? nullptr : p.text().c_str());
  }
  const std::string text(sql);
  Rows rows(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, /*resultFormat=*/0));
  const pg_result* r = rows.result_;
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return rows;
  return PgError(conn_, r, store_, What(sql));
}

engine::Status Connection::ExecScript(std::string_view sql) {
  if (conn_ == nullptr) return engine::Internal(store_ + ": " + What(sql) + ": no connection");
  const std::string text(sql);
  Rows rows(PQexec(conn_, text.c_str()));
  const pg_result* r = rows.result_;
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
    return engine::Status::Ok();
  }
  return PgError(conn_, r, store_, What(sql));
}

engine::Result<Connection> Connect(const std::string& dsn, std::string_view store) {
  // A malformed connection string is a configuration error, not worth retrying.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string m = std::string(store) + ": connect: invalid connection string: " +
                    OneLine(parse_error != nullptr ? parse_error : "out of memory", 500);
    PQfreemem(parse_error);
    return engine::InvalidArgument(std::move(m));
  }
  PQconninfoFree(parsed);
  // Defaults first: with expand_dbname, what the connection string sets overrides them.
  const char* const keys[] = {"connect_timeout", "client_encoding", "application_name", "dbname",
                              nullptr};
  const char* const values[] = {"10", "UTF8", "reflex", dsn.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    engine::Status s = PgError(conn, nullptr, store, "connect");  // kUnavailable
    PQfinish(conn);
    return s;
  }
  // Server notices (NOTICE, WARNING) would go to stderr: dropped.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return Connection(conn, std::string(store));
}

// ---- Transaction ----

Transaction::~Transaction() { Rollback(); }

engine::Status Transaction::Begin(std::string_view begin) {
  if (open_) return engine::Internal(conn_.store() + ": BEGIN: a transaction is already open");
  auto r = conn_.Exec(begin);
  if (!r.ok()) return r.status();
  open_ = true;
  return engine::Status::Ok();
}

engine::Status Transaction::Commit() {
  if (!open_) return engine::Internal(conn_.store() + ": COMMIT: no transaction is open");
  if (conn_.ok() && PQtransactionStatus(conn_.conn_) == PQTRANS_INERROR) {
    Rollback();
    return engine::Internal(conn_.store() +
                            ": COMMIT: the transaction had failed and was rolled back");
  }
  open_ = false;
  auto r = conn_.Exec("COMMIT");
  if (!r.ok()) return r.status();
  return engine::Status::Ok();
}

void Transaction::Rollback() {
  if (!open_) return;
  open_ = false;
  if (!conn_.ok() || PQtransactionStatus(conn_.conn_) == PQTRANS_IDLE) return;
  PQclear(PQexec(conn_.conn_, "ROLLBACK"));
}

}  // namespace reflex::actions::pg
