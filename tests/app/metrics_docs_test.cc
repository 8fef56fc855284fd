// The metrics a running engine exposes against their documentation (docs/operations.md,
// Metrics), the open-escalations gauge against the store, and the fields of per-event log
// lines. Each test starts the real App on the embedded broker with the webhook on
// 127.0.0.1:0, drives events through the webhook and through Kafka (a plain librdkafka
// producer, as an outside client would), and scrapes GET /metrics over a socket. Every wait
// is bounded; no sleep stands in for a condition.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../connectors/kafka_test_util.h"
#include "reflex/actions/escalations.h"
#include "reflex/app/app.h"
#include "reflex/connectors/log.h"
#include "temp_dir.h"

namespace reflex::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using reflex::test::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  s = s.substr(b, s.find_last_not_of(" \t") - b + 1);
  return s;
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {  // row starts with '|'
    if (row[i] == '|' && row[i - 1] != '\\') {
      out.push_back(Trim(cell));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

// Every `backticked` word of a cell.
std::vector<std::string> Quoted(const std::string& cell) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = cell.find('`', at)) != std::string::npos) {
    const size_t end = cell.find('`', at + 1);
    if (end == std::string::npos) break;
    out.push_back(cell.substr(at + 1, end - at - 1));
    at = end + 1;
  }
  return out;
}

// The rows of the first markdown table after `heading` whose header row starts with
// `first_column`, as cells.
std::vector<std::vector<std::string>> DocTable(const std::string& text, const std::string& heading,
                                               const std::string& first_column) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text.substr(std::min(text.size(), text.find(heading))));
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (!in_table) {
      if (line.rfind("| " + first_column + " |", 0) == 0) {
        in_table = true;
        std::getline(in, line);  // |---|
      }
      continue;
    }
    if (line.empty() || line[0] != '|') break;
    rows.push_back(Cells(line));
  }
  return rows;
}

struct DocMetric {
  std::string type;
  std::set<std::string> labels;
};

const std::string kOperations = REFLEX_SOURCE_DIR "/docs/operations.md";

std::map<std::string, DocMetric> DocumentedMetrics() {
  std::map<std::string, DocMetric> out;
  for (const auto& cells : DocTable(ReadFile(kOperations), "## Metrics", "metric")) {
    if (cells.size() != 4) {
      ADD_FAILURE() << "a metrics row needs 4 cells: " << ::testing::PrintToString(cells);
      continue;
    }
    const auto names = Quoted(cells[0]);
    if (names.size() != 1) {
      ADD_FAILURE() << "one `name` per row: " << cells[0];
      continue;
    }
    const auto labels = Quoted(cells[2]);
    out[names[0]] = DocMetric{cells[1], std::set<std::string>(labels.begin(), labels.end())};
  }
  return out;
}

// Every value the first column of a table under the Metrics section lists (`a`, `b` ...).
std::set<std::string> DocumentedValues(const std::string& column) {
  const std::string text = ReadFile(kOperations);
  std::set<std::string> out;
  for (const auto& cells : DocTable(text, "## Metrics", column)) {
    for (const auto& v : Quoted(cells.at(0))) out.insert(v);
  }
  return out;
}

struct Series {
  std::string family;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Prometheus text format: `# TYPE` lines name the families; a histogram's samples end in
// _bucket (with `le`), _sum and _count.
struct Scrape {
  std::map<std::string, std::string> types;
  std::vector<Series> series;

  double Value(const std::string& family, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : series) {
      if (s.family == family && s.labels == labels) return s.value;
    }
    return -1;
  }
  std::set<std::string> LabelValues(const std::string& family, const std::string& label) const {
    std::set<std::string> out;
    for (const auto& s : series) {
      if (s.family == family && s.labels.count(label)) out.insert(s.labels.at(label));
    }
    return out;
  }
};

Scrape ParseScrape(const std::string& body) {
  Scrape out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      out.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    Series s;
    size_t at = line.find_first_of("{ ");
    std::string name = line.substr(0, at);
    if (at != std::string::npos && line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const size_t eq = line.find('=', at);
        const std::string key = line.substr(at, eq - at);
        std::string value;
        size_t i = eq + 2;  // after ="
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) ++i;
          value += line[i];
        }
        s.labels[key] = value;
        at = i + 1;
        if (at < line.size() && line[at] == ',') ++at;
      }
      at = line.find(' ', at);
    }
    s.value = std::atof(line.c_str() + at + 1);
    s.family = name;
    if (!out.types.count(name)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx = suffix;
        if (name.size() > sfx.size() &&
            name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            out.types.count(name.substr(0, name.size() - sfx.size()))) {
          s.family = name.substr(0, name.size() - sfx.size());
          if (sfx == "_bucket") s.labels.erase("le");
        }
      }
    }
    out.series.push_back(std::move(s));
  }
  return out;
}

// A loopback HTTP server answering every POST to each path with its status.
class Sink {
 public:
  explicit Sink(const std::map<std::string, int>& answers) {
    for (const auto& [path, status] : answers) {
      server_.Post(path, [status = status](const httplib::Request&, httplib::Response& res) {
        res.status = status;
        res.set_content("{}", "application/json");
      });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Sink() {
    server_.stop();
    thread_.join();
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// Polls `done` every 20 ms for up to `seconds`.
bool WaitFor(const std::function<bool()>& done, int seconds = 30) {
  for (int i = 0; i < seconds * 50; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// An App on the embedded broker with the webhook on 127.0.0.1:0, Run() on its own thread.
class RunningApp {
 public:
  RunningApp(const std::string& config_path, std::ostream& logs)
      : log_(logs, connectors::LogLevel::kInfo) {
    auto cfg = LoadAppConfig(config_path, base::NoEnv());
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    if (!cfg.ok()) return;
    auto app = App::Create(std::move(*cfg), RunRequest{}, out_, err_, log_);
    EXPECT_TRUE(app.ok()) << app.status().ToString() << "\n" << err_.str();
    if (!app.ok()) return;
    app_ = std::move(*app);
    engine::Status s = app_->Start();
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << err_.str();
    if (!s.ok()) {
      app_.reset();
      return;
    }
    thread_ = std::thread([this] { ran_ = app_->Run(); });
    http_ = std::make_unique<httplib::Client>("127.0.0.1", app_->http_port());
    http_->set_connection_timeout(5);
    http_->set_read_timeout(10);
    const std::string o = out_.str();
    const std::string marker = "embedded Kafka broker on ";
    const size_t at = o.find(marker);
    if (at != std::string::npos) {
      bootstrap_ = o.substr(at + marker.size(), o.find('\n', at) - at - marker.size());
    }
  }
  ~RunningApp() { Stop(); }

  bool ok() const { return app_ != nullptr; }
  // Stops the run and waits for it; the log is complete afterwards.
  void Stop() {
    if (!thread_.joinable()) return;
    app_->RequestStop();
    thread_.join();
    EXPECT_TRUE(ran_.ok()) << ran_.ToString();
  }
  App& app() { return *app_; }
  httplib::Client& http() { return *http_; }
  const std::string& bootstrap() const { return bootstrap_; }
  Scrape Metrics() {
    auto res = http_->Get("/metrics");
    if (!res || res->status != 200) return {};
    last_scrape_ = res->body;
    return ParseScrape(res->body);
  }
  const std::string& last_scrape() const { return last_scrape_; }
  int Post(const std::string& path, const std::string& body) {
    auto res = http_->Post(path, body, "application/json");
    return res ? res->status : 0;
  }

 private:
  std::ostringstream out_, err_;
  connectors::Logger log_;
  std::unique_ptr<App> app_;
  std::thread thread_;
  engine::Status ran_;
  std::unique_ptr<httplib::Client> http_;
  std::string bootstrap_;
  std::string last_scrape_;
};

// Rules, catalog and config of the scenario: `svc-down` restarts a service through a webhook
// that answers 200; `disk-full` calls one that answers 500, with one attempt and a breaker
// that opens at the first failure; a notifier gets every notice. Sources: `events`
// (pass-through, the ingest topic) and `alerts` (Alertmanager payloads on reflex.alerts).
std::string WriteScenario(const TempDir& dir, const Sink& ok, const Sink& failing) {
  dir.Write("rules/tables/svc.csv",
            "id,labels.alertname,actions,param.host\n"
            "svc-down,ServiceDown,restart_service,{{labels.instance}}\n"
            "disk-full,DiskFull,page_broken,{{labels.instance}}\n");
  // A table whose case fails, live by allow_unverified_rules: reflex_rule_cases_failed shows.
  dir.Write("rules/tables/unverified.csv",
            "id,labels.alertname,actions\nu1,DocsOnlyAlert,ignore\n");
  dir.Write("rules/tables/unverified.cases.csv",
            "case,expect_verdict,alertname\nwrong on purpose,unknown,DocsOnlyAlert\n");
  // A pattern the Kafka DiskFull event completes at once (the pattern series are exposed).
  dir.Write("rules/patterns/p.yaml",
            "- name: disk-seen\n  kind: count\n  count: 1\n  group_by: [instance]\n"
            "  within: 1m\n  members: [{when: {alertname: DiskFull}}]\n  actions: []\n");
  dir.Write("rules/actions.yaml",
            "actions:\n"
            "  restart_service:\n"
            "    kind: webhook\n"
            "    params: [host]\n"
            "    url: " +
                ok.Url("/restart") +
                "\n"
                "    body: {host: \"{{params.host}}\"}\n"
                "    retries: 1\n"
                "  page_broken:\n"
                "    kind: webhook\n"
                "    params: [host]\n"
                "    url: " +
                failing.Url("/fail") +
                "\n"
                "    body: {host: \"{{params.host}}\"}\n"
                "    retries: 1\n"
                "    circuit_breaker: {failures: 1, reset_after: 1h}\n");
  return dir.Write("reflex.yaml", "rules: " + dir.path() + "/rules\nstate_dir: " + dir.path() +
                                      "/state\n"
                                      "watch_rules: false\n"
                                      "allow_unverified_rules: true\n"
                                      "sources:\n"
                                      "  - name: events\n"
                                      "    topics: [reflex.events]\n"
                                      "  - name: alerts\n"
                                      "    topics: [reflex.alerts]\n"
                                      "    mapping: alertmanager\n"
                                      "processing: {batch_wait_ms: 5}\n"
                                      "http: {listen: '127.0.0.1:0'}\n"
                                      "notifiers:\n"
                                      "  - kind: webhook\n"
                                      "    name: ops\n"
                                      "    url: " +
                                      ok.Url("/notify") + "\n");
}

std::string AlertmanagerPayload(const std::string& alertname, const std::string& instance) {
  return R"({"version":"4","status":"firing","receiver":"reflex","alerts":[{"status":"firing",)"
         R"("labels":{"alertname":")" +
         alertname + R"(","instance":")" + instance +
         R"(","severity":"page"},"annotations":{},"startsAt":"2026-11-24T10:00:00Z",)"
         R"("fingerprint":")" +
         alertname + instance + R"("}]})";
}

// Drives the scenario: through the webhook a known event (its action succeeds), an
// Alertmanager alert nobody knows, and an Alertmanager payload posted as source `alerts`;
// through Kafka a known event whose action fails, a malformed message, an event with a bad
// timestamp, an unmappable payload on the `alerts` topic and a valid one. Returns once all
// 8 messages are consumed and every action and notice came to an end.
void Drive(RunningApp& r) {
  ASSERT_EQ(r.Post("/v1/events",
                   R"({"id":"web-1","labels":{"alertname":"ServiceDown","instance":"web-1"}})"),
            202);
  ASSERT_EQ(r.Post("/v1/alertmanager", AlertmanagerPayload("Mystery", "db-1")), 202);
  ASSERT_EQ(r.Post("/v1/events?source=alerts", AlertmanagerPayload("Mystery", "db-2")), 202);
  ASSERT_FALSE(r.bootstrap().empty());
  ASSERT_EQ(connectors::test::ProduceAll(
                r.bootstrap(), "reflex.events",
                {R"({"id":"kafka-1","labels":{"alertname":"DiskFull","instance":"fs-1"}})",
                 "{not json", R"({"id":"bad-ts-1","timestamp":"yesterday-ish"})"}),
            0);
  ASSERT_EQ(connectors::test::ProduceAll(
                r.bootstrap(), "reflex.alerts",
                {R"({"version":"4","alerts":"none"})", AlertmanagerPayload("Mystery", "db-3")}),
            0);
  const auto& st = r.app().runner_stats();
  ASSERT_TRUE(WaitFor([&] { return st.committed.load() >= 8; }))
      << "consumed " << st.consumed.load() << ", committed " << st.committed.load();
  ASSERT_TRUE(WaitFor([&] {
    Scrape m = r.Metrics();
    return m.Value("reflex_actions_total",
                   {{"action", "restart_service"}, {"outcome", "succeeded"}}) == 1 &&
           m.Value("reflex_actions_total", {{"action", "page_broken"}, {"outcome", "failed"}}) ==
               1 &&
           m.Value("reflex_action_queue_depth", {}) == 0 &&
           m.Value("reflex_notifier_notices_total",
                   {{"target", "ops"}, {"outcome", "delivered"}}) >= 2 &&
           !m.LabelValues("reflex_consumer_lag", "topic").empty();
  })) << r.last_scrape();
}

// Every reflex_* family the engine exposes is in the table of docs/operations.md with its
// type and exactly its label names, and every family of the table is exposed. The label
// values with a documented set (source, dead-letter reason, escalation kind) stay in it.
TEST(MetricsDocsTest, EveryExposedSeriesIsDocumentedWithItsLabels) {
  TempDir dir;
  Sink ok({{"/restart", 200}, {"/notify", 200}});
  Sink failing({{"/fail", 500}});
  std::ostringstream logs;
  RunningApp r(WriteScenario(dir, ok, failing), logs);
  ASSERT_TRUE(r.ok());
  Drive(r);
  const Scrape m = r.Metrics();
  r.Stop();

  const auto documented = DocumentedMetrics();
  ASSERT_GE(documented.size(), 15u) << "the table in " << kOperations << " was not found";
  std::set<std::string> exposed;
  for (const auto& s : m.series) {
    if (s.family.rfind("reflex_", 0) != 0) continue;
    exposed.insert(s.family);
    auto it = documented.find(s.family);
    if (it == documented.end()) {
      ADD_FAILURE() << s.family << " is exposed but not documented in " << kOperations;
      continue;
    }
    std::set<std::string> names;
    for (const auto& [k, v] : s.labels) names.insert(k);
    EXPECT_EQ(names, it->second.labels) << s.family << " is exposed with other labels";
  }
  for (const auto& [name, doc] : documented) {
    EXPECT_TRUE(exposed.count(name)) << name << " is documented but not exposed";
    if (m.types.count(name)) {
      EXPECT_EQ(m.types.at(name), doc.type) << name;
    }
  }

  // source: where an event came in, the same for the webhook and Kafka.
  std::set<std::string> sources = DocumentedValues("`source`");
  sources.insert({"events", "alerts"});  // the configured sources' names
  for (const auto& v : m.LabelValues("reflex_events_in_total", "source")) {
    EXPECT_TRUE(sources.count(v)) << "undocumented source label '" << v << "'";
  }
  const auto in = [&](const std::string& source) {
    return m.Value("reflex_events_in_total", {{"source", source}});
  };
  EXPECT_EQ(in("http"), 1) << "POST /v1/events";
  EXPECT_EQ(in("alertmanager"), 1) << "POST /v1/alertmanager";
  EXPECT_EQ(in("events"), 3) << "three messages on reflex.events";
  EXPECT_EQ(in("alerts"), 3) << "two messages on reflex.alerts and one POST ?source=alerts";

  // reason: one documented set of classes.
  const std::set<std::string> reasons = DocumentedValues("`reason`");
  ASSERT_TRUE(reasons.count("malformed_json")) << "the reason table was not found";
  for (const auto& v : m.LabelValues("reflex_dead_letters_total", "reason")) {
    EXPECT_TRUE(reasons.count(v)) << "undocumented dead-letter reason '" << v << "'";
  }
  EXPECT_EQ(m.Value("reflex_dead_letters_total", {{"reason", "malformed_json"}}), 1);
  EXPECT_EQ(m.Value("reflex_dead_letters_total", {{"reason", "bad_timestamp"}}), 1);
  EXPECT_EQ(m.Value("reflex_dead_letters_total", {{"reason", "unmappable"}}), 1);

  // The open escalations: the Mystery alerts (one shape per source) and the failed action.
  EXPECT_GE(m.Value("reflex_escalations_open", {{"kind", "unknown_event"}}), 1);
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "action_failed"}}), 1);
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "approval_expired"}}), 0);
  EXPECT_EQ(m.Value("reflex_action_breaker_state",
                    {{"target", "127.0.0.1:" + std::to_string(failing.port())}}),
            1);
}

// reflex_escalations_open follows the store: groups open before the start are counted at
// once, and an ack made from another connection (as `reflex escalations ack` does) shows at
// the next scrape.
TEST(MetricsDocsTest, OpenEscalationsGaugeFollowsTheStore) {
  TempDir dir;
  const std::string db = dir.path() + "/state/reflex.db";
  int64_t first = 0;
  {
    auto store = actions::EscalationStore::Open(db, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const char* name : {"A", "B", "C"}) {
      auto r = (*store)->RecordUnknown(
          std::string(R"({"id":"x-)") + name + R"(","labels":{"alertname":")" + name + R"("}})",
          1000);
      ASSERT_TRUE(r.ok());
      if (first == 0) first = r->group_id;
    }
    actions::ActionEscalation e;
    e.kind = actions::EscalationKind::kApprovalExpired;
    e.action = "restart";
    e.table = "svc";
    e.row = "r1";
    e.reason = "approval expired after 1h";
    ASSERT_TRUE((*store)->RecordAction(e, 1000).ok());
  }
  dir.Write("rules/tables/t.csv", "id,labels.alertname,actions\nr1,Known,ignore\n");
  const std::string cfg =
      dir.Write("reflex.yaml", "rules: " + dir.path() + "/rules\nstate_dir: " + dir.path() +
                                   "/state\nwatch_rules: false\n"
                                   "http: {listen: '127.0.0.1:0'}\n");
  std::ostringstream logs;
  RunningApp r(cfg, logs);
  ASSERT_TRUE(r.ok());
  Scrape m = r.Metrics();
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "unknown_event"}}), 3) << r.last_scrape();
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "approval_expired"}}), 1);
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "action_failed"}}), 0);

  auto other = actions::EscalationStore::Open(db, {});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Ack(first, "alice", "looking").ok());
  m = r.Metrics();
  EXPECT_EQ(m.Value("reflex_escalations_open", {{"kind", "unknown_event"}}), 2) << r.last_scrape();

  // A new unknown event opens one more.
  ASSERT_EQ(r.Post("/v1/events", R"({"id":"n-1","labels":{"alertname":"Fresh"}})"), 202);
  EXPECT_TRUE(WaitFor([&] {
    return r.Metrics().Value("reflex_escalations_open", {{"kind", "unknown_event"}}) == 3;
  })) << r.last_scrape();
}

// Each pattern of the live set has its reflex_pattern_keys series (at 0) from the first
// scrape, before the loop has reported, and a pattern a reload adds has one at once too.
// (The loop reports about once a second: a scrape that came first missed the series.)
TEST(MetricsDocsTest, EveryPatternHasItsKeysSeriesFromTheMomentItIsLive) {
  TempDir dir;
  dir.Write("rules/tables/t.csv", "id,labels.alertname,actions\nr1,Known,ignore\n");
  dir.Write("rules/patterns/p.yaml",
            "- name: disk-seen\n  kind: count\n  count: 2\n  group_by: [instance]\n"
            "  within: 1m\n  members: [{when: {alertname: DiskFull}}]\n  actions: []\n");
  const std::string cfg =
      dir.Write("reflex.yaml", "rules: " + dir.path() + "/rules\nstate_dir: " + dir.path() +
                                   "/state\nwatch_rules: false\n"
                                   "http: {listen: '127.0.0.1:0'}\n");
  std::ostringstream logs;
  RunningApp r(cfg, logs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.Metrics().Value("reflex_pattern_keys", {{"pattern", "disk-seen"}}), 0)
      << r.last_scrape();

  dir.Write("rules/patterns/q.yaml",
            "- name: oom-storm\n  kind: count\n  count: 3\n  group_by: [instance]\n"
            "  within: 10m\n  members: [{when: {alertname: OOMKill}}]\n  actions: []\n");
  r.app().ReloadRules("test");
  EXPECT_EQ(r.Metrics().Value("reflex_pattern_keys", {{"pattern", "oom-storm"}}), 0)
      << r.last_scrape();
}

std::vector<nlohmann::json> LogLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

// Log lines about one event carry its id and, where known, the table and row: an action's
// run, an action escalation, a dead letter.
TEST(EventLogTest, ActionRunsEscalationsAndDeadLettersNameTheirEvent) {
  TempDir dir;
  Sink ok({{"/restart", 200}, {"/notify", 200}});
  Sink failing({{"/fail", 500}});
  std::ostringstream logs;
  {
    RunningApp r(WriteScenario(dir, ok, failing), logs);
    ASSERT_TRUE(r.ok());
    Drive(r);
    r.Stop();
  }
  const auto lines = LogLines(logs.str());
  auto find = [&](const std::function<bool(const nlohmann::json&)>& pred) -> nlohmann::json {
    for (const auto& l : lines) {
      if (pred(l)) return l;
    }
    return nullptr;
  };
  const auto succeeded = find([](const nlohmann::json& l) {
    return l.value("action", "") == "restart_service" && l.value("outcome", "") == "succeeded";
  });
  ASSERT_FALSE(succeeded.is_null()) << "no log line for the action run:\n" << logs.str();
  EXPECT_EQ(succeeded.value("event_id", ""), "web-1");
  EXPECT_EQ(succeeded.value("table", ""), "svc");
  EXPECT_EQ(succeeded.value("row", ""), "svc-down");
  EXPECT_EQ(succeeded.value("level", ""), "info");

  const auto failed = find([](const nlohmann::json& l) {
    return l.value("action", "") == "page_broken" && l.value("outcome", "") == "failed";
  });
  ASSERT_FALSE(failed.is_null()) << logs.str();
  EXPECT_EQ(failed.value("event_id", ""), "kafka-1");
  EXPECT_EQ(failed.value("table", ""), "svc");
  EXPECT_EQ(failed.value("row", ""), "disk-full");
  EXPECT_EQ(failed.value("level", ""), "error");
  EXPECT_THAT(failed.value("error", ""), HasSubstr("500"));

  const auto escalated =
      find([](const nlohmann::json& l) { return l.value("msg", "") == "action escalated"; });
  ASSERT_FALSE(escalated.is_null()) << logs.str();
  EXPECT_EQ(escalated.value("event_id", ""), "kafka-1");
  EXPECT_EQ(escalated.value("table", ""), "svc");
  EXPECT_EQ(escalated.value("row", ""), "disk-full");

  const auto dead = find([](const nlohmann::json& l) {
    return l.value("msg", "") == "event dead-lettered" && l.value("reason", "") == "bad_timestamp";
  });
  ASSERT_FALSE(dead.is_null()) << logs.str();
  EXPECT_EQ(dead.value("event_id", ""), "bad-ts-1");
  EXPECT_EQ(dead.value("source", ""), "events");
  EXPECT_EQ(dead.value("topic", ""), "reflex.events");
  EXPECT_THAT(dead.value("error", ""), HasSubstr("timestamp"));
}

}  // namespace
}  // namespace reflex::app
