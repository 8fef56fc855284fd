// Retention: keeps the state database from growing without bound. A background task deletes,
// every `interval`, what has aged out or exceeds a count cap, in the journal (finished action
// runs only), the notice outbox (delivered or failed notices only) and the escalation store
// (resolved groups first; see JournalRetention and EscalationRetention for exactly what goes), in
// small transactions so the stores' other writers are never held up for long. With a duty
// lock (RetentionOptions::duty), replicas sharing a store take turns: only the holder prunes.
//
// Ownership: the stores (and the clock) must outlive the task. Thread-safety: Start and Stop
// from the owning thread; RunOnce from any thread (passes do not overlap). Stop is
// idempotent, wakes the task at once and waits for a pass in flight; the destructor calls it.
//
//   RetentionTask task(&journal, &escalations, &outbox, {.interval_ms = 300000, ...}, clock,
//                      [&](const RetentionPass& p) { metrics.Record(p); });
//   task.Start();   // the first pass runs at once
//   ...
//   task.Stop();
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <thread>

#include "reflex/actions/duty_lock.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

struct RetentionOptions {
  int64_t interval_ms = 5 * 60 * 1000;  // between passes. Default: 5 min. REQUIRES: > 0.
  JournalRetention runs;
  EscalationRetention escalations;
  // Delivered and failed notices: older than this deleted (0 = no age limit), and beyond
  // max_notices rows (0 = no cap). Pending notices are never deleted.
  int64_t notices_max_age_ms = 0;
  int64_t max_notices = 0;
  // When set (replicas sharing a PostgreSQL store), a pass prunes only while this replica
  // holds the duty (duty_lock.h): one replica at a time, another when it dies. Not owned.
  DutyLock* duty = nullptr;
};

// What one pass did. A store whose prune failed keeps its error in `status` (the first one)
// and its counts at zero; the pass goes on with the other stores.
struct RetentionPass {
  // Another replica holds the retention duty: nothing was pruned here.
  bool skipped = false;
  PruneResult runs;
  EscalationPruneResult escalations;
  PruneResult notices;
  engine::Status status;
};

class RetentionTask {
 public:
  // Any store may be null (skipped). `on_pass` (may be empty) is called after each pass
  // on the task's thread.
  RetentionTask(Journal* journal, EscalationStore* escalations, NoticeOutbox* outbox,
                RetentionOptions options, const engine::Clock& clock,
                std::function<void(const RetentionPass&)> on_pass);
  ~RetentionTask();
  RetentionTask(const RetentionTask&) = delete;
  RetentionTask& operator=(const RetentionTask&) = delete;

  // Starts the thread: a pass at once, then one every interval until Stop.
  void Start();
  void Stop();
  // One pass now, on the caller's thread (also reported to on_pass).
  RetentionPass RunOnce();
  // Passes completed so far.
  int64_t passes() const;
  // Replaces options.runs.keep_recent_ms (the catalog's longest throttle or suppress window,
  // which changes when the catalog reloads); later passes use it. Any thread.
  void SetKeepRecentMs(int64_t keep_recent_ms);

 private:
  Journal* const journal_;
  EscalationStore* const escalations_;
  NoticeOutbox* const outbox_;
  const RetentionOptions options_;
  const engine::Clock& clock_;
  const std::function<void(const RetentionPass&)> on_pass_;
  base::Mutex pass_mu_;  // one pass at a time
  mutable base::Mutex mu_;
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  int64_t passes_ GUARDED_BY(mu_) = 0;
  int64_t keep_recent_ms_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace reflex::actions
