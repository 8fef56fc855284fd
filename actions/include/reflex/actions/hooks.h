// Action hooks: how the executor reaches the world outside reflex::actions.
//
// The executor and its drivers publish to Kafka, feed conclusion events back into the
// pipeline, and tell people what happened only through ActionHooks, so the CLI decides
// where escalations and notices go and tests record them. What happened is an
// ActionEventKind; NoticeKindOf and EscalationKindOf translate it into the notifier's and
// the escalation store's kinds (total switches: a new kind does not compile until it is
// mapped). ActionEventName gives the stable name for logs.
//
// Thread-safety: the hooks are called from executor worker threads, concurrently and never
// with an executor lock held; they must be safe for that. The functions here are pure.
//
//   ActionHooks hooks;
//   hooks.escalate = [&](const EscalationNotice& n) { store.Record(EscalationKindOf(n.kind)); };
//   hooks.notify = [&](const EscalationNotice& n) { notifier.Notify({NoticeKindOf(n.kind)}); };
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notifier.h"
#include "reflex/base/enum_names.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

// What the executor reports about a run.
enum class ActionEventKind {
  kActionFailed,       // failed for good (escalate; notify when the action has notify_after)
  kApprovalExpired,    // nobody approved in time (escalate)
  kEscalate,           // the decision table said escalate (escalate)
  kApprovalRequested,  // the run waits for approval (notify)
  kActionStarting,     // first attempt about to start (notify, notify_before)
  kActionSucceeded,    // (notify, notify_after)
  kApprovalRejected,   // a person rejected the run (notify)
};
inline constexpr base::EnumNames<ActionEventKind, 7> kActionEventNames{
    {{{ActionEventKind::kActionFailed, "action_failed"},
      {ActionEventKind::kApprovalExpired, "approval_expired"},
      {ActionEventKind::kEscalate, "escalate"},
      {ActionEventKind::kApprovalRequested, "approval_requested"},
      {ActionEventKind::kActionStarting, "action_starting"},
      {ActionEventKind::kActionSucceeded, "action_succeeded"},
      {ActionEventKind::kApprovalRejected, "approval_rejected"}}}};

// "action_failed", "approval_expired", "escalate", "approval_requested", "action_starting",
// "action_succeeded", "approval_rejected".
std::string_view ActionEventName(ActionEventKind kind);

// approval_expired -> kApprovalExpired, approval_requested -> kApprovalRequested,
// action_starting -> kActionBefore, action_succeeded and approval_rejected -> kActionAfter,
// action_failed -> kActionFailed, escalate -> kEscalated (a normal outcome, not a failure).
NoticeKind NoticeKindOf(ActionEventKind kind);

// approval_expired -> kApprovalExpired, escalate -> kEscalateAction, every other kind ->
// kActionFailed (only action_failed, approval_expired and escalate reach hooks.escalate).
EscalationKind EscalationKindOf(ActionEventKind kind);

struct EscalationNotice {
  ActionEventKind kind = ActionEventKind::kActionFailed;
  std::string event_id, action, table, row, reason, event_json;
  int64_t run_id = 0;
  // The job the run started on a job API (ActionRun::job_id, job_url); "" when none.
  std::string job_id, job_url;
};

// The notice of `kind` about `run`.
EscalationNotice NoticeFor(const ActionRun& run, ActionEventKind kind, std::string reason);

struct ActionHooks {
  // kafka actions. A non-OK status is a failed attempt (retried).
  std::function<engine::Status(const std::string& topic, const std::string& key,
                               const std::string& value)>
      produce;
  // emit actions: the conclusion event, fed back into the pipeline.
  std::function<engine::Status(const std::string& event_json)> emit;
  // action_failed, approval_expired and escalate notices; may be empty.
  std::function<void(const EscalationNotice&)> escalate;
  // before/after notices and approval requests; may be empty.
  std::function<void(const EscalationNotice&)> notify;
};

}  // namespace reflex::actions
