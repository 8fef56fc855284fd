// reflex run: the long-running engine. Wires the run config to its parts: the embedded
// broker (when no brokers are configured), the rule store with hot reload and history, the
// Kafka loop, the webhook server with /metrics, the action executor with its journal, the
// escalation store and the notifiers. `--demo` feeds the bundled example events through
// the embedded broker and stops once every one is decided.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "modules.h"
#include "reflex/actions/catalog.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notifier.h"
#include "reflex/connectors/config.h"
#include "reflex/connectors/embedded_broker.h"
#include "reflex/connectors/http_server.h"
#include "reflex/connectors/kafka_runner.h"
#include "reflex/connectors/log.h"
#include "reflex/connectors/mapping.h"
#include "reflex/connectors/metrics.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/connectors/rule_store.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"

namespace reflex::cli {
namespace {

namespace fs = std::filesystem;
using connectors::Logger;
using engine::Status;

// Exit codes of `reflex run` (see docs/run-mode.md).
constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;   // the config, the rules or the catalog is invalid
constexpr int kExitUsage = 2;    // usage or I/O error
constexpr int kExitRuntime = 4;  // the engine had to give up (e.g. the broker never acked)

struct RunOptions {
  std::string config_file;
  std::string rules_dir;
  std::string state_dir;
  std::string brokers;
  std::string http_listen;
  std::string log_level;
  std::string demo_events;
  bool demo = false;
  bool check_config = false;
  bool dry_run = false;
  bool no_http = false;
  int64_t max_events = 0;
  int demo_rate = 400;  // events per second the demo producer offers
};

// Metrics from the Kafka loop. Rule metrics are resolved once per rule set.
class MetricsObserver final : public connectors::RunnerObserver {
 public:
  explicit MetricsObserver(connectors::Metrics& m) : m_(m) {}
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

 private:
  // Only the loop thread calls OnEvent when workers == 1; with more workers the calls are
  // serialised by this mutex-free design only if each worker has its own observer, so the
  // run command keeps this observer to one worker's worth of state under a lock.
  connectors::Metrics& m_;
  const engine::CompiledRuleSet* rules_seen_ = nullptr;
  std::shared_ptr<const connectors::RuleMetrics> rule_metrics_;
  std::string last_source_;
  prometheus::Counter* events_in_ = nullptr;
};

// Serialises observer calls when several pipeline workers run.
class LockedObserver final : public connectors::RunnerObserver {
 public:
  explicit LockedObserver(connectors::RunnerObserver& inner) : inner_(inner) {}
  void OnEvent(std::string_view s, const engine::CompiledRuleSet& r,
               const engine::MatchResult& m) override {
    std::lock_guard<std::mutex> l(mu_);
    inner_.OnEvent(s, r, m);
  }
  void OnDeadLetter(std::string_view s, std::string_view c) override {
    std::lock_guard<std::mutex> l(mu_);
    inner_.OnDeadLetter(s, c);
  }
  void OnBatch(double sec, size_t n) override { inner_.OnBatch(sec, n); }
  void OnLag(const std::string& t, int32_t p, int64_t lag) override { inner_.OnLag(t, p, lag); }

 private:
  connectors::RunnerObserver& inner_;
  std::mutex mu_;
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

std::string HumanDecision(std::string_view decision_json) {
  auto j = nlohmann::json::parse(decision_json, nullptr, false);
  if (j.is_discarded()) return std::string(decision_json);
  std::string verdict = j.value("verdict", "?");
  std::string line = "[" + verdict + "]";
  line.resize(13, ' ');
  line += j.value("event_id", "");
  if (j.contains("matches")) {
    for (const auto& m : j["matches"]) {
      line += "  " + m.value("table", "") + "/" + m.value("row", "");
      std::string acts;
      if (m.contains("actions")) {
        for (const auto& a : m["actions"]) acts += (acts.empty() ? "" : ", ") + a.value("name", "");
      }
      if (!acts.empty()) line += " -> " + acts;
    }
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

// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread it starts afterwards;
// a dedicated thread takes them with sigtimedwait.
class SignalThread {
 public:
  SignalThread(std::function<void()> on_stop, std::function<void()> on_hup)
      : on_stop_(std::move(on_stop)), on_hup_(std::move(on_hup)) {
    thread_ = std::thread([this] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      sigaddset(&set, SIGHUP);
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
  static void BlockInThisThread() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

 private:
  std::function<void()> on_stop_, on_hup_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

int RunRun(const RunOptions& ro) {
  // -- configuration ----------------------------------------------------------------------
  auto env = connectors::SystemEnv();
  auto loaded = ro.config_file.empty()
                    ? engine::Result<connectors::RunConfig>(connectors::DefaultRunConfig())
                    : connectors::LoadRunConfig(ro.config_file, env);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return loaded.status().code() == engine::StatusCode::kNotFound ? kExitUsage : kExitConfig;
  }
  connectors::RunConfig cfg = std::move(*loaded);
  if (ro.config_file.empty()) {
    // The embedded default still honours the environment overrides.
    if (auto v = env("REFLEX_RULES")) cfg.rules_dir = *v;
    if (auto v = env("REFLEX_STATE_DIR")) cfg.state_dir = *v;
    if (auto v = env("REFLEX_KAFKA_BROKERS")) cfg.kafka.brokers = *v;
    if (auto v = env("REFLEX_HTTP_LISTEN")) cfg.http.listen = *v;
    if (auto v = env("REFLEX_HTTP_TOKEN")) cfg.http.token = *v;
    if (auto v = env("REFLEX_HTTP_HMAC_SECRET")) cfg.http.hmac_secret = *v;
  }
  if (!ro.rules_dir.empty()) cfg.rules_dir = ro.rules_dir;
  if (!ro.state_dir.empty()) cfg.state_dir = ro.state_dir;
  if (!ro.brokers.empty()) cfg.kafka.brokers = ro.brokers;
  if (!ro.http_listen.empty()) cfg.http.listen = ro.http_listen;
  if (!ro.log_level.empty()) cfg.log_level = ro.log_level;
  if (ro.no_http) cfg.http.enabled = false;
  if (ro.dry_run || ro.demo) cfg.dry_run = true;  // the demo never runs real automation

  auto level = connectors::ParseLogLevel(cfg.log_level);
  Logger log(stderr, level.ok() ? *level : connectors::LogLevel::kInfo);

  // Every part is validated before anything starts, so --check-config sees all of it.
  int errors = 0;
  auto report = [&](const std::string& what, const Status& s) {
    ++errors;
    std::cerr << what << ": " << s.message() << "\n";
  };
  std::vector<connectors::SourceBinding> bindings;
  std::vector<std::shared_ptr<connectors::Mapping>> mappings;
  std::map<std::string, connectors::Mapping> http_sources;
  for (const auto& s : cfg.sources) {
    auto m = connectors::Mapping::FromYaml(s.mapping, s.where + ".mapping");
    if (!m.ok()) {
      report(cfg.file.empty() ? "config" : cfg.file, m.status());
      continue;
    }
    auto shared = std::make_shared<connectors::Mapping>(*m);
    mappings.push_back(shared);
    http_sources.emplace(s.name, *m);
    connectors::MapFn fn;
    if (!shared->passthrough()) {
      fn = [shared](std::string_view bytes, std::vector<std::string>* out) {
        return shared->Map(bytes, out);
      };
    }
    bindings.push_back(connectors::SourceBinding{s.name, s.topics, s.pattern, fn});
  }
  connectors::RuleSnapshot snapshot = connectors::LoadRuleSnapshot(cfg.rules_dir);
  if (!snapshot.ok()) {
    for (const auto& e : snapshot.Errors()) std::cerr << e << "\n";
    ++errors;
  }
  actions::Catalog catalog;
  const std::string catalog_path = (fs::path(cfg.rules_dir) / "actions.yaml").string();
  if (fs::exists(catalog_path)) {
    auto c = actions::LoadCatalog(catalog_path);
    if (!c.ok()) {
      report("actions", c.status());
    } else {
      catalog = std::move(*c);
    }
  }
  std::vector<actions::NotifierTarget> targets;
  if (cfg.notifiers && !cfg.notifiers.IsNull()) {
    auto t = actions::NotifierTarget::ListFromYaml(cfg.notifiers,
                                                   cfg.file.empty() ? "config" : cfg.file);
    if (!t.ok()) {
      report("notifiers", t.status());
    } else {
      targets = std::move(*t);
    }
  }
  if (errors > 0) return kExitConfig;
  const bool embedded = cfg.kafka.brokers.empty();
  if (ro.check_config) {
    std::cout << "config OK: " << (cfg.file.empty() ? "built-in default" : cfg.file) << "\n"
              << "  rules:     " << cfg.rules_dir << " (" << snapshot.rules->version() << ")\n"
              << "  kafka:     " << (embedded ? "embedded broker" : cfg.kafka.brokers)
              << (cfg.kafka.exactly_once ? ", exactly-once" : ", at-least-once") << "\n"
              << "  sources:   " << cfg.sources.size() << "\n"
              << "  actions:   " << catalog.actions().size() << (cfg.dry_run ? " (dry run)" : "")
              << "\n"
              << "  notifiers: " << targets.size() << "\n"
              << "  http:      " << (cfg.http.enabled ? cfg.http.listen : "off") << "\n";
    return kExitOk;
  }

  // -- start --------------------------------------------------------------------------------
  SignalThread::BlockInThisThread();
  engine::SystemClock clock;
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  if (embedded) {
    auto b = connectors::EmbeddedBroker::Start({});
    if (!b.ok()) {
      log.Error("embedded broker failed to start", {{"error", b.status().message()}});
      return kExitRuntime;
    }
    broker = std::move(*b);
    cfg.kafka.brokers = broker->bootstrap();
    // The embedded broker holds an empty fetch for the whole fetch.wait.max.ms even when data
    // arrives meanwhile (a real broker answers at once): keep the wait short, or decisions
    // lag by up to the librdkafka default of 500 ms.
    cfg.kafka.properties.emplace("fetch.wait.max.ms", "10");
    std::vector<std::string> topics = {cfg.kafka.decisions_topic, cfg.kafka.escalations_topic,
                                       cfg.kafka.dead_letter_topic};
    for (const auto& s : cfg.sources) topics.insert(topics.end(), s.topics.begin(), s.topics.end());
    for (const auto& t : topics) {
      if (!t.empty()) (void)broker->CreateTopic(t, cfg.kafka.embedded_partitions);
    }
    std::cout << "embedded Kafka broker on " << broker->bootstrap() << "\n"
              << "  produce events: kcat -P -b " << broker->bootstrap() << " -t "
              << (cfg.sources.empty() || cfg.sources[0].topics.empty() ? "reflex.events"
                                                                       : cfg.sources[0].topics[0])
              << "\n"
              << "  read decisions: kcat -C -b " << broker->bootstrap() << " -t "
              << cfg.kafka.decisions_topic << "\n"
              << std::flush;
  }

  connectors::Metrics metrics;
  std::error_code ec;
  fs::create_directories(cfg.state_dir, ec);
  auto history = connectors::RuleHistory::Open({.state_dir = cfg.state_dir});
  if (!history.ok()) {
    log.Error("rule history unavailable", {{"error", history.status().message()}});
    return kExitUsage;
  }
  auto store = connectors::RuleStore::Create(
      {.rules_dir = cfg.rules_dir,
       .history = history->get(),
       .on_reload =
           [&](const connectors::ReloadResult& r) {
             connectors::LogReloadResult(log, r);
             if (r.outcome != connectors::ReloadResult::Outcome::kUnchanged) {
               metrics.RuleReloads(r.ok()).Increment();
             }
           }},
      "start");
  if (!store.ok()) {
    std::cerr << store.status().message() << "\n";
    return kExitConfig;
  }
  connectors::RuleStore& rules = **store;
  metrics.SetRuleset(rules.version());
  std::unique_ptr<connectors::RuleWatcher> watcher;
  if (cfg.watch_rules) {
    watcher = std::make_unique<connectors::RuleWatcher>(
        connectors::RuleWatcherOptions{.dir = cfg.rules_dir},
        [&rules] { (void)rules.Reload("watch"); });
    if (Status s = watcher->Start(); !s.ok()) {
      log.Warn("rule watcher unavailable; reload with SIGHUP", {{"error", s.message()}});
      watcher.reset();
    }
  }

  // Actions, escalations, notifications.
  const std::string db_path = (fs::path(cfg.state_dir) / "reflex.db").string();
  auto journal = actions::Journal::Open(db_path);
  auto escalations = actions::EscalationStore::Open(db_path, {});
  if (!journal.ok() || !escalations.ok()) {
    log.Error(
        "state database unavailable",
        {{"path", db_path},
         {"error", !journal.ok() ? journal.status().message() : escalations.status().message()}});
    return kExitUsage;
  }
  auto notifier = actions::Notifier::Create(
      std::move(targets), {.log = [&log](std::string_view line) { log.Warn(line); }});
  if (!notifier.ok()) {
    log.Error("notifiers", {{"error", notifier.status().message()}});
    return kExitConfig;
  }
  auto side = connectors::AckedProducer::Create(cfg.kafka.brokers, cfg.kafka.properties);
  if (!side.ok()) {
    log.Error("kafka producer", {{"error", side.status().message()}});
    return kExitConfig;
  }
  const std::string input_topic = !cfg.http.ingest_topic.empty() ? cfg.http.ingest_topic
                                  : (!cfg.sources.empty() && !cfg.sources[0].topics.empty())
                                      ? cfg.sources[0].topics[0]
                                      : "reflex.events";
  actions::ActionHooks hooks;
  hooks.produce = [&](const std::string& topic, const std::string& key, const std::string& value) {
    (void)key;
    return (*side)->Produce(topic, "action", {value}, 10000);
  };
  hooks.emit = [&](const std::string& event_json) {
    return (*side)->Produce(input_topic, "emit", {event_json}, 10000);
  };
  hooks.escalate = [&](const actions::EscalationNotice& n) {
    actions::ActionEscalation e;
    e.kind = actions::EscalationKindOf(n.kind);
    e.action = n.action;
    e.table = n.table;
    e.row = n.row;
    e.reason = n.reason;
    e.event_json = n.event_json;
    e.event_id = n.event_id;
    auto r = (*escalations)->RecordAction(e, clock.NowMillis());
    if (!r.ok()) log.Error("escalation not recorded", {{"error", r.status().message()}});
    log.Warn("action escalated", {{"kind", std::string(actions::ActionEventName(n.kind))},
                                  {"action", n.action},
                                  {"reason", n.reason}});
    actions::Notice notice;
    notice.kind = actions::NoticeKindOf(n.kind);
    notice.at_ms = clock.NowMillis();
    notice.action = n.action;
    notice.table = n.table;
    notice.row = n.row;
    notice.reason = n.reason;
    if (r.ok()) notice.escalation_id = r->group_id;
    (*notifier)->Notify(notice);
  };
  hooks.notify = [&](const actions::EscalationNotice& n) {
    actions::Notice notice;
    notice.kind = actions::NoticeKindOf(n.kind);
    notice.at_ms = clock.NowMillis();
    notice.action = n.action;
    notice.table = n.table;
    notice.row = n.row;
    notice.reason = n.reason;
    (*notifier)->Notify(notice);
  };
  actions::Executor executor(catalog, **journal, hooks, {.dry_run = cfg.dry_run}, clock);
  if (Status s = executor.Start(); !s.ok()) {
    log.Error("executor", {{"error", s.message()}});
    return kExitRuntime;
  }

  // The Kafka loop.
  connectors::KafkaRunnerOptions ko;
  ko.brokers = cfg.kafka.brokers;
  ko.group_id = cfg.kafka.group_id;
  ko.properties = cfg.kafka.properties;
  ko.sources = bindings;
  ko.decisions_topic = cfg.kafka.decisions_topic;
  ko.escalations_topic = cfg.kafka.escalations_topic;
  ko.dead_letter_topic = cfg.kafka.dead_letter_topic;
  ko.exactly_once = cfg.kafka.exactly_once;
  ko.transactional_id = cfg.kafka.transactional_id;
  ko.workers = cfg.processing.workers;
  ko.batch_size = cfg.processing.batch_size;
  ko.batch_wait_ms = cfg.processing.batch_wait_ms;
  ko.max_in_flight_batches = cfg.processing.max_in_flight_batches;
  ko.shutdown_timeout_ms = cfg.processing.shutdown_timeout_ms;
  ko.stop_after_messages = ro.max_events;

  std::vector<std::string> demo_lines;
  if (ro.demo) {
    std::string events = ro.demo_events;
    if (events.empty()) events = (fs::path(cfg.rules_dir) / "events" / "sample.jsonl").string();
    demo_lines = ReadJsonLines(events);
    const std::string bad = (fs::path(events).parent_path() / "malformed.jsonl").string();
    if (ro.demo_events.empty() && fs::exists(bad)) {
      auto b = ReadJsonLines(bad);
      // A few malformed lines among the good ones show the dead-letter path.
      for (size_t i = 0; i < b.size(); ++i) {
        demo_lines.insert(
            demo_lines.begin() + static_cast<long>((i + 1) * demo_lines.size() / (b.size() + 1)),
            b[i]);
      }
    }
    if (demo_lines.empty()) {
      std::cerr << "demo: no events in " << events << "\n";
      return kExitUsage;
    }
    ko.stop_after_messages = static_cast<int64_t>(demo_lines.size());
  }

  connectors::KafkaRunner runner(
      ko, [&rules] { return rules.Current(); }, &clock);
  MetricsObserver observer(metrics);
  LockedObserver locked(observer);
  runner.SetObserver(ko.workers > 1 ? static_cast<connectors::RunnerObserver*>(&locked)
                                    : &observer);
  if (ro.demo) {
    runner.SetDecisionTap([](std::string_view d) {
      std::cout << HumanDecision(d) << "\n" << std::flush;
    });
  }
  runner.SetBatchHook([&](const std::vector<connectors::DecidedEvent>& batch) -> Status {
    std::vector<std::string_view> unknown;
    for (const auto& d : batch) {
      if (d.verdict == engine::Verdict::kUnknown) {
        unknown.push_back(d.event_json);
      } else if (d.verdict == engine::Verdict::kKnown) {
        // Journaled before the batch's offsets are committed: a crash replays the batch and
        // the journal's idempotency key keeps each action to one run.
        if (Status s = executor.Submit(d.decision_json, d.event_json); !s.ok()) {
          if (s.code() == engine::StatusCode::kInvalidArgument) {
            log.Warn("decision not submitted", {{"error", s.message()}});
          } else {
            return s;
          }
        }
      }
    }
    if (unknown.empty()) return Status::Ok();
    auto recorded = (*escalations)->RecordUnknownBatch(unknown, clock.NowMillis());
    if (!recorded.ok()) return recorded.status();
    engine::EventParser parser;
    for (size_t i = 0; i < recorded->size(); ++i) {
      const auto& r = (*recorded)[i];
      if (r.outcome == actions::RecordOutcome::kRepeat) continue;
      actions::Notice n;
      n.kind = actions::NoticeKind::kNewUnknown;
      n.at_ms = clock.NowMillis();
      n.escalation_id = r.group_id;
      n.fingerprint = r.fingerprint;
      n.reopened = r.outcome == actions::RecordOutcome::kReopened;
      engine::Event ev;
      if (parser.Parse(unknown[i], n.at_ms, &ev).ok()) n.event = std::move(ev);
      (*notifier)->Notify(n);
    }
    return Status::Ok();
  });

  // HTTP: webhook ingest, /metrics, /healthz, /readyz.
  std::unique_ptr<KafkaIngestSink> sink;
  std::unique_ptr<connectors::HttpServer> http;
  if (cfg.http.enabled) {
    sink = std::make_unique<KafkaIngestSink>(**side, input_topic);
    connectors::HttpServerOptions ho;
    const size_t colon = cfg.http.listen.rfind(':');
    ho.bind_address = cfg.http.listen.substr(0, colon);
    ho.port = std::stoi(cfg.http.listen.substr(colon + 1));
    ho.bearer_token = cfg.http.token;
    ho.hmac_secret = cfg.http.hmac_secret;
    ho.threads = cfg.http.threads;
    ho.max_body_bytes = static_cast<size_t>(cfg.http.max_body_bytes);
    ho.sources = http_sources;
    ho.readiness = [&runner]() -> Status {
      if (!runner.stats().assigned.load()) {
        return engine::Unavailable("waiting for a partition assignment from Kafka");
      }
      return Status::Ok();
    };
    auto server = connectors::HttpServer::Create(ho, sink.get(), &metrics);
    if (!server.ok()) {
      log.Error("http server", {{"error", server.status().message()}});
      return kExitConfig;
    }
    http = std::move(*server);
    if (Status s = http->Start(); !s.ok()) {
      log.Error("http server failed to start",
                {{"listen", cfg.http.listen}, {"error", s.message()}});
      return kExitUsage;
    }
    std::cout << "webhook, /metrics, /healthz, /readyz on http://" << ho.bind_address << ":"
              << http->port() << "\n"
              << std::flush;
  }

  SignalThread signals(
      [&runner, &log] {
        log.Info("shutdown requested");
        runner.RequestStop();
      },
      [&rules] { (void)rules.Reload("sighup"); });

  log.Info("reflex running", {{"rules", cfg.rules_dir},
                              {"ruleset", rules.version()},
                              {"brokers", cfg.kafka.brokers},
                              {"embedded", embedded},
                              {"dry_run", cfg.dry_run},
                              {"mode", cfg.kafka.exactly_once ? "exactly-once" : "at-least-once"}});

  std::thread demo_producer;
  std::atomic<bool> demo_stop{false};
  if (ro.demo) {
    std::cout << "demo: " << demo_lines.size() << " events from the bundled examples\n"
              << std::flush;
    demo_producer = std::thread([&] {
      // Paced so a person sees decisions flow; keyed by instance so one host stays in order.
      const auto gap = std::chrono::microseconds(1000000 / std::max(1, ro.demo_rate));
      auto next = std::chrono::steady_clock::now();
      for (size_t i = 0; i < demo_lines.size() && !demo_stop.load(); i += 20) {
        std::vector<std::string> chunk(
            demo_lines.begin() + static_cast<long>(i),
            demo_lines.begin() + static_cast<long>(std::min(i + 20, demo_lines.size())));
        if (Status s = (*side)->Produce(input_topic, "demo", chunk, 30000); !s.ok()) {
          log.Error("demo producer", {{"error", s.message()}});
          return;
        }
        next += gap * static_cast<int>(chunk.size());
        std::this_thread::sleep_until(next);
      }
    });
  }

  Status result = runner.Run();
  demo_stop = true;
  if (demo_producer.joinable()) demo_producer.join();
  if (http) http->Stop();
  if (watcher) watcher->Stop();
  executor.Drain(std::chrono::seconds(10));
  executor.Stop();
  (*notifier)->Flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  (*notifier)->Stop();

  const auto& st = runner.stats();
  if (ro.demo) {
    std::cout << "\ndemo done: " << st.consumed << " events, " << st.known << " known, "
              << st.suppressed << " suppressed, " << st.unknown << " unknown, " << st.dead_lettered
              << " dead-lettered; offsets committed for " << st.committed << "\n"
              << "  escalations: reflex escalations list --db " << db_path << "\n"
              << "  actions (dry run): reflex actions list --db " << db_path << "\n";
  }
  if (!result.ok()) {
    log.Error("reflex stopped", {{"error", result.message()}});
    return kExitRuntime;
  }
  log.Info("reflex stopped", {{"consumed", st.consumed.load()},
                              {"decided", st.decided.load()},
                              {"dead_lettered", st.dead_lettered.load()},
                              {"committed", st.committed.load()}});
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, Runner* run) {
  auto o = std::make_shared<RunOptions>();
  auto* c = app.add_subcommand(
      "run",
      "Run the engine: consume events from Kafka (an embedded broker when none is configured),\n"
      "decide them, produce decisions, run actions, escalate unknown events");
  c->add_option("-c,--config", o->config_file, "YAML config file (default: the embedded default)");
  c->add_option("--rules", o->rules_dir, "Rules directory (overrides the config)");
  c->add_option("--state-dir", o->state_dir, "State directory: journal, escalations, rule history");
  c->add_option("--brokers", o->brokers, "Kafka bootstrap servers (overrides the config)");
  c->add_option("--http-listen", o->http_listen, "host:port of the webhook and /metrics");
  c->add_flag("--no-http", o->no_http, "Do not start the HTTP server");
  c->add_option("--log-level", o->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  c->add_flag("--dry-run", o->dry_run, "Decide and journal actions, execute none");
  c->add_flag("--check-config", o->check_config,
              "Validate the config, the rules, the action catalog and the notifiers; exit");
  c->add_flag("--demo", o->demo,
              "Feed the bundled example events through the embedded broker and stop when all "
              "are decided (actions in dry run)");
  c->add_option("--demo-events", o->demo_events, "Events file for --demo (JSON Lines)");
  c->add_option("--demo-rate", o->demo_rate, "Events per second the demo offers (default 400)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--max-events", o->max_events,
                "Stop after this many events were consumed and committed (0 = run until "
                "SIGTERM)");
  c->callback([o, run] { *run = [o] { return RunRun(*o); }; });
}

}  // namespace reflex::cli
