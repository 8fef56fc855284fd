#include "reflex/engine/matcher.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "reflex/engine/decision.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using testing::Ge;
using testing::Lt;
using testing::MakeTable;
using testing::ParseEvent;
using testing::Re;

std::shared_ptr<const CompiledRuleSet> Compile(std::vector<TableSpec> tables,
                                               LabelingSpec labeling = {},
                                               std::string version = "v-test") {
  auto rs = CompiledRuleSet::Create(std::move(tables), std::move(labeling), std::move(version));
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return rs.ok() ? *rs : nullptr;
}

// Matches with the compiled index and checks the reference evaluator agrees.
MatchResult MatchBoth(const CompiledRuleSet& rs, const Event& ev) {
  MatchScratch scratch;
  MatchResult got;
  rs.Match(ev, &scratch, &got);
  MatchResult want;
  ReferenceMatch(rs.tables(), ev, &want);
  EXPECT_EQ(got.matches, want.matches) << "index and reference disagree on " << ev.raw;
  EXPECT_EQ(got.verdict, want.verdict) << ev.raw;
  return got;
}

std::vector<std::string> RowIds(const CompiledRuleSet& rs, const MatchResult& m) {
  std::vector<std::string> ids;
  for (const RowMatch& rm : m.matches) ids.push_back(rs.tables()[rm.table].rows[rm.row].id);
  return ids;
}

using Ids = std::vector<std::string>;

TableSpec DiskTable(HitPolicy policy) {
  TableSpec t = MakeTable("disk", {"alertname", "values.usage", "labels.env"}, policy);
  AddRow(&t, "crit", {Condition::Equals("DiskFull"), Ge(95), Condition::Any()},
         {Action("page", {{"who", "oncall"}})}, /*priority=*/5);
  AddRow(&t, "warn", {Condition::Equals("DiskFull"), Ge(80), Condition::Any()}, {Action("ticket")},
         /*priority=*/1);
  AddRow(&t, "dev", {Condition::Equals("DiskFull"), Condition::Any(), Condition::Equals("dev")},
         {Action(kIgnoreAction)}, /*priority=*/10);
  AddRow(&t, "any-disk", {Condition::Equals("DiskFull"), Condition::Any(), Condition::Any()},
         {Action(kEscalateAction)}, /*priority=*/1);
  return t;
}

TEST(MatcherTest, HitPolicyFirst) {
  auto rs = Compile({DiskTable(HitPolicy::kFirst)});
  ASSERT_NE(rs, nullptr);
  auto crit =
      MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"},"values":{"usage":97}})"));
  EXPECT_EQ(RowIds(*rs, crit), Ids{"crit"});
  EXPECT_EQ(crit.verdict, Verdict::kKnown);
  auto warn = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull","env":"dev"},
      "values":{"usage":85}})"));
  EXPECT_EQ(RowIds(*rs, warn), Ids{"warn"});
  auto dev = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull","env":"dev"},
      "values":{"usage":10}})"));
  EXPECT_EQ(RowIds(*rs, dev), Ids{"dev"});
  EXPECT_EQ(dev.verdict, Verdict::kSuppressed);
  auto esc = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"}})"));
  EXPECT_EQ(RowIds(*rs, esc), Ids{"any-disk"});
  EXPECT_EQ(esc.verdict, Verdict::kKnown);  // escalate is a known outcome
  auto unknown = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"CPUHigh"}})"));
  EXPECT_TRUE(unknown.matches.empty());
  EXPECT_EQ(unknown.verdict, Verdict::kUnknown);
}

TEST(MatcherTest, HitPolicyUniqueSelectsTheOneMatch) {
  TableSpec t = MakeTable("svc", {"service"}, HitPolicy::kUnique);
  AddRow(&t, "a", {Condition::Equals("a")});
  AddRow(&t, "b", {Condition::In({"b", "c"})});
  auto rs = Compile({t});
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"service":"c"}})"))), Ids{"b"});
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"service":"a"}})"))), Ids{"a"});
  EXPECT_TRUE(MatchBoth(*rs, ParseEvent(R"({"labels":{"service":"d"}})")).matches.empty());
}

TEST(MatcherTest, HitPolicyCollectReturnsAllInFileOrder) {
  auto rs = Compile({DiskTable(HitPolicy::kCollect)});
  auto all = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull","env":"dev"},
      "values":{"usage":99}})"));
  EXPECT_EQ(RowIds(*rs, all), (Ids{"crit", "warn", "dev", "any-disk"}));
  // One ignore row among the selected silences the event.
  EXPECT_EQ(all.verdict, Verdict::kSuppressed);
  auto some =
      MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"},"values":{"usage":85}})"));
  EXPECT_EQ(RowIds(*rs, some), (Ids{"warn", "any-disk"}));
  EXPECT_EQ(some.verdict, Verdict::kKnown);
}

TEST(MatcherTest, HitPolicyPriorityPicksHighestThenFileOrder) {
  auto rs = Compile({DiskTable(HitPolicy::kPriority)});
  auto dev = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull","env":"dev"},
      "values":{"usage":99}})"));
  EXPECT_EQ(RowIds(*rs, dev), Ids{"dev"});  // priority 10 beats crit's 5
  auto crit =
      MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"},"values":{"usage":99}})"));
  EXPECT_EQ(RowIds(*rs, crit), Ids{"crit"});
  // warn and any-disk tie at priority 1: the earlier row wins.
  auto tie =
      MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"},"values":{"usage":85}})"));
  EXPECT_EQ(RowIds(*rs, tie), Ids{"warn"});
}

TEST(MatcherTest, SeveralTablesInRuleSetOrder) {
  TableSpec noise = MakeTable("noise", {"alertname"});
  AddRow(&noise, "watchdog", {Condition::Equals("Watchdog")}, {Action(kIgnoreAction)});
  auto rs = Compile({DiskTable(HitPolicy::kFirst), noise});
  auto both = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"Watchdog"}})"));
  ASSERT_EQ(both.matches.size(), 1u);
  EXPECT_EQ(both.matches[0], (RowMatch{1, 0}));
  EXPECT_EQ(both.verdict, Verdict::kSuppressed);
  auto disk =
      MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"DiskFull"},"values":{"usage":99}})"));
  EXPECT_EQ(disk.matches, (std::vector<RowMatch>{{0, 0}}));
  EXPECT_EQ(rs->row_count(), 5u);
  EXPECT_EQ(rs->version(), "v-test");
}

TEST(MatcherTest, IgnoreInOneTableSuppressesMatchesInAnother) {
  TableSpec a = MakeTable("a", {"alertname"});
  AddRow(&a, "known", {Condition::Equals("X")}, {Action("notify")});
  TableSpec b = MakeTable("b", {"labels.env"});
  AddRow(&b, "quiet-dev", {Condition::Equals("dev")}, {Action(kIgnoreAction)});
  auto rs = Compile({a, b});
  auto r = MatchBoth(*rs, ParseEvent(R"({"labels":{"alertname":"X","env":"dev"}})"));
  EXPECT_EQ(r.matches.size(), 2u);
  EXPECT_EQ(r.verdict, Verdict::kSuppressed);
  // An ignore action next to another action is not a pure ignore row.
  TableSpec c = MakeTable("c", {"alertname"});
  AddRow(&c, "mixed", {Condition::Equals("X")}, {Action(kIgnoreAction), Action("notify")});
  auto rc = Compile({c});
  EXPECT_EQ(MatchBoth(*rc, ParseEvent(R"({"labels":{"alertname":"X"}})")).verdict, Verdict::kKnown);
}

TEST(MatcherTest, CreateRejectsRowsWithTheWrongNumberOfCells) {
  TableSpec t = MakeTable("bad", {"a", "b"});
  AddRow(&t, "short", {Condition::Equals("x")});
  auto rs = CompiledRuleSet::Create({t}, {}, "v");
  ASSERT_FALSE(rs.ok());
  EXPECT_NE(rs.status().message().find("row 'short' has 1 cells for 2 columns"), std::string::npos)
      << rs.status().message();
}

TEST(MatcherTest, CreateRejectsMoreThan64Columns) {
  std::vector<std::string> cols;
  for (int i = 0; i < 65; ++i) cols.push_back("c" + std::to_string(i));
  TableSpec t = MakeTable("wide", cols);
  auto rs = CompiledRuleSet::Create({t}, {}, "v");
  ASSERT_FALSE(rs.ok());
  EXPECT_NE(rs.status().message().find("more than 64"), std::string::npos);
}

TEST(MatcherTest, CreateRejectsABadLabelingSpec) {
  LabelingSpec bad;
  ExtractRule r;
  r.name = "x";
  r.from = testing::Path("message");
  r.pattern = "(no-names)";
  bad.extract.push_back(r);
  auto rs = CompiledRuleSet::Create({}, std::move(bad), "v");
  ASSERT_FALSE(rs.ok());
  EXPECT_NE(rs.status().message().find("extraction rule 'x'"), std::string::npos);
}

TEST(MatcherTest, EmptyRuleSetAndEmptyTables) {
  auto none = Compile({});
  EXPECT_EQ(MatchBoth(*none, ParseEvent("{}")).verdict, Verdict::kUnknown);
  auto empty = Compile({MakeTable("empty", {"a"})});
  EXPECT_EQ(MatchBoth(*empty, ParseEvent("{}")).verdict, Verdict::kUnknown);
  // A table with no columns: every row matches.
  TableSpec t = MakeTable("catchall", {});
  AddRow(&t, "all", {});
  auto all = Compile({t});
  EXPECT_EQ(MatchBoth(*all, ParseEvent("{}")).matches.size(), 1u);
}

// ---- index paths ------------------------------------------------------------------------

// A table big enough that the builder splits it: one hashed column of exact and
// case-folded literals plus wildcard rows that must be found through `rest`.
TEST(MatcherIndexTest, HashNodeExactAndCaseFolded) {
  TableSpec t = MakeTable("hosts", {"instance", "values.code"}, HitPolicy::kCollect);
  for (int i = 0; i < 40; ++i) {
    AddRow(&t, "exact" + std::to_string(i),
           {Condition::Equals("host" + std::to_string(i)), Condition::Any()});
  }
  AddRow(&t, "folded", {Condition::In({"HOST7", "Other"}, /*icase=*/true), Condition::Any()});
  AddRow(&t, "wild", {Condition::Any(), Condition::Any()});
  AddRow(&t, "numeric", {Condition::In({"90.0", "1e2"}), Condition::Any()});
  AddRow(&t, "by-code", {Condition::Any(), Condition::Equals("404")});
  AddRow(&t, "not-host7", {Condition::Equals("host7", false, true), Condition::Any()});
  auto rs = Compile({t});
  auto st = rs->TableStats(0);
  EXPECT_GT(st.nodes, 1u) << "expected the table to be split";
  EXPECT_LE(st.max_leaf, 8u);

  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"host7"}})"))),
            (Ids{"exact7", "folded", "wild"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"Host7"}})"))),
            (Ids{"folded", "wild", "not-host7"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"OTHER"},
      "values":{"code":404}})"))),
            (Ids{"folded", "wild", "by-code", "not-host7"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"host39"}})"))),
            (Ids{"exact39", "wild", "not-host7"}));
  // Missing column: only rows whose cell accepts a missing field.
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({})"))), (Ids{"wild", "not-host7"}));
  // Numeric literals: a number matches any spelling, text only its own.
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"values":{"instance":90}})"))),
            (Ids{"wild", "numeric", "not-host7"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"values":{"instance":100}})"))),
            (Ids{"wild", "numeric", "not-host7"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"90.0"}})"))),
            (Ids{"wild", "numeric", "not-host7"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"instance":"90"}})"))),
            (Ids{"wild", "not-host7"}));
}

TEST(MatcherIndexTest, HashNodeFirstPolicyPrefersEarliestAcrossChildAndRest) {
  TableSpec t = MakeTable("t", {"labels.k"}, HitPolicy::kFirst);
  AddRow(&t, "early-wild", {Condition::Prefix({"k1"})});
  for (int i = 0; i < 30; ++i)
    AddRow(&t, "k" + std::to_string(i), {Condition::Equals("k" + std::to_string(i))});
  AddRow(&t, "late-wild", {Condition::Any()});
  auto rs = Compile({t});
  EXPECT_GT(rs->TableStats(0).nodes, 1u);
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"k":"k12"}})"))),
            Ids{"early-wild"});
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"k":"k22"}})"))), Ids{"k22"});
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{"k":"zz"}})"))), Ids{"late-wild"});
}

TEST(MatcherIndexTest, RegexSetNode) {
  TableSpec t = MakeTable("msgs", {"message"}, HitPolicy::kCollect);
  const char* patterns[] = {"disk.*full", "out of memory", "^timeout", "refused$",
                            "5\\d\\d",    "panic:",        "segfault", "oom-?kill"};
  for (int i = 0; i < 8; ++i) AddRow(&t, "re" + std::to_string(i), {Re(patterns[i])});
  AddRow(&t, "icase", {Re("PANIC", /*icase=*/true)});
  AddRow(&t, "dup", {Re("segfault")});  // same pattern as re6: shares a set entry
  AddRow(&t, "neg", {Re("disk", false, /*negate=*/true)});
  AddRow(&t, "contains", {Condition::Contains({"full"})});
  auto rs = Compile({t});
  EXPECT_GT(rs->TableStats(0).nodes, 1u) << "expected an RE2::Set split";

  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"message":"disk is full"})"))),
            (Ids{"re0", "contains"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"message":"kernel panic: segfault 503"})"))),
            (Ids{"re4", "re5", "re6", "icase", "dup", "neg"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"message":"PANIC oomkill"})"))),
            (Ids{"re7", "icase", "neg"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"message":"timeout: connection refused"})"))),
            (Ids{"re2", "re3", "neg"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"message":"all quiet"})"))), (Ids{"neg"}));
  // No message at all: only the negated cell matches.
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"labels":{}})"))), (Ids{"neg"}));
}

TEST(MatcherIndexTest, IntervalNode) {
  TableSpec t = MakeTable("cpu", {"values.load"}, HitPolicy::kCollect);
  AddRow(&t, "lt10", {Lt(10)});
  AddRow(&t, "10-20", {Condition::Range(NumRange{10, 20, true, false})});
  AddRow(&t, "20-30", {Condition::Range(NumRange{20, 30, true, true})});
  AddRow(&t, "gt30", {Condition::Range(NumRange{30, testing::kInf, false, false})});
  AddRow(&t, "ge50", {Ge(50)});
  AddRow(&t, "15-25", {Condition::Range(NumRange{15, 25, false, false})});
  AddRow(&t, "ge90", {Ge(90)});
  AddRow(&t, "exact-42", {Condition::Range(NumRange{42, 42, true, true})});
  AddRow(&t, "not-lt10", {Condition::Range(NumRange{-testing::kInf, 10, false, false}, true)});
  AddRow(&t, "wild", {Condition::Any()});
  auto rs = Compile({t});
  EXPECT_GT(rs->TableStats(0).nodes, 1u) << "expected an interval split";
  auto ids = [&](const char* json) { return RowIds(*rs, MatchBoth(*rs, ParseEvent(json))); };
  EXPECT_EQ(ids(R"({"values":{"load":5}})"), (Ids{"lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":10}})"), (Ids{"10-20", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":15}})"), (Ids{"10-20", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":15.5}})"), (Ids{"10-20", "15-25", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":20}})"), (Ids{"20-30", "15-25", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":30}})"), (Ids{"20-30", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":30.0001}})"), (Ids{"gt30", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":42}})"), (Ids{"gt30", "exact-42", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":95}})"), (Ids{"gt30", "ge50", "ge90", "not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"values":{"load":-1e300}})"), (Ids{"lt10", "wild"}));
  EXPECT_EQ(ids(R"({})"), (Ids{"not-lt10", "wild"}));
  EXPECT_EQ(ids(R"({"labels":{"x":"1"}})"), (Ids{"not-lt10", "wild"}));
}

TEST(MatcherIndexTest, IntervalNodeReadsNumericText) {
  TableSpec t = MakeTable("lat", {"latency"}, HitPolicy::kCollect);
  for (int i = 0; i < 12; ++i) {
    AddRow(&t, "b" + std::to_string(i),
           {Condition::Range(NumRange{i * 100.0, (i + 1) * 100.0, true, false})});
  }
  auto rs = Compile({t});
  auto ids = [&](const char* json) { return RowIds(*rs, MatchBoth(*rs, ParseEvent(json))); };
  EXPECT_EQ(ids(R"({"labels":{"latency":"250"}})"), Ids{"b2"});
  EXPECT_EQ(ids(R"({"labels":{"latency":"1e3"}})"), Ids{"b10"});
  EXPECT_EQ(ids(R"({"labels":{"latency":"fast"}})"), Ids{});
  EXPECT_EQ(ids(R"({"values":{"latency":1199.99}})"), Ids{"b11"});
  EXPECT_EQ(ids(R"({"values":{"latency":1200}})"), Ids{});
}

TEST(MatcherIndexTest, MultiColumnTreeWithWildcardsMixedIn) {
  // 200 rows over three columns: hashed service, ranged value, regex message; every fifth
  // row is a wildcard in one column.
  TableSpec t = MakeTable("mixed", {"service", "values.v", "message"}, HitPolicy::kCollect);
  for (int i = 0; i < 200; ++i) {
    Condition svc =
        i % 5 == 0 ? Condition::Any() : Condition::Equals("svc" + std::to_string(i % 17));
    Condition val = i % 5 == 1 ? Condition::Any()
                               : Condition::Range(NumRange{double(i % 10) * 10,
                                                           double(i % 10) * 10 + 15, true, false});
    Condition msg = i % 5 == 2 ? Condition::Any() : Re("err" + std::to_string(i % 13));
    AddRow(&t, "r" + std::to_string(i), {svc, val, msg});
  }
  auto rs = Compile({t});
  auto st = rs->TableStats(0);
  EXPECT_GT(st.nodes, 10u);
  EXPECT_GE(st.max_depth, 2u);
  size_t total = 0;
  for (int s = 0; s < 18; ++s) {
    for (int v = -5; v < 120; v += 7) {
      for (int e = 0; e < 14; ++e) {
        const std::string json = R"({"labels":{"service":"svc)" + std::to_string(s) +
                                 R"("},"values":{"v":)" + std::to_string(v) +
                                 R"(},"message":"x err)" + std::to_string(e) + R"( y"})";
        total += MatchBoth(*rs, ParseEvent(json)).matches.size();
      }
    }
  }
  EXPECT_GT(total, 100u);  // the comparison above is not vacuous
}

TEST(MatcherIndexTest, PayloadAndTimestampColumns) {
  TableSpec t = MakeTable("p", {"payload.alert.severity", "timestamp"}, HitPolicy::kCollect);
  AddRow(&t, "crit-office",
         {Condition::Equals("critical"), Condition::TimeOfDay({{9 * 60, 17 * 60}}, 0)});
  AddRow(&t, "crit-weekend", {Condition::Equals("critical"), Condition::Weekday(0b1000001, 0)});
  AddRow(&t, "info", {Condition::In({"info", "debug"}), Condition::Any()});
  auto rs = Compile({t});
  // 2026-11-24 is a Tuesday; 2026-11-28 a Saturday.
  auto ids = [&](const char* json) { return RowIds(*rs, MatchBoth(*rs, ParseEvent(json))); };
  EXPECT_EQ(ids(R"({"ts":"2026-11-24T10:00:00Z","payload":{"alert":{"severity":"critical"}}})"),
            Ids{"crit-office"});
  EXPECT_EQ(ids(R"({"ts":"2026-11-28T10:00:00Z","payload":{"alert":{"severity":"critical"}}})"),
            (Ids{"crit-office", "crit-weekend"}));
  EXPECT_EQ(ids(R"({"ts":"2026-11-24T20:00:00Z","payload":{"alert":{"severity":"critical"}}})"),
            Ids{});
  EXPECT_EQ(ids(R"({"payload":{"alert":{"severity":"debug"}}})"), Ids{"info"});
  EXPECT_EQ(ids(R"({"payload":{"alert":{}}})"), Ids{});
}

TEST(MatcherTest, ScratchIsReusableAcrossEventsAndRuleSets) {
  auto a = Compile({DiskTable(HitPolicy::kCollect)});
  TableSpec wide = MakeTable("wide", {"a", "b", "c", "d", "e", "f"});
  AddRow(&wide, "w",
         {Condition::Any(), Condition::Any(), Condition::Any(), Condition::Any(), Condition::Any(),
          Condition::Exists()});
  auto b = Compile({wide});
  MatchScratch scratch;
  MatchResult r;
  Event e1 = ParseEvent(R"({"labels":{"alertname":"DiskFull","f":"x"},"values":{"usage":99}})");
  Event e2 = ParseEvent(R"({"labels":{"alertname":"Other"}})");
  for (int i = 0; i < 3; ++i) {
    a->Match(e1, &scratch, &r);
    EXPECT_EQ(r.matches.size(), 3u);
    b->Match(e1, &scratch, &r);
    EXPECT_EQ(r.matches.size(), 1u);
    b->Match(e2, &scratch, &r);
    EXPECT_TRUE(r.matches.empty());
    a->Match(e2, &scratch, &r);
    EXPECT_TRUE(r.matches.empty());
    EXPECT_EQ(r.verdict, Verdict::kUnknown);
  }
}

TEST(MatcherTest, LabelRunsTheLabeler) {
  LabelingSpec labeling;
  ExtractRule r;
  r.name = "mount";
  r.from = testing::Path("message");
  r.pattern = R"(on (?P<mountpoint>/\S*))";
  labeling.extract.push_back(r);
  TableSpec t = MakeTable("m", {"mountpoint"});
  AddRow(&t, "var", {Condition::Prefix({"/var"})});
  auto rs = Compile({t}, std::move(labeling));
  Event ev = ParseEvent(R"({"message":"disk full on /var/log"})");
  EXPECT_TRUE(MatchBoth(*rs, ev).matches.empty());
  rs->Label(&ev);
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ev)), Ids{"var"});
  EXPECT_EQ(rs->labeler().OutputLabels(), std::vector<std::string>{"mountpoint"});
}

TEST(MatcherTest, NamesOfEnums) {
  EXPECT_STREQ(VerdictName(Verdict::kKnown), "known");
  EXPECT_STREQ(VerdictName(Verdict::kSuppressed), "suppressed");
  EXPECT_STREQ(VerdictName(Verdict::kUnknown), "unknown");
  EXPECT_STREQ(HitPolicyName(HitPolicy::kFirst), "first");
  EXPECT_STREQ(HitPolicyName(HitPolicy::kUnique), "unique");
  EXPECT_STREQ(HitPolicyName(HitPolicy::kCollect), "collect");
  EXPECT_STREQ(HitPolicyName(HitPolicy::kPriority), "priority");
}

// ---- decision JSON of a match ------------------------------------------------------------

TEST(MatcherJsonTest, MatchJsonCarriesProvenanceAndRenderedActions) {
  TableSpec t = MakeTable("disk", {"alertname"});
  t.file = "tables/disk \"main\".csv";
  RowSpec& row = AddRow(&t, "disk-crit", {Condition::Equals("DiskFull")},
                        {Action("cleanup", {{"host", "{{labels.instance}}"},
                                            {"path", "{{labels.mount | default(\"/\")}}"},
                                            {"note", "q=\"{{labels.q}}\"\n"}}),
                         Action("notify")});
  row.runbook = "https://runbooks/disk#crit";
  row.where.line = 7;
  auto rs = Compile({t});
  Event ev = ParseEvent(
      "{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"web1\",\"q\":\"a\\\\b\\\"c\"}}");
  std::string out;
  rs->AppendMatchJson(RowMatch{0, 0}, ev, &out);
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["table"], "disk");
  EXPECT_EQ(j["row"], "disk-crit");
  EXPECT_EQ(j["file"], "tables/disk \"main\".csv");
  EXPECT_EQ(j["line"], 7);
  ASSERT_EQ(j["actions"].size(), 2u);
  EXPECT_EQ(j["actions"][0]["name"], "cleanup");
  EXPECT_EQ(j["actions"][0]["params"]["host"], "web1");
  EXPECT_EQ(j["actions"][0]["params"]["path"], "/");
  EXPECT_EQ(j["actions"][0]["params"]["note"], "q=\"a\\b\"c\"\n");
  EXPECT_EQ(j["actions"][1]["name"], "notify");
  EXPECT_TRUE(j["actions"][1]["params"].empty());
  EXPECT_EQ(j["runbook"], "https://runbooks/disk#crit");

  // No runbook: the key is absent.
  TableSpec t2 = MakeTable("t2", {"a"});
  AddRow(&t2, "r", {Condition::Any()});
  auto rs2 = Compile({t2});
  std::string out2;
  rs2->AppendMatchJson(RowMatch{0, 0}, ev, &out2);
  auto j2 = nlohmann::json::parse(out2);
  EXPECT_FALSE(j2.contains("runbook"));
  EXPECT_TRUE(j2["actions"].empty());
}

}  // namespace
}  // namespace reflex::engine

namespace reflex::engine {
namespace {

// Regression: a numeric -0 (e.g. {"values":{"x":-0.0}}) equals the literal 0 to
// Condition::Evaluate, but the hash node looked the value up by its text "-0", which no
// key matched, so indexed tables missed rows the reference evaluator selects (found by
// the property test).
TEST(MatcherRegressionTest, NegativeZeroFindsZeroLiteralInHashNode) {
  TableSpec t = MakeTable("z", {"values.x"}, HitPolicy::kCollect);
  for (int i = 1; i <= 20; ++i)
    AddRow(&t, "n" + std::to_string(i), {Condition::Equals(std::to_string(i))});
  AddRow(&t, "zero", {Condition::In({"0"})});
  AddRow(&t, "neg-zero", {Condition::Equals("-0")});
  AddRow(&t, "zero-icase", {Condition::Equals("0.0", /*icase=*/true)});
  auto rs = Compile({t});
  ASSERT_GT(rs->TableStats(0).nodes, 1u) << "the table must be indexed for this test";
  Event neg;
  neg.SetValue("x", -0.0);
  Event pos;
  pos.SetValue("x", 0.0);
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, neg)), (Ids{"zero", "neg-zero", "zero-icase"}));
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, pos)), (Ids{"zero", "neg-zero", "zero-icase"}));
  // Text keeps text semantics: "-0" equals only the literal spelled "-0".
  TableSpec l = MakeTable("l", {"labels.x"}, HitPolicy::kCollect);
  for (int i = 1; i <= 20; ++i)
    AddRow(&l, "n" + std::to_string(i), {Condition::Equals(std::to_string(i))});
  AddRow(&l, "zero", {Condition::In({"0"})});
  AddRow(&l, "neg-zero", {Condition::Equals("-0")});
  auto rl = Compile({l});
  Event text;
  text.SetLabel("x", "-0");
  EXPECT_EQ(RowIds(*rl, MatchBoth(*rl, text)), (Ids{"neg-zero"}));
  // Through the parser, as events arrive.
  EXPECT_EQ(RowIds(*rs, MatchBoth(*rs, ParseEvent(R"({"values":{"x":-0.0}})"))),
            (Ids{"zero", "neg-zero", "zero-icase"}));
}

}  // namespace
}  // namespace reflex::engine
