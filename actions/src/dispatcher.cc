#include "reflex/actions/dispatcher.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "json_util.h"
#include "reflex/engine/event.h"

namespace reflex::actions {

using engine::Status;

namespace {

// The event id a decision names ("" when it does not parse): for log lines.
std::string DecisionEventId(std::string_view decision_json) {
  auto d = nlohmann::json::parse(decision_json, nullptr, false);
  return d.is_object() ? JsonString(d, "event_id") : std::string();
}

}  // namespace

Dispatcher::Dispatcher(Executor& executor, EscalationStore& escalations, Notifier& notifier,
                       const engine::Clock& clock, DispatchLog log)
    : executor_(executor),
      escalations_(escalations),
      notifier_(notifier),
      clock_(clock),
      log_(std::move(log)) {}

void Dispatcher::Log(bool error, std::string_view message,
                     const std::vector<std::pair<std::string, std::string>>& fields) const {
  if (log_) log_(error, message, fields);
}

Status Dispatcher::OnBatch(const std::vector<engine::DecidedEvent>& batch) {
  std::vector<std::string_view> unknown;
  std::vector<EscalationStore::SymptomOf> symptoms;
  for (const auto& d : batch) {
    if (d.verdict == engine::Verdict::kUnknown) {
      unknown.push_back(d.event_json);
    } else if (d.verdict == engine::Verdict::kSuppressed &&
               d.decision_json.find("\"root_event\":") != std::string_view::npos) {
      // A symptom of a topology root: counted on the root's escalation.
      auto j = nlohmann::json::parse(d.decision_json, nullptr, false);
      if (j.is_object() && j.contains("muted_by") && j["muted_by"].is_object()) {
        const auto& m = j["muted_by"];
        symptoms.push_back(
            {j.value("event_id", ""), m.value("root_event", ""), m.value("root_cause", "")});
      }
    } else if (d.verdict == engine::Verdict::kKnown) {
      // Journaled before the batch's offsets are committed: a crash replays the batch and
      // the journal's idempotency key keeps each action to one run.
      std::vector<ActionRun> journaled;
      const bool tell = notifier_.Wants(NoticeKind::kKnownWithAction);
      Status s = executor_.Submit(d.decision_json, d.event_json, tell ? &journaled : nullptr);
      NotifyKnown(journaled, d.event_json);
      if (!s.ok()) {
        if (s.code() != engine::StatusCode::kInvalidArgument) return s;
        Log(false, "decision not submitted",
            {{"event_id", DecisionEventId(d.decision_json)}, {"error", s.message()}});
      }
    }
  }
  if (unknown.empty() && symptoms.empty()) return Status::Ok();
  const int64_t now = clock_.NowMillis();
  std::vector<RecordResult> recorded;
  if (!unknown.empty()) {
    auto r = escalations_.RecordUnknownBatch(unknown, now);
    if (!r.ok()) return r.status();
    recorded = std::move(*r);
  }
  // After the unknowns: a root escalated in this very batch has its group now.
  if (auto counted = escalations_.RecordSymptoms(symptoms, now); !counted.ok()) {
    return counted.status();
  }
  engine::EventParser parser(engine::EventLimits::Unbounded());  // decided: accepted once
  for (size_t i = 0; i < recorded.size(); ++i) {
    const auto& r = recorded[i];
    if (!r.notify) continue;
    Notice n;
    // A resolved event that closed its group tells the people (and PagerDuty) it is over.
    n.kind =
        r.outcome == RecordOutcome::kResolved ? NoticeKind::kResolved : NoticeKind::kNewUnknown;
    n.at_ms = now;
    n.escalation_id = r.group_id;
    n.fingerprint = r.fingerprint;
    n.count = r.count;
    n.reopened = r.outcome == RecordOutcome::kReopened;
    engine::Event ev;
    if (parser.Parse(unknown[i], n.at_ms, &ev).ok()) n.event = std::move(ev);
    notifier_.Notify(n);
  }
  return Status::Ok();
}

void Dispatcher::NotifyKnown(const std::vector<ActionRun>& journaled,
                             std::string_view event_json) const {
  std::optional<engine::Event> event;
  bool parsed = false;
  for (const ActionRun& run : journaled) {
    // The built-in escalate is told as `escalated` when it runs; a failed run as
    // `action_failed`; a throttled or suppressed one is held back on purpose.
    if (run.kind == KindName(ActionKind::kEscalate)) continue;
    if (run.state != RunState::kPending && run.state != RunState::kAwaitingApproval &&
        run.state != RunState::kSkippedDryRun) {
      continue;
    }
    Notice n;
    n.kind = NoticeKind::kKnownWithAction;
    n.at_ms = clock_.NowMillis();
    n.action = run.key.action;
    n.table = run.key.table;
    n.row = run.key.row;
    n.details = {{"run_id", std::to_string(run.id)}, {"state", std::string(StateName(run.state))}};
    if (!parsed) {
      parsed = true;
      engine::EventParser parser(engine::EventLimits::Unbounded());  // decided: accepted once
      engine::Event ev;
      if (parser.Parse(event_json, n.at_ms, &ev).ok()) event = std::move(ev);
    }
    n.event = event;
    notifier_.Notify(n);
  }
}

Notice Dispatcher::NoticeOf(const EscalationNotice& n) const {
  Notice notice;
  notice.kind = NoticeKindOf(n.kind);
  notice.at_ms = clock_.NowMillis();
  notice.action = n.action;
  notice.table = n.table;
  notice.row = n.row;
  notice.reason = n.reason;
  if (!n.job_id.empty()) notice.details.emplace_back("job_id", n.job_id);
  if (!n.job_url.empty()) notice.details.emplace_back("job_url", n.job_url);
  if (!n.event_json.empty()) {
    // The event the templates render over (labels.alertname, source, ...). A parser per
    // notice: these come from any executor worker.
    engine::EventParser parser(engine::EventLimits::Unbounded());  // decided: accepted once
    engine::Event ev;
    if (parser.Parse(n.event_json, notice.at_ms, &ev).ok()) notice.event = std::move(ev);
  }
  return notice;
}

void Dispatcher::OnActionEscalation(const EscalationNotice& n) {
  ActionEscalation e;
  e.kind = EscalationKindOf(n.kind);
  e.action = n.action;
  e.table = n.table;
  e.row = n.row;
  e.reason = n.reason;
  e.event_json = n.event_json;
  e.event_id = n.event_id;
  auto r = escalations_.RecordAction(e, clock_.NowMillis());
  if (!r.ok()) {
    Log(true, "escalation not recorded",
        {{"event_id", n.event_id},
         {"table", n.table},
         {"row", n.row},
         {"action", n.action},
         {"run_id", std::to_string(n.run_id)},
         {"error", r.status().message()}});
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"event_id", n.event_id}, {"table", n.table},
      {"row", n.row},           {"kind", std::string(ActionEventName(n.kind))},
      {"action", n.action},     {"run_id", std::to_string(n.run_id)},
      {"reason", n.reason}};
  if (r.ok()) fields.emplace_back("escalation_id", std::to_string(r->group_id));
  Log(false, "action escalated", fields);
  // A repeat within the store's dedup window is counted on its group, not told again.
  if (r.ok() && !r->notify) return;
  Notice notice = NoticeOf(n);
  if (r.ok()) {
    notice.escalation_id = r->group_id;
    notice.fingerprint = r->fingerprint;
    notice.count = r->count;
  }
  notifier_.Notify(notice);
}

void Dispatcher::OnActionNotice(const EscalationNotice& n) { notifier_.Notify(NoticeOf(n)); }

}  // namespace reflex::actions
