// soak_driver: drives a running `reflex run` through its Kafka topics for a bounded time and
// reports what a soak run is for: memory of the engine over time, decision latency, and
// events produced but never decided. deploy/soak.sh starts `reflex run` on its embedded
// broker and runs this against it; any reachable broker works.
//
// Phases:
//   1. probe (--probe-seconds, skipped when --rate is given): events as fast as the backlog
//      bound allows (produced minus decided at most --max-backlog, 5000); the decided rate
//      over the probe, after its first second, is the measured maximum. Its backlog is
//      drained (at most 120 s) before phase 2.
//   2. soak (--seconds): events paced at --rate, or at half the measured maximum.
//   3. drain: waits until every produced event has a decision, or no decision came for 15 s,
//      or --drain-seconds (300) passed. Lost = produced minus decided after the drain.
// Events are the lines of --events (JSON Lines) round-robin, each given a fresh id
// ("soak-<n>"); the Kafka key is <n>, which the engine copies onto the decision, so the
// reader matches decisions to events. Latency is the time the reader read an event's
// decision minus the time the producer handed the event to librdkafka (one process, steady
// clock), for the events of phase 2; it includes both producers' lingers and the reader's
// fetch (fetch.wait.max.ms 5). RSS is read from /proc/<--pid>/status once a second.
//
// Exit status: 0 when nothing was lost, 1 when events were lost, 2 on a usage or set-up error.
//
//   soak_driver --bootstrap 127.0.0.1:40123 --pid 4242 --seconds 600
//               --events rules/examples/events/sample.jsonl
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string bootstrap;
  std::string events_file;
  std::string events_topic = "reflex.events";
  std::string decisions_topic = "reflex.decisions";
  long pid = 0;
  double seconds = 600;
  double probe_seconds = 15;
  double drain_seconds = 300;
  double rate = 0;  // 0 = half the probed maximum
  int64_t max_backlog = 5000;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// VmRSS of `pid` in KiB, or -1.
long RssKib(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

bool Set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "soak_driver: %s: %s\n", key, err);
    return false;
  }
  return true;
}

struct Deliveries {
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Deliveries*>(opaque);
  (m->err ? d->failed : d->acked).fetch_add(1, std::memory_order_relaxed);
}

// What the producer and the reader share: send times by event number, and which events have
// a decision.
struct Ledger {
  std::mutex mu;
  std::vector<int64_t> sent_ns;
  std::vector<char> decided;
  int64_t soak_first = -1;       // first event number of phase 2
  std::vector<int64_t> latency;  // ns, phase-2 events, first decision only
  int64_t distinct = 0;
  int64_t duplicates = 0;
  int64_t foreign = 0;  // decisions whose key is not one of ours
};

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1e6;
}

int Usage() {
  std::fprintf(stderr,
               "usage: soak_driver --bootstrap HOST:PORT --events FILE [--pid PID] "
               "[--seconds S] [--rate EVENTS_PER_S] [--probe-seconds S] [--drain-seconds S] "
               "[--max-backlog N] [--events-topic T] [--decisions-topic T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    if (a == "--bootstrap")
      o.bootstrap = v;
    else if (a == "--events")
      o.events_file = v;
    else if (a == "--events-topic")
      o.events_topic = v;
    else if (a == "--decisions-topic")
      o.decisions_topic = v;
    else if (a == "--pid")
      o.pid = std::atol(v.c_str());
    else if (a == "--seconds")
      o.seconds = std::atof(v.c_str());
    else if (a == "--probe-seconds")
      o.probe_seconds = std::atof(v.c_str());
    else if (a == "--drain-seconds")
      o.drain_seconds = std::atof(v.c_str());
    else if (a == "--rate")
      o.rate = std::atof(v.c_str());
    else if (a == "--max-backlog")
      o.max_backlog = std::atoll(v.c_str());
    else
      return Usage();
  }
  if (o.bootstrap.empty() || o.events_file.empty() || o.seconds <= 0) return Usage();

  // Event templates: the part after the "id" value is kept, the id replaced per event.
  std::vector<std::string> tails;
  {
    std::ifstream in(o.events_file);
    std::string line;
    while (std::getline(in, line)) {
      const size_t id = line.find("\"id\":\"");
      if (id == std::string::npos) continue;
      const size_t end = line.find('"', id + 6);
      if (end == std::string::npos) continue;
      tails.push_back(line.substr(0, id) + "\"id\":\"soak-%\"" + line.substr(end + 1));
    }
  }
  if (tails.empty()) {
    std::fprintf(stderr, "soak_driver: no events with an \"id\" in %s\n", o.events_file.c_str());
    return 2;
  }

  Deliveries deliveries;
  rd_kafka_t* producer = nullptr;
  {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!Set(conf, "bootstrap.servers", o.bootstrap) || !Set(conf, "linger.ms", "5") ||
        !Set(conf, "queue.buffering.max.messages", "500000") || !Set(conf, "log_level", "3")) {
      return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
    rd_kafka_conf_set_opaque(conf, &deliveries);
    char err[512];
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (producer == nullptr) {
      std::fprintf(stderr, "soak_driver: producer: %s\n", err);
      return 2;
    }
  }
  // The reader: every partition of the decisions topic from the beginning, no group (keys
  // tell our events' decisions from others).
  rd_kafka_t* reader = nullptr;
  {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!Set(conf, "bootstrap.servers", o.bootstrap) || !Set(conf, "group.id", "soak-reader") ||
        !Set(conf, "enable.auto.commit", "false") || !Set(conf, "fetch.wait.max.ms", "5") ||
        !Set(conf, "log_level", "3")) {
      return 2;
    }
    char err[512];
    reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (reader == nullptr) {
      std::fprintf(stderr, "soak_driver: reader: %s\n", err);
      return 2;
    }
    rd_kafka_poll_set_consumer(reader);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(reader, o.decisions_topic.c_str(), nullptr);
    if (rd_kafka_metadata(reader, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].partition_cnt <= 0) {
      std::fprintf(stderr, "soak_driver: no metadata for %s\n", o.decisions_topic.c_str());
      return 2;
    }
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(list, o.decisions_topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (rd_kafka_resp_err_t e = rd_kafka_assign(reader, list); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "soak_driver: assign: %s\n", rd_kafka_err2str(e));
      return 2;
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

  Ledger ledger;
  std::atomic<bool> stop{false};
  std::thread read_thread([&] {
    while (!stop.load()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader, 100);
      if (m == nullptr) continue;
      const int64_t now = NowNs();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int64_t n = -1;
        if (m->key != nullptr && m->key_len > 0 && m->key_len < 20) {
          n = std::strtoll(std::string(static_cast<const char*>(m->key), m->key_len).c_str(),
                           nullptr, 10);
        }
        std::lock_guard<std::mutex> l(ledger.mu);
        if (n < 0 || n >= static_cast<int64_t>(ledger.sent_ns.size())) {
          ++ledger.foreign;
        } else if (ledger.decided[n]) {
          ++ledger.duplicates;
        } else {
          ledger.decided[n] = 1;
          ++ledger.distinct;
          if (ledger.soak_first >= 0 && n >= ledger.soak_first) {
            ledger.latency.push_back(now - ledger.sent_ns[n]);
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
  });
  auto distinct = [&] {
    std::lock_guard<std::mutex> l(ledger.mu);
    return ledger.distinct;
  };

  // RSS samples, one a second, taken by the main loops.
  std::vector<std::pair<double, long>> rss;
  const auto t0 = Clock::now();
  auto next_sample = t0;
  auto sample = [&] {
    if (o.pid <= 0 || Clock::now() < next_sample) return;
    next_sample += std::chrono::seconds(1);
    rss.emplace_back(Since(t0), RssKib(o.pid));
  };

  int64_t produced = 0;
  auto produce_one = [&] {
    std::string ev = tails[static_cast<size_t>(produced) % tails.size()];
    const std::string num = std::to_string(produced);
    ev.replace(ev.find('%'), 1, num);
    {
      std::lock_guard<std::mutex> l(ledger.mu);
      ledger.sent_ns.push_back(NowNs());
      ledger.decided.push_back(0);
    }
    for (int attempt = 0; attempt < 1000; ++attempt) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(o.events_topic.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(num.data(), num.size()),
          RD_KAFKA_V_VALUE(ev.data(), ev.size()), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "soak_driver: produce: %s\n", rd_kafka_err2str(e));
        deliveries.failed.fetch_add(1);
        break;
      }
      rd_kafka_poll(producer, 10);
    }
    ++produced;
    rd_kafka_poll(producer, 0);
  };

  // Phase 1: the maximum.
  double max_rate = 0;
  if (o.rate <= 0) {
    const auto start = Clock::now();
    int64_t at_1s = -1;
    Clock::time_point t_1s;
    while (Since(start) < o.probe_seconds) {
      if (at_1s < 0 && Since(start) >= 1.0) {
        at_1s = distinct();
        t_1s = Clock::now();
      }
      if (produced - distinct() < o.max_backlog) {
        for (int i = 0; i < 100; ++i) produce_one();
      } else {
        rd_kafka_poll(producer, 1);
      }
      sample();
    }
    max_rate = static_cast<double>(distinct() - std::max<int64_t>(at_1s, 0)) / Since(t_1s);
    const int64_t at_probe_end = distinct();
    o.rate = max_rate / 2;
    // Let the probe's backlog drain before pacing (bounded), so the soak phase starts level.
    const auto drain = Clock::now();
    while (distinct() < produced && Since(drain) < 120) {
      rd_kafka_poll(producer, 10);
      sample();
    }
    std::printf("probe: backlog of %" PRId64 " drained in %.1f s (%" PRId64 " left)\n",
                produced - at_probe_end, Since(drain), produced - distinct());
    std::printf("probe: max %.0f events/s decided over %.0f s; soaking at %.0f events/s\n",
                max_rate, o.probe_seconds, o.rate);
  } else {
    std::printf("soaking at %.0f events/s (--rate)\n", o.rate);
  }
  std::fflush(stdout);

  // Phase 2: paced.
  {
    std::lock_guard<std::mutex> l(ledger.mu);
    ledger.soak_first = produced;
  }
  const int64_t soak_first = produced;
  const auto start = Clock::now();
  auto next_report = start + std::chrono::seconds(60);
  while (Since(start) < o.seconds) {
    const auto due = static_cast<int64_t>(Since(start) * o.rate);
    while (produced - soak_first < due) produce_one();
    rd_kafka_poll(producer, 1);
    sample();
    if (Clock::now() >= next_report) {
      next_report += std::chrono::seconds(60);
      std::printf("  %4.0f s: produced %" PRId64 ", decided %" PRId64 ", rss %ld KiB\n",
                  Since(start), produced, distinct(), rss.empty() ? -1L : rss.back().second);
      std::fflush(stdout);
    }
  }
  const double soak_seconds = Since(start);
  // Phase 3: drain.
  rd_kafka_flush(producer, 30000);
  // Until every event is decided, no decision came for 15 s, or --drain-seconds passed: an
  // engine that lags is told apart from one that lost events.
  const auto drain = Clock::now();
  auto last_progress = drain;
  int64_t last_distinct = distinct();
  while (distinct() < produced && Since(drain) < o.drain_seconds && Since(last_progress) < 15) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (distinct() != last_distinct) {
      last_distinct = distinct();
      last_progress = Clock::now();
    }
    sample();
  }
  const double drain_seconds = Since(drain);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // late duplicates
  stop.store(true);
  read_thread.join();

  std::lock_guard<std::mutex> l(ledger.mu);
  std::vector<int64_t> lat = ledger.latency;
  std::sort(lat.begin(), lat.end());
  const int64_t lost = produced - ledger.distinct;
  std::printf("soak: %.0f s at %.0f events/s, then %.0f s to drain", soak_seconds, o.rate,
              drain_seconds);
  if (max_rate > 0) std::printf(" (half of the measured max %.0f events/s)", max_rate);
  std::printf("\nevents: produced %" PRId64 " (acked %" PRId64 ", failed %" PRId64
              "), decided %" PRId64 ", duplicate decisions %" PRId64 ", lost %" PRId64 "\n",
              produced, deliveries.acked.load(), deliveries.failed.load(), ledger.distinct,
              ledger.duplicates, lost);
  std::printf(
      "decision latency (ms, %zu soak-phase events): p50 %.2f  p99 %.2f  p999 %.2f  "
      "max %.2f\n",
      lat.size(), Percentile(lat, 0.50), Percentile(lat, 0.99), Percentile(lat, 0.999),
      lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e6);
  if (!rss.empty()) {
    long max_kib = 0;
    for (const auto& [t, kib] : rss) max_kib = std::max(max_kib, kib);
    std::printf("reflex RSS (MiB): start %.1f  max %.1f  end %.1f\n", rss.front().second / 1024.0,
                max_kib / 1024.0, rss.back().second / 1024.0);
    std::printf("reflex RSS over time (s: MiB):");
    const size_t step = std::max<size_t>(1, rss.size() / 12);
    for (size_t i = 0; i < rss.size(); i += step) {
      std::printf(" %.0f: %.1f", rss[i].first, rss[i].second / 1024.0);
    }
    std::printf(" %.0f: %.1f\n", rss.back().first, rss.back().second / 1024.0);
  }
  rd_kafka_consumer_close(reader);
  rd_kafka_destroy(reader);
  rd_kafka_destroy(producer);
  return lost == 0 ? 0 : 1;
}
