// End-to-end tests of the operator commands with the stores on PostgreSQL (`storage.store`):
// the real binary, given a --config whose store is a real PostgreSQL server this binary starts
// (tests/pg_server.h). `reflex silences` adds, lists and expires silences in the shared
// database, with no state file in the state directory, and the store opened directly on that
// database sees the same; `reflex store migrate|status` bring the shared schema up and tell a
// database that is behind or ahead of the binary; `reflex rules history|rollback` read what a
// `reflex run --demo` recorded in the shared database, from any state directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "pg_server.h"
#include "reflex/actions/silence_store.h"
#include "run_cli.h"
#include "sql.h"

namespace reflex::cli_test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

::testing::Environment* const kPg =
    ::testing::AddGlobalTestEnvironment(new reflex::test::PgEnvironment);

TEST(SilencesCliPgTest, AddListExpireInTheSharedDatabaseWithoutAStateFile) {
  reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
  ASSERT_NE(server, nullptr);
  const std::string dsn = server->CreateDatabase("silences_cli");
  TempDir dir;
  const std::string state = dir.path() + "/state";
  const std::string config =
      dir.Write("reflex.yaml", "state_dir: " + state +
                                   "\nstorage:\n  store: {kind: postgresql, dsn_env: "
                                   "REFLEX_TEST_STORE_DSN}\n");
  RunOptions env;
  env.env = {"REFLEX_TEST_STORE_DSN=" + dsn, "REFLEX_STATE_DIR"};

  CliResult add = RunCli({"silences", "add", "alertname=DiskFull", "--duration", "2h", "--author",
                          "alice", "--comment", "disk swap", "--config", config},
                         env);
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const std::string id = add.out.substr(0, add.out.find('\n'));
  ASSERT_EQ(id.size(), 36u) << add.out;
  EXPECT_FALSE(std::filesystem::exists(state + "/reflex.db")) << "no state file is made";

  CliResult list = RunCli({"silences", "list", "--json", "--config", config}, env);
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  json arr = json::parse(list.out);
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0]["id"], id);
  EXPECT_EQ(arr[0]["createdBy"], "alice");

  // What a replica's store reads from the same database.
  auto store = actions::SilenceStore::Open(
      base::StoreConfig{.kind = base::StoreKind::kPostgresql, .dsn = dsn}, "", {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto got = (*store)->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->comment, "disk swap");
  auto version = (*store)->Version();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 1);

  CliResult expire = RunCli({"silences", "expire", id, "--config", config}, env);
  ASSERT_EQ(expire.exit_code, 0) << expire.Describe();
  EXPECT_THAT(expire.out, HasSubstr("silence " + id + " expired"));
  version = (*store)->Version();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 2);

  // Without the variable the config is refused, naming it.
  RunOptions no_dsn;
  no_dsn.env = {"REFLEX_TEST_STORE_DSN", "REFLEX_STATE_DIR"};
  CliResult refused = RunCli({"silences", "list", "--config", config}, no_dsn);
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("REFLEX_TEST_STORE_DSN"));
}

TEST(StoreCliPgTest, MigrateBringsTheSharedDatabaseUpAndStatusTellsBehindAndAhead) {
  reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
  ASSERT_NE(server, nullptr);
  const std::string dsn = server->CreateDatabase("store_cli");
  TempDir dir;
  const std::string config =
      dir.Write("reflex.yaml", "state_dir: " + dir.path() +
                                   "/state\nstorage:\n  store: {kind: postgresql, dsn_env: "
                                   "REFLEX_TEST_STORE_DSN}\n");
  RunOptions env;
  env.env = {"REFLEX_TEST_STORE_DSN=" + dsn, "REFLEX_STATE_DIR"};

  CliResult before = RunCli({"store", "status", "--config", config}, env);
  EXPECT_EQ(before.exit_code, 1) << before.Describe();
  EXPECT_THAT(before.out, HasSubstr("journal         version 0 (this reflex knows 2: run "
                                    "`reflex store migrate`)"));
  CliResult migrate = RunCli({"store", "migrate", "--json", "--config", config}, env);
  ASSERT_EQ(migrate.exit_code, 0) << migrate.Describe();
  json arr = json::parse(migrate.out);
  ASSERT_EQ(arr.size(), 6u) << migrate.out;  // rule_history among them on PostgreSQL
  for (const auto& c : arr) {
    EXPECT_EQ(c["before"], 0) << c.dump();
    EXPECT_EQ(c["version"], c["known"]) << c.dump();
    EXPECT_GE(c["version"].get<int>(), 1) << c.dump();
  }
  CliResult status = RunCli({"store", "status", "--config", config}, env);
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_THAT(status.out, HasSubstr("PostgreSQL (storage.store)"));
  EXPECT_THAT(status.out, HasSubstr("journal         version 2 (up to date)"));
  CliResult again = RunCli({"store", "migrate", "--config", config}, env);
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("escalations     version 1 (up to date)"));
  EXPECT_THAT(again.out, HasSubstr("rule_history    version 1 (up to date)"));

  // A newer binary migrated the shared database: this one refuses to touch it.
  auto db = actions::sql::OpenPostgres(dsn, "test");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)
                  ->Exec("INSERT INTO schema_migrations (component, version, description, "
                         "applied_at) VALUES ('journal', 3, 'from the future', 0)")
                  .ok());
  CliResult ahead = RunCli({"store", "status", "--config", config}, env);
  EXPECT_EQ(ahead.exit_code, 2) << ahead.Describe();
  EXPECT_THAT(ahead.out, HasSubstr("journal         version 3 (newer than this reflex, which "
                                   "knows 2: upgrade reflex)"));
  CliResult refused = RunCli({"store", "migrate", "--config", config}, env);
  EXPECT_EQ(refused.exit_code, 2) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("database schema version 3 is newer than this reflex"));
}

// A run with the store on PostgreSQL records its rule set in the shared database, not in the
// state directory: `reflex rules history` lists it from any state directory (another
// replica's, or none at all) and `reflex rules rollback` restores from it.
TEST(RulesCliPgTest, HistoryListsWhatARunRecordedInTheSharedDatabase) {
  reflex::test::PgServer* server = reflex::test::PgEnvironment::server();
  ASSERT_NE(server, nullptr);
  const std::string dsn = server->CreateDatabase("rules_cli");
  TempDir dir;
  const std::string rules = dir.path() + "/rules";
  std::filesystem::copy(std::filesystem::path(REFLEX_SOURCE_DIR) / "rules/examples", rules,
                        std::filesystem::copy_options::recursive);
  const std::string state = dir.path() + "/state";
  const std::string config = dir.Write(
      "reflex.yaml", "rules: " + rules + "\nstate_dir: " + state +
                         "\nwatch_rules: false\nhttp:\n  enabled: false\nstorage:\n  store: "
                         "{kind: postgresql, dsn_env: REFLEX_TEST_STORE_DSN}\n");
  RunOptions env;
  env.timeout_seconds = 120;
  env.env = {"REFLEX_TEST_STORE_DSN=" + dsn, "REFLEX_STATE_DIR", "REFLEX_RULES"};
  CliResult run = RunCli({"run", "--demo", "--config", config}, env);
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_FALSE(std::filesystem::exists(state + "/rules-history"));

  CliResult history = RunCli({"rules", "history", "--json", "--config", config}, env);
  ASSERT_EQ(history.exit_code, 0) << history.Describe();
  json arr = json::parse(history.out, nullptr, false);
  ASSERT_TRUE(arr.is_array()) << history.out;
  ASSERT_EQ(arr.size(), 1u) << history.out;
  const std::string version = arr[0]["version"];
  EXPECT_TRUE(arr[0]["current"].get<bool>());
  EXPECT_EQ(arr[0]["trigger"], "start");
  // The replica that activated it: this host and the run's state database.
  EXPECT_THAT(arr[0]["replica"].get<std::string>(), HasSubstr(":" + state + "/reflex.db"));
  EXPECT_GT(arr[0]["files"].size(), 3u);

  // Another state directory, which holds nothing: the same shared history.
  RunOptions elsewhere = env;
  elsewhere.env.push_back("REFLEX_STATE_DIR=" + dir.path() + "/nowhere");
  CliResult listed = RunCli({"rules", "history", "--config", config}, elsewhere);
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  EXPECT_THAT(listed.out, HasSubstr("* " + version));
  EXPECT_THAT(listed.out, HasSubstr("kept in postgresql store"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/nowhere"));

  // Rollback restores a deleted table from the database's copy.
  const std::string table = rules + "/tables/disk_full.csv";
  const std::string bytes = ReadFile(table);
  std::filesystem::remove(table);
  CliResult rollback = RunCli({"rules", "rollback", version, "--config", config}, elsewhere);
  ASSERT_EQ(rollback.exit_code, 0) << rollback.Describe();
  EXPECT_THAT(rollback.out, HasSubstr("added    tables/disk_full.csv"));
  EXPECT_EQ(ReadFile(table), bytes);
}

}  // namespace
}  // namespace reflex::cli_test
