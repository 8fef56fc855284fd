// End-to-end tests of `reflex silences`: the real binary against a real SQLite state
// database (created through the store, as `reflex run` would have), found like the other
// state commands (--db, --state-dir, REFLEX_STATE_DIR). Exit codes: 0 ok; 1 a refused
// silence, no such silence, already expired; 2 usage or I/O.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "reflex/actions/silence_store.h"
#include "run_cli.h"

namespace reflex::cli_test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class SilencesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.path() + "/state";
    db_ = state_ + "/reflex.db";
    auto store = actions::SilenceStore::Open(db_, {});  // the database `reflex run` made
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  TempDir dir_;
  std::string state_, db_;
};

TEST_F(SilencesCliTest, AddListExpire) {
  CliResult add = RunCli({"silences", "add", "alertname=DiskFull", "instance=~db-.*", "--duration",
                          "2h", "--author", "alice", "--comment", "disk swap", "--db", db_});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const std::string id = add.out.substr(0, add.out.find('\n'));
  ASSERT_EQ(id.size(), 36u) << add.out;

  // amtool's shorthand: a first word without an operator is the alertname; --state-dir.
  CliResult add2 = RunCli({"silences", "add", "NodeDown", "job!~\"a|b\"", "--comment", "x",
                           "--start", "2999-01-01T00:00:00Z", "--state-dir", state_});
  ASSERT_EQ(add2.exit_code, 0) << add2.Describe();
  const std::string pending = add2.out.substr(0, add2.out.find('\n'));

  RunOptions env;
  env.env = {"REFLEX_STATE_DIR=" + state_};
  CliResult list = RunCli({"silences", "list", "--json"}, env);
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  json arr = json::parse(list.out);
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0]["id"], pending);  // latest start first
  EXPECT_EQ(arr[0]["status"]["state"], "pending");
  EXPECT_EQ(arr[0]["matchers"], json::parse(R"([
      {"name":"alertname","value":"NodeDown","isRegex":false,"isEqual":true},
      {"name":"job","value":"a|b","isRegex":true,"isEqual":false}])"));
  EXPECT_EQ(arr[1]["id"], id);
  EXPECT_EQ(arr[1]["status"]["state"], "active");
  EXPECT_EQ(arr[1]["createdBy"], "alice");
  EXPECT_EQ(arr[1]["comment"], "disk swap");

  CliResult table = RunCli({"silences", "list", "--state", "active", "--db", db_});
  ASSERT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr(id));
  EXPECT_THAT(table.out, HasSubstr(R"({alertname="DiskFull", instance=~"db-.*"}  disk swap)"));
  EXPECT_EQ(table.out.find(pending), std::string::npos);

  CliResult expire = RunCli({"silences", "expire", id, "--db", db_});
  ASSERT_EQ(expire.exit_code, 0) << expire.Describe();
  EXPECT_THAT(expire.out, HasSubstr("silence " + id + " expired"));
  CliResult expired = RunCli({"silences", "list", "--state", "expired", "--json", "--db", db_});
  ASSERT_EQ(json::parse(expired.out).size(), 1u) << expired.Describe();
  CliResult again = RunCli({"silences", "expire", id, "--db", db_});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("silence " + id + " already expired"));
  CliResult none = RunCli({"silences", "expire", "no-such-id", "--db", db_});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("no silence with id no-such-id"));
}

TEST_F(SilencesCliTest, BadSilencesAreRefusedWithTheReason) {
  CliResult bad =
      RunCli({"silences", "add", "alertname=\"DiskFull", "--comment", "c", "--db", db_});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_THAT(bad.err, HasSubstr("matchers: column 11: unterminated quoted value"));
  CliResult empty = RunCli({"silences", "add", "instance=~.*", "--comment", "c", "--db", db_});
  EXPECT_EQ(empty.exit_code, 1) << empty.Describe();
  EXPECT_THAT(empty.err, HasSubstr("at least one matcher must not match the empty string"));
  CliResult regex = RunCli({"silences", "add", "a=~(", "--comment", "c", "--db", db_});
  EXPECT_EQ(regex.exit_code, 1) << regex.Describe();
  EXPECT_THAT(regex.err, HasSubstr("invalid regular expression"));
  CliResult past = RunCli({"silences", "add", "{a=b}", "--comment", "c", "--start",
                           "2000-01-01T00:00:00Z", "--end", "2001-01-01T00:00:00Z", "--db", db_});
  EXPECT_EQ(past.exit_code, 1) << past.Describe();
  EXPECT_THAT(past.err, HasSubstr("end time can't be in the past"));
  CliResult no_comment = RunCli({"silences", "add", "a=b", "--db", db_});
  EXPECT_EQ(no_comment.exit_code, 2) << no_comment.Describe();  // CLI11: --comment is required
  CliResult list = RunCli({"silences", "list", "--state", "all", "--json", "--db", db_});
  EXPECT_EQ(json::parse(list.out).size(), 0u) << list.Describe();  // nothing was stored
}

TEST_F(SilencesCliTest, NoStateDatabaseIsExit2AndNamesWhereItLooked) {
  CliResult r = RunCli({"silences", "list", "--state-dir", dir_.path() + "/nowhere"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("no state database at " + dir_.path() + "/nowhere/reflex.db"));
}

}  // namespace
}  // namespace reflex::cli_test
