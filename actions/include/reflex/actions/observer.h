// ActionObserver: what the executor and the notifier report as it happens, for metrics.
//
// reflex::actions knows nothing of Prometheus: the executor (ExecutorOptions::observer) and
// the notifier (NotifierOptions::observer) call this interface, and the application turns
// the calls into metric series. Every method has an empty default, so an observer overrides
// only what it counts.
//
// Outcomes of a run: `succeeded`, `failed` (for good), `retried` (an attempt failed, another
// follows), `interrupted` (the executor stopped while the run followed its job; it resumes on
// the next start), `expired` (approval not given in time), `rejected`; and, when Submit journals a
// run that will not run now, the state it was journaled in: `awaiting_approval`, `throttled`,
// `suppressed`, `skipped_dry_run`, `failed` (unknown action, refused parameter). Outcomes of a
// notice: `delivered`, `failed`, `retried`, `dropped` (queue full or still queued at stop),
// `taken_over` (claimed from the outbox after another replica's claim on it ran out).
//
// Thread-safety: methods are called from executor and notifier worker threads at once, never
// with an executor or notifier lock held; implementations must be thread-safe and quick. The
// observer must outlive the executor and notifier it is given to.
//
//   struct Counting : ActionObserver {
//     void RunOutcome(std::string_view action, std::string_view outcome) override { ... }
//   };
//   ExecutorOptions eo; eo.observer = &counting;
#pragma once

#include <cstdint>
#include <string_view>

#include "reflex/base/enum_names.h"

namespace reflex::actions {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
inline constexpr base::EnumNames<BreakerState, 3> kBreakerStateNames{
    {{{BreakerState::kClosed, "closed"},
      {BreakerState::kOpen, "open"},
      {BreakerState::kHalfOpen, "half_open"}}}};

// One run's outcome with what it concerns, for log lines. Views valid during the call only.
struct RunReport {
  std::string_view event_id{}, table{}, row{}, action{}, outcome{};
  std::string_view error{};  // the failure or reason; empty when none
  int64_t run_id = 0;        // the journal's id
  int attempt = 0;           // attempts made so far (0 when none was made)
};

class ActionObserver {
 public:
  virtual ~ActionObserver() = default;

  // A run of catalog action `action` came to `outcome` (see above).
  virtual void RunOutcome(std::string_view /*action*/, std::string_view /*outcome*/) {}
  // The same outcome with its event, table, row and run; called right after RunOutcome.
  virtual void RunReported(const RunReport& /*report*/) {}
  // Runs the executor holds in memory now (queued, waiting for a retry, or in flight).
  // Called with the executor's lock held, so reports arrive in order: do not call back into
  // the executor.
  virtual void QueueDepth(int64_t /*runs*/) {}
  // The circuit breaker of `target` (URL host:port, command path, kafka:<topic>) changed.
  virtual void BreakerChanged(std::string_view /*target*/, BreakerState /*state*/) {}
  // A notice for notifier target `target` came to `outcome` (see above).
  virtual void NoticeOutcome(std::string_view /*target*/, std::string_view /*outcome*/) {}
  // This process took over a run whose claim by `previous_owner` (another replica) had run
  // out: it is pending again and will be run here or by another survivor. report.outcome is
  // "taken_over"; report.error says why.
  virtual void RunTakenOver(const RunReport& /*report*/, std::string_view /*previous_owner*/) {}
  // The journal's store stopped answering (`reachable` false, with the error) or answers
  // again (true, `error` empty); called on changes only (it starts as reachable), from the
  // executor's housekeeping thread or a thread calling Executor::StoreHealth, with the
  // executor's health lock held so reports arrive in order: do not call back into the executor.
  virtual void StoreReachable(bool /*reachable*/, std::string_view /*error*/) {}
};

}  // namespace reflex::actions
