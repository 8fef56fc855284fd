// app::LoadAppConfig and app::App: the embedded default with REFLEX_* overrides, every config
// problem of a file in one status, exit codes, the documented schema, the check phase on a
// broken and on the bundled rules, and one demo run end to end on the embedded broker.
#include "reflex/app/app.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reflex/actions/escalations.h"
#include "reflex/connectors/log.h"
#include "reflex/connectors/rule_history.h"
#include "temp_dir.h"

namespace reflex::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kExamples = REFLEX_SOURCE_DIR "/rules/examples";

using reflex::test::TempDir;

base::EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(LoadAppConfigTest, NoFileIsTheEmbeddedDefaultWithEnvironmentOverrides) {
  auto plain = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->run.file, "");
  EXPECT_EQ(plain->run.kafka.brokers, "");  // the embedded broker
  ASSERT_EQ(plain->run.sources.size(), 1u);
  EXPECT_EQ(plain->run.sources[0].name, "events");
  EXPECT_EQ(plain->run.sources[0].topics, std::vector<std::string>{"reflex.events"});
  EXPECT_EQ(plain->run.state_dir, ".reflex");
  EXPECT_EQ(plain->executor.workers, actions::ExecutorOptions{}.workers);
  EXPECT_TRUE(plain->notifiers.empty());

  auto env = LoadAppConfig("", MapEnv({{"REFLEX_KAFKA_BROKERS", "k1:9092,k2:9092"},
                                       {"REFLEX_HTTP_LISTEN", "0.0.0.0:9000"},
                                       {"REFLEX_STATE_DIR", "/var/lib/reflex"},
                                       {"REFLEX_RULES", "/etc/reflex/rules"},
                                       {"REFLEX_HTTP_TOKEN", "t0ken"}}));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->run.kafka.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(env->run.http.listen.host, "0.0.0.0");
  EXPECT_EQ(env->run.http.listen.port, 9000);
  EXPECT_EQ(env->run.state_dir, "/var/lib/reflex");
  EXPECT_EQ(env->run.rules_dir, "/etc/reflex/rules");
  EXPECT_EQ(env->run.http.token, "t0ken");
  EXPECT_EQ(env->run.sources.size(), 1u);  // the rest stays the default

  auto bad = LoadAppConfig("", MapEnv({{"REFLEX_HTTP_LISTEN", "nowhere"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("REFLEX_HTTP_LISTEN: expected host:port"));
}

TEST(LoadAppConfigTest, ReportsTheProblemsOfEverySectionAtOnce) {
  TempDir dir;
  const std::string path = dir.Write("reflex.yaml",
                                     "kafka:\n"
                                     "  group_id: ''\n"
                                     "processing:\n"
                                     "  workers: 0\n"
                                     "actions:\n"
                                     "  workers: 0\n"
                                     "  bogus: 1\n"
                                     "notifiers:\n"
                                     "  - kind: pigeon\n"
                                     "  - kind: webhook\n"
                                     "    url: 'http://hooks.example/x'\n"
                                     "    retries: many\n");
  auto cfg = LoadAppConfig(path, base::NoEnv());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), engine::StatusCode::kInvalidArgument);
  const std::string& m = cfg.status().message();
  const std::vector<std::string> expected = {
      path + ":2:13: kafka.group_id: must not be empty",
      path + ":4:12: processing.workers: must be between 1 and 64",
      path + ":6:12: actions.workers: must be between 1 and 256",
      path +
          ":7:3: actions.bogus: unknown key (valid keys: workers, queue_capacity, "
          "escalation_dedup_window)",
      path +
          ":9:11: notifiers[0].kind: unknown value 'pigeon' (expected one of: webhook, slack, "
          "pagerduty)",
      path + ":12:14: notifiers[1].retries: expected an integer"};
  size_t at = 0;
  for (const auto& line : expected) {
    const size_t found = m.find(line);
    ASSERT_NE(found, std::string::npos) << line << "\nin:\n" << m;
    EXPECT_GE(found, at) << "not in file order: " << line;
    at = found;
  }
}

TEST(LoadAppConfigTest, MissingFileIsNotFound) {
  TempDir dir;
  auto cfg = LoadAppConfig(dir.File("absent.yaml"), base::NoEnv());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), engine::StatusCode::kNotFound);
  EXPECT_EQ(ExitCode(cfg.status()), 2);
}

TEST(AppTest, ExitCodeForEachStatusCode) {
  EXPECT_EQ(ExitCode(engine::Status::Ok()), 0);
  EXPECT_EQ(ExitCode(engine::InvalidArgument("x")), 1);
  EXPECT_EQ(ExitCode(engine::NotFound("x")), 2);
  EXPECT_EQ(ExitCode(engine::Unavailable("x")), 2);
  EXPECT_EQ(ExitCode(engine::FailedPrecondition("x")), 4);
  EXPECT_EQ(ExitCode(engine::ResourceExhausted("x")), 4);
  EXPECT_EQ(ExitCode(engine::Internal("x")), 4);
}

TEST(AppTest, ConfigSchemaDocsCoverEverySection) {
  std::map<std::string, base::SchemaDoc> rows;
  for (const auto& d : ConfigSchemaDocs()) {
    EXPECT_TRUE(rows.emplace(d.key, d).second) << "documented twice: " << d.key;
  }
  for (const char* key :
       {"rules", "state_dir", "kafka.brokers", "kafka.group_id", "processing.workers",
        "http.listen", "http.token_env", "sources", "sources[].name", "sources[].mapping",
        "sources[].mapping.kind", "actions", "actions.workers", "actions.queue_capacity",
        "notifiers", "notifiers[].kind", "notifiers[].url", "notifiers[].routing_key_env"}) {
    EXPECT_EQ(rows.count(key), 1u) << key;
  }
  EXPECT_EQ(rows["kafka.group_id"].default_value, "reflex");
  EXPECT_EQ(rows["kafka.brokers"].env, "REFLEX_KAFKA_BROKERS");
  EXPECT_EQ(rows["actions.workers"].default_value, "4");
  EXPECT_EQ(rows["actions.workers"].type, "integer (1..256)");
}

TEST(AppTest, CreateOnABrokenTableFailsAndPrintsTheTableError) {
  TempDir dir;
  dir.Write("rules/tables/e_yaml.yaml",
            "table: e_yaml\n"
            "hit_policy: first\n"
            "rules:\n"
            "  - id: y1\n"
            "    when: {alertname: \"frob(x)\"}\n"
            "    action: ignore\n");
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.rules_dir = dir.File("rules");
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), RunRequest{}, out, err, log);
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExitCode(app.status()), 1);
  EXPECT_THAT(err.str(), HasSubstr("tables/e_yaml.yaml:5:23: error: unknown operator 'frob'"));
}

TEST(AppTest, CreateRefusesAWebhookWhoseEventsNoSourceDecides) {
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.http.ingest_topic = "webhook.unread";
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), RunRequest{}, out, err, log);
  ASSERT_FALSE(app.ok()) << "events would get 202 and never be decided";
  EXPECT_EQ(ExitCode(app.status()), 1);
  EXPECT_THAT(err.str(), HasSubstr("http.ingest_topic: no source consumes topic 'webhook.unread'"));
}

TEST(AppTest, CheckReportOnTheBundledRules) {
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.rules_dir = kExamples;
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), RunRequest{}, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  const std::string version = connectors::LoadRuleSnapshot(kExamples).version;
  ASSERT_FALSE(version.empty());
  const std::string report = (*app)->CheckReport();
  EXPECT_THAT(report, HasSubstr("config OK: built-in default\n"));
  EXPECT_THAT(report, HasSubstr("rules:     " + kExamples + " (" + version + ")\n"));
  EXPECT_THAT(report, HasSubstr("kafka:     embedded broker, at-least-once\n"));
  EXPECT_THAT(report, HasSubstr("http:      127.0.0.1:8080\n"));
  EXPECT_THAT(report, Not(HasSubstr("(dry run)")));
  EXPECT_EQ(err.str(), "");
}

// The demo on the embedded broker: every bundled event decided, then the run stops by itself.
// Bounded by ctest's timeout; no sleeps.
TEST(AppTest, DemoRunsEndToEndOnTheEmbeddedBroker) {
  TempDir dir;
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.rules_dir = kExamples;
  cfg->run.state_dir = dir.File("state");
  cfg->run.http.enabled = false;
  cfg->run.watch_rules = false;
  RunRequest request;
  request.demo = true;
  request.demo_rate = 2000;
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), request, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  EXPECT_THAT((*app)->CheckReport(), HasSubstr("(dry run)"));  // the demo never automates
  engine::Status started = (*app)->Start();
  ASSERT_TRUE(started.ok()) << started.ToString() << "\n" << err.str() << logs.str();
  engine::Status ran = (*app)->Run();
  ASSERT_TRUE(ran.ok()) << ran.ToString() << "\n" << logs.str();
  EXPECT_EQ(ExitCode(ran), 0);

  const std::string text = out.str();
  std::smatch m;
  const std::regex summary(
      "demo done: (\\d+) events, (\\d+) known, (\\d+) suppressed, (\\d+) unknown, (\\d+) "
      "dead-lettered; offsets committed for (\\d+)");
  ASSERT_TRUE(std::regex_search(text, m, summary)) << text;
  const int64_t consumed = std::stoll(m[1]), known = std::stoll(m[2]),
                suppressed = std::stoll(m[3]), unknown = std::stoll(m[4]), dead = std::stoll(m[5]),
                committed = std::stoll(m[6]);
  EXPECT_GE(consumed, 284);  // rules/examples/events/sample.jsonl, plus malformed.jsonl
  EXPECT_GT(known, 0);
  EXPECT_GT(suppressed, 0);
  EXPECT_GT(unknown, 0);
  EXPECT_GT(dead, 0);  // the malformed lines are dead-lettered, not fatal
  EXPECT_EQ(known + suppressed + unknown + dead, consumed);
  EXPECT_EQ(committed, consumed);
  EXPECT_EQ((*app)->runner_stats().consumed.load(), consumed);
  EXPECT_TRUE(fs::exists(dir.File("state")));

  // The demo's known rows name actions: each run is counted with its action and outcome
  // (skipped_dry_run: the demo never automates), and the queue has drained.
  const std::string metrics = (*app)->MetricsText();
  const std::regex counted(
      "reflex_actions_total\\{action=\"([a-z_]+)\",outcome=\"skipped_dry_run\"\\} ([0-9]+)");
  ASSERT_TRUE(std::regex_search(metrics, m, counted)) << metrics;
  EXPECT_GT(std::stoll(m[2]), 0);
  EXPECT_THAT(metrics, HasSubstr("reflex_action_queue_depth 0"));
}

// --keep-running: the demo keeps serving after its stream is decided, until stopped; on a
// loopback listener without api_tokens it makes an admin token for its console and prints
// it, and the API takes it (and nothing else).
TEST(AppTest, AKeptDemoServesItsConsoleWithItsOwnTokenUntilStopped) {
  TempDir dir;
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.rules_dir = kExamples;
  cfg->run.state_dir = dir.File("state");
  cfg->run.http.listen = {"127.0.0.1", 0};
  cfg->run.watch_rules = false;
  RunRequest request;
  request.demo = true;
  request.demo_rate = 5000;
  request.keep_running = true;
  std::ostringstream logs;
  std::stringstream out, err;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), request, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  ASSERT_TRUE((*app)->Start().ok()) << err.str() << logs.str();
  const std::string started = out.str();  // Start() printed the addresses; Run() writes next
  engine::Status ran;
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    ran = (*app)->Run();
    returned = true;
  });
  std::smatch m;
  const std::regex console(
      "console on http://127\\.0\\.0\\.1:(\\d+)/console/ \\(sign in with the "
      "demo's token ([0-9a-f]{32})\\)");
  for (int i = 0; i < 600 && (*app)->runner_stats().consumed.load() < 284; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE((*app)->runner_stats().consumed.load(), 284);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(returned.load()) << "the kept demo stopped after its stream";
  if (std::regex_search(started, m, console)) {
    httplib::Client api("127.0.0.1", std::stoi(m[1]));
    auto me = api.Get("/api/v1/whoami", {{"Authorization", "Bearer " + m[2].str()}});
    ASSERT_TRUE(me);
    EXPECT_EQ(me->status, 200);
    EXPECT_THAT(me->body, HasSubstr("\"admin\""));
    auto other = api.Get("/api/v1/whoami", {{"Authorization", "Bearer " + std::string(32, 'a')}});
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 401);
    auto page = api.Get("/console/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
  } else {
    ADD_FAILURE() << "no console line with a token in:\n" << started;
  }
  (*app)->RequestStop();
  runner.join();
  EXPECT_TRUE(ran.ok()) << ran.ToString();
  EXPECT_THAT(out.str(), HasSubstr("still serving the console"));
  EXPECT_THAT(out.str(), HasSubstr("demo done"));
}

TEST(LoadAppConfigTest, StorageRetentionIsRead) {
  TempDir dir;
  auto defaults = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->run.storage.retention.max_age_ms, 30LL * 24 * 3600 * 1000);
  EXPECT_EQ(defaults->run.storage.retention.max_escalation_groups, 100000);
  const std::string path = dir.Write("reflex.yaml",
                                     "storage:\n"
                                     "  retention:\n"
                                     "    max_age: 7d\n"
                                     "    max_escalation_groups: 500\n"
                                     "    max_action_runs: 1000\n"
                                     "    interval: 30s\n");
  auto cfg = LoadAppConfig(path, base::NoEnv());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->run.storage.retention.max_age_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(cfg->run.storage.retention.max_escalation_groups, 500);
  EXPECT_EQ(cfg->run.storage.retention.max_action_runs, 1000);
  EXPECT_EQ(cfg->run.storage.retention.interval_ms, 30000);
  const std::string bad = dir.Write("bad.yaml",
                                    "storage:\n"
                                    "  retention:\n"
                                    "    max_age: 1s\n"
                                    "    max_escalation_groups: 0\n");
  auto refused = LoadAppConfig(bad, base::NoEnv());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("storage.retention.max_age"));
  EXPECT_THAT(refused.status().message(), HasSubstr("storage.retention.max_escalation_groups"));
}

TEST(AppTest, RetentionCapsTheEscalationStoreInTheBackground) {
  TempDir dir;
  const std::string state = dir.File("state");
  {
    // A sender that invented 300 alert names before this start.
    auto store = actions::EscalationStore::Open(state + "/reflex.db", {});
    ASSERT_TRUE(store.ok());
    const int64_t now = engine::SystemClock().NowMillis();
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(
          (*store)
              ->RecordUnknown(R"({"labels":{"alertname":"X)" + std::to_string(i) + R"("}})", now)
              .ok());
    }
  }
  auto cfg = LoadAppConfig("", base::NoEnv());
  ASSERT_TRUE(cfg.ok());
  cfg->run.rules_dir = kExamples;
  cfg->run.state_dir = state;
  cfg->run.http.enabled = false;
  cfg->run.watch_rules = false;
  cfg->run.storage.retention.max_escalation_groups = 100;
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(std::move(*cfg), RunRequest{}, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  engine::Status started = (*app)->Start();
  ASSERT_TRUE(started.ok()) << started.ToString() << "\n" << err.str() << logs.str();
  auto reader = actions::EscalationStore::Open(state + "/reflex.db", {});
  ASSERT_TRUE(reader.ok());
  size_t groups = 0;
  for (int i = 0; i < 500; ++i) {  // up to 10 s: the first pass runs at start
    actions::EscalationFilter all;
    auto list = (*reader)->List(all);
    ASSERT_TRUE(list.ok());
    groups = list->size();
    if (groups <= 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(groups, 100u);
  (*app)->RequestStop();
  EXPECT_TRUE((*app)->Run().ok()) << logs.str();
}

TEST(AppTest, StorageDurabilityReachesEveryStore) {
  TempDir dir;
  connectors::StorageConfig storage;
  {
    auto stores = OpenStateStores(dir.File("normal.db"), storage);
    ASSERT_TRUE(stores.ok()) << stores.status().ToString();
    EXPECT_EQ(stores->journal->SynchronousLevel(), 1);
    EXPECT_EQ(stores->escalations->SynchronousLevel(), 1);
    EXPECT_EQ(stores->outbox->SynchronousLevel(), 1);
  }
  storage.durability = base::Durability::kFsync;
  auto stores = OpenStateStores(dir.File("fsync.db"), storage);
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  EXPECT_EQ(stores->journal->SynchronousLevel(), 2);
  EXPECT_EQ(stores->escalations->SynchronousLevel(), 2);
  EXPECT_EQ(stores->outbox->SynchronousLevel(), 2);
}

// ---- test cases gate what goes live ----------------------------------------------------

// A table the bundled rules lack, and a cases sheet for it with one passing case and one
// that fails on purpose (it expects the known event to be suppressed).
constexpr char kExtraTable[] = "id,labels.alertname,actions\nnew-row,BrandNewAlert,escalate\n";
constexpr char kExtraCases[] =
    "case,expect_verdict,expect_row,alertname\n"
    "new alert escalates,known,new-row,BrandNewAlert\n"
    "wrong on purpose,suppressed,new-row,BrandNewAlert\n";

// The bundled rules copied into `dir`/rules; returns the copy's path.
std::string CopyExamples(const TempDir& dir) {
  const std::string rules = dir.File("rules");
  fs::copy(kExamples, rules, fs::copy_options::recursive);
  return rules;
}

// The embedded default (or `yaml` as a config file) on `rules`, quiet and without HTTP.
AppConfig TestConfig(const TempDir& dir, const std::string& rules, const std::string& yaml = "") {
  const std::string path = yaml.empty() ? "" : dir.Write("reflex.yaml", yaml);
  auto cfg = LoadAppConfig(path, base::NoEnv());
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  AppConfig c = cfg.ok() ? std::move(*cfg) : AppConfig{};
  c.run.rules_dir = rules;
  c.run.state_dir = dir.File("state");
  c.run.http.enabled = false;
  c.run.watch_rules = false;
  return c;
}

// The value of one series in Prometheus text ("" when absent).
std::string SeriesValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  const size_t start = at + series.size() + 2;
  return metrics.substr(start, metrics.find('\n', start) - start);
}

TEST(AppTest, StartIsRefusedWhenATestCaseFails) {
  TempDir dir;
  const std::string rules = CopyExamples(dir);
  dir.Write("rules/tables/zz_extra.csv", kExtraTable);
  dir.Write("rules/tables/zz_extra.cases.csv", kExtraCases);
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(TestConfig(dir, rules), RunRequest{}, out, err, log);
  ASSERT_FALSE(app.ok()) << "a rule set whose own cases fail must not go live";
  EXPECT_EQ(ExitCode(app.status()), 1);
  // The table, the case, where it is and why it failed.
  EXPECT_THAT(err.str(),
              HasSubstr(rules + "/tables/zz_extra.cases.csv:3: table zz_extra: case 'wrong "
                                "on purpose' failed: expected suppressed zz_extra/new-row, "
                                "got known zz_extra/new-row"));
  EXPECT_THAT(err.str(), HasSubstr("allow_unverified_rules"));
  EXPECT_THAT(err.str(), Not(HasSubstr("new alert escalates")));
}

TEST(AppTest, AllowUnverifiedRulesLoadsAFailingSetWithAWarning) {
  TempDir dir;
  const std::string rules = CopyExamples(dir);
  dir.Write("rules/tables/zz_extra.csv", kExtraTable);
  dir.Write("rules/tables/zz_extra.cases.csv", kExtraCases);
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(TestConfig(dir, rules, "allow_unverified_rules: true\n"), RunRequest{},
                         out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  EXPECT_THAT((*app)->CheckReport(), HasSubstr("1 not verified"));
  ASSERT_TRUE((*app)->Start().ok()) << err.str() << logs.str();
  EXPECT_THAT(logs.str(), HasSubstr("\"level\":\"warn\",\"msg\":\"rule set not verified\""));
  EXPECT_THAT(logs.str(), HasSubstr("case 'wrong on purpose' failed"));
  const std::string metrics = (*app)->MetricsText();
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"failed\"}"), "1") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"verified\"}"), "9") << metrics;
  EXPECT_EQ(SeriesValue(metrics,
                        "reflex_rule_cases_failed{case=\"wrong on purpose\",table=\"zz_extra\"}"),
            "1")
      << metrics;
  (*app)->RequestStop();
  EXPECT_TRUE((*app)->Run().ok()) << logs.str();
}

TEST(AppTest, UntestedTablesGoLiveAndAreReportedAsUntested) {
  TempDir dir;
  const std::string rules = CopyExamples(dir);
  dir.Write("rules/tables/zz_extra.csv", kExtraTable);  // no cases
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(TestConfig(dir, rules), RunRequest{}, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  ASSERT_TRUE((*app)->Start().ok()) << err.str() << logs.str();
  EXPECT_THAT(logs.str(),
              ::testing::ContainsRegex("\"level\":\"info\",\"msg\":\"rule tables without test "
                                       "cases\"[^\n]*\"tables\":\"zz_extra\""));
  const std::string metrics = (*app)->MetricsText();
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"untested\"}"), "1") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"verified\"}"), "9") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"failed\"}"), "0") << metrics;
  (*app)->RequestStop();
  EXPECT_TRUE((*app)->Run().ok()) << logs.str();
}

TEST(AppTest, HotReloadRefusesASetWhoseCasesFailAndSaysWhy) {
  TempDir dir;
  const std::string rules = CopyExamples(dir);
  std::ostringstream out, err, logs;
  connectors::Logger log(logs);
  auto app = App::Create(TestConfig(dir, rules), RunRequest{}, out, err, log);
  ASSERT_TRUE(app.ok()) << app.status().ToString() << "\n" << err.str();
  ASSERT_TRUE((*app)->Start().ok()) << err.str() << logs.str();
  const std::string running = connectors::LoadRuleSnapshot(rules).version;

  dir.Write("rules/tables/zz_extra.csv", kExtraTable);
  dir.Write("rules/tables/zz_extra.cases.csv", kExtraCases);
  (*app)->ReloadRules("test");
  EXPECT_THAT(logs.str(), ::testing::ContainsRegex(
                              "\"level\":\"error\",\"msg\":\"rules refused\",\"trigger\":\"test\","
                              "\"version\":\"" +
                              running + "\"[^\n]*case 'wrong on purpose' failed"));
  EXPECT_THAT(logs.str(), Not(HasSubstr("\"msg\":\"rules reloaded\",\"trigger\":\"test\"")));
  std::string metrics = (*app)->MetricsText();
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_reloads_total{result=\"refused\"}"), "1") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_reloads_refused_total{reason=\"unverified\"}"), "1")
      << metrics;
  EXPECT_EQ(SeriesValue(metrics,
                        "reflex_rule_cases_failed{case=\"wrong on purpose\",table=\"zz_extra\"}"),
            "1")
      << metrics;
  // The live set is still the verified one.
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"verified\"}"), "9") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"failed\"}"), "0") << metrics;

  // Fixed cases: the same tables now go live, and the failing-case series is gone.
  dir.Write("rules/tables/zz_extra.cases.csv",
            "case,expect_verdict,expect_row,alertname\n"
            "new alert escalates,known,new-row,BrandNewAlert\n");
  (*app)->ReloadRules("test");
  EXPECT_THAT(logs.str(), HasSubstr("\"msg\":\"rules reloaded\",\"trigger\":\"test\""));
  metrics = (*app)->MetricsText();
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_tables{state=\"verified\"}"), "10") << metrics;
  EXPECT_EQ(SeriesValue(metrics, "reflex_rule_reloads_total{result=\"ok\"}"), "2") << metrics;
  EXPECT_THAT(metrics, Not(HasSubstr("reflex_rule_cases_failed{")));
  (*app)->RequestStop();
  EXPECT_TRUE((*app)->Run().ok()) << logs.str();
}

}  // namespace
}  // namespace reflex::app
