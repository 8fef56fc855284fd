// Reading one decision table from CSV or YAML text, or one per sheet of an .xlsx workbook,
// into an engine::TableSpec.
//
// CSV layout (one table a file, as a spreadsheet saves it; an .xlsx sheet holds the same
// rows, cell for cell):
//   table,disk_full                      <- property rows: key, value
//   hit_policy,first                        (table, hit_policy, description, timezone)
//   id,alertname,severity,usage,action,param.host,runbook,description   <- header row
//   disk-crit,NodeFilesystemFull,critical,>= 90,cleanup_logs,{{labels.instance}},https://..,
// The header row is the first row whose first cell is not a property name. Header cells:
// `id`, `action`, `param.<name>`, `priority`, `runbook`, `description` / `note` are
// reserved; every other header is a condition column naming an event field
// (`alertname`, `labels.env`, `values.usage`, `payload.a.b[0]`, `message`, `timestamp`).
// Rows whose first cell starts with `#` are comments.
//
// The action cell holds one or more actions separated by `;`, each `name` or
// `name(key=value, key="quoted, value")`; values are templates (`{{labels.instance}}`).
// `param.<name>` columns add a parameter to every action of the row. `ignore` and
// `escalate` are built-in outcomes.
//
// YAML layout (same model):
//   table: disk_full
//   hit_policy: first
//   columns: [alertname, severity, usage]    # optional; defaults to keys used in `when`
//   rules:
//     - id: disk-crit
//       when: {alertname: NodeFilesystemFull, usage: ">= 90"}
//       action: cleanup_logs(host={{labels.instance}})     # or a list of actions
//       params: {path: /var/log}
//       runbook: https://...
//
// Every problem goes to `diags` with its position; the result is nullopt when the table
// has an error. Thread-safety: pure functions.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/rule_model.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

// What the rest of the rule set tells a table reader.
struct TableContext {
  // Action names from the catalog (actions.yaml). When `has_catalog` is false every name
  // is accepted.
  bool has_catalog = false;
  std::set<std::string> action_names;
  // Per catalog action, the parameter names its `params` declares: a row may pass no other.
  std::map<std::string, std::set<std::string>> action_params;
  // Label names known to exist (table columns and labeling outputs): a bare template
  // variable `{{x}}` must be one of these, or a reserved root (`message`, `source`, ...).
  std::set<std::string> known_labels;
  // Per catalog action of `kind: emit`, its `event:` mapping as JSON whose strings are the
  // template texts (scalars kept as text), for the rule-chaining check (chaining.h).
  std::map<std::string, nlohmann::json> emit_events;
};

std::optional<engine::TableSpec> ReadCsvTable(std::string_view text, const std::string& file,
                                              const TableContext& ctx, Diagnostics* diags);
// The CSV layout over records already read: the rows of a CSV file (ReadCsv) or of a workbook
// sheet (xlsx.h). `name` is the table's name unless a `table` property row gives one; every
// position names `file`. ReadCsvTable is ReadCsv, then this.
std::optional<engine::TableSpec> ReadRecordsTable(const std::vector<CsvRecord>& records,
                                                  const std::string& file, const std::string& name,
                                                  const TableContext& ctx, Diagnostics* diags);
// What a header cell of the CSV layout declares (case-insensitive; `note` and `comment` are
// descriptions, `actions` the action, `params.x` a parameter). kNone: an empty cell.
enum class HeaderKind {
  kNone,
  kId,
  kCondition,
  kAction,
  kParam,
  kPriority,
  kRunbook,
  kDescription
};
HeaderKind ClassifyHeader(std::string_view header);
// The index in `records` of the header row: the first that is not blank, a `#` comment or
// a property row (table, hit_policy, description, timezone); records.size() when none.
size_t HeaderRecordIndex(const std::vector<CsvRecord>& records);
// One table per table sheet of an .xlsx workbook (`bytes` is the file's contents), each in
// the CSV layout, read by ReadRecordsTable with positions in the sheet's file
// (`tables/disk.xlsx:Sheet1`, printed `tables/disk.xlsx:Sheet1!C7`). Table sheets are the
// visible worksheets with a cell that is not empty and whose name does not start with `_`
// (xlsx.h). Name: a `table` property row, else the file stem when the workbook has one table
// sheet (`disk`), else stem + "." + sheet name (`disk.Sheet1`; characters a table name cannot
// hold become '_'). A sheet with an error makes no table; the others still do.
std::vector<engine::TableSpec> ReadXlsxTables(std::string_view bytes, const std::string& file,
                                              const TableContext& ctx, Diagnostics* diags);
std::optional<engine::TableSpec> ReadYamlTable(std::string_view text, const std::string& file,
                                               const TableContext& ctx, Diagnostics* diags);

// Parses an action cell (`a(x=1); b`) into specs; errors go to diags at (file,line,column).
bool ParseActionCell(std::string_view cell, const std::string& file, int line, int column,
                     const TableContext& ctx, std::vector<engine::ActionSpec>* out,
                     Diagnostics* diags);

}  // namespace reflex::rules
