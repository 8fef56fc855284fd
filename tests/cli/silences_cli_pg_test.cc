// End-to-end test of `reflex silences` with the stores on PostgreSQL (`storage.store`): the
// real binary, given a --config whose store is a real PostgreSQL server this binary starts
// (tests/pg_server.h), adds, lists and expires silences in the shared database, with no state
// file in the state directory; the store opened directly on that database sees the same.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "pg_server.h"
#include "reflex/actions/silence_store.h"
#include "run_cli.h"

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

}  // namespace
}  // namespace reflex::cli_test
