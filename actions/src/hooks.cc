#include "reflex/actions/hooks.h"

#include <utility>

namespace reflex::actions {

std::string_view ActionEventName(ActionEventKind kind) { return kActionEventNames.Name(kind); }

NoticeKind NoticeKindOf(ActionEventKind kind) {
  switch (kind) {
    case ActionEventKind::kApprovalExpired:
      return NoticeKind::kApprovalExpired;
    case ActionEventKind::kApprovalRequested:
      return NoticeKind::kApprovalRequested;
    case ActionEventKind::kActionStarting:
      return NoticeKind::kActionBefore;
    case ActionEventKind::kActionSucceeded:
    case ActionEventKind::kApprovalRejected:
      return NoticeKind::kActionAfter;
    case ActionEventKind::kEscalate:
      return NoticeKind::kEscalated;
    case ActionEventKind::kActionFailed:
      return NoticeKind::kActionFailed;
  }
  return NoticeKind::kActionFailed;
}

EscalationKind EscalationKindOf(ActionEventKind kind) {
  switch (kind) {
    case ActionEventKind::kApprovalExpired:
      return EscalationKind::kApprovalExpired;
    case ActionEventKind::kEscalate:
      return EscalationKind::kEscalateAction;
    case ActionEventKind::kActionFailed:
    case ActionEventKind::kApprovalRequested:
    case ActionEventKind::kActionStarting:
    case ActionEventKind::kActionSucceeded:
    case ActionEventKind::kApprovalRejected:
      return EscalationKind::kActionFailed;
  }
  return EscalationKind::kActionFailed;
}

EscalationNotice NoticeFor(const ActionRun& run, ActionEventKind kind, std::string reason) {
  return EscalationNotice{kind,        run.key.event_id,  run.key.action, run.key.table,
                          run.key.row, std::move(reason), run.event_json, run.id,
                          run.job_id,  run.job_url};
}

}  // namespace reflex::actions
