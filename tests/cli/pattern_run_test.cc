// Multi-event patterns in `reflex run`, end to end: events from Kafka (keyed by the group, as
// the input must be), the decisions on reflex.decisions, the actions over HTTP, the
// escalations in the store and the metrics. A count pattern holds its unknown members as
// `pending` and runs its action once with the matched events in its parameters; an absence
// fires on the clock with no further event; without a changelog, an event still held at
// shutdown is escalated as `evicted`, never lost; with one (the default), the state held
// when a replica is killed is read back by the next owner of the partition, and the window
// completes there. With a topology, an event from a node that depends on a node with an
// open incident is suppressed as its symptom.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../connectors/kafka_test_util.h"
#include "actions/test_server.h"
#include "reflex/connectors/embedded_broker.h"
#include "run_harness.h"

namespace reflex::cli_test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kPatterns = R"y(- name: oom-storm
  kind: count
  count: 3
  group_by: [labels.instance]
  within: 10m
  members:
    - {when: {alertname: OOMKill}}
  actions:
    - page(host="{{events.first.labels.instance}}", n="{{events.count}}")
- name: backup-never-finished
  kind: absence
  group_by: [labels.job]
  within: 2s
  members:
    - {name: start, when: {alertname: BackupStarted}}
    - {name: done, when: {alertname: BackupFinished}}
  actions:
    - page(host="{{events.first.labels.job}}", n="{{events.count}}")
- name: disk-and-backup
  kind: all_of
  group_by: [labels.instance]
  within: 1h
  members:
    - {name: disk, when: {alertname: DiskFull}}
    - {name: backup, when: {alertname: BackupFailed}}
  actions: [escalate]
)y";

// Records every call of the `page` action (the body as JSON) and starts the server.
void ServePages(actions::test::TestServer* server, std::mutex* mu, std::vector<json>* pages) {
  server->svr().Post("/page", [mu, pages](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(*mu);
    pages->push_back(json::parse(req.body, nullptr, false));
    res.status = 200;
  });
  server->Start();
}

// The rules both tests run: one table row, the `page` webhook action on `port`, kPatterns.
void WriteRules(TempDir& tmp, int port) {
  tmp.Write("rules/tables/svc.csv", "id,labels.alertname,actions\nsvc-down,ServiceDown,escalate\n");
  tmp.Write("rules/actions.yaml",
            "actions:\n  page:\n    kind: webhook\n    params: [host, n]\n"
            "    url: http://127.0.0.1:" +
                std::to_string(port) +
                "/page\n"
                "    body: {host: \"{{params.host}}\", n: \"{{params.n}}\", "
                "event: \"{{event.id}}\"}\n");
  tmp.Write("rules/patterns/p.yaml", kPatterns);
}

// The sum of the samples of `family` (every label set); -1 when there is none.
double SumOf(const std::string& metrics, const std::string& family) {
  double sum = 0;
  bool any = false;
  for (const auto& l : Lines(metrics)) {
    if (l.rfind(family + "{", 0) != 0 && l.rfind(family + " ", 0) != 0) continue;
    sum += std::stod(l.substr(l.rfind(' ') + 1));
    any = true;
  }
  return any ? sum : -1;
}

// The value of the first sample line of `metrics` that starts with `series`; -1 when none.
double Sample(const std::string& metrics, const std::string& series) {
  for (const auto& l : Lines(metrics)) {
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  }
  return -1;
}

TEST(PatternRunTest, PatternsDecideHeldEventsRunTheirActionsAndLoseNothingAtShutdown) {
  TempDir tmp;
  auto b = connectors::EmbeddedBroker::Start({});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::unique_ptr<connectors::EmbeddedBroker> broker = std::move(*b);
  for (const char* t :
       {"reflex.events", "reflex.decisions", "reflex.escalations", "reflex.dead-letter"}) {
    ASSERT_TRUE(broker->CreateTopic(t, 4).ok());
  }
  actions::test::TestServer server;  // stopped and joined however the test ends
  std::mutex mu;
  std::vector<json> pages;
  ServePages(&server, &mu, &pages);
  WriteRules(tmp, server.port());
  // web-3 depends on db-1: while db-1 has an open incident, web-3's events are its symptoms.
  tmp.Write("rules/topology/nodes.csv", "id,depends_on\ndb-1,\nweb-3,db-1\n");
  const std::string cfg = tmp.Write(
      "reflex.yaml", "rules: " + tmp.path() + "/rules\nstate_dir: " + tmp.path() +
                         "/state\nwatch_rules: false\n"
                         "kafka:\n  group_id: pattern-run-test\n  changelog_topic: ''\n"
                         "  session_timeout_ms: 6000\n  heartbeat_interval_ms: 500\n"
                         "processing: {batch_size: 20, batch_wait_ms: 5, pattern_tick: 200ms}\n"
                         "http: {listen: '127.0.0.1:0'}\n");
  // Keyed by the group: a group's events share a partition, so one stage sees them all.
  const std::vector<std::string> events = {
      R"({"id":"oom-1","labels":{"alertname":"OOMKill","instance":"web-1"}})",
      R"({"id":"oom-2","labels":{"alertname":"OOMKill","instance":"web-1"}})",
      R"({"id":"oom-3","labels":{"alertname":"OOMKill","instance":"web-1"}})",
      R"({"id":"start-1","labels":{"alertname":"BackupStarted","job":"nightly"}})",
      R"({"id":"backup-9","labels":{"alertname":"BackupFailed","instance":"db-1"}})",
      R"({"id":"svc-1","labels":{"alertname":"ServiceDown","instance":"web-2"}})"};
  ASSERT_EQ(connectors::test::ProduceAll(broker->bootstrap(), "reflex.events", events,
                                         {"web-1", "web-1", "web-1", "nightly", "db-1", "web-2"}),
            0);
  Child reflex(REFLEX_CLI_PATH, {"run", "--config", cfg, "--brokers", broker->bootstrap()},
               tmp.path() + "/out", tmp.path() + "/err");
  int port = 0;
  ASSERT_TRUE(WaitUntil([&] {
    const std::string out = ReadFile(tmp.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
    return port > 0;
  })) << ReadFile(tmp.path() + "/err");

  // The storm: one decision of the pattern, known, with every member.
  const std::string storm = WaitForDecision(broker->bootstrap(), [](const std::string& d) {
    return d.find("\"pattern:oom-storm:web-1:oom-1\"") != std::string::npos;
  });
  ASSERT_FALSE(storm.empty()) << ReadFile(tmp.path() + "/err");
  json s = json::parse(storm);
  EXPECT_EQ(s["verdict"], "known");
  EXPECT_EQ(s["pattern"]["outcome"], "matched");
  EXPECT_EQ(s["pattern"]["member_ids"], json({"oom-1", "oom-2", "oom-3"}));
  EXPECT_EQ(s["matches"][0]["actions"][0]["params"], json({{"host", "web-1"}, {"n", "3"}}));
  // The absence fires two seconds after the start, with no further event.
  const std::string absent = WaitForDecision(broker->bootstrap(), [](const std::string& d) {
    return d.find("\"pattern:backup-never-finished:nightly:start-1\"") != std::string::npos;
  });
  ASSERT_FALSE(absent.empty()) << ReadFile(tmp.path() + "/err");
  EXPECT_EQ(json::parse(absent)["pattern"]["outcome"], "absent");
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard<std::mutex> l(mu);
    return pages.size() >= 2;
  })) << ReadFile(tmp.path() + "/err");

  // The backup failure at db-1 opened an incident there (and is pending in its pattern): a
  // ServiceDown from web-3 is its symptom, suppressed, its `escalate` not run.
  ASSERT_FALSE(WaitForDecision(broker->bootstrap(), [](const std::string& d) {
                 return d.find("\"event_id\":\"backup-9\"") != std::string::npos;
               }).empty());
  ASSERT_EQ(
      connectors::test::ProduceAll(
          broker->bootstrap(), "reflex.events",
          {R"({"id":"svc-3","labels":{"alertname":"ServiceDown","instance":"web-3"}})"}, {"web-3"}),
      0);
  const std::string symptom = WaitForDecision(broker->bootstrap(), [](const std::string& d) {
    return d.find("\"event_id\":\"svc-3\"") != std::string::npos;
  });
  ASSERT_FALSE(symptom.empty()) << ReadFile(tmp.path() + "/err");
  json sy = json::parse(symptom);
  EXPECT_EQ(sy["verdict"], "suppressed");
  EXPECT_EQ(sy["muted_by"], json({{"root_cause", "db-1"},
                                  {"root_event", "backup-9"},
                                  {"path", {"web-3", "db-1"}},
                                  {"symptoms", 1}}));
  EXPECT_TRUE(sy["matches"][0].contains("not_run"));

  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(5);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_EQ(Sample(metrics->body,
                   R"(reflex_pattern_outcomes_total{outcome="matched",pattern="oom-storm"})"),
            1);
  EXPECT_EQ(
      Sample(metrics->body,
             R"(reflex_pattern_outcomes_total{outcome="absent",pattern="backup-never-finished"})"),
      1);
  EXPECT_EQ(Sample(metrics->body, R"(reflex_decisions_total{verdict="pending"})"), 4)
      << "three OOM kills and the backup failure waited for their patterns";
  ASSERT_TRUE(WaitUntil([&] {
    auto m = http.Get("/metrics");
    return m && Sample(m->body, R"(reflex_pattern_keys{pattern="disk-and-backup"})") == 1 &&
           Sample(m->body, "reflex_pattern_pending_events") == 1;
  })) << "the backup failure is held";

  // Shutdown: the held backup failure leaves as evicted and is escalated.
  reflex.Signal(SIGTERM);
  ASSERT_EQ(reflex.Wait(std::chrono::seconds(60)), 0) << ReadFile(tmp.path() + "/err");
  server.Stop();
  const std::string evicted = WaitForDecision(broker->bootstrap(), [](const std::string& d) {
    return d.find("\"pattern:disk-and-backup:db-1:backup-9\"") != std::string::npos;
  });
  ASSERT_FALSE(evicted.empty());
  json e = json::parse(evicted);
  EXPECT_EQ(e["verdict"], "unknown");
  EXPECT_EQ(e["pattern"]["outcome"], "evicted");
  EXPECT_EQ(e["pattern"]["pending_ids"], json({"backup-9"}));

  // One page per fired pattern, with the matched events in its parameters.
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(pages.size(), 2u);
  std::vector<std::string> got;
  for (const auto& p : pages) got.push_back(p.value("host", "") + "/" + p.value("n", ""));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"nightly/1", "web-1/3"}));

  // Escalations: the known service alert ran `escalate`; the OOM kills were decided by their
  // pattern, not escalated one by one; the evicted backup failure was.
  CliResult esc =
      RunCli({"escalations", "list", "--db", tmp.path() + "/state/reflex.db", "--json"});
  ASSERT_EQ(esc.exit_code, 0) << esc.Describe();
  EXPECT_THAT(esc.out, HasSubstr("disk-and-backup"));
  EXPECT_THAT(esc.out, ::testing::Not(HasSubstr("OOMKill")));
  int svc_down = -1;
  for (const auto& g : json::parse(esc.out)) {
    if (g.value("row", "") == "svc-down") svc_down = g["count"].get<int>();
  }
  EXPECT_EQ(svc_down, 1) << "svc-1 ran `escalate`; its symptom svc-3 did not: " << esc.out;
}

// The changelog, across replicas: two `reflex run` processes in one consumer group; two OOM
// kills are held (pending) by a count pattern on the replica that owns their partition when
// it is killed with SIGKILL; the survivor takes the partition over, reads its state back
// before deciding, and the third kill completes the storm there: one decision with all three
// members, one page, no kill decided twice.
TEST(PatternRunTest, TheSurvivorOfAKilledReplicaReadsItsPatternStateBackAndCompletesIt) {
  TempDir tmp;
  auto b = connectors::EmbeddedBroker::Start({});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::unique_ptr<connectors::EmbeddedBroker> broker = std::move(*b);
  for (const char* t : {"reflex.events", "reflex.decisions", "reflex.escalations",
                        "reflex.dead-letter", "reflex.pattern-changelog"}) {
    ASSERT_TRUE(broker->CreateTopic(t, 4).ok());
  }
  actions::test::TestServer server;  // stopped and joined however the test ends
  std::mutex mu;
  std::vector<json> pages;
  ServePages(&server, &mu, &pages);
  WriteRules(tmp, server.port());
  // One config per replica: its own state directory (each keeps its own SQLite store).
  const auto cfg = [&](int i) {
    return tmp.Write("reflex" + std::to_string(i) + ".yaml",
                     "rules: " + tmp.path() + "/rules\nstate_dir: " + tmp.path() + "/state" +
                         std::to_string(i) +
                         "\nwatch_rules: false\n"
                         "kafka:\n  group_id: pattern-changelog-test\n"
                         "processing: {batch_size: 20, batch_wait_ms: 5, pattern_tick: 200ms}\n"
                         "http: {listen: '127.0.0.1:0'}\n");
  };
  const auto port_of = [&](const std::string& out_file) {
    int port = 0;
    EXPECT_TRUE(WaitUntil([&] {
      const std::string out = ReadFile(out_file);
      const size_t at = out.find("http://127.0.0.1:");
      if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
      return port > 0;
    }));
    return port;
  };
  const auto oom = [](int n) {
    return R"({"id":"oom-)" + std::to_string(n) +
           R"(","labels":{"alertname":"OOMKill","instance":"web-1"}})";
  };
  const auto err_of = [&](int i) { return tmp.path() + "/err" + std::to_string(i); };

  std::unique_ptr<Child> replica[2];
  int port[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    replica[i] = std::make_unique<Child>(
        REFLEX_CLI_PATH,
        std::vector<std::string>{"run", "--config", cfg(i), "--brokers", broker->bootstrap()},
        tmp.path() + "/out" + std::to_string(i), err_of(i));
    port[i] = port_of(tmp.path() + "/out" + std::to_string(i));
    ASSERT_GT(port[i], 0) << ReadFile(err_of(i));
  }
  // Both own partitions (each read its changelog partitions back on its assignment).
  ASSERT_TRUE(WaitUntil([&] {
    return CountOf(ReadFile(err_of(0)), "pattern state read back") >= 1 &&
           CountOf(ReadFile(err_of(1)), "pattern state read back") >= 1;
  })) << ReadFile(err_of(0))
      << ReadFile(err_of(1));
  ASSERT_EQ(connectors::test::ProduceAll(broker->bootstrap(), "reflex.events", {oom(1), oom(2)},
                                         {"web-1", "web-1"}),
            0);
  for (const char* id : {"oom-1", "oom-2"}) {
    const std::string d = WaitForDecision(broker->bootstrap(), [&](const std::string& x) {
      return x.find("\"event_id\":\"" + std::string(id) + "\"") != std::string::npos;
    });
    ASSERT_FALSE(d.empty()) << ReadFile(err_of(0)) << ReadFile(err_of(1));
    EXPECT_EQ(json::parse(d)["verdict"], "pending");
  }
  // The group's state, both kills held, is in the changelog.
  const std::string record =
      WaitForRecord(broker->bootstrap(), "reflex.pattern-changelog",
                    [](const std::string& x) { return x.find("\"oom-2\"") != std::string::npos; });
  ASSERT_FALSE(record.empty());
  json st = json::parse(record);
  EXPECT_EQ(st["pattern"], "oom-storm");
  EXPECT_EQ(st["held"].size(), 2u);
  // Which replica holds them: the one that decided them pending; its offsets committed.
  int owner = -1;
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < 2; ++i) {
      httplib::Client http("127.0.0.1", port[i]);
      http.set_read_timeout(5);
      auto m = http.Get("/metrics");
      if (m && Sample(m->body, R"(reflex_decisions_total{verdict="pending"})") == 2 &&
          SumOf(m->body, "reflex_consumer_lag") == 0) {
        owner = i;
      }
    }
    return owner >= 0;
  })) << "one replica decided both kills and committed them";
  const int survivor = 1 - owner;

  replica[owner]->Signal(SIGKILL);
  ASSERT_EQ(replica[owner]->Wait(std::chrono::seconds(30)), 128 + SIGKILL);
  // The group notices the death (the default session timeout, 6 s) and gives the survivor
  // the partitions; it reads the moved one's state back.
  const auto killed_at = std::chrono::steady_clock::now();
  httplib::Client http("127.0.0.1", port[survivor]);
  http.set_read_timeout(5);
  ASSERT_TRUE(WaitUntil([&] {
    auto m = http.Get("/metrics");
    return m && Sample(m->body, "reflex_pattern_restored_groups_total") == 1;
  })) << ReadFile(err_of(survivor));
  // Reported, not asserted (no timing thresholds in tests): the failover time.
  std::printf("failover: the survivor restored the moved partition's state %.1f s after the kill\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count());
  ASSERT_EQ(connectors::test::ProduceAll(broker->bootstrap(), "reflex.events", {oom(3)}, {"web-1"}),
            0);
  const std::string storm = WaitForDecision(broker->bootstrap(), [](const std::string& d) {
    return d.find("\"pattern:oom-storm:web-1:oom-1\"") != std::string::npos;
  });
  ASSERT_FALSE(storm.empty()) << ReadFile(err_of(survivor));
  json s = json::parse(storm);
  EXPECT_EQ(s["verdict"], "known");
  EXPECT_EQ(s["pattern"]["member_ids"], json({"oom-1", "oom-2", "oom-3"}));
  EXPECT_EQ(s["pattern"]["pending_ids"], json({"oom-1", "oom-2", "oom-3"}))
      << "the two kills were still pending after the move: decided by the storm";
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard<std::mutex> l(mu);
    return !pages.empty();
  })) << ReadFile(err_of(survivor));

  replica[survivor]->Signal(SIGTERM);
  ASSERT_EQ(replica[survivor]->Wait(std::chrono::seconds(60)), 0) << ReadFile(err_of(survivor));
  server.Stop();
  // Every kill decided once (its offsets were committed before the kill), one page with n=3.
  const std::vector<std::string> all = KcatReadAll(broker->bootstrap(), "reflex.decisions", 4);
  int oom1 = 0;
  for (const auto& d : all) oom1 += d.find("\"event_id\":\"oom-1\"") != std::string::npos;
  EXPECT_EQ(oom1, 1);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].value("host", "") + "/" + pages[0].value("n", ""), "web-1/3");
}

}  // namespace
}  // namespace reflex::cli_test
