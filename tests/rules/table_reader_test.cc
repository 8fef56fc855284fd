// Tests of the decision-table readers (CSV and YAML) and of action cells.
#include "reflex/rules/table_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diag_test_util.h"
#include "reflex/engine/condition.h"
#include "reflex/engine/event.h"
#include "reflex/engine/rule_model.h"

namespace reflex::rules {
namespace {

using test_util::All;
using test_util::Find;

using engine::FieldPath;
using engine::HitPolicy;
using engine::Op;
using engine::TableSpec;

std::optional<TableSpec> Csv(const std::string& text, Diagnostics* d,
                             const TableContext& ctx = TableContext()) {
  return ReadCsvTable(text, "tables/disk.csv", ctx, d);
}

std::optional<TableSpec> Yaml(const std::string& text, Diagnostics* d,
                              const TableContext& ctx = TableContext()) {
  return ReadYamlTable(text, "tables/disk.yaml", ctx, d);
}

engine::Event MakeEvent() {
  engine::Event ev;
  ev.SetLabel("instance", "db1:9100");
  ev.SetLabel("severity", "critical");
  ev.SetLabel("alertname", "NodeFilesystemFull");
  return ev;
}

// ---- CSV: a complete table -----------------------------------------------------------------

constexpr const char* kDiskCsv =
    "table,disk_full\n"
    "hit_policy,first\n"
    "description,Disk alerts\n"
    "timezone,+09:00\n"
    "id,alertname,severity,values.usage,action,param.path,runbook,description\n"
    "disk-crit,NodeFilesystemFull,critical,>= 90,cleanup_logs(host={{labels.instance}}),"
    "/var/log,https://rb/disk,critical disk\n"
    "# a comment row\n"
    "\n"
    "disk-warn,NodeFilesystemFull,warning,\"[80,90)\",ignore,,,\n"
    ",NodeFilesystemFull,,,escalate,,,\n";

TEST(CsvTableTest, ReadsACompleteTable) {
  Diagnostics d;
  auto t = Csv(kDiskCsv, &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  EXPECT_EQ(t->name, "disk_full");
  EXPECT_EQ(t->file, "tables/disk.csv");
  EXPECT_EQ(t->hit_policy, HitPolicy::kFirst);
  EXPECT_EQ(t->description, "Disk alerts");
  EXPECT_EQ(t->tz_offset_min, 540);
  ASSERT_EQ(t->columns.size(), 3u);
  EXPECT_EQ(t->columns[0].field.text(), "alertname");
  EXPECT_EQ(t->columns[0].field.root(), FieldPath::Root::kBare);
  EXPECT_EQ(t->columns[2].field.root(), FieldPath::Root::kValue);
  EXPECT_EQ(t->columns[2].where.line, 5);
  EXPECT_EQ(t->columns[2].where.column, 4);

  ASSERT_EQ(t->rows.size(), 3u);
  const auto& crit = t->rows[0];
  EXPECT_EQ(crit.id, "disk-crit");
  EXPECT_EQ(crit.where.file, "tables/disk.csv");
  EXPECT_EQ(crit.where.line, 6);
  EXPECT_EQ(crit.where.column, 1);
  ASSERT_EQ(crit.conditions.size(), 3u);
  EXPECT_EQ(crit.conditions[0].op(), Op::kEq);
  EXPECT_EQ(crit.conditions[2].Describe(), ">= 90");
  ASSERT_EQ(crit.condition_where.size(), 3u);
  EXPECT_EQ(crit.condition_where[2].line, 6);
  EXPECT_EQ(crit.condition_where[2].column, 4);
  ASSERT_EQ(crit.actions.size(), 1u);
  EXPECT_EQ(crit.actions[0].name, "cleanup_logs");
  ASSERT_EQ(crit.actions[0].params.size(), 2u);
  EXPECT_EQ(crit.actions[0].params[0].first, "host");
  EXPECT_EQ(crit.actions[0].params[0].second.Render(MakeEvent()), "db1:9100");
  EXPECT_EQ(crit.actions[0].params[1].first, "path");
  EXPECT_EQ(crit.actions[0].params[1].second.Render(MakeEvent()), "/var/log");
  EXPECT_EQ(crit.runbook, "https://rb/disk");
  EXPECT_EQ(crit.description, "critical disk");

  const auto& warn = t->rows[1];
  EXPECT_EQ(warn.id, "disk-warn");
  EXPECT_EQ(warn.where.line, 9);
  EXPECT_TRUE(warn.IsIgnore());
  EXPECT_EQ(warn.conditions[2].Describe(), "[80,90)");

  // A row without an id gets one from its position among data rows.
  const auto& third = t->rows[2];
  EXPECT_EQ(third.id, "r3");
  EXPECT_EQ(third.conditions[1].op(), Op::kAny);
  EXPECT_EQ(third.actions[0].name, "escalate");
}

TEST(CsvTableTest, SpreadsheetExportWithBomAndCrlf) {
  // Excel's "CSV UTF-8" writes a byte order mark and CRLF line ends.
  Diagnostics d;
  auto t =
      Csv("\xEF\xBB\xBFtable,excel\r\nhit_policy,unique\r\nid,severity,action\r\n"
          "a,critical,page\r\nb,warning,\"notify(text=\"\"two\r\nlines\"\")\"\r\n",
          &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->name, "excel");
  EXPECT_EQ(t->hit_policy, HitPolicy::kUnique);
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0].conditions[0].strings()[0], "critical");
  EXPECT_EQ(t->rows[1].actions[0].params[0].second.source(), "two\r\nlines");
  EXPECT_EQ(t->rows[1].where.line, 5);
}

TEST(CsvTableTest, TableNameDefaultsToFileStem) {
  Diagnostics d;
  auto t =
      ReadCsvTable("id,action\na,escalate\n", "rules/tables/net.errors.csv", TableContext(), &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->name, "net");
  EXPECT_EQ(t->hit_policy, HitPolicy::kFirst);
  EXPECT_TRUE(t->columns.empty());
}

TEST(CsvTableTest, EveryHitPolicySpelling) {
  struct Case {
    const char* text;
    HitPolicy want;
  };
  for (const Case& c : {Case{"first", HitPolicy::kFirst}, Case{"F", HitPolicy::kFirst},
                        Case{"unique", HitPolicy::kUnique}, Case{"u", HitPolicy::kUnique},
                        Case{"Collect", HitPolicy::kCollect}, Case{"c", HitPolicy::kCollect},
                        Case{"priority", HitPolicy::kPriority}, Case{"P", HitPolicy::kPriority}}) {
    Diagnostics d;
    auto t = Csv(std::string("hit_policy,") + c.text + "\nid,priority,action\na,1,escalate\n", &d);
    ASSERT_TRUE(t) << c.text << "\n" << All(d);
    EXPECT_EQ(t->hit_policy, c.want) << c.text;
  }
  Diagnostics d;
  auto t = Csv("hit policy,unique\nid,action\na,escalate\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->hit_policy, HitPolicy::kUnique);
}

TEST(CsvTableTest, PriorityColumn) {
  Diagnostics d;
  auto t =
      Csv("hit_policy,priority\nid,sev,priority,action\na,x,10,escalate\nb,,-3,escalate\n"
          "c,,,escalate\n",
          &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->rows[0].priority, 10);
  EXPECT_EQ(t->rows[1].priority, -3);
  EXPECT_EQ(t->rows[2].priority, 0);
}

TEST(CsvTableTest, PriorityPolicyNeedsPriorityColumn) {
  Diagnostics d;
  EXPECT_FALSE(Csv("hit_policy,priority\nid,action\na,escalate\n", &d));
  EXPECT_DIAG_AT(d, "needs a 'priority' column", 2, 0);
}

TEST(CsvTableTest, BadPriority) {
  Diagnostics d;
  EXPECT_FALSE(Csv("hit_policy,priority\nid,priority,action\na,high,escalate\n", &d));
  EXPECT_DIAG_AT(d, "priority must be a whole number, got 'high'", 3, 2);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,priority,action\na,1.5,escalate\n", &d2));
  EXPECT_DIAG_AT(d2, "got '1.5'", 2, 2);
}

TEST(CsvTableTest, ReservedColumnAliases) {
  Diagnostics d;
  auto t = Csv("ID,Actions,Note,Runbook\na,escalate,my note,http://x\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(t->columns.empty());
  EXPECT_EQ(t->rows[0].id, "a");
  EXPECT_EQ(t->rows[0].description, "my note");
  EXPECT_EQ(t->rows[0].runbook, "http://x");
  Diagnostics d2;
  auto t2 = Csv("id,comment,action\na,c,escalate\n", &d2);
  ASSERT_TRUE(t2) << All(d2);
  EXPECT_EQ(t2->rows[0].description, "c");
}

TEST(CsvTableTest, DuplicateReservedColumn) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,action,action\na,escalate,escalate\n", &d));
  EXPECT_DIAG_AT(d, "duplicate 'action' column", 1, 3);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,note,description,action\na,x,y,escalate\n", &d2));
  EXPECT_DIAG_AT(d2, "duplicate 'description' column", 1, 3);
}

TEST(CsvTableTest, ConditionColumnKinds) {
  Diagnostics d;
  auto t =
      Csv("id,labels.env,values.usage,message,source,timestamp,payload.a.b[0],action\n"
          "a,prod,> 1,/x/,prefix(k),weekday(mon),= 1,escalate\n",
          &d);
  ASSERT_TRUE(t) << All(d);
  ASSERT_EQ(t->columns.size(), 6u);
  EXPECT_EQ(t->columns[0].field.root(), FieldPath::Root::kLabel);
  EXPECT_EQ(t->columns[1].field.root(), FieldPath::Root::kValue);
  EXPECT_EQ(t->columns[2].field.root(), FieldPath::Root::kMessage);
  EXPECT_EQ(t->columns[3].field.root(), FieldPath::Root::kSource);
  EXPECT_EQ(t->columns[4].field.root(), FieldPath::Root::kTimestamp);
  EXPECT_EQ(t->columns[5].field.root(), FieldPath::Root::kPayload);
}

TEST(CsvTableTest, CellErrorsPointAtTheCell) {
  Diagnostics d;
  EXPECT_FALSE(
      Csv("table,t\nid,severity,usage,action\n"
          "a,in(x,>= lots,escalate\n"
          "b,foo(1),1,escalate\n",
          &d));
  EXPECT_DIAG_AT(d, "missing ')' at the end of in(...)", 3, 2);
  EXPECT_DIAG_AT(d, "'>=' needs a number, got 'lots'", 3, 3);
  EXPECT_DIAG_AT(d, "unknown operator 'foo'", 4, 2);
  // The message also names the character within the cell.
  const Diagnostic* e = Find(d, "needs a number");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("(at character 3 of '>= lots')"), std::string::npos) << e->message;
  EXPECT_EQ(e->ToString().substr(0, 22), "tables/disk.csv:3:3: e");
  EXPECT_NE(e->ToString().find("(cell C3)"), std::string::npos);
  EXPECT_EQ(d.error_count(), 3u) << All(d);
}

TEST(CsvTableTest, BadRegexInCellCarriesRe2Text) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,message,action\na,/disk(/,escalate\n", &d));
  EXPECT_DIAG_AT(d, "missing )", 2, 2);
}

TEST(CsvTableTest, CellErrorInQuotedMultiLineRowUsesRecordLine) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,description,severity,action\na,\"two\nlines\",in(x,escalate\n", &d));
  EXPECT_DIAG_AT(d, "missing ')'", 2, 3);
}

TEST(CsvTableTest, TypeErrors) {
  Diagnostics d;
  EXPECT_FALSE(
      Csv("id,values.usage,message,timestamp,values.load,action\n"
          "a,prefix(9),,,,escalate\n"
          "b,,>= 5,,,escalate\n"
          "c,,,= monday,,escalate\n"
          "f,,,= 1700000000000,,escalate\n"
          "d,high,,,,escalate\n"
          "e,,,,time(09:00-10:00),escalate\n",
          &d));
  EXPECT_DIAG_AT(d, "'values.usage' holds numbers; prefix needs text", 2, 2);
  EXPECT_DIAG_AT(d, "'message' is text; >= 5 needs a number", 3, 3);
  EXPECT_DIAG_AT(d, "'timestamp' holds numbers; '= monday' is not a number", 4, 4);
  EXPECT_DIAG_AT(d, "timestamp conditions are time(), weekday() or numeric", 5, 4);
  EXPECT_DIAG_AT(d, "'= high' is not a number", 6, 2);
  EXPECT_DIAG_AT(d, "time() applies to a timestamp field, and 'values.load' is not one", 7, 5);
  for (const auto& x : d.items()) EXPECT_EQ(x.message.rfind("type error: ", 0), 0u) << x.message;
}

TEST(CsvTableTest, TimestampAcceptsTimeWeekdayAndNumbers) {
  Diagnostics d;
  auto t =
      Csv("id,timestamp,action\na,time(09:00-10:00),escalate\nb,weekday(sat),escalate\n"
          "c,>= 1700000000000,escalate\n",
          &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->rows[0].conditions[0].op(), Op::kTimeOfDay);
}

TEST(CsvTableTest, TimezoneAppliesToTimeCells) {
  Diagnostics d;
  auto t = Csv("timezone,-05:00\nid,timestamp,action\na,time(09:00-10:00),escalate\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->rows[0].conditions[0].tz_offset_min(), -300);
}

TEST(CsvTableTest, PropertyErrors) {
  Diagnostics d;
  EXPECT_FALSE(
      Csv("table,bad name!\nhit_policy,sometimes\ntimezone,Mars/Base\nid,action\n"
          "a,escalate\n",
          &d));
  EXPECT_DIAG_AT(d, "bad table name 'bad name!'", 1, 2);
  EXPECT_DIAG_AT(d, "unknown hit policy 'sometimes' (first, unique, collect or priority)", 2, 2);
  EXPECT_DIAG_AT(d, "bad timezone 'Mars/Base'", 3, 2);
}

TEST(CsvTableTest, PropertyRowWithExtraCellsWarns) {
  Diagnostics d;
  auto t = Csv("table,t,extra\nid,action\na,escalate\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(d.warning_count(), 1u);
  EXPECT_DIAG_AT(d, "ignored: a property row has a key and one value", 1, 3);
}

TEST(CsvTableTest, EmptyFile) {
  Diagnostics d;
  EXPECT_FALSE(Csv("", &d));
  EXPECT_DIAG_AT(d, "empty file", 0, 0);
  Diagnostics d2;
  EXPECT_FALSE(Csv("\n\n# only comments\n", &d2));
  EXPECT_EQ(d2.error_count(), 1u);
}

TEST(CsvTableTest, MissingHeader) {
  Diagnostics d;
  EXPECT_FALSE(Csv("table,t\nhit_policy,first\n", &d));
  EXPECT_DIAG_AT(d, "no header row", 2, 0);
}

TEST(CsvTableTest, HeaderWithoutActionColumn) {
  Diagnostics d;
  EXPECT_FALSE(Csv("table,t\nid,severity,usage,runbook\na,x,1,y\n", &d));
  EXPECT_DIAG_AT(d, "header row has no 'action' column", 2, 1);
  // A misspelt property looks like a short header: the message says so.
  Diagnostics d2;
  EXPECT_FALSE(Csv("table,t\nhitpolicy,first\nid,action\n", &d2));
  const Diagnostic* e = Find(d2, "no 'action' column");
  ASSERT_NE(e, nullptr) << All(d2);
  EXPECT_EQ(e->line, 2);
  EXPECT_NE(e->message.find("'hitpolicy' is not a table property"), std::string::npos);
}

TEST(CsvTableTest, TypoInReservedColumnSuggestsTheName) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,acton,descripton\na,x,escalate,y\n", &d));
  EXPECT_DIAG_AT(d, "unknown column 'acton' (did you mean 'action'?)", 1, 3);
  EXPECT_DIAG_AT(d, "unknown column 'descripton' (did you mean 'description'?)", 1, 4);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,priorty,action\na,1,escalate\n", &d2));
  EXPECT_DIAG_AT(d2, "did you mean 'priority'?", 1, 2);
  Diagnostics d3;
  EXPECT_FALSE(Csv("id,runbok,action\na,x,escalate\n", &d3));
  EXPECT_DIAG_AT(d3, "did you mean 'runbook'?", 1, 2);
}

TEST(CsvTableTest, ShortLabelNamesAreColumnsNotTyposOfId) {
  // `pod`, `ip`, `ns`, `os` are common label names; they are two edits or fewer from `id`
  // but are not misspellings of it.
  Diagnostics d;
  auto t = Csv("id,pod,ip,ns,os,dc,action\na,web-1,10.0.0.1,default,linux,eu1,escalate\n", &d);
  ASSERT_TRUE(t) << All(d);
  ASSERT_EQ(t->columns.size(), 5u);
  EXPECT_EQ(t->columns[0].field.text(), "pod");
  EXPECT_EQ(t->columns[1].field.text(), "ip");
}

TEST(CsvTableTest, KnownLabelsAreNeverTypos) {
  TableContext ctx;
  ctx.known_labels = {"actor"};
  Diagnostics d;
  auto t = Csv("id,actor,action\na,bob,escalate\n", &d, ctx);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->columns.size(), 1u);
}

TEST(CsvTableTest, UnknownColumnRoot) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,label.env,labels.,action\na,x,y,escalate\n", &d));
  EXPECT_DIAG_AT(d, "unknown column 'label.env'", 1, 2);
  EXPECT_DIAG_AT(d, "unknown column 'labels.'", 1, 3);
  const Diagnostic* e = Find(d, "label.env");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("unknown field root 'label'"), std::string::npos) << e->message;
}

TEST(CsvTableTest, EmptyParamName) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,action,param.\na,escalate,x\n", &d));
  EXPECT_DIAG_AT(d, "'param.' needs a parameter name", 1, 3);
}

TEST(CsvTableTest, RaggedRowValueWithoutHeader) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action\na,x,escalate,surprise\nb,y,escalate,,\n", &d));
  EXPECT_DIAG_AT(d, "value in a column without a header", 2, 4);
  EXPECT_EQ(d.error_count(), 1u) << All(d);  // empty trailing cells are fine
}

TEST(CsvTableTest, ValueUnderBlankHeaderCell) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,,action\na,x,escalate\n", &d));
  EXPECT_DIAG_AT(d, "value in a column without a header", 2, 2);
}

TEST(CsvTableTest, ShortRowsAreBlankCells) {
  Diagnostics d;
  auto t = Csv("id,action,severity,env\na,escalate\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(t->rows[0].conditions[0].op(), Op::kAny);
  EXPECT_EQ(t->rows[0].conditions[1].op(), Op::kAny);
}

TEST(CsvTableTest, RowWithoutAction) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action\nlonely,x,\n", &d));
  EXPECT_DIAG_AT(d, "row 'lonely' has no action", 2, 3);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,severity,action\nshort,x\n", &d2));
  EXPECT_DIAG_AT(d2, "row 'short' has no action", 2, 3);
}

TEST(CsvTableTest, DuplicateRowIds) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action\ndup,a,escalate\nother,b,escalate\ndup,c,escalate\n", &d));
  EXPECT_DIAG_AT(d, "duplicate row id 'dup' (first used on line 2)", 4, 1);
}

TEST(CsvTableTest, DuplicateIdInLaterIdColumn) {
  Diagnostics d;
  EXPECT_FALSE(Csv("severity,id,action\na,x,escalate\nb,x,escalate\n", &d));
  EXPECT_DIAG_AT(d, "duplicate row id 'x'", 3, 2);
}

TEST(CsvTableTest, NoRowsWarns) {
  Diagnostics d;
  auto t = Csv("table,empty\nid,action\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_EQ(d.warning_count(), 1u);
  EXPECT_DIAG_AT(d, "table 'empty' has no rows", 2, 0);
}

TEST(CsvTableTest, CsvStructuralErrorsAreReported) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,action\na,\"escalate\n", &d));
  EXPECT_DIAG_AT(d, "never closed", 2, 2);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,action\na,caf\xE9\n", &d2));
  EXPECT_DIAG_AT(d2, "invalid UTF-8", 2, 2);
}

TEST(CsvTableTest, ManyErrorsAreAllCollected) {
  Diagnostics d;
  EXPECT_FALSE(
      Csv("id,severity,values.usage,action\n"
          "a,in(x,1,escalate\n"
          "b,x,lots,escalate\n"
          "c,x,1,\n"
          "c,y,2,nope(\n",
          &d));
  EXPECT_GE(d.error_count(), 5u) << All(d);
  EXPECT_DIAG_AT(d, "missing ')' at the end", 2, 2);
  EXPECT_DIAG_AT(d, "'= lots' is not a number", 3, 3);
  EXPECT_DIAG_AT(d, "row 'c' has no action", 4, 4);
  EXPECT_DIAG_AT(d, "missing ')' after the parameters", 5, 4);
  EXPECT_DIAG_AT(d, "duplicate row id 'c'", 5, 1);
}

// ---- Actions and parameters ----------------------------------------------------------------

TEST(ActionCellTest, SeveralActionsWithParamsAndTemplates) {
  Diagnostics d;
  std::vector<engine::ActionSpec> out;
  ASSERT_TRUE(ParseActionCell(
      "cleanup_logs(host={{labels.instance}}, path=\"/var/log, /tmp\"); page(team=ops) ; notify",
      "t.csv", 4, 5, TableContext(), &out, &d))
      << All(d);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name, "cleanup_logs");
  ASSERT_EQ(out[0].params.size(), 2u);
  EXPECT_EQ(out[0].params[0].first, "host");
  EXPECT_EQ(out[0].params[0].second.Render(MakeEvent()), "db1:9100");
  EXPECT_EQ(out[0].params[1].first, "path");
  EXPECT_EQ(out[0].params[1].second.source(), "/var/log, /tmp");
  EXPECT_EQ(out[1].name, "page");
  EXPECT_EQ(out[1].params[0].second.source(), "ops");
  EXPECT_EQ(out[2].name, "notify");
  EXPECT_TRUE(out[2].params.empty());
}

TEST(ActionCellTest, QuotedParamWithDoubledQuotesAndDefaultFilter) {
  Diagnostics d;
  std::vector<engine::ActionSpec> out;
  ASSERT_TRUE(
      ParseActionCell("notify(text=\"say \"\"hi\"\" to {{labels.team | default(\"ops\")}}\")",
                      "t.csv", 1, 1, TableContext(), &out, &d))
      << All(d);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].params[0].second.source(), "say \"hi\" to {{labels.team | default(\"ops\")}}");
  EXPECT_EQ(out[0].params[0].second.Render(MakeEvent()), "say \"hi\" to ops");
}

TEST(ActionCellTest, Errors) {
  struct Case {
    const char* cell;
    const char* want;
  };
  for (const Case& c :
       {Case{"ignore; page", "'ignore' cannot be combined with other actions"},
        Case{"page; ignore", "'ignore' cannot be combined"},
        Case{"cleanup(host=x", "missing ')' after the parameters"},
        Case{"page(team)", "parameter 'team' is not key=value"},
        Case{"page(=x)", "is not key=value"}, Case{"9lives", "bad action name '9lives'"},
        Case{"pa ge", "bad action name 'pa ge'"},
        Case{"page(t={{labels.x)", "bad template for 't'"},
        Case{"page(t={{}})", "empty placeholder"}, Case{";;", "empty action cell"}}) {
    Diagnostics d;
    std::vector<engine::ActionSpec> out;
    EXPECT_FALSE(ParseActionCell(c.cell, "t.csv", 7, 4, TableContext(), &out, &d)) << c.cell;
    const Diagnostic* e = Find(d, c.want);
    ASSERT_NE(e, nullptr) << c.cell << ":\n" << All(d);
    EXPECT_EQ(e->line, 7) << c.cell;
    EXPECT_EQ(e->column, 4) << c.cell;
  }
}

TEST(ActionCellTest, ErrorNamesTheAction) {
  Diagnostics d;
  std::vector<engine::ActionSpec> out;
  EXPECT_FALSE(ParseActionCell("page(team)", "t.csv", 1, 1, TableContext(), &out, &d));
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].message, "parameter 'team' is not key=value (in action 'page(team)')");
}

TEST(ActionCellTest, CatalogRejectsUnknownActionsWithSuggestion) {
  TableContext ctx;
  ctx.has_catalog = true;
  ctx.action_names = {"page", "cleanup_logs"};
  Diagnostics d;
  std::vector<engine::ActionSpec> out;
  EXPECT_FALSE(ParseActionCell("cleanup_log(x=1)", "t.csv", 3, 5, ctx, &out, &d));
  EXPECT_DIAG_AT(
      d, "unknown action 'cleanup_log': not in actions.yaml (did you mean 'cleanup_logs'?)", 3, 5);
  // Built-in outcomes need no catalog entry.
  Diagnostics d2;
  EXPECT_TRUE(ParseActionCell("escalate; page", "t.csv", 1, 1, ctx, &out, &d2)) << All(d2);
  EXPECT_TRUE(ParseActionCell("ignore", "t.csv", 1, 1, ctx, &out, &d2)) << All(d2);
  EXPECT_TRUE(ParseActionCell("emit", "t.csv", 1, 1, ctx, &out, &d2)) << All(d2);
  // Far from every name: no suggestion.
  Diagnostics d3;
  EXPECT_FALSE(ParseActionCell("reboot_everything", "t.csv", 1, 1, ctx, &out, &d3));
  ASSERT_EQ(d3.items().size(), 1u);
  EXPECT_EQ(d3.items()[0].message.find("did you mean"), std::string::npos);
}

TEST(ActionCellTest, WithoutCatalogAnyNameIsAccepted) {
  Diagnostics d;
  std::vector<engine::ActionSpec> out;
  EXPECT_TRUE(ParseActionCell("whatever.v2", "t.csv", 1, 1, TableContext(), &out, &d));
  EXPECT_EQ(out[0].name, "whatever.v2");
}

TEST(CsvTableTest, IgnoreCombinedWithAnotherActionIsRejected) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action\na,x,ignore;page\n", &d));
  EXPECT_DIAG_AT(d, "'ignore' cannot be combined", 2, 3);
}

TEST(CsvTableTest, EscalateAndIgnoreOutcomes) {
  Diagnostics d;
  auto t = Csv("id,severity,action\na,x,ignore\nb,y,escalate\nc,z,escalate; page\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(t->rows[0].IsIgnore());
  EXPECT_FALSE(t->rows[1].IsIgnore());
  EXPECT_EQ(t->rows[2].actions.size(), 2u);
}

TEST(CsvTableTest, UnknownActionAgainstCatalog) {
  TableContext ctx;
  ctx.has_catalog = true;
  ctx.action_names = {"page"};
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action\na,x,paeg\n", &d, ctx));
  EXPECT_DIAG_AT(d, "unknown action 'paeg'", 2, 3);
  const Diagnostic* e = Find(d, "unknown action");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("did you mean 'page'?"), std::string::npos);
  EXPECT_EQ(e->ToString(),
            "tables/disk.csv:2:3: error: unknown action 'paeg': not in actions.yaml (did you "
            "mean 'page'?) (in action 'paeg') (cell C2)");
}

TEST(CsvTableTest, AParameterTheCatalogDoesNotDeclareIsAnError) {
  TableContext ctx;
  ctx.has_catalog = true;
  ctx.action_names = {"restart", "page"};
  ctx.action_params = {{"restart", {"host", "unit"}}, {"page", {"team"}}};
  // Passed inline: the action would never read it (`force=true` did nothing, silently).
  Diagnostics d1;
  EXPECT_FALSE(Csv("id,severity,action\na,x,\"restart(unit=web,force=true)\"\n", &d1, ctx));
  EXPECT_DIAG_AT(d1,
                 "parameter 'force' is not declared by action 'restart' in actions.yaml (its "
                 "params are [host, unit])",
                 2, 3);
  Diagnostics d2;
  EXPECT_FALSE(Csv("id,severity,action\na,x,restart(uint=web)\n", &d2, ctx));
  EXPECT_DIAG_AT(d2, "(did you mean 'unit'?)", 2, 3);
  // A parameter column: one action of the row must declare it; it names the column's cell.
  Diagnostics d3;
  EXPECT_FALSE(Csv("id,severity,action,param.force\na,x,restart; page,yes\n", &d3, ctx));
  EXPECT_DIAG_AT(d3, "parameter 'force' is not declared by action 'restart'", 2, 4);
  Diagnostics d4;
  EXPECT_TRUE(Csv("id,severity,action,param.team\na,x,restart(host=h); page,sre\n", &d4, ctx))
      << All(d4);
  // Built-in outcomes have no catalog entry to check against.
  Diagnostics d5;
  EXPECT_TRUE(Csv("id,severity,action\na,x,escalate(reason=disk)\n", &d5, ctx)) << All(d5);
}

TEST(CsvTableTest, ParamColumnsAddToEveryActionOfTheRow) {
  Diagnostics d;
  auto t =
      Csv("id,severity,action,param.team,params.host\n"
          "a,x,page; notify(channel=ops),sre,{{labels.instance}}\n",
          &d);
  ASSERT_TRUE(t) << All(d);
  const auto& acts = t->rows[0].actions;
  ASSERT_EQ(acts.size(), 2u);
  ASSERT_EQ(acts[0].params.size(), 2u);
  EXPECT_EQ(acts[0].params[0].first, "team");
  EXPECT_EQ(acts[0].params[1].first, "host");
  EXPECT_EQ(acts[0].params[1].second.Render(MakeEvent()), "db1:9100");
  ASSERT_EQ(acts[1].params.size(), 3u);
  EXPECT_EQ(acts[1].params[0].first, "channel");
}

TEST(CsvTableTest, ParamOnIgnoreRowWarns) {
  Diagnostics d;
  auto t = Csv("id,severity,action,param.team\na,x,ignore,sre\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(t->rows[0].IsIgnore());
  EXPECT_TRUE(t->rows[0].actions[0].params.empty());
  EXPECT_DIAG_AT(d, "'ignore' takes no parameters; 'team' is unused", 2, 4);
  EXPECT_EQ(d.items()[0].severity, Severity::kWarning);
}

TEST(CsvTableTest, UnknownTemplateVariableInParamColumnPointsAtTheParamCell) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action,param.host\na,x,page,{{instance}}\n", &d));
  EXPECT_DIAG_AT(d, "unknown template variable '{{instance}}' in parameter 'host'", 2, 4);
  const Diagnostic* e = Find(d, "unknown template variable");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("write labels.instance"), std::string::npos) << e->message;
}

TEST(CsvTableTest, UnknownTemplateVariableInActionCellPointsAtTheActionCell) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,note,action\na,x,n,page(to={{teem}})\n", &d));
  EXPECT_DIAG_AT(d, "unknown template variable '{{teem}}' in parameter 'to'", 2, 4);
}

TEST(CsvTableTest, BareTemplateVariablesMayNameColumnsKnownLabelsOrRoots) {
  TableContext ctx;
  ctx.known_labels = {"team"};
  Diagnostics d;
  auto t =
      Csv("id,severity,action,param.text\n"
          "a,x,page(who={{team}}),{{severity}} {{message}} {{source}} {{labels.any}}\n",
          &d, ctx);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(CsvTableTest, BadTemplateInParamColumn) {
  Diagnostics d;
  EXPECT_FALSE(Csv("id,severity,action,param.host\na,x,page,{{labels.instance\n", &d));
  EXPECT_DIAG_AT(d, "bad template for 'host'", 2, 4);
}

// ---- YAML ----------------------------------------------------------------------------------

constexpr const char* kDiskYaml = R"yaml(table: disk_full
hit_policy: unique
description: Disk alerts
timezone: "+01:00"
rules:
  - id: disk-crit
    when: {alertname: NodeFilesystemFull, values.usage: ">= 90"}
    action: cleanup_logs(host={{labels.instance}})
    params: {path: /var/log}
    runbook: https://rb/disk
    description: critical disk
  - id: disk-warn
    when:
      alertname: NodeFilesystemFull
      values.usage: "[80,90)"
    action: [page(team=sre), notify]
    priority: 5
  - id: quiet
    when: {alertname: Watchdog}
    action: ignore
)yaml";

TEST(YamlTableTest, ReadsACompleteTable) {
  Diagnostics d;
  auto t = Yaml(kDiskYaml, &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(d.items().empty()) << All(d);
  EXPECT_EQ(t->name, "disk_full");
  EXPECT_EQ(t->hit_policy, HitPolicy::kUnique);
  EXPECT_EQ(t->description, "Disk alerts");
  EXPECT_EQ(t->tz_offset_min, 60);
  ASSERT_EQ(t->columns.size(), 2u);
  EXPECT_EQ(t->columns[0].field.text(), "alertname");
  EXPECT_EQ(t->columns[1].field.text(), "values.usage");
  EXPECT_EQ(t->columns[0].where.line, 7);
  ASSERT_EQ(t->rows.size(), 3u);
  const auto& crit = t->rows[0];
  EXPECT_EQ(crit.id, "disk-crit");
  EXPECT_EQ(crit.where.line, 6);
  EXPECT_EQ(crit.where.column, 5);
  EXPECT_EQ(crit.conditions[1].Describe(), ">= 90");
  EXPECT_EQ(crit.condition_where[1].line, 7);
  ASSERT_EQ(crit.actions.size(), 1u);
  ASSERT_EQ(crit.actions[0].params.size(), 2u);
  EXPECT_EQ(crit.actions[0].params[1].first, "path");
  EXPECT_EQ(crit.runbook, "https://rb/disk");
  EXPECT_EQ(crit.description, "critical disk");
  const auto& warn = t->rows[1];
  EXPECT_EQ(warn.condition_where[1].line, 15);
  EXPECT_EQ(warn.condition_where[1].column, 21);
  ASSERT_EQ(warn.actions.size(), 2u);
  EXPECT_EQ(warn.actions[0].name, "page");
  EXPECT_EQ(warn.actions[1].name, "notify");
  EXPECT_EQ(warn.priority, 5);
  EXPECT_TRUE(t->rows[2].IsIgnore());
  EXPECT_EQ(t->rows[2].conditions[1].op(), Op::kAny);
}

TEST(YamlTableTest, DeclaredColumns) {
  Diagnostics d;
  auto t = Yaml(
      "columns: [severity, alertname]\nrules:\n  - when: {alertname: X}\n"
      "    action: escalate\n",
      &d);
  ASSERT_TRUE(t) << All(d);
  ASSERT_EQ(t->columns.size(), 2u);
  EXPECT_EQ(t->columns[0].field.text(), "severity");
  EXPECT_EQ(t->name, "disk");
  EXPECT_EQ(t->rows[0].id, "r1");
  EXPECT_EQ(t->rows[0].conditions[0].op(), Op::kAny);
  EXPECT_EQ(t->rows[0].conditions[1].op(), Op::kEq);
}

TEST(YamlTableTest, ColumnsMustBeAList) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("columns: severity\nrules:\n  - action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "'columns' must be a list", 1, 10);
  Diagnostics d2;
  EXPECT_FALSE(Yaml("columns: [[a]]\nrules:\n  - action: escalate\n", &d2));
  EXPECT_DIAG_AT(d2, "a column is a field name", 1, 11);
}

TEST(YamlTableTest, WhenKeyNotInDeclaredColumns) {
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("columns: [severity]\nrules:\n  - when: {sevrity: x}\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "'sevrity' is not in 'columns'", 3, 12);
}

TEST(YamlTableTest, SyntaxErrorHasLineAndColumn) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("table: t\nrules:\n  - id: a\n    when: {x: [1, 2}\n", &d));
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 4) << All(d);
  EXPECT_GT(d.items()[0].column, 0);
  EXPECT_EQ(d.items()[0].message.rfind("YAML syntax: ", 0), 0u);
}

TEST(YamlTableTest, BadIndentationError) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("table: t\nrules:\n  - id: a\n   when: x\n", &d));
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 4) << All(d);
}

TEST(YamlTableTest, NotAMapping) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("- a\n- b\n", &d));
  EXPECT_DIAG_AT(d, "a YAML table is a mapping", 1, 1);
  Diagnostics d2;
  EXPECT_FALSE(Yaml("", &d2));
  EXPECT_DIAG_AT(d2, "a YAML table is a mapping", 1, 1);
}

TEST(YamlTableTest, RulesMustBeAList) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("table: t\n", &d));
  EXPECT_DIAG_AT(d, "'rules' must be a list", 1, 1);  // missing: the table's mapping
  Diagnostics d2;
  EXPECT_FALSE(Yaml("table: t\nrules:\n  a: b\n", &d2));
  EXPECT_DIAG_AT(d2, "'rules' must be a list", 3, 3);
}

TEST(YamlTableTest, UnknownTopLevelKeyWithSuggestion) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("table: t\nhit_polcy: first\nrules:\n  - action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "unknown key 'hit_polcy' (did you mean 'hit_policy'?)", 2, 1);
}

TEST(YamlTableTest, UnknownRuleKeyWithSuggestion) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - id: a\n    wehn: {x: 1}\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "unknown rule key 'wehn' (did you mean 'when'?)", 3, 5);
}

TEST(YamlTableTest, PropertyErrors) {
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("table: \"bad name\"\nhit_policy: sometimes\ntimezone: Mars\n"
           "rules:\n  - action: escalate\n",
           &d));
  EXPECT_DIAG_AT(d, "bad table name", 1, 8);
  EXPECT_DIAG_AT(d, "unknown hit policy 'sometimes'", 2, 13);
  EXPECT_DIAG_AT(d, "bad timezone 'Mars'", 3, 11);
}

TEST(YamlTableTest, CellErrorPointsAtTheValue) {
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("rules:\n  - id: a\n    when:\n      usage: \">= lots\"\n"
           "    action: escalate\n",
           &d));
  EXPECT_DIAG_AT(d, "'>=' needs a number", 4, 14);
}

TEST(YamlTableTest, TypeErrorPointsAtTheValue) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - when: {values.usage: prefix(9)}\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "type error: 'values.usage' holds numbers", 2, 26);
}

TEST(YamlTableTest, NonScalarCondition) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - when: {severity: [a, b]}\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "a condition is a single text cell", 2, 22);
}

TEST(YamlTableTest, RuleThatIsNotAMapping) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - just text\n  - action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "a rule is a mapping", 2, 5);
}

TEST(YamlTableTest, WhenAndParamsMustBeMappings) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - when: [a]\n    params: x\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "'when' maps columns to conditions", 2, 11);
  EXPECT_DIAG_AT(d, "'params' maps names to templates", 3, 13);
}

TEST(YamlTableTest, BadColumnName) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - when: {label.env: prod}\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "unknown column 'label.env'", 2, 12);
}

TEST(YamlTableTest, MissingActionPointsAtTheRule) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("rules:\n  - id: a\n    when: {x: 1}\n", &d));
  EXPECT_DIAG_AT(d, "row 'a' has no action", 2, 5);
}

TEST(YamlTableTest, ActionErrorsPointAtTheActionValue) {
  TableContext ctx;
  ctx.has_catalog = true;
  ctx.action_names = {"page"};
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("rules:\n  - id: a\n    action: [ignore, page]\n  - id: b\n"
           "    action: pgae\n",
           &d, ctx));
  EXPECT_DIAG_AT(d, "'ignore' cannot be combined", 3, 13);
  EXPECT_DIAG_AT(d, "unknown action 'pgae'", 5, 13);
}

TEST(YamlTableTest, UnknownTemplateVariableInParamsPointsAtTheParam) {
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("rules:\n  - id: a\n    action: page\n    params:\n      to: \"{{teem}}\"\n", &d));
  EXPECT_DIAG_AT(d, "unknown template variable '{{teem}}' in parameter 'to'", 5, 11);
}

TEST(YamlTableTest, DuplicateRowIds) {
  Diagnostics d;
  EXPECT_FALSE(
      Yaml("rules:\n  - id: a\n    action: escalate\n  - id: a\n    action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "duplicate row id 'a' (first used on line 2)", 4, 5);
}

TEST(YamlTableTest, PriorityPolicyNeedsPriorities) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("hit_policy: priority\nrules:\n  - action: escalate\n", &d));
  EXPECT_DIAG_AT(d, "needs a priority on the rules", 1, 0);
  Diagnostics d2;
  auto t = Yaml("hit_policy: p\nrules:\n  - action: escalate\n    priority: 3\n", &d2);
  ASSERT_TRUE(t) << All(d2);
  EXPECT_EQ(t->rows[0].priority, 3);
  Diagnostics d3;
  EXPECT_FALSE(Yaml("hit_policy: p\nrules:\n  - action: escalate\n    priority: high\n", &d3));
  EXPECT_DIAG_AT(d3, "priority must be a whole number", 4, 15);
}

TEST(YamlTableTest, InvalidUtf8) {
  Diagnostics d;
  EXPECT_FALSE(Yaml("table: caf\xE9\nrules: []\n", &d));
  EXPECT_DIAG_AT(d, "invalid UTF-8 (byte 0xe9)", 1, 11);
  // Columns count characters: two 2-byte characters before the bad byte on line 2.
  Diagnostics d2;
  EXPECT_FALSE(Yaml("table: t\ndescription: \xC3\xA9\xC3\xA9\xFF\n", &d2));
  EXPECT_DIAG_AT(d2, "invalid UTF-8", 2, 16);
}

TEST(YamlTableTest, EmptyRuleList) {
  Diagnostics d;
  auto t = Yaml("table: t\nrules: []\n", &d);
  ASSERT_TRUE(t) << All(d);
  EXPECT_TRUE(t->rows.empty());
}

}  // namespace
}  // namespace reflex::rules
