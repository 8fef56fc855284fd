// The journal in the store suite: the same tests on a SQLite file and on a real PostgreSQL
// (store_suite.h). Besides the single-process behaviour (journal_test.cc has the rest on
// SQLite), what replicas sharing one database need: one run per idempotency key when two
// enqueue it at once, one claimant per run, a dead replica's runs resumed after its lease,
// a stalled replica kept from overwriting a run taken over, approval expiry reported once,
// rate limits counted across replicas, and a duty (retention) held by one replica at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "migrate.h"
#include "reflex/actions/duty_lock.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/retention.h"
#include "reflex/engine/clock.h"
#include "store_suite.h"

namespace reflex::actions::test {
namespace {

using engine::StatusCode;

NewRun NewRunFor(const std::string& event, const std::string& action = "restart") {
  NewRun r;
  r.key = RunKey{event, "disk", "disk-full", 0, action};
  r.kind = "command";
  r.target = "/bin/true";
  r.ruleset = "v-1";
  r.request = R"({"argv":["/bin/true"]})";
  r.event_json = R"({"id":")" + event + R"("})";
  return r;
}

// Polls `done` for up to 10 s.
template <typename F>
bool WaitFor(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A journal on the suite's database, as one replica opens it.
std::unique_ptr<Journal> OpenJournal(const StoreBackend& b, JournalOptions o = {}) {
  auto j = Journal::Open(b.store(), b.sqlite_path(), std::move(o));
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? std::move(*j) : nullptr;
}

TEST_P(StoreSuite, JournalRunsTheSameLifecycleOnBothDatabases) {
  auto j = OpenJournal(*backend_, {.owner = "replica-a"});
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->owner(), "replica-a");
  auto a = j->Enqueue(NewRunFor("e1"), 1000);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->inserted);
  auto again = j->Enqueue(NewRunFor("e1"), 2000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->inserted);
  EXPECT_EQ(again->id, a->id);

  ASSERT_TRUE(*j->MarkRunning(a->id, 1100));
  EXPECT_FALSE(*j->MarkRunning(a->id, 1100)) << "claimed already";
  auto running = j->Get(a->id);
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->state, RunState::kRunning);
  EXPECT_EQ(running->owner, "replica-a");
  EXPECT_EQ(running->lease_until_ms, 1100 + j->lease_ms());
  EXPECT_EQ(running->attempts, 1);
  ASSERT_TRUE(j->SetJob(a->id, "job-7", "http://127.0.0.1/jobs/7", 1150).ok());
  // A command's output may hold any bytes: NUL and bytes that are not UTF-8 are replaced.
  ASSERT_TRUE(j->MarkSucceeded(a->id, std::string("ok\0\xff!", 5), 1200).ok());
  auto done = j->Get(a->id);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, RunState::kSucceeded);
  EXPECT_EQ(done->output, "ok\xEF\xBF\xBD\xEF\xBF\xBD!");
  EXPECT_EQ(done->job_id, "job-7");
  EXPECT_EQ(done->owner, "") << "a finished run is nobody's claim";

  NewRun gated = NewRunFor("e2");
  gated.state = RunState::kAwaitingApproval;
  gated.approval_deadline_ms = 5000;
  auto g = j->Enqueue(gated, 1000);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  NewRun gated2 = NewRunFor("e3");
  gated2.state = RunState::kAwaitingApproval;
  gated2.approval_deadline_ms = 5000;
  auto g2 = j->Enqueue(gated2, 1000);
  ASSERT_TRUE(g2.ok());
  ASSERT_TRUE(j->Approve(g->id, "alice", 2000).ok());
  EXPECT_EQ(j->Approve(g->id, "alice", 2000).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(j->Approve(999999, "alice", 2000).code(), StatusCode::kNotFound);
  auto expired = j->ExpireApprovals(6000);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].id, g2->id);
  EXPECT_EQ((*expired)[0].state, RunState::kExpired);

  auto pending = j->Pending();
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, g->id);
  auto counts = j->CountByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["succeeded"], 1);
  EXPECT_EQ((*counts)["expired"], 1);
  auto listed = j->List(RunState::kSucceeded, 10);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  auto pruned = j->Prune({.max_age_ms = 1}, 100000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->deleted, 2) << "the succeeded and the expired run";
  EXPECT_EQ(pruned->kept, 1);

  auto db = Connect();
  auto v = sql::AppliedVersion(*db, "journal");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 2);
}

TEST_P(StoreSuite, TwoReplicasEnqueueingTheSameDecisionsJournalOneRunEach) {
  auto a = OpenJournal(*backend_);
  auto b = OpenJournal(*backend_);
  ASSERT_TRUE(a && b);
  constexpr int kRuns = 60;
  std::vector<int64_t> ids_a(kRuns), ids_b(kRuns);
  std::atomic<int> errors{0};
  // Both enqueue each key at the same moment (a decision redelivered to a second replica).
  std::barrier together(2);
  auto enqueue = [&](Journal& j, std::vector<int64_t>& ids) {
    for (int i = 0; i < kRuns; ++i) {
      together.arrive_and_wait();
      auto r = j.Enqueue(NewRunFor("e" + std::to_string(i)), 1000 + i);
      if (!r.ok()) {
        ++errors;
        ADD_FAILURE() << r.status().ToString();
        continue;
      }
      ids[static_cast<size_t>(i)] = r->id;
    }
  };
  std::thread ta([&] { enqueue(*a, ids_a); });
  std::thread tb([&] { enqueue(*b, ids_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ids_a, ids_b) << "both replicas got the one run of each key";
  auto db = Connect();
  EXPECT_EQ(Count(*db, "action_runs"), kRuns);
}

TEST_P(StoreSuite, OfTwoReplicasClaimingRunsEachRunIsClaimedOnce) {
  auto a = OpenJournal(*backend_, {.owner = "a"});
  auto b = OpenJournal(*backend_, {.owner = "b"});
  ASSERT_TRUE(a && b);
  constexpr int kRuns = 80;
  for (int i = 0; i < kRuns; ++i)
    ASSERT_TRUE(a->Enqueue(NewRunFor("e" + std::to_string(i)), 1).ok());
  std::vector<int64_t> got_a, got_b;
  // As the executors do: read the pending runs, claim each; both see every run.
  auto claim = [](Journal& j, std::vector<int64_t>& got) {
    auto pending = j.Pending();
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    for (const ActionRun& r : *pending) {
      auto c = j.MarkRunning(r.id, 10);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      if (*c) got.push_back(r.id);
    }
  };
  std::thread ta([&] { claim(*a, got_a); });
  std::thread tb([&] { claim(*b, got_b); });
  ta.join();
  tb.join();
  std::set<int64_t> all(got_a.begin(), got_a.end());
  for (int64_t id : got_b) EXPECT_TRUE(all.insert(id).second) << "run " << id << " claimed twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kRuns));
  for (int64_t id : got_b) {
    auto r = b->Get(id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->owner, "b");
    // The other replica cannot finish what it did not claim.
    EXPECT_EQ(a->MarkSucceeded(id, "", 20).code(), StatusCode::kFailedPrecondition);
  }
}

// Two survivors reclaiming a dead replica's runs at the same moment: each run is taken (and
// reported) by one of them, none by both, none lost.
TEST_P(StoreSuite, TwoSurvivorsReclaimingAtOnceTakeEachRunOnce) {
  auto dead = OpenJournal(*backend_, {.owner = "dead", .lease_ms = 1000});
  auto a = OpenJournal(*backend_, {.owner = "a", .lease_ms = 1000});
  auto b = OpenJournal(*backend_, {.owner = "b", .lease_ms = 1000});
  ASSERT_TRUE(dead && a && b);
  constexpr int kRuns = 40;
  std::set<int64_t> claimed;
  for (int i = 0; i < kRuns; ++i) {
    auto r = dead->Enqueue(NewRunFor("e" + std::to_string(i)), 1);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(*dead->MarkRunning(r->id, 100));
    claimed.insert(r->id);
  }
  std::vector<ReclaimedRun> got_a, got_b;
  std::barrier together(2);
  auto reclaim = [&](Journal& j, std::vector<ReclaimedRun>& got) {
    together.arrive_and_wait();
    auto r = j.ReclaimExpired(5000);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return;
    }
    got = std::move(*r);
  };
  std::thread ta([&] { reclaim(*a, got_a); });
  std::thread tb([&] { reclaim(*b, got_b); });
  ta.join();
  tb.join();
  std::set<int64_t> taken;
  for (const auto* got : {&got_a, &got_b}) {
    for (const ReclaimedRun& r : *got) {
      EXPECT_TRUE(taken.insert(r.id).second) << "run " << r.id << " reported twice";
      EXPECT_EQ(r.owner, "dead");
    }
  }
  EXPECT_EQ(taken, claimed);
  auto pending = a->List(RunState::kPending);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), static_cast<size_t>(kRuns));
}

TEST_P(StoreSuite, ADeadReplicasRunsAreResumedAfterItsLeaseAndItCannotFinishThemLate) {
  auto dead = OpenJournal(*backend_, {.owner = "dead", .lease_ms = 1000});
  auto alive = OpenJournal(*backend_, {.owner = "alive", .lease_ms = 1000});
  ASSERT_TRUE(dead && alive);
  auto r = dead->Enqueue(NewRunFor("e1"), 0);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*dead->MarkRunning(r->id, 100));  // lease until 1100
  EXPECT_TRUE(alive->ReclaimExpired(1000)->empty()) << "the lease still holds";
  // Renewed while it lives: the lease moves on.
  EXPECT_EQ(*dead->RenewLeases(600), 1);
  EXPECT_EQ(dead->Get(r->id)->lease_until_ms, 1600);
  EXPECT_TRUE(alive->ReclaimExpired(1500)->empty());
  // Then it stops renewing (it died, or stalled): the survivor takes the run back, and is
  // told which run, of what, from whom.
  auto taken = alive->ReclaimExpired(1700);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].id, r->id);
  EXPECT_EQ((*taken)[0].owner, "dead");
  EXPECT_EQ((*taken)[0].event_id, "e1");
  EXPECT_EQ((*taken)[0].action, NewRunFor("e1").key.action);
  EXPECT_EQ((*taken)[0].lease_until_ms, 1600);
  EXPECT_TRUE(dead->ReclaimExpired(1700)->empty()) << "nothing left to take";
  auto back = alive->Get(r->id);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->state, RunState::kPending);
  EXPECT_EQ(back->attempts, 1) << "the interrupted attempt stays counted";
  EXPECT_NE(back->last_error.find("lease ran out"), std::string::npos) << back->last_error;
  ASSERT_TRUE(*alive->MarkRunning(r->id, 1800));
  // The stalled replica wakes up: its outcome is refused, the survivor's claim stands.
  engine::Status late = dead->MarkSucceeded(r->id, "late", 1900);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("claimed by alive"), std::string::npos) << late.ToString();
  EXPECT_EQ(dead->SetJob(r->id, "j", "u", 1900).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*dead->RenewLeases(1900), 0) << "it renews only its own claims";
  ASSERT_TRUE(alive->MarkSucceeded(r->id, "done", 2000).ok());
  auto end = alive->Get(r->id);
  EXPECT_EQ(end->state, RunState::kSucceeded);
  EXPECT_EQ(end->output, "done");
  EXPECT_EQ(end->attempts, 2);
}

TEST_P(StoreSuite, ApprovalsExpiringOnTwoReplicasAreReportedOnce) {
  auto a = OpenJournal(*backend_);
  auto b = OpenJournal(*backend_);
  ASSERT_TRUE(a && b);
  constexpr int kRuns = 40;
  for (int i = 0; i < kRuns; ++i) {
    NewRun n = NewRunFor("e" + std::to_string(i));
    n.state = RunState::kAwaitingApproval;
    n.approval_deadline_ms = 100 + i;
    ASSERT_TRUE(a->Enqueue(n, 1).ok());
  }
  std::vector<int64_t> got_a, got_b;
  auto expire = [](Journal& j, std::vector<int64_t>& got) {
    for (int64_t now = 100; now < 100 + kRuns + 5; ++now) {
      auto e = j.ExpireApprovals(now);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      for (const ActionRun& r : *e) got.push_back(r.id);
    }
  };
  std::thread ta([&] { expire(*a, got_a); });
  std::thread tb([&] { expire(*b, got_b); });
  ta.join();
  tb.join();
  std::set<int64_t> all(got_a.begin(), got_a.end());
  for (int64_t id : got_b) EXPECT_TRUE(all.insert(id).second) << "run " << id << " reported twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kRuns));
}

TEST_P(StoreSuite, ARateLimitHoldsAcrossReplicas) {
  auto a = OpenJournal(*backend_);
  auto b = OpenJournal(*backend_);
  ASSERT_TRUE(a && b);
  const std::vector<EnqueueLimit> once = {{.since_ms = 0, .max_count = 1}};
  constexpr int kRounds = 40;
  std::atomic<int> pending{0}, throttled{0};
  // Each round, both replicas journal a run for one new key at the same moment.
  std::barrier together(2);
  auto enqueue = [&](Journal& j, const std::string& prefix) {
    for (int i = 0; i < kRounds; ++i) {
      together.arrive_and_wait();
      NewRun n = NewRunFor(prefix + std::to_string(i));
      n.throttle_key = "host-" + std::to_string(i);
      auto r = j.Enqueue(n, 10, once);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      (r->state == RunState::kPending ? pending : throttled)++;
    }
  };
  std::thread ta([&] { enqueue(*a, "a"); });
  std::thread tb([&] { enqueue(*b, "b"); });
  ta.join();
  tb.join();
  EXPECT_EQ(pending.load(), kRounds) << "one run per key in the window, whichever replica";
  EXPECT_EQ(throttled.load(), kRounds);
}

TEST_P(StoreSuite, OpeningTheJournalResumesOnlyTheRunsNoLiveReplicaHolds) {
  const bool shared = Connect()->dialect() == sql::Dialect::kPostgresql;
  auto holder = OpenJournal(*backend_, {.owner = "r1"});
  ASSERT_NE(holder, nullptr);
  auto r = holder->Enqueue(NewRunFor("e1"), 0);
  ASSERT_TRUE(r.ok());
  // Claimed now, by wall time: the lease holds for its 30 s.
  ASSERT_TRUE(*holder->MarkRunning(r->id, engine::SystemClock().NowMillis()));
  auto other = OpenJournal(*backend_, {.owner = "r2"});
  ASSERT_NE(other, nullptr);
  if (shared) {
    EXPECT_EQ(other->recovered(), 0) << "r1 lives and holds its claim";
    EXPECT_EQ(other->Get(r->id)->state, RunState::kRunning);
    // r1 started again under its name takes its own claim back at once.
    auto again = OpenJournal(*backend_, {.owner = "r1"});
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->recovered(), 1);
  } else {
    // One process runs actions on a SQLite file: whatever ran was interrupted.
    EXPECT_EQ(other->recovered(), 1);
  }
  EXPECT_EQ(other->Get(r->id)->state, RunState::kPending);
}

TEST_P(StoreSuite, AJournalNewerThanThisBinaryIsRefused) {
  ASSERT_NE(OpenJournal(*backend_), nullptr);
  auto db = Connect();
  ASSERT_TRUE(db->Exec("INSERT INTO schema_migrations (component, version, description, "
                       "applied_at) VALUES ('journal', 9, 'from the future', 0)")
                  .ok());
  auto j = Journal::Open(backend_->store(), backend_->sqlite_path(), {});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(j.status().message().find("journal: database schema version 9 is newer"),
            std::string::npos)
      << j.status().ToString();
}

// Work for one replica at a time (retention): on PostgreSQL one of two replicas holds the
// duty, and when the holder's session ends (the replica died) the other takes it at its next
// ask; a second duty is held on its own. On SQLite the one writer holds every duty.
TEST_P(StoreSuite, ADutyIsHeldByOneReplicaAndMovesWhenItDies) {
  const bool shared = Connect()->dialect() == sql::Dialect::kPostgresql;
  auto a = DutyLock::Open(backend_->store(), "retention");
  auto b = DutyLock::Open(backend_->store(), "retention");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
  EXPECT_TRUE((*a)->Held());
  EXPECT_TRUE((*a)->Held()) << "asked again, still held";
  if (!shared) {
    EXPECT_TRUE((*b)->Held()) << "one process writes a SQLite file: it holds every duty";
    return;
  }
  EXPECT_FALSE((*b)->Held()) << "a holds it";
  auto other = DutyLock::Open(backend_->store(), "something-else");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->Held()) << "another duty is another lock";
  a->reset();  // the holder's session ends, as when its replica dies
  EXPECT_TRUE(WaitFor([&] { return (*b)->Held(); })) << "the duty moved to b";
  auto c = DutyLock::Open(backend_->store(), "retention");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->Held()) << "b holds it now";

  // A retention pass prunes the shared store only on the replica holding the duty.
  auto j = OpenJournal(*backend_);
  ASSERT_NE(j, nullptr);
  auto r = j->Enqueue(NewRunFor("old"), 0);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*j->MarkRunning(r->id, 1));
  ASSERT_TRUE(j->MarkSucceeded(r->id, "", 2).ok());
  engine::ManualClock clock(1'000'000);
  auto pass_on = [&](DutyLock* duty) {
    RetentionOptions o;
    o.runs.max_age_ms = 1000;
    o.duty = duty;
    RetentionTask task(j.get(), nullptr, nullptr, o, clock, nullptr);
    return task.RunOnce();
  };
  RetentionPass elsewhere = pass_on(c->get());
  EXPECT_TRUE(elsewhere.skipped);
  EXPECT_EQ(elsewhere.runs.deleted, 0);
  EXPECT_TRUE(j->Get(r->id).ok()) << "not pruned by a replica without the duty";
  RetentionPass holder = pass_on(b->get());
  EXPECT_FALSE(holder.skipped);
  EXPECT_EQ(holder.runs.deleted, 1);
}

}  // namespace
}  // namespace reflex::actions::test
