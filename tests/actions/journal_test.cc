// The SQLite journal on a real file: idempotent enqueue, state transitions, crash recovery,
// approvals, rate limits, listing, and sharing the file with other tables.
#include "reflex/actions/journal.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "exec_test_util.h"

namespace reflex::actions {
namespace {

NewRun MakeRun(const std::string& event, const std::string& action = "clean", int index = 0) {
  NewRun r;
  r.key = RunKey{event, "disk", "disk-tmp", index, action};
  r.kind = "command";
  r.target = "/bin/echo";
  r.ruleset = "v-1";
  r.request = R"({"argv":["/bin/echo"]})";
  r.event_json = R"({"id":")" + event + R"("})";
  return r;
}

TEST(JournalTest, EnqueueIsIdempotent) {
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  auto a = (*j)->Enqueue(MakeRun("e1"), 1000);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->inserted);
  auto b = (*j)->Enqueue(MakeRun("e1"), 2000);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->inserted);
  EXPECT_EQ(b->id, a->id);
  auto c = (*j)->Enqueue(MakeRun("e1", "clean", 1), 2000);  // another action index: a new run
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->inserted);
  auto all = (*j)->List(std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto got = (*j)->Get(a->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key.event_id, "e1");
  EXPECT_EQ(got->key.table, "disk");
  EXPECT_EQ(got->ruleset, "v-1");
  EXPECT_EQ(got->request, R"({"argv":["/bin/echo"]})");
  EXPECT_EQ(got->created_at_ms, 1000);
  EXPECT_EQ(got->state, RunState::kPending);
}

TEST(JournalTest, TransitionsAndClaims) {
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  int64_t id = (*j)->Enqueue(MakeRun("e1"), 1)->id;
  EXPECT_TRUE(*(*j)->MarkRunning(id, 2));
  EXPECT_FALSE(*(*j)->MarkRunning(id, 2));  // already claimed
  ASSERT_TRUE((*j)->MarkRetry(id, "HTTP 500", "body", 500, 3).ok());
  auto r = (*j)->Get(id);
  EXPECT_EQ(r->state, RunState::kPending);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->next_attempt_at_ms, 500);
  EXPECT_EQ(r->last_error, "HTTP 500");
  EXPECT_TRUE(*(*j)->MarkRunning(id, 4));
  ASSERT_TRUE((*j)->MarkSucceeded(id, "done", 5).ok());
  r = (*j)->Get(id);
  EXPECT_EQ(r->state, RunState::kSucceeded);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->output, "done");
  EXPECT_EQ(r->updated_at_ms, 5);
  EXPECT_FALSE(*(*j)->MarkRunning(id, 6));  // succeeded never runs again
  EXPECT_EQ((*j)->MarkFailed(id, "x", "", 7).code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*j)->Get(999).status().code(), engine::StatusCode::kNotFound);
}

TEST(JournalTest, ReopenResumesRunningRows) {
  test::TempDir dir;
  int64_t running, done;
  {
    auto j = Journal::Open(dir.File("r.db"));
    ASSERT_TRUE(j.ok());
    running = (*j)->Enqueue(MakeRun("e1"), 1)->id;
    done = (*j)->Enqueue(MakeRun("e2"), 1)->id;
    ASSERT_TRUE(*(*j)->MarkRunning(running, 2));
    ASSERT_TRUE(*(*j)->MarkRunning(done, 2));
    ASSERT_TRUE((*j)->MarkSucceeded(done, "", 3).ok());
    // No clean shutdown: the row stays running, as after a crash.
  }
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)->recovered(), 1);
  auto r = (*j)->Get(running);
  EXPECT_EQ(r->state, RunState::kPending);
  EXPECT_EQ(r->attempts, 1);  // the interrupted attempt stays counted
  EXPECT_NE(r->last_error.find("interrupted"), std::string::npos);
  EXPECT_EQ((*j)->Get(done)->state, RunState::kSucceeded);
  auto pending = (*j)->Pending();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, running);
}

TEST(JournalTest, ApprovalsApproveRejectExpire) {
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  NewRun a = MakeRun("e1");
  a.state = RunState::kAwaitingApproval;
  a.approval_deadline_ms = 1000;
  NewRun b = MakeRun("e2");
  b.state = RunState::kAwaitingApproval;
  b.approval_deadline_ms = 1000;
  NewRun c = MakeRun("e3");
  c.state = RunState::kAwaitingApproval;
  c.approval_deadline_ms = 1000;
  int64_t ia = (*j)->Enqueue(a, 0)->id, ib = (*j)->Enqueue(b, 0)->id, ic = (*j)->Enqueue(c, 0)->id;
  EXPECT_FALSE(*(*j)->MarkRunning(ia, 1));  // not runnable before approval
  ASSERT_TRUE((*j)->Approve(ia, "alice", 10).ok());
  EXPECT_EQ((*j)->Get(ia)->state, RunState::kPending);
  EXPECT_EQ((*j)->Get(ia)->decided_by, "alice");
  EXPECT_EQ((*j)->Approve(ia, "bob", 11).code(), engine::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*j)->Reject(ib, "bob", "not now", 12).ok());
  EXPECT_EQ((*j)->Get(ib)->state, RunState::kRejected);
  EXPECT_EQ((*j)->Get(ib)->last_error, "rejected: not now");
  EXPECT_EQ((*j)->Approve(12345, "x", 13).code(), engine::StatusCode::kNotFound);
  EXPECT_EQ((*j)->Reject(12345, "x", "y", 13).code(), engine::StatusCode::kNotFound);
  EXPECT_TRUE((*j)->ExpireApprovals(999)->empty());
  auto expired = (*j)->ExpireApprovals(1000);
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].id, ic);
  EXPECT_EQ((*j)->Get(ic)->state, RunState::kExpired);
  EXPECT_EQ((*j)->Approve(ic, "late", 1001).code(), engine::StatusCode::kFailedPrecondition);
}

TEST(JournalTest, RateLimitsCountRecentRunsPerKey) {
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  auto limited = [&](const std::string& ev, const std::string& key, int64_t now) {
    NewRun r = MakeRun(ev);
    r.suppress_key = key;
    return (*j)->Enqueue(r, now, {EnqueueLimit{true, now - 999, 2, RunState::kSuppressed}})->state;
  };
  EXPECT_EQ(limited("e1", "a", 0), RunState::kPending);
  EXPECT_EQ(limited("e2", "a", 10), RunState::kPending);
  EXPECT_EQ(limited("e3", "a", 20), RunState::kSuppressed);
  EXPECT_EQ(limited("e4", "b", 20), RunState::kPending);     // another key
  EXPECT_EQ(limited("e5", "a", 30), RunState::kSuppressed);  // suppressed ones do not count up
  EXPECT_EQ(limited("e6", "a", 1005), RunState::kPending);   // e1 left the window
  auto counts = (*j)->CountByState();
  EXPECT_EQ((*counts)["suppressed"], 2);
  EXPECT_EQ((*counts)["pending"], 4);
  auto list = (*j)->List(RunState::kSuppressed);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key.event_id, "e5");  // newest first
}

TEST(JournalTest, SharesTheFileWithOtherTables) {
  test::TempDir dir;
  std::string path = dir.File("r.db");
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "CREATE TABLE escalations (id INTEGER PRIMARY KEY, x TEXT)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto j = Journal::Open(path);
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE((*j)->Enqueue(MakeRun("e1"), 1)->inserted);
  EXPECT_EQ(
      sqlite3_exec(other, "INSERT INTO escalations (x) VALUES ('y')", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ((*j)->List(std::nullopt)->size(), 1u);
}

TEST(JournalTest, OpenFailsClearly) {
  auto j = Journal::Open("/nonexistent/dir/r.db");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("/nonexistent/dir/r.db"), std::string::npos);
}

}  // namespace
}  // namespace reflex::actions

namespace reflex::actions {
namespace {

// Rows per state, through the journal.
int64_t Count(Journal& j, RunState s) {
  auto c = j.CountByState();
  EXPECT_TRUE(c.ok());
  auto it = c->find(std::string(StateName(s)));
  return it == c->end() ? 0 : it->second;
}

// Runs `n` new events to a final state at `at_ms`; returns their ids.
std::vector<int64_t> Finished(Journal& j, const std::string& prefix, int n, int64_t at_ms) {
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i) {
    auto r = j.Enqueue(MakeRun(prefix + std::to_string(i)), at_ms);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(*j.MarkRunning(r->id, at_ms));
    EXPECT_TRUE(
        (i % 2 ? j.MarkSucceeded(r->id, "ok", at_ms) : j.MarkFailed(r->id, "boom", "", at_ms))
            .ok());
    ids.push_back(r->id);
  }
  return ids;
}

TEST(JournalTest, RetentionDeletesOnlyFinishedRunsByAgeAndCount) {
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  const int64_t day = 24 * 3600 * 1000LL;
  // Old: 10 finished, 1 pending, 1 running, 1 awaiting approval (all from day 0).
  auto old_done = Finished(**j, "old", 10, 0);
  ASSERT_TRUE((*j)->Enqueue(MakeRun("old-pending"), 0).ok());
  int64_t running = (*j)->Enqueue(MakeRun("old-running"), 0)->id;
  ASSERT_TRUE(*(*j)->MarkRunning(running, 0));
  NewRun gated = MakeRun("old-gated");
  gated.state = RunState::kAwaitingApproval;
  gated.approval_deadline_ms = 100 * day;
  ASSERT_TRUE((*j)->Enqueue(gated, 0).ok());
  // Recent: 10 finished on day 40.
  auto new_done = Finished(**j, "new", 10, 40 * day);

  auto by_age = (*j)->Prune({.max_age_ms = 30 * day, .max_runs = 0, .batch = 4}, 41 * day);
  ASSERT_TRUE(by_age.ok()) << by_age.status().ToString();
  EXPECT_EQ(by_age->deleted, 10);
  EXPECT_EQ(by_age->kept, 13);
  for (int64_t id : old_done)
    EXPECT_EQ((*j)->Get(id).status().code(), engine::StatusCode::kNotFound);
  EXPECT_EQ(Count(**j, RunState::kPending), 1);
  EXPECT_EQ(Count(**j, RunState::kRunning), 1);
  EXPECT_EQ(Count(**j, RunState::kAwaitingApproval), 1);

  // The cap: 5 rows at most, but the three unfinished runs never go: 2 finished stay, the
  // newest ones.
  auto by_count = (*j)->Prune({.max_age_ms = 0, .max_runs = 5, .batch = 3}, 41 * day);
  ASSERT_TRUE(by_count.ok()) << by_count.status().ToString();
  EXPECT_EQ(by_count->deleted, 8);
  EXPECT_EQ(by_count->kept, 5);
  EXPECT_TRUE((*j)->Get(new_done[8]).ok());
  EXPECT_TRUE((*j)->Get(new_done[9]).ok());
  EXPECT_EQ((*j)->Get(new_done[7]).status().code(), engine::StatusCode::kNotFound);

  // A cap below the unfinished runs deletes none of them.
  auto floor = (*j)->Prune({.max_age_ms = 0, .max_runs = 1}, 41 * day);
  ASSERT_TRUE(floor.ok());
  EXPECT_EQ(floor->deleted, 2);
  EXPECT_EQ(floor->kept, 3);
  EXPECT_EQ(Count(**j, RunState::kPending) + Count(**j, RunState::kRunning) +
                Count(**j, RunState::kAwaitingApproval),
            3);
}

TEST(JournalTest, RetentionKeepsRunsInsideTheRateLimitWindow) {
  // Throttling counts runs created within its window: those are never pruned, or a throttled
  // action would run again early.
  test::TempDir dir;
  auto j = Journal::Open(dir.File("r.db"));
  ASSERT_TRUE(j.ok());
  Finished(**j, "a", 6, 1000);
  auto r = (*j)->Prune({.max_age_ms = 0, .max_runs = 1, .keep_recent_ms = 5000}, 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deleted, 0);
  EXPECT_EQ(r->kept, 6);
  r = (*j)->Prune({.max_age_ms = 0, .max_runs = 1, .keep_recent_ms = 5000}, 7000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deleted, 5);
  EXPECT_EQ(r->kept, 1);
}

TEST(JournalTest, DurabilityChoosesTheSynchronousLevel) {
  test::TempDir dir;
  auto normal = Journal::Open(dir.File("normal.db"));
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  EXPECT_EQ((*normal)->SynchronousLevel(), 1);  // NORMAL
  auto full = Journal::Open(dir.File("full.db"), {.durability = base::Durability::kFsync});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ((*full)->SynchronousLevel(), 2);  // FULL
  ASSERT_TRUE((*full)->Enqueue(MakeRun("e1"), 1).ok());
}

}  // namespace
}  // namespace reflex::actions

namespace reflex::actions {
namespace {

// A journal file written before runs had an origin: opening it adds the columns (its rows
// read as decisions) and new runs with an origin can be journaled in it.
TEST(JournalTest, AnOlderFileGainsTheOriginColumnsAndKeepsItsRows) {
  test::TempDir dir;
  const std::string path = dir.File("old.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* old_schema =
      "CREATE TABLE action_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, "
      "rule_table TEXT NOT NULL, row_id TEXT NOT NULL, action_index INTEGER NOT NULL, action "
      "TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', ruleset TEXT NOT "
      "NULL DEFAULT '', state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
      "next_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', output "
      "TEXT NOT NULL DEFAULT '', request TEXT NOT NULL DEFAULT '', event_json TEXT NOT NULL "
      "DEFAULT '', throttle_key TEXT, suppress_key TEXT, decided_by TEXT NOT NULL DEFAULT '', "
      "approval_deadline INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at "
      "INTEGER NOT NULL, UNIQUE (event_id, rule_table, row_id, action_index, action));"
      "INSERT INTO action_runs (event_id, rule_table, row_id, action_index, action, kind, "
      "state, attempts, created_at, updated_at) VALUES "
      "('e0','disk','disk-tmp',0,'clean','command','failed',1,5,6);";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  for (int open = 0; open < 2; ++open) {  // the second open finds the columns there
    auto j = Journal::Open(path);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    auto old = (*j)->Get(1);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    EXPECT_EQ(old->state, RunState::kFailed);
    EXPECT_EQ(old->origin, RunOrigin::kDecision);
    EXPECT_EQ(old->retry_of, 0);
  }
  auto j = Journal::Open(path);
  ASSERT_TRUE(j.ok());
  NewRun retry = MakeRun("e0#retry-of-1");
  retry.origin = RunOrigin::kRetry;
  retry.requested_by = "alice";
  retry.retry_of = 1;
  auto queued = (*j)->Enqueue(retry, 10);
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  auto got = (*j)->Get(queued->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->origin, RunOrigin::kRetry);
  EXPECT_EQ(got->requested_by, "alice");
  EXPECT_EQ(got->retry_of, 1);
}

}  // namespace
}  // namespace reflex::actions
