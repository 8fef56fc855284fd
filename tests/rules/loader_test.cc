// Tests of LoadRules / Compile over an in-memory rules directory, of labeling.yaml and
// actions.yaml, and of the shipped examples on disk.
#include "reflex/rules/loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "diag_test_util.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/source.h"

namespace reflex::rules {
namespace {

using test_util::All;
using test_util::Find;

constexpr const char* kActions =
    "actions:\n"
    "  cleanup_logs: {kind: webhook, params: [path, host]}\n"
    "  page_oncall: {kind: webhook, params: [team]}\n"
    "  restart_service: {kind: command, params: [unit]}\n";

constexpr const char* kLabeling =
    "extract:\n"
    "  - name: unit\n"
    "    from: message\n"
    "    pattern: 'Unit (?P<service>[a-z]+)\\.service failed'\n"
    "  - name: mount\n"
    "    when:\n"
    "      alertname: DiskFull\n"
    "    pattern: 'on (?P<mountpoint>/\\S*)'\n"
    "lookups:\n"
    "  - name: inventory\n"
    "    file: lookups/hosts.csv\n"
    "    key: labels.instance\n"
    "    columns: [team, env]\n";

constexpr const char* kHosts =
    "instance,host,team,env\n"
    "db1:9100,db1,dba,prod\n"
    "web1:9100,web1,web,staging\n";

constexpr const char* kDiskCsv =
    "table,disk\n"
    "hit_policy,first\n"
    "id,alertname,env,values.usage,action,param.host\n"
    "disk-crit,DiskFull,prod,>= 90,cleanup_logs(path={{mountpoint}}),{{labels.instance}}\n"
    "disk-any,DiskFull,,,page_oncall(team={{team}}),\n";

constexpr const char* kServiceYaml =
    "table: service\n"
    "hit_policy: unique\n"
    "rules:\n"
    "  - id: restart\n"
    "    when: {service: \"in(nginx, redis)\"}\n"
    "    action: restart_service(unit={{service}})\n"
    "  - id: quiet\n"
    "    when: {alertname: Watchdog, service: missing}\n"
    "    action: ignore\n";

MemorySource CompleteDir() {
  MemorySource fs;
  fs.Put("rules/actions.yaml", kActions);
  fs.Put("rules/labeling.yaml", kLabeling);
  fs.Put("rules/lookups/hosts.csv", kHosts);
  fs.Put("rules/tables/disk.csv", kDiskCsv);
  fs.Put("rules/tables/service.yaml", kServiceYaml);
  fs.Put("rules/tables/disk.cases.csv", "case,expect_verdict,alertname\nx,unknown,Nope\n");
  fs.Put("rules/tables/service.cases.jsonl", "");
  fs.Put("rules/tables/README.md", "notes");
  return fs;
}

// ---- MemorySource ---------------------------------------------------------------------------

TEST(MemorySourceTest, FilesAndDirectories) {
  MemorySource fs;
  fs.Put("r/tables/b.csv", "b");
  fs.Put("r/tables/a.csv", "a");
  fs.Put("r/tables/sub/c.csv", "c");
  fs.Put("r/actions.yaml", "x");
  EXPECT_EQ(fs.List("r/tables"), (std::vector<std::string>{"a.csv", "b.csv"}));
  EXPECT_EQ(fs.List("r/tables/"), (std::vector<std::string>{"a.csv", "b.csv"}));
  EXPECT_TRUE(fs.List("nope").empty());
  EXPECT_TRUE(fs.IsDirectory("r"));
  EXPECT_TRUE(fs.IsDirectory("r/tables"));
  EXPECT_FALSE(fs.IsDirectory("r/tab"));
  EXPECT_FALSE(fs.IsDirectory("r/actions.yaml"));
  EXPECT_TRUE(fs.Exists("r/actions.yaml"));
  EXPECT_TRUE(fs.Exists("r/tables"));
  EXPECT_FALSE(fs.Exists("r/labeling.yaml"));
  auto a = fs.Read("r/tables/a.csv");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "a");
  EXPECT_FALSE(fs.Read("r/tables").ok());
  EXPECT_EQ(fs.Read("missing").status().code(), engine::StatusCode::kNotFound);
}

TEST(JoinPathTest, Joins) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

// ---- A complete directory ---------------------------------------------------------------------

TEST(LoaderTest, LoadsACompleteDirectory) {
  MemorySource fs = CompleteDir();
  LoadedRules lr = LoadRules(fs, "rules");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  EXPECT_EQ(lr.diags.warning_count(), 0u) << All(lr.diags);
  EXPECT_EQ(lr.dir, "rules");
  ASSERT_EQ(lr.tables.size(), 2u);
  // Name order of the files.
  EXPECT_EQ(lr.tables[0].name, "disk");
  EXPECT_EQ(lr.tables[0].file, "rules/tables/disk.csv");
  EXPECT_EQ(lr.tables[1].name, "service");
  EXPECT_EQ(lr.tables[1].file, "rules/tables/service.yaml");
  // The catalog and the labels labeling can add.
  EXPECT_TRUE(lr.context.has_catalog);
  EXPECT_EQ(lr.context.action_names,
            (std::set<std::string>{"cleanup_logs", "page_oncall", "restart_service"}));
  for (const char* l : {"service", "mountpoint", "team", "env"}) {
    EXPECT_TRUE(lr.context.known_labels.count(l)) << l;
  }
  // Labeling.
  ASSERT_EQ(lr.labeling.extract.size(), 2u);
  EXPECT_EQ(lr.labeling.extract[0].name, "unit");
  EXPECT_EQ(lr.labeling.extract[0].where.file, "rules/labeling.yaml");
  EXPECT_EQ(lr.labeling.extract[0].where.line, 2);
  EXPECT_EQ(lr.labeling.extract[1].from.text(), "message");
  ASSERT_EQ(lr.labeling.extract[1].when.size(), 1u);
  ASSERT_EQ(lr.labeling.lookups.size(), 1u);
  const auto& lk = lr.labeling.lookups[0];
  EXPECT_EQ(lk.name, "inventory");
  EXPECT_EQ(lk.key.text(), "labels.instance");
  EXPECT_EQ(lk.columns, (std::vector<std::string>{"team", "env"}));
  EXPECT_EQ(lk.source_file, "rules/lookups/hosts.csv");
  ASSERT_EQ(lk.rows.count("db1:9100"), 1u);
  EXPECT_EQ(lk.rows.at("db1:9100"), (std::vector<std::string>{"dba", "prod"}));
  // Case files are found, other files skipped quietly.
  EXPECT_EQ(lr.case_files, (std::vector<std::string>{"rules/tables/disk.cases.csv",
                                                     "rules/tables/service.cases.jsonl"}));
  // Version.
  EXPECT_EQ(lr.version.size(), 18u);
  EXPECT_EQ(lr.version.rfind("v-", 0), 0u);
}

TEST(LoaderTest, CompiledRulesLabelAndMatch) {
  MemorySource fs = CompleteDir();
  LoadedRules lr = LoadRules(fs, "rules");
  const std::string version = lr.version;
  Diagnostics cd;
  auto rs = Compile(std::move(lr), &cd);
  ASSERT_NE(rs, nullptr) << All(cd);
  EXPECT_EQ(rs->version(), version);
  EXPECT_EQ(rs->row_count(), 4u);

  engine::EventParser parser;
  engine::MatchScratch scratch;
  engine::MatchResult result;
  {
    engine::Event ev;
    ASSERT_TRUE(parser
                    .Parse(R"({"labels":{"alertname":"DiskFull","instance":"db1:9100"},
                               "values":{"usage":93},"message":"Filesystem on /var/lib full"})",
                           0, &ev)
                    .ok());
    rs->Label(&ev);
    ASSERT_NE(ev.Label("mountpoint"), nullptr);
    EXPECT_EQ(*ev.Label("mountpoint"), "/var/lib");
    ASSERT_NE(ev.Label("env"), nullptr);
    EXPECT_EQ(*ev.Label("env"), "prod");
    rs->Match(ev, &scratch, &result);
    EXPECT_EQ(result.verdict, engine::Verdict::kKnown);
    ASSERT_EQ(result.matches.size(), 1u);
    EXPECT_EQ(rs->tables()[result.matches[0].table].rows[result.matches[0].row].id, "disk-crit");
  }
  {
    engine::Event ev;
    ASSERT_TRUE(parser
                    .Parse(R"({"labels":{"alertname":"SystemdUnitFailed"},
                               "message":"Unit nginx.service failed"})",
                           0, &ev)
                    .ok());
    rs->Label(&ev);
    rs->Match(ev, &scratch, &result);
    EXPECT_EQ(result.verdict, engine::Verdict::kKnown);
    ASSERT_EQ(result.matches.size(), 1u);
    EXPECT_EQ(rs->tables()[result.matches[0].table].name, "service");
  }
  {
    engine::Event ev;
    ASSERT_TRUE(parser.Parse(R"({"labels":{"alertname":"Watchdog"}})", 0, &ev).ok());
    rs->Label(&ev);
    rs->Match(ev, &scratch, &result);
    EXPECT_EQ(result.verdict, engine::Verdict::kSuppressed);
  }
  {
    engine::Event ev;
    ASSERT_TRUE(parser.Parse(R"({"labels":{"alertname":"Other"}})", 0, &ev).ok());
    rs->Label(&ev);
    rs->Match(ev, &scratch, &result);
    EXPECT_EQ(result.verdict, engine::Verdict::kUnknown);
  }
}

TEST(LoaderTest, DirectoryWithoutOptionalFiles) {
  MemorySource fs;
  fs.Put("r/tables/t.csv", "id,alertname,action\na,X,anything_goes\n");
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  EXPECT_FALSE(lr.context.has_catalog);
  EXPECT_TRUE(lr.labeling.extract.empty());
  EXPECT_TRUE(lr.labeling.lookups.empty());
  ASSERT_EQ(lr.tables.size(), 1u);
}

// ---- Version ----------------------------------------------------------------------------------

TEST(LoaderTest, VersionIsStableAndFollowsEveryByte) {
  const std::string v1 = LoadRules(CompleteDir(), "rules").version;
  const std::string v2 = LoadRules(CompleteDir(), "rules").version;
  EXPECT_EQ(v1, v2);

  auto changed = [&](const std::string& path, std::string text) {
    MemorySource fs = CompleteDir();
    fs.Put(path, std::move(text));
    LoadedRules lr = LoadRules(fs, "rules");
    EXPECT_FALSE(lr.diags.has_errors()) << path << "\n" << All(lr.diags);
    return lr.version;
  };
  std::string disk = kDiskCsv;
  disk[disk.find(">= 90") + 3] = '8';  // >= 80
  EXPECT_NE(changed("rules/tables/disk.csv", disk), v1);
  EXPECT_NE(changed("rules/tables/service.yaml", std::string(kServiceYaml) + "\n"), v1);
  EXPECT_NE(changed("rules/actions.yaml", std::string(kActions) + "  extra: {}\n"), v1);
  EXPECT_NE(changed("rules/labeling.yaml", std::string(kLabeling) + "# comment\n"), v1);
  EXPECT_NE(changed("rules/lookups/hosts.csv", std::string(kHosts) + "x:1,x,y,z\n"), v1);
  // A renamed table file is a different rule set even with the same bytes.
  {
    MemorySource fs;
    fs.Put("r/tables/a.csv", "table,t\nid,action\nx,escalate\n");
    MemorySource fs2;
    fs2.Put("r/tables/b.csv", "table,t\nid,action\nx,escalate\n");
    EXPECT_NE(LoadRules(fs, "r").version, LoadRules(fs2, "r").version);
  }
  // Case files and notes are not rules: they do not change the version.
  EXPECT_EQ(changed("rules/tables/README.md", "other notes"), v1);
}

// ---- Errors -----------------------------------------------------------------------------------

TEST(LoaderTest, MissingDirectory) {
  MemorySource fs;
  LoadedRules lr = LoadRules(fs, "nowhere");
  ASSERT_EQ(lr.diags.error_count(), 1u);
  EXPECT_DIAG_IN(lr.diags, "not a rules directory", "nowhere", 0, 0);
  Diagnostics cd;
  EXPECT_EQ(Compile(std::move(lr), &cd), nullptr);
}

TEST(LoaderTest, MissingTablesDirectory) {
  MemorySource fs;
  fs.Put("r/actions.yaml", kActions);
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_EQ(lr.diags.error_count(), 1u) << All(lr.diags);
  EXPECT_DIAG_IN(lr.diags, "missing: decision tables go in r/tables", "r/tables", 0, 0);
}

TEST(LoaderTest, NoTables) {
  MemorySource fs;
  fs.Put("r/tables/notes.md", "x");
  fs.Put("r/tables/t.cases.csv", "case,expect_verdict\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_DIAG_IN(lr.diags, "no decision tables", "r/tables", 0, 0);
}

TEST(LoaderTest, StrayFileInTablesWarns) {
  MemorySource fs;
  fs.Put("r/tables/t.csv", "id,action\nx,escalate\n");
  fs.Put("r/tables/t.txt", "x");
  fs.Put("r/tables/.hidden", "x");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  ASSERT_EQ(lr.diags.warning_count(), 1u) << All(lr.diags);
  EXPECT_DIAG_IN(lr.diags, "ignored: not a table", "r/tables/t.txt", 0, 0);
}

TEST(LoaderTest, ErrorsFromSeveralFilesAreAllCollected) {
  MemorySource fs = CompleteDir();
  fs.Put("rules/actions.yaml", "actions:\n  page_oncall: {}\n  ignore: {}\n");
  fs.Put("rules/tables/disk.csv",
         "table,disk\nid,alertname,values.usage,action\na,DiskFull,lots,page_oncall\n"
         "b,DiskFull,1,cleanup_logs\n");
  fs.Put("rules/tables/service.yaml",
         "rules:\n  - when: {service: in(a}\n    action: page_oncall\n");
  fs.Put("rules/tables/zzz.yaml", "rules: [\n");
  LoadedRules lr = LoadRules(fs, "rules");
  EXPECT_DIAG_IN(lr.diags, "'ignore' is a built-in outcome", "rules/actions.yaml", 3, 3);
  EXPECT_DIAG_IN(lr.diags, "'= lots' is not a number", "rules/tables/disk.csv", 3, 3);
  EXPECT_DIAG_IN(lr.diags, "unknown action 'cleanup_logs'", "rules/tables/disk.csv", 4, 4);
  EXPECT_DIAG_IN(lr.diags, "missing ')'", "rules/tables/service.yaml", 2, 21);
  const Diagnostic* syntax = Find(lr.diags, "YAML syntax");
  ASSERT_NE(syntax, nullptr) << All(lr.diags);
  EXPECT_EQ(syntax->file, "rules/tables/zzz.yaml");
  EXPECT_GT(syntax->line, 0);
  EXPECT_EQ(lr.diags.error_count(), 5u) << All(lr.diags);
  EXPECT_TRUE(lr.tables.empty());
  Diagnostics cd;
  EXPECT_EQ(Compile(std::move(lr), &cd), nullptr);
}

TEST(LoaderTest, AnalysisRunsOnEveryTable) {
  MemorySource fs;
  fs.Put("r/tables/t.csv", "hit_policy,unique\nid,sev,action\na,x,page\nb,x,notify\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_DIAG_IN(lr.diags, "rows 'a' (line 3) and 'b' overlap", "r/tables/t.csv", 4, 1);
}

TEST(LoaderTest, AMisspeltConditionColumnIsWarnedAbout) {
  MemorySource fs;
  fs.Put("r/tables/disk.csv", "id,alertname,severity,action\nd,DiskFull,critical,page\n");
  fs.Put("r/tables/svc.csv", "id,alertname,severty,service,action\ns,Down,critical,web,page\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_DIAG_IN(lr.diags,
                 "condition column 'severty' names a field that no other table, labeling rule "
                 "or test case uses (did you mean 'severity'?)",
                 "r/tables/svc.csv", 1, 3);
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  EXPECT_EQ(lr.diags.items().size(), 1u) << All(lr.diags);
}

TEST(LoaderTest, AFieldSomethingElseUsesIsNotATypo) {
  MemorySource fs;
  // `hosts` is one edit from the well-known `host`, but a test case sends it.
  fs.Put("r/tables/disk.csv", "id,alertname,hosts,values.usag,action\nd,DiskFull,a,>1,page\n");
  fs.Put("r/tables/disk.cases.csv", "case,expect_verdict,alertname,hosts\nc,known,DiskFull,a\n");
  fs.Put("r/tables/cpu.csv", "id,alertname,values.usage,action\nd,Cpu,>1,page\n");
  // Short names are spared: `ns` is two edits from `id` but no typo of it.
  fs.Put("r/tables/k8s.csv", "id,alertname,ns,action\nk,Crash,x,page\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(Find(lr.diags, "'hosts'"), nullptr) << All(lr.diags);
  EXPECT_EQ(Find(lr.diags, "'ns'"), nullptr) << All(lr.diags);
  EXPECT_DIAG_IN(lr.diags, "'values.usag' names a field", "r/tables/disk.csv", 1, 4);
}

TEST(LoaderTest, DuplicateTableNames) {
  MemorySource fs;
  fs.Put("r/tables/a.csv", "table,same\nid,action\nx,escalate\n");
  fs.Put("r/tables/b.yaml", "table: same\nrules:\n  - action: escalate\n");
  LoadedRules lr = LoadRules(fs, "r");
  // Both places are named: the YAML key's value, and the CSV property cell (row 1, cell B).
  EXPECT_DIAG_IN(lr.diags, "table name 'same' is also used by r/tables/a.csv:1:2",
                 "r/tables/b.yaml", 1, 8);
  EXPECT_EQ(lr.tables.size(), 1u);
}

TEST(LoaderTest, DuplicateTableNamesFromFileNamesPointAtTheFileStart) {
  MemorySource fs;
  fs.Put("r/tables/disk.csv", "id,action\nx,escalate\n");
  fs.Put("r/tables/disk.yaml", "hit_policy: first\nrules:\n  - action: escalate\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_DIAG_IN(lr.diags, "table name 'disk' is also used by r/tables/disk.csv:1:1",
                 "r/tables/disk.yaml", 1, 1);
}

TEST(LoaderTest, TemplateVariablesMayUseLabelingOutputs) {
  // {{mountpoint}} and {{team}} are known only through labeling.yaml.
  MemorySource fs = CompleteDir();
  fs.Put("rules/labeling.yaml", "extract: []\n");
  LoadedRules lr = LoadRules(fs, "rules");
  EXPECT_DIAG_IN(lr.diags, "unknown template variable '{{mountpoint}}'", "rules/tables/disk.csv", 4,
                 5);
  EXPECT_DIAG_IN(lr.diags, "unknown template variable '{{team}}'", "rules/tables/disk.csv", 5, 5);
}

// ---- actions.yaml -----------------------------------------------------------------------------

TEST(ActionCatalogTest, Errors) {
  {
    TableContext ctx;
    Diagnostics d;
    ReadActionCatalog("notactions: 1\n", "actions.yaml", &ctx, &d);
    EXPECT_DIAG_IN(d, "expected 'actions:' mapping", "actions.yaml", 1, 0);
  }
  {
    TableContext ctx;
    Diagnostics d;
    ReadActionCatalog("actions:\n  a: {}\n  escalate: {}\n", "actions.yaml", &ctx, &d);
    EXPECT_DIAG_IN(d, "'escalate' is a built-in outcome and cannot be redefined", "actions.yaml", 3,
                   3);
    EXPECT_EQ(ctx.action_names, (std::set<std::string>{"a"}));
    EXPECT_TRUE(ctx.has_catalog);
  }
  {
    TableContext ctx;
    Diagnostics d;
    ReadActionCatalog("actions: {a: [}\n", "actions.yaml", &ctx, &d);
    const Diagnostic* e = Find(d, "YAML syntax");
    ASSERT_NE(e, nullptr) << All(d);
    EXPECT_EQ(e->line, 1);
    EXPECT_GT(e->column, 0);
  }
}

// ---- labeling.yaml ----------------------------------------------------------------------------

Diagnostics Labeling(const std::string& yaml, MemorySource fs = MemorySource(),
                     engine::LabelingSpec* out_spec = nullptr) {
  engine::LabelingSpec spec;
  Diagnostics d;
  ReadLabelingYaml(fs, "r", yaml, "r/labeling.yaml", &spec, &d);
  if (out_spec) *out_spec = std::move(spec);
  return d;
}

TEST(LabelingTest, EmptyFileIsFine) {
  EXPECT_TRUE(Labeling("").items().empty());
  EXPECT_TRUE(Labeling("# nothing\n").items().empty());
}

TEST(LabelingTest, SyntaxError) {
  Diagnostics d = Labeling("extract:\n  - name: a\n    when: {a: [b}\n");
  const Diagnostic* e = Find(d, "YAML syntax");
  ASSERT_NE(e, nullptr) << All(d);
  EXPECT_EQ(e->file, "r/labeling.yaml");
  EXPECT_EQ(e->line, 3);
  EXPECT_GT(e->column, 0);
}

TEST(LabelingTest, StructureErrorsWithLocations) {
  EXPECT_DIAG_IN(Labeling("- a\n"), "expected a mapping with 'extract' and/or 'lookups'",
                 "r/labeling.yaml", 1, 1);
  EXPECT_DIAG_IN(Labeling("extract: x\n"), "'extract' must be a list", "r/labeling.yaml", 1, 10);
  EXPECT_DIAG_IN(Labeling("lookups: x\n"), "'lookups' must be a list", "r/labeling.yaml", 1, 10);
  EXPECT_DIAG_IN(Labeling("extrakt: []\n"), "unknown key 'extrakt' in labeling.yaml",
                 "r/labeling.yaml", 1, 1);
  EXPECT_DIAG_IN(Labeling("extract:\n  - just text\n"), "an extraction rule is a mapping",
                 "r/labeling.yaml", 2, 5);
}

TEST(LabelingTest, ExtractRuleErrors) {
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    from: message\n"), "'a' has no pattern",
                 "r/labeling.yaml", 2, 5);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    pattern: '(?P<x>y'\n"),
                 "bad pattern in 'a': missing )", "r/labeling.yaml", 3, 14);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    pattern: 'y+'\n"),
                 "pattern of 'a' has no named group", "r/labeling.yaml", 3, 14);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    from: label.x\n    pattern: '(?P<x>y)'\n"),
                 "bad 'from' field", "r/labeling.yaml", 3, 11);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    pattern: '(?P<x>y)'\n    when:\n"
                          "      alertname: in(a\n"),
                 "missing ')'", "r/labeling.yaml", 5, 18);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    pattern: '(?P<x>y)'\n    when: [a]\n"),
                 "'when' maps fields to conditions", "r/labeling.yaml", 4, 11);
  EXPECT_DIAG_IN(Labeling("extract:\n  - name: a\n    pattern: '(?P<x>y)'\n    form: message\n"),
                 "unknown key 'form' in an extraction rule", "r/labeling.yaml", 4, 5);
}

TEST(LabelingTest, ExtractDefaults) {
  engine::LabelingSpec spec;
  Diagnostics d =
      Labeling("extract:\n  - pattern: '(?P<x>y)'\n    overwrite: true\n", MemorySource(), &spec);
  EXPECT_TRUE(d.items().empty()) << All(d);
  ASSERT_EQ(spec.extract.size(), 1u);
  EXPECT_EQ(spec.extract[0].name, "extract#1");
  EXPECT_EQ(spec.extract[0].from.text(), "message");
  EXPECT_TRUE(spec.extract[0].overwrite);
}

TEST(LabelingTest, LookupTable) {
  MemorySource fs;
  fs.Put("r/hosts.csv", "host,team,env\nweb1,web,prod\n\nweb2,web,dev\nweb1,dup,dup\n,no,key\n");
  engine::LabelingSpec spec;
  Diagnostics d =
      Labeling("lookups:\n  - file: hosts.csv\n    key: host\n    overwrite: yes\n", fs, &spec);
  EXPECT_FALSE(d.has_errors()) << All(d);
  EXPECT_DIAG_IN(d, "duplicate key 'web1': the first row is used", "r/hosts.csv", 5, 1);
  ASSERT_EQ(spec.lookups.size(), 1u);
  const auto& lt = spec.lookups[0];
  EXPECT_EQ(lt.name, "hosts.csv");
  EXPECT_EQ(lt.key.text(), "host");
  EXPECT_TRUE(lt.overwrite);
  EXPECT_EQ(lt.columns, (std::vector<std::string>{"team", "env"}));
  EXPECT_EQ(lt.rows.size(), 2u);
  EXPECT_EQ(lt.rows.at("web1"), (std::vector<std::string>{"web", "prod"}));
}

TEST(LabelingTest, LookupKeyColumn) {
  MemorySource fs;
  fs.Put("r/hosts.csv", "team,instance\nweb,w1\n");
  engine::LabelingSpec spec;
  Diagnostics d = Labeling(
      "lookups:\n  - file: hosts.csv\n    key: labels.instance\n    key_column: instance\n", fs,
      &spec);
  EXPECT_FALSE(d.has_errors()) << All(d);
  ASSERT_EQ(spec.lookups.size(), 1u);
  EXPECT_EQ(spec.lookups[0].rows.at("w1"), (std::vector<std::string>{"web"}));
}

TEST(LabelingTest, LookupErrors) {
  MemorySource fs;
  fs.Put("r/hosts.csv", "host,team\nweb1,web\n");
  fs.Put("r/empty.csv", "\n\n");
  fs.Put("r/bad.csv", "host,team\nweb1,\"web\n");
  fs.Put("r/latin1.csv", "host,team\nweb1,caf\xE9\n");
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: nope.csv\n    key: host\n", fs),
                 "lookup file r/nope.csv: no such file", "r/labeling.yaml", 2, 11);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - name: inv\n    key: host\n", fs),
                 "lookup 'inv' has no 'file'", "r/labeling.yaml", 2, 5);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: hosts.csv\n    key: 'bad key'\n", fs), "bad 'key'",
                 "r/labeling.yaml", 2, 5);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: hosts.csv\n", fs), "bad 'key'", "r/labeling.yaml", 2,
                 5);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: empty.csv\n    key: host\n", fs),
                 "empty lookup file", "r/empty.csv", 0, 0);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: hosts.csv\n    key: host\n    key_column: id\n", fs),
                 "no key column 'id' in the header", "r/hosts.csv", 1, 0);
  EXPECT_DIAG_IN(
      Labeling("lookups:\n  - file: hosts.csv\n    key: host\n    columns: [team, tema]\n", fs),
      "lookup 'hosts.csv': no column 'tema' in r/hosts.csv", "r/labeling.yaml", 4, 21);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: hosts.csv\n    key: host\n    colums: [team]\n", fs),
                 "unknown key 'colums' in a lookup", "r/labeling.yaml", 4, 5);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: bad.csv\n    key: host\n", fs), "never closed",
                 "r/bad.csv", 2, 2);
  EXPECT_DIAG_IN(Labeling("lookups:\n  - file: latin1.csv\n    key: host\n", fs), "invalid UTF-8",
                 "r/latin1.csv", 2, 2);
}

TEST(LabelingTest, LookupThatIsNotAMappingIsAnError) {
  Diagnostics d = Labeling("lookups:\n  - hosts.csv\n");
  EXPECT_DIAG_IN(d, "a lookup is a mapping", "r/labeling.yaml", 2, 5);
}

TEST(LoaderTest, BadLabelingAndLookupInADirectory) {
  MemorySource fs = CompleteDir();
  fs.Put("rules/lookups/hosts.csv", "instance,team,env\ndb1:9100,\"dba\n");
  LoadedRules lr = LoadRules(fs, "rules");
  EXPECT_DIAG_IN(lr.diags, "never closed", "rules/lookups/hosts.csv", 2, 2);
  MemorySource fs2 = CompleteDir();
  fs2.Put("rules/labeling.yaml", "extract:\n  - name: x\n    pattern: '(?P<a>'\n");
  LoadedRules lr2 = LoadRules(fs2, "rules");
  EXPECT_DIAG_IN(lr2.diags, "bad pattern in 'x'", "rules/labeling.yaml", 3, 14);
}

TEST(DiskSourceTest, LoadsARulesDirectoryFromDisk) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / "reflex_rules_loader_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "tables");
  {
    std::ofstream(dir / "tables" / "b.csv") << "table,b\nid,alertname,action\nx,B,escalate\n";
    std::ofstream(dir / "tables" / "a.yaml") << "table: a\nrules:\n  - when: {alertname: A}\n"
                                                "    action: escalate\n";
    std::ofstream(dir / "actions.yaml") << "actions:\n  page: {}\n";
  }
  DiskSource disk;
  EXPECT_TRUE(disk.IsDirectory(dir.string()));
  EXPECT_FALSE(disk.IsDirectory((dir / "actions.yaml").string()));
  EXPECT_TRUE(disk.Exists((dir / "actions.yaml").string()));
  EXPECT_EQ(disk.List((dir / "tables").string()), (std::vector<std::string>{"a.yaml", "b.csv"}));
  EXPECT_FALSE(disk.Read((dir / "nope").string()).ok());
  EXPECT_FALSE(disk.Read((dir / "tables").string()).ok());
  LoadedRules lr = LoadRules(disk, dir.string());
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  ASSERT_EQ(lr.tables.size(), 2u);
  EXPECT_EQ(lr.tables[0].name, "a");
  EXPECT_EQ(lr.tables[1].name, "b");
  EXPECT_TRUE(lr.context.has_catalog);
  fs::remove_all(dir);
}

// ---- The shipped examples -----------------------------------------------------------------------

TEST(ExamplesTest, ExamplesLoadAndCompileWithoutErrors) {
  const std::string dir = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";
  if (!std::filesystem::is_directory(dir + "/tables")) {
    GTEST_SKIP() << dir << " does not exist yet";
  }
  DiskSource disk;
  LoadedRules lr = LoadRules(disk, dir);
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  EXPECT_FALSE(lr.tables.empty());
  EXPECT_EQ(lr.version, LoadRules(disk, dir).version);
  Diagnostics cd;
  auto rs = Compile(std::move(lr), &cd);
  EXPECT_NE(rs, nullptr) << All(cd);
}

// Regression: lookup file names were mixed into the version relative to `dir` as given, so
// "rules" and "rules/" gave different versions for the same files.
TEST(LoaderTest, TrailingSlashesDoNotChangeTheVersion) {
  MemorySource fs = CompleteDir();
  LoadedRules plain = LoadRules(fs, "rules");
  ASSERT_FALSE(plain.diags.has_errors()) << All(plain.diags);
  ASSERT_EQ(plain.labeling.lookups.size(), 1u);
  for (const std::string dir : {"rules/", "rules//"}) {
    LoadedRules lr = LoadRules(fs, dir);
    ASSERT_FALSE(lr.diags.has_errors()) << dir << "\n" << All(lr.diags);
    EXPECT_EQ(lr.version, plain.version) << dir;
    EXPECT_EQ(lr.dir, "rules") << dir;
    ASSERT_EQ(lr.labeling.lookups.size(), 1u) << dir;
    EXPECT_EQ(lr.labeling.lookups[0].source_file, "rules/lookups/hosts.csv") << dir;
    EXPECT_EQ(lr.tables.size(), plain.tables.size()) << dir;
  }
  // "/" itself is kept: a rules directory at the root still loads, with or without extras.
  MemorySource root;
  root.Put("/actions.yaml", kActions);
  root.Put("/labeling.yaml", kLabeling);
  root.Put("/lookups/hosts.csv", kHosts);
  root.Put("/tables/disk.csv", kDiskCsv);
  root.Put("/tables/service.yaml", kServiceYaml);
  LoadedRules r1 = LoadRules(root, "/");
  ASSERT_FALSE(r1.diags.has_errors()) << All(r1.diags);
  EXPECT_EQ(r1.dir, "/");
  EXPECT_EQ(r1.tables.size(), 2u);
  LoadedRules r2 = LoadRules(root, "//");
  ASSERT_FALSE(r2.diags.has_errors()) << All(r2.diags);
  EXPECT_EQ(r2.dir, "/");
  EXPECT_EQ(r2.version, r1.version);
}

}  // namespace
}  // namespace reflex::rules
