#include "reflex/actions/manual.h"

#include <algorithm>
#include <set>

namespace reflex::actions {

using engine::Result;

namespace {

std::string DeclaredList(const ActionSpec& spec) {
  if (spec.params.empty()) return "it takes no parameters";
  std::string s = "it takes: ";
  for (size_t i = 0; i < spec.params.size(); ++i) s += (i ? ", " : "") + spec.params[i];
  return s;
}

}  // namespace

Result<NewRun> PlanManualRun(const Catalog& catalog, const DriverRegistry& drivers,
                             const ManualRequest& request, int64_t now_ms, std::string_view nonce) {
  const ActionSpec* spec = catalog.Find(request.action);
  if (spec == nullptr) {
    std::string known;
    for (const auto& [name, s] : catalog.actions()) known += (known.empty() ? "" : ", ") + name;
    return engine::NotFound(
        "action '" + request.action + "' is not in the action catalog" +
        (known.empty() ? std::string(" (it is empty)") : " (actions: " + known + ")"));
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : request.params) {
    if (std::find(spec->params.begin(), spec->params.end(), name) == spec->params.end()) {
      return engine::InvalidArgument("action '" + spec->name + "' has no parameter '" + name +
                                     "' (" + DeclaredList(*spec) + ")");
    }
    if (!seen.insert(name).second) {
      return engine::InvalidArgument("parameter '" + name + "' given twice");
    }
  }
  auto driver = drivers.Get(spec->kind);
  if (!driver.ok()) {
    return engine::InvalidArgument("action '" + spec->name + "': " + driver.status().message());
  }
  ActionContext ctx;
  ctx.params = &request.params;
  ctx.action = spec->name;
  nlohmann::json req = (*driver)->Render(*spec, ctx);
  std::string refused = CheckParams(*spec, ctx);
  if (refused.empty()) refused = (*driver)->Refuse(*spec, ctx, req);
  if (!refused.empty()) return engine::InvalidArgument(refused);

  NewRun r;
  r.key =
      RunKey{"manual-" + std::to_string(now_ms) + "-" + std::string(nonce), "", "", 0, spec->name};
  r.kind = std::string(KindName(spec->kind));
  r.target = (*driver)->Target(req);
  r.request = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.origin = RunOrigin::kManual;
  r.requested_by = request.by;
  if (spec->approval_required) {
    r.state = RunState::kAwaitingApproval;
    r.approval_deadline_ms = now_ms + spec->approval_ttl_ms;
  }
  return r;
}

Result<NewRun> PlanRetry(const Catalog& catalog, const ActionRun& failed, std::string_view by,
                         int64_t now_ms) {
  const std::string id = "run " + std::to_string(failed.id);
  switch (failed.state) {
    case RunState::kFailed:
      if (failed.attempts == 0) {
        return engine::FailedPrecondition(id + " was refused before it ran (" + failed.last_error +
                                          "); fix the cause and start a new run with "
                                          "`reflex actions run`");
      }
      break;
    case RunState::kExpired:  // its approval ran out: a person now asks again
      break;
    case RunState::kSucceeded:
      return engine::FailedPrecondition(id + " succeeded: there is nothing to retry");
    case RunState::kPending:
    case RunState::kRunning:
    case RunState::kAwaitingApproval:
      return engine::FailedPrecondition(id + " is still " + std::string(StateName(failed.state)) +
                                        ": it has not finished, so it cannot be retried");
    case RunState::kRejected:
      return engine::FailedPrecondition(
          id + " was rejected" + (failed.decided_by.empty() ? "" : " by " + failed.decided_by) +
          ": a retry would overrule that; start a new run with `reflex actions run`");
    default:
      return engine::FailedPrecondition(
          id + " is " + std::string(StateName(failed.state)) +
          ": it never ran, so there is nothing to retry; start a new run with "
          "`reflex actions run`");
  }
  const ActionSpec* spec = catalog.Find(failed.key.action);
  if (spec == nullptr) {
    return engine::FailedPrecondition(id + ": action '" + failed.key.action +
                                      "' is no longer in the action catalog");
  }
  if (KindName(spec->kind) != failed.kind) {
    return engine::FailedPrecondition(id + ": action '" + failed.key.action + "' is now a " +
                                      std::string(KindName(spec->kind)) + " action, the run was " +
                                      failed.kind + "; start a new run with `reflex actions run`");
  }
  NewRun r;
  static_cast<RunDefinition&>(r) = failed;
  r.key.event_id += "#retry-of-" + std::to_string(failed.id);
  r.origin = RunOrigin::kRetry;
  r.requested_by = std::string(by);
  r.retry_of = failed.id;
  r.idempotency_key = IdempotencyKey(failed);  // the same operation, seen again by the target
  if (spec->approval_required) {
    r.state = RunState::kAwaitingApproval;
    r.approval_deadline_ms = now_ms + spec->approval_ttl_ms;
  }
  return r;
}

Result<EnqueueResult> RetryRun(Journal& journal, const Catalog& catalog, int64_t id,
                               std::string_view by, int64_t now_ms) {
  auto failed = journal.Get(id);
  if (!failed.ok()) return failed.status();
  auto plan = PlanRetry(catalog, *failed, by, now_ms);
  if (!plan.ok()) return plan.status();
  auto queued = journal.Enqueue(*plan, now_ms);
  if (!queued.ok()) return queued.status();
  if (!queued->inserted) {
    return engine::FailedPrecondition("run " + std::to_string(id) + " was already retried as run " +
                                      std::to_string(queued->id) + " (" +
                                      std::string(StateName(queued->state)) + ")");
  }
  return queued;
}

}  // namespace reflex::actions
