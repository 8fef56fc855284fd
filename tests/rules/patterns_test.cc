// Tests of patterns/*.yaml: every kind read into PatternSpecs, errors with file, line and
// column, the loader (`reflex check` path) picking the directory up, and the examples of
// docs/patterns.md loading clean.
#include "reflex/rules/patterns.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "diag_test_util.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::rules {
namespace {

using engine::PatternKind;
using test_util::All;

constexpr const char* kAllKinds = R"y(- name: disk-and-backup
  kind: all_of
  group_by: [labels.instance]
  within: 10m
  members:
    - {name: disk, when: {alertname: NodeFilesystemAlmostOutOfSpace}}
    - {name: backup, when: {alertname: BackupFailed, severity: "in(critical, page)"}}
  actions:
    - page(text="{{events.count}} on {{events.first.labels.instance}}")
- name: deploy-then-errors
  kind: sequence
  group_by: [labels.service]
  within: 15m
  lateness: 30s
  members:
    - {name: deploy, when: {alertname: DeployStarted}}
    - {name: errors, when: {alertname: HighErrorRate}}
  actions: [escalate]
- name: oom-storm
  kind: count
  count: 5
  group_by: [labels.instance]
  within: 10m
  max_keys: 5000
  members:
    - {when: {alertname: OOMKill}}
  actions: [page]
- name: flapping
  kind: rate
  rate: 0.5
  within: 1m
  group_by: [labels.instance]
  members:
    - {when: {alertname: "/.+/"}}
  actions: [page]
- name: backup-never-finished
  kind: absence
  within: 2h
  group_by: [labels.job]
  members:
    - {name: start, when: {alertname: BackupStarted}}
    - {name: done, when: {alertname: BackupFinished}}
  actions: [page]
- name: watchdog
  kind: heartbeat
  within: 5m
  group_by: [labels.cluster]
  members:
    - {when: {alertname: Watchdog}}
  actions: [page]
- name: cpu-hot
  kind: sustained
  within: 10m
  value: values.usage
  above: 90
  group_by: [labels.instance]
  members:
    - {when: {source: metrics}}
  actions: [page]
)y";

std::vector<engine::PatternSpec> Read(const std::string& text, Diagnostics* diags,
                                      const TableContext& ctx = {}) {
  std::vector<engine::PatternSpec> out;
  ReadPatternsYaml(text, "patterns/p.yaml", ctx, &out, diags);
  return out;
}

TEST(Patterns, ReadsEveryKind) {
  Diagnostics diags;
  std::vector<engine::PatternSpec> p = Read(kAllKinds, &diags);
  ASSERT_FALSE(diags.has_errors()) << All(diags);
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(p[0].kind, PatternKind::kAllOf);
  EXPECT_EQ(p[0].within_ms, 600000);
  EXPECT_EQ(p[0].lateness_ms, kDefaultPatternLatenessMs);
  ASSERT_EQ(p[0].members.size(), 2u);
  EXPECT_EQ(p[0].members[1].name, "backup");
  EXPECT_EQ(p[0].members[1].when.size(), 2u);
  EXPECT_EQ(p[0].group_by[0].text(), "labels.instance");
  EXPECT_EQ(p[0].where.line, 1);
  EXPECT_TRUE(p[0].actions[0].params[0].second.uses_events());
  EXPECT_EQ(p[1].kind, PatternKind::kSequence);
  EXPECT_EQ(p[1].lateness_ms, 30000);
  EXPECT_EQ(p[2].count, 5u);
  EXPECT_EQ(p[2].max_keys, 5000u);
  EXPECT_EQ(p[2].members[0].name, "member1");
  EXPECT_EQ(p[3].rate, 0.5);
  EXPECT_EQ(engine::PatternThreshold(p[3]), 31u);
  EXPECT_EQ(p[4].kind, PatternKind::kAbsence);
  EXPECT_EQ(p[4].within_ms, 7200000);
  EXPECT_EQ(p[5].kind, PatternKind::kHeartbeat);
  EXPECT_EQ(p[6].value.text(), "values.usage");
  EXPECT_TRUE(p[6].above);
  EXPECT_EQ(p[6].bound, 90);
  auto c = engine::Correlator::Create(p);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
}

TEST(Patterns, ErrorsNameFileLineAndColumn) {
  Diagnostics diags;
  std::vector<engine::PatternSpec> p = Read(R"y(- name: a
  kind: all_off
  within: 10m
  members: [{when: {alertname: A}}, {when: {alertname: B}}]
  actions: [page]
- name: b
  kind: count
  within: 10q
  members:
    - {when: {alertname: ">= x"}}
  actions: [page]
- name: c
  kind: all_of
  count: 3
  within: 1m
  members: [{when: {alertname: A}}, {when: {alertname: B}}]
  actions: [page]
  colour: red
- name: d
  kind: absence
  within: 1m
  members: [{when: {alertname: A}}]
  actions: [page]
- name: ok
  kind: heartbeat
  within: 1m
  members: [{when: {alertname: W}}]
  actions: [page]
)y",
                                            &diags);
  EXPECT_DIAG_AT(diags, "unknown kind 'all_off'", 2, 9);
  EXPECT_DIAG_AT(diags, "'within': ", 8, 11);
  EXPECT_DIAG_AT(diags, "needs 'count'", 6, 3);
  EXPECT_DIAG_AT(diags, "bad condition for 'alertname'", 10, 26);
  EXPECT_DIAG_AT(diags, "'count' applies only to kind count", 14, 10);
  EXPECT_DIAG_AT(diags, "unknown key 'colour'", 18, 3);
  EXPECT_DIAG_AT(diags, "absence needs exactly 2 members", 19, 3);
  ASSERT_EQ(p.size(), 1u);  // only the good one
  EXPECT_EQ(p[0].name, "ok");
}

TEST(Patterns, ActionsAreCheckedAgainstTheCatalog) {
  TableContext ctx;
  ctx.has_catalog = true;
  ctx.action_names = {"page_oncall"};
  Diagnostics diags;
  Read(R"y(- name: a
  kind: heartbeat
  within: 1m
  members: [{when: {alertname: W}}]
  actions: [page_oncal]
)y",
       &diags, ctx);
  EXPECT_DIAG_AT(diags, "unknown action 'page_oncal'", 5, 13);
}

TEST(Patterns, NotAListIsAnError) {
  Diagnostics diags;
  Read("name: a\nkind: all_of\n", &diags);
  EXPECT_DIAG_AT(diags, "a patterns file is a list", 1, 1);
  Diagnostics syntax;
  Read("- name: [a\n", &syntax);
  EXPECT_TRUE(syntax.has_errors());
}

MemorySource Dir() {
  MemorySource fs;
  fs.Put("r/tables/t.csv", "table,t\nid,alertname,action\nr1,A,escalate\n");
  return fs;
}

TEST(Patterns, LoaderReadsThePatternsDirectory) {
  MemorySource fs = Dir();
  LoadedRules without = LoadRules(fs, "r");
  ASSERT_FALSE(without.diags.has_errors()) << All(without.diags);
  EXPECT_TRUE(without.patterns.empty());
  fs.Put("r/patterns/a.yaml", kAllKinds);
  fs.Put("r/patterns/b.yml",
         "- name: watchdog\n  kind: heartbeat\n  within: 1m\n  members: [{when: {alertname: W}}]\n"
         "  actions: [escalate]\n");
  fs.Put("r/patterns/README.md", "notes");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(lr.patterns.size(), 7u);
  EXPECT_DIAG_IN(lr.diags,
                 "pattern name 'watchdog' is also used by r/patterns/a.yaml:", "r/patterns/b.yml",
                 1, 3);
  EXPECT_NE(lr.version, without.version);  // pattern files are part of the rule set
}

TEST(Patterns, TablesRefuseEventsPlaceholders) {
  Diagnostics diags;
  auto t = ReadCsvTable("table,t\nid,alertname,action\nr1,A,\"page(text={{events.count}})\"\n",
                        "tables/t.csv", TableContext{}, &diags);
  EXPECT_FALSE(t.has_value());
  EXPECT_DIAG_AT(diags, "reads events.*", 3, 3);
}

// Every ```yaml block of docs/patterns.md is a patterns file that loads without a problem.
TEST(Patterns, DocsExamplesLoad) {
  std::ifstream f(std::string(REFLEX_SOURCE_DIR) + "/docs/patterns.md");
  ASSERT_TRUE(f) << "docs/patterns.md";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  size_t pos = 0, blocks = 0, patterns = 0;
  while ((pos = doc.find("```yaml\n", pos)) != std::string::npos) {
    const size_t start = pos + 8;
    const size_t end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    Diagnostics diags;
    patterns += Read(doc.substr(start, end - start), &diags).size();
    EXPECT_EQ(diags.items().size(), 0u) << "block " << blocks << ":\n" << All(diags);
    ++blocks;
    pos = end + 3;
  }
  EXPECT_GE(blocks, 7u);
  EXPECT_GE(patterns, 7u);
}

}  // namespace
}  // namespace reflex::rules
