// Metrics: counts after Record over the example rules, every family in the text exposition,
// and concurrent use.
#include "reflex/connectors/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reflex/engine/pipeline.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::connectors {
namespace {

// Parses the Prometheus text format into "name{labels}" -> value (comments skipped).
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double Series(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) {
    ADD_FAILURE() << "no series " << key;
    return -1;
  }
  return it->second;
}

std::shared_ptr<const engine::CompiledRuleSet> ExampleRules() {
  rules::DiskSource disk;
  rules::LoadedRules lr = rules::LoadRules(disk, REFLEX_SOURCE_DIR "/rules/examples");
  rules::Diagnostics diags;
  auto rs = rules::Compile(std::move(lr), &diags);
  EXPECT_NE(rs, nullptr);
  return rs;
}

TEST(Metrics, RecordCountsVerdictsAndRows) {
  auto rs = ExampleRules();
  ASSERT_NE(rs, nullptr);
  Metrics metrics;
  auto rm = metrics.ForRules(*rs);

  engine::Pipeline pipeline(rs);
  std::ifstream in(REFLEX_SOURCE_DIR "/rules/examples/events/sample.jsonl");
  ASSERT_TRUE(in);
  std::map<engine::Verdict, int> verdicts;
  std::map<std::pair<std::string, std::string>, int> hits;  // expected per (table, row)
  std::string line;
  int events = 0;
  while (std::getline(in, line)) {
    if (!pipeline.Process(line, 1795600800000, nullptr).ok()) continue;
    ++events;
    const engine::MatchResult& r = pipeline.result();
    rm->Record(r);
    ++verdicts[r.verdict];
    for (const auto& m : r.matches) {
      const auto& table = rs->tables()[m.table];
      ++hits[{table.name, table.rows[m.row].id}];
    }
  }
  ASSERT_GT(events, 5);
  ASSERT_FALSE(hits.empty());

  const auto series = ParseExposition(metrics.Serialize());
  for (engine::Verdict v :
       {engine::Verdict::kKnown, engine::Verdict::kSuppressed, engine::Verdict::kUnknown}) {
    EXPECT_EQ(Series(series, std::string("reflex_decisions_total{verdict=\"") +
                                 engine::VerdictName(v) + "\"}"),
              verdicts[v])
        << engine::VerdictName(v);
    EXPECT_EQ(metrics.Decisions(v).Value(), verdicts[v]);
  }
  for (const auto& [key, n] : hits) {
    EXPECT_EQ(Series(series, "reflex_rule_hits_total{row=\"" + key.second + "\",table=\"" +
                                 key.first + "\"}"),
              n);
  }
  // Every row has its series from the start (0 until hit), so dashboards see dead rules.
  size_t rows = 0, row_series = 0;
  for (const auto& t : rs->tables()) rows += t.rows.size();
  for (const auto& [k, v] : series) row_series += k.rfind("reflex_rule_hits_total{", 0) == 0;
  EXPECT_EQ(row_series, rows);

  // A reload re-resolves the same counters: the counts carry over.
  auto rm2 = metrics.ForRules(*rs);
  const auto& [first_key, first_n] = *hits.begin();
  for (size_t t = 0; t < rs->tables().size(); ++t) {
    const auto& table = rs->tables()[t];
    for (size_t r = 0; r < table.rows.size(); ++r) {
      if (table.name == first_key.first && table.rows[r].id == first_key.second) {
        ASSERT_EQ(rm2->RowCounter(t, r), rm->RowCounter(t, r));
        EXPECT_EQ(rm2->RowCounter(t, r)->Value(), first_n);
      }
    }
  }
  EXPECT_EQ(rm->RowCounter(999, 0), nullptr);
}

// A partition that moved to another replica leaves this one's lag (the other reports it):
// its series goes, and comes back at zero if the partition returns.
TEST(Metrics, AMovedPartitionsLagSeriesIsRemoved) {
  Metrics metrics;
  metrics.ConsumerLag("reflex.events", 1).Set(5);
  metrics.ConsumerLag("reflex.events", 2).Set(17);
  metrics.PartitionChanges("revoked").Increment(1);
  metrics.PartitionsOwned().Set(1);
  metrics.ForgetConsumerLag("reflex.events", 2);
  metrics.ForgetConsumerLag("reflex.events", 9);  // never reported: nothing to do
  auto s = ParseExposition(metrics.Serialize());
  EXPECT_EQ(s.count(R"(reflex_consumer_lag{partition="2",topic="reflex.events"})"), 0u);
  EXPECT_EQ(s[R"(reflex_consumer_lag{partition="1",topic="reflex.events"})"], 5);
  EXPECT_EQ(s[R"(reflex_kafka_partition_changes_total{change="revoked"})"], 1);
  EXPECT_EQ(s[R"(reflex_kafka_partition_changes_total{change="lost"})"], 0);
  EXPECT_EQ(s["reflex_kafka_partitions_owned"], 1);
  metrics.ConsumerLag("reflex.events", 2);
  s = ParseExposition(metrics.Serialize());
  EXPECT_EQ(s[R"(reflex_consumer_lag{partition="2",topic="reflex.events"})"], 0);
}

TEST(Metrics, EveryFamilyIsExposed) {
  Metrics metrics;
  metrics.EventsIn("kafka").Increment(3);
  EXPECT_EQ(&metrics.EventsIn("kafka"), &metrics.EventsIn("kafka"));  // cached child
  metrics.EventsIn("http").Increment();
  metrics.DeadLetters(Metrics::ReasonClass("malformed JSON: oops")).Increment();
  metrics.ConsumerLag("reflex.events", 2).Set(17);
  metrics.DecisionLatency().Observe(0.00003);
  metrics.DecisionLatency().Observe(0.2);
  metrics.RuleReloads(true).Increment();
  metrics.RuleReloads(false).Increment(2);
  metrics.SetRuleset("v-1");
  metrics.SetRuleset("v-2");
  metrics.HttpRequests("/v1/events", 202).Increment();
  metrics.Actions("restart", "succeeded").Increment();
  metrics.Actions("restart", "failed").Increment(2);
  metrics.ActionQueueDepth().Set(3);
  metrics.ActionBreaker("127.0.0.1:9").Set(1);
  metrics.Notices("ops-slack", "dropped").Increment();

  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE reflex_decision_latency_seconds histogram"));
  const auto s = ParseExposition(text);
  EXPECT_EQ(Series(s, "reflex_events_in_total{source=\"kafka\"}"), 3);
  EXPECT_EQ(Series(s, "reflex_events_in_total{source=\"http\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_dead_letters_total{reason=\"malformed_json\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_consumer_lag{partition=\"2\",topic=\"reflex.events\"}"), 17);
  EXPECT_EQ(Series(s, "reflex_decision_latency_seconds_count"), 2);
  EXPECT_EQ(Series(s, "reflex_decision_latency_seconds_bucket{le=\"1e-05\"}"), 0);
  EXPECT_EQ(Series(s, "reflex_decision_latency_seconds_bucket{le=\"5e-05\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_decision_latency_seconds_bucket{le=\"0.25\"}"), 2);
  EXPECT_EQ(Series(s, "reflex_decision_latency_seconds_bucket{le=\"10\"}"), 2);
  EXPECT_EQ(Series(s, "reflex_rule_reloads_total{result=\"ok\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_rule_reloads_total{result=\"refused\"}"), 2);
  EXPECT_EQ(Series(s, "reflex_ruleset_info{version=\"v-2\"}"), 1);
  EXPECT_EQ(s.count("reflex_ruleset_info{version=\"v-1\"}"), 0u);  // only the current set
  EXPECT_EQ(Series(s, "reflex_http_requests_total{code=\"202\",path=\"/v1/events\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_actions_total{action=\"restart\",outcome=\"succeeded\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_actions_total{action=\"restart\",outcome=\"failed\"}"), 2);
  EXPECT_EQ(Series(s, "reflex_action_queue_depth"), 3);
  EXPECT_EQ(Series(s, "reflex_action_breaker_state{target=\"127.0.0.1:9\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_notifier_notices_total{outcome=\"dropped\",target=\"ops-slack\"}"),
            1);
  EXPECT_EQ(Series(s, "reflex_decisions_total{verdict=\"unknown\"}"), 0);
}

TEST(Metrics, RuleTableStatesRefusalReasonsAndFailingCases) {
  Metrics metrics;
  auto s = ParseExposition(metrics.Serialize());
  // Every state and reason is there from the start, at 0, for alerts on them.
  for (const char* key :
       {"reflex_rule_tables{state=\"verified\"}", "reflex_rule_tables{state=\"failed\"}",
        "reflex_rule_tables{state=\"untested\"}",
        "reflex_rule_reloads_refused_total{reason=\"errors\"}",
        "reflex_rule_reloads_refused_total{reason=\"unverified\"}"}) {
    EXPECT_EQ(Series(s, key), 0) << key;
  }
  metrics.SetRuleTables(5, 1, 2);
  metrics.RuleReloadsRefused("unverified").Increment();
  metrics.SetFailingCases({{"disk", "low usage"}, {"disk", "low usage"}, {"", "misc"}});
  s = ParseExposition(metrics.Serialize());
  EXPECT_EQ(Series(s, "reflex_rule_tables{state=\"verified\"}"), 5);
  EXPECT_EQ(Series(s, "reflex_rule_tables{state=\"failed\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_rule_tables{state=\"untested\"}"), 2);
  EXPECT_EQ(Series(s, "reflex_rule_reloads_refused_total{reason=\"unverified\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_rule_cases_failed{case=\"low usage\",table=\"disk\"}"), 1);
  EXPECT_EQ(Series(s, "reflex_rule_cases_failed{case=\"misc\",table=\"\"}"), 1);
  // The next verification replaces the list; an empty one clears it.
  metrics.SetFailingCases({{"net", "eth down"}});
  s = ParseExposition(metrics.Serialize());
  EXPECT_EQ(s.count("reflex_rule_cases_failed{case=\"low usage\",table=\"disk\"}"), 0u);
  EXPECT_EQ(Series(s, "reflex_rule_cases_failed{case=\"eth down\",table=\"net\"}"), 1);
  metrics.SetFailingCases({});
  EXPECT_THAT(metrics.Serialize(),
              ::testing::Not(::testing::HasSubstr("reflex_rule_cases_failed{")));
}

TEST(Metrics, LatencyBucketsSpan10usTo10s) {
  const auto& b = Metrics::LatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 1e-5);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(Metrics, ReasonClassesAreShort) {
  EXPECT_EQ(Metrics::ReasonClass("malformed JSON: The input is not valid UTF-8"), "malformed_json");
  EXPECT_EQ(Metrics::ReasonClass("event must be a JSON object"), "not_object");
  EXPECT_EQ(Metrics::ReasonClass("event of 2000000 bytes exceeds the limit of 1048576"),
            "too_large");
  EXPECT_EQ(Metrics::ReasonClass("id: expected a string or number"), "bad_id");
  EXPECT_EQ(Metrics::ReasonClass("timestamp: bad RFC 3339 timestamp 'x'"), "bad_timestamp");
  EXPECT_EQ(Metrics::ReasonClass("source: expected a string"), "bad_source");
  EXPECT_EQ(Metrics::ReasonClass("message: expected a string"), "bad_message");
  EXPECT_EQ(Metrics::ReasonClass("labels.instance: expected a string"), "bad_labels");
  EXPECT_EQ(Metrics::ReasonClass("values.load: expected a number"), "bad_values");
  EXPECT_EQ(Metrics::ReasonClass("something new"), "other");
}

// The run loop's own reasons: a mapping's failure and the parser's size and depth limits.
TEST(Metrics, ReasonClassesCoverTheRunLoopsReasons) {
  EXPECT_EQ(Metrics::ReasonClass("unmappable: expected an array"), "unmappable");
  EXPECT_EQ(Metrics::ReasonClass("event nested deeper than 32 levels"), "too_deep");
  EXPECT_EQ(Metrics::ReasonClass("empty event"), "malformed_json");
  for (const char* reason : {"malformed JSON: x", "unmappable: y", "event nested deeper than 2",
                             "id: z", "what", "labels: too many labels: 2 (at most 1)"}) {
    const auto& all = Metrics::ReasonClasses();
    EXPECT_NE(std::find(all.begin(), all.end(), Metrics::ReasonClass(reason)), all.end()) << reason;
  }
}

// A collect hook runs before every serialization: a gauge read from elsewhere is current.
TEST(Metrics, CollectHooksRefreshGaugesBeforeEachScrape) {
  Metrics metrics;
  int open = 2;
  metrics.AddCollectHook([&] { metrics.EscalationsOpen("unknown_event").Set(open); });
  EXPECT_THAT(metrics.Serialize(),
              ::testing::HasSubstr("reflex_escalations_open{kind=\"unknown_event\"} 2"));
  open = 1;
  EXPECT_THAT(metrics.Serialize(),
              ::testing::HasSubstr("reflex_escalations_open{kind=\"unknown_event\"} 1"));
}

TEST(Metrics, ConcurrentUseCountsEverything) {
  Metrics metrics;
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.EventsIn(i % 2 ? "a" : "b").Increment();
        metrics.HttpRequests("/v1/events", 200 + t).Increment();
        if (i % 100 == 0) (void)metrics.Serialize();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(metrics.EventsIn("a").Value() + metrics.EventsIn("b").Value(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(metrics.HttpRequests("/v1/events", 200 + t).Value(), kPerThread);
  }
}

}  // namespace
}  // namespace reflex::connectors
