// Deterministic tests of the correlation engine, one or more per pattern kind, with the time
// passed in (no clock): absence firing with no further event, late events, windows closing
// as timed_out, eviction at the key limit, and the events.* template names.
#include "reflex/engine/correlation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::ParseEvent;
using testing::Path;
using testing::Tmpl;

PatternMember Member(std::string name, std::string alertname) {
  PatternMember m;
  m.name = std::move(name);
  m.when.emplace_back(Path("alertname"), Condition::Equals(std::move(alertname)));
  return m;
}

PatternSpec Spec(PatternKind kind, int64_t within_ms, std::vector<PatternMember> members) {
  PatternSpec s;
  s.name = "p";
  s.kind = kind;
  s.within_ms = within_ms;
  s.group_by = {Path("labels.instance")};
  s.members = std::move(members);
  return s;
}

Event Ev(std::string id, std::string alertname, std::string instance,
         std::string status = "firing") {
  Event ev;
  ev.id = std::move(id);
  ev.labels = {{"alertname", std::move(alertname)},
               {"instance", std::move(instance)},
               {"status", std::move(status)}};
  return ev;
}

std::unique_ptr<Correlator> Make(std::vector<PatternSpec> specs) {
  auto c = Correlator::Create(std::move(specs));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(Correlation, AllOfMatchesInAnyOrderWithinTheWindow) {
  auto c =
      Make({Spec(PatternKind::kAllOf, 600000, {Member("disk", "Disk"), Member("b", "Backup")})});
  std::vector<PatternOutput> out;
  Observation o = c->Observe(Ev("e1", "Backup", "h1"), 1000, &out);
  EXPECT_EQ(o.member_of, 1u);
  EXPECT_EQ(o.pending, 1u);
  EXPECT_TRUE(out.empty());
  c->Observe(Ev("x", "Disk", "h2"), 2000, &out);  // another group
  o = c->Observe(Ev("e2", "Disk", "h1"), 5000, &out);
  EXPECT_EQ(o.pending, 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].group_key, "h1");
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"e2", "e1"}));  // member order
  EXPECT_EQ(out[0].first.id, "e1");
  EXPECT_EQ(out[0].last.id, "e2");
  EXPECT_EQ(out[0].count, 2u);
  EXPECT_EQ(c->stats(0).keys, 1u);  // h2 still waits
}

TEST(Correlation, AllOfWindowCloseReleasesHeldEventsAsTimedOut) {
  auto c = Make({Spec(PatternKind::kAllOf, 10000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  EXPECT_EQ(c->Observe(Ev("a1", "A", "h1"), 1000, &out).pending, 1u);
  c->Advance(11000, &out);  // the deadline itself: still open
  EXPECT_TRUE(out.empty());
  c->Advance(11001, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"a1"});
  EXPECT_EQ(out[0].at_ms, 11001);
  EXPECT_EQ(c->stats(0).keys, 0u);
  EXPECT_EQ(c->stats(0).timed_out, 1u);
}

TEST(Correlation, AllOfEventPastTheWindowClosesItFirst) {
  auto c = Make({Spec(PatternKind::kAllOf, 10000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  c->Observe(Ev("a1", "A", "h1"), 1000, &out);
  Observation o = c->Observe(Ev("b1", "B", "h1"), 20000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"a1"});
  EXPECT_EQ(o.pending, 1u);  // b1 opened a new window
}

TEST(Correlation, ResolvedEventsAreNotMembersOfWindows) {
  auto c = Make({Spec(PatternKind::kAllOf, 10000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  EXPECT_EQ(c->Observe(Ev("a1", "A", "h1", "resolved"), 1000, &out).member_of, 0u);
  EXPECT_EQ(c->stats(0).keys, 0u);
}

TEST(Correlation, SequenceNeedsTheOrder) {
  auto c = Make({Spec(PatternKind::kSequence, 60000,
                      {Member("a", "A"), Member("b", "B"), Member("c", "C")})});
  std::vector<PatternOutput> out;
  EXPECT_EQ(c->Observe(Ev("b0", "B", "h"), 500, &out).pending, 0u);  // B before any A
  EXPECT_EQ(c->stats(0).keys, 0u);
  EXPECT_EQ(c->Observe(Ev("a1", "A", "h"), 1000, &out).pending, 1u);
  EXPECT_EQ(c->Observe(Ev("c1", "C", "h"), 2000, &out).pending, 0u);  // C before B: not held
  EXPECT_EQ(c->Observe(Ev("b1", "B", "h"), 3000, &out).pending, 1u);
  EXPECT_TRUE(out.empty());
  c->Observe(Ev("c2", "C", "h"), 4000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"a1", "b1", "c2"}));
}

TEST(Correlation, SequenceTimesOutWithThePartialRun) {
  auto c = Make({Spec(PatternKind::kSequence, 1000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  c->Observe(Ev("a1", "A", "h"), 0, &out);
  c->Advance(5000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"a1"});
}

TEST(Correlation, CountSlidesAndMatchesAtTheThreshold) {
  PatternSpec s = Spec(PatternKind::kCount, 10000, {Member("oom", "OOM")});
  s.count = 3;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  c->Observe(Ev("e1", "OOM", "h"), 0, &out);
  c->Observe(Ev("e2", "OOM", "h"), 5000, &out);
  // e1 slides out (0 + 10000 < 12000) before e3 counts: 2 in the window, no match.
  Observation o = c->Observe(Ev("e3", "OOM", "h"), 12000, &out);
  EXPECT_EQ(o.pending, 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kTimedOut);
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"e1"});
  out.clear();
  c->Observe(Ev("e4", "OOM", "h"), 13000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_EQ(out[0].count, 3u);
  EXPECT_EQ(c->stats(0).keys, 0u);
}

// Held ids and group keys of every length come back whole: inline up to the compact
// string's size (18 bytes for held ids, 23 for keys), out of line past it, and across the
// pool's chunks (more held events than one chunk holds).
TEST(Correlation, IdsAndKeysOfEveryLengthComeBackWhole) {
  PatternSpec s = Spec(PatternKind::kCount, 1'000'000, {Member("oom", "OOM")});
  s.count = 3;
  s.max_keys = 100000;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  for (size_t len : {1u, 17u, 18u, 19u, 22u, 23u, 24u, 64u}) {
    const std::string id(len, 'i');
    const std::string key(len, 'k');
    for (int n = 0; n < 3; ++n) c->Observe(Ev(id + std::to_string(n), "OOM", key), n, &out);
    ASSERT_EQ(out.size(), 1u) << len;
    EXPECT_EQ(out[0].group_key, key);
    EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{id + "0", id + "1", id + "2"}));
    out.clear();
  }
  // 3000 keys holding two events each: 6000 held events, several chunks of the pool.
  for (int k = 0; k < 3000; ++k) {
    for (int n = 0; n < 2; ++n) {
      c->Observe(Ev("h-" + std::to_string(k) + "-" + std::to_string(n), "OOM",
                    "host-" + std::to_string(k)),
                 10 + n, &out);
    }
  }
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c->stats(0).keys, 3000u);
  for (int k = 0; k < 3000; k += 997) {
    auto st = c->State(0, "host-" + std::to_string(k));
    ASSERT_TRUE(st.has_value());
    ASSERT_EQ(st->held.size(), 2u);
    EXPECT_EQ(st->held[1].event.id, "h-" + std::to_string(k) + "-1");
  }
}

TEST(Correlation, CountIgnoresResolvedEvents) {
  PatternSpec s = Spec(PatternKind::kCount, 10000, {Member("oom", "OOM")});
  s.count = 2;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  c->Observe(Ev("e1", "OOM", "h"), 0, &out);
  c->Observe(Ev("r1", "OOM", "h", "resolved"), 1, &out);
  EXPECT_TRUE(out.empty());
  c->Observe(Ev("e2", "OOM", "h"), 2, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"e1", "e2"}));
}

TEST(Correlation, CountWindowSlidesOnAdvance) {
  PatternSpec s = Spec(PatternKind::kCount, 1000, {Member("oom", "OOM")});
  s.count = 5;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  c->Observe(Ev("e1", "OOM", "h"), 0, &out);
  c->Observe(Ev("e2", "OOM", "h"), 500, &out);
  c->Advance(1200, &out);  // e1 slides out, e2 stays
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"e1"});
  c->Advance(1600, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].member_ids, std::vector<std::string>{"e2"});
  EXPECT_EQ(c->stats(0).keys, 0u);
}

TEST(Correlation, RateAboveTheBound) {
  PatternSpec s = Spec(PatternKind::kRate, 2000, {Member("x", "X")});
  s.rate = 1.5;  // > 1.5/s over 2 s: 4 events (floor(3) + 1)
  EXPECT_EQ(PatternThreshold(s), 4u);
  auto c = Make({s});
  std::vector<PatternOutput> out;
  for (int i = 0; i < 3; ++i) c->Observe(Ev("e" + std::to_string(i), "X", "h"), i * 100, &out);
  EXPECT_TRUE(out.empty());
  c->Observe(Ev("e3", "X", "h"), 300, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].count, 4u);
}

TEST(Correlation, AbsenceFiresOnTheTimerWithNoFurtherEvent) {
  auto c = Make({Spec(PatternKind::kAbsence, 60000,
                      {Member("start", "BackupStarted"), Member("done", "BackupDone")})});
  std::vector<PatternOutput> out;
  Observation o = c->Observe(Ev("s1", "BackupStarted", "db1"), 1000, &out);
  EXPECT_EQ(o.member_of, 1u);
  EXPECT_EQ(o.pending, 0u);  // absence holds nothing
  c->Observe(Ev("s2", "BackupStarted", "db2"), 1000, &out);
  c->Observe(Ev("d2", "BackupDone", "db2"), 30000, &out);  // db2 finished in time
  c->Advance(61000, &out);
  EXPECT_TRUE(out.empty());
  c->Advance(61001, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kAbsent);
  EXPECT_EQ(out[0].group_key, "db1");
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"s1"});
  EXPECT_EQ(c->stats(0).keys, 0u);
  EXPECT_EQ(c->stats(0).matched, 1u);
}

TEST(Correlation, AbsenceBTooLateFiresFirst) {
  auto c = Make({Spec(PatternKind::kAbsence, 1000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  c->Observe(Ev("a1", "A", "h"), 0, &out);
  c->Observe(Ev("b1", "B", "h"), 5000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kAbsent);
  EXPECT_EQ(c->stats(0).keys, 0u);
}

TEST(Correlation, HeartbeatFiresWhenAGroupGoesQuiet) {
  auto c = Make({Spec(PatternKind::kHeartbeat, 30000, {Member("hb", "Watchdog")})});
  std::vector<PatternOutput> out;
  c->Observe(Ev("w1", "Watchdog", "h1"), 0, &out);
  c->Observe(Ev("w2", "Watchdog", "h2"), 0, &out);
  c->Observe(Ev("w3", "Watchdog", "h1"), 20000, &out);
  c->Advance(40000, &out);  // h2 quiet since 0; h1 beat at 20000
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kAbsent);
  EXPECT_EQ(out[0].group_key, "h2");
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"w2"});
  c->Advance(50001, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].group_key, "h1");
  EXPECT_EQ(out[1].member_ids, std::vector<std::string>{"w3"});
}

TEST(Correlation, SustainedFiresAfterTheDurationAndResetsOnTheOtherSide) {
  PatternSpec s = Spec(PatternKind::kSustained, 60000, {Member("cpu", "cpu")});
  s.value = Path("values.usage");
  s.above = true;
  s.bound = 90;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  auto sample = [&](std::string id, double v, int64_t t) {
    Event ev = Ev(std::move(id), "cpu", "h");
    ev.values = {{"usage", v}};
    return c->Observe(ev, t, &out);
  };
  sample("s1", 95, 0);
  sample("s2", 96, 30000);
  sample("s3", 80, 45000);  // below: resets
  sample("s4", 95, 50000);
  sample("s5", 99, 100000);
  EXPECT_TRUE(out.empty());
  sample("s6", 97, 110000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kMatched);
  EXPECT_EQ(out[0].member_ids, (std::vector<std::string>{"s4", "s6"}));
  EXPECT_EQ(out[0].count, 3u);
  sample("s7", 98, 200000);  // still above: fired once per run
  EXPECT_EQ(out.size(), 1u);
  Event no_value = Ev("n", "cpu", "h");
  EXPECT_EQ(c->Observe(no_value, 200001, &out).member_of, 0u);
}

TEST(Correlation, LateEventsAreRefusedAndCounted) {
  PatternSpec s = Spec(PatternKind::kAllOf, 600000, {Member("a", "A"), Member("b", "B")});
  s.lateness_ms = 1000;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  c->Observe(Ev("a1", "A", "h"), 10000, &out);
  Observation o = c->Observe(Ev("b1", "B", "h"), 8999, &out);  // 1001 behind the watermark
  EXPECT_EQ(o.late, 1u);
  EXPECT_EQ(o.pending, 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c->stats(0).late, 1u);
  o = c->Observe(Ev("b2", "B", "h"), 9000, &out);  // within the lateness: joins
  EXPECT_EQ(o.late, 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first.id, "b2");  // earliest by event time
  EXPECT_EQ(out[0].last.id, "a1");
}

TEST(Correlation, EvictionAtTheKeyLimitReleasesTheOldestGroup) {
  PatternSpec s = Spec(PatternKind::kAllOf, 600000, {Member("a", "A"), Member("b", "B")});
  s.max_keys = 2;
  auto c = Make({s});
  std::vector<PatternOutput> out;
  c->Observe(Ev("a1", "A", "h1"), 0, &out);
  c->Observe(Ev("a2", "A", "h2"), 1, &out);
  c->Observe(Ev("a1b", "A", "h1"), 2, &out);  // touches h1: h2 is now the oldest
  EXPECT_TRUE(out.empty());
  c->Observe(Ev("a3", "A", "h3"), 3, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, PatternOutcome::kEvicted);
  EXPECT_EQ(out[0].group_key, "h2");
  EXPECT_EQ(out[0].member_ids, std::vector<std::string>{"a2"});
  EXPECT_EQ(c->stats(0).evicted, 1u);
  EXPECT_EQ(c->stats(0).keys, 2u);
}

TEST(Correlation, EventsWithoutTheGroupFieldAreNotMembers) {
  auto c = Make({Spec(PatternKind::kAllOf, 1000, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  Event ev;
  ev.id = "x";
  ev.labels = {{"alertname", "A"}};
  EXPECT_EQ(c->Observe(ev, 0, &out).member_of, 0u);
}

TEST(Correlation, TimersOfManyGroupsFireInDeadlineOrder) {
  auto c = Make({Spec(PatternKind::kAbsence, 100, {Member("a", "A"), Member("b", "B")})});
  std::vector<PatternOutput> out;
  for (int i = 0; i < 50; ++i) {
    c->Observe(Ev("a" + std::to_string(i), "A", "h" + std::to_string(i)), 1000 - i * 10, &out);
  }
  c->Advance(100000, &out);
  ASSERT_EQ(out.size(), 50u);
  for (size_t i = 1; i < out.size(); ++i) EXPECT_LE(out[i - 1].first.time_ms, out[i].first.time_ms);
}

TEST(Correlation, CreateRejectsBadSpecs) {
  EXPECT_FALSE(Correlator::Create({Spec(PatternKind::kAllOf, 1, {Member("a", "A")})}).ok());
  EXPECT_FALSE(Correlator::Create({Spec(PatternKind::kAbsence, 1, {Member("a", "A")})}).ok());
  PatternSpec count = Spec(PatternKind::kCount, 1, {Member("a", "A")});
  EXPECT_FALSE(Correlator::Create({count}).ok());  // count 0
  PatternSpec rate = Spec(PatternKind::kRate, 3600000, {Member("a", "A")});
  rate.rate = 1000;  // 3.6M events held per group
  EXPECT_FALSE(Correlator::Create({rate}).ok());
}

TEST(Correlation, TemplatesReadTheMatchedEvents) {
  PatternSpec s = Spec(PatternKind::kAllOf, 600000, {Member("a", "A"), Member("b", "B")});
  ActionSpec act;
  act.name = "page";
  act.params.emplace_back("text", Tmpl("{{events.count}} on {{events.first.labels.instance}} "
                                       "({{events.first.alertname}} then "
                                       "{{events.last.alertname}}, {{events.last.id}}) "
                                       "{{events.first.labels.team | default(\"ops\")}}"));
  s.actions.push_back(act);
  auto c = Make({s});
  ASSERT_EQ(c->captures(0).size(), 3u);  // labels.instance, alertname, labels.team
  std::vector<PatternOutput> out;
  c->Observe(Ev("e1", "A", "web1"), 0, &out);
  Event last = Ev("e2", "B", "web1");
  c->Observe(last, 10, &out);
  ASSERT_EQ(out.size(), 1u);
  PatternMatchView view(out[0], c->captures(0));
  EXPECT_EQ(c->specs()[0].actions[0].params[0].second.Render(last, &view),
            "2 on web1 (A then B, e2) ops");
  // Without a match the events.* names are missing.
  EXPECT_EQ(Tmpl("[{{events.count}}]").Render(last), "[]");
}

TEST(Correlation, TemplateRejectsUnknownEventsNames) {
  EXPECT_FALSE(Template::Parse("{{events.middle.x}}").ok());
  EXPECT_FALSE(Template::Parse("{{events.first.}}").ok());
  EXPECT_EQ(Tmpl("{{events.first.labels.x}}").member_variables().size(), 1u);
  EXPECT_TRUE(Tmpl("{{events.count}}").uses_events());
  EXPECT_TRUE(Tmpl("{{events.count}}").variables().empty());
}

TEST(Correlation, GroupKeyValuesSplitsTheKey) {
  EXPECT_EQ(GroupKeyValues("a\x1f"
                           "b"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(GroupKeyValues(""), std::vector<std::string>{""});
}

}  // namespace
}  // namespace reflex::engine
