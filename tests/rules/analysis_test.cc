// Tests of the static analysis of decision tables: overlaps under `unique`, shadowed rows
// under `first` / `priority`, duplicates under `collect`, and the cell relations behind them.
#include "reflex/rules/analysis.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "diag_test_util.h"
#include "reflex/rules/cell.h"
#include "reflex/rules/table_reader.h"

namespace reflex::rules {
namespace {

using test_util::All;

using engine::Condition;

Condition C(std::string_view cell) {
  CellResult r = ParseCondition(cell);
  EXPECT_TRUE(r.ok) << cell << ": " << r.error.message;
  return r.condition;
}

const char* Name(Tri t) { return t == Tri::kYes ? "yes" : t == Tri::kNo ? "no" : "maybe"; }

#define EXPECT_OVERLAP(a, b, want)                                                \
  do {                                                                            \
    EXPECT_STREQ(Name(CellsOverlap(C(a), C(b))), Name(want)) << a << " vs " << b; \
    EXPECT_STREQ(Name(CellsOverlap(C(b), C(a))), Name(want)) << b << " vs " << a; \
  } while (0)

#define EXPECT_SUBSUMES(outer, inner, want) \
  EXPECT_STREQ(Name(CellSubsumes(C(outer), C(inner))), Name(want)) << outer << " >= " << inner

// Reads a CSV table (which must be free of errors) and analyzes it.
Diagnostics Analyze(const std::string& csv) {
  Diagnostics read;
  auto t = ReadCsvTable(csv, "tables/t.csv", TableContext(), &read);
  EXPECT_TRUE(t) << All(read);
  Diagnostics d;
  if (t) AnalyzeTable(*t, &d);
  return d;
}

// ---- Cell relations -------------------------------------------------------------------------

TEST(CellsOverlapTest, AnyMissingAndExists) {
  EXPECT_OVERLAP("", "= a", Tri::kYes);
  EXPECT_OVERLAP("", "missing", Tri::kYes);
  EXPECT_OVERLAP("missing", "!= a", Tri::kYes);
  EXPECT_OVERLAP("missing", "not in(a)", Tri::kYes);
  EXPECT_OVERLAP("missing", "= a", Tri::kNo);
  EXPECT_OVERLAP("missing", ">= 1", Tri::kNo);
  EXPECT_OVERLAP("missing", "exists", Tri::kNo);
  EXPECT_OVERLAP("missing", "missing", Tri::kYes);
  EXPECT_OVERLAP("exists", "/x/", Tri::kYes);
  EXPECT_OVERLAP("exists", "= a", Tri::kYes);
}

TEST(CellsOverlapTest, EqualityAndSets) {
  EXPECT_OVERLAP("a", "a", Tri::kYes);
  EXPECT_OVERLAP("a", "b", Tri::kNo);
  EXPECT_OVERLAP("= a", "in(a, b)", Tri::kYes);
  EXPECT_OVERLAP("c", "in(a, b)", Tri::kNo);
  EXPECT_OVERLAP("in(a, b)", "in(b, c)", Tri::kYes);
  EXPECT_OVERLAP("in(a, b)", "in(c, d)", Tri::kNo);
  EXPECT_OVERLAP("a", "!= a", Tri::kNo);
  EXPECT_OVERLAP("a", "!= b", Tri::kYes);
  EXPECT_OVERLAP("in(a, b)", "not in(a, b)", Tri::kNo);
  EXPECT_OVERLAP("in(a, b)", "not in(a)", Tri::kYes);
  // Numbers compare numerically: 90 and 90.0 are the same value.
  EXPECT_OVERLAP("90", "90.0", Tri::kYes);
  // Case-insensitive against a literal.
  EXPECT_OVERLAP("abc", "ieq(ABC)", Tri::kYes);
  EXPECT_OVERLAP("abc", "iin(x, ABC)", Tri::kYes);
}

TEST(CellsOverlapTest, LiteralsAgainstOtherOperators) {
  EXPECT_OVERLAP("95", "[90,100)", Tri::kYes);
  EXPECT_OVERLAP("85", "[90,100)", Tri::kNo);
  EXPECT_OVERLAP("high", ">= 90", Tri::kNo);
  EXPECT_OVERLAP("diskfull", "/^disk/", Tri::kYes);
  EXPECT_OVERLAP("cpu", "/^disk/", Tri::kNo);
  EXPECT_OVERLAP("/var/log/x", "prefix(/var)", Tri::kYes);
  EXPECT_OVERLAP("/tmp", "prefix(/var)", Tri::kNo);
  EXPECT_OVERLAP("10.1.2.3", "cidr(10.0.0.0/8)", Tri::kYes);
  EXPECT_OVERLAP("11.1.2.3", "cidr(10.0.0.0/8)", Tri::kNo);
  EXPECT_OVERLAP("app.log", "suffix(.log)", Tri::kYes);
  EXPECT_OVERLAP("read timeout", "contains(timeout)", Tri::kYes);
}

TEST(CellsOverlapTest, Ranges) {
  EXPECT_OVERLAP("[80,90)", "[90,*)", Tri::kNo);
  EXPECT_OVERLAP("[80,90]", "[90,*)", Tri::kYes);
  EXPECT_OVERLAP("(80,90]", "(90,*)", Tri::kNo);
  EXPECT_OVERLAP("< 5", "> 5", Tri::kNo);
  EXPECT_OVERLAP("<= 5", ">= 5", Tri::kYes);
  EXPECT_OVERLAP("[0,10)", "[5,15)", Tri::kYes);
  EXPECT_OVERLAP("[0,10)", "[20,30)", Tri::kNo);
  EXPECT_OVERLAP(">= 90", ">= 95", Tri::kYes);
}

TEST(CellsOverlapTest, PrefixesSuffixes) {
  EXPECT_OVERLAP("prefix(/var)", "prefix(/var/log)", Tri::kYes);
  EXPECT_OVERLAP("prefix(/var)", "prefix(/tmp)", Tri::kNo);
  EXPECT_OVERLAP("prefix(/var, /tmp)", "prefix(/tmp/x)", Tri::kYes);
  EXPECT_OVERLAP("suffix(.log)", "suffix(app.log)", Tri::kYes);
  EXPECT_OVERLAP("suffix(.log)", "suffix(.gz)", Tri::kNo);
  EXPECT_OVERLAP("prefix(a)", "suffix(b)", Tri::kMaybe);
}

TEST(CellsOverlapTest, Cidr) {
  EXPECT_OVERLAP("cidr(10.0.0.0/8)", "cidr(10.1.0.0/16)", Tri::kYes);
  EXPECT_OVERLAP("cidr(10.0.0.0/8)", "cidr(192.168.0.0/16)", Tri::kNo);
  EXPECT_OVERLAP("cidr(10.0.0.0/8)", "cidr(2001:db8::/32)", Tri::kNo);
  EXPECT_OVERLAP("cidr(2001:db8::/32)", "cidr(2001:db8:1::/48)", Tri::kYes);
}

TEST(CellsOverlapTest, TimesAndWeekdays) {
  EXPECT_OVERLAP("time(09:00-12:00)", "time(12:00-18:00)", Tri::kNo);
  EXPECT_OVERLAP("time(09:00-12:00)", "time(11:00-13:00)", Tri::kYes);
  EXPECT_OVERLAP("time(22:00-06:00)", "time(05:00-07:00)", Tri::kYes);
  EXPECT_OVERLAP("time(22:00-06:00)", "time(06:00-22:00)", Tri::kNo);
  EXPECT_OVERLAP("weekday(mon-fri)", "weekday(sat, sun)", Tri::kNo);
  EXPECT_OVERLAP("weekday(mon-fri)", "weekday(fri-sun)", Tri::kYes);
}

TEST(CellsOverlapTest, TimeRangesEndingOrStartingAtMidnight) {
  // 24:00 is the end of the day; analysing it must terminate and agree with evaluation.
  EXPECT_OVERLAP("time(18:00-24:00)", "time(20:00-21:00)", Tri::kYes);
  EXPECT_OVERLAP("time(18:00-24:00)", "time(00:00-18:00)", Tri::kNo);
  EXPECT_OVERLAP("time(24:00-06:00)", "time(00:00-00:30)", Tri::kYes);
  EXPECT_OVERLAP("time(00:00-24:00)", "time(12:00-12:01)", Tri::kYes);
  EXPECT_SUBSUMES("time(00:00-24:00)", "time(03:00-04:00)", Tri::kYes);
  EXPECT_SUBSUMES("time(18:00-24:00)", "time(23:00-23:59)", Tri::kYes);
  EXPECT_SUBSUMES("time(18:00-24:00)", "time(23:00-01:00)", Tri::kNo);
}

TEST(CellsOverlapTest, UndecidableIsMaybe) {
  EXPECT_OVERLAP("/a/", "/b/", Tri::kMaybe);
  EXPECT_OVERLAP("/a/", "/a/", Tri::kYes);
  EXPECT_OVERLAP("!= a", "!= b", Tri::kMaybe);
  EXPECT_OVERLAP(">= 5", "/x/", Tri::kMaybe);
  EXPECT_OVERLAP("contains(a)", "contains(b)", Tri::kMaybe);
}

TEST(CellSubsumesTest, Basics) {
  EXPECT_SUBSUMES("", "= a", Tri::kYes);
  EXPECT_SUBSUMES("", "", Tri::kYes);
  EXPECT_SUBSUMES("= a", "", Tri::kNo);
  EXPECT_SUBSUMES("exists", "= a", Tri::kYes);
  EXPECT_SUBSUMES("exists", ">= 1", Tri::kYes);
  EXPECT_SUBSUMES("exists", "!= a", Tri::kNo);  // != also accepts a missing field
  EXPECT_SUBSUMES("!= a", "missing", Tri::kYes);
  EXPECT_SUBSUMES("= a", "missing", Tri::kNo);
  EXPECT_SUBSUMES("missing", "= a", Tri::kNo);
}

TEST(CellSubsumesTest, LiteralsAndSets) {
  EXPECT_SUBSUMES("in(a, b, c)", "in(a, b)", Tri::kYes);
  EXPECT_SUBSUMES("in(a, b, c)", "in(a, d)", Tri::kNo);
  EXPECT_SUBSUMES("= a", "= a", Tri::kYes);
  EXPECT_SUBSUMES("= a", "in(a, b)", Tri::kNo);
  EXPECT_SUBSUMES("/^disk/", "= diskfull", Tri::kYes);
  EXPECT_SUBSUMES("/^disk/", "= cpu", Tri::kNo);
  EXPECT_SUBSUMES(">= 90", "= 95", Tri::kYes);
  EXPECT_SUBSUMES("!= a", "= b", Tri::kYes);
  EXPECT_SUBSUMES("iin(a, b)", "iin(a)", Tri::kYes);
  EXPECT_SUBSUMES("ieq(ABC)", "= abc", Tri::kYes);
}

TEST(CellSubsumesTest, RangesAndStrings) {
  EXPECT_SUBSUMES(">= 90", "[95,100)", Tri::kYes);
  EXPECT_SUBSUMES(">= 90", "[85,100)", Tri::kNo);
  EXPECT_SUBSUMES("[80,90]", "[80,90)", Tri::kYes);
  EXPECT_SUBSUMES("[80,90)", "[80,90]", Tri::kNo);
  EXPECT_SUBSUMES("prefix(/var)", "prefix(/var/log)", Tri::kYes);
  EXPECT_SUBSUMES("prefix(/var/log)", "prefix(/var)", Tri::kNo);
  EXPECT_SUBSUMES("suffix(.log)", "suffix(app.log, x.log)", Tri::kYes);
  EXPECT_SUBSUMES("contains(disk)", "contains(diskfull)", Tri::kYes);
  EXPECT_SUBSUMES("/a/", "/a/", Tri::kYes);
  EXPECT_SUBSUMES("/a/", "/b/", Tri::kMaybe);
  EXPECT_SUBSUMES("not in(a)", "not in(a)", Tri::kYes);
}

TEST(CellSubsumesTest, CidrTimesWeekdays) {
  EXPECT_SUBSUMES("cidr(10.0.0.0/8)", "cidr(10.1.0.0/16)", Tri::kYes);
  EXPECT_SUBSUMES("cidr(10.1.0.0/16)", "cidr(10.0.0.0/8)", Tri::kNo);
  EXPECT_SUBSUMES("time(08:00-20:00)", "time(09:00-10:00)", Tri::kYes);
  EXPECT_SUBSUMES("time(09:00-10:00)", "time(08:00-20:00)", Tri::kNo);
  EXPECT_SUBSUMES("time(22:00-06:00)", "time(23:00-01:00)", Tri::kYes);
  EXPECT_SUBSUMES("weekday(mon-fri)", "weekday(wed)", Tri::kYes);
  EXPECT_SUBSUMES("weekday(wed)", "weekday(mon-fri)", Tri::kNo);
}

// ---- unique ---------------------------------------------------------------------------------

TEST(AnalyzeTableTest, UniqueOverlapIsAnErrorNamingBothRows) {
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,severity,values.usage,action\n"
      "crit,critical,>= 90,page\n"
      "warn,warning,\"[80,90)\",notify\n"
      "crit-wide,critical,\"[85,100)\",page\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.file, "tables/t.csv");
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.message,
            "rows 'crit' (line 3) and 'crit-wide' overlap: hit policy 'unique' allows one match "
            "per event");
}

TEST(AnalyzeTableTest, UniqueNonOverlappingIsClean) {
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,alertname,severity,values.usage,action\n"
      "a,DiskFull,critical,>= 90,page\n"
      "b,DiskFull,critical,\"[80,90)\",notify\n"
      "c,DiskFull,warning,,notify\n"
      "d,CpuHigh,,,notify\n"
      "e,MemHigh,\"in(critical, warning)\",,page\n"
      "f,MemHigh,info,,ignore\n"
      "g,missing,,,escalate\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(AnalyzeTableTest, UniqueOverlapThroughSetsRegexAndBlank) {
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,alertname,severity,action\n"
      "a,DiskFull,\"in(critical, warning)\",page\n"
      "b,DiskFull,warning,notify\n"
      "c,/^Cpu/,,notify\n"
      "d,CpuHigh,info,notify\n");
  ASSERT_EQ(d.error_count(), 2u) << All(d);
  const auto sorted = d.Sorted();
  EXPECT_EQ(sorted[0].line, 4);
  EXPECT_NE(sorted[0].message.find("rows 'a' (line 3) and 'b' overlap"), std::string::npos);
  EXPECT_EQ(sorted[1].line, 6);
  EXPECT_NE(sorted[1].message.find("rows 'c' (line 5) and 'd' overlap"), std::string::npos);
}

TEST(AnalyzeTableTest, UniqueOverlapOfNumericallyEqualLiterals) {
  // On a numeric field `90` and `90.0` are the same value: both rows match usage = 90.
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,values.usage,action\n"
      "a,90,page\n"
      "b,90.0,notify\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_NE(d.items()[0].message.find("rows 'a' (line 3) and 'b' overlap"), std::string::npos);
}

TEST(AnalyzeTableTest, UniqueTextLabelsDoNotEquateNumericSpellings) {
  // A label is text: "90" and "90.0" are different labels.
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,labels.code,action\n"
      "a,90,page\n"
      "b,90.0,notify\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(AnalyzeTableTest, UniqueUndecidableIsAWarning) {
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,message,action\n"
      "a,/disk/,page\n"
      "b,/full/,notify\n");
  EXPECT_EQ(d.error_count(), 0u) << All(d);
  ASSERT_EQ(d.warning_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 4);
  EXPECT_NE(d.items()[0].message.find("rows 'a' (line 3) and 'b' may overlap"), std::string::npos);
}

TEST(AnalyzeTableTest, UniqueNoOverlapWhenAnyColumnIsDisjoint) {
  // The regexes are undecidable but the severity column separates the rows.
  Diagnostics d = Analyze(
      "hit_policy,unique\n"
      "id,message,severity,action\n"
      "a,/disk/,critical,page\n"
      "b,/full/,warning,notify\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

// ---- first / priority --------------------------------------------------------------------------

TEST(AnalyzeTableTest, FirstShadowingIsAnError) {
  Diagnostics d = Analyze(
      "hit_policy,first\n"
      "id,severity,values.usage,action\n"
      "any-crit,critical,,page\n"
      "crit-high,critical,>= 90,cleanup\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.message,
            "row 'crit-high' can never fire: row 'any-crit' (line 3) matches every event it "
            "matches and wins under hit policy 'first'");
}

TEST(AnalyzeTableTest, FirstSpecificBeforeGeneralIsClean) {
  Diagnostics d = Analyze(
      "hit_policy,first\n"
      "id,severity,values.usage,action\n"
      "crit-high,critical,>= 90,cleanup\n"
      "any-crit,critical,,page\n"
      "catch-all,,,escalate\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(AnalyzeTableTest, FirstShadowingThroughRangesSetsAndPrefixes) {
  Diagnostics d = Analyze(
      "id,severity,values.usage,mount,action\n"
      "wide,\"in(critical, warning)\",>= 80,prefix(/var),page\n"
      "narrow,warning,\"[85,95)\",prefix(/var/log),notify\n"
      "partial,warning,\"[70,95)\",prefix(/var/log),notify\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 3);
  EXPECT_NE(d.items()[0].message.find("row 'narrow' can never fire: row 'wide' (line 2)"),
            std::string::npos);
}

TEST(AnalyzeTableTest, FirstShadowedByCatchAllRow) {
  Diagnostics d = Analyze(
      "id,alertname,action\n"
      "catch-all,,escalate\n"
      "disk,DiskFull,page\n"
      "cpu,CpuHigh,page\n");
  EXPECT_EQ(d.error_count(), 2u) << All(d);
}

TEST(AnalyzeTableTest, FirstUndecidableIsNotClaimedAsShadowing) {
  Diagnostics d = Analyze(
      "id,message,action\n"
      "a,/disk/,page\n"
      "b,/disk.*full/,page\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(AnalyzeTableTest, PriorityShadowingFollowsPriorityNotFileOrder) {
  // The general row is later in the file but has the higher priority: it wins.
  Diagnostics d = Analyze(
      "hit_policy,priority\n"
      "id,severity,values.usage,priority,action\n"
      "specific,critical,>= 90,1,cleanup\n"
      "general,critical,,10,page\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 3);
  EXPECT_NE(d.items()[0].message.find(
                "row 'specific' can never fire: row 'general' (line 4) matches every event it "
                "matches and wins under hit policy 'priority'"),
            std::string::npos)
      << d.items()[0].message;
}

TEST(AnalyzeTableTest, PriorityHigherSpecificRowIsClean) {
  Diagnostics d = Analyze(
      "hit_policy,priority\n"
      "id,severity,values.usage,priority,action\n"
      "general,critical,,1,page\n"
      "specific,critical,>= 90,10,cleanup\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

TEST(AnalyzeTableTest, PriorityTieFallsBackToFileOrder) {
  Diagnostics d = Analyze(
      "hit_policy,priority\n"
      "id,severity,priority,action\n"
      "a,critical,5,page\n"
      "b,critical,5,notify\n");
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 4);
}

// ---- collect -------------------------------------------------------------------------------

TEST(AnalyzeTableTest, CollectDuplicatesAreWarnings) {
  Diagnostics d = Analyze(
      "hit_policy,collect\n"
      "id,severity,values.usage,action\n"
      "a,critical,>= 90,page\n"
      "b,critical,,notify\n"
      "c,critical,>= 90,ticket\n");
  EXPECT_EQ(d.error_count(), 0u) << All(d);
  ASSERT_EQ(d.warning_count(), 1u) << All(d);
  EXPECT_EQ(d.items()[0].line, 5);
  EXPECT_EQ(d.items()[0].message, "row 'c' has the same conditions as row 'a' (line 3)");
}

TEST(AnalyzeTableTest, CollectOverlapsAreFine) {
  Diagnostics d = Analyze(
      "hit_policy,collect\n"
      "id,severity,values.usage,action\n"
      "a,critical,>= 90,page\n"
      "b,critical,,notify\n");
  EXPECT_TRUE(d.items().empty()) << All(d);
}

// ---- scale -----------------------------------------------------------------------------------

TEST(AnalyzeTableTest, LargeUniqueTableIsBucketedAndStillFindsTheOverlap) {
  std::string csv = "hit_policy,unique\nid,alertname,values.usage,action\n";
  for (int i = 0; i < 5000; ++i) {
    csv += "r" + std::to_string(i) + ",Alert" + std::to_string(i) + ",>= 90,page\n";
  }
  csv += "dup,Alert4321,\"[95,100)\",page\n";
  auto start = std::chrono::steady_clock::now();
  Diagnostics d = Analyze(csv);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(d.error_count(), 1u) << All(d);
  EXPECT_NE(d.items()[0].message.find("rows 'r4321' (line 4324) and 'dup' overlap"),
            std::string::npos)
      << d.items()[0].message;
  // 5000 rows all-pairs would be 12.5M comparisons; bucketing makes it a few thousand.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 10);
}

TEST(AnalyzeTableTest, SingleRowAndEmptyTablesAreClean) {
  EXPECT_TRUE(Analyze("hit_policy,unique\nid,a,action\nx,1,page\n").items().empty());
  EXPECT_TRUE(Analyze("hit_policy,unique\nid,a,action\n").warning_count() == 0);
}

}  // namespace
}  // namespace reflex::rules
