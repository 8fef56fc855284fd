// Following the job a preset launches, against a fake AWX / Exastro ITA controller: an
// httplib server on 127.0.0.1 (port 0) that accepts the launch and then answers the job's
// status from a script (running -> successful, running -> failed, running for ever), with
// a real SQLite journal and the real executor. Follow timeouts and poll intervals are real
// time; the bounds asserted are generous ("does not hang").
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/executor.h"
#include "reflex/engine/clock.h"
#include "test_server.h"

namespace reflex::actions {
namespace {

using test::ActionRef;
using test::Decision;
using test::EventJson;
using test::TempDir;
using test::WaitFor;
using namespace std::chrono_literals;

constexpr char kToken[] = "s3cr3t-token";
constexpr char kItaJobPath[] =
    "/api/org1/workspaces/ws1/ita/menu/conductor_class_edit/conductor/c-0001/";

// A job API that accepts launches and reports a job's status from a script: each status
// read takes the next entry, the last one repeats. An entry "HTTP 500" answers that code.
class FakeController {
 public:
  explicit FakeController(std::vector<std::string> statuses) : statuses_(std::move(statuses)) {
    auto& svr = server_.svr();
    svr.Post("/api/v2/job_templates/42/launch/",
             [this](const httplib::Request& req, httplib::Response& res) {
               ++launches_;
               Auth(req);
               res.status = 201;
               res.set_content(R"({"job": 17, "id": 17, "url": "/api/v2/jobs/17/",)"
                               R"( "status": "pending", "type": "job"})",
                               "application/json");
             });
    svr.Get("/api/v2/jobs/17/", [this](const httplib::Request& req, httplib::Response& res) {
      Auth(req);
      Answer(res, [](const std::string& s) {
        return nlohmann::json{{"id", 17}, {"status", s}, {"failed", s == "failed"}};
      });
    });
    svr.Post("/api/org1/workspaces/ws1/ita/menu/conductor_class_edit/conductor/execute/",
             [this](const httplib::Request& req, httplib::Response& res) {
               ++launches_;
               Auth(req);
               res.set_content(R"({"data": {"conductor_instance_id": "c-0001"},)"
                               R"( "message": "SUCCESS", "result": "000-00000"})",
                               "application/json");
             });
    svr.Get(kItaJobPath, [this](const httplib::Request& req, httplib::Response& res) {
      Auth(req);
      Answer(res, [](const std::string& s) {
        return nlohmann::json{
            {"data", {{"conductor", {{"conductor_instance_id", "c-0001"}, {"status_id", s}}}}},
            {"result", "000-00000"}};
      });
    });
    server_.Start();
  }

  std::string Url(const std::string& path) const { return server_.Url(path); }
  int launches() const { return launches_; }
  int polls() const { return polls_; }
  int unauthorized() const { return unauthorized_; }
  void SetStatuses(std::vector<std::string> s) {
    std::lock_guard<std::mutex> l(mu_);
    statuses_ = std::move(s);
    next_ = 0;
  }

 private:
  void Auth(const httplib::Request& req) {
    if (req.get_header_value("Authorization") != std::string("Bearer ") + kToken) ++unauthorized_;
  }
  template <typename Body>
  void Answer(httplib::Response& res, Body body) {
    std::string s;
    {
      std::lock_guard<std::mutex> l(mu_);
      s = statuses_[std::min(next_, statuses_.size() - 1)];
      ++next_;
    }
    ++polls_;
    if (s.rfind("HTTP ", 0) == 0) {
      res.status = std::stoi(s.substr(5));
      res.set_content("{}", "application/json");
      return;
    }
    res.set_content(body(s).dump(), "application/json");
  }

  test::TestServer server_;
  std::mutex mu_;
  std::vector<std::string> statuses_;
  size_t next_ = 0;
  std::atomic<int> launches_{0}, polls_{0}, unauthorized_{0};
};

struct Recorder {
  std::mutex mu;
  std::vector<EscalationNotice> escalations;
  ActionHooks Hooks() {
    ActionHooks h;
    h.escalate = [this](const EscalationNotice& n) {
      std::lock_guard<std::mutex> l(mu);
      escalations.push_back(n);
    };
    return h;
  }
  std::vector<EscalationNotice> Escalations() {
    std::lock_guard<std::mutex> l(mu);
    return escalations;
  }
};

// A catalog, a journal in a temp dir and an executor (restartable) over them.
struct Fixture {
  TempDir dir;
  Catalog catalog;
  std::unique_ptr<Journal> journal;
  Recorder rec;
  engine::SystemClock clock;
  std::unique_ptr<Executor> ex;

  explicit Fixture(const std::string& yaml) {
    ::setenv("REFLEX_TEST_JOB_TOKEN", kToken, 1);
    auto c = ParseCatalog(yaml, "actions.yaml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    if (c.ok()) catalog = std::move(*c);
    auto j = Journal::Open(dir.File("reflex.db"));
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    journal = std::move(*j);
    NewExecutor();
  }
  void NewExecutor() {
    ex.reset();
    ExecutorOptions opts;
    opts.seed = 42;
    opts.tick_ms = 5;
    ex = std::make_unique<Executor>(catalog, *journal, rec.Hooks(), opts, clock);
    EXPECT_TRUE(ex->Start().ok());
  }
  void Submit() {
    EXPECT_TRUE(
        ex->Submit(Decision("ev-1", {ActionRef{"fix", {{"host", "web-01"}}}}), EventJson("ev-1"))
            .ok());
  }
  ActionRun Only() {
    auto runs = *journal->List(std::nullopt);
    EXPECT_EQ(runs.size(), 1u);
    return runs.empty() ? ActionRun{} : runs[0];
  }
  bool WaitState(RunState s) {
    return WaitFor([&] { return Only().state == s; });
  }
};

std::string AwxYaml(const FakeController& c, const std::string& follow) {
  return "actions:\n  fix:\n    kind: webhook\n    preset: awx\n    params: [host]\n"
         "    base_url: \"" +
         c.Url("") +
         "\"\n    job_template: \"42\"\n    token_env: REFLEX_TEST_JOB_TOKEN\n"
         "    retries: {max_attempts: 3, backoff_base: 1ms, backoff_max: 1ms, jitter: none}\n" +
         follow;
}

std::string ItaYaml(const FakeController& c, const std::string& follow) {
  return "actions:\n  fix:\n    kind: webhook\n    preset: exastro_ita\n    params: [host]\n"
         "    base_url: \"" +
         c.Url("") +
         "\"\n    organization: org1\n    workspace: ws1\n    conductor: restart\n"
         "    operation: op1\n    token_env: REFLEX_TEST_JOB_TOKEN\n"
         "    retries: {max_attempts: 3, backoff_base: 1ms, backoff_max: 1ms, jitter: none}\n" +
         follow;
}

constexpr char kFastFollow[] = "    follow: {poll_interval: 10ms, timeout: 20s}\n";

TEST(JobFollowTest, AwxJobRunningThenSuccessfulSucceedsWithTheJobRecorded) {
  FakeController awx({"pending", "running", "running", "successful"});
  Fixture f(AwxYaml(awx, kFastFollow));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << StateName(f.Only().state);
  ActionRun run = f.Only();
  EXPECT_EQ(awx.launches(), 1);
  EXPECT_EQ(awx.polls(), 4);  // until the job said it finished, not just the launch
  EXPECT_EQ(awx.unauthorized(), 0);
  EXPECT_EQ(run.attempts, 1);
  EXPECT_EQ(run.job_id, "17");
  EXPECT_EQ(run.job_url, awx.Url("/api/v2/jobs/17/"));
  EXPECT_NE(run.output.find("successful"), std::string::npos) << run.output;
  EXPECT_TRUE(f.rec.Escalations().empty());
}

TEST(JobFollowTest, AwxJobRunningThenFailedFailsAndEscalatesWithIdAndLink) {
  FakeController awx({"running", "running", "failed"});
  Fixture f(AwxYaml(awx, kFastFollow));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kFailed)) << StateName(f.Only().state);
  ASSERT_TRUE(WaitFor([&] { return f.rec.Escalations().size() == 1; }));
  ActionRun run = f.Only();
  const std::string link = awx.Url("/api/v2/jobs/17/");
  EXPECT_EQ(awx.launches(), 1);  // a job that ran and failed is not launched again
  EXPECT_EQ(run.job_id, "17");
  EXPECT_EQ(run.job_url, link);
  EXPECT_NE(run.last_error.find("job 17"), std::string::npos) << run.last_error;
  EXPECT_NE(run.last_error.find("'failed'"), std::string::npos) << run.last_error;
  const EscalationNotice n = f.rec.Escalations()[0];
  EXPECT_EQ(n.job_id, "17");
  EXPECT_EQ(n.job_url, link);
  EXPECT_NE(n.reason.find("job 17"), std::string::npos) << n.reason;
  EXPECT_NE(n.reason.find(link), std::string::npos) << n.reason;
}

TEST(JobFollowTest, AwxJobThatNeverFinishesFailsAfterTheFollowTimeout) {
  FakeController awx({"running"});
  Fixture f(AwxYaml(awx, "    follow: {poll_interval: 10ms, timeout: 300ms}\n"));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kFailed)) << StateName(f.Only().state);
  ASSERT_TRUE(WaitFor([&] { return f.rec.Escalations().size() == 1; }));
  ActionRun run = f.Only();
  EXPECT_EQ(awx.launches(), 1);
  EXPECT_GE(awx.polls(), 2);
  EXPECT_NE(run.last_error.find("job 17"), std::string::npos) << run.last_error;
  EXPECT_NE(run.last_error.find("still running after 300ms"), std::string::npos) << run.last_error;
  EXPECT_NE(f.rec.Escalations()[0].reason.find(awx.Url("/api/v2/jobs/17/")), std::string::npos);
}

TEST(JobFollowTest, StatusReadsThatFailForAMomentAreReadAgain) {
  FakeController awx({"HTTP 503", "running", "HTTP 502", "successful"});
  Fixture f(AwxYaml(awx, kFastFollow));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << f.Only().last_error;
  EXPECT_EQ(awx.launches(), 1);
  EXPECT_EQ(awx.polls(), 4);
}

TEST(JobFollowTest, StopDuringFollowReturnsPromptlyAndTheNextStartFollowsTheSameJob) {
  FakeController awx({"running"});
  // A long wait between reads: Stop() must not wait it out.
  Fixture f(AwxYaml(awx, "    follow: {poll_interval: 1h, timeout: 2h}\n"));
  f.Submit();
  ASSERT_TRUE(WaitFor([&] { return awx.polls() >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  f.ex->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ActionRun run = f.Only();
  EXPECT_EQ(run.state, RunState::kPending);
  EXPECT_EQ(run.job_id, "17");
  EXPECT_NE(run.last_error.find("stopped while following job 17"), std::string::npos)
      << run.last_error;
  EXPECT_TRUE(f.rec.Escalations().empty());

  awx.SetStatuses({"successful"});
  f.NewExecutor();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << f.Only().last_error;
  EXPECT_EQ(awx.launches(), 1);  // followed again, not launched again
}

TEST(JobFollowTest, ItaConductorRunningThenNormalEndSucceeds) {
  FakeController ita({"1", "3", "3", "6"});
  Fixture f(ItaYaml(ita, kFastFollow));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << f.Only().last_error;
  ActionRun run = f.Only();
  EXPECT_EQ(ita.launches(), 1);
  EXPECT_EQ(ita.polls(), 4);
  EXPECT_EQ(ita.unauthorized(), 0);
  EXPECT_EQ(run.job_id, "c-0001");
  EXPECT_EQ(run.job_url, ita.Url(kItaJobPath));
}

TEST(JobFollowTest, ItaConductorErrorEndFailsAndEscalatesWithIdAndLink) {
  FakeController ita({"3", "7"});
  Fixture f(ItaYaml(ita, kFastFollow));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kFailed)) << StateName(f.Only().state);
  ASSERT_TRUE(WaitFor([&] { return f.rec.Escalations().size() == 1; }));
  const EscalationNotice n = f.rec.Escalations()[0];
  EXPECT_EQ(ita.launches(), 1);
  EXPECT_EQ(n.job_id, "c-0001");
  EXPECT_NE(n.reason.find("job c-0001"), std::string::npos) << n.reason;
  EXPECT_NE(n.reason.find(ita.Url(kItaJobPath)), std::string::npos) << n.reason;
  EXPECT_NE(n.reason.find("'7'"), std::string::npos) << n.reason;
}

TEST(JobFollowTest, ItaStatusFieldAndValuesAreConfigurable) {
  FakeController ita({"Executing", "Completed"});
  Fixture f(ItaYaml(ita,
                    "    follow:\n      poll_interval: 10ms\n      status_field: "
                    "data.conductor.status_id\n      succeeded: [Completed]\n"
                    "      failed: [Failed]\n"));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << f.Only().last_error;
  EXPECT_EQ(ita.polls(), 2);
}

TEST(JobFollowTest, FollowFalseTakesTheAcceptedLaunchAsTheOutcome) {
  FakeController awx({"failed"});
  Fixture f(AwxYaml(awx, "    follow: false\n"));
  f.Submit();
  ASSERT_TRUE(f.WaitState(RunState::kSucceeded)) << f.Only().last_error;
  EXPECT_EQ(awx.launches(), 1);
  EXPECT_EQ(awx.polls(), 0);
  EXPECT_EQ(f.Only().job_id, "");
}

TEST(JobFollowCatalogTest, FollowIsCheckedWhenTheCatalogIsRead) {
  auto plain = ParseCatalog(
      "actions:\n  a:\n    kind: webhook\n    url: http://x/\n    follow: true\n", "f.yaml");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("actions.a.follow"), std::string::npos)
      << plain.status().message();
  EXPECT_NE(plain.status().message().find("preset"), std::string::npos);

  auto bad = ParseCatalog(
      "actions:\n  a:\n    kind: webhook\n    preset: awx\n    base_url: http://x\n"
      "    job_template: '1'\n    follow: {poll_interval: 1ms, succeeded: [x], failed: [x]}\n",
      "f.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("actions.a.follow.poll_interval"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("actions.a.follow.failed"), std::string::npos)
      << bad.status().message();

  auto defaults = ParseCatalog(
      "actions:\n  a:\n    kind: webhook\n    preset: exastro_ita\n    base_url: http://x\n"
      "    organization: o\n    workspace: w\n    conductor: c\n    operation: p\n",
      "f.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  const FollowSpec& fs = defaults->Find("a")->webhook.follow;
  EXPECT_TRUE(fs.enabled);
  EXPECT_EQ(fs.poll_interval_ms, 5000);
  EXPECT_EQ(fs.timeout_ms, 3600000);
  EXPECT_EQ(fs.id_field, "data.conductor_instance_id");
  EXPECT_EQ(fs.status_field, "data.conductor.status_id");
  EXPECT_EQ(fs.succeeded, std::vector<std::string>{"6"});
}

// A journal file written before runs recorded their job: opening it adds the two columns and
// keeps its rows; a resumed run from it has no job (it launches, as it would have).
TEST(JobFollowJournalTest, OpensAJournalWrittenBeforeJobsWereRecorded) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* old_schema = R"sql(
CREATE TABLE action_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, rule_table TEXT NOT NULL,
  row_id TEXT NOT NULL, action_index INTEGER NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '', ruleset TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', output TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL DEFAULT '', event_json TEXT NOT NULL DEFAULT '', throttle_key TEXT,
  suppress_key TEXT, decided_by TEXT NOT NULL DEFAULT '',
  approval_deadline INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, UNIQUE (event_id, rule_table, row_id, action_index, action));
INSERT INTO action_runs (event_id, rule_table, row_id, action_index, action, kind, state,
  created_at, updated_at) VALUES ('ev-0', 't', 'r1', 0, 'fix', 'webhook', 'pending', 1, 1);
)sql";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto j = Journal::Open(path);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  auto old_run = (*j)->Get(1);
  ASSERT_TRUE(old_run.ok()) << old_run.status().ToString();
  EXPECT_EQ(old_run->job_id, "");
  ASSERT_TRUE((*j)->MarkRunning(1, 2).ok());
  ASSERT_TRUE((*j)->SetJob(1, "17", "http://awx/api/v2/jobs/17/", 3).ok());
  EXPECT_EQ((*j)->Get(1)->job_url, "http://awx/api/v2/jobs/17/");
  j->reset();
  auto again = Journal::Open(path);  // the columns are there now: opening again is plain
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->Get(1)->job_id, "17");
  // Only a running run takes a job.
  EXPECT_EQ((*again)->SetJob(1, "18", "x", 4).code(), engine::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace reflex::actions
