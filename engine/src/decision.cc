#include "reflex/engine/decision.h"

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {

std::string_view NotRunReason(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                              const RowMatch& row) {
  if (m.mute.kind == MuteInfo::Kind::kSilence) return kNotRunSilenced;
  if (m.mute.kind == MuteInfo::Kind::kInhibition) return kNotRunInhibited;
  if (m.mute.kind == MuteInfo::Kind::kSymptom) return kNotRunSymptom;
  if (m.mute.kind == MuteInfo::Kind::kDuplicate) return kNotRunDuplicate;
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
  out->push_back('"');
  if (m.mute.kind == MuteInfo::Kind::kSilence) {
    out->append(",\"muted_by\":{\"silence\":");
    base::AppendJsonString(m.mute.silence_id, out);
    out->push_back('}');
  } else if (m.mute.kind == MuteInfo::Kind::kInhibition) {
    out->append(",\"muted_by\":{\"inhibit_rule\":");
    base::AppendJsonString(m.mute.inhibit_rule, out);
    out->append(",\"source_event\":");
    base::AppendJsonString(m.mute.source_event_id, out);
    out->push_back('}');
  } else if (m.mute.kind == MuteInfo::Kind::kSymptom) {
    out->append(",\"muted_by\":{\"root_cause\":");
    base::AppendJsonString(m.mute.root, out);
    if (!m.mute.root_event.empty()) {
      out->append(",\"root_event\":");
      base::AppendJsonString(m.mute.root_event, out);
    }
    out->append(",\"path\":[");
    for (size_t i = 0; i < m.mute.path.size(); ++i) {
      if (i) out->push_back(',');
      base::AppendJsonString(m.mute.path[i], out);
    }
    out->append("],\"symptoms\":");
    out->append(std::to_string(m.mute.symptoms));
    out->push_back('}');
  } else if (m.mute.kind == MuteInfo::Kind::kDuplicate) {
    out->append(",\"muted_by\":{\"duplicate_of\":");
    base::AppendJsonString(m.mute.duplicate_of, out);
    out->append(",\"duplicates\":");
    out->append(std::to_string(m.mute.duplicates));
    out->push_back('}');
  }
  out->append(",\"ruleset\":");
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
