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
// Delivery: at-least-once. A failed delivery is produced again; a batch whose outputs are
// not acknowledged is never committed, so a crash replays it. With `exactly_once`, outputs
// and offsets go into one Kafka transaction per batch.
// Backpressure: at most `max_in_flight_batches` unacknowledged batches; then consumption
// waits until the broker catches up (after a second of waiting the assigned partitions are
// paused, so the group is still served). A full producer queue also waits. Nothing is
// dropped.
// Rebalance: on revocation the in-flight batches are finished and committed first.
// Shutdown: RequestStop() (from a signal handler's thread or any other): the loop finishes
// in-flight work, commits, and Run returns OK.
//
// Thread-safety: Run on one thread; RequestStop, stats and the rule provider from any.
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

#include "reflex/connectors/config.h"
#include "reflex/engine/clock.h"
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
  virtual void OnEvent(std::string_view source, const engine::CompiledRuleSet& rules,
                       const engine::MatchResult& result) = 0;
  virtual void OnDeadLetter(std::string_view source, std::string_view reason_class) = 0;
  // Seconds from the batch's poll to its last decision, once per batch, and its size.
  virtual void OnBatch(double seconds, size_t events) = 0;
  virtual void OnLag(const std::string& topic, int32_t partition, int64_t lag) = 0;
};

struct RunnerStats {
  std::atomic<int64_t> consumed{0};
  std::atomic<int64_t> decided{0};
  std::atomic<int64_t> known{0};
  std::atomic<int64_t> suppressed{0};
  std::atomic<int64_t> unknown{0};
  std::atomic<int64_t> dead_lettered{0};
  std::atomic<int64_t> committed{0};            // messages whose offsets were committed
  std::atomic<int64_t> redelivered_outputs{0};  // outputs produced again after a failure
  std::atomic<int64_t> backpressure_waits{0};   // times consumption waited for the broker's acks
  std::atomic<int64_t> pauses{0};  // times partitions were paused (a wait over a second) or
                                   // the producer queue was full
  std::atomic<int64_t> rebalances{0};
  std::atomic<bool> assigned{false};  // has partitions (readiness)
};

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
