#include "reflex/connectors/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <utility>

namespace reflex::connectors {

using prometheus::Counter;
using prometheus::Gauge;

void RuleMetrics::Record(const engine::MatchResult& result) const {
  verdicts_[static_cast<size_t>(result.verdict)]->Increment();
  for (const engine::RowMatch& m : result.matches) {
    if (Counter* c = RowCounter(m.table, m.row)) c->Increment();
  }
}

Counter* RuleMetrics::RowCounter(uint32_t table, uint32_t row) const {
  if (table >= rows_.size() || row >= rows_[table].size()) return nullptr;
  return rows_[table][row];
}

const std::vector<double>& Metrics::LatencyBuckets() {
  static const std::vector<double> kBuckets = {1e-5,   2.5e-5, 5e-5, 1e-4,  2.5e-4, 5e-4, 1e-3,
                                               2.5e-3, 5e-3,   0.01, 0.025, 0.05,   0.1,  0.25,
                                               0.5,    1,      2.5,  5,     10};
  return kBuckets;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  events_in_ = &prometheus::BuildCounter()
                    .Name("reflex_events_in_total")
                    .Help("Events received, per source.")
                    .Register(r);
  decisions_ = &prometheus::BuildCounter()
                    .Name("reflex_decisions_total")
                    .Help("Decisions made, per verdict (known, suppressed, unknown, pending).")
                    .Register(r);
  rule_hits_ = &prometheus::BuildCounter()
                    .Name("reflex_rule_hits_total")
                    .Help("Selected decision-table rows, per table and row id.")
                    .Register(r);
  dead_letters_ = &prometheus::BuildCounter()
                       .Name("reflex_dead_letters_total")
                       .Help("Events dead-lettered, per reason class.")
                       .Register(r);
  lag_ = &prometheus::BuildGauge()
              .Name("reflex_consumer_lag")
              .Help(
                  "Messages not yet committed, per partition: the high watermark minus the "
                  "oldest offset still waiting for its decision or acknowledgement.")
              .Register(r);
  dropped_ = &prometheus::BuildCounter()
                  .Name("reflex_outputs_dropped_total")
                  .Help(
                      "Decisions, escalations and dead letters given up on (refused for good, "
                      "or retries exhausted) and committed without them, per output and reason.")
                  .Register(r);
  truncated_ = &prometheus::BuildCounter()
                    .Name("reflex_dead_letters_truncated_total")
                    .Help("Dead letters refused for good (too large, ...) and sent again cut.")
                    .Register(r)
                    .Add({});
  pattern_outcomes_ = &prometheus::BuildCounter()
                           .Name("reflex_pattern_outcomes_total")
                           .Help(
                               "Outcomes of multi-event patterns, per pattern and outcome "
                               "(matched, absent, timed_out, evicted).")
                           .Register(r);
  pattern_keys_ = &prometheus::BuildGauge()
                       .Name("reflex_pattern_keys")
                       .Help("Groups a multi-event pattern holds, over the partitions.")
                       .Register(r);
  pattern_late_ = &prometheus::BuildCounter()
                       .Name("reflex_pattern_late_total")
                       .Help(
                           "Events a pattern refused as late (older than its lateness); "
                           "decided alone by the tables.")
                       .Register(r)
                       .Add({});
  pattern_restored_ = &prometheus::BuildCounter()
                           .Name("reflex_pattern_restored_groups_total")
                           .Help(
                               "Pattern groups read back from the changelog when a partition "
                               "was assigned (a start, a rebalance).")
                           .Register(r)
                           .Add({});
  partition_changes_ = &prometheus::BuildCounter()
                            .Name("reflex_kafka_partition_changes_total")
                            .Help(
                                "Input partitions a rebalance gave this replica (assigned) or "
                                "took (revoked; lost when the group had moved them on after a "
                                "missed session timeout).")
                            .Register(r);
  for (const char* change : {"assigned", "revoked", "lost"}) {
    partition_changes_->Add({{"change", change}});
  }
  partitions_owned_ = &prometheus::BuildGauge()
                           .Name("reflex_kafka_partitions_owned")
                           .Help(
                               "Input partitions this replica owns (0: it decides no events "
                               "from Kafka, and /readyz says so).")
                           .Register(r)
                           .Add({});
  pattern_pending_ = &prometheus::BuildGauge()
                          .Name("reflex_pattern_pending_events")
                          .Help("Unknown events held in an open pattern window (pending).")
                          .Register(r)
                          .Add({});
  latency_family_ = &prometheus::BuildHistogram()
                         .Name("reflex_decision_latency_seconds")
                         .Help("Time from receiving an event to its decision.")
                         .Register(r);
  reloads_ = &prometheus::BuildCounter()
                  .Name("reflex_rule_reloads_total")
                  .Help("Rule-set reload attempts, per result (ok, refused).")
                  .Register(r);
  reloads_refused_by_ = &prometheus::BuildCounter()
                             .Name("reflex_rule_reloads_refused_total")
                             .Help(
                                 "Rule sets refused, per reason: errors (the files do not load "
                                 "or compile), unverified (a test case of the set fails).")
                             .Register(r);
  rule_tables_ = &prometheus::BuildGauge()
                      .Name("reflex_rule_tables")
                      .Help(
                          "Tables of the live rule set, per state of their test cases: "
                          "verified (all pass), failed (one fails; live only when unverified "
                          "sets are allowed), untested (no cases).")
                      .Register(r);
  cases_failed_ = &prometheus::BuildGauge()
                       .Name("reflex_rule_cases_failed")
                       .Help(
                           "1 per failing test case, by table and case name, of the rule set "
                           "verified last (a refused one, or the live one when unverified "
                           "sets are allowed).")
                       .Register(r);
  ruleset_info_ = &prometheus::BuildGauge()
                       .Name("reflex_ruleset_info")
                       .Help("The rule set in use: 1 for its version.")
                       .Register(r);
  http_ = &prometheus::BuildCounter()
               .Name("reflex_http_requests_total")
               .Help("HTTP requests served, per path and status code.")
               .Register(r);
  http_refused_ = &prometheus::BuildCounter()
                       .Name("reflex_http_connections_refused_total")
                       .Help("HTTP connections answered 503 at once: max_connections were open.")
                       .Register(r)
                       .Add({});
  values_skipped_ = &prometheus::BuildCounter()
                         .Name("reflex_mapping_values_skipped_total")
                         .Help(
                             "Annotations or labels named in an alertmanager mapping's "
                             "values_from_* whose text was not a number: left out of values.")
                         .Register(r)
                         .Add({});
  http_open_ = &prometheus::BuildGauge()
                    .Name("reflex_http_connections")
                    .Help("HTTP connections open (being served or idle between requests).")
                    .Register(r)
                    .Add({});
  actions_ = &prometheus::BuildCounter()
                  .Name("reflex_actions_total")
                  .Help(
                      "Action run outcomes, per catalog action and outcome (succeeded, "
                      "failed, retried, awaiting_approval, throttled, suppressed, "
                      "skipped_dry_run, expired, rejected).")
                  .Register(r);
  action_queue_ = &prometheus::BuildGauge()
                       .Name("reflex_action_queue_depth")
                       .Help("Action runs the executor holds (queued, waiting or in flight).")
                       .Register(r)
                       .Add({});
  breakers_ = &prometheus::BuildGauge()
                   .Name("reflex_action_breaker_state")
                   .Help("Circuit breaker per action target: 0 closed, 1 open, 2 half-open.")
                   .Register(r);
  taken_over_ = &prometheus::BuildCounter()
                     .Name("reflex_action_runs_taken_over_total")
                     .Help(
                         "Action runs this replica took over: another replica's claim on them "
                         "ran out while they ran.")
                     .Register(r)
                     .Add({});
  store_up_ = &prometheus::BuildGauge()
                   .Name("reflex_store_up")
                   .Help(
                       "1 while the state store (the action journal's database) answers, "
                       "else 0.")
                   .Register(r)
                   .Add({});
  store_up_->Set(1);
  notices_ = &prometheus::BuildCounter()
                  .Name("reflex_notifier_notices_total")
                  .Help(
                      "Notices per notifier target and outcome (delivered, failed, retried, "
                      "dropped, taken_over).")
                  .Register(r);
  escalations_open_ = &prometheus::BuildGauge()
                           .Name("reflex_escalations_open")
                           .Help(
                               "Escalation groups in state open (not acknowledged, not "
                               "resolved), per kind; read from the escalation store.")
                           .Register(r);
  latency_ = &latency_family_->Add({}, LatencyBuckets());
  reloads_ok_ = &reloads_->Add({{"result", "ok"}});
  reloads_refused_ = &reloads_->Add({{"result", "refused"}});
  for (const char* reason : {"errors", "unverified"})
    reloads_refused_by_->Add({{"reason", reason}});
  size_t i = 0;
  for (const char* state : {"verified", "failed", "untested"}) {
    rule_tables_by_state_[i++] = &rule_tables_->Add({{"state", state}});
  }
  for (engine::Verdict v : {engine::Verdict::kKnown, engine::Verdict::kSuppressed,
                            engine::Verdict::kUnknown, engine::Verdict::kPending}) {
    verdicts_[static_cast<size_t>(v)] = &decisions_->Add({{"verdict", engine::VerdictName(v)}});
  }
}

Metrics::~Metrics() = default;

template <typename T>
T& Metrics::Child(prometheus::Family<T>* family, std::map<std::string, T*, std::less<>>* cache,
                  std::string key, const Labels& labels) {
  base::MutexLock lock(mu_);
  auto it = cache->find(key);
  if (it != cache->end()) return *it->second;
  T* child = &family->Add(labels);
  cache->emplace(std::move(key), child);
  return *child;
}

Counter& Metrics::EventsIn(std::string_view source) {
  {
    base::MutexLock lock(mu_);
    if (auto it = events_in_cache_.find(source); it != events_in_cache_.end()) return *it->second;
  }
  return Child(events_in_, &events_in_cache_, std::string(source),
               {{"source", std::string(source)}});
}

Counter& Metrics::Decisions(engine::Verdict verdict) {
  return *verdicts_[static_cast<size_t>(verdict)];
}

Counter& Metrics::DeadLetters(std::string_view reason_class) {
  {
    base::MutexLock lock(mu_);
    if (auto it = dead_letter_cache_.find(reason_class); it != dead_letter_cache_.end()) {
      return *it->second;
    }
  }
  return Child(dead_letters_, &dead_letter_cache_, std::string(reason_class),
               {{"reason", std::string(reason_class)}});
}

Gauge& Metrics::ConsumerLag(std::string_view topic, int32_t partition) {
  std::string key(topic);
  key += '\0';
  key += std::to_string(partition);
  return Child(lag_, &lag_cache_, std::move(key),
               {{"topic", std::string(topic)}, {"partition", std::to_string(partition)}});
}

void Metrics::ForgetConsumerLag(std::string_view topic, int32_t partition) {
  std::string key(topic);
  key += '\0';
  key += std::to_string(partition);
  base::MutexLock l(mu_);
  auto it = lag_cache_.find(key);
  if (it == lag_cache_.end()) return;
  lag_->Remove(it->second);
  lag_cache_.erase(it);
}

Counter& Metrics::PartitionChanges(std::string_view change) {
  return partition_changes_->Add({{"change", std::string(change)}});
}

Counter& Metrics::PatternOutcomes(std::string_view pattern, std::string_view outcome) {
  std::string key(pattern);
  key += '\0';
  key += outcome;
  return Child(pattern_outcomes_, &pattern_outcomes_cache_, std::move(key),
               {{"pattern", std::string(pattern)}, {"outcome", std::string(outcome)}});
}

Gauge& Metrics::PatternKeys(std::string_view pattern) {
  return Child(pattern_keys_, &pattern_keys_cache_, std::string(pattern),
               {{"pattern", std::string(pattern)}});
}

Counter& Metrics::OutputsDropped(std::string_view output, std::string_view reason) {
  std::string key(output);
  key += '\0';
  key += reason;
  return Child(dropped_, &dropped_cache_, std::move(key),
               {{"output", std::string(output)}, {"reason", std::string(reason)}});
}

void Metrics::SetRuleset(std::string_view version) {
  base::MutexLock lock(mu_);
  Gauge* next = &ruleset_info_->Add({{"version", std::string(version)}});
  if (ruleset_gauge_ != nullptr && ruleset_gauge_ != next) ruleset_info_->Remove(ruleset_gauge_);
  next->Set(1);
  ruleset_gauge_ = next;
}

Counter& Metrics::RuleReloadsRefused(std::string_view reason) {
  return reloads_refused_by_->Add({{"reason", std::string(reason)}});
}

void Metrics::SetRuleTables(size_t verified, size_t failed, size_t untested) {
  rule_tables_by_state_[0]->Set(static_cast<double>(verified));
  rule_tables_by_state_[1]->Set(static_cast<double>(failed));
  rule_tables_by_state_[2]->Set(static_cast<double>(untested));
}

void Metrics::SetFailingCases(const std::vector<std::pair<std::string, std::string>>& cases) {
  base::MutexLock lock(mu_);
  for (Gauge* g : failing_cases_) cases_failed_->Remove(g);
  failing_cases_.clear();
  for (const auto& [table, name] : cases) {
    Gauge* g = &cases_failed_->Add({{"table", table}, {"case", name}});
    g->Set(1);
    // Two cases of one table with one name share a series.
    if (std::find(failing_cases_.begin(), failing_cases_.end(), g) == failing_cases_.end()) {
      failing_cases_.push_back(g);
    }
  }
}

Counter& Metrics::HttpRequests(std::string_view path, int code) {
  std::string key(path);
  key += '\0';
  key += std::to_string(code);
  return Child(http_, &http_cache_, std::move(key),
               {{"path", std::string(path)}, {"code", std::to_string(code)}});
}

Counter& Metrics::Actions(std::string_view action, std::string_view outcome) {
  std::string key(action);
  key += '\0';
  key += outcome;
  return Child(actions_, &actions_cache_, std::move(key),
               {{"action", std::string(action)}, {"outcome", std::string(outcome)}});
}

Gauge& Metrics::ActionBreaker(std::string_view target) {
  return Child(breakers_, &breaker_cache_, std::string(target), {{"target", std::string(target)}});
}

Counter& Metrics::Notices(std::string_view target, std::string_view outcome) {
  std::string key(target);
  key += '\0';
  key += outcome;
  return Child(notices_, &notices_cache_, std::move(key),
               {{"target", std::string(target)}, {"outcome", std::string(outcome)}});
}

Gauge& Metrics::EscalationsOpen(std::string_view kind) {
  return Child(escalations_open_, &escalations_cache_, std::string(kind),
               {{"kind", std::string(kind)}});
}

void Metrics::AddCollectHook(std::function<void()> refresh) {
  base::MutexLock lock(hooks_mu_);
  collect_hooks_.push_back(std::move(refresh));
}

std::shared_ptr<const RuleMetrics> Metrics::ForRules(const engine::CompiledRuleSet& rules) {
  auto rm = std::make_shared<RuleMetrics>();
  rm->verdicts_ = verdicts_;
  const auto& tables = rules.tables();
  rm->rows_.resize(tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    const engine::TableSpec& table = tables[t];
    rm->rows_[t].reserve(table.rows.size());
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const std::string& id = table.rows[r].id;
      const std::string row = id.empty() ? "#" + std::to_string(r + 1) : id;
      rm->rows_[t].push_back(&rule_hits_->Add({{"table", table.name}, {"row", row}}));
    }
  }
  return rm;
}

std::string_view Metrics::ReasonClass(std::string_view reason) {
  auto starts = [&](std::string_view p) { return reason.substr(0, p.size()) == p; };
  if (starts("malformed JSON") || reason == "empty event") return "malformed_json";
  if (starts("event must be a JSON object")) return "not_object";
  if (starts("event of ") && reason.find("exceeds the limit") != std::string_view::npos) {
    return "too_large";
  }
  if (starts("event nested deeper")) return "too_deep";
  if (starts("id:")) return "bad_id";
  if (starts("timestamp:") || starts("ts:") || starts("time:")) return "bad_timestamp";
  if (starts("source:")) return "bad_source";
  if (starts("message:")) return "bad_message";
  if (starts("labels")) return "bad_labels";
  if (starts("values")) return "bad_values";
  if (starts("unmappable") || starts("mapping")) return "unmappable";
  return "other";
}

const std::vector<std::string_view>& Metrics::ReasonClasses() {
  static const std::vector<std::string_view> kClasses = {
      "malformed_json", "not_object",  "too_large",  "too_deep",   "bad_id",     "bad_timestamp",
      "bad_source",     "bad_message", "bad_labels", "bad_values", "unmappable", "other"};
  return kClasses;
}

std::string Metrics::Serialize() const {
  std::vector<std::function<void()>> hooks;
  {
    base::MutexLock lock(hooks_mu_);
    hooks = collect_hooks_;
  }
  for (const auto& refresh : hooks) refresh();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace reflex::connectors
