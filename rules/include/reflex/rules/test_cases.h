// Rule test cases: events with the verdict (and row) operators expect, run before a table
// change goes live. A table is *verified* when it has cases and all of them pass.
//
// JSON Lines: {"name":"disk critical","event":{...},"expect":{"verdict":"known",
//              "table":"disk","row":"disk-crit","actions":["cleanup_logs"]}}
// CSV sheet (`tables/<table>.cases.csv`, beside the table):
//   case,expect_verdict,expect_row,alertname,severity,values.usage,message
//   crit,known,disk-crit,NodeFilesystemFull,critical,95,
// Field columns are event fields (bare names are labels; `values.x` numbers;
// `message`, `source`, `timestamp`, `id`). `expect_row` may be `table/row`; without a
// table it means the table of the sheet. `expect_actions` (optional) lists action names
// separated by `;`.
//
// VerifyRuleSet is the one place that decides whether a rule set passes its own cases:
// `reflex test` prints its answer, and the run mode refuses a set that does not pass (at
// start and on every reload) unless the config allows unverified sets.
//
// Thread-safety: pure functions; the results are plain values.
//
//   std::vector<CaseFile> files = {{"rules/tables/disk.cases.csv", text}};
//   RuleSetVerification v = VerifyRuleSet(*compiled, files, clock.NowMillis());
//   if (!v.passed()) for (const std::string& line : v.FailureLines()) report(line);
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/pattern_cases.h"

namespace reflex::rules {

struct TestCase {
  std::string name;
  std::string file;
  int line = 0;
  std::string event_json;  // the event as JSON text: an object, or a string (a text payload)
  // Transport metadata (`meta.key`, `meta["header.x"]`): a "meta" object beside "event" in
  // JSON Lines cases, meta.* columns in CSV cases.
  std::vector<std::pair<std::string, std::string>> meta;
  std::optional<engine::Verdict> expect_verdict;
  std::string expect_table;  // "" = any table
  std::string expect_row;    // "" = not checked
  std::optional<std::vector<std::string>> expect_actions;
  std::string table_hint;  // the table a cases sheet sits beside ("" for JSONL without one)
};

// Whether `name` (a file name or a path) names a cases file: *.cases.csv or *.cases.jsonl.
bool IsCasesFile(std::string_view name);

std::vector<TestCase> ReadCasesJsonl(std::string_view text, const std::string& file,
                                     Diagnostics* diags);
// `table` is the table the sheet belongs to (from its file name).
std::vector<TestCase> ReadCasesCsv(std::string_view text, const std::string& file,
                                   const std::string& table, Diagnostics* diags);

struct CaseOutcome {
  const TestCase* test = nullptr;
  bool passed = false;
  std::string detail;  // why it failed: "expected known/disk-crit, got unknown"
};

std::vector<CaseOutcome> RunCases(const engine::CompiledRuleSet& rules,
                                  const std::vector<TestCase>& cases, int64_t now_ms);

// What its cases say about one table. Names (metric labels, logs): "verified" (it has cases
// and all pass), "failed" (a case fails, or its cases file has an error), "untested" (no
// case belongs to it).
enum class TableState { kVerified, kFailed, kUntested };
inline constexpr base::EnumNames<TableState, 3> kTableStateNames{
    {{{TableState::kVerified, "verified"},
      {TableState::kFailed, "failed"},
      {TableState::kUntested, "untested"}}}};
// What `reflex test` prints: "verified", "not verified", "untested".
std::string_view TableStateText(TableState state);

// One case that failed, or one error in a cases file (then `name` is empty).
struct CaseFailure {
  std::string table;  // the table it belongs to; "" when none of the set
  std::string name;
  std::string file;
  int line = 0;
  std::string reason;  // "expected known disk/disk-crit, got unknown", or the file's error
};

// A case belongs to the table its cases file sits beside (TestCase::table_hint), else to
// the table it expects.
struct TableVerification {
  std::string table;
  int passed = 0;
  int failed = 0;
  TableState state = TableState::kUntested;
  std::vector<CaseFailure> failures;  // in case order
};
// One entry per table of `rules`, in rule-set order.
std::vector<TableVerification> VerifyTables(const engine::CompiledRuleSet& rules,
                                            const std::vector<CaseOutcome>& outcomes);

// A cases file: its path (as reported in failures) and its bytes.
struct CaseFile {
  std::string path;
  std::string text;
};

// Everything VerifyRuleSet found. Move-only: `outcomes` point into `cases`.
struct RuleSetVerification {
  std::vector<TableVerification> tables;    // every table, in rule-set order
  std::vector<CaseFailure> other_failures;  // failing cases that belong to no table
  std::vector<TestCase> cases;              // every case read, in file order
  std::vector<CaseOutcome> outcomes;        // one per case
  // patterns/*.cases.jsonl (pattern_cases.h); a failing one fails the set (other_failures).
  std::vector<PatternCase> pattern_cases;
  std::vector<PatternCaseOutcome> pattern_outcomes;
  Diagnostics diags;  // errors and warnings in the cases files

  RuleSetVerification() = default;
  RuleSetVerification(RuleSetVerification&&) = default;
  RuleSetVerification& operator=(RuleSetVerification&&) = default;
  RuleSetVerification(const RuleSetVerification&) = delete;
  RuleSetVerification& operator=(const RuleSetVerification&) = delete;

  // No case failed and every cases file was read without error. Untested tables pass.
  bool passed() const;
  // Tables in `state`.
  size_t Count(TableState state) const;
  // The names of the tables in `state`, in rule-set order.
  std::vector<std::string> Tables(TableState state) const;
  // Every failure, table by table, then those of no table: "<file>:<line>: table <t>: case
  // '<name>' failed: <reason>", or for a file error "<file>:<line>: table <t>: <error>"
  // (without "table <t>: " when it belongs to no table).
  std::vector<std::string> FailureLines() const;
};

// Reads `files` and runs their cases against `rules` at `now_ms` (the decision time of
// cases without a timestamp). Pattern cases files (patterns/*.cases.jsonl) run as
// pattern_cases.h says; their failures are failures of no table. A cases file belongs to the table
// whose file has the same stem: tables/disk.cases.csv to the table read from tables/disk.csv (or
// from tables/disk.xlsx when that workbook holds one table; beside a workbook of several tables a
// cases file belongs to none by name); a CSV sheet's `expect_row` without a table means that table.
// Turns one JSON Lines case whose `event` is a payload (an Alertmanager webhook, ...) into the
// cases of the events it maps to, appended to *out; a problem is reported to *diags at the case's
// position. CSV cases are events already and are never expanded.
using CaseExpander =
    std::function<void(TestCase tc, std::vector<TestCase>* out, Diagnostics* diags)>;

RuleSetVerification VerifyRuleSet(const engine::CompiledRuleSet& rules,
                                  const std::vector<CaseFile>& files, int64_t now_ms,
                                  const CaseExpander& expand_jsonl = nullptr);

}  // namespace reflex::rules
