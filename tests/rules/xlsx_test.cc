// Tests of decision tables read from .xlsx workbooks (rules/xlsx.h, ReadXlsxTables): the same
// table as from CSV, every cell type, sparse cells and rows, several sheets, positions as
// `file.xlsx:Sheet!C7`, damaged and hostile workbooks, and the loader. The workbooks are
// built in the test by xlsx_writer.h.
#include "reflex/rules/xlsx.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "diag_test_util.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"
#include "reflex/rules/table_reader.h"
#include "reflex/rules/test_cases.h"
#include "xlsx_writer.h"

namespace reflex::rules {
namespace {

using test::InlineRows;
using test::SharedRows;
using test::XlsxWriter;
using test_util::All;
using test_util::Find;
using Rows = std::vector<std::vector<std::string>>;

// Every feature of the CSV layout: properties, a comment row, a blank row, quoted cells with
// commas and quotes, a parameter column, priorities, runbooks. No cell spans lines, so CSV
// line N is sheet row N.
constexpr const char* kDiskCsv =
    "table,disk\n"
    "hit_policy,priority\n"
    "description,\"Disk alerts, from node-exporter\"\n"
    "timezone,+09:00\n"
    "# a comment row\n"
    "id,alertname,mountpoint,values.usage,action,param.host,priority,runbook,description\n"
    "disk-tmp,NodeFilesystemFull,\"prefix(/tmp,/var/tmp)\",>= 80,"
    "\"clean_tmp(path={{labels.mountpoint}}, note=\"\"a, b\"\")\",{{labels.instance}},90,"
    "https://runbooks.example.com/disk#tmp,Clear old files\n"
    "\n"
    "disk-crit,NodeFilesystemFull,,>= 95,expand_volume(grow_by=10%),{{labels.instance}},80,,\n"
    "disk-warn,NodeFilesystemFull,,\"[80,95)\",open_ticket(queue=infra),,10,,\n"
    ",Watchdog,,,ignore,,0,,\n";

// The cells of CSV text, row N of the result being line N (ReadCsv: the production reader).
Rows CsvCells(const std::string& csv) {
  Diagnostics d;
  std::vector<CsvRecord> recs = ReadCsv(csv, "x.csv", &d);
  EXPECT_FALSE(d.has_errors()) << All(d);
  Rows rows;
  for (const CsvRecord& r : recs) {
    rows.resize(static_cast<size_t>(r.line));
    for (const CsvCell& c : r.cells) rows.back().push_back(c.text);
  }
  return rows;
}

// Everything a table says, positions included (not the file), one line per item.
std::string Render(const engine::TableSpec& t) {
  std::ostringstream o;
  o << "table " << t.name << " policy=" << engine::HitPolicyName(t.hit_policy)
    << " tz=" << t.tz_offset_min << " desc=" << t.description << " named@" << t.name_where.line
    << ":" << t.name_where.column << "\n";
  for (const auto& c : t.columns) {
    o << "column " << c.field.text() << " @" << c.where.line << ":" << c.where.column << "\n";
  }
  for (const auto& r : t.rows) {
    o << "row " << r.id << " @" << r.where.line << ":" << r.where.column << " priority "
      << r.priority << " runbook=" << r.runbook << " desc=" << r.description << "\n";
    for (size_t i = 0; i < r.conditions.size(); ++i) {
      o << "  when " << r.conditions[i].Describe() << " @" << r.condition_where[i].line << ":"
        << r.condition_where[i].column << "\n";
    }
    for (const auto& a : r.actions) {
      o << "  do " << a.name;
      for (const auto& p : a.params) o << " " << p.first << "=" << p.second.source();
      o << "\n";
    }
  }
  return o.str();
}

engine::Event DiskEvent(const std::string& alertname, const std::string& mount, double usage) {
  engine::Event ev;
  ev.SetLabel("alertname", alertname);
  ev.SetLabel("mountpoint", mount);
  ev.SetLabel("instance", "host1");
  ev.SetValue("usage", usage);
  return ev;
}

std::vector<engine::TableSpec> ReadBook(const std::string& bytes, const std::string& file,
                                        Diagnostics* d) {
  return ReadXlsxTables(bytes, file, TableContext{}, d);
}

// A one-sheet workbook of plain text rows (inline strings).
std::string Book(const Rows& rows, const std::string& sheet = "Sheet1") {
  return XlsxWriter().AddSheet(sheet, InlineRows(rows)).Build();
}

// ---- the same table as CSV ---------------------------------------------------------------

TEST(XlsxTest, TableEqualsTheSameTableReadFromCsv) {
  Diagnostics csv_diags;
  std::optional<engine::TableSpec> from_csv =
      ReadCsvTable(kDiskCsv, "tables/disk.csv", TableContext{}, &csv_diags);
  ASSERT_TRUE(from_csv.has_value()) << All(csv_diags);

  // Once with shared strings (as Excel saves), once with inline strings (as some writers do).
  std::vector<std::string> shared;
  const std::string rows_xml = SharedRows(CsvCells(kDiskCsv), &shared);
  const std::string shared_book =
      XlsxWriter().AddSheet("Sheet1", rows_xml).SetSharedStrings(shared).Build();
  const std::string inline_book = Book(CsvCells(kDiskCsv));
  for (const std::string* bytes : {&shared_book, &inline_book}) {
    Diagnostics d;
    std::vector<engine::TableSpec> tables = ReadBook(*bytes, "tables/disk.xlsx", &d);
    ASSERT_EQ(tables.size(), 1u) << All(d);
    EXPECT_TRUE(d.empty()) << All(d);
    EXPECT_EQ(Render(tables[0]), Render(*from_csv));
    EXPECT_EQ(tables[0].file, "tables/disk.xlsx:Sheet1");
    EXPECT_EQ(tables[0].rows[0].where.file, "tables/disk.xlsx:Sheet1");

    // And it decides every event the same way.
    auto a = engine::CompiledRuleSet::Create({*from_csv}, {}, "csv");
    auto b = engine::CompiledRuleSet::Create({tables[0]}, {}, "xlsx");
    ASSERT_TRUE(a.ok() && b.ok());
    engine::MatchScratch scratch;
    for (const engine::Event& ev :
         {DiskEvent("NodeFilesystemFull", "/tmp", 85), DiskEvent("NodeFilesystemFull", "/", 97),
          DiskEvent("NodeFilesystemFull", "/", 85), DiskEvent("Watchdog", "/", 0),
          DiskEvent("Other", "/", 99)}) {
      engine::MatchResult ra, rb;
      (*a)->Match(ev, &scratch, &ra);
      (*b)->Match(ev, &scratch, &rb);
      EXPECT_EQ(ra.verdict, rb.verdict);
      EXPECT_EQ(ra.matches, rb.matches);
    }
  }
}

// ---- cell types ------------------------------------------------------------------------------

// The text of each cell of row 1 of the one sheet of `bytes`, by column (1-based; [0] unused).
std::vector<std::string> RowTexts(const std::string& bytes, Diagnostics* d) {
  std::vector<XlsxSheet> sheets = ReadXlsx(bytes, "t.xlsx", d);
  if (sheets.size() != 1 || sheets[0].records.empty()) return {};
  std::vector<std::string> out{""};
  for (const CsvCell& c : sheets[0].records[0].cells) out.push_back(c.text);
  return out;
}

TEST(XlsxTest, SharedStringsIncludingRichTextRuns) {
  const std::string bytes =
      XlsxWriter()
          .AddSheet("Sheet1",
                    R"(<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>)"
                    R"(<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>0</v></c></row>)")
          .SetSharedStrings({"<t>plain</t>",
                             // rich text: runs joined, the run properties ignored
                             "<r><rPr><b/></rPr><t>Node</t></r><r><t xml:space=\"preserve\">"
                             "Filesystem Full</t></r>",
                             // a phonetic reading (<rPh>) is not part of the text
                             "<t>障害</t><rPh sb=\"0\" eb=\"2\"><t>ショウガイ</t></rPh>"})
          .Build();
  Diagnostics d;
  EXPECT_EQ(RowTexts(bytes, &d),
            (std::vector<std::string>{"", "plain", "NodeFilesystem Full", "障害", "plain"}))
      << All(d);
  EXPECT_TRUE(d.empty()) << All(d);
}

TEST(XlsxTest, InlineStringsFormulaTextBooleansAndNumbers) {
  const std::string bytes =
      XlsxWriter()
          .AddSheet(
              "Sheet1",
              R"(<row r="1">)"
              R"(<c r="A1" t="inlineStr"><is><t>inline</t></is></c>)"
              R"(<c r="B1" t="inlineStr"><is><r><t>in</t></r><r><t>line runs</t></r></is></c>)"
              R"(<c r="C1" t="str"><f>CONCAT("a","b")</f><v>ab</v></c>)"
              R"(<c r="D1" t="b"><v>1</v></c><c r="E1" t="b"><v>0</v></c>)"
              R"(<c r="F1"><v>90</v></c>)"          // a whole number
              R"(<c r="G1" t="n"><v>90.0</v></c>)"  // written with a fraction
              R"(<c r="H1"><v>1E3</v></c>)"         // an exponent
              R"(<c r="I1"><v>95.5</v></c>)"        // kept as stored
              R"(<c r="J1"><v>0.30000000000000004</v></c>)"
              R"(<c r="K1"><v>-7</v></c>)"
              R"(<c r="L1"><v>1.5E-3</v></c>)"
              R"(<c r="M1" t="inlineStr"><is><t>a_x000A_b</t></is></c>)"  // Excel escape
              R"(<c r="N1" t="inlineStr"><is><t>&gt;= 90</t></is></c>)"
              R"(</row>)")
          .Build();
  Diagnostics d;
  EXPECT_EQ(RowTexts(bytes, &d),
            (std::vector<std::string>{"", "inline", "inline runs", "ab", "TRUE", "FALSE", "90",
                                      "90", "1000", "95.5", "0.30000000000000004", "-7", "1.5E-3",
                                      "a\nb", ">= 90"}))
      << All(d);
  EXPECT_TRUE(d.empty()) << All(d);
}

TEST(XlsxTest, NumbersReachConditionsAsText) {
  // A number cell in a condition column is read like the same text in a CSV cell.
  const std::string bytes =
      XlsxWriter()
          .AddSheet("Sheet1", InlineRows({{"table", "nums"}, {"id", "values.usage", "action"}}) +
                                  R"(<row r="3"><c r="A3" t="inlineStr"><is><t>r1</t></is></c>)"
                                  R"(<c r="B3"><v>90.0</v></c>)"
                                  R"(<c r="C3" t="inlineStr"><is><t>ignore</t></is></c></row>)")
          .Build();
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(bytes, "tables/nums.xlsx", &d);
  ASSERT_EQ(tables.size(), 1u) << All(d);
  ASSERT_EQ(tables[0].rows.size(), 1u);
  Diagnostics cd;
  auto csv = ReadCsvTable("table,nums\nid,values.usage,action\nr1,90,ignore\n", "nums.csv",
                          TableContext{}, &cd);
  ASSERT_TRUE(csv.has_value()) << All(cd);
  EXPECT_EQ(tables[0].rows[0].conditions[0].Describe(), csv->rows[0].conditions[0].Describe());
}

// ---- sparse cells and rows ---------------------------------------------------------------

TEST(XlsxTest, SkippedCellsAreEmptyAndSkippedRowsKeepTheirNumbers) {
  // Row 1: A1 and C1 (no B1); rows 2-4 absent; row 5: D5 only. Row 7 has cells without `r`
  // (placed after the previous one) and an empty styled cell past the last value.
  const std::string bytes =
      XlsxWriter()
          .AddSheet("Sheet1",
                    R"(<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>)"
                    R"(<c r="C1" t="inlineStr"><is><t>c</t></is></c></row>)"
                    R"(<row r="5"><c r="D5"><v>4</v></c></row>)"
                    R"(<row r="7"><c r="B7"><v>1</v></c><c><v>2</v></c><c r="H7" s="3"/></row>)")
          .Build();
  Diagnostics d;
  std::vector<XlsxSheet> sheets = ReadXlsx(bytes, "t.xlsx", &d);
  ASSERT_EQ(sheets.size(), 1u) << All(d);
  const std::vector<CsvRecord>& recs = sheets[0].records;
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].line, 1);
  ASSERT_EQ(recs[0].cells.size(), 3u);
  EXPECT_EQ(recs[0].at(0), "a");
  EXPECT_EQ(recs[0].at(1), "");
  EXPECT_EQ(recs[0].cells[1].column, 2);
  EXPECT_EQ(recs[0].at(2), "c");
  EXPECT_EQ(recs[1].line, 5);
  ASSERT_EQ(recs[1].cells.size(), 4u);
  EXPECT_EQ(recs[1].at(3), "4");
  EXPECT_EQ(recs[1].cells[3].column, 4);
  EXPECT_EQ(recs[2].line, 7);
  ASSERT_EQ(recs[2].cells.size(), 3u) << "the empty H7 adds no cells";
  EXPECT_EQ(recs[2].at(1), "1");
  EXPECT_EQ(recs[2].at(2), "2");
}

TEST(XlsxTest, SparseSheetMakesTheSameTableAsItsCsv) {
  // Blank condition cells left out of the sheet, and a gap of rows between header and data.
  const std::string csv =
      "table,sparse\n"
      "id,alertname,severity,action\n"
      "\n"
      "\n"
      "r1,,critical,escalate\n"
      "r2,Disk,,ignore\n";
  Diagnostics cd;
  auto from_csv = ReadCsvTable(csv, "tables/sparse.csv", TableContext{}, &cd);
  ASSERT_TRUE(from_csv.has_value()) << All(cd);
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(Book(CsvCells(csv)), "tables/sparse.xlsx", &d);
  ASSERT_EQ(tables.size(), 1u) << All(d);
  EXPECT_EQ(Render(tables[0]), Render(*from_csv));
  EXPECT_EQ(tables[0].rows[0].where.line, 5);
}

// ---- sheets and table names ------------------------------------------------------------------

const Rows kNoise = {{"id", "alertname", "action"}, {"w", "Watchdog", "ignore"}};
const Rows kPage = {{"id", "severity", "action"}, {"p", "critical", "escalate"}};

TEST(XlsxTest, OneTablePerSheetNamedStemDotSheet) {
  const std::string bytes = XlsxWriter()
                                .AddSheet("Noise", InlineRows(kNoise))
                                .AddSheet("Paging rules", InlineRows(kPage))
                                .Build();
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(bytes, "tables/ops.xlsx", &d);
  ASSERT_EQ(tables.size(), 2u) << All(d);
  EXPECT_TRUE(d.empty()) << All(d);
  EXPECT_EQ(tables[0].name, "ops.Noise");
  EXPECT_EQ(tables[0].file, "tables/ops.xlsx:Noise");
  EXPECT_EQ(tables[1].name, "ops.Paging_rules") << "a space cannot be in a table name";
  EXPECT_EQ(tables[1].file, "tables/ops.xlsx:Paging rules");
  EXPECT_EQ(tables[1].rows[0].id, "p");
}

TEST(XlsxTest, OneTableSheetIsNamedAfterTheFileAndATableRowWins) {
  // Hidden sheets, `_` sheets and empty sheets are not tables, so one table sheet is left.
  const std::string bytes = XlsxWriter()
                                .AddSheet("_lists", InlineRows({{"critical"}, {"warning"}}))
                                .AddSheet("Rules", InlineRows(kNoise))
                                .AddSheet("Old", InlineRows(kPage), "hidden")
                                .AddSheet("Older", InlineRows(kPage), "veryHidden")
                                .AddSheet("Sheet3", "")
                                .Build();
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(bytes, "tables/noise.xlsx", &d);
  ASSERT_EQ(tables.size(), 1u) << All(d);
  EXPECT_TRUE(d.empty()) << All(d);
  EXPECT_EQ(tables[0].name, "noise");
  EXPECT_EQ(tables[0].file, "tables/noise.xlsx:Rules");

  Rows named = kNoise;
  named.insert(named.begin(), std::vector<std::string>{"table", "watchdogs"});
  Diagnostics d2;
  tables = ReadBook(
      XlsxWriter().AddSheet("A", InlineRows(named)).AddSheet("B", InlineRows(kPage)).Build(),
      "tables/noise.xlsx", &d2);
  ASSERT_EQ(tables.size(), 2u) << All(d2);
  EXPECT_EQ(tables[0].name, "watchdogs");
  EXPECT_EQ(PositionText(tables[0].name_where.file, tables[0].name_where.line,
                         tables[0].name_where.column),
            "tables/noise.xlsx:A!B1");
  EXPECT_EQ(tables[1].name, "noise.B");
}

TEST(XlsxTest, ASheetWithAnErrorDoesNotStopTheOthers) {
  const std::string bytes =
      XlsxWriter()
          .AddSheet("Bad", InlineRows({{"id", "alertname", "action"}, {"x", "frob(1)", "ignore"}}))
          .AddSheet("Good", InlineRows(kNoise))
          .Build();
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(bytes, "tables/two.xlsx", &d);
  ASSERT_EQ(tables.size(), 1u) << All(d);
  EXPECT_EQ(tables[0].name, "two.Good");
  EXPECT_DIAG_IN(d, "unknown operator 'frob'", "tables/two.xlsx:Bad", 2, 2);
}

// ---- positions ---------------------------------------------------------------------------

TEST(XlsxTest, BadCellIsReportedAsFileSheetAndCell) {
  // The bad condition is C7: six rows above it (properties, a blank row, the header, a row).
  const Rows rows = {{"table", "disk"},
                     {"hit_policy", "first"},
                     {},
                     {"id", "alertname", "severity", "action"},
                     {"ok", "Disk", "critical", "ignore"},
                     {"ok2", "Disk", "warning", "escalate"},
                     {"bad", "Disk", "frob(1)", "ignore"}};
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(Book(rows), "tables/disk.xlsx", &d);
  EXPECT_TRUE(tables.empty());
  const Diagnostic* bad = Find(d, "unknown operator 'frob'");
  ASSERT_NE(bad, nullptr) << All(d);
  EXPECT_EQ(bad->ToString().rfind("tables/disk.xlsx:Sheet1!C7: error: unknown operator 'frob'", 0),
            0u)
      << bad->ToString();
  EXPECT_EQ(bad->ToString().find("(cell"), std::string::npos) << "the reference says it already";
}

TEST(XlsxTest, EveryCellErrorNamesTheSheetAndCell) {
  // Header problems, an action error, a value without a header, a bad priority: the same
  // checks as CSV, each at its cell of the sheet.
  const Rows rows = {{"table", "t"},
                     {"hit_policy", "priority"},
                     {"id", "alertname", "acton", "action", "priority"},
                     {"r1", "X", "", "nosuch(", "x1", "", "stray"}};
  Diagnostics d;
  std::vector<engine::TableSpec> tables = ReadBook(Book(rows, "Rules"), "tables/t.xlsx", &d);
  EXPECT_TRUE(tables.empty());
  std::string all;
  for (const Diagnostic& x : d.Sorted()) all += x.ToString() + "\n";
  EXPECT_NE(all.find("tables/t.xlsx:Rules!C3: error: unknown column 'acton' (did you mean "
                     "'action'?)"),
            std::string::npos)
      << all;

  const Rows data_rows = {{"id", "alertname", "action", "priority"},
                          {"r1", "X", "nosuch(", "x1", "", "stray"}};
  Diagnostics d2;
  ReadBook(Book(data_rows, "Rules"), "tables/t.xlsx", &d2);
  std::string all2;
  for (const Diagnostic& x : d2.Sorted()) all2 += x.ToString() + "\n";
  EXPECT_NE(all2.find("tables/t.xlsx:Rules!C2: error: missing ')' after the parameters"),
            std::string::npos)
      << all2;
  EXPECT_NE(all2.find("tables/t.xlsx:Rules!D2: error: priority must be a whole number, got 'x1'"),
            std::string::npos)
      << all2;
  EXPECT_NE(all2.find("tables/t.xlsx:Rules!F2: error: value in a column without a header"),
            std::string::npos)
      << all2;
}

TEST(XlsxTest, ErrorCellIsReportedAtItsCell) {
  const std::string bytes =
      XlsxWriter()
          .AddSheet("Sheet1", InlineRows({{"id", "alertname", "values.usage", "action"}}) +
                                  R"(<row r="2"><c r="A2" t="inlineStr"><is><t>r</t></is></c>)"
                                  R"(<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>)")
          .Build();
  Diagnostics d;
  EXPECT_TRUE(ReadBook(bytes, "tables/e.xlsx", &d).empty());
  const Diagnostic* e = Find(d, "Excel error");
  ASSERT_NE(e, nullptr) << All(d);
  EXPECT_EQ(e->ToString().rfind("tables/e.xlsx:Sheet1!C2: error: the cell holds the Excel error "
                                "#DIV/0!",
                                0),
            0u)
      << e->ToString();
}

TEST(XlsxTest, PositionTextForSheets) {
  EXPECT_EQ(SheetFile("tables/disk.xlsx", "Sheet1"), "tables/disk.xlsx:Sheet1");
  EXPECT_EQ(PositionText("tables/disk.xlsx:Sheet1", 7, 3), "tables/disk.xlsx:Sheet1!C7");
  EXPECT_EQ(PositionText("tables/disk.xlsx:Sheet1", 7, 0), "tables/disk.xlsx:Sheet1!7:7");
  EXPECT_EQ(PositionText("tables/disk.xlsx:Sheet1", 0, 0), "tables/disk.xlsx:Sheet1");
  EXPECT_EQ(PositionText("tables/disk.xlsx", 0, 0), "tables/disk.xlsx");
  EXPECT_EQ(PositionText("tables/disk.csv", 7, 3), "tables/disk.csv:7:3");
  std::string book, sheet;
  ASSERT_TRUE(SplitSheetFile("a.xlsx:d/b.xlsx:My Sheet", &book, &sheet));
  EXPECT_EQ(book, "a.xlsx:d/b.xlsx");
  EXPECT_EQ(sheet, "My Sheet");
  EXPECT_FALSE(SplitSheetFile("tables/disk.csv", &book, &sheet));
  Diagnostic w{Severity::kWarning, "t.xlsx:S", 4, 1, "row 'b' can never fire", ""};
  EXPECT_EQ(w.ToString(), "t.xlsx:S!A4: warning: row 'b' can never fire");
}

// ---- damaged and hostile workbooks -------------------------------------------------------

// A little-endian 16-bit field of a zip header.
size_t U16(const std::string& zip, size_t at) {
  return static_cast<unsigned char>(zip[at]) |
         static_cast<size_t>(static_cast<unsigned char>(zip[at + 1])) << 8;
}

std::vector<size_t> Headers(const std::string& zip, const std::string& name, bool central);
size_t DataOffset(const std::string& zip, const std::string& name);

// The one error of `d`, as text.
std::string OnlyError(const Diagnostics& d) {
  EXPECT_EQ(d.error_count(), 1u) << All(d);
  for (const Diagnostic& x : d.items()) {
    if (x.severity == Severity::kError) return x.ToString();
  }
  return "";
}

TEST(XlsxTest, NotAZipIsAClearErrorNamingTheFile) {
  Diagnostics d;
  EXPECT_TRUE(ReadBook("id,action\nr1,ignore\n", "tables/fake.xlsx", &d).empty());
  EXPECT_EQ(OnlyError(d).rfind("tables/fake.xlsx: error: not an .xlsx workbook (", 0), 0u)
      << All(d);

  Diagnostics empty;
  EXPECT_TRUE(ReadBook("", "tables/empty.xlsx", &empty).empty());
  EXPECT_EQ(
      OnlyError(empty).rfind("tables/empty.xlsx: error: not an .xlsx workbook (empty file)", 0), 0u)
      << All(empty);
}

TEST(XlsxTest, TruncatedOrDamagedZipIsAnErrorNotACrash) {
  const std::string good = Book({{"id", "action"}, {"r1", "ignore"}});
  for (size_t keep : {good.size() / 4, good.size() / 2, good.size() - 10}) {
    Diagnostics d;
    EXPECT_TRUE(ReadBook(good.substr(0, keep), "tables/cut.xlsx", &d).empty());
    EXPECT_TRUE(d.has_errors()) << "kept " << keep;
  }
  // Damage the sheet's deflate stream: a bad stream or a bad CRC, reported at the sheet.
  std::string flipped = good;
  const size_t at = DataOffset(flipped, "xl/worksheets/sheet1.xml");
  ASSERT_NE(at, std::string::npos);
  for (size_t i = at + 2; i < at + 12; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  Diagnostics d;
  EXPECT_TRUE(ReadBook(flipped, "tables/flip.xlsx", &d).empty());
  EXPECT_EQ(OnlyError(d).rfind("tables/flip.xlsx:Sheet1: error: corrupt part "
                               "xl/worksheets/sheet1.xml: ",
                               0),
            0u)
      << All(d);
}

TEST(XlsxTest, MissingWorkbookPartIsAClearError) {
  Diagnostics d;
  const std::string bytes =
      XlsxWriter().AddSheet("Sheet1", InlineRows(kNoise)).DropPart("xl/workbook.xml").Build();
  EXPECT_TRUE(ReadBook(bytes, "tables/w.xlsx", &d).empty());
  EXPECT_EQ(OnlyError(d),
            "tables/w.xlsx: error: missing part xl/workbook.xml (the workbook: not "
            "an .xlsx file, or a damaged one)");

  Diagnostics r;
  const std::string no_rels = XlsxWriter()
                                  .AddSheet("Sheet1", InlineRows(kNoise))
                                  .DropPart("xl/_rels/workbook.xml.rels")
                                  .Build();
  EXPECT_TRUE(ReadBook(no_rels, "tables/w.xlsx", &r).empty());
  EXPECT_EQ(OnlyError(r), "tables/w.xlsx: error: missing part xl/_rels/workbook.xml.rels");
}

TEST(XlsxTest, MissingSheetPartNamesTheSheet) {
  Diagnostics d;
  const std::string bytes = XlsxWriter()
                                .AddSheet("Sheet1", InlineRows(kNoise))
                                .AddSheet("Sheet2", InlineRows(kPage))
                                .DropPart("xl/worksheets/sheet1.xml")
                                .Build();
  std::vector<engine::TableSpec> tables = ReadBook(bytes, "tables/m.xlsx", &d);
  EXPECT_EQ(OnlyError(d), "tables/m.xlsx:Sheet1: error: missing part xl/worksheets/sheet1.xml");
  ASSERT_EQ(tables.size(), 1u) << "the other sheet is still read";
  EXPECT_EQ(tables[0].file, "tables/m.xlsx:Sheet2");
}

TEST(XlsxTest, MalformedXmlIsAClearError) {
  Diagnostics d;
  const std::string bad_sheet = XlsxWriter()
                                    .AddSheet("Sheet1", InlineRows(kNoise))
                                    .SetPart("xl/worksheets/sheet1.xml", "<worksheet><sheetData>")
                                    .Build();
  EXPECT_TRUE(ReadBook(bad_sheet, "tables/x.xlsx", &d).empty());
  EXPECT_EQ(OnlyError(d).rfind("tables/x.xlsx:Sheet1: error: malformed XML in "
                               "xl/worksheets/sheet1.xml at byte ",
                               0),
            0u)
      << All(d);

  Diagnostics w;
  const std::string bad_book =
      XlsxWriter().AddSheet("Sheet1", InlineRows(kNoise)).SetPart("xl/workbook.xml", "<<").Build();
  EXPECT_TRUE(ReadBook(bad_book, "tables/x.xlsx", &w).empty());
  EXPECT_EQ(OnlyError(w).rfind("tables/x.xlsx: error: malformed XML in xl/workbook.xml", 0), 0u)
      << All(w);

  Diagnostics s;
  const std::string bad_index =
      XlsxWriter()
          .AddSheet("Sheet1", R"(<row r="3"><c r="B3" t="s"><v>7</v></c></row>)")
          .SetSharedStrings({"<t>only</t>"})
          .Build();
  EXPECT_TRUE(ReadBook(bad_index, "tables/x.xlsx", &s).empty());
  EXPECT_EQ(OnlyError(s),
            "tables/x.xlsx:Sheet1!B3: error: shared string '7' does not exist (the workbook has "
            "1)");
}

// Offsets of the zip headers (signature `sig`) of entry `name`: the local header ("PK\3\4",
// its name at 30, the name's length at 26) or the central one ("PK\1\2", at 46 and 28).
std::vector<size_t> Headers(const std::string& zip, const std::string& name, bool central) {
  const std::string sig = central ? std::string("PK\x01\x02", 4) : std::string("PK\x03\x04", 4);
  const size_t name_at = central ? 46 : 30, len_at = central ? 28 : 26;
  std::vector<size_t> out;
  for (size_t p = zip.find(sig); p != std::string::npos; p = zip.find(sig, p + 4)) {
    if (p + name_at + name.size() > zip.size()) break;
    if (U16(zip, p + len_at) == name.size() && zip.compare(p + name_at, name.size(), name) == 0) {
      out.push_back(p);
    }
  }
  return out;
}

// Where the compressed data of entry `name` starts.
size_t DataOffset(const std::string& zip, const std::string& name) {
  const std::vector<size_t> local = Headers(zip, name, false);
  if (local.empty()) return std::string::npos;
  return local[0] + 30 + U16(zip, local[0] + 26) + U16(zip, local[0] + 28);
}

// Sets the uncompressed size recorded for `name` in the zip's local and central headers to
// `size`: a workbook that lies about how large a part inflates.
void LieAboutSize(std::string* zip, const std::string& name, uint32_t size) {
  auto patch = [&](size_t at) {
    for (int i = 0; i < 4; ++i) (*zip)[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  for (size_t p : Headers(*zip, name, false)) patch(p + 22);
  for (size_t p : Headers(*zip, name, true)) patch(p + 24);
}

TEST(XlsxTest, OversizedPartIsRefused) {
  // A sheet that inflates past the 64 MiB limit (mostly blanks: it compresses to ~64 KiB).
  std::string big_rows = InlineRows(kNoise);
  big_rows += std::string(kMaxXlsxPartBytes + 1, ' ');
  const std::string bytes = XlsxWriter().AddSheet("Sheet1", big_rows).Build();
  ASSERT_LT(bytes.size(), 2u * 1024 * 1024);
  Diagnostics d;
  EXPECT_TRUE(ReadBook(bytes, "tables/big.xlsx", &d).empty());
  EXPECT_NE(OnlyError(d).find("tables/big.xlsx:Sheet1: error: part xl/worksheets/sheet1.xml is "),
            std::string::npos)
      << All(d);
  EXPECT_NE(OnlyError(d).find("bytes uncompressed; the limit is 64 MiB"), std::string::npos);

  // The same part declaring a small size: reading still stops at the limit.
  std::string lying = bytes;
  LieAboutSize(&lying, "xl/worksheets/sheet1.xml", 1000);
  Diagnostics l;
  EXPECT_TRUE(ReadBook(lying, "tables/big.xlsx", &l).empty());
  ASSERT_TRUE(l.has_errors());
  EXPECT_EQ(l.items()[0].file, "tables/big.xlsx:Sheet1") << All(l);
  EXPECT_NE(All(l).find("xl/worksheets/sheet1.xml"), std::string::npos) << All(l);
}

TEST(XlsxTest, CellsPastTheRowOrColumnLimitAreRefused) {
  Diagnostics rows;
  const std::string far_down =
      XlsxWriter()
          .AddSheet("Sheet1",
                    InlineRows(kNoise) + R"(<row r="100001"><c r="A100001"><v>1</v></c></row>)")
          .Build();
  EXPECT_TRUE(ReadBook(far_down, "tables/l.xlsx", &rows).empty());
  EXPECT_EQ(OnlyError(rows),
            "tables/l.xlsx:Sheet1: error: cell A100001 is past row 100000, the "
            "limit for a table sheet");

  Diagnostics cols;
  const std::string far_right =
      XlsxWriter()
          .AddSheet("Sheet1", InlineRows(kNoise) + R"(<row r="3"><c r="AMK3"><v>1</v></c></row>)")
          .Build();
  EXPECT_TRUE(ReadBook(far_right, "tables/l.xlsx", &cols).empty());
  EXPECT_EQ(OnlyError(cols),
            "tables/l.xlsx:Sheet1: error: cell AMK3 is past column AMJ (1024 "
            "columns), the limit for a table sheet");

  // Up to the limits is fine: AMJ is column 1024 (a value there is only a stray value; a
  // second <row r="2"> adds to row 2).
  Diagnostics edge;
  const std::string at_edge =
      XlsxWriter()
          .AddSheet("Sheet1", InlineRows(kNoise) + R"(<row r="2"><c r="AMJ2"><v>1</v></c></row>)")
          .Build();
  EXPECT_TRUE(ReadBook(at_edge, "tables/l.xlsx", &edge).empty());
  EXPECT_EQ(OnlyError(edge),
            "tables/l.xlsx:Sheet1!AMJ2: error: value in a column without a header");
}

TEST(XlsxTest, WorkbookWithNoTableSheetIsAnError) {
  Diagnostics d;
  const std::string bytes =
      XlsxWriter().AddSheet("_notes", InlineRows({{"hello"}})).AddSheet("Sheet2", "").Build();
  EXPECT_TRUE(ReadBook(bytes, "tables/n.xlsx", &d).empty());
  EXPECT_EQ(OnlyError(d),
            "tables/n.xlsx: error: no table in the workbook: every sheet is empty, "
            "hidden or named with a leading '_'");
}

TEST(XlsxTest, IsXlsxFileSkipsExcelLockFiles) {
  EXPECT_TRUE(IsXlsxFile("disk.xlsx"));
  EXPECT_TRUE(IsXlsxFile("tables/disk.xlsx"));
  EXPECT_FALSE(IsXlsxFile("~$disk.xlsx"));
  EXPECT_FALSE(IsXlsxFile("tables/~$disk.xlsx"));
  EXPECT_FALSE(IsXlsxFile("disk.csv"));
  EXPECT_FALSE(IsXlsxFile("disk.xlsx.bak"));
}

// The fuzz target's seed corpus (fuzz/make_xlsx_corpus.py, Python's zipfile: a second zip
// writer) holds the workbooks it is meant to.
TEST(XlsxTest, SeedCorpusWorkbooksReadAsIntended) {
  auto read = [](const std::string& name, Diagnostics* d) {
    const std::string path = std::string(REFLEX_SOURCE_DIR) + "/fuzz/corpus/xlsx/" + name;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return ReadBook(bytes, "tables/" + name, d);
  };
  Diagnostics d1;
  std::vector<engine::TableSpec> disk = read("disk_shared.xlsx", &d1);
  ASSERT_EQ(disk.size(), 1u) << All(d1);
  EXPECT_EQ(disk[0].name, "disk");
  EXPECT_EQ(disk[0].rows.size(), 3u);

  Diagnostics d2;
  std::vector<engine::TableSpec> two = read("two_sheets.xlsx", &d2);
  ASSERT_EQ(two.size(), 2u) << All(d2);
  EXPECT_EQ(two[0].name, "two_sheets.Noise");
  EXPECT_EQ(two[1].name, "two_sheets.Paging_rules");

  Diagnostics d3;
  std::vector<engine::TableSpec> types = read("cell_types.xlsx", &d3);
  ASSERT_EQ(types.size(), 1u) << All(d3);
  ASSERT_EQ(types[0].rows.size(), 2u);
  EXPECT_EQ(types[0].rows[0].id, "r1");
  EXPECT_EQ(types[0].rows[0].where.line, 3);
  EXPECT_EQ(types[0].rows[1].where.line, 6);

  Diagnostics d4;
  EXPECT_TRUE(read("bad_cells.xlsx", &d4).empty());
  EXPECT_DIAG_IN(d4, "unknown operator 'frob'", "tables/bad_cells.xlsx:Cells", 3, 3);
  EXPECT_DIAG_IN(d4, "Excel error #DIV/0!", "tables/bad_cells.xlsx:Errors", 2, 2);
}

// ---- the loader --------------------------------------------------------------------------

TEST(XlsxLoaderTest, RulesDirectoryWithAWorkbookLoadsAndCompiles) {
  MemorySource fs;
  fs.Put("r/tables/disk.xlsx", Book(CsvCells(kDiskCsv)));
  fs.Put("r/tables/noise.csv", "id,alertname,action\nw,Watchdog,ignore\n");
  fs.Put("r/tables/~$disk.xlsx", "lock file of an open workbook");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_TRUE(lr.diags.empty()) << All(lr.diags) << "(the lock file is skipped silently)";
  ASSERT_EQ(lr.tables.size(), 2u);
  EXPECT_EQ(lr.tables[0].name, "disk");
  EXPECT_EQ(lr.tables[0].rows.size(), 4u);
  const std::string version = lr.version;
  Diagnostics cd;
  EXPECT_NE(Compile(std::move(lr), &cd), nullptr) << All(cd);

  // The workbook's bytes are part of the version.
  Rows changed = CsvCells(kDiskCsv);
  changed.push_back({"disk-info", "NodeFilesystemFull", "", "", "ignore", "", "1"});
  fs.Put("r/tables/disk.xlsx", Book(changed));
  EXPECT_NE(LoadRules(fs, "r").version, version);
}

TEST(XlsxLoaderTest, CheckAndNameClashesUseSheetPositions) {
  MemorySource fs;
  // `a` shadows `b` under `first`: the analysis reports it in the sheet.
  fs.Put("r/tables/a.xlsx", Book({{"table", "dup"},
                                  {"id", "alertname", "action"},
                                  {"a", "", "ignore"},
                                  {"b", "Disk", "ignore"}},
                                 "Rules"));
  fs.Put("r/tables/b.csv", "table,dup\nid,alertname,action\nx,Y,ignore\n");
  LoadedRules lr = LoadRules(fs, "r");
  std::string all;
  for (const Diagnostic& x : lr.diags.Sorted()) all += x.ToString() + "\n";
  EXPECT_NE(all.find("r/tables/a.xlsx:Rules!A4: error: row 'b' can never fire"), std::string::npos)
      << all;
  EXPECT_NE(all.find("r/tables/b.csv:1:2: error: table name 'dup' is also used by "
                     "r/tables/a.xlsx:Rules!B1"),
            std::string::npos)
      << all;
}

TEST(XlsxLoaderTest, DamagedWorkbookFailsTheLoadWithItsName) {
  MemorySource fs;
  fs.Put("r/tables/disk.xlsx", "PK\x03\x04 not really a zip");
  fs.Put("r/tables/noise.csv", "id,alertname,action\nw,Watchdog,ignore\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(lr.diags.error_count(), 1u) << All(lr.diags);
  EXPECT_DIAG_IN(lr.diags, "not an .xlsx workbook", "r/tables/disk.xlsx", 0, 0);
}

TEST(XlsxLoaderTest, CasesBesideAWorkbookOfSeveralTablesNameTheirTable) {
  MemorySource fs;
  const Rows page = {{"id", "severity", "action"}, {"p", "critical", "escalate"}};
  fs.Put("r/tables/ops.xlsx", XlsxWriter()
                                  .AddSheet("Noise", InlineRows(kNoise))
                                  .AddSheet("Page", InlineRows(page))
                                  .Build());
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  Diagnostics cd;
  auto rs = Compile(std::move(lr), &cd);
  ASSERT_NE(rs, nullptr) << All(cd);
  // Each case belongs to the table it names, not to the workbook's last sheet.
  const std::vector<CaseFile> files = {{"r/tables/ops.cases.csv",
                                        "case,expect_verdict,expect_row,alertname,severity\n"
                                        "w,suppressed,ops.Noise/w,Watchdog,\n"
                                        "p,known,ops.Page/p,,critical\n"}};
  RuleSetVerification v = VerifyRuleSet(*rs, files, 0);
  EXPECT_FALSE(v.diags.has_errors()) << All(v.diags);
  ASSERT_EQ(v.tables.size(), 2u);
  for (const TableVerification& t : v.tables) {
    EXPECT_EQ(t.state, TableState::kVerified) << t.table;
    EXPECT_EQ(t.passed, 1) << t.table;
  }
  EXPECT_TRUE(v.passed());
}

}  // namespace
}  // namespace reflex::rules
