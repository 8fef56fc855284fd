// `reflex run` as a process, against a broker that outlives it: the test process hosts the
// embedded broker (librdkafka's mock cluster) and drives it with kcat as the outside producer
// and consumer. Covers: kcat in, kcat out, verdicts equal to `reflex replay`; SIGKILL in the
// middle of a stream and a restart leave no event without a decision; SIGTERM shuts down
// cleanly with exit 0; SIGHUP reloads the rules; the webhook feeds the same pipeline;
// --check-config errors name the key; a crash loop (SIGKILL at random points, several times, with
// webhook actions) loses no decision and performs no action twice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "../connectors/kafka_test_util.h"
#include "actions/test_server.h"
#include "reflex/connectors/embedded_broker.h"
#include "run_harness.h"

namespace reflex::cli_test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kExamples = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";

std::map<std::string, int> ReplayVerdicts(const std::string& events_file) {
  CliResult r = RunCli({"replay", events_file, "--rules", kExamples, "-q"});
  std::map<std::string, int> counts;
  for (const auto& l : Lines(r.out)) {
    ++counts[nlohmann::json::parse(l)["verdict"].get<std::string>()];
  }
  return counts;
}

class RunModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = connectors::EmbeddedBroker::Start({});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    for (const char* t :
         {"reflex.events", "reflex.decisions", "reflex.escalations", "reflex.dead-letter"}) {
      ASSERT_TRUE(broker_->CreateTopic(t, 4).ok());
    }
    config_ = Config("reflex.yaml", "{batch_size: 20, batch_wait_ms: 5}");
  }

  std::string Config(const std::string& name, const std::string& processing) {
    return tmp_.Write(name, "rules: " + kExamples +
                                "\n"
                                "state_dir: " +
                                tmp_.path() +
                                "/state\n"
                                "watch_rules: false\n"
                                "kafka:\n"
                                "  group_id: run-mode-test\n"
                                "  session_timeout_ms: 6000\n  heartbeat_interval_ms: 500\n"
                                "processing: " +
                                processing +
                                "\n"
                                "http: {enabled: false}\n");
  }

  std::vector<std::string> RunArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"run",       "--config",           config_,
                                  "--brokers", broker_->bootstrap(), "--dry-run"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  TempDir tmp_;
  std::unique_ptr<connectors::EmbeddedBroker> broker_;
  std::string config_;
};

TEST_F(RunModeTest, KcatInKcatOutVerdictsEqualReplay) {
  const std::string events = kExamples + "/events/sample.jsonl";
  const auto lines = Lines(ReadFile(events));
  KcatProduce(broker_->bootstrap(), "reflex.events", events);
  Child reflex(REFLEX_CLI_PATH, RunArgs({"--max-events", std::to_string(lines.size())}),
               tmp_.path() + "/out", tmp_.path() + "/err");
  ASSERT_EQ(reflex.Wait(std::chrono::seconds(120)), 0) << ReadFile(tmp_.path() + "/err");

  auto decisions = KcatReadAll(broker_->bootstrap(), "reflex.decisions", lines.size());
  ASSERT_EQ(decisions.size(), lines.size());
  std::map<std::string, int> counts;
  for (const auto& d : decisions) ++counts[nlohmann::json::parse(d)["verdict"].get<std::string>()];
  EXPECT_EQ(counts, ReplayVerdicts(events));
  // Structured logs: every stderr line is a JSON object with ts, level and msg.
  for (const auto& l : Lines(ReadFile(tmp_.path() + "/err"))) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    ASSERT_TRUE(j.is_object()) << l;
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << l;
  }
}

TEST_F(RunModeTest, KilledMidStreamAndRestartedLeavesNoEventUndecided) {
  // 1,000 events, distinct ids, produced before the engine starts (well under the mock's
  // per-partition retention).
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    body +=
        R"({"id":"k)" + std::to_string(i) +
        R"(","labels":{"alertname":"NodeFilesystemAlmostOutOfSpace","severity":"critical","instance":"web-)" +
        std::to_string(i % 9) + R"("},"values":{"usage":97}})" + "\n";
  }
  const std::string file = tmp_.Write("events.jsonl", body);
  KcatProduce(broker_->bootstrap(), "reflex.events", file);
  // A slow broker and one small batch in flight: the stream takes tens of seconds, so the
  // kill lands in the middle of it.
  ASSERT_TRUE(broker_->SetBrokerRtt(1, 40).ok());
  const std::string slow =
      Config("slow.yaml", "{batch_size: 5, batch_wait_ms: 1, max_in_flight_batches: 1}");
  {
    Child first(REFLEX_CLI_PATH,
                {"run", "--config", slow, "--brokers", broker_->bootstrap(), "--dry-run"},
                tmp_.path() + "/out1", tmp_.path() + "/err1");
    // Wait until some decisions are out, then kill without warning.
    for (int i = 0; i < 120; ++i) {
      if (KcatReadAll(broker_->bootstrap(), "reflex.decisions", 0).size() >= 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    first.Signal(SIGKILL);
    EXPECT_EQ(first.Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  const size_t before_restart = KcatReadAll(broker_->bootstrap(), "reflex.decisions", 0).size();
  EXPECT_LT(before_restart, 1000u) << "the kill came after the whole stream; nothing tested";
  ASSERT_TRUE(broker_->SetBrokerRtt(1, 0).ok());

  Child second(REFLEX_CLI_PATH, RunArgs(), tmp_.path() + "/out2", tmp_.path() + "/err2");
  std::set<std::string> ids;
  for (int i = 0; i < 120 && ids.size() < 1000; ++i) {
    ids.clear();
    for (const auto& d : KcatReadAll(broker_->bootstrap(), "reflex.decisions", 0)) {
      ids.insert(nlohmann::json::parse(d)["event_id"].get<std::string>());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ids.size(), 1000u) << "at-least-once: every event has a decision after the restart";
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(std::chrono::seconds(60)), 0) << ReadFile(tmp_.path() + "/err2");
  EXPECT_THAT(ReadFile(tmp_.path() + "/err2"), HasSubstr("\"msg\":\"reflex stopped\""));
}

TEST_F(RunModeTest, SighupReloadsRulesAndARefusedSetKeepsServing) {
  const std::string rules = tmp_.path() + "/rules";
  fs::copy(kExamples, rules, fs::copy_options::recursive);
  Child reflex(REFLEX_CLI_PATH, RunArgs({"--rules", rules}), tmp_.path() + "/out",
               tmp_.path() + "/err");
  auto log_has = [&](const std::string& needle) {
    for (int i = 0; i < 300; ++i) {
      if (ReadFile(tmp_.path() + "/err").find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(log_has("\"msg\":\"reflex running\""));
  {
    std::ofstream bad(rules + "/tables/zz_bad.csv");
    bad << "id,labels.alertname,actions\nr1,/unclosed(/,escalate\n";
  }
  reflex.Signal(SIGHUP);
  EXPECT_TRUE(log_has("\"msg\":\"rules refused\""));
  EXPECT_THAT(ReadFile(tmp_.path() + "/err"), HasSubstr("zz_bad.csv:2:"));
  fs::remove(rules + "/tables/zz_bad.csv");
  {
    std::ofstream good(rules + "/tables/zz_new.csv");
    good << "id,labels.alertname,actions\nnew-row,BrandNewAlert,escalate\n";
  }
  reflex.Signal(SIGHUP);
  EXPECT_TRUE(log_has("\"trigger\":\"sighup\""));
  // The new row decides an event produced after the reload.
  const std::string ev =
      tmp_.Write("one.jsonl", R"({"id":"after-reload","labels":{"alertname":"BrandNewAlert"}})"
                              "\n");
  KcatProduce(broker_->bootstrap(), "reflex.events", ev);
  const std::string decision = WaitForDecision(
      broker_->bootstrap(), [](const std::string& d) { return d.find("after-reload") != d.npos; });
  ASSERT_FALSE(decision.empty());
  auto j = nlohmann::json::parse(decision);
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_EQ(j["matches"][0]["row"], "new-row");
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0);
}

// The action catalog (actions.yaml) goes live with the rules: a catalog edit that fails its
// strict checks is refused on reload (file:line:col in the log) while the old catalog keeps
// running actions, and a good edit (here: approval required) applies to the next event.
TEST_F(RunModeTest, ActionCatalogReloadsWithTheRules) {
  actions::test::TestServer server;  // stopped and joined however the test ends
  httplib::Server& sink = server.svr();
  std::atomic<int> calls{0};
  sink.Post("/restart", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 200;
  });
  server.Start();
  const int port = server.port();
  const std::string rules = tmp_.path() + "/rules";
  tmp_.Write("rules/tables/svc.csv",
             "id,labels.alertname,actions,param.host\n"
             "svc-down,ServiceDown,restart_service,{{labels.instance}}\n");
  const std::string action =
      "  restart_service:\n"
      "    kind: webhook\n"
      "    params: [host]\n"
      "    url: http://127.0.0.1:" +
      std::to_string(port) + "/restart\n";
  tmp_.Write("rules/actions.yaml", "actions:\n" + action);
  const std::string err = tmp_.path() + "/err";
  auto log_count = [&](const std::string& needle) { return CountOf(ReadFile(err), needle); };
  auto produce = [&](const std::string& id) {
    const std::string file = tmp_.Write(
        id + ".jsonl", R"({"id":")" + id +
                           R"(","labels":{"alertname":"ServiceDown","instance":"web-1"}})"
                           "\n");
    KcatProduce(broker_->bootstrap(), "reflex.events", file);
  };
  const std::string state = tmp_.path() + "/state";
  produce("sd-1");
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", config_, "--brokers", broker_->bootstrap(), "--rules", rules,
                "--max-events", "3"},
               tmp_.path() + "/out", err);
  ASSERT_TRUE(WaitUntil([&] { return calls.load() == 1; })) << ReadFile(err);

  // A catalog the rules' loader reads by name, but whose retries are not a number.
  tmp_.Write("rules/actions.yaml", "actions:\n" + action + "    retries: lots\n");
  reflex.Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return log_count("\"msg\":\"rules refused\"") == 1; }))
      << ReadFile(err);
  EXPECT_THAT(ReadFile(err), ::testing::ContainsRegex("actions.yaml:6:[0-9]+:"));
  produce("sd-2");
  ASSERT_TRUE(WaitUntil([&] { return calls.load() == 2; }))
      << "the old catalog keeps running actions\n"
      << ReadFile(err);

  tmp_.Write("rules/actions.yaml", "actions:\n" + action + "    approval: required\n");
  reflex.Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return log_count("\"msg\":\"rules reloaded\"") >= 1; }))
      << ReadFile(err);
  produce("sd-3");
  ASSERT_EQ(reflex.Wait(std::chrono::seconds(120)), 0) << ReadFile(err);
  server.Stop();
  EXPECT_EQ(calls.load(), 2) << "the reloaded catalog requires approval: sd-3 must wait for it";
  CliResult list = RunCli({"actions", "list", "--db", state + "/reflex.db", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  std::map<std::string, std::string> state_of;  // event id -> run state
  for (const auto& l : Lines(list.out)) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (!j.is_array()) continue;
    for (const auto& r : j) state_of[r.value("event_id", "")] = r.value("state", "");
  }
  EXPECT_EQ(state_of["sd-1"], "succeeded") << list.out;
  EXPECT_EQ(state_of["sd-2"], "succeeded") << list.out;
  EXPECT_EQ(state_of["sd-3"], "awaiting_approval") << list.out;
}

// A table whose own test cases fail neither starts nor replaces the running set; the old
// set keeps deciding. `reflex test` calls the same set NOT VERIFIED.
TEST_F(RunModeTest, ASetWhoseCasesFailIsRefusedAtStartAndOnSighup) {
  const std::string rules = tmp_.path() + "/rules";
  fs::copy(kExamples, rules, fs::copy_options::recursive);
  const std::string failing = tmp_.path() + "/failing";
  fs::copy(kExamples, failing, fs::copy_options::recursive);
  const std::string table = "id,labels.alertname,actions\nnew-row,BrandNewAlert,escalate\n";
  const std::string cases =
      "case,expect_verdict,expect_row,alertname\n"
      "wrong on purpose,suppressed,new-row,BrandNewAlert\n";
  tmp_.Write("failing/tables/zz_new.csv", table);
  tmp_.Write("failing/tables/zz_new.cases.csv", cases);
  CliResult tested = RunCli({"test", failing});
  EXPECT_EQ(tested.exit_code, 1) << tested.Describe();
  EXPECT_THAT(tested.out, HasSubstr("NOT VERIFIED"));

  const std::string why =
      "/tables/zz_new.cases.csv:2: table zz_new: case 'wrong on purpose' "
      "failed: expected suppressed zz_new/new-row, got known zz_new/new-row";
  CliResult check = RunCli({"run", "--config", config_, "--rules", failing, "--check-config"});
  EXPECT_EQ(check.exit_code, 1) << check.Describe();
  EXPECT_THAT(check.err, HasSubstr(failing + why));
  CliResult start = RunCli(RunArgs({"--rules", failing}));
  EXPECT_EQ(start.exit_code, 1) << start.Describe();
  EXPECT_THAT(start.err, HasSubstr(failing + why));

  Child reflex(REFLEX_CLI_PATH, RunArgs({"--rules", rules}), tmp_.path() + "/out",
               tmp_.path() + "/err");
  auto log_has = [&](const std::string& needle) {
    for (int i = 0; i < 300; ++i) {
      if (ReadFile(tmp_.path() + "/err").find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(log_has("\"msg\":\"reflex running\""));
  tmp_.Write("rules/tables/zz_new.csv", table);
  tmp_.Write("rules/tables/zz_new.cases.csv", cases);
  reflex.Signal(SIGHUP);
  ASSERT_TRUE(log_has("\"msg\":\"rules refused\"")) << ReadFile(tmp_.path() + "/err");
  EXPECT_THAT(ReadFile(tmp_.path() + "/err"), HasSubstr("case 'wrong on purpose' failed"));
  // The old set decides: it has no row for the new alert.
  const std::string ev =
      tmp_.Write("one.jsonl", R"({"id":"after-refusal","labels":{"alertname":"BrandNewAlert"}})"
                              "\n");
  KcatProduce(broker_->bootstrap(), "reflex.events", ev);
  const std::string decision = WaitForDecision(
      broker_->bootstrap(), [](const std::string& d) { return d.find("after-refusal") != d.npos; });
  ASSERT_FALSE(decision.empty());
  EXPECT_EQ(nlohmann::json::parse(decision)["verdict"], "unknown") << decision;
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0);
}

TEST_F(RunModeTest, WebhookEventsReachTheSamePipelineAndMetricsCountThem) {
  const std::string cfg =
      tmp_.Write("web.yaml", "rules: " + kExamples + "\nstate_dir: " + tmp_.path() +
                                 "/state\nwatch_rules: false\n"
                                 "kafka: {group_id: web-test}\n"
                                 "processing: {batch_wait_ms: 5}\n"
                                 "http: {listen: '127.0.0.1:0', token_env: WEBHOOK_TEST_TOKEN}\n");
  setenv("WEBHOOK_TEST_TOKEN", "s3cret", 1);
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--dry-run"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  // The bound port is printed on stdout.
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    const std::string out = ReadFile(tmp_.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << ReadFile(tmp_.path() + "/err");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string am =
      R"({"version":"4","status":"firing","receiver":"reflex","groupKey":"g","alerts":[)"
      R"({"status":"firing","labels":{"alertname":"NodeFilesystemAlmostOutOfSpace","severity":"critical",)"
      R"("instance":"db-01:9100","mountpoint":"/var/lib/postgresql"},"annotations":{"summary":"disk full"},)"
      R"("startsAt":"2026-11-24T03:12:00Z","fingerprint":"abc"}]})";
  const std::string body = tmp_.Write("am.json", am);
  auto curl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*"});
    TempDir t;
    Child c("/usr/bin/curl", args, t.path() + "/o", t.path() + "/e");
    EXPECT_EQ(c.Wait(std::chrono::seconds(30)), 0) << ReadFile(t.path() + "/e");
    return ReadFile(t.path() + "/o");
  };
  const std::string json = "Content-Type: application/json";
  EXPECT_EQ(curl({"-X", "POST", "-H", json, "--data-binary", "@" + body, url + "/v1/alertmanager"}),
            "401");
  EXPECT_EQ(curl({"-X", "POST", "-H", json, "-H", "Authorization: Bearer s3cret", "--data-binary",
                  "@" + body, url + "/v1/alertmanager"}),
            "202");
  const std::string decision = WaitForDecision(broker_->bootstrap(), [](const std::string& d) {
    return d.find("\"source\":\"alertmanager\"") != d.npos;
  });
  ASSERT_FALSE(decision.empty()) << ReadFile(tmp_.path() + "/err");
  const auto dj = nlohmann::json::parse(decision);
  EXPECT_EQ(dj["event_id"].get<std::string>().rfind("abc", 0), 0u) << decision;
  const std::string verdict = dj["verdict"];
  EXPECT_EQ(curl({url + "/readyz"}), "200");
  TempDir t;
  Child m("/usr/bin/curl", {"-s", "--noproxy", "*", url + "/metrics"}, t.path() + "/o",
          t.path() + "/e");
  ASSERT_EQ(m.Wait(std::chrono::seconds(30)), 0);
  const std::string metrics = ReadFile(t.path() + "/o");
  EXPECT_THAT(metrics, HasSubstr("reflex_decisions_total{verdict=\"" + verdict + "\"} 1"));
  // Counted under the webhook route it came in by, not the ingest topic's source.
  EXPECT_THAT(metrics, HasSubstr("reflex_events_in_total{source=\"alertmanager\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("reflex_events_in_total{source=\"events\"} 0"));
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0);
}

// POST /v1/alertmanager maps with the config's alertmanager source, options included: the
// `cpu` annotation ("97.5") becomes values.cpu and decides the `values.cpu >= 95` row.
// Before, the endpoint always used the plain kind and the alert was unknown.
TEST_F(RunModeTest, AlertmanagerWebhookUsesTheSourceMappingOptions) {
  ASSERT_TRUE(broker_->CreateTopic("alerts.am", 1).ok());
  tmp_.Write("am-rules/tables/cpu.csv",
             "id,alertname,values.cpu,action\n"
             "cpu-hot,NodeCPUHighUsage,>= 95,escalate\n");
  const std::string cfg = tmp_.Write(
      "am-web.yaml", "rules: " + tmp_.path() + "/am-rules\nstate_dir: " + tmp_.path() +
                         "/state\nwatch_rules: false\n"
                         "kafka: {group_id: am-web-test}\n"
                         "processing: {batch_wait_ms: 5}\n"
                         "sources:\n"
                         "  - {name: events, topics: [reflex.events]}\n"
                         "  - name: am\n"
                         "    topics: [alerts.am]\n"
                         "    mapping: {kind: alertmanager, values_from_annotations: [cpu]}\n"
                         "http: {listen: '127.0.0.1:0'}\n");
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--dry-run"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    const std::string out = ReadFile(tmp_.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << ReadFile(tmp_.path() + "/err");
  const std::string body = tmp_.Write(
      "cpu.json",
      R"({"version":"4","status":"firing","receiver":"reflex","groupKey":"g","alerts":[)"
      R"({"status":"firing","labels":{"alertname":"NodeCPUHighUsage","instance":"web-01:9100"},)"
      R"("annotations":{"summary":"CPU busy","cpu":"97.5"},)"
      R"("startsAt":"2026-11-24T03:12:00Z","fingerprint":"cpu1"}]})");
  TempDir t;
  Child c("/usr/bin/curl",
          {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*", "-X", "POST", "-H",
           "Content-Type: application/json", "--data-binary", "@" + body,
           "http://127.0.0.1:" + std::to_string(port) + "/v1/alertmanager"},
          t.path() + "/o", t.path() + "/e");
  ASSERT_EQ(c.Wait(std::chrono::seconds(30)), 0) << ReadFile(t.path() + "/e");
  EXPECT_EQ(ReadFile(t.path() + "/o"), "202");
  const std::string decision = WaitForDecision(
      broker_->bootstrap(), [](const std::string& d) { return d.find("cpu1-") != d.npos; });
  ASSERT_FALSE(decision.empty()) << ReadFile(tmp_.path() + "/err");
  const auto dj = nlohmann::json::parse(decision);
  EXPECT_EQ(dj["verdict"], "known") << decision;
  ASSERT_FALSE(dj["matches"].empty()) << decision;
  EXPECT_EQ(dj["matches"][0]["row"], "cpu-hot");
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0);
}

// One message must not stall the engine. A ~900 KB malformed message whose dead-letter copy
// the producer refuses (message.max.bytes), then events on every partition, then the broker
// refuses every Produce for a while: /readyz answers 503 with the reason and
// reflex_consumer_lag shows the waiting events; once the broker answers, every event is
// decided, the dead letter is there cut with its reason, /readyz is 200, the lag is 0, and
// SIGTERM exits 0 at once. Before, the copy was retried for ever, /readyz stayed 200, the
// lag read 0, and SIGTERM took the whole shutdown timeout and exited 4.
TEST_F(RunModeTest, AStuckOutputShowsInReadyzAndLagAndNeverStallsTheEngine) {
  const std::string huge = R"({"id":"huge","labels":{"blob":")" + std::string(900000, 'x');
  ASSERT_EQ(connectors::test::ProduceAll(broker_->bootstrap(), "reflex.events", {huge}, {"h"}), 0);
  std::vector<std::string> events, keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("k" + std::to_string(i));
    events.push_back(
        R"({"id":"ev)" + std::to_string(i) +
        R"(","labels":{"alertname":"NodeFilesystemAlmostOutOfSpace","severity":"critical"}})");
  }
  ASSERT_EQ(connectors::test::ProduceAll(broker_->bootstrap(), "reflex.events", events, keys), 0);
  std::set<int32_t> partitions;
  for (const auto& r : connectors::test::ConsumeAll(broker_->bootstrap(), "reflex.events", 41)) {
    partitions.insert(r.partition);
  }
  ASSERT_EQ(partitions.size(), 4u) << "events on every partition";
  // From here on only reflex produces: every Produce request fails with a retriable error.
  std::vector<rd_kafka_resp_err_t> errs(100000, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_push_request_errors_array(broker_->cluster(), /*Produce=*/0, errs.size(),
                                          errs.data());
  const std::string cfg = tmp_.Write(
      "stuck.yaml", "rules: " + kExamples + "\nstate_dir: " + tmp_.path() +
                        "/state\nwatch_rules: false\n"
                        "kafka:\n"
                        "  group_id: stuck-test\n"
                        "  dead_letter_max_bytes: 2048\n"
                        "  session_timeout_ms: 6000\n  heartbeat_interval_ms: 500\n"
                        "  properties: {message.max.bytes: '300000', message.timeout.ms: '500'}\n"
                        "processing: {batch_size: 5, batch_wait_ms: 5, max_in_flight_batches: 2, "
                        "output_retry_attempts: 1000, output_retry_backoff_ms: 100, "
                        "output_retry_max_backoff_ms: 200, stuck_after_ms: 1000, "
                        "shutdown_timeout_ms: 20000}\n"
                        "http: {listen: '127.0.0.1:0'}\n");
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--dry-run"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    const std::string out = ReadFile(tmp_.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << ReadFile(tmp_.path() + "/err");
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  // Sum of reflex_consumer_lag over the partitions of reflex.events (-1: not reported).
  auto total_lag = [&]() -> int64_t {
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return -1;
    int64_t sum = -1;
    for (const auto& l : Lines(res->body)) {
      if (l.rfind("reflex_consumer_lag{", 0) == 0 && l.find("reflex.events") != l.npos) {
        sum = std::max<int64_t>(sum, 0) + std::atoll(l.c_str() + l.rfind(' ') + 1);
      }
    }
    return sum;
  };
  // Stuck: /readyz says why, the lag shows the waiting events.
  std::string reason;
  int64_t lag_while_stuck = -1;
  for (int i = 0; i < 300; ++i) {  // at most ~30 s
    auto res = http.Get("/readyz");
    if (res && res->status == 503 && res->body.find("retrying") != std::string::npos) {
      reason = res->body;
      lag_while_stuck = std::max(lag_while_stuck, total_lag());
      if (lag_while_stuck > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(reason, HasSubstr("the broker refused")) << ReadFile(tmp_.path() + "/err");
  EXPECT_GT(lag_while_stuck, 0) << "reflex_consumer_lag shows the events waiting";

  // The broker answers again: everything flows, nothing is left behind.
  rd_kafka_mock_clear_request_errors(broker_->cluster(), /*Produce=*/0);
  std::set<std::string> ids;
  for (int i = 0; i < 60 && ids.size() < events.size(); ++i) {
    ids.clear();
    for (const auto& d : KcatReadAll(broker_->bootstrap(), "reflex.decisions", 0)) {
      ids.insert(nlohmann::json::parse(d)["event_id"].get<std::string>());
    }
    if (ids.size() < events.size()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(ids.size(), events.size()) << "every event after the huge one is decided";
  int ready = 0;
  for (int i = 0; i < 300 && ready != 200; ++i) {
    auto res = http.Get("/readyz");
    ready = res ? res->status : 0;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready, 200);
  int64_t lag = -1;
  for (int i = 0; i < 100 && lag != 0; ++i) {
    lag = total_lag();
    if (lag != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(lag, 0) << "every partition committed up to its high watermark";
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("reflex_dead_letters_truncated_total 1"));
  auto dead = connectors::test::ConsumeAll(broker_->bootstrap(), "reflex.dead-letter", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, huge.substr(0, 2048));
  EXPECT_EQ(dead[0].headers["reflex-truncated"], std::to_string(huge.size()));
  EXPECT_THAT(dead[0].headers["reflex-truncated-reason"], HasSubstr("too large"));

  const auto stop_at = std::chrono::steady_clock::now();
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(30)), 0) << ReadFile(tmp_.path() + "/err");
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, std::chrono::seconds(5))
      << "SIGTERM does not wait out the shutdown timeout";
}

// Not a dry run: known incidents call a real webhook on 127.0.0.1, unknown ones become
// escalations, and `reflex actions list` / `reflex escalations list` show both.
TEST_F(RunModeTest, KnownIncidentsRunWebhookActionsAndUnknownOnesAreEscalated) {
  actions::test::TestServer server;  // stopped and joined however the test ends
  httplib::Server& sink = server.svr();
  std::mutex mu;
  std::vector<std::string> bodies;
  std::set<std::string> keys;
  sink.Post("/restart", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    bodies.push_back(req.body);
    keys.insert(req.get_header_value("Idempotency-Key"));
    res.status = 200;
  });
  server.Start();
  const int port = server.port();
  const std::string rules = tmp_.path() + "/rules";
  tmp_.Write("rules/tables/svc.csv",
             "id,labels.alertname,actions,param.host\n"
             "svc-down,ServiceDown,restart_service,{{labels.instance}}\n");
  tmp_.Write("rules/actions.yaml",
             "actions:\n"
             "  restart_service:\n"
             "    kind: webhook\n"
             "    params: [host]\n"
             "    url: http://127.0.0.1:" +
                 std::to_string(port) +
                 "/restart\n"
                 "    body: {host: \"{{params.host}}\", event: \"{{event.id}}\"}\n"
                 "    retries: 2\n");
  std::string body;
  for (int i = 0; i < 10; ++i) {
    body += R"({"id":"sd-)" + std::to_string(i) +
            R"(","labels":{"alertname":"ServiceDown","instance":"web-)" + std::to_string(i) +
            R"("}})"
            "\n";
  }
  body +=
      R"({"id":"mystery-1","source":"nagios","labels":{"alertname":"Mystery","severity":"page"}})"
      "\n";
  body +=
      R"({"id":"mystery-2","source":"nagios","labels":{"alertname":"Mystery","severity":"page"}})"
      "\n";
  const std::string file = tmp_.Write("events.jsonl", body);
  KcatProduce(broker_->bootstrap(), "reflex.events", file);
  const std::string state = tmp_.path() + "/state";
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", config_, "--brokers", broker_->bootstrap(), "--rules", rules,
                "--max-events", "12"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  ASSERT_EQ(reflex.Wait(std::chrono::seconds(120)), 0) << ReadFile(tmp_.path() + "/err");
  server.Stop();

  std::set<std::string> hosts;
  for (const auto& b : bodies) hosts.insert(nlohmann::json::parse(b)["host"].get<std::string>());
  EXPECT_EQ(bodies.size(), 10u) << "one call per known incident, none twice";
  EXPECT_EQ(hosts.size(), 10u);
  EXPECT_TRUE(hosts.count("web-3"));
  EXPECT_EQ(keys.size(), 10u) << "one Idempotency-Key per run";
  EXPECT_FALSE(keys.count("")) << "every call carries an Idempotency-Key";

  CliResult actions = RunCli({"actions", "list", "--db", state + "/reflex.db", "--json"});
  ASSERT_EQ(actions.exit_code, 0) << actions.Describe();
  int succeeded = 0;
  for (const auto& l : Lines(actions.out)) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_array()) {
      for (const auto& r : j) succeeded += r.value("state", "") == "succeeded";
    } else if (j.is_object()) {
      succeeded += j.value("state", "") == "succeeded";
    }
  }
  EXPECT_EQ(succeeded, 10) << actions.out;

  CliResult esc = RunCli({"escalations", "list", "--db", state + "/reflex.db"});
  ASSERT_EQ(esc.exit_code, 0) << esc.Describe();
  EXPECT_THAT(esc.out, HasSubstr("labels.alertname=Mystery"));
  EXPECT_THAT(esc.out, ::testing::ContainsRegex("unknown_event +2 "));
}

// Silences in run mode: a silence added through POST /api/v2/silences (Alertmanager's API)
// mutes the next matching alert: its decision is `suppressed` with the silence id and no
// action runs; after DELETE /api/v2/silence/{id} the next one runs its action. A silence
// added by `reflex silences add` (another process) takes effect within
// processing.silence_refresh (the test allows 30 s; the default is 1 s).
TEST_F(RunModeTest, ASilencedAlertRunsNoActionAndAfterExpiryTheNextOneRuns) {
  actions::test::TestServer server;  // stopped and joined however the test ends
  httplib::Server& sink = server.svr();
  std::mutex mu;
  std::vector<std::string> called;  // event ids the action ran for
  sink.Post("/restart", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    called.push_back(nlohmann::json::parse(req.body)["event"].get<std::string>());
    res.status = 200;
  });
  server.Start();
  const int port = server.port();
  const std::string rules = tmp_.path() + "/rules";
  tmp_.Write("rules/tables/svc.csv",
             "id,labels.alertname,actions,param.host\n"
             "svc-down,ServiceDown,restart_service,{{labels.instance}}\n");
  tmp_.Write("rules/actions.yaml",
             "actions:\n"
             "  restart_service:\n"
             "    kind: webhook\n"
             "    params: [host]\n"
             "    url: http://127.0.0.1:" +
                 std::to_string(port) +
                 "/restart\n"
                 "    body: {host: \"{{params.host}}\", event: \"{{event.id}}\"}\n");
  const std::string cfg = tmp_.Write("sil.yaml", "rules: " + rules + "\nstate_dir: " + tmp_.path() +
                                                     "/state\nwatch_rules: false\n"
                                                     "kafka: {group_id: silence-test}\n"
                                                     "processing: {batch_wait_ms: 5}\n"
                                                     "http: {listen: '127.0.0.1:0', api_tokens: "
                                                     "[{name: ops, role: operator, "
                                                     "token_env: REFLEX_TEST_OPS_TOKEN}]}\n");
  const std::string ops_token = "ops-token-for-the-silence-test";
  ::setenv("REFLEX_TEST_OPS_TOKEN", ops_token.c_str(), 1);
  Child reflex(REFLEX_CLI_PATH, {"run", "--config", cfg, "--brokers", broker_->bootstrap()},
               tmp_.path() + "/out", tmp_.path() + "/err");
  int http_port = 0;
  for (int i = 0; i < 600 && http_port == 0; ++i) {
    const std::string out = ReadFile(tmp_.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) http_port = std::atoi(out.c_str() + at + 17);
    if (http_port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(http_port, 0) << ReadFile(tmp_.path() + "/err");
  httplib::Client api("127.0.0.1", http_port);
  api.set_read_timeout(30, 0);

  auto bad = api.Post("/api/v2/silences", R"({"matchers":[]})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("createdBy is required"));
  const std::string silence =
      R"({"matchers":[{"name":"alertname","value":"ServiceDown","isRegex":false},)"
      R"({"name":"instance","value":"web-.*","isRegex":true,"isEqual":true}],)"
      R"("startsAt":"2020-01-01T00:00:00Z","endsAt":"2999-01-01T00:00:00Z",)"
      R"("createdBy":"alice","comment":"planned restart"})";
  auto added = api.Post("/api/v2/silences", silence, "application/json");
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 200) << added->body;
  const std::string id = nlohmann::json::parse(added->body)["silenceID"];
  auto listed = api.Get("/api/v2/silences");
  ASSERT_TRUE(listed);
  EXPECT_EQ(nlohmann::json::parse(listed->body)[0]["status"]["state"], "active") << listed->body;
  // Alertmanager's filter: matchers on the silences' own matchers.
  auto kept = api.Get("/api/v2/silences?filter=alertname%3D%22ServiceDown%22");
  ASSERT_TRUE(kept);
  EXPECT_EQ(nlohmann::json::parse(kept->body).size(), 1u) << kept->body;
  auto none = api.Get("/api/v2/silences?filter=alertname%3D%22DiskFull%22");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->body, "[]");
  auto unparsable = api.Get("/api/v2/silences?filter=alertname");
  ASSERT_TRUE(unparsable);
  EXPECT_EQ(unparsable->status, 400) << unparsable->body;
  EXPECT_THAT(unparsable->body, HasSubstr("filter: column"));

  auto produce = [&](const std::string& event_id, const std::string& instance) {
    const std::string f =
        tmp_.Write(event_id + ".jsonl",
                   R"({"id":")" + event_id +
                       R"(","labels":{"alertname":"ServiceDown","instance":")" + instance +
                       R"("}})"
                       "\n");
    KcatProduce(broker_->bootstrap(), "reflex.events", f);
  };
  auto decision_of = [&](const std::string& event_id) {
    const std::string d = WaitForDecision(broker_->bootstrap(), [&](const std::string& x) {
      return x.find("\"event_id\":\"" + event_id + "\"") != x.npos;
    });
    return d.empty() ? nlohmann::json() : nlohmann::json::parse(d);
  };
  produce("sd-1", "web-1");
  const nlohmann::json muted = decision_of("sd-1");
  ASSERT_FALSE(muted.is_null()) << ReadFile(tmp_.path() + "/err");
  EXPECT_EQ(muted["verdict"], "suppressed") << muted;
  EXPECT_EQ(muted["muted_by"]["silence"], id) << muted;

  auto expired = api.Delete("/api/v2/silence/" + id);
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 200) << expired->body;
  auto again = api.Delete("/api/v2/silence/" + id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  produce("sd-2", "web-1");
  const nlohmann::json ran = decision_of("sd-2");
  ASSERT_FALSE(ran.is_null()) << ReadFile(tmp_.path() + "/err");
  EXPECT_EQ(ran["verdict"], "known") << ran;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (!called.empty() || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Another process adds a silence: the engine picks it up at its next refresh.
  CliResult cli = RunCli({"silences", "add", "alertname=ServiceDown", "instance=web-9", "--comment",
                          "cli", "--state-dir", tmp_.path() + "/state"});
  ASSERT_EQ(cli.exit_code, 0) << cli.Describe();
  const std::string cli_id = cli.out.substr(0, cli.out.find('\n'));
  bool picked_up = false;
  for (int i = 0; i < 30 && !picked_up; ++i) {
    const std::string probe = "probe-" + std::to_string(i);
    produce(probe, "web-9");
    const nlohmann::json d = decision_of(probe);
    picked_up = d.is_object() && d.value("verdict", "") == "suppressed" &&
                d["muted_by"]["silence"] == cli_id;
    if (!picked_up) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_TRUE(picked_up) << "a silence written by reflex silences add was never applied";

  // The REST API of the same process: the live rules with the row's hits, and the silences.
  const httplib::Headers bearer = {{"Authorization", "Bearer " + ops_token}};
  auto rules_now = api.Get("/api/v1/rules", bearer);
  ASSERT_TRUE(rules_now);
  ASSERT_EQ(rules_now->status, 200) << rules_now->body;
  const nlohmann::json svc = nlohmann::json::parse(rules_now->body)["tables"][0];
  EXPECT_EQ(svc["rows"][0]["id"], "svc-down") << svc;
  EXPECT_GE(svc["rows"][0]["hits"].get<int>(), 1) << svc;
  auto gone = api.Get("/api/v1/silences?state=expired", bearer);
  ASSERT_TRUE(gone);
  EXPECT_THAT(gone->body, HasSubstr(id));
  auto anonymous = api.Get("/api/v1/silences");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);

  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0) << ReadFile(tmp_.path() + "/err");
  server.Stop();
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(std::count(called.begin(), called.end(), "sd-2"), 1);
  EXPECT_EQ(std::count(called.begin(), called.end(), "sd-1"), 0) << "the silenced alert ran";
  CliResult esc = RunCli({"escalations", "list", "--state", "all", "--db",
                          tmp_.path() + "/state/reflex.db", "--json"});
  EXPECT_EQ(nlohmann::json::parse(esc.out).size(), 0u) << esc.Describe();
  // Every silence change is audited: through /api/v2 (the author as the body names it; an
  // expiry names nobody) and through the CLI.
  CliResult audit = RunCli({"audit", "list", "--state-dir", tmp_.path() + "/state", "--json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.Describe();
  const nlohmann::json rows = nlohmann::json::parse(audit.out);  // newest first
  ASSERT_EQ(rows.size(), 3u) << audit.out;
  EXPECT_EQ(rows[0]["action"], "silence.add");
  EXPECT_EQ(rows[0]["via"], "cli");
  EXPECT_EQ(rows[1]["action"], "silence.expire");
  EXPECT_EQ(rows[1]["via"], "api-v2");
  EXPECT_EQ(rows[1]["target"], "silence/" + id);
  EXPECT_EQ(rows[1]["after"]["status"]["state"], "expired") << rows[1];
  EXPECT_EQ(rows[2]["action"], "silence.add");
  EXPECT_EQ(rows[2]["actor"], "alice");
  EXPECT_EQ(rows[2]["detail"], "planned restart");
}

// Alertmanager sends `resolved` for an alert that was firing. The remediation ran for the
// firing one; the resolved one must not run it again, unless a row says it handles
// resolutions (a status condition), which then runs once.
TEST_F(RunModeTest, FiringThenResolvedAlertRunsTheRemediationOnce) {
  actions::test::TestServer server;  // stopped and joined however the test ends
  httplib::Server& sink = server.svr();
  std::mutex mu;
  std::map<std::string, int> calls;  // path -> count
  for (const char* path : {"/restart", "/close"}) {
    sink.Post(path, [&, path](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu);
      ++calls[path];
      res.status = 200;
    });
  }
  server.Start();
  const int port = server.port();
  ASSERT_TRUE(broker_->CreateTopic("alerts.am", 1).ok());
  const std::string rules = tmp_.path() + "/rules";
  tmp_.Write("rules/tables/svc.csv",
             "id,alertname,action,param.host\n"
             "svc-down,ServiceDown,restart_service,{{labels.instance}}\n");
  tmp_.Write("rules/tables/tickets.csv",
             "id,alertname,status,action,param.host\n"
             "svc-ok,ServiceDown,resolved,close_ticket,{{labels.instance}}\n");
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  tmp_.Write("rules/actions.yaml",
             "actions:\n"
             "  restart_service: {kind: webhook, params: [host], url: " +
                 base +
                 "/restart}\n"
                 "  close_ticket: {kind: webhook, params: [host], url: " +
                 base + "/close}\n");
  auto payload = [](const std::string& status) {
    return R"({"version":"4","status":")" + status +
           R"(","receiver":"reflex","groupKey":"g","alerts":[{"status":")" + status +
           R"(","labels":{"alertname":"ServiceDown","instance":"web-1"},)"
           R"("startsAt":"2026-11-24T03:12:00Z","endsAt":"2026-11-24T03:20:00Z",)"
           R"("fingerprint":"f1"}]})";
  };
  const std::string file =
      tmp_.Write("am.jsonl", payload("firing") + "\n" + payload("resolved") + "\n");
  KcatProduce(broker_->bootstrap(), "alerts.am", file);
  const std::string cfg = tmp_.Write(
      "am.yaml", "rules: " + rules + "\nstate_dir: " + tmp_.path() +
                     "/state\nwatch_rules: false\n"
                     "kafka: {group_id: resolved-test}\n"
                     "processing: {batch_wait_ms: 5}\n"
                     "sources: [{name: am, topics: [alerts.am], mapping: {kind: alertmanager}}]\n"
                     "http: {enabled: false}\n");
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--max-events", "2"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  ASSERT_EQ(reflex.Wait(std::chrono::seconds(120)), 0) << ReadFile(tmp_.path() + "/err");
  server.Stop();
  EXPECT_EQ(calls["/restart"], 1) << "the resolved alert re-ran the remediation";
  EXPECT_EQ(calls["/close"], 1) << "a row with a status condition handles the resolution";
  const std::string decision = WaitForDecision(
      broker_->bootstrap(), [](const std::string& d) { return d.find("-resolved\"") != d.npos; });
  ASSERT_FALSE(decision.empty());
  EXPECT_THAT(decision, HasSubstr("\"not_run\":\"resolved: the row does not handle resolutions"));
}

// An incident's lifecycle through the webhook, as Alertmanager (webhook v4) sends it: a firing
// alert, the group again with a second alert (grouped firing), then both resolved. Every
// alert is unknown to the rules: one escalation group opens, counts both alerts, and ends
// resolved by the first resolved alert (not counted); PagerDuty gets the trigger, then the
// resolve for the same dedup key, and nothing for the second resolved alert. Before, the
// resolved alerts were counted as occurrences (count 4, group open) and PagerDuty never heard
// of the resolution.
TEST_F(RunModeTest, AlertmanagerResolvedAlertsResolveTheEscalationAndPagerDuty) {
  actions::test::TestServer pd_server;
  httplib::Server& pd = pd_server.svr();
  std::mutex mu;
  std::vector<nlohmann::json> pd_bodies;
  pd.Post("/v2/enqueue", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    pd_bodies.push_back(nlohmann::json::parse(req.body, nullptr, false));
    res.status = 202;
  });
  pd_server.Start();
  const int pd_port = pd_server.port();
  tmp_.Write("lc-rules/tables/svc.csv",
             "id,alertname,action\n"
             "svc-down,ServiceDown,escalate\n");
  const std::string state = tmp_.path() + "/lc-state";
  const std::string cfg =
      tmp_.Write("lc.yaml", "rules: " + tmp_.path() + "/lc-rules\nstate_dir: " + state +
                                "\nwatch_rules: false\n"
                                "kafka: {group_id: lifecycle-test}\n"
                                "processing: {batch_wait_ms: 5}\n"
                                "http: {listen: '127.0.0.1:0'}\n"
                                "notifiers:\n"
                                "  - kind: pagerduty\n"
                                "    url: http://127.0.0.1:" +
                                std::to_string(pd_port) +
                                "/v2/enqueue\n"
                                "    routing_key_env: LIFECYCLE_TEST_PD_KEY\n"
                                "    on: [new_unknown, resolved]\n");
  setenv("LIFECYCLE_TEST_PD_KEY", "pd-key", 1);
  Child reflex(REFLEX_CLI_PATH,
               {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--dry-run"},
               tmp_.path() + "/out", tmp_.path() + "/err");
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    const std::string out = ReadFile(tmp_.path() + "/out");
    const size_t at = out.find("http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(out.c_str() + at + 17);
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << ReadFile(tmp_.path() + "/err");
  auto alert = [](const std::string& fp, const std::string& instance, const std::string& status) {
    return R"({"status":")" + status +
           R"(","labels":{"alertname":"PostgresReplicationLag","severity":"critical",)"
           R"("instance":")" +
           instance +
           R"("},"annotations":{"summary":"replication lag"},)"
           R"("startsAt":"2026-11-24T03:12:00Z","endsAt":")" +
           (status == "resolved" ? "2026-11-24T03:30:00Z" : "0001-01-01T00:00:00Z") +
           R"(","fingerprint":")" + fp + R"("})";
  };
  auto webhook = [](const std::string& status, const std::vector<std::string>& alerts) {
    std::string a;
    for (const auto& x : alerts) a += (a.empty() ? "" : ",") + x;
    return R"({"version":"4","status":")" + status +
           R"(","receiver":"reflex","groupKey":"{}:{alertname=\"PostgresReplicationLag\"}",)"
           R"("groupLabels":{"alertname":"PostgresReplicationLag"},"alerts":[)" +
           a + "]}";
  };
  auto post = [&](const std::string& name, const std::string& body) {
    const std::string file = tmp_.Write(name, body);
    TempDir t;
    Child c("/usr/bin/curl",
            {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*", "-X", "POST", "-H",
             "Content-Type: application/json", "--data-binary", "@" + file,
             "http://127.0.0.1:" + std::to_string(port) + "/v1/alertmanager"},
            t.path() + "/o", t.path() + "/e");
    EXPECT_EQ(c.Wait(std::chrono::seconds(30)), 0) << ReadFile(t.path() + "/e");
    return ReadFile(t.path() + "/o");
  };
  // The escalation groups, read while reflex runs (bounded wait for `pred`).
  auto groups_when = [&](const std::function<bool(const nlohmann::json&)>& pred) {
    nlohmann::json groups;
    for (int i = 0; i < 300; ++i) {
      CliResult r =
          RunCli({"escalations", "list", "--db", state + "/reflex.db", "--state", "all", "--json"});
      groups = nlohmann::json::parse(r.out, nullptr, false);
      if (groups.is_array() && pred(groups)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return groups;
  };
  auto decided = [&](const std::string& id) {
    return WaitForDecision(broker_->bootstrap(), [&](const std::string& d) {
      return d.find("\"event_id\":\"" + id + "\"") != d.npos;
    });
  };
  const std::string a_firing = alert("fa", "pg-1:9187", "firing");
  const std::string b_firing = alert("fb", "pg-2:9187", "firing");
  EXPECT_EQ(post("1.json", webhook("firing", {a_firing})), "202");
  ASSERT_FALSE(decided("fa-2026-11-24T03:12:00Z").empty()) << ReadFile(tmp_.path() + "/err");
  EXPECT_EQ(post("2.json", webhook("firing", {a_firing, b_firing})), "202");
  ASSERT_FALSE(decided("fb-2026-11-24T03:12:00Z").empty()) << ReadFile(tmp_.path() + "/err");
  nlohmann::json groups = groups_when(
      [](const nlohmann::json& g) { return g.size() == 1 && g[0].value("count", 0) == 2; });
  ASSERT_EQ(groups.size(), 1u) << groups.dump();
  EXPECT_EQ(groups[0]["count"], 2) << "the grouped firing re-sends fa: counted once";
  EXPECT_EQ(groups[0]["state"], "open");
  EXPECT_EQ(post("3.json", webhook("resolved", {alert("fa", "pg-1:9187", "resolved"),
                                                alert("fb", "pg-2:9187", "resolved")})),
            "202");
  for (const char* id : {"fa-2026-11-24T03:12:00Z-resolved", "fb-2026-11-24T03:12:00Z-resolved"}) {
    const std::string d = decided(id);
    ASSERT_FALSE(d.empty()) << id << ReadFile(tmp_.path() + "/err");
    EXPECT_EQ(nlohmann::json::parse(d)["verdict"], "unknown") << d;
  }
  groups = groups_when(
      [](const nlohmann::json& g) { return g.size() == 1 && g[0]["state"] == "resolved"; });
  ASSERT_EQ(groups.size(), 1u) << groups.dump();
  EXPECT_EQ(groups[0]["state"], "resolved");
  EXPECT_EQ(groups[0]["count"], 2) << "resolved alerts are no occurrences";
  EXPECT_EQ(groups[0]["state_by"], "reflex");
  // PagerDuty: the trigger, then the resolve of the same incident (bounded wait).
  std::vector<nlohmann::json> got;
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      got = pd_bodies;
    }
    if (got.size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reflex.Signal(SIGTERM);
  EXPECT_EQ(reflex.Wait(std::chrono::seconds(60)), 0) << ReadFile(tmp_.path() + "/err");
  pd_server.Stop();
  unsetenv("LIFECYCLE_TEST_PD_KEY");
  ASSERT_EQ(pd_bodies.size(), 2u) << "a trigger and a resolve, nothing for the second resolved";
  EXPECT_EQ(pd_bodies[0]["event_action"], "trigger");
  EXPECT_EQ(pd_bodies[1]["event_action"], "resolve");
  EXPECT_EQ(pd_bodies[1]["dedup_key"], pd_bodies[0]["dedup_key"]);
  EXPECT_EQ(pd_bodies[1]["dedup_key"], groups[0]["fingerprint"]);
  EXPECT_EQ(pd_bodies[1]["routing_key"], "pd-key");
}

// Crash loop: a stream of events through the broker (which outlives the engine) while `reflex
// run` is SIGKILLed at random points several times and restarted each time. Known events call
// a webhook on 127.0.0.1 that counts requests per Idempotency-Key; unknown ones are escalated.
// After the last restart: every event id has a decision (duplicates are allowed: at-least-once,
// and counted), the journal holds exactly one succeeded run per known event, the target saw
// each key, a key is sent again only for a run a kill interrupted (at most `actions.workers`
// per kill), and the escalation store counted each unknown event exactly once. The kill points come
// from a seeded RNG; the seed is printed (REFLEX_CRASH_LOOP_SEED=<seed> repeats a run's points).
TEST_F(RunModeTest, CrashLoopLosesNoDecisionAndRunsNoActionTwice) {
  constexpr int kEvents = 2000;
  constexpr int kUnknownEvery = 10;  // every 10th event is unknown: escalated, no action
  constexpr int kKills = 4;
  constexpr int kActionWorkers = 4;
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("REFLEX_CRASH_LOOP_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "crash loop seed: " << seed << "\n";
  std::mt19937_64 rng(seed);

  // The idempotent target: counts requests per key.
  actions::test::TestServer server;  // stopped and joined however the test ends
  httplib::Server& sink = server.svr();
  std::mutex mu;
  std::map<std::string, int> sends_per_key;
  sink.Post("/restart", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++sends_per_key[req.get_header_value("Idempotency-Key")];
    res.status = 200;
  });
  server.Start();
  const int port = server.port();
  auto sent = [&] {
    std::lock_guard<std::mutex> l(mu);
    return sends_per_key;
  };

  const std::string rules = tmp_.path() + "/rules";
  tmp_.Write("rules/tables/svc.csv",
             "id,labels.alertname,actions,param.host\n"
             "svc-down,ServiceDown,restart_service,{{labels.instance}}\n");
  tmp_.Write("rules/actions.yaml",
             "actions:\n"
             "  restart_service:\n"
             "    kind: webhook\n"
             "    params: [host]\n"
             "    url: http://127.0.0.1:" +
                 std::to_string(port) +
                 "/restart\n"
                 "    body: {host: \"{{params.host}}\", event: \"{{event.id}}\"}\n"
                 "    retries: 2\n");
  const std::string state = tmp_.path() + "/state";
  const std::string cfg = tmp_.Write(
      "crash.yaml", "rules: " + rules + "\nstate_dir: " + state +
                        "\nwatch_rules: false\n"
                        "kafka:\n"
                        "  group_id: crash-loop\n"
                        "  session_timeout_ms: 3000\n  heartbeat_interval_ms: 300\n"
                        "processing: {batch_size: 10, batch_wait_ms: 1, max_in_flight_batches: 1}\n"
                        "actions: {workers: " +
                        std::to_string(kActionWorkers) +
                        "}\n"
                        "http: {enabled: false}\n");

  // The stream: produced up front (2,000 small events in 4 partitions, far under the mock's
  // per-partition retention), consumed slowly because every broker response is delayed.
  std::string body;
  int known = 0;
  for (int i = 0; i < kEvents; ++i) {
    const bool unknown = i % kUnknownEvery == kUnknownEvery - 1;
    known += unknown ? 0 : 1;
    body += R"({"id":"c)" + std::to_string(i) + R"(","labels":{"alertname":")" +
            (unknown ? "Mystery" : "ServiceDown") + R"(","instance":"web-)" +
            std::to_string(i % 13) + R"("}})" + "\n";
  }
  KcatProduce(broker_->bootstrap(), "reflex.events", tmp_.Write("events.jsonl", body));
  ASSERT_TRUE(broker_->SetBrokerRtt(1, 10).ok());

  auto decided = [&](size_t* total) {
    std::set<std::string> ids;
    const auto all = KcatReadAll(broker_->bootstrap(), "reflex.decisions", 0);
    for (const auto& d : all) ids.insert(nlohmann::json::parse(d)["event_id"].get<std::string>());
    if (total != nullptr) *total = all.size();
    return ids.size();
  };
  // Kill points: each run is killed once the target has seen a random number (3% to 12% of
  // the known events) of keys more than before it started, so every kill lands while the
  // stream and its actions are moving.
  std::uniform_int_distribution<size_t> step(known * 3 / 100, known * 12 / 100);
  std::vector<size_t> decided_at_kill;
  for (int round = 0; round < kKills; ++round) {
    const std::string n = std::to_string(round);
    const size_t kill_at = sent().size() + step(rng);
    Child reflex(REFLEX_CLI_PATH, {"run", "--config", cfg, "--brokers", broker_->bootstrap()},
                 tmp_.path() + "/out" + n, tmp_.path() + "/err" + n);
    for (int i = 0; i < 3000 && sent().size() < kill_at; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    reflex.Signal(SIGKILL);
    ASSERT_EQ(reflex.Wait(std::chrono::seconds(10)), 128 + SIGKILL)
        << ReadFile(tmp_.path() + "/err" + n);
    ASSERT_GE(sent().size(), kill_at) << "no progress within 30 s\n"
                                      << ReadFile(tmp_.path() + "/err" + n);
    decided_at_kill.push_back(decided(nullptr));
    std::cout << "kill " << round + 1 << ": aimed at " << kill_at << " keys seen, " << sent().size()
              << " seen and " << decided_at_kill.back() << " events decided after the kill\n";
  }
  EXPECT_LT(decided_at_kill.back(), static_cast<size_t>(kEvents))
      << "the last kill came after the whole stream";
  ASSERT_TRUE(broker_->SetBrokerRtt(1, 0).ok());

  // The last run finishes the stream and the actions, then stops cleanly.
  Child last(REFLEX_CLI_PATH, {"run", "--config", cfg, "--brokers", broker_->bootstrap()},
             tmp_.path() + "/out-last", tmp_.path() + "/err-last");
  size_t total = 0;
  size_t ids = 0;
  for (int i = 0; i < 600 && (ids = decided(&total)) < static_cast<size_t>(kEvents); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 600 && sent().size() < static_cast<size_t>(known); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  last.Signal(SIGTERM);
  EXPECT_EQ(last.Wait(std::chrono::seconds(60)), 0) << ReadFile(tmp_.path() + "/err-last");

  const auto per_key = sent();
  int requests = 0;
  int resent = 0;
  for (const auto& [key, n] : per_key) {
    requests += n;
    resent += n - 1;
  }
  CliResult runs =
      RunCli({"actions", "list", "--db", state + "/reflex.db", "--limit", "0", "--json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.Describe();
  const auto journal = nlohmann::json::parse(runs.out);
  std::map<std::string, int> runs_per_event;
  int succeeded = 0;
  for (const auto& r : journal) {
    ++runs_per_event[r["event_id"].get<std::string>()];
    succeeded += r["state"] == "succeeded";
  }
  int runs_twice = 0;
  for (const auto& [event, n] : runs_per_event) runs_twice += n > 1;

  std::cout << "crash loop: events " << kEvents << ", decisions " << total << " (" << ids
            << " distinct event ids, " << total - ids << " duplicates), kills "
            << decided_at_kill.size() << ", action runs in the journal " << journal.size() << " ("
            << succeeded << " succeeded), webhook requests " << requests << " for "
            << per_key.size() << " keys (" << resent << " sent again after a kill)\n";

  EXPECT_EQ(ids, static_cast<size_t>(kEvents)) << "every event has a decision";
  EXPECT_EQ(journal.size(), static_cast<size_t>(known)) << "one run per known event";
  EXPECT_EQ(runs_twice, 0) << "no event's action was journaled twice";
  EXPECT_EQ(succeeded, known);
  EXPECT_EQ(per_key.size(), static_cast<size_t>(known)) << "the target saw every run";
  EXPECT_FALSE(per_key.count("")) << "every call carries an Idempotency-Key";
  EXPECT_LE(resent, kKills * kActionWorkers)
      << "a key is sent again only for a run a kill interrupted";

  CliResult esc = RunCli({"escalations", "list", "--db", state + "/reflex.db"});
  ASSERT_EQ(esc.exit_code, 0) << esc.Describe();
  EXPECT_THAT(esc.out, HasSubstr("labels.alertname=Mystery"));
  // Each unknown event is counted exactly once: a replayed batch decides its unknown events
  // again, and the store knows their ids.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(esc.out, m, std::regex("unknown_event +([0-9]+) "))) << esc.out;
  const size_t unknown_count = std::stoul(m[1]);
  std::cout << "crash loop: unknown events " << kEvents / kUnknownEvery
            << ", counted by the escalation store " << unknown_count << "\n";
  EXPECT_EQ(unknown_count, static_cast<size_t>(kEvents / kUnknownEvery));
}

// `reflex actions retry` queues a new run for the engine: a command action that failed in
// one run of the engine is retried from the command line, and the next run of the engine
// carries the retry out (it resumes pending runs when it starts) with the original request.
TEST_F(RunModeTest, ARetriedRunIsCarriedOutByTheEngine) {
  const std::string script =
      tmp_.Write("bin/fix.sh",
                 "#!/bin/sh\n"
                 "dir=$(dirname \"$0\")\n"
                 "echo \"fix $1\" >> \"$dir/calls\"\n"
                 "if [ -e \"$dir/ok\" ]; then echo \"fixed $1\"; exit 0; fi\n"
                 "echo \"not yet\" >&2\n"
                 "exit 3\n");
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  tmp_.Write("rules/actions.yaml",
             "actions:\n  fix:\n    kind: command\n    params: [host]\n"
             "    argv: [" +
                 script +
                 ", \"{{params.host}}\"]\n"
                 "    retries: 1\n");
  tmp_.Write("rules/tables/broken.csv",
             "table,broken\nhit_policy,first\nid,alertname,action,param.host\n"
             "broken-fix,Broken,fix,{{labels.instance}}\n");
  const std::string state = tmp_.path() + "/state";
  const std::string cfg =
      tmp_.Write("retry.yaml", "rules: " + tmp_.path() + "/rules\nstate_dir: " + state +
                                   "\nwatch_rules: false\nkafka:\n  group_id: retry-test\n"
                                   "  session_timeout_ms: 6000\n  heartbeat_interval_ms: 500\n"
                                   "http: {enabled: false}\n");
  auto engine_run = [&](const std::string& event, const std::string& n) {
    KcatProduce(broker_->bootstrap(), "reflex.events",
                tmp_.Write("event" + n + ".jsonl", event + "\n"));
    Child reflex(REFLEX_CLI_PATH,
                 {"run", "--config", cfg, "--brokers", broker_->bootstrap(), "--max-events", "1"},
                 tmp_.path() + "/out" + n, tmp_.path() + "/err" + n);
    return reflex.Wait(std::chrono::seconds(120));
  };
  ASSERT_EQ(engine_run(R"({"id":"b1","labels":{"alertname":"Broken","instance":"web-1"}})", "1"), 0)
      << ReadFile(tmp_.path() + "/err1");
  CliResult failed = RunCli({"actions", "list", "--state", "failed", "--json", "--config", cfg});
  ASSERT_EQ(failed.exit_code, 0) << failed.Describe();
  const auto runs = nlohmann::json::parse(failed.out);
  ASSERT_EQ(runs.size(), 1u) << failed.out;
  const std::string id = std::to_string(runs[0]["id"].get<int64_t>());

  tmp_.Write("bin/ok", "");
  CliResult retry = RunCli({"actions", "retry", id, "--by", "dave", "--config", cfg});
  ASSERT_EQ(retry.exit_code, 0) << retry.Describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(retry.out, m, std::regex("queued action run ([0-9]+) ")))
      << retry.out;
  const std::string retried = m[1];

  ASSERT_EQ(engine_run(R"({"id":"m1","labels":{"alertname":"Mystery"}})", "2"), 0)
      << ReadFile(tmp_.path() + "/err2");
  CliResult shown = RunCli({"actions", "show", retried, "--json", "--config", cfg});
  ASSERT_EQ(shown.exit_code, 0) << shown.Describe();
  const auto run = nlohmann::json::parse(shown.out);
  EXPECT_EQ(run["state"], "succeeded") << shown.out;
  EXPECT_EQ(run["output"], "fixed web-1\n");
  EXPECT_EQ(run["retry_of"], std::stoll(id));
  EXPECT_EQ(run["requested_by"], "dave");
  EXPECT_EQ(ReadFile(tmp_.path() + "/bin/calls"), "fix web-1\nfix web-1\n");

  CliResult done = RunCli({"actions", "retry", retried, "--config", cfg});
  EXPECT_EQ(done.exit_code, 1) << done.Describe();
  EXPECT_THAT(done.err, HasSubstr("run " + retried + " succeeded: there is nothing to retry"));
}

TEST_F(RunModeTest, CheckConfigNamesTheBadKey) {
  const std::string bad = tmp_.Write("bad.yaml", "rules: " + kExamples +
                                                     "\n"
                                                     "kafka:\n"
                                                     "  group_idd: x\n"
                                                     "processing: {workers: 0}\n");
  CliResult r = RunCli({"run", "--config", bad, "--check-config"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:3:3: kafka.group_idd: unknown key (valid keys: "));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:4:23: processing.workers: must be between 1 and 64"));
  CliResult ok = RunCli({"run", "--config", config_, "--check-config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_THAT(ok.out, HasSubstr("config OK"));
  CliResult missing = RunCli({"run", "--config", tmp_.path() + "/nope.yaml", "--check-config"});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
}

}  // namespace
}  // namespace reflex::cli_test

namespace reflex::cli_test {
namespace {

// The configuration reference in docs/ is the schema the loaders read with, printed by
// `reflex config schema --markdown`: a key added to a schema without regenerating the docs
// fails here.
TEST(ConfigSchemaCli, DocsListExactlyTheSchema) {
  CliResult md = RunCli({"config", "schema", "--markdown"});
  ASSERT_EQ(md.exit_code, 0) << md.Describe();
  const std::string doc = ReadFile(std::string(REFLEX_SOURCE_DIR) + "/docs/configuration.md");
  const std::string marker = "<!-- generated by: reflex config schema --markdown -->\n";
  const size_t at = doc.find(marker);
  ASSERT_NE(at, std::string::npos) << "docs/configuration.md lost its marker";
  EXPECT_EQ(doc.substr(at + marker.size()), md.out)
      << "regenerate: reflex config schema --markdown";

  CliResult text = RunCli({"config", "schema"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  for (const char* key : {"kafka.group_id", "sources[].mapping.kind", "http.token_env",
                          "actions.workers", "notifiers[].url", "REFLEX_KAFKA_BROKERS"}) {
    EXPECT_THAT(text.out, HasSubstr(key));
  }
}

// An empty or missing token must not open the webhook to the network: a non-loopback
// listener without a token or HMAC secret is refused unless the config says so.
TEST(RunAuthCli, PublicListenerWithoutAuthenticationIsRefused) {
  const std::string examples = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";
  CliResult refused =
      RunCli({"run", "--rules", examples, "--http-listen", "0.0.0.0:0", "--check-config"});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("reachable from other machines"));

  TempDir tmp;
  const std::string cfg = tmp.path() + "/reflex.yaml";
  std::ofstream(cfg) << "http: {listen: '0.0.0.0:0', allow_unauthenticated: true}\n";
  CliResult allowed = RunCli({"run", "--config", cfg, "--rules", examples, "--check-config"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.Describe();
  EXPECT_THAT(allowed.out, HasSubstr("http:      0.0.0.0:0"));
}

}  // namespace
}  // namespace reflex::cli_test
