// Secrets stay secret: URL userinfo, URL query tokens, bearer tokens and routing keys never
// reach a returned Status, the journal or escalation store (the SQLite files themselves are
// searched), a notice another system receives, or a log line, when the target refuses the
// connection or answers 500 with an echo of what it was sent. Real loopback servers, real
// SQLite, the real executor -> dispatcher -> notifier chain.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/dispatcher.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/http_client.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notifier.h"
#include "test_server.h"

namespace reflex::actions {
namespace {

using test::Decision;
using test::EventJson;
using test::TempDir;
using namespace std::chrono_literals;

constexpr const char* kUser = "robert7";
constexpr const char* kPassword = "hunter22";
constexpr const char* kQueryToken = "sekrit99";
constexpr const char* kBearer = "tok-abcdef";
constexpr const char* kRoutingKey = "pd-routing-key-xyz";
// base64("robert7:hunter22"): what curl sends as Basic credentials for the userinfo.
constexpr const char* kBasic = "cm9iZXJ0NzpodW50ZXIyMg==";

std::vector<std::string> Secrets() {
  return {kUser, kPassword, kQueryToken, kBearer, kRoutingKey, kBasic};
}

// Every secret that occurs in `text`, for a readable failure.
std::vector<std::string> Leaks(const std::string& text) {
  std::vector<std::string> found;
  for (const auto& s : Secrets()) {
    if (text.find(s) != std::string::npos) found.push_back(s);
  }
  return found;
}

std::string SecretUrl(int port, const std::string& path) {
  return std::string("http://") + kUser + ":" + kPassword + "@127.0.0.1:" + std::to_string(port) +
         path + "?token=" + kQueryToken + "&channel=ops";
}

// A server that answers 500 with everything it was sent: the request line, headers, body.
void EchoWith500(httplib::Server& svr) {
  svr.Post(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    std::string echo = req.method + " " + req.target + "\n";
    for (const auto& [k, v] : req.headers) echo += k + ": " + v + "\n";
    echo += req.body;
    res.status = 500;
    res.set_content(echo, "text/plain");
  });
}

// Every byte of the files whose name starts with `prefix` in `dir` (database, WAL, journal).
std::string FileBytes(const std::string& dir, const std::string& prefix) {
  std::string all;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) != 0) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

class RedactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("REFLEX_TEST_HOOK_TOKEN", kBearer, 1);
    setenv("REFLEX_TEST_PD_ROUTING", kRoutingKey, 1);
  }
  void TearDown() override {
    unsetenv("REFLEX_TEST_HOOK_TOKEN");
    unsetenv("REFLEX_TEST_PD_ROUTING");
    unsetenv("REFLEX_TEST_SLACK_URL");
  }
};

TEST_F(RedactionTest, HttpSendStatusNamesTheTargetWithoutCredentials) {
  test::RefusingPort dead;
  HttpRequest req;
  req.url = SecretUrl(dead.port(), "/hook");
  req.headers = {{"Authorization", std::string("Bearer ") + kBearer}};
  req.timeout_ms = 5000;
  auto r = HttpSend(req);
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  EXPECT_THAT(Leaks(m), ::testing::IsEmpty()) << m;
  EXPECT_THAT(m, ::testing::HasSubstr("127.0.0.1:" + std::to_string(dead.port()) + "/hook"));

  req.url = std::string("htp://") + kUser + ":" + kPassword + "@h/x?token=" + kQueryToken;
  r = HttpSend(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Leaks(r.status().message()), ::testing::IsEmpty()) << r.status().message();
}

TEST_F(RedactionTest, WebhookActionSecretsStayOutOfJournalNoticesAndLogs) {
  test::RefusingPort dead;
  test::TestServer echo;
  EchoWith500(echo.svr());
  echo.Start();
  // Where the notices go: recorded as received.
  test::TestServer sink;
  std::mutex mu;
  std::vector<std::string> notices, logs;
  sink.svr().Post("/notices", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    notices.push_back(req.body);
    res.status = 200;
  });
  sink.Start();

  TempDir dir;
  const std::string common =
      "    token_env: REFLEX_TEST_HOOK_TOKEN\n"
      "    retries: {max_attempts: 2, backoff_base: 1ms, backoff_max: 2ms}\n"
      "    notify: {before: true, after: true}\n";
  auto catalog = ParseCatalog("actions:\n  refused:\n    kind: webhook\n    url: \"" +
                                  SecretUrl(dead.port(), "/hook") + "\"\n" + common +
                                  "  echoed:\n    kind: webhook\n    url: \"" +
                                  SecretUrl(echo.port(), "/hook") + "\"\n" + common,
                              "actions.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  auto journal = Journal::Open(dir.File("reflex.db"));
  ASSERT_TRUE(journal.ok());
  auto store = EscalationStore::Open(dir.File("reflex.db"), {});
  ASSERT_TRUE(store.ok());
  auto targets = NotifierTarget::ListFromYaml(
      YAML::Load("- {kind: webhook, url: \"" + sink.Url("/notices") + "\"}"), "run.yaml");
  ASSERT_TRUE(targets.ok());
  NotifierOptions no;
  no.log = [&](std::string_view line) {
    std::lock_guard<std::mutex> l(mu);
    logs.emplace_back(line);
  };
  auto notifier = Notifier::Create(std::move(*targets), std::move(no));
  ASSERT_TRUE(notifier.ok());

  engine::SystemClock clock;
  std::unique_ptr<Dispatcher> dispatcher;
  ActionHooks hooks;
  hooks.escalate = [&](const EscalationNotice& n) { dispatcher->OnActionEscalation(n); };
  hooks.notify = [&](const EscalationNotice& n) { dispatcher->OnActionNotice(n); };
  ExecutorOptions eo;
  eo.tick_ms = 5;
  eo.seed = 7;
  Executor ex(*catalog, **journal, hooks, eo, clock);
  dispatcher = std::make_unique<Dispatcher>(
      ex, **store, **notifier, clock,
      [&](bool, std::string_view msg, const std::vector<std::pair<std::string, std::string>>& f) {
        std::string line(msg);
        for (const auto& [k, v] : f) line += " " + k + "=" + v;
        std::lock_guard<std::mutex> l(mu);
        logs.push_back(line);
      });
  ASSERT_TRUE(ex.Start().ok());
  ASSERT_TRUE(ex.Submit(Decision("e1", {{"refused", {}}, {"echoed", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(ex.Drain(20s));
  ASSERT_TRUE((*notifier)->Flush(std::chrono::steady_clock::now() + 20s));
  ex.Stop();

  auto runs = (*journal)->List(std::nullopt);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  for (const ActionRun& r : *runs) {
    EXPECT_EQ(r.state, RunState::kFailed) << r.key.action;
    EXPECT_EQ(r.attempts, 2) << r.key.action;
    const std::string row = r.request + "\n" + r.last_error + "\n" + r.output + "\n" + r.target;
    EXPECT_THAT(Leaks(row), ::testing::IsEmpty()) << row;
  }
  // The echo server did get the credentials: the secrets were sent, only never kept.
  const ActionRun& echoed = (*runs)[0].key.action == "echoed" ? (*runs)[0] : (*runs)[1];
  EXPECT_THAT(echoed.output, ::testing::HasSubstr("Authorization: ***"));
  EXPECT_THAT(echoed.output, ::testing::HasSubstr("/hook?***"));
  const ActionRun& refused = (*runs)[0].key.action == "refused" ? (*runs)[0] : (*runs)[1];
  EXPECT_THAT(refused.last_error,
              ::testing::HasSubstr("127.0.0.1:" + std::to_string(dead.port()) + "/hook"));

  (*journal).reset();
  (*store).reset();
  const std::string db = FileBytes(dir.path(), "reflex.db");
  EXPECT_THAT(Leaks(db), ::testing::IsEmpty());

  std::lock_guard<std::mutex> l(mu);
  // Two failures (escalated and notified after), two starts: six notices at least.
  EXPECT_GE(notices.size(), 6u);
  for (const auto& n : notices) EXPECT_THAT(Leaks(n), ::testing::IsEmpty()) << n;
  EXPECT_FALSE(logs.empty());
  for (const auto& line : logs) EXPECT_THAT(Leaks(line), ::testing::IsEmpty()) << line;
}

TEST_F(RedactionTest, NotifierDeliveryErrorsAreLoggedWithoutCredentials) {
  test::RefusingPort dead;
  test::TestServer echo;
  EchoWith500(echo.svr());
  echo.Start();
  setenv("REFLEX_TEST_SLACK_URL", SecretUrl(dead.port(), "/services/T0").c_str(), 1);
  auto targets = NotifierTarget::ListFromYaml(
      YAML::Load("- {kind: slack, url_env: REFLEX_TEST_SLACK_URL, retries: 1, backoff: 1ms}\n"
                 "- {kind: pagerduty, url: \"" +
                 SecretUrl(echo.port(), "/v2/enqueue") +
                 "\", routing_key_env: REFLEX_TEST_PD_ROUTING, retries: 1, backoff: 1ms}\n"
                 "- kind: webhook\n  url: \"" +
                 SecretUrl(echo.port(), "/hook") + "\"\n  headers: {Authorization: \"Bearer " +
                 kBearer + "\", X-Team: ops}\n  retries: 0\n"),
      "run.yaml");
  ASSERT_TRUE(targets.ok()) << targets.status().message();
  std::mutex mu;
  std::vector<std::string> logs;
  NotifierOptions no;
  no.log = [&](std::string_view line) {
    std::lock_guard<std::mutex> l(mu);
    logs.emplace_back(line);
  };
  auto n = Notifier::Create(std::move(*targets), std::move(no));
  ASSERT_TRUE(n.ok());
  Notice notice;
  notice.kind = NoticeKind::kActionFailed;
  notice.action = "restart";
  notice.reason = "HTTP 500";
  (*n)->Notify(notice);
  ASSERT_TRUE((*n)->Flush(std::chrono::steady_clock::now() + 20s));
  EXPECT_EQ((*n)->stats().failed, 3u);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(logs.size(), 3u);
  for (const auto& line : logs) EXPECT_THAT(Leaks(line), ::testing::IsEmpty()) << line;
  // Still says where and why.
  const std::string all = logs[0] + logs[1] + logs[2];
  EXPECT_THAT(
      all, ::testing::HasSubstr("127.0.0.1:" + std::to_string(dead.port()) + "/services/T0?***"));
  EXPECT_THAT(all, ::testing::HasSubstr("HTTP 500"));
}

}  // namespace
}  // namespace reflex::actions
