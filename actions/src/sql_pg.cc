// The PostgreSQL side of sql.h, over pg_util.h.
#include <optional>

#include "pg_util.h"
#include "sql.h"

namespace reflex::actions::sql {
namespace {

class PgDatabase final : public Database {
 public:
  PgDatabase(pg::Connection conn, std::string dsn, std::string store)
      : Database(std::move(store)), conn_(std::move(conn)), dsn_(std::move(dsn)) {}

  Dialect dialect() const override { return Dialect::kPostgresql; }

  engine::Result<Rows> ExecParams(std::string_view sql, std::span<const Param> params) override {
    if (engine::Status s = Reconnect(); !s.ok()) return s;
    auto r = conn_.ExecParams(sql, params);
    if (!r.ok()) return r.status();
    Rows rows;
    const int columns = r->columns();
    for (int i = 0; i < r->size(); ++i) {
      std::vector<Rows::Value> row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        if (r->IsNull(i, c)) {
          row.emplace_back(std::monostate{});
        } else {
          row.emplace_back(r->Text(i, c));
        }
      }
      rows.AddRow(std::move(row));
    }
    rows.set_affected(r->affected());
    return rows;
  }

  engine::Status ExecScript(std::string_view sql) override {
    if (engine::Status s = Reconnect(); !s.ok()) return s;
    return conn_.ExecScript(sql);
  }

  engine::Status Begin() override {
    if (tx_) return engine::Internal(store() + ": BEGIN: a transaction is already open");
    if (engine::Status s = Reconnect(); !s.ok()) return s;
    tx_.emplace(conn_);
    engine::Status s = tx_->Begin();
    if (!s.ok()) tx_.reset();
    return s;
  }

  engine::Status Commit() override {
    if (!tx_) return engine::Internal(store() + ": COMMIT: no transaction is open");
    engine::Status s = tx_->Commit();
    tx_.reset();  // rolls back what did not commit
    return s;
  }

  void Rollback() override { tx_.reset(); }

 private:
  // A connection lost outside a transaction is opened again (inside one, the transaction is
  // gone with it: its statements fail kUnavailable until it ends).
  engine::Status Reconnect() {
    if (conn_.ok() || tx_) return engine::Status::Ok();
    auto c = pg::Connect(dsn_, store());
    if (!c.ok()) return c.status();
    conn_ = std::move(*c);
    return engine::Status::Ok();
  }

  pg::Connection conn_;
  std::string dsn_;
  std::optional<pg::Transaction> tx_;  // refers to conn_; reset before conn_ is replaced
};

}  // namespace

engine::Result<std::unique_ptr<Database>> OpenPostgres(const std::string& dsn,
                                                       std::string_view store) {
  auto conn = pg::Connect(dsn, store);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<Database>(new PgDatabase(std::move(*conn), dsn, std::string(store)));
}

}  // namespace reflex::actions::sql
