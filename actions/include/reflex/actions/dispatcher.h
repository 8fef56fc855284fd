// Dispatcher: what happens to a decision after the engine made it, and to what the actions
// report back.
//
//   known     -> the executor journals and runs the row's actions (Submit); each action newly
//                journaled to run (or to wait for approval, or skipped by a dry run) is
//                notified (`known_with_action`), once: a replayed batch journals nothing new.
//                The built-in `escalate` is notified as `escalated` when it runs;
//   unknown   -> the escalation store groups it by shape; a new or reopened group is
//                notified (`new_unknown`), a repeat only counted; a resolved event resolves
//                the open group of its shape and is notified as `resolved` (PagerDuty:
//                event_action resolve for the group's dedup key), never counted;
//   suppressed -> nothing (the decision already says why);
//   an action that failed for good, an approval that expired, an `escalate` row
//             -> the escalation store records it and the notifier tells people
//                (`action_failed`, `approval_expired`, `escalated`), except a repeat within
//                the store's dedup window (counted only);
//   before/after notices and approval requests -> the notifier.
//
// OnBatch runs on the deciding thread before the batch's offsets are committed (the Kafka
// loop's batch hook): a crash replays the batch, and the journal's idempotency key and the
// store's grouping keep a replay from running an action twice or counting an event twice.
// It fails only when the executor's journal or the escalation store cannot record (then the
// batch must not be committed); a decision that does not parse is logged and skipped.
//
// Thread-safety: OnBatch from one thread at a time; OnActionEscalation and OnActionNotice
// from any (the executor's workers). The executor, store, notifier and clock must outlive
// the dispatcher.
//
//   Dispatcher d(executor, *store, *notifier, clock, log);
//   runner.SetBatchHook([&](const auto& batch) { return d.OnBatch(batch); });
//   hooks.escalate = [&](const EscalationNotice& n) { d.OnActionEscalation(n); };
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/notifier.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/decision.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

// Receives the dispatcher's log lines: error or warning, a message, key/value fields.
using DispatchLog = std::function<void(bool error, std::string_view message,
                                       const std::vector<std::pair<std::string, std::string>>&)>;

class Dispatcher {
 public:
  Dispatcher(Executor& executor, EscalationStore& escalations, Notifier& notifier,
             const engine::Clock& clock, DispatchLog log);

  // Hands a batch of decisions on (see above).
  engine::Status OnBatch(const std::vector<engine::DecidedEvent>& batch);

  // An action side escalation (hooks.escalate): recorded, logged, notified.
  void OnActionEscalation(const EscalationNotice& notice);
  // A before/after notice or an approval request (hooks.notify): notified.
  void OnActionNotice(const EscalationNotice& notice);

 private:
  void Log(bool error, std::string_view message,
           const std::vector<std::pair<std::string, std::string>>& fields) const;
  Notice NoticeOf(const EscalationNotice& n) const;
  // One `known_with_action` notice per run a known decision journaled that will run or waits
  // (pending, awaiting approval, dry run); not for the built-in escalate (told as
  // `escalated`) nor for failed, throttled or suppressed runs.
  void NotifyKnown(const std::vector<ActionRun>& journaled, std::string_view event_json) const;

  Executor& executor_;
  EscalationStore& escalations_;
  Notifier& notifier_;
  const engine::Clock& clock_;
  DispatchLog log_;
};

}  // namespace reflex::actions
