// AuditLog: who changed what, and when, through the REST API, the console or the CLI.
//
// Every mutation a person makes (acknowledging or resolving an escalation, approving or
// rejecting an action run, adding or expiring a silence, changing or rolling back rules) is
// one entry: the time, the actor (a token's name or the CLI's --by), the role it acted
// with, how it came (`api`, `cli`), the action (`escalation.ack`, ...), the target
// (`escalation/12`), the outcome (`ok`, or `denied` when the role did not allow it, or
// `refused` with the reason when the change was not possible) and the target's state before
// and after as JSON ("" when there is none). Entries are never changed; Prune deletes those
// older than a retention age.
//
// Storage: table `audit_log`, on its own connection, either in a SQLite file (WAL, busy
// timeout; usually the state database shared with the journal and the escalations) or in a
// PostgreSQL database shared by the replicas (base::StoreConfig). Several processes may write
// to it. Its schema is versioned (component `audit_log` in schema_migrations): Open applies
// the versions the database lacks, and an existing SQLite file from before versioning opens
// with its rows.
//
// Errors: kUnavailable (the database cannot be opened or reached, is busy or failing),
// kFailedPrecondition from Open when the database's schema is newer than this binary
// ("... upgrade reflex"), kInvalidArgument for a malformed PostgreSQL connection string or,
// on PostgreSQL, text holding a NUL byte, kInternal (anything else the database says),
// kNotFound from Open when create_if_missing is false and the SQLite file is missing.
// Thread-safety: every method may be called from any thread (one connection, one mutex).
//
//   auto audit = AuditLog::Open(".reflex/reflex.db", {});  // or Open(store_config, path, {})
//   (*audit)->Record({.at_ms = now, .actor = "alice", .role = "operator", .via = "api",
//                     .action = "escalation.ack", .target = "escalation/12",
//                     .outcome = "ok", .before = before_json, .after = after_json});
//   auto page = (*audit)->List({.limit = 50});
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

struct AuditEntry {
  int64_t id = 0;  // assigned by Record; increasing
  int64_t at_ms = 0;
  std::string actor{};
  std::string role{};     // viewer, operator, admin ("" for the CLI, which has no roles)
  std::string via{};      // api, cli
  std::string action{};   // escalation.ack, approval.approve, silence.add, rules.rollback, ...
  std::string target{};   // escalation/12, run/7, silence/<id>, rules/<version>
  std::string outcome{};  // ok, denied, refused
  std::string detail{};   // the note, the reason, or why it was refused
  std::string before{};   // JSON of the target before ("" when none)
  std::string after{};    // JSON of the target after ("" when none or unchanged)
};

struct AuditFilter {
  std::optional<std::string> actor{};
  std::optional<std::string> action{};  // exact, or a prefix ending in '.' ("escalation.")
  std::optional<std::string> target{};
  int64_t since_ms = 0;   // entries at or after (0: any)
  int64_t before_id = 0;  // paging: entries with a smaller id (0: from the newest)
  size_t limit = 100;     // newest first
};

// How the SQLite file is opened (PostgreSQL ignores these).
struct AuditLogOptions {
  int busy_timeout_ms = 5000;
  bool create_if_missing = true;
  base::Durability durability = base::Durability::kNormal;
};

// The entry as a JSON object (times as RFC 3339; before/after embedded as JSON when they
// parse).
std::string AuditEntryJson(const AuditEntry& entry);

class AuditLog {
 public:
  // The log in the SQLite file at `path`.
  static engine::Result<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                        AuditLogOptions options);
  // The log where `store` says: the SQLite file at `sqlite_path` (kind sqlite), or the
  // PostgreSQL database at store.dsn (kind postgresql; sqlite_path and options unused).
  static engine::Result<std::unique_ptr<AuditLog>> Open(const base::StoreConfig& store,
                                                        const std::string& sqlite_path,
                                                        AuditLogOptions options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `entry` (its id is ignored); returns the id it got.
  engine::Result<int64_t> Record(const AuditEntry& entry);
  engine::Result<std::vector<AuditEntry>> List(const AuditFilter& filter) const;
  // Deletes entries older than now - max_age_ms; returns how many.
  engine::Result<int64_t> Prune(int64_t max_age_ms, int64_t now_ms);

 private:
  explicit AuditLog(std::unique_ptr<sql::Database> db);
  static engine::Result<std::unique_ptr<AuditLog>> Init(std::unique_ptr<sql::Database> db);
  mutable base::Mutex mu_;
  const std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
};

}  // namespace reflex::actions
