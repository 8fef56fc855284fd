// Metrics: the Prometheus registry of a running Reflex and its metric families.
//
// Families (all prefixed reflex_):
//   events_in_total{source}             events received, per source
//   decisions_total{verdict}            known / suppressed / unknown
//   rule_hits_total{table,row}          selected rows (row = the row id)
//   dead_letters_total{reason}          a short reason class (ReasonClass()), not free text
//   escalations_open{kind}              gauge, open escalation groups (refreshed at each scrape)
//   consumer_lag{topic,partition}       gauge, high watermark minus the oldest uncommitted offset
//   outputs_dropped_total{output,reason} outputs given up on (refused for good, retries exhausted)
//   dead_letters_truncated_total        dead letters sent again cut to fit
//   decision_latency_seconds            histogram, 10 µs .. 10 s
//   rule_reloads_total{result}          ok / refused
//   rule_reloads_refused_total{reason}  errors (does not load or compile) / unverified (a test
//                                       case fails)
//   ruleset_info{version}               gauge, 1 for the current rule set only
//   rule_tables{state}                  gauge, tables of the live rule set per state of their
//                                       test cases: verified / failed / untested
//   rule_cases_failed{table,case}       gauge, 1 per failing test case of the rule set verified
//                                       last (refused, or live when unverified sets are allowed)
//   http_requests_total{path,code}      webhook server requests
//   http_connections_refused_total      connections answered 503 at once (max_connections)
//   http_connections                    gauge, connections open
//   actions_total{action,outcome}       action run outcomes (actions/observer.h)
//   action_queue_depth                  gauge, runs the executor holds
//   action_breaker_state{target}        gauge, 0 closed, 1 open, 2 half-open
//   notifier_notices_total{target,outcome}  delivered / failed / retried / dropped
//   pattern_outcomes_total{pattern,outcome} matched / absent / timed_out / evicted
//   pattern_late_total                  events a pattern refused as late (decided alone)
//   pattern_keys{pattern}               gauge, groups a pattern holds (over the partitions)
//   pattern_pending_events              gauge, events held while pending
//   pattern_restored_groups_total       groups read back from the changelog on assignment
//   kafka_partition_changes_total{change}  partitions assigned / revoked / lost by rebalances
//   kafka_partitions_owned              gauge, input partitions this replica owns
//
// Hot path: prometheus-cpp's Family::Add costs ~200 ns (a lock and a hash of the labels), an
// increment ~6 ns. Every accessor here returns a reference that stays valid for the life of
// the Metrics object: resolve once, keep the reference. The accessors cache children by
// label, so calling them again is cheaper than Add but still takes a lock; ForRules()
// resolves every row counter of a rule set up front, so Record() only increments.
//
// Thread-safety: all methods may be called from any thread; counters are atomic.
//
//   Metrics metrics;
//   prometheus::Counter& in = metrics.EventsIn("kafka");   // once
//   auto rm = metrics.ForRules(*rules);                    // once per rule set
//   in.Increment(); rm->Record(pipeline.result());         // per event
//   std::string text = metrics.Serialize();                // GET /metrics
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/thread_annotations.h"
#include "reflex/engine/matcher.h"

namespace reflex::connectors {

// Pre-resolved counters for one compiled rule set: one per table row plus the three
// verdicts. Immutable; Record() only increments atomics, so any thread may call it.
class RuleMetrics {
 public:
  // Counts the verdict and every selected row of one decision.
  void Record(const engine::MatchResult& result) const;

  // The counter of one row (nullptr when out of range), for tests and tools.
  prometheus::Counter* RowCounter(uint32_t table, uint32_t row) const;

 private:
  friend class Metrics;
  std::vector<std::vector<prometheus::Counter*>> rows_;
  std::array<prometheus::Counter*, 4> verdicts_{};
};

class Metrics {
 public:
  // Buckets of reflex_decision_latency_seconds: 1-2.5-5 steps from 10 µs to 10 s.
  static const std::vector<double>& LatencyBuckets();

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The registry, to add families of other modules or to hand to an exposer.
  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& shared_registry() const { return registry_; }

  prometheus::Counter& EventsIn(std::string_view source);
  prometheus::Counter& Decisions(engine::Verdict verdict);
  // `reason_class` must come from a small fixed set (see ReasonClass); it becomes a label.
  prometheus::Counter& DeadLetters(std::string_view reason_class);
  prometheus::Gauge& ConsumerLag(std::string_view topic, int32_t partition);
  // Removes a partition's lag series (it moved to another replica, whose lag is its own).
  void ForgetConsumerLag(std::string_view topic, int32_t partition);
  // `change`: assigned, revoked or lost (all three series exist from the start).
  prometheus::Counter& PartitionChanges(std::string_view change);
  prometheus::Gauge& PartitionsOwned() { return *partitions_owned_; }
  // `output` and `reason` come from small fixed sets (KafkaRunner's); they become labels.
  prometheus::Counter& OutputsDropped(std::string_view output, std::string_view reason);
  prometheus::Counter& DeadLettersTruncated() { return *truncated_; }
  prometheus::Histogram& DecisionLatency() { return *latency_; }
  prometheus::Counter& RuleReloads(bool ok) { return ok ? *reloads_ok_ : *reloads_refused_; }
  // `reason`: "errors" or "unverified" (both series exist from the start).
  prometheus::Counter& RuleReloadsRefused(std::string_view reason);
  // Sets reflex_ruleset_info{version} to 1 and removes the previous version's series.
  void SetRuleset(std::string_view version);
  // Sets reflex_rule_tables{state} for the live rule set.
  void SetRuleTables(size_t verified, size_t failed, size_t untested);
  // Replaces every reflex_rule_cases_failed series by one per (table, case name), set to 1;
  // an empty list removes them all. Table "" is a case of no table of the set.
  void SetFailingCases(const std::vector<std::pair<std::string, std::string>>& cases);
  prometheus::Counter& HttpRequests(std::string_view path, int code);
  prometheus::Counter& HttpConnectionsRefused() { return *http_refused_; }
  // Mapping notes: a values_from_* text that was not a number (Mapping::Map's notes).
  prometheus::Counter& MappingValuesSkipped() { return *values_skipped_; }
  prometheus::Gauge& HttpConnectionsOpen() { return *http_open_; }
  // `action` a catalog action name, `outcome` one of the outcomes of actions/observer.h.
  prometheus::Counter& Actions(std::string_view action, std::string_view outcome);
  prometheus::Gauge& ActionQueueDepth() { return *action_queue_; }
  prometheus::Gauge& ActionBreaker(std::string_view target);
  // reflex_action_runs_taken_over_total: runs resumed here after another replica's claim ran
  // out (the log line names each run and its action).
  prometheus::Counter& ActionRunsTakenOver() { return *taken_over_; }
  // reflex_store_up: 1 while the state store (the journal's database) answers, else 0.
  prometheus::Gauge& StoreUp() { return *store_up_; }
  prometheus::Counter& Notices(std::string_view target, std::string_view outcome);
  // Multi-event patterns. `pattern` a pattern name of the rule set, `outcome` one of
  // engine::kPatternOutcomeNames.
  prometheus::Counter& PatternOutcomes(std::string_view pattern, std::string_view outcome);
  prometheus::Counter& PatternLate() { return *pattern_late_; }
  prometheus::Gauge& PatternKeys(std::string_view pattern);
  prometheus::Gauge& PatternPending() { return *pattern_pending_; }
  prometheus::Counter& PatternRestored() { return *pattern_restored_; }
  // reflex_escalations_open{kind}: escalation groups in state open, per escalation kind.
  prometheus::Gauge& EscalationsOpen(std::string_view kind);

  // Runs `refresh` at the start of every Serialize(), for gauges read from elsewhere (the
  // escalation store). It may run on several threads at once and must not call Serialize.
  // Whatever it uses must outlive the Metrics object, or the last Serialize call.
  void AddCollectHook(std::function<void()> refresh);

  // Resolves the counters of every row of `rules` (and the verdicts) once. Counters are
  // shared across rule sets by (table name, row id), so a reload keeps the counts.
  std::shared_ptr<const RuleMetrics> ForRules(const engine::CompiledRuleSet& rules);

  // Maps a dead-letter reason (the engine's or a mapping's free text, as in the dead
  // letter's reflex-error header) to a short class, one of ReasonClasses().
  static std::string_view ReasonClass(std::string_view reason);
  // Every class ReasonClass returns: malformed_json, not_object, too_large, too_deep, bad_id,
  // bad_timestamp, bad_source, bad_message, bad_labels, bad_values, unmappable, other.
  static const std::vector<std::string_view>& ReasonClasses();

  // The Prometheus text exposition format (version 0.0.4) of every family.
  std::string Serialize() const;

 private:
  using Labels = std::map<std::string, std::string>;
  template <typename T>
  T& Child(prometheus::Family<T>* family, std::map<std::string, T*, std::less<>>* cache,
           std::string key, const Labels& labels);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* events_in_;
  prometheus::Family<prometheus::Counter>* decisions_;
  prometheus::Family<prometheus::Counter>* rule_hits_;
  prometheus::Family<prometheus::Counter>* dead_letters_;
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Counter* truncated_;
  prometheus::Family<prometheus::Histogram>* latency_family_;
  prometheus::Family<prometheus::Counter>* reloads_;
  prometheus::Family<prometheus::Gauge>* ruleset_info_;
  prometheus::Family<prometheus::Counter>* reloads_refused_by_;
  prometheus::Family<prometheus::Gauge>* rule_tables_;
  prometheus::Family<prometheus::Gauge>* cases_failed_;
  std::array<prometheus::Gauge*, 3> rule_tables_by_state_{};  // verified, failed, untested
  prometheus::Family<prometheus::Counter>* http_;
  prometheus::Family<prometheus::Counter>* actions_;
  prometheus::Counter* http_refused_;
  prometheus::Counter* values_skipped_;
  prometheus::Gauge* http_open_;
  prometheus::Gauge* action_queue_;
  prometheus::Family<prometheus::Gauge>* breakers_;
  prometheus::Counter* taken_over_;
  prometheus::Gauge* store_up_;
  prometheus::Family<prometheus::Counter>* notices_;
  prometheus::Family<prometheus::Gauge>* escalations_open_;
  prometheus::Histogram* latency_;
  prometheus::Counter* reloads_ok_;
  prometheus::Counter* reloads_refused_;
  std::array<prometheus::Counter*, 4> verdicts_{};

  base::Mutex mu_;  // guards the caches and the current ruleset gauge
  std::map<std::string, prometheus::Counter*, std::less<>> events_in_cache_;
  std::map<std::string, prometheus::Counter*, std::less<>> dead_letter_cache_;
  std::map<std::string, prometheus::Gauge*, std::less<>> lag_cache_;
  std::map<std::string, prometheus::Counter*, std::less<>> dropped_cache_;
  prometheus::Family<prometheus::Counter>* pattern_outcomes_;
  prometheus::Family<prometheus::Gauge>* pattern_keys_;
  prometheus::Counter* pattern_late_;
  prometheus::Gauge* pattern_pending_;
  prometheus::Counter* pattern_restored_;
  prometheus::Family<prometheus::Counter>* partition_changes_;
  prometheus::Gauge* partitions_owned_;
  std::map<std::string, prometheus::Counter*, std::less<>> pattern_outcomes_cache_;
  std::map<std::string, prometheus::Gauge*, std::less<>> pattern_keys_cache_;
  std::map<std::string, prometheus::Counter*, std::less<>> http_cache_;
  std::map<std::string, prometheus::Counter*, std::less<>> actions_cache_;
  std::map<std::string, prometheus::Gauge*, std::less<>> breaker_cache_;
  std::map<std::string, prometheus::Counter*, std::less<>> notices_cache_;
  prometheus::Gauge* ruleset_gauge_ = nullptr;
  std::vector<prometheus::Gauge*> failing_cases_ GUARDED_BY(mu_);  // reflex_rule_cases_failed
  std::map<std::string, prometheus::Gauge*, std::less<>> escalations_cache_;
  mutable base::Mutex hooks_mu_;  // guards collect_hooks_
  std::vector<std::function<void()>> collect_hooks_;
};

}  // namespace reflex::connectors
