// Versioned schema migrations for the stores on sql.h (internal to reflex::actions).
//
// Each store declares its schema once as a list of migrations, version 1, 2, ... in order,
// each with its SQL per dialect, and calls Migrate when it opens. The database records what
// it applied in one table shared by the stores,
//
//   schema_migrations (component, version, description, applied_at)  -- applied_at: Unix ms
//
// keyed by (component, version), so each store's versions count on their own and a store
// ported later adds its own list without touching the others'. Migrate, in one transaction:
// on PostgreSQL takes pg_advisory_xact_lock(kMigrationLockKey) first, so replicas starting
// at once apply a migration once (the others wait, then find nothing to do; on SQLite BEGIN
// IMMEDIATE does the same); creates schema_migrations if missing; reads the component's
// highest applied version; refuses a database newer than the list; applies the pending
// migrations in order, recording each. Any failure rolls the whole step back.
//
// Rules for a migration list: never edit or remove a released migration, only append. The
// state files written before migrations existed hold version 1's tables without a
// schema_migrations row: version 1 of a store that existed then is its schema as it was,
// written with IF NOT EXISTS, so it applies over such a file and keeps its rows.
//
// Thread-safety: as the Database (the caller's mutex). Errors: the Database's (sql.h);
// kFailedPrecondition "<store>: database schema version N is newer than this reflex (knows up
// to M): upgrade reflex"; kInternal for a list whose versions are not 1, 2, 3, ...
//
//   constexpr sql::Migration kMigrations[] = {
//       {1, "audit_log table", kSqliteV1, kPostgresV1},
//   };
//   if (auto v = sql::Migrate(*db, "audit_log", kMigrations); !v.ok()) return v.status();
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "sql.h"

namespace reflex::actions::sql {

struct Migration {
  int version = 0;               // 1, 2, 3, ... in list order
  std::string_view description;  // one line, stored with the version
  std::string_view sqlite;       // the SQL script on SQLite (several statements allowed)
  std::string_view postgresql;   // the SQL script on PostgreSQL
};

// The key of the transaction-scoped advisory lock that serializes migrators on PostgreSQL.
inline constexpr int64_t kMigrationLockKey = 0x7265666c6578;  // "reflex"

// Applies the pending migrations of `component` (see the file comment); returns the version
// the database is at afterwards (the list's last).
[[nodiscard]] engine::Result<int> Migrate(Database& db, std::string_view component,
                                          std::span<const Migration> migrations);

// The highest version of `component` applied to the database; 0 when none (or no
// schema_migrations table yet). Reads only.
[[nodiscard]] engine::Result<int> AppliedVersion(Database& db, std::string_view component);

}  // namespace reflex::actions::sql

namespace reflex::actions::schema {

// The newest version each store's list holds, defined beside the list (store_schema.h reports
// them): audit.cc, escalations.cc, journal.cc, notice_outbox.cc, rule_set_store.cc,
// silence_store.cc.
int AuditLogVersion();
int EscalationsVersion();
int JournalVersion();
int NoticeOutboxVersion();
int RuleHistoryVersion();
int SilencesVersion();

}  // namespace reflex::actions::schema
