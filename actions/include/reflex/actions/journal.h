// Journal: the durable record of every action run, in the state database: a SQLite file
// (WAL, busy_timeout; the embedded default) or a PostgreSQL database that the replicas share
// (base::StoreConfig, `storage.store`).
//
// One row per run in table `action_runs`, unique on its idempotency key (event id, table,
// row id, action index, action): Enqueue inserts only a key not journaled yet, so a
// redelivered decision never creates a second run, also when two replicas enqueue it at once
// (the second meets the unique key and gets the first's run). States:
//
//   pending -> running -> succeeded | failed        (running -> pending again for a retry)
//   awaiting_approval -> pending (approved) | rejected | expired
//   skipped_dry_run, throttled, suppressed          (journaled, never executed)
//
// Claims. MarkRunning claims a pending run in one statement, for this journal's `owner`, with
// a lease (lease_until = now + lease_ms): of two processes claiming one run, one gets it. The
// claimant renews its leases while it runs them (RenewLeases); the outcome (MarkSucceeded,
// MarkRetry, MarkFailed, SetJob) is written only while the claim is still its own, so a
// replica that stalled past its lease cannot overwrite the run another replica took over.
// ReclaimExpired puts the running rows of other owners whose lease ran out back to pending:
// a dead replica's runs are resumed by the survivors (at least once: a replica that stalled,
// not died, may still be running the action when another starts it; the target sees the same
// idempotency key both times).
//
// Opening the journal with `recover` puts interrupted `running` rows back to `pending` (the
// interrupted attempt stays counted) so they resume: on SQLite every running row (one process
// runs actions on a file), on PostgreSQL those whose lease ran out or that this owner held
// (the same replica started again). Succeeded and other final rows never run again.
// Approval expiry is one statement that returns what it expired, so of replicas expiring at
// once each run is reported by one. Rate limits are counted inside Enqueue's transaction;
// on PostgreSQL replicas counting the same action and key take an advisory lock in turn.
// A run started by a person (origin manual) or retrying a failed run (origin retry, with
// retry_of) is an ordinary row: the executor carries out every pending row alike.
//
// Schema: versioned (component `journal` in schema_migrations, migrate.h): version 1 is the
// table as it was before versioning (a SQLite file from then gains its later columns first,
// and opens with its rows), version 2 adds owner and lease_until. A database whose schema is
// newer than this binary is refused. Text is journaled as valid UTF-8 without NUL bytes.
//
// Errors: kUnavailable (the database cannot be opened or reached, is busy or failing),
// kFailedPrecondition (a run not in the state a change needs; a schema newer than this
// binary), kNotFound (no such run), kInvalidArgument (a malformed PostgreSQL connection
// string, a lease <= 0), kInternal (anything else the database says).
// Thread-safety: all methods may be called from any thread (one connection, one mutex).
//
//   auto j = Journal::Open(".reflex/reflex.db");          // or Open(store_config, path, {})
//   if (!j.ok()) return j.status();
//   auto r = (*j)->Enqueue(run, clock.NowMillis());  // r->inserted == false: seen before
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/enum_names.h"
#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

enum class RunState {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kExpired,
  kAwaitingApproval,
  kRejected,
  kSkippedDryRun,
  kThrottled,
  kSuppressed,
};
inline constexpr base::EnumNames<RunState, 10> kRunStateNames{
    {{{RunState::kPending, "pending"},
      {RunState::kRunning, "running"},
      {RunState::kSucceeded, "succeeded"},
      {RunState::kFailed, "failed"},
      {RunState::kExpired, "expired"},
      {RunState::kAwaitingApproval, "awaiting_approval"},
      {RunState::kRejected, "rejected"},
      {RunState::kSkippedDryRun, "skipped_dry_run"},
      {RunState::kThrottled, "throttled"},
      {RunState::kSuppressed, "suppressed"}}}};
std::string_view StateName(RunState s);  // "pending", "awaiting_approval", ...
std::optional<RunState> ParseState(std::string_view name);
// succeeded, failed, expired, rejected, skipped_dry_run, throttled, suppressed.
bool IsFinal(RunState s);

// Who started a run: a decision of the engine, a person (`reflex actions run`), or a person
// retrying a failed run (`reflex actions retry`).
enum class RunOrigin { kDecision, kManual, kRetry };
inline constexpr base::EnumNames<RunOrigin, 3> kRunOriginNames{{{{RunOrigin::kDecision, "decision"},
                                                                 {RunOrigin::kManual, "manual"},
                                                                 {RunOrigin::kRetry, "retry"}}}};
std::string_view OriginName(RunOrigin o);  // "decision", "manual", "retry"

struct RunKey {
  std::string event_id;
  std::string table;
  std::string row;
  int action_index = 0;
  std::string action;
};

// What a run does and for whom; set when it is journaled, never changed afterwards. A new
// run and a journaled run both hold it.
struct RunDefinition {
  RunKey key;
  std::string kind;     // webhook, command, kafka, emit, escalate ("unknown": not in catalog)
  std::string target;   // circuit-breaker target
  std::string ruleset;  // the decision's rule-set version
  std::string request;  // the rendered request (JSON text)
  std::string event_json;
  RunOrigin origin = RunOrigin::kDecision;
  std::string requested_by;  // the person who ran or retried it ("" for a decision)
  int64_t retry_of = 0;      // the run this one retries (0 = none)
  // The key a target sees for this run (IdempotencyKey); "" = derived from `key`. A retry
  // carries the key of the run it retries, so the target sees the same operation again.
  std::string idempotency_key;
};

// The Idempotency-Key a run is sent with (webhook header, command REFLEX_IDEMPOTENCY_KEY):
// `run.idempotency_key` when set, else "reflex-" + 16 hex digits of FNV-1a over the journal
// key. The same on every attempt, after a crash and resume, and on `reflex actions retry`.
std::string IdempotencyKey(const RunDefinition& run);

struct NewRun : RunDefinition {
  std::string throttle_key;  // rate-limit group keys ("" when not limited)
  std::string suppress_key;
  RunState state = RunState::kPending;  // pending, awaiting_approval, skipped_dry_run, failed
  int64_t approval_deadline_ms = 0;
  std::string last_error;  // for runs journaled as failed (e.g. an unknown action)
};

// A rate limit checked inside Enqueue's transaction: when at least `max_count` runs of the
// same action with the same key were created at or after `since_ms` (and were not
// themselves skipped), the new run is stored in `state_if_over` instead.
struct EnqueueLimit {
  bool suppress_column = false;  // which key: throttle_key (false) or suppress_key (true)
  int64_t since_ms = 0;
  int max_count = 1;
  RunState state_if_over = RunState::kThrottled;
};

struct EnqueueResult {
  int64_t id = 0;
  bool inserted = false;                // false: the key was already journaled (nothing changed)
  RunState state = RunState::kPending;  // the state the row has now
};

// A running run whose claim's lease had run out, put back to pending by ReclaimExpired.
struct ReclaimedRun {
  int64_t id = 0;
  std::string action;
  std::string event_id;
  std::string owner;           // the replica whose claim ran out
  int64_t lease_until_ms = 0;  // when it ran out
};

struct ActionRun : RunDefinition {
  int64_t id = 0;
  RunState state = RunState::kPending;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::string last_error;
  std::string output;
  std::string decided_by;  // who approved or rejected
  // The job a job API started for this run (preset actions that follow their job): its id as
  // the API gave it and the URL its status is read from. "" until the launch was accepted.
  std::string job_id;
  std::string job_url;
  int64_t approval_deadline_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  // The journal (replica) whose claim holds a running run, and until when ("" and 0 otherwise).
  std::string owner{};
  int64_t lease_until_ms = 0;
};

// The run as a JSON object (times as RFC 3339, "-" when unset): id, state, action, kind, event,
// table, row, attempts, last error, approval deadline, who decided; `full` adds the target,
// request, output, idempotency key and the event. The CLI's --json and the REST API.
std::string ActionRunJson(const ActionRun& run, bool full);
// Only the run's state and who decided it, as JSON: what the audit log keeps before and
// after an approval ({"state":"pending","decided_by":"alice"}).
std::string ActionRunStateJson(const ActionRun& run);

// What Prune keeps. Only finished runs (IsFinal) are ever deleted: pending, running and
// awaiting_approval rows stay whatever their age or number.
struct JournalRetention {
  // Finished runs last changed before now - max_age_ms are deleted. 0 = no age limit.
  int64_t max_age_ms = 0;
  // Rows kept at most; above it the oldest finished runs go first. 0 = no cap. The cap is a
  // target: unfinished runs alone may exceed it.
  int64_t max_runs = 0;
  // Runs created within this much of now are never deleted: throttle and suppress windows
  // count them (set it to the longest window of the catalog). 0 = none protected.
  int64_t keep_recent_ms = 0;
  // Rows deleted per transaction (the write lock is released between batches). REQUIRES: > 0.
  int batch = 1000;
};

struct PruneResult {
  int64_t deleted = 0;  // rows deleted by this call
  int64_t kept = 0;     // rows in the table afterwards
};

struct JournalOptions {
  int busy_timeout_ms = 5000;           // Default: 5 s.
  bool recover = true;                  // running -> pending on open. Default: on.
  size_t max_output_bytes = 64 * 1024;  // output and error text kept per run
  // synchronous=NORMAL (kNormal) or FULL (kFsync) on SQLite. Default: normal.
  base::Durability durability = base::Durability::kNormal;
  // Who claims runs through this journal (ActionRun::owner): a replica's stable name keeps
  // its claims across its own restart. "" = "<host>:<pid>:<random>", new for each Open.
  std::string owner{};
  // How long a claim holds without renewal. REQUIRES: > 0. Default: 30 s.
  int64_t lease_ms = 30000;
};

class Journal {
 public:
  // Opens the SQLite file (creating the file and tables when needed). The parent directory
  // must exist.
  static engine::Result<std::unique_ptr<Journal>> Open(const std::string& path,
                                                       JournalOptions options = {});
  // Opens the journal in the store `store` names: PostgreSQL, or the SQLite file at
  // `sqlite_path`. Applies the schema versions the database lacks.
  static engine::Result<std::unique_ptr<Journal>> Open(const base::StoreConfig& store,
                                                       const std::string& sqlite_path,
                                                       JournalOptions options = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // PRAGMA synchronous of this connection (1 = NORMAL, 2 = FULL), or -1 when unreadable or
  // on PostgreSQL.
  int SynchronousLevel() const;

  // Rows moved from running back to pending when the journal was opened.
  int recovered() const { return recovered_; }
  // The owner this journal claims runs as (JournalOptions::owner, or the one made up).
  const std::string& owner() const { return options_.owner; }
  int64_t lease_ms() const { return options_.lease_ms; }

  engine::Result<EnqueueResult> Enqueue(const NewRun& run, int64_t now_ms,
                                        const std::vector<EnqueueLimit>& limits = {});

  // pending -> running, attempts + 1, claimed by owner() until now + lease_ms. False (and no
  // change) when the row is not pending (another process claimed it first).
  engine::Result<bool> MarkRunning(int64_t id, int64_t now_ms);
  // Extends to now + lease_ms the leases of this owner's running runs that end before then;
  // returns how many. Call it at least every lease_ms / 3 while runs are running.
  engine::Result<int> RenewLeases(int64_t now_ms);
  // Other owners' running runs whose lease ended before now -> pending (attempt counted, the
  // reason in last_error); returns the runs this call took over (each run is taken by one
  // caller, whichever replicas call at once), oldest id first. The survivors of a dead
  // replica call it.
  engine::Result<std::vector<ReclaimedRun>> ReclaimExpired(int64_t now_ms);
  engine::Status MarkSucceeded(int64_t id, std::string_view output, int64_t now_ms);
  // Records the job a running run's launch started (ActionRun::job_id, job_url), so a
  // resumed run follows that job instead of launching another. These four change only a run
  // this journal's claim holds: kFailedPrecondition when the run is not running, or is
  // running under another owner's claim (taken over after this claim's lease ran out).
  engine::Status SetJob(int64_t id, std::string_view job_id, std::string_view job_url,
                        int64_t now_ms);
  // running -> pending with the time of the next attempt.
  engine::Status MarkRetry(int64_t id, std::string_view error, std::string_view output,
                           int64_t next_attempt_at_ms, int64_t now_ms);
  engine::Status MarkFailed(int64_t id, std::string_view error, std::string_view output,
                            int64_t now_ms);

  // awaiting_approval -> pending. kNotFound for no such run; kFailedPrecondition when the
  // run is not awaiting approval (or its approval expired).
  engine::Status Approve(int64_t id, std::string_view who, int64_t now_ms);
  engine::Status Reject(int64_t id, std::string_view who, std::string_view reason, int64_t now_ms);
  // awaiting_approval rows whose deadline passed -> expired; returns them.
  engine::Result<std::vector<ActionRun>> ExpireApprovals(int64_t now_ms);

  engine::Result<ActionRun> Get(int64_t id);
  // Newest first. `state` empty = every state. `limit` <= 0 = no limit.
  engine::Result<std::vector<ActionRun>> List(std::optional<RunState> state, int limit = 0);
  // Pending rows, oldest first, up to `limit` (<= 0: all).
  engine::Result<std::vector<ActionRun>> Pending(int limit = 0);
  engine::Result<std::map<std::string, int64_t>> CountByState();

  // Deletes finished runs by age and count (JournalRetention), in batches; see there.
  // kInvalidArgument for a batch <= 0.
  engine::Result<PruneResult> Prune(const JournalRetention& retention, int64_t now_ms);

 private:
  Journal(std::unique_ptr<sql::Database> db, JournalOptions options);
  // Adds the columns of later releases (job_id, job_url, origin, ...) to a SQLite file
  // written before versioning.
  engine::Status AddMissingColumns() REQUIRES(mu_);
  engine::Result<EnqueueResult> EnqueueLocked(const NewRun& run, int64_t now_ms,
                                              const std::vector<EnqueueLimit>& limits)
      REQUIRES(mu_);
  // running (held by this owner) -> `state`, with the outcome; the claim is released.
  engine::Status Finish(int64_t id, std::string_view state, std::string_view error,
                        std::string_view output, int64_t next_at, int64_t now_ms);
  // Why run `id` could not be changed as this owner's running run.
  engine::Status NotHeld(int64_t id) REQUIRES(mu_);

  mutable base::Mutex mu_;
  std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
  JournalOptions options_;
  int recovered_ = 0;
};

}  // namespace reflex::actions
