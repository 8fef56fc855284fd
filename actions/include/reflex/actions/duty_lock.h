// DutyLock: work that must run on one replica at a time (the retention passes over a shared
// store), chosen through the database, so that it moves when that replica dies.
//
// On PostgreSQL a DutyLock holds its own connection and, on it, a session-level advisory lock
// keyed by the duty's name (FNV-1a of "reflex-duty:<name>", the same in every build). Held()
// tries to take the lock (pg_try_advisory_lock) each time it is called: true while this
// session holds it. When the replica dies or its connection is lost, the server releases the
// lock with the session, and the next replica to ask takes the duty. On a SQLite file the
// one process that writes it holds every duty: Held() is always true.
//
// Errors: Open fails as the stores' Open do (kUnavailable for a database that cannot be
// reached, kInvalidArgument for a malformed connection string); Held() answers false while
// the database cannot be reached (the duty waits; the next call tries again).
// Thread-safety: every method may be called from any thread (one connection, one mutex).
//
//   auto duty = DutyLock::Open(store, "retention");
//   if ((*duty)->Held()) task.RunOnce();
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

class DutyLock {
 public:
  static engine::Result<std::unique_ptr<DutyLock>> Open(const base::StoreConfig& store,
                                                        std::string duty);
  ~DutyLock();
  DutyLock(const DutyLock&) = delete;
  DutyLock& operator=(const DutyLock&) = delete;

  // True when this replica holds the duty now (see the file comment).
  bool Held();
  const std::string& duty() const { return duty_; }
  // The advisory lock's key (for tests and for looking it up in pg_locks).
  int64_t key() const { return key_; }

 private:
  DutyLock(std::unique_ptr<sql::Database> db, std::string duty);

  base::Mutex mu_;
  std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);  // null on SQLite
  const std::string duty_;
  const int64_t key_;
};

}  // namespace reflex::actions
