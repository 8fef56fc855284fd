#include "reflex/actions/audit.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "migrate.h"
#include "reflex/base/time.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;

constexpr const char* kStore = "audit log";
// The component of schema_migrations whose versions are this store's.
constexpr std::string_view kComponent = "audit_log";

// Version 1 is the schema the log had before versioning, written with IF NOT EXISTS so that it
// applies over a SQLite file of that time and keeps its rows.
constexpr std::string_view kSqliteV1 = R"sql(
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
)sql";

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE audit_log (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
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
CREATE INDEX audit_log_at ON audit_log (at);
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "audit_log table and its index on at", kSqliteV1, kPostgresV1},
};

nlohmann::json Embedded(const std::string& text) {
  if (text.empty()) return nullptr;
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

}  // namespace

std::string AuditEntryJson(const AuditEntry& e) {
  nlohmann::json j;
  j["id"] = e.id;
  j["at"] = base::FormatRfc3339Millis(e.at_ms);
  j["actor"] = e.actor;
  j["role"] = e.role;
  j["via"] = e.via;
  j["action"] = e.action;
  j["target"] = e.target;
  j["outcome"] = e.outcome;
  j["detail"] = e.detail;
  j["before"] = Embedded(e.before);
  j["after"] = Embedded(e.after);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AuditLog::AuditLog(std::unique_ptr<sql::Database> db) : db_(std::move(db)) {}

AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::Init(std::unique_ptr<sql::Database> db) {
  if (auto v = sql::Migrate(*db, kComponent, kMigrations); !v.ok()) return v.status();
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db)));
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, AuditLogOptions options) {
  return Open(base::StoreConfig{}, path, options);
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const base::StoreConfig& store,
                                                 const std::string& sqlite_path,
                                                 AuditLogOptions options) {
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  if (!db.ok()) return db.status();
  return Init(std::move(*db));
}

Result<int64_t> AuditLog::Record(const AuditEntry& e) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "INSERT INTO audit_log (at, actor, role, via, action, target, outcome, detail, before, "
      "after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
      e.at_ms, e.actor, e.role, e.via, e.action, e.target, e.outcome, e.detail, e.before, e.after);
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::vector<AuditEntry>> AuditLog::List(const AuditFilter& f) const {
  // Only the conditions given, each with the next parameter number.
  std::string where = "at >= $1";
  std::vector<sql::Param> params{f.since_ms};
  auto next = [&params](sql::Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  };
  if (f.actor) where += " AND actor = " + next(*f.actor);
  if (f.action) {
    // An action filter ending in '.' is a prefix: "escalation." is every escalation change.
    if (!f.action->empty() && f.action->back() == '.') {
      const std::string prefix = next(*f.action);
      where += " AND substr(action, 1, length(CAST(" + prefix + " AS TEXT))) = " + prefix;
    } else {
      where += " AND action = " + next(*f.action);
    }
  }
  if (f.target) where += " AND target = " + next(*f.target);
  if (f.before_id > 0) where += " AND id < " + next(f.before_id);
  const std::string limit = next(static_cast<int64_t>(std::min<size_t>(f.limit, INT64_MAX)));
  const std::string query =
      "SELECT id, at, actor, role, via, action, target, outcome, detail, before, after "
      "FROM audit_log WHERE " +
      where + " ORDER BY id DESC LIMIT " + limit;
  base::MutexLock lock(mu_);
  auto r = db_->ExecParams(query, params);
  if (!r.ok()) return r.status();
  std::vector<AuditEntry> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    AuditEntry e;
    e.id = r->Int(i, 0);
    e.at_ms = r->Int(i, 1);
    e.actor = r->Text(i, 2);
    e.role = r->Text(i, 3);
    e.via = r->Text(i, 4);
    e.action = r->Text(i, 5);
    e.target = r->Text(i, 6);
    e.outcome = r->Text(i, 7);
    e.detail = r->Text(i, 8);
    e.before = r->Text(i, 9);
    e.after = r->Text(i, 10);
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> AuditLog::Prune(int64_t max_age_ms, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec("DELETE FROM audit_log WHERE at < $1", now_ms - max_age_ms);
  if (!r.ok()) return r.status();
  return r->affected();
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int AuditLogVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
