// RuleSetStore: the rule-set history (every rule set that went live, its files and its
// activations) in the store's database, so that replicas sharing a PostgreSQL store share one
// history (the app wires it under connectors::RuleHistory; on the SQLite store the history
// stays in the state directory's files, connectors/rule_history.h).
//
// Semantics: PutVersion stores a version's record and every file's bytes in one
// transaction; a version already stored (by this process, or by another replica, even at the
// same moment: the primary key refuses the second insert) is success and keeps the first
// copy. AppendActivation adds one activation; Activations lists them oldest first (by
// insertion). Prune deletes whole versions (record, files, activations) and keeps the newest
// activations only. Which versions to keep is the caller's decision (RuleHistory).
//
// Storage: tables `rule_history_versions` (one row per version), `rule_history_files`
// (version, path, size, content) and `rule_history_activations`, versioned as component
// `rule_history` in schema_migrations (Open applies what the database lacks and refuses a
// database newer than this binary). A file's bytes may be anything (a workbook is binary)
// while a PostgreSQL text value holds neither NUL nor invalid UTF-8: `content` holds them
// base64-encoded; Files decodes them (kInternal for content that does not decode).
//
// Errors: kInvalidArgument (a malformed PostgreSQL connection string); kNotFound (Files of an
// unknown version; from Open, a missing SQLite file with create_if_missing false);
// kFailedPrecondition (from Open, a database schema newer than this binary, "... upgrade
// reflex"); kUnavailable (the database cannot be opened or reached, is busy or failing);
// kInternal (anything else the database says).
// Thread-safety: every method may be called from any thread (one connection, one mutex);
// several processes or replicas may open the same database.
//
//   auto store = RuleSetStore::Open(store_config, ".reflex/reflex.db", {});
//   Status s = (*store)->PutVersion(version, {{"tables/disk.csv", bytes}});
//   s = (*store)->AppendActivation({.version = "v-0123456789abcdef", .at_ms = now});
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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

struct RuleSetFileInfo {
  std::string path = {};  // relative to the rules directory
  int64_t size = 0;       // bytes
};

// A stored version without its file bytes.
struct RuleSetVersion {
  std::string version = {};  // "v-" + 16 hex digits
  int64_t first_activated_at_ms = 0;
  std::string trigger = {};    // of its first activation
  std::string previous = {};   // the version live before it ("" for none)
  std::string rules_dir = {};  // where it was loaded from
  int64_t tables = 0;
  int64_t rows = 0;
  std::string replica = {};                 // who stored it
  std::vector<RuleSetFileInfo> files = {};  // by path (PutVersion fills them from its files)
};

struct RuleSetActivation {
  std::string version = {};
  int64_t at_ms = 0;
  std::string trigger = {};
  std::string previous = {};
  std::string replica = {};  // who activated it
};

// How the store opens (busy_timeout_ms, create_if_missing and durability are for the SQLite
// file; PostgreSQL ignores them).
struct RuleSetStoreOptions {
  // How long a write waits for another connection's lock. Default: 5 s.
  int busy_timeout_ms = 5000;
  // Create the file (and the tables) when missing. Default: true. When false, a missing file
  // is kNotFound ("no state database at <path>").
  bool create_if_missing = true;
  // synchronous=NORMAL (kNormal) or FULL (kFsync). Default: normal.
  base::Durability durability = base::Durability::kNormal;
};

class RuleSetStore {
 public:
  // The store where `store` says: the SQLite file at `sqlite_path` (kind sqlite), or the
  // PostgreSQL database at store.dsn (kind postgresql; sqlite_path unused).
  static engine::Result<std::unique_ptr<RuleSetStore>> Open(const base::StoreConfig& store,
                                                            const std::string& sqlite_path,
                                                            RuleSetStoreOptions options);
  ~RuleSetStore();
  RuleSetStore(const RuleSetStore&) = delete;
  RuleSetStore& operator=(const RuleSetStore&) = delete;

  engine::Result<bool> HasVersion(const std::string& version);
  // Stores `version` (its `files` list is ignored: the sizes come from `files`) and the
  // files, path -> bytes, in one transaction; an already stored version is success.
  engine::Status PutVersion(const RuleSetVersion& version,
                            const std::map<std::string, std::string>& files);
  engine::Status AppendActivation(const RuleSetActivation& activation);
  // Every activation, oldest first.
  engine::Result<std::vector<RuleSetActivation>> Activations();
  // Every stored version with its file list (no bytes), by version.
  engine::Result<std::vector<RuleSetVersion>> Versions();
  // A stored version's files, path -> bytes. kNotFound for an unknown version.
  engine::Result<std::map<std::string, std::string>> Files(const std::string& version);
  // Deletes `versions` (records, files, activations), then all but the newest
  // `max_activations` activations, in one transaction.
  engine::Status Prune(const std::vector<std::string>& versions, int64_t max_activations);

 private:
  explicit RuleSetStore(std::unique_ptr<sql::Database> db);

  base::Mutex mu_;
  const std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
};

}  // namespace reflex::actions
