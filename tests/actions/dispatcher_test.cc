// actions::Dispatcher: known decisions go to the executor (journaled once, also when a batch
// is replayed) and each new run is told as `known_with_action`; an `escalate` row is told as
// `escalated`, not as a failure; unknown events become escalation groups with one
// `new_unknown` notice per new or reopened group; suppressed decisions do nothing; a decision
// that does not parse is skipped with a log line; action escalations and notices are recorded
// and told. Against a real SQLite journal and escalation store in a temp dir, an
// engine::ManualClock, an executor (dry run, or live with its hooks wired to the dispatcher)
// and a webhook notifier whose target is a local server on 127.0.0.1 port 0.
#include "reflex/actions/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/catalog.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notifier.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/decision.h"
#include "test_server.h"

namespace reflex::actions {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using test::Decision;
using test::TempDir;
using test::TestServer;

constexpr int64_t kNow = 1'700'000'000'000;

std::string Event(const std::string& id, const std::string& alertname,
                  const std::string& host = "web-01") {
  json e = {{"id", id},
            {"timestamp", "2026-11-24T03:00:00Z"},
            {"source", "prometheus"},
            {"labels", {{"alertname", alertname}, {"severity", "critical"}, {"instance", host}}},
            {"message", "disk full"}};
  return e.dump();
}

// The request bodies the local webhook target received.
struct Received {
  std::mutex mu;
  std::vector<json> bodies;
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return bodies.size();
  }
  json at(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return bodies.at(i);
  }
};

struct LogLine {
  bool error;
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields;
};

// How a Fixture is set up: the webhook target's `on:` list (empty: every kind) and whether the
// executor really runs its actions with its hooks wired to the dispatcher, as `reflex run`
// wires them (otherwise it is a dry run without hooks).
struct FixtureOptions {
  std::string on;
  bool live = false;
};

// The dispatcher over an executor, the escalation store and a webhook notifier.
struct Fixture {
  TempDir dir;
  engine::ManualClock clock{kNow};
  TestServer server;
  Received received;
  Catalog catalog;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<EscalationStore> store;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<Executor> executor;
  std::mutex log_mu;
  std::vector<LogLine> log;
  std::unique_ptr<Dispatcher> dispatcher;

  explicit Fixture(FixtureOptions o = {}) {
    server.svr().Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(received.mu);
      received.bodies.push_back(json::parse(req.body, nullptr, false));
      res.status = 200;
    });
    server.Start();
    auto c = ParseCatalog("actions:\n  restart:\n    kind: command\n    argv: [/bin/false]\n",
                          "actions.yaml");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) catalog = std::move(*c);
    auto j = Journal::Open(dir.File("reflex.db"));
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    if (j.ok()) journal = std::move(*j);
    auto s = EscalationStore::Open(dir.File("reflex.db"), {.clock = &clock});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) store = std::move(*s);
    auto targets = NotifierTarget::ListFromYaml(
        YAML::Load("- kind: webhook\n  url: " + server.Url("/hook") + "\n  retries: 0\n" +
                   (o.on.empty() ? "" : "  on: " + o.on + "\n")),
        "run.yaml");
    EXPECT_TRUE(targets.ok()) << targets.status().ToString();
    auto n =
        Notifier::Create(targets.ok() ? std::move(*targets) : std::vector<NotifierTarget>{}, {});
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (n.ok()) notifier = std::move(*n);
    ExecutorOptions opts;
    opts.dry_run = !o.live;
    opts.seed = 7;
    opts.tick_ms = 5;
    ActionHooks hooks;
    if (o.live) {
      hooks.escalate = [this](const EscalationNotice& e) { dispatcher->OnActionEscalation(e); };
      hooks.notify = [this](const EscalationNotice& e) { dispatcher->OnActionNotice(e); };
    }
    executor = std::make_unique<Executor>(catalog, *journal, hooks, opts, clock);
    dispatcher = std::make_unique<Dispatcher>(
        *executor, *store, *notifier, clock,
        [this](bool error, std::string_view message,
               const std::vector<std::pair<std::string, std::string>>& fields) {
          std::lock_guard<std::mutex> lock(log_mu);
          log.push_back({error, std::string(message), fields});
        });
    EXPECT_TRUE(executor->Start().ok());  // after the dispatcher its hooks call
  }
  ~Fixture() {
    executor->Stop();
    notifier->Stop();
  }

  // Waits (bounded) until every notice queued so far was delivered.
  void FlushNotices() {
    ASSERT_TRUE(notifier->Flush(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
  }
  std::vector<ActionRun> Runs() { return *journal->List(std::nullopt); }
  std::vector<EscalationGroup> Groups() { return *store->List({}); }
  std::vector<LogLine> Log() {
    std::lock_guard<std::mutex> lock(log_mu);
    return log;
  }
};

// A batch of decided events; owns the texts the DecidedEvents' views point into.
class Batch {
 public:
  Batch& Add(engine::Verdict verdict, std::string decision, std::string event) {
    texts_.push_back(std::make_unique<std::pair<std::string, std::string>>(std::move(decision),
                                                                           std::move(event)));
    engine::DecidedEvent d;
    d.source = "events";
    d.verdict = verdict;
    d.decision_json = texts_.back()->first;
    d.event_json = texts_.back()->second;
    events_.push_back(d);
    return *this;
  }
  Batch& Unknown(std::string event) { return Add(engine::Verdict::kUnknown, "{}", event); }
  const std::vector<engine::DecidedEvent>& events() const { return events_; }

 private:
  std::vector<std::unique_ptr<std::pair<std::string, std::string>>> texts_;
  std::vector<engine::DecidedEvent> events_;
};

TEST(DispatcherTest, KnownDecisionIsJournaledOnceEvenWhenTheBatchIsReplayed) {
  Fixture f;
  const std::string decision = Decision("e1", {{"restart", {}}}, "disk", "r1");
  const std::string event = Event("e1", "DiskFull");
  Batch batch;
  batch.Add(engine::Verdict::kKnown, decision, event);
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].key.event_id, "e1");
  EXPECT_EQ(runs[0].key.action, "restart");
  EXPECT_EQ(runs[0].key.table, "disk");

  // A crash before the commit replays the batch: the journal keeps one run.
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  EXPECT_EQ(f.Runs().size(), 1u);
  EXPECT_EQ(f.executor->stats().submitted, 1);
  EXPECT_EQ(f.executor->stats().duplicates, 1);
  // A known event is no escalation; it is told once (known_with_action), not per replay.
  EXPECT_TRUE(f.Groups().empty());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 1u);
  EXPECT_EQ(f.received.at(0)["kind"], "known_with_action");
}

TEST(DispatcherTest, KnownEventWithActionDeliversKnownWithActionToATargetThatWantsIt) {
  Fixture f({.on = "[known_with_action]"});
  Batch batch;
  batch.Add(engine::Verdict::kKnown, Decision("k1", {{"restart", {}}}, "disk", "r1"),
            Event("k1", "DiskFull"));
  // A row that only ignores names no action: nothing to tell.
  batch.Add(engine::Verdict::kKnown, Decision("k2", {{"ignore", {}}}, "disk", "r9"),
            Event("k2", "DiskFull"));
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 1u);
  json n = f.received.at(0);
  EXPECT_EQ(n["kind"], "known_with_action");
  EXPECT_EQ(n["action"], "restart");
  EXPECT_EQ(n["table"], "disk");
  EXPECT_EQ(n["row"], "r1");
  EXPECT_EQ(n["at"], "2023-11-14T22:13:20.000Z");  // the injected clock
  EXPECT_EQ(n["event"]["id"], "k1");
  EXPECT_EQ(n["details"]["state"], "skipped_dry_run");
  EXPECT_EQ(n["details"]["run_id"], std::to_string(f.Runs().at(0).id));
  EXPECT_EQ(n["text"], "DiskFull is known (disk/r1): running restart");
  EXPECT_FALSE(n.contains("escalation_id"));
}

TEST(DispatcherTest, EscalateRowIsNotifiedAsEscalatedNotAsActionFailed) {
  // As `reflex run` wires it: the executor performs the built-in escalate action, whose hook
  // records the escalation and notifies through the dispatcher. The target wants every kind.
  Fixture f({.on = "", .live = true});
  Batch batch;
  batch.Add(engine::Verdict::kKnown, Decision("x1", {{"escalate", {}}}, "disk", "r3"),
            Event("x1", "DiskFull"));
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  ASSERT_TRUE(f.executor->Drain(std::chrono::seconds(20)));
  f.FlushNotices();
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state, RunState::kSucceeded);
  auto groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, EscalationKind::kEscalateAction);
  // One notice, of its own kind: nothing failed.
  ASSERT_EQ(f.received.size(), 1u);
  json n = f.received.at(0);
  EXPECT_EQ(n["kind"], "escalated");
  EXPECT_EQ(n["action"], "escalate");
  EXPECT_EQ(n["table"], "disk");
  EXPECT_EQ(n["row"], "r3");
  EXPECT_EQ(n["escalation_id"], groups[0].id);
  EXPECT_EQ(n["fingerprint"], groups[0].fingerprint);
  EXPECT_EQ(n["count"], 1);
  EXPECT_EQ(n["text"], "Escalated: disk/r3 for DiskFull (escalation #" +
                           std::to_string(groups[0].id) + "): the decision table says escalate");
}

TEST(DispatcherTest, EscalatedNoticeGoesOnlyToTargetsThatWantIt) {
  // `on: [action_failed]` no longer pages for an escalate row; `on: [escalated]` gets it.
  for (const std::string on : {"[action_failed]", "[escalated]"}) {
    SCOPED_TRACE(on);
    Fixture f({.on = on});
    EscalationNotice escalate;
    escalate.kind = ActionEventKind::kEscalate;
    escalate.event_id = "x2";
    escalate.action = "escalate";
    escalate.table = "disk";
    escalate.row = "r3";
    escalate.reason = "the decision table says escalate";
    escalate.event_json = Event("x2", "DiskFull");
    f.dispatcher->OnActionEscalation(escalate);
    f.FlushNotices();
    EXPECT_EQ(f.Groups().size(), 1u);  // recorded either way
    if (on == "[escalated]") {
      ASSERT_EQ(f.received.size(), 1u);
      EXPECT_EQ(f.received.at(0)["kind"], "escalated");
    } else {
      EXPECT_EQ(f.received.size(), 0u);
    }
  }
}

TEST(DispatcherTest, NewUnknownGroupIsNotifiedOnceAndRepeatsAreOnlyCounted) {
  Fixture f;
  const std::string u1 = Event("u1", "DiskFull", "web-01");
  const std::string u2 = Event("u2", "DiskFull", "web-02");  // same shape
  ASSERT_TRUE(f.dispatcher->OnBatch(Batch().Unknown(u1).Unknown(u2).events()).ok());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 1u);
  auto groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  const EscalationGroup g = groups[0];
  EXPECT_EQ(g.kind, EscalationKind::kUnknownEvent);
  EXPECT_EQ(g.count, 2);
  EXPECT_EQ(g.first_seen_ms, kNow);

  json n = f.received.at(0);
  EXPECT_EQ(n["kind"], "new_unknown");
  EXPECT_EQ(n["escalation_id"], g.id);
  EXPECT_EQ(n["fingerprint"], g.fingerprint);
  EXPECT_EQ(n["count"], 1);  // the occurrence that opened the group
  EXPECT_EQ(n["event"]["id"], "u1");
  EXPECT_EQ(n["event"]["labels"]["alertname"], "DiskFull");
  EXPECT_EQ(n["text"], "Unknown event DiskFull from prometheus: disk full (escalation #" +
                           std::to_string(g.id) + ", seen 1 times)");
  EXPECT_FALSE(n.contains("reopened"));

  // A repeat of the open group: counted, nobody told again.
  f.clock.Advance(60'000);
  ASSERT_TRUE(f.dispatcher->OnBatch(Batch().Unknown(Event("u3", "DiskFull")).events()).ok());
  f.FlushNotices();
  EXPECT_EQ(f.received.size(), 1u);
  groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].count, 3);
  EXPECT_EQ(groups[0].last_seen_ms, kNow + 60'000);

  // A different shape is a new group and a new notice.
  ASSERT_TRUE(f.dispatcher->OnBatch(Batch().Unknown(Event("u4", "CpuHigh")).events()).ok());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 2u);
  EXPECT_EQ(f.received.at(1)["event"]["labels"]["alertname"], "CpuHigh");
  EXPECT_EQ(f.Groups().size(), 2u);

  // A resolved group that comes back is told again, as reopened, with its running count.
  engine::Status resolved = f.store->Resolve(g.id, "alice", "fixed");
  ASSERT_TRUE(resolved.ok()) << resolved.ToString();
  ASSERT_TRUE(f.dispatcher->OnBatch(Batch().Unknown(Event("u5", "DiskFull")).events()).ok());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 3u);
  json r = f.received.at(2);
  EXPECT_EQ(r["kind"], "new_unknown");
  EXPECT_EQ(r["escalation_id"], g.id);
  EXPECT_EQ(r["reopened"], true);
  EXPECT_EQ(r["count"], 4);
}

// An Alertmanager-style lifecycle through the dispatcher: firing opens and tells, a repeat
// is counted, resolved resolves the group and tells `resolved` (not counted), a second
// resolved changes nothing. Before, the resolved events were counted as occurrences.
TEST(DispatcherTest, ResolvedEventResolvesItsGroupAndIsToldOnce) {
  Fixture f;
  auto alert = [](const std::string& id, const std::string& host, const std::string& status) {
    json e = json::parse(Event(id, "DiskFull", host));
    e["labels"]["status"] = status;
    return e.dump();
  };
  ASSERT_TRUE(f.dispatcher
                  ->OnBatch(Batch()
                                .Unknown(alert("f1", "web-01", "firing"))
                                .Unknown(alert("f2", "web-02", "firing"))
                                .events())
                  .ok());
  ASSERT_TRUE(
      f.dispatcher->OnBatch(Batch().Unknown(alert("r1", "web-01", "resolved")).events()).ok());
  ASSERT_TRUE(
      f.dispatcher->OnBatch(Batch().Unknown(alert("r2", "web-02", "resolved")).events()).ok());
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 2u);
  EXPECT_EQ(f.received.at(0)["kind"], "new_unknown");
  const json r = f.received.at(1);
  EXPECT_EQ(r["kind"], "resolved");
  EXPECT_EQ(r["fingerprint"], f.received.at(0)["fingerprint"]);
  EXPECT_EQ(r["event"]["id"], "r1");
  auto groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].count, 2);
  EXPECT_EQ(groups[0].state, EscalationState::kResolved);
}

TEST(DispatcherTest, SuppressedDecisionDoesNothing) {
  Fixture f;
  Batch batch;
  batch.Add(engine::Verdict::kSuppressed, Decision("s1", {{"restart", {}}}),
            Event("s1", "DiskFull"));
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  EXPECT_TRUE(f.Runs().empty());
  EXPECT_TRUE(f.Groups().empty());
  EXPECT_EQ(f.executor->stats().submitted, 0);
  f.FlushNotices();
  EXPECT_EQ(f.received.size(), 0u);
  EXPECT_TRUE(f.Log().empty());
}

// A symptom of a topology root (suppressed, muted_by.root_event) decided in the same batch
// as its root's unknown event is counted on the root's escalation, with the root node; the
// batch decided again after a crash does not count it twice; nobody is told of a symptom.
TEST(DispatcherTest, SymptomsAreCountedOnTheirRootsEscalation) {
  Fixture f;
  const std::string symptom =
      R"({"event_id":"s1","verdict":"suppressed","muted_by":{"root_cause":"db-1",)"
      R"("root_event":"r1","path":["web-1","db-1"],"symptoms":1},"matches":[]})";
  Batch batch;
  batch.Unknown(Event("r1", "DbDown", "db-1"))
      .Add(engine::Verdict::kSuppressed, symptom, Event("s1", "DiskFull", "web-1"));
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());
  ASSERT_TRUE(f.dispatcher->OnBatch(batch.events()).ok());  // replayed
  auto groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].count, 1);
  EXPECT_EQ(groups[0].symptoms, 1);
  EXPECT_EQ(groups[0].root_cause, "db-1");
  f.FlushNotices();
  EXPECT_EQ(f.received.size(), 1u) << "the root's new group only";
}

TEST(DispatcherTest, DecisionThatDoesNotParseIsSkippedAndLogged) {
  Fixture f;
  Batch batch;
  batch.Add(engine::Verdict::kKnown, "{not json", Event("b1", "DiskFull"))
      .Add(engine::Verdict::kKnown, Decision("b2", {{"restart", {}}}), Event("b2", "DiskFull"))
      .Unknown(Event("b3", "Odd"));
  engine::Status st = f.dispatcher->OnBatch(batch.events());
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The rest of the batch is handled.
  auto runs = f.Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].key.event_id, "b2");
  EXPECT_EQ(f.Groups().size(), 1u);
  auto log = f.Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_FALSE(log[0].error);
  EXPECT_EQ(log[0].message, "decision not submitted");
  ASSERT_EQ(log[0].fields.size(), 2u);
  // The line names its event: none can be read from a decision that does not parse.
  EXPECT_EQ(log[0].fields[0], (std::pair<std::string, std::string>{"event_id", ""}));
  EXPECT_EQ(log[0].fields[1].first, "error");
  EXPECT_THAT(log[0].fields[1].second, HasSubstr("not a JSON object"));
}

TEST(DispatcherTest, ActionEscalationIsRecordedWithItsKindAndNotified) {
  Fixture f;
  EscalationNotice failed;
  failed.kind = ActionEventKind::kActionFailed;
  failed.event_id = "e7";
  failed.action = "restart";
  failed.table = "disk";
  failed.row = "r2";
  failed.reason = "exit status 1";
  failed.event_json = Event("e7", "DiskFull");
  failed.run_id = 3;
  f.dispatcher->OnActionEscalation(failed);

  auto groups = f.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, EscalationKind::kActionFailed);
  EXPECT_EQ(groups[0].action, "restart");
  EXPECT_EQ(groups[0].table, "disk");
  EXPECT_EQ(groups[0].row, "r2");
  EXPECT_EQ(groups[0].reason, "exit status 1");
  auto full = f.store->Get(groups[0].id);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->samples.size(), 1u);
  EXPECT_THAT(full->samples[0].event, HasSubstr("\"e7\""));

  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 1u);
  json n = f.received.at(0);
  EXPECT_EQ(n["kind"], "action_failed");
  EXPECT_EQ(n["escalation_id"], groups[0].id);
  EXPECT_EQ(n["fingerprint"], groups[0].fingerprint);  // PagerDuty's dedup key
  EXPECT_EQ(n["count"], 1);
  EXPECT_EQ(n["action"], "restart");
  EXPECT_EQ(n["reason"], "exit status 1");
  EXPECT_EQ(n["event"]["id"], "e7");
  EXPECT_EQ(n["text"], "Action restart failed for DiskFull (disk/r2): exit status 1");

  auto log = f.Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].message, "action escalated");
  // The line names the event, table and row it is about.
  const std::map<std::string, std::string> fields(log[0].fields.begin(), log[0].fields.end());
  EXPECT_EQ(fields.at("event_id"), "e7");
  EXPECT_EQ(fields.at("table"), "disk");
  EXPECT_EQ(fields.at("row"), "r2");
  EXPECT_EQ(fields.at("kind"), "action_failed");
  EXPECT_EQ(fields.at("action"), "restart");
  EXPECT_TRUE(fields.count("escalation_id"));

  // The other kinds that reach hooks.escalate keep their own escalation kind.
  EscalationNotice expired = failed;
  expired.kind = ActionEventKind::kApprovalExpired;
  expired.reason = "approval expired after 1h";
  f.dispatcher->OnActionEscalation(expired);
  EscalationNotice escalate = failed;
  escalate.kind = ActionEventKind::kEscalate;
  escalate.action = "escalate";
  escalate.reason = "";
  f.dispatcher->OnActionEscalation(escalate);
  EscalationFilter only;
  only.kind = EscalationKind::kApprovalExpired;
  ASSERT_EQ(f.store->List(only)->size(), 1u);
  only.kind = EscalationKind::kEscalateAction;
  ASSERT_EQ(f.store->List(only)->size(), 1u);
  EXPECT_EQ((*f.store->List(only))[0].action, "escalate");
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 3u);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < 3; ++i) kinds.push_back(f.received.at(i)["kind"]);
  EXPECT_THAT(kinds,
              ::testing::UnorderedElementsAre("action_failed", "approval_expired", "escalated"));
}

TEST(DispatcherTest, ActionNoticeIsToldAndNotRecorded) {
  Fixture f;
  EscalationNotice starting;
  starting.kind = ActionEventKind::kActionStarting;
  starting.event_id = "e8";
  starting.action = "restart";
  starting.table = "disk";
  starting.row = "r1";
  starting.event_json = Event("e8", "DiskFull");
  f.dispatcher->OnActionNotice(starting);
  f.FlushNotices();
  ASSERT_EQ(f.received.size(), 1u);
  json n = f.received.at(0);
  EXPECT_EQ(n["kind"], "action_before");
  EXPECT_EQ(n["at"], "2023-11-14T22:13:20.000Z");  // the injected clock
  EXPECT_EQ(n["table"], "disk");
  EXPECT_EQ(n["row"], "r1");
  EXPECT_EQ(n["text"], "Running restart for DiskFull (disk/r1)");
  EXPECT_FALSE(n.contains("escalation_id"));
  EXPECT_TRUE(f.Groups().empty());
}

}  // namespace
}  // namespace reflex::actions
