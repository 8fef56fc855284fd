// End-to-end tests of `reflex escalations`: a real SQLite file seeded through the
// EscalationStore, then the real binary (fork + exec) lists, shows, acknowledges and
// resolves. Exit codes: 0 ok; 1 not found or invalid state change; 2 usage or I/O.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "reflex/actions/escalations.h"
#include "run_cli.h"

namespace reflex::cli_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

class EscalationsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.path() + "/state/reflex.db";
    auto store = actions::EscalationStore::Open(db_, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto a = (*store)->RecordUnknown(
        R"({"id":"e1","source":"prometheus","labels":{"alertname":"DiskFull","severity":"critical"},"message":"disk at 97%"})",
        1'795'489'200'000);
    auto a2 = (*store)->RecordUnknown(
        R"({"id":"e2","source":"prometheus","labels":{"alertname":"DiskFull","severity":"critical"}})",
        1'795'489'260'000);
    auto b =
        (*store)->RecordUnknown(R"({"id":"e3","labels":{"alertname":"Weird"}})", 1'795'489'300'000);
    actions::ActionEscalation failed;
    failed.action = "cleanup_logs";
    failed.table = "disk_full";
    failed.row = "disk-crit";
    failed.reason = "HTTP 500 after 3 attempts";
    auto c = (*store)->RecordAction(failed, 1'795'489'400'000);
    ASSERT_TRUE(a.ok() && a2.ok() && b.ok() && c.ok());
    disk_ = a->group_id;
    weird_ = b->group_id;
    action_ = c->group_id;
  }

  TempDir dir_;
  std::string db_;
  int64_t disk_ = 0, weird_ = 0, action_ = 0;
};

TEST_F(EscalationsCliTest, ListShowsOpenGroupsAsTableAndJson) {
  CliResult r = RunCli({"escalations", "list", "--db", db_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("source=prometheus labels.alertname=DiskFull "
                               "labels.severity=critical"));
  EXPECT_THAT(r.out, HasSubstr("source=- labels.alertname=Weird labels.severity=-"));
  EXPECT_THAT(r.out, HasSubstr("action_failed"));

  CliResult j = RunCli({"escalations", "list", "--db", db_, "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.Describe();
  json arr = json::parse(j.out);
  ASSERT_EQ(arr.size(), 3u);
  EXPECT_EQ(arr[0]["id"], action_);  // most recently seen first
  EXPECT_EQ(arr[0]["reason"], "HTTP 500 after 3 attempts");
  EXPECT_EQ(arr[2]["id"], disk_);
  EXPECT_EQ(arr[2]["count"], 2);
  EXPECT_EQ(arr[2]["state"], "open");
  EXPECT_EQ(arr[2]["last_seen"], "2026-11-24T03:01:00.000Z");

  CliResult kind = RunCli(
      {"escalations", "list", "--db", db_, "--json", "--kind", "unknown_event", "--limit", "1"});
  ASSERT_EQ(kind.exit_code, 0) << kind.Describe();
  json k = json::parse(kind.out);
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0]["id"], weird_);
}

TEST_F(EscalationsCliTest, ShowIncludesSamplesAndHistory) {
  CliResult r = RunCli({"escalations", "show", std::to_string(disk_), "--db", db_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("escalation " + std::to_string(disk_) + " (unknown_event, open)"));
  EXPECT_THAT(r.out, HasSubstr("disk at 97%"));
  EXPECT_THAT(r.out, HasSubstr("first seen"));

  CliResult j = RunCli({"escalations", "show", std::to_string(disk_), "--db", db_, "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.Describe();
  json g = json::parse(j.out);
  ASSERT_EQ(g["samples"].size(), 2u);
  EXPECT_EQ(g["samples"][0]["event"]["id"], "e1");
  EXPECT_EQ(g["samples"][1]["event"]["id"], "e2");
  EXPECT_EQ(g["history"][0]["note"], "first seen");
}

TEST_F(EscalationsCliTest, AckThenResolveAndStateFilters) {
  std::string id = std::to_string(disk_);
  CliResult ack =
      RunCli({"escalations", "ack", id, "--by", "alice", "--note", "on it", "--db", db_});
  ASSERT_EQ(ack.exit_code, 0) << ack.Describe();
  EXPECT_THAT(ack.out, HasSubstr("acknowledged by alice"));

  CliResult again = RunCli({"escalations", "ack", id, "--db", db_});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("is acknowledged"));

  CliResult open = RunCli({"escalations", "list", "--db", db_, "--json"});
  ASSERT_EQ(open.exit_code, 0);
  EXPECT_THAT(open.out, Not(HasSubstr("\"id\": " + id + ",")));
  CliResult acked =
      RunCli({"escalations", "list", "--state", "acknowledged", "--db", db_, "--json"});
  json a = json::parse(acked.out);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["state_by"], "alice");
  EXPECT_EQ(a[0]["state_note"], "on it");

  CliResult res = RunCli({"escalations", "resolve", id, "--by", "bob", "--db", db_});
  ASSERT_EQ(res.exit_code, 0) << res.Describe();
  CliResult twice = RunCli({"escalations", "resolve", id, "--db", db_});
  EXPECT_EQ(twice.exit_code, 1) << twice.Describe();
  CliResult all = RunCli({"escalations", "list", "--state", "all", "--db", db_, "--json"});
  EXPECT_EQ(json::parse(all.out).size(), 3u);
  CliResult resolved = RunCli({"escalations", "list", "--state", "resolved", "--db", db_});
  EXPECT_THAT(resolved.out, HasSubstr("resolved"));
  EXPECT_THAT(resolved.out, HasSubstr("DiskFull"));
}

// The CLI's changes are in the audit log (via cli, with before and after), which `reflex
// audit list` shows, filtered; a change refused by the state writes nothing.
TEST_F(EscalationsCliTest, ChangesAreAuditedAndAuditListShowsThem) {
  const std::string id = std::to_string(disk_);
  ASSERT_EQ(
      RunCli({"escalations", "ack", id, "--by", "alice", "--note", "on it", "--db", db_}).exit_code,
      0);
  ASSERT_EQ(RunCli({"escalations", "ack", id, "--by", "alice", "--db", db_}).exit_code, 1);
  ASSERT_EQ(RunCli({"escalations", "resolve", id, "--by", "bob", "--note", "cleaned", "--db", db_})
                .exit_code,
            0);
  CliResult j = RunCli({"audit", "list", "--db", db_, "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.Describe();
  json rows = json::parse(j.out);
  ASSERT_EQ(rows.size(), 2u) << j.out;
  EXPECT_EQ(rows[0]["action"], "escalation.resolve");
  EXPECT_EQ(rows[0]["actor"], "bob");
  EXPECT_EQ(rows[0]["via"], "cli");
  EXPECT_EQ(rows[0]["detail"], "cleaned");
  EXPECT_EQ(rows[0]["before"],
            json({{"state", "acknowledged"}, {"by", "alice"}, {"note", "on it"}}));
  EXPECT_EQ(rows[0]["after"], json({{"state", "resolved"}, {"by", "bob"}, {"note", "cleaned"}}));
  EXPECT_EQ(rows[1]["action"], "escalation.ack");
  EXPECT_EQ(rows[1]["target"], "escalation/" + id);

  CliResult text = RunCli({"audit", "list", "--db", db_, "--actor", "alice"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_THAT(text.out,
              ContainsRegex("alice +cli +escalation\\.ack +escalation/" + id + " +ok +on it"));
  EXPECT_THAT(text.out, Not(HasSubstr("escalation.resolve")));
  CliResult none = RunCli({"audit", "list", "--db", db_, "--action", "approval."});
  EXPECT_THAT(none.out, HasSubstr("no audit entries"));
  EXPECT_EQ(RunCli({"audit", "list", "--db", dir_.path() + "/none.db"}).exit_code, 2);
  EXPECT_EQ(RunCli({"audit", "list", "--db", db_, "--since", "soon"}).exit_code, 2);
}

TEST_F(EscalationsCliTest, NotFoundUsageAndIoErrors) {
  CliResult missing = RunCli({"escalations", "show", "9999", "--db", db_});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("no escalation with id 9999"));
  EXPECT_EQ(RunCli({"escalations", "ack", "9999", "--db", db_}).exit_code, 1);

  CliResult no_db = RunCli({"escalations", "list", "--db", dir_.path() + "/none.db"});
  EXPECT_EQ(no_db.exit_code, 2) << no_db.Describe();
  EXPECT_THAT(no_db.err, HasSubstr("none.db"));

  EXPECT_EQ(RunCli({"escalations"}).exit_code, 2);
  EXPECT_EQ(RunCli({"escalations", "list", "--state", "sleepy", "--db", db_}).exit_code, 2);
  EXPECT_EQ(RunCli({"escalations", "show", "abc", "--db", db_}).exit_code, 2);
  EXPECT_EQ(RunCli({"escalations", "show", "--db", db_}).exit_code, 2);
}

}  // namespace
}  // namespace reflex::cli_test
