#include "reflex/engine/condition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Ge;
using testing::Gt;
using testing::kInf;
using testing::Le;
using testing::Lt;
using testing::Re;

FieldValue T(std::string_view s) { return FieldValue::Text(s); }
FieldValue N(double d) { return FieldValue::Number(d); }
const FieldValue kMissing;

CidrBlock Block(const char* ip, int len) {
  CidrBlock b;
  EXPECT_TRUE(ParseIp(ip, b.addr, &b.v6)) << ip;
  b.prefix_len = len;
  return b;
}

TEST(ConditionTest, AnyMatchesEverything) {
  Condition c = Condition::Any();
  EXPECT_EQ(c.op(), Op::kAny);
  EXPECT_TRUE(c.Evaluate(kMissing));
  EXPECT_TRUE(c.Evaluate(T("")));
  EXPECT_TRUE(c.Evaluate(N(1)));
  EXPECT_EQ(c.Describe(), "(any)");
  EXPECT_EQ(Condition().op(), Op::kAny);
}

TEST(ConditionTest, EqualsTextAndNumbers) {
  Condition c = Condition::Equals("web1");
  EXPECT_TRUE(c.IsHashable());
  EXPECT_TRUE(c.Evaluate(T("web1")));
  EXPECT_FALSE(c.Evaluate(T("WEB1")));
  EXPECT_FALSE(c.Evaluate(T("web10")));
  EXPECT_FALSE(c.Evaluate(kMissing));
  EXPECT_EQ(c.Describe(), "= web1");

  // A numeric literal equals the number, whatever its spelling; a text value must agree
  // as text.
  Condition n = Condition::Equals("90.0");
  EXPECT_TRUE(n.Evaluate(N(90)));
  EXPECT_TRUE(n.Evaluate(T("90.0")));
  EXPECT_FALSE(n.Evaluate(T("90")));
  EXPECT_FALSE(n.Evaluate(N(90.5)));
  EXPECT_TRUE(Condition::Equals("1e2").Evaluate(N(100)));
  EXPECT_TRUE(Condition::Equals("90").Evaluate(N(90)));
  EXPECT_EQ(n.numbers().size(), 1u);
  EXPECT_EQ(n.numbers()[0], 90.0);
  EXPECT_TRUE(std::isnan(c.numbers()[0]));
}

TEST(ConditionTest, EqualsCaseInsensitiveAndNegated) {
  Condition i = Condition::Equals("Web1", /*icase=*/true);
  EXPECT_EQ(i.strings()[0], "web1");
  EXPECT_TRUE(i.IsHashable());
  EXPECT_TRUE(i.Evaluate(T("WEB1")));
  EXPECT_TRUE(i.Evaluate(T("web1")));
  EXPECT_FALSE(i.Evaluate(T("web2")));
  EXPECT_EQ(i.Describe(), "ieq(web1)");

  Condition ne = Condition::Equals("web1", false, /*negate=*/true);
  EXPECT_FALSE(ne.IsHashable());
  EXPECT_FALSE(ne.Evaluate(T("web1")));
  EXPECT_TRUE(ne.Evaluate(T("web2")));
  EXPECT_TRUE(ne.Evaluate(kMissing));  // a missing field is not equal to anything
  EXPECT_EQ(ne.Describe(), "!= web1");
  EXPECT_EQ(Condition::Equals("A", true, true).Describe(), "ine(a)");
  EXPECT_FALSE(Condition::Equals("A", true, true).Evaluate(T("a")));
}

TEST(ConditionTest, In) {
  Condition c = Condition::In({"a", "b", "7"});
  EXPECT_TRUE(c.IsHashable());
  EXPECT_TRUE(c.Evaluate(T("a")));
  EXPECT_TRUE(c.Evaluate(T("b")));
  EXPECT_TRUE(c.Evaluate(N(7)));
  EXPECT_FALSE(c.Evaluate(T("A")));
  EXPECT_FALSE(c.Evaluate(T("c")));
  EXPECT_FALSE(c.Evaluate(kMissing));
  EXPECT_EQ(c.Describe(), "in(a, b, 7)");

  Condition i = Condition::In({"A", "B"}, true);
  EXPECT_TRUE(i.Evaluate(T("a")));
  EXPECT_TRUE(i.Evaluate(T("B")));
  EXPECT_EQ(i.Describe(), "iin(a, b)");

  Condition ni = Condition::In({"a", "b"}, false, true);
  EXPECT_FALSE(ni.IsHashable());
  EXPECT_FALSE(ni.Evaluate(T("a")));
  EXPECT_TRUE(ni.Evaluate(T("c")));
  EXPECT_TRUE(ni.Evaluate(kMissing));
  EXPECT_EQ(ni.Describe(), "not in(a, b)");
}

TEST(ConditionTest, Comparisons) {
  EXPECT_TRUE(Ge(90).Evaluate(N(90)));
  EXPECT_TRUE(Ge(90).Evaluate(N(91)));
  EXPECT_FALSE(Ge(90).Evaluate(N(89.99)));
  EXPECT_FALSE(Gt(90).Evaluate(N(90)));
  EXPECT_TRUE(Gt(90).Evaluate(N(90.01)));
  EXPECT_TRUE(Le(5).Evaluate(N(5)));
  EXPECT_FALSE(Le(5).Evaluate(N(5.1)));
  EXPECT_FALSE(Lt(5).Evaluate(N(5)));
  EXPECT_TRUE(Lt(5).Evaluate(N(-1e300)));
  // Text that is a number compares numerically; other text and missing never match.
  EXPECT_TRUE(Ge(90).Evaluate(T("95")));
  EXPECT_TRUE(Ge(90).Evaluate(T("1e3")));
  EXPECT_FALSE(Ge(90).Evaluate(T("abc")));
  EXPECT_FALSE(Ge(90).Evaluate(T("")));
  EXPECT_FALSE(Ge(90).Evaluate(kMissing));
  EXPECT_FALSE(Lt(5).Evaluate(kMissing));
  EXPECT_FALSE(Lt(100).Evaluate(T("9 9")));

  EXPECT_EQ(Ge(90).Describe(), ">= 90");
  EXPECT_EQ(Gt(90.5).Describe(), "> 90.5");
  EXPECT_EQ(Le(5).Describe(), "<= 5");
  EXPECT_EQ(Lt(5).Describe(), "< 5");
  EXPECT_EQ(Ge(90).op(), Op::kLess);
}

TEST(ConditionTest, Ranges) {
  Condition half_open = Condition::Range(NumRange{80, 90, true, false});  // [80,90)
  EXPECT_TRUE(half_open.Evaluate(N(80)));
  EXPECT_TRUE(half_open.Evaluate(N(89.999)));
  EXPECT_FALSE(half_open.Evaluate(N(90)));
  EXPECT_FALSE(half_open.Evaluate(N(79.9)));
  EXPECT_EQ(half_open.Describe(), "[80,90)");
  Condition other = Condition::Range(NumRange{80, 90, false, true});  // (80,90]
  EXPECT_FALSE(other.Evaluate(N(80)));
  EXPECT_TRUE(other.Evaluate(N(90)));
  EXPECT_EQ(other.Describe(), "(80,90]");
  Condition all = Condition::Range(NumRange{-kInf, kInf, false, false});
  EXPECT_TRUE(all.Evaluate(N(0)));
  EXPECT_FALSE(all.Evaluate(T("x")));
  EXPECT_EQ(all.Describe(), "(*,*)");

  Condition neg = Condition::Range(NumRange{80, 90, true, false}, /*negate=*/true);
  EXPECT_FALSE(neg.Evaluate(N(85)));
  EXPECT_TRUE(neg.Evaluate(N(95)));
  EXPECT_TRUE(neg.Evaluate(T("abc")));  // not a number: not in the range
  EXPECT_TRUE(neg.Evaluate(kMissing));
  EXPECT_EQ(neg.Describe(), "not [80,90)");
}

TEST(ConditionTest, Regex) {
  Condition c = Re("disk.*full");
  EXPECT_EQ(c.op(), Op::kRegex);
  EXPECT_EQ(c.pattern(), "disk.*full");
  EXPECT_NE(c.regex(), nullptr);
  EXPECT_TRUE(c.Evaluate(T("the disk is full!")));  // unanchored search
  EXPECT_FALSE(c.Evaluate(T("DISK FULL")));
  EXPECT_FALSE(c.Evaluate(kMissing));
  EXPECT_EQ(c.Describe(), "/disk.*full/");
  EXPECT_TRUE(Re("^9\\d$").Evaluate(N(93)));  // numbers match on their text
  EXPECT_FALSE(Re("^9\\d$").Evaluate(N(930)));

  Condition i = Re("disk.*full", /*icase=*/true);
  EXPECT_TRUE(i.Evaluate(T("DISK FULL")));
  EXPECT_EQ(i.Describe(), "/disk.*full/i");

  Condition n = Re("^web", false, /*negate=*/true);
  EXPECT_FALSE(n.Evaluate(T("web1")));
  EXPECT_TRUE(n.Evaluate(T("db1")));
  EXPECT_TRUE(n.Evaluate(kMissing));
  EXPECT_EQ(n.Describe(), "not /^web/");

  auto bad = Condition::Regex("(unclosed");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad regular expression"), std::string::npos);
}

TEST(ConditionTest, PrefixSuffixContains) {
  Condition p = Condition::Prefix({"web", "api"});
  EXPECT_TRUE(p.Evaluate(T("web1")));
  EXPECT_TRUE(p.Evaluate(T("api")));
  EXPECT_FALSE(p.Evaluate(T("WEB1")));
  EXPECT_FALSE(p.Evaluate(T("we")));
  EXPECT_FALSE(p.Evaluate(kMissing));
  EXPECT_EQ(p.Describe(), "prefix(web, api)");
  EXPECT_TRUE(Condition::Prefix({"WEB"}, true).Evaluate(T("Web1")));
  EXPECT_EQ(Condition::Prefix({"WEB"}, true).Describe(), "iprefix(web)");

  Condition s = Condition::Suffix({".example.com", ".local"});
  EXPECT_TRUE(s.Evaluate(T("a.example.com")));
  EXPECT_TRUE(s.Evaluate(T(".local")));
  EXPECT_FALSE(s.Evaluate(T("local")));
  EXPECT_FALSE(s.Evaluate(T("a.example.com.")));
  EXPECT_TRUE(Condition::Suffix({".COM"}, true).Evaluate(T("x.Com")));
  EXPECT_EQ(s.Describe(), "suffix(.example.com, .local)");

  Condition c = Condition::Contains({"timeout", "refused"});
  EXPECT_TRUE(c.Evaluate(T("connection refused by peer")));
  EXPECT_TRUE(c.Evaluate(T("timeout")));
  EXPECT_FALSE(c.Evaluate(T("TIMEOUT")));
  EXPECT_TRUE(Condition::Contains({"TimeOut"}, true).Evaluate(T("read TIMEOUT")));
  EXPECT_TRUE(Condition::Contains({"5"}).Evaluate(N(25)));
  EXPECT_EQ(Condition::Contains({"X"}, true, true).Describe(), "not icontains(x)");

  Condition nc = Condition::Contains({"debug"}, false, true);
  EXPECT_TRUE(nc.Evaluate(T("error")));
  EXPECT_FALSE(nc.Evaluate(T("a debug line")));
  EXPECT_TRUE(nc.Evaluate(kMissing));
  // The empty string is a prefix, suffix and substring of everything present.
  EXPECT_TRUE(Condition::Prefix({""}).Evaluate(T("")));
  EXPECT_TRUE(Condition::Suffix({""}).Evaluate(T("x")));
  EXPECT_FALSE(Condition::Contains({""}).Evaluate(kMissing));
}

TEST(ConditionTest, ExistsAndMissing) {
  Condition e = Condition::Exists();
  Condition m = Condition::Missing();
  EXPECT_TRUE(e.Evaluate(T("")));
  EXPECT_TRUE(e.Evaluate(N(0)));
  EXPECT_FALSE(e.Evaluate(kMissing));
  EXPECT_FALSE(m.Evaluate(T("")));
  EXPECT_TRUE(m.Evaluate(kMissing));
  EXPECT_EQ(e.Describe(), "exists");
  EXPECT_EQ(m.Describe(), "missing");
}

TEST(ConditionTest, CidrV4) {
  Condition c = Condition::Cidr({Block("10.0.0.0", 8), Block("192.168.1.0", 24)});
  EXPECT_TRUE(c.Evaluate(T("10.1.2.3")));
  EXPECT_TRUE(c.Evaluate(T("10.255.255.255")));
  EXPECT_TRUE(c.Evaluate(T("192.168.1.77")));
  EXPECT_FALSE(c.Evaluate(T("192.168.2.1")));
  EXPECT_FALSE(c.Evaluate(T("11.0.0.1")));
  EXPECT_FALSE(c.Evaluate(T("not-an-ip")));
  EXPECT_FALSE(c.Evaluate(T("10.0.0.1:8080")));
  EXPECT_FALSE(c.Evaluate(T("::ffff:10.0.0.1")));  // v6 text, v4 blocks
  EXPECT_FALSE(c.Evaluate(kMissing));
  EXPECT_EQ(c.Describe(), "cidr(10.0.0.0/8, 192.168.1.0/24)");
  // Non-byte-aligned prefix.
  Condition odd = Condition::Cidr({Block("172.16.0.0", 12)});
  EXPECT_TRUE(odd.Evaluate(T("172.31.255.1")));
  EXPECT_FALSE(odd.Evaluate(T("172.32.0.1")));
  EXPECT_TRUE(Condition::Cidr({Block("1.2.3.4", 32)}).Evaluate(T("1.2.3.4")));
  EXPECT_FALSE(Condition::Cidr({Block("1.2.3.4", 32)}).Evaluate(T("1.2.3.5")));
  EXPECT_TRUE(Condition::Cidr({Block("0.0.0.0", 0)}).Evaluate(T("8.8.8.8")));

  Condition n = Condition::Cidr({Block("10.0.0.0", 8)}, /*negate=*/true);
  EXPECT_FALSE(n.Evaluate(T("10.0.0.1")));
  EXPECT_TRUE(n.Evaluate(T("8.8.8.8")));
  EXPECT_TRUE(n.Evaluate(T("garbage")));
  EXPECT_TRUE(n.Evaluate(kMissing));
  EXPECT_EQ(n.Describe(), "not cidr(10.0.0.0/8)");
}

TEST(ConditionTest, CidrV6) {
  Condition c = Condition::Cidr({Block("2001:db8::", 32), Block("fe80::", 10)});
  EXPECT_TRUE(c.Evaluate(T("2001:db8::1")));
  EXPECT_TRUE(c.Evaluate(T("2001:0db8:ffff::")));
  EXPECT_TRUE(c.Evaluate(T("fe80::1:2")));
  EXPECT_TRUE(c.Evaluate(T("febf::1")));
  EXPECT_FALSE(c.Evaluate(T("fec0::1")));
  EXPECT_FALSE(c.Evaluate(T("2001:db9::1")));
  EXPECT_FALSE(c.Evaluate(T("10.0.0.1")));
  EXPECT_EQ(c.Describe(), "cidr(2001:db8::/32, fe80::/10)");
}

TEST(ConditionTest, ParseIp) {
  uint8_t ip[16];
  bool v6 = true;
  ASSERT_TRUE(ParseIp("1.2.3.4", ip, &v6));
  EXPECT_FALSE(v6);
  EXPECT_EQ(ip[0], 1);
  EXPECT_EQ(ip[3], 4);
  ASSERT_TRUE(ParseIp("::1", ip, &v6));
  EXPECT_TRUE(v6);
  EXPECT_EQ(ip[15], 1);
  EXPECT_FALSE(ParseIp("", ip, &v6));
  EXPECT_FALSE(ParseIp("1.2.3", ip, &v6));
  EXPECT_FALSE(ParseIp("256.1.1.1", ip, &v6));
  EXPECT_FALSE(ParseIp(std::string(100, '1'), ip, &v6));
}

// 2026-11-24 is a Tuesday.
int64_t At(const char* rfc3339) { return *base::ParseRfc3339Millis(rfc3339); }
FieldValue TimeN(const char* rfc3339) { return N(static_cast<double>(At(rfc3339))); }

TEST(ConditionTest, TimeOfDay) {
  Condition office = Condition::TimeOfDay({{9 * 60, 18 * 60}}, 0);
  EXPECT_TRUE(office.Evaluate(TimeN("2026-11-24T09:00:00Z")));
  EXPECT_TRUE(office.Evaluate(TimeN("2026-11-24T17:59:59.999Z")));
  EXPECT_FALSE(office.Evaluate(TimeN("2026-11-24T18:00:00Z")));
  EXPECT_FALSE(office.Evaluate(TimeN("2026-11-24T08:59:59Z")));
  // RFC 3339 text is read too, as is a numeric string.
  EXPECT_TRUE(office.Evaluate(T("2026-11-24T12:00:00+00:00")));
  EXPECT_FALSE(office.Evaluate(T("2026-11-24T12:00:00-08:00")));  // 20:00 UTC
  EXPECT_TRUE(office.Evaluate(T(std::to_string(At("2026-11-24T12:00:00Z")))));
  EXPECT_FALSE(office.Evaluate(T("noon")));
  EXPECT_FALSE(office.Evaluate(kMissing));
  EXPECT_EQ(office.Describe(), "time(09:00-18:00)");
}

TEST(ConditionTest, TimeOfDayWindowCrossingMidnight) {
  Condition night = Condition::TimeOfDay({{22 * 60, 2 * 60}}, 0);
  EXPECT_TRUE(night.Evaluate(TimeN("2026-11-24T22:00:00Z")));
  EXPECT_TRUE(night.Evaluate(TimeN("2026-11-24T23:59:00Z")));
  EXPECT_TRUE(night.Evaluate(TimeN("2026-11-25T00:00:00Z")));
  EXPECT_TRUE(night.Evaluate(TimeN("2026-11-25T01:59:59Z")));
  EXPECT_FALSE(night.Evaluate(TimeN("2026-11-25T02:00:00Z")));
  EXPECT_FALSE(night.Evaluate(TimeN("2026-11-24T12:00:00Z")));
  EXPECT_FALSE(night.Evaluate(TimeN("2026-11-24T21:59:59Z")));
  // Before the epoch, too.
  EXPECT_TRUE(night.Evaluate(TimeN("1969-12-31T23:30:00Z")));
  EXPECT_FALSE(night.Evaluate(TimeN("1969-12-31T12:30:00Z")));
  Condition two = Condition::TimeOfDay({{9 * 60, 12 * 60}, {22 * 60, 2 * 60}}, 0);
  EXPECT_TRUE(two.Evaluate(TimeN("2026-11-24T10:00:00Z")));
  EXPECT_TRUE(two.Evaluate(TimeN("2026-11-24T23:00:00Z")));
  EXPECT_FALSE(two.Evaluate(TimeN("2026-11-24T15:00:00Z")));
  EXPECT_EQ(two.Describe(), "time(09:00-12:00, 22:00-02:00)");
  Condition not_night = Condition::TimeOfDay({{22 * 60, 2 * 60}}, 0, /*negate=*/true);
  EXPECT_FALSE(not_night.Evaluate(TimeN("2026-11-24T23:00:00Z")));
  EXPECT_TRUE(not_night.Evaluate(TimeN("2026-11-24T12:00:00Z")));
  EXPECT_TRUE(not_night.Evaluate(kMissing));
  EXPECT_EQ(not_night.Describe(), "not time(22:00-02:00)");
}

TEST(ConditionTest, TimeOfDayWithTimezoneOffset) {
  // 09:00-18:00 in UTC+05:30 is 03:30-12:30 UTC.
  Condition ist = Condition::TimeOfDay({{9 * 60, 18 * 60}}, 330);
  EXPECT_EQ(ist.tz_offset_min(), 330);
  EXPECT_TRUE(ist.Evaluate(TimeN("2026-11-24T03:30:00Z")));
  EXPECT_FALSE(ist.Evaluate(TimeN("2026-11-24T03:29:59Z")));
  EXPECT_TRUE(ist.Evaluate(TimeN("2026-11-24T12:29:00Z")));
  EXPECT_FALSE(ist.Evaluate(TimeN("2026-11-24T12:30:00Z")));
  // UTC-08:00: 09:00 local is 17:00 UTC.
  Condition pst = Condition::TimeOfDay({{9 * 60, 18 * 60}}, -480);
  EXPECT_TRUE(pst.Evaluate(TimeN("2026-11-24T17:00:00Z")));
  EXPECT_TRUE(pst.Evaluate(TimeN("2026-11-25T01:59:00Z")));
  EXPECT_FALSE(pst.Evaluate(TimeN("2026-11-24T16:59:00Z")));
}

TEST(ConditionTest, Weekday) {
  constexpr uint8_t kMonFri = 0b0111110;
  Condition wd = Condition::Weekday(kMonFri, 0);
  EXPECT_TRUE(wd.Evaluate(TimeN("2026-11-24T12:00:00Z")));   // Tuesday
  EXPECT_TRUE(wd.Evaluate(TimeN("2026-11-27T23:59:59Z")));   // Friday
  EXPECT_FALSE(wd.Evaluate(TimeN("2026-11-28T00:00:00Z")));  // Saturday
  EXPECT_FALSE(wd.Evaluate(TimeN("2026-11-29T12:00:00Z")));  // Sunday
  EXPECT_TRUE(wd.Evaluate(TimeN("2026-11-30T00:00:00Z")));   // Monday
  EXPECT_FALSE(wd.Evaluate(TimeN("1970-01-04T00:00:00Z")));  // Sunday
  EXPECT_TRUE(wd.Evaluate(TimeN("1970-01-01T00:00:00Z")));   // Thursday
  EXPECT_FALSE(wd.Evaluate(TimeN("1969-12-28T12:00:00Z")));  // Sunday, before the epoch
  EXPECT_TRUE(wd.Evaluate(TimeN("1969-12-31T12:00:00Z")));   // Wednesday
  EXPECT_TRUE(wd.Evaluate(T("2026-11-24T12:00:00Z")));
  EXPECT_FALSE(wd.Evaluate(kMissing));
  EXPECT_EQ(wd.Describe(), "weekday(mon,tue,wed,thu,fri)");
  EXPECT_EQ(wd.weekdays(), kMonFri);

  // Friday 23:00 UTC is already Saturday in UTC+02:00.
  Condition tz = Condition::Weekday(kMonFri, 120);
  EXPECT_FALSE(tz.Evaluate(TimeN("2026-11-27T23:00:00Z")));
  EXPECT_TRUE(tz.Evaluate(TimeN("2026-11-27T21:59:00Z")));
  // Monday 01:00 UTC is still Sunday in UTC-05:00.
  Condition west = Condition::Weekday(kMonFri, -300);
  EXPECT_FALSE(west.Evaluate(TimeN("2026-11-30T01:00:00Z")));

  Condition weekend = Condition::Weekday(kMonFri, 0, /*negate=*/true);
  EXPECT_TRUE(weekend.Evaluate(TimeN("2026-11-28T10:00:00Z")));
  EXPECT_FALSE(weekend.Evaluate(TimeN("2026-11-24T10:00:00Z")));
  // Monday first: a weekend reads as operators write it.
  EXPECT_EQ(Condition::Weekday(0b1000001, 0).Describe(), "weekday(sat,sun)");
  EXPECT_EQ(Condition::Weekday(0b0111111, 0).Describe(), "weekday(mon,tue,wed,thu,fri,sun)");
}

// Regression: a time or weekday cell on a field holding a huge number (1e300, or text
// that parses as one) cast the minute count to int64 out of range (undefined behaviour on
// untrusted input) and then matched or not at random. Such values are no time: no match.
TEST(ConditionTest, TimeOnHugeNumbersDoesNotMatchRegression) {
  const Condition all_day = Condition::TimeOfDay({{0, 1440}}, 0);
  const Condition all_week = Condition::Weekday(0x7f, 60);
  const Condition not_all_day = Condition::TimeOfDay({{0, 1440}}, 0, /*negate=*/true);
  for (const FieldValue& v : {N(1e300), N(-1e300), N(9.3e18), N(-9.3e18), T("1e300"), N(1e16)}) {
    EXPECT_FALSE(all_day.Evaluate(v)) << v.text();
    EXPECT_FALSE(all_week.Evaluate(v)) << v.text();
    EXPECT_TRUE(not_all_day.Evaluate(v)) << v.text();
  }
  // The ends of the supported range still work.
  EXPECT_TRUE(all_day.Evaluate(N(8.64e15)));
  EXPECT_TRUE(all_week.Evaluate(N(-8.64e15)));
}

TEST(ConditionTest, NegationOfMissingFieldIsTrueForEveryOperator) {
  std::vector<Condition> negated = {Condition::Equals("a", false, true),
                                    Condition::In({"a"}, true, true),
                                    Condition::Range(NumRange{0, 1, true, true}, true),
                                    Re("a", false, true),
                                    Condition::Prefix({"a"}, false, true),
                                    Condition::Suffix({"a"}, false, true),
                                    Condition::Contains({"a"}, false, true),
                                    Condition::Cidr({Block("10.0.0.0", 8)}, true),
                                    Condition::TimeOfDay({{0, 60}}, 0, true),
                                    Condition::Weekday(1, 0, true)};
  for (const Condition& c : negated) {
    EXPECT_TRUE(c.negate()) << c.Describe();
    EXPECT_TRUE(c.Describe() == "!= a" || c.Describe().rfind("not ", 0) == 0) << c.Describe();
    EXPECT_TRUE(c.Evaluate(kMissing)) << c.Describe();
  }
}

TEST(ConditionTest, CopiesShareTheCompiledRegex) {
  Condition a = Re("x+y");
  Condition b = a;
  Condition c = std::move(a);
  EXPECT_TRUE(b.Evaluate(T("xxy")));
  EXPECT_TRUE(c.Evaluate(T("xxy")));
  EXPECT_EQ(b.regex(), c.regex());
}

TEST(ConditionHelpersTest, ParseNumberAndAsciiLower) {
  EXPECT_EQ(ParseNumber("90"), 90.0);
  EXPECT_EQ(ParseNumber("-1.5e3"), -1500.0);
  EXPECT_EQ(ParseNumber(" 7 "), 7.0);
  EXPECT_EQ(ParseNumber("+3"), 3.0);
  for (const char* bad : {"", " ", "abc", "1x", "inf", "nan", "1e999", "0x10", "--1", "+"}) {
    EXPECT_FALSE(ParseNumber(bad).has_value()) << bad;
  }
  EXPECT_EQ(base::AsciiLower("AbC-\xc3\x89"), "abc-\xc3\x89");  // ASCII letters only
  EXPECT_STREQ(OpName(Op::kLess), "range");
  EXPECT_STREQ(OpName(Op::kTimeOfDay), "time");
}

}  // namespace
}  // namespace reflex::engine
