// Decision records: what Reflex decided about one event, as JSON.
//
// {"event_id":"e1","event_time":"2026-11-24T10:00:00.000Z","decided_at":"...",
//  "verdict":"known","ruleset":"v-1a2b..","source":"prometheus",
//  "matches":[{"table":"disk","row":"disk-crit","file":"tables/disk.csv","line":7,
//              "actions":[{"name":"cleanup","params":{"host":"web1"}}],
//              "runbook":"https://..."}]}
// A match whose actions are not carried out says why: ..."actions":[..],"not_run":"resolved: ..."
// A muted event (mute.h) is `suppressed` and says by what, after the verdict:
//   "muted_by":{"silence":"<id>"}  or  "muted_by":{"inhibit_rule":"<name>","source_event":"<id>"}
//   or, for a symptom of an open incident upstream in the topology (topology.h),
//   "muted_by":{"root_cause":"db-1","path":["web-1","app-1","db-1"],"symptoms":3}
//   or, for a repeat of an alert within processing.dedup_window (mute.h Deduper),
//   "muted_by":{"duplicate_of":"<first event id>","duplicates":2}
// Thread-safety: free functions over const inputs.
#pragma once

#include <string>
#include <string_view>

#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"

namespace reflex::engine {

// Why a matched row's actions were not carried out (`"not_run"` of the match):
// - the event is muted by a silence or an inhibition rule (MatchResult::mute);
// - the verdict is suppressed: an `ignore` row silenced the event, so no table's actions run;
// - the event is resolved (IsResolved) and the row does not handle resolutions (it has no
//   `status` condition): a recovery must not re-run the remediation of the firing alert.
inline constexpr std::string_view kNotRunSuppressed =
    "suppressed: an ignore row silenced the event, so no actions run";
inline constexpr std::string_view kNotRunSilenced =
    "silenced: a silence mutes the event (see muted_by), so no actions run";
inline constexpr std::string_view kNotRunInhibited =
    "inhibited: an inhibition rule mutes the event (see muted_by), so no actions run";
inline constexpr std::string_view kNotRunSymptom =
    "symptom: the event's node depends on a node with an open incident (see muted_by), so no "
    "actions run";
inline constexpr std::string_view kNotRunDuplicate =
    "duplicate: the same alert was decided within the dedup window (see muted_by), so no "
    "actions run";
inline constexpr std::string_view kNotRunResolved =
    "resolved: the row does not handle resolutions (give it a status condition, e.g. "
    "status = resolved)";

// The reason `row` (one of `m.matches`) carries in the decision, or "" when its actions run:
// kNotRunSilenced / kNotRunInhibited for a muted event, kNotRunSuppressed under a suppressed
// verdict, kNotRunResolved for a resolved event the row
// does not handle; never a reason for an `ignore` row (it runs nothing to begin with). The
// executor skips a match that has one. `reflex explain` shows the same.
std::string_view NotRunReason(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                              const RowMatch& row);

// Appends one decision as a single JSON line (no trailing newline). Matches whose actions do
// not run carry "not_run" with the reason.
void AppendDecisionJson(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                        int64_t decided_at_ms, std::string* out);

// One decided event as the parts after the engine see it (the Kafka loop's batch hook, the
// action dispatcher): views into buffers owned by whoever hands it over, valid for the call.
struct DecidedEvent {
  std::string_view source;  // source name
  std::string_view decision_json;
  std::string_view event_json;
  Verdict verdict = Verdict::kUnknown;
};

}  // namespace reflex::engine
