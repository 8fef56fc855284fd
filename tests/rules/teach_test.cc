// Tests of teaching (rules/teach.h): the draft a sample event gets, the exact-value cells,
// the CSV line, and the check of a row against the directory it would join, over an
// in-memory rules directory (OverlaySource over MemorySource).
#include "reflex/rules/teach.h"

#include <gtest/gtest.h>

#include <string>

#include "reflex/rules/cell.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/loader.h"

namespace reflex::rules {
namespace {

constexpr int64_t kNow = 1767225600000;  // 2026-01-01

constexpr const char* kDisk =
    "table,disk\n"
    "hit_policy,first\n"
    "id,alertname,labels.service,values.usage,action,param.host,description\n"
    "disk-web,DiskFull,web,>= 90,cleanup(path=/var/log),{{labels.instance}},web disks\n"
    "disk-db,DiskFull,db,>= 90,cleanup(path=/srv),{{labels.instance}},\n";

constexpr const char* kDiskCases =
    "case,expect_verdict,expect_row,alertname,labels.service,values.usage\n"
    "web,known,disk-web,DiskFull,web,95\n";

constexpr const char* kActions = "actions:\n  cleanup: {kind: webhook, params: [path, host]}\n";

constexpr const char* kMail =
    R"({"id":"e1","labels":{"alertname":"DiskFull","service":"mail","instance":"m1"},)"
    R"("values":{"usage":93}})";

MemorySource Dir() {
  MemorySource fs;
  fs.Put("rules/actions.yaml", kActions);
  fs.Put("rules/tables/disk.csv", kDisk);
  fs.Put("rules/tables/disk.cases.csv", kDiskCases);
  fs.Put("rules/tables/noise.yaml",
         "table: noise\nrules:\n  - id: wd\n    when: {alertname: Watchdog}\n    action: ignore\n");
  return fs;
}

TEST(TeachTest, ExactCellsMatchTheValueAndNothingElse) {
  for (const std::string v :
       {"web", "in(a,b)", ">= 90", "db-*", "\"quoted\"", "a,b", "missing", " padded", "", "x\"y"}) {
    const std::string cell = ExactCell(v);
    CellResult r = ParseCondition(cell);
    ASSERT_TRUE(r.ok) << v << " -> " << cell << ": " << r.error.message;
    EXPECT_EQ(r.condition.Describe(), engine::Condition::Equals(v).Describe())
        << v << " -> " << cell;
  }
  EXPECT_EQ(ExactCell("web"), "web");  // plain values stay plain (diff-friendly)
  EXPECT_EQ(ExactCell("in(a,b)"), "\"in(a,b)\"");
}

TEST(TeachTest, CsvLineQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvLine({"a", "b c", "x,y", "say \"hi\"", " pad", ""}),
            "a,b c,\"x,y\",\"say \"\"hi\"\"\",\" pad\",");
  // What it writes reads back as the same cells.
  Diagnostics d;
  auto recs = ReadCsv(CsvLine({"in(a,b)", "\"x\"", "p"}) + "\n", "t.csv", &d);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].at(0), "in(a,b)");
  EXPECT_EQ(recs[0].at(1), "\"x\"");
}

TEST(TeachTest, DraftPrefillsTheColumnsTheNearestRowsUseFromTheEvent) {
  MemorySource fs = Dir();
  auto d = DraftTeachRow(fs, "rules", kMail, "", "taught from escalation 3", kNow);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->table, "disk");
  EXPECT_EQ(d->file, "rules/tables/disk.csv");
  EXPECT_EQ(d->nearest_row, "disk-web");
  EXPECT_EQ(d->tables, std::vector<std::string>{"disk"});  // noise.yaml is not taught
  ASSERT_EQ(d->columns.size(), 7u);
  EXPECT_EQ(d->columns[2].header, "labels.service");
  EXPECT_EQ(d->columns[2].observed, "mail");
  EXPECT_TRUE(d->columns[2].prefilled);
  EXPECT_EQ(d->columns[2].nearest, "web");
  EXPECT_EQ(d->cells, (std::vector<std::string>{"diskfull", "DiskFull", "mail", "93",
                                                "cleanup(path=/var/log)", "{{labels.instance}}",
                                                "taught from escalation 3"}));
  ASSERT_TRUE(d->has_catalog);
  EXPECT_EQ(d->catalog.at("cleanup"), (std::set<std::string>{"host", "path"}));
}

TEST(TeachTest, DraftLeavesUnusedColumnsBlankAndWritesMissingForAbsentFields) {
  MemorySource fs = Dir();
  fs.Put("rules/tables/disk.csv",
         "id,alertname,labels.service,labels.team,action\n"
         "a,DiskFull,web,,escalate\n");
  fs.Remove("rules/tables/disk.cases.csv");
  auto d =
      DraftTeachRow(fs, "rules", R"({"labels":{"alertname":"DiskFull","team":"x"}})", "", "", kNow);
  ASSERT_TRUE(d.ok()) << d.status().message();
  // service is used by the nearest row and absent from the event; team is used by no row.
  EXPECT_EQ(d->cells[2], "missing");
  EXPECT_TRUE(d->columns[2].missing);
  EXPECT_EQ(d->cells[3], "");
  EXPECT_FALSE(d->columns[3].prefilled);
  EXPECT_EQ(d->cells[0], "diskfull");
}

TEST(TeachTest, DraftRefusesAYamlTableAndABadEvent) {
  MemorySource fs = Dir();
  auto yaml = DraftTeachRow(fs, "rules", kMail, "noise", "", kNow);
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.status().message().find("only CSV tables"), std::string::npos);
  auto unknown = DraftTeachRow(fs, "rules", kMail, "nope", "", kNow);
  EXPECT_EQ(unknown.status().code(), engine::StatusCode::kInvalidArgument);
  auto bad = DraftTeachRow(fs, "rules", "{not json", "", "", kNow);
  EXPECT_EQ(bad.status().code(), engine::StatusCode::kInvalidArgument);
  MemorySource broken = Dir();
  broken.Put("rules/tables/disk.csv", "id,alertname,action\na,X,frob(\n");
  auto b = DraftTeachRow(broken, "rules", kMail, "", "", kNow);
  EXPECT_EQ(b.status().code(), engine::StatusCode::kFailedPrecondition);
}

TEST(TeachTest, CheckPassesARowThatDecidesTheSampleAndBuildsBothFiles) {
  MemorySource fs = Dir();
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok());
  d->cells[0] = "disk-mail";
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail}, "taught from escalation 3", kNow);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->ok) << (c->problems.empty() ? "" : c->problems[0]);
  EXPECT_EQ(c->line, 6);
  EXPECT_EQ(c->csv_line, "disk-mail,DiskFull,mail,93,cleanup(path=/var/log),{{labels.instance}},");
  EXPECT_EQ(c->table_text, std::string(kDisk) + c->csv_line + "\n");
  EXPECT_EQ(c->cases_file, "rules/tables/disk.cases.jsonl");
  EXPECT_FALSE(c->cases_file_existed);
  EXPECT_NE(c->cases_text.find(R"("expect":{"verdict":"known","table":"disk","row":"disk-mail"})"),
            std::string::npos)
      << c->cases_text;
  ASSERT_EQ(c->samples.size(), 1u);
  EXPECT_TRUE(c->samples[0].by_row);
  EXPECT_EQ(c->samples[0].event_id, "e1");
  // The old case and the new one both pass.
  EXPECT_EQ(c->cases_passed, 2u);
  EXPECT_EQ(c->cases_failed, 0u);
  // The written files, loaded, decide the event as known by the row.
  fs.Put(c->table_file, c->table_text);
  fs.Put(c->cases_file, c->cases_text);
  LoadedRules lr = LoadRules(fs, "rules");
  ASSERT_FALSE(lr.diags.has_errors());
  EXPECT_EQ(lr.version, c->version);
}

TEST(TeachTest, CheckKeepsTheFilesLineEndingAndAddsAMissingFinalNewline) {
  MemorySource fs = Dir();
  std::string crlf = kDisk;
  for (size_t p = 0; (p = crlf.find('\n', p)) != std::string::npos; p += 2) crlf.insert(p, "\r");
  crlf.pop_back();
  crlf.pop_back();  // no final line break
  fs.Put("rules/tables/disk.csv", crlf);
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok()) << d.status().message();
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail}, "t", kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok) << (c->problems.empty() ? "" : c->problems[0]);
  EXPECT_EQ(c->table_text, crlf + "\r\n" + c->csv_line + "\r\n");
  EXPECT_EQ(c->line, 6);
}

TEST(TeachTest, CheckReportsARowThatDoesNotDecideTheSample) {
  MemorySource fs = Dir();
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok());
  d->cells[2] = "smtp";  // does not match the sample any more
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail}, "t", kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->ok);
  ASSERT_FALSE(c->problems.empty());
  EXPECT_NE(c->problems[0].find("test case failure"), std::string::npos) << c->problems[0];
  EXPECT_FALSE(c->samples.at(0).by_row);
  EXPECT_EQ(c->samples[0].verdict, engine::Verdict::kUnknown);
  EXPECT_EQ(c->cases_failed, 1u);
}

// A group's earlier samples share its shape but may differ elsewhere: only the last one
// (the event taught) must be decided by the row; the others are reported as notes.
TEST(TeachTest, OnlyTheLastSampleMustBeDecidedByTheRow) {
  MemorySource fs = Dir();
  const std::string older =
      R"({"id":"e0","labels":{"alertname":"DiskFull","service":"ftp"},"values":{"usage":93}})";
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok());
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {older, kMail}, "t", kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok) << (c->problems.empty() ? "" : c->problems[0]);
  ASSERT_EQ(c->notes.size(), 1u);
  EXPECT_NE(c->notes[0].find("sample 1 (e0) is unknown"), std::string::npos) << c->notes[0];
  // The other way round, the event taught is not decided: a problem.
  auto r = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail, older}, "t", kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
}

TEST(TeachTest, CheckReportsABadCellWithItsPositionAndADuplicateId) {
  MemorySource fs = Dir();
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok());
  d->cells[0] = "disk-web";  // taken
  d->cells[3] = "frob(1)";
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail}, "t", kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->ok);
  bool cell = false, dup = false;
  for (const Diagnostic& x : c->diagnostics) {
    if (x.file == "rules/tables/disk.csv" && x.line == 6 && x.column == 4) cell = true;
    if (x.message.find("disk-web") != std::string::npos) dup = true;
  }
  EXPECT_TRUE(cell);
  EXPECT_TRUE(dup);
}

TEST(TeachTest, CheckReportsANewRowThatAnEarlierRowShadows) {
  MemorySource fs = Dir();
  auto d = DraftTeachRow(fs, "rules", kMail, "", "", kNow);
  ASSERT_TRUE(d.ok());
  // Every event this row matches, disk-web (line 4) matches first: it can never fire.
  d->cells[0] = "web-high";
  d->cells[2] = "web";
  d->cells[3] = ">= 95";
  auto c = CheckTeachRow(fs, "rules", "disk", d->cells, {kMail}, "t", kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->ok);
  bool shadowed = false;
  for (const Diagnostic& x : c->diagnostics) {
    if (x.line == 6 && x.message.find("disk-web") != std::string::npos) shadowed = true;
  }
  EXPECT_TRUE(shadowed) << "no diagnostic at the new row names the row that shadows it";
}

TEST(TeachTest, CheckRejectsCellsThatDoNotFitTheHeader) {
  MemorySource fs = Dir();
  auto few = CheckTeachRow(fs, "rules", "disk", {"a", "b"}, {kMail}, "t", kNow);
  EXPECT_EQ(few.status().code(), engine::StatusCode::kInvalidArgument);
  std::vector<std::string> cells(7, "x");
  cells[1] = "two\nlines";
  auto nl = CheckTeachRow(fs, "rules", "disk", cells, {kMail}, "t", kNow);
  EXPECT_EQ(nl.status().code(), engine::StatusCode::kInvalidArgument);
  auto yaml = CheckTeachRow(fs, "rules", "noise", cells, {kMail}, "t", kNow);
  EXPECT_EQ(yaml.status().code(), engine::StatusCode::kInvalidArgument);
}

TEST(TeachTest, OverlaySourceAddsAndReplacesFiles) {
  MemorySource base;
  base.Put("d/a.csv", "1");
  base.Put("d/b.csv", "2");
  OverlaySource over(base);
  over.Put("d/b.csv", "two");
  over.Put("d/c.csv", "3");
  over.Put("e/x", "4");
  EXPECT_EQ(*over.Read("d/a.csv"), "1");
  EXPECT_EQ(*over.Read("d/b.csv"), "two");
  EXPECT_EQ(over.List("d"), (std::vector<std::string>{"a.csv", "b.csv", "c.csv"}));
  EXPECT_TRUE(over.IsDirectory("e"));
  EXPECT_TRUE(over.Exists("d/c.csv"));
  EXPECT_FALSE(over.Exists("d/z.csv"));
  EXPECT_EQ(*base.Read("d/b.csv"), "2");
}

}  // namespace
}  // namespace reflex::rules
