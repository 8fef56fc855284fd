// Explain: why a rule set decides an event the way it does. Per table: the rows whose
// cells all hold; the rows its hit policy selected (the ones that decided the event), each
// with its actions and their parameters rendered over the event exactly as the decision
// record carries them to the executor (Template::Render, and the decision's "not_run"
// reason when the actions do not run); and the near misses: among the rows that could have
// decided in place of what the table decided, those failing the fewest cells, each failed
// cell with the condition it holds and what the event had there. `reflex explain` prints one.
//
// Every table sees every event (no table stops the others), so "could have decided" is per
// table: when the table selected nothing, any row; under `first` / `unique`, a row before
// the selected one; under `priority`, a row that would outrank it (a higher priority, or the
// same one earlier in the file); under `collect`, any row (it would have been selected too).
//
// An Explanation is a plain value computed once, with no I/O and nothing read from a clock:
// the same rule set and event give the same Explanation. Two renderers turn it into the
// JSON form (`reflex explain --json`) and the text form. Neither reads the other's output.
// Template rendering cannot fail: a missing field renders as its default or empty, as it
// does for the executor; explain names such fields (RenderedParam::missing).
//
// Thread-safety: free functions over const inputs; an Explanation is a value.
//
//   Result<Explanation> e = ExplainEventText(*rules, file_text, clock.NowMillis());
//   if (!e.ok()) return e.status();  // the event is malformed
//   std::cout << ExplanationToText(*e);
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/status.h"

namespace reflex::engine {

// What the event had in the field a failed cell reads.
struct ObservedValue {
  enum class Kind {
    kMissing,  // the event has no such field
    kText,     // `text`
    kNumber,   // `number`
    kTime,     // a numeric field under a time() / weekday() cell: `number` is the time in
               // ms since the epoch, `text` the same time as RFC 3339
  };
  Kind kind = Kind::kMissing;
  std::string text;
  double number = 0;
};

// One cell of a near-miss row that does not hold for the event.
struct FailedCell {
  std::string field;      // the field the column reads, canonical: "values.usage"
  std::string condition;  // the cell as Condition::Describe() writes it: ">= 90"
  int cell_line = 0;      // where the cell is written: the row's line,
  int cell_column = 0;    // and the cell's 1-based column (0 when unknown)
  ObservedValue actual;
};

// One parameter of an action cell, rendered over the event.
struct RenderedParam {
  std::string name;
  std::string value;  // what the decision record carries for it
  // The fields the template reads that the event does not have (each rendered as its
  // default, or empty), in order of appearance, without repeats.
  std::vector<std::string> missing;
};

struct RenderedAction {
  std::string name;                   // as in the action cell: "cleanup", "ignore"
  std::vector<RenderedParam> params;  // in the cell's order
};

// A row the table's hit policy selected, with what the decision does with it.
struct DecidingRow {
  std::string row;                      // the row id
  int line = 0;                         // the row's line in its table file
  std::vector<RenderedAction> actions;  // in the cell's order
  std::string runbook;                  // "" when the row has none
  // Why its actions do not run (NotRunReason, decision.h): "" when they run.
  std::string not_run;
};

// A row that does not match, with every cell that fails (in column order; never empty).
struct NearMiss {
  std::string row;  // the row id
  int line = 0;     // the row's line in its table file
  std::vector<FailedCell> failed;
};

struct TableExplanation {
  std::string table;
  std::string file;
  HitPolicy hit_policy = HitPolicy::kFirst;
  // The rows the hit policy selected, which decided the event (in match order). Empty
  // when no row matches.
  std::vector<std::string> selected;
  // The same rows with their rendered actions, one per entry of `selected`.
  std::vector<DecidingRow> decided;
  // Every row whose cells all hold, in file order (a superset of `selected`).
  std::vector<std::string> matching_rows;
  // Rows that do not match and could have decided in place of `selected` (see the top of
  // this file): those failing the fewest cells first; equal counts in file order. At most
  // ExplainOptions::near_misses.
  std::vector<NearMiss> near_misses;
};

struct Explanation {
  std::string event_id;
  Verdict verdict = Verdict::kUnknown;
  std::string ruleset;  // the rule-set version
  // The event's labels after labeling and its numeric values, each in the event's order.
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, double>> values;
  std::vector<TableExplanation> tables;  // in rule-set order
};

struct ExplainOptions {
  // Near misses listed per table. Default: 3.
  size_t near_misses = 3;
};

// Explains how `rules` decides `ev`. `ev` must already be labeled (rules.Label(&ev)), as the
// pipeline labels an event before it matches it.
Explanation Explain(const CompiledRuleSet& rules, const Event& ev,
                    const ExplainOptions& options = {});

// The event in a file given to `reflex explain`: the whole text without trailing whitespace
// when it is one JSON value (a pretty-printed object spans several lines), else its first
// non-blank line (JSON Lines); when every line is blank, the last one (empty after a final
// newline). The text is kept as written, not re-serialized, so an event without "id" gets
// the same hash id as in a replay. The result views `text`.
std::string_view SingleEventText(std::string_view text);

// Parses the event of `text` (SingleEventText), labels it and explains it. `now_ms` stands
// in for a missing timestamp. When the event is malformed, the parser's status and reason
// (InvalidArgument; ResourceExhausted over EventParser::kMaxEventBytes).
Result<Explanation> ExplainEventText(const CompiledRuleSet& rules, std::string_view text,
                                     int64_t now_ms, const ExplainOptions& options = {});

// The JSON form: {"event_id", "verdict", "ruleset", "labels": {name: text}, "values":
// {name: number} (two objects, always present, maybe empty), "tables": [{"table", "file",
// "hit_policy", "selected", "decided": [{"row", "line", "actions": [{"name", "params":
// {name: text}, "missing": {param: [field, ...]} (only when a field is missing)}],
// "runbook" (when set), "not_run" (when the actions do not run)}], "matching_rows",
// "near_misses": [{"row", "line", "failed": [{"column", "condition", "cell": "line:col",
// "actual"}]}]}]}. An action's "name" and "params" are what the decision record holds.
// "actual" is null when the field is missing, a number, or a string (times as RFC 3339).
// Include <nlohmann/json.hpp> to use the result.
nlohmann::json ExplanationToJson(const Explanation& e);

// The text form, a header (labels and values on lines of their own, "(none)" when empty)
// and one block per table. Parameter values are quoted with JSON escapes, and a field a
// parameter reads that the event lacks is named after the value:
//   event x1  verdict: known  (rule set v-1a2b...)
//   labels: alertname=NodeFilesystemFull severity=critical instance=h9
//   values: usage=95
//
//   disk (tables/disk.csv, hit policy first)
//     decided by row: disk-crit (line 6)   (one block per selected row)
//       action cleanup: host="h9", team="" (labels.team missing)
//       action page
//       runbook: https://...             (when the row has one)
//       not run: suppressed: ...         (when its actions do not run)
//     matching rows: disk-crit disk-any   (or: no row matches)
//     near miss disk-data (line 5): mountpoint is "/", needs = /data;
std::string ExplanationToText(const Explanation& e);

}  // namespace reflex::engine
