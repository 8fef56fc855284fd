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
// Storage: tables `silences` and `silence_meta` in a SQLite file (WAL, busy_timeout), on its
// own connection, usually the state database shared with the journal and the escalations.
//
// Errors: kInvalidArgument (a silence that does not validate, with the reason); kNotFound (no
// silence with that id); kFailedPrecondition (expiring an expired silence); kUnavailable
// (the database cannot be opened, is busy or failing), kInternal (anything else SQLite says).
// Thread-safety: every method may be called from any thread (one connection, one mutex);
// several processes may open the same file.
//
//   auto store = SilenceStore::Open(".reflex/reflex.db", {});
//   Result<std::string> id = (*store)->Add(silence);
//   Status s = (*store)->Expire(*id);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/silence.h"
#include "reflex/engine/status.h"

struct sqlite3;

namespace reflex::actions {

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
  static engine::Result<std::unique_ptr<SilenceStore>> Open(const std::string& path,
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
  SilenceStore(sqlite3* db, SilenceStoreOptions options);
  int64_t Now() const;
  // Within a write transaction: ends `id` at `now` (FailedPrecondition when it has ended).
  engine::Status ExpireLocked(const std::string& id, int64_t now) REQUIRES(mu_);
  engine::Status BumpLocked() REQUIRES(mu_);

  base::Mutex mu_;
  sqlite3* db_;
  const SilenceStoreOptions options_;
  engine::SystemClock system_clock_;
};

}  // namespace reflex::actions
