// The driver registry (one driver per action kind, registered explicitly), an Executor running
// a driver a test registers, a kind without a driver reported as a failed run, and the
// mapping of action event kinds onto notice and escalation kinds.
#include "reflex/actions/driver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/hooks.h"
#include "reflex/engine/clock.h"

namespace reflex::actions {
namespace {

using test::Decision;
using test::EventJson;
using test::TempDir;
using test::WaitFor;
using namespace std::chrono_literals;

constexpr ActionKind kAllKinds[] = {ActionKind::kWebhook, ActionKind::kCommand, ActionKind::kKafka,
                                    ActionKind::kEmit, ActionKind::kEscalate};

TEST(DriverRegistryTest, DefaultHasOneDriverPerKind) {
  DriverRegistry drivers = DriverRegistry::Default({});
  for (ActionKind kind : kAllKinds) {
    const ActionDriver* d = drivers.Find(kind);
    ASSERT_NE(d, nullptr) << KindName(kind);
    EXPECT_EQ(d->kind(), kind);
    EXPECT_EQ(d->name(), KindName(kind));
    auto got = drivers.Get(kind);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, d);
  }
}

TEST(DriverRegistryTest, UnregisteredKindIsAnError) {
  DriverRegistry drivers;
  ASSERT_TRUE(drivers.Register(NewWebhookDriver()).ok());
  EXPECT_EQ(drivers.Find(ActionKind::kKafka), nullptr);
  auto got = drivers.Get(ActionKind::kKafka);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), engine::StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "no driver is registered for action kind 'kafka'");

  ActionSpec spec;
  spec.kind = ActionKind::kKafka;
  auto rendered = drivers.Render(spec, {});
  EXPECT_EQ(rendered.status().code(), engine::StatusCode::kNotFound);
  auto target = drivers.Target(ActionKind::kKafka, nlohmann::json::object());
  EXPECT_EQ(target.status().code(), engine::StatusCode::kNotFound);
  // The registered kind still works.
  auto webhook = drivers.Target(ActionKind::kWebhook, {{"url", "https://u@ops.example:8443/x"}});
  ASSERT_TRUE(webhook.ok());
  EXPECT_EQ(*webhook, "ops.example:8443");
}

TEST(DriverRegistryTest, RejectsNullAndDuplicateDrivers) {
  DriverRegistry drivers;
  EXPECT_EQ(drivers.Register(nullptr).code(), engine::StatusCode::kInvalidArgument);
  ASSERT_TRUE(drivers.Register(NewCommandDriver()).ok());
  engine::Status again = drivers.Register(NewCommandDriver());
  EXPECT_EQ(again.code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "a driver is already registered for action kind 'command'");
  EXPECT_NE(drivers.Find(ActionKind::kCommand), nullptr);
}

TEST(DriverRegistryTest, BuiltInTargets) {
  DriverRegistry drivers = DriverRegistry::Default({});
  auto target = [&](ActionKind kind, const nlohmann::json& request) {
    auto t = drivers.Target(kind, request);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : std::string("<error>");
  };
  EXPECT_EQ(target(ActionKind::kWebhook, {{"url", "http://h:1/p?q#f"}}), "h:1");
  EXPECT_EQ(target(ActionKind::kCommand, {{"argv", {"/bin/true", "x"}}}), "/bin/true");
  EXPECT_EQ(target(ActionKind::kCommand, {{"argv", nlohmann::json::array()}}), "");
  EXPECT_EQ(target(ActionKind::kKafka, {{"topic", "ops"}}), "kafka:ops");
  EXPECT_EQ(target(ActionKind::kEmit, {{"event", "{}"}}), "");
  EXPECT_EQ(target(ActionKind::kEscalate, {{"reason", "r"}}), "");
}

TEST(DriverRegistryTest, HookDriversUseTheHooksTheyWereGiven) {
  std::vector<std::string> seen;
  ActionHooks hooks;
  hooks.produce = [&](const std::string& topic, const std::string& key, const std::string& value) {
    seen.push_back(topic + "|" + key + "|" + value);
    return engine::Status::Ok();
  };
  hooks.emit = [&](const std::string& ev) {
    seen.push_back("emit " + ev);
    return engine::Unavailable("pipeline down");
  };
  hooks.escalate = [&](const EscalationNotice& n) {
    EXPECT_EQ(n.kind, ActionEventKind::kEscalate);
    seen.push_back("escalate " + n.action + " " + n.reason);
  };
  DriverRegistry drivers = DriverRegistry::Default(hooks);
  ActionSpec spec;
  ActionRun run;
  run.key.action = "escalate";
  ActionOutcome k = drivers.Find(ActionKind::kKafka)
                        ->Perform(spec, run, {{"topic", "t"}, {"key", "k"}, {"value", "v"}});
  EXPECT_TRUE(k.ok);
  ActionOutcome e = drivers.Find(ActionKind::kEmit)->Perform(spec, run, {{"event", "{}"}});
  EXPECT_FALSE(e.ok);
  EXPECT_FALSE(e.permanent);
  EXPECT_NE(e.error.find("pipeline down"), std::string::npos);
  ActionOutcome x = drivers.Find(ActionKind::kEscalate)->Perform(spec, run, {{"reason", "r"}});
  EXPECT_TRUE(x.ok);
  EXPECT_EQ(seen, (std::vector<std::string>{"t|k|v", "emit {}",
                                            "escalate escalate the decision table says escalate"}));

  DriverRegistry no_hooks = DriverRegistry::Default({});
  ActionOutcome nk = no_hooks.Find(ActionKind::kKafka)->Perform(spec, run, {{"topic", "t"}});
  EXPECT_TRUE(nk.permanent);
  EXPECT_EQ(nk.error, "no Kafka producer is configured for kafka actions");
}

// A webhook driver that sends nothing and records what it was asked.
class FakeWebhookDriver final : public ActionDriver {
 public:
  struct Log {
    std::mutex mu;
    std::vector<std::string> performed;  // run action + request url
    std::atomic<int> renders{0};
  };
  explicit FakeWebhookDriver(Log* log) : log_(log) {}

  ActionKind kind() const override { return ActionKind::kWebhook; }
  nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const override {
    ++log_->renders;
    return {{"url", "fake://" + spec.name + "/" + std::string(ctx.row)}};
  }
  std::string Target(const nlohmann::json& request) const override {
    return "fake-target:" + request.value("url", "");
  }
  ActionOutcome Perform(const ActionSpec& /*spec*/, const ActionRun& run,
                        const nlohmann::json& request) const override {
    std::lock_guard<std::mutex> l(log_->mu);
    log_->performed.push_back(run.key.action + " " + request.value("url", ""));
    ActionOutcome o;
    o.ok = true;
    o.output = "faked";
    return o;
  }

 private:
  Log* log_;
};

constexpr const char* kCatalog =
    "actions:\n"
    "  hook:\n    kind: webhook\n    url: \"http://127.0.0.1:1/never\"\n"
    "  run:\n    kind: command\n    argv: [/bin/true]\n";

struct Harness {
  TempDir dir;
  Catalog catalog;
  std::unique_ptr<Journal> journal;
  std::mutex mu;
  std::vector<EscalationNotice> escalations;

  Harness() {
    auto c = ParseCatalog(kCatalog, "actions.yaml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    if (c.ok()) catalog = std::move(*c);
    auto j = Journal::Open(dir.File("reflex.db"));
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    if (j.ok()) journal = std::move(*j);
  }
  ActionHooks Hooks() {
    ActionHooks h;
    h.escalate = [this](const EscalationNotice& n) {
      std::lock_guard<std::mutex> l(mu);
      escalations.push_back(n);
    };
    return h;
  }
  bool Done() {
    auto runs = journal->List(std::nullopt);
    if (!runs.ok()) return false;
    for (const ActionRun& r : *runs) {
      if (!IsFinal(r.state)) return false;
    }
    return true;
  }
};

TEST(DriverExecutorTest, ExecutorUsesARegisteredCustomDriver) {
  Harness s;
  ASSERT_NE(s.journal, nullptr);
  FakeWebhookDriver::Log log;
  ActionHooks hooks = s.Hooks();
  DriverRegistry drivers;
  ASSERT_TRUE(drivers.Register(std::make_unique<FakeWebhookDriver>(&log)).ok());
  engine::SystemClock clock;
  Executor ex(std::make_shared<const Catalog>(s.catalog), *s.journal, hooks, std::move(drivers),
              ExecutorOptions{.tick_ms = 5}, clock);
  ASSERT_TRUE(ex.Start().ok());
  ASSERT_TRUE(ex.Submit(Decision("e1", {{"hook", {}}}, "t", "r9"), EventJson("e1")).ok());
  ASSERT_TRUE(WaitFor([&] { return s.Done(); }));
  ASSERT_TRUE(ex.Drain(10s));
  ex.Stop();

  auto runs = s.journal->List(std::nullopt);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const ActionRun& r = (*runs)[0];
  EXPECT_EQ(r.state, RunState::kSucceeded);
  EXPECT_EQ(r.kind, "webhook");
  EXPECT_EQ(r.request, R"({"url":"fake://hook/r9"})");
  EXPECT_EQ(r.target, "fake-target:fake://hook/r9");
  EXPECT_EQ(r.output, "faked");
  EXPECT_EQ(log.renders.load(), 1);
  std::lock_guard<std::mutex> l(log.mu);
  EXPECT_EQ(log.performed, (std::vector<std::string>{"hook fake://hook/r9"}));
}

TEST(DriverExecutorTest, KindWithoutDriverFailsTheRunAndEscalates) {
  Harness s;
  ASSERT_NE(s.journal, nullptr);
  FakeWebhookDriver::Log log;
  DriverRegistry drivers;  // webhook only: no command, no escalate
  ASSERT_TRUE(drivers.Register(std::make_unique<FakeWebhookDriver>(&log)).ok());
  engine::SystemClock clock;
  Executor ex(std::make_shared<const Catalog>(s.catalog), *s.journal, s.Hooks(), std::move(drivers),
              ExecutorOptions{.tick_ms = 5}, clock);
  ASSERT_TRUE(ex.Start().ok());
  ASSERT_TRUE(
      ex.Submit(Decision("e1", {{"run", {}}, {"escalate", {}}, {"hook", {}}}), EventJson("e1"))
          .ok());
  ASSERT_TRUE(WaitFor([&] { return s.Done(); }));
  ASSERT_TRUE(ex.Drain(10s));
  ex.Stop();

  auto failed = s.journal->List(RunState::kFailed);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 2u);
  for (const ActionRun& r : *failed) {
    EXPECT_NE(r.last_error.find("no driver is registered for action kind"), std::string::npos)
        << r.last_error;
  }
  EXPECT_EQ(s.journal->List(RunState::kSucceeded)->size(), 1u);  // the webhook
  std::lock_guard<std::mutex> l(s.mu);
  ASSERT_EQ(s.escalations.size(), 2u);
  for (const EscalationNotice& n : s.escalations) {
    EXPECT_EQ(n.kind, ActionEventKind::kActionFailed);
  }
}

struct EventMapping {
  ActionEventKind kind;
  std::string_view name;
  NoticeKind notice;
  EscalationKind escalation;
};

TEST(ActionEventKindTest, EveryKindMapsToItsNoticeAndEscalationKind) {
  const EventMapping kTable[] = {
      {ActionEventKind::kActionFailed, "action_failed", NoticeKind::kActionFailed,
       EscalationKind::kActionFailed},
      {ActionEventKind::kApprovalExpired, "approval_expired", NoticeKind::kApprovalExpired,
       EscalationKind::kApprovalExpired},
      {ActionEventKind::kEscalate, "escalate", NoticeKind::kEscalated,
       EscalationKind::kEscalateAction},
      {ActionEventKind::kApprovalRequested, "approval_requested", NoticeKind::kApprovalRequested,
       EscalationKind::kActionFailed},
      {ActionEventKind::kActionStarting, "action_starting", NoticeKind::kActionBefore,
       EscalationKind::kActionFailed},
      {ActionEventKind::kActionSucceeded, "action_succeeded", NoticeKind::kActionAfter,
       EscalationKind::kActionFailed},
      {ActionEventKind::kApprovalRejected, "approval_rejected", NoticeKind::kActionAfter,
       EscalationKind::kActionFailed},
  };
  for (const EventMapping& m : kTable) {
    EXPECT_EQ(ActionEventName(m.kind), m.name);
    EXPECT_EQ(NoticeKindOf(m.kind), m.notice) << m.name;
    EXPECT_EQ(EscalationKindOf(m.kind), m.escalation) << m.name;
  }
  // The table covers every enumerator (kApprovalRejected is the last).
  EXPECT_EQ(static_cast<size_t>(ActionEventKind::kApprovalRejected) + 1, std::size(kTable));
}

}  // namespace
}  // namespace reflex::actions
