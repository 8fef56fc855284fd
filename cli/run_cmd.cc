// reflex run: parses the flags, loads the configuration and hands it to the App, which
// builds, starts and stops every part (app/app.h).
#include <iostream>

#include "modules.h"
#include "reflex/app/app.h"
#include "reflex/connectors/log.h"

namespace reflex::cli {
namespace {

struct RunOptions {
  std::string config_file;
  std::string rules_dir;
  std::string state_dir;
  std::string brokers;
  std::string http_listen;
  std::string log_level;
  bool check_config = false;
  bool dry_run = false;
  bool no_http = false;
  app::RunRequest request;
};

// Command-line flags win over the file and the environment.
engine::Status ApplyFlags(const RunOptions& ro, connectors::RunConfig* cfg) {
  if (!ro.rules_dir.empty()) cfg->rules_dir = ro.rules_dir;
  if (!ro.state_dir.empty()) cfg->state_dir = ro.state_dir;
  if (!ro.brokers.empty()) cfg->kafka.brokers = ro.brokers;
  if (!ro.log_level.empty()) cfg->log_level = ro.log_level;
  if (ro.no_http) cfg->http.enabled = false;
  if (ro.dry_run) cfg->dry_run = true;
  if (!ro.http_listen.empty()) {
    auto listen = connectors::ParseListenAddress(ro.http_listen);
    if (!listen.ok()) return engine::NotFound("--http-listen: " + listen.status().message());
    cfg->http.listen = *listen;
  }
  return engine::Status::Ok();
}

int RunRun(const RunOptions& ro) {
  auto cfg = app::LoadAppConfig(ro.config_file, base::SystemEnv());
  if (cfg.ok()) {
    if (engine::Status s = ApplyFlags(ro, &cfg->run); !s.ok()) cfg = s;
  }
  if (!cfg.ok()) {
    std::cerr << cfg.status().message() << "\n";
    return app::ExitCode(cfg.status());
  }
  auto level = connectors::ParseLogLevel(cfg->run.log_level);
  connectors::Logger log(stderr, level.ok() ? *level : connectors::LogLevel::kInfo);
  auto run = app::App::Create(std::move(*cfg), ro.request, std::cout, std::cerr, log);
  if (!run.ok()) return app::ExitCode(run.status());
  if (ro.check_config) {
    std::cout << (*run)->CheckReport();
    return 0;
  }
  engine::Status s = (*run)->Start();
  if (s.ok()) s = (*run)->Run();
  return app::ExitCode(s);
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
  c->add_flag("--demo", o->request.demo,
              "Feed the bundled example events through the embedded broker and stop when all "
              "are decided (actions in dry run)");
  c->add_flag("--keep-running", o->request.keep_running,
              "With --demo: keep serving the console, API and webhook after the stream is "
              "decided, until Ctrl-C")
      ->needs("--demo");
  c->add_option("--demo-events", o->request.demo_events, "Events file for --demo (JSON Lines)");
  c->add_option("--demo-rate", o->request.demo_rate,
                "Events per second the demo offers (default 400)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--max-events", o->request.max_events,
                "Stop after this many events were consumed and committed (0 = run until "
                "SIGTERM)");
  c->callback([o, run] { *run = [o] { return RunRun(*o); }; });
}

}  // namespace reflex::cli
