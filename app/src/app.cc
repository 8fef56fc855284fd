#include "reflex/app/app.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "reflex/actions/audit.h"
#include "reflex/actions/catalog.h"
#include "reflex/actions/dispatcher.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/actions/retention.h"
#include "reflex/actions/silence_store.h"
#include "reflex/api/rest_api.h"
#include "reflex/app/rule_history_store.h"
#include "reflex/app/state_dir.h"
#include "reflex/base/strings.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/connectors/embedded_broker.h"
#include "reflex/connectors/http_server.h"
#include "reflex/connectors/metrics.h"
#include "reflex/connectors/recent_decisions.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/connectors/rule_store.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/correlation.h"
#include "reflex/engine/mute.h"
#include "reflex/rules/source.h"
#include "reflex/rules/test_cases.h"
#include "reflex/web/console_assets.h"

namespace reflex::app {
namespace {

namespace fs = std::filesystem;
using connectors::Logger;
using engine::Status;

// Every pattern of the set has its reflex_pattern_keys series from the moment the set is
// live (at 0 until the loop reports), so a scrape never misses a pattern that holds nothing.
void ExposePatternSeries(connectors::Metrics& m, const engine::CompiledRuleSet& rules) {
  if (!rules.patterns()) return;
  for (const auto& spec : rules.patterns()->specs) m.PatternKeys(spec.name);
}

// Metrics from the Kafka loop. Rule metrics are resolved once per rule set.
class MetricsObserver final : public connectors::RunnerObserver {
 public:
  MetricsObserver(connectors::Metrics& m, connectors::RecentDecisions* recent)
      : m_(m), recent_(recent) {}
  void OnEvent(std::string_view source, const engine::CompiledRuleSet& rules,
               const engine::MatchResult& result) override {
    if (&rules != rules_seen_) {
      rule_metrics_ = m_.ForRules(rules);
      rules_seen_ = &rules;
      m_.SetRuleset(rules.version());
    }
    if (source != last_source_ || events_in_ == nullptr) {
      events_in_ = &m_.EventsIn(source);
      last_source_ = std::string(source);
    }
    events_in_->Increment();
    rule_metrics_->Record(result);
  }
  // Thread-safe (RecentDecisions locks a shard of its own).
  void OnDecided(std::string_view source, const engine::CompiledRuleSet& rules,
                 const engine::Event& event, const engine::MatchResult& result,
                 int64_t now_ms) override {
    if (recent_ != nullptr) recent_->Record(source, rules, event, result, now_ms);
  }
  void OnDeadLetter(std::string_view source, std::string_view reason_class) override {
    m_.EventsIn(source).Increment();
    m_.DeadLetters(reason_class).Increment();
  }
  void OnBatch(double seconds, size_t events) override {
    // One observation per batch (PERFORMANCE.md): the time its events spent in-process.
    if (events > 0) m_.DecisionLatency().Observe(seconds);
  }
  void OnLag(const std::string& topic, int32_t partition, int64_t lag) override {
    m_.ConsumerLag(topic, partition).Set(static_cast<double>(lag));
  }
  void OnOutputDropped(std::string_view output, std::string_view reason) override {
    m_.OutputsDropped(output, reason).Increment();
  }
  void OnDeadLetterTruncated() override { m_.DeadLettersTruncated().Increment(); }
  void OnPatternOutcome(std::string_view pattern, engine::PatternOutcome outcome) override {
    m_.PatternOutcomes(pattern, engine::kPatternOutcomeNames.Name(outcome)).Increment();
  }
  void OnPatternLate(uint64_t events) override {
    m_.PatternLate().Increment(static_cast<double>(events));
  }
  void OnPatternState(std::string_view pattern, uint64_t keys) override {
    m_.PatternKeys(pattern).Set(static_cast<double>(keys));
  }
  void OnPatternPending(uint64_t events) override {
    m_.PatternPending().Set(static_cast<double>(events));
  }
  void OnPatternRestored(uint64_t groups) override {
    m_.PatternRestored().Increment(static_cast<double>(groups));
  }
  void OnRebalance(std::string_view change,
                   const std::vector<std::pair<std::string, int32_t>>& partitions,
                   int owned) override {
    m_.PartitionChanges(change).Increment(static_cast<double>(partitions.size()));
    m_.PartitionsOwned().Set(owned);
    // A partition that left is another replica's to report.
    if (change != "assigned") {
      for (const auto& [topic, partition] : partitions) m_.ForgetConsumerLag(topic, partition);
    }
  }

 private:
  connectors::Metrics& m_;
  connectors::RecentDecisions* recent_;
  const engine::CompiledRuleSet* rules_seen_ = nullptr;
  std::shared_ptr<const connectors::RuleMetrics> rule_metrics_;
  std::string last_source_;
  prometheus::Counter* events_in_ = nullptr;
};

// Executor and notifier outcomes as metric series (actions/observer.h), and one log line per
// run outcome naming its event, table and row.
class ActionMetrics final : public actions::ActionObserver {
 public:
  ActionMetrics(connectors::Metrics& m, Logger& log) : m_(m), log_(log) {}
  void RunOutcome(std::string_view action, std::string_view outcome) override {
    m_.Actions(action, outcome).Increment();
  }
  void RunReported(const actions::RunReport& r) override {
    using connectors::LogLevel;
    LogLevel level = LogLevel::kInfo;
    if (r.outcome == "failed") {
      level = LogLevel::kError;
    } else if (r.outcome == "retried" || r.outcome == "expired") {
      level = LogLevel::kWarn;
    } else if (r.outcome == "throttled" || r.outcome == "suppressed" ||
               r.outcome == "skipped_dry_run") {
      level = LogLevel::kDebug;  // by design, and as many as the decisions that ask for them
    }
    if (!log_.Enabled(level)) return;
    const connectors::LogField fields[] = {{"event_id", r.event_id}, {"table", r.table},
                                           {"row", r.row},           {"action", r.action},
                                           {"outcome", r.outcome},   {"run_id", r.run_id},
                                           {"attempt", r.attempt},   {"error", r.error}};
    // The error field only when there is one.
    log_.LogSpan(level, "action run",
                 std::span<const connectors::LogField>(fields, r.error.empty() ? 7 : 8));
  }
  void QueueDepth(int64_t runs) override { m_.ActionQueueDepth().Set(static_cast<double>(runs)); }
  void BreakerChanged(std::string_view target, actions::BreakerState state) override {
    m_.ActionBreaker(target).Set(static_cast<double>(state));
  }
  void NoticeOutcome(std::string_view target, std::string_view outcome) override {
    m_.Notices(target, outcome).Increment();
  }
  void RunTakenOver(const actions::RunReport& r, std::string_view previous_owner) override {
    m_.ActionRunsTakenOver().Increment();
    log_.Warn("action run taken over", {{"run_id", r.run_id},
                                        {"action", r.action},
                                        {"event_id", r.event_id},
                                        {"from", previous_owner},
                                        {"reason", r.error}});
  }
  void StoreReachable(bool reachable, std::string_view error) override {
    if (reachable) {
      log_.Info("state store answers again", {});
    } else {
      log_.Error(
          "state store unreachable: not ready; runs in flight may be taken over by "
          "another replica once their claim's lease runs out",
          {{"error", error}});
    }
  }

 private:
  connectors::Metrics& m_;
  Logger& log_;
};

// Serialises observer calls when several pipeline workers run.

class LockedObserver final : public connectors::RunnerObserver {
 public:
  explicit LockedObserver(connectors::RunnerObserver& inner) : inner_(inner) {}
  void OnEvent(std::string_view s, const engine::CompiledRuleSet& r,
               const engine::MatchResult& m) override {
    base::MutexLock l(mu_);
    inner_.OnEvent(s, r, m);
  }
  void OnDeadLetter(std::string_view s, std::string_view c) override {
    base::MutexLock l(mu_);
    inner_.OnDeadLetter(s, c);
  }
  // The inner observer's OnDecided is thread-safe: no lock.
  void OnDecided(std::string_view s, const engine::CompiledRuleSet& r, const engine::Event& e,
                 const engine::MatchResult& m, int64_t now_ms) override {
    inner_.OnDecided(s, r, e, m, now_ms);
  }
  void OnBatch(double sec, size_t n) override { inner_.OnBatch(sec, n); }
  void OnLag(const std::string& t, int32_t p, int64_t lag) override { inner_.OnLag(t, p, lag); }
  // Called on the loop thread only, like OnLag: no lock needed.
  void OnOutputDropped(std::string_view o, std::string_view r) override {
    inner_.OnOutputDropped(o, r);
  }
  void OnDeadLetterTruncated() override { inner_.OnDeadLetterTruncated(); }
  // Outcomes and late events come from the worker threads; the state from the loop thread.
  void OnPatternOutcome(std::string_view p, engine::PatternOutcome o) override {
    base::MutexLock l(mu_);
    inner_.OnPatternOutcome(p, o);
  }
  void OnPatternLate(uint64_t n) override {
    base::MutexLock l(mu_);
    inner_.OnPatternLate(n);
  }
  void OnPatternState(std::string_view p, uint64_t keys) override {
    inner_.OnPatternState(p, keys);
  }
  void OnPatternPending(uint64_t n) override { inner_.OnPatternPending(n); }
  void OnPatternRestored(uint64_t n) override {
    base::MutexLock l(mu_);
    inner_.OnPatternRestored(n);
  }
  // Loop thread only.
  void OnRebalance(std::string_view c, const std::vector<std::pair<std::string, int32_t>>& parts,
                   int owned) override {
    inner_.OnRebalance(c, parts, owned);
  }

 private:
  connectors::RunnerObserver& inner_;
  base::Mutex mu_;
};

// HTTP ingest hands accepted events to Kafka and answers only after the broker acked them.
class KafkaIngestSink final : public connectors::IngestSink {
 public:
  KafkaIngestSink(connectors::AckedProducer& p, std::string topic)
      : producer_(p), topic_(std::move(topic)) {}
  Status Accept(std::string_view source, std::vector<std::string>&& events) override {
    return producer_.Produce(topic_, source, events, 10000);
  }

 private:
  connectors::AckedProducer& producer_;
  std::string topic_;
};

// One demo line per decision: "[known]      evt-0004  disk_full/disk-tmp -> clean_tmp".
std::string HumanDecision(std::string_view decision_json) {
  auto j = nlohmann::json::parse(decision_json, nullptr, false);
  if (j.is_discarded()) return std::string(decision_json);
  std::string line = "[" + j.value("verdict", std::string("?")) + "]";
  line.resize(13, ' ');
  line += j.value("event_id", "");
  if (!j.contains("matches")) return line;
  for (const auto& m : j["matches"]) {
    line += "  " + m.value("table", "") + "/" + m.value("row", "");
    std::string acts;
    if (m.contains("actions")) {
      for (const auto& a : m["actions"]) acts += (acts.empty() ? "" : ", ") + a.value("name", "");
    }
    if (!acts.empty()) line += " -> " + acts;
  }
  return line;
}

std::vector<std::string> ReadJsonLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// The demo stream: the events file, with the malformed examples mixed in when the bundled
// events are used (they show the dead-letter path).
std::vector<std::string> DemoLines(const std::string& rules_dir, const std::string& given) {
  const std::string events =
      given.empty() ? (fs::path(rules_dir) / "events" / "sample.jsonl").string() : given;
  std::vector<std::string> lines = ReadJsonLines(events);
  const std::string bad = (fs::path(events).parent_path() / "malformed.jsonl").string();
  if (!given.empty() || !fs::exists(bad)) return lines;
  const auto b = ReadJsonLines(bad);
  for (size_t i = 0; i < b.size(); ++i) {
    lines.insert(lines.begin() + static_cast<long>((i + 1) * lines.size() / (b.size() + 1)), b[i]);
  }
  return lines;
}

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// Takes SIGINT, SIGTERM and SIGHUP (blocked in every thread) with sigtimedwait.
class SignalThread {
 public:
  SignalThread(std::function<void()> on_stop, std::function<void()> on_hup)
      : on_stop_(std::move(on_stop)), on_hup_(std::move(on_hup)) {
    thread_ = std::thread([this] {
      const sigset_t set = StopSignals();
      timespec tick{0, 200 * 1000 * 1000};
      while (!quit_.load()) {
        const int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGHUP) {
          on_hup_();
        } else if (sig == SIGINT || sig == SIGTERM) {
          on_stop_();
        }
      }
    });
  }
  ~SignalThread() {
    quit_ = true;
    thread_.join();
  }
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  std::function<void()> on_stop_, on_hup_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

// reflex_retention_deleted_total{store} and reflex_retention_rows{store}: rows deleted by
// retention and rows held after its last pass, per store (action_runs, escalation_groups,
// escalation_samples, notice_outbox).
class RetentionMetrics {
 public:
  explicit RetentionMetrics(prometheus::Registry& r)
      : deleted_(prometheus::BuildCounter()
                     .Name("reflex_retention_deleted_total")
                     .Help("Rows deleted by retention, per store.")
                     .Register(r)),
        rows_(prometheus::BuildGauge()
                  .Name("reflex_retention_rows")
                  .Help("Rows held after the last retention pass, per store.")
                  .Register(r)) {}
  void Record(const actions::RetentionPass& p) {
    Set("action_runs", p.runs.deleted, p.runs.kept);
    Set("escalation_groups", p.escalations.groups_deleted, p.escalations.groups_kept);
    Set("escalation_samples", p.escalations.samples_deleted, p.escalations.samples_kept);
    Set("notice_outbox", p.notices.deleted, p.notices.kept);
  }

 private:
  void Set(const std::string& store, int64_t deleted, int64_t kept) {
    deleted_.Add({{"store", store}}).Increment(static_cast<double>(deleted));
    rows_.Add({{"store", store}}).Set(static_cast<double>(kept));
  }
  prometheus::Family<prometheus::Counter>& deleted_;
  prometheus::Family<prometheus::Gauge>& rows_;
};

// The longest throttle or suppress window of the catalog: runs younger than it still count.
int64_t LongestRateLimitWindow(const actions::Catalog& catalog) {
  int64_t longest = 0;
  for (const auto& [name, spec] : catalog.actions()) {
    longest = std::max({longest, spec.throttle.window_ms, spec.suppress.window_ms});
  }
  return longest;
}

// The live action catalog. It is loaded with the rules and goes live with them (RuleStore's
// validate and on_reload, both on the reloading thread); the executor and the retention task
// follow it from when they are registered until Unfollow.
class LiveCatalog {
 public:
  explicit LiveCatalog(std::shared_ptr<const actions::Catalog> initial)
      : current_(std::move(initial)) {}

  std::shared_ptr<const actions::Catalog> Current() const {
    base::MutexLock lock(mu_);
    return current_;
  }
  void Publish(std::shared_ptr<const actions::Catalog> catalog) {
    base::MutexLock lock(mu_);
    current_ = std::move(catalog);
    if (executor_ != nullptr) executor_->SetCatalog(current_);
    if (retention_ != nullptr) retention_->SetKeepRecentMs(LongestRateLimitWindow(*current_));
  }
  // The followers must stay alive until Unfollow.
  void Follow(actions::Executor* executor, actions::RetentionTask* retention) {
    base::MutexLock lock(mu_);
    if (executor != nullptr) {
      executor_ = executor;
      executor_->SetCatalog(current_);
    }
    if (retention != nullptr) {
      retention_ = retention;
      retention_->SetKeepRecentMs(LongestRateLimitWindow(*current_));
    }
  }
  void Unfollow() {
    base::MutexLock lock(mu_);
    executor_ = nullptr;
    retention_ = nullptr;
  }

 private:
  mutable base::Mutex mu_;
  std::shared_ptr<const actions::Catalog> current_ GUARDED_BY(mu_);
  actions::Executor* executor_ GUARDED_BY(mu_) = nullptr;
  actions::RetentionTask* retention_ GUARDED_BY(mu_) = nullptr;
};

// The catalog a loaded rule set carries (its actions.yaml as read by the loader, or an empty
// catalog without one), checked strictly; errors as "file:line:col: message" lines.
engine::Result<std::shared_ptr<const actions::Catalog>> SnapshotCatalog(
    const connectors::RuleSnapshot& snap) {
  auto it = snap.files.find("actions.yaml");
  if (it == snap.files.end()) return std::make_shared<const actions::Catalog>();
  auto c = actions::ParseCatalog(it->second, snap.dir + "/actions.yaml");
  if (!c.ok()) return c.status();
  return std::make_shared<const actions::Catalog>(std::move(*c));
}

// The test cases of a loaded rule set, run against it (rules::VerifyRuleSet). The cases files
// are the bytes the snapshot read with the tables: what is verified is what would go live.
rules::RuleSetVerification VerifySnapshot(const connectors::RuleSnapshot& snap, int64_t now_ms) {
  std::vector<rules::CaseFile> files;
  for (const auto& [rel, bytes] : snap.files) {
    // The loader's cases files: tables/<name>.cases.csv or .cases.jsonl.
    const bool in_tables = rel.rfind("tables/", 0) == 0 && rel.find('/', 7) == std::string::npos;
    if (in_tables && rules::IsCasesFile(rel)) {
      files.push_back({rules::JoinPath(snap.dir, rel), bytes});
    }
  }
  return rules::VerifyRuleSet(*snap.rules, files, now_ms);
}

// (table, case) of every failure, for reflex_rule_cases_failed; an error in a cases file is
// named by its position.
std::vector<std::pair<std::string, std::string>> FailingCases(const rules::RuleSetVerification& v) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const rules::CaseFailure& f) {
    out.emplace_back(f.table, f.name.empty() ? f.file + ":" + std::to_string(f.line) : f.name);
  };
  for (const auto& t : v.tables) {
    for (const auto& f : t.failures) add(f);
  }
  for (const auto& f : v.other_failures) add(f);
  return out;
}

// Why a rule set is refused: every failure, then what to do about it.
Status NotVerified(const rules::RuleSetVerification& v, const std::string& rules_dir) {
  const std::vector<std::string> lines = v.FailureLines();
  std::string msg;
  for (const auto& l : lines) msg += l + "\n";
  msg += rules_dir + ": " + std::to_string(lines.size()) +
         " test case failure(s): rule set not verified (see reflex test " + rules_dir +
         "); fix the tables or the cases, or set allow_unverified_rules: true to run it anyway";
  return engine::InvalidArgument(std::move(msg));
}

// The table states of a rule set that passed the validate hook, for reflex_rule_tables once
// it is live.
struct TableStates {
  size_t verified = 0, failed = 0, untested = 0;
  std::vector<std::string> untested_names;
};

// The run mode's silences: the store behind `reflex silences` and /api/v2/silences, published
// to the Muter. A write through the API is published at once; a write by another process
// (`reflex silences`) at the next poll, at most processing.silence_refresh later; silences
// that ended more than kSilenceRetentionMs ago are pruned (Alertmanager keeps them 5 days).
class LiveSilences final : public connectors::SilenceApi {
 public:
  static constexpr int64_t kSilenceRetentionMs = 120LL * 3600 * 1000;

  LiveSilences(actions::SilenceStore& store, engine::Muter& muter, const engine::Clock& clock,
               Logger& log)
      : store_(store), muter_(muter), clock_(clock), log_(log) {}
  ~LiveSilences() override { Stop(); }

  // Loads the silences once; kUnavailable when the store cannot be read.
  Status Load() {
    base::MutexLock l(mu_);
    return RefreshLocked(true);
  }
  void Start(int64_t interval_ms) {
    thread_ = std::thread([this, interval_ms] {
      int64_t last_prune = 0;
      base::MutexLock l(mu_);
      while (!stop_) {
        l.WaitFor(cv_, std::chrono::milliseconds(interval_ms));
        if (stop_) break;
        if (const int64_t now = clock_.NowMillis(); now - last_prune > 3600 * 1000) {
          last_prune = now;
          if (auto n = store_.Prune(kSilenceRetentionMs); !n.ok()) {
            log_.Warn("silences not pruned", {{"error", n.status().message()}});
          }
        }
        if (Status s = RefreshLocked(false); !s.ok()) {
          log_.Warn("silences not refreshed", {{"error", s.message()}});
        }
      }
    });
  }
  void Stop() {
    {
      base::MutexLock l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  engine::Result<std::string> Add(engine::Silence silence) override {
    auto id = store_.Add(std::move(silence));
    if (id.ok()) Publish();
    return id;
  }
  engine::Result<std::vector<engine::Silence>> List() override { return store_.List(); }
  Status Expire(const std::string& id) override {
    Status s = store_.Expire(id);
    if (s.ok()) Publish();
    return s;
  }
  int64_t NowMillis() const override { return clock_.NowMillis(); }

  // Active and pending silences now.
  std::pair<int64_t, int64_t> Counts() const {
    auto set = muter_.silences();
    int64_t active = 0, pending = 0;
    const int64_t now = clock_.NowMillis();
    for (size_t i = 0; set && i < set->size(); ++i) {
      const auto st = engine::StateAt(set->silence(i), now);
      active += st == engine::SilenceState::kActive;
      pending += st == engine::SilenceState::kPending;
    }
    return {active, pending};
  }

 private:
  void Publish() {
    base::MutexLock l(mu_);
    if (Status s = RefreshLocked(true); !s.ok()) {
      log_.Warn("silences not refreshed", {{"error", s.message()}});
    }
  }
  Status RefreshLocked(bool force) REQUIRES(mu_) {
    auto version = store_.Version();
    if (!version.ok()) return version.status();
    if (!force && *version == version_) return Status::Ok();
    auto all = store_.List();
    if (!all.ok()) return all.status();
    std::vector<engine::Silence> live;
    const int64_t now = clock_.NowMillis();
    for (auto& s : *all) {
      if (engine::StateAt(s, now) != engine::SilenceState::kExpired) live.push_back(std::move(s));
    }
    auto set = engine::SilenceSet::Create(std::move(live));
    if (!set.ok()) return set.status();
    muter_.SetSilences(std::move(*set));
    version_ = *version;
    return Status::Ok();
  }

  actions::SilenceStore& store_;
  engine::Muter& muter_;
  const engine::Clock& clock_;
  Logger& log_;
  base::Mutex mu_;
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  int64_t version_ GUARDED_BY(mu_) = -1;
  std::thread thread_;
};

}  // namespace

int ExitCode(const Status& status) {
  switch (status.code()) {
    case engine::StatusCode::kOk:
      return 0;
    case engine::StatusCode::kInvalidArgument:
      return 1;
    case engine::StatusCode::kNotFound:
    case engine::StatusCode::kUnavailable:
      return 2;
    case engine::StatusCode::kFailedPrecondition:
    case engine::StatusCode::kAlreadyExists:
    case engine::StatusCode::kResourceExhausted:
    case engine::StatusCode::kInternal:
      return 4;
  }
  return 4;
}

// Every part, in start order; destroyed in reverse.
struct App::Parts {
  AppConfig config;
  RunRequest request;
  std::ostream& out;
  std::ostream& err;
  Logger& log;

  // The check phase.
  connectors::RuleSnapshot snapshot;
  rules::RuleSetVerification verification;  // of `snapshot`, when it compiled
  LiveCatalog catalog{std::make_shared<const actions::Catalog>()};
  std::vector<std::string> demo_lines;
  std::string demo_token;  // the console token a demo made for itself ("" when none)
  // Serialises the demo's writes to `out` from the runner's decision tap and the producer.
  std::mutex out_mu;

  // Start.
  engine::SystemClock clock;
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  connectors::Metrics metrics;
  ActionMetrics action_metrics{metrics, log};
  std::unique_ptr<connectors::RuleHistory> history;
  std::unique_ptr<connectors::RuleStore> rules;
  std::unique_ptr<connectors::RuleWatcher> watcher;
  std::string db_path;
  std::unique_ptr<actions::Journal> journal;
  std::unique_ptr<actions::EscalationStore> escalations;
  std::unique_ptr<actions::NoticeOutbox> outbox;
  std::unique_ptr<actions::AuditLog> audit;
  std::unique_ptr<actions::SilenceStore> silence_store;
  std::unique_ptr<engine::Muter> muter;
  std::unique_ptr<LiveSilences> silences;
  std::unique_ptr<RetentionMetrics> retention_metrics;
  std::unique_ptr<actions::DutyLock> retention_duty;  // PostgreSQL store only
  std::atomic<bool> retention_skipped{false};         // the last pass's (logged on change)
  std::unique_ptr<actions::RetentionTask> retention;
  std::unique_ptr<actions::Notifier> notifier;
  std::unique_ptr<connectors::AckedProducer> side;
  std::unique_ptr<actions::Executor> executor;
  std::unique_ptr<actions::Dispatcher> dispatcher;
  std::unique_ptr<connectors::KafkaRunner> runner;
  std::unique_ptr<connectors::RecentDecisions> recent;  // read by `rest`, fed by `observer`
  std::unique_ptr<MetricsObserver> observer;
  std::unique_ptr<LockedObserver> locked_observer;
  std::unique_ptr<KafkaIngestSink> sink;
  std::unique_ptr<api::RestApi> rest;  // served by `http`, stopped before it goes
  std::unique_ptr<connectors::HttpServer> http;
  std::thread demo_producer;
  std::atomic<bool> demo_stop{false};

  // The validate hook and on_reload run one after the other under the rule store's reload
  // lock, but on whichever thread reloads.
  base::Mutex verify_mu;
  TableStates candidate_states GUARDED_BY(verify_mu);
  // The candidate's action catalog, published when the candidate goes live.
  std::shared_ptr<const actions::Catalog> candidate_catalog GUARDED_BY(verify_mu);
  bool candidate_catalog_refused GUARDED_BY(verify_mu) = false;

  Parts(AppConfig c, RunRequest r, std::ostream& o, std::ostream& e, Logger& l)
      : config(std::move(c)), request(std::move(r)), out(o), err(e), log(l) {}

  // The rule store's validate hook: checks the candidate's action catalog strictly (the
  // loader reads only its names and params), then runs the test cases and refuses the set
  // when one fails, unless allow_unverified_rules (then a warning names the failures).
  Status ValidateCandidate(const connectors::RuleSnapshot& snap) {
    auto parsed = SnapshotCatalog(snap);
    {
      base::MutexLock lock(verify_mu);
      candidate_catalog_refused = !parsed.ok();
      candidate_catalog = parsed.ok() ? std::move(*parsed) : nullptr;
    }
    if (!parsed.ok()) return parsed.status();
    const rules::RuleSetVerification v = VerifySnapshot(snap, clock.NowMillis());
    metrics.SetFailingCases(FailingCases(v));
    {
      base::MutexLock lock(verify_mu);
      candidate_states = {.verified = v.Count(rules::TableState::kVerified),
                          .failed = v.Count(rules::TableState::kFailed),
                          .untested = v.Count(rules::TableState::kUntested),
                          .untested_names = v.Tables(rules::TableState::kUntested)};
    }
    if (v.passed()) return Status::Ok();
    if (!run().allow_unverified_rules) return NotVerified(v, run().rules_dir);
    const std::vector<std::string> lines = v.FailureLines();
    log.Warn("rule set not verified", {{"version", snap.version},
                                       {"failures", lines.size()},
                                       {"allowed_by", "allow_unverified_rules"},
                                       {"error", base::Join(lines, "\n")}});
    return Status::Ok();
  }

  // The rule store's on_reload: the log line, the reload counters and, once a set is live,
  // its table states.
  void OnReload(const connectors::ReloadResult& r) {
    connectors::LogReloadResult(log, r);
    if (r.outcome != connectors::ReloadResult::Outcome::kUnchanged) {
      metrics.RuleReloads(r.ok()).Increment();
      if (!r.ok()) {
        bool catalog_refused;
        {
          base::MutexLock lock(verify_mu);
          catalog_refused = candidate_catalog_refused;
        }
        const bool unverified = !r.validation.ok() && !catalog_refused;
        metrics.RuleReloadsRefused(unverified ? "unverified" : "errors").Increment();
      }
    }
    if (r.outcome != connectors::ReloadResult::Outcome::kSwapped) return;
    TableStates t;
    std::shared_ptr<const actions::Catalog> live_catalog;
    {
      base::MutexLock lock(verify_mu);
      t = candidate_states;
      live_catalog = std::move(candidate_catalog);
    }
    if (live_catalog != nullptr) catalog.Publish(std::move(live_catalog));
    if (rules != nullptr) ExposePatternSeries(metrics, *rules->Current());
    metrics.SetRuleTables(t.verified, t.failed, t.untested);
    if (!t.untested_names.empty()) {
      log.Info("rule tables without test cases", {{"version", r.new_version},
                                                  {"count", t.untested_names.size()},
                                                  {"tables", base::Join(t.untested_names, ", ")}});
    }
  }
  const connectors::RunConfig& run() const { return config.run; }
  bool embedded() const { return config.run.kafka.brokers.empty() || broker != nullptr; }
};

App::App(AppConfig config, RunRequest request, std::ostream& out, std::ostream& err, Logger& log)
    : p_(std::make_unique<Parts>(std::move(config), std::move(request), out, err, log)) {}

App::~App() {
  if (p_->demo_producer.joinable()) {
    p_->demo_stop = true;
    p_->demo_producer.join();
  }
}

const AppConfig& App::config() const { return p_->config; }
const connectors::RunnerStats& App::runner_stats() const { return p_->runner->stats(); }
int App::http_port() const { return p_->http ? p_->http->port() : 0; }
std::string App::MetricsText() const { return p_->metrics.Serialize(); }

engine::Result<std::unique_ptr<App>> App::Create(AppConfig config, RunRequest request,
                                                 std::ostream& out, std::ostream& err,
                                                 Logger& log) {
  if (request.demo) config.run.dry_run = true;  // the demo never runs real automation
  std::string demo_token;
  if (request.demo && config.run.http.api_tokens.empty() &&
      connectors::IsLoopbackHost(config.run.http.listen.host)) {
    // The console of a demo on this machine only: a fresh token for this run, printed.
    std::random_device rd;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) demo_token += kHex[rd() % 16];
    config.run.http.api_tokens.push_back({"demo", connectors::ApiRole::kAdmin, demo_token});
  }
  std::unique_ptr<App> app(new App(std::move(config), std::move(request), out, err, log));
  Parts& p = *app->p_;
  p.demo_token = std::move(demo_token);
  int errors = 0;
  for (const Status& s :
       {connectors::CheckListenerAuth(p.run().http), connectors::CheckIngestConsumed(p.run())}) {
    if (s.ok()) continue;
    err << s.message() << "\n";
    ++errors;
  }
  p.snapshot = connectors::LoadRuleSnapshot(p.run().rules_dir);
  if (!p.snapshot.ok()) {
    for (const auto& e : p.snapshot.Errors()) err << e << "\n";
    ++errors;
  } else {
    p.verification = VerifySnapshot(p.snapshot, p.clock.NowMillis());
    if (!p.verification.passed() && !p.run().allow_unverified_rules) {
      err << NotVerified(p.verification, p.run().rules_dir).message() << "\n";
      ++errors;
    }
  }
  const std::string catalog_path = (fs::path(p.run().rules_dir) / "actions.yaml").string();
  if (fs::exists(catalog_path)) {
    auto c = actions::LoadCatalog(catalog_path);
    if (!c.ok()) {
      err << "actions: " << c.status().message() << "\n";
      ++errors;
    } else {
      p.catalog.Publish(std::make_shared<const actions::Catalog>(std::move(*c)));
    }
  }
  if (errors > 0) {
    return engine::InvalidArgument("the listener, the rules or the action catalog are invalid");
  }
  return app;
}

std::string App::CheckReport() const {
  const auto& c = p_->run();
  const rules::RuleSetVerification& v = p_->verification;
  std::ostringstream os;
  os << "config OK: " << (c.file.empty() ? "built-in default" : c.file) << "\n"
     << "  rules:     " << c.rules_dir << " (" << p_->snapshot.rules->version() << ")\n"
     << "  tests:     " << v.Count(rules::TableState::kVerified) << " verified, "
     << v.Count(rules::TableState::kFailed) << " not verified, "
     << v.Count(rules::TableState::kUntested) << " untested table(s)"
     << (v.passed() ? "" : "; failing cases allowed by allow_unverified_rules") << "\n"
     << "  kafka:     " << (c.kafka.brokers.empty() ? "embedded broker" : c.kafka.brokers)
     << (c.kafka.exactly_once ? ", exactly-once" : ", at-least-once") << "\n"
     << "  sources:   " << c.sources.size() << "\n"
     << "  actions:   " << p_->catalog.Current()->actions().size()
     << (c.dry_run ? " (dry run)" : "") << "\n"
     << "  notifiers: " << p_->config.notifiers.size() << "\n"
     << "  http:      " << (c.http.enabled ? c.http.listen.ToString() : "off") << "\n";
  return os.str();
}

Status App::Start() {
  // Blocked here, before any thread starts, so every thread inherits the mask and only the
  // signal thread of Run() takes them.
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (p_->request.demo) {
    p_->demo_lines = DemoLines(p_->run().rules_dir, p_->request.demo_events);
    if (p_->demo_lines.empty()) {
      p_->err << "demo: no events in "
              << (p_->request.demo_events.empty() ? p_->run().rules_dir + "/events/sample.jsonl"
                                                  : p_->request.demo_events)
              << "\n";
      return engine::NotFound("demo: no events");
    }
  }
  for (auto step : {&App::StartBroker, &App::StartState, &App::StartActions, &App::StartRunner,
                    &App::StartHttp}) {
    if (Status s = (this->*step)(); !s.ok()) {
      StopAll();
      return s;
    }
  }
  const auto& c = p_->run();
  p_->log.Info("reflex running",
               {{"rules", c.rules_dir},
                {"ruleset", p_->rules->version()},
                {"brokers", c.kafka.brokers},
                {"embedded", p_->broker != nullptr},
                {"dry_run", c.dry_run},
                {"mode", c.kafka.exactly_once ? "exactly-once" : "at-least-once"}});
  return Status::Ok();
}

Status App::StartBroker() {
  auto& c = p_->config.run;
  if (!c.kafka.brokers.empty()) return Status::Ok();
  auto b = connectors::EmbeddedBroker::Start({});
  if (!b.ok()) {
    p_->log.Error("embedded broker failed to start", {{"error", b.status().message()}});
    return engine::Internal("embedded broker: " + b.status().message());
  }
  p_->broker = std::move(*b);
  c.kafka.brokers = p_->broker->bootstrap();
  // The embedded broker holds an empty fetch for the whole fetch.wait.max.ms even when data
  // arrives meanwhile (a real broker answers at once): keep the wait short, or decisions
  // lag by up to the librdkafka default of 500 ms.
  c.kafka.properties.emplace("fetch.wait.max.ms", "10");
  std::vector<std::string> topics = {c.kafka.decisions_topic, c.kafka.escalations_topic,
                                     c.kafka.dead_letter_topic, c.kafka.changelog_topic};
  for (const auto& s : c.sources) topics.insert(topics.end(), s.topics.begin(), s.topics.end());
  for (const auto& t : topics) {
    if (!t.empty()) (void)p_->broker->CreateTopic(t, c.kafka.embedded_partitions);
  }
  const std::string& at = p_->broker->bootstrap();
  p_->out << "embedded Kafka broker on " << at << "\n"
          << "  produce events: kcat -P -b " << at << " -t "
          << (c.sources.empty() || c.sources[0].topics.empty() ? "reflex.events"
                                                               : c.sources[0].topics[0])
          << "\n"
          << "  read decisions: kcat -C -b " << at << " -t " << c.kafka.decisions_topic << "\n"
          << std::flush;
  return Status::Ok();
}

// Who claims notices in the outbox and action runs in the journal, and who activated a rule
// set in the rule-set history. In a SQLite file only this
// replica sends and runs: one fixed name, so a restart takes back at once what it held
// whatever its host is called now. In a shared
// database: this host and this replica's state database, the same across restarts and distinct
// between replicas (several on one host have distinct state directories).
// Where the stores live, for log lines: the SQLite file, or "postgresql" (the connection
// string may hold a password and is never logged).
static std::string StoreWhere(const base::StoreConfig& store, const std::string& db_path) {
  return store.kind == base::StoreKind::kSqlite ? db_path : "postgresql (storage.store)";
}

static std::string ClaimOwner(const base::StoreConfig& store, const std::string& db_path) {
  if (store.kind == base::StoreKind::kSqlite) return "local";
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::error_code ec;
  const fs::path abs = fs::absolute(db_path, ec);
  return std::string(host.data()) + ":" + (ec ? db_path : abs.lexically_normal().string());
}

engine::Result<StateStores> OpenStateStores(const std::string& db_path,
                                            const connectors::StorageConfig& storage,
                                            int64_t escalation_dedup_window_ms) {
  // Every store (and the silences, StartSilences) lives where `storage.store` says: the
  // SQLite file, or PostgreSQL shared by the replicas.
  const base::Durability d = storage.durability;
  const std::string owner = ClaimOwner(storage.store, db_path);
  auto journal = actions::Journal::Open(
      storage.store, db_path,
      {.durability = d, .owner = owner, .lease_ms = storage.claims.run_lease_ms});
  if (!journal.ok()) return journal.status();
  auto escalations = actions::EscalationStore::Open(
      storage.store, db_path, {.dedup_window_ms = escalation_dedup_window_ms, .durability = d});
  if (!escalations.ok()) return escalations.status();
  auto outbox = actions::NoticeOutbox::Open(
      storage.store, db_path,
      {.durability = d, .owner = owner, .lease_ms = storage.claims.notice_lease_ms});
  if (!outbox.ok()) return outbox.status();
  auto audit = actions::AuditLog::Open(storage.store, db_path, {.durability = d});
  if (!audit.ok()) return audit.status();
  return StateStores{.journal = std::move(*journal),
                     .escalations = std::move(*escalations),
                     .outbox = std::move(*outbox),
                     .audit = std::move(*audit)};
}

Status App::StartState() {
  Parts& p = *p_;
  const auto& c = p.run();
  std::error_code ec;
  fs::create_directories(c.state_dir, ec);
  // The rule-set history lives with the stores: the state directory's files beside a SQLite
  // file, the shared database (one history for every replica) on PostgreSQL.
  const std::string db_path = StateDbPath(c.state_dir);
  auto history =
      OpenRunRuleHistory(c.storage, c.state_dir, db_path, ClaimOwner(c.storage.store, db_path));
  if (!history.ok()) {
    p.log.Error("rule history unavailable", {{"error", history.status().message()}});
    return engine::Unavailable(history.status().message());
  }
  p.history = std::move(*history);
  auto store = connectors::RuleStore::Create(
      {.rules_dir = c.rules_dir,
       .history = p.history.get(),
       .on_reload = [&p](const connectors::ReloadResult& r) { p.OnReload(r); },
       .validate =
           [&p](const connectors::RuleSnapshot& snap) { return p.ValidateCandidate(snap); }},
      "start");
  if (!store.ok()) {
    p.err << store.status().message() << "\n";
    return engine::InvalidArgument(store.status().message());
  }
  p.rules = std::move(*store);
  p.metrics.SetRuleset(p.rules->version());
  ExposePatternSeries(p.metrics, *p.rules->Current());
  if (c.watch_rules) {
    p.watcher = std::make_unique<connectors::RuleWatcher>(
        connectors::RuleWatcherOptions{.dir = c.rules_dir}, [this] { ReloadRules("watch"); });
    if (Status s = p.watcher->Start(); !s.ok()) {
      p.log.Warn("rule watcher unavailable; reload with SIGHUP", {{"error", s.message()}});
      p.watcher.reset();
    }
  }
  p.db_path = StateDbPath(c.state_dir);
  auto stores = OpenStateStores(p.db_path, c.storage, p.config.executor.escalation_dedup_window_ms);
  if (!stores.ok()) {
    p.log.Error("state database unavailable", {{"store", StoreWhere(c.storage.store, p.db_path)},
                                               {"error", stores.status().message()}});
    return engine::Unavailable(stores.status().message());
  }
  p.journal = std::move(stores->journal);
  p.escalations = std::move(stores->escalations);
  p.outbox = std::move(stores->outbox);
  p.audit = std::move(stores->audit);
  // reflex_escalations_open is read from the store at every scrape, so acks and resolves
  // made by `reflex escalations` (another process), retention and new groups all show.
  for (const auto& [kind, name] : actions::kEscalationKindNames.entries) {
    p.metrics.EscalationsOpen(name).Set(0);
  }
  p.metrics.AddCollectHook([&p] {
    // A store known not to answer is not asked (the scrape would wait on it): the gauge keeps
    // its last value and reflex_store_up says why.
    if (p.executor != nullptr && !p.executor->StoreHealth().ok()) return;
    auto counts = p.escalations->CountByKind(actions::EscalationState::kOpen);
    if (!counts.ok()) {
      p.log.Warn("open escalations not counted", {{"error", counts.status().message()}});
      return;
    }
    for (const auto& [kind, n] : *counts) {
      p.metrics.EscalationsOpen(actions::EscalationKindName(kind)).Set(static_cast<double>(n));
    }
  });
  if (Status s = StartSilences(); !s.ok()) return s;
  const connectors::RetentionConfig& rc = c.storage.retention;
  p.retention_metrics = std::make_unique<RetentionMetrics>(p.metrics.registry());
  // Replicas sharing a PostgreSQL store prune it one at a time (the retention duty).
  if (c.storage.store.kind == base::StoreKind::kPostgresql) {
    auto duty = actions::DutyLock::Open(c.storage.store, "retention");
    if (!duty.ok()) return duty.status();
    p.retention_duty = std::move(*duty);
  }
  p.retention = std::make_unique<actions::RetentionTask>(
      p.journal.get(), p.escalations.get(), p.outbox.get(),
      actions::RetentionOptions{
          .interval_ms = rc.interval_ms,
          .runs = {.max_age_ms = rc.max_age_ms,
                   .max_runs = rc.max_action_runs,
                   .keep_recent_ms = LongestRateLimitWindow(*p.catalog.Current())},
          .escalations = {.max_age_ms = rc.max_age_ms, .max_groups = rc.max_escalation_groups},
          .notices_max_age_ms = rc.max_age_ms,
          .max_notices = rc.max_notices,
          .duty = p.retention_duty.get()},
      p.clock, [&p](const actions::RetentionPass& pass) {
        if (pass.skipped != p.retention_skipped.exchange(pass.skipped)) {
          p.log.Info(
              pass.skipped ? "retention duty held by another replica" : "retention duty taken", {});
        }
        p.retention_metrics->Record(pass);
        if (!pass.status.ok()) p.log.Warn("retention", {{"error", pass.status.message()}});
      });
  p.catalog.Follow(nullptr, p.retention.get());
  p.retention->Start();
  return Status::Ok();
}

Status App::StartSilences() {
  Parts& p = *p_;
  const auto& c = p.run();
  auto store =
      actions::SilenceStore::Open(c.storage.store, p.db_path, {.durability = c.storage.durability});
  if (!store.ok()) {
    p.log.Error("silence store unavailable", {{"store", StoreWhere(c.storage.store, p.db_path)},
                                              {"error", store.status().message()}});
    return engine::Unavailable(store.status().message());
  }
  p.silence_store = std::move(*store);
  p.muter = std::make_unique<engine::Muter>(
      engine::InhibitorOptions{
          .source_ttl_ms = c.processing.inhibit_source_ttl_ms,
          .max_sources = static_cast<size_t>(c.processing.max_inhibit_sources)},
      engine::RootCauseOptions{
          .window_ms = c.processing.root_cause_window_ms,
          .max_incidents = static_cast<size_t>(c.processing.max_root_incidents)},
      engine::DedupOptions{.window_ms = c.processing.dedup_window_ms,
                           .max_keys = static_cast<size_t>(c.processing.max_dedup_keys)});
  p.silences = std::make_unique<LiveSilences>(*p.silence_store, *p.muter, p.clock, p.log);
  if (Status s = p.silences->Load(); !s.ok()) {
    p.log.Error("silences unreadable", {{"path", p.db_path}, {"error", s.message()}});
    return engine::Unavailable(s.message());
  }
  p.silences->Start(c.processing.silence_refresh_ms);
  auto& silences_gauge = prometheus::BuildGauge()
                             .Name("reflex_silences")
                             .Help("Silences by state (active, pending).")
                             .Register(p.metrics.registry());
  auto& tracked = prometheus::BuildGauge()
                      .Name("reflex_inhibit_sources")
                      .Help("Inhibition sources tracked.")
                      .Register(p.metrics.registry())
                      .Add({});
  auto& evicted = prometheus::BuildCounter()
                      .Name("reflex_inhibit_sources_evicted_total")
                      .Help("Inhibition sources evicted because max_inhibit_sources were tracked.")
                      .Register(p.metrics.registry())
                      .Add({});
  auto& duplicates = prometheus::BuildCounter()
                         .Name("reflex_duplicates_total")
                         .Help("Events suppressed as duplicates within processing.dedup_window.")
                         .Register(p.metrics.registry())
                         .Add({});
  auto& active = silences_gauge.Add({{"state", "active"}});
  auto& pending = silences_gauge.Add({{"state", "pending"}});
  p.metrics.AddCollectHook([&p, &active, &pending, &tracked, &evicted, &duplicates] {
    const double d = static_cast<double>(p.muter->deduper().duplicates());
    if (d > duplicates.Value()) duplicates.Increment(d - duplicates.Value());
    const auto [a, n] = p.silences->Counts();
    active.Set(static_cast<double>(a));
    pending.Set(static_cast<double>(n));
    tracked.Set(static_cast<double>(p.muter->inhibitor().tracked()));
    const double e = static_cast<double>(p.muter->inhibitor().evicted());
    if (e > evicted.Value()) evicted.Increment(e - evicted.Value());
  });
  return Status::Ok();
}

Status App::StartActions() {
  Parts& p = *p_;
  auto notifier = actions::Notifier::Create(
      std::move(p.config.notifiers),
      {.log = [&p](std::string_view line) { p.log.Warn(line); },
       .outbox = p.outbox.get(),
       .outbox_claim_interval_ms = p.run().storage.claims.notice_takeover_interval_ms,
       .observer = &p.action_metrics});
  p.config.notifiers.clear();
  if (!notifier.ok()) {
    p.log.Error("notifiers", {{"error", notifier.status().message()}});
    return engine::InvalidArgument(notifier.status().message());
  }
  p.notifier = std::move(*notifier);
  auto side = connectors::AckedProducer::Create(p.run().kafka.brokers, p.run().kafka.properties);
  if (!side.ok()) {
    p.log.Error("kafka producer", {{"error", side.status().message()}});
    return engine::InvalidArgument(side.status().message());
  }
  p.side = std::move(*side);
  const std::string input_topic = connectors::IngestTopic(p.run());
  actions::ActionHooks hooks;
  hooks.produce = [&p](const std::string& topic, const std::string&, const std::string& value) {
    return p.side->Produce(topic, "action", {value}, 10000);
  };
  hooks.emit = [&p, input_topic](const std::string& event_json) {
    return p.side->Produce(input_topic, "emit", {event_json}, 10000);
  };
  hooks.escalate = [&p](const actions::EscalationNotice& n) {
    p.dispatcher->OnActionEscalation(n);
  };
  hooks.notify = [&p](const actions::EscalationNotice& n) { p.dispatcher->OnActionNotice(n); };
  actions::ExecutorOptions eo = p.config.executor;
  eo.dry_run = p.run().dry_run;
  eo.observer = &p.action_metrics;
  eo.store_check_ms = p.run().storage.check_interval_ms;
  p.executor = std::make_unique<actions::Executor>(
      p.catalog.Current(), *p.journal, hooks, actions::DriverRegistry::Default(hooks), eo, p.clock);
  p.catalog.Follow(p.executor.get(), nullptr);
  // reflex_store_up from the executor's store check at every scrape, so a store that hangs
  // (its check has not returned) shows as well as one that answers with an error.
  p.metrics.AddCollectHook([&p] {
    if (p.executor != nullptr) p.metrics.StoreUp().Set(p.executor->StoreHealth().ok() ? 1 : 0);
  });
  p.dispatcher = std::make_unique<actions::Dispatcher>(
      *p.executor, *p.escalations, *p.notifier, p.clock,
      [&p](bool error, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields) {
        p.log.Log(error ? connectors::LogLevel::kError : connectors::LogLevel::kWarn, msg, fields);
      });
  if (Status s = p.executor->Start(); !s.ok()) {
    p.log.Error("executor", {{"error", s.message()}});
    return engine::Internal("executor: " + s.message());
  }
  if (eo.dry_run) {  // say so: runs left pending are carried out by the next real engine
    auto pending = p.journal->Pending(1000);
    if (pending.ok() && !pending->empty()) {
      p.log.Warn(
          "dry run: runs pending in the journal are not executed; an engine without "
          "dry run carries them out",
          {{"pending",
            std::to_string(pending->size()) + (pending->size() >= 1000 ? " or more" : "")}});
    }
  }
  return Status::Ok();
}

Status App::StartRunner() {
  Parts& p = *p_;
  const auto& c = p.run();
  std::vector<connectors::SourceBinding> bindings;
  for (const auto& s : c.sources) {
    connectors::MapFn fn;
    if (!s.mapping.passthrough()) {
      fn = [m = s.mapping, limits = c.processing.event_limits()](std::string_view bytes,
                                                                 std::vector<std::string>* out) {
        return m.Map(bytes, out, limits);
      };
    }
    bindings.push_back(connectors::SourceBinding{s.name, s.topics, s.pattern, fn});
  }
  const int64_t stop_after = p.request.demo && !p.request.keep_running
                                 ? static_cast<int64_t>(p.demo_lines.size())
                                 : p.request.max_events;
  p.runner = std::make_unique<connectors::KafkaRunner>(
      c.kafka, c.processing, std::move(bindings), stop_after, [&p] { return p.rules->Current(); },
      &p.clock);
  // Where an event came in (docs/operations.md, Metrics): the webhook's routes and the
  // sources' names travel in the reflex-source header; emitted events say so too.
  std::vector<std::string> labels = {"http", "alertmanager", "emit"};
  for (const auto& s : c.sources) labels.push_back(s.name);
  // Series whose label values are known now start at 0, so the first occurrence is an
  // increase a rate or an alert can see.
  for (const auto& l : labels) p.metrics.EventsIn(l);
  for (std::string_view reason : connectors::Metrics::ReasonClasses()) {
    p.metrics.DeadLetters(reason);
  }
  for (const char* output : {"decision", "escalation", "dead_letter"}) {
    for (const char* reason : {"refused", "retries exhausted"}) {
      p.metrics.OutputsDropped(output, reason);
    }
  }
  p.runner->SetSourceLabels(std::move(labels));
  p.recent =
      std::make_unique<connectors::RecentDecisions>(static_cast<size_t>(c.http.recent_decisions));
  p.observer = std::make_unique<MetricsObserver>(p.metrics, p.recent.get());
  p.locked_observer = std::make_unique<LockedObserver>(*p.observer);
  p.runner->SetObserver(c.processing.workers > 1
                            ? static_cast<connectors::RunnerObserver*>(p.locked_observer.get())
                            : p.observer.get());
  p.runner->SetLogger(&p.log);
  p.runner->SetMuter(p.muter.get());
  if (p.request.demo) {
    p.runner->SetDecisionTap([&p](std::string_view d) {
      std::lock_guard<std::mutex> lock(p.out_mu);
      p.out << HumanDecision(d) << "\n" << std::flush;
    });
  }
  p.runner->SetBatchHook([&p](const std::vector<connectors::DecidedEvent>& batch) {
    return p.dispatcher->OnBatch(batch);
  });
  return Status::Ok();
}

Status App::StartHttp() {
  Parts& p = *p_;
  const auto& c = p.run();
  if (!c.http.enabled) return Status::Ok();
  p.sink = std::make_unique<KafkaIngestSink>(*p.side, connectors::IngestTopic(c));
  connectors::HttpRoutes routes;
  for (const auto& s : c.sources) routes.sources.emplace(s.name, s.mapping);
  // POST /v1/alertmanager maps with the first alertmanager source's mapping, so its
  // values_from_annotations / values_from_labels apply there too.
  for (const auto& s : c.sources) {
    if (s.mapping.spec().kind == connectors::MappingKind::kAlertmanager) {
      routes.alertmanager = s.mapping;
      break;
    }
  }
  routes.limits = c.processing.event_limits();
  routes.silences = p.silences.get();
  p.rest = std::make_unique<api::RestApi>(
      api::RestApiOptions{.tokens = c.http.api_tokens,
                          .journal = p.journal.get(),
                          .escalations = p.escalations.get(),
                          .audit = p.audit.get(),
                          .executor = p.executor.get(),
                          .rules = p.rules.get(),
                          .history = p.history.get(),
                          .metrics = &p.metrics,
                          .silences = p.silences.get(),
                          .recent = p.recent.get(),
                          .clock = &p.clock,
                          .on_audit_error = [&p](const Status& s) {
                            p.log.Error("audit entry not written", {{"error", s.message()}});
                          }});
  routes.api = p.rest.get();
  routes.console = [](std::string_view path) -> std::optional<connectors::StaticFile> {
    const web::ConsoleAsset* a = web::FindConsoleAsset(path);
    if (a == nullptr) return std::nullopt;
    return connectors::StaticFile{a->content_type, a->body};
  };
  // /api/v2/silences answers to the webhook's credentials, which name no person: the audit
  // entry of an addition names the silence's createdBy as the body claims it, via api-v2.
  routes.on_silence_change = [&p](std::string_view action, const std::string& id,
                                  const std::string& silence) {
    actions::AuditEntry e;
    e.at_ms = p.clock.NowMillis();
    auto j = nlohmann::json::parse(silence, nullptr, false);
    // Adding: the author the body names; expiring: nobody is named.
    e.actor = action == "silence.add" && j.is_object() ? j.value("createdBy", "") : "";
    if (e.actor.empty()) e.actor = "webhook credentials";
    e.via = "api-v2";
    e.action = std::string(action);
    e.target = "silence/" + id;
    e.outcome = "ok";
    if (j.is_object()) e.detail = j.value("comment", "");
    e.after = silence;
    if (auto r = p.audit->Record(e); !r.ok()) {
      p.log.Error("audit entry not written", {{"error", r.status().message()}});
    }
  };
  routes.readiness = [&p]() -> Status {
    if (p.executor != nullptr) {
      if (Status s = p.executor->StoreHealth(); !s.ok()) return s;
    }
    return p.runner->Readiness();
  };
  auto server = connectors::HttpServer::Create(c.http, std::move(routes), p.sink.get(), &p.metrics);
  if (!server.ok()) {
    p.log.Error("http server", {{"error", server.status().message()}});
    return engine::InvalidArgument(server.status().message());
  }
  p.http = std::move(*server);
  if (Status s = p.http->Start(); !s.ok()) {
    p.log.Error("http server failed to start",
                {{"listen", c.http.listen.ToString()}, {"error", s.message()}});
    return engine::Unavailable(s.message());
  }
  if (c.http.allow_unauthenticated && !connectors::IsLoopbackHost(c.http.listen.host) &&
      c.http.token.empty() && c.http.hmac_secret.empty()) {
    p.log.Warn("webhook accepts unauthenticated requests from other machines",
               {{"listen", c.http.listen.ToString()}, {"allow_unauthenticated", true}});
  }
  p.out << "webhook, /metrics, /healthz, /readyz on http://" << c.http.listen.host << ":"
        << p.http->port() << "\n"
        << "console on http://" << c.http.listen.host << ":" << p.http->port() << "/console/"
        << (!p.demo_token.empty()       ? " (sign in with the demo's token " + p.demo_token + ")"
            : c.http.api_tokens.empty() ? std::string(" (no http.api_tokens: it and /api/v1 "
                                                      "refuse every request)")
                                        : std::string(" (sign in with a token of http.api_tokens)"))
        << "\n"
        << std::flush;
  return Status::Ok();
}

void App::StartDemoProducer() {
  Parts& p = *p_;
  p.out << "demo: " << p.demo_lines.size() << " events from the bundled examples\n" << std::flush;
  p.demo_producer = std::thread([&p] {
    // Paced so a person sees decisions flow; keyed by instance so one host stays in order.
    const auto gap = std::chrono::microseconds(1000000 / std::max(1, p.request.demo_rate));
    const std::string topic = connectors::IngestTopic(p.run());
    auto next = std::chrono::steady_clock::now();
    for (size_t i = 0; i < p.demo_lines.size() && !p.demo_stop.load(); i += 20) {
      const auto end = std::min(i + 20, p.demo_lines.size());
      std::vector<std::string> chunk(p.demo_lines.begin() + static_cast<long>(i),
                                     p.demo_lines.begin() + static_cast<long>(end));
      if (Status s = p.side->Produce(topic, "demo", chunk, 30000); !s.ok()) {
        p.log.Error("demo producer", {{"error", s.message()}});
        return;
      }
      next += gap * static_cast<int>(chunk.size());
      std::this_thread::sleep_until(next);
    }
    if (p.request.keep_running && !p.demo_stop.load() && p.http) {
      std::lock_guard<std::mutex> lock(p.out_mu);
      p.out << "demo: every event is in; still serving the console on http://"
            << p.run().http.listen.host << ":" << p.http->port() << "/console/"
            << (p.demo_token.empty() ? "" : " (token " + p.demo_token + ")") << " until Ctrl-C\n"
            << std::flush;
    }
  });
}

Status App::Run() {
  Parts& p = *p_;
  SignalThread signals(
      [this] {
        p_->log.Info("shutdown requested");
        RequestStop();
      },
      [this] { ReloadRules("sighup"); });
  if (p.request.demo) StartDemoProducer();
  Status result = p.runner->Run();
  StopAll();
  if (p.request.demo) PrintDemoSummary();
  const auto& st = p.runner->stats();
  if (!result.ok()) {
    p.log.Error("reflex stopped", {{"error", result.message()}});
    return engine::Internal(result.message());
  }
  p.log.Info("reflex stopped", {{"consumed", st.consumed.load()},
                                {"decided", st.decided.load()},
                                {"dead_lettered", st.dead_lettered.load()},
                                {"committed", st.committed.load()}});
  return Status::Ok();
}

void App::StopAll() {
  Parts& p = *p_;
  p.demo_stop = true;
  if (p.demo_producer.joinable()) p.demo_producer.join();
  if (p.http) p.http->Stop();
  if (p.silences) p.silences->Stop();
  if (p.watcher) p.watcher->Stop();
  p.catalog.Unfollow();  // a late SIGHUP reload must not reach a stopped executor
  if (p.executor) {
    p.executor->Drain(std::chrono::seconds(10));
    p.executor->Stop();
  }
  if (p.notifier) {
    p.notifier->Flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    p.notifier->Stop();
  }
  if (p.retention) p.retention->Stop();
}

void App::PrintDemoSummary() const {
  const auto& st = p_->runner->stats();
  p_->out << "\ndemo done: " << st.consumed << " events, " << st.known << " known, "
          << st.suppressed << " suppressed, " << st.unknown << " unknown, " << st.dead_lettered
          << " dead-lettered; offsets committed for " << st.committed << "\n"
          << "  escalations: reflex escalations list --state-dir " << p_->run().state_dir << "\n"
          << "  actions (dry run): reflex actions list --state-dir " << p_->run().state_dir << "\n";
  if (!p_->request.keep_running) {
    p_->out << "  the console (escalations, approvals, rules): add --keep-running and open the "
               "\"console on\" address it prints\n";
  }
}

void App::RequestStop() {
  if (p_->runner) p_->runner->RequestStop();
}

void App::ReloadRules(std::string_view trigger) {
  if (p_->rules) (void)p_->rules->Reload(trigger);
}

}  // namespace reflex::app
