// Pipeline: the in-process path one event takes: JSON parse -> labeling -> match ->
// decision JSON. Connectors feed it; the CLI's replay drives it from a file.
//
// Thread-safety: one Pipeline per thread (it owns parse and match buffers); many
// pipelines may share one CompiledRuleSet. SetRules swaps the set between events.
//
//   Pipeline p(rules);
//   std::string out;
//   Status s = p.Process(line, clock.NowMillis(), &out);  // !ok: dead-letter `line`
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/decision.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/mute.h"
#include "reflex/engine/status.h"

namespace reflex::engine {

class Pipeline {
 public:
  // `limits`: the caps an event must keep to (EventLimits); one over them is refused.
  explicit Pipeline(std::shared_ptr<const CompiledRuleSet> rules, EventLimits limits = {});

  void SetRules(std::shared_ptr<const CompiledRuleSet> rules) { rules_ = std::move(rules); }
  // Silences and inhibition (mute.h) applied to every decision after matching; null: none.
  // The muter must outlive the pipeline (it may be shared by several pipelines).
  void SetMuter(Muter* muter) { muter_ = muter; }
  const std::shared_ptr<const CompiledRuleSet>& rules() const { return rules_; }

  // Decides one JSON event. On success appends the decision JSON to `decision_json` (when
  // not null) and returns OK; on malformed input or an event over the limits returns
  // InvalidArgument (ResourceExhausted over EventParser::kMaxEventBytes) with the reason
  // and appends nothing. `now_ms` stamps the decision and stands in for a missing event
  // timestamp.
  Status Process(std::string_view json, int64_t now_ms, std::string* decision_json);
  // The same, with transport metadata (Event::meta) the connector delivered beside the JSON.
  using Meta = std::vector<std::pair<std::string, std::string>>;
  Status Process(std::string_view json, int64_t now_ms, std::string* decision_json,
                 const Meta& meta);

  // The event and match of the last successful Process.
  const Event& event() const { return event_; }
  const MatchResult& result() const { return result_; }
  // For a caller that shows the event to its patterns (pattern_stage.h) before writing the
  // decision: Process with `decision_json` null, then MarkPending when a pattern holds the
  // unknown event, then AppendDecision.
  void MarkPending() { result_.verdict = Verdict::kPending; }
  void AppendDecision(int64_t now_ms, std::string* decision_json) const {
    AppendDecisionJson(*rules_, event_, result_, now_ms, decision_json);
  }

 private:
  std::shared_ptr<const CompiledRuleSet> rules_;
  EventParser parser_;
  Event event_;
  Event parsing_;  // parse target; swapped into event_ on success so a failure keeps event_
  MatchScratch scratch_;
  MatchResult result_;
  Muter* muter_ = nullptr;
};

}  // namespace reflex::engine
