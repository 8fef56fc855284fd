// Journal: the durable record of every action run, in a SQLite file (WAL, busy_timeout).
//
// One row per run in table `action_runs`, unique on its idempotency key (event id, table,
// row id, action index, action name): Enqueue is INSERT OR IGNORE, so a redelivered
// decision never creates a second run. States:
//
//   pending -> running -> succeeded | failed        (running -> pending again for a retry)
//   awaiting_approval -> pending (approved) | rejected | expired
//   skipped_dry_run, throttled, suppressed          (journaled, never executed)
//
// Opening the journal after a crash puts `running` rows back to `pending` (the interrupted
// attempt stays counted) so they resume; succeeded and other final rows never run again.
// A run started by a person (origin manual) or retrying a failed run (origin retry, with
// retry_of) is an ordinary row: the executor carries out every pending row alike. A file
// written before these columns existed gains them (as decisions) when it is opened.
// Every change is one transaction. The file may hold other tables (the escalation store
// uses its own connection and tables); ours are prefixed `action_`. Several processes may
// open the same file (the CLI approves while `reflex run` executes): MarkRunning only claims
// a row that is still pending, so one run is never executed twice at once.
//
// Thread-safety: all methods may be called from any thread (one connection, one mutex).
//
//   auto j = Journal::Open(".reflex/reflex.db");
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
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

struct sqlite3;

namespace reflex::actions {

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
  // synchronous=NORMAL (kNormal) or FULL (kFsync). Default: normal.
  base::Durability durability = base::Durability::kNormal;
};

class Journal {
 public:
  // Opens (creating the file and tables when needed). The parent directory must exist.
  static engine::Result<std::unique_ptr<Journal>> Open(const std::string& path,
                                                       JournalOptions options = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // PRAGMA synchronous of this connection (1 = NORMAL, 2 = FULL), or -1 when unreadable.
  int SynchronousLevel() const;

  // Rows moved from running back to pending when the journal was opened.
  int recovered() const { return recovered_; }

  engine::Result<EnqueueResult> Enqueue(const NewRun& run, int64_t now_ms,
                                        const std::vector<EnqueueLimit>& limits = {});

  // pending -> running, attempts + 1. False (and no change) when the row is not pending.
  engine::Result<bool> MarkRunning(int64_t id, int64_t now_ms);
  engine::Status MarkSucceeded(int64_t id, std::string_view output, int64_t now_ms);
  // Records the job a running run's launch started (ActionRun::job_id, job_url), so a
  // resumed run follows that job instead of launching another. kFailedPrecondition when
  // the run is not running.
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
  explicit Journal(sqlite3* db, JournalOptions options) : db_(db), options_(options) {}
  engine::Status Exec(const char* sql);
  // Adds the columns of later releases (job_id, job_url, origin, ...) to an older file.
  engine::Status AddMissingColumns();
  engine::Status Update(int64_t id, const char* sql_state, std::string_view error,
                        std::string_view output, int64_t next_at, int64_t now_ms,
                        const char* expect_state);

  base::Mutex mu_;
  sqlite3* db_;
  JournalOptions options_;
  int recovered_ = 0;
};

}  // namespace reflex::actions
