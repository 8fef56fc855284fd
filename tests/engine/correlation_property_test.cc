// Property test: the fast Correlator and the plain ReferenceCorrelator give the same outputs,
// observations and counters over random event sequences with random (partly out-of-order)
// times, random Advance calls, small key limits (evictions) and every pattern kind at once.
// Seeded; a bounded number of seeds and steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "reflex/engine/correlation.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Path;
using testing::Tmpl;

PatternMember Member(const std::string& alertname) {
  PatternMember m;
  m.name = alertname;
  m.when.emplace_back(Path("alertname"), Condition::Equals(alertname));
  return m;
}

std::vector<PatternSpec> RandomSpecs(std::mt19937_64& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<std::string> names = {"A", "B", "C", "D"};
  auto members = [&](int n) {
    std::vector<PatternMember> m;
    for (int i = 0; i < n; ++i) m.push_back(Member(names[static_cast<size_t>(pick(4))]));
    return m;
  };
  std::vector<PatternSpec> specs;
  const PatternKind kinds[] = {
      PatternKind::kAllOf,   PatternKind::kSequence,  PatternKind::kCount,    PatternKind::kRate,
      PatternKind::kAbsence, PatternKind::kHeartbeat, PatternKind::kSustained};
  for (PatternKind kind : kinds) {
    PatternSpec s;
    s.name = std::string(kPatternKindNames.Name(kind));
    s.kind = kind;
    s.group_by = {Path("labels.instance")};
    if (pick(3) == 0) s.group_by.push_back(Path("labels.job"));
    s.within_ms = 1 + pick(60);
    s.lateness_ms = pick(3) == 0 ? 0 : pick(40);
    s.max_keys = 1 + static_cast<uint32_t>(pick(6));
    switch (kind) {
      case PatternKind::kAllOf:
      case PatternKind::kSequence:
        s.members = members(2 + pick(3));
        break;
      case PatternKind::kAbsence:
        s.members = members(2);
        break;
      case PatternKind::kCount:
        s.members = members(1 + pick(2));
        s.count = 1 + static_cast<uint32_t>(pick(5));
        break;
      case PatternKind::kRate:
        s.members = members(1);
        s.rate = pick(100) / 10.0;
        s.within_ms = 100 + pick(400);
        break;
      case PatternKind::kHeartbeat:
        s.members = members(1 + pick(2));
        break;
      case PatternKind::kSustained:
        s.members = members(1);
        s.value = Path("values.v");
        s.above = pick(2) == 0;
        s.bound = 50;
        break;
    }
    ActionSpec a;
    a.name = "act";
    a.params.emplace_back("x", Tmpl("{{events.first.labels.job}} {{events.last.labels.n}}"));
    s.actions.push_back(a);
    specs.push_back(std::move(s));
  }
  return specs;
}

// Within one Advance call the order of outputs with equal deadlines is unspecified.
void SortOutputs(std::vector<PatternOutput>* v) {
  std::sort(v->begin(), v->end(), [](const PatternOutput& a, const PatternOutput& b) {
    return std::tie(a.pattern, a.group_key, a.first.time_ms) <
           std::tie(b.pattern, b.group_key, b.first.time_ms);
  });
}

std::string Describe(const PatternOutput& o) {
  std::string s = "p" + std::to_string(o.pattern) + " key=" + o.group_key + " " +
                  std::string(kPatternOutcomeNames.Name(o.outcome)) +
                  " count=" + std::to_string(o.count) + " at=" + std::to_string(o.at_ms) + " [";
  for (const auto& id : o.member_ids) s += id + " ";
  return s + "]";
}

void ExpectSame(const std::vector<PatternOutput>& fast, const std::vector<PatternOutput>& ref,
                const std::string& where) {
  ASSERT_EQ(fast.size(), ref.size())
      << where << (fast.empty() ? "" : " fast[0]: " + Describe(fast[0]))
      << (ref.empty() ? "" : " ref[0]: " + Describe(ref[0]));
  for (size_t i = 0; i < fast.size(); ++i) {
    ASSERT_EQ(fast[i], ref[i]) << where << " output " << i << "\nfast: " << Describe(fast[i])
                               << "\nref:  " << Describe(ref[i]);
  }
}

TEST(CorrelationProperty, FastEqualsReferenceOnRandomStreams) {
  constexpr int kSeeds = 300;
  constexpr int kSteps = 400;
  uint64_t outputs = 0, lates = 0, evictions = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    std::vector<PatternSpec> specs = RandomSpecs(rng);
    auto fast = Correlator::Create(specs);
    ASSERT_TRUE(fast.ok()) << fast.status().ToString();
    ReferenceCorrelator ref(specs);
    int64_t clock = 0;
    for (int step = 0; step < kSteps; ++step) {
      const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      std::vector<PatternOutput> a, b;
      if (pick(8) == 0) {
        clock += pick(80);
        (*fast)->Advance(clock, &a);
        ref.Advance(clock, &b);
        SortOutputs(&a);
        SortOutputs(&b);
        ExpectSame(a, b, where + " advance " + std::to_string(clock));
        if (::testing::Test::HasFatalFailure()) return;
        outputs += a.size();
        continue;
      }
      clock += pick(12);
      Event ev;
      ev.id = "e" + std::to_string(step);
      // Now and then an id too long to be stored inline.
      if (pick(10) == 0) ev.id += "-with-a-long-suffix-of-some-length";
      ev.labels = {{"alertname", std::string(1, static_cast<char>('A' + pick(5)))},
                   {"instance", "h" + std::to_string(pick(7))},
                   {"n", std::to_string(step)}};
      if (pick(3) != 0) ev.labels.emplace_back("job", "j" + std::to_string(pick(2)));
      if (pick(6) == 0) ev.labels.emplace_back("status", "resolved");
      if (pick(4) != 0) ev.values.emplace_back("v", pick(100));
      // Mostly in order, sometimes behind (late or within lateness).
      const int64_t t = clock - (pick(4) == 0 ? pick(60) : 0);
      const Observation oa = (*fast)->Observe(ev, t, &a);
      const Observation ob = ref.Observe(ev, t, &b);
      ExpectSame(a, b, where + " observe t=" + std::to_string(t));
      if (::testing::Test::HasFatalFailure()) return;
      ASSERT_EQ(oa.member_of, ob.member_of) << where;
      ASSERT_EQ(oa.pending, ob.pending) << where;
      ASSERT_EQ(oa.late, ob.late) << where;
      outputs += a.size();
    }
    for (uint32_t p = 0; p < specs.size(); ++p) {
      const PatternStats x = (*fast)->stats(p), y = ref.stats(p);
      EXPECT_EQ(x.keys, y.keys) << "seed " << seed << " pattern " << p;
      EXPECT_EQ(x.late, y.late) << "seed " << seed << " pattern " << p;
      EXPECT_EQ(x.evicted, y.evicted) << "seed " << seed << " pattern " << p;
      EXPECT_EQ(x.matched, y.matched) << "seed " << seed << " pattern " << p;
      EXPECT_EQ(x.timed_out, y.timed_out) << "seed " << seed << " pattern " << p;
      lates += x.late;
      evictions += x.evicted;
    }
    // Draining: every held event leaves.
    std::vector<PatternOutput> a, b;
    (*fast)->Advance(clock + 1000000, &a);
    ref.Advance(clock + 1000000, &b);
    SortOutputs(&a);
    SortOutputs(&b);
    ExpectSame(a, b, "seed " + std::to_string(seed) + " drain");
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The random streams exercise what they should.
  EXPECT_GT(outputs, 10000u);
  EXPECT_GT(lates, 100u);
  EXPECT_GT(evictions, 100u);
}

// Every held event leaves in exactly one output: matched, timed_out or evicted.
TEST(CorrelationProperty, HeldEventsAreNeverLost) {
  for (int seed = 1; seed <= 100; ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    std::vector<PatternSpec> specs = RandomSpecs(rng);
    // Only the kinds that hold events.
    specs.resize(4);
    auto c = Correlator::Create(specs);
    ASSERT_TRUE(c.ok());
    std::vector<std::vector<std::string>> pending(specs.size());
    std::vector<PatternOutput> out;
    int64_t clock = 0;
    std::multiset<std::string> held, released;
    for (int step = 0; step < 300; ++step) {
      clock += pick(10);
      Event ev;
      ev.id = "e" + std::to_string(step);
      ev.labels = {{"alertname", std::string(1, static_cast<char>('A' + pick(4)))},
                   {"instance", "h" + std::to_string(pick(5))},
                   {"job", "j"}};
      const int64_t t = clock - (pick(5) == 0 ? pick(30) : 0);
      // Outputs of this call before the event is held; count held ids per pattern.
      std::vector<PatternOutput> step_out;
      const Observation o = (*c)->Observe(ev, t, &step_out);
      for (uint32_t i = 0; i < o.pending; ++i) held.insert(ev.id);
      for (const PatternOutput& p : step_out) {
        // A match includes the event itself when it completed the pattern: it was never
        // counted as pending, so count it as held now.
        for (const std::string& id : p.member_ids) {
          if (id == ev.id && p.outcome == PatternOutcome::kMatched) held.insert(id);
          released.insert(id);
        }
      }
    }
    (*c)->Advance(clock + 1000000, &out);
    for (const PatternOutput& p : out) {
      for (const std::string& id : p.member_ids) released.insert(id);
    }
    EXPECT_EQ(held, released) << "seed " << seed;
  }
}

// The changelog: a Correlator rebuilt at a random point from the latest state of every
// changed group (as a compacted topic keeps it) carries on exactly as the one that was not
// interrupted: the same outputs, observations and held groups.
TEST(CorrelationProperty, RestoredFromItsChangesCarriesOnAsIfUninterrupted) {
  uint64_t restores = 0, restored_groups = 0, outputs = 0;
  for (int seed = 1; seed <= 150; ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 104729);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    std::vector<PatternSpec> specs = RandomSpecs(rng);
    // Restore does not keep the recency order, so no evictions here (max_keys large).
    for (PatternSpec& s : specs) s.max_keys = 1000;
    auto whole = Correlator::Create(specs);
    auto part = Correlator::Create(specs);
    ASSERT_TRUE(whole.ok() && part.ok());
    (*part)->TrackChanges(true);
    std::map<std::pair<uint32_t, std::string>, GroupState> changelog;
    auto flush = [&] {
      std::vector<GroupChange> changes;
      (*part)->TakeChanges(&changes);
      for (GroupChange& c : changes) {
        const auto key = std::make_pair(c.pattern, c.group_key);
        if (c.state) {
          changelog[key] = std::move(*c.state);
        } else {
          changelog.erase(key);
        }
      }
    };
    int64_t clock = 0;
    for (int step = 0; step < 300; ++step) {
      const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      if (pick(40) == 0) {  // the partition moves: a new owner reads the changelog back
        flush();
        auto next = Correlator::Create(specs);
        ASSERT_TRUE(next.ok());
        (*next)->TrackChanges(true);
        std::vector<PatternOutput> none;
        for (const auto& [key, st] : changelog) {
          ASSERT_TRUE((*next)->Restore(key.first, key.second, st, &none).ok()) << where;
        }
        ASSERT_TRUE(none.empty()) << where;
        for (uint32_t p = 0; p < specs.size(); ++p) {
          ASSERT_EQ((*next)->stats(p).keys, (*whole)->stats(p).keys) << where << " pattern " << p;
        }
        part = std::move(next);
        ++restores;
        restored_groups += changelog.size();
      }
      std::vector<PatternOutput> a, b;
      if (pick(8) == 0) {
        clock += pick(80);
        (*whole)->Advance(clock, &a);
        (*part)->Advance(clock, &b);
        SortOutputs(&a);
        SortOutputs(&b);
        ExpectSame(b, a, where + " advance");
        if (::testing::Test::HasFatalFailure()) return;
      } else {
        clock += pick(12);
        Event ev;
        ev.id = "e" + std::to_string(step);
        if (pick(10) == 0) ev.id += "-with-a-long-suffix-of-some-length";
        ev.labels = {{"alertname", std::string(1, static_cast<char>('A' + pick(5)))},
                     {"instance", "h" + std::to_string(pick(7))},
                     {"n", std::to_string(step)}};
        if (pick(3) != 0) ev.labels.emplace_back("job", "j" + std::to_string(pick(2)));
        if (pick(4) != 0) ev.values.emplace_back("v", pick(100));
        const int64_t t = clock - (pick(4) == 0 ? pick(60) : 0);
        const Observation oa = (*whole)->Observe(ev, t, &a);
        const Observation ob = (*part)->Observe(ev, t, &b);
        ExpectSame(b, a, where + " observe");
        if (::testing::Test::HasFatalFailure()) return;
        ASSERT_EQ(ob.pending, oa.pending) << where;
        ASSERT_EQ(ob.late, oa.late) << where;
      }
      outputs += a.size();
      if (pick(3) == 0) flush();  // a batch ends
    }
  }
  EXPECT_GT(restores, 500u);
  EXPECT_GT(restored_groups, 2000u);
  EXPECT_GT(outputs, 5000u);
}

// After a crash the input is read again from the committed offset, which may be older than
// the state the changelog kept: an event the restored group already holds is not counted
// twice (it is reported pending, as it is held).
TEST(CorrelationProperty, EventsReadAgainAfterARestoreAreNotCountedTwice) {
  PatternSpec s;
  s.name = "storm";
  s.kind = PatternKind::kCount;
  s.group_by = {Path("labels.instance")};
  s.within_ms = 1000;
  s.count = 3;
  s.members = {Member("A")};
  auto first = Correlator::Create({s});
  ASSERT_TRUE(first.ok());
  (*first)->TrackChanges(true);
  auto event = [](const std::string& id) {
    Event ev;
    ev.id = id;
    ev.labels = {{"alertname", "A"}, {"instance", "h1"}};
    return ev;
  };
  std::vector<PatternOutput> out;
  (*first)->Observe(event("e1"), 100, &out);
  (*first)->Observe(event("e2"), 200, &out);
  ASSERT_TRUE(out.empty());
  std::vector<GroupChange> changes;
  (*first)->TakeChanges(&changes);
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_TRUE(changes[0].state.has_value());
  EXPECT_EQ(changes[0].state->held.size(), 2u);

  auto second = Correlator::Create({s});
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE((*second)->Restore(0, changes[0].group_key, *changes[0].state, &out).ok());
  // e2 again (its offset was not committed), then e3.
  const Observation again = (*second)->Observe(event("e2"), 200, &out);
  EXPECT_EQ(again.pending, 1u);
  EXPECT_TRUE(out.empty()) << Describe(out[0]);
  (*second)->Observe(event("e3"), 300, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"e1", "e2", "e3"}));

  // A held event naming a member the pattern does not have is refused.
  GroupState bad = *changes[0].state;
  bad.held[0].member = 5;
  EXPECT_FALSE((*second)->Restore(0, "h2", bad, &out).ok());
}

}  // namespace
}  // namespace reflex::engine
