// Teaching: turning an event nothing matched into a tested decision-table row.
//
// An on-call person looks at an escalated event; DraftTeachRow proposes a row for it in the
// CSV table whose rows came nearest (engine/explain.h near misses): the condition columns
// those rows use are prefilled with the event's exact values (written so that they match
// exactly: `"in(x)"` is quoted, a field the event lacks is `missing`), the action, parameter,
// priority and runbook cells are copied from the nearest row, and the person edits from
// there (widening a value to `in(a,b)`, `prefix(db-)` or a range). CheckTeachRow then
// answers "what would happen if this row were saved", without writing anything: the table
// with the row appended and its cases file with one case built from the event are loaded
// over the rules directory (OverlaySource), so `reflex check` (every load error, and the
// shadowing and overlap warnings about the new row) and `reflex test` (every cases file,
// the new case included) run on exactly what would go live, and every sample event is
// decided again: the last one (the event taught, whose case is written) must be decided by
// the new row (`known`, or `suppressed` when the row only ignores); earlier samples of the
// group that it does not decide are reported as notes.
//
// What is written (by the caller, after a passing check): the table file with one line
// appended, in the file's own line ending, cells quoted as RFC 4180 needs (the CSV stays
// diff-friendly: one new line), and `tables/<stem>.cases.jsonl` with one case appended:
//   {"name":"taught from escalation 7","event":{...},"expect":{"verdict":"known",
//    "table":"disk","row":"disk-mail"}}
// Only CSV tables are taught (a YAML table or a workbook is edited by hand).
//
// Thread-safety: pure functions over a FileSource (const calls only).
// Errors: DraftTeachRow returns kInvalidArgument for an event that does not parse or an
// unknown / non-CSV table, kFailedPrecondition when the rules directory does not load or has
// no CSV table; CheckTeachRow returns kInvalidArgument for a row that does not fit the table's
// header and reports everything else in TeachCheck::problems.
//
//   auto draft = DraftTeachRow(disk, "rules", sample, "", now);
//   TeachCheck c = CheckTeachRow(disk, "rules", draft->table, draft->cells, {sample},
//                                "taught from escalation 7", now);
//   if (c.ok) { write c.table_file <- c.table_text; c.cases_file <- c.cases_text; reload; }
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/decision.h"
#include "reflex/engine/status.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/source.h"
#include "reflex/rules/table_reader.h"

namespace reflex::rules {

// One column of the table's header row, as the draft shows it.
struct TeachColumn {
  std::string header;  // as written in the header row
  HeaderKind kind = HeaderKind::kNone;
  std::string nearest;     // the nearest row's cell ("" when there is no near miss)
  std::string observed;    // condition columns: the event's value ("" when missing)
  bool missing = false;    // condition columns: the event has no such field
  bool prefilled = false;  // condition columns the nearest rows use, filled from the event
};

struct TeachDraft {
  std::string table;                 // the table's name
  std::string file;                  // its file, as the loader names it ("rules/tables/disk.csv")
  std::string nearest_row;           // the near-miss row the draft started from ("" when none)
  std::vector<TeachColumn> columns;  // the header row, in order
  std::vector<std::string> cells;    // the proposed row, one cell per column
  std::vector<std::string> tables;   // the tables a row can be taught to (CSV), in order
  // The action catalog (actions.yaml): action -> its parameter names. Empty without one.
  bool has_catalog = false;
  std::map<std::string, std::set<std::string>> catalog;
};

// Proposes a row for `event` (JSON text, as an escalation sample or a case holds it) in
// `table`, or, when `table` is empty, in the CSV table whose nearest row fails the fewest
// cells (the first CSV table when no row comes near). `description` goes in the
// description column when the table has one.
engine::Result<TeachDraft> DraftTeachRow(const FileSource& fs, const std::string& dir,
                                         std::string_view event, std::string_view table,
                                         std::string_view description, int64_t now_ms);

// The cell text that matches exactly `value` and nothing else: the text itself when it
// parses as that equality, else quoted (`"in(x)"`, `"a ""b"""`); `""` for empty text.
std::string ExactCell(std::string_view value);

// One CSV record: cells joined by commas, quoted when they hold a comma, a quote, a line
// break or leading/trailing spaces (RFC 4180).
std::string CsvLine(const std::vector<std::string>& cells);

// How a sample event is decided with the row in place.
struct TeachSample {
  std::string event_id;
  engine::Verdict verdict = engine::Verdict::kUnknown;
  std::vector<std::string> rows;  // the rows of the taught table that decided it
  bool by_row = false;            // known, and the new row is among `rows`
  std::string error;              // the event did not parse
};

struct TeachCheck {
  bool ok = false;                    // nothing in `problems`: the row may be saved
  std::vector<std::string> problems;  // why not, one sentence each
  // What the person should know but does not stop the save: earlier samples of the group
  // (same shape, other fields) the row does not decide.
  std::vector<std::string> notes;
  // Every error the rules directory has with the row (any file) and the warnings about the
  // new row (at its line or naming it: shadowing, overlap).
  std::vector<Diagnostic> diagnostics;
  std::string table, row_id;
  std::string table_file;  // the table's file
  int line = 0;            // the line the row gets
  std::string csv_line;    // the row as written, without the line ending
  std::string table_text;  // the table file with the row appended
  std::string cases_file;  // tables/<stem>.cases.jsonl
  bool cases_file_existed = false;
  std::string cases_text;  // the cases file with the new case appended
  std::string version;     // the rule-set version the directory would have
  std::vector<TeachSample> samples;
  size_t cases_passed = 0, cases_failed = 0;
  std::vector<std::string> case_failures;  // RuleSetVerification::FailureLines()
};

// Checks `cells` (one per header column of `table`'s CSV file) as a new row of that table.
// The new case is built from the last sample that is a JSON object; `case_name` names it.
engine::Result<TeachCheck> CheckTeachRow(const FileSource& fs, const std::string& dir,
                                         std::string_view table,
                                         const std::vector<std::string>& cells,
                                         const std::vector<std::string>& samples,
                                         std::string_view case_name, int64_t now_ms);

}  // namespace reflex::rules
