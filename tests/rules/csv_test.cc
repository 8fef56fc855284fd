// Tests of ReadCsv (RFC 4180 as spreadsheets write it) and of diagnostics formatting.
#include "reflex/rules/csv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reflex/rules/diagnostics.h"

namespace reflex::rules {
namespace {

std::vector<std::vector<std::string>> Texts(const std::vector<CsvRecord>& recs) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : recs) {
    std::vector<std::string> row;
    for (const auto& c : r.cells) row.push_back(c.text);
    out.push_back(row);
  }
  return out;
}

using Rows = std::vector<std::vector<std::string>>;

// ---- Diagnostics ------------------------------------------------------------------------

TEST(DiagnosticsTest, ColumnLetters) {
  EXPECT_EQ(ColumnLetters(1), "A");
  EXPECT_EQ(ColumnLetters(3), "C");
  EXPECT_EQ(ColumnLetters(26), "Z");
  EXPECT_EQ(ColumnLetters(27), "AA");
  EXPECT_EQ(ColumnLetters(52), "AZ");
  EXPECT_EQ(ColumnLetters(53), "BA");
  EXPECT_EQ(ColumnLetters(702), "ZZ");
  EXPECT_EQ(ColumnLetters(703), "AAA");
  EXPECT_EQ(ColumnLetters(0), "");
}

TEST(DiagnosticsTest, ToStringFormats) {
  Diagnostic csv{Severity::kError, "tables/disk.csv", 7, 3, "bad", ""};
  EXPECT_EQ(csv.ToString(), "tables/disk.csv:7:3: error: bad (cell C7)");
  Diagnostic yaml{Severity::kWarning, "tables/disk.yaml", 7, 3, "hmm", ""};
  EXPECT_EQ(yaml.ToString(), "tables/disk.yaml:7:3: warning: hmm");
  Diagnostic line_only{Severity::kError, "tables/disk.csv", 4, 0, "no col", ""};
  EXPECT_EQ(line_only.ToString(), "tables/disk.csv:4: error: no col");
  Diagnostic whole{Severity::kError, "tables", 0, 0, "missing", ""};
  EXPECT_EQ(whole.ToString(), "tables: error: missing");
  Diagnostic wide{Severity::kError, "a.csv", 12, 28, "x", ""};
  EXPECT_EQ(wide.ToString(), "a.csv:12:28: error: x (cell AB12)");
}

TEST(DiagnosticsTest, CountsAndSorting) {
  Diagnostics d;
  EXPECT_FALSE(d.has_errors());
  d.Warning("b.csv", 1, 1, "w");
  EXPECT_FALSE(d.has_errors());
  d.Error("b.csv", 3, 2, "e2");
  d.Error("a.csv", 9, 1, "e1");
  d.Error("b.csv", 3, 1, "e3");
  EXPECT_TRUE(d.has_errors());
  EXPECT_EQ(d.error_count(), 3u);
  EXPECT_EQ(d.warning_count(), 1u);
  auto s = d.Sorted();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].message, "e1");
  EXPECT_EQ(s[1].message, "w");
  EXPECT_EQ(s[2].message, "e3");
  EXPECT_EQ(s[3].message, "e2");
  Diagnostics other;
  other.Append(d);
  EXPECT_EQ(other.items().size(), 4u);
}

// ---- Well-formed input -------------------------------------------------------------------

TEST(CsvTest, SimpleRowsWithPositions) {
  Diagnostics d;
  auto recs = ReadCsv("a,b,c\n1,2,3\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].line, 1);
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[1].cells[0].column, 1);
  EXPECT_EQ(recs[1].cells[2].column, 3);
}

TEST(CsvTest, EmptyFileHasNoRecordsAndNoError) {
  Diagnostics d;
  auto recs = ReadCsv("", "t.csv", &d);
  EXPECT_TRUE(recs.empty());
  EXPECT_TRUE(d.items().empty());
}

TEST(CsvTest, BomOnlyFileIsEmpty) {
  Diagnostics d;
  auto recs = ReadCsv("\xEF\xBB\xBF", "t.csv", &d);
  EXPECT_TRUE(recs.empty());
  EXPECT_TRUE(d.items().empty());
}

TEST(CsvTest, NoTrailingNewline) {
  Diagnostics d;
  auto recs = ReadCsv("a,b\nc,d", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b"}, {"c", "d"}}));
}

TEST(CsvTest, CrlfLineEnds) {
  Diagnostics d;
  auto recs = ReadCsv("a,b\r\nc,d\r\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(recs[1].line, 2);
}

TEST(CsvTest, ByteOrderMarkIsStripped) {
  Diagnostics d;
  auto recs = ReadCsv("\xEF\xBB\xBFtable,disk\r\nid,action\r\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"table", "disk"}, {"id", "action"}}));
  EXPECT_EQ(recs[0].cells[0].column, 1);
}

TEST(CsvTest, QuotedCellsWithCommasAndDoubledQuotes) {
  Diagnostics d;
  auto recs = ReadCsv("\"a, b\",\"say \"\"hi\"\"\",\"\"\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a, b", "say \"hi\"", ""}}));
}

TEST(CsvTest, QuotedCellWithEmbeddedNewlinesKeepsStartLine) {
  Diagnostics d;
  auto recs = ReadCsv("h1,h2\n\"line one\nline two\",x\nnext,y\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[1].cells[0].text, "line one\nline two");
  EXPECT_EQ(recs[1].cells[1].text, "x");
  EXPECT_EQ(recs[1].cells[1].column, 2);
  // The record after a multi-line cell starts on the right physical line.
  EXPECT_EQ(recs[2].line, 4);
  EXPECT_EQ(recs[2].at(0), "next");
}

TEST(CsvTest, QuotedCellWithCrlfInside) {
  Diagnostics d;
  auto recs = ReadCsv("\"a\r\nb\",c\r\nd,e\r\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].cells[0].text, "a\r\nb");
  EXPECT_EQ(recs[1].line, 3);
}

TEST(CsvTest, RaggedRowsAreKeptAsTheyAre) {
  Diagnostics d;
  auto recs = ReadCsv("a,b,c\n1\n1,2,3,4\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b", "c"}, {"1"}, {"1", "2", "3", "4"}}));
  EXPECT_EQ(recs[1].at(0), "1");
  EXPECT_EQ(recs[1].at(5), "");
  EXPECT_EQ(recs[2].cells[3].column, 4);
}

TEST(CsvTest, EmptyCellsAndBlankRows) {
  Diagnostics d;
  auto recs = ReadCsv("a,,c\n\n,, \n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(Texts(recs)[0], (std::vector<std::string>{"a", "", "c"}));
  EXPECT_FALSE(recs[0].blank());
  EXPECT_TRUE(recs[1].blank());
  EXPECT_TRUE(recs[2].blank());
  EXPECT_EQ(recs[2].line, 3);
}

TEST(CsvTest, TrailingCommaMakesAnEmptyLastCell) {
  Diagnostics d;
  auto recs = ReadCsv("a,b,\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b", ""}}));
}

TEST(CsvTest, SpacesAroundUnquotedCellsAreKept) {
  Diagnostics d;
  auto recs = ReadCsv(" a , b\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{" a ", " b"}}));
}

TEST(CsvTest, SpacesAfterClosingQuoteAreAllowed) {
  Diagnostics d;
  auto recs = ReadCsv("\"a\"  ,b\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b"}}));
}

TEST(CsvTest, ValidMultibyteUtf8) {
  Diagnostics d;
  auto recs = ReadCsv("caf\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(Texts(recs), (Rows{{"caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}}));
}

TEST(CsvTest, CellOfExactlyMaxBytesIsAccepted) {
  Diagnostics d;
  std::string big(kMaxCellBytes, 'x');
  auto recs = ReadCsv("a," + big + "\n", "t.csv", &d);
  EXPECT_FALSE(d.has_errors());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cells[1].text.size(), kMaxCellBytes);
  Diagnostics d2;
  auto recs2 = ReadCsv("\"" + big + "\"\n", "t.csv", &d2);
  EXPECT_FALSE(d2.has_errors());
  ASSERT_EQ(recs2.size(), 1u);
  EXPECT_EQ(recs2[0].cells[0].text.size(), kMaxCellBytes);
}

// ---- Errors, each with its position ------------------------------------------------------

TEST(CsvTest, UnterminatedQuoteNamesTheCellWhereItStarted) {
  Diagnostics d;
  auto recs = ReadCsv("a,b\nc,d\ne,\"never closed\nmore\n", "tables/x.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.file, "tables/x.csv");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 2);
  EXPECT_NE(e.message.find("never closed"), std::string::npos) << e.message;
  EXPECT_EQ(e.ToString(),
            "tables/x.csv:3:2: error: quoted cell is never closed (missing '\"') (cell B3)");
  // Records before the bad one are returned.
  EXPECT_EQ(Texts(recs), (Rows{{"a", "b"}, {"c", "d"}}));
}

TEST(CsvTest, StrayQuoteInsideUnquotedCell) {
  Diagnostics d;
  auto recs = ReadCsv("a,b\nx,he said \"hi\"\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 2);
  EXPECT_EQ(d.items()[0].column, 2);
  EXPECT_NE(d.items()[0].message.find("quote inside an unquoted cell"), std::string::npos);
  EXPECT_EQ(recs.size(), 1u);
}

TEST(CsvTest, TextAfterClosingQuote) {
  Diagnostics d;
  ReadCsv("a,\"b\"c,d\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 1);
  EXPECT_EQ(d.items()[0].column, 2);
  EXPECT_NE(d.items()[0].message.find("after a closing quote"), std::string::npos);
}

TEST(CsvTest, TextAfterClosingQuoteOfMultiLineCellReportsItsLine) {
  Diagnostics d;
  ReadCsv("a,\"b\nc\"x\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 2);
  EXPECT_EQ(d.items()[0].column, 2);
}

TEST(CsvTest, InvalidUtf8NamesLineAndCell) {
  Diagnostics d;
  auto recs = ReadCsv("a,b,c\nx,y,caf\xE9\n", "tables/latin1.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 3);
  EXPECT_NE(e.message.find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(e.message.find("0xe9"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("CSV UTF-8"), std::string::npos);
  EXPECT_TRUE(recs.empty());
}

TEST(CsvTest, InvalidUtf8AfterQuotedCommaAndNewline) {
  // The comma and the line break inside the quoted cell do not move the cell position.
  Diagnostics d;
  ReadCsv("h\n\"a,b\nc\",\xFF\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 3);
  EXPECT_EQ(d.items()[0].column, 2);
}

TEST(CsvTest, TruncatedUtf8SequenceAtEnd) {
  Diagnostics d;
  ReadCsv("ok\n\xE2\x82", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 2);
  EXPECT_EQ(d.items()[0].column, 1);
}

TEST(CsvTest, OverlongUnquotedCell) {
  Diagnostics d;
  std::string big(kMaxCellBytes + 1, 'x');
  auto recs = ReadCsv("a,b\nc," + big + "\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 2);
  EXPECT_EQ(d.items()[0].column, 2);
  EXPECT_EQ(d.items()[0].message, "cell longer than 65536 bytes");
  EXPECT_EQ(recs.size(), 1u);
}

TEST(CsvTest, OverlongQuotedCell) {
  Diagnostics d;
  std::string big(kMaxCellBytes + 10, 'y');
  ReadCsv("a\n\"" + big + "\"\n", "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_EQ(d.items()[0].line, 2);
  EXPECT_EQ(d.items()[0].column, 1);
  EXPECT_EQ(d.items()[0].message, "cell longer than 65536 bytes");
}

TEST(CsvTest, OverlongUnterminatedQuotedCellReportsLength) {
  Diagnostics d;
  std::string big(kMaxCellBytes + 10, 'y');
  ReadCsv("\"" + big, "t.csv", &d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_NE(d.items()[0].message.find("longer than"), std::string::npos);
}

}  // namespace
}  // namespace reflex::rules
