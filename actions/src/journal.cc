#include "reflex/actions/journal.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "sqlite_util.h"

namespace reflex::actions {

using engine::Result;
using engine::Status;

namespace {

constexpr const char* kSchema = R"sql(
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

constexpr const char* kColumns =
    "id, event_id, rule_table, row_id, action_index, action, kind, target, ruleset, state, "
    "attempts, next_attempt_at, last_error, output, request, event_json, decided_by, "
    "approval_deadline, created_at, updated_at, job_id, job_url, origin, requested_by, retry_of, "
    "idempotency_key";

// Columns added after the first release, with their definitions: added to older files.
constexpr std::pair<const char*, const char*> kAddedColumns[] = {
    {"job_id", "TEXT NOT NULL DEFAULT ''"},         {"job_url", "TEXT NOT NULL DEFAULT ''"},
    {"origin", "TEXT NOT NULL DEFAULT 'decision'"}, {"requested_by", "TEXT NOT NULL DEFAULT ''"},
    {"retry_of", "INTEGER NOT NULL DEFAULT 0"},     {"idempotency_key", "TEXT NOT NULL DEFAULT ''"},
};

// States that count as "it ran" for throttling and suppression.
constexpr const char* kCountedStates =
    "('pending','running','succeeded','failed','awaiting_approval')";

Status SqlError(sqlite3* db, std::string_view what) {
  return sqlite::SqlError(db, "journal", what);
}

using sqlite::Stmt;

ActionRun ReadRun(Stmt& s) {
  ActionRun r;
  r.id = s.Int(0);
  r.key.event_id = s.Text(1);
  r.key.table = s.Text(2);
  r.key.row = s.Text(3);
  r.key.action_index = static_cast<int>(s.Int(4));
  r.key.action = s.Text(5);
  r.kind = s.Text(6);
  r.target = s.Text(7);
  r.ruleset = s.Text(8);
  r.state = ParseState(s.Text(9)).value_or(RunState::kFailed);
  r.attempts = static_cast<int>(s.Int(10));
  r.next_attempt_at_ms = s.Int(11);
  r.last_error = s.Text(12);
  r.output = s.Text(13);
  r.request = s.Text(14);
  r.event_json = s.Text(15);
  r.decided_by = s.Text(16);
  r.approval_deadline_ms = s.Int(17);
  r.created_at_ms = s.Int(18);
  r.updated_at_ms = s.Int(19);
  r.job_id = s.Text(20);
  r.job_url = s.Text(21);
  r.origin = kRunOriginNames.Parse(s.Text(22)).value_or(RunOrigin::kDecision);
  r.requested_by = s.Text(23);
  r.retry_of = s.Int(24);
  r.idempotency_key = s.Text(25);
  return r;
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
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return engine::Unavailable("journal: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<Journal> j(new Journal(db, options));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // Switching to WAL and creating tables need locks that busy_timeout does not always wait
  // for (another process may be opening the same file): retry for up to busy_timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
  while (true) {
    Status s = j->Exec("PRAGMA journal_mode=WAL");
    if (s.ok()) s = j->Exec(base::SqliteSynchronousPragma(options.durability));
    if (s.ok()) s = j->Exec(kSchema);
    if (s.ok()) s = j->AddMissingColumns();
    if (s.ok()) break;
    int code = sqlite3_errcode(db) & 0xff;
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (options.recover) {
    Stmt st(db,
            "UPDATE action_runs SET state='pending', next_attempt_at=0, "
            "last_error='interrupted (the process stopped while it ran); resumed' "
            "WHERE state='running'");
    if (!st.ok()) return SqlError(db, "recover");
    if (st.Step() != SQLITE_DONE) return SqlError(db, "recover");
    j->recovered_ = sqlite3_changes(db);
  }
  return j;
}

Journal::~Journal() { sqlite3_close(db_); }

int Journal::SynchronousLevel() const { return sqlite::SynchronousLevel(db_); }

Status Journal::AddMissingColumns() {
  // One transaction with the write lock: two processes opening an older file at once add
  // each column once.
  sqlite::Transaction tx(db_, "journal");
  if (Status s = tx.Begin(); !s.ok()) return s;
  std::set<std::string> have;
  {
    Stmt info(db_, "PRAGMA table_info(action_runs)");
    int rc;
    while ((rc = info.Step()) == SQLITE_ROW) have.insert(info.Text(1));
    if (rc != SQLITE_DONE) return SqlError(db_, "table_info");
  }
  for (const auto& [name, definition] : kAddedColumns) {
    if (have.count(name) != 0) continue;
    const std::string sql =
        std::string("ALTER TABLE action_runs ADD COLUMN ") + name + " " + definition;
    if (Status s = Exec(sql.c_str()); !s.ok()) return s;
  }
  return tx.Commit();
}

Status Journal::Exec(const char* sql) {
  std::string msg;
  if (!sqlite::ExecSql(db_, sql, &msg)) return engine::Internal("journal: " + msg);
  return Status::Ok();
}

Result<EnqueueResult> Journal::Enqueue(const NewRun& run, int64_t now_ms,
                                       const std::vector<EnqueueLimit>& limits) {
  base::MutexLock lock(mu_);
  sqlite::Transaction tx(db_, "journal");
  if (Status s = tx.Begin(); !s.ok()) return s;
  EnqueueResult result;
  {
    Stmt find(db_,
              "SELECT id, state FROM action_runs WHERE event_id=?1 AND rule_table=?2 AND "
              "row_id=?3 AND action_index=?4 AND action=?5");
    find.Bind(1, run.key.event_id).Bind(2, run.key.table).Bind(3, run.key.row);
    find.Bind(4, static_cast<int64_t>(run.key.action_index)).Bind(5, run.key.action);
    int rc = find.Step();
    if (rc == SQLITE_ROW) {
      result.id = find.Int(0);
      result.state = ParseState(find.Text(1)).value_or(RunState::kFailed);
      return result;  // already journaled: nothing to change (rolled back)
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "enqueue lookup");
  }
  RunState state = run.state;
  std::string error = run.last_error;
  if (state == RunState::kPending || state == RunState::kAwaitingApproval) {
    for (const EnqueueLimit& l : limits) {
      std::string sql = std::string("SELECT COUNT(*) FROM action_runs WHERE action=?1 AND ") +
                        (l.suppress_column ? "suppress_key" : "throttle_key") +
                        "=?2 AND created_at>=?3 AND state IN " + kCountedStates;
      Stmt count(db_, sql.c_str());
      count.Bind(1, run.key.action)
          .Bind(2, l.suppress_column ? run.suppress_key : run.throttle_key)
          .Bind(3, l.since_ms);
      if (count.Step() != SQLITE_ROW) return SqlError(db_, "enqueue count");
      int64_t n = count.Int(0);
      if (n >= l.max_count) {
        state = l.state_if_over;
        error = std::string(StateName(state)) + ": already ran " + std::to_string(n) +
                " time(s) within the window for this key";
        break;
      }
    }
  }
  Stmt ins(db_,
           "INSERT INTO action_runs (event_id, rule_table, row_id, action_index, action, kind, "
           "target, ruleset, state, request, event_json, throttle_key, suppress_key, "
           "approval_deadline, last_error, created_at, updated_at, origin, requested_by, retry_of, "
           "idempotency_key) VALUES "
           "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?16,?17,?18,?19,?20)");
  if (!ins.ok()) return SqlError(db_, "enqueue prepare");
  ins.Bind(1, run.key.event_id).Bind(2, run.key.table).Bind(3, run.key.row);
  ins.Bind(4, static_cast<int64_t>(run.key.action_index)).Bind(5, run.key.action);
  ins.Bind(6, run.kind).Bind(7, run.target).Bind(8, run.ruleset).Bind(9, StateName(state));
  ins.Bind(10, run.request).Bind(11, run.event_json);
  if (run.throttle_key.empty()) {
    ins.BindNull(12);
  } else {
    ins.Bind(12, run.throttle_key);
  }
  if (run.suppress_key.empty()) {
    ins.BindNull(13);
  } else {
    ins.Bind(13, run.suppress_key);
  }
  ins.Bind(14, run.approval_deadline_ms).Bind(15, base::CutUtf8(error, options_.max_output_bytes));
  ins.Bind(16, now_ms).Bind(17, OriginName(run.origin)).Bind(18, run.requested_by);
  ins.Bind(19, run.retry_of).Bind(20, run.idempotency_key);
  if (ins.Step() != SQLITE_DONE) return SqlError(db_, "enqueue insert");
  result.id = sqlite3_last_insert_rowid(db_);
  result.inserted = true;
  result.state = state;
  if (Status s = tx.Commit(); !s.ok()) return s;
  return result;
}

Result<bool> Journal::MarkRunning(int64_t id, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "UPDATE action_runs SET state='running', attempts=attempts+1, updated_at=?2 "
          "WHERE id=?1 AND state='pending'");
  st.Bind(1, id).Bind(2, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "mark running");
  return sqlite3_changes(db_) == 1;
}

Status Journal::Update(int64_t id, const char* state, std::string_view error,
                       std::string_view output, int64_t next_at, int64_t now_ms,
                       const char* expect_state) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "UPDATE action_runs SET state=?2, last_error=?3, output=?4, next_attempt_at=?5, "
          "updated_at=?6 WHERE id=?1 AND state=?7");
  st.Bind(1, id).Bind(2, std::string_view(state));
  st.Bind(3, base::CutUtf8(error, options_.max_output_bytes));
  st.Bind(4, base::CutUtf8(output, options_.max_output_bytes));
  st.Bind(5, next_at).Bind(6, now_ms).Bind(7, std::string_view(expect_state));
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "update");
  if (sqlite3_changes(db_) != 1) {
    return engine::FailedPrecondition("journal: run " + std::to_string(id) + " is not " +
                                      expect_state);
  }
  return Status::Ok();
}

Status Journal::MarkSucceeded(int64_t id, std::string_view output, int64_t now_ms) {
  return Update(id, "succeeded", "", output, 0, now_ms, "running");
}

Status Journal::SetJob(int64_t id, std::string_view job_id, std::string_view job_url,
                       int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "UPDATE action_runs SET job_id=?2, job_url=?3, updated_at=?4 "
          "WHERE id=?1 AND state='running'");
  st.Bind(1, id).Bind(2, base::CutUtf8(job_id, 1024)).Bind(3, base::CutUtf8(job_url, 4096));
  st.Bind(4, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "set job");
  if (sqlite3_changes(db_) != 1) {
    return engine::FailedPrecondition("journal: run " + std::to_string(id) + " is not running");
  }
  return Status::Ok();
}

Status Journal::MarkRetry(int64_t id, std::string_view error, std::string_view output,
                          int64_t next_attempt_at_ms, int64_t now_ms) {
  return Update(id, "pending", error, output, next_attempt_at_ms, now_ms, "running");
}

Status Journal::MarkFailed(int64_t id, std::string_view error, std::string_view output,
                           int64_t now_ms) {
  return Update(id, "failed", error, output, 0, now_ms, "running");
}

Status Journal::Approve(int64_t id, std::string_view who, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "UPDATE action_runs SET state='pending', decided_by=?2, next_attempt_at=0, "
          "updated_at=?3 WHERE id=?1 AND state='awaiting_approval' AND approval_deadline>?3");
  st.Bind(1, id).Bind(2, who).Bind(3, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "approve");
  if (sqlite3_changes(db_) == 1) return Status::Ok();
  Stmt get(db_, "SELECT state FROM action_runs WHERE id=?1");
  get.Bind(1, id);
  if (get.Step() != SQLITE_ROW) return engine::NotFound("no action run " + std::to_string(id));
  return engine::FailedPrecondition("action run " + std::to_string(id) + " is " + get.Text(0) +
                                    (get.Text(0) == "awaiting_approval"
                                         ? " but its approval time has passed"
                                         : ", not awaiting approval"));
}

Status Journal::Reject(int64_t id, std::string_view who, std::string_view reason, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "UPDATE action_runs SET state='rejected', decided_by=?2, last_error=?3, updated_at=?4 "
          "WHERE id=?1 AND state='awaiting_approval'");
  st.Bind(1, id).Bind(2, who).Bind(3, "rejected: " + std::string(reason)).Bind(4, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "reject");
  if (sqlite3_changes(db_) == 1) return Status::Ok();
  Stmt get(db_, "SELECT state FROM action_runs WHERE id=?1");
  get.Bind(1, id);
  if (get.Step() != SQLITE_ROW) return engine::NotFound("no action run " + std::to_string(id));
  return engine::FailedPrecondition("action run " + std::to_string(id) + " is " + get.Text(0) +
                                    ", not awaiting approval");
}

Result<std::vector<ActionRun>> Journal::ExpireApprovals(int64_t now_ms) {
  base::MutexLock lock(mu_);
  sqlite::Transaction tx(db_, "journal");
  if (Status s = tx.Begin(); !s.ok()) return s;
  std::vector<ActionRun> out;
  {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM action_runs WHERE state='awaiting_approval' AND "
                      "approval_deadline<=?1 ORDER BY id";
    Stmt sel(db_, sql.c_str());
    sel.Bind(1, now_ms);
    int rc;
    while ((rc = sel.Step()) == SQLITE_ROW) out.push_back(ReadRun(sel));
    if (rc != SQLITE_DONE) return SqlError(db_, "expire select");
  }
  if (out.empty()) return out;
  Stmt up(db_,
          "UPDATE action_runs SET state='expired', last_error='approval not given in time', "
          "updated_at=?1 WHERE state='awaiting_approval' AND approval_deadline<=?1");
  up.Bind(1, now_ms);
  if (up.Step() != SQLITE_DONE) return SqlError(db_, "expire update");
  if (Status s = tx.Commit(); !s.ok()) return s;
  for (auto& r : out) {
    r.state = RunState::kExpired;
    r.last_error = "approval not given in time";
  }
  return out;
}

Result<ActionRun> Journal::Get(int64_t id) {
  base::MutexLock lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM action_runs WHERE id=?1";
  Stmt st(db_, sql.c_str());
  st.Bind(1, id);
  int rc = st.Step();
  if (rc == SQLITE_ROW) return ReadRun(st);
  if (rc == SQLITE_DONE) return engine::NotFound("no action run " + std::to_string(id));
  return SqlError(db_, "get");
}

Result<std::vector<ActionRun>> Journal::List(std::optional<RunState> state, int limit) {
  base::MutexLock lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM action_runs" +
                    (state ? " WHERE state=?1" : "") + " ORDER BY id DESC LIMIT ?2";
  Stmt st(db_, sql.c_str());
  if (state) st.Bind(1, StateName(*state));
  st.Bind(2, static_cast<int64_t>(limit > 0 ? limit : -1));
  std::vector<ActionRun> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadRun(st));
  if (rc != SQLITE_DONE) return SqlError(db_, "list");
  return out;
}

Result<std::vector<ActionRun>> Journal::Pending(int limit) {
  base::MutexLock lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM action_runs WHERE state='pending' ORDER BY id LIMIT ?1";
  Stmt st(db_, sql.c_str());
  st.Bind(1, static_cast<int64_t>(limit > 0 ? limit : -1));
  std::vector<ActionRun> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadRun(st));
  if (rc != SQLITE_DONE) return SqlError(db_, "pending");
  return out;
}

Result<std::map<std::string, int64_t>> Journal::CountByState() {
  base::MutexLock lock(mu_);
  Stmt st(db_, "SELECT state, COUNT(*) FROM action_runs GROUP BY state");
  std::map<std::string, int64_t> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out[st.Text(0)] = st.Int(1);
  if (rc != SQLITE_DONE) return SqlError(db_, "count");
  return out;
}

Result<PruneResult> Journal::Prune(const JournalRetention& r, int64_t now_ms) {
  if (r.batch <= 0) return engine::InvalidArgument("journal: retention batch must be positive");
  PruneResult result;
  const int64_t protect_from = r.keep_recent_ms > 0 ? now_ms - r.keep_recent_ms : INT64_MAX;
  // One batch of finished, unprotected runs (oldest id first) selected by `extra`; returns
  // how many were deleted. Each batch is its own transaction, so other writers interleave.
  auto delete_batch = [&](const char* extra, int64_t arg, int64_t limit) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    std::string sql = std::string(
                          "DELETE FROM action_runs WHERE id IN (SELECT id FROM action_runs "
                          "WHERE state NOT IN ('pending','running','awaiting_approval') AND "
                          "created_at < ?1 AND ") +
                      extra + " ORDER BY id LIMIT ?3)";
    Stmt st(db_, sql.c_str());
    st.Bind(1, protect_from).Bind(2, arg).Bind(3, limit);
    if (st.Step() != SQLITE_DONE) return SqlError(db_, "prune");
    return static_cast<int64_t>(sqlite3_changes(db_));
  };
  auto count_rows = [&]() -> Result<int64_t> {
    base::MutexLock lock(mu_);
    Stmt st(db_, "SELECT count(*) FROM action_runs");
    if (st.Step() != SQLITE_ROW) return SqlError(db_, "prune count");
    return st.Int(0);
  };
  if (r.max_age_ms > 0) {
    // Bounded: every round deletes a full batch or ends the loop.
    while (true) {
      auto n = delete_batch("updated_at < ?2", now_ms - r.max_age_ms, r.batch);
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
      auto n = delete_batch("?2 = ?2", 0, std::min<int64_t>(excess, r.batch));
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
