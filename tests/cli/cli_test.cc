// End-to-end tests of the `reflex` command line. Every test writes its own rules directory
// into a temporary directory, runs the real binary (fork + exec, no shell) and checks the
// exit code and what it printed. Exit codes (cli/commands.h): 0 success; 1 rule errors or
// failed cases; 2 usage or I/O error; 3 malformed events with --fail-on-malformed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rules/xlsx_writer.h"
#include "run_cli.h"

namespace reflex::cli_test {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr int kOk = 0;
constexpr int kRuleErrors = 1;
constexpr int kUsage = 2;
constexpr int kMalformed = 3;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

std::string Base64Decode(const std::string& in) {
  static const std::string k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = k.find(c);
    if (v == std::string::npos) return "<bad base64>";
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

// ---- a small, valid rules directory ------------------------------------------------------

constexpr const char* kActions = R"(actions:
  cleanup_logs:
    kind: webhook
    url: http://127.0.0.1:9/cleanup
    params: [host]
  restart_service: {kind: webhook, url: "http://127.0.0.1:9/restart", params: [name]}
  page_oncall: {kind: webhook, url: "http://127.0.0.1:9/page"}
)";

constexpr const char* kLabeling = R"(extract:
  - name: service_from_message
    from: message
    pattern: "service (?P<service>[a-z]+) failed"
)";

// Line numbers matter: disk-crit is on line 5, disk-warn on line 6; values.usage is column D.
constexpr const char* kDiskCsv =
    "table,disk\n"
    "hit_policy,first\n"
    "description,Disk alerts\n"
    "id,alertname,severity,values.usage,action,param.host\n"
    "disk-crit,NodeFilesystemFull,critical,>= 90,cleanup_logs,{{labels.instance}}\n"
    "disk-warn,NodeFilesystemFull,warning,,ignore,\n";

constexpr const char* kServiceYaml = R"yaml(table: service
hit_policy: unique
description: Service failures
rules:
  - id: svc-restart
    when: {alertname: ServiceDown, service: "/^(api|web)$/"}
    action: restart_service(name={{service}})
  - id: svc-page
    when: {alertname: ServiceDown, service: "in(db, cache)"}
    action: page_oncall
)yaml";

constexpr const char* kDiskCases =
    "case,expect_verdict,expect_row,alertname,severity,values.usage,instance\n"
    "crit,known,disk-crit,NodeFilesystemFull,critical,95,host1\n"
    "warn,suppressed,disk-warn,NodeFilesystemFull,warning,50,host1\n";

constexpr const char* kServiceCases =
    R"({"name":"api restarts","event":{"labels":{"alertname":"ServiceDown"},"message":"service api failed"},"expect":{"verdict":"known","row":"svc-restart","actions":["restart_service"]}})"
    "\n"
    R"({"name":"db pages","event":{"labels":{"alertname":"ServiceDown"},"message":"service db failed"},"expect":{"verdict":"known","row":"service/svc-page"}})"
    "\n";

// e1 known (disk-crit), e2 suppressed (disk-warn), e3 unknown, e4 known (svc-restart via
// the extracted `service` label), e5 unknown with the same shape as e3.
constexpr const char* kEvents =
    R"({"id":"e1","labels":{"alertname":"NodeFilesystemFull","severity":"critical","instance":"host1"},"values":{"usage":95}})"
    "\n"
    R"({"id":"e2","labels":{"alertname":"NodeFilesystemFull","severity":"warning"},"values":{"usage":80}})"
    "\n"
    R"({"id":"e3","labels":{"alertname":"Mystery","foo":"bar"}})"
    "\n"
    R"({"id":"e4","labels":{"alertname":"ServiceDown"},"message":"service api failed"})"
    "\n"
    R"({"id":"e5","labels":{"foo":"baz","alertname":"Mystery"}})"
    "\n";

class CliTest : public ::testing::Test {
 protected:
  // Writes the valid rules directory and returns its path.
  std::string GoodRules() {
    tmp_.Write("rules/actions.yaml", kActions);
    tmp_.Write("rules/labeling.yaml", kLabeling);
    tmp_.Write("rules/tables/disk.csv", kDiskCsv);
    tmp_.Write("rules/tables/service.yaml", kServiceYaml);
    tmp_.Write("rules/tables/disk.cases.csv", kDiskCases);
    tmp_.Write("rules/tables/service.cases.jsonl", kServiceCases);
    return Path("rules");
  }
  std::string Path(const std::string& rel) const { return tmp_.path() + "/" + rel; }
  std::string Write(const std::string& rel, const std::string& text) {
    return tmp_.Write(rel, text);
  }

  // The rule-set version `check` reports for `dir` ("" when it does not).
  std::string VersionOf(const std::string& dir) {
    CliResult r = RunCli({"check", dir});
    std::smatch m;
    std::regex re("rule set (v-[0-9a-f]{16})");
    return std::regex_search(r.out, m, re) ? m[1].str() : "";
  }

  TempDir tmp_;
};

// ---- check ------------------------------------------------------------------------------

TEST_F(CliTest, CheckGoodDirectoryExitsZeroAndSummarizes) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"check", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(
      r.out,
      ContainsRegex("OK: 2 table\\(s\\), 4 row\\(s\\), 0 warning\\(s\\); rule set v-[0-9a-f]{16}"));
  EXPECT_THAT(r.out, HasSubstr(dir + ": OK"));
  EXPECT_EQ(r.err, "") << "a clean rule set prints no diagnostics";
}

TEST_F(CliTest, CheckVersionIsStableAndFollowsContent) {
  const std::string dir = GoodRules();
  const std::string v1 = VersionOf(dir);
  ASSERT_FALSE(v1.empty());
  EXPECT_EQ(VersionOf(dir), v1);
  Write("rules/tables/disk.csv",
        std::string(kDiskCsv) + "disk-info,NodeFilesystemFull,info,,ignore,\n");
  const std::string v2 = VersionOf(dir);
  EXPECT_FALSE(v2.empty());
  EXPECT_NE(v2, v1);
}

// inhibit.yaml (docs/silences.md) is part of the rule set: checked with file, line and column,
// and a change moves the version.
TEST_F(CliTest, CheckValidatesInhibitYamlWithFileAndLine) {
  const std::string dir = GoodRules();
  const std::string v1 = VersionOf(dir);
  Write("rules/inhibit.yaml",
        "inhibit_rules:\n"
        "  - name: node-down\n"
        "    source_matchers: ['alertname=\"NodeDown\"']\n"
        "    target_matchers: ['severity=~\"warning|info\"']\n"
        "    equal: [instance]\n");
  CliResult ok = RunCli({"check", dir});
  ASSERT_EQ(ok.exit_code, kOk) << ok.Describe();
  EXPECT_NE(VersionOf(dir), v1);
  Write("rules/inhibit.yaml",
        "inhibit_rules:\n"
        "  - source_matchers: ['alertname=\"NodeDown']\n"
        "    target_matchers: ['severity=~\"(\"']\n"
        "    equal: [in-stance]\n"
        "  - source_match: {alertname: X}\n"
        "  - source_matchers: ['a=b']\n");
  CliResult bad = RunCli({"check", dir});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  const std::string file = dir + "/inhibit.yaml";
  EXPECT_THAT(bad.err, HasSubstr(file + ":2:23: error: source_matchers: column 11: "
                                        "unterminated quoted value"));
  EXPECT_THAT(bad.err, HasSubstr(file + ":3:23: error: target_matchers: invalid regular "
                                        "expression"));
  EXPECT_THAT(bad.err, HasSubstr(file + ":4:13: error: equal: expected label names"));
  EXPECT_THAT(bad.err, HasSubstr(file + ":5:5: error: 'source_match' is not supported"));
  EXPECT_THAT(bad.err, HasSubstr(file + ":6:5: error: inhibit rule 'inhibit[2]': "
                                        "target_matchers is empty"));
}

TEST_F(CliTest, CheckStatsPrintsCompileTimeAndPerTableIndex) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"check", "--stats", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, ContainsRegex("compiled in [0-9]+\\.[0-9] ms"));
  EXPECT_THAT(r.out,
              ContainsRegex("  disk \\(first\\): 2 rows, 3 columns, index [0-9]+ nodes, depth "
                            "[0-9]+, largest leaf [0-9]+"));
  EXPECT_THAT(r.out,
              ContainsRegex("  service \\(unique\\): 2 rows, 2 columns, index [0-9]+ nodes"));
  CliResult plain = RunCli({"check", dir});
  EXPECT_THAT(plain.out, Not(HasSubstr("compiled in")));
}

TEST_F(CliTest, CheckReportsEveryErrorWithFileLineColumn) {
  Write("bad/actions.yaml", kActions);
  Write("bad/labeling.yaml",
        "extract:\n"
        "  - name: broken\n"
        "    pattern: \"(?P<x>[a-z\"\n");
  // Unknown operator (C4) and a regex RE2 refuses (C5).
  Write("bad/tables/a_ops.csv",
        "table,a_ops\n"
        "hit_policy,first\n"
        "id,alertname,severity,action\n"
        "r-op,X,frob(1),ignore\n"
        "r-re,Y,/a(b/,ignore\n");
  // An unknown template variable and an action missing from actions.yaml (both in D4/D5).
  Write("bad/tables/b_tmpl.csv",
        "table,b_tmpl\n"
        "hit_policy,first\n"
        "id,alertname,severity,action\n"
        "t1,Z,,cleanup_logs(host={{nosuch}})\n"
        "t2,W,,cleanup_log\n");
  // Two rows that both match a critical Disk event under `unique`.
  Write("bad/tables/c_unique.csv",
        "table,c_unique\n"
        "hit_policy,unique\n"
        "id,alertname,severity,action\n"
        "u1,Disk,,ignore\n"
        "u2,Disk,critical,ignore\n");
  // Under `first`, `broad` matches everything `narrow` matches: narrow can never fire.
  Write("bad/tables/d_first.yaml",
        "table: d_first\n"
        "hit_policy: first\n"
        "rules:\n"
        "  - id: broad\n"
        "    when: {alertname: Disk}\n"
        "    action: ignore\n"
        "  - id: narrow\n"
        "    when: {alertname: Disk, severity: critical}\n"
        "    action: ignore\n");
  // An unknown operator in a YAML table: reported at the value's line and column.
  Write("bad/tables/e_yaml.yaml",
        "table: e_yaml\n"
        "hit_policy: first\n"
        "rules:\n"
        "  - id: y1\n"
        "    when: {alertname: \"frob(x)\"}\n"
        "    action: ignore\n");
  const std::string dir = Path("bad");
  CliResult r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  const std::string t = dir + "/tables/";
  EXPECT_THAT(r.err, HasSubstr(dir + "/labeling.yaml:3:14: error: bad pattern in 'broken'"));
  EXPECT_THAT(r.err, HasSubstr(t + "a_ops.csv:4:3: error: unknown operator 'frob'"));
  EXPECT_THAT(r.err, ContainsRegex("a_ops\\.csv:4:3: error: .*\\(cell C4\\)"));
  EXPECT_THAT(r.err, ContainsRegex("a_ops\\.csv:5:3: error: .*missing \\).*\\(cell C5\\)"));
  EXPECT_THAT(r.err,
              HasSubstr(t + "b_tmpl.csv:4:4: error: unknown template variable '{{nosuch}}'"));
  EXPECT_THAT(r.err, HasSubstr(t + "b_tmpl.csv:5:4: error: unknown action 'cleanup_log': not in "
                                   "actions.yaml (did you mean 'cleanup_logs'?)"));
  EXPECT_THAT(r.err, HasSubstr(t + "c_unique.csv:5:1: error: rows 'u1' (line 4) and 'u2' overlap"));
  EXPECT_THAT(r.err, HasSubstr(t + "d_first.yaml:7:5: error: row 'narrow' can never fire: row "
                                   "'broad' (line 4)"));
  EXPECT_THAT(r.err, HasSubstr(t + "e_yaml.yaml:5:23: error: unknown operator 'frob'"));
  // Every error line carries a position, and the count on stdout matches.
  size_t errors = 0;
  for (const std::string& line : Lines(r.err)) {
    if (line.find(": error: ") == std::string::npos) continue;
    ++errors;
    EXPECT_THAT(line, ContainsRegex("^[^:]+:[0-9]+:[0-9]+: error: "))
        << "no file:line:col in: " << line;
  }
  EXPECT_EQ(errors, 8u) << r.err;
  EXPECT_THAT(r.out, HasSubstr(dir + ": 8 error(s), 0 warning(s)"));
}

// Regression: the 64-column limit of the matcher surfaced as a compile error with no
// position ("<dir>: error: compile: ...").
TEST_F(CliTest, CheckTooManyColumnsHasAPosition) {
  std::string header = "id", row = "r1";
  for (int i = 0; i < 65; ++i) {
    header += ",c" + std::to_string(i);
    row += ",x";
  }
  Write("wide/tables/wide.csv",
        "table,wide\nhit_policy,first\n" + header + ",action\n" + row + ",ignore\n");
  CliResult r = RunCli({"check", Path("wide")});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  // The 65th condition column is the 66th cell of the header row (column BN).
  EXPECT_THAT(r.err, HasSubstr(Path("wide") + "/tables/wide.csv:3:66: error: table 'wide' has 65 "
                                              "condition columns; the limit is 64 (cell BN3)"));
  EXPECT_THAT(r.err, Not(HasSubstr("compile:")));
}

TEST_F(CliTest, CheckValidatesPatterns) {
  const std::string dir = GoodRules();
  Write("rules/patterns/storage.yaml",
        "- name: disk-and-page\n"
        "  kind: all_of\n"
        "  group_by: [labels.instance]\n"
        "  within: 10m\n"
        "  members:\n"
        "    - {name: disk, when: {alertname: NodeFilesystemFull}}\n"
        "    - {name: svc, when: {alertname: ServiceDown}}\n"
        "  actions:\n"
        "    - restart_service(name={{events.first.labels.instance}})\n");
  CliResult r = RunCli({"check", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("OK: 2 table(s), 4 row(s), 1 pattern(s), 0 warning(s)"));
  Write("rules/patterns/bad.yaml",
        "- name: quiet\n"
        "  kind: heartbeat\n"
        "  within: 5 minutes\n"
        "  members: [{when: {alertname: Watchdog}}]\n"
        "  actions: [page_oncal]\n");
  r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(dir + "/patterns/bad.yaml:3:11: error: 'within': "));
  EXPECT_THAT(r.err,
              HasSubstr(dir + "/patterns/bad.yaml:5:13: error: unknown action 'page_oncal'"));
  EXPECT_THAT(r.out, HasSubstr(dir + ": 2 error(s)"));
}

TEST_F(CliTest, CheckWarningsDoNotFail) {
  const std::string dir = GoodRules();
  Write("rules/tables/README.txt", "notes\n");
  CliResult r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(dir + "/tables/README.txt: warning: ignored: not a table"));
  EXPECT_THAT(r.out, HasSubstr("1 warning(s)"));
}

TEST_F(CliTest, CheckMissingDirectoryFails) {
  CliResult r = RunCli({"check", Path("nope")});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(Path("nope") + ": error: not a rules directory"));
}

TEST_F(CliTest, CheckDirectoryWithoutTablesFails) {
  Write("empty/actions.yaml", kActions);
  Write("empty/tables/.keep", "");
  CliResult r = RunCli({"check", Path("empty")});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("no decision tables"));
}

// ---- .xlsx tables ------------------------------------------------------------------------

// kDiskCsv's cells, as a one-sheet workbook.
const std::vector<std::vector<std::string>> kDiskRows = {
    {"table", "disk"},
    {"hit_policy", "first"},
    {"description", "Disk alerts"},
    {"id", "alertname", "severity", "values.usage", "action", "param.host"},
    {"disk-crit", "NodeFilesystemFull", "critical", ">= 90", "cleanup_logs", "{{labels.instance}}"},
    {"disk-warn", "NodeFilesystemFull", "warning", "", "ignore", ""}};

TEST_F(CliTest, CheckAndTestReadAnXlsxTable) {
  const std::string dir = GoodRules();
  fs::remove(Path("rules/tables/disk.csv"));
  std::vector<std::string> shared;
  const std::string rows = test::SharedRows(kDiskRows, &shared);
  Write("rules/tables/disk.xlsx",
        test::XlsxWriter().AddSheet("Sheet1", rows).SetSharedStrings(shared).Build());
  CliResult r = RunCli({"check", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("OK: 2 table(s), 4 row(s), 0 warning(s)"));
  EXPECT_EQ(r.err, "");
  // disk.cases.csv belongs to the workbook's table as it did to disk.csv.
  CliResult t = RunCli({"test", dir});
  ASSERT_EQ(t.exit_code, kOk) << t.Describe();
  EXPECT_THAT(t.out, ContainsRegex("\n  disk +2 +0  verified\n"));
}

TEST_F(CliTest, CheckNamesTheSheetAndCellOfAnXlsxError) {
  const std::string dir = GoodRules();
  fs::remove(Path("rules/tables/disk.csv"));
  std::vector<std::vector<std::string>> rows = kDiskRows;
  rows[5][3] = "frob(1)";      // D6
  rows[4][4] = "cleanup_log";  // E5: not in actions.yaml
  Write("rules/tables/disk.xlsx",
        test::XlsxWriter().AddSheet("Alerts", test::InlineRows(rows)).Build());
  CliResult r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  const std::string book = dir + "/tables/disk.xlsx:Alerts!";
  EXPECT_THAT(r.err, HasSubstr(book + "D6: error: unknown operator 'frob'"));
  EXPECT_THAT(r.err, HasSubstr(book + "E5: error: unknown action 'cleanup_log': not in "
                                      "actions.yaml (did you mean 'cleanup_logs'?)"));
  EXPECT_THAT(r.out, HasSubstr(dir + ": 2 error(s), 0 warning(s)"));

  // A file that is not a workbook fails the check with its name, not a crash.
  Write("rules/tables/disk.xlsx", "id,action\nr1,ignore\n");
  CliResult bad = RunCli({"check", dir});
  EXPECT_EQ(bad.exit_code, kRuleErrors) << bad.Describe();
  EXPECT_THAT(bad.err, HasSubstr(dir + "/tables/disk.xlsx: error: not an .xlsx workbook"));
}

// ---- replay -----------------------------------------------------------------------------

TEST_F(CliTest, ReplayWritesOneDecisionPerEvent) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  const std::string version = VersionOf(dir);
  CliResult r = RunCli({"replay", events, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  const auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  std::vector<json> d;
  for (const auto& l : lines) {
    json j = json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << l;
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["ruleset"], version);
    d.push_back(j);
  }
  EXPECT_EQ(d[0]["event_id"], "e1");
  EXPECT_EQ(d[0]["verdict"], "known");
  ASSERT_EQ(d[0]["matches"].size(), 1u);
  EXPECT_EQ(d[0]["matches"][0]["table"], "disk");
  EXPECT_EQ(d[0]["matches"][0]["row"], "disk-crit");
  EXPECT_EQ(d[0]["matches"][0]["line"], 5);
  ASSERT_EQ(d[0]["matches"][0]["actions"].size(), 1u);
  EXPECT_EQ(d[0]["matches"][0]["actions"][0]["name"], "cleanup_logs");
  EXPECT_EQ(d[0]["matches"][0]["actions"][0]["params"]["host"], "host1");

  EXPECT_EQ(d[1]["verdict"], "suppressed");
  EXPECT_EQ(d[1]["matches"][0]["row"], "disk-warn");
  EXPECT_EQ(d[1]["matches"][0]["actions"][0]["name"], "ignore");

  EXPECT_EQ(d[2]["verdict"], "unknown");
  EXPECT_TRUE(d[2]["matches"].empty());

  // The `service` label comes from labeling.yaml and feeds the YAML table and its template.
  EXPECT_EQ(d[3]["verdict"], "known");
  EXPECT_EQ(d[3]["matches"][0]["table"], "service");
  EXPECT_EQ(d[3]["matches"][0]["row"], "svc-restart");
  EXPECT_EQ(d[3]["matches"][0]["actions"][0]["name"], "restart_service");
  EXPECT_EQ(d[3]["matches"][0]["actions"][0]["params"]["name"], "api");

  EXPECT_EQ(d[4]["verdict"], "unknown");
  // In jsonl mode the summary goes to stderr, so stdout stays pure JSON Lines.
  EXPECT_THAT(r.err, HasSubstr("Replayed 5 event(s) from " + events + " with rule set " + version +
                               " (2 tables, 4 rows)"));
}

TEST_F(CliTest, ReplayNowMakesOutputReproducible) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  CliResult a = RunCli({"replay", events, "--rules", dir, "--now", "2026-01-02T03:04:05Z", "-q"});
  CliResult b = RunCli({"replay", events, "--rules", dir, "--now", "2026-01-02T03:04:05Z", "-q"});
  ASSERT_EQ(a.exit_code, kOk) << a.Describe();
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.err, "") << "-q prints no summary";
  for (const auto& l : Lines(a.out)) {
    json j = json::parse(l);
    EXPECT_EQ(j["decided_at"], "2026-01-02T03:04:05.000Z");
    EXPECT_EQ(j["event_time"], "2026-01-02T03:04:05.000Z")
        << "events without a timestamp take --now";
  }
}

// Patterns in a replay: windows by event time, the stream's clock the latest event time, so
// the same file gives the same decisions; a held event at the end of the input is decided.
TEST_F(CliTest, ReplayDecidesPatternsByEventTimeReproducibly) {
  Write("p/tables/t.csv", "id,alertname,action\nsvc,ServiceDown,escalate\n");
  Write("p/patterns/p.yaml",
        "- name: oom-storm\n  kind: count\n  count: 3\n  group_by: [instance]\n  within: 10m\n"
        "  members: [{when: {alertname: OOMKill}}]\n  actions: [escalate]\n"
        "- name: backup-never-finished\n  kind: absence\n  group_by: [job]\n  within: 1m\n"
        "  members: [{name: s, when: {alertname: BackupStarted}}, "
        "{name: d, when: {alertname: BackupFinished}}]\n  actions: [escalate]\n"
        "- name: pair\n  kind: all_of\n  group_by: [instance]\n  within: 1h\n"
        "  members: [{name: a, when: {alertname: A}}, {name: b, when: {alertname: B}}]\n"
        "  actions: [escalate]\n");
  auto ev = [](const std::string& id, const std::string& name, int64_t t) {
    return R"({"id":")" + id + R"(","timestamp":)" + std::to_string(1767225600000 + t) +
           R"(,"labels":{"alertname":")" + name + R"(","instance":"h1","job":"j1"}})" + "\n";
  };
  const std::string events =
      Write("p.jsonl", ev("o1", "OOMKill", 0) + ev("s1", "BackupStarted", 0) +
                           ev("o2", "OOMKill", 1000) + ev("o3", "OOMKill", 2000) +
                           ev("x1", "ServiceDown", 180000) + ev("a1", "A", 181000));
  const std::string dir = tmp_.path() + "/p";
  CliResult a = RunCli({"replay", events, "--rules", dir, "--now", "2026-01-02T03:04:05Z", "-q"});
  CliResult b = RunCli({"replay", events, "--rules", dir, "--now", "2026-01-02T03:04:05Z", "-q"});
  ASSERT_EQ(a.exit_code, kOk) << a.Describe();
  EXPECT_EQ(a.out, b.out);
  std::vector<std::string> got;
  for (const auto& l : Lines(a.out)) {
    json j = json::parse(l);
    got.push_back(j["event_id"].get<std::string>() + " " + j["verdict"].get<std::string>() +
                  (j.contains("pattern") ? " " + j["pattern"]["outcome"].get<std::string>() : ""));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "o1 pending", "s1 unknown", "o2 pending", "o3 pending",
                     "pattern:oom-storm:h1:o1 known matched",
                     // The absence was due at +60 s, fired by the stream's clock at +180 s.
                     "x1 known", "pattern:backup-never-finished:j1:s1 known absent", "a1 pending",
                     // The end of the input: the held A is decided, escalated as evicted.
                     "pattern:pair:h1:a1 unknown evicted"}))
      << a.out;
  CliResult summary = RunCli({"replay", events, "--rules", dir, "--format", "summary"});
  EXPECT_THAT(summary.out, ::testing::ContainsRegex("pending +4"));
  EXPECT_THAT(summary.out, ::testing::ContainsRegex("patterns +3"));
}

// `reflex test` runs patterns/*.cases.jsonl with the tables' cases: a pass, then a case
// whose expected outcome does not come fails the set with the reason.
TEST_F(CliTest, TestRunsPatternCases) {
  Write("pc/tables/t.csv", "id,alertname,action\nsvc,ServiceDown,escalate\n");
  Write("pc/patterns/p.yaml",
        "- name: oom-storm\n  kind: count\n  count: 2\n  group_by: [instance]\n  within: 1m\n"
        "  members: [{when: {alertname: OOMKill}}]\n  actions: [escalate]\n");
  const std::string oom = R"({"labels":{"alertname":"OOMKill","instance":"h1"}})";
  Write("pc/patterns/p.cases.jsonl",
        R"({"name":"two in a minute","events":[{"at":"0s","event":)" + oom +
            R"(},{"at":"30s","event":)" + oom +
            R"(}],"expect":[{"pattern":"oom-storm","outcome":"matched"}]})" + "\n");
  const std::string dir = tmp_.path() + "/pc";
  CliResult ok = RunCli({"test", dir});
  EXPECT_EQ(ok.exit_code, kOk) << ok.Describe();
  EXPECT_THAT(ok.out, ::testing::ContainsRegex(R"(\(patterns\) +1 +0  verified)"));
  Write("pc/patterns/p.cases.jsonl",
        R"({"name":"two in two minutes","events":[{"at":"0s","event":)" + oom +
            R"(},{"at":"2m","event":)" + oom +
            R"(}],"expect":[{"pattern":"oom-storm","outcome":"matched"}]})" + "\n");
  CliResult bad = RunCli({"test", dir});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_THAT(bad.out, HasSubstr("FAIL " + dir +
                                 "/patterns/p.cases.jsonl:1 two in two minutes: "
                                 "outcome 1: expected oom-storm matched, got oom-storm "
                                 "timed_out"));
}

// `reflex explain --history`: what each pattern holds for the event's group before it, what
// is still missing, and when the window closes (text and JSON); without history, the event
// opens its group.
TEST_F(CliTest, ExplainShowsThePendingPatternStateOfTheEventsGroup) {
  Write("ex/tables/t.csv", "id,alertname,action\nsvc,ServiceDown,escalate\n");
  Write("ex/patterns/p.yaml",
        "- name: trio\n  kind: all_of\n  group_by: [instance]\n  within: 10m\n"
        "  members: [{name: disk, when: {alertname: DiskFull}}, "
        "{name: backup, when: {alertname: BackupFailed}}, "
        "{name: raid, when: {alertname: RaidDegraded}}]\n  actions: [escalate]\n"
        "- name: oom-storm\n  kind: count\n  count: 3\n  group_by: [instance]\n  within: 10m\n"
        "  members: [{when: {alertname: OOMKill}}]\n  actions: [escalate]\n");
  auto ev = [](const std::string& id, const std::string& name, const std::string& inst, int64_t t) {
    return R"({"id":")" + id + R"(","timestamp":)" + std::to_string(1767225600000 + t) +
           R"(,"labels":{"alertname":")" + name + R"(","instance":")" + inst + R"("}})";
  };
  const std::string history = Write("history.jsonl", ev("d1", "DiskFull", "db-1", 0) + "\n" +
                                                         ev("d2", "DiskFull", "db-2", 1000) + "\n" +
                                                         ev("o1", "OOMKill", "db-1", 2000) + "\n");
  const std::string event = Write("backup.json", ev("b1", "BackupFailed", "db-1", 60000));
  const std::string dir = tmp_.path() + "/ex";
  CliResult r = RunCli({"explain", event, "--rules", dir, "--history", history});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("trio (all_of): member backup; group instance=db-1\n"
                               "    held (1): d1 [disk, 2026-01-01T00:00:00.000Z]\n"
                               "    still missing: backup raid\n"
                               "    window closes at 2026-01-01T00:10:00.000Z\n"))
      << r.out;
  CliResult j = RunCli({"explain", event, "--rules", dir, "--history", history, "--json"});
  ASSERT_EQ(j.exit_code, kOk) << j.Describe();
  json doc = json::parse(j.out);
  ASSERT_EQ(doc["patterns"].size(), 1u) << "a member of trio only, not of oom-storm";
  const json& p = doc["patterns"][0];
  EXPECT_EQ(p["pattern"], "trio");
  EXPECT_EQ(p["group"], json({{"instance", "db-1"}}));
  EXPECT_EQ(p["held"], json::parse(R"([{"id":"d1","time":"2026-01-01T00:00:00.000Z",)"
                                   R"("member":"disk"}])"));
  EXPECT_EQ(p["missing"], json({"backup", "raid"}));
  EXPECT_EQ(p["closes_at"], "2026-01-01T00:10:00.000Z");
  // A third OOM kill after two: the count so far and the threshold.
  const std::string two = Write(
      "two.jsonl", ev("o1", "OOMKill", "h", 0) + "\n" + ev("o2", "OOMKill", "h", 1000) + "\n");
  const std::string third = Write("o3.json", ev("o3", "OOMKill", "h", 2000));
  CliResult c = RunCli({"explain", third, "--rules", dir, "--history", two});
  EXPECT_THAT(c.out, HasSubstr("count 2 of 3 needed")) << c.out;
  // No history: the event opens its group.
  CliResult none = RunCli({"explain", event, "--rules", dir});
  EXPECT_THAT(none.out, HasSubstr("nothing held for this group: the event opens it")) << none.out;
  // History on rules without patterns is a usage error.
  CliResult nopat = RunCli({"explain", event, "--rules", GoodRules(), "--history", history});
  EXPECT_EQ(nopat.exit_code, kUsage) << nopat.Describe();
  EXPECT_THAT(nopat.err, HasSubstr("has no patterns"));
}

TEST_F(CliTest, ReplayRejectsBadNow) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  CliResult r = RunCli({"replay", events, "--rules", dir, "--now", "yesterday"});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("--now: bad RFC 3339 timestamp 'yesterday'"));
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, ReplaySummaryFormat) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  CliResult r = RunCli({"replay", events, "--rules", dir, "--format", "summary"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("\"verdict\""))) << "no decisions in summary mode";
  EXPECT_THAT(r.out, HasSubstr("Replayed 5 event(s) from " + events));
  EXPECT_THAT(r.out, HasSubstr("  verdict        count       %\n"));
  EXPECT_THAT(r.out, HasSubstr("  known              2    40.0\n"));
  EXPECT_THAT(r.out, HasSubstr("  suppressed         1    20.0\n"));
  EXPECT_THAT(r.out, HasSubstr("  unknown            2    40.0\n"));
  EXPECT_THAT(r.out, HasSubstr("  malformed          0\n"));
  EXPECT_THAT(r.out, ContainsRegex("top rows +hits"));
  EXPECT_THAT(r.out, ContainsRegex(
                         "\n  disk/disk-crit +1\n  disk/disk-warn +1\n  service/svc-restart +1\n"));
  EXPECT_THAT(r.out, HasSubstr("unknown shapes: count, alertname {label keys}"));
  // e3 and e5 carry the same keys in a different order: one shape, counted twice.
  EXPECT_THAT(r.out, ContainsRegex("\n +2  Mystery \\{alertname,foo\\}\n"));
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, ReplaySummaryCountsMalformedEvents) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", std::string(kEvents) + "{broken\n");
  const std::string dl = Path("dead.jsonl");
  CliResult r =
      RunCli({"replay", events, "--rules", dir, "--format", "summary", "--dead-letter", dl});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Replayed 6 event(s)"));
  EXPECT_THAT(r.out, HasSubstr("  known              2    40.0\n"));
  EXPECT_THAT(r.out, HasSubstr("  malformed          1   (dead-lettered to " + dl + ")\n"));
}

TEST_F(CliTest, ReplayOutputFile) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  const std::string out = Path("out/decisions.jsonl");
  fs::create_directories(Path("out"));
  Write("out/decisions.jsonl", "stale content that must be replaced\n");
  CliResult r = RunCli({"replay", events, "--rules", dir, "-o", out});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  const auto lines = Lines(ReadFile(out));
  ASSERT_EQ(lines.size(), 5u);
  std::multiset<std::string> verdicts;
  for (const auto& l : lines) verdicts.insert(json::parse(l)["verdict"].get<std::string>());
  EXPECT_EQ(verdicts.count("known"), 2u);
  EXPECT_EQ(verdicts.count("suppressed"), 1u);
  EXPECT_EQ(verdicts.count("unknown"), 2u);
  // With decisions in a file, the summary takes stdout.
  EXPECT_THAT(r.out, HasSubstr("Replayed 5 event(s)"));
  EXPECT_THAT(r.out, Not(HasSubstr("\"verdict\"")));
}

TEST_F(CliTest, ReplayOutputFileUnwritableIsAnIoError) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  const std::string out = Path("no/such/dir/decisions.jsonl");
  CliResult r = RunCli({"replay", events, "--rules", dir, "-o", out});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(out + ": cannot write"));
}

TEST_F(CliTest, ReplayDeadLettersMalformedLines) {
  const std::string dir = GoodRules();
  const std::string bad_utf8 = "{\"labels\":{\"alertname\":\"caf\xC3\x28\"}}";
  const std::string text = std::string(kEvents) +                      // lines 1-5
                           "{\"labels\":{\"alertname\":\"Trunc\"\n" +  // 6: truncated
                           "\n" +                                      // 7: blank, skipped
                           bad_utf8 + "\n" +                           // 8: invalid UTF-8
                           "[1,2,3]\n" +                               // 9: not an object
                           "42\r\n" +                                  // 10: not an object, CRLF
                           "{\"labels\":{\"alertname\":\"Mystery\",\"foo\":\"x\"}}\n";  // 11
  const std::string events = Write("events.jsonl", text);
  const std::string dl = Path("dead.jsonl");
  CliResult r = RunCli({"replay", events, "--rules", dir, "--dead-letter", dl});
  ASSERT_EQ(r.exit_code, kOk) << "malformed events alone do not fail: " << r.Describe();
  EXPECT_EQ(Lines(r.out).size(), 6u) << "good events on both sides of bad ones are decided";
  const auto recs = Lines(ReadFile(dl));
  ASSERT_EQ(recs.size(), 4u) << ReadFile(dl);
  std::vector<json> j;
  for (const auto& l : recs) {
    j.push_back(json::parse(l, nullptr, false));
    ASSERT_FALSE(j.back().is_discarded()) << "dead-letter record is not JSON: " << l;
    EXPECT_EQ(j.back()["file"], events);
    EXPECT_TRUE(j.back()["reason"].is_string());
  }
  EXPECT_EQ(j[0]["line"], 6);
  EXPECT_THAT(j[0]["reason"].get<std::string>(), HasSubstr("malformed JSON"));
  EXPECT_EQ(j[0]["raw"], "{\"labels\":{\"alertname\":\"Trunc\"");

  EXPECT_EQ(j[1]["line"], 8);
  EXPECT_FALSE(j[1].contains("raw")) << "invalid UTF-8 cannot be a JSON string";
  ASSERT_TRUE(j[1]["raw_base64"].is_string());
  EXPECT_EQ(Base64Decode(j[1]["raw_base64"]), bad_utf8) << "the bytes survive exactly";

  EXPECT_EQ(j[2]["line"], 9);
  EXPECT_EQ(j[2]["reason"], "event must be a JSON object");
  EXPECT_EQ(j[2]["raw"], "[1,2,3]");

  EXPECT_EQ(j[3]["line"], 10);
  EXPECT_EQ(j[3]["reason"], "event must be a JSON object");
  EXPECT_EQ(j[3]["raw"], "42") << "the CR of a CRLF line is not part of the event";

  EXPECT_THAT(r.err, HasSubstr("Replayed 10 event(s)"));
  EXPECT_THAT(r.err, HasSubstr("  malformed          4   (dead-lettered to " + dl + ")"));
}

TEST_F(CliTest, ReplayDeadLettersToStderrByDefault) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", "[\"not an object\"]\n");
  CliResult r = RunCli({"replay", events, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_EQ(r.out, "");
  bool found = false;
  for (const auto& l : Lines(r.err)) {
    json j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    found = true;
    EXPECT_EQ(j["line"], 1);
    EXPECT_EQ(j["reason"], "event must be a JSON object");
  }
  EXPECT_TRUE(found) << r.err;
  EXPECT_THAT(r.err, HasSubstr("(dead-lettered to stderr)"));
}

TEST_F(CliTest, ReplayFailOnMalformedExitsThree) {
  const std::string dir = GoodRules();
  const std::string bad = Write("bad.jsonl", std::string(kEvents) + "{\"labels\":\n");
  const std::string dl = Path("dead.jsonl");
  CliResult r = RunCli({"replay", bad, "--rules", dir, "--dead-letter", dl, "--fail-on-malformed"});
  EXPECT_EQ(r.exit_code, kMalformed) << r.Describe();
  EXPECT_EQ(Lines(r.out).size(), 5u) << "good events are still decided";
  EXPECT_EQ(Lines(ReadFile(dl)).size(), 1u);

  const std::string good = Write("good.jsonl", kEvents);
  CliResult ok = RunCli({"replay", good, "--rules", dir, "--fail-on-malformed", "-q"});
  EXPECT_EQ(ok.exit_code, kOk) << ok.Describe();
}

TEST_F(CliTest, ReplayEmptyFile) {
  const std::string dir = GoodRules();
  const std::string events = Write("empty.jsonl", "");
  CliResult r = RunCli({"replay", events, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("Replayed 0 event(s)"));
  EXPECT_THAT(r.err, HasSubstr("  known              0     0.0\n"));
  EXPECT_THAT(r.err, Not(HasSubstr("top rows")));
  EXPECT_THAT(r.err, Not(HasSubstr("unknown shapes")));
}

TEST_F(CliTest, ReplayBlankLinesOnlyIsNotMalformed) {
  const std::string dir = GoodRules();
  const std::string events = Write("blank.jsonl", "\n  \n\t\r\n");
  CliResult r = RunCli({"replay", events, "--rules", dir, "--fail-on-malformed"});
  EXPECT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("Replayed 0 event(s)"));
}

TEST_F(CliTest, ReplayMissingEventsFileIsAnIoError) {
  const std::string dir = GoodRules();
  const std::string events = Path("missing.jsonl");
  CliResult r = RunCli({"replay", events, "--rules", dir});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(events + ": cannot open"));
  EXPECT_EQ(r.out, "");
}

// Regression: a directory opens as a stream and reads as empty; replay used to report
// "Replayed 0 event(s)" and exit 0.
TEST_F(CliTest, ReplayDirectoryIsAnIoError) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"replay", tmp_.path(), "--rules", dir});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(tmp_.path() + ": is a directory"));
  EXPECT_THAT(r.err, Not(HasSubstr("Replayed")));
}

TEST_F(CliTest, ReplayWithBrokenRulesFails) {
  const std::string dir = GoodRules();
  Write("rules/tables/disk.csv", "table,disk\nhit_policy,sometimes\nid,alertname,action\n");
  const std::string events = Write("events.jsonl", kEvents);
  CliResult r = RunCli({"replay", events, "--rules", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err,
              HasSubstr(dir + "/tables/disk.csv:2:2: error: unknown hit policy 'sometimes'"));
  EXPECT_THAT(r.err, HasSubstr(dir + ": 1 error(s); rules not loaded"));
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, ReplayFromStdin) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  RunOptions opt;
  opt.stdin_file = events;
  CliResult r = RunCli({"replay", "-", "--rules", dir, "-q"}, opt);
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_EQ(Lines(r.out).size(), 5u);
}

std::string ManyEvents(int n, size_t pad = 0) {
  std::string s;
  const std::string filler(pad, 'x');
  for (int i = 0; i < n; ++i) {
    s += R"({"id":"n)" + std::to_string(i) + R"(","labels":{"alertname":"Mystery","foo":"bar"})";
    if (pad) s += R"(,"message":")" + filler + "\"";
    s += "}\n";
  }
  return s;
}

TEST_F(CliTest, ReplayNoProgressBarWhenStderrIsNotATerminal) {
  const std::string dir = GoodRules();
  const std::string events = Write("many.jsonl", ManyEvents(600));
  CliResult r = RunCli({"replay", events, "--rules", dir, "-o", Path("out.jsonl")});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("\033[K")));
  EXPECT_THAT(r.err, Not(ContainsRegex("\\[[# ]{30}\\]")));
}

// The bar is redrawn every 256 events, so these tests replay 600.
TEST_F(CliTest, ReplayProgressAlwaysDrawsOnStderr) {
  const std::string dir = GoodRules();
  const std::string events = Write("many.jsonl", ManyEvents(600));
  CliResult r = RunCli({"replay", events, "--rules", dir, "--progress", "always", "-q"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.err, ContainsRegex("\r\\[[# ]{30}\\] +[0-9]+%  [0-9]+ events  [0-9]+ events/s"));
  EXPECT_THAT(r.err, HasSubstr("\r\033[K")) << "the bar is erased at the end";
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "the bar never touches stdout";
  EXPECT_EQ(Lines(r.out).size(), 600u);
}

TEST_F(CliTest, ReplayProgressNeverOnTerminal) {
  const std::string dir = GoodRules();
  const std::string events = Write("many.jsonl", ManyEvents(600));
  RunOptions tty;
  tty.stderr_is_tty = true;
  CliResult r = RunCli({"replay", events, "--rules", dir, "--progress", "never", "-q"}, tty);
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, ReplayProgressAutoOnTerminalOnlyForLargeFiles) {
  const std::string dir = GoodRules();
  RunOptions tty;
  tty.stderr_is_tty = true;
  const std::string small = Write("small.jsonl", ManyEvents(600));
  CliResult s = RunCli({"replay", small, "--rules", dir, "-q", "-o", "/dev/null"}, tty);
  ASSERT_EQ(s.exit_code, kOk) << s.Describe();
  EXPECT_THAT(s.err, Not(HasSubstr("\033[K")));
  EXPECT_THAT(s.err, Not(ContainsRegex("\\[[# ]{30}\\]")));

  // Over 16 MiB: the bar appears on a terminal...
  const std::string large = Write("large.jsonl", ManyEvents(17 * 1024, 1024));
  ASSERT_GT(fs::file_size(large), 16u << 20);
  CliResult l = RunCli({"replay", large, "--rules", dir, "-q", "-o", "/dev/null"}, tty);
  ASSERT_EQ(l.exit_code, kOk) << l.Describe();
  EXPECT_THAT(l.err, ContainsRegex("\\[[# ]{30}\\] +[0-9]+%"));
  EXPECT_THAT(l.err, HasSubstr("\r\033[K"));
  // ...and not when stderr is a pipe.
  CliResult p = RunCli({"replay", large, "--rules", dir, "-q", "-o", "/dev/null"});
  ASSERT_EQ(p.exit_code, kOk) << p.Describe();
  EXPECT_EQ(p.err, "");
}

// ---- test -------------------------------------------------------------------------------

TEST_F(CliTest, TestPassingCasesVerifyTheRuleSet) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"test", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(r.out, ContainsRegex("\n  disk +2 +0  verified\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n  service +2 +0  verified\n"));
  EXPECT_THAT(r.out, HasSubstr("4 passed, 0 failed (rule set " + VersionOf(dir) + ")"));
  EXPECT_THAT(r.out, HasSubstr("rule set verified\n"));
}

TEST_F(CliTest, TestVerboseListsPassingCases) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"test", "-v", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("ok   " + dir + "/tables/disk.cases.csv:2 crit\n"));
  EXPECT_THAT(r.out, HasSubstr("ok   " + dir + "/tables/disk.cases.csv:3 warn\n"));
  EXPECT_THAT(r.out, HasSubstr("ok   " + dir + "/tables/service.cases.jsonl:1 api restarts\n"));
  EXPECT_THAT(r.out, HasSubstr("ok   " + dir + "/tables/service.cases.jsonl:2 db pages\n"));
}

TEST_F(CliTest, TestFailingJsonlCaseIsReportedWithExpectedAndGot) {
  const std::string dir = GoodRules();
  const std::string cases = Write(
      "extra/more.cases.jsonl",
      "# comment lines are skipped\n"
      R"({"name":"crit is warn?","event":{"labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":97}},"expect":{"verdict":"known","row":"disk/disk-warn"}})"
      "\n"
      R"({"name":"unknown stays unknown","event":{"labels":{"alertname":"Nope"}},"expect":{"verdict":"unknown"}})"
      "\n");
  CliResult r = RunCli({"test", dir, cases});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("FAIL " + cases +
                               ":2 crit is warn?: expected known disk/disk-warn, "
                               "got known disk/disk-crit\n"));
  EXPECT_EQ(Count(r.out, "FAIL "), 1u) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("\n  disk +0 +1  not verified\n"));
  EXPECT_THAT(r.out, HasSubstr("1 passed, 1 failed"));
  EXPECT_THAT(r.out,
              HasSubstr("rule set NOT VERIFIED: fix the tables or the cases before deploying"));
  EXPECT_THAT(r.out, Not(HasSubstr("rule set verified")));
}

TEST_F(CliTest, TestFailingCsvCaseIsReported) {
  const std::string dir = GoodRules();
  Write("rules/tables/disk.cases.csv",
        std::string(kDiskCases) + "low usage,known,,NodeFilesystemFull,critical,10,host2\n");
  CliResult r = RunCli({"test", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out,
              HasSubstr("FAIL " + dir +
                        "/tables/disk.cases.csv:4 low usage: expected known, got unknown\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n  disk +2 +1  not verified\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n  service +2 +0  verified\n"));
  EXPECT_THAT(r.out, HasSubstr("4 passed, 1 failed"));
}

TEST_F(CliTest, TestAMisspeltExpectationColumnFailsTheRun) {
  const std::string dir = GoodRules();
  // Read as a label, the wrong expectation used to pass and the table showed "verified".
  Write("rules/tables/disk.cases.csv",
        "case,expect_verdict,expect_action,alertname,severity,values.usage\n"
        "crit,known,no_such_action,NodeFilesystemFull,critical,97\n");
  CliResult r = RunCli({"test", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out + r.err, HasSubstr(dir + "/tables/disk.cases.csv:1:3: error: unknown "
                                             "expectation column 'expect_action'"));
  EXPECT_THAT(r.out, Not(HasSubstr("rule set verified")));
}

TEST_F(CliTest, TestExpectedActionsAreCompared) {
  const std::string dir = GoodRules();
  const std::string cases = Write(
      "extra/actions.cases.jsonl",
      R"({"name":"wrong action","event":{"labels":{"alertname":"ServiceDown"},"message":"service web failed"},"expect":{"actions":["page_oncall"]}})"
      "\n");
  CliResult r = RunCli({"test", dir, cases});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("FAIL " + cases +
                               ":1 wrong action: expected actions [page_oncall], "
                               "got known service/svc-restart actions [restart_service]"));
}

TEST_F(CliTest, TestExplicitCsvCaseFile) {
  const std::string dir = GoodRules();
  // Outside tables/, a sheet names its table in expect_row.
  const std::string cases =
      Write("extra/sheet.csv",
            "case,expect_verdict,expect_row,alertname,message\n"
            "page db,known,service/svc-page,ServiceDown,service cache failed\n"
            "unknown svc,unknown,,ServiceDown,service mail failed\n");
  CliResult r = RunCli({"test", dir, cases});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("2 passed, 0 failed"));
  EXPECT_THAT(r.out, ContainsRegex("\n  disk +0 +0  untested\n"));
  EXPECT_THAT(r.out, ContainsRegex("\n  service +1 +0  verified\n"));
  EXPECT_THAT(r.out, HasSubstr("rule set verified"));
}

TEST_F(CliTest, TestRequireAllFailsOnUntestedTable) {
  const std::string dir = GoodRules();
  Write("rules/tables/noise.csv",
        "table,noise\n"
        "hit_policy,first\n"
        "id,alertname,action\n"
        "n1,Watchdog,ignore\n");
  CliResult lax = RunCli({"test", dir});
  EXPECT_EQ(lax.exit_code, kOk) << lax.Describe();
  EXPECT_THAT(lax.out, ContainsRegex("\n  noise +0 +0  untested\n"));
  EXPECT_THAT(lax.out, HasSubstr("rule set verified"));

  CliResult r = RunCli({"test", "--require-all", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out, ContainsRegex("\n  noise +0 +0  untested\n"));
  EXPECT_THAT(r.out, HasSubstr("4 passed, 0 failed"));
  EXPECT_THAT(r.out, HasSubstr("rule set NOT VERIFIED: 1 table(s) have no cases"));
  EXPECT_THAT(r.out, Not(HasSubstr("rule set verified")));
}

TEST_F(CliTest, TestBadCaseFileReportsPosition) {
  const std::string dir = GoodRules();
  Write("rules/tables/disk.cases.csv",
        std::string(kDiskCases) + "oops,kown,,NodeFilesystemFull,critical,95,host1\n");
  Write("rules/tables/service.cases.jsonl", std::string(kServiceCases) + "{not json\n");
  CliResult r = RunCli({"test", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(dir + "/tables/disk.cases.csv:4:2: error: verdict must be known, "
                                     "suppressed or unknown, got 'kown' (cell B4)"));
  EXPECT_THAT(r.err,
              HasSubstr(dir + "/tables/service.cases.jsonl:3:1: error: a case is a JSON object"));
}

TEST_F(CliTest, TestMissingCaseFileIsAnIoError) {
  const std::string dir = GoodRules();
  CliResult r = RunCli({"test", dir, Path("nope.cases.jsonl")});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("nope.cases.jsonl"));
}

// ---- explain ----------------------------------------------------------------------------

constexpr const char* kCritEvent =
    R"({"id":"x1","labels":{"alertname":"NodeFilesystemFull","severity":"critical","instance":"h9"},"values":{"usage":95}})";
constexpr const char* kLowEvent =
    R"({"id":"x2","labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":50}})";

// With a topology and --incident, explain shows whether the event is a symptom and the
// dependency path to its root (text and JSON); bad --incident names are usage errors.
TEST_F(CliTest, ExplainShowsTheRootCausePath) {
  const std::string dir = GoodRules();
  Write("rules/topology/nodes.csv",
        "id,kind,depends_on\nh9,vm,app-1\napp-1,vm,db-1\ndb-1,postgres,\nother,vm,\n");
  const std::string ev = Write("ev.json", kCritEvent);  // labels.instance = h9
  CliResult r = RunCli({"explain", ev, "--rules", dir, "--incident", "db-1"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\nroot cause: symptom of db-1 \\(1 symptom, "
                                              "incident open since [0-9]+ ms, closes at [0-9]+ "
                                              "ms\\): h9 -> app-1 -> db-1\n"));
  CliResult j = RunCli({"explain", ev, "--rules", dir, "--incident", "db-1", "--json"});
  ASSERT_EQ(j.exit_code, kOk) << j.Describe();
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["root_cause"]["root"], "db-1");
  EXPECT_EQ(doc["root_cause"]["path"], nlohmann::json({"h9", "app-1", "db-1"}));
  CliResult no = RunCli({"explain", ev, "--rules", dir, "--incident", "other"});
  ASSERT_EQ(no.exit_code, kOk) << no.Describe();
  EXPECT_THAT(no.out,
              HasSubstr("\nroot cause: node h9 depends on no node with an open incident\n"));
  // Without --incident the output is unchanged.
  EXPECT_THAT(RunCli({"explain", ev, "--rules", dir}).out, Not(HasSubstr("root cause")));
  CliResult bad = RunCli({"explain", ev, "--rules", dir, "--incident", "nope"});
  EXPECT_EQ(bad.exit_code, kUsage) << bad.Describe();
  EXPECT_THAT(bad.err, HasSubstr("--incident nope: no such node"));
}

// `reflex check` fails on a topology cycle and on a rule-chaining cycle, naming the path.
TEST_F(CliTest, CheckReportsTopologyAndChainingCycles) {
  const std::string dir = GoodRules();
  Write("rules/topology/nodes.csv", "id,depends_on\na,b\nb,a\n");
  CliResult r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.out + r.err, HasSubstr("/topology/nodes.csv:3:1: error: dependency cycle: "));
  std::filesystem::remove(Path("rules/topology/nodes.csv"));
  std::filesystem::remove(Path("rules/topology"));
  Write("rules/actions.yaml",
        std::string(kActions) + "  again:\n    kind: emit\n    event: {labels: {alertname: X}}\n");
  Write("rules/tables/loop.csv", "table,loop\nhit_policy,first\nid,alertname,action\nx,X,again\n");
  CliResult c = RunCli({"check", dir});
  EXPECT_EQ(c.exit_code, kRuleErrors) << c.Describe();
  EXPECT_THAT(c.out + c.err, HasSubstr("/tables/loop.csv:4:1: error: rule chaining cycle: a "
                                       "conclusion event can trigger its own rule again: loop/x"));
}

TEST_F(CliTest, ExplainShowsTheDecidingRow) {
  const std::string dir = GoodRules();
  const std::string ev = Write("ev.json", kCritEvent);
  CliResult r = RunCli({"explain", ev, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("event x1  verdict: known  (rule set " + VersionOf(dir) + ")\n"));
  // Labels and values on lines of their own.
  EXPECT_THAT(r.out,
              HasSubstr("labels: alertname=NodeFilesystemFull severity=critical instance=h9\n"
                        "values: usage=95\n"));
  // The deciding row's actions with their parameters rendered over the event.
  EXPECT_THAT(r.out, HasSubstr("\ndisk (" + dir +
                               "/tables/disk.csv, hit policy first)\n"
                               "  decided by row: disk-crit (line 5)\n"
                               "    action cleanup_logs: host=\"h9\"\n"
                               "  matching rows: disk-crit\n"));
  // disk-warn comes after the deciding row under `first`: it could not have decided.
  EXPECT_THAT(r.out, Not(HasSubstr("near miss disk-warn")));
  EXPECT_THAT(r.out, HasSubstr("\nservice (" + dir +
                               "/tables/service.yaml, hit policy unique)\n"
                               "  no row matches\n"));
}

TEST_F(CliTest, ExplainNearMissesNameTheFailedCondition) {
  const std::string dir = GoodRules();
  const std::string ev = Write("ev.json", kLowEvent);
  CliResult r = RunCli({"explain", ev, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("verdict: unknown"));
  // Regression: numbers print as on the labels line (50), not as JSON doubles (50.0).
  EXPECT_THAT(r.out,
              HasSubstr("  near miss disk-crit (line 5): values.usage is 50, needs >= 90;\n"));
  EXPECT_THAT(
      r.out,
      HasSubstr("  near miss disk-warn (line 6): severity is \"critical\", needs = warning;\n"));
  EXPECT_THAT(r.out,
              HasSubstr("  near miss svc-restart (line 5): alertname is \"NodeFilesystemFull\", "
                        "needs = ServiceDown; service is missing, needs /^(api|web)$/;\n"));

  CliResult one = RunCli({"explain", ev, "--rules", dir, "--near-misses", "1"});
  ASSERT_EQ(one.exit_code, kOk) << one.Describe();
  EXPECT_THAT(one.out, HasSubstr("near miss disk-crit"));
  EXPECT_THAT(one.out, Not(HasSubstr("near miss disk-warn")));

  CliResult none = RunCli({"explain", ev, "--rules", dir, "--near-misses", "0"});
  ASSERT_EQ(none.exit_code, kOk) << none.Describe();
  EXPECT_THAT(none.out, Not(HasSubstr("near miss")));
}

TEST_F(CliTest, ExplainRendersTheDecidingActionsAndListsRowsThatCouldHaveDecidedFirst) {
  const std::string dir = GoodRules();
  // disk-warn decides (ignore); disk-crit, before it, fails on severity and usage.
  const std::string ev = Write(
      "warn.json",
      R"({"id":"w1","labels":{"alertname":"NodeFilesystemFull","severity":"warning"},"values":{"usage":80}})");
  CliResult r = RunCli({"explain", ev, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("  decided by row: disk-warn (line 6)\n"
                               "    action ignore\n"
                               "  matching rows: disk-warn\n"
                               "  near miss disk-crit (line 5): severity is \"warning\", needs = "
                               "critical; values.usage is 80, needs >= 90;\n"));

  // A parameter over a label the labeling extracted from the message.
  const std::string api =
      Write("api.json",
            R"({"id":"s1","labels":{"alertname":"ServiceDown"},"message":"service api failed"})");
  CliResult t = RunCli({"explain", api, "--rules", dir});
  ASSERT_EQ(t.exit_code, kOk) << t.Describe();
  EXPECT_THAT(t.out, HasSubstr("  decided by row: svc-restart (line 5)\n"
                               "    action restart_service: name=\"api\"\n"));

  CliResult j = RunCli({"explain", ev, "--rules", dir, "--json"});
  ASSERT_EQ(j.exit_code, kOk) << j.Describe();
  const json jw = json::parse(j.out);
  EXPECT_EQ(jw["labels"], json({{"alertname", "NodeFilesystemFull"}, {"severity", "warning"}}));
  EXPECT_EQ(jw["values"], json({{"usage", 80}}));
  const json& disk = jw["tables"][0];
  EXPECT_EQ(disk["decided"], json::parse(R"([{"row":"disk-warn","line":6,
                                              "actions":[{"name":"ignore","params":{}}]}])"));
  ASSERT_EQ(disk["near_misses"].size(), 1u);
  EXPECT_EQ(disk["near_misses"][0]["row"], "disk-crit");

  // A parameter whose field the event lacks renders empty, as the executor gets it, and
  // explain names the field.
  const std::string bare = Write(
      "bare.json",
      R"({"id":"c1","labels":{"alertname":"NodeFilesystemFull","severity":"critical"},"values":{"usage":99}})");
  CliResult b = RunCli({"explain", bare, "--rules", dir, "--json"});
  ASSERT_EQ(b.exit_code, kOk) << b.Describe();
  EXPECT_EQ(json::parse(b.out)["tables"][0]["decided"][0]["actions"][0],
            json::parse(R"({"name":"cleanup_logs","params":{"host":""},
                            "missing":{"host":["labels.instance"]}})"));
  CliResult bt = RunCli({"explain", bare, "--rules", dir});
  EXPECT_THAT(bt.out, HasSubstr("    action cleanup_logs: host=\"\" (labels.instance missing)\n"));
}

TEST_F(CliTest, ExplainShowsTimeConditionsAgainstTheEventTimeRegression) {
  // A time() or weekday() near miss used to show the event time as raw milliseconds.
  tmp_.Write("rules/tables/night.csv",
             "table,night\nhit_policy,first\nid,alertname,timestamp,action\n"
             "night,Backup,time(22:00-06:00),ignore\n");
  const std::string ev =
      Write("ev.json",
            R"({"id":"b1","timestamp":"2026-11-24T12:30:00Z","labels":{"alertname":"Backup"}})");
  CliResult r = RunCli({"explain", ev, "--rules", Path("rules")});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("timestamp is \"2026-11-24T12:30:00.000Z\", needs time("));
}

TEST_F(CliTest, ExplainJsonParses) {
  const std::string dir = GoodRules();
  const std::string ev = Write("ev.json", kLowEvent);
  CliResult r = RunCli({"explain", ev, "--rules", dir, "--json"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["event_id"], "x2");
  EXPECT_EQ(j["verdict"], "unknown");
  EXPECT_EQ(j["ruleset"], VersionOf(dir));
  EXPECT_EQ(j["labels"]["severity"], "critical");
  EXPECT_EQ(j["values"]["usage"], 50);
  ASSERT_EQ(j["tables"].size(), 2u);
  const json& disk = j["tables"][0];
  EXPECT_EQ(disk["table"], "disk");
  EXPECT_EQ(disk["hit_policy"], "first");
  EXPECT_EQ(disk["file"], dir + "/tables/disk.csv");
  EXPECT_TRUE(disk["selected"].empty());
  EXPECT_TRUE(disk["matching_rows"].empty());
  ASSERT_EQ(disk["near_misses"].size(), 2u);
  const json& miss = disk["near_misses"][0];
  EXPECT_EQ(miss["row"], "disk-crit");
  EXPECT_EQ(miss["line"], 5);
  ASSERT_EQ(miss["failed"].size(), 1u);
  EXPECT_EQ(miss["failed"][0]["column"], "values.usage");
  EXPECT_EQ(miss["failed"][0]["condition"], ">= 90");
  EXPECT_EQ(miss["failed"][0]["cell"], "5:4");
  EXPECT_EQ(miss["failed"][0]["actual"], 50);
  const json& svc = j["tables"][1];
  EXPECT_EQ(svc["table"], "service");
  ASSERT_FALSE(svc["near_misses"].empty());
  const json& missing = svc["near_misses"][0]["failed"][1];
  EXPECT_EQ(missing["column"], "service");
  EXPECT_TRUE(missing["actual"].is_null());

  const std::string crit = Write("crit.json", kCritEvent);
  CliResult k = RunCli({"explain", crit, "--rules", dir, "--json"});
  ASSERT_EQ(k.exit_code, kOk) << k.Describe();
  json jk = json::parse(k.out, nullptr, false);
  ASSERT_FALSE(jk.is_discarded()) << k.out;
  EXPECT_EQ(jk["verdict"], "known");
  EXPECT_EQ(jk["tables"][0]["selected"], json::array({"disk-crit"}));
  EXPECT_EQ(jk["tables"][0]["matching_rows"], json::array({"disk-crit"}));
}

TEST_F(CliTest, ExplainAppliesLabelingAndReadsPrettyJsonAndStdin) {
  const std::string dir = GoodRules();
  const std::string ev =
      Write("pretty.json",
            "{\n  \"id\": \"p1\",\n  \"labels\": {\"alertname\": \"ServiceDown\"},\n"
            "  \"message\": \"service db failed\"\n}\n");
  RunOptions opt;
  opt.stdin_file = ev;
  CliResult r = RunCli({"explain", "-", "--rules", dir, "--json"}, opt);
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  json j = json::parse(r.out);
  EXPECT_EQ(j["event_id"], "p1");
  EXPECT_EQ(j["labels"]["service"], "db") << "extracted by labeling.yaml";
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["tables"][1]["selected"], json::array({"svc-page"}));
}

// Regression: explain re-serialized a one-event file (sorting its keys), so an event
// without "id" got a different hash id than `replay` gives the same line.
TEST_F(CliTest, ExplainEventIdMatchesReplay) {
  const std::string dir = GoodRules();
  const std::string line =
      R"({"source": "prom", "labels": {"severity": "warning", "alertname": "NodeFilesystemFull"}, "values": {"usage": 1}})";
  const std::string ev = Write("one.jsonl", line + "\n");
  CliResult rep = RunCli({"replay", ev, "--rules", dir, "-q"});
  ASSERT_EQ(rep.exit_code, kOk) << rep.Describe();
  const json d = json::parse(rep.out);
  const std::string id = d["event_id"];
  EXPECT_EQ(id.rfind("h-", 0), 0u) << id;
  CliResult ex = RunCli({"explain", ev, "--rules", dir, "--json"});
  ASSERT_EQ(ex.exit_code, kOk) << ex.Describe();
  EXPECT_EQ(json::parse(ex.out)["event_id"], id);
  CliResult text = RunCli({"explain", ev, "--rules", dir});
  EXPECT_THAT(text.out, HasSubstr("event " + id + "  verdict: suppressed"));
  // Labels in the order the event gives them.
  EXPECT_THAT(text.out, HasSubstr("labels: severity=warning alertname=NodeFilesystemFull\n"
                                  "values: usage=1\n"));
}

TEST_F(CliTest, ExplainUsesFirstLineOfJsonLines) {
  const std::string dir = GoodRules();
  const std::string ev = Write("events.jsonl", std::string("\n") + kEvents);
  CliResult r = RunCli({"explain", ev, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("event e1  verdict: known"));
}

TEST_F(CliTest, ExplainMalformedEventIsAnError) {
  const std::string dir = GoodRules();
  const std::string ev = Write("bad.json", "[1, 2]\n");
  CliResult r = RunCli({"explain", ev, "--rules", dir});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(ev + ": event must be a JSON object"));
  EXPECT_EQ(r.out, "");

  const std::string missing = Path("missing.json");
  CliResult m = RunCli({"explain", missing, "--rules", dir});
  EXPECT_EQ(m.exit_code, kUsage) << m.Describe();
  EXPECT_THAT(m.err, HasSubstr(missing + ": cannot open"));
}

// ---- usage ------------------------------------------------------------------------------

TEST_F(CliTest, UsageNoCommand) {
  CliResult r = RunCli({});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("A subcommand is required"));
}

TEST_F(CliTest, UsageUnknownCommand) {
  CliResult r = RunCli({"frobnicate", "x"});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  // Regression: CLI11 alone says only "A subcommand is required".
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate' (see reflex --help)"));
  EXPECT_THAT(r.err, HasSubstr("Run with --help for more information."));
}

TEST_F(CliTest, UsageMissingArguments) {
  CliResult c = RunCli({"check"});
  EXPECT_EQ(c.exit_code, kUsage) << c.Describe();
  EXPECT_THAT(c.err, HasSubstr("rules_dir is required"));
  EXPECT_THAT(c.err, Not(HasSubstr("unknown command"))) << "check is a known command";

  CliResult r = RunCli({"replay", Path("events.jsonl")});
  EXPECT_EQ(r.exit_code, kUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("--rules is required"));

  CliResult e = RunCli({"explain", "--rules", Path("rules")});
  EXPECT_EQ(e.exit_code, kUsage) << e.Describe();
  EXPECT_THAT(e.err, HasSubstr("event is required"));
}

TEST_F(CliTest, UsageBadOptionValues) {
  const std::string dir = GoodRules();
  const std::string events = Write("events.jsonl", kEvents);
  CliResult f = RunCli({"replay", events, "--rules", dir, "--format", "xml"});
  EXPECT_EQ(f.exit_code, kUsage) << f.Describe();
  EXPECT_THAT(f.err, HasSubstr("--format"));
  EXPECT_EQ(f.out, "");

  CliResult p = RunCli({"replay", events, "--rules", dir, "--progress", "sometimes"});
  EXPECT_EQ(p.exit_code, kUsage) << p.Describe();
  EXPECT_THAT(p.err, HasSubstr("--progress"));

  CliResult n = RunCli({"explain", events, "--rules", dir, "--near-misses", "many"});
  EXPECT_EQ(n.exit_code, kUsage) << n.Describe();
  EXPECT_THAT(n.err, HasSubstr("--near-misses"));

  CliResult u = RunCli({"check", "--no-such-flag", dir});
  EXPECT_EQ(u.exit_code, kUsage) << u.Describe();
  EXPECT_THAT(u.err, HasSubstr("--no-such-flag"));
}

TEST_F(CliTest, HelpAndVersionSucceed) {
  CliResult h = RunCli({"--help"});
  EXPECT_EQ(h.exit_code, kOk) << h.Describe();
  for (const char* cmd : {"check", "replay", "test", "explain"}) EXPECT_THAT(h.out, HasSubstr(cmd));
  CliResult sub = RunCli({"replay", "--help"});
  EXPECT_EQ(sub.exit_code, kOk) << sub.Describe();
  EXPECT_THAT(sub.out, HasSubstr("--dead-letter"));
  CliResult v = RunCli({"--version"});
  EXPECT_EQ(v.exit_code, kOk) << v.Describe();
  EXPECT_THAT(v.out, HasSubstr("reflex 0.1.0"));
}

// ---- payload mappings: --mapping / --config --source ----------------------------------

// Two alerts, as Alertmanager posts them: the first carries its value as text.
constexpr const char* kAmPayload = R"({
  "version": "4", "status": "firing", "receiver": "reflex", "groupKey": "{}:{}",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "NodeFilesystemFull", "severity": "critical",
     "instance": "h9"}, "annotations": {"summary": "disk full", "usage": "97.5"},
     "startsAt": "2026-11-24T03:00:00Z", "fingerprint": "a1"},
    {"status": "firing", "labels": {"alertname": "ServiceDown", "service": "api"},
     "annotations": {"usage": "lots"}, "startsAt": "2026-11-24T03:00:00Z", "fingerprint": "b2"}
  ]})";

// A run config whose `am` source maps Alertmanager payloads with the usage annotation. Its
// token variable is not set: offline commands read only the sources.
constexpr const char* kAmConfig =
    "http: {listen: '0.0.0.0:8080', token_env: REFLEX_CLI_TEST_UNSET_TOKEN}\n"
    "sources:\n"
    "  - {name: events, topics: [reflex.events]}\n"
    "  - name: am\n"
    "    topics: [alerts]\n"
    "    mapping: {kind: alertmanager, values_from_annotations: [usage]}\n";

std::string OneLine(const std::string& text) { return json::parse(text).dump(); }

// Before, `explain` took an Alertmanager payload for an event and showed an empty event
// without a word.
TEST_F(CliTest, ExplainWarnsWhenNothingWasMapped) {
  const std::string dir = GoodRules();
  const std::string payload = Write("am.json", kAmPayload);
  CliResult r = RunCli({"explain", payload, "--rules", dir});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("verdict: unknown"));
  EXPECT_THAT(r.err, HasSubstr("warning: " + payload +
                               ": the event has no labels and no values: "
                               "nothing was mapped"));
  EXPECT_THAT(r.err, HasSubstr("--mapping alertmanager"));
  // A real event draws no warning.
  CliResult ok = RunCli({"explain", Write("ev.json", kCritEvent), "--rules", dir});
  ASSERT_EQ(ok.exit_code, kOk) << ok.Describe();
  EXPECT_EQ(ok.err, "");
}

TEST_F(CliTest, ExplainWithAMappingShowsEveryAlert) {
  const std::string dir = GoodRules();
  const std::string payload = Write("am.json", kAmPayload);
  CliResult r = RunCli({"explain", payload, "--rules", dir, "--mapping", "alertmanager"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("=== event 1 of 2: alerts[0]\nevent a1-2026-11-24T03:00:00Z  "));
  EXPECT_THAT(r.out, HasSubstr("=== event 2 of 2: alerts[1]\nevent b2-2026-11-24T03:00:00Z  "
                               "verdict: known"));
  EXPECT_THAT(r.out, HasSubstr("decided by row: svc-restart"));
  // No values_from_annotations: usage is no value, so disk-crit is a near miss.
  EXPECT_THAT(r.out, HasSubstr("near miss disk-crit (line 5): values.usage is missing"));
  EXPECT_EQ(r.err, "");

  // A source's mapping brings its options: usage 97.5 decides disk-crit, and "lots" is
  // left out of values with a note.
  const std::string cfg = Write("reflex.yaml", kAmConfig);
  CliResult s =
      RunCli({"explain", payload, "--rules", dir, "--config", cfg, "--source", "am", "--json"});
  ASSERT_EQ(s.exit_code, kOk) << s.Describe();
  const json j = json::parse(s.out);
  ASSERT_TRUE(j.is_array()) << s.out;
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["verdict"], "known");
  EXPECT_EQ(j[0]["values"]["usage"], 97.5);
  EXPECT_EQ(j[0]["tables"][0]["selected"], json::array({"disk-crit"}));
  EXPECT_TRUE(j[1]["values"].empty()) << "the text that is not a number is no value";
  EXPECT_THAT(s.err, HasSubstr(payload + ": note: alerts[1].annotations.usage: \"lots\" is not a "
                                         "number; left out of values\n"));
}

TEST_F(CliTest, MappingOptionErrorsAreUsageErrors) {
  const std::string dir = GoodRules();
  const std::string payload = Write("am.json", kAmPayload);
  const std::string cfg = Write("reflex.yaml", kAmConfig);
  CliResult bad = RunCli({"explain", payload, "--rules", dir, "--mapping", "prometheus"});
  EXPECT_EQ(bad.exit_code, kUsage) << bad.Describe();
  EXPECT_THAT(bad.err, HasSubstr("--mapping: unknown kind 'prometheus' (expected one of: event, "
                                 "alertmanager, fields"));
  CliResult no_config = RunCli({"test", dir, "--source", "am"});
  EXPECT_EQ(no_config.exit_code, kUsage) << no_config.Describe();
  EXPECT_THAT(no_config.err, HasSubstr("--source am needs --config FILE"));
  CliResult no_source =
      RunCli({"replay", payload, "--rules", dir, "--config", cfg, "--source", "nope"});
  EXPECT_EQ(no_source.exit_code, kUsage) << no_source.Describe();
  EXPECT_THAT(no_source.err, HasSubstr("has no source 'nope' (its sources: events, am)"));
  CliResult both = RunCli({"explain", payload, "--rules", dir, "--mapping", "event", "--config",
                           cfg, "--source", "am"});
  EXPECT_EQ(both.exit_code, kUsage) << both.Describe();
  EXPECT_THAT(both.err, HasSubstr("not both"));
  // A payload the mapping refuses is an input error naming the reason.
  CliResult refused = RunCli({"explain", Write("v3.json", R"({"version":"3","alerts":[]})"),
                              "--rules", dir, "--mapping", "alertmanager"});
  EXPECT_EQ(refused.exit_code, kUsage) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("version: expected \"4\""));
}

TEST_F(CliTest, ReplayMapsEachLineAndDeadLettersRefusedPayloads) {
  const std::string dir = GoodRules();
  const std::string events =
      Write("am.jsonl", OneLine(kAmPayload) + "\n\n" + R"({"version":"3","alerts":[]})" + "\n");
  const std::string dl = Path("dead.jsonl");
  CliResult r = RunCli({"replay", events, "--rules", dir, "--mapping", "alertmanager",
                        "--dead-letter", dl, "--now", "2026-11-24T04:00:00Z"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  const auto decisions = Lines(r.out);
  ASSERT_EQ(decisions.size(), 2u) << r.out;
  EXPECT_EQ(json::parse(decisions[0])["event_id"], "a1-2026-11-24T03:00:00Z");
  EXPECT_EQ(json::parse(decisions[1])["verdict"], "known");
  std::ifstream in(dl);
  std::string record;
  ASSERT_TRUE(std::getline(in, record));
  const json d = json::parse(record);
  EXPECT_EQ(d["line"], 3);
  EXPECT_THAT(d["reason"].get<std::string>(), HasSubstr("version: expected \"4\""));
  EXPECT_THAT(r.err, HasSubstr("Replayed 3 event(s)"));
  EXPECT_THAT(r.err, HasSubstr("malformed          1"));
}

TEST_F(CliTest, TestMapsJsonlCasesOnePerAlert) {
  const std::string dir = GoodRules();
  const std::string cfg = Write("reflex.yaml", kAmConfig);
  json one = json::parse(kAmPayload);
  one["alerts"].erase(1);
  json two = json::parse(kAmPayload);
  two["alerts"][0] = two["alerts"][1];
  two["alerts"][0]["fingerprint"] = "c3";
  const std::string cases =
      Write("am.cases.jsonl", json({{"name", "disk from the annotation"},
                                    {"event", one},
                                    {"expect", {{"verdict", "known"}, {"row", "disk/disk-crit"}}}})
                                      .dump() +
                                  "\n" +
                                  json({{"name", "two api alerts"},
                                        {"event", two},
                                        {"expect", {{"verdict", "known"}, {"row", "svc-restart"}}}})
                                      .dump() +
                                  "\n");
  CliResult r = RunCli({"test", dir, cases, "--config", cfg, "--source", "am", "-v"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("disk from the annotation\n"));
  EXPECT_THAT(r.out, HasSubstr("two api alerts [alerts[0]]\n"));
  EXPECT_THAT(r.out, HasSubstr("two api alerts [alerts[1]]\n"));
  EXPECT_THAT(r.out, HasSubstr("3 passed, 0 failed"));
  // Without the source's options the annotation is no value: the disk case fails.
  CliResult plain = RunCli({"test", dir, cases, "--mapping", "alertmanager"});
  EXPECT_EQ(plain.exit_code, kRuleErrors) << plain.Describe();
  EXPECT_THAT(plain.out, HasSubstr("FAIL "));
  EXPECT_THAT(plain.out, HasSubstr("disk from the annotation"));
}

// Metric samples in line protocol: explain shows each line's event; a test case gives the
// payload's text as a JSON string.
TEST_F(CliTest, InfluxMappingInExplainAndTest) {
  const std::string dir = GoodRules();
  const std::string lines =
      "disk,alertname=NodeFilesystemFull,severity=critical,instance=h9 usage=95 "
      "1795489200000000000\n"
      "# a comment\n"
      "disk,alertname=NodeFilesystemFull,severity=critical,instance=h8 usage=50i\n";
  CliResult r = RunCli({"explain", Write("disk.lp", lines), "--rules", dir, "--mapping", "influx"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("=== event 1 of 2: line 1\n"));
  EXPECT_THAT(r.out, HasSubstr("=== event 2 of 2: line 3\n"));
  EXPECT_THAT(r.out, HasSubstr("labels: __name__=disk alertname=NodeFilesystemFull "
                               "severity=critical instance=h9\nvalues: usage=95\n"));
  EXPECT_THAT(r.out, HasSubstr("decided by row: disk-crit"));

  const std::string cases = Write(
      "lp.cases.jsonl",
      json({{"name", "disk sample"},
            {"event", "disk,alertname=NodeFilesystemFull,severity=critical,instance=h9 usage=97"},
            {"expect", {{"verdict", "known"}, {"row", "disk/disk-crit"}}}})
              .dump() +
          "\n");
  CliResult t = RunCli({"test", dir, cases, "--mapping", "influx", "-v"});
  ASSERT_EQ(t.exit_code, kOk) << t.Describe();
  EXPECT_THAT(t.out, HasSubstr("1 passed, 0 failed"));

  const std::string bad = Write(
      "bad.cases.jsonl",
      json({{"name", "object"}, {"event", {{"a", 1}}}, {"expect", {{"verdict", "known"}}}}).dump() +
          "\n");
  CliResult b = RunCli({"test", dir, bad, "--mapping", "influx"});
  EXPECT_NE(b.exit_code, kOk) << b.Describe();
  EXPECT_THAT(b.err,
              HasSubstr("with mapping influx the event is the payload's text, a JSON string"));
}

// ---- the shipped examples ---------------------------------------------------------------

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";
    if (!fs::is_directory(dir_)) GTEST_SKIP() << dir_ << " does not exist";
  }
  std::string dir_;
};

TEST_F(ExamplesTest, CheckPasses) {
  CliResult r = RunCli({"check", dir_});
  EXPECT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(": OK: "));
}

TEST_F(ExamplesTest, EveryTableIsVerified) {
  CliResult r = RunCli({"test", "--require-all", dir_});
  EXPECT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("rule set verified"));
}

TEST_F(ExamplesTest, SampleEventsGiveAllThreeVerdicts) {
  const std::string events = dir_ + "/events/sample.jsonl";
  if (!fs::exists(events)) GTEST_SKIP() << events << " does not exist";
  CliResult r = RunCli({"replay", events, "--rules", dir_, "-q"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  std::set<std::string> verdicts;
  for (const auto& l : Lines(r.out)) {
    json j = json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    verdicts.insert(j["verdict"].get<std::string>());
  }
  EXPECT_EQ(verdicts, (std::set<std::string>{"known", "suppressed", "unknown"}));
}

// ---- docs/alertmanager.md: every command of the guide works as written ------------------

// Runs in the source directory, as the guide's commands are written; restores the directory.
class AlertmanagerGuideTest : public ExamplesTest {
 protected:
  void SetUp() override {
    ExamplesTest::SetUp();
    old_ = fs::current_path();
    fs::current_path(REFLEX_SOURCE_DIR);
  }
  void TearDown() override { fs::current_path(old_); }

  // The guide's shell commands: the lines of its ```sh blocks.
  static std::vector<std::string> Commands() {
    std::ifstream in(std::string(REFLEX_SOURCE_DIR) + "/docs/alertmanager.md");
    std::vector<std::string> out;
    bool in_sh = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("```", 0) == 0) {
        in_sh = !in_sh && line == "```sh";
        continue;
      }
      if (in_sh && !line.empty() && line[0] != '#') out.push_back(line);
    }
    return out;
  }

  fs::path old_;
};

TEST_F(AlertmanagerGuideTest, EveryCommandSucceeds) {
  const auto commands = Commands();
  ASSERT_GE(commands.size(), 6u);
  for (const std::string& command : commands) {
    std::vector<std::string> words;
    std::istringstream split(command);
    for (std::string w; split >> w;) words.push_back(w);
    // VAR=value prefixes set the environment of the command.
    std::vector<std::string> set_vars;
    size_t i = 0;
    for (; i < words.size() && words[i].find('=') != std::string::npos; ++i) {
      const size_t eq = words[i].find('=');
      set_vars.push_back(words[i].substr(0, eq));
      setenv(set_vars.back().c_str(), words[i].substr(eq + 1).c_str(), 1);
    }
    ASSERT_LT(i, words.size()) << command;
    ASSERT_EQ(words[i], "reflex") << command;
    CliResult r = RunCli(std::vector<std::string>(words.begin() + i + 1, words.end()));
    for (const auto& v : set_vars) unsetenv(v.c_str());
    EXPECT_EQ(r.exit_code, kOk) << command << "\n" << r.Describe();
    EXPECT_THAT(r.err, Not(HasSubstr("warning:"))) << command;
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("FAIL"))) << command;
  }
}

TEST_F(AlertmanagerGuideTest, ThePayloadIsExplainedAlertByAlert) {
  CliResult plain = RunCli({"explain", "docs/alertmanager/payload.json", "--rules",
                            "rules/examples", "--mapping", "alertmanager"});
  ASSERT_EQ(plain.exit_code, kOk) << plain.Describe();
  EXPECT_THAT(plain.out, HasSubstr("=== event 1 of 3: alerts[0]\n"));
  EXPECT_THAT(plain.out, HasSubstr("=== event 3 of 3: alerts[2]\n"));
  CliResult r =
      RunCli({"explain", "docs/alertmanager/payload.json", "--rules", "rules/examples", "--config",
              "docs/alertmanager/reflex.yaml", "--source", "alertmanager", "--json"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  auto decided_by = [](const json& e, const std::string& table) {
    for (const auto& t : e["tables"]) {
      if (t["table"] == table && !t["selected"].empty()) return t["selected"][0].get<std::string>();
    }
    return std::string();
  };
  // The value annotation (0.9312) decides conntrack-critical; without the source's options
  // the alert falls to conntrack-warn.
  EXPECT_EQ(j[0]["values"]["value"], 0.9312);
  EXPECT_EQ(decided_by(j[0], "node_health"), "conntrack-critical");
  EXPECT_THAT(plain.out, HasSubstr("decided by row: conntrack-warn"));
  EXPECT_EQ(decided_by(j[1], "kubernetes"), "crashloop");
  // The resolved alert: only the row with a status condition.
  EXPECT_EQ(j[2]["labels"]["status"], "resolved");
  EXPECT_EQ(decided_by(j[2], "kubernetes"), "k8s-recovered");
}

// ---- check validates the whole action catalog --------------------------------------------

// `check` reads actions.yaml with the strict catalog reader too: a setting the executor could
// not use is a rule error (exit 1) at its file:line:col, and an error the rules loader already
// reported at the same place (a redefined built-in) is printed once.
TEST_F(CliTest, CheckValidatesTheActionCatalog) {
  const std::string table =
      "table,disk\n"
      "id,alertname,action,param.host\n"
      "r1,DiskFull,fix_disk,{{labels.instance}}\n"
      "r2,ServiceDown,restart,\n";
  Write("cat/tables/disk.csv", table);
  const std::string catalog = Write("cat/actions.yaml",
                                    "actions:\n"
                                    "  fix_disk:\n"
                                    "    kind: webhook\n"
                                    "    params: [host]\n"
                                    "    url: \"https://ops.internal/{{params.nohost}}\"\n"
                                    "  restart:\n"
                                    "    kind: command\n"
                                    "    argv: [/usr/bin/systemctl, restart, x]\n"
                                    "    timeot: 5s\n"
                                    "  ignore: {kind: webhook, url: \"http://127.0.0.1:9/\"}\n");
  const std::string dir = Path("cat");
  CliResult r = RunCli({"check", dir});
  EXPECT_EQ(r.exit_code, kRuleErrors) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(catalog + ":5:10: actions.fix_disk.url: "));
  EXPECT_THAT(r.err, HasSubstr("nohost"));
  EXPECT_THAT(r.err,
              HasSubstr(catalog + ":9:5: actions.restart.timeot: unknown key (valid keys: kind,"));
  EXPECT_THAT(r.err, HasSubstr(catalog + ":10:3: error: "));
  EXPECT_EQ(Count(r.err, "built-in"), 1u) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 3u) << r.err;
  EXPECT_THAT(r.out, HasSubstr(dir + ": 3 error(s)"));
  EXPECT_THAT(r.out, Not(HasSubstr("OK")));

  // Fixed, the same directory passes and prints nothing on stderr.
  Write("cat/actions.yaml",
        "actions:\n"
        "  fix_disk:\n"
        "    kind: webhook\n"
        "    params: [host]\n"
        "    url: \"https://ops.internal/{{params.host}}\"\n"
        "  restart:\n"
        "    kind: command\n"
        "    argv: [/usr/bin/systemctl, restart, x]\n"
        "    timeout: 5s\n");
  CliResult ok = RunCli({"check", dir});
  EXPECT_EQ(ok.exit_code, kOk) << ok.Describe();
  EXPECT_THAT(ok.out, HasSubstr(dir + ": OK"));
  EXPECT_EQ(ok.err, "");

  // A catalog that is not YAML is reported once, at its place.
  Write("cat/actions.yaml", "actions:\n  fix_disk: [unclosed\n");
  CliResult bad = RunCli({"check", dir});
  EXPECT_EQ(bad.exit_code, kRuleErrors) << bad.Describe();
  EXPECT_THAT(bad.err, ContainsRegex("actions\\.yaml:[0-9]+:[0-9]+: error: YAML syntax: "));
  EXPECT_EQ(Count(bad.err, "YAML syntax"), 1u) << bad.err;
}

}  // namespace
}  // namespace reflex::cli_test
