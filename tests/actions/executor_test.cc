// The executor against real parts: an httplib server on 127.0.0.1 (port 0) answering 200,
// 500, 404, slowly or from a closed port; real commands; a real SQLite journal in a temp
// dir; engine::ManualClock where time matters (backoff, breaker, throttle, approvals).
#include "reflex/actions/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exec_test_util.h"
#include "test_server.h"

namespace reflex::actions {
namespace {

using test::ActionRef;
using test::Decision;
using test::EventJson;
using test::TempDir;
using test::WaitFor;
using namespace std::chrono_literals;

// Records hook calls.
struct Recorder {
  std::mutex mu;
  std::vector<EscalationNotice> escalations, notices;
  std::vector<std::string> produced, emitted;
  std::atomic<int> produce_failures_left{0};

  ActionHooks Hooks() {
    ActionHooks h;
    h.escalate = [this](const EscalationNotice& n) {
      std::lock_guard<std::mutex> l(mu);
      escalations.push_back(n);
    };
    h.notify = [this](const EscalationNotice& n) {
      std::lock_guard<std::mutex> l(mu);
      notices.push_back(n);
    };
    h.produce = [this](const std::string& topic, const std::string& key,
                       const std::string& value) -> engine::Status {
      if (produce_failures_left.fetch_sub(1) > 0) {
        return engine::Unavailable("broker down");
      }
      std::lock_guard<std::mutex> l(mu);
      produced.push_back(topic + "|" + key + "|" + value);
      return engine::Status::Ok();
    };
    h.emit = [this](const std::string& ev) -> engine::Status {
      std::lock_guard<std::mutex> l(mu);
      emitted.push_back(ev);
      return engine::Status::Ok();
    };
    return h;
  }
  size_t NumEscalations() {
    std::lock_guard<std::mutex> l(mu);
    return escalations.size();
  }
  size_t NumProduced() {
    std::lock_guard<std::mutex> l(mu);
    return produced.size();
  }
};

// A catalog, a journal in a temp dir and an executor over them.
struct Fixture {
  TempDir dir;
  Catalog catalog;
  std::unique_ptr<Journal> journal;
  Recorder rec;
  std::unique_ptr<Executor> ex;

  Fixture(const std::string& yaml, engine::Clock& clock, ExecutorOptions opts = {},
          JournalOptions jo = {}) {
    auto c = ParseCatalog(yaml, "actions.yaml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    if (c.ok()) catalog = std::move(*c);
    auto j = Journal::Open(dir.File("reflex.db"), jo);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    journal = std::move(*j);
    if (opts.seed == 0) opts.seed = 42;
    opts.tick_ms = 5;
    ex = std::make_unique<Executor>(catalog, *journal, rec.Hooks(), opts, clock);
  }
  std::vector<ActionRun> Runs(std::optional<RunState> s = std::nullopt) {
    return *journal->List(s);
  }
  ActionRun Only() {
    auto runs = Runs();
    EXPECT_EQ(runs.size(), 1u);
    return runs.empty() ? ActionRun{} : runs[0];
  }
  size_t Count(RunState s) { return Runs(s).size(); }
};

std::string WebhookYaml(const std::string& url, const std::string& extra) {
  return "actions:\n  hook:\n    kind: webhook\n    params: [host]\n    url: \"" + url +
         "\"\n    body: {host: \"{{params.host}}\", event: \"{{event.id}}\"}\n" + extra;
}

TEST(ExecutorTest, WebhookRetriesWithBackoffThenSucceeds) {
  test::TestServer server;
  std::atomic<int> hits{0};
  std::string last_body;
  std::set<std::string> keys;
  std::mutex mu;
  server.svr().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    int n = ++hits;
    {
      std::lock_guard<std::mutex> l(mu);
      last_body = req.body;
      keys.insert(req.get_header_value("Idempotency-Key"));
    }
    res.status = n <= 2 ? 500 : 200;
    res.set_content(n <= 2 ? "busy" : "ok", "text/plain");
  });
  server.Start();
  engine::SystemClock clock;
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: {max_attempts: 5, backoff_base: 1ms, backoff_max: 4ms}\n"),
            clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "web-01"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kSucceeded);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.output, "ok");
  EXPECT_EQ(hits.load(), 3);
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(nlohmann::json::parse(last_body),
              nlohmann::json::parse(R"({"host":"web-01","event":"e1"})"));
    // Every attempt of one run carries the same key, so the target can drop repeats.
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_THAT(*keys.begin(), ::testing::MatchesRegex("reflex-[0-9a-f]{16}"));
  }
  EXPECT_EQ(f.ex->stats().retries, 2);
  EXPECT_EQ(f.rec.NumEscalations(), 0u);
}

// Polls `done` every 2 ms for up to 10 s.
template <typename F>
bool WaitUntil(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A run that takes longer than its claim's lease keeps the claim: the executor renews it while
// the action runs, also one that only carries out what it is given (`reflex actions run`), so
// another process never takes over a run that is alive. (Before, only an engine's executor
// had the housekeeping thread, and a manual run longer than the lease could be run twice.)
TEST(ExecutorTest, ALongRunKeepsItsClaimWhileItRuns) {
  test::TestServer server;
  std::atomic<bool> release{false};
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    res.status = 200;
  });
  server.Start();
  engine::ManualClock clock(1'000'000);
  ExecutorOptions opts;
  opts.resume_journal = false;
  Fixture f(WebhookYaml(server.Url("/hook"), ""), clock, opts,
            {.owner = "runner", .lease_ms = 300});
  auto other = Journal::Open(f.dir.File("reflex.db"), {.recover = false, .owner = "other"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "web-01"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(WaitUntil([&] { return hits.load() == 1; }));
  const int64_t id = f.Only().id;
  for (int step = 0; step < 5; ++step) {  // 1 s of clock: more than three leases
    clock.Advance(200);
    const int64_t now = clock.NowMillis();
    ASSERT_TRUE(WaitUntil([&] { return f.journal->Get(id)->lease_until_ms > now; }))
        << "renewed at " << now;
    EXPECT_TRUE((*other)->ReclaimExpired(now)->empty()) << "the claim is alive";
  }
  release = true;
  ASSERT_TRUE(f.ex->Drain(20s));
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kSucceeded);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(hits.load(), 1);
}

TEST(ExecutorTest, BackoffWaitsOnTheClock) {
  test::TestServer server;
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    res.status = ++hits == 1 ? 503 : 200;
  });
  server.Start();
  engine::ManualClock clock(1'000'000);
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: {max_attempts: 3, backoff_base: 10s, jitter: none}\n"),
            clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "a"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(WaitFor([&] { return f.ex->stats().retries == 1; }));
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kPending);
  EXPECT_EQ(r.next_attempt_at_ms, 1'010'000);  // base backoff, no jitter
  EXPECT_EQ(r.last_error, "HTTP 503");
  clock.Advance(9'999);
  EXPECT_FALSE(f.ex->Drain(50ms));  // not due yet: the run waits for the clock
  EXPECT_EQ(hits.load(), 1);
  clock.Advance(1);
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.Only().state, RunState::kSucceeded);
  EXPECT_EQ(hits.load(), 2);
}

TEST(ExecutorTest, RetriesExhaustedFailAndEscalate) {
  test::TestServer server;
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 500;
  });
  server.Start();
  engine::SystemClock clock;
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: {max_attempts: 3, backoff_base: 1ms, backoff_max: 2ms}\n"
                        "    notify: {after: true}\n"),
            clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "a"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kFailed);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.last_error, "HTTP 500");
  EXPECT_EQ(hits.load(), 3);
  ASSERT_EQ(f.rec.NumEscalations(), 1u);
  EXPECT_EQ(f.rec.escalations[0].kind, ActionEventKind::kActionFailed);
  EXPECT_EQ(f.rec.escalations[0].event_id, "e1");
  EXPECT_EQ(f.rec.escalations[0].action, "hook");
  EXPECT_EQ(f.rec.escalations[0].row, "r1");
  EXPECT_NE(f.rec.escalations[0].reason.find("after 3 attempt(s): HTTP 500"), std::string::npos);
  EXPECT_EQ(f.rec.escalations[0].event_json, EventJson("e1"));
  std::lock_guard<std::mutex> l(f.rec.mu);
  ASSERT_EQ(f.rec.notices.size(), 1u);
  EXPECT_EQ(f.rec.notices[0].kind, ActionEventKind::kActionFailed);
}

TEST(ExecutorTest, ClientErrorIsPermanent) {
  test::TestServer server;
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 404;
  });
  server.Start();
  engine::SystemClock clock;
  Fixture f(WebhookYaml(server.Url("/hook"), "    retries: {max_attempts: 5, backoff_base: 1ms}\n"),
            clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "a"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.Only().state, RunState::kFailed);
  EXPECT_EQ(f.Only().attempts, 1);
  EXPECT_EQ(hits.load(), 1);
  EXPECT_EQ(f.rec.NumEscalations(), 1u);
}

TEST(ExecutorTest, WebhookTimeoutAndClosedPortAreRetriedThenFail) {
  test::TestServer server;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  server.svr().Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, 20s, [&] { return release; });  // answers only when the test ends
    res.status = 200;
  });
  server.Start();
  engine::SystemClock clock;
  test::RefusingPort closed;
  Fixture f(
      "actions:\n"
      "  slow:\n    kind: webhook\n    url: \"" +
          server.Url("/slow") +
          "\"\n"
          "    timeout: 200ms\n    retries: {max_attempts: 2, backoff_base: 1ms}\n"
          "  closed:\n    kind: webhook\n    url: \"http://127.0.0.1:" +
          std::to_string(closed.port()) +
          "/x\"\n    retries: {max_attempts: 2, backoff_base: 1ms}\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"slow", {}}, {"closed", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.state, RunState::kFailed) << r.key.action;
    EXPECT_EQ(r.attempts, 2) << r.key.action;
    EXPECT_FALSE(r.last_error.empty());
  }
  EXPECT_EQ(f.rec.NumEscalations(), 2u);
}

TEST(ExecutorTest, CommandTimeoutAndExitCode) {
  engine::SystemClock clock;
  Fixture f(
      "actions:\n"
      "  sleepy:\n    kind: command\n    argv: [/bin/sleep, '30']\n    timeout: 200ms\n"
      "    retries: 1\n"
      "  exit3:\n    kind: command\n    argv: [/bin/sh, -c, 'exit 3']\n    retries: 1\n"
      "  hello:\n    kind: command\n    params: [who]\n"
      "    argv: [/bin/echo, 'hello {{params.who}}']\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(
      f.ex->Submit(
              Decision("e1", {{"sleepy", {}}, {"exit3", {}}, {"hello", {{"who", "$(reboot)"}}}}),
              EventJson("e1"))
          .ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  std::map<std::string, ActionRun> by;
  for (auto& r : f.Runs()) by[r.key.action] = r;
  EXPECT_EQ(by["sleepy"].state, RunState::kFailed);
  EXPECT_EQ(by["sleepy"].last_error, "timed out after 200 ms");
  EXPECT_EQ(by["exit3"].state, RunState::kFailed);
  EXPECT_EQ(by["exit3"].last_error, "exit 3");
  EXPECT_EQ(by["hello"].state, RunState::kSucceeded);
  EXPECT_EQ(by["hello"].output, "hello $(reboot)\n");
  EXPECT_EQ(by["hello"].key.action_index, 2);
}

TEST(ExecutorTest, CircuitBreakerOpensAndHalfOpens) {
  test::TestServer server;
  std::atomic<int> hits{0};
  std::atomic<int> status{500};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = status.load();
  });
  server.Start();
  engine::ManualClock clock(1'000'000);
  ExecutorOptions opts;
  opts.workers = 1;
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: 1\n"
                        "    circuit_breaker: {failures: 2, reset_after: 30s}\n"),
            clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  auto submit = [&](int i) {
    std::string id = "e" + std::to_string(i);
    ASSERT_TRUE(f.ex->Submit(Decision(id, {{"hook", {{"host", "a"}}}}), EventJson(id)).ok());
  };
  for (int i = 0; i < 4; ++i) submit(i);
  // Two failures open the breaker; the other two runs are held back, no request is sent.
  ASSERT_TRUE(WaitFor([&] { return f.ex->stats().breaker_rejections >= 2; }));
  EXPECT_EQ(hits.load(), 2);
  EXPECT_EQ(f.Count(RunState::kFailed), 2u);
  EXPECT_EQ(f.Count(RunState::kPending), 2u);
  EXPECT_EQ(f.ex->stats().attempts, 2);
  // Half-open after reset_after: exactly one trial; it fails, so the breaker opens again.
  clock.Advance(30'000);
  ASSERT_TRUE(WaitFor([&] { return f.Count(RunState::kFailed) == 3; }));
  ASSERT_TRUE(WaitFor([&] { return f.ex->stats().breaker_rejections >= 3; }));
  EXPECT_EQ(hits.load(), 3);
  EXPECT_EQ(f.Count(RunState::kPending), 1u);
  // The target recovers: the next trial succeeds and closes the breaker.
  status = 200;
  clock.Advance(30'000);
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(hits.load(), 4);
  EXPECT_EQ(f.Count(RunState::kSucceeded), 1u);
  // Closed: new runs go straight through without the clock moving.
  submit(4);
  submit(5);
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(hits.load(), 6);
  EXPECT_EQ(f.Count(RunState::kSucceeded), 3u);
  EXPECT_EQ(f.rec.NumEscalations(), 3u);
}

TEST(ExecutorTest, ThrottleOncePerWindowPerKey) {
  engine::ManualClock clock(1'000'000);
  Fixture f(
      "actions:\n  pub:\n    kind: kafka\n    params: [host]\n    topic: ops\n"
      "    key: '{{params.host}}'\n    value: '{{event.id}}'\n"
      "    throttle: {once_within: 10m, group_by: [params.host]}\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  auto submit = [&](const std::string& id, const std::string& host) {
    ASSERT_TRUE(f.ex->Submit(Decision(id, {{"pub", {{"host", host}}}}), EventJson(id)).ok());
  };
  submit("e1", "a");
  submit("e2", "a");
  submit("e3", "b");
  ASSERT_TRUE(f.ex->Drain(20s));
  clock.Advance(10 * 60'000 - 1);
  submit("e4", "a");  // still inside the window of e1
  clock.Advance(1);
  submit("e5", "a");  // the window has passed
  ASSERT_TRUE(f.ex->Drain(20s));
  std::map<std::string, RunState> st;
  for (auto& r : f.Runs()) st[r.key.event_id] = r.state;
  EXPECT_EQ(st["e1"], RunState::kSucceeded);
  EXPECT_EQ(st["e2"], RunState::kThrottled);
  EXPECT_EQ(st["e3"], RunState::kSucceeded);
  EXPECT_EQ(st["e4"], RunState::kThrottled);
  EXPECT_EQ(st["e5"], RunState::kSucceeded);
  std::lock_guard<std::mutex> l(f.rec.mu);
  std::vector<std::string> produced = f.rec.produced;
  std::sort(produced.begin(), produced.end());  // workers run in parallel
  EXPECT_EQ(produced, (std::vector<std::string>{"ops|a|e1", "ops|a|e5", "ops|b|e3"}));
}

TEST(ExecutorTest, SuppressAfterCountWithinInterval) {
  engine::ManualClock clock(5'000'000);
  Fixture f(
      "actions:\n  pub:\n    kind: kafka\n    params: [host]\n    topic: ops\n"
      "    value: x\n"
      "    suppress: {interval: 1h, count: 2, group_by: [params.host]}\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  auto submit = [&](const std::string& id) {
    ASSERT_TRUE(f.ex->Submit(Decision(id, {{"pub", {{"host", "a"}}}}), EventJson(id)).ok());
  };
  submit("e1");
  clock.Advance(60'000);
  submit("e2");
  submit("e3");
  ASSERT_TRUE(f.ex->Drain(20s));
  clock.Advance(3'600'000 - 60'000);  // e1 leaves the interval, e2 is still in it
  submit("e4");
  submit("e5");
  ASSERT_TRUE(f.ex->Drain(20s));
  std::map<std::string, RunState> st;
  for (auto& r : f.Runs()) st[r.key.event_id] = r.state;
  EXPECT_EQ(st["e1"], RunState::kSucceeded);
  EXPECT_EQ(st["e2"], RunState::kSucceeded);
  EXPECT_EQ(st["e3"], RunState::kSuppressed);
  EXPECT_EQ(st["e4"], RunState::kSucceeded);
  EXPECT_EQ(st["e5"], RunState::kSuppressed);
  EXPECT_EQ(f.rec.NumProduced(), 3u);
}

constexpr const char* kApprovalYaml =
    "actions:\n  pub:\n    kind: kafka\n    topic: ops\n    value: x\n"
    "    approval: required\n    approval_ttl: 10m\n";

TEST(ExecutorTest, ApprovalApproveRunsTheAction) {
  engine::ManualClock clock(1'000'000);
  Fixture f(kApprovalYaml, clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kAwaitingApproval);
  EXPECT_EQ(r.approval_deadline_ms, 1'000'000 + 600'000);
  {
    std::lock_guard<std::mutex> l(f.rec.mu);
    ASSERT_EQ(f.rec.notices.size(), 1u);
    EXPECT_EQ(f.rec.notices[0].kind, ActionEventKind::kApprovalRequested);
    EXPECT_EQ(f.rec.notices[0].run_id, r.id);
  }
  ASSERT_TRUE(f.ex->Drain(5s));  // nothing runs while it waits
  EXPECT_EQ(f.rec.NumProduced(), 0u);
  ASSERT_TRUE(f.ex->Approve(r.id, "alice").ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  r = f.Only();
  EXPECT_EQ(r.state, RunState::kSucceeded);
  EXPECT_EQ(r.decided_by, "alice");
  EXPECT_EQ(f.rec.NumProduced(), 1u);
  EXPECT_EQ(f.ex->Approve(r.id, "bob").code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.ex->Approve(424242, "bob").code(), engine::StatusCode::kNotFound);
}

// SetCatalog (the rules' hot reload): decisions submitted afterwards use the new catalog,
// and a run queued under the old one keeps its settings; the old catalog stays alive for it
// although nothing else holds it any more (AddressSanitizer would see a freed spec).
TEST(ExecutorTest, SetCatalogAppliesToLaterDecisionsAndQueuedRunsKeepTheirSpec) {
  engine::ManualClock clock(1'000'000);
  Fixture f("actions:\n  pub:\n    kind: kafka\n    topic: ops\n    value: x\n", clock);
  // Queued before the workers start: still waiting when the catalog changes.
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  auto next = ParseCatalog(kApprovalYaml, "actions.yaml");
  ASSERT_TRUE(next.ok()) << next.status().message();
  f.ex->SetCatalog(std::make_shared<const Catalog>(std::move(*next)));
  EXPECT_TRUE(f.ex->catalog()->Find("pub")->approval_required);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.Only().state, RunState::kSucceeded);
  EXPECT_EQ(f.rec.NumProduced(), 1u);

  ASSERT_TRUE(f.ex->Submit(Decision("e2", {{"pub", {}}}), EventJson("e2")).ok());
  ASSERT_TRUE(f.ex->Drain(5s));
  EXPECT_EQ(f.Count(RunState::kAwaitingApproval), 1u) << "the new catalog requires approval";
  EXPECT_EQ(f.rec.NumProduced(), 1u);
  f.ex->SetCatalog(nullptr);  // ignored
  EXPECT_NE(f.ex->catalog(), nullptr);
}

TEST(ExecutorTest, ApprovalRejectNeverRuns) {
  engine::ManualClock clock(1'000'000);
  Fixture f(kApprovalYaml, clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  int64_t id = f.Only().id;
  ASSERT_TRUE(f.ex->Reject(id, "bob", "change freeze").ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.Only().state, RunState::kRejected);
  EXPECT_EQ(f.Only().decided_by, "bob");
  EXPECT_EQ(f.rec.NumProduced(), 0u);
  EXPECT_EQ(f.rec.NumEscalations(), 0u);
}

TEST(ExecutorTest, ApprovalExpiresAndEscalates) {
  engine::ManualClock clock(1'000'000);
  Fixture f(kApprovalYaml, clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  int64_t id = f.Only().id;
  clock.Advance(600'000);
  ASSERT_TRUE(WaitFor([&] { return f.rec.NumEscalations() == 1; }));
  EXPECT_EQ(f.rec.escalations[0].kind, ActionEventKind::kApprovalExpired);
  EXPECT_EQ(f.rec.escalations[0].run_id, id);
  EXPECT_EQ(f.Only().state, RunState::kExpired);
  EXPECT_EQ(f.ex->Approve(id, "late").code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.rec.NumProduced(), 0u);
}

TEST(ExecutorTest, DryRunExecutesNothing) {
  engine::SystemClock clock;
  TempDir out;
  std::string file = out.File("ran");
  ExecutorOptions opts;
  opts.dry_run = true;
  Fixture f("actions:\n  touch:\n    kind: command\n    argv: [/usr/bin/touch, '" + file + "']\n",
            clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(
      f.ex->Submit(Decision("e1", {{"touch", {}}, {"escalate", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.state, RunState::kSkippedDryRun);
    EXPECT_EQ(r.attempts, 0);
  }
  EXPECT_NE(runs[1].request.find(file), std::string::npos);  // the request is still rendered
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_EQ(f.rec.NumEscalations(), 0u);
}

// A dry-run engine executes nothing, also not the runs it finds pending in the journal (left
// by an engine that crashed, approved or retried from the CLI): they stay pending for an
// engine that executes. Before, a dry run resumed and executed them.
TEST(ExecutorTest, DryRunLeavesThePendingRunsOfTheJournalPending) {
  engine::SystemClock clock;
  TempDir out;
  const std::string file = out.File("ran");
  const std::string yaml = "actions:\n  touch:\n    kind: command\n    argv: [/usr/bin/touch, '" +
                           file + "']\n    approval: required\n";
  ExecutorOptions real;
  real.resume_journal = false;
  Fixture f(yaml, clock, real);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"touch", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e2", {{"touch", {}}}), EventJson("e2")).ok());
  f.ex->Stop();
  const std::vector<ActionRun> waiting = f.Runs(RunState::kAwaitingApproval);
  ASSERT_EQ(waiting.size(), 2u);
  ASSERT_TRUE(f.journal->Approve(waiting[0].id, "alice", clock.NowMillis()).ok());  // the CLI

  ExecutorOptions dry;
  dry.dry_run = true;
  dry.poll_journal_ms = 5;
  dry.tick_ms = 5;
  dry.seed = 42;
  Executor engine(f.catalog, *f.journal, f.rec.Hooks(), dry, clock);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.Approve(waiting[1].id, "bob").ok());  // through the running engine
  // Many journal polls later (5 ms each), nothing ran.
  std::this_thread::sleep_for(300ms);
  engine.Stop();
  EXPECT_FALSE(std::filesystem::exists(file));
  for (const ActionRun& r : f.Runs()) {
    EXPECT_EQ(r.state, RunState::kPending) << r.id;
    EXPECT_EQ(r.attempts, 0) << r.id;
  }
}

TEST(ExecutorTest, SameDecisionTwiceRunsOnce) {
  engine::SystemClock clock;
  TempDir out;
  std::string file = out.File("lines");
  Fixture f(
      "actions:\n  append:\n    kind: command\n    params: [n]\n"
      "    argv: [/bin/sh, -c, 'echo \"$1\" >> \"$2\"', sh, '{{params.n}}', '" +
          file + "']\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  std::string d = Decision("e1", {{"append", {{"n", "1"}}}, {"escalate", {}}, {"ignore", {}}});
  ASSERT_TRUE(f.ex->Submit(d, EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  ASSERT_TRUE(f.ex->Submit(d, EventJson("e1")).ok());  // redelivered
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(test::ReadLines(file), std::vector<std::string>{"1"});
  EXPECT_EQ(f.Runs().size(), 2u);  // append + escalate; ignore is not journaled
  EXPECT_EQ(f.ex->stats().submitted, 2);
  EXPECT_EQ(f.ex->stats().duplicates, 2);
  ASSERT_EQ(f.rec.NumEscalations(), 1u);
  EXPECT_EQ(f.rec.escalations[0].kind, ActionEventKind::kEscalate);
}

TEST(ExecutorTest, UnknownActionIsFailedAndEscalated) {
  engine::SystemClock clock;
  Fixture f("actions:\n  a:\n    kind: emit\n    event: {message: hi}\n", clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"nope", {}}, {"a", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  std::map<std::string, ActionRun> by;
  for (auto& r : f.Runs()) by[r.key.action] = r;
  EXPECT_EQ(by["nope"].state, RunState::kFailed);
  EXPECT_NE(by["nope"].last_error.find("not in the action catalog"), std::string::npos);
  EXPECT_EQ(by["a"].state, RunState::kSucceeded);
  ASSERT_EQ(f.rec.NumEscalations(), 1u);
  EXPECT_EQ(f.rec.escalations[0].action, "nope");
  std::lock_guard<std::mutex> l(f.rec.mu);
  ASSERT_EQ(f.rec.emitted.size(), 1u);
  EXPECT_EQ(f.rec.emitted[0], R"({"message":"hi"})");
}

TEST(ExecutorTest, BadInputIsRejectedAndNothingJournaled) {
  engine::SystemClock clock;
  Fixture f("actions:\n  a:\n    kind: emit\n    event: {message: hi}\n", clock);
  EXPECT_EQ(f.ex->Submit("{not json", "").code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.ex->Submit("[1]", "").code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.ex->Submit(R"({"matches":[]})", "").code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.ex->Submit(Decision("e1", {{"a", {}}}), "{oops").code(),
            engine::StatusCode::kInvalidArgument);
  EXPECT_TRUE(f.ex->Submit(R"({"event_id":"u","verdict":"unknown","matches":[]})", "").ok());
  EXPECT_TRUE(f.Runs().empty());
}

TEST(ExecutorTest, FullQueueBlocksSubmitUntilStopAndTheRunResumesLater) {
  engine::SystemClock clock;
  ExecutorOptions opts;
  opts.queue_capacity = 1;
  Fixture f("actions:\n  a:\n    kind: emit\n    event: {message: '{{event.id}}'}\n", clock, opts);
  // Not started: the first run fills the queue, the second Submit must wait.
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"a", {}}}), EventJson("e1")).ok());
  std::atomic<bool> returned{false};
  std::thread t([&] {
    EXPECT_TRUE(f.ex->Submit(Decision("e2", {{"a", {}}}), EventJson("e2")).ok());
    returned = true;
  });
  EXPECT_FALSE(returned.load());
  f.ex->Stop();
  t.join();
  EXPECT_TRUE(returned.load());
  f.ex->Stop();                                // idempotent
  EXPECT_EQ(f.Count(RunState::kPending), 2u);  // nothing lost
  // A new executor over the same journal resumes both.
  Executor again(f.catalog, *f.journal, f.rec.Hooks(), ExecutorOptions{.tick_ms = 5}, clock);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(again.Drain(20s));
  EXPECT_EQ(f.Count(RunState::kSucceeded), 2u);
  std::lock_guard<std::mutex> l(f.rec.mu);
  EXPECT_EQ(f.rec.emitted.size(), 2u);
}

TEST(ExecutorTest, ConcurrencyLimitPerAction) {
  engine::SystemClock clock;
  TempDir out;
  // Each run records how many runs are inside at once (mkdir is atomic: a lock per slot).
  std::string log = out.File("log");
  ExecutorOptions opts;
  opts.workers = 4;
  Fixture f(
      "actions:\n  one:\n    kind: command\n    concurrency: 1\n"
      "    argv: [/bin/sh, -c, 'mkdir \"$1/lock\" || echo overlap >> \"$1/log\"; "
      "echo run >> \"$1/log\"; rmdir \"$1/lock\"', sh, '" +
          out.path() + "']\n",
      clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  for (int i = 0; i < 6; ++i) {
    std::string id = "e" + std::to_string(i);
    ASSERT_TRUE(f.ex->Submit(Decision(id, {{"one", {}}}), EventJson(id)).ok());
  }
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(test::ReadLines(log), std::vector<std::string>(6, "run"));
  EXPECT_EQ(f.Count(RunState::kSucceeded), 6u);
}

TEST(ExecutorTest, KafkaRetriesThroughTheHook) {
  engine::SystemClock clock;
  Fixture f(
      "actions:\n  pub:\n    kind: kafka\n    topic: t\n    value: '{{event.message}}'\n"
      "    retries: {max_attempts: 3, backoff_base: 1ms}\n",
      clock);
  f.rec.produce_failures_left = 2;
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.Only().state, RunState::kSucceeded);
  EXPECT_EQ(f.Only().attempts, 3);
  std::lock_guard<std::mutex> l(f.rec.mu);
  EXPECT_EQ(f.rec.produced, std::vector<std::string>{"t||disk full"});
}

TEST(ExecutorTest, CommandArgumentStartingWithDashFromAValueIsRefused) {
  engine::SystemClock clock;
  Fixture f(
      "actions:\n"
      "  show:\n    kind: command\n    params: [path]\n"
      "    argv: [/bin/echo, \"{{params.path}}\"]\n"
      "  show_literal:\n    kind: command\n    params: [path]\n"
      "    argv: [/bin/echo, -n, \"x{{params.path}}\"]\n"
      "  show_after_dashes:\n    kind: command\n    params: [path]\n"
      "    argv: [/bin/echo, --, \"{{params.path}}\"]\n"
      "  show_flag:\n    kind: command\n"
      "    params: [{name: flag, allow_leading_dash: true}]\n"
      "    argv: [/bin/echo, \"{{params.flag}}\"]\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"show", {{"path", "-e"}}},
                                           {"show_literal", {{"path", "-e"}}},
                                           {"show_after_dashes", {{"path", "-e"}}},
                                           {"show_flag", {{"flag", "-n"}}},
                                           {"show", {{"path", "tmp"}}}}),
                           EventJson("e1"))
                  .ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 5u);
  std::sort(runs.begin(), runs.end(), [](const ActionRun& a, const ActionRun& b) {
    return a.key.action_index < b.key.action_index;
  });
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_EQ(runs[0].attempts, 0);  // never started
  EXPECT_EQ(runs[0].last_error,
            "argv[1] '-e' starts with '-' from params.path: refused (a value must not become an "
            "option; allow it with allow_leading_dash on the parameter, or put \"--\" before it)");
  EXPECT_EQ(runs[1].state, RunState::kSucceeded);  // the dash is the catalog's own text
  EXPECT_EQ(runs[2].state, RunState::kSucceeded);
  EXPECT_EQ(runs[2].output, "-- -e\n");
  EXPECT_EQ(runs[3].state, RunState::kSucceeded);
  EXPECT_EQ(runs[3].output, "");  // echo -n: allowed, and taken as the option it is
  EXPECT_EQ(runs[4].state, RunState::kSucceeded);
  ASSERT_EQ(f.rec.NumEscalations(), 1u);
  EXPECT_EQ(f.rec.escalations[0].action, "show");
  EXPECT_NE(f.rec.escalations[0].reason.find("starts with '-'"), std::string::npos);
}

TEST(ExecutorTest, ParameterPatternMismatchRefusesTheRun) {
  test::TestServer server;
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 200;
  });
  server.Start();
  engine::SystemClock clock;
  Fixture f(
      "actions:\n"
      "  hook:\n    kind: webhook\n"
      "    params: [{name: host, pattern: '^[a-z0-9.-]+$'}, note]\n"
      "    url: \"" +
          server.Url("/hook") +
          "\"\n"
          "    body: {host: \"{{params.host}}\", note: \"{{params.note}}\"}\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "web-01.example"}, {"note", "a b"}}},
                                           {"hook", {{"host", "web 01; reboot"}}},
                                           {"hook", {{"host", "web-01x"}, {"note", "ok"}}},
                                           {"hook", {{"note", "no host"}}}}),
                           EventJson("e1"))
                  .ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 4u);
  std::sort(runs.begin(), runs.end(), [](const ActionRun& a, const ActionRun& b) {
    return a.key.action_index < b.key.action_index;
  });
  EXPECT_EQ(runs[0].state, RunState::kSucceeded);
  EXPECT_EQ(runs[1].state, RunState::kFailed);
  EXPECT_EQ(runs[1].last_error,
            "params.host 'web 01; reboot' does not match the pattern '^[a-z0-9.-]+$': refused");
  EXPECT_EQ(runs[2].state, RunState::kSucceeded);
  EXPECT_EQ(runs[3].state, RunState::kFailed);  // a missing value is checked as empty text
  EXPECT_EQ(runs[3].last_error,
            "params.host '' does not match the pattern '^[a-z0-9.-]+$': refused");
  EXPECT_EQ(hits.load(), 2);
  EXPECT_EQ(f.rec.NumEscalations(), 2u);
}

// Records what the executor reports to its observer.
struct RecordingObserver : ActionObserver {
  std::mutex mu;
  std::vector<std::string> outcomes, breakers;
  std::vector<int64_t> depths;
  void RunOutcome(std::string_view action, std::string_view outcome) override {
    std::lock_guard<std::mutex> l(mu);
    outcomes.push_back(std::string(action) + ":" + std::string(outcome));
  }
  void QueueDepth(int64_t runs) override {
    std::lock_guard<std::mutex> l(mu);
    depths.push_back(runs);
  }
  void BreakerChanged(std::string_view target, BreakerState state) override {
    std::lock_guard<std::mutex> l(mu);
    breakers.push_back(std::string(target) + ":" + std::string(kBreakerStateNames.Name(state)));
  }
  void RunTakenOver(const RunReport& r, std::string_view previous_owner) override {
    std::lock_guard<std::mutex> l(mu);
    taken_over.push_back(std::to_string(r.run_id) + ":" + std::string(r.action) + ":" +
                         std::string(r.event_id) + ":" + std::string(previous_owner));
    taken_over_reasons.push_back(std::string(r.error));
  }
  void StoreReachable(bool reachable, std::string_view error) override {
    std::lock_guard<std::mutex> l(mu);
    store.push_back(reachable ? "up" : "down: " + std::string(error));
  }
  std::vector<std::string> taken_over, taken_over_reasons, store;
};

TEST(ExecutorTest, ObserverSeesOutcomesQueueDepthAndBreaker) {
  test::TestServer server;
  server.svr().Post("/hook",
                    [&](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  server.Start();
  engine::SystemClock clock;
  RecordingObserver obs;
  ExecutorOptions opts;
  opts.observer = &obs;
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: {max_attempts: 2, backoff_base: 1ms, backoff_max: 1ms}\n"
                        "    circuit_breaker: {failures: 2, reset_after: 1h}\n"
                        "  ask:\n    kind: emit\n    event: {message: hi}\n"
                        "    approval: required\n"),
            clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(
      f.ex->Submit(Decision("e1", {{"hook", {{"host", "a"}}}, {"ask", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  std::lock_guard<std::mutex> l(obs.mu);
  EXPECT_THAT(obs.outcomes, ::testing::UnorderedElementsAre("hook:retried", "hook:failed",
                                                            "ask:awaiting_approval"));
  EXPECT_EQ(obs.breakers,
            std::vector<std::string>{"127.0.0.1:" + std::to_string(server.port()) + ":open"});
  ASSERT_FALSE(obs.depths.empty());
  EXPECT_EQ(*std::max_element(obs.depths.begin(), obs.depths.end()), 1);
  EXPECT_EQ(obs.depths.back(), 0);
}

// A replica that stalls while it runs an action (its clock, and with it the renewal of its
// claims, stands still) loses the run to a survivor once the claim's lease has run out: the
// survivor runs it and reports which run it took over and from whom (the app turns that into
// a log line and reflex_action_runs_taken_over_total). Before, the takeover was silent.
TEST(ExecutorTest, ARunWhoseClaimRanOutIsTakenOverAndReported) {
  test::TestServer server;
  std::atomic<bool> release{false};
  std::atomic<int> hits{0};
  server.svr().Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits == 1) {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    res.status = 200;
  });
  server.Start();
  engine::ManualClock stalled_clock(1'000'000);
  engine::ManualClock clock(1'000'000);
  ExecutorOptions stalled_opts;
  stalled_opts.resume_journal = false;  // it keeps to the run it was given
  Fixture f(WebhookYaml(server.Url("/hook"), ""), stalled_clock, stalled_opts,
            {.owner = "stalled", .lease_ms = 300});
  auto journal = Journal::Open(f.dir.File("reflex.db"),
                               {.recover = false, .owner = "survivor", .lease_ms = 300});
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  RecordingObserver obs;
  ExecutorOptions opts;
  opts.observer = &obs;
  opts.tick_ms = 5;
  opts.seed = 7;
  Recorder rec;
  Executor survivor(f.catalog, **journal, rec.Hooks(), opts, clock);
  struct Release {  // lets the first attempt end however the test ends (before the executors)
    std::atomic<bool>& release;
    ~Release() { release = true; }
  } release_at_exit{release};
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "web-01"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(WaitUntil([&] { return hits.load() == 1; }));
  const int64_t id = f.Only().id;
  ASSERT_TRUE(survivor.Start().ok());
  clock.Advance(200);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // more than one journal poll
  EXPECT_EQ(hits.load(), 1) << "the claim still holds";
  clock.Advance(200);  // past the stalled claim's lease (1'000'300)
  ASSERT_TRUE(WaitUntil([&] { return f.journal->Get(id)->state == RunState::kSucceeded; }));
  EXPECT_EQ(hits.load(), 2);
  {
    std::lock_guard<std::mutex> l(obs.mu);
    EXPECT_EQ(obs.taken_over, std::vector<std::string>{std::to_string(id) + ":hook:e1:stalled"});
    ASSERT_EQ(obs.taken_over_reasons.size(), 1u);
    EXPECT_THAT(obs.taken_over_reasons[0], ::testing::HasSubstr("the claim of stalled ran out"));
  }
  release = true;
  f.ex->Stop();
  survivor.Stop();
  ActionRun r = f.Only();
  EXPECT_EQ(r.state, RunState::kSucceeded);
  EXPECT_EQ(r.attempts, 2);
}

// While another process holds the journal's database locked, the executor's store check
// fails: StoreHealth() (what /readyz answers with) says the store is unreachable and why,
// the observer hears it once, and both recover when the lock goes. Before, a store that did
// not answer left the executor looking healthy.
TEST(ExecutorTest, StoreHealthSaysWhenTheJournalsDatabaseStopsAnswering) {
  engine::SystemClock clock;
  RecordingObserver obs;
  ExecutorOptions opts;
  opts.observer = &obs;
  opts.store_check_ms = 30;
  Fixture f(WebhookYaml("http://127.0.0.1:9/hook", ""), clock, opts, {.busy_timeout_ms = 20});
  ASSERT_TRUE(f.ex->Start().ok());
  EXPECT_TRUE(f.ex->StoreHealth().ok());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(f.dir.File("reflex.db").c_str(), &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);  // the executor may be writing at this moment
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(WaitUntil([&] { return !f.ex->StoreHealth().ok(); }));
  engine::Status down = f.ex->StoreHealth();
  EXPECT_EQ(down.code(), engine::StatusCode::kUnavailable);
  EXPECT_THAT(down.message(), ::testing::HasSubstr("action store unreachable for "));
  EXPECT_THAT(down.message(), ::testing::HasSubstr("locked"));
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(WaitUntil([&] { return f.ex->StoreHealth().ok(); }));
  f.ex->Stop();
  std::lock_guard<std::mutex> l(obs.mu);
  ASSERT_EQ(obs.store.size(), 2u);
  EXPECT_THAT(obs.store[0], ::testing::HasSubstr("down: "));
  EXPECT_THAT(obs.store[0], ::testing::HasSubstr("locked"));
  EXPECT_EQ(obs.store[1], "up");
}

}  // namespace
}  // namespace reflex::actions

namespace reflex::actions {
namespace {

using test::TempDir;
using namespace std::chrono_literals;

constexpr const char* kManualCatalog =
    "actions:\n"
    "  hello:\n    kind: command\n"
    "    params: [{name: who, pattern: '[a-z]+'}]\n"
    "    argv: [/bin/echo, 'hello {{params.who}}']\n"
    "    throttle: {once_within: 1h}\n";

// `reflex actions run` runs an executor beside the engine's: it carries out the run it is
// given and takes none of the pending runs the engine owns.
TEST(ExecutorTest, AManualRunTakesNoOtherPendingRunFromTheJournal) {
  engine::SystemClock clock;
  ExecutorOptions opts;
  opts.resume_journal = false;
  Fixture f(kManualCatalog, clock, opts);
  NewRun engines;
  engines.key = RunKey{"e1", "t", "r1", 0, "hello"};
  engines.kind = "command";
  engines.request = R"({"argv":["/bin/echo","engine"]})";
  auto pending = f.journal->Enqueue(engines, clock.NowMillis());
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(f.ex->Start().ok());
  auto manual = f.ex->SubmitManual({.action = "hello", .params = {{"who", "ops"}}, .by = "al"});
  ASSERT_TRUE(manual.ok()) << manual.status().ToString();
  ASSERT_TRUE(f.ex->Drain(20s));
  auto run = f.journal->Get(manual->id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state, RunState::kSucceeded);
  EXPECT_EQ(run->output, "hello ops\n");
  EXPECT_EQ(run->origin, RunOrigin::kManual);
  EXPECT_EQ(run->requested_by, "al");
  EXPECT_EQ(f.journal->Get(pending->id)->state, RunState::kPending) << "the engine's run";

  // A person asked: the throttle window that holds decisions back does not apply.
  auto again = f.ex->SubmitManual({.action = "hello", .params = {{"who", "ops"}}, .by = "al"});
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->id, manual->id);
  EXPECT_EQ(again->state, RunState::kPending);
  ASSERT_TRUE(f.ex->Drain(20s));
  EXPECT_EQ(f.journal->Get(again->id)->state, RunState::kSucceeded);
}

TEST(ExecutorTest, AManualRunTheCatalogRefusesIsNotJournaled) {
  engine::SystemClock clock;
  ExecutorOptions opts;
  opts.resume_journal = false;
  Fixture f(kManualCatalog, clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  auto undeclared = f.ex->SubmitManual({.action = "hello", .params = {{"whom", "x"}}, .by = ""});
  EXPECT_EQ(undeclared.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(undeclared.status().message(),
            "action 'hello' has no parameter 'whom' (it takes: who)");
  auto mismatch = f.ex->SubmitManual({.action = "hello", .params = {{"who", "a;b"}}, .by = ""});
  EXPECT_EQ(mismatch.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("does not match the pattern"), std::string::npos)
      << mismatch.status().message();
  auto builtin = f.ex->SubmitManual({.action = "escalate", .params = {}, .by = ""});
  EXPECT_EQ(builtin.status().code(), engine::StatusCode::kNotFound);
  EXPECT_TRUE(f.Runs().empty());
}

// The retry of a failed run copies its request into a new run linked to it; only runs that
// failed after an attempt can be retried, and only once each.
TEST(ExecutorTest, RetryRunQueuesOneNewRunForAFailedOne) {
  engine::SystemClock clock;
  Fixture f(
      "actions:\n  exit3:\n    kind: command\n    argv: [/bin/sh, -c, 'exit 3']\n"
      "    retries: 1\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"exit3", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  const ActionRun failed = f.Only();
  ASSERT_EQ(failed.state, RunState::kFailed);
  f.ex->Stop();

  auto queued = RetryRun(*f.journal, f.catalog, failed.id, "bob", clock.NowMillis());
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  auto run = f.journal->Get(queued->id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state, RunState::kPending);
  EXPECT_EQ(run->request, failed.request);
  EXPECT_EQ(run->key.event_id, "e1#retry-of-" + std::to_string(failed.id));
  EXPECT_EQ(run->retry_of, failed.id);

  auto twice = RetryRun(*f.journal, f.catalog, failed.id, "bob", clock.NowMillis());
  EXPECT_EQ(twice.status().code(), engine::StatusCode::kFailedPrecondition);
  auto of_pending = RetryRun(*f.journal, f.catalog, queued->id, "bob", clock.NowMillis());
  EXPECT_EQ(of_pending.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RetryRun(*f.journal, f.catalog, 424242, "bob", 0).status().code(),
            engine::StatusCode::kNotFound);

  Catalog empty;
  auto gone = PlanRetry(empty, failed, "bob", 0);
  EXPECT_EQ(gone.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(gone.status().message().find("no longer in the action catalog"), std::string::npos);
}

// A retry is the same operation seen again by the target: its webhook carries the
// Idempotency-Key of the run it retries, on every attempt, and the engine carries it out.
TEST(ExecutorTest, ARetriedWebhookRunIsSentWithTheIdempotencyKeyOfTheFailedRun) {
  test::TestServer server;
  std::atomic<int> hits{0};
  std::vector<std::string> keys;
  std::mutex mu;
  server.svr().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    const int n = ++hits;
    {
      std::lock_guard<std::mutex> l(mu);
      keys.push_back(req.get_header_value("Idempotency-Key"));
    }
    res.status = n <= 2 ? 503 : 200;  // the first run's two attempts fail, the retry succeeds
    res.set_content(n <= 2 ? "busy" : "ok", "text/plain");
  });
  server.Start();
  engine::SystemClock clock;
  ExecutorOptions opts;
  opts.poll_journal_ms = 10;
  Fixture f(WebhookYaml(server.Url("/hook"),
                        "    retries: {max_attempts: 2, backoff_base: 1ms, backoff_max: 2ms}\n"),
            clock, opts);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"hook", {{"host", "web-01"}}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  const ActionRun failed = f.Only();
  ASSERT_EQ(failed.state, RunState::kFailed);

  auto queued = RetryRun(*f.journal, f.catalog, failed.id, "bob", clock.NowMillis());
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  EXPECT_EQ(f.journal->Get(queued->id)->idempotency_key, IdempotencyKey(failed));
  ASSERT_TRUE(WaitFor([&] { return f.journal->Get(queued->id)->state == RunState::kSucceeded; }));
  EXPECT_EQ(hits.load(), 3);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_THAT(keys[0], ::testing::MatchesRegex("reflex-[0-9a-f]{16}"));
  EXPECT_EQ(keys[1], keys[0]);
  EXPECT_EQ(keys[2], keys[0]);
}

// A run whose approval expired can be asked for again: the retry waits for a new approval,
// keeps the expired run's idempotency key, and runs once approved.
TEST(ExecutorTest, AnExpiredRunIsRetriedThroughANewApproval) {
  engine::ManualClock clock(1'000'000);
  Fixture f(kApprovalYaml, clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"pub", {}}}), EventJson("e1")).ok());
  const int64_t id = f.Only().id;
  clock.Advance(600'000);
  ASSERT_TRUE(WaitFor([&] { return f.Only().state == RunState::kExpired; }));
  const ActionRun expired = f.Only();

  auto queued = RetryRun(*f.journal, f.catalog, id, "bob", clock.NowMillis());
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  EXPECT_EQ(queued->state, RunState::kAwaitingApproval);
  auto retry = f.journal->Get(queued->id);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->retry_of, id);
  EXPECT_EQ(retry->idempotency_key, IdempotencyKey(expired));
  EXPECT_EQ(retry->approval_deadline_ms, clock.NowMillis() + 600'000);
  ASSERT_TRUE(f.ex->Approve(queued->id, "carol").ok());
  ASSERT_TRUE(WaitFor([&] { return f.rec.NumProduced() == 1; }));
  EXPECT_EQ(f.journal->Get(queued->id)->state, RunState::kSucceeded);
  EXPECT_EQ(RetryRun(*f.journal, f.catalog, id, "bob", clock.NowMillis()).status().code(),
            engine::StatusCode::kFailedPrecondition);  // retried once already
}

// A command sees its run's idempotency key in REFLEX_IDEMPOTENCY_KEY, as a webhook target
// sees the header.
TEST(ExecutorTest, ACommandSeesItsIdempotencyKeyInItsEnvironment) {
  engine::SystemClock clock;
  Fixture f(
      "actions:\n  say:\n    kind: command\n"
      "    argv: [/bin/sh, -c, 'printf %s \"$REFLEX_IDEMPOTENCY_KEY\"']\n",
      clock);
  ASSERT_TRUE(f.ex->Start().ok());
  ASSERT_TRUE(f.ex->Submit(Decision("e1", {{"say", {}}}), EventJson("e1")).ok());
  ASSERT_TRUE(f.ex->Drain(20s));
  const ActionRun r = f.Only();
  ASSERT_EQ(r.state, RunState::kSucceeded) << r.last_error;
  EXPECT_THAT(r.output, ::testing::MatchesRegex("reflex-[0-9a-f]{16}"));
  EXPECT_EQ(r.output, IdempotencyKey(r));
}

}  // namespace
}  // namespace reflex::actions
