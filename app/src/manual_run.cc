#include "reflex/app/manual_run.h"

#include <thread>

#include "reflex/actions/executor.h"
#include "reflex/engine/clock.h"

namespace reflex::app {

using engine::Result;

Result<ManualRunResult> RunActionByHand(const StateLocation& loc,
                                        const actions::ManualRequest& request,
                                        const ManualRunOptions& options) {
  auto catalog = LoadStateCatalog(loc);
  if (!catalog.ok()) return catalog.status();
  if (const actions::ActionSpec* spec = catalog->Find(request.action);
      spec != nullptr &&
      (spec->kind == actions::ActionKind::kKafka || spec->kind == actions::ActionKind::kEmit)) {
    return engine::InvalidArgument("action '" + request.action + "' is a " +
                                   std::string(actions::KindName(spec->kind)) +
                                   " action: it needs the Kafka producer of `reflex run`; "
                                   "`reflex actions run` carries out webhook and command actions");
  }
  auto journal = OpenExistingJournal(loc);
  if (!journal.ok()) return journal.status();
  engine::SystemClock clock;
  actions::ExecutorOptions eo;
  eo.workers = 1;
  eo.queue_capacity = 1;
  eo.resume_journal = false;
  eo.dry_run = options.dry_run;
  actions::Executor executor(*catalog, **journal, actions::ActionHooks{}, eo, clock);
  if (engine::Status s = executor.Start(); !s.ok()) return s;
  auto queued = executor.SubmitManual(request);
  if (!queued.ok()) return queued.status();
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  if (queued->state == actions::RunState::kPending) executor.Drain(options.wait);
  ManualRunResult result;
  // The run may have been taken by the running engine (it polls the journal for pending
  // runs): then it finishes there, and the journal says when. Bounded by the deadline.
  while (true) {
    auto run = (*journal)->Get(queued->id);
    if (!run.ok()) return run.status();
    result.run = std::move(*run);
    result.finished = actions::IsFinal(result.run.state);
    if (result.finished || result.run.state == actions::RunState::kAwaitingApproval ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  executor.Stop();
  return result;
}

Result<actions::ActionRun> QueueRetry(const StateLocation& loc, int64_t id, std::string_view by) {
  // kNotFound is kept for "no such run": a missing database or catalog is kUnavailable.
  auto unavailable = [](const engine::Status& s) {
    return s.code() == engine::StatusCode::kNotFound ? engine::Unavailable(s.message()) : s;
  };
  auto journal = OpenExistingJournal(loc);
  if (!journal.ok()) return unavailable(journal.status());
  auto catalog = LoadStateCatalog(loc);
  if (!catalog.ok()) return unavailable(catalog.status());
  engine::SystemClock clock;
  auto queued = actions::RetryRun(**journal, *catalog, id, by, clock.NowMillis());
  if (!queued.ok()) return queued.status();
  return (*journal)->Get(queued->id);
}

}  // namespace reflex::app
