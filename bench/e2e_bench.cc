// End-to-end run mode on W1 (PERFORMANCE.md "end-to-end through Kafka"): events produced to
// the embedded broker, decided by KafkaRunner (consumer group -> Pipeline -> decisions
// topic, offsets committed), decisions read back by an outside consumer. One process hosts
// everything, so it shares the machine's cores: broker thread(s), the runner's consumer,
// producer and pipeline threads, the event producer and the decision reader.
//
// What is measured, per run (one benchmark iteration = one fresh broker, topics and group):
//   - items_per_second: N / wall time from the first event produced until the reader has
//     read the last of the N decisions (group join and connection set-up are excluded: the
//     runner is assigned and kWarmup events made the whole round trip before the clock
//     starts; warmup_ms reports how long that took, ~1 s, mostly the runner's idempotent
//     producer getting its producer id). At max rate the latency is mostly queueing: the
//     backlog bound (kMaxBacklog) divided by the rate.
//   - decision latency (µs) per event: time the reader read its decision minus the time the
//     producer handed the event to librdkafka (steady clock, one process, so no skew; the
//     send time travels in the Kafka key, which the runner copies onto the decision). It
//     includes: the producer's linger (kLingerMs), the broker round trip, the runner's
//     fetch (up to its fetch.wait.max.ms: the mock broker holds a fetch that finds no data
//     for the whole wait, even when data arrives meanwhile) and batch collection (up to
//     batch_wait_ms after a batch's first message), the pipeline, the runner producer's
//     linger (5 ms in kafka_runner.cc) and acks, the broker again and the reader's fetch
//     (kReaderFetchWaitMs). It is NOT the in-process pipeline latency of
//     PERFORMANCE.md (p99 <= 100 µs), which pipeline_bench measures.
//   Counters: lat_p50_us, lat_p90_us, lat_p99_us, lat_max_us, offered_per_s (paced runs),
//   known (fraction of decisions with verdict known), wall_events_per_s (the same as
//   items_per_second for the manual-time benchmarks), cpu_cores (process CPU time / wall time
//   over the measured window, all threads: at 2.0 the machine's two cores are saturated),
//   warmup_ms. E2E_DEBUG=1 prints the runner's progress once a second on stderr.
//
// Checks (a run that fails one reports an error, never numbers): every produce was
// acknowledged; exactly N decisions were read, one per event, none twice; each decision's
// verdict (reflex-verdict header) is the one an in-process Pipeline gives the same event;
// the runner consumed, decided and committed N, dead-lettered none.
//
// The broker is librdkafka's mock cluster: each partition keeps at most 5 MiB and 100k
// message sets and silently drops older data. So the producer runs WHILE the runner
// consumes (never produce all N first), the topics have 8 partitions, and the producer
// stalls while more than kMaxBacklog events are produced but not yet decided-and-read; a
// backlog of 40k small events is ~1.1 MiB per partition, far from the limit.
//
//   build-e2e/bench/e2e_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Benchmarks (fetch_ms = the runner consumer's fetch.wait.max.ms, set through
// KafkaConfig::properties; 500 is librdkafka's default, what the runner ships with):
//   BM_E2EMaxRate/N/workers/fetch_ms   producer as fast as the backlog bound allows.
//   BM_E2EHalfLoad/N/wait_ms/fetch_ms  paced at half the best median BM_E2EMaxRate of this
//                                      process (20k/s when none ran); batch_wait_ms = wait_ms.
//   BM_E2EFixedRate/N/rate/wait_ms/fetch_ms  paced at `rate` events/s (light load).
//   BM_E2ESmoke/1000   1000 events, the checks; for the bench_smoke ctest, whose filter ends
//                      in /1000$. Its time and items_per_second are CPU-time based: read
//                      wall_events_per_s.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reflex/connectors/embedded_broker.h"
#include "reflex/connectors/kafka_runner.h"
#include "reflex/engine/pipeline.h"
#include "w1.h"

namespace {

using reflex::connectors::EmbeddedBroker;
using reflex::connectors::KafkaConfig;
using reflex::connectors::KafkaRunner;
using reflex::connectors::ProcessingConfig;
using reflex::connectors::SourceBinding;
using reflex::engine::CompiledRuleSet;
using reflex::engine::Pipeline;
using Clock = std::chrono::steady_clock;

constexpr size_t kRows = 10'000;
constexpr size_t kDistinctEvents = 8192;  // W1 lines, produced round-robin
constexpr int kPartitions = 8;
constexpr int64_t kMaxBacklog = 40'000;
// The outside producer's linger.ms (E2E_LINGER_MS overrides it, for experiments): librdkafka's
// default. Keep message sets large: the mock broker's fetches slow down as the number of
// message sets in a partition grows (measured: at 20k events/s with linger 1 ms the runner
// fell to ~10k/s after ~100k events; with 10 ms it kept up, p99 50 ms).
constexpr const char* kLingerMs = "5";
// The reader's fetch.wait.max.ms. The mock broker answers a fetch that finds no data only
// after this wait, even when data arrives meanwhile (measured: 500 ms, the default, shows
// up whole in the latency), so the reader, part of the measuring apparatus, polls often.
constexpr const char* kReaderFetchWaitMs = "5";
constexpr auto kRunDeadline = std::chrono::seconds(40);  // bound on one run
constexpr auto kSetupDeadline = std::chrono::seconds(30);
constexpr int kWarmup = 100;
constexpr auto kPaceTick = std::chrono::milliseconds(
    1);  // paced producer's sleep granularity  // events decided before the clock starts

struct Workload {
  std::shared_ptr<const CompiledRuleSet> rules;
  std::vector<std::string> lines;
  std::vector<std::string> verdicts;  // expected reflex-verdict per line
};

const Workload& GetWorkload() {
  static const Workload* w = [] {
    auto* out = new Workload;
    std::vector<reflex::engine::TableSpec> tables;
    tables.push_back(w1::Table(kRows));
    out->rules = w1::Compile(std::move(tables));
    out->lines = w1::EventJson(kRows, kDistinctEvents, w1::EventSize::kSmall);
    Pipeline p(out->rules);
    for (const auto& line : out->lines) {
      if (auto s = p.Process(line, 0, nullptr); !s.ok()) {
        std::fprintf(stderr, "e2e_bench: %s\n", s.ToString().c_str());
        std::abort();
      }
      out->verdicts.emplace_back(reflex::engine::VerdictName(p.result().verdict));
    }
    return out;
  }();
  return *w;
}

// User + system CPU time of the whole process (every thread, the broker's included).
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

bool SetConf(rd_kafka_conf_t* conf, const char* k, const std::string& v, std::string* error) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    *error = std::string(k) + ": " + err;
    return false;
  }
  return true;
}

struct DeliveryCounts {
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<DeliveryCounts*>(opaque);
  (m->err ? d->failed : d->acked).fetch_add(1, std::memory_order_relaxed);
}

// A plain librdkafka client (independent of the code under test); destroyed with the object.
struct Client {
  rd_kafka_t* rk = nullptr;
  bool consumer = false;
  ~Client() {
    if (!rk) return;
    if (consumer) rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

struct RunParams {
  int64_t events = 0;
  int workers = 1;
  int batch_wait_ms = 20;
  double rate = 0;          // events/s; 0 = as fast as the backlog bound allows
  int fetch_wait_ms = 500;  // the runner consumer's fetch.wait.max.ms (500: librdkafka default)
};

struct RunResult {
  std::string error;  // empty = OK
  double seconds = 0;
  std::vector<int64_t> latency_ns;  // one per event
  int64_t known = 0;
  double warmup_ms = 0;
  double cpu_cores = 0;  // process CPU time / wall time over the measured window
};

RunResult Fail(std::string error) {
  RunResult r;
  r.error = std::move(error);
  return r;
}

// Percentile (0..1) of sorted values, nearest rank.
double PercentileUs(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  if (i >= sorted.size()) i = sorted.size() - 1;
  return static_cast<double>(sorted[i]) / 1000.0;
}

RunResult RunOnce(const RunParams& prm) {
  RunResult res;
  const Workload& wl = GetWorkload();
  const int64_t n = prm.events;

  auto broker = EmbeddedBroker::Start({});
  if (!broker.ok()) return Fail("broker: " + broker.status().ToString());
  for (const auto& [topic, parts] : {std::pair<const char*, int>{"events", kPartitions},
                                     {"decisions", kPartitions},
                                     {"escalations", kPartitions},
                                     {"dead", 1}}) {
    if (auto s = (*broker)->CreateTopic(topic, parts); !s.ok()) {
      return Fail(std::string("create topic: ") + s.ToString());
    }
  }
  const std::string bootstrap = (*broker)->bootstrap();

  // Outside producer of events.
  DeliveryCounts dr;
  Client producer;
  {
    std::string e;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!SetConf(conf, "bootstrap.servers", bootstrap, &e) ||
        !SetConf(conf, "linger.ms",
                 std::getenv("E2E_LINGER_MS") ? std::getenv("E2E_LINGER_MS") : kLingerMs, &e) ||
        !SetConf(conf, "log_level", "3", &e) ||
        !SetConf(conf, "queue.buffering.max.messages", "200000", &e)) {
      rd_kafka_conf_destroy(conf);
      return Fail(e);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
    rd_kafka_conf_set_opaque(conf, &dr);
    char err[512];
    producer.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!producer.rk) {
      rd_kafka_conf_destroy(conf);
      return Fail(std::string("producer: ") + err);
    }
  }
  // Outside reader of decisions: every partition from the beginning, no group management.
  Client reader;
  {
    std::string e;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!SetConf(conf, "bootstrap.servers", bootstrap, &e) ||
        !SetConf(conf, "group.id", "e2e-reader", &e) ||
        !SetConf(conf, "enable.auto.commit", "false", &e) ||
        !SetConf(conf, "fetch.wait.max.ms", kReaderFetchWaitMs, &e) ||
        !SetConf(conf, "log_level", "3", &e)) {
      rd_kafka_conf_destroy(conf);
      return Fail(e);
    }
    char err[512];
    reader.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!reader.rk) {
      rd_kafka_conf_destroy(conf);
      return Fail(std::string("reader: ") + err);
    }
    reader.consumer = true;
    rd_kafka_poll_set_consumer(reader.rk);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
    for (int p = 0; p < kPartitions; ++p) {
      rd_kafka_topic_partition_list_add(list, "decisions", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t ae = rd_kafka_assign(reader.rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (ae) return Fail(std::string("reader assign: ") + rd_kafka_err2str(ae));
  }
  // Connect the producer before the clock starts (metadata round trip).
  {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(producer.rk, 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Fail("producer: no metadata");
    }
    rd_kafka_metadata_destroy(md);
  }

  // The runner under test.
  KafkaConfig kafka;
  kafka.brokers = bootstrap;
  kafka.group_id = "reflex-e2e";
  kafka.decisions_topic = "decisions";
  kafka.escalations_topic = "escalations";
  kafka.dead_letter_topic = "dead";
  kafka.properties["fetch.wait.max.ms"] = std::to_string(prm.fetch_wait_ms);
  ProcessingConfig processing;
  processing.workers = prm.workers;
  processing.batch_wait_ms = prm.batch_wait_ms;
  KafkaRunner runner(kafka, processing, {SourceBinding{"events", {"events"}, "", nullptr}},
                     n + kWarmup, [&wl] { return wl.rules; });
  reflex::engine::Status run_status;
  std::thread runner_thread([&] { run_status = runner.Run(); });

  std::atomic<bool> abort{false};
  std::atomic<int64_t> read{0};  // distinct decisions read so far
  std::atomic<int64_t> warm_read{0};
  const auto setup_deadline = Clock::now() + kSetupDeadline;
  while (!runner.stats().assigned.load() && Clock::now() < setup_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!runner.stats().assigned.load()) {
    res.error = "runner not assigned partitions within the set-up deadline";
    abort.store(true);
  }

  // Reader thread: decisions -> latency, verdict check, duplicates.
  std::vector<char> seen(static_cast<size_t>(n), 0);
  std::vector<int64_t> latency(static_cast<size_t>(n), 0);
  int64_t total_read = 0, duplicates = 0, bad = 0, wrong_verdict = 0, known = 0;
  int64_t last_read_ns = 0;
  std::string reader_error;
  std::thread reader_thread([&] {
    const auto deadline = Clock::now() + kRunDeadline;
    // E2E_DEBUG=1: progress on stderr once a second.
    const bool debug = std::getenv("E2E_DEBUG") != nullptr;
    auto next_debug = Clock::now();
    while (read.load(std::memory_order_relaxed) < n && !abort.load() && Clock::now() < deadline) {
      if (debug && Clock::now() >= next_debug) {
        next_debug = Clock::now() + std::chrono::seconds(1);
        const auto& s = runner.stats();
        std::fprintf(stderr,
                     "e2e: read %" PRId64 " consumed %" PRId64 " decided %" PRId64
                     " committed %" PRId64 " pauses %" PRId64 " rebalances %" PRId64
                     " redelivered %" PRId64 " acked %" PRId64 "\n",
                     read.load(), s.consumed.load(), s.decided.load(), s.committed.load(),
                     s.pauses.load(), s.rebalances.load(), s.redelivered_outputs.load(),
                     dr.acked.load());
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.rk, 10);
      if (!m) continue;
      const int64_t now = NowNs();
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && reader_error.empty()) {
          reader_error = rd_kafka_message_errstr(m);
        }
        rd_kafka_message_destroy(m);
        continue;
      }
      // Key: "<seq>:<send ns>", or "w<i>" for a warm-up event.
      int64_t seq = -1, sent = 0;
      const std::string key(static_cast<const char*>(m->key ? m->key : ""), m->key_len);
      if (!key.empty() && key[0] == 'w') {
        warm_read.fetch_add(1);
        rd_kafka_message_destroy(m);
        continue;
      }
      ++total_read;
      if (std::sscanf(key.c_str(), "%" SCNd64 ":%" SCNd64, &seq, &sent) != 2 || seq < 0 ||
          seq >= n) {
        ++bad;
      } else if (seen[static_cast<size_t>(seq)]) {
        ++duplicates;
      } else {
        seen[static_cast<size_t>(seq)] = 1;
        latency[static_cast<size_t>(seq)] = now - sent;
        const void* val = nullptr;
        size_t size = 0;
        rd_kafka_headers_t* h = nullptr;
        std::string_view verdict;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(h, "reflex-verdict", &val, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
          verdict = std::string_view(static_cast<const char*>(val), size);
        }
        if (verdict != wl.verdicts[static_cast<size_t>(seq) % wl.lines.size()]) ++wrong_verdict;
        if (verdict == "known") ++known;
        last_read_ns = now;
        read.fetch_add(1, std::memory_order_relaxed);
      }
      rd_kafka_message_destroy(m);
    }
  });

  // Warm-up: kWarmup events through the whole path before the clock starts, so the
  // runner's idempotent producer has its producer id and every connection is up (the first
  // decision takes ~1 s otherwise). Reported as warmup_ms.
  const int64_t warm_start_ns = NowNs();
  for (int i = 0; i < kWarmup && res.error.empty(); ++i) {
    const std::string key = "w" + std::to_string(i);
    const std::string& line = wl.lines[static_cast<size_t>(i) % wl.lines.size()];
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer.rk, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()), RD_KAFKA_V_END);
    if (e) res.error = std::string("warm-up produce: ") + rd_kafka_err2str(e);
  }
  {
    const auto deadline = Clock::now() + kSetupDeadline;
    while (warm_read.load() < kWarmup && res.error.empty() && Clock::now() < deadline) {
      rd_kafka_poll(producer.rk, 5);
    }
    if (warm_read.load() < kWarmup && res.error.empty()) {
      res.error = "warm-up decisions not read within the set-up deadline";
    }
  }
  res.warmup_ms = static_cast<double>(NowNs() - warm_start_ns) / 1e6;

  // Producer (this thread): N events, paced or bounded by the backlog.
  const double start_cpu = ProcessCpuSeconds();
  const int64_t start_ns = NowNs();
  {
    const auto deadline = Clock::now() + kRunDeadline;
    const auto t0 = Clock::now();
    char key[48];
    for (int64_t i = 0; i < n && !abort.load() && res.error.empty(); ++i) {
      if (prm.rate > 0) {
        const auto due = t0 + std::chrono::nanoseconds(
                                  static_cast<int64_t>(static_cast<double>(i) * 1e9 / prm.rate));
        // Sleep in ticks of kPaceTick, producing what is due in small bursts: one sleep per
        // event (every 25-50 µs) costs a context switch each and starves the runner.
        if (Clock::now() < due) std::this_thread::sleep_until(due + kPaceTick);
      }
      while (i - read.load(std::memory_order_relaxed) > kMaxBacklog && Clock::now() < deadline) {
        rd_kafka_poll(producer.rk, 1);
      }
      if (Clock::now() >= deadline) {
        res.error = "deadline while producing";
        break;
      }
      const std::string& line = wl.lines[static_cast<size_t>(i) % wl.lines.size()];
      for (;;) {
        const int len = std::snprintf(key, sizeof key, "%" PRId64 ":%" PRId64, i, NowNs());
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer.rk, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, static_cast<size_t>(len)),
            RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
          rd_kafka_poll(producer.rk, 1);
          continue;
        }
        if (e) res.error = std::string("produce: ") + rd_kafka_err2str(e);
        break;
      }
      if ((i & 1023) == 0) rd_kafka_poll(producer.rk, 0);
    }
    if (rd_kafka_flush(producer.rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR && res.error.empty()) {
      res.error = "producer flush timed out";
    }
  }
  if (!res.error.empty()) abort.store(true);
  reader_thread.join();
  const double end_cpu = ProcessCpuSeconds();
  if (!res.error.empty() || read.load() < n) runner.RequestStop();
  runner_thread.join();

  res.seconds = static_cast<double>(last_read_ns - start_ns) / 1e9;
  if (res.seconds > 0) res.cpu_cores = (end_cpu - start_cpu) / res.seconds;
  res.known = known;
  const auto& st = runner.stats();
  char buf[1024];
  if (res.error.empty() && !run_status.ok()) res.error = "runner: " + run_status.ToString();
  if (res.error.empty() && dr.failed.load() != 0) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " produces failed", dr.failed.load());
    res.error = buf;
  }
  if (res.error.empty() &&
      (read.load() != n || total_read != n || bad != 0 || wrong_verdict != 0)) {
    std::snprintf(buf, sizeof buf,
                  "decisions: %" PRId64 " distinct of %" PRId64 " events, %" PRId64
                  " read, %" PRId64 " duplicates, %" PRId64 " bad keys, %" PRId64
                  " wrong verdicts; runner consumed %" PRId64 " decided %" PRId64
                  " committed %" PRId64 "; acked produces %" PRId64 " %s",
                  read.load(), n, total_read, duplicates, bad, wrong_verdict, st.consumed.load(),
                  st.decided.load(), st.committed.load(), dr.acked.load(), reader_error.c_str());
    res.error = buf;
  }
  const int64_t total = n + kWarmup;
  if (res.error.empty() &&
      (st.consumed.load() != total || st.decided.load() != total || st.committed.load() != total ||
       st.dead_lettered.load() != 0 || dr.acked.load() != total)) {
    std::snprintf(buf, sizeof buf,
                  "runner: consumed %" PRId64 " decided %" PRId64 " committed %" PRId64
                  " dead-lettered %" PRId64 ", produced-acked %" PRId64 " of %" PRId64,
                  st.consumed.load(), st.decided.load(), st.committed.load(),
                  st.dead_lettered.load(), dr.acked.load(), total);
    res.error = buf;
  }
  if (res.error.empty()) res.latency_ns = std::move(latency);
  return res;
}

// Max-rate results of this process by configuration, for the half-load variant.
std::mutex g_max_mu;
std::map<std::string, std::vector<double>> g_max_rates;

// Half the best median max rate measured so far in this process (20k/s when none ran).
double HalfOfMax() {
  std::lock_guard<std::mutex> l(g_max_mu);
  double best = 0;
  for (auto& [name, v] : g_max_rates) {
    std::sort(v.begin(), v.end());
    best = std::max(best, v[v.size() / 2]);
  }
  return best > 0 ? best / 2 : 20'000;
}

void Report(benchmark::State& state, const RunParams& prm, const std::vector<RunResult>& runs) {
  std::vector<int64_t> all;
  int64_t events = 0, known = 0;
  double seconds = 0, warmup_ms = 0, cpu_cores = 0;
  for (const auto& r : runs) {
    cpu_cores += r.cpu_cores / static_cast<double>(runs.size());
    warmup_ms = std::max(warmup_ms, r.warmup_ms);
    all.insert(all.end(), r.latency_ns.begin(), r.latency_ns.end());
    events += prm.events;
    known += r.known;
    seconds += r.seconds;
  }
  std::sort(all.begin(), all.end());
  state.SetItemsProcessed(events);
  state.counters["lat_p50_us"] = PercentileUs(all, 0.50);
  state.counters["lat_p90_us"] = PercentileUs(all, 0.90);
  state.counters["lat_p99_us"] = PercentileUs(all, 0.99);
  state.counters["lat_max_us"] = all.empty() ? 0 : static_cast<double>(all.back()) / 1000.0;
  state.counters["known"] = events ? static_cast<double>(known) / static_cast<double>(events) : 0;
  // Wall-clock rate, whatever time base Google Benchmark uses for this benchmark.
  state.counters["wall_events_per_s"] = seconds > 0 ? static_cast<double>(events) / seconds : 0;
  if (prm.rate > 0) state.counters["offered_per_s"] = prm.rate;
  state.counters["warmup_ms"] = warmup_ms;
  state.counters["cpu_cores"] = cpu_cores;
}

// Runs one end-to-end run per iteration; with `manual_time` the iteration time is the
// measured wall time (first produce to last decision read).
void RunBench(benchmark::State& state, const RunParams& prm, bool manual_time,
              bool record_max = false) {
  std::vector<RunResult> runs;
  for (auto _ : state) {
    RunResult r = RunOnce(prm);
    if (!r.error.empty()) {
      state.SkipWithError(r.error.c_str());
      return;
    }
    if (manual_time) state.SetIterationTime(r.seconds);
    if (record_max && r.seconds > 0) {
      std::lock_guard<std::mutex> l(g_max_mu);
      g_max_rates[std::to_string(prm.workers) + "/" + std::to_string(prm.fetch_wait_ms)].push_back(
          static_cast<double>(prm.events) / r.seconds);
    }
    runs.push_back(std::move(r));
  }
  Report(state, prm, runs);
}

// range(0) events, range(1) runner workers, range(2) runner fetch.wait.max.ms; unpaced.
void BM_E2EMaxRate(benchmark::State& state) {
  RunParams p;
  p.events = state.range(0);
  p.workers = static_cast<int>(state.range(1));
  p.fetch_wait_ms = static_cast<int>(state.range(2));
  RunBench(state, p, true, true);
}
BENCHMARK(BM_E2EMaxRate)
    ->Args({200'000, 1, 500})
    ->Args({200'000, 2, 500})
    ->Args({200'000, 1, 5})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// range(0) events at half the best median max rate above; runner batch_wait_ms range(1),
// fetch.wait.max.ms range(2).
void BM_E2EHalfLoad(benchmark::State& state) {
  RunParams p;
  p.events = state.range(0);
  p.batch_wait_ms = static_cast<int>(state.range(1));
  p.fetch_wait_ms = static_cast<int>(state.range(2));
  p.rate = HalfOfMax();
  RunBench(state, p, true);
}
BENCHMARK(BM_E2EHalfLoad)
    ->Args({200'000, 20, 500})
    ->Args({200'000, 20, 5})
    ->Args({200'000, 5, 5})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// range(0) events at range(1) events/s; batch_wait_ms range(2), fetch.wait.max.ms range(3).
// Latency at light load.
void BM_E2EFixedRate(benchmark::State& state) {
  RunParams p;
  p.events = state.range(0);
  p.rate = static_cast<double>(state.range(1));
  p.batch_wait_ms = static_cast<int>(state.range(2));
  p.fetch_wait_ms = static_cast<int>(state.range(3));
  RunBench(state, p, true);
}
BENCHMARK(BM_E2EFixedRate)
    ->Args({20'000, 2'000, 20, 500})
    ->Args({20'000, 2'000, 20, 5})
    ->Args({20'000, 2'000, 5, 5})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// 1000 events, the checks, for bench_smoke (its filter ends in /1000$; a manual-time or
// fixed-iteration benchmark's name would end in /manual_time or /iterations:1). One
// iteration takes longer than any min time. The time shown is the main thread's CPU time,
// so items_per_second is not the rate: read wall_events_per_s.
void BM_E2ESmoke(benchmark::State& state) {
  RunParams p;
  p.events = state.range(0);
  p.fetch_wait_ms = 5;
  RunBench(state, p, false);
}
BENCHMARK(BM_E2ESmoke)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
