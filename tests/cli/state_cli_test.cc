// End-to-end tests of the operator commands against the state a real `reflex run` made:
// where they find it (--state-dir > REFLEX_STATE_DIR > the config's state_dir > .reflex),
// what they say when there is nothing there, and `reflex actions run` / `retry` with a real
// command action (a script in the test's directory) and the real SQLite journal.
//
// The state directory is made once per suite by `reflex run --demo --config FILE`: the
// demo feeds events/sample.jsonl of the rules directory through the embedded broker and
// stops when all are decided (actions in dry run, so the journal holds skipped_dry_run
// runs), leaving the journal, the escalations and the rule history in the config's
// state_dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "run_cli.h"

namespace reflex::cli_test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using json = nlohmann::json;

// The `fix` script: records its argument, then fails (exit 3) until the file `ok` exists.
constexpr const char* kFixScript =
    "#!/bin/sh\n"
    "dir=$(dirname \"$0\")\n"
    "echo \"fix $1\" >> \"$dir/calls\"\n"
    "if [ -e \"$dir/ok\" ]; then echo \"fixed $1\"; exit 0; fi\n"
    "echo \"not yet: $1\" >&2\n"
    "exit 3\n";

class StateCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    const std::string dir = tmp_->path();
    const std::string script = tmp_->Write("bin/fix.sh", kFixScript);
    chmod(script.c_str(), 0755);
    tmp_->Write("rules/actions.yaml",
                "actions:\n"
                "  fix:\n"
                "    kind: command\n"
                "    params:\n"
                "      - {name: host, pattern: '[a-z0-9-]+'}\n"
                "    argv: [" +
                    script +
                    ", \"{{params.host}}\"]\n"
                    "    retries: 1\n"
                    "    timeout: 10s\n"
                    "  gated:\n"
                    "    kind: command\n"
                    "    argv: [" +
                    script +
                    ", gated]\n"
                    "    approval: required\n");
    tmp_->Write("rules/tables/broken.csv",
                "table,broken\n"
                "hit_policy,first\n"
                "id,alertname,action,param.host\n"
                "broken-fix,Broken,fix,{{labels.instance}}\n");
    tmp_->Write("rules/events/sample.jsonl",
                R"({"id":"b1","labels":{"alertname":"Broken","instance":"web-1"}})"
                "\n"
                R"({"id":"b2","labels":{"alertname":"Broken","instance":"web-2"}})"
                "\n"
                R"({"id":"m1","source":"nagios","labels":{"alertname":"Mystery"}})"
                "\n");
    state_ = dir + "/state-from-config";
    config_ = tmp_->Write("reflex.yaml", "rules: " + dir + "/rules\nstate_dir: " + state_ +
                                             "\nwatch_rules: false\nhttp:\n  enabled: false\n");
    RunOptions o;
    o.timeout_seconds = 120;
    o.env = {"REFLEX_STATE_DIR", "REFLEX_RULES"};
    demo_ = new CliResult(RunCli({"run", "--demo", "--config", config_}, o));
  }
  static void TearDownTestSuite() {
    delete demo_;
    delete tmp_;
  }
  void SetUp() override { ASSERT_EQ(demo_->exit_code, 0) << demo_->Describe(); }

  static std::string Path(const std::string& rel) { return tmp_->path() + "/" + rel; }
  // Runs the binary with REFLEX_STATE_DIR and REFLEX_RULES unset (plus `env`).
  static CliResult Run(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    env.insert(env.begin(), {"REFLEX_STATE_DIR", "REFLEX_RULES"});
    RunOptions o;
    o.env = std::move(env);
    return RunCli(args, o);
  }
  static json Journal(const std::vector<std::string>& where = {}) {
    std::vector<std::string> args = {"actions", "list", "--limit", "0", "--json"};
    args.insert(args.end(), where.begin(), where.end());
    if (where.empty()) args.insert(args.end(), {"--config", config_});
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return json::parse(r.out, nullptr, false);
  }

  static TempDir* tmp_;
  static CliResult* demo_;
  static std::string state_;
  static std::string config_;
};
TempDir* StateCliTest::tmp_ = nullptr;
CliResult* StateCliTest::demo_ = nullptr;
std::string StateCliTest::state_;
std::string StateCliTest::config_;

// ---- where the state is ------------------------------------------------------------------

TEST_F(StateCliTest, EveryCommandFindsTheStateDirOfTheConfigFile) {
  const json runs = Journal();
  ASSERT_TRUE(runs.is_array());
  ASSERT_EQ(runs.size(), 2u) << runs.dump();
  EXPECT_EQ(runs[0]["state"], "skipped_dry_run");
  EXPECT_EQ(runs[0]["origin"], "decision");

  CliResult show = Run({"actions", "show", std::to_string(runs[0]["id"].get<int64_t>()), "--config",
                        config_, "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_EQ(json::parse(show.out)["action"], "fix");

  CliResult esc = Run({"escalations", "list", "--config", config_});
  ASSERT_EQ(esc.exit_code, 0) << esc.Describe();
  EXPECT_THAT(esc.out, HasSubstr("labels.alertname=Mystery"));

  CliResult history = Run({"rules", "history", "--config", config_});
  ASSERT_EQ(history.exit_code, 0) << history.Describe();
  EXPECT_THAT(history.out, ::testing::ContainsRegex("\\* v-[0-9a-f]{16}"));
  EXPECT_THAT(history.out, HasSubstr(state_ + "/rules-history"));

  CliResult approvals = Run({"approvals", "list", "--config", config_});
  ASSERT_EQ(approvals.exit_code, 0) << approvals.Describe();
  EXPECT_THAT(approvals.out, HasSubstr("no awaiting_approval action runs in " + state_ +
                                       "/reflex.db (state directory " + state_ +
                                       " from state_dir in " + config_ + ")"));
}

TEST_F(StateCliTest, EnvironmentWinsOverTheConfigAndTheFlagOverBoth) {
  const std::string elsewhere = Path("elsewhere");
  CliResult env_wins =
      Run({"actions", "list", "--config", config_}, {"REFLEX_STATE_DIR=" + elsewhere});
  EXPECT_EQ(env_wins.exit_code, 2) << env_wins.Describe();
  EXPECT_THAT(env_wins.err,
              HasSubstr("no state database at " + elsewhere + "/reflex.db (state directory " +
                        elsewhere + " from REFLEX_STATE_DIR)"));

  const json by_env = json::parse(
      Run({"actions", "list", "--json"}, {"REFLEX_STATE_DIR=" + state_}).out, nullptr, false);
  ASSERT_TRUE(by_env.is_array());
  EXPECT_EQ(by_env.size(), 2u);

  CliResult flag_wins =
      Run({"actions", "list", "--json", "--config", config_, "--state-dir", state_},
          {"REFLEX_STATE_DIR=" + elsewhere});
  ASSERT_EQ(flag_wins.exit_code, 0) << flag_wins.Describe();
  EXPECT_EQ(json::parse(flag_wins.out).size(), 2u);

  CliResult history =
      Run({"rules", "history", "--config", config_}, {"REFLEX_STATE_DIR=" + elsewhere});
  EXPECT_EQ(history.exit_code, 2) << history.Describe();
  EXPECT_THAT(history.err, HasSubstr(elsewhere + "/rules-history"));
}

TEST_F(StateCliTest, NoStateThereSaysWhereItLookedAndFails) {
  const std::string nothing = Path("nothing");
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"actions", "list"},
                                             {"approvals", "list"},
                                             {"escalations", "list"},
                                             {"rules", "history"},
                                             {"actions", "retry", "1"},
                                             {"actions", "run", "fix", "--param", "host=a"}}) {
    std::vector<std::string> args = cmd;
    args.insert(args.end(), {"--state-dir", nothing, "--rules", Path("rules")});
    if (cmd[0] != "actions" || (cmd[1] != "retry" && cmd[1] != "run")) {
      args.resize(args.size() - 2);  // --rules only where the catalog is read
    }
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << cmd[0] << " " << cmd[1] << ": " << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(nothing)) << cmd[0] << " " << cmd[1];
    EXPECT_THAT(r.err, HasSubstr("from --state-dir")) << cmd[0] << " " << cmd[1];
  }
  EXPECT_FALSE(fs::exists(nothing)) << "nothing is created";
}

TEST_F(StateCliTest, AnEmptyStateIsAnAnswerNotAnError) {
  CliResult failed = Run({"actions", "list", "--state", "rejected", "--config", config_});
  ASSERT_EQ(failed.exit_code, 0) << failed.Describe();
  EXPECT_THAT(failed.out, HasSubstr("no rejected action runs in " + state_ + "/reflex.db"));

  fs::create_directories(Path("empty/rules-history"));
  CliResult history = Run({"rules", "history", "--state-dir", Path("empty")});
  ASSERT_EQ(history.exit_code, 0) << history.Describe();
  EXPECT_THAT(history.out, HasSubstr("no rule sets recorded in " + Path("empty/rules-history")));
}

TEST_F(StateCliTest, ABadConfigIsAnErrorButTheRunsSecretsAreNotNeeded) {
  // A token variable the operator's shell does not have is not this command's business.
  const std::string with_secret = tmp_->Write(
      "secret.yaml", "state_dir: " + state_ + "\nhttp:\n  token_env: REFLEX_TEST_UNSET_TOKEN\n");
  CliResult ok = Run({"actions", "list", "--config", with_secret}, {"REFLEX_TEST_UNSET_TOKEN"});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();

  const std::string bad = tmp_->Write("bad.yaml", "state_dir: [1, 2]\n");
  CliResult r = Run({"actions", "list", "--config", bad});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(bad + ":1:12: state_dir: expected a string"));

  CliResult missing = Run({"escalations", "list", "--config", Path("none.yaml")});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("none.yaml: cannot open the config file"));
}

// ---- actions run / retry -------------------------------------------------------------------

TEST_F(StateCliTest, RunAnActionByHandRecordsWhoAndTheOutcome) {
  fs::remove(Path("bin/ok"));
  CliResult failed =
      Run({"actions", "run", "fix", "--param", "host=web-9", "--by", "alice", "--config", config_});
  EXPECT_EQ(failed.exit_code, 1) << failed.Describe();
  EXPECT_THAT(failed.out, HasSubstr("(fix, manual by alice): failed after 1 attempt(s)"));
  EXPECT_THAT(failed.out, HasSubstr("not yet: web-9"));

  tmp_->Write("bin/ok", "");
  CliResult ok = Run({"actions", "run", "fix", "-p", "host=web-9", "--config", config_, "--json"},
                     {"USER=bob"});
  ASSERT_EQ(ok.exit_code, 0) << ok.Describe();
  const json run = json::parse(ok.out);
  EXPECT_EQ(run["state"], "succeeded");
  EXPECT_EQ(run["origin"], "manual");
  EXPECT_EQ(run["requested_by"], "bob");
  EXPECT_EQ(run["output"], "fixed web-9\n");
  EXPECT_EQ(run["request"]["argv"][1], "web-9");

  CliResult shown = Run({"actions", "show", std::to_string(run["id"].get<int64_t>()), "--json",
                         "--state-dir", state_});
  ASSERT_EQ(shown.exit_code, 0) << shown.Describe();
  EXPECT_EQ(json::parse(shown.out)["state"], "succeeded") << "journaled";
  fs::remove(Path("bin/ok"));
}

TEST_F(StateCliTest, RunRefusesWhatTheCatalogRefusesAndJournalsNothing) {
  const size_t before = Journal().size();
  struct Case {
    std::vector<std::string> args;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{"fix", "--param", "path=/tmp"}, "action 'fix' has no parameter 'path' (it takes: host)"},
      {{"fix", "--param", "host=web 1"}, "params.host 'web 1' does not match the pattern"},
      {{"fix", "--param", "host=a", "--param", "host=b"}, "parameter 'host' given twice"},
      {{"fix", "--param", "host"}, "--param 'host': expected name=value"},
      {{"nope"}, "action 'nope' is not in the action catalog (actions: fix, gated)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"actions", "run"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), {"--config", config_});
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(c.why));
  }
  EXPECT_EQ(Journal().size(), before) << "a refused run is not journaled";
  EXPECT_FALSE(fs::exists(Path("bin/calls")) &&
               ReadFile(Path("bin/calls")).find("web 1") != std::string::npos);
}

TEST_F(StateCliTest, RunOfAnActionThatNeedsApprovalWaitsForIt) {
  CliResult r = Run({"actions", "run", "gated", "--config", config_, "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  const json run = json::parse(r.out);
  EXPECT_EQ(run["state"], "awaiting_approval");
  EXPECT_THAT(r.err,
              HasSubstr("reflex approvals approve " + std::to_string(run["id"].get<int64_t>())));
  EXPECT_THAT(ReadFile(Path("bin/calls")), Not(HasSubstr("fix gated")));
}

TEST_F(StateCliTest, RetryQueuesAFailedRunOnceAndRefusesTheOthers) {
  fs::remove(Path("bin/ok"));
  CliResult failed =
      Run({"actions", "run", "fix", "--param", "host=web-7", "--config", config_, "--json"});
  ASSERT_EQ(failed.exit_code, 1) << failed.Describe();
  const std::string id = std::to_string(json::parse(failed.out)["id"].get<int64_t>());

  CliResult retry = Run({"actions", "retry", id, "--by", "carol", "--config", config_});
  ASSERT_EQ(retry.exit_code, 0) << retry.Describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(retry.out, m,
                                std::regex("queued action run ([0-9]+) \\(fix, "
                                           "retry of run " +
                                           id + " by carol\\): pending")))
      << retry.out;
  const std::string new_id = m[1];
  CliResult shown = Run({"actions", "show", new_id, "--json", "--config", config_});
  const json queued = json::parse(shown.out);
  EXPECT_EQ(queued["state"], "pending");
  EXPECT_EQ(queued["origin"], "retry");
  EXPECT_EQ(queued["retry_of"], std::stoll(id));
  EXPECT_EQ(queued["requested_by"], "carol");
  EXPECT_EQ(queued["request"]["argv"][1], "web-7");
  // The same operation again: the retry keeps the failed run's idempotency key.
  const json first = json::parse(Run({"actions", "show", id, "--json", "--config", config_}).out);
  EXPECT_THAT(first["idempotency_key"].get<std::string>(), MatchesRegex("reflex-[0-9a-f]{16}"));
  EXPECT_EQ(queued["idempotency_key"], first["idempotency_key"]);

  CliResult again = Run({"actions", "retry", id, "--config", config_});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err,
              HasSubstr("run " + id + " was already retried as run " + new_id + " (pending)"));
  CliResult pending = Run({"actions", "retry", new_id, "--config", config_});
  EXPECT_EQ(pending.exit_code, 1) << pending.Describe();
  EXPECT_THAT(pending.err, HasSubstr("is still pending"));

  const json runs = Journal();
  for (const auto& r : runs) {
    if (r["state"] != "skipped_dry_run") continue;
    CliResult never =
        Run({"actions", "retry", std::to_string(r["id"].get<int64_t>()), "--config", config_});
    EXPECT_EQ(never.exit_code, 1) << never.Describe();
    EXPECT_THAT(never.err, HasSubstr("never ran"));
    break;
  }
  CliResult unknown = Run({"actions", "retry", "999999", "--config", config_});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.Describe();
  EXPECT_THAT(unknown.err, HasSubstr("no action run 999999"));
}

}  // namespace
}  // namespace reflex::cli_test
