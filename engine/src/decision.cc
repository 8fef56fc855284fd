#include "reflex/engine/decision.h"

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {

std::string_view NotRunReason(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                              const RowMatch& row) {
  if (rules.IsIgnoreRow(row)) return {};
  if (m.verdict == Verdict::kSuppressed) return kNotRunSuppressed;
  if (!rules.HandlesResolved(row) && IsResolved(ev)) return kNotRunResolved;
  return {};
}

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
  for (size_t i = 0; i < m.matches.size(); ++i) {
    if (i) out->push_back(',');
    const RowMatch& row = m.matches[i];
    rules.AppendMatchJson(row, ev, out, NotRunReason(rules, ev, m, row));
  }
  out->append("]}");
}

}  // namespace reflex::engine
