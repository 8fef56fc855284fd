// Tests of RecentDecisions: bounded, newest first across the threads that record, filters
// and paging, last-hit times that survive a rule reload (they are keyed by name), and
// concurrent recording and reading (run under TSan in CI).
#include "reflex/connectors/recent_decisions.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace reflex::connectors {
namespace {

std::shared_ptr<const engine::CompiledRuleSet> Rules(const std::string& version) {
  engine::TableSpec t;
  t.name = "disk";
  t.file = "disk.csv";
  t.columns.push_back({*engine::FieldPath::Parse("alertname"), {}});
  for (const char* id : {"crit", "warn"}) {
    engine::RowSpec r;
    r.id = id;
    r.conditions.push_back(engine::Condition::Equals(id));
    r.condition_where.push_back({});
    r.actions.push_back({"ignore", {}});
    t.rows.push_back(std::move(r));
  }
  auto rs = engine::CompiledRuleSet::Create({t}, {}, version);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

engine::Event Event(const std::string& id) {
  engine::Event e;
  e.id = id;
  return e;
}

engine::MatchResult Match(engine::Verdict v, std::vector<engine::RowMatch> rows = {}) {
  engine::MatchResult m;
  m.verdict = v;
  m.matches = std::move(rows);
  return m;
}

TEST(RecentDecisionsTest, KeepsTheNewestUpToItsCapacity) {
  auto rules = Rules("v-1");
  RecentDecisions recent(16);  // 2 per shard: one thread uses one shard
  for (int i = 0; i < 10; ++i) {
    recent.Record("src", *rules, Event("e" + std::to_string(i)), Match(engine::Verdict::kUnknown),
                  1000 + i);
  }
  auto list = recent.List({.limit = 100});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].event_id, "e9");
  EXPECT_EQ(list[1].event_id, "e8");
  EXPECT_EQ(list[0].ruleset, "v-1");
  EXPECT_EQ(list[0].source, "src");
}

TEST(RecentDecisionsTest, FiltersByVerdictTableAndRowAndPagesNewestFirst) {
  auto rules = Rules("v-1");
  RecentDecisions recent(800);
  for (int i = 0; i < 30; ++i) {
    const bool hit = i % 3 == 0;
    recent.Record("src", *rules, Event("e" + std::to_string(i)),
                  hit ? Match(engine::Verdict::kSuppressed, {{0, static_cast<uint32_t>(i % 2)}})
                      : Match(engine::Verdict::kUnknown),
                  1000 + i);
  }
  EXPECT_EQ(recent.List({.verdict = engine::Verdict::kSuppressed, .limit = 100}).size(), 10u);
  auto warn = recent.List({.table = "disk", .row = "warn", .limit = 100});
  ASSERT_EQ(warn.size(), 5u);  // i = 3, 9, 15, 21, 27
  EXPECT_EQ(warn[0].event_id, "e27");
  EXPECT_EQ(warn[0].rows, (std::vector<std::pair<std::string, std::string>>{{"disk", "warn"}}));
  EXPECT_TRUE(recent.List({.table = "other", .limit = 100}).empty());
  // Paging by (at, seq): every decision once, in order.
  std::vector<std::string> seen;
  DecisionFilter f{.limit = 7};
  for (;;) {
    auto page = recent.List(f);
    if (page.empty()) break;
    for (const auto& d : page) seen.push_back(d.event_id);
    f.before = std::make_pair(page.back().at_ms, page.back().seq);
  }
  ASSERT_EQ(seen.size(), 30u);
  EXPECT_EQ(seen.front(), "e29");
  EXPECT_EQ(seen.back(), "e0");
}

TEST(RecentDecisionsTest, LastHitIsKeptByNameAcrossRuleSetsAndWhenNoneAreKept) {
  RecentDecisions off(0);
  auto v1 = Rules("v-1");
  auto v2 = Rules("v-2");
  off.Record("s", *v1, Event("a"), Match(engine::Verdict::kSuppressed, {{0, 0}}), 5000);
  off.Record("s", *v2, Event("b"), Match(engine::Verdict::kSuppressed, {{0, 0}}), 7000);
  off.Record("s", *v2, Event("c"), Match(engine::Verdict::kSuppressed, {{0, 1}}), 6000);
  EXPECT_TRUE(off.List({}).empty());
  EXPECT_EQ(off.LastHits(*v2), (std::vector<std::vector<int64_t>>{{7000, 6000}}));
  EXPECT_EQ(off.LastHits(*v1), (std::vector<std::vector<int64_t>>{{7000, 6000}}));
  // A match naming a row the set does not have is skipped, not a crash.
  off.Record("s", *v1, Event("d"), Match(engine::Verdict::kKnown, {{3, 9}, {0, 7}}), 8000);
  // More sets than are kept: the oldest ones' times are kept by name.
  for (int i = 3; i < 10; ++i) {
    auto v = Rules("v-" + std::to_string(i));
    off.Record("s", *v, Event("e"), Match(engine::Verdict::kSuppressed, {{0, 1}}), 9000 + i);
  }
  EXPECT_EQ(off.LastHits(*v1), (std::vector<std::vector<int64_t>>{{7000, 9009}}));
}

TEST(RecentDecisionsTest, ThreadsRecordAndReadAtOnce) {
  auto rules = Rules("v-1");
  RecentDecisions recent(1000);
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        recent.Record("s", *rules, Event(std::to_string(t) + "-" + std::to_string(i)),
                      Match(engine::Verdict::kSuppressed, {{0, 0}}), i);
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 200; ++i) (void)recent.List({.limit = 20});
  });
  for (auto& th : threads) th.join();
  reader.join();
  auto all = recent.List({.limit = 1000});
  // Each thread's shard holds its newest decisions; no decision appears twice.
  std::set<std::string> ids;
  for (const auto& d : all) EXPECT_TRUE(ids.insert(d.event_id).second) << d.event_id;
  EXPECT_GE(all.size(), 4u * 125u);
  EXPECT_EQ(recent.LastHits(*rules)[0][0], kEach - 1);
}

}  // namespace
}  // namespace reflex::connectors
