// Tests of rule test cases: JSONL and CSV case files, RunCases and VerifyTables.
#include "reflex/rules/test_cases.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "../base/enum_names_test_util.h"
#include "diag_test_util.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::rules {
namespace {

using test_util::All;
using test_util::Find;

using engine::Verdict;
using nlohmann::json;

std::shared_ptr<const engine::CompiledRuleSet> Rules() {
  MemorySource fs;
  fs.Put("r/tables/disk.csv",
         "table,disk\n"
         "id,alertname,values.usage,action\n"
         "disk-crit,DiskFull,>= 90,cleanup(path=/x); page\n"
         "disk-warn,DiskFull,\"[80,90)\",notify\n");
  fs.Put("r/tables/net.csv",
         "table,net\n"
         "id,alertname,payload.iface.name,action\n"
         "eth,LinkDown,prefix(eth),escalate\n");
  fs.Put("r/tables/quiet.yaml",
         "table: quiet\nrules:\n  - id: watchdog\n    when: {alertname: Watchdog}\n"
         "    action: ignore\n");
  fs.Put("r/tables/timed.csv",
         "table,timed\n"
         "id,alertname,timestamp,action\n"
         "night,Backup,time(00:00-06:00),ignore\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  Diagnostics d;
  auto rs = Compile(std::move(lr), &d);
  EXPECT_NE(rs, nullptr) << All(d);
  return rs;
}

// ---- JSONL ----------------------------------------------------------------------------------

TEST(CasesJsonlTest, ReadsCases) {
  Diagnostics d;
  auto cases = ReadCasesJsonl(
      "# comment\n"
      "\n"
      R"({"name":"crit","event":{"labels":{"alertname":"DiskFull"},"values":{"usage":95}},)"
      R"("expect":{"verdict":"known","row":"disk/disk-crit","actions":["cleanup","page"]}})"
      "\r\n"
      R"({"event":{"labels":{}},"expect":{"verdict":"UNKNOWN"}})"
      "\n"
      R"({"name":"t","event":{},"expect":{"table":"quiet","row":"watchdog"}})",
      "cases/x.jsonl", &d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].name, "crit");
  EXPECT_EQ(cases[0].file, "cases/x.jsonl");
  EXPECT_EQ(cases[0].line, 3);
  EXPECT_EQ(cases[0].expect_verdict, Verdict::kKnown);
  EXPECT_EQ(cases[0].expect_table, "disk");
  EXPECT_EQ(cases[0].expect_row, "disk-crit");
  ASSERT_TRUE(cases[0].expect_actions);
  EXPECT_EQ(*cases[0].expect_actions, (std::vector<std::string>{"cleanup", "page"}));
  EXPECT_EQ(json::parse(cases[0].event_json)["values"]["usage"], 95);
  EXPECT_TRUE(cases[0].table_hint.empty());
  EXPECT_EQ(cases[1].name, "cases/x.jsonl:4");
  EXPECT_EQ(cases[1].expect_verdict, Verdict::kUnknown);
  EXPECT_FALSE(cases[1].expect_actions);
  EXPECT_EQ(cases[2].line, 5);
  EXPECT_EQ(cases[2].expect_table, "quiet");
  EXPECT_EQ(cases[2].expect_row, "watchdog");
  EXPECT_FALSE(cases[2].expect_verdict);
}

TEST(CasesJsonlTest, MalformedLinesAreReportedWithTheirLine) {
  Diagnostics d;
  auto cases =
      ReadCasesJsonl(R"({"name":"ok","event":{},"expect":{"verdict":"known"}})"
                     "\n"
                     "{not json\n"
                     "[1, 2]\n"
                     R"({"name":"no-event","expect":{"verdict":"known"}})"
                     "\n"
                     R"({"name":"no-expect","event":{}})"
                     "\n"
                     R"({"name":"bad-verdict","event":{},"expect":{"verdict":"maybe"}})"
                     "\n"
                     R"({"name":"nothing","event":{},"expect":{}})"
                     "\n"
                     R"({"name":"event-not-object","event":["x"],"expect":{"verdict":"known"}})"
                     "\n",
                     "c.jsonl", &d);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].name, "ok");
  EXPECT_EQ(d.error_count(), 7u) << All(d);
  const auto s = d.Sorted();
  ASSERT_EQ(s.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(s[i].file, "c.jsonl");
    EXPECT_EQ(s[i].line, i + 2);
    EXPECT_EQ(s[i].column, 1);
  }
  EXPECT_NE(s[0].message.find("a case is a JSON object"), std::string::npos);
  EXPECT_NE(s[1].message.find("a case is a JSON object"), std::string::npos);
  EXPECT_EQ(s[2].message, "case 'no-event' has no \"event\" object");
  EXPECT_EQ(s[3].message, "case 'no-expect' has no \"expect\" object");
  EXPECT_EQ(s[4].message, "case 'bad-verdict': verdict must be known, suppressed or unknown");
  EXPECT_NE(s[5].message.find("case 'nothing' expects nothing"), std::string::npos);
  EXPECT_NE(s[6].message.find("has no \"event\" object"), std::string::npos);
}

TEST(CasesJsonlTest, EmptyInput) {
  Diagnostics d;
  EXPECT_TRUE(ReadCasesJsonl("", "c.jsonl", &d).empty());
  EXPECT_TRUE(d.items().empty());
}

// ---- CSV ------------------------------------------------------------------------------------

TEST(CasesCsvTest, ReadsASheet) {
  Diagnostics d;
  auto cases = ReadCasesCsv(
      "case,expect_verdict,expect_row,expect_actions,alertname,labels.env,values.usage,message,"
      "source,id,payload.iface.name\n"
      "crit,known,disk-crit,cleanup; page,DiskFull,prod,95,disk is full,prom,ev-1,eth0\n"
      "# comment\n"
      ",unknown,other/row,,Nope,,,,,,\n",
      "tables/disk.cases.csv", "disk", &d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(cases.size(), 2u);
  const TestCase& c = cases[0];
  EXPECT_EQ(c.name, "crit");
  EXPECT_EQ(c.line, 2);
  EXPECT_EQ(c.table_hint, "disk");
  EXPECT_EQ(c.expect_verdict, Verdict::kKnown);
  EXPECT_EQ(c.expect_table, "disk");  // the sheet's table
  EXPECT_EQ(c.expect_row, "disk-crit");
  ASSERT_TRUE(c.expect_actions);
  EXPECT_EQ(*c.expect_actions, (std::vector<std::string>{"cleanup", "page"}));
  json ev = json::parse(c.event_json);
  EXPECT_EQ(ev["labels"]["alertname"], "DiskFull");
  EXPECT_EQ(ev["labels"]["env"], "prod");
  EXPECT_EQ(ev["values"]["usage"], 95);
  EXPECT_EQ(ev["message"], "disk is full");
  EXPECT_EQ(ev["source"], "prom");
  EXPECT_EQ(ev["id"], "ev-1");
  EXPECT_EQ(ev["payload"]["iface"]["name"], "eth0");

  const TestCase& u = cases[1];
  EXPECT_EQ(u.name, "tables/disk.cases.csv:4");
  EXPECT_EQ(u.line, 4);
  EXPECT_EQ(u.expect_verdict, Verdict::kUnknown);
  EXPECT_EQ(u.expect_table, "other");
  EXPECT_EQ(u.expect_row, "row");
  EXPECT_FALSE(u.expect_actions);
}

TEST(CasesCsvTest, HeaderAliases) {
  Diagnostics d;
  auto cases = ReadCasesCsv("name,verdict,row,actions\nx,suppressed,r,ignore\n", "c.csv", "t", &d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].name, "x");
  EXPECT_EQ(cases[0].expect_verdict, Verdict::kSuppressed);
  EXPECT_EQ(cases[0].expect_row, "r");
  EXPECT_EQ(*cases[0].expect_actions, (std::vector<std::string>{"ignore"}));
}

TEST(CasesCsvTest, ErrorsPointAtTheCell) {
  Diagnostics d;
  auto cases = ReadCasesCsv(
      "case,expect_verdict,values.usage\n"
      "a,maybe,1\n"
      "b,known,lots\n"
      "c,known,2\n",
      "tables/disk.cases.csv", "disk", &d);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].name, "c");
  EXPECT_DIAG_AT(d, "verdict must be known, suppressed or unknown, got 'maybe'", 2, 2);
  EXPECT_DIAG_AT(d, "'values.usage' needs a number, got 'lots'", 3, 3);
  const Diagnostic* e = Find(d, "got 'lots'");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(
      e->ToString(),
      "tables/disk.cases.csv:3:3: error: 'values.usage' needs a number, got 'lots' (cell C3)");
}

TEST(CasesCsvTest, AMisspeltExpectationColumnIsAnErrorNotAField) {
  // Read as a label, `expect_action` made a wrong expectation pass and the table "verified".
  Diagnostics d;
  auto cases = ReadCasesCsv(
      "case,expect_verdict,expect_action,alertname\n"
      "a,known,no_such_action,DiskFull\n",
      "tables/disk.cases.csv", "disk", &d);
  EXPECT_TRUE(cases.empty());
  EXPECT_DIAG_AT(d, "unknown expectation column 'expect_action' (did you mean 'expect_actions'?)",
                 1, 3);
  Diagnostics d2;
  ReadCasesCsv("case,expect_verdict,expectrow\na,known\n", "c.csv", "disk", &d2);
  EXPECT_DIAG_AT(d2, "unknown expectation column 'expectrow' (did you mean 'expect_row'?)", 1, 3);
}

TEST(CasesJsonlTest, AMisspeltExpectationIsAnError) {
  Diagnostics d;
  auto cases = ReadCasesJsonl(
      R"({"name":"x","event":{},"expect":{"verdict":"known","action":["a"]}})", "c.jsonl", &d);
  EXPECT_TRUE(cases.empty());
  EXPECT_DIAG_AT(d, "case 'x': unknown expectation \"action\" (did you mean 'actions'?)", 1, 1);
}

TEST(CasesCsvTest, StructuralErrors) {
  {
    Diagnostics d;
    EXPECT_TRUE(ReadCasesCsv("", "c.csv", "t", &d).empty());
    EXPECT_DIAG_AT(d, "empty cases sheet", 0, 0);
  }
  {
    Diagnostics d;
    EXPECT_TRUE(ReadCasesCsv("case,alertname\nx,y\n", "c.csv", "t", &d).empty());
    EXPECT_DIAG_AT(d, "no expect_verdict / expect_row column", 1, 0);
  }
  {
    Diagnostics d;
    ReadCasesCsv("case,expect_verdict,label.x\nx,known,y\n", "c.csv", "t", &d);
    EXPECT_DIAG_AT(d, "unknown column 'label.x'", 1, 3);
  }
  {
    Diagnostics d;
    ReadCasesCsv("case,expect_verdict\n\"x,known\n", "c.csv", "t", &d);
    EXPECT_DIAG_AT(d, "never closed", 2, 1);
  }
}

TEST(CasesCsvTest, TimestampColumnTakesRfc3339OrEpoch) {
  Diagnostics d;
  auto cases = ReadCasesCsv(
      "case,expect_verdict,alertname,timestamp\n"
      "rfc,suppressed,Backup,2026-11-24T03:00:00Z\n"
      "epoch-s,suppressed,Backup,1795489200\n"
      "epoch-ms,known,Backup,1795532400000\n",
      "tables/timed.cases.csv", "timed", &d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(cases.size(), 3u);
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  auto outcomes = RunCases(*rs, cases, 0);
  ASSERT_EQ(outcomes.size(), 3u);
  // 1795489200 s = 2026-11-24T03:00:00Z (night); 1795532400000 ms = 15:00 (day).
  EXPECT_TRUE(outcomes[0].passed) << outcomes[0].detail;
  EXPECT_TRUE(outcomes[1].passed) << outcomes[1].detail;
  EXPECT_FALSE(outcomes[2].passed);
  EXPECT_EQ(outcomes[2].detail, "expected known, got unknown");
}

TEST(CasesCsvTest, PayloadKeysWithPointerCharactersDoNotThrow) {
  // JSON-pointer syntax characters in a payload key must be escaped, not thrown on.
  Diagnostics d;
  std::vector<TestCase> cases;
  ASSERT_NO_THROW(
      cases = ReadCasesCsv("case,expect_verdict,\"payload[\"\"a~b\"\"]\",\"payload[\"\"c/d\"\"]\"\n"
                           "x,unknown,1,two\n",
                           "c.csv", "t", &d));
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(cases.size(), 1u);
  json ev = json::parse(cases[0].event_json);
  EXPECT_EQ(ev["payload"]["a~b"], 1);
  EXPECT_EQ(ev["payload"]["c/d"], "two");
}

TEST(CasesCsvTest, ConflictingPayloadColumnsAreAnErrorNotACrash) {
  Diagnostics d;
  std::vector<TestCase> cases;
  ASSERT_NO_THROW(cases = ReadCasesCsv("case,expect_verdict,payload.a,payload.a.b\nx,unknown,1,2\n",
                                       "c.csv", "t", &d));
  EXPECT_TRUE(d.has_errors());
  EXPECT_TRUE(cases.empty());
  EXPECT_DIAG_AT(d, "payload.a.b", 2, 4);
}

// ---- RunCases and VerifyTables ------------------------------------------------------------------

std::vector<TestCase> JsonlCases(const std::string& text) {
  Diagnostics d;
  auto cases = ReadCasesJsonl(text, "c.jsonl", &d);
  EXPECT_FALSE(d.has_errors()) << All(d);
  return cases;
}

TEST(RunCasesTest, PassAndFailWithDetail) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  auto cases = JsonlCases(
      R"({"name":"crit","event":{"labels":{"alertname":"DiskFull"},"values":{"usage":95}},"expect":{"verdict":"known","row":"disk/disk-crit","actions":["cleanup","page"]}})"
      "\n"
      R"({"name":"warn-wrong","event":{"labels":{"alertname":"DiskFull"},"values":{"usage":85}},"expect":{"verdict":"known","row":"disk/disk-crit"}})"
      "\n"
      R"({"name":"unknown-wrong","event":{"labels":{"alertname":"Nope"}},"expect":{"verdict":"known","row":"disk/disk-crit"}})"
      "\n"
      R"({"name":"quiet","event":{"labels":{"alertname":"Watchdog"}},"expect":{"verdict":"suppressed","row":"watchdog","actions":["ignore"]}})"
      "\n"
      R"({"name":"actions-wrong","event":{"labels":{"alertname":"DiskFull"},"values":{"usage":99}},"expect":{"actions":["page"]}})"
      "\n"
      R"({"name":"payload","event":{"labels":{"alertname":"LinkDown"},"payload":{"iface":{"name":"eth1"}}},"expect":{"verdict":"known","table":"net"}})"
      "\n"
      R"({"name":"unknown","event":{"labels":{"alertname":"Other"}},"expect":{"verdict":"unknown"}})");
  ASSERT_EQ(cases.size(), 7u);
  auto out = RunCases(*rs, cases, 0);
  ASSERT_EQ(out.size(), 7u);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].test, &cases[i]);
  EXPECT_TRUE(out[0].passed) << out[0].detail;
  EXPECT_TRUE(out[0].detail.empty());
  EXPECT_FALSE(out[1].passed);
  EXPECT_EQ(out[1].detail, "expected known disk/disk-crit, got known disk/disk-warn");
  EXPECT_FALSE(out[2].passed);
  EXPECT_EQ(out[2].detail, "expected known disk/disk-crit, got unknown");
  EXPECT_TRUE(out[3].passed) << out[3].detail;
  EXPECT_FALSE(out[4].passed);
  EXPECT_EQ(out[4].detail,
            "expected actions [page], got known disk/disk-crit actions [cleanup;page]");
  EXPECT_TRUE(out[5].passed) << out[5].detail;
  EXPECT_TRUE(out[6].passed) << out[6].detail;
}

TEST(RunCasesTest, EventThatDoesNotParse) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  TestCase tc;
  tc.name = "broken";
  tc.event_json = R"({"timestamp":"yesterday"})";
  tc.expect_verdict = Verdict::kUnknown;
  std::vector<TestCase> cases{tc};
  auto out = RunCases(*rs, cases, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].passed);
  EXPECT_EQ(out[0].detail.rfind("event does not parse: ", 0), 0u) << out[0].detail;
}

TEST(RunCasesTest, CsvSheetCasesRunAgainstTheirTable) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  Diagnostics d;
  auto cases = ReadCasesCsv(
      "case,expect_verdict,expect_row,expect_actions,alertname,values.usage\n"
      "crit,known,disk-crit,cleanup;page,DiskFull,95\n"
      "warn,known,disk-warn,notify,DiskFull,80\n"
      "below,unknown,,,DiskFull,79.9\n",
      "r/tables/disk.cases.csv", "disk", &d);
  ASSERT_FALSE(d.has_errors()) << All(d);
  auto out = RunCases(*rs, cases, 0);
  ASSERT_EQ(out.size(), 3u);
  for (const auto& o : out) EXPECT_TRUE(o.passed) << o.test->name << ": " << o.detail;
}

TEST(VerifyTablesTest, VerifiedNotVerifiedUntested) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  Diagnostics d;
  // disk: one sheet, all pass. quiet: JSONL naming the table, one passes, one fails.
  auto disk = ReadCasesCsv(
      "case,expect_verdict,expect_row,alertname,values.usage\n"
      "crit,known,disk-crit,DiskFull,95\n"
      "warn,known,disk-warn,DiskFull,85\n",
      "r/tables/disk.cases.csv", "disk", &d);
  auto quiet = ReadCasesJsonl(
      R"({"name":"ok","event":{"labels":{"alertname":"Watchdog"}},"expect":{"verdict":"suppressed","table":"quiet"}})"
      "\n"
      R"({"name":"bad","event":{"labels":{"alertname":"Other"}},"expect":{"verdict":"suppressed","row":"quiet/watchdog"}})"
      "\n"
      R"({"name":"no-table","event":{"labels":{"alertname":"Other"}},"expect":{"verdict":"unknown"}})",
      "r/quiet.jsonl", &d);
  ASSERT_FALSE(d.has_errors()) << All(d);
  std::vector<TestCase> all = disk;
  all.insert(all.end(), quiet.begin(), quiet.end());
  auto out = RunCases(*rs, all, 0);
  auto v = VerifyTables(*rs, out);
  ASSERT_EQ(v.size(), 4u);
  std::map<std::string, TableVerification> by;
  for (const auto& t : v) by[t.table] = t;
  EXPECT_EQ(by["disk"].state, TableState::kVerified);
  EXPECT_EQ(by["disk"].passed, 2);
  EXPECT_EQ(by["disk"].failed, 0);
  EXPECT_EQ(by["quiet"].state, TableState::kFailed);
  EXPECT_EQ(by["quiet"].passed, 1);
  EXPECT_EQ(by["quiet"].failed, 1);
  EXPECT_EQ(by["net"].state, TableState::kUntested);
  EXPECT_EQ(by["net"].passed + by["net"].failed, 0);
  EXPECT_EQ(by["timed"].state, TableState::kUntested);
  // Rule-set order.
  EXPECT_EQ(v[0].table, "disk");
}

TEST(VerifyTablesTest, EveryTableStateHasANameAndATextForReflexTest) {
  enum_test::ExpectNamesEveryEnumerator(kTableStateNames);
  EXPECT_EQ(kTableStateNames.List(), "verified, failed, untested");
  EXPECT_EQ(TableStateText(TableState::kVerified), "verified");
  EXPECT_EQ(TableStateText(TableState::kFailed), "not verified");
  EXPECT_EQ(TableStateText(TableState::kUntested), "untested");
}

// ---- VerifyRuleSet -------------------------------------------------------------------------

TEST(VerifyRuleSetTest, PerTableVerdictWithTheFailingCasesAndWhy) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  const std::vector<CaseFile> files = {
      // Beside disk.csv: belongs to disk, a row without a table means disk's row.
      {"r/tables/disk.cases.csv",
       "case,expect_verdict,expect_row,alertname,values.usage\n"
       "crit,known,disk-crit,DiskFull,95\n"
       "warn,known,disk-warn,DiskFull,85\n"},
      // Beside quiet.yaml: one case passes, one fails.
      {"r/tables/quiet.cases.jsonl",
       R"({"name":"watchdog","event":{"labels":{"alertname":"Watchdog"}},"expect":{"verdict":"suppressed"}})"
       "\n"
       R"({"name":"other is quiet too","event":{"labels":{"alertname":"Other"}},"expect":{"verdict":"suppressed"}})"
       "\n"}};
  RuleSetVerification v = VerifyRuleSet(*rs, files, 0);
  EXPECT_FALSE(v.diags.has_errors()) << All(v.diags);
  ASSERT_EQ(v.tables.size(), 4u);
  std::map<std::string, const TableVerification*> by;
  for (const auto& t : v.tables) by[t.table] = &t;
  EXPECT_EQ(by["disk"]->state, TableState::kVerified);
  EXPECT_EQ(by["disk"]->passed, 2);
  EXPECT_TRUE(by["disk"]->failures.empty());
  EXPECT_EQ(by["quiet"]->state, TableState::kFailed);
  EXPECT_EQ(by["quiet"]->passed, 1);
  ASSERT_EQ(by["quiet"]->failures.size(), 1u);
  const CaseFailure& f = by["quiet"]->failures[0];
  EXPECT_EQ(f.table, "quiet");
  EXPECT_EQ(f.name, "other is quiet too");
  EXPECT_EQ(f.file, "r/tables/quiet.cases.jsonl");
  EXPECT_EQ(f.line, 2);
  EXPECT_EQ(f.reason, "expected suppressed, got unknown");
  EXPECT_EQ(by["net"]->state, TableState::kUntested);
  EXPECT_EQ(by["timed"]->state, TableState::kUntested);
  EXPECT_FALSE(v.passed());
  EXPECT_EQ(v.Count(TableState::kVerified), 1u);
  EXPECT_EQ(v.Count(TableState::kFailed), 1u);
  EXPECT_EQ(v.Count(TableState::kUntested), 2u);
  EXPECT_EQ(v.Tables(TableState::kUntested), (std::vector<std::string>{"net", "timed"}));
  EXPECT_EQ(v.FailureLines(),
            std::vector<std::string>{"r/tables/quiet.cases.jsonl:2: table quiet: case 'other is "
                                     "quiet too' failed: expected suppressed, got unknown"});
  ASSERT_EQ(v.outcomes.size(), 4u);

  // Moving the result keeps the outcomes pointing at its cases.
  RuleSetVerification moved = std::move(v);
  EXPECT_EQ(moved.outcomes[3].test->name, "other is quiet too");
}

TEST(VerifyRuleSetTest, UntestedTablesPassAndNoCasesAtAllPasses) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  RuleSetVerification none = VerifyRuleSet(*rs, {}, 0);
  EXPECT_TRUE(none.passed());
  EXPECT_EQ(none.Count(TableState::kUntested), 4u);
  EXPECT_TRUE(none.FailureLines().empty());
}

TEST(VerifyRuleSetTest, ACasesFileWithAnErrorFailsItsTable) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  RuleSetVerification v = VerifyRuleSet(*rs,
                                        {{"r/tables/disk.cases.csv",
                                          "case,expect_verdict,expect_row,alertname,values.usage\n"
                                          "crit,known,disk-crit,DiskFull,95\n"
                                          "typo,knwon,disk-crit,DiskFull,95\n"}},
                                        0);
  EXPECT_TRUE(v.diags.has_errors());
  EXPECT_FALSE(v.passed());
  ASSERT_EQ(v.tables[0].table, "disk");
  EXPECT_EQ(v.tables[0].state, TableState::kFailed) << "a case that cannot run is not a pass";
  EXPECT_EQ(v.tables[0].passed, 1);
  ASSERT_EQ(v.FailureLines().size(), 1u);
  EXPECT_EQ(v.FailureLines()[0],
            "r/tables/disk.cases.csv:3: table disk: verdict must be known, suppressed or "
            "unknown, got 'knwon'");
}

TEST(VerifyRuleSetTest, AFailingCaseOfNoTableStillFailsTheSet) {
  auto rs = Rules();
  ASSERT_NE(rs, nullptr);
  RuleSetVerification v = VerifyRuleSet(
      *rs,
      {{"extra/misc.cases.jsonl",
        R"({"name":"expects nothing matches","event":{"labels":{"alertname":"Watchdog"}},"expect":{"verdict":"unknown"}})"
        "\n"}},
      0);
  EXPECT_EQ(v.Count(TableState::kFailed), 0u);
  EXPECT_FALSE(v.passed());
  ASSERT_EQ(v.other_failures.size(), 1u);
  EXPECT_EQ(v.FailureLines(),
            std::vector<std::string>{"extra/misc.cases.jsonl:1: case 'expects nothing matches' "
                                     "failed: expected unknown, got suppressed quiet/watchdog"});
}

TEST(VerifyRuleSetTest, CasesFileNames) {
  EXPECT_TRUE(IsCasesFile("disk.cases.csv"));
  EXPECT_TRUE(IsCasesFile("rules/tables/noise.cases.jsonl"));
  EXPECT_FALSE(IsCasesFile("disk.csv"));
  EXPECT_FALSE(IsCasesFile("cases.csv.bak"));
  EXPECT_FALSE(IsCasesFile("disk.cases.yaml"));
}

}  // namespace
}  // namespace reflex::rules
