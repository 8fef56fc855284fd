// RetentionTask on real SQLite stores sharing one file: a background pass prunes both stores
// and reports what it did; Stop ends the task at once even with a long interval.
#include "reflex/actions/retention.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "exec_test_util.h"

namespace reflex::actions {
namespace {

TEST(RetentionTaskTest, BackgroundPassPrunesBothStoresAndStopsPromptly) {
  test::TempDir dir;
  const std::string path = dir.File("reflex.db");
  auto journal = Journal::Open(path);
  ASSERT_TRUE(journal.ok());
  auto escalations = EscalationStore::Open(path, {});
  ASSERT_TRUE(escalations.ok());
  const int64_t day = 24 * 3600 * 1000LL;
  for (int i = 0; i < 20; ++i) {
    NewRun run;
    run.key = RunKey{"e" + std::to_string(i), "t", "r", 0, "a"};
    run.kind = "command";
    auto r = (*journal)->Enqueue(run, 0);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(*(*journal)->MarkRunning(r->id, 0));
    ASSERT_TRUE((*journal)->MarkSucceeded(r->id, "", 0).ok());
    auto g = (*escalations)
                 ->RecordUnknown(R"({"labels":{"alertname":"A)" + std::to_string(i) + R"("}})", 0);
    ASSERT_TRUE(g.ok());
  }
  engine::ManualClock clock(40 * day);
  std::mutex mu;
  RetentionPass last;
  RetentionTask task(journal->get(), escalations->get(), nullptr,
                     {.interval_ms = 3600 * 1000,
                      .runs = {.max_age_ms = 30 * day},
                      .escalations = {.max_age_ms = 30 * day, .max_groups = 5}},
                     clock, [&](const RetentionPass& p) {
                       std::lock_guard<std::mutex> lock(mu);
                       last = p;
                     });
  task.Start();
  ASSERT_TRUE(test::WaitFor([&] { return task.passes() >= 1; }, std::chrono::seconds(10)));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(last.status.ok()) << last.status.ToString();
    EXPECT_EQ(last.runs.deleted, 20);
    EXPECT_EQ(last.runs.kept, 0);
    EXPECT_EQ(last.escalations.groups_deleted, 15);
    EXPECT_EQ(last.escalations.groups_kept, 5);
  }
  // The next pass is an hour away: Stop must not wait for it.
  const auto t0 = std::chrono::steady_clock::now();
  task.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(task.passes(), 1);
  task.Stop();  // idempotent
}

// The catalog's longest throttle or suppress window changes on a catalog reload: the next
// pass protects runs younger than the new window, not the one given at construction.
TEST(RetentionTaskTest, SetKeepRecentMsAppliesToTheNextPass) {
  test::TempDir dir;
  auto journal = Journal::Open(dir.File("reflex.db"));
  ASSERT_TRUE(journal.ok());
  for (int i = 0; i < 4; ++i) {
    NewRun run;
    run.key = RunKey{"e" + std::to_string(i), "t", "r", 0, "a"};
    run.kind = "command";
    auto r = (*journal)->Enqueue(run, 1000);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(*(*journal)->MarkRunning(r->id, 1000));
    ASSERT_TRUE((*journal)->MarkSucceeded(r->id, "", 1000).ok());
  }
  engine::ManualClock clock(5000);
  RetentionOptions options;
  options.runs = {.max_age_ms = 0, .max_runs = 1, .keep_recent_ms = 0};
  RetentionTask task(journal->get(), nullptr, nullptr, options, clock, nullptr);
  task.SetKeepRecentMs(10000);  // the runs are 4 s old: all within the window
  RetentionPass pass = task.RunOnce();
  ASSERT_TRUE(pass.status.ok()) << pass.status.ToString();
  EXPECT_EQ(pass.runs.deleted, 0);
  task.SetKeepRecentMs(1000);
  pass = task.RunOnce();
  EXPECT_EQ(pass.runs.deleted, 3);
  EXPECT_EQ(pass.runs.kept, 1);
}

}  // namespace
}  // namespace reflex::actions
