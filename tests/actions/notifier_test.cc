// Notifier targets from YAML, and delivery to a real httplib::Server on 127.0.0.1: Slack,
// PagerDuty and webhook payloads parsed back and checked; retries; a dead target.
#include "reflex/actions/notifier.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reflex/base/config_schema.h"
#include "test_server.h"

namespace reflex::actions {
namespace {

using engine::StatusCode;
using test::TestServer;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Collects request bodies by path.
struct Recorder {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> requests;  // path, body
  std::vector<std::string> headers;                           // X-Token values

  void Attach(httplib::Server& svr, const std::string& path, int status = 200) {
    svr.Post(path, [this, status](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      requests.emplace_back(req.path, req.body);
      headers.push_back(req.get_header_value("X-Token"));
      res.status = status;
    });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return requests.size();
  }
  json Body(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return json::parse(requests.at(i).second);
  }
};

engine::Event ParseEvent(const std::string& text) {
  engine::EventParser parser;
  engine::Event ev;
  EXPECT_TRUE(parser.Parse(text, 1'700'000'000'000, &ev).ok());
  return ev;
}

Notice UnknownNotice() {
  Notice n;
  n.kind = NoticeKind::kNewUnknown;
  n.at_ms = 1'700'000'000'000;
  n.event = ParseEvent(R"({"id":"e-1","source":"prometheus","labels":{"alertname":"DiskFull",)"
                       R"("severity":"critical","instance":"db-01"},"message":"disk at 97%"})");
  n.escalation_id = 42;
  n.fingerprint = "0123456789abcdef";
  n.count = 3;
  n.runbook = "https://runbooks.example/disk";
  return n;
}

std::vector<NotifierTarget> Targets(const std::string& yaml) {
  auto t = NotifierTarget::ListFromYaml(YAML::Load(yaml), "run.yaml");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : std::vector<NotifierTarget>{};
}

std::unique_ptr<Notifier> Make(std::vector<NotifierTarget> targets,
                               std::vector<std::string>* log = nullptr,
                               std::mutex* log_mu = nullptr) {
  NotifierOptions o;
  if (log != nullptr) {
    o.log = [log, log_mu](std::string_view line) {
      std::lock_guard<std::mutex> lock(*log_mu);
      log->emplace_back(line);
    };
  } else {
    o.log = [](std::string_view) {};
  }
  auto n = Notifier::Create(std::move(targets), std::move(o));
  EXPECT_TRUE(n.ok());
  return std::move(*n);
}

Clock::time_point Deadline() { return Clock::now() + std::chrono::seconds(20); }

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("REFLEX_TEST_PD_KEY", "pd-routing-key-123", 1); }
  void TearDown() override { unsetenv("REFLEX_TEST_PD_KEY"); }
};

TEST_F(NotifierTest, SlackPayloadHasTextAndBlocks) {
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/slack");
  server.Start();
  auto n = Make(Targets("- kind: slack\n  url: " + server.Url("/slack") + "\n"));
  n->Notify(UnknownNotice());
  ASSERT_TRUE(n->Flush(Deadline()));
  ASSERT_EQ(rec.size(), 1u);
  json body = rec.Body(0);
  std::string text = body["text"];
  EXPECT_EQ(text,
            "Unknown event DiskFull from prometheus: disk at 97% (escalation #42, seen 3 times)");
  ASSERT_TRUE(body["blocks"].is_array());
  EXPECT_EQ(body["blocks"][0]["type"], "section");
  EXPECT_EQ(body["blocks"][0]["text"]["text"], text);
  std::string context = body["blocks"][1]["elements"][0]["text"];
  EXPECT_NE(context.find("escalation #42"), std::string::npos) << context;
  EXPECT_NE(context.find("<https://runbooks.example/disk|runbook>"), std::string::npos);
  EXPECT_EQ(n->stats().delivered, 1u);
}

TEST_F(NotifierTest, PagerDutyEventsApiV2) {
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/v2/enqueue", 202);
  server.Start();
  auto n = Make(Targets("- kind: pagerduty\n  url: " + server.Url("/v2/enqueue") +
                        "\n  routing_key_env: REFLEX_TEST_PD_KEY\n"));
  n->Notify(UnknownNotice());
  Notice failed;
  failed.kind = NoticeKind::kActionFailed;
  failed.action = "cleanup_logs";
  failed.table = "disk_full";
  failed.row = "disk-crit";
  failed.reason = "HTTP 500 after 3 attempts";
  failed.fingerprint = "fedcba9876543210";
  n->Notify(failed);
  ASSERT_TRUE(n->Flush(Deadline()));
  ASSERT_EQ(rec.size(), 2u);
  json a = rec.Body(0);
  EXPECT_EQ(a["routing_key"], "pd-routing-key-123");
  EXPECT_EQ(a["event_action"], "trigger");
  EXPECT_EQ(a["dedup_key"], "0123456789abcdef");
  EXPECT_EQ(a["payload"]["summary"],
            "Unknown event DiskFull from prometheus: disk at 97% (escalation #42, seen 3 times)");
  EXPECT_EQ(a["payload"]["severity"], "critical");
  EXPECT_EQ(a["payload"]["source"], "prometheus");
  EXPECT_EQ(a["payload"]["custom_details"]["escalation_id"], 42);
  EXPECT_EQ(a["payload"]["custom_details"]["event"]["labels"]["instance"], "db-01");
  EXPECT_EQ(a["links"][0]["href"], "https://runbooks.example/disk");

  json b = rec.Body(1);
  EXPECT_EQ(b["dedup_key"], "fedcba9876543210");
  EXPECT_EQ(b["payload"]["severity"], "error");  // no event severity: failures are errors
  EXPECT_EQ(b["payload"]["source"], "reflex");
  EXPECT_EQ(b["payload"]["component"], "disk_full");
  EXPECT_EQ(b["payload"]["summary"],
            "Action cleanup_logs failed for an event (disk_full/disk-crit): HTTP 500 after 3 "
            "attempts");
  EXPECT_EQ(n->stats().delivered, 2u);
}

// The Events API v2 resolve for a group's dedup key, whatever event_action the target sends
// for other notices. Before, a resolved group sent nothing (there was no such notice).
TEST_F(NotifierTest, PagerDutyResolveClosesTheIncidentOfTheDedupKey) {
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/v2/enqueue", 202);
  server.Start();
  auto n = Make(Targets("- kind: pagerduty\n  url: " + server.Url("/v2/enqueue") +
                        "\n  routing_key_env: REFLEX_TEST_PD_KEY\n"));
  n->Notify(UnknownNotice());
  Notice resolved = UnknownNotice();
  resolved.kind = NoticeKind::kResolved;
  n->Notify(resolved);
  ASSERT_TRUE(n->Flush(Deadline()));
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec.Body(0)["event_action"], "trigger");
  const json r = rec.Body(1);
  EXPECT_EQ(r["event_action"], "resolve");
  EXPECT_EQ(r["dedup_key"], "0123456789abcdef") << "the trigger's dedup key";
  EXPECT_EQ(r["routing_key"], "pd-routing-key-123");
  EXPECT_FALSE(r.contains("payload")) << "a resolve carries no payload";
  EXPECT_EQ(n->stats().delivered, 2u);

  // A webhook target tells it with its own text.
  auto t = Targets("- {kind: webhook, url: 'http://127.0.0.1:9/x'}\n");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(t[0].Wants(NoticeKind::kResolved));
  EXPECT_EQ(t[0].RenderText(resolved),
            "Resolved: DiskFull from prometheus (escalation #42, seen 3 times)");
}

TEST_F(NotifierTest, WebhookWithCustomTemplateHeadersAndFilter) {
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/hook");
  server.Start();
  auto n = Make(Targets("- kind: webhook\n  name: ops\n  url: " + server.Url("/hook") +
                        "\n  headers: {X-Token: secret}\n  on: [action_failed]\n"
                        "  templates:\n    action_failed: \"{{meta.notice.action}} on "
                        "{{labels.instance | default(\\\"?\\\")}}: {{meta.notice.reason}} "
                        "[{{meta.notice.ticket}}]\"\n"));
  n->Notify(UnknownNotice());  // not wanted: filtered out
  Notice failed;
  failed.kind = NoticeKind::kActionFailed;
  failed.action = "restart";
  failed.reason = "exit 3";
  failed.event = ParseEvent(R"({"id":"e-9","labels":{"instance":"web-02"}})");
  failed.details = {{"ticket", "OPS-7"}};
  n->Notify(failed);
  ASSERT_TRUE(n->Flush(Deadline()));
  ASSERT_EQ(rec.size(), 1u);
  json body = rec.Body(0);
  EXPECT_EQ(body["kind"], "action_failed");
  EXPECT_EQ(body["text"], "restart on web-02: exit 3 [OPS-7]");
  EXPECT_EQ(body["action"], "restart");
  EXPECT_EQ(body["details"]["ticket"], "OPS-7");
  EXPECT_EQ(body["event"]["id"], "e-9");
  EXPECT_EQ(rec.headers.at(0), "secret");
  EXPECT_EQ(n->target_stats("ops").queued, 1u);
}

TEST_F(NotifierTest, ServerErrorThenSuccessIsRetried) {
  TestServer server;
  std::atomic<int> calls{0};
  server.svr().Post("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    res.status = calls.fetch_add(1) == 0 ? 500 : 200;
  });
  server.Start();
  auto n = Make(Targets("- kind: webhook\n  url: " + server.Url("/flaky") +
                        "\n  retries: 3\n  backoff: 10ms\n"));
  n->Notify(UnknownNotice());
  ASSERT_TRUE(n->Flush(Deadline()));
  EXPECT_EQ(calls.load(), 2);
  NotifierStats s = n->stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.failed, 0u);
}

TEST_F(NotifierTest, ClientErrorIsNotRetriedAndIsLogged) {
  TestServer server;
  std::atomic<int> calls{0};
  server.svr().Post("/bad", [&](const httplib::Request&, httplib::Response& res) {
    calls.fetch_add(1);
    res.status = 400;
    res.set_content("invalid payload", "text/plain");
  });
  server.Start();
  std::vector<std::string> log;
  std::mutex log_mu;
  auto n = Make(Targets("- kind: webhook\n  url: " + server.Url("/bad") +
                        "\n  retries: 3\n  backoff: 10ms\n"),
                &log, &log_mu);
  n->Notify(UnknownNotice());
  ASSERT_TRUE(n->Flush(Deadline()));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(n->stats().failed, 1u);
  std::lock_guard<std::mutex> lock(log_mu);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("HTTP 400: invalid payload"), std::string::npos) << log[0];
}

TEST_F(NotifierTest, DeadServerDoesNotBlockNotifyAndFailsAfterRetries) {
  test::RefusingPort dead;
  std::vector<std::string> log;
  std::mutex log_mu;
  auto n = Make(Targets("- kind: slack\n  url: " + dead.Url("/x") +
                        "\n  retries: 2\n  backoff: 5ms\n  queue: 2\n"),
                &log, &log_mu);
  // Notify only queues: many calls return at once even though every send fails; what
  // does not fit the queue of 2 is dropped and counted.
  for (int i = 0; i < 50; ++i) n->Notify(UnknownNotice());
  ASSERT_TRUE(n->Flush(Deadline()));
  NotifierStats s = n->stats();
  EXPECT_GE(s.queued, 2u);
  EXPECT_EQ(s.queued + s.dropped, 50u);
  EXPECT_EQ(s.failed, s.queued);
  EXPECT_EQ(s.retried, 2 * s.queued);
  EXPECT_EQ(s.delivered, 0u);
  std::lock_guard<std::mutex> lock(log_mu);
  EXPECT_FALSE(log.empty());
}

TEST_F(NotifierTest, StopAbandonsRetriesAndCountsQueued) {
  test::RefusingPort dead;
  auto n = Make(
      Targets("- kind: webhook\n  url: " + dead.Url("/x") + "\n  retries: 5\n  backoff: 1h\n"));
  n->Notify(UnknownNotice());
  n->Notify(UnknownNotice());
  // The first notice is waiting for its (one hour) retry; Stop must not wait for it.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (n->stats().queued < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  n->Stop();
  NotifierStats s = n->stats();
  EXPECT_EQ(s.failed + s.dropped, 2u);
  EXPECT_EQ(s.delivered, 0u);
  n->Notify(UnknownNotice());  // after Stop: dropped, never blocks
  EXPECT_EQ(n->stats().dropped, s.dropped + 1);
}

TEST_F(NotifierTest, ConfigErrorsNameTheirKeys) {
  auto t = NotifierTarget::ListFromYaml(YAML::Load(R"(
- kind: slack
  url: ftp://nope
  on: [new_unknown, bogus]
  templates:
    action_failed: "{{labels.x"
  colour: red
- kind: pagerduty
  routing_key_env: REFLEX_TEST_MISSING_KEY
  event_action: explode
  headers: {A: b}
- kind: carrier-pigeon
  url: http://x
- url: http://y
)"),
                                        "run.yaml");
  ASSERT_FALSE(t.ok());
  const std::string& m = t.status().message();
  for (const char* want :
       {"run.yaml:3:8: notifiers[0].url: expected an http:// or https:// URL",
        "run.yaml:4:21: notifiers[0].on[1]: unknown value 'bogus' (expected one of: new_unknown,",
        "run.yaml:6:20: notifiers[0].templates.action_failed: bad template",
        "run.yaml:7:3: notifiers[0].colour: unknown key (valid keys: kind, name, url,",
        "run.yaml:9:20: notifiers[1].routing_key_env: environment variable "
        "REFLEX_TEST_MISSING_KEY is not set",
        "run.yaml:10:17: notifiers[1].event_action: unknown value 'explode' (expected one of: "
        "trigger, acknowledge, resolve)",
        "run.yaml:11:3: notifiers[1].headers: only valid with kind: webhook",
        "run.yaml:12:9: notifiers[2].kind: unknown value 'carrier-pigeon'",
        "run.yaml:14:3: notifiers[3].kind: missing required key"}) {
    EXPECT_NE(m.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << m;
  }
}

TEST_F(NotifierTest, DefaultsAndListParsing) {
  auto empty = NotifierTarget::ListFromYaml(YAML::Node(), "run.yaml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto t = Targets("- kind: pagerduty\n  routing_key_env: REFLEX_TEST_PD_KEY\n");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name(), "pagerduty-0");
  EXPECT_TRUE(t[0].Wants(NoticeKind::kActionAfter));
  HttpRequest req = t[0].BuildRequest(UnknownNotice());
  EXPECT_EQ(req.url, "https://events.pagerduty.com/v2/enqueue");
  auto dup = NotifierTarget::ListFromYaml(
      YAML::Load("- {kind: slack, url: 'http://a', name: x}\n- {kind: slack, url: 'http://b', "
                 "name: x}\n"),
      "run.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate notifier name 'x'"), std::string::npos);
  setenv("REFLEX_TEST_HOOK_URL", "http://127.0.0.1:9/hook", 1);
  auto env = Targets("- {kind: webhook, url_env: REFLEX_TEST_HOOK_URL}\n");
  unsetenv("REFLEX_TEST_HOOK_URL");
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0].BuildRequest(UnknownNotice()).url, "http://127.0.0.1:9/hook");
}

// One Diagnostic per problem, each with its own position and key path, all in one pass.
TEST_F(NotifierTest, ReadListReportsEveryKindOfProblemAtOnce) {
  base::Diagnostics diags;
  base::ConfigContext ctx("run.yaml", base::NoEnv(), &diags);
  auto t = NotifierTarget::ReadList(YAML::Load(R"(- kind: webhook
  url: http://a
  retries: lots
  queue: 0
  timeout: 3 weeks
  name: [x]
  colour: red
- kind: slack
  url: http://b
  event_action: trigger
  on: []
- kind: slack
- kind: pagerduty
  url_env: NOT_SET
- {kind: slack, url: 'http://c', name: dup}
- {kind: slack, url: 'http://d', name: dup}
)"),
                                    "notifiers", ctx);
  EXPECT_FALSE(t.has_value());
  struct Want {
    int line, column;
    const char* key_path;
    const char* message;
  };
  const Want want[] = {
      {3, 12, "notifiers[0].retries", "expected an integer"},
      {4, 10, "notifiers[0].queue", "must be between 1 and 1000000"},
      {5, 12, "notifiers[0].timeout", "bad duration unit"},
      {6, 9, "notifiers[0].name", "expected a string"},
      {7, 3, "notifiers[0].colour", "unknown key (valid keys: kind, name, url, url_env,"},
      {10, 3, "notifiers[1].event_action", "only valid with kind: pagerduty"},
      {11, 7, "notifiers[1].on", "expected a non-empty list of notice kinds"},
      {12, 3, "notifiers[2].url", "missing required key (or give url_env)"},
      {14, 12, "notifiers[3].url_env", "environment variable NOT_SET is not set"},
      {13, 3, "notifiers[3].routing_key_env", "environment variable PAGERDUTY_ROUTING_KEY"},
      {16, 40, "notifiers[5].name", "duplicate notifier name 'dup'"},
  };
  for (const Want& w : want) {
    bool found = false;
    for (const auto& d : diags.items()) {
      found = found || (d.file == "run.yaml" && d.line == w.line && d.column == w.column &&
                        d.key_path == w.key_path && d.message.find(w.message) == 0 &&
                        d.severity == base::Severity::kError);
    }
    EXPECT_TRUE(found) << w.line << ":" << w.column << ": " << w.key_path << ": " << w.message
                       << "\nin:\n"
                       << diags.ToStatus().message();
  }
  EXPECT_EQ(diags.error_count(), std::size(want)) << diags.ToStatus().message();
}

// url_env, routing_key_env and the default PAGERDUTY_ROUTING_KEY are read through the
// context's lookup, never from the process environment.
TEST_F(NotifierTest, SecretsComeFromTheInjectedEnvironment) {
  unsetenv("PAGERDUTY_ROUTING_KEY");
  const std::map<std::string, std::string> env = {{"HOOK_URL", "http://hook.example/x"},
                                                  {"PD_KEY", "key-from-lookup"},
                                                  {"PAGERDUTY_ROUTING_KEY", "default-key"}};
  base::Diagnostics diags;
  base::ConfigContext ctx(
      "run.yaml",
      [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      &diags);
  auto t = NotifierTarget::ReadList(YAML::Load(R"(- {kind: webhook, url_env: HOOK_URL}
- {kind: pagerduty, name: explicit, routing_key_env: PD_KEY}
- {kind: pagerduty, name: default}
)"),
                                    "notifiers", ctx);
  ASSERT_TRUE(t.has_value()) << diags.ToStatus().message();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].BuildRequest(UnknownNotice()).url, "http://hook.example/x");
  EXPECT_EQ(json::parse((*t)[1].BuildRequest(UnknownNotice()).body)["routing_key"],
            "key-from-lookup");
  EXPECT_EQ(json::parse((*t)[2].BuildRequest(UnknownNotice()).body)["routing_key"], "default-key");

  // The same file with an empty environment: each secret is reported where it is named.
  base::Diagnostics none;
  base::ConfigContext empty("run.yaml", base::NoEnv(), &none);
  setenv("PD_KEY", "from-the-process", 1);
  EXPECT_FALSE(NotifierTarget::ReadList(YAML::Load("- {kind: pagerduty, routing_key_env: PD_KEY}"),
                                        "notifiers", empty)
                   .has_value());
  unsetenv("PD_KEY");
  ASSERT_EQ(none.items().size(), 1u);
  EXPECT_EQ(none.items()[0].key_path, "notifiers[0].routing_key_env");
  EXPECT_EQ(none.items()[0].message, "environment variable PD_KEY is not set");
}

TEST_F(NotifierTest, SchemaDocumentsEveryKey) {
  std::vector<base::SchemaDoc> docs;
  NotifierSchema().Document("notifiers[]", &docs);
  const std::vector<std::string> keys = {"kind",         "name",      "url",     "url_env",
                                         "on",           "templates", "timeout", "retries",
                                         "backoff",      "queue",     "headers", "routing_key_env",
                                         "event_action", "severity",  "source"};
  EXPECT_EQ(NotifierSchema().Keys(), keys);
  for (const auto& key : keys) {
    auto row = std::find_if(docs.begin(), docs.end(), [&](const base::SchemaDoc& d) {
      return d.key == "notifiers[]." + key;
    });
    ASSERT_NE(row, docs.end()) << key;
    EXPECT_FALSE(row->type.empty()) << key;
    EXPECT_FALSE(row->doc.empty()) << key;
  }
  EXPECT_EQ(docs.size(), keys.size());
}

TEST_F(NotifierTest, EscalatedKindIsAcceptedInOnAndHasItsOwnText) {
  auto t = Targets(
      "- kind: webhook\n  url: http://127.0.0.1:9/hook\n  on: [escalated]\n"
      "- kind: webhook\n  url: http://127.0.0.1:9/hook\n  on: [action_failed]\n"
      "- kind: webhook\n  url: http://127.0.0.1:9/hook\n  on: [escalated]\n"
      "  templates: {escalated: 'page {{meta.notice.table}}'}\n");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(t[0].Wants(NoticeKind::kEscalated));
  EXPECT_FALSE(t[0].Wants(NoticeKind::kActionFailed));
  EXPECT_FALSE(t[1].Wants(NoticeKind::kEscalated));
  Notice n;
  n.kind = NoticeKind::kEscalated;
  n.event = ParseEvent(R"({"id":"e-2","labels":{"alertname":"DiskFull"}})");
  n.escalation_id = 7;
  n.action = "escalate";
  n.table = "disk";
  n.row = "r3";
  n.reason = "the decision table says escalate";
  EXPECT_EQ(t[0].RenderText(n),
            "Escalated: disk/r3 for DiskFull (escalation #7): the decision table says escalate");
  EXPECT_EQ(t[2].RenderText(n), "page disk");
  // PagerDuty: an escalation is no error unless its severity says so.
  auto pd = Targets("- kind: pagerduty\n  routing_key_env: REFLEX_TEST_PD_KEY\n");
  ASSERT_EQ(pd.size(), 1u);
  json body = json::parse(pd[0].BuildRequest(n).body);
  EXPECT_EQ(body["payload"]["class"], "escalated");
  EXPECT_EQ(body["payload"]["severity"], "warning");
  // A typo is an error that lists the kinds.
  auto bad = NotifierTarget::ListFromYaml(
      YAML::Load("- {kind: webhook, url: 'http://a', on: [escalate]}\n"), "run.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("notifiers[0].on[0]: unknown value 'escalate'"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("escalated"), std::string::npos);
}

TEST_F(NotifierTest, NoticeKindNamesRoundTrip) {
  for (auto k : {NoticeKind::kNewUnknown, NoticeKind::kKnownWithAction, NoticeKind::kActionFailed,
                 NoticeKind::kApprovalRequested, NoticeKind::kApprovalExpired,
                 NoticeKind::kActionBefore, NoticeKind::kActionAfter, NoticeKind::kEscalated}) {
    auto parsed = ParseNoticeKind(NoticeKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(ParseNoticeKind("nope").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace reflex::actions

namespace reflex::actions {
namespace {

TEST(NotifierOutboxTest, NoticeDueAtDeathIsSentAfterRestartExactlyOnce) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-outbox-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string db = tmpl + "/reflex.db";
  {
    // The target is down: the notice is retried (10 s apart) when the process "dies".
    test::RefusingPort down;
    auto outbox = NoticeOutbox::Open(db);
    ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
    auto n = Notifier::Create(
        Targets("- kind: webhook\n  name: ops\n  url: http://127.0.0.1:" +
                std::to_string(down.port()) + "/hook\n  retries: 5\n  backoff: 10s\n"),
        {.log = [](std::string_view) {}, .outbox = outbox->get()});
    ASSERT_TRUE(n.ok());
    (*n)->Notify(UnknownNotice());
    EXPECT_FALSE((*n)->Flush(Clock::now() + std::chrono::milliseconds(300)));
    EXPECT_EQ((*n)->stats().delivered, 0u);
  }  // notifier and outbox destroyed with the notice undelivered
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/hook");
  server.Start();
  {
    auto outbox = NoticeOutbox::Open(db);
    ASSERT_TRUE(outbox.ok());
    EXPECT_EQ(*(*outbox)->Count("pending"), 1);
    auto n = Notifier::Create(
        Targets("- kind: webhook\n  name: ops\n  url: " + server.Url("/hook") + "\n"),
        {.log = [](std::string_view) {}, .outbox = outbox->get()});
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE((*n)->Flush(Clock::now() + std::chrono::seconds(10)));
    EXPECT_EQ((*n)->stats().resumed, 1u);
    EXPECT_EQ((*n)->stats().delivered, 1u);
    EXPECT_EQ(*(*outbox)->Count("pending"), 0);
    EXPECT_EQ(*(*outbox)->Count("delivered"), 1);
  }
  {
    // A second restart sends nothing again.
    auto outbox = NoticeOutbox::Open(db);
    ASSERT_TRUE(outbox.ok());
    auto n = Notifier::Create(
        Targets("- kind: webhook\n  name: ops\n  url: " + server.Url("/hook") + "\n"),
        {.log = [](std::string_view) {}, .outbox = outbox->get()});
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE((*n)->Flush(Clock::now() + std::chrono::seconds(10)));
    EXPECT_EQ((*n)->stats().resumed, 0u);
  }
  ASSERT_EQ(rec.size(), 1u);
  json body = rec.Body(0);
  EXPECT_EQ(body["kind"], "new_unknown");
  EXPECT_EQ(body["escalation_id"], 42);
  EXPECT_EQ(body["event"]["labels"]["alertname"], "DiskFull");
  // The group's count survives the restart (the text never says "seen 0 times").
  EXPECT_EQ(body["count"], 3);
  EXPECT_EQ(body["text"],
            "Unknown event DiskFull from prometheus: disk at 97% (escalation #42, seen 3 times)");
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

// Two replicas on one outbox: a notice the other replica holds is not sent at Create; once its
// lease expires (the replica died), the running notifier takes it over and sends it once.
TEST(NotifierOutboxTest, ReplicaTakesOverANoticeWhoseLeaseExpiredAndSendsItOnce) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-outbox-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string db = tmpl + "/reflex.db";
  TestServer server;
  Recorder rec;
  rec.Attach(server.svr(), "/hook");
  server.Start();
  {
    auto dead = NoticeOutbox::Open(base::StoreConfig{}, db, {.owner = "dead", .lease_ms = 1000});
    ASSERT_TRUE(dead.ok()) << dead.status().ToString();
    auto live = NoticeOutbox::Open(base::StoreConfig{}, db, {.owner = "live"});
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    // The other replica stored the notice (claimed for 1 s) and died before sending it.
    auto id = (*dead)->Add("ops", UnknownNotice(), engine::SystemClock().NowMillis());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    // The takeover is said: a log line naming the notice and a `taken_over` outcome.
    struct Outcomes : ActionObserver {
      std::mutex mu;
      std::vector<std::string> seen;
      void NoticeOutcome(std::string_view target, std::string_view outcome) override {
        std::lock_guard<std::mutex> l(mu);
        seen.push_back(std::string(target) + ":" + std::string(outcome));
      }
    } outcomes;
    std::mutex log_mu;
    std::vector<std::string> log;
    auto n = Notifier::Create(
        Targets("- kind: webhook\n  name: ops\n  url: " + server.Url("/hook") + "\n"),
        {.log =
             [&](std::string_view line) {
               std::lock_guard<std::mutex> l(log_mu);
               log.emplace_back(line);
             },
         .outbox = live->get(),
         .outbox_claim_interval_ms = 50,
         .observer = &outcomes});
    ASSERT_TRUE(n.ok());
    EXPECT_EQ((*n)->stats().resumed, 0u) << "the other replica's lease holds";
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(rec.size(), 0u);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (rec.size() == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(rec.size(), 1u);
    ASSERT_TRUE((*n)->Flush(Clock::now() + std::chrono::seconds(5)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a few more claim rounds
    EXPECT_EQ(rec.size(), 1u) << "sent once";
    EXPECT_EQ((*n)->stats().taken_over, 1u);
    EXPECT_EQ((*n)->stats().delivered, 1u);
    {
      std::lock_guard<std::mutex> l(outcomes.mu);
      EXPECT_EQ(outcomes.seen, (std::vector<std::string>{"ops:taken_over", "ops:delivered"}));
    }
    {
      std::lock_guard<std::mutex> l(log_mu);
      ASSERT_EQ(log.size(), 1u);
      EXPECT_EQ(log[0],
                "notifier ops: took over 1 notice(s) of a replica whose claim ran out "
                "(outbox ids " +
                    std::to_string(*id) + ")");
    }
    EXPECT_EQ(*(*live)->Count("delivered"), 1);
    // The dead replica, were it only slow, can no longer record an outcome for it.
    EXPECT_EQ((*dead)->MarkDelivered(*id, engine::SystemClock().NowMillis()).code(),
              StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(rec.Body(0)["escalation_id"], 42);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

TEST(NotifierOutboxTest, EventWithoutItsBytesKeepsItsTimeThroughTheOutbox) {
  // An event built in code (no raw bytes) is stored by its fields. Its time must come back
  // as it was, also early times that an epoch number would read as seconds.
  for (int64_t t : {int64_t{86'400'000}, int64_t{1'700'000'000'123}}) {
    Notice n;
    n.kind = NoticeKind::kActionAfter;
    engine::Event ev;
    ev.id = "built";
    ev.time_ms = t;
    ev.source = "reflex";
    ev.labels = {{"alertname", "Check"}};
    ev.message = "done";
    n.event = ev;
    auto back = NoticeFromJson(NoticeToJson(n));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ASSERT_TRUE(back->event.has_value());
    EXPECT_EQ(back->event->time_ms, t);
    EXPECT_EQ(back->event->id, "built");
    EXPECT_EQ(back->event->labels, ev.labels);
    EXPECT_EQ(back->event->message, "done");
  }
}

TEST(NotifierOutboxTest, DurabilityChoosesTheSynchronousLevel) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-outbox-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  {
    auto normal = NoticeOutbox::Open(tmpl + "/normal.db");
    ASSERT_TRUE(normal.ok()) << normal.status().ToString();
    EXPECT_EQ((*normal)->SynchronousLevel(), 1);  // NORMAL
    auto full = NoticeOutbox::Open(tmpl + "/full.db", 5000, base::Durability::kFsync);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    EXPECT_EQ((*full)->SynchronousLevel(), 2);  // FULL
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace reflex::actions
