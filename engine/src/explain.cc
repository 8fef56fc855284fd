#include "reflex/engine/explain.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/decision.h"

namespace reflex::engine {

namespace {

ObservedValue Observe(const FieldValue& v, Op op) {
  ObservedValue o;
  if (v.missing()) return o;
  if (v.is_number()) {
    o.number = *v.number();
    // A time() / weekday() cell reads a timestamp: show it as a time, not as milliseconds.
    if ((op == Op::kTimeOfDay || op == Op::kWeekday) &&
        std::fabs(o.number) < base::kMaxEpochMillis) {
      o.kind = ObservedValue::Kind::kTime;
      o.text = base::FormatRfc3339Millis(static_cast<int64_t>(o.number));
    } else {
      o.kind = ObservedValue::Kind::kNumber;
    }
    return o;
  }
  o.kind = ObservedValue::Kind::kText;
  o.text = std::string(v.text());
  return o;
}

NearMiss DescribeMiss(const TableSpec& table, const RowSpec& row, const Event& ev) {
  NearMiss miss;
  miss.row = row.id;
  miss.line = row.where.line;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const FieldValue v = ev.Get(table.columns[c].field);
    if (row.conditions[c].Evaluate(v)) continue;
    FailedCell f;
    f.field = table.columns[c].field.text();
    f.condition = row.conditions[c].Describe();
    f.cell_line = row.where.line;
    f.cell_column = row.condition_where.size() > c ? row.condition_where[c].column : 0;
    f.actual = Observe(v, row.conditions[c].op());
    miss.failed.push_back(std::move(f));
  }
  return miss;
}

// The action as the decision record carries it: each parameter rendered by the same
// Template::Render the record's rendering (CompiledRuleSet::AppendMatchJson) goes through.
RenderedAction RenderAction(const ActionSpec& action, const Event& ev) {
  RenderedAction out;
  out.name = action.name;
  for (const auto& [name, tmpl] : action.params) {
    RenderedParam p;
    p.name = name;
    p.value = tmpl.Render(ev);
    for (const FieldPath& field : tmpl.variables()) {
      if (!ev.Get(field).missing()) continue;
      std::string text(field.text());
      if (std::find(p.missing.begin(), p.missing.end(), text) == p.missing.end()) {
        p.missing.push_back(std::move(text));
      }
    }
    out.params.push_back(std::move(p));
  }
  return out;
}

DecidingRow DescribeDecidingRow(const CompiledRuleSet& rules, const MatchResult& result,
                                const RowMatch& m, const Event& ev) {
  const RowSpec& row = rules.tables()[m.table].rows[m.row];
  DecidingRow out;
  out.row = row.id;
  out.line = row.where.line;
  for (const ActionSpec& a : row.actions) out.actions.push_back(RenderAction(a, ev));
  out.runbook = row.runbook;
  out.not_run = std::string(NotRunReason(rules, ev, result, m));
  return out;
}

// Whether row `r`, had it matched, would have been selected in place of (or, under collect,
// beside) what the table selected: the rows its near misses are drawn from.
bool CouldHaveDecided(const TableSpec& table, const std::vector<uint32_t>& selected, uint32_t r) {
  if (selected.empty()) return true;
  const uint32_t s = selected.front();
  switch (table.hit_policy) {
    case HitPolicy::kCollect:
      return true;
    case HitPolicy::kPriority:
      return table.rows[r].priority > table.rows[s].priority ||
             (table.rows[r].priority == table.rows[s].priority && r < s);
    case HitPolicy::kFirst:
    case HitPolicy::kUnique:
      return r < s;
  }
  return true;
}

TableExplanation ExplainTable(const CompiledRuleSet& rules, uint32_t t, const MatchResult& result,
                              const Event& ev, size_t max_near_misses) {
  const TableSpec& table = rules.tables()[t];
  TableExplanation out;
  out.table = table.name;
  out.file = table.file;
  out.hit_policy = table.hit_policy;
  std::vector<uint32_t> selected;
  for (const auto& m : result.matches) {
    if (m.table != t) continue;
    selected.push_back(m.row);
    out.selected.push_back(table.rows[m.row].id);
    out.decided.push_back(DescribeDecidingRow(rules, result, m, ev));
  }
  std::vector<std::pair<size_t, uint32_t>> misses;  // failed cells, row
  for (uint32_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    size_t failed = 0;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      failed += !row.conditions[c].Evaluate(ev.Get(table.columns[c].field));
    }
    if (failed == 0) {
      out.matching_rows.push_back(row.id);
    } else if (CouldHaveDecided(table, selected, r)) {
      misses.emplace_back(failed, r);
    }
  }
  std::stable_sort(misses.begin(), misses.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < misses.size() && i < max_near_misses; ++i) {
    out.near_misses.push_back(DescribeMiss(table, table.rows[misses[i].second], ev));
  }
  return out;
}

nlohmann::json ObservedToJson(const ObservedValue& v) {
  switch (v.kind) {
    case ObservedValue::Kind::kMissing:
      return nullptr;
    case ObservedValue::Kind::kNumber:
      return v.number;
    case ObservedValue::Kind::kText:
    case ObservedValue::Kind::kTime:
      return v.text;
  }
  return nullptr;
}

// As on the labels line: numbers shortest round-trip (50, not 50.0), text quoted.
std::string ObservedToText(const ObservedValue& v) {
  switch (v.kind) {
    case ObservedValue::Kind::kMissing:
      return "missing";
    case ObservedValue::Kind::kNumber:
      return std::string(FieldValue::Number(v.number).text());
    case ObservedValue::Kind::kText:
    case ObservedValue::Kind::kTime:
      return "\"" + v.text + "\"";
  }
  return "missing";
}

// Parameter values quoted as in JSON, so blanks, quotes and newlines are visible.
std::string QuotedText(std::string_view s) {
  std::string out;
  base::AppendJsonString(s, &out);
  return out;
}

nlohmann::json DecidingRowToJson(const DecidingRow& d) {
  nlohmann::json jd;
  jd["row"] = d.row;
  jd["line"] = d.line;
  jd["actions"] = nlohmann::json::array();
  for (const auto& a : d.actions) {
    nlohmann::json ja;
    ja["name"] = a.name;
    ja["params"] = nlohmann::json::object();
    for (const auto& p : a.params) {
      ja["params"][p.name] = p.value;
      if (!p.missing.empty()) ja["missing"][p.name] = p.missing;
    }
    jd["actions"].push_back(std::move(ja));
  }
  if (!d.runbook.empty()) jd["runbook"] = d.runbook;
  if (!d.not_run.empty()) jd["not_run"] = d.not_run;
  return jd;
}

nlohmann::json TableToJson(const TableExplanation& t) {
  nlohmann::json jt;
  jt["table"] = t.table;
  jt["file"] = t.file;
  jt["hit_policy"] = HitPolicyName(t.hit_policy);
  jt["selected"] = t.selected;
  jt["decided"] = nlohmann::json::array();
  for (const auto& d : t.decided) jt["decided"].push_back(DecidingRowToJson(d));
  jt["matching_rows"] = t.matching_rows;
  jt["near_misses"] = nlohmann::json::array();
  for (const auto& m : t.near_misses) {
    nlohmann::json jm;
    jm["row"] = m.row;
    jm["line"] = m.line;
    jm["failed"] = nlohmann::json::array();
    for (const auto& f : m.failed) {
      nlohmann::json jf;
      jf["column"] = f.field;
      jf["condition"] = f.condition;
      jf["cell"] = std::to_string(f.cell_line) + ":" + std::to_string(f.cell_column);
      jf["actual"] = ObservedToJson(f.actual);
      jm["failed"].push_back(std::move(jf));
    }
    jt["near_misses"].push_back(std::move(jm));
  }
  return jt;
}

void AppendTableText(const TableExplanation& t, std::string* out) {
  *out += "\n" + t.table + " (" + t.file + ", hit policy " + HitPolicyName(t.hit_policy) + ")\n";
  for (const auto& d : t.decided) {
    *out += "  decided by row: " + d.row + " (line " + std::to_string(d.line) + ")\n";
    for (const auto& a : d.actions) {
      *out += "    action " + a.name;
      for (size_t i = 0; i < a.params.size(); ++i) {
        const RenderedParam& p = a.params[i];
        *out += (i == 0 ? ": " : ", ") + p.name + "=" + QuotedText(p.value);
        if (p.missing.empty()) continue;
        *out += " (";
        for (size_t f = 0; f < p.missing.size(); ++f) *out += (f ? ", " : "") + p.missing[f];
        *out += " missing)";
      }
      *out += "\n";
    }
    if (!d.runbook.empty()) *out += "    runbook: " + d.runbook + "\n";
    if (!d.not_run.empty()) *out += "    not run: " + d.not_run + "\n";
  }
  if (!t.matching_rows.empty()) {
    *out += "  matching rows:";
    for (const auto& r : t.matching_rows) *out += " " + r;
    *out += "\n";
  } else {
    *out += "  no row matches\n";
  }
  for (const auto& m : t.near_misses) {
    *out += "  near miss " + m.row + " (line " + std::to_string(m.line) + "):";
    for (const auto& f : m.failed) {
      *out += " " + f.field + " is " + ObservedToText(f.actual) + ", needs " + f.condition + ";";
    }
    *out += "\n";
  }
}

}  // namespace

Explanation Explain(const CompiledRuleSet& rules, const Event& ev, const ExplainOptions& options) {
  MatchScratch scratch;
  MatchResult result;
  rules.Match(ev, &scratch, &result);
  Explanation e;
  e.event_id = ev.id;
  e.verdict = result.verdict;
  e.ruleset = rules.version();
  e.labels = ev.labels;
  e.values = ev.values;
  for (uint32_t t = 0; t < rules.tables().size(); ++t) {
    e.tables.push_back(ExplainTable(rules, t, result, ev, options.near_misses));
  }
  return e;
}

std::string_view SingleEventText(std::string_view text) {
  if (nlohmann::json::accept(text)) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                             text.back() == '\t')) {
      text.remove_suffix(1);
    }
    return text;
  }
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) return line;
    // Every line blank: the last one (empty after a final newline).
    if (end == std::string_view::npos) return line;
    text.remove_prefix(end + 1);
  }
  return {};
}

Result<Explanation> ExplainEventText(const CompiledRuleSet& rules, std::string_view text,
                                     int64_t now_ms, const ExplainOptions& options) {
  EventParser parser;
  Event ev;
  if (Status s = parser.Parse(SingleEventText(text), now_ms, &ev); !s.ok()) return s;
  rules.Label(&ev);
  return Explain(rules, ev, options);
}

nlohmann::json ExplanationToJson(const Explanation& e) {
  nlohmann::json report;
  report["event_id"] = e.event_id;
  report["verdict"] = VerdictName(e.verdict);
  report["ruleset"] = e.ruleset;
  // Two objects keyed by name, present (maybe empty) whatever the event holds.
  report["labels"] = nlohmann::json::object();
  for (const auto& [k, v] : e.labels) report["labels"][k] = v;
  report["values"] = nlohmann::json::object();
  for (const auto& [k, v] : e.values) report["values"][k] = v;
  report["tables"] = nlohmann::json::array();
  for (const auto& t : e.tables) report["tables"].push_back(TableToJson(t));
  return report;
}

std::string ExplanationToText(const Explanation& e) {
  std::string out = "event " + e.event_id + "  verdict: " + VerdictName(e.verdict) +
                    "  (rule set " + e.ruleset + ")\n";
  out += "labels:";
  if (e.labels.empty()) out += " (none)";
  for (const auto& [k, v] : e.labels) out += " " + k + "=" + v;
  out += "\nvalues:";
  if (e.values.empty()) out += " (none)";
  for (const auto& [k, v] : e.values) {
    out += " " + k + "=";
    out += FieldValue::Number(v).text();
  }
  out += "\n";
  for (const auto& t : e.tables) AppendTableText(t, &out);
  return out;
}

}  // namespace reflex::engine
