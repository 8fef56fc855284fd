// The schema versions of the durable stores, for `reflex store migrate` and `reflex store
// status`: which version each store's tables are at in a database (schema_migrations,
// migrate.h), and bringing them all to this binary's versions before a rollout, so that
// replicas starting later find nothing to apply.
//
// The stores, by component: audit_log, escalations, journal, notice_outbox, rule_history
// (PostgreSQL only: on SQLite the rule-set history is files in the state directory, and the
// component is neither migrated nor reported), silences.
// MigrateStores opens each one on the database `store` names (PostgreSQL, or the SQLite file
// at `sqlite_path`, created when missing), which applies what it lacks, in one transaction per
// store; the first failure stops it (what was applied before stays: each store's step is whole).
//
// Errors: the stores' (kUnavailable, kFailedPrecondition for a database newer than this
// binary, kInvalidArgument for a malformed connection string, kInternal). StoreVersions on a
// SQLite file that does not exist: kNotFound. Thread-safety: no shared state.
//
//   auto v = actions::MigrateStores(store, "/var/lib/reflex/reflex.db", durability);
//   for (const auto& c : *v) std::cout << c.component << " " << c.before << " -> " << c.after;
#pragma once

#include <string>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

struct StoreSchemaVersion {
  std::string component;  // audit_log, escalations, journal, notice_outbox, rule_history,
                          // silences
  int before = 0;         // the version the database had (0: none of its tables)
  int after = 0;          // the version it has now (MigrateStores), or = before (StoreVersions)
  int known = 0;          // the newest version this binary knows
};

// Applies every store's pending migrations; one entry per store, in component order.
[[nodiscard]] engine::Result<std::vector<StoreSchemaVersion>> MigrateStores(
    const base::StoreConfig& store, const std::string& sqlite_path, base::Durability durability);

// Reads the versions only (nothing is created or changed).
[[nodiscard]] engine::Result<std::vector<StoreSchemaVersion>> StoreVersions(
    const base::StoreConfig& store, const std::string& sqlite_path);

}  // namespace reflex::actions
