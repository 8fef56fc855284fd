#include "reflex/connectors/kafka_runner.h"

#include <librdkafka/rdkafka.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "reflex/base/retry.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/connectors/log.h"
#include "reflex/connectors/metrics.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/pattern_stage.h"

namespace reflex::connectors {

using engine::Status;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using HeaderView = std::pair<std::string_view, std::string_view>;

using TopicPartition = std::pair<std::string, int32_t>;
using Clock = std::chrono::steady_clock;

struct Batch;

// Whose an output is: its batch and the input message it came from; the opaque of every
// produced message. One per input message (shared by its outputs), plus one per retry.
struct OutputTag {
  Batch* batch = nullptr;
  const TopicPartition* source = nullptr;  // a key of batch->offsets (a map node: stable)
  int64_t offset = -1;
  int attempt = 1;   // this produce is try number `attempt` of the output
  bool cut = false;  // a dead letter already cut to dead_letter_max_bytes
};

// An output whose delivery failed, kept to be produced again (or given up on).
struct Redo {
  OutputTag* tag = nullptr;
  std::string topic, key, value;
  Headers headers;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = RD_KAFKA_PARTITION_UA;  // as produced (changelog records name theirs)
  bool tombstone = false;                     // a null value (a changelog tombstone)
};

// The input offsets of one partition in a batch: the first, and the next to commit.
struct OffsetRange {
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t next = 0;
};

struct Batch {
  std::atomic<int64_t> pending{0};  // outputs not yet acknowledged
  base::Mutex mu;
  std::vector<Redo> failed GUARDED_BY(mu);
  std::map<TopicPartition, OffsetRange> offsets;
  std::vector<OutputTag> origins;  // one per input message; sized before deciding
  int64_t messages = 0;
  Clock::time_point created = Clock::now();
  // Loop thread only, once the batch is the oldest in flight: retries and their backoff.
  std::deque<OutputTag> retry_tags;
  std::vector<Redo> waiting;  // retries whose backoff has not passed
  Clock::time_point retry_at;
  int64_t retries_in_flight = 0;
};

// One consumed message, detached from librdkafka's buffer ownership rules only by the
// lifetime of the batch (the rkmessage is destroyed after the batch is decided).
struct Msg {
  rd_kafka_message_t* m = nullptr;
  int source = -1;
  OutputTag* tag = nullptr;
};

// Produce errors that the same record will meet again on every try: cut or give up at once.
bool IsPermanentProduceError(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:  // also what the producer says of a record
                                                // over its message.max.bytes
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:  // still unknown after a metadata refresh
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return true;
    default:
      return false;
  }
}

// The source of outputs no input message caused (pattern timers, drained pattern state).
const TopicPartition kTimerSource{"(pattern timers)", -1};

int64_t SteadyMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Status KafkaError(const std::string& what, rd_kafka_resp_err_t err) {
  return engine::Unavailable(what + ": " + rd_kafka_err2str(err));
}

Status SetProps(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& props) {
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return engine::InvalidArgument("kafka property '" + k + "': " + err);
    }
  }
  return Status::Ok();
}

// A librdkafka client from `props` with the user's properties over them; `wire` adds the
// callbacks before the client is created. `what` names it in errors.
engine::Result<rd_kafka_t*> NewClient(rd_kafka_type_t type,
                                      std::map<std::string, std::string> props,
                                      const std::map<std::string, std::string>& user,
                                      const std::function<void(rd_kafka_conf_t*)>& wire,
                                      const char* what) {
  for (const auto& [k, v] : user) props[k] = v;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (Status s = SetProps(conf, props); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  wire(conf);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);  // owns conf on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return engine::InvalidArgument(std::string(what) + ": " + err);
  }
  return rk;
}

std::string_view View(const void* p, size_t n) {
  return p ? std::string_view(static_cast<const char*>(p), n) : std::string_view();
}

}  // namespace

// ---- the loop ---------------------------------------------------------------------------

struct KafkaRunner::Impl {
  KafkaRunner& r;
  const KafkaRunner::Setup& o;
  rd_kafka_t* producer = nullptr;
  rd_kafka_t* consumer = nullptr;
  std::deque<std::unique_ptr<Batch>> inflight;
  std::vector<RE2*> patterns;  // per source, nullptr for exact-topic sources
  std::unordered_map<std::string, int> source_of_topic;
  bool paused = false;
  // Whether the assigned partitions' changelog was read with a set that has patterns (loop
  // thread): a reload that adds the first patterns reads it then (ReadStateForNewPatterns).
  bool state_read = false;
  std::vector<Msg> collecting;  // the batch being collected (the revoke callback may drop it)
  bool held = false;            // consumption held back for backpressure since held_since
  std::chrono::steady_clock::time_point held_since;
  Status fatal;  // set by callbacks; ends the loop
  std::chrono::steady_clock::time_point last_lag;

  // Per-worker state.
  struct Worker {
    std::unique_ptr<engine::Pipeline> pipeline;
    std::vector<Msg*> msgs;
    std::vector<std::string> decisions;  // kept until the hook ran
    std::deque<std::string> mapped;      // a deque: views into it stay valid as it grows
    std::vector<DecidedEvent> decided;
    std::vector<std::string> mapped_tmp;
    engine::Pipeline::Meta meta;
    std::string label;  // the message's source as the observer reports it
    Status error;
    // Multi-event patterns: one stage per input partition this worker decides.
    std::map<TopicPartition, std::unique_ptr<engine::PatternStage>> stages;
    std::vector<engine::PatternDecision> pattern_out;
    // Changelog: state read back for partitions just assigned, put into their stages before
    // their first event is decided; scratch for the records a batch writes.
    std::map<TopicPartition, std::vector<engine::PatternStage::StateRecord>> restore;
    std::vector<engine::PatternStage::StateRecord> changes;
    std::string mute_key;  // WriteMuteState's buffer
  };
  std::vector<Worker> workers;
  // Worker pool for workers > 1.
  std::vector<std::thread> pool;
  base::Mutex pool_mu;
  std::condition_variable pool_cv, pool_done_cv;
  uint64_t pool_generation GUARDED_BY(pool_mu) = 0;
  int pool_remaining GUARDED_BY(pool_mu) = 0;
  bool pool_quit GUARDED_BY(pool_mu) = false;
  std::shared_ptr<const engine::CompiledRuleSet> rules;
  int64_t now_ms = 0;
  // The tag of outputs no input message caused (pattern timers, drained pattern state): the
  // batch's extra origin, whose source is kTimerSource.
  OutputTag* timer_tag = nullptr;
  // This batch gives up pattern state (revocation, shutdown): of the partitions in
  // `draining`, or of all when it is empty.
  bool drain_stages = false;
  std::set<TopicPartition> draining;
  Clock::time_point last_tick;

  base::RetryPolicy retry;
  std::minstd_rand retry_rng{std::random_device{}()};

  Impl(KafkaRunner& runner) : r(runner), o(runner.setup_) {
    retry.max_attempts = o.processing.output_retry_attempts;
    retry.base_ms = o.processing.output_retry_backoff_ms;
    retry.max_ms = o.processing.output_retry_max_backoff_ms;
  }

  ~Impl() {
    {
      base::MutexLock l(pool_mu);
      pool_quit = true;
    }
    pool_cv.notify_all();
    for (auto& t : pool) t.join();
    for (RE2* p : patterns) delete p;
    if (restorer) {
      rd_kafka_consumer_close(restorer);
      rd_kafka_destroy(restorer);
    }
    if (consumer) rd_kafka_destroy(consumer);
    if (producer) {
      rd_kafka_flush(producer, 5000);
      rd_kafka_destroy(producer);
    }
  }

  // -- callbacks (run on the loop thread, inside rd_kafka_poll / consumer_poll) ---------

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto* tag = static_cast<OutputTag*>(m->_private);
    if (!tag) return;
    Batch* b = tag->batch;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__FATAL && self->fatal.ok()) {
        char why[512];
        rd_kafka_fatal_error(self->producer, why, sizeof why);
        self->fatal = engine::Unavailable(std::string("kafka producer failed for good: ") + why);
      }
      Redo redo;
      redo.tag = tag;
      redo.err = m->err;
      redo.topic = rd_kafka_topic_name(m->rkt);
      redo.key.assign(View(m->key, m->key_len));
      redo.value.assign(View(m->payload, m->len));
      redo.partition = m->partition;
      redo.tombstone = m->payload == nullptr;
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          redo.headers.emplace_back(name, std::string(View(val, size)));
        }
      }
      base::MutexLock l(b->mu);
      b->failed.push_back(std::move(redo));
    }
    b->pending.fetch_sub(1, std::memory_order_acq_rel);
  }

  // "events[0,2] other[1]": the partitions of a rebalance, for the log.
  static std::string PartitionsText(const rd_kafka_topic_partition_list_t* parts) {
    std::map<std::string, std::vector<int32_t>> by_topic;
    for (int i = 0; i < parts->cnt; ++i) {
      by_topic[parts->elems[i].topic].push_back(parts->elems[i].partition);
    }
    std::string out;
    for (auto& [topic, ps] : by_topic) {
      std::sort(ps.begin(), ps.end());
      out += (out.empty() ? "" : " ") + topic + "[";
      for (size_t i = 0; i < ps.size(); ++i) out += (i ? "," : "") + std::to_string(ps[i]);
      out += "]";
    }
    return out;
  }
  static std::vector<TopicPartition> ListOf(const rd_kafka_topic_partition_list_t* parts) {
    std::vector<TopicPartition> out;
    for (int i = 0; i < parts->cnt; ++i) {
      out.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
    }
    return out;
  }
  bool Contains(const rd_kafka_topic_partition_list_t* parts, const char* topic,
                int32_t partition) const {
    return rd_kafka_topic_partition_list_find(parts, topic, partition) != nullptr;
  }
  // Partitions this replica owns now (0 when the assignment cannot be read).
  int32_t OwnedPartitions() const {
    rd_kafka_topic_partition_list_t* a = nullptr;
    if (rd_kafka_assignment(consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a) return 0;
    const int32_t n = a->cnt;
    rd_kafka_topic_partition_list_destroy(a);
    return n;
  }

  // The group gave this replica partitions (`parts`: all of them with an eager assignor, the
  // added ones with cooperative-sticky) or took some away. Their state is read back before
  // any of their events is decided; what was decided of the ones going is committed first.
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->r.stats_.rebalances.fetch_add(1);
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->Assign(rk, parts, cooperative);
    } else {
      self->Revoke(rk, parts, cooperative);
    }
  }

  void Assign(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, bool cooperative) {
    const bool had_none = !cooperative || OwnedPartitions() == 0;
    const auto started = Clock::now();
    // The partitions' pattern state is read back before any of their events is decided.
    bool read = false;
    if (parts->cnt > 0 && changelog() && fatal.ok() && (HasPatterns() || MuteStateOn())) {
      r.stats_.restoring.store(parts->cnt);
      Status s = ReadChangelog(parts);
      r.stats_.restoring.store(0);
      if (!s.ok()) {
        // Asked to stop while reading: the partitions are not taken (nothing of them is
        // decided without its state) and the run ends cleanly.
        if (!r.stop_.load(std::memory_order_relaxed)) fatal = s;
        return;
      }
      read = HasPatterns();
    }
    // Every owned partition's state was read with patterns: the new ones now, the others
    // before (a set without patterns reads none; a reload that brings some reads them all).
    state_read = (had_none || state_read) && (read || parts->cnt == 0) && HasPatterns();
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
        fatal = engine::Unavailable(std::string("kafka: taking the assigned partitions: ") +
                                    rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return;
      }
      // Consumption held back for backpressure holds the new partitions back too.
      if (paused && parts->cnt > 0) rd_kafka_pause_partitions(rk, parts);
    } else {
      rd_kafka_assign(rk, parts);
      paused = false;
      r.paused_.store(false, std::memory_order_relaxed);
    }
    const int32_t owned = OwnedPartitions();
    r.stats_.assigned.store(owned);
    if (r.observer_) r.observer_->OnRebalance("assigned", ListOf(parts), owned);
    if (r.logger_ && parts->cnt > 0) {
      r.logger_->Info(
          "partitions assigned",
          {{"partitions", PartitionsText(parts)},
           {"count", static_cast<int64_t>(parts->cnt)},
           {"owned", static_cast<int64_t>(owned)},
           {"protocol", cooperative ? "cooperative" : "eager"},
           {"ms", static_cast<int64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                          .count())}});
    }
  }

  void Revoke(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, bool cooperative) {
    // Lost: the group moved them on already (this replica missed its session timeout), so
    // their offsets can no longer be committed here; their next owner decides again what
    // was not committed.
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    // Messages fetched but not yet decided of the partitions going: dropped (nothing of them
    // is committed, so their next owner, maybe us again, fetches them from the committed
    // offset). Those of partitions that stay are kept: they are not fetched again.
    std::vector<Msg> keep;
    for (Msg& m : collecting) {
      if (Contains(parts, rd_kafka_topic_name(m.m->rkt), m.m->partition)) {
        rd_kafka_message_destroy(m.m);
      } else {
        keep.push_back(m);
      }
    }
    collecting.swap(keep);
    // Pattern state goes with the partitions. With a changelog every batch has written its
    // changes: once committed, the next owner reads them back. Without one, held events
    // leave as evicted (pending ones escalated) before the offsets that hold them are
    // committed.
    draining.clear();
    for (int i = 0; i < parts->cnt; ++i) {
      draining.emplace(parts->elems[i].topic, parts->elems[i].partition);
    }
    if (!changelog()) TimerBatch(/*drain=*/true);
    DrainAndCommit(o.processing.shutdown_timeout_ms);
    for (Worker& w : workers) {
      for (const TopicPartition& tp : draining) {
        w.stages.erase(tp);
        w.restore.erase(tp);
      }
    }
    draining.clear();
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
        if (r.logger_) {
          r.logger_->Error("kafka: giving the revoked partitions up",
                           {{"error", rd_kafka_error_string(e)}});
        }
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    const int32_t owned = OwnedPartitions();
    if (owned == 0) {
      state_read = false;
      paused = false;
      r.paused_.store(false, std::memory_order_relaxed);
    }
    r.stats_.assigned.store(owned);
    if (r.observer_) r.observer_->OnRebalance(lost ? "lost" : "revoked", ListOf(parts), owned);
    if (r.logger_ && parts->cnt > 0) {
      r.logger_->Log(
          lost ? LogLevel::kWarn : LogLevel::kInfo,
          lost ? "partitions lost (this replica missed its session timeout)" : "partitions revoked",
          {{"partitions", PartitionsText(parts)},
           {"count", static_cast<int64_t>(parts->cnt)},
           {"owned", static_cast<int64_t>(owned)},
           {"protocol", cooperative ? "cooperative" : "eager"}});
    }
  }

  // -- set-up ---------------------------------------------------------------------------

  Status Start() {
    // With a changelog, muting state (dedup windows, inhibition sources) is written with the
    // partitions' outputs.
    if (r.muter_ != nullptr && changelog()) r.muter_->TrackChanges(true);
    for (size_t i = 0; i < o.sources.size(); ++i) {
      const auto& s = o.sources[i];
      for (const auto& t : s.topics) source_of_topic.emplace(t, static_cast<int>(i));
      patterns.push_back(s.pattern.empty() ? nullptr : new RE2(s.pattern));
    }
    // Producer.
    std::map<std::string, std::string> pprops = {{"bootstrap.servers", o.kafka.brokers},
                                                 {"linger.ms", "5"},
                                                 {"batch.num.messages", "10000"},
                                                 {"queue.buffering.max.messages", "200000"},
                                                 {"compression.type", "lz4"},
                                                 {"log_level", "3"}};
    if (o.kafka.exactly_once) {
      pprops["transactional.id"] = o.kafka.transactional_id;
    } else {
      pprops["enable.idempotence"] = "true";
    }
    auto made_producer = NewClient(
        RD_KAFKA_PRODUCER, std::move(pprops), o.kafka.properties,
        [this](rd_kafka_conf_t* c) {
          rd_kafka_conf_set_dr_msg_cb(c, &Impl::OnDelivery);
          rd_kafka_conf_set_opaque(c, this);
        },
        "kafka producer");
    if (!made_producer.ok()) return made_producer.status();
    producer = *made_producer;
    // Consumer.
    std::map<std::string, std::string> cprops = {{"bootstrap.servers", o.kafka.brokers},
                                                 {"group.id", o.kafka.group_id},
                                                 {"enable.auto.commit", "false"},
                                                 {"enable.auto.offset.store", "false"},
                                                 {"auto.offset.reset", "earliest"},
                                                 {"enable.partition.eof", "false"},
                                                 {"log_level", "3"}};
    cprops["partition.assignment.strategy"] = std::string(kAssignorNames.Name(o.kafka.assignor));
    cprops["session.timeout.ms"] = std::to_string(o.kafka.session_timeout_ms);
    cprops["heartbeat.interval.ms"] = std::to_string(o.kafka.heartbeat_interval_ms);
    if (!o.kafka.group_instance_id.empty()) {
      cprops["group.instance.id"] = o.kafka.group_instance_id;
    }
    if (o.kafka.exactly_once) cprops["isolation.level"] = "read_committed";
    auto made_consumer = NewClient(
        RD_KAFKA_CONSUMER, std::move(cprops), o.kafka.properties,
        [this](rd_kafka_conf_t* conf) {
          rd_kafka_conf_set_rebalance_cb(conf, &Impl::OnRebalance);
          rd_kafka_conf_set_opaque(conf, this);
        },
        "kafka consumer");
    if (!made_consumer.ok()) return made_consumer.status();
    consumer = *made_consumer;
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(4);
    for (const auto& s : o.sources) {
      for (const auto& t : s.topics) {
        rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
      }
      if (!s.pattern.empty()) {
        const std::string p = s.pattern[0] == '^' ? s.pattern : "^" + s.pattern;
        rd_kafka_topic_partition_list_add(topics, p.c_str(), RD_KAFKA_PARTITION_UA);
      }
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) return KafkaError("subscribe", e);
    if (o.kafka.exactly_once) {
      if (rd_kafka_error_t* te = rd_kafka_init_transactions(producer, 30000)) {
        Status s =
            engine::Unavailable(std::string("init transactions: ") + rd_kafka_error_string(te));
        rd_kafka_error_destroy(te);
        return s;
      }
    }
    const int n = std::max(1, o.processing.workers);
    workers.resize(static_cast<size_t>(n));
    for (int i = 1; i < n; ++i) pool.emplace_back([this, i] { PoolLoop(i); });
    last_lag = std::chrono::steady_clock::now();
    last_tick = Clock::now();
    return Status::Ok();
  }

  // -- producing ------------------------------------------------------------------------

  // Produces one output; waits (serving delivery reports) while the local queue is full.
  // A value whose data() is null is produced as a null value (a tombstone).
  void Produce(OutputTag* tag, const std::string& topic, std::string_view key,
               std::string_view value, const HeaderView* headers, size_t header_count,
               int32_t partition = RD_KAFKA_PARTITION_UA) {
    Batch* b = tag->batch;
    b->pending.fetch_add(1, std::memory_order_acq_rel);
    for (int attempt = 0;; ++attempt) {
      rd_kafka_headers_t* h = rd_kafka_headers_new(header_count);
      for (size_t i = 0; i < header_count; ++i) {
        const auto& [k, v] = headers[i];
        rd_kafka_header_add(h, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      }
      rd_kafka_resp_err_t e = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(h),
          RD_KAFKA_V_OPAQUE(tag), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      rd_kafka_headers_destroy(h);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // Backpressure: the broker is slow or away. Worker threads wait; the loop thread
        // also serves delivery reports so the queue drains.
        if (attempt == 0) r.stats_.pauses.fetch_add(1);
        if (std::this_thread::get_id() == loop_thread) {
          rd_kafka_poll(producer, 10);
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        continue;
      }
      // Anything else (too large for the producer, unknown topic, ...) is handled with the
      // failed deliveries: cut, retried or given up on once the batch is the oldest.
      Redo redo{tag, topic, std::string(key), std::string(value),
                {},  e,     partition,        value.data() == nullptr};
      for (size_t i = 0; i < header_count; ++i) {
        redo.headers.emplace_back(headers[i].first, headers[i].second);
      }
      base::MutexLock l(b->mu);
      b->failed.push_back(std::move(redo));
      b->pending.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
  }
  std::thread::id loop_thread;

  // -- deciding -------------------------------------------------------------------------

  int SourceFor(const char* topic) {
    auto it = source_of_topic.find(topic);
    if (it != source_of_topic.end()) return it->second;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (patterns[i] && RE2::PartialMatch(topic, *patterns[i])) {
        source_of_topic.emplace(topic, static_cast<int>(i));
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  void DeadLetter(OutputTag* out, Worker& w, const rd_kafka_message_t* m, std::string_view value,
                  const std::string& reason, std::string_view reason_class) {
    const std::string partition = std::to_string(m->partition);
    const std::string offset = std::to_string(m->offset);
    std::vector<HeaderView> h = {{"reflex-error", reason},
                                 {"reflex-error-class", reason_class},
                                 {"reflex-source-topic", rd_kafka_topic_name(m->rkt)},
                                 {"reflex-source-partition", partition},
                                 {"reflex-source-offset", offset}};
    for (const auto& kv : w.meta) {
      if (std::string_view(kv.first).substr(0, 7) == "header.") {
        h.emplace_back(std::string_view(kv.first).substr(7), kv.second);
      }
    }
    Produce(out, o.kafka.dead_letter_topic, View(m->key, m->key_len), value, h.data(), h.size());
    r.stats_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
    const std::string_view fine_class = Metrics::ReasonClass(reason);
    if (r.observer_) r.observer_->OnDeadLetter(w.label, fine_class);
    if (r.logger_) {
      // The event's id when the payload is an object with one (a field was wrong); not
      // looked for in payloads that are not JSON, too large, too deep or unmappable.
      std::string id;
      if (fine_class.substr(0, 4) == "bad_" || fine_class == "other") {
        auto j = nlohmann::json::parse(value, nullptr, false);
        if (j.is_object()) {
          if (auto it = j.find("id"); it != j.end() && (it->is_string() || it->is_number())) {
            id = it->is_string() ? it->get<std::string>() : it->dump();
          }
        }
      }
      if (id.empty()) {
        r.logger_->Warn("event dead-lettered", {{"source", w.label},
                                                {"reason", fine_class},
                                                {"error", reason},
                                                {"topic", rd_kafka_topic_name(m->rkt)},
                                                {"partition", m->partition},
                                                {"offset", m->offset}});
      } else {
        r.logger_->Warn("event dead-lettered", {{"event_id", id},
                                                {"source", w.label},
                                                {"reason", fine_class},
                                                {"error", reason},
                                                {"topic", rd_kafka_topic_name(m->rkt)},
                                                {"partition", m->partition},
                                                {"offset", m->offset}});
      }
    }
  }

  void DecideOne(OutputTag* out, Worker& w, const rd_kafka_message_t* m, std::string_view json,
                 int source) {
    std::string decision;
    Status s = w.pipeline->Process(json, now_ms, nullptr, w.meta);
    if (!s.ok()) {
      DeadLetter(out, w, m, json, s.message(), "malformed");
      return;
    }
    // A duplicate (processing.dedup_window) is not a new occurrence: patterns do not see it.
    engine::PatternStage* stage =
        w.pipeline->result().mute.kind == engine::MuteInfo::Kind::kDuplicate ? nullptr
                                                                             : StageFor(w, m);
    if (stage != nullptr) {
      const engine::Event& ev = w.pipeline->event();
      const int64_t t =
          o.processing.correlation_time == CorrelationTime::kArrival ? now_ms : ev.time_ms;
      engine::Observation obs;
      w.pattern_out.clear();
      if (stage->Observe(ev, w.pipeline->result().verdict, t, now_ms, &w.pattern_out, &obs)) {
        w.pipeline->MarkPending();
      }
      if (obs.late > 0 && r.observer_) r.observer_->OnPatternLate(obs.late);
    }
    w.pipeline->AppendDecision(now_ms, &decision);
    const engine::Verdict v = w.pipeline->result().verdict;
    std::string_view key = View(m->key, m->key_len);
    if (key.empty()) key = w.pipeline->event().id;
    const HeaderView h[2] = {{"reflex-verdict", engine::VerdictName(v)},
                             {"reflex-ruleset", rules->version()}};
    Produce(out, o.kafka.decisions_topic, key, decision, h, 2);
    for (const engine::MuteStateChange& c : w.pipeline->result().state_changes) {
      WriteMuteState(out, w, m, c);
    }
    if (v == engine::Verdict::kUnknown && !o.kafka.escalations_topic.empty()) {
      Produce(out, o.kafka.escalations_topic, key, decision, h, 2);
    }
    r.stats_.decided.fetch_add(1, std::memory_order_relaxed);
    switch (v) {
      case engine::Verdict::kKnown:
        r.stats_.known.fetch_add(1, std::memory_order_relaxed);
        break;
      case engine::Verdict::kSuppressed:
        r.stats_.suppressed.fetch_add(1, std::memory_order_relaxed);
        break;
      case engine::Verdict::kUnknown:
        r.stats_.unknown.fetch_add(1, std::memory_order_relaxed);
        break;
      case engine::Verdict::kPending:
        r.stats_.pending.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    const std::string& src_name =
        source >= 0 ? o.sources[static_cast<size_t>(source)].name : m_unbound;
    if (r.observer_) {
      r.observer_->OnEvent(w.label, *rules, w.pipeline->result());
      r.observer_->OnDecided(w.label, *rules, w.pipeline->event(), w.pipeline->result(), now_ms);
    }
    if (r.tap_) r.tap_(decision);
    if (r.hook_) {
      w.decisions.push_back(std::move(decision));
      w.decided.push_back(DecidedEvent{src_name, {}, json, v});
    }
    // The outcomes this event completed or closed, after its own decision.
    if (stage != nullptr) EmitPatterns(out, w, *stage);
  }
  const std::string m_unbound = "unbound";
  static constexpr std::string_view kPatternSource = "reflex.pattern";

  // The pattern stage of message m's partition; created on its first event while the rule
  // set has patterns. Null when it has none.
  engine::PatternStage* StageFor(Worker& w, const rd_kafka_message_t* m) {
    if (!rules->patterns()) return nullptr;
    TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
    auto it = w.stages.find(tp);
    if (it == w.stages.end()) {
      auto stage = engine::PatternStage::Create(rules);
      if (!stage) return nullptr;
      stage->TrackChanges(changelog());
      it = w.stages.emplace(std::move(tp), std::move(stage)).first;
    }
    return it->second.get();
  }

  // Produces the decisions in w.pattern_out (tagged `out`) and hands them to the hook.
  void EmitPatterns(OutputTag* out, Worker& w, const engine::PatternStage& stage) {
    const auto& specs = stage.correlator().specs();
    for (engine::PatternDecision& d : w.pattern_out) {
      const std::string& name = d.name;
      if (r.observer_) r.observer_->OnPatternOutcome(name, d.outcome);
      if (d.outcome == engine::PatternOutcome::kEvicted && r.logger_ && !drain_stages) {
        if (d.pattern < specs.size()) {
          r.logger_->Warn("pattern group evicted at max_keys",
                          {{"pattern", name},
                           {"max_keys", static_cast<int64_t>(specs[d.pattern].max_keys)},
                           {"event_id", d.event_id}});
        } else {
          r.logger_->Warn(
              "restored pattern group released: the rule set no longer has its "
              "pattern (or it changed kind)",
              {{"pattern", name}, {"event_id", d.event_id}});
        }
      }
      if (d.decision_json.empty()) continue;
      const HeaderView h[2] = {{"reflex-verdict", engine::VerdictName(d.verdict)},
                               {"reflex-ruleset", stage.rules()->version()}};
      Produce(out, o.kafka.decisions_topic, d.event_id, d.decision_json, h, 2);
      if (d.verdict == engine::Verdict::kUnknown && !o.kafka.escalations_topic.empty()) {
        Produce(out, o.kafka.escalations_topic, d.event_id, d.decision_json, h, 2);
      }
      r.stats_.decided.fetch_add(1, std::memory_order_relaxed);
      r.stats_.patterns.fetch_add(1, std::memory_order_relaxed);
      (d.verdict == engine::Verdict::kKnown ? r.stats_.known : r.stats_.unknown)
          .fetch_add(1, std::memory_order_relaxed);
      if (r.tap_) r.tap_(d.decision_json);
      if (r.hook_) {
        w.mapped.push_back(std::move(d.event_json));
        w.decided.push_back(DecidedEvent{kPatternSource, {}, w.mapped.back(), d.verdict});
        w.decisions.push_back(std::move(d.decision_json));
      }
    }
    w.pattern_out.clear();
  }

  // Before a worker decides its messages: its stages follow a new rule set, fire their due
  // timers (or give up their state when the batch drains them).
  void AdvanceStages(Worker& w) {
    RestoreStages(w);
    for (auto it = w.stages.begin(); it != w.stages.end();) {
      engine::PatternStage& stage = *it->second;
      w.pattern_out.clear();
      bool keep = true;
      if (drain_stages && (draining.empty() || draining.count(it->first) > 0)) {
        stage.Drain(now_ms, &w.pattern_out);
        keep = false;
      } else {
        if (stage.rules() != rules) keep = stage.SetRules(rules, now_ms, &w.pattern_out);
        if (keep) stage.Advance(now_ms, &w.pattern_out);
      }
      EmitPatterns(timer_tag, w, stage);
      if (!keep) WriteChanges(w, it->first, stage);
      it = keep ? std::next(it) : w.stages.erase(it);
    }
  }

  bool changelog() const { return !o.kafka.changelog_topic.empty(); }
  // A reload that brings patterns to a set that had none: the partitions were assigned
  // without reading their changelog (a set without patterns needs none), so their state,
  // kept there since an owner last held patterns for them, is read back now, before any of
  // their events is decided with the patterns. False (with `fatal` set) when it cannot be.
  bool ReadStateForNewPatterns() {
    if (!changelog() || state_read || !rules || !rules->patterns() ||
        rules->patterns()->specs.empty()) {
      return true;
    }
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_resp_err_t e = rd_kafka_assignment(consumer, &parts); e) {
      fatal = KafkaError("pattern changelog: the assignment", e);
      return false;
    }
    Status s = Status::Ok();
    if (parts->cnt > 0) {
      if (r.logger_) {
        r.logger_->Info("pattern state read back for patterns a reload added",
                        {{"partitions", static_cast<int64_t>(parts->cnt)}});
      }
      r.stats_.restoring.store(parts->cnt);
      s = ReadChangelog(parts);
      r.stats_.restoring.store(0);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (!s.ok()) {
      if (!r.stop_.load(std::memory_order_relaxed)) fatal = s;
      return false;
    }
    state_read = true;
    return true;
  }
  // Whether the rule set in force has patterns: without, the changelog is not read (and
  // need not exist).
  bool HasPatterns() const {
    auto set = r.rules_();
    return set && set->patterns() && !set->patterns()->specs.empty();
  }

  // Reads the changelog partitions of the input partitions in `parts` from the start to
  // the end (the latest record per key, tombstones applied) into the workers' `restore`
  // (loop thread, in the assignment callback, before the partitions are fetched). An error
  // when the topic is missing or has too few partitions, or a read does not finish within
  // kafka.changelog_restore_timeout_ms: the loop stops rather than decide without the state.
  Status ReadChangelog(const rd_kafka_topic_partition_list_t* parts) {
    const std::string& topic = o.kafka.changelog_topic;
    const auto started = Clock::now();
    const auto deadline = started + std::chrono::milliseconds(o.kafka.changelog_restore_timeout_ms);
    const auto left_ms = [&] {
      return static_cast<int>(std::max<int64_t>(
          1,
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    };
    // A broker call, given at most half a second at a time and tried again while it fails
    // (a partition without a leader during an election, a broker restarting), until the
    // deadline or a stop request: a stop does not wait for the whole restore timeout.
    const auto patiently = [&](const auto& call) {
      for (;;) {
        rd_kafka_resp_err_t e = call(std::min(left_ms(), 500));
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || Clock::now() >= deadline ||
            r.stop_.load(std::memory_order_relaxed)) {
          return e;
        }
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          // Learn the new leader: the client's cached metadata still has none.
          const rd_kafka_metadata_t* md = nullptr;
          if (!rd_kafka_metadata(restorer, 1, nullptr, &md, std::min(left_ms(), 500))) {
            rd_kafka_metadata_destroy(md);
          }
        }
      }
    };
    if (restorer == nullptr) {
      std::map<std::string, std::string> props = {
          {"bootstrap.servers", o.kafka.brokers}, {"group.id", o.kafka.group_id + ".restore"},
          {"enable.auto.commit", "false"},        {"enable.auto.offset.store", "false"},
          {"enable.partition.eof", "true"},       {"log_level", "3"}};
      if (o.kafka.exactly_once) props["isolation.level"] = "read_committed";
      auto made = NewClient(
          RD_KAFKA_CONSUMER, std::move(props), o.kafka.properties, [](rd_kafka_conf_t*) {},
          "kafka changelog reader");
      if (!made.ok()) return made.status();
      restorer = *made;
    }
    // The topic must exist with a partition for every input partition.
    std::map<int32_t, std::vector<std::string>> by_partition;
    int32_t needed = 0;
    for (int i = 0; i < parts->cnt; ++i) {
      by_partition[parts->elems[i].partition].push_back(parts->elems[i].topic);
      needed = std::max(needed, parts->elems[i].partition + 1);
    }
    if (by_partition.empty()) return Status::Ok();
    {
      // Every topic's metadata: asking for this one alone would let a broker that
      // auto-creates topics create it, uncompacted, with its default partitions.
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_resp_err_t e =
          patiently([&](int ms) { return rd_kafka_metadata(restorer, 1, nullptr, &md, ms); });
      if (e) return KafkaError("pattern changelog " + topic + ": metadata", e);
      int have = 0;
      rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (topic != md->topics[i].topic) continue;
        terr = md->topics[i].err;
        have = md->topics[i].partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
      if (terr || have < needed) {
        return engine::FailedPrecondition(
            "pattern changelog topic " + topic +
            (terr ? std::string(": ") + rd_kafka_err2str(terr)
                  : " has " + std::to_string(have) + " partition(s)") +
            "; input partition " + std::to_string(needed - 1) + " needs at least " +
            std::to_string(needed) +
            ". Create it compacted (cleanup.policy=compact) with as many partitions as the "
            "input topics, or set kafka.changelog_topic to \"\" to give pattern state, dedup "
            "windows and inhibition sources up on revocation and shutdown");
      }
    }
    size_t records = 0, groups = 0, mute_entries = 0;
    for (const auto& [part, topics] : by_partition) {
      const int32_t p = part;  // clang 14 cannot capture a structured binding
      int64_t lo = 0, hi = 0;
      if (rd_kafka_resp_err_t e = patiently([&](int ms) {
            return rd_kafka_query_watermark_offsets(restorer, topic.c_str(), p, &lo, &hi, ms);
          })) {
        return KafkaError("pattern changelog " + topic + "[" + std::to_string(p) +
                              "]: offsets not readable within " +
                              std::to_string(o.kafka.changelog_restore_timeout_ms) + " ms",
                          e);
      }
      std::vector<std::pair<TopicPartition, std::map<std::string, std::string>>> state;
      // Muting state of every input topic (dedup windows, inhibition sources, root-cause
      // incidents), by store and key.
      std::map<std::string, std::string> mute[kMuteStores.size()];
      std::vector<std::string> prefixes;
      for (const std::string& t : topics) {
        state.emplace_back(TopicPartition{t, p}, std::map<std::string, std::string>{});
        prefixes.push_back(ChangelogPrefix(state.back().first));
      }
      if (hi > lo) {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = lo;
        rd_kafka_resp_err_t e = rd_kafka_assign(restorer, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (e) return KafkaError("pattern changelog " + topic + ": assign", e);
        int64_t at = lo;
        bool done = false;
        while (!done) {
          if (r.stop_.load(std::memory_order_relaxed)) {
            rd_kafka_assign(restorer, nullptr);
            return engine::Unavailable("pattern changelog " + topic + ": stopped while reading");
          }
          if (Clock::now() > deadline) {
            rd_kafka_assign(restorer, nullptr);
            return engine::Unavailable("pattern changelog " + topic + "[" + std::to_string(p) +
                                       "]: not read to its end within " +
                                       std::to_string(o.kafka.changelog_restore_timeout_ms) +
                                       " ms (at offset " + std::to_string(at) + " of " +
                                       std::to_string(hi) + ")");
          }
          rd_kafka_message_t* m = rd_kafka_consumer_poll(restorer, 100);
          if (m == nullptr) continue;
          if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            done = true;
          } else if (!m->err) {
            ++records;
            at = m->offset + 1;
            const std::string_view key = View(m->key, m->key_len);
            for (size_t i = 0; i < prefixes.size(); ++i) {
              if (key.substr(0, prefixes[i].size()) != prefixes[i]) continue;
              std::string k(key.substr(prefixes[i].size()));
              std::map<std::string, std::string>* into = &state[i].second;
              for (size_t s = 0; s < kMuteStores.size(); ++s) {
                const std::string_view store_part = MutePart(kMuteStores[s]);
                if (k.rfind(store_part, 0) != 0) continue;
                k.erase(0, store_part.size());
                into = &mute[s];
                break;
              }
              if (m->payload == nullptr || m->len == 0) {
                into->erase(k);
              } else {
                (*into)[std::move(k)].assign(View(m->payload, m->len));
              }
              break;
            }
            done = at >= hi;
          }
          rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(restorer, nullptr);
      }
      const bool any_mute = std::any_of(std::begin(mute), std::end(mute),
                                        [](const auto& entries) { return !entries.empty(); });
      if (r.muter_ != nullptr && any_mute) {
        const int64_t now = r.clock_->NowMillis();
        for (size_t s = 0; s < kMuteStores.size(); ++s) {
          const engine::MuteStateChange::Store store = kMuteStores[s];
          size_t unreadable = 0;
          const std::string* first_unreadable = nullptr;
          for (const auto& [key, value] : mute[s]) {
            switch (r.muter_->Restore(store, key, value, now)) {
              case engine::RestoreOutcome::kRestored:
                ++mute_entries;
                break;
              case engine::RestoreOutcome::kSkipped:
                break;
              case engine::RestoreOutcome::kUnreadable:
                if (unreadable++ == 0) first_unreadable = &key;
                break;
            }
          }
          // Not a record this version writes (another version's, or damaged): said, not
          // silently dropped; the partition's other state is still read.
          if (unreadable > 0 && r.logger_) {
            r.logger_->Error("changelog records not readable, left out",
                             {{"topic", topic},
                              {"partition", static_cast<int64_t>(p)},
                              {"store", MuteStoreName(store)},
                              {"records", static_cast<int64_t>(unreadable)},
                              {"first_key", *first_unreadable}});
          }
        }
        r.muter_->FinishRestore();
      }
      if (!HasPatterns()) continue;  // muting state alone: no pattern stage to restore
      for (auto& [tp, kv] : state) {
        if (kv.empty()) continue;
        auto& recs = workers[static_cast<size_t>(tp.second) % workers.size()].restore[tp];
        recs.clear();
        for (auto& [k, v] : kv) recs.push_back({k, std::move(v)});
        groups += recs.size();
      }
    }
    if (r.logger_) {
      r.logger_->Info(
          "pattern state read back",
          {{"topic", topic},
           {"partitions", static_cast<int64_t>(parts->cnt)},
           {"records", static_cast<int64_t>(records)},
           {"groups", static_cast<int64_t>(groups)},
           {"mute_entries", static_cast<int64_t>(mute_entries)},
           {"ms", static_cast<int64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                          .count())}});
    }
    return Status::Ok();
  }
  rd_kafka_t* restorer = nullptr;  // reads the changelog back (no group membership)

  // The changelog key of a stage record: `<input topic>/<partition>/<pattern>/<group key>`.
  static std::string ChangelogPrefix(const TopicPartition& tp) {
    return tp.first + "/" + std::to_string(tp.second) + "/";
  }

  // Writes the records of the groups whose state changed to the changelog, partition =
  // the input partition, tagged with the batch's extra origin: the batch (and so the input
  // offsets that changed the state) commits only once the broker has them.
  void WriteChanges(Worker& w, const TopicPartition& tp, engine::PatternStage& stage) {
    if (!changelog()) return;
    w.changes.clear();
    stage.TakeChanges(&w.changes);
    if (w.changes.empty()) return;
    const std::string prefix = ChangelogPrefix(tp);
    std::string key;
    for (const auto& rec : w.changes) {
      key.assign(prefix).append(rec.key);
      Produce(timer_tag, o.kafka.changelog_topic, key,
              rec.value.empty() ? std::string_view() : std::string_view(rec.value), nullptr, 0,
              tp.second);
    }
  }

  // The changelog record of a change to muting state (a dedup window opened, an inhibition
  // source tracked, or either gone: a tombstone), key `<input topic>/<partition>/#dedup/<key>`
  // or `.../#inhibit/<key>` (no pattern is named so), partition = the input partition,
  // tagged with the event's origin: its offset commits once the broker has the record.
  static constexpr std::string_view kDedupPart = "#dedup/";
  static constexpr std::string_view kInhibitPart = "#inhibit/";
  static constexpr std::string_view kRootCausePart = "#rootcause/";
  static constexpr std::array<engine::MuteStateChange::Store, 3> kMuteStores = {
      engine::MuteStateChange::Store::kDedup, engine::MuteStateChange::Store::kInhibit,
      engine::MuteStateChange::Store::kRootCause};
  // The part of a changelog key that names a muting store, and its name in logs.
  static std::string_view MutePart(engine::MuteStateChange::Store s) {
    switch (s) {
      case engine::MuteStateChange::Store::kDedup:
        return kDedupPart;
      case engine::MuteStateChange::Store::kInhibit:
        return kInhibitPart;
      case engine::MuteStateChange::Store::kRootCause:
        return kRootCausePart;
    }
    return kDedupPart;
  }
  static std::string_view MuteStoreName(engine::MuteStateChange::Store s) {
    std::string_view p = MutePart(s);
    return p.substr(1, p.size() - 2);  // "#dedup/" -> "dedup"
  }
  void WriteMuteState(OutputTag* out, Worker& w, const rd_kafka_message_t* m,
                      const engine::MuteStateChange& c) {
    w.mute_key.assign(ChangelogPrefix(TopicPartition{rd_kafka_topic_name(m->rkt), m->partition}))
        .append(MutePart(c.store))
        .append(c.key);
    Produce(out, o.kafka.changelog_topic, w.mute_key,
            c.value.empty() ? std::string_view() : std::string_view(c.value), nullptr, 0,
            m->partition);
  }
  // Muting state moves with the partitions: dedup is on, or the rules inhibit or have a
  // topology (root-cause incidents).
  bool MuteStateOn() const {
    if (r.muter_ == nullptr) return false;
    if (r.muter_->deduper().window_ms() > 0) return true;
    auto set = r.rules_();
    return set && (!set->inhibit_rules().empty() || set->topology() != nullptr);
  }

  // Puts the state read back from the changelog into new stages (worker thread, before the
  // partitions' first events). Groups of patterns the set no longer has are released.
  void RestoreStages(Worker& w) {
    for (auto& [tp, records] : w.restore) {
      auto stage = engine::PatternStage::Create(rules, /*even_without_patterns=*/true);
      stage->TrackChanges(true);
      w.pattern_out.clear();
      auto restored = stage->Restore(records, now_ms, &w.pattern_out);
      if (!restored.ok()) {
        // A record this binary cannot read: decide on without it, loudly.
        if (r.logger_) {
          r.logger_->Error("pattern state not restored", {{"topic", tp.first},
                                                          {"partition", tp.second},
                                                          {"error", restored.status().message()}});
        }
      } else if (r.observer_) {
        r.observer_->OnPatternRestored(*restored);
      }
      EmitPatterns(timer_tag, w, *stage);
      if (stage->rules()->patterns() && !stage->rules()->patterns()->specs.empty()) {
        w.stages[tp] = std::move(stage);
      } else {
        WriteChanges(w, tp, *stage);  // the released groups' tombstones
      }
    }
    w.restore.clear();
  }

  void DecideMessage(Worker& w, Msg& msg) {
    OutputTag* out = msg.tag;
    const rd_kafka_message_t* m = msg.m;
    // Transport metadata for meta.* fields.
    // Reuses the strings of the previous message (no allocation for the usual sizes).
    size_t n = 0;
    auto set = [&](std::string_view k, std::string_view v) {
      if (n == w.meta.size()) w.meta.emplace_back();
      w.meta[n].first.assign(k);
      w.meta[n].second.assign(v);
      ++n;
    };
    char num[24];
    set("topic", rd_kafka_topic_name(m->rkt));
    set("partition", std::string_view(num, static_cast<size_t>(std::snprintf(num, sizeof num, "%d",
                                                                             m->partition))));
    set("offset",
        std::string_view(num, static_cast<size_t>(std::snprintf(
                                  num, sizeof num, "%lld", static_cast<long long>(m->offset)))));
    if (m->key) set("key", View(m->key, m->key_len));
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        if (n == w.meta.size()) w.meta.emplace_back();
        w.meta[n].first.assign("header.").append(name);
        w.meta[n].second.assign(View(val, size));
        ++n;
      }
    }
    w.meta.resize(n);
    w.label.assign(msg.source >= 0 ? o.sources[static_cast<size_t>(msg.source)].name : m_unbound);
    if (!r.source_labels_.empty()) {
      for (const auto& [k, v] : w.meta) {
        if (k != "header.reflex-source") continue;
        if (std::find(r.source_labels_.begin(), r.source_labels_.end(), v) !=
            r.source_labels_.end()) {
          w.label.assign(v);
        }
        break;
      }
    }
    const std::string_view bytes = View(m->payload, m->len);
    const MapFn* map = msg.source >= 0 && o.sources[static_cast<size_t>(msg.source)].map
                           ? &o.sources[static_cast<size_t>(msg.source)].map
                           : nullptr;
    if (!map) {
      DecideOne(out, w, m, bytes, msg.source);
      return;
    }
    w.mapped_tmp.clear();
    if (Status s = (*map)(bytes, &w.mapped_tmp); !s.ok()) {
      DeadLetter(out, w, m, bytes, "unmappable: " + s.message(), "unmappable");
      return;
    }
    for (auto& e : w.mapped_tmp) {
      // The decided event must outlive the hook: keep the mapped text in the worker.
      w.mapped.push_back(std::move(e));
      DecideOne(out, w, m, w.mapped.back(), msg.source);
    }
  }

  void RunWorker(size_t i) {
    Worker& w = workers[i];
    if (!w.pipeline) {
      w.pipeline = std::make_unique<engine::Pipeline>(rules, o.processing.event_limits());
      w.pipeline->SetMuter(r.muter_);
    } else if (w.pipeline->rules() != rules) {
      w.pipeline->SetRules(rules);
    }
    AdvanceStages(w);
    if (drain_stages) return;
    for (Msg* msg : w.msgs) DecideMessage(w, *msg);
    for (auto& [tp, stage] : w.stages) WriteChanges(w, tp, *stage);
  }

  void PoolLoop(int i) {
    uint64_t seen = 0;
    for (;;) {
      {
        base::MutexLock l(pool_mu);
        while (!pool_quit && pool_generation == seen) l.Wait(pool_cv);
        if (pool_quit) return;
        seen = pool_generation;
      }
      RunWorker(static_cast<size_t>(i));
      base::MutexLock l(pool_mu);
      if (--pool_remaining == 0) pool_done_cv.notify_one();
    }
  }

  // Decides a polled batch and produces its outputs; false when the hook refused it.
  bool Decide(std::vector<Msg>& msgs, std::unique_ptr<Batch>& batch,
              std::chrono::steady_clock::time_point polled_at) {
    rules = r.rules_();
    if (!ReadStateForNewPatterns()) return false;
    now_ms = r.clock_->NowMillis();
    for (auto& w : workers) {
      w.msgs.clear();
      w.decisions.clear();
      w.mapped.clear();
      w.decided.clear();
    }
    // One origin per message, and one for outputs no message caused (pattern timers); no
    // reallocation below: tags stay where they are.
    batch->origins.resize(msgs.size() + 1);
    batch->origins.back() = OutputTag{batch.get(), &kTimerSource, -1};
    timer_tag = &batch->origins.back();
    last_tick = Clock::now();
    for (size_t i = 0; i < msgs.size(); ++i) {
      Msg& m = msgs[i];
      workers[static_cast<size_t>(m.m->partition) % workers.size()].msgs.push_back(&m);
      auto it = batch->offsets.try_emplace({rd_kafka_topic_name(m.m->rkt), m.m->partition}).first;
      it->second.first = std::min(it->second.first, m.m->offset);
      it->second.next = std::max(it->second.next, m.m->offset + 1);
      batch->origins[i] = OutputTag{batch.get(), &it->first, m.m->offset};
      m.tag = &batch->origins[i];
    }
    batch->messages = static_cast<int64_t>(msgs.size());
    if (workers.size() > 1) {
      {
        base::MutexLock l(pool_mu);
        pool_remaining = static_cast<int>(workers.size()) - 1;
        ++pool_generation;
      }
      pool_cv.notify_all();
      RunWorker(0);
      // Serve delivery reports while the others finish: a full producer queue only drains
      // when reports are served.
      base::MutexLock l(pool_mu);
      while (pool_remaining != 0) {
        if (l.WaitFor(pool_done_cv, std::chrono::milliseconds(2)) == std::cv_status::no_timeout) {
          continue;
        }
        l.Unlock();
        rd_kafka_poll(producer, 0);
        l.Lock();
      }
    } else {
      RunWorker(0);
    }
    if (r.observer_ && !msgs.empty()) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - polled_at).count();
      r.observer_->OnBatch(secs, msgs.size());
    }
    if (r.hook_) {
      std::vector<DecidedEvent> all;
      for (auto& w : workers) {
        for (size_t i = 0; i < w.decided.size(); ++i) {
          w.decided[i].decision_json = w.decisions[i];
          all.push_back(w.decided[i]);
        }
      }
      if (Status s = r.hook_(all); !s.ok()) {
        fatal = engine::Internal("batch hook: " + s.message());
        return false;
      }
    }
    return true;
  }

  // A batch no message caused: the pattern stages' due timers (a tick while no event comes),
  // or, with `drain`, all their state given up (revocation, shutdown). Produced, handed to
  // the hook and committed like any batch; nothing to do without stages. False when it
  // failed (`fatal` says why).
  bool TimerBatch(bool drain) {
    last_tick = Clock::now();
    bool any = false;
    for (const auto& w : workers) any = any || !w.stages.empty() || !w.restore.empty();
    if (!any) return true;
    auto batch = std::make_unique<Batch>();
    if (o.kafka.exactly_once) {
      if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer)) {
        fatal = engine::Unavailable(std::string("begin transaction: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return false;
      }
    }
    std::vector<Msg> none;
    drain_stages = drain;
    const bool ok = Decide(none, batch, Clock::now());
    drain_stages = false;
    if (!ok) return false;
    if (o.kafka.exactly_once) {
      if (Status s = CommitTransaction(*batch); !s.ok()) {
        fatal = s;
        return false;
      }
      return true;
    }
    inflight.push_back(std::move(batch));
    Progress(false);
    return true;
  }

  // About once a second (with the lag): the groups each pattern holds, over the partitions.
  void ReportPatterns() {
    if (!r.observer_) return;
    std::map<std::string, uint64_t> keys;
    uint64_t pending = 0;
    bool any = false;
    for (const auto& w : workers) {
      for (const auto& [tp, stage] : w.stages) {
        any = true;
        pending += stage->pending();
        const auto& specs = stage->correlator().specs();
        for (uint32_t p = 0; p < specs.size(); ++p) {
          keys[specs[p].name] += stage->correlator().stats(p).keys;
        }
      }
    }
    if (!any && !reported_patterns) return;
    reported_patterns = any;
    if (rules && rules->patterns()) {
      for (const auto& spec : rules->patterns()->specs) keys.try_emplace(spec.name, 0);
    }
    for (const auto& [name, n] : keys) r.observer_->OnPatternState(name, n);
    r.observer_->OnPatternPending(pending);
  }
  bool reported_patterns = false;

  // -- committing -----------------------------------------------------------------------

  // -- failed outputs -------------------------------------------------------------------

  const char* OutputKind(const std::string& topic) const {
    if (topic == o.kafka.dead_letter_topic) return "dead_letter";
    if (topic == o.kafka.decisions_topic) return "decision";
    if (topic == o.kafka.escalations_topic) return "escalation";
    if (topic == o.kafka.changelog_topic) return "changelog";
    return "output";
  }

  // Decides what becomes of an output that failed (loop thread). A permanent refusal of a
  // dead letter sends it again cut to dead_letter_max_bytes (once); any other permanent
  // refusal, or a failure after the last allowed try, gives the output up: counted, logged,
  // and its batch commits without it. Otherwise it waits for its backoff in b->waiting.
  // With `can_wait` false (a transaction: no time to wait) a retriable failure returns
  // false and nothing is done.
  bool HandleFailure(Batch* b, Redo&& x, Clock::time_point now, bool can_wait) {
    const bool permanent = IsPermanentProduceError(x.err);
    const char* kind = OutputKind(x.topic);
    {
      base::MutexLock l(r.health_mu_);
      r.last_output_error_ = std::string(kind) + " to " + x.topic + ": " + rd_kafka_err2str(x.err);
    }
    if (!permanent && x.tag->attempt < retry.max_attempts) {
      if (!can_wait) return false;
      OutputTag& next = b->retry_tags.emplace_back(*x.tag);
      next.attempt = x.tag->attempt + 1;
      b->retry_at = std::max(
          b->retry_at, now + std::chrono::milliseconds(retry.DelayMs(x.tag->attempt, retry_rng)));
      x.tag = &next;
      b->waiting.push_back(std::move(x));
      return true;
    }
    if (permanent && !x.tag->cut && x.topic == o.kafka.dead_letter_topic) {
      SendCut(b, std::move(x));
      return true;
    }
    Drop(x, permanent ? "refused" : "retries exhausted");
    return true;
  }

  // Sends a refused dead letter again: a bounded prefix of the original, the same headers
  // (each cut to 1 KiB), and why and from what size it was cut.
  void SendCut(Batch* b, Redo&& x) {
    constexpr size_t kMaxHeader = 1024;
    const size_t max = static_cast<size_t>(o.kafka.dead_letter_max_bytes);
    const std::string original_size = std::to_string(x.value.size());
    const std::string why = rd_kafka_err2str(x.err);
    std::vector<HeaderView> h;
    for (const auto& [k, v] : x.headers) {
      h.emplace_back(k, std::string_view(v).substr(0, kMaxHeader));
    }
    h.emplace_back("reflex-truncated", original_size);
    h.emplace_back("reflex-truncated-reason", why);
    OutputTag& tag = b->retry_tags.emplace_back(*x.tag);
    tag.attempt = 1;
    tag.cut = true;
    r.stats_.truncated_dead_letters.fetch_add(1, std::memory_order_relaxed);
    if (r.observer_) r.observer_->OnDeadLetterTruncated();
    if (r.logger_) {
      r.logger_->Warn("dead letter cut to fit", {{"topic", x.topic},
                                                 {"error", why},
                                                 {"bytes", x.value.size()},
                                                 {"kept_bytes", std::min(max, x.value.size())},
                                                 {"source_topic", x.tag->source->first},
                                                 {"source_partition", x.tag->source->second},
                                                 {"source_offset", x.tag->offset}});
    }
    Produce(&tag, x.topic, std::string_view(x.key).substr(0, kMaxHeader),
            std::string_view(x.value).substr(0, max), h.data(), h.size());
  }

  void Drop(const Redo& x, std::string_view reason) {
    const char* kind = OutputKind(x.topic);
    r.stats_.dropped_outputs.fetch_add(1, std::memory_order_relaxed);
    if (r.observer_) r.observer_->OnOutputDropped(kind, reason);
    if (r.logger_) {
      // A decision or escalation names its event; a dead letter is the input as it came.
      std::string id;
      if (x.topic != o.kafka.dead_letter_topic) {
        auto j = nlohmann::json::parse(x.value, nullptr, false);
        if (j.is_object() && j.contains("event_id") && j["event_id"].is_string()) {
          id = j["event_id"].get<std::string>();
        }
      }
      r.logger_->Error("output dropped", {{"output", kind},
                                          {"event_id", id},
                                          {"topic", x.topic},
                                          {"reason", reason},
                                          {"error", rd_kafka_err2str(x.err)},
                                          {"attempts", x.tag->attempt},
                                          {"bytes", x.value.size()},
                                          {"source_topic", x.tag->source->first},
                                          {"source_partition", x.tag->source->second},
                                          {"source_offset", x.tag->offset}});
    }
  }

  // -- committing -----------------------------------------------------------------------

  // Commits every finished batch at the head of the queue; failed outputs of the oldest
  // batch are cut, retried after their backoff, or given up on (HandleFailure).
  // `sync` waits for the broker's answer.
  void Progress(bool sync) {
    rd_kafka_poll(producer, 0);
    std::map<TopicPartition, int64_t> offsets;
    int64_t msgs = 0;
    while (!inflight.empty()) {
      Batch* b = inflight.front().get();
      if (b->pending.load(std::memory_order_acquire) != 0) break;
      std::vector<Redo> failed;
      {
        base::MutexLock l(b->mu);
        failed.swap(b->failed);
      }
      if (!failed.empty()) {
        b->retries_in_flight = 0;
        const auto now = Clock::now();
        for (auto& x : failed) HandleFailure(b, std::move(x), now, /*can_wait=*/true);
        continue;  // cut copies are in flight now, or retries wait, or all were given up
      }
      if (!b->waiting.empty()) {
        if (Clock::now() < b->retry_at) break;
        std::vector<Redo> due;
        due.swap(b->waiting);
        r.stats_.redelivered_outputs.fetch_add(static_cast<int64_t>(due.size()));
        b->retries_in_flight = static_cast<int64_t>(due.size());
        for (auto& x : due) {
          std::vector<HeaderView> h(x.headers.begin(), x.headers.end());
          Produce(x.tag, x.topic, x.key, x.tombstone ? std::string_view() : x.value, h.data(),
                  h.size(), x.partition);
        }
        continue;
      }
      for (const auto& [tp, range] : b->offsets) {
        auto& cur = offsets[tp];
        cur = std::max(cur, range.next);
      }
      msgs += b->messages;
      inflight.pop_front();
    }
    PublishHealth();
    if (offsets.empty()) return;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& [tp, off] : offsets) {
      rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = off;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(consumer, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      // Not fatal: a later commit covers these offsets; a crash before it replays them.
      last_commit_error = e;
    }
    r.stats_.committed.fetch_add(msgs, std::memory_order_relaxed);
  }

  // What Health() reads: the oldest batch's age and its outputs waiting to be retried.
  void PublishHealth() {
    if (inflight.empty()) {
      r.oldest_batch_ms_.store(0, std::memory_order_relaxed);
      r.retrying_outputs_.store(0, std::memory_order_relaxed);
      return;
    }
    const Batch& b = *inflight.front();
    r.oldest_batch_ms_.store(SteadyMs(b.created), std::memory_order_relaxed);
    r.retrying_outputs_.store(static_cast<int64_t>(b.waiting.size()) + b.retries_in_flight,
                              std::memory_order_relaxed);
  }
  rd_kafka_resp_err_t last_commit_error = RD_KAFKA_RESP_ERR_NO_ERROR;

  // Waits until every in-flight batch is acknowledged and committed, or the timeout.
  bool DrainAndCommit(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!inflight.empty()) {
      Progress(/*sync=*/true);
      if (inflight.empty()) break;
      if (std::chrono::steady_clock::now() > deadline) return false;
      rd_kafka_poll(producer, 20);
    }
    return true;
  }

  // Commits the batch's transaction. Outputs the producer refused before sending them (too
  // large, ...) are cut or given up on inside the transaction, as in at-least-once mode; an
  // output the broker refuses, or a retriable refusal, aborts the transaction and is
  // returned: the loop stops, and nothing of the batch (outputs, offsets) became visible.
  Status CommitTransaction(Batch& b) {
    for (int round = 0;; ++round) {
      std::vector<Redo> failed;
      {
        base::MutexLock l(b.mu);
        failed.swap(b.failed);
      }
      if (failed.empty()) break;
      for (auto& x : failed) {
        const std::string what =
            std::string(OutputKind(x.topic)) + " to " + x.topic + ": " + rd_kafka_err2str(x.err);
        if (round > 2 || !HandleFailure(&b, std::move(x), Clock::now(), /*can_wait=*/false)) {
          if (rd_kafka_error_t* ae = rd_kafka_abort_transaction(producer, 30000)) {
            rd_kafka_error_destroy(ae);
          }
          return engine::Unavailable("transaction aborted: " + what);
        }
      }
    }
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(b.offsets.size()));
    for (const auto& [tp, range] : b.offsets) {
      rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = range.next;
    }
    rd_kafka_error_t* e = nullptr;
    if (list->cnt > 0) {  // a timer batch consumed nothing
      rd_kafka_consumer_group_metadata_t* cgm = rd_kafka_consumer_group_metadata(consumer);
      e = rd_kafka_send_offsets_to_transaction(producer, list, cgm, 30000);
      rd_kafka_consumer_group_metadata_destroy(cgm);
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (!e) e = rd_kafka_commit_transaction(producer, 60000);
    if (e) {
      Status s = engine::Unavailable(std::string("transaction: ") + rd_kafka_error_string(e));
      if (rd_kafka_error_txn_requires_abort(e)) {
        rd_kafka_error_t* ae = rd_kafka_abort_transaction(producer, 30000);
        if (ae) rd_kafka_error_destroy(ae);
      }
      rd_kafka_error_destroy(e);
      return s;
    }
    r.stats_.committed.fetch_add(b.messages, std::memory_order_relaxed);
    return Status::Ok();
  }

  // Lag per assigned partition: the high watermark minus the oldest offset not yet
  // committed: the first offset of the oldest batch in flight with that partition, else the
  // oldest message polled but not yet decided, else the next to fetch. (The fetch position
  // alone counts waiting, undecided messages as done.) The high watermark is the one the
  // fetcher last saw; while partitions are paused it is not refreshed.
  void ReportLag() {
    if (!r.observer_) return;
    const auto now = Clock::now();
    if (now - last_lag < std::chrono::seconds(1)) return;
    last_lag = now;
    ReportPatterns();
    rd_kafka_topic_partition_list_t* a = nullptr;
    if (rd_kafka_assignment(consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a) return;
    rd_kafka_position(consumer, a);
    for (int i = 0; i < a->cnt; ++i) {
      const auto& e = a->elems[i];
      int64_t lo = 0, hi = 0;
      if (rd_kafka_get_watermark_offsets(consumer, e.topic, e.partition, &lo, &hi) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        continue;
      }
      int64_t oldest = e.offset >= 0 ? e.offset : lo;
      const TopicPartition tp{e.topic, e.partition};
      for (const auto& b : inflight) {
        if (auto it = b->offsets.find(tp); it != b->offsets.end()) {
          oldest = std::min(oldest, it->second.first);
          break;  // batches are in offset order: the first that has it has the oldest
        }
      }
      for (const Msg& m : collecting) {
        if (m.m->partition == e.partition && tp.first == rd_kafka_topic_name(m.m->rkt)) {
          oldest = std::min(oldest, m.m->offset);
        }
      }
      r.observer_->OnLag(e.topic, e.partition, std::max<int64_t>(0, hi - oldest));
    }
    rd_kafka_topic_partition_list_destroy(a);
  }

  void SetPaused(bool pause) {
    if (pause == paused) return;
    rd_kafka_topic_partition_list_t* a = nullptr;
    if (rd_kafka_assignment(consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a) return;
    if (pause) {
      rd_kafka_pause_partitions(consumer, a);
      r.stats_.pauses.fetch_add(1);
    } else {
      rd_kafka_resume_partitions(consumer, a);
    }
    rd_kafka_topic_partition_list_destroy(a);
    paused = pause;
    r.paused_.store(pause, std::memory_order_relaxed);
  }

  Status Loop() {
    loop_thread = std::this_thread::get_id();
    std::vector<Msg>& msgs = collecting;
    const bool stop_after = o.stop_after_messages > 0;
    while (!r.stop_.load(std::memory_order_relaxed) && fatal.ok()) {
      if (stop_after && r.stats_.consumed.load() >= o.stop_after_messages) {
        if (inflight.empty()) break;
        rd_kafka_poll(producer, 10);
        Progress(false);
        continue;
      }
      // Backpressure: too many unacknowledged batches. Consumption waits while the broker
      // catches up; only a wait longer than a second pauses the partitions (pausing drops
      // what was prefetched, and resuming fetches it again, which costs more than a short
      // wait), so that the group keeps being served during a long one.
      if (static_cast<int>(inflight.size()) >= o.processing.max_in_flight_batches) {
        const auto now = std::chrono::steady_clock::now();
        if (!held) {
          held = true;
          held_since = now;
          r.stats_.backpressure_waits.fetch_add(1);
        }
        if (now - held_since > std::chrono::seconds(1)) SetPaused(true);
        rd_kafka_poll(producer, 10);
        Progress(false);
        ReportLag();
        if (!paused) continue;
        // Keep serving the group (rebalances) while paused; nothing is fetched.
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 0);
        if (!m) continue;
        if (m->err) {
          rd_kafka_message_destroy(m);
          continue;
        }
        msgs.push_back(Msg{m, -1});
      } else {
        held = false;
        SetPaused(false);
      }
      // Collect a batch: wait up to 100 ms for the first message, then up to batch_wait_ms
      // more to fill it.
      auto start = std::chrono::steady_clock::now();
      auto until = start;
      int64_t limit = o.processing.batch_size;
      if (stop_after) limit = std::min(limit, o.stop_after_messages - r.stats_.consumed.load());
      while (static_cast<int64_t>(msgs.size()) < limit) {
        int wait = 100;
        if (!msgs.empty()) {
          wait = static_cast<int>(
              std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       until - std::chrono::steady_clock::now())
                                       .count()));
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, wait);
        if (!m) break;
        if (m->err) {
          // Informational (a broker went away, ...); librdkafka recovers by itself.
          rd_kafka_message_destroy(m);
          if (msgs.empty()) break;
          continue;
        }
        if (msgs.empty()) {
          start = std::chrono::steady_clock::now();
          until = start + std::chrono::milliseconds(o.processing.batch_wait_ms);
        }
        msgs.push_back(Msg{m, -1});
        if (wait == 0 && std::chrono::steady_clock::now() >= until) break;
      }
      ReportLag();
      if (msgs.empty()) {
        Progress(false);
        if (Clock::now() - last_tick >= std::chrono::milliseconds(o.processing.pattern_tick_ms) &&
            !TimerBatch(/*drain=*/false)) {
          break;
        }
        continue;
      }
      if (!fatal.ok()) break;  // e.g. a partition's state could not be restored
      for (Msg& m : msgs) m.source = SourceFor(rd_kafka_topic_name(m.m->rkt));
      r.stats_.consumed.fetch_add(static_cast<int64_t>(msgs.size()));
      auto batch = std::make_unique<Batch>();
      if (o.kafka.exactly_once) {
        if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer)) {
          fatal =
              engine::Unavailable(std::string("begin transaction: ") + rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
          break;
        }
      }
      const bool ok = Decide(msgs, batch, start);
      for (Msg& m : msgs) rd_kafka_message_destroy(m.m);
      msgs.clear();
      if (!ok) break;
      if (o.kafka.exactly_once) {
        if (Status s = CommitTransaction(*batch); !s.ok()) {
          fatal = s;
          break;
        }
        continue;
      }
      inflight.push_back(std::move(batch));
      Progress(false);
    }
    for (Msg& m : msgs) rd_kafka_message_destroy(m.m);
    msgs.clear();
    // Held pattern events are not lost: the changelog keeps them for the next owner (every
    // batch wrote its changes), or without one they leave as evicted.
    if (fatal.ok() && !changelog()) TimerBatch(/*drain=*/true);
    if (!fatal.ok()) return fatal;
    // Graceful shutdown: everything decided is acknowledged and committed before we leave.
    if (!DrainAndCommit(o.processing.shutdown_timeout_ms)) {
      return engine::Unavailable(
          "shutdown: the broker did not acknowledge every decision in time; uncommitted "
          "events will be decided again after a restart");
    }
    rd_kafka_consumer_close(consumer);
    return Status::Ok();
  }
};

KafkaRunner::KafkaRunner(KafkaConfig kafka, ProcessingConfig processing,
                         std::vector<SourceBinding> sources, int64_t stop_after_messages,
                         std::function<std::shared_ptr<const engine::CompiledRuleSet>()> rules,
                         engine::Clock* clock)
    : setup_{std::move(kafka), std::move(processing), std::move(sources), stop_after_messages},
      rules_(std::move(rules)),
      clock_(clock) {
  if (!clock_) {
    static engine::SystemClock system_clock;
    clock_ = &system_clock;
  }
}

KafkaRunner::~KafkaRunner() = default;

Status KafkaRunner::Run() {
  if (setup_.kafka.brokers.empty()) return engine::InvalidArgument("kafka: no brokers");
  if (setup_.sources.empty()) return engine::InvalidArgument("kafka: no sources");
  if (!rules_ || !rules_()) return engine::FailedPrecondition("kafka: no rule set loaded");
  Impl impl(*this);
  if (Status s = impl.Start(); !s.ok()) return s;
  return impl.Loop();
}

Status KafkaRunner::Readiness() const {
  if (const int32_t n = stats_.restoring.load(); n > 0) {
    return engine::Unavailable("reading pattern state back from " + setup_.kafka.changelog_topic +
                               " for " + std::to_string(n) +
                               " assigned partition(s); their events wait for it");
  }
  if (!stats_.assigned.load()) {
    return engine::Unavailable("waiting for a partition assignment from Kafka");
  }
  return Health();
}

Status KafkaRunner::Health() const {
  std::string why;
  auto add = [&why](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  if (paused_.load(std::memory_order_relaxed)) {
    add("consumption paused: " + std::to_string(setup_.processing.max_in_flight_batches) +
        " batches wait for the broker's acknowledgement");
  }
  if (const int64_t n = retrying_outputs_.load(std::memory_order_relaxed); n > 0) {
    base::MutexLock l(health_mu_);
    add("retrying " + std::to_string(n) +
        " output(s) the broker refused (last error: " + last_output_error_ + ")");
  }
  if (const int64_t since = oldest_batch_ms_.load(std::memory_order_relaxed); since > 0) {
    const int64_t waited = SteadyMs(Clock::now()) - since;
    if (waited > setup_.processing.stuck_after_ms) {
      add("the oldest batch has waited " + std::to_string(waited) +
          " ms for the broker's acknowledgement");
    }
  }
  if (why.empty()) return Status::Ok();
  return engine::Unavailable("kafka: " + why);
}

// ---- AckedProducer ------------------------------------------------------------------------

struct AckedProducer::Impl {
  rd_kafka_t* rk = nullptr;
  std::thread poller;
  std::atomic<bool> quit{false};
  struct Request {
    base::Mutex mu;
    std::condition_variable cv;
    int64_t pending GUARDED_BY(mu) = 0;
    std::string error GUARDED_BY(mu);
  };
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* req = static_cast<Request*>(m->_private);
    base::MutexLock l(req->mu);
    if (m->err && req->error.empty()) req->error = rd_kafka_err2str(m->err);
    if (--req->pending == 0) req->cv.notify_all();
  }
  ~Impl() {
    quit = true;
    if (poller.joinable()) poller.join();
    if (rk) {
      rd_kafka_flush(rk, 5000);
      rd_kafka_destroy(rk);
    }
  }
};

engine::Result<std::unique_ptr<AckedProducer>> AckedProducer::Create(
    const std::string& brokers, const std::map<std::string, std::string>& properties) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> props = {{"bootstrap.servers", brokers},
                                              {"enable.idempotence", "true"},
                                              {"linger.ms", "2"},
                                              {"log_level", "3"}};
  for (const auto& [k, v] : properties) props[k] = v;
  if (Status s = SetProps(conf, props); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &Impl::OnDelivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return engine::InvalidArgument(std::string("kafka producer: ") + err);
  }
  std::unique_ptr<AckedProducer> p(new AckedProducer());
  p->impl_ = std::make_unique<Impl>();
  p->impl_->rk = rk;
  Impl* impl = p->impl_.get();
  impl->poller = std::thread([impl] {
    while (!impl->quit.load()) rd_kafka_poll(impl->rk, 50);
  });
  return p;
}

AckedProducer::~AckedProducer() = default;

Status AckedProducer::Produce(const std::string& topic, std::string_view source,
                              const std::vector<std::string>& values, int timeout_ms) {
  auto req = std::make_shared<Impl::Request>();
  {
    base::MutexLock l(req->mu);
    req->pending = static_cast<int64_t>(values.size());
  }
  size_t produced = 0;
  for (const auto& v : values) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "reflex-source", -1, source.data(), static_cast<ssize_t>(source.size()));
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int tries = 0; tries < 500; ++tries) {
      e = rd_kafka_producev(impl_->rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(req.get()), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (e) {
      rd_kafka_headers_destroy(h);
      base::MutexLock l(req->mu);
      req->pending -= static_cast<int64_t>(values.size() - produced);
      req->error = rd_kafka_err2str(e);
      break;
    }
    ++produced;
  }
  base::MutexLock l(req->mu);
  // The request object must outlive its delivery reports: on timeout we wait them out in
  // the background by keeping `req` alive through a detached waiter.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (req->pending != 0 && l.WaitUntil(req->cv, deadline) != std::cv_status::timeout) {
  }
  if (req->pending != 0) {
    l.Unlock();
    std::thread([req] {
      base::MutexLock l2(req->mu);
      while (req->pending != 0) l2.Wait(req->cv);
    }).detach();
    return engine::Unavailable("kafka did not acknowledge the events within " +
                               std::to_string(timeout_ms) + " ms");
  }
  if (!req->error.empty()) return engine::Unavailable("kafka: " + req->error);
  return Status::Ok();
}

}  // namespace reflex::connectors
