// SilenceStore: the durable list of silences (engine/silence.h), in the state database.
//
// `reflex silences add|expire`, the HTTP API (POST /api/v2/silences, DELETE
// /api/v2/silence/{id}) and `reflex run` share it: the run mode reads it again whenever
// version() moves (each write bumps it in the same transaction), so a silence added by
// another process takes effect at its next poll.
//
// Semantics follow Alertmanager's: Add validates the silence (engine::ValidateNewSilence)
// and gives it a new id (a random UUID); given the id of an existing silence, Add replaces
// it: the old one is expired and the new one gets a new id (Alertmanager does the same when
// a silence's matchers or start change). Expire sets endsAt to now (and startsAt too for a
// pending silence, so it never starts); expiring an expired silence is an error. Expired
// silences are kept (listed as expired) until Prune deletes those that ended long enough ago.
//
// Storage: tables `silences` and `silence_meta` (the version), on the store's own connection,
// either in a SQLite file (WAL, busy_timeout; usually the state database shared with the
// journal and the escalations) or in a PostgreSQL database shared by the replicas
// (base::StoreConfig). Its schema is versioned (component `silences` in schema_migrations):
// Open applies the versions the database lacks, and a SQLite file from before versioning opens
// with its silences. Several processes or replicas may write at once: each write (the expiry an
// Add replaces with, the insert, the version bump) is one transaction, and the expiry is a
// conditional update, so concurrent writers never lose a version bump nor expire a silence
// twice.
//
// Errors: kInvalidArgument (a silence that does not validate, with the reason; a malformed
// PostgreSQL connection string); kNotFound (no silence with that id; from Open, a missing SQLite
// file with create_if_missing false); kFailedPrecondition (expiring an expired silence; from
// Open, a database schema newer than this binary, "... upgrade reflex"); kUnavailable (the
// database cannot be opened or reached, is busy or failing), kInternal (anything else the
// database says).
// Thread-safety: every method may be called from any thread (one connection, one mutex);
// several processes may open the same database.
//
//   auto store = SilenceStore::Open(".reflex/reflex.db", {});  // or Open(store_config, path, {})
//   Result<std::string> id = (*store)->Add(silence);
//   Status s = (*store)->Expire(*id);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/silence.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

// How the store opens (busy_timeout_ms, create_if_missing and durability are for the SQLite
// file; PostgreSQL ignores them).
struct SilenceStoreOptions {
  // How long a write waits for another connection's lock. Default: 5 s.
  int busy_timeout_ms = 5000;
  // Create the file (and its table) when missing. Default: true. When false, a missing file
  // is kNotFound ("no state database at <path>").
  bool create_if_missing = true;
  // synchronous=NORMAL (kNormal) or FULL (kFsync). Default: normal.
  base::Durability durability = base::Durability::kNormal;
  // Time of Add (updatedAt, "end in the past") and Expire. Default (null): the system clock.
  // When set, it must outlive the store.
  const engine::Clock* clock = nullptr;
};

class SilenceStore {
 public:
  // The store in the SQLite file at `path`.
  static engine::Result<std::unique_ptr<SilenceStore>> Open(const std::string& path,
                                                            SilenceStoreOptions options);
  // The store where `store` says: the SQLite file at `sqlite_path` (kind sqlite), or the
  // PostgreSQL database at store.dsn (kind postgresql; sqlite_path unused).
  static engine::Result<std::unique_ptr<SilenceStore>> Open(const base::StoreConfig& store,
                                                            const std::string& sqlite_path,
                                                            SilenceStoreOptions options);
  ~SilenceStore();
  SilenceStore(const SilenceStore&) = delete;
  SilenceStore& operator=(const SilenceStore&) = delete;

  // Stores a new silence (see the file comment); returns its id.
  engine::Result<std::string> Add(engine::Silence silence);
  engine::Result<engine::Silence> Get(const std::string& id);
  // Every stored silence, the latest start first.
  engine::Result<std::vector<engine::Silence>> List();
  engine::Status Expire(const std::string& id);
  // Deletes silences that ended more than `max_age_ms` ago; returns how many.
  engine::Result<int64_t> Prune(int64_t max_age_ms);
  // A number that moves with every write of any process to the silences.
  engine::Result<int64_t> Version();

 private:
  SilenceStore(std::unique_ptr<sql::Database> db, SilenceStoreOptions options);
  int64_t Now() const;
  // Within a write transaction: ends `id` at `now` (FailedPrecondition when it has ended).
  engine::Status ExpireLocked(const std::string& id, int64_t now) REQUIRES(mu_);
  engine::Status BumpLocked() REQUIRES(mu_);

  base::Mutex mu_;
  const std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
  const SilenceStoreOptions options_;
  engine::SystemClock system_clock_;
};

}  // namespace reflex::actions
