// Executor: carries out the actions of decisions, durably, with retries and guards.
//
// Submit() takes one decision (the JSON of engine/decision.h) and the event it decided,
// renders each action's request from the catalog, journals it (idempotent: the same
// decision twice gives one run), then queues it for the worker pool. The queue is bounded:
// when it is full Submit blocks until there is room or Stop() is called; that is the
// backpressure the run loop relies on. Nothing is lost when Submit returns: the run is in
// the journal, and a later Start() resumes it.
//
// Per action (catalog.h): timeout; retries with exponential backoff and full jitter
// (seedable); a concurrency limit; a circuit breaker per target (URL host:port, command
// path, kafka topic) that fails fast while open and lets one trial through after
// `reset_after` (half-open); throttle (`once_within`) and suppression (N runs within an
// interval) per group key, checked in the journal so they hold across restarts; approval
// (`approval: required`): the run waits in awaiting_approval until Approve/Reject, or until
// its TTL passes (expired, and hooks.escalate is called). A run that fails for good (a
// permanent failure, or its attempts used up) calls hooks.escalate too. Dry-run journals
// every run as skipped_dry_run and executes nothing: runs it finds pending in the journal
// (left by an engine that stopped, approved or retried from the CLI, approved through
// Approve) are not taken and stay pending for an engine that executes.
//
// Each kind is rendered, targeted and performed by the driver the DriverRegistry holds for it
// (driver.h); the default registry has the five built-in drivers. A kind without a driver is
// a failed run (journaled as failed and escalated at Submit, a permanent failure when resumed).
//
// Built-ins: `ignore` does nothing; `escalate` is journaled like an action and calls
// hooks.escalate once. An action not in the catalog is journaled as failed and escalated.
// Runs approved, retried or queued from another process (the CLI) are picked up by polling
// the journal. SubmitManual takes a run a person asked for (manual.h).
//
// Following jobs (`preset: awx` / `exastro_ita` with `follow` on, the default): an attempt
// launches the job, journals its id and link (ActionRun::job_id, job_url), then reads the
// job's status until it finishes; the run succeeds only when the job does. A job that fails,
// or is still running after `follow.timeout`, fails the run for good (no relaunch) and
// escalates naming the job and its link. The follow holds its worker for the job's whole
// duration: with `workers` threads, at most `workers` runs (of every action) are in flight,
// so long jobs should have `concurrency` set below the worker count to leave room for the
// rest. The waits between reads are on a stop signal, so Stop() is not held up by them.
//
// Time: scheduling (backoff, breaker, throttle windows, approval TTL) reads the injected
// Clock, so tests drive it with engine::ManualClock; a command's or request's own timeout is
// real time. Sleeping workers re-check the clock every `tick_ms`.
//
// Thread-safety: Submit, Approve, Reject, Drain, Stop and stats() may be called from any
// thread. Hooks and drivers are called from worker threads, never with an internal lock held.
// The Journal and Clock must outlive the Executor; it owns its DriverRegistry and shares the
// Catalog.
//
// Catalog reload: SetCatalog publishes a new catalog (the rules' hot reload calls it with the
// rules). Decisions submitted afterwards, resumed runs and runs approved afterwards use it;
// a run already queued keeps the settings (retries, timeout, ...) of the catalog it was
// queued under, which stays alive until that run is done.
//
//   Executor ex(catalog, *journal, hooks, ExecutorOptions{}, clock);
//   if (Status s = ex.Start(); !s.ok()) ...
//   Status s = ex.Submit(decision_json, event_json);  // blocks while the queue is full
//   ex.Stop();                                         // in-flight runs finish first
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reflex/actions/catalog.h"
#include "reflex/actions/driver.h"
#include "reflex/actions/hooks.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/manual.h"
#include "reflex/actions/observer.h"
#include "reflex/base/atomic_shared_ptr.h"
#include "reflex/base/stop_signal.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

struct ExecutorOptions {
  int workers = 4;                // Default: 4 threads.
  size_t queue_capacity = 1024;   // runs held in memory (queued, waiting or in flight)
  bool dry_run = false;           // journal and decide, execute nothing
  uint64_t seed = 0;              // backoff jitter RNG; 0 = from std::random_device
  int64_t tick_ms = 20;           // how often idle workers re-check the clock (real ms)
  int64_t poll_journal_ms = 500;  // how often the journal is read for runs approved elsewhere
  // Not the executor's own: `actions.escalation_dedup_window`, handed to the escalation
  // store (EscalationOptions::dedup_window_ms). Default: 0 (every repeat is notified).
  int64_t escalation_dedup_window_ms = 0;
  // Told each run outcome, the queue depth and breaker changes (observer.h); may be null.
  // Must outlive the Executor.
  ActionObserver* observer = nullptr;
  // true: Start() resumes the journal's pending runs, and the journal is polled for runs
  // approved or queued elsewhere and for approvals that expired (the engine). false: the
  // executor carries out only what it is given (`reflex actions run`, which must not take
  // the engine's work). Default: true.
  bool resume_journal = true;
  // How often the housekeeping thread reaches the journal's store while it answers (renewing
  // this process's claims, journal.h; at least every lease_ms / 3), and every second while
  // it does not. StoreHealth() reports the outcome. Default: 5000.
  int64_t store_check_ms = 5000;
};

class Executor {
 public:
  // Carries out actions with DriverRegistry::Default(hooks). The catalog is copied.
  Executor(const Catalog& catalog, Journal& journal, ActionHooks hooks, ExecutorOptions options,
           engine::Clock& clock);
  // Carries out each kind with the driver `drivers` holds for it; `hooks` still receives the
  // escalations and notices the Executor itself raises. REQUIRES: catalog not null.
  Executor(std::shared_ptr<const Catalog> catalog, Journal& journal, ActionHooks hooks,
           DriverRegistry drivers, ExecutorOptions options, engine::Clock& clock);
  ~Executor();  // Stop()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Loads pending runs from the journal (those a previous process left) and starts the
  // workers. kFailedPrecondition when already started or stopped.
  engine::Status Start();

  // kInvalidArgument for a decision or event that does not parse (nothing journaled);
  // kInternal when the journal fails. Blocks while the queue is full. When `journaled` is
  // not null, each run this call journaled is appended to it, in decision order, with the
  // state it was journaled in (pending, awaiting_approval, skipped_dry_run, failed,
  // throttled, suppressed); runs the journal already held (a replayed decision) are not.
  engine::Status Submit(std::string_view decision_json, std::string_view event_json,
                        std::vector<ActionRun>* journaled = nullptr);

  // Publishes a new catalog (see the top of this file); a null one is ignored. Any thread.
  void SetCatalog(std::shared_ptr<const Catalog> catalog);
  std::shared_ptr<const Catalog> catalog() const { return catalog_.Load(); }

  // A run asked for by a person (manual.h): checked against the catalog, journaled with
  // origin manual, then carried out like any other (awaiting approval when the action
  // requires it; skipped_dry_run in dry run). kNotFound / kInvalidArgument from
  // PlanManualRun with nothing journaled; journal errors as they come. Blocks while the queue
  // is full.
  engine::Result<EnqueueResult> SubmitManual(const ManualRequest& request);

  engine::Status Approve(int64_t run_id, const std::string& who);
  engine::Status Reject(int64_t run_id, const std::string& who, const std::string& reason);

  // Waits (real time) until nothing is queued or in flight. False on timeout.
  bool Drain(std::chrono::milliseconds timeout);

  // Stops taking work; runs in flight finish (bounded by their timeouts), except an attempt
  // following a launched job, which returns at once and leaves its run pending with the job
  // recorded (the next Start follows that job again, it does not launch another); queued runs
  // stay pending in the journal for the next Start. Idempotent.
  void Stop();

  // OK while the journal's store answers. kUnavailable, with the error and for how long,
  // when the last check failed, or when a check has gone unanswered for more than twice
  // store_check_ms (a store that hangs; the first call that sees it tells the observer, as
  // the check has not returned to). Any thread; for /readyz and the metrics.
  engine::Status StoreHealth() const;

  struct Stats {
    int64_t submitted = 0;   // runs journaled by Submit
    int64_t duplicates = 0;  // runs Submit found already journaled
    int64_t attempts = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
    int64_t retries = 0;
    int64_t breaker_rejections = 0;  // times a run was held back by an open breaker
    int64_t queued = 0;              // now
    int64_t in_flight = 0;           // now
  };
  Stats stats() const;

 private:
  struct Item {
    ActionRun run;
    std::shared_ptr<const Catalog> catalog;  // keeps `spec` alive across catalog reloads
    const ActionSpec* spec = nullptr;        // nullptr for the built-in escalate
    int64_t due_ms = 0;
    bool breaker_trial = false;
  };
  struct Breaker {
    int failures = 0;
    int64_t open_until = 0;  // > 0: open (or half-open once the time has passed)
    bool trial_in_flight = false;
  };

  void WorkerLoop();
  void HousekeepingLoop();
  // Picks the next runnable item (lock held); false when none is due.
  bool PickLocked(int64_t now, Item* out) REQUIRES(mu_);
  void Execute(Item item);
  ActionOutcome Perform(const Item& item, const AttemptContext& attempt);
  int64_t BackoffMs(const ActionSpec& spec, int attempt);
  void Enqueue(Item item);  // no capacity wait
  // Journals a planned run and queues, notifies or escalates it by the state it got; a run
  // newly journaled is appended to *journaled (may be null). `spec` lives in `catalog`.
  engine::Result<EnqueueResult> Admit(const NewRun& planned, std::shared_ptr<const Catalog> catalog,
                                      const ActionSpec* spec,
                                      const std::vector<EnqueueLimit>& limits, int64_t now,
                                      std::vector<ActionRun>* journaled);
  void Escalate(const ActionRun& run, ActionEventKind kind, std::string reason);
  void Notify(const ActionRun& run, ActionEventKind kind, std::string reason);
  engine::Status LoadPending();
  // Observer calls (no-ops without one); never with mu_ held.
  void Observe(const RunDefinition& run, int64_t run_id, int attempt, std::string_view outcome,
               std::string_view error) const;
  void ObserveDepth();
  // Records the outcome of a call that reached the store (the observer hears of changes).
  void NoteStore(const engine::Status& s);
  // Reports the runs ReclaimExpired took over (log and metric through the observer).
  void ObserveTakenOver(const std::vector<ReclaimedRun>& runs) const;

  // An item for `run`, its spec looked up in the live catalog (null when not there).
  Item ItemFor(ActionRun run) const;

  base::AtomicSharedPtr<const Catalog> catalog_;
  Journal& journal_;
  ActionHooks hooks_;
  DriverRegistry drivers_;
  ActionSpec escalate_spec_;  // the built-in escalate action
  ExecutorOptions options_;
  engine::Clock& clock_;

  mutable base::Mutex mu_;
  std::condition_variable work_cv_;   // workers: new or due work, stop
  std::condition_variable space_cv_;  // Submit: room in the queue; Drain: idle
  std::vector<Item> queue_ GUARDED_BY(mu_);
  std::set<int64_t> known_ids_ GUARDED_BY(mu_);  // queued or in flight
  std::map<std::string, int> running_per_action_ GUARDED_BY(mu_);
  std::map<std::string, Breaker> breakers_ GUARDED_BY(mu_);
  std::mt19937_64 rng_ GUARDED_BY(mu_);
  int in_flight_ GUARDED_BY(mu_) = 0;
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  Stats stats_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // Start and Stop only (one owning thread)
  base::StopSignal stop_;             // set by Stop(): attempts that wait (following a job) end
  mutable base::Mutex health_mu_;     // the store's health, apart from mu_ (held while calling it)
  int64_t store_failing_since_ms_ GUARDED_BY(health_mu_) = 0;  // 0: answering
  int64_t store_check_started_ms_ GUARDED_BY(health_mu_) = 0;  // 0: no check under way
  std::string store_error_ GUARDED_BY(health_mu_);
  mutable bool store_down_told_ GUARDED_BY(health_mu_) = false;  // the observer's last word
  base::Mutex parser_mu_;
  // Decided events passed the ingest caps once (perhaps raised since): no caps here.
  engine::EventParser parser_ GUARDED_BY(parser_mu_){engine::EventLimits::Unbounded()};
};

}  // namespace reflex::actions
