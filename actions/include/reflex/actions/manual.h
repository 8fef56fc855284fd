// Manual runs: an action started by a person instead of a decision (`reflex actions run`),
// and the retry of a run that failed or expired (`reflex actions retry`).
//
// A manual run is checked against the catalog before anything is journaled: the action must
// be in the catalog (the built-ins `escalate` and `ignore` are not), every parameter given
// must be one the action declares (`params:`), and every value must pass the parameter's
// pattern and the driver's own checks (catalog.h CheckParams, driver.h Refuse); a refusal is
// kInvalidArgument naming the parameter, and nothing is journaled. An accepted run is an
// ordinary journal row with origin `manual` and requested_by set; its idempotency key is
// unique per request (event id "manual-<ms>-<random>"). Executor::SubmitManual journals and
// carries it out; throttle and suppression windows do not apply to it (a person asked), an
// approval requirement does.
//
// A retry is a new row that copies the request of a run that failed or whose approval
// expired (as rendered when that run was journaled), with origin `retry`, retry_of set to
// that run and the event id suffixed "#retry-of-<id>", so retrying the same run twice gives
// one new row. It keeps the retried run's idempotency key (journal.h IdempotencyKey): the
// target sees the same Idempotency-Key (a command REFLEX_IDEMPOTENCY_KEY) as on the first
// attempts, so one that already performed the operation does not perform it twice. A failed
// run can be retried only after at least one attempt (one refused before it ran needs a new
// run); its action must still be in the catalog with the same kind. The new row is pending,
// or awaiting_approval when the action requires approval (an expired run asks again); the
// running engine's executor picks it up when it next polls the journal, or on its next start.
//
// Thread-safety: plain functions; the catalog and journal are thread-safe (journal.h).
//
//   auto plan = PlanManualRun(catalog, drivers, {.action = "restart", .params = {{"host",
//   "web1"}}, .by = "alice"}, now_ms, "1a2b3c4d");
//   auto queued = RetryRun(journal, catalog, 42, "alice", now_ms);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/actions/catalog.h"
#include "reflex/actions/driver.h"
#include "reflex/actions/journal.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

struct ManualRequest {
  std::string action;
  std::vector<std::pair<std::string, std::string>> params;  // name, value
  std::string by;                                           // who asks (journaled)
};

// Validates and renders a manual run (see the file comment): a NewRun in state pending, or
// awaiting_approval with its deadline when the action requires approval. `nonce` makes the
// event id unique. kNotFound for an action not in the catalog; kInvalidArgument for an
// undeclared or repeated parameter, a value the catalog refuses, or a kind with no driver.
engine::Result<NewRun> PlanManualRun(const Catalog& catalog, const DriverRegistry& drivers,
                                     const ManualRequest& request, int64_t now_ms,
                                     std::string_view nonce);

// The new run that retries `failed` (see the file comment). kFailedPrecondition saying why
// when it cannot be retried (not failed or expired, never attempted, action gone or changed
// kind).
engine::Result<NewRun> PlanRetry(const Catalog& catalog, const ActionRun& failed,
                                 std::string_view by, int64_t now_ms);

// Plans the retry of run `id` and journals it. kNotFound for no such run;
// kFailedPrecondition when it cannot be retried, or was already retried (naming the run
// that retries it and its state); journal errors as they come.
engine::Result<EnqueueResult> RetryRun(Journal& journal, const Catalog& catalog, int64_t id,
                                       std::string_view by, int64_t now_ms);

}  // namespace reflex::actions
