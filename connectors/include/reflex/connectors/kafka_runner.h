// KafkaRunner: the run-mode loop. Consumes events from Kafka in a consumer group, decides
// each with the engine's Pipeline, produces decisions, escalations and dead letters, and
// commits offsets only after the broker acknowledged every output of a batch.
//
// Flow (one consumer thread; `workers` pipeline threads when > 1):
//   poll a batch -> split by partition (a partition's messages stay in order) -> map the
//   payload (per source) -> Pipeline::Process -> produce the decision to the decisions
//   topic (keyed like the input), unknown ones also to the escalations topic, malformed or
//   unmappable messages to the dead-letter topic (original bytes, reason in the
//   `reflex-error` header) -> the hook sees the batch's decisions -> when every output of
//   the batch is acknowledged, and every earlier batch is committed, its offsets are
//   committed.
// Delivery: at-least-once. A batch is committed once each of its outputs is acknowledged or
// given up on; a crash before that replays it. One output can never stall the loop:
//   - refused for good (too large for the producer or broker, invalid or unauthorized topic,
//     invalid record, ...): a dead letter is sent again cut to kafka.dead_letter_max_bytes
//     of the original, headers `reflex-truncated: <original size>` and
//     `reflex-truncated-reason`; a decision or escalation, or a cut dead letter refused
//     again, is given up on;
//   - refused for a reason that may pass (after librdkafka's own retries, i.e. within
//     message.timeout.ms): produced again up to processing.output_retry_attempts tries in
//     all, with exponential backoff and jitter (base::RetryPolicy), then given up on.
//   Given up = counted (stats().dropped_outputs, RunnerObserver::OnOutputDropped), logged at
//   error with the source topic/partition/offset, and committed without it.
// Exactly-once (`exactly_once`): outputs and offsets go into one Kafka transaction per batch.
// An output the producer refuses before sending it (too large, ...) is cut or given up on
// inside the transaction as above. An output the broker refuses, or a retriable refusal,
// aborts the transaction (none of its outputs or offsets become visible to read_committed
// readers) and Run returns the error; a restart decides the batch again from the committed
// offsets. Nothing is dropped silently in either mode.
// Health(): readiness fails with the reason while partitions are paused, outputs wait for a
// retry, or the oldest batch has waited longer than processing.stuck_after_ms.
// Lag (RunnerObserver::OnLag): per partition, the high watermark minus the oldest offset not
// yet committed, so events decided but unacknowledged count as waiting.
// Multi-event patterns (engine/pattern_stage.h), when the rule set has any: one PatternStage
// per input partition, on the partition's worker. An unknown event a pattern holds is
// produced as `pending` (not escalated); each pattern outcome is a decision of its own,
// keyed by its event id, produced with the batch that completed it (or, for a timer, with
// the next batch or a timer tick every processing.pattern_tick_ms when no event comes) and
// handed to the hook. Events are placed in windows by processing.correlation_time.
// State that moves with the partition (kafka.changelog_topic set, the default): each batch
// writes the groups whose state it changed to the compacted changelog topic, partition =
// the input partition, as outputs of the batch: its offsets commit only once the broker
// has them. When a partition is assigned (a start, a rebalance), or, for the partitions held,
// when a reload brings patterns to a set that had none, its changelog partition is read to
// the end and the state put back before any of its events is decided (a refused
// read is tried again until kafka.changelog_restore_timeout_ms, then Run fails; Readiness()
// says the state is being read meanwhile; a stop request leaves the partitions untaken); a group
// that holds an event read again after a crash does not count it twice. Revocation and shutdown
// keep the state in the changelog. Without a changelog, a revocation or a shutdown gives
// the state up: every held event leaves as `evicted`, pending ones escalated, before the
// offsets are committed. Either way nothing held is lost. A reload that changes the
// patterns gives the state up as evicted (tombstones in the changelog).
// Rebalance: on revocation the in-flight batches are finished and committed first.
// Shutdown: RequestStop() (from a signal handler's thread or any other): the loop finishes
// in-flight work, commits, and Run returns OK.
//
// Thread-safety: Run on one thread; RequestStop, stats, Health and the rule provider from
// any. Observer and logger are called on the loop thread (OnEvent/OnDeadLetter also on the
// worker threads when workers > 1).
//
//   KafkaRunner runner(options, rules_provider);
//   std::thread t([&] { status = runner.Run(); });
//   ...; runner.RequestStop(); t.join();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/thread_annotations.h"
#include "reflex/connectors/config.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/correlation.h"
#include "reflex/engine/decision.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/pipeline.h"
#include "reflex/engine/status.h"

namespace reflex::connectors {

// Turns one message's bytes into event JSON (a mapping, see mapping.h). Empty = the bytes
// are one event as they are.
using MapFn = std::function<engine::Status(std::string_view bytes, std::vector<std::string>* out)>;

struct SourceBinding {
  std::string name;
  std::vector<std::string> topics;  // exact names
  std::string pattern;              // or a regex over topic names
  MapFn map;                        // empty: passthrough
};

// One decided event, as the hook sees it.
using DecidedEvent = engine::DecidedEvent;

// Called on the deciding thread for every batch, before its offsets are committed. A non-OK
// status stops the runner without committing (the batch is replayed after a restart).
using BatchHook = std::function<engine::Status(const std::vector<DecidedEvent>& batch)>;

// Optional per-batch observer for metrics: events in by source, verdicts and row hits.
struct RunnerObserver {
  virtual ~RunnerObserver() = default;
  // `source`: where the event came in (docs/operations.md, Metrics): the topic's source,
  // or the `reflex-source` header when it names one of SetSourceLabels'; "unbound" when no
  // source claims the topic.
  virtual void OnEvent(std::string_view source, const engine::CompiledRuleSet& rules,
                       const engine::MatchResult& result) = 0;
  // After OnEvent: the decided event (labeled) and the decision time. Default: ignored.
  virtual void OnDecided(std::string_view source, const engine::CompiledRuleSet& rules,
                         const engine::Event& event, const engine::MatchResult& result,
                         int64_t now_ms) {
    (void)source;
    (void)rules;
    (void)event;
    (void)result;
    (void)now_ms;
  }
  // `reason_class`: Metrics::ReasonClass of the dead letter's reason.
  virtual void OnDeadLetter(std::string_view source, std::string_view reason_class) = 0;
  // Seconds from the batch's poll to its last decision, once per batch, and its size.
  virtual void OnBatch(double seconds, size_t events) = 0;
  // Messages of a partition not yet committed: the high watermark minus the oldest offset
  // still waiting (or the next to fetch when none waits). About once a second per partition.
  virtual void OnLag(const std::string& topic, int32_t partition, int64_t lag) = 0;
  // An output given up on (`output`: decision, escalation, dead_letter; `reason`: refused
  // for good, or retries exhausted) and a dead letter sent again cut. Default: ignored.
  virtual void OnOutputDropped(std::string_view output, std::string_view reason) {
    (void)output;
    (void)reason;
  }
  virtual void OnDeadLetterTruncated() {}
  // Multi-event patterns (engine/pattern_stage.h): an outcome of pattern `pattern`; events
  // a pattern refused as late (decided alone); about once a second, the groups each pattern
  // holds and the events held while pending, summed over the partitions. Default: ignored.
  virtual void OnPatternOutcome(std::string_view pattern, engine::PatternOutcome outcome) {
    (void)pattern;
    (void)outcome;
  }
  virtual void OnPatternLate(uint64_t events) { (void)events; }
  virtual void OnPatternState(std::string_view pattern, uint64_t keys) {
    (void)pattern;
    (void)keys;
  }
  virtual void OnPatternPending(uint64_t events) { (void)events; }
  // Groups of pattern state read back from the changelog for a partition just assigned.
  virtual void OnPatternRestored(uint64_t groups) { (void)groups; }
  // A rebalance gave (`change` "assigned") or took ("revoked"; "lost" when the group had
  // moved them on already) `partitions` (topic, partition); `owned`: partitions owned after
  // it. On the loop thread.
  virtual void OnRebalance(std::string_view change,
                           const std::vector<std::pair<std::string, int32_t>>& partitions,
                           int owned) {
    (void)change;
    (void)partitions;
    (void)owned;
  }
};

struct RunnerStats {
  std::atomic<int64_t> consumed{0};
  std::atomic<int64_t> decided{0};
  std::atomic<int64_t> known{0};
  std::atomic<int64_t> suppressed{0};
  std::atomic<int64_t> unknown{0};
  std::atomic<int64_t> pending{0};   // held by a pattern's open window (decided later)
  std::atomic<int64_t> patterns{0};  // decisions of pattern outcomes (also in known/unknown)
  std::atomic<int64_t> dead_lettered{0};
  std::atomic<int64_t> committed{0};            // messages whose offsets were committed
  std::atomic<int64_t> redelivered_outputs{0};  // outputs produced again after a failure
  std::atomic<int64_t> backpressure_waits{0};   // times consumption waited for the broker's acks
  std::atomic<int64_t> pauses{0};  // times partitions were paused (a wait over a second) or
                                   // the producer queue was full
  std::atomic<int64_t> rebalances{0};
  std::atomic<int64_t> truncated_dead_letters{0};  // dead letters sent again cut to fit
  std::atomic<int64_t> dropped_outputs{0};  // outputs given up on (counted, logged, committed)
  std::atomic<int32_t> assigned{0};         // partitions owned now (readiness: > 0)
  std::atomic<int32_t> restoring{0};        // partitions whose pattern state is being read back
};

class Logger;

class KafkaRunner {
 public:
  // Takes the run config's Kafka and processing sections as they are (an event over the
  // processing caps is dead-lettered, see engine::EventLimits), and the sources bound to
  // their mappings (which should map under the same caps). `stop_after_messages`: stop by itself
  // once this many messages were consumed and committed (0 = never; for demos, tests and
  // benchmarks). `rules` is called once per batch; it returns the rule set to use (hot reload swaps
  // it).
  KafkaRunner(KafkaConfig kafka, ProcessingConfig processing, std::vector<SourceBinding> sources,
              int64_t stop_after_messages,
              std::function<std::shared_ptr<const engine::CompiledRuleSet>()> rules,
              engine::Clock* clock = nullptr);
  ~KafkaRunner();
  KafkaRunner(const KafkaRunner&) = delete;
  KafkaRunner& operator=(const KafkaRunner&) = delete;

  void SetBatchHook(BatchHook hook) { hook_ = std::move(hook); }
  void SetObserver(RunnerObserver* observer) { observer_ = observer; }  // must outlive Run
  // Silences and inhibition applied to every decision (engine/mute.h); must outlive Run.
  void SetMuter(engine::Muter* muter) { muter_ = muter; }
  // Where given-up outputs and other failures are logged (must outlive Run; none: silent).
  void SetLogger(Logger* logger) { logger_ = logger; }
  // Values of a message's `reflex-source` header that name where it came in (the webhook's
  // routes and sources: "http", "alertmanager", a source's name, "emit"); the observer gets
  // them as the source. Any other value, or none, reports the topic's source: an outside
  // producer cannot add label values. Call before Run.
  void SetSourceLabels(std::vector<std::string> labels) { source_labels_ = std::move(labels); }
  // Decisions also go to this callback (demo output); called on the deciding thread.
  void SetDecisionTap(std::function<void(std::string_view decision_json)> tap) {
    tap_ = std::move(tap);
  }

  // Runs until RequestStop() or stop_after_messages; returns OK after a clean shutdown
  // (in-flight work finished and committed), an error when it could not start or had to
  // give up (then nothing uncommitted was acknowledged upstream).
  engine::Status Run();
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }

  const RunnerStats& stats() const { return stats_; }

  // Readiness of the loop, from any thread: kUnavailable with the reason while something
  // holds it back (partitions paused for backpressure, outputs waiting to be retried, the
  // oldest batch unacknowledged for longer than processing.stuck_after_ms), else OK.
  engine::Status Health() const;
  // Health() and more, for /readyz: kUnavailable while no partition is assigned, or while
  // the pattern state of assigned partitions is being read back from the changelog (their
  // events wait for it), else Health().
  engine::Status Readiness() const;

 private:
  struct Impl;
  struct Setup {
    KafkaConfig kafka;
    ProcessingConfig processing;
    std::vector<SourceBinding> sources;
    int64_t stop_after_messages = 0;
  };
  Setup setup_;
  std::function<std::shared_ptr<const engine::CompiledRuleSet>()> rules_;
  engine::Clock* clock_;
  BatchHook hook_;
  RunnerObserver* observer_ = nullptr;
  engine::Muter* muter_ = nullptr;
  Logger* logger_ = nullptr;
  std::vector<std::string> source_labels_;
  // Health, written by the loop thread.
  std::atomic<bool> paused_{false};
  std::atomic<int64_t> retrying_outputs_{0};
  std::atomic<int64_t> oldest_batch_ms_{0};  // steady-clock ms of the oldest batch; 0 = none
  mutable base::Mutex health_mu_;
  std::string last_output_error_ GUARDED_BY(health_mu_);
  std::function<void(std::string_view)> tap_;
  std::atomic<bool> stop_{false};
  RunnerStats stats_;
};

// Produces events to a topic and waits for the broker's acknowledgement: the durable
// hand-off of the HTTP webhook (an accepted request is in Kafka before it is answered).
// Thread-safety: Produce may be called from many threads at once.
class AckedProducer {
 public:
  static engine::Result<std::unique_ptr<AckedProducer>> Create(
      const std::string& brokers, const std::map<std::string, std::string>& properties);
  ~AckedProducer();
  // Produces every value (with `key` when not empty, and a `reflex-source` header) and
  // returns OK once all are acknowledged, or an error when any failed or `timeout_ms` passed.
  engine::Status Produce(const std::string& topic, std::string_view source,
                         const std::vector<std::string>& values, int timeout_ms);

 private:
  AckedProducer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflex::connectors
