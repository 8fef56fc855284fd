// NoticeOutbox: the durable queue of notices, so a notice that was due when the process died
// is sent after the restart instead of being lost.
//
// The Notifier (notifier.h, NotifierOptions.outbox) adds each notice for each target here
// before queueing it in memory, marks it delivered (2xx) or failed (retries exhausted, or a
// final HTTP status) when its worker is done, and on creation queues again every notice
// still pending for its targets (by target name: the URL and secrets come from the current
// configuration, never from the file). Delivery is at least once: a crash between the
// target's answer and MarkDelivered sends it again, so webhook requests carry
// `Idempotency-Key: reflex-notice-<id>` and PagerDuty events their dedup_key.
//
// Claims (several replicas on one database): a pending notice is sent by one replica at a
// time. Each outbox has an owner, a name unique per replica and stable across its restarts
// (NoticeOutboxOptions.owner), and a lease length. Add stores a notice already claimed by its
// owner (claimed_by = owner, lease_until = now + lease). Claim takes, in one statement, the
// target's pending notices whose claim is absent, whose lease has expired (lease_until <= now:
// their replica died or stalled) or (include_own) that are this owner's own from before a
// restart; on PostgreSQL the claiming statement locks its rows with FOR UPDATE SKIP LOCKED, so
// two replicas claiming at once never take the same notice; on SQLite BEGIN IMMEDIATE
// serializes them. Renew extends the lease of a notice this owner still holds and says whether
// it does (the Notifier renews before each attempt and skips a notice another replica took
// over); MarkDelivered and MarkFailed change a notice only while this owner holds its claim
// (else kFailedPrecondition: another replica took it over); Release gives a claim up (the
// Notifier releases what is still queued at Stop, so another replica may send it at once).
// A claim whose lease expired stays this owner's until another replica claims it.
//
// Storage: table `notice_outbox`, on its own connection, either in a SQLite file (WAL,
// busy_timeout; usually the state database shared with the journal and the escalation store)
// or in a PostgreSQL database shared by the replicas (base::StoreConfig). Its schema is
// versioned (component `notice_outbox` in schema_migrations; version 2 adds the claim columns
// claimed_by and lease_until): Open applies the versions the database lacks, and a SQLite file
// from before versioning opens with its notices (unclaimed). The notice is kept as JSON (its
// event as the original bytes when the pipeline kept them, else as its fields with an RFC 3339
// timestamp, read back with the same time).
//
// Errors: kUnavailable (the database cannot be opened or reached, is busy or failing);
// kFailedPrecondition from Open when the database's schema is newer than this binary ("...
// upgrade reflex"), and from MarkDelivered / MarkFailed when this owner does not hold the
// claim; kInvalidArgument for a malformed PostgreSQL connection string; kNotFound from Open for
// a missing SQLite file with create_if_missing false; kInternal (anything else the database
// says).
// Thread-safety: every method may be called from any thread (one connection, one mutex).
//
//   auto outbox = NoticeOutbox::Open(".reflex/reflex.db");
//   // or NoticeOutbox::Open(store_config, path, {.owner = "reflex-0"})
//   auto notifier = Notifier::Create(targets, {.outbox = outbox->get()});
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/actions/journal.h"
#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

struct Notice;

// Notice <-> JSON text (the outbox's format). NoticeFromJson: kInvalidArgument for text that
// is not a notice.
std::string NoticeToJson(const Notice& notice);
engine::Result<Notice> NoticeFromJson(std::string_view text);

struct OutboxEntry {
  int64_t id = 0;
  std::string target;
  std::string notice_json;
};

// How the outbox opens and claims (busy_timeout_ms, create_if_missing and durability are for
// the SQLite file; PostgreSQL ignores them).
struct NoticeOutboxOptions {
  int busy_timeout_ms = 5000;
  bool create_if_missing = true;
  // synchronous=NORMAL (kNormal) or FULL (kFsync). Default: normal.
  base::Durability durability = base::Durability::kNormal;
  // Who claims: unique per replica sharing the database, and the same across the replica's
  // restarts (so that a restart takes its own claims back at once). Default ("" ): the host
  // name, enough for one process per host.
  std::string owner{};
  // How long a claim holds without being renewed. Default: 5 minutes. REQUIRES: > 0.
  int64_t lease_ms = 300'000;
};

class NoticeOutbox {
 public:
  // Opens the SQLite file at `path` (creating the file and table when needed). `durability`
  // chooses synchronous=NORMAL (kNormal) or FULL (kFsync). The owner is the default.
  static engine::Result<std::unique_ptr<NoticeOutbox>> Open(
      const std::string& path, int busy_timeout_ms = 5000,
      base::Durability durability = base::Durability::kNormal);
  // The outbox where `store` says: the SQLite file at `sqlite_path` (kind sqlite), or the
  // PostgreSQL database at store.dsn (kind postgresql; sqlite_path unused).
  static engine::Result<std::unique_ptr<NoticeOutbox>> Open(const base::StoreConfig& store,
                                                            const std::string& sqlite_path,
                                                            NoticeOutboxOptions options);
  // PRAGMA synchronous of this connection (1 = NORMAL, 2 = FULL), or -1 when unreadable or on
  // PostgreSQL.
  int SynchronousLevel() const;
  // The name this outbox claims under.
  const std::string& owner() const { return owner_; }
  ~NoticeOutbox();
  NoticeOutbox(const NoticeOutbox&) = delete;
  NoticeOutbox& operator=(const NoticeOutbox&) = delete;

  // Stores a pending notice for `target`, claimed by this owner; returns its id.
  engine::Result<int64_t> Add(std::string_view target, const Notice& notice, int64_t now_ms);
  // Claims up to `limit` pending notices of `target`, oldest first: those unclaimed or whose
  // lease expired, and with include_own those this owner holds (see the file comment).
  engine::Result<std::vector<OutboxEntry>> Claim(std::string_view target, int64_t limit,
                                                 int64_t now_ms, bool include_own);
  // Extends the lease of a pending notice this owner holds; false when it does not (another
  // replica took it over, or it is no longer pending).
  engine::Result<bool> Renew(int64_t id, int64_t now_ms);
  // Gives up this owner's claim on a pending notice (no-op when it holds none).
  engine::Status Release(int64_t id);
  // Record the outcome; only while this owner holds the claim (else kFailedPrecondition).
  engine::Status MarkDelivered(int64_t id, int64_t now_ms);
  engine::Status MarkFailed(int64_t id, std::string_view error, int64_t now_ms);
  // Pending notices of `target` whoever holds them, oldest first, up to `limit` (reads only).
  engine::Result<std::vector<OutboxEntry>> Pending(std::string_view target, int64_t limit);
  // Rows per state ("pending", "delivered", "failed").
  engine::Result<int64_t> Count(std::string_view state);
  // Deletes delivered and failed notices older than max_age_ms (0: no age limit), then the
  // oldest of them beyond max_rows (0: no cap). Pending notices are never deleted.
  engine::Result<PruneResult> Prune(int64_t max_age_ms, int64_t max_rows, int64_t now_ms);

 private:
  NoticeOutbox(std::unique_ptr<sql::Database> db, std::string owner, int64_t lease_ms);
  mutable base::Mutex mu_;
  const std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
  const std::string owner_;
  const int64_t lease_ms_;
};

}  // namespace reflex::actions
