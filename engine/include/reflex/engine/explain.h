// Explain: why a rule set decides an event the way it does. Per table: the rows whose
// cells all hold, the rows its hit policy selected (the ones that decided the event), and
// the near misses: the rows that fail the fewest cells, each failed cell with the
// condition it holds and what the event had there. `reflex explain` prints one.
//
// An Explanation is a plain value computed once; two renderers turn it into the JSON form
// (`reflex explain --json`) and the text form. Neither reads the other's output.
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
  // Every row whose cells all hold, in file order (a superset of `selected`).
  std::vector<std::string> matching_rows;
  // Rows failing the fewest cells first; equal counts in file order. At most
  // ExplainOptions::near_misses.
  std::vector<NearMiss> near_misses;
};

struct Explanation {
  std::string event_id;
  Verdict verdict = Verdict::kUnknown;
  std::string ruleset;  // the rule-set version
  // The event's fields after labeling, in the event's order.
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

// The JSON form: {"event_id", "verdict", "ruleset", "labels" and "values" (objects, present
// when not empty), "tables": [{"table", "file", "hit_policy", "selected", "matching_rows",
// "near_misses": [{"row", "line", "failed": [{"column", "condition", "cell": "line:col",
// "actual"}]}]}]}. "actual" is null when the field is missing, a number, or a string
// (times as RFC 3339). Include <nlohmann/json.hpp> to use the result.
nlohmann::json ExplanationToJson(const Explanation& e);

// The text form, a header and one block per table:
//   event x1  verdict: known  (rule set v-1a2b...)
//   labels: alertname=NodeFilesystemFull severity=critical usage=95
//
//   disk (tables/disk.csv, hit policy first)
//     decided by row: disk-crit          (only when the table selected a row)
//     matching rows: disk-crit           (or: no row matches)
//     near miss disk-warn (line 6): severity is "critical", needs = warning;
std::string ExplanationToText(const Explanation& e);

}  // namespace reflex::engine
