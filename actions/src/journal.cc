#include "reflex/actions/journal.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "migrate.h"
#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/clock.h"
#include "sql.h"

namespace reflex::actions {

using engine::Result;
using engine::Status;

namespace {

constexpr const char* kStore = "journal";
// The component of schema_migrations whose versions are the journal's.
constexpr std::string_view kComponent = "journal";

// Version 1 is the table as it was before versioning, with IF NOT EXISTS so that it applies
// over a state file of that time (whose older columns AddMissingColumns adds first).
constexpr std::string_view kSqliteV1 = R"sql(
CREATE TABLE IF NOT EXISTS action_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  rule_table TEXT NOT NULL,
  row_id TEXT NOT NULL,
  action_index INTEGER NOT NULL,
  action TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  ruleset TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL DEFAULT '',
  event_json TEXT NOT NULL DEFAULT '',
  throttle_key TEXT,
  suppress_key TEXT,
  decided_by TEXT NOT NULL DEFAULT '',
  approval_deadline INTEGER NOT NULL DEFAULT 0,
  job_id TEXT NOT NULL DEFAULT '',
  job_url TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT 'decision',
  requested_by TEXT NOT NULL DEFAULT '',
  retry_of INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL DEFAULT '',
  UNIQUE (event_id, rule_table, row_id, action_index, action)
);
CREATE INDEX IF NOT EXISTS action_runs_state ON action_runs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS action_runs_throttle ON action_runs (action, throttle_key, created_at);
CREATE INDEX IF NOT EXISTS action_runs_suppress ON action_runs (action, suppress_key, created_at);
)sql";

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE action_runs (
  id BIGSERIAL PRIMARY KEY,
  event_id TEXT NOT NULL,
  rule_table TEXT NOT NULL,
  row_id TEXT NOT NULL,
  action_index BIGINT NOT NULL,
  action TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  ruleset TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL DEFAULT '',
  event_json TEXT NOT NULL DEFAULT '',
  throttle_key TEXT,
  suppress_key TEXT,
  decided_by TEXT NOT NULL DEFAULT '',
  approval_deadline BIGINT NOT NULL DEFAULT 0,
  job_id TEXT NOT NULL DEFAULT '',
  job_url TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  origin TEXT NOT NULL DEFAULT 'decision',
  requested_by TEXT NOT NULL DEFAULT '',
  retry_of BIGINT NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL DEFAULT '',
  UNIQUE (event_id, rule_table, row_id, action_index, action)
);
CREATE INDEX action_runs_state ON action_runs (state, next_attempt_at);
CREATE INDEX action_runs_throttle ON action_runs (action, throttle_key, created_at);
CREATE INDEX action_runs_suppress ON action_runs (action, suppress_key, created_at);
)sql";

// Version 2: who holds a running run, and until when (the claim's lease).
constexpr std::string_view kV2 = R"sql(
ALTER TABLE action_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE action_runs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "action_runs table and its indexes", kSqliteV1, kPostgresV1},
    {2, "action_runs owner and lease_until: runs claimed with a lease", kV2, kV2},
};

constexpr const char* kColumns =
    "id, event_id, rule_table, row_id, action_index, action, kind, target, ruleset, state, "
    "attempts, next_attempt_at, last_error, output, request, event_json, decided_by, "
    "approval_deadline, created_at, updated_at, job_id, job_url, origin, requested_by, retry_of, "
    "idempotency_key, owner, lease_until";

// Columns that SQLite files written before versioning may lack, with their definitions.
constexpr std::pair<const char*, const char*> kAddedColumns[] = {
    {"job_id", "TEXT NOT NULL DEFAULT ''"},         {"job_url", "TEXT NOT NULL DEFAULT ''"},
    {"origin", "TEXT NOT NULL DEFAULT 'decision'"}, {"requested_by", "TEXT NOT NULL DEFAULT ''"},
    {"retry_of", "INTEGER NOT NULL DEFAULT 0"},     {"idempotency_key", "TEXT NOT NULL DEFAULT ''"},
};

// States that count as "it ran" for throttling and suppression.
constexpr const char* kCountedStates =
    "('pending','running','succeeded','failed','awaiting_approval')";

constexpr const char* kInterrupted = "interrupted (the process stopped while it ran); resumed";

ActionRun ReadRun(const sql::Rows& r, int i) {
  ActionRun run;
  run.id = r.Int(i, 0);
  run.key.event_id = r.Text(i, 1);
  run.key.table = r.Text(i, 2);
  run.key.row = r.Text(i, 3);
  run.key.action_index = static_cast<int>(r.Int(i, 4));
  run.key.action = r.Text(i, 5);
  run.kind = r.Text(i, 6);
  run.target = r.Text(i, 7);
  run.ruleset = r.Text(i, 8);
  run.state = ParseState(r.Text(i, 9)).value_or(RunState::kFailed);
  run.attempts = static_cast<int>(r.Int(i, 10));
  run.next_attempt_at_ms = r.Int(i, 11);
  run.last_error = r.Text(i, 12);
  run.output = r.Text(i, 13);
  run.request = r.Text(i, 14);
  run.event_json = r.Text(i, 15);
  run.decided_by = r.Text(i, 16);
  run.approval_deadline_ms = r.Int(i, 17);
  run.created_at_ms = r.Int(i, 18);
  run.updated_at_ms = r.Int(i, 19);
  run.job_id = r.Text(i, 20);
  run.job_url = r.Text(i, 21);
  run.origin = kRunOriginNames.Parse(r.Text(i, 22)).value_or(RunOrigin::kDecision);
  run.requested_by = r.Text(i, 23);
  run.retry_of = r.Int(i, 24);
  run.idempotency_key = r.Text(i, 25);
  run.owner = r.Text(i, 26);
  run.lease_until_ms = r.Int(i, 27);
  return run;
}

std::vector<ActionRun> ReadRuns(const sql::Rows& r) {
  std::vector<ActionRun> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadRun(r, i));
  return out;
}

// "<host>:<pid>:<4 random hex digits>": another process, or this one started again, is
// another owner.
std::string DefaultOwner() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  char tail[8];
  std::snprintf(tail, sizeof tail, "%04x", static_cast<unsigned>(rd() & 0xffff));
  return std::string(host[0] != '\0' ? host : "reflex") + ":" + std::to_string(getpid()) + ":" +
         tail;
}

// Text as it is journaled: at most `max` bytes of valid UTF-8 without NUL bytes, each byte
// that is not part of well-formed UTF-8 and each NUL replaced by U+FFFD. A command's output may
// hold any bytes; PostgreSQL text holds neither, and a run whose outcome cannot be written
// would be run again.
std::string Clean(std::string_view text, size_t max) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  text = text.substr(0, std::min(max, text.size()));
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t bad = base::FirstInvalidUtf8(text);
    const size_t nul = text.substr(0, bad).find('\0');
    if (nul != std::string_view::npos) bad = nul;
    out.append(text.substr(0, std::min(bad, text.size())));
    if (bad >= text.size()) break;
    out.append(kReplacement);
    text.remove_prefix(bad + 1);
  }
  return std::string(base::CutUtf8(out, max));
}

}  // namespace

std::string IdempotencyKey(const RunDefinition& run) {
  if (!run.idempotency_key.empty()) return run.idempotency_key;
  const RunKey& k = run.key;
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view part) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  mix(k.event_id);
  mix(k.table);
  mix(k.row);
  mix(std::to_string(k.action_index));
  mix(k.action);
  char buf[24];
  std::snprintf(buf, sizeof buf, "reflex-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string_view StateName(RunState s) { return kRunStateNames.Name(s); }

std::string_view OriginName(RunOrigin o) { return kRunOriginNames.Name(o); }

std::optional<RunState> ParseState(std::string_view name) { return kRunStateNames.Parse(name); }

bool IsFinal(RunState s) {
  return s != RunState::kPending && s != RunState::kRunning && s != RunState::kAwaitingApproval;
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path, JournalOptions options) {
  return Open(base::StoreConfig{}, path, std::move(options));
}

Result<std::unique_ptr<Journal>> Journal::Open(const base::StoreConfig& store,
                                               const std::string& sqlite_path,
                                               JournalOptions options) {
  if (options.lease_ms <= 0) {
    return engine::InvalidArgument("journal: the claim lease must be positive");
  }
  if (store.kind == base::StoreKind::kSqlite) {
    // The directory is the caller's (the state directory): the journal creates the file only.
    const std::filesystem::path parent = std::filesystem::path(sqlite_path).parent_path();
    if (std::error_code ec; !parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      return engine::Unavailable("journal: cannot open " + sqlite_path + ": no directory " +
                                 parent.string());
    }
  }
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  if (!db.ok()) return db.status();
  if (options.owner.empty()) options.owner = DefaultOwner();
  std::unique_ptr<Journal> j(new Journal(std::move(*db), std::move(options)));
  base::MutexLock lock(j->mu_);
  if (Status s = j->AddMissingColumns(); !s.ok()) return s;
  if (auto v = sql::Migrate(*j->db_, kComponent, kMigrations); !v.ok()) return v.status();
  if (j->options_.recover) {
    // On a SQLite file only this process runs actions: every running row was interrupted.
    // On a shared database, only the rows whose lease has run out, or that this owner (the
    // same replica started again) held.
    const bool shared = j->db_->dialect() == sql::Dialect::kPostgresql;
    auto r = shared ? j->db_->Exec(
                          "UPDATE action_runs SET state='pending', next_attempt_at=0, "
                          "last_error=$1, owner='', lease_until=0 "
                          "WHERE state='running' AND (lease_until < $2 OR owner = $3)",
                          kInterrupted, engine::SystemClock().NowMillis(), j->options_.owner)
                    : j->db_->Exec(
                          "UPDATE action_runs SET state='pending', next_attempt_at=0, "
                          "last_error=$1, owner='', lease_until=0 WHERE state='running'",
                          kInterrupted);
    if (!r.ok()) return r.status();
    j->recovered_ = static_cast<int>(r->affected());
  }
  lock.Unlock();
  return j;
}

Journal::Journal(std::unique_ptr<sql::Database> db, JournalOptions options)
    : db_(std::move(db)), options_(std::move(options)) {}

Journal::~Journal() = default;

int Journal::SynchronousLevel() const {
  base::MutexLock lock(mu_);
  if (db_->dialect() != sql::Dialect::kSqlite) return -1;
  auto r = db_->Exec("PRAGMA synchronous");
  return r.ok() && !r->empty() ? static_cast<int>(r->Int(0, 0)) : -1;
}

Status Journal::AddMissingColumns() {
  if (db_->dialect() != sql::Dialect::kSqlite) return Status::Ok();
  // One transaction with the write lock: two processes opening an older file at once add
  // each column once. A new file has no table yet: version 1 creates it whole.
  sql::Transaction tx(*db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  auto cols = db_->Exec("SELECT name FROM pragma_table_info('action_runs')");
  if (!cols.ok()) return cols.status();
  if (cols->empty()) return Status::Ok();
  std::set<std::string> have;
  for (int i = 0; i < cols->size(); ++i) have.insert(cols->Text(i, 0));
  for (const auto& [name, definition] : kAddedColumns) {
    if (have.count(name) != 0) continue;
    const std::string sql =
        std::string("ALTER TABLE action_runs ADD COLUMN ") + name + " " + definition;
    if (Status s = db_->ExecScript(sql); !s.ok()) return s;
  }
  return tx.Commit();
}

Result<EnqueueResult> Journal::Enqueue(const NewRun& run, int64_t now_ms,
                                       const std::vector<EnqueueLimit>& limits) {
  base::MutexLock lock(mu_);
  // Two replicas enqueueing one key at once (a decision redelivered after a rebalance): the
  // second insert meets the unique key, and the run the first journaled is the answer.
  auto r = EnqueueLocked(run, now_ms, limits);
  if (!r.ok() && sql::IsUniqueViolation(r.status())) r = EnqueueLocked(run, now_ms, limits);
  return r;
}

Result<EnqueueResult> Journal::EnqueueLocked(const NewRun& run, int64_t now_ms,
                                             const std::vector<EnqueueLimit>& limits) {
  sql::Transaction tx(*db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  EnqueueResult result;
  auto found = db_->Exec(
      "SELECT id, state FROM action_runs WHERE event_id=$1 AND rule_table=$2 AND row_id=$3 AND "
      "action_index=$4 AND action=$5",
      run.key.event_id, run.key.table, run.key.row, run.key.action_index, run.key.action);
  if (!found.ok()) return found.status();
  if (!found->empty()) {
    result.id = found->Int(0, 0);
    result.state = ParseState(found->Text(0, 1)).value_or(RunState::kFailed);
    return result;  // already journaled: nothing to change (rolled back)
  }
  RunState state = run.state;
  std::string error = run.last_error;
  if (state == RunState::kPending || state == RunState::kAwaitingApproval) {
    for (const EnqueueLimit& l : limits) {
      const std::string& key = l.suppress_column ? run.suppress_key : run.throttle_key;
      if (db_->dialect() == sql::Dialect::kPostgresql) {
        // Replicas counting the same action and key take turns until they commit, so two
        // of them never both see room for one more run (SQLite's write lock does the same).
        // FNV-1a: the same key in every build of every replica.
        auto locked = db_->Exec(
            "SELECT pg_advisory_xact_lock($1::bigint)",
            static_cast<int64_t>(base::Fnv1a64("reflex-limit:" + run.key.action + '\x1f' + key)));
        if (!locked.ok()) return locked.status();
      }
      const std::string sql = std::string("SELECT COUNT(*) FROM action_runs WHERE action=$1 AND ") +
                              (l.suppress_column ? "suppress_key" : "throttle_key") +
                              "=$2 AND created_at>=$3 AND state IN " + kCountedStates;
      auto count = db_->Exec(sql, run.key.action, key, l.since_ms);
      if (!count.ok()) return count.status();
      const int64_t n = count->Int(0, 0);
      if (n >= l.max_count) {
        state = l.state_if_over;
        error = std::string(StateName(state)) + ": already ran " + std::to_string(n) +
                " time(s) within the window for this key";
        break;
      }
    }
  }
  const sql::Param throttle =
      run.throttle_key.empty() ? sql::Param(sql::kNull) : sql::Param(run.throttle_key);
  const sql::Param suppress =
      run.suppress_key.empty() ? sql::Param(sql::kNull) : sql::Param(run.suppress_key);
  auto ins = db_->Exec(
      "INSERT INTO action_runs (event_id, rule_table, row_id, action_index, action, kind, "
      "target, ruleset, state, request, event_json, throttle_key, suppress_key, "
      "approval_deadline, last_error, created_at, updated_at, origin, requested_by, retry_of, "
      "idempotency_key) VALUES "
      "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16,$17,$18,$19,$20) RETURNING id",
      run.key.event_id, run.key.table, run.key.row, run.key.action_index, run.key.action, run.kind,
      run.target, run.ruleset, StateName(state), Clean(run.request, SIZE_MAX),
      Clean(run.event_json, SIZE_MAX), throttle, suppress, run.approval_deadline_ms,
      Clean(error, options_.max_output_bytes), now_ms, OriginName(run.origin), run.requested_by,
      run.retry_of, run.idempotency_key);
  if (!ins.ok()) return ins.status();
  result.id = ins->Int(0, 0);
  result.inserted = true;
  result.state = state;
  if (Status s = tx.Commit(); !s.ok()) return s;
  return result;
}

Result<bool> Journal::MarkRunning(int64_t id, int64_t now_ms) {
  base::MutexLock lock(mu_);
  // One statement: of two replicas claiming one run, the second finds it no longer pending.
  auto r = db_->Exec(
      "UPDATE action_runs SET state='running', attempts=attempts+1, updated_at=$2, owner=$3, "
      "lease_until=$4 WHERE id=$1 AND state='pending'",
      id, now_ms, options_.owner, now_ms + options_.lease_ms);
  if (!r.ok()) return r.status();
  return r->affected() == 1;
}

Status Journal::NotHeld(int64_t id) {
  auto r = db_->Exec("SELECT state, owner FROM action_runs WHERE id=$1", id);
  if (!r.ok()) return r.status();
  if (r->empty()) return engine::NotFound("no action run " + std::to_string(id));
  if (r->Text(0, 0) == "running") {
    return engine::FailedPrecondition("journal: run " + std::to_string(id) +
                                      " is running elsewhere (claimed by " + r->Text(0, 1) +
                                      " after this claim's lease ran out)");
  }
  return engine::FailedPrecondition("journal: run " + std::to_string(id) + " is not running");
}

Status Journal::Finish(int64_t id, std::string_view state, std::string_view error,
                       std::string_view output, int64_t next_at, int64_t now_ms) {
  base::MutexLock lock(mu_);
  // Only while this journal's claim holds it: a run taken over by another replica after the
  // lease ran out is that replica's to finish.
  auto r = db_->Exec(
      "UPDATE action_runs SET state=$2, last_error=$3, output=$4, next_attempt_at=$5, "
      "updated_at=$6, owner='', lease_until=0 WHERE id=$1 AND state='running' AND owner=$7",
      id, state, Clean(error, options_.max_output_bytes), Clean(output, options_.max_output_bytes),
      next_at, now_ms, options_.owner);
  if (!r.ok()) return r.status();
  if (r->affected() != 1) return NotHeld(id);
  return Status::Ok();
}

Status Journal::MarkSucceeded(int64_t id, std::string_view output, int64_t now_ms) {
  return Finish(id, "succeeded", "", output, 0, now_ms);
}

Status Journal::SetJob(int64_t id, std::string_view job_id, std::string_view job_url,
                       int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE action_runs SET job_id=$2, job_url=$3, updated_at=$4 "
      "WHERE id=$1 AND state='running' AND owner=$5",
      id, Clean(job_id, 1024), Clean(job_url, 4096), now_ms, options_.owner);
  if (!r.ok()) return r.status();
  if (r->affected() != 1) return NotHeld(id);
  return Status::Ok();
}

Status Journal::MarkRetry(int64_t id, std::string_view error, std::string_view output,
                          int64_t next_attempt_at_ms, int64_t now_ms) {
  return Finish(id, "pending", error, output, next_attempt_at_ms, now_ms);
}

Status Journal::MarkFailed(int64_t id, std::string_view error, std::string_view output,
                           int64_t now_ms) {
  return Finish(id, "failed", error, output, 0, now_ms);
}

Result<int> Journal::RenewLeases(int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE action_runs SET lease_until=$1 WHERE state='running' AND owner=$2 AND "
      "lease_until < $1",
      now_ms + options_.lease_ms, options_.owner);
  if (!r.ok()) return r.status();
  return static_cast<int>(r->affected());
}

Result<std::vector<ReclaimedRun>> Journal::ReclaimExpired(int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto expired = db_->Exec(
      "SELECT id, action, event_id, owner, lease_until FROM action_runs WHERE state='running' "
      "AND lease_until < $1 AND owner <> $2 ORDER BY id",
      now_ms, options_.owner);
  if (!expired.ok()) return expired.status();
  std::vector<ReclaimedRun> taken;
  for (int i = 0; i < expired->size(); ++i) {
    ReclaimedRun run{.id = expired->Int(i, 0),
                     .action = expired->Text(i, 1),
                     .event_id = expired->Text(i, 2),
                     .owner = expired->Text(i, 3),
                     .lease_until_ms = expired->Int(i, 4)};
    // Conditional on the claim read above: of replicas reclaiming at once, one changes the row.
    auto r = db_->Exec(
        "UPDATE action_runs SET state='pending', next_attempt_at=0, owner='', lease_until=0, "
        "last_error=$4 WHERE id=$1 AND state='running' AND owner=$2 AND lease_until=$3",
        run.id, run.owner, run.lease_until_ms,
        "interrupted (its claim's lease ran out: the replica that ran it stopped or stalled); "
        "resumed");
    if (!r.ok()) {
      if (taken.empty()) return r.status();
      break;  // report what was taken; the next call retries the rest
    }
    if (r->affected() == 1) taken.push_back(std::move(run));
  }
  return taken;
}

Status Journal::Approve(int64_t id, std::string_view who, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE action_runs SET state='pending', decided_by=$2, next_attempt_at=0, "
      "updated_at=$3 WHERE id=$1 AND state='awaiting_approval' AND approval_deadline>$3",
      id, who, now_ms);
  if (!r.ok()) return r.status();
  if (r->affected() == 1) return Status::Ok();
  auto get = db_->Exec("SELECT state FROM action_runs WHERE id=$1", id);
  if (!get.ok()) return get.status();
  if (get->empty()) return engine::NotFound("no action run " + std::to_string(id));
  const std::string state = get->Text(0, 0);
  return engine::FailedPrecondition("action run " + std::to_string(id) + " is " + state +
                                    (state == "awaiting_approval"
                                         ? " but its approval time has passed"
                                         : ", not awaiting approval"));
}

Status Journal::Reject(int64_t id, std::string_view who, std::string_view reason, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE action_runs SET state='rejected', decided_by=$2, last_error=$3, updated_at=$4 "
      "WHERE id=$1 AND state='awaiting_approval'",
      id, who, Clean("rejected: " + std::string(reason), options_.max_output_bytes), now_ms);
  if (!r.ok()) return r.status();
  if (r->affected() == 1) return Status::Ok();
  auto get = db_->Exec("SELECT state FROM action_runs WHERE id=$1", id);
  if (!get.ok()) return get.status();
  if (get->empty()) return engine::NotFound("no action run " + std::to_string(id));
  return engine::FailedPrecondition("action run " + std::to_string(id) + " is " + get->Text(0, 0) +
                                    ", not awaiting approval");
}

Result<std::vector<ActionRun>> Journal::ExpireApprovals(int64_t now_ms) {
  base::MutexLock lock(mu_);
  // One statement that returns what it changed: of replicas expiring at once, each expired
  // run is returned to one of them, so it is escalated once.
  auto r = db_->Exec(std::string("UPDATE action_runs SET state='expired', "
                                 "last_error='approval not given in time', updated_at=$1 "
                                 "WHERE state='awaiting_approval' AND approval_deadline<=$1 "
                                 "RETURNING ") +
                         kColumns,
                     now_ms);
  if (!r.ok()) return r.status();
  std::vector<ActionRun> out = ReadRuns(*r);
  std::sort(out.begin(), out.end(),
            [](const ActionRun& a, const ActionRun& b) { return a.id < b.id; });
  return out;
}

Result<ActionRun> Journal::Get(int64_t id) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(std::string("SELECT ") + kColumns + " FROM action_runs WHERE id=$1", id);
  if (!r.ok()) return r.status();
  if (r->empty()) return engine::NotFound("no action run " + std::to_string(id));
  return ReadRun(*r, 0);
}

Result<std::vector<ActionRun>> Journal::List(std::optional<RunState> state, int limit) {
  const int64_t n = limit > 0 ? limit : INT64_MAX;
  base::MutexLock lock(mu_);
  auto r = state ? db_->Exec(std::string("SELECT ") + kColumns +
                                 " FROM action_runs WHERE state=$1 ORDER BY id DESC LIMIT $2",
                             StateName(*state), n)
                 : db_->Exec(std::string("SELECT ") + kColumns +
                                 " FROM action_runs ORDER BY id DESC LIMIT $1",
                             n);
  if (!r.ok()) return r.status();
  return ReadRuns(*r);
}

Result<std::vector<ActionRun>> Journal::Pending(int limit) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(std::string("SELECT ") + kColumns +
                         " FROM action_runs WHERE state='pending' ORDER BY id LIMIT $1",
                     static_cast<int64_t>(limit > 0 ? limit : INT64_MAX));
  if (!r.ok()) return r.status();
  return ReadRuns(*r);
}

Result<std::map<std::string, int64_t>> Journal::CountByState() {
  base::MutexLock lock(mu_);
  auto r = db_->Exec("SELECT state, COUNT(*) FROM action_runs GROUP BY state");
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> out;
  for (int i = 0; i < r->size(); ++i) out[r->Text(i, 0)] = r->Int(i, 1);
  return out;
}

Result<PruneResult> Journal::Prune(const JournalRetention& r, int64_t now_ms) {
  if (r.batch <= 0) return engine::InvalidArgument("journal: retention batch must be positive");
  PruneResult result;
  const int64_t protect_from = r.keep_recent_ms > 0 ? now_ms - r.keep_recent_ms : INT64_MAX;
  // One batch of finished, unprotected runs (oldest id first), last changed before
  // `changed_before`; returns how many were deleted. Each batch is its own statement, so
  // other writers interleave, and replicas pruning at once only delete rows once.
  auto delete_batch = [&](int64_t changed_before, int64_t limit) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    auto d = db_->Exec(
        "DELETE FROM action_runs WHERE id IN (SELECT id FROM action_runs "
        "WHERE state NOT IN ('pending','running','awaiting_approval') AND "
        "created_at < $1 AND updated_at < $2 ORDER BY id LIMIT $3)",
        protect_from, changed_before, limit);
    if (!d.ok()) return d.status();
    return d->affected();
  };
  auto count_rows = [&]() -> Result<int64_t> {
    base::MutexLock lock(mu_);
    auto c = db_->Exec("SELECT COUNT(*) FROM action_runs");
    if (!c.ok()) return c.status();
    return c->Int(0, 0);
  };
  if (r.max_age_ms > 0) {
    // Bounded: every round deletes a full batch or ends the loop.
    while (true) {
      auto n = delete_batch(now_ms - r.max_age_ms, r.batch);
      if (!n.ok()) return n.status();
      result.deleted += *n;
      if (*n < r.batch) break;
    }
  }
  auto rows = count_rows();
  if (!rows.ok()) return rows.status();
  if (r.max_runs > 0) {
    int64_t excess = *rows - r.max_runs;
    while (excess > 0) {
      auto n = delete_batch(INT64_MAX, std::min<int64_t>(excess, r.batch));
      if (!n.ok()) return n.status();
      result.deleted += *n;
      excess -= *n;
      if (*n == 0) break;  // only unfinished or protected runs are left
    }
    rows = count_rows();
    if (!rows.ok()) return rows.status();
  }
  result.kept = *rows;
  return result;
}

namespace {
std::string RunTime(int64_t ms) { return ms > 0 ? base::FormatRfc3339Millis(ms) : "-"; }
}  // namespace

std::string ActionRunStateJson(const ActionRun& r) {
  nlohmann::json j;
  j["state"] = StateName(r.state);
  j["decided_by"] = r.decided_by;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ActionRunJson(const ActionRun& r, bool full) {
  nlohmann::json j = {{"id", r.id},
                      {"state", std::string(StateName(r.state))},
                      {"action", r.key.action},
                      {"kind", r.kind},
                      {"event_id", r.key.event_id},
                      {"table", r.key.table},
                      {"row", r.key.row},
                      {"action_index", r.key.action_index},
                      {"attempts", r.attempts},
                      {"last_error", r.last_error},
                      {"created_at", RunTime(r.created_at_ms)},
                      {"updated_at", RunTime(r.updated_at_ms)}};
  if (r.state == RunState::kAwaitingApproval) {
    j["approval_deadline"] = RunTime(r.approval_deadline_ms);
  }
  if (!r.decided_by.empty()) j["decided_by"] = r.decided_by;
  if (!r.job_id.empty()) {  // the job a job-API preset started and followed
    j["job_id"] = r.job_id;
    j["job_url"] = r.job_url;
  }
  j["origin"] = std::string(OriginName(r.origin));
  if (!r.requested_by.empty()) j["requested_by"] = r.requested_by;
  if (r.retry_of != 0) j["retry_of"] = r.retry_of;
  if (full) {
    j["target"] = r.target;
    j["ruleset"] = r.ruleset;
    j["idempotency_key"] = IdempotencyKey(r);
    j["next_attempt_at"] = RunTime(r.next_attempt_at_ms);
    nlohmann::json req = nlohmann::json::parse(r.request, nullptr, false);
    j["request"] = req.is_discarded() ? nlohmann::json(r.request) : req;
    j["output"] = r.output;
    nlohmann::json ev = nlohmann::json::parse(r.event_json, nullptr, false);
    j["event"] = ev.is_discarded() ? nlohmann::json(r.event_json) : ev;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int JournalVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
