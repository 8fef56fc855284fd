#include "reflex/engine/decision.h"

namespace reflex::engine {
namespace {

void AppendKey(const char* key, std::string* out) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

}  // namespace

void AppendDecisionJson(const CompiledRuleSet& rules, const Event& ev, const MatchResult& m,
                        int64_t decided_at_ms, std::string* out) {
  out->push_back('{');
  AppendKey("event_id", out);
  AppendJsonString(ev.id, out);
  out->push_back(',');
  AppendKey("event_time", out);
  AppendJsonString(FormatRfc3339Millis(ev.time_ms), out);
  out->push_back(',');
  AppendKey("decided_at", out);
  AppendJsonString(FormatRfc3339Millis(decided_at_ms), out);
  out->push_back(',');
  AppendKey("verdict", out);
  AppendJsonString(VerdictName(m.verdict), out);
  out->push_back(',');
  AppendKey("ruleset", out);
  AppendJsonString(rules.version(), out);
  if (!ev.source.empty()) {
    out->push_back(',');
    AppendKey("source", out);
    AppendJsonString(ev.source, out);
  }
  out->push_back(',');
  AppendKey("matches", out);
  out->push_back('[');
  std::string rendered;
  for (size_t i = 0; i < m.matches.size(); ++i) {
    const TableSpec& t = rules.tables()[m.matches[i].table];
    const RowSpec& row = t.rows[m.matches[i].row];
    if (i) out->push_back(',');
    out->push_back('{');
    AppendKey("table", out);
    AppendJsonString(t.name, out);
    out->push_back(',');
    AppendKey("row", out);
    AppendJsonString(row.id, out);
    out->push_back(',');
    AppendKey("file", out);
    AppendJsonString(t.file, out);
    out->push_back(',');
    AppendKey("line", out);
    out->append(std::to_string(row.where.line));
    out->push_back(',');
    AppendKey("actions", out);
    out->push_back('[');
    for (size_t a = 0; a < row.actions.size(); ++a) {
      const ActionSpec& act = row.actions[a];
      if (a) out->push_back(',');
      out->push_back('{');
      AppendKey("name", out);
      AppendJsonString(act.name, out);
      out->push_back(',');
      AppendKey("params", out);
      out->push_back('{');
      for (size_t p = 0; p < act.params.size(); ++p) {
        if (p) out->push_back(',');
        AppendJsonString(act.params[p].first, out);
        out->push_back(':');
        rendered.clear();
        act.params[p].second.RenderTo(ev, &rendered);
        AppendJsonString(rendered, out);
      }
      out->append("}}");
    }
    out->push_back(']');
    if (!row.runbook.empty()) {
      out->push_back(',');
      AppendKey("runbook", out);
      AppendJsonString(row.runbook, out);
    }
    out->push_back('}');
  }
  out->append("]}");
}

}  // namespace reflex::engine
