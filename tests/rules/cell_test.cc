// Tests of the condition-cell language: every operator, its spellings, and its errors.
#include "reflex/rules/cell.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reflex/base/time.h"
#include "reflex/engine/condition.h"
#include "reflex/engine/event.h"

namespace reflex::rules {
namespace {

using engine::Condition;
using engine::FieldValue;
using engine::Op;

Condition Parse(std::string_view cell, int tz = 0) {
  CellResult r = ParseCondition(cell, tz);
  EXPECT_TRUE(r.ok) << "cell '" << cell << "': " << r.error.message;
  return r.condition;
}

CellError ParseError(std::string_view cell) {
  CellResult r = ParseCondition(cell);
  EXPECT_FALSE(r.ok) << "cell '" << cell << "' parsed as " << r.condition.Describe();
  return r.error;
}

bool Text(const Condition& c, std::string_view s) { return c.Evaluate(FieldValue::Text(s)); }
bool Num(const Condition& c, double d) { return c.Evaluate(FieldValue::Number(d)); }
bool Missing(const Condition& c) { return c.Evaluate(FieldValue()); }

// 2026-11-23 is a Monday. Milliseconds since the epoch for a UTC date-time.
int64_t Utc(std::string_view rfc3339) {
  auto r = base::ParseRfc3339Millis(rfc3339);
  EXPECT_TRUE(r.ok()) << rfc3339;
  return r.ok() ? *r : 0;
}

// ---- Blank and literals ------------------------------------------------------------------

TEST(CellTest, BlankIsAny) {
  for (const char* s : {"", "   ", "\t"}) {
    Condition c = Parse(s);
    EXPECT_EQ(c.op(), Op::kAny) << s;
    EXPECT_TRUE(Missing(c));
    EXPECT_TRUE(Text(c, "anything"));
  }
}

TEST(CellTest, BareLiteralIsEqualityAndIsTrimmed) {
  Condition c = Parse("  critical ");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_FALSE(c.negate());
  ASSERT_EQ(c.strings().size(), 1u);
  EXPECT_EQ(c.strings()[0], "critical");
  EXPECT_TRUE(Text(c, "critical"));
  EXPECT_FALSE(Text(c, "Critical"));
  EXPECT_FALSE(Text(c, "critical "));
  EXPECT_FALSE(Missing(c));
  EXPECT_TRUE(c.IsHashable());
}

TEST(CellTest, LiteralWithSpacesInside) {
  Condition c = Parse("disk full");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_TRUE(Text(c, "disk full"));
}

TEST(CellTest, NumericLiteralMatchesNumbersAndText) {
  Condition c = Parse("90");
  EXPECT_TRUE(Num(c, 90));
  EXPECT_TRUE(Text(c, "90"));
  EXPECT_FALSE(Num(c, 90.5));
  Condition d = Parse("90.0");
  EXPECT_TRUE(Num(d, 90));
}

TEST(CellTest, QuotedLiteralKeepsCommasSpacesAndOperators) {
  Condition c = Parse("\"a, b \"");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_EQ(c.strings()[0], "a, b ");
  EXPECT_TRUE(Text(c, "a, b "));
  // Quoting makes operator text literal.
  EXPECT_EQ(Parse("\">= 90\"").strings()[0], ">= 90");
  EXPECT_EQ(Parse("\"in(a)\"").op(), Op::kEq);
  EXPECT_EQ(Parse("\"exists\"").strings()[0], "exists");
  EXPECT_EQ(Parse("\"/x/\"").op(), Op::kEq);
  // Doubled quotes are one quote.
  EXPECT_EQ(Parse("\"say \"\"hi\"\"\"").strings()[0], "say \"hi\"");
  // An empty quoted literal matches the empty string, not a missing field.
  Condition e = Parse("\"\"");
  EXPECT_EQ(e.op(), Op::kEq);
  EXPECT_TRUE(Text(e, ""));
  EXPECT_FALSE(Missing(e));
}

TEST(CellTest, BadQuotedLiteral) {
  EXPECT_NE(ParseError("\"abc").message.find("bad quoted value"), std::string::npos);
  CellError e = ParseError("\"a\"b\"");
  EXPECT_NE(e.message.find("bad quoted value"), std::string::npos);
  EXPECT_EQ(e.offset, 1);
  // The offset counts leading spaces of the cell.
  EXPECT_EQ(ParseError("  \"abc").offset, 3);
}

// ---- Equality and inequality -------------------------------------------------------------

TEST(CellTest, EqualsSpellings) {
  for (const char* s : {"= critical", "=critical", "== critical", "eq(critical)", "EQ(critical)"}) {
    Condition c = Parse(s);
    EXPECT_EQ(c.op(), Op::kEq) << s;
    EXPECT_FALSE(c.negate()) << s;
    EXPECT_FALSE(c.icase()) << s;
    EXPECT_TRUE(Text(c, "critical")) << s;
    EXPECT_FALSE(Text(c, "warning")) << s;
  }
  // `=` with a quoted value.
  EXPECT_EQ(Parse("= \"a, b\"").strings()[0], "a, b");
  // `=` with nothing is the empty string.
  Condition empty = Parse("=");
  EXPECT_EQ(empty.op(), Op::kEq);
  EXPECT_TRUE(Text(empty, ""));
}

TEST(CellTest, NotEqualsSpellingsAreTrueWhenMissing) {
  for (const char* s : {"!= critical", "!=critical", "<> critical", "ne(critical)"}) {
    Condition c = Parse(s);
    EXPECT_EQ(c.op(), Op::kEq) << s;
    EXPECT_TRUE(c.negate()) << s;
    EXPECT_FALSE(Text(c, "critical")) << s;
    EXPECT_TRUE(Text(c, "warning")) << s;
    EXPECT_TRUE(Missing(c)) << s;
    EXPECT_FALSE(c.IsHashable());
  }
  EXPECT_EQ(Parse("!= \"a, b\"").strings()[0], "a, b");
}

TEST(CellTest, NotEqualsNeedsAValue) {
  CellError e = ParseError("!=");
  EXPECT_NE(e.message.find("needs a value"), std::string::npos);
  EXPECT_NE(ParseError("<>  ").message.find("exists"), std::string::npos);
}

TEST(CellTest, CaseInsensitiveEquality) {
  Condition c = Parse("ieq(Critical)");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_TRUE(c.icase());
  EXPECT_TRUE(Text(c, "CRITICAL"));
  EXPECT_TRUE(Text(c, "critical"));
  EXPECT_FALSE(Text(c, "critical!"));
  Condition n = Parse("ine(Critical)");
  EXPECT_TRUE(n.negate());
  EXPECT_FALSE(Text(n, "CRITICAL"));
  EXPECT_TRUE(Text(n, "warning"));
  EXPECT_TRUE(Missing(n));
}

TEST(CellTest, EqTakesExactlyOneValue) {
  EXPECT_NE(ParseError("eq(a, b)").message.find("exactly one value"), std::string::npos);
  EXPECT_NE(ParseError("ne()").message.find("exactly one value"), std::string::npos);
  CellError e = ParseError("ieq(a,b)");
  EXPECT_EQ(e.offset, 5);  // the argument list
}

TEST(CellTest, NotNeAndNotEqAreDoubleNegations) {
  Condition c = Parse("not ne(x)");
  EXPECT_FALSE(c.negate());
  EXPECT_TRUE(Text(c, "x"));
  Condition d = Parse("not eq(x)");
  EXPECT_TRUE(d.negate());
  EXPECT_FALSE(Text(d, "x"));
}

// ---- Sets ---------------------------------------------------------------------------------

TEST(CellTest, InAndNotIn) {
  Condition c = Parse("in(critical, warning, \"a, b\")");
  EXPECT_EQ(c.op(), Op::kIn);
  EXPECT_EQ(c.strings(), (std::vector<std::string>{"critical", "warning", "a, b"}));
  EXPECT_TRUE(Text(c, "warning"));
  EXPECT_TRUE(Text(c, "a, b"));
  EXPECT_FALSE(Text(c, "info"));
  EXPECT_FALSE(Missing(c));
  EXPECT_TRUE(c.IsHashable());

  Condition n = Parse("not in(critical, warning)");
  EXPECT_EQ(n.op(), Op::kIn);
  EXPECT_TRUE(n.negate());
  EXPECT_FALSE(Text(n, "critical"));
  EXPECT_TRUE(Text(n, "info"));
  EXPECT_TRUE(Missing(n));
  EXPECT_EQ(Parse("NOT in(a)").negate(), true);
  EXPECT_EQ(Parse("IN(a)").op(), Op::kIn);
}

TEST(CellTest, InWithNumbers) {
  Condition c = Parse("in(80, 90)");
  EXPECT_TRUE(Num(c, 90));
  EXPECT_FALSE(Num(c, 85));
}

TEST(CellTest, CaseInsensitiveIn) {
  Condition c = Parse("iin(Critical, WARNING)");
  EXPECT_TRUE(c.icase());
  EXPECT_EQ(c.strings(), (std::vector<std::string>{"critical", "warning"}));
  EXPECT_TRUE(Text(c, "CRITICAL"));
  EXPECT_TRUE(Text(c, "Warning"));
  EXPECT_FALSE(Text(c, "info"));
  Condition n = Parse("not iin(a, b)");
  EXPECT_TRUE(n.negate());
  EXPECT_FALSE(Text(n, "A"));
  EXPECT_TRUE(Text(n, "c"));
}

TEST(CellTest, InNeedsAValue) {
  EXPECT_NE(ParseError("in()").message.find("at least one value"), std::string::npos);
  EXPECT_NE(ParseError("iin(  )").message.find("at least one value"), std::string::npos);
}

// ---- Numeric comparisons and ranges ---------------------------------------------------------

TEST(CellTest, Comparisons) {
  struct Case {
    const char* cell;
    double below, at, above;  // expected for 89, 90, 91 as 0/1
  };
  for (const Case& k : {Case{"< 90", 1, 0, 0}, Case{"<= 90", 1, 1, 0}, Case{"> 90", 0, 0, 1},
                        Case{">= 90", 0, 1, 1}, Case{">=90", 0, 1, 1}, Case{"<90", 1, 0, 0}}) {
    Condition c = Parse(k.cell);
    EXPECT_EQ(c.op(), Op::kLess) << k.cell;
    EXPECT_EQ(Num(c, 89), k.below == 1) << k.cell;
    EXPECT_EQ(Num(c, 90), k.at == 1) << k.cell;
    EXPECT_EQ(Num(c, 91), k.above == 1) << k.cell;
    EXPECT_FALSE(Missing(c)) << k.cell;
  }
  // Numeric text compares as a number; other text never does.
  Condition ge = Parse(">= 90");
  EXPECT_TRUE(Text(ge, "95.5"));
  EXPECT_FALSE(Text(ge, "high"));
  EXPECT_TRUE(Num(Parse("> -1.5e3"), -1000));
  EXPECT_EQ(Parse(">= 90").Describe(), ">= 90");
}

TEST(CellTest, NegatedComparison) {
  Condition c = Parse("not >= 90");
  EXPECT_TRUE(c.negate());
  EXPECT_TRUE(Num(c, 89));
  EXPECT_FALSE(Num(c, 90));
  EXPECT_TRUE(Missing(c));
}

TEST(CellTest, BadNumber) {
  CellError e = ParseError(">= ninety");
  EXPECT_EQ(e.message, "'>=' needs a number, got 'ninety'");
  EXPECT_EQ(e.offset, 3);
  CellError f = ParseError("< ");
  EXPECT_NE(f.message.find("needs a number"), std::string::npos);
  EXPECT_EQ(f.offset, 2);
  EXPECT_NE(ParseError("> 1,5").message.find("'1,5'"), std::string::npos);
  EXPECT_NE(ParseError("<= inf").message.find("needs a number"), std::string::npos);
}

TEST(CellTest, Ranges) {
  Condition half_open = Parse("[80,90)");
  EXPECT_EQ(half_open.op(), Op::kLess);
  EXPECT_TRUE(Num(half_open, 80));
  EXPECT_TRUE(Num(half_open, 89.99));
  EXPECT_FALSE(Num(half_open, 90));
  EXPECT_FALSE(Num(half_open, 79.9));

  Condition other = Parse("(80, 90]");
  EXPECT_FALSE(Num(other, 80));
  EXPECT_TRUE(Num(other, 90));

  Condition closed = Parse("[80,90]");
  EXPECT_TRUE(Num(closed, 80));
  EXPECT_TRUE(Num(closed, 90));

  Condition open = Parse("(80,90)");
  EXPECT_FALSE(Num(open, 80));
  EXPECT_FALSE(Num(open, 90));
  EXPECT_TRUE(Num(open, 85));

  EXPECT_FALSE(Missing(closed));
}

TEST(CellTest, RangesWithOpenEnds) {
  Condition hi = Parse("[90,*)");
  EXPECT_TRUE(Num(hi, 90));
  EXPECT_TRUE(Num(hi, 1e300));
  EXPECT_FALSE(Num(hi, 89));
  EXPECT_TRUE(std::isinf(hi.range().hi));
  Condition lo = Parse("(*, 10]");
  EXPECT_TRUE(Num(lo, -1e300));
  EXPECT_TRUE(Num(lo, 10));
  EXPECT_FALSE(Num(lo, 10.5));
  Condition all = Parse("[*,*]");
  EXPECT_TRUE(Num(all, 0));
  EXPECT_FALSE(all.range().lo_incl);  // an infinite end is never "included"
  // An empty bound is an open end too.
  EXPECT_TRUE(Num(Parse("[5,)"), 1e9));
}

TEST(CellTest, NegatedRange) {
  Condition c = Parse("not [80,90)");
  EXPECT_TRUE(c.negate());
  EXPECT_TRUE(Num(c, 79));
  EXPECT_FALSE(Num(c, 85));
  EXPECT_TRUE(Num(c, 90));
}

TEST(CellTest, BadRanges) {
  CellError a = ParseError("[80)");
  EXPECT_NE(a.message.find("two bounds"), std::string::npos);
  EXPECT_EQ(a.offset, 1);
  CellError b = ParseError("[x,90)");
  EXPECT_EQ(b.message, "range low bound 'x' is not a number");
  EXPECT_EQ(b.offset, 2);
  CellError c = ParseError("[80,y)");
  EXPECT_EQ(c.message, "range high bound 'y' is not a number");
  EXPECT_EQ(c.offset, 5);
  CellError d = ParseError("[90,80]");
  EXPECT_NE(d.message.find("empty range"), std::string::npos);
  CellError e = ParseError("not [x,1]");
  EXPECT_EQ(e.offset, 6);
}

TEST(CellTest, RangeThatCanNeverMatchIsAnError) {
  // Equal bounds with an open end contain no number: the row could never fire.
  EXPECT_NE(ParseError("[5,5)").message.find("empty range"), std::string::npos);
  EXPECT_NE(ParseError("(5,5]").message.find("empty range"), std::string::npos);
  EXPECT_NE(ParseError("(5,5)").message.find("empty range"), std::string::npos);
  // [5,5] holds exactly one number.
  EXPECT_TRUE(Num(Parse("[5,5]"), 5));
}

TEST(CellTest, UnclosedRangeIsAnErrorNotALiteralRegression) {
  // "[80,90" used to be read as the literal text "[80,90" and silently never matched.
  CellError e = ParseError("[80,90");
  EXPECT_NE(e.message.find("unclosed range"), std::string::npos) << e.message;
  EXPECT_EQ(e.offset, 7);  // 1-based: just past the last character, where ']' is missing
  EXPECT_NE(ParseError("not (0, 5").message.find("unclosed range"), std::string::npos);
  // Text that merely starts with a bracket stays a literal.
  EXPECT_EQ(Parse("[maintenance] db01").op(), Op::kEq);
  EXPECT_EQ(Parse("\"[80,90\"").op(), Op::kEq);
}

// ---- Regular expressions -------------------------------------------------------------------

TEST(CellTest, SlashRegex) {
  Condition c = Parse("/disk.*full/");
  EXPECT_EQ(c.op(), Op::kRegex);
  EXPECT_EQ(c.pattern(), "disk.*full");
  EXPECT_FALSE(c.icase());
  EXPECT_TRUE(Text(c, "the disk is full now"));  // unanchored search
  EXPECT_FALSE(Text(c, "DISK FULL"));
  EXPECT_FALSE(Missing(c));
  Condition i = Parse("/disk.*full/i");
  EXPECT_TRUE(i.icase());
  EXPECT_TRUE(Text(i, "DISK FULL"));
  // Numbers are matched through their text form.
  EXPECT_TRUE(Num(Parse("/^9\\d$/"), 95));
}

TEST(CellTest, SlashTextThatIsNotARegex) {
  // A lone slash and a path are literals.
  EXPECT_EQ(Parse("/").op(), Op::kEq);
  EXPECT_EQ(Parse("/var/log").op(), Op::kEq);
  EXPECT_EQ(Parse("/var/log").strings()[0], "/var/log");
  EXPECT_EQ(Parse("//").op(), Op::kEq);
}

TEST(CellTest, NegatedRegex) {
  Condition c = Parse("not /tmp/");
  EXPECT_EQ(c.op(), Op::kRegex);
  EXPECT_TRUE(c.negate());
  EXPECT_FALSE(Text(c, "/tmp/x"));
  EXPECT_TRUE(Text(c, "/var"));
  EXPECT_TRUE(Missing(c));
  EXPECT_TRUE(Parse("not /TMP/i").icase());
}

TEST(CellTest, RegexFunctionForms) {
  Condition a = Parse("regex(^a{1,3}b$)");
  EXPECT_EQ(a.op(), Op::kRegex);
  EXPECT_EQ(a.pattern(), "^a{1,3}b$");  // commas belong to the pattern
  EXPECT_TRUE(Text(a, "aab"));
  EXPECT_FALSE(Text(a, "aaaab"));
  Condition b = Parse("re(x|y)");
  EXPECT_EQ(b.op(), Op::kRegex);
  EXPECT_TRUE(Text(b, "y"));
  Condition c = Parse("iregex(^ERR)");
  EXPECT_TRUE(c.icase());
  EXPECT_TRUE(Text(c, "error: x"));
  Condition d = Parse("not regex(^tmp)");
  EXPECT_TRUE(d.negate());
  EXPECT_FALSE(Text(d, "tmpfs"));
}

TEST(CellTest, BadRegexCarriesRe2Error) {
  CellError e = ParseError("/disk(full/");
  EXPECT_NE(e.message.find("bad regular expression"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("missing )"), std::string::npos) << e.message;
  EXPECT_EQ(e.offset, 1);
  CellError f = ParseError("regex(a**)");
  EXPECT_NE(f.message.find("bad repetition operator"), std::string::npos) << f.message;
  EXPECT_EQ(f.offset, 7);
  CellError g = ParseError("not /[z-a]/");
  EXPECT_NE(g.message.find("invalid character class range: z-a"), std::string::npos) << g.message;
  EXPECT_EQ(g.offset, 5);
}

// ---- Strings -----------------------------------------------------------------------------

TEST(CellTest, PrefixSuffixContains) {
  Condition p = Parse("prefix(/var, /tmp)");
  EXPECT_EQ(p.op(), Op::kPrefix);
  EXPECT_TRUE(Text(p, "/var/log"));
  EXPECT_TRUE(Text(p, "/tmp"));
  EXPECT_FALSE(Text(p, "/usr"));
  EXPECT_FALSE(Missing(p));
  Condition s = Parse("suffix(.log)");
  EXPECT_EQ(s.op(), Op::kSuffix);
  EXPECT_TRUE(Text(s, "a.log"));
  EXPECT_FALSE(Text(s, "a.log.gz"));
  Condition c = Parse("contains(timeout, \"refused, reset\")");
  EXPECT_EQ(c.op(), Op::kContains);
  EXPECT_TRUE(Text(c, "connection refused, reset by peer"));
  EXPECT_TRUE(Text(c, "a timeout"));
  EXPECT_FALSE(Text(c, "refused"));
}

TEST(CellTest, CaseInsensitiveStringOperators) {
  Condition p = Parse("iprefix(Node)");
  EXPECT_TRUE(p.icase());
  EXPECT_EQ(p.op(), Op::kPrefix);
  EXPECT_TRUE(Text(p, "NODEdown"));
  Condition s = Parse("isuffix(.LOG)");
  EXPECT_EQ(s.op(), Op::kSuffix);
  EXPECT_TRUE(Text(s, "app.log"));
  Condition c = Parse("icontains(Timeout)");
  EXPECT_EQ(c.op(), Op::kContains);
  EXPECT_TRUE(Text(c, "read TIMEOUT"));
  EXPECT_FALSE(Text(Parse("contains(Timeout)"), "read TIMEOUT"));
}

TEST(CellTest, NegatedStringOperators) {
  Condition c = Parse("not prefix(tmp)");
  EXPECT_TRUE(c.negate());
  EXPECT_FALSE(Text(c, "tmpfs"));
  EXPECT_TRUE(Text(c, "ext4"));
  EXPECT_TRUE(Missing(c));
  EXPECT_TRUE(Parse("not isuffix(x)").negate());
  EXPECT_TRUE(Parse("not icontains(x)").negate());
}

TEST(CellTest, StringOperatorsNeedNonEmptyValues) {
  EXPECT_NE(ParseError("prefix()").message.find("at least one value"), std::string::npos);
  EXPECT_NE(ParseError("suffix(a,)").message.find("empty value"), std::string::npos);
  // `contains("")` is one empty value, reported as no value at all.
  EXPECT_NE(ParseError("contains(\"\")").message.find("at least one value"), std::string::npos);
}

// ---- exists / missing ----------------------------------------------------------------------

TEST(CellTest, ExistsAndMissing) {
  Condition e = Parse("exists");
  EXPECT_EQ(e.op(), Op::kExists);
  EXPECT_TRUE(Text(e, ""));
  EXPECT_FALSE(Missing(e));
  Condition m = Parse("missing");
  EXPECT_EQ(m.op(), Op::kMissing);
  EXPECT_TRUE(Missing(m));
  EXPECT_FALSE(Text(m, "x"));
  EXPECT_EQ(Parse("not exists").op(), Op::kMissing);
  EXPECT_EQ(Parse("not missing").op(), Op::kExists);
}

// ---- cidr ---------------------------------------------------------------------------------

TEST(CellTest, Cidr) {
  Condition c = Parse("cidr(10.0.0.0/8, 192.168.1.0/24, 2001:db8::/32)");
  EXPECT_EQ(c.op(), Op::kCidr);
  ASSERT_EQ(c.cidrs().size(), 3u);
  EXPECT_TRUE(Text(c, "10.20.30.40"));
  EXPECT_TRUE(Text(c, "192.168.1.255"));
  EXPECT_FALSE(Text(c, "192.168.2.1"));
  EXPECT_TRUE(Text(c, "2001:db8::1"));
  EXPECT_FALSE(Text(c, "2001:db9::1"));
  EXPECT_FALSE(Text(c, "not an ip"));
  EXPECT_FALSE(Missing(c));
  // A bare address is a /32.
  Condition one = Parse("cidr(10.1.2.3)");
  EXPECT_EQ(one.cidrs()[0].prefix_len, 32);
  EXPECT_TRUE(Text(one, "10.1.2.3"));
  EXPECT_FALSE(Text(one, "10.1.2.4"));
  Condition n = Parse("not cidr(10.0.0.0/8)");
  EXPECT_TRUE(Text(n, "11.0.0.1"));
  EXPECT_FALSE(Text(n, "10.0.0.1"));
}

TEST(CellTest, BadCidr) {
  CellError a = ParseError("cidr(10.0.0.300/8)");
  EXPECT_EQ(a.message, "'10.0.0.300' is not an IPv4 or IPv6 address");
  EXPECT_EQ(a.offset, 6);
  CellError b = ParseError("cidr(10.0.0.0/33)");
  EXPECT_EQ(b.message, "bad prefix length in '10.0.0.0/33' (0-32)");
  EXPECT_NE(ParseError("cidr(::/129)").message.find("(0-128)"), std::string::npos);
  EXPECT_NE(ParseError("cidr(10.0.0.0/x)").message.find("bad prefix length"), std::string::npos);
  EXPECT_NE(ParseError("cidr()").message.find("needs at least one block"), std::string::npos);
  // Regression: a bad block after good ones is pointed at, not the list's start.
  CellError c = ParseError("cidr(10.0.0.0/8, 192.168.0.0/40)");
  EXPECT_EQ(c.offset, 18);
  EXPECT_EQ(ParseError("not cidr(10.0.0.0/8,10.x)").offset, 21);
}

// ---- time() and weekday() --------------------------------------------------------------------

TEST(CellTest, TimeOfDay) {
  Condition c = Parse("time(09:00-18:00)");
  EXPECT_EQ(c.op(), Op::kTimeOfDay);
  ASSERT_EQ(c.minutes().size(), 1u);
  EXPECT_EQ(c.minutes()[0], (std::pair<int, int>{540, 1080}));
  EXPECT_TRUE(Num(c, static_cast<double>(Utc("2026-11-23T09:00:00Z"))));
  EXPECT_TRUE(Num(c, static_cast<double>(Utc("2026-11-23T17:59:59Z"))));
  EXPECT_FALSE(Num(c, static_cast<double>(Utc("2026-11-23T18:00:00Z"))));
  EXPECT_FALSE(Num(c, static_cast<double>(Utc("2026-11-23T08:59:00Z"))));
  // RFC 3339 text works too.
  EXPECT_TRUE(Text(c, "2026-11-23T12:00:00Z"));
  EXPECT_FALSE(Text(c, "not a time"));
  EXPECT_FALSE(Missing(c));
}

TEST(CellTest, TimeOfDayWrapsPastMidnightAndTakesSeveralRanges) {
  Condition c = Parse("time(22:00-06:00, 12:00-12:30)");
  ASSERT_EQ(c.minutes().size(), 2u);
  EXPECT_TRUE(Text(c, "2026-11-23T23:30:00Z"));
  EXPECT_TRUE(Text(c, "2026-11-24T05:59:00Z"));
  EXPECT_FALSE(Text(c, "2026-11-24T06:00:00Z"));
  EXPECT_TRUE(Text(c, "2026-11-24T12:15:00Z"));
  EXPECT_FALSE(Text(c, "2026-11-24T12:30:00Z"));
  Condition end = Parse("time(18:00-24:00)");
  EXPECT_TRUE(Text(end, "2026-11-24T23:59:00Z"));
  EXPECT_FALSE(Text(end, "2026-11-24T00:00:00Z"));
}

TEST(CellTest, TimeOfDayUsesTableTimezone) {
  // 09:00-18:00 at +09:00 is 00:00-09:00 UTC.
  Condition c = Parse("time(09:00-18:00)", 9 * 60);
  EXPECT_EQ(c.tz_offset_min(), 540);
  EXPECT_TRUE(Text(c, "2026-11-23T01:00:00Z"));
  EXPECT_FALSE(Text(c, "2026-11-23T10:00:00Z"));
  Condition n = Parse("not time(09:00-18:00)");
  EXPECT_TRUE(n.negate());
  EXPECT_TRUE(Text(n, "2026-11-23T20:00:00Z"));
}

TEST(CellTest, BadTime) {
  CellError a = ParseError("time(9-18)");
  EXPECT_EQ(a.message, "bad time range '9-18' (expected HH:MM-HH:MM)");
  EXPECT_EQ(a.offset, 6);
  EXPECT_EQ(ParseError("time(09:00-12:00, 13:00-25:00)").offset, 19);  // the second range
  EXPECT_NE(ParseError("time(25:00-26:00)").message.find("bad time range"), std::string::npos);
  EXPECT_NE(ParseError("time(09:60-10:00)").message.find("bad time range"), std::string::npos);
  EXPECT_NE(ParseError("time(24:30-01:00)").message.find("bad time range"), std::string::npos);
  EXPECT_NE(ParseError("time(09:00)").message.find("bad time range"), std::string::npos);
  EXPECT_NE(ParseError("time(09:00-1x:00)").message.find("bad time range"), std::string::npos);
  EXPECT_NE(ParseError("time()").message.find("needs a range"), std::string::npos);
}

TEST(CellTest, Weekday) {
  Condition c = Parse("weekday(mon-fri)");
  EXPECT_EQ(c.op(), Op::kWeekday);
  EXPECT_EQ(c.weekdays(), 0b0111110);
  EXPECT_TRUE(Text(c, "2026-11-23T12:00:00Z"));   // Monday
  EXPECT_TRUE(Text(c, "2026-11-27T12:00:00Z"));   // Friday
  EXPECT_FALSE(Text(c, "2026-11-28T12:00:00Z"));  // Saturday
  EXPECT_FALSE(Text(c, "2026-11-29T12:00:00Z"));  // Sunday
  Condition we = Parse("weekday(sat, Sunday)");
  EXPECT_EQ(we.weekdays(), 0b1000001);
  // A wrapping range.
  EXPECT_EQ(Parse("weekday(fri-mon)").weekdays(), 0b1100011);
  EXPECT_EQ(Parse("WEEKDAY(WED)").weekdays(), 0b0001000);
  Condition n = Parse("not weekday(sat,sun)");
  EXPECT_TRUE(Text(n, "2026-11-23T12:00:00Z"));
}

TEST(CellTest, WeekdayUsesTableTimezone) {
  // Sunday 20:00 UTC is Monday 05:00 at +09:00.
  Condition c = Parse("weekday(mon)", 9 * 60);
  EXPECT_TRUE(Text(c, "2026-11-22T20:00:00Z"));
  EXPECT_FALSE(Text(c, "2026-11-22T10:00:00Z"));
  // And Monday 02:00 UTC is Sunday at -05:00.
  Condition d = Parse("weekday(sun)", -5 * 60);
  EXPECT_TRUE(Text(d, "2026-11-23T02:00:00Z"));
}

TEST(CellTest, BadWeekday) {
  CellError a = ParseError("weekday(funday)");
  EXPECT_EQ(a.message, "bad weekday 'funday' (use sun, mon, tue, wed, thu, fri, sat)");
  EXPECT_EQ(a.offset, 9);
  EXPECT_EQ(ParseError("weekday(mon-fri, sat, sundae)").offset, 23);  // the third day
  EXPECT_NE(ParseError("weekday(mon-xyz)").message.find("bad weekday 'mon-xyz'"),
            std::string::npos);
  EXPECT_NE(ParseError("weekday()").message.find("needs days"), std::string::npos);
}

// ---- Unknown operators and structure ---------------------------------------------------------

TEST(CellTest, UnknownOperator) {
  CellError e = ParseError("startswith(a)");
  EXPECT_EQ(e.message,
            "unknown operator 'startswith' (quote the cell to match the text literally)");
  EXPECT_EQ(e.offset, 1);
  CellError n = ParseError("not foo(a)");
  EXPECT_NE(n.message.find("unknown operator 'foo'"), std::string::npos);
  EXPECT_EQ(n.offset, 5);
  // Quoting makes it a literal.
  EXPECT_EQ(Parse("\"startswith(a)\"").strings()[0], "startswith(a)");
}

TEST(CellTest, TextWithParenthesesButNoOperatorNameIsLiteral) {
  // A space in the "name" means it is not a function form.
  Condition c = Parse("disk full (sda)");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_EQ(c.strings()[0], "disk full (sda)");
}

TEST(CellTest, UnbalancedParens) {
  CellError a = ParseError("in(a, b");
  EXPECT_EQ(a.message, "missing ')' at the end of in(...)");
  EXPECT_EQ(a.offset, 7);
  CellError b = ParseError("not prefix(x");
  EXPECT_NE(b.message.find("missing ')'"), std::string::npos);
  EXPECT_EQ(b.offset, 12);
  CellError c = ParseError("in(\"a, b)");
  EXPECT_NE(c.message.find("unterminated quote"), std::string::npos);
  EXPECT_EQ(c.offset, 4);
}

TEST(CellTest, NotWithoutOperator) {
  CellError e = ParseError("not critical");
  EXPECT_NE(e.message.find("'not' must be followed by an operator"), std::string::npos);
  EXPECT_EQ(e.offset, 1);
  // `not` alone, or as a prefix of a word, is a literal.
  EXPECT_EQ(Parse("not").strings()[0], "not");
  EXPECT_EQ(Parse("nothing").strings()[0], "nothing");
}

TEST(CellTest, NotWithQuotedLiteralIsNotEqual) {
  Condition c = Parse("not \"a b\"");
  EXPECT_EQ(c.op(), Op::kEq);
  EXPECT_TRUE(c.negate());
  EXPECT_FALSE(Text(c, "a b"));
  EXPECT_TRUE(Text(c, "c"));
}

TEST(CellTest, EqualsSignEscapesOperatorText) {
  EXPECT_EQ(Parse("= in(a)").op(), Op::kEq);
  EXPECT_EQ(Parse("= in(a)").strings()[0], "in(a)");
  EXPECT_EQ(Parse("= /x/").strings()[0], "/x/");
  EXPECT_EQ(Parse("= exists").strings()[0], "exists");
}

TEST(CellTest, SpacesInsideArgumentsAreTrimmed) {
  EXPECT_EQ(Parse("time( 09:00 - 18:00 )").minutes()[0], (std::pair<int, int>{540, 1080}));
  EXPECT_EQ(Parse("weekday( mon - fri )").weekdays(), 0b0111110);
  EXPECT_TRUE(Text(Parse("cidr( 10.0.0.0/8 )"), "10.9.9.9"));
  EXPECT_EQ(Parse("in( a ,b )").strings(), (std::vector<std::string>{"a", "b"}));
}

TEST(CellTest, OffsetsCountLeadingSpacesAndNot) {
  EXPECT_EQ(ParseError("  not foo(a)").offset, 7);
  EXPECT_EQ(ParseError("  >= x").offset, 5);
  EXPECT_EQ(ParseError("not != x").offset, 1);
}

TEST(CellTest, DescribeRoundTrips) {
  for (const char* s :
       {"= a", "!= a", "in(a, b)", "not in(a, b)", "iin(a, b)", ">= 90", "< 5", "[80,90)",
        "(80,90]", "/x/", "/x/i", "not /x/", "prefix(a, b)", "isuffix(a)", "not contains(a)",
        "exists", "missing", "cidr(10.0.0.0/8)", "time(09:00-18:00)"}) {
    Condition c = Parse(s);
    EXPECT_EQ(c.Describe(), s);
    Condition again = Parse(c.Describe());
    EXPECT_EQ(again.Describe(), s);
  }
}

// ---- Helpers ------------------------------------------------------------------------------

TEST(SplitArgsTest, SplitsTrimsAndUnquotes) {
  std::vector<std::string> v;
  std::string err;
  ASSERT_TRUE(SplitArgs(" a , b,\"c, d\" , \"e \"\"f\"\"\"", &v, &err));
  EXPECT_EQ(v, (std::vector<std::string>{"a", "b", "c, d", "e \"f\""}));
  ASSERT_TRUE(SplitArgs("", &v, &err));
  EXPECT_TRUE(v.empty());
  ASSERT_TRUE(SplitArgs("a,,b", &v, &err));
  EXPECT_EQ(v, (std::vector<std::string>{"a", "", "b"}));
  // Spaces inside a quoted argument are kept.
  ASSERT_TRUE(SplitArgs("\" x \"", &v, &err));
  EXPECT_EQ(v, (std::vector<std::string>{" x "}));
  EXPECT_FALSE(SplitArgs("a, \"b", &v, &err));
  EXPECT_EQ(err, "unterminated quote in argument list");
}

TEST(ParseTzOffsetTest, Forms) {
  int m = -1;
  EXPECT_TRUE(ParseTzOffset("+09:00", &m));
  EXPECT_EQ(m, 540);
  EXPECT_TRUE(ParseTzOffset("-05:30", &m));
  EXPECT_EQ(m, -330);
  EXPECT_TRUE(ParseTzOffset("Z", &m));
  EXPECT_EQ(m, 0);
  EXPECT_TRUE(ParseTzOffset("UTC", &m));
  EXPECT_EQ(m, 0);
  EXPECT_FALSE(ParseTzOffset("+9", &m));
  EXPECT_FALSE(ParseTzOffset("+15:00", &m));
  EXPECT_FALSE(ParseTzOffset("+09:60", &m));
  EXPECT_FALSE(ParseTzOffset("Europe/Paris", &m));
}

}  // namespace
}  // namespace reflex::rules
