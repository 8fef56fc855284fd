#include "reflex/engine/explain.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "reflex/base/time.h"

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

TableExplanation ExplainTable(const TableSpec& table, uint32_t t, const MatchResult& result,
                              const Event& ev, size_t max_near_misses) {
  TableExplanation out;
  out.table = table.name;
  out.file = table.file;
  out.hit_policy = table.hit_policy;
  for (const auto& m : result.matches) {
    if (m.table == t) out.selected.push_back(table.rows[m.row].id);
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
    } else {
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

nlohmann::json TableToJson(const TableExplanation& t) {
  nlohmann::json jt;
  jt["table"] = t.table;
  jt["file"] = t.file;
  jt["hit_policy"] = HitPolicyName(t.hit_policy);
  jt["selected"] = t.selected;
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
  if (!t.selected.empty()) {
    *out += "  decided by row:";
    for (const auto& r : t.selected) *out += " " + r;
    *out += "\n";
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
    e.tables.push_back(ExplainTable(rules.tables()[t], t, result, ev, options.near_misses));
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
  // Objects keyed by name; absent when the event has none.
  for (const auto& [k, v] : e.labels) report["labels"][k] = v;
  for (const auto& [k, v] : e.values) report["values"][k] = v;
  report["tables"] = nlohmann::json::array();
  for (const auto& t : e.tables) report["tables"].push_back(TableToJson(t));
  return report;
}

std::string ExplanationToText(const Explanation& e) {
  std::string out = "event " + e.event_id + "  verdict: " + VerdictName(e.verdict) +
                    "  (rule set " + e.ruleset + ")\n";
  out += "labels:";
  for (const auto& [k, v] : e.labels) out += " " + k + "=" + v;
  for (const auto& [k, v] : e.values) {
    out += " " + k + "=";
    out += FieldValue::Number(v).text();
  }
  out += "\n";
  for (const auto& t : e.tables) AppendTableText(t, &out);
  return out;
}

}  // namespace reflex::engine
