// Running a catalog action by hand from the command line (`reflex actions run`) and
// retrying a failed run (`reflex actions retry`), against the state of `reflex run`.
//
// RunActionByHand loads the action catalog of the rules directory and opens the existing
// state database (state_dir.h), then carries the run out through an Executor of its own that
// takes no other work from the journal (ExecutorOptions::resume_journal = false): the same
// rendering, parameter checks, journal states, timeout and retries as the engine. It waits
// for the run to finish, at most `wait`; a run that is not finished by then stays in the
// journal (pending, or awaiting approval) and the running engine carries it on. Webhook and
// command actions only: kafka and emit actions need the engine's producer. Escalations and
// notices of a manual run are not sent: the person who ran it is told by the outcome.
//
// QueueRetry journals the retry of a failed run (manual.h RetryRun) for the engine.
//
// Thread-safety: call from one thread.
//
//   auto loc = ResolveStateLocation(flags, base::SystemEnv());
//   auto r = RunActionByHand(*loc, {.action = "restart", .params = {{"host", "web1"}},
//                                   .by = "alice"}, {});
//   if (r.ok() && r->run.state == actions::RunState::kSucceeded) ...
#pragma once

#include <chrono>
#include <string_view>

#include "reflex/actions/journal.h"
#include "reflex/actions/manual.h"
#include "reflex/app/state_dir.h"
#include "reflex/engine/status.h"

namespace reflex::app {

struct ManualRunOptions {
  std::chrono::milliseconds wait{std::chrono::minutes(5)};  // Default: 5 minutes
  bool dry_run = false;  // journal it as skipped_dry_run, execute nothing
};

struct ManualRunResult {
  actions::ActionRun run;  // as journaled when the command stopped waiting
  bool finished = false;   // run.state is final
};

// kNotFound: no catalog, no state database, or no such action; kInvalidArgument: the
// catalog is invalid, a parameter is undeclared or refused, or the action is a kafka or
// emit action; journal errors as they come. Nothing is journaled on any of these.
engine::Result<ManualRunResult> RunActionByHand(const StateLocation& loc,
                                                const actions::ManualRequest& request,
                                                const ManualRunOptions& options);

// The retry of run `id`, journaled for the engine: the new run as journaled. kNotFound for
// no such run and kFailedPrecondition when it cannot be retried (actions::RetryRun);
// kUnavailable when there is no state database or no catalog; kInvalidArgument for an
// invalid catalog.
engine::Result<actions::ActionRun> QueueRetry(const StateLocation& loc, int64_t id,
                                              std::string_view by);

}  // namespace reflex::app
