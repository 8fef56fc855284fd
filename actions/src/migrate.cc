#include "migrate.h"

#include <chrono>
#include <string>

namespace reflex::actions::sql {
namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))";

engine::Result<int> MaxVersion(Database& db, std::string_view component) {
  auto r = db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
                   component);
  if (!r.ok()) return r.status();
  return r->empty() ? 0 : static_cast<int>(r->Int(0, 0));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

engine::Result<int> Migrate(Database& db, std::string_view component,
                            std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i + 1)) {
      return engine::Internal(db.store() + ": migration " + std::to_string(i + 1) + " of " +
                              std::string(component) + " has version " +
                              std::to_string(migrations[i].version));
    }
  }
  const int known = static_cast<int>(migrations.size());
  Transaction tx(db);
  if (engine::Status s = tx.Begin(); !s.ok()) return s;
  if (db.dialect() == Dialect::kPostgresql) {
    auto lock = db.Exec("SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))", kMigrationLockKey);
    if (!lock.ok()) return lock.status();
  }
  if (engine::Status s = db.ExecScript(kCreateTable); !s.ok()) return s;
  auto current = MaxVersion(db, component);
  if (!current.ok()) return current.status();
  if (*current > known) {
    return engine::FailedPrecondition(
        db.store() + ": database schema version " + std::to_string(*current) +
        " is newer than this reflex (knows up to " + std::to_string(known) + "): upgrade reflex");
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    const std::string_view script = db.dialect() == Dialect::kPostgresql ? m.postgresql : m.sqlite;
    if (engine::Status s = db.ExecScript(script); !s.ok()) {
      return engine::Status(s.code(), s.message() + " (migration " + std::to_string(m.version) +
                                          " of " + std::string(component) + ": " +
                                          std::string(m.description) + ")");
    }
    auto rec = db.Exec(
        "INSERT INTO schema_migrations (component, version, description, applied_at) "
        "VALUES ($1, $2, $3, $4)",
        component, m.version, m.description, NowMs());
    if (!rec.ok()) return rec.status();
  }
  if (engine::Status s = tx.Commit(); !s.ok()) return s;
  return known;
}

engine::Result<int> AppliedVersion(Database& db, std::string_view component) {
  const char* exists = db.dialect() == Dialect::kPostgresql
                           ? "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                             "current_schema() AND table_name = 'schema_migrations'"
                           : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = "
                             "'schema_migrations'";
  auto r = db.Exec(exists);
  if (!r.ok()) return r.status();
  if (r->Int(0, 0) == 0) return 0;
  return MaxVersion(db, component);
}

}  // namespace reflex::actions::sql
