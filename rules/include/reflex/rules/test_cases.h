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
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/matcher.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

struct TestCase {
  std::string name;
  std::string file;
  int line = 0;
  std::string event_json;  // the event, as JSON text
  // Transport metadata (`meta.key`, `meta["header.x"]`): a "meta" object beside "event" in
  // JSON Lines cases, meta.* columns in CSV cases.
  std::vector<std::pair<std::string, std::string>> meta;
  std::optional<engine::Verdict> expect_verdict;
  std::string expect_table;  // "" = any table
  std::string expect_row;    // "" = not checked
  std::optional<std::vector<std::string>> expect_actions;
  std::string table_hint;  // the table a cases sheet sits beside ("" for JSONL without one)
};

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

// Per table: "verified" (cases, all pass), "not verified" (a case failed) or "untested".
struct TableVerification {
  std::string table;
  int passed = 0;
  int failed = 0;
  std::string status;
};
std::vector<TableVerification> VerifyTables(const engine::CompiledRuleSet& rules,
                                            const std::vector<CaseOutcome>& outcomes);

}  // namespace reflex::rules
