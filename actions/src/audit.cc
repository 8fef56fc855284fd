#include "reflex/actions/audit.h"

#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "reflex/base/time.h"
#include "sqlite_util.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using sqlite::Stmt;

constexpr const char* kSchema = R"sql(
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

constexpr const char* kStore = "audit log";

Status SqlError(sqlite3* db, std::string_view what) { return sqlite::SqlError(db, kStore, what); }

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

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, AuditLogOptions options) {
  auto db = sqlite::OpenDatabase(path, kStore, options.create_if_missing, options.busy_timeout_ms,
                                 options.durability, kSchema);
  if (!db.ok()) return db.status();
  return std::unique_ptr<AuditLog>(new AuditLog(*db));
}

AuditLog::~AuditLog() {
  base::MutexLock lock(mu_);
  sqlite3_close(db_);
}

Result<int64_t> AuditLog::Record(const AuditEntry& e) {
  base::MutexLock lock(mu_);
  Stmt s(db_,
         "INSERT INTO audit_log (at, actor, role, via, action, target, outcome, detail, before, "
         "after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  s.Bind(1, e.at_ms)
      .Bind(2, e.actor)
      .Bind(3, e.role)
      .Bind(4, e.via)
      .Bind(5, e.action)
      .Bind(6, e.target)
      .Bind(7, e.outcome)
      .Bind(8, e.detail)
      .Bind(9, e.before)
      .Bind(10, e.after);
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "record");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::vector<AuditEntry>> AuditLog::List(const AuditFilter& f) const {
  // An action filter ending in '.' is a prefix: "escalation." is every escalation change.
  const bool prefix = f.action && !f.action->empty() && f.action->back() == '.';
  base::MutexLock lock(mu_);
  Stmt s(db_,
         "SELECT id, at, actor, role, via, action, target, outcome, detail, before, after "
         "FROM audit_log WHERE (?1 IS NULL OR actor = ?1) AND "
         "(?2 IS NULL OR (?3 = 0 AND action = ?2) OR (?3 = 1 AND substr(action, 1, "
         "length(?2)) = ?2)) AND (?4 IS NULL OR target = ?4) AND at >= ?5 AND "
         "(?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?7");
  if (f.actor) {
    s.Bind(1, *f.actor);
  } else {
    s.BindNull(1);
  }
  if (f.action) {
    s.Bind(2, *f.action);
  } else {
    s.BindNull(2);
  }
  s.Bind(3, int64_t{prefix ? 1 : 0});
  if (f.target) {
    s.Bind(4, *f.target);
  } else {
    s.BindNull(4);
  }
  s.Bind(5, f.since_ms).Bind(6, f.before_id);
  s.Bind(7, static_cast<int64_t>(std::min<size_t>(f.limit, INT64_MAX)));
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    AuditEntry e;
    e.id = s.Int(0);
    e.at_ms = s.Int(1);
    e.actor = s.Text(2);
    e.role = s.Text(3);
    e.via = s.Text(4);
    e.action = s.Text(5);
    e.target = s.Text(6);
    e.outcome = s.Text(7);
    e.detail = s.Text(8);
    e.before = s.Text(9);
    e.after = s.Text(10);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list");
  return out;
}

Result<int64_t> AuditLog::Prune(int64_t max_age_ms, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt s(db_, "DELETE FROM audit_log WHERE at < ?1");
  s.Bind(1, now_ms - max_age_ms);
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "prune");
  return static_cast<int64_t>(sqlite3_changes(db_));
}

}  // namespace reflex::actions
