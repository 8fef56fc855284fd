// Crash and resume: a child process (this test binary, re-executed) runs the executor on a
// real journal; it is killed with SIGKILL while one command runs and others wait; a second
// child resumes. Every action must end exactly once in a final state and no command may run
// twice: each command appends one line to a file, and the lines are counted.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/executor.h"

extern char** environ;

namespace reflex::actions {
namespace {

using test::ActionRef;
using test::Decision;
using test::EventJson;
using namespace std::chrono_literals;

constexpr int kFast = 10;
constexpr int kSlow = 3;

// `fast` appends its number at once; `slow` waits until the gate file exists, then appends.
std::string CatalogYaml(const std::string& dir) {
  return "actions:\n"
         "  fast:\n    kind: command\n    params: [n]\n"
         "    argv: [/bin/sh, -c, 'echo \"$1\" >> \"$2\"', sh, '{{params.n}}', '" +
         dir +
         "/out']\n"
         "  slow:\n    kind: command\n    params: [n]\n    concurrency: 1\n    timeout: 60s\n"
         "    argv: [/bin/sh, -c, 'while [ ! -e \"$3\" ]; do /bin/sleep 0.05; done; "
         "echo \"$1\" >> \"$2\"', sh, '{{params.n}}', '" +
         dir + "/out', '" + dir + "/gate']\n";
}

// The child: submits every decision (again, in the second run: a redelivery) and works.
TEST(ExecutorCrashChild, Run) {
  const char* dir_env = std::getenv("REFLEX_CRASH_DIR");
  if (dir_env == nullptr) GTEST_SKIP() << "only runs as the child of ExecutorCrashTest";
  const std::string dir = dir_env;
  auto catalog = ParseCatalog(CatalogYaml(dir), "actions.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  auto journal = Journal::Open(dir + "/reflex.db");
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  engine::SystemClock clock;
  ExecutorOptions opts;
  opts.workers = 2;
  opts.tick_ms = 5;
  Executor ex(*catalog, **journal, ActionHooks{}, opts, clock);
  ASSERT_TRUE(ex.Start().ok());
  for (int i = 0; i < kSlow; ++i) {
    std::string id = "s" + std::to_string(i);
    ASSERT_TRUE(ex.Submit(Decision(id, {{"slow", {{"n", id}}}}), EventJson(id)).ok());
  }
  for (int i = 0; i < kFast; ++i) {
    std::string id = "f" + std::to_string(i);
    ASSERT_TRUE(ex.Submit(Decision(id, {{"fast", {{"n", id}}}}), EventJson(id)).ok());
  }
  // First run: killed by the parent while a slow command waits for the gate. Second run:
  // the gate exists, so everything finishes.
  ASSERT_TRUE(ex.Drain(40s));
}

pid_t SpawnChild(const std::string& dir) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=ExecutorCrashChild.Run";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("REFLEX_CRASH_DIR=" + dir);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv = {self.data(), filter.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), envp.data());
  EXPECT_EQ(rc, 0);
  return rc == 0 ? pid : -1;
}

TEST(ExecutorCrashTest, KilledMidRunResumesAndNothingRunsTwice) {
  test::TempDir dir;
  const std::string db = dir.File("reflex.db");

  pid_t child = SpawnChild(dir.path());
  ASSERT_GT(child, 0);
  // Watch the journal from here (without recovery: the child is alive and owns its runs).
  std::unique_ptr<Journal> watch;
  ASSERT_TRUE(test::WaitFor([&] {
    if (!std::filesystem::exists(db)) return false;
    auto j = Journal::Open(db, JournalOptions{.recover = false});
    if (!j.ok()) return false;
    watch = std::move(*j);
    return true;
  }));
  auto state_of = [&]() {
    std::map<std::string, std::map<std::string, int>> m;  // action -> state -> count
    auto runs = watch->List(std::nullopt);
    if (runs.ok()) {
      for (const auto& r : *runs) ++m[r.key.action][std::string(StateName(r.state))];
    }
    return m;
  };
  ASSERT_TRUE(test::WaitFor([&] {
    auto m = state_of();
    return m["fast"]["succeeded"] == kFast && m["slow"]["running"] == 1 &&
           m["slow"]["pending"] == kSlow - 1;
  })) << "the child did not reach the expected state";
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  // The slow command died with its parent (PR_SET_PDEATHSIG) before appending.
  auto lines = test::ReadLines(dir.File("out"));
  EXPECT_EQ(lines.size(), static_cast<size_t>(kFast));
  auto m = state_of();
  EXPECT_EQ(m["slow"]["running"], 1);  // as the crash left it
  watch.reset();

  test::WriteFile(dir.File("gate"), "");
  pid_t second = SpawnChild(dir.path());
  ASSERT_GT(second, 0);
  ASSERT_EQ(::waitpid(second, &status, 0), second);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  lines = test::ReadLines(dir.File("out"));
  std::map<std::string, int> seen;
  for (const auto& l : lines) ++seen[l];
  EXPECT_EQ(lines.size(), static_cast<size_t>(kFast + kSlow));
  for (int i = 0; i < kFast; ++i) EXPECT_EQ(seen["f" + std::to_string(i)], 1) << i;
  for (int i = 0; i < kSlow; ++i) EXPECT_EQ(seen["s" + std::to_string(i)], 1) << i;

  auto j = Journal::Open(db);
  ASSERT_TRUE(j.ok());
  auto runs = (*j)->List(std::nullopt);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), static_cast<size_t>(kFast + kSlow));  // the redelivery added none
  int resumed = 0;
  for (const auto& r : *runs) {
    EXPECT_EQ(r.state, RunState::kSucceeded) << r.key.event_id;
    if (r.attempts == 2) ++resumed;  // the interrupted attempt stays counted
    EXPECT_LE(r.attempts, 2);
  }
  EXPECT_EQ(resumed, 1);
}

}  // namespace
}  // namespace reflex::actions
