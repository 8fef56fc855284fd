// App: `reflex run` as one object. Builds every component from the resolved configuration,
// owns their start and stop order, and exposes the parts that later features (the HTTP API,
// correlation) need: the rule store, the stores, the metrics, the runner's statistics.
//
// Phases:
//   LoadAppConfig  the config file (or the embedded default) with the environment, the
//                  `actions:` executor settings and the `notifiers:` list, read through the
//                  schemas in one pass: every problem at once, `file:line:col: key: message`.
//   App::Create    validates what the config names (the rules directory, the action
//                  catalog): the check phase; nothing is started. CheckReport() is what
//                  `reflex run --check-config` prints.
//   Start          embedded broker (when no brokers are configured), state directory, rule
//                  history and store with hot reload, journal and escalation store with
//                  their background retention, notifiers, executor, Kafka loop, webhook server;
//                  signals are blocked in every thread it starts so one thread takes
//                  SIGINT/SIGTERM/SIGHUP.
//   Run            runs the Kafka loop until a stop (SIGINT/SIGTERM, RequestStop, the demo
//                  or --max-events done), then stops in order: demo producer, HTTP, watcher,
//                  executor (drained), notifiers (flushed), retention.
// Failures come back as a Status whose code says how the process should end (ExitCode).
//
// Thread-safety: Create, Start and Run from one thread; RequestStop and ReloadRules from any.
// The streams and the logger must outlive the App.
//
//   auto cfg = LoadAppConfig("reflex.yaml", base::SystemEnv());
//   auto app = App::Create(std::move(*cfg), RunRequest{}, std::cout, std::cerr, log);
//   Status s = (*app)->Start();
//   if (s.ok()) s = (*app)->Run();
//   return ExitCode(s);
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/actions/audit.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/actions/notifier.h"
#include "reflex/base/config_schema.h"
#include "reflex/connectors/config.h"
#include "reflex/connectors/kafka_runner.h"
#include "reflex/connectors/log.h"
#include "reflex/engine/status.h"

namespace reflex::app {

// Everything `reflex run` is configured with, read and validated together.
struct AppConfig {
  connectors::RunConfig run;
  actions::ExecutorOptions executor;  // `actions:` (workers, queue)
  std::vector<actions::NotifierTarget> notifiers;
};

// The schema of the `actions:` section.
const base::Schema<actions::ExecutorOptions>& ExecutorConfigSchema();

// Loads `path` ("" = the embedded default; the environment overrides apply either way).
// kNotFound when the file cannot be opened; kInvalidArgument with every problem otherwise.
engine::Result<AppConfig> LoadAppConfig(const std::string& path, const base::EnvLookup& env);

// The whole configuration schema as documentation rows (`reflex config schema`).
std::vector<base::SchemaDoc> ConfigSchemaDocs();

// What a run is asked to do beyond its configuration (the command line).
struct RunRequest {
  // Feed the bundled example events (or `demo_events`) through the embedded broker at
  // `demo_rate` events/s, print each decision, and stop once all are decided.
  bool demo = false;
  std::string demo_events;
  int demo_rate = 400;
  // With demo: after the stream is decided, keep serving (the console, the API, the webhook)
  // until stopped (SIGINT/SIGTERM). When the config has no http.api_tokens and listens on a
  // loopback address, the demo makes one admin token for its console and prints it.
  bool keep_running = false;
  // Stop after this many messages were consumed and committed (0 = run until stopped).
  int64_t max_events = 0;
};

// The process exit code for how a run ended (docs/run-mode.md): 0 clean stop; 1 invalid
// config, rules or catalog (kInvalidArgument); 2 usage or I/O (kNotFound, kUnavailable);
// 4 the engine had to give up (anything else).
int ExitCode(const engine::Status& status);

// The stores of the state database (one SQLite file), opened with the storage settings:
// `durability` chooses each connection's synchronous level; `escalation_dedup_window_ms` is
// the escalation store's dedup_window_ms (actions.escalation_dedup_window). The notice outbox
// and the audit log are where `storage.store` says (SQLite file or shared PostgreSQL); on
// PostgreSQL the outbox claims under "<host name>:<db_path>", unique per replica and stable
// across its restarts. kUnavailable naming the store and the path when one cannot be opened.
struct StateStores {
  std::unique_ptr<actions::Journal> journal;
  std::unique_ptr<actions::EscalationStore> escalations;
  std::unique_ptr<actions::NoticeOutbox> outbox;
  std::unique_ptr<actions::AuditLog> audit;
};
engine::Result<StateStores> OpenStateStores(const std::string& db_path,
                                            const connectors::StorageConfig& storage,
                                            int64_t escalation_dedup_window_ms = 0);

class App {
 public:
  // The check phase: loads and validates the rules and the action catalog the config names.
  // Problems are printed to `err`; kInvalidArgument when any.
  static engine::Result<std::unique_ptr<App>> Create(AppConfig config, RunRequest request,
                                                     std::ostream& out, std::ostream& err,
                                                     connectors::Logger& log);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // The summary `reflex run --check-config` prints.
  std::string CheckReport() const;

  [[nodiscard]] engine::Status Start();
  // Blocks until the run ends; stops every part in order. REQUIRES: Start() returned OK.
  [[nodiscard]] engine::Status Run();
  void RequestStop();
  void ReloadRules(std::string_view trigger);

  const AppConfig& config() const;
  // Valid after Start().
  const connectors::RunnerStats& runner_stats() const;
  int http_port() const;
  // The Prometheus text of every metric (what GET /metrics serves).
  std::string MetricsText() const;

 private:
  struct Parts;
  App(AppConfig config, RunRequest request, std::ostream& out, std::ostream& err,
      connectors::Logger& log);
  engine::Status StartBroker();
  engine::Status StartState();
  engine::Status StartSilences();
  engine::Status StartActions();
  engine::Status StartRunner();
  engine::Status StartHttp();
  void StartDemoProducer();
  void StopAll();
  void PrintDemoSummary() const;

  std::unique_ptr<Parts> p_;
};

}  // namespace reflex::app
