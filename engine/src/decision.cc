#include "reflex/engine/decision.h"

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {
void AppendDecisionJson(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                        int64_t decided_at_ms, std::string* out) {
  out->append("{\"event_id\":");
  base::AppendJsonString(ev.id, out);
  out->append(",\"event_time\":\"");
  base::AppendRfc3339Millis(ev.time_ms, out);
  out->append("\",\"decided_at\":\"");
  base::AppendRfc3339Millis(decided_at_ms, out);
  out->append("\",\"verdict\":\"");
  out->append(VerdictName(m.verdict));
  out->append("\",\"ruleset\":");
  base::AppendJsonString(rules.version(), out);
  if (!ev.source.empty()) {
    out->append(",\"source\":");
    base::AppendJsonString(ev.source, out);
  }
  out->append(",\"matches\":[");
  const bool resolved = !m.matches.empty() && IsResolved(ev);
  for (size_t i = 0; i < m.matches.size(); ++i) {
    if (i) out->push_back(',');
    const RowMatch& row = m.matches[i];
    std::string_view not_run;
    if (!rules.IsIgnoreRow(row)) {
      if (m.verdict == Verdict::kSuppressed) {
        not_run = kNotRunSuppressed;
      } else if (resolved && !rules.HandlesResolved(row)) {
        not_run = kNotRunResolved;
      }
    }
    rules.AppendMatchJson(row, ev, out, not_run);
  }
  out->append("]}");
}

}  // namespace reflex::engine
