// The REST API (/api/v1) served by the real HTTP server on 127.0.0.1 over real SQLite stores
// in one state database: roles, paging, bad bodies, unknown ids, and the audit log.
#include "reflex/api/rest_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "reflex/actions/silence_store.h"
#include "reflex/base/time.h"
#include "reflex/connectors/http_server.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/silence.h"
#include "reflex/web/console_assets.h"
#include "temp_dir.h"

namespace reflex::api {
namespace {

using connectors::ApiRole;
using nlohmann::json;

constexpr const char* kViewer = "viewer-token-0123456789";
constexpr const char* kOperator = "operator-token-0123456789";
constexpr const char* kAdmin = "admin-token-0123456789ab";

// The server needs a sink for /v1/*; the API tests send no events.
class NoEvents final : public connectors::IngestSink {
 public:
  engine::Status Accept(std::string_view, std::vector<std::string>&&) override {
    return engine::Unavailable("no events in these tests");
  }
};

// The silences behind the API: the real SQLite store, as the run mode's LiveSilences is
// (without its publishing to the muter, which the API does not see).
class StoreSilences final : public connectors::SilenceApi {
 public:
  StoreSilences(actions::SilenceStore& store, const engine::Clock& clock)
      : store_(store), clock_(clock) {}
  engine::Result<std::string> Add(engine::Silence silence) override {
    return store_.Add(std::move(silence));
  }
  engine::Result<std::vector<engine::Silence>> List() override { return store_.List(); }
  engine::Status Expire(const std::string& id) override { return store_.Expire(id); }
  int64_t NowMillis() const override { return clock_.NowMillis(); }

 private:
  actions::SilenceStore& store_;
  const engine::Clock& clock_;
};

std::string Alert(const std::string& name, int n) {
  return R"({"id":")" + name + "-" + std::to_string(n) + R"(","labels":{"alertname":")" + name +
         R"(","severity":"page"}})";
}

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string db = dir_.path() + "/state/reflex.db";
    clock_.Set(1'780'000'000'000);
    std::filesystem::create_directories(dir_.path() + "/state");
    auto journal = actions::Journal::Open(db, {});
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    journal_ = std::move(*journal);
    auto esc = actions::EscalationStore::Open(db, {.clock = &clock_});
    ASSERT_TRUE(esc.ok()) << esc.status().ToString();
    escalations_ = std::move(*esc);
    auto audit = actions::AuditLog::Open(db, {});
    ASSERT_TRUE(audit.ok()) << audit.status().ToString();
    audit_ = std::move(*audit);
    auto silence_store = actions::SilenceStore::Open(db, {.clock = &clock_});
    ASSERT_TRUE(silence_store.ok()) << silence_store.status().ToString();
    silence_store_ = std::move(*silence_store);
    silences_ = std::make_unique<StoreSilences>(*silence_store_, clock_);
    rules_dir_ = dir_.path() + "/rules";
    WriteTable(kDiskTable);
    auto history = connectors::RuleHistory::Open({.state_dir = dir_.path() + "/state"});
    ASSERT_TRUE(history.ok()) << history.status().ToString();
    history_ = std::move(*history);
    auto rules =
        connectors::RuleStore::Create({.rules_dir = rules_dir_, .history = history_.get()});
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    rules_ = std::move(*rules);
    api_ =
        std::make_unique<RestApi>(RestApiOptions{.tokens = {{"vera", ApiRole::kViewer, kViewer},
                                                            {"otto", ApiRole::kOperator, kOperator},
                                                            {"ada", ApiRole::kAdmin, kAdmin}},
                                                 .journal = journal_.get(),
                                                 .escalations = escalations_.get(),
                                                 .audit = audit_.get(),
                                                 .rules = rules_.get(),
                                                 .history = history_.get(),
                                                 .metrics = &metrics_,
                                                 .silences = silences_.get(),
                                                 .recent = &recent_,
                                                 .clock = &clock_});
    connectors::HttpConfig http;
    http.listen.port = 0;
    connectors::HttpRoutes routes;
    routes.api = api_.get();
    routes.console = [](std::string_view path) -> std::optional<connectors::StaticFile> {
      const web::ConsoleAsset* a = web::FindConsoleAsset(path);
      if (a == nullptr) return std::nullopt;
      return connectors::StaticFile{a->content_type, a->body};
    };
    auto server = connectors::HttpServer::Create(http, std::move(routes), &sink_, nullptr);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  int64_t Unknown(const std::string& name, int n) {
    auto r = escalations_->RecordUnknown(Alert(name, n), clock_.NowMillis());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    clock_.Advance(1000);
    return r.ok() ? r->group_id : 0;
  }
  int64_t AwaitingApproval(const std::string& event_id) {
    actions::NewRun run;
    run.key = {
        .event_id = event_id, .table = "svc", .row = "r1", .action_index = 0, .action = "restart"};
    run.kind = "webhook";
    run.state = actions::RunState::kAwaitingApproval;
    run.approval_deadline_ms = clock_.NowMillis() + 3'600'000;
    auto r = journal_->Enqueue(run, clock_.NowMillis());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->id : 0;
  }

  struct Reply {
    int status = 0;
    json body;
    std::string text;
    httplib::Headers headers;
  };
  Reply Call(const std::string& method, const std::string& path, const char* token,
             const std::string& body = "") {
    httplib::Headers h;
    if (token != nullptr) h.emplace("Authorization", std::string("Bearer ") + token);
    httplib::Result res = method == "GET"    ? client_->Get(path, h)
                          : method == "POST" ? client_->Post(path, h, body, "application/json")
                          : method == "PUT"  ? client_->Put(path, h, body, "application/json")
                                             : client_->Delete(path, h);
    Reply r;
    if (!res) {
      ADD_FAILURE() << method << " " << path << ": no answer";
      return r;
    }
    r.status = res->status;
    r.text = res->body;
    r.body = json::parse(res->body, nullptr, false);
    r.headers = res->headers;
    return r;
  }
  std::vector<actions::AuditEntry> AuditRows() {
    auto rows = audit_->List({.limit = 1000});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<actions::AuditEntry>{};
  }

  // A PostableSilence of an hour from now for alertname=`name`.
  std::string Silence(const std::string& name) const {
    return json({{"matchers", {{{"name", "alertname"}, {"value", name}, {"isRegex", false}}}},
                 {"startsAt", base::FormatRfc3339Millis(clock_.NowMillis())},
                 {"endsAt", base::FormatRfc3339Millis(clock_.NowMillis() + 3'600'000)},
                 {"createdBy", "someone"},
                 {"comment", "maintenance of " + name}})
        .dump();
  }

  static constexpr const char* kDiskTable =
      "table,disk\nhit_policy,first\nid,alertname,severity,action\n"
      "disk-crit,DiskFull,critical,ignore\n";
  void WriteTable(const std::string& text) {
    std::filesystem::create_directories(rules_dir_ + "/tables");
    std::ofstream(rules_dir_ + "/tables/disk.csv", std::ios::trunc) << text;
  }

  test::TempDir dir_;
  engine::ManualClock clock_;
  std::string rules_dir_;
  connectors::Metrics metrics_;
  connectors::RecentDecisions recent_{100};
  std::unique_ptr<connectors::RuleHistory> history_;
  std::unique_ptr<connectors::RuleStore> rules_;
  std::unique_ptr<actions::SilenceStore> silence_store_;
  std::unique_ptr<StoreSilences> silences_;
  std::unique_ptr<actions::Journal> journal_;
  std::unique_ptr<actions::EscalationStore> escalations_;
  std::unique_ptr<actions::AuditLog> audit_;
  std::unique_ptr<RestApi> api_;
  NoEvents sink_;
  std::unique_ptr<connectors::HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(RestApiTest, WithoutAKnownTokenEverythingButTheOpenApiDocumentIs401) {
  const int64_t id = Unknown("DiskFull", 1);
  for (const char* token : {static_cast<const char*>(nullptr), "not-a-token-at-all-xxxx"}) {
    for (const std::string& path :
         std::vector<std::string>{"/api/v1/whoami", "/api/v1/escalations",
                                  "/api/v1/escalations/" + std::to_string(id), "/api/v1/audit"}) {
      Reply r = Call("GET", path, token);
      EXPECT_EQ(r.status, 401) << path;
      EXPECT_TRUE(r.body.contains("error")) << r.text;
      EXPECT_NE(r.headers.find("WWW-Authenticate"), r.headers.end());
    }
    EXPECT_EQ(Call("POST", "/api/v1/escalations/" + std::to_string(id) + "/ack", token).status,
              401);
  }
  // A token sent without the Bearer scheme is not one.
  httplib::Headers h{{"Authorization", kAdmin}};
  EXPECT_EQ(client_->Get("/api/v1/whoami", h)->status, 401);
  EXPECT_TRUE(AuditRows().empty()) << "unauthenticated calls are not audited (nobody to name)";
  EXPECT_EQ(escalations_->Get(id)->state, actions::EscalationState::kOpen);

  Reply doc = Call("GET", "/api/v1/openapi.json", nullptr);
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body.value("openapi", ""), "3.0.3");
}

// Each role is denied what it may not do (403, audited as denied, nothing changed) and
// allowed what it may.
TEST_F(RestApiTest, EachRoleIsAllowedWhatItMayAndDeniedTheRest) {
  const int64_t e1 = Unknown("DiskFull", 1);
  const int64_t e2 = Unknown("Mystery", 1);
  const int64_t run = AwaitingApproval("ev-1");

  EXPECT_EQ(Call("GET", "/api/v1/whoami", kViewer).body,
            json({{"name", "vera"}, {"role", "viewer"}}));
  for (const char* token : {kViewer, kOperator, kAdmin}) {
    EXPECT_EQ(Call("GET", "/api/v1/escalations", token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/escalations/" + std::to_string(e1), token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/approvals", token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/approvals/" + std::to_string(run), token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/audit", token).status, 200);
  }
  // The viewer may change nothing.
  const std::string esc1 = "/api/v1/escalations/" + std::to_string(e1);
  const std::string appr = "/api/v1/approvals/" + std::to_string(run);
  Reply denied = Call("POST", esc1 + "/ack", kViewer, R"({"note":"mine"})");
  EXPECT_EQ(denied.status, 403) << denied.text;
  EXPECT_NE(denied.body.value("error", "").find("role viewer may not ack"), std::string::npos);
  EXPECT_EQ(Call("POST", esc1 + "/resolve", kViewer, R"({"note":"x"})").status, 403);
  EXPECT_EQ(Call("POST", appr + "/approve", kViewer).status, 403);
  EXPECT_EQ(Call("POST", appr + "/reject", kViewer, R"({"reason":"no"})").status, 403);
  EXPECT_EQ(escalations_->Get(e1)->state, actions::EscalationState::kOpen);
  EXPECT_EQ(journal_->Get(run)->state, actions::RunState::kAwaitingApproval);
  auto rows = AuditRows();
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.actor, "vera");
    EXPECT_EQ(row.role, "viewer");
    EXPECT_EQ(row.outcome, "denied");
    EXPECT_EQ(row.via, "api");
  }

  // The operator acknowledges, resolves and approves; the admin rejects.
  Reply ack = Call("POST", esc1 + "/ack", kOperator, R"({"note":"looking"})");
  EXPECT_EQ(ack.status, 200) << ack.text;
  EXPECT_EQ(ack.body.value("state", ""), "acknowledged");
  EXPECT_EQ(ack.body.value("state_by", ""), "otto");
  Reply res = Call("POST", "/api/v1/escalations/" + std::to_string(e2) + "/resolve", kAdmin,
                   R"({"note":"known noise"})");
  EXPECT_EQ(res.status, 200) << res.text;
  EXPECT_EQ(res.body.value("state", ""), "resolved");
  Reply ok = Call("POST", appr + "/approve", kOperator, R"({"reason":"change window"})");
  EXPECT_EQ(ok.status, 200) << ok.text;
  EXPECT_EQ(ok.body.value("state", ""), "pending");
  EXPECT_EQ(ok.body.value("decided_by", ""), "otto");
  const int64_t run2 = AwaitingApproval("ev-2");
  Reply no = Call("POST", "/api/v1/approvals/" + std::to_string(run2) + "/reject", kAdmin,
                  R"({"reason":"not during the freeze"})");
  EXPECT_EQ(no.status, 200) << no.text;
  EXPECT_EQ(no.body.value("state", ""), "rejected");
}

// Every change is one audit row naming who, what, the target, before and after; a change
// the state refuses (409) is audited as refused with the reason; GET /api/v1/audit shows
// them newest first and filters.
TEST_F(RestApiTest, EveryChangeIsAuditedWithBeforeAndAfter) {
  const int64_t e1 = Unknown("DiskFull", 1);
  const int64_t run = AwaitingApproval("ev-1");
  const std::string esc1 = "/api/v1/escalations/" + std::to_string(e1);
  ASSERT_EQ(Call("POST", esc1 + "/ack", kOperator, R"({"note":"looking"})").status, 200);
  Reply again = Call("POST", esc1 + "/ack", kOperator, "");
  EXPECT_EQ(again.status, 409) << again.text;
  ASSERT_EQ(Call("POST", esc1 + "/resolve", kOperator, R"({"note":"disk cleaned"})").status, 200);
  ASSERT_EQ(Call("POST", "/api/v1/approvals/" + std::to_string(run) + "/approve", kOperator).status,
            200);

  auto rows = AuditRows();
  ASSERT_EQ(rows.size(), 4u);
  // Newest first.
  EXPECT_EQ(rows[0].action, "approval.approve");
  EXPECT_EQ(rows[0].target, "run/" + std::to_string(run));
  EXPECT_EQ(json::parse(rows[0].before)["state"], "awaiting_approval");
  EXPECT_EQ(json::parse(rows[0].after)["state"], "pending");
  EXPECT_EQ(rows[1].action, "escalation.resolve");
  EXPECT_EQ(rows[1].detail, "disk cleaned");
  EXPECT_EQ(json::parse(rows[1].before)["state"], "acknowledged");
  EXPECT_EQ(json::parse(rows[1].after)["state"], "resolved");
  EXPECT_EQ(rows[2].action, "escalation.ack");
  EXPECT_EQ(rows[2].outcome, "refused");
  EXPECT_EQ(rows[2].detail,
            "escalation " + std::to_string(e1) + " is acknowledged; cannot acknowledge it");
  EXPECT_EQ(rows[3].action, "escalation.ack");
  EXPECT_EQ(rows[3].outcome, "ok");
  EXPECT_EQ(rows[3].actor, "otto");
  EXPECT_EQ(rows[3].at_ms, 1'780'000'001'000);
  EXPECT_EQ(json::parse(rows[3].before), json({{"state", "open"}, {"by", ""}, {"note", ""}}));
  EXPECT_EQ(json::parse(rows[3].after),
            json({{"state", "acknowledged"}, {"by", "otto"}, {"note", "looking"}}));

  Reply listed = Call(
      "GET", "/api/v1/audit?action=escalation.&target=escalation/" + std::to_string(e1), kViewer);
  ASSERT_EQ(listed.status, 200) << listed.text;
  ASSERT_EQ(listed.body["items"].size(), 3u);
  EXPECT_EQ(listed.body["items"][0]["after"]["state"], "resolved");
  EXPECT_EQ(listed.body["items"][0]["at"], "2026-05-28T20:26:41.000Z");
  Reply page = Call("GET", "/api/v1/audit?limit=3", kViewer);
  ASSERT_EQ(page.body["items"].size(), 3u);
  ASSERT_TRUE(page.body["next_cursor"].is_string());
  Reply rest =
      Call("GET", "/api/v1/audit?limit=3&cursor=" + page.body["next_cursor"].get<std::string>(),
           kViewer);
  ASSERT_EQ(rest.body["items"].size(), 1u);
  EXPECT_EQ(rest.body["items"][0]["action"], "escalation.ack");
  EXPECT_TRUE(rest.body["next_cursor"].is_null());
}

// Cursor paging walks every group once, in order, under filters; bad parameters are 400s
// naming the parameter.
TEST_F(RestApiTest, EscalationsPageByCursorAndFilter) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Unknown("Alert" + std::to_string(i), i));
  const int64_t other = Unknown("DiskFull", 1);
  ASSERT_TRUE(escalations_->Ack(other, "x", "").ok());

  std::vector<int64_t> seen;
  std::string cursor;
  int pages = 0;
  while (pages < 10) {
    Reply r =
        Call("GET", "/api/v1/escalations?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
             kViewer);
    ASSERT_EQ(r.status, 200) << r.text;
    ++pages;
    for (const auto& g : r.body["items"]) seen.push_back(g["id"].get<int64_t>());
    if (r.body["next_cursor"].is_null()) break;
    cursor = r.body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::vector<int64_t>(ids.rbegin(), ids.rend())) << "open only, newest first";

  auto count = [&](const std::string& query) {
    Reply r = Call("GET", "/api/v1/escalations?" + query, kViewer);
    EXPECT_EQ(r.status, 200) << query << ": " << r.text;
    return r.body.is_object() ? r.body["items"].size() : 0u;
  };
  EXPECT_EQ(count("state=all"), 8u);
  EXPECT_EQ(count("state=acknowledged"), 1u);
  EXPECT_EQ(count("state=all&q=DiskFull"), 1u);
  EXPECT_EQ(count("kind=action_failed"), 0u);
  const std::string fp = escalations_->Get(ids[3])->fingerprint;
  EXPECT_EQ(count("fingerprint=" + fp), 1u);
  // Last seen at 1'780'000'002'000 .. 1'780'000'004'000 (ids[2], ids[3]).
  EXPECT_EQ(count("since=2026-05-28T20:26:42Z&until=2026-05-28T20:26:44Z"), 2u);

  for (const std::string bad : {"state=closed", "kind=nope", "limit=0", "limit=501", "limit=ten",
                                "since=yesterday", "cursor=abc", "cursor=1.x"}) {
    Reply r = Call("GET", "/api/v1/escalations?" + bad, kViewer);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.text;
    EXPECT_NE(r.body.value("error", "").find(bad.substr(0, bad.find('='))), std::string::npos)
        << bad << ": " << r.text;
  }
}

// A body that is not a JSON object, has unknown or wrong-typed fields, or lacks a required
// one is a 400 with the reason and changes nothing.
TEST_F(RestApiTest, BadBodiesAre400AndChangeNothing) {
  const int64_t e1 = Unknown("DiskFull", 1);
  const int64_t run = AwaitingApproval("ev-1");
  const std::string esc1 = "/api/v1/escalations/" + std::to_string(e1);
  const std::string appr = "/api/v1/approvals/" + std::to_string(run);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {esc1 + "/ack", "{not json"},     {esc1 + "/ack", "[1,2]"},
      {esc1 + "/ack", R"({"note":5})"}, {esc1 + "/ack", R"({"nope":"x"})"},
      {esc1 + "/resolve", "{}"},        {esc1 + "/resolve", R"({"note":""})"},
      {appr + "/reject", ""},           {appr + "/approve", R"("yes")"},
  };
  for (const auto& [path, body] : cases) {
    Reply r = Call("POST", path, kOperator, body);
    EXPECT_EQ(r.status, 400) << path << " " << body << ": " << r.text;
    EXPECT_TRUE(r.body.contains("error")) << r.text;
  }
  EXPECT_EQ(escalations_->Get(e1)->state, actions::EscalationState::kOpen);
  EXPECT_EQ(journal_->Get(run)->state, actions::RunState::kAwaitingApproval);
  for (const auto& row : AuditRows()) EXPECT_EQ(row.outcome, "refused");
}

// Unknown ids and routes are 404s; a route's wrong method is 405 with Allow.
TEST_F(RestApiTest, UnknownIdsAndRoutesAre404AndWrongMethods405) {
  for (const std::string path :
       {"/api/v1/escalations/999", "/api/v1/escalations/abc", "/api/v1/escalations/-1",
        "/api/v1/approvals/999", "/api/v1/nothing", "/api/v1", "/api/v1/escalations/1/x"}) {
    Reply r = Call("GET", path, kAdmin);
    EXPECT_EQ(r.status, 404) << path << ": " << r.text;
    EXPECT_TRUE(r.body.contains("error")) << path;
  }
  EXPECT_EQ(Call("POST", "/api/v1/escalations/999/ack", kAdmin).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/approvals/999/approve", kAdmin).status, 404);
  Reply m = Call("DELETE", "/api/v1/escalations", kAdmin);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.headers.find("Allow")->second, "GET");
  EXPECT_EQ(Call("GET", "/api/v1/escalations/1/ack", kAdmin).status, 405);
  EXPECT_TRUE(AuditRows().empty()) << "nothing that exists was targeted";
}

// The live rule set as the console shows it: tables, rows and their hit counts (the
// reflex_rule_hits_total counters); an event posted to /explain is decided by the live set.
TEST_F(RestApiTest, RulesShowRowsWithHitCountsAndExplainDecidesWithTheLiveSet) {
  std::shared_ptr<const engine::CompiledRuleSet> set = rules_->Current();
  metrics_.ForRules(*set)->RowCounter(0, 0)->Increment(2);
  Reply r = Call("GET", "/api/v1/rules", kViewer);
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["version"], set->version());
  ASSERT_EQ(r.body["tables"].size(), 1u) << r.text;
  const json& table = r.body["tables"][0];
  EXPECT_EQ(table["name"], "disk");
  EXPECT_EQ(table["hit_policy"], "first");
  EXPECT_EQ(table["columns"], json({"alertname", "severity"}));
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["id"], "disk-crit");
  EXPECT_EQ(table["rows"][0]["line"], 4);
  EXPECT_EQ(table["rows"][0]["hits"], 2);
  EXPECT_EQ(table["rows"][0]["actions"], json({"ignore"}));

  // The row's action is `ignore`: a match is suppressed, not escalated.
  Reply known = Call("POST", "/api/v1/explain", kViewer,
                     R"({"id":"e1","labels":{"alertname":"DiskFull","severity":"critical"}})");
  ASSERT_EQ(known.status, 200) << known.text;
  EXPECT_EQ(known.body["verdict"], "suppressed");
  EXPECT_EQ(known.body["ruleset"], set->version());
  EXPECT_EQ(known.body["tables"][0]["decided"][0]["row"], "disk-crit");
  Reply unknown = Call("POST", "/api/v1/explain", kViewer,
                       R"({"id":"e2","labels":{"alertname":"DiskFull","severity":"warning"}})");
  ASSERT_EQ(unknown.status, 200) << unknown.text;
  EXPECT_EQ(unknown.body["verdict"], "unknown");
  EXPECT_EQ(unknown.body["tables"][0]["near_misses"][0]["failed"][0]["column"], "severity");
  EXPECT_EQ(Call("POST", "/api/v1/explain", kViewer, "{not json").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/explain", kViewer).status, 405);
  EXPECT_TRUE(AuditRows().empty()) << "reads and explanations are not changes";
}

// Reload and rollback need admin; each is audited with the version before and after; a
// directory that does not load is 409 with its diagnostics and the running set stays.
TEST_F(RestApiTest, RulesReloadAndRollbackNeedAdminAndAreAudited) {
  const std::string first = rules_->version();
  WriteTable(std::string(kDiskTable) + "disk-warn,DiskFull,warning,ignore\n");
  Reply denied = Call("POST", "/api/v1/rules/reload", kOperator);
  EXPECT_EQ(denied.status, 403) << denied.text;
  EXPECT_EQ(rules_->version(), first);

  Reply reload = Call("POST", "/api/v1/rules/reload", kAdmin, R"({"note":"disk-warn added"})");
  ASSERT_EQ(reload.status, 200) << reload.text;
  EXPECT_EQ(reload.body["reload"]["outcome"], "swapped");
  const std::string second = rules_->version();
  EXPECT_NE(second, first);
  EXPECT_EQ(reload.body["reload"]["new_version"], second);
  EXPECT_EQ(reload.body["reload"]["rows"], 2);

  Reply history = Call("GET", "/api/v1/rules/history", kViewer);
  ASSERT_EQ(history.status, 200) << history.text;
  ASSERT_EQ(history.body["items"].size(), 2u) << history.text;
  EXPECT_EQ(history.body["items"][0]["version"], second);
  EXPECT_EQ(history.body["items"][0]["current"], true);
  EXPECT_EQ(history.body["items"][0]["trigger"], "api-reload");
  EXPECT_EQ(history.body["items"][1]["version"], first);

  WriteTable("table,disk\nhit_policy,first\nid,alertname,action\nx,DiskFull,ignore,extra\n");
  Reply broken = Call("POST", "/api/v1/rules/reload", kAdmin);
  EXPECT_EQ(broken.status, 409) << broken.text;
  EXPECT_EQ(broken.body["reload"]["outcome"], "refused");
  EXPECT_FALSE(broken.body["reload"]["diagnostics"].empty()) << broken.text;
  EXPECT_EQ(rules_->version(), second);

  EXPECT_EQ(Call("POST", "/api/v1/rules/rollback", kAdmin, R"({"version":"v-0000"})").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/rules/rollback", kAdmin, "{}").status, 400);
  EXPECT_EQ(
      Call("POST", "/api/v1/rules/rollback", kOperator, json({{"version", first}}).dump()).status,
      403);
  Reply back = Call("POST", "/api/v1/rules/rollback", kAdmin, json({{"version", first}}).dump());
  ASSERT_EQ(back.status, 200) << back.text;
  EXPECT_EQ(back.body["restored"], first);
  EXPECT_EQ(back.body["changed"], json({"tables/disk.csv"}));
  EXPECT_EQ(rules_->version(), first);

  std::vector<actions::AuditEntry> rows = AuditRows();  // newest first
  ASSERT_GE(rows.size(), 6u);
  EXPECT_EQ(rows[0].action, "rules.rollback");
  EXPECT_EQ(rows[0].outcome, "ok");
  EXPECT_EQ(rows[0].actor, "ada");
  EXPECT_EQ(rows[0].target, "rules/" + first);
  EXPECT_EQ(json::parse(rows[0].before), json({{"version", second}}));
  EXPECT_EQ(json::parse(rows[0].after), json({{"version", first}}));
  EXPECT_EQ(rows[1].outcome, "denied");  // the operator's rollback
  EXPECT_EQ(rows[4].action, "rules.reload");
  EXPECT_EQ(rows[4].outcome, "refused");  // the broken directory
  EXPECT_EQ(rows[5].action, "rules.reload");
  EXPECT_EQ(rows[5].outcome, "ok");
  EXPECT_EQ(rows[5].detail, "disk-warn added");
  EXPECT_EQ(json::parse(rows[5].after), json({{"version", second}}));
  EXPECT_EQ(rows.back().outcome, "denied");  // the operator's reload
}

// Silences in Alertmanager's shape: operators add and expire them, viewers only list; the
// creator is the token's name whatever the body says; both changes are audited.
TEST_F(RestApiTest, SilencesAreAddedAndExpiredByOperatorsAndAudited) {
  EXPECT_EQ(Call("POST", "/api/v1/silences", kViewer, Silence("DiskFull")).status, 403);
  Reply bad = Call("POST", "/api/v1/silences", kOperator, R"({"matchers":[]})");
  EXPECT_EQ(bad.status, 400) << bad.text;
  Reply added = Call("POST", "/api/v1/silences", kOperator, Silence("DiskFull"));
  ASSERT_EQ(added.status, 200) << added.text;
  const std::string id = added.body["silenceID"];

  Reply list = Call("GET", "/api/v1/silences?state=active", kViewer);
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body["items"].size(), 1u) << list.text;
  EXPECT_EQ(list.body["items"][0]["id"], id);
  EXPECT_EQ(list.body["items"][0]["createdBy"], "otto");
  EXPECT_EQ(list.body["items"][0]["status"]["state"], "active");
  EXPECT_EQ(Call("GET", "/api/v1/silences?state=sleepy", kViewer).status, 400);

  EXPECT_EQ(Call("DELETE", "/api/v1/silences/" + id, kViewer).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/silences/nope", kOperator).status, 404);
  Reply expired = Call("DELETE", "/api/v1/silences/" + id, kOperator);
  ASSERT_EQ(expired.status, 200) << expired.text;
  EXPECT_TRUE(Call("GET", "/api/v1/silences?state=active", kViewer).body["items"].empty());
  Reply gone = Call("GET", "/api/v1/silences?state=expired", kViewer);
  ASSERT_EQ(gone.body["items"].size(), 1u) << gone.text;
  EXPECT_EQ(Call("PUT", "/api/v1/silences", kOperator).status, 405);

  std::vector<actions::AuditEntry> rows = AuditRows();  // newest first
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].action, "silence.expire");
  EXPECT_EQ(rows[0].outcome, "ok");
  EXPECT_EQ(rows[0].target, "silence/" + id);
  EXPECT_EQ(json::parse(rows[0].before)["status"]["state"], "active");
  EXPECT_EQ(json::parse(rows[0].after)["status"]["state"], "expired");
  EXPECT_EQ(rows[1].outcome, "denied");  // the viewer's expire
  EXPECT_EQ(rows[2].action, "silence.add");
  EXPECT_EQ(rows[2].outcome, "ok");
  EXPECT_EQ(rows[2].detail, "maintenance of DiskFull");
  EXPECT_EQ(json::parse(rows[2].after)["matchers"][0]["value"], "DiskFull");
  EXPECT_EQ(rows[3].outcome, "refused");  // no matchers
  EXPECT_EQ(rows[4].outcome, "denied");   // the viewer's add
}

// The console is served from the binary with a policy that lets it reach this server only,
// and refers to no other server (no CDN: it works offline).
TEST_F(RestApiTest, TheConsoleIsServedFromTheBinaryAndReachesNoOtherServer) {
  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/console/");
  for (const char* file : {"", "index.html", "console.js", "console.css"}) {
    auto res = client_->Get(std::string("/console/") + file);
    ASSERT_TRUE(res) << file;
    EXPECT_EQ(res->status, 200) << file;
    EXPECT_FALSE(res->body.empty()) << file;
    EXPECT_THAT(res->get_header_value("Content-Security-Policy"),
                ::testing::HasSubstr("default-src 'self'"));
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    const std::regex url(R"(https?://[^\s'"`)]+)");
    for (std::sregex_iterator it(res->body.begin(), res->body.end(), url), end; it != end; ++it) {
      EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg") << file << " refers to " << it->str();
    }
  }
  EXPECT_THAT(client_->Get("/console/")->get_header_value("Content-Type"),
              ::testing::HasSubstr("text/html"));
  EXPECT_THAT(client_->Get("/console/console.js")->get_header_value("Content-Type"),
              ::testing::HasSubstr("text/javascript"));
  EXPECT_EQ(client_->Get("/console/nothing.js")->status, 404);
  EXPECT_EQ(client_->Get("/console/../api/v1/whoami")->status, 404);
}

// Teach: a viewer drafts and checks a row from an unknown event's sample; only an admin
// saves it; saving appends the row and a case, reloads, resolves the escalation with a link
// to the row, and the same event is then decided by the row. Everything is audited.
TEST_F(RestApiTest, TeachDraftsChecksAndSavesARowThatDecidesTheSameEventNext) {
  const std::string event =
      R"({"id":"w-1","labels":{"alertname":"DiskFull","severity":"warning"}})";
  auto rec = escalations_->RecordUnknown(event, clock_.NowMillis());
  ASSERT_TRUE(rec.ok());
  const std::string esc = "/api/v1/escalations/" + std::to_string(rec->group_id);
  const std::string before_version = rules_->version();

  Reply draft = Call("GET", esc + "/teach", kViewer);
  ASSERT_EQ(draft.status, 200) << draft.text;
  EXPECT_EQ(draft.body["table"], "disk");
  EXPECT_EQ(draft.body["file"], "tables/disk.csv");
  EXPECT_EQ(draft.body["nearest_row"], "disk-crit");
  EXPECT_EQ(draft.body["cells"], json({"diskfull", "DiskFull", "warning", "ignore"}));
  EXPECT_EQ(draft.body["columns"][2]["observed"], "warning");
  EXPECT_EQ(draft.body["columns"][2]["nearest"], "critical");
  EXPECT_EQ(draft.body["samples"], 1);

  const std::string row = R"({"table":"disk","cells":["disk-warn","DiskFull","warning","ignore"]})";
  Reply check = Call("POST", esc + "/teach/check", kViewer, row);
  ASSERT_EQ(check.status, 200) << check.text;
  EXPECT_EQ(check.body["ok"], true) << check.text;
  EXPECT_EQ(check.body["line"], 5);
  EXPECT_EQ(check.body["csv_line"], "disk-warn,DiskFull,warning,ignore");
  EXPECT_EQ(check.body["samples"][0]["verdict"], "suppressed");
  EXPECT_EQ(check.body["samples"][0]["by_row"], true);
  EXPECT_EQ(check.body["cases"]["passed"], 1);
  EXPECT_EQ(rules_->version(), before_version) << "a check changes nothing";
  EXPECT_FALSE(std::filesystem::exists(rules_dir_ + "/tables/disk.cases.jsonl"));

  EXPECT_EQ(Call("POST", esc + "/teach", kViewer, row).status, 403);
  Reply op = Call("POST", esc + "/teach", kOperator, row);
  EXPECT_EQ(op.status, 403);
  EXPECT_NE(op.body.value("error", "").find("(admin may)"), std::string::npos) << op.text;
  Reply saved = Call("POST", esc + "/teach", kAdmin, row);
  ASSERT_EQ(saved.status, 200) << saved.text;
  EXPECT_EQ(saved.body["row"], "disk-warn");
  EXPECT_EQ(saved.body["line"], 5);
  EXPECT_EQ(saved.body["previous_version"], before_version);
  EXPECT_NE(rules_->version(), before_version);
  EXPECT_EQ(saved.body["version"], rules_->version());
  EXPECT_EQ(saved.body["escalation"]["state"], "resolved");
  EXPECT_NE(saved.body["escalation"]["state_note"].get<std::string>().find(
                "taught row disk/disk-warn (tables/disk.csv:5"),
            std::string::npos)
      << saved.text;
  std::ifstream table(rules_dir_ + "/tables/disk.csv");
  std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, std::string(kDiskTable) + "disk-warn,DiskFull,warning,ignore\n");
  std::ifstream cases(rules_dir_ + "/tables/disk.cases.jsonl");
  std::string case_line;
  ASSERT_TRUE(std::getline(cases, case_line));
  json tc = json::parse(case_line);
  EXPECT_EQ(tc["expect"],
            json({{"verdict", "suppressed"}, {"table", "disk"}, {"row", "disk-warn"}}));
  EXPECT_EQ(tc["event"], json::parse(event));

  // The same event again: decided by the taught row with the live set.
  Reply again = Call("POST", "/api/v1/explain", kViewer, event);
  EXPECT_EQ(again.body["verdict"], "suppressed");
  EXPECT_EQ(again.body["tables"][0]["decided"][0]["row"], "disk-warn");

  auto rows = AuditRows();
  ASSERT_EQ(rows.size(), 3u);  // newest first: ok, denied (operator), denied (viewer)
  EXPECT_EQ(rows[0].action, "rules.teach");
  EXPECT_EQ(rows[0].outcome, "ok");
  EXPECT_EQ(rows[0].actor, "ada");
  EXPECT_EQ(rows[0].target, "rules/disk/disk-warn");
  EXPECT_EQ(json::parse(rows[0].before)["version"], before_version);
  EXPECT_EQ(json::parse(rows[0].after)["version"], rules_->version());
  EXPECT_EQ(json::parse(rows[0].after)["line"], 5);
  EXPECT_EQ(rows[1].outcome, "denied");
  EXPECT_EQ(rows[2].outcome, "denied");
}

// A row the check refuses is not saved: 409 with the check (the cell's position), no file
// changes, the set stays, the escalation stays open, the refusal is audited.
TEST_F(RestApiTest, TeachRefusesARowThatFailsItsCheckAndWritesNothing) {
  auto rec = escalations_->RecordUnknown(Alert("DiskFull", 1), clock_.NowMillis());
  ASSERT_TRUE(rec.ok());
  const std::string esc = "/api/v1/escalations/" + std::to_string(rec->group_id);
  const std::string version = rules_->version();
  Reply bad = Call("POST", esc + "/teach", kAdmin,
                   R"j({"table":"disk","cells":["x","DiskFull","frob(1)","ignore"]})j");
  ASSERT_EQ(bad.status, 409) << bad.text;
  EXPECT_EQ(bad.body["check"]["ok"], false);
  bool at_cell = false;
  for (const json& d : bad.body["check"]["diagnostics"]) {
    if (d["line"] == 5 && d["column"] == 3 && d["severity"] == "error") at_cell = true;
  }
  EXPECT_TRUE(at_cell) << bad.text;
  // Decided by nothing: a row for another event.
  Reply other = Call("POST", esc + "/teach", kAdmin,
                     R"({"table":"disk","cells":["x","DiskFull","info","ignore"]})");
  ASSERT_EQ(other.status, 409) << other.text;
  EXPECT_NE(other.body.value("error", "").find("not decided by the new row"), std::string::npos)
      << other.text;
  std::ifstream table(rules_dir_ + "/tables/disk.csv");
  std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, kDiskTable);
  EXPECT_FALSE(std::filesystem::exists(rules_dir_ + "/tables/disk.cases.jsonl"));
  EXPECT_EQ(rules_->version(), version);
  EXPECT_EQ(escalations_->Get(rec->group_id)->state, actions::EscalationState::kOpen);
  auto rows = AuditRows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].outcome, "refused");
  EXPECT_EQ(rows[0].action, "rules.teach");

  // Bad bodies and ids.
  for (const char* body :
       {"{not json", R"({"table":"disk","cells":"x"})", R"({"table":"disk","cells":[1]})",
        R"({"cells":[]})", R"({"table":"disk","cells":[],"extra":1})"}) {
    EXPECT_EQ(Call("POST", esc + "/teach/check", kViewer, body).status, 400) << body;
  }
  EXPECT_EQ(Call("POST", esc + "/teach/check", kViewer, R"({"table":"disk","cells":["a"]})").status,
            400);
  EXPECT_EQ(Call("POST", esc + "/teach/check", kViewer, R"({"table":"nope","cells":[]})").status,
            400);
  EXPECT_EQ(Call("GET", "/api/v1/escalations/999/teach", kViewer).status, 404);
  EXPECT_EQ(Call("GET", esc + "/teach?table=nope", kViewer).status, 400);
  EXPECT_EQ(Call("PUT", esc + "/teach", kAdmin).status, 405);
}

// POST /rules/validate: `reflex check` on the directory with the posted file; nothing is
// written and the set stays.
TEST_F(RestApiTest, ValidateChecksAnUploadedTableWithPositions) {
  const std::string version = rules_->version();
  Reply good = Call("POST", "/api/v1/rules/validate?file=extra.csv", kViewer,
                    "id,alertname,action\nx,Extra,ignore\n");
  ASSERT_EQ(good.status, 200) << good.text;
  EXPECT_EQ(good.body["ok"], true) << good.text;
  EXPECT_EQ(good.body["tables"], 2);
  Reply bad = Call("POST", "/api/v1/rules/validate?file=disk.csv", kViewer,
                   "id,alertname,severity,action\na,DiskFull,frob(1),ignore\n");
  ASSERT_EQ(bad.status, 200) << bad.text;
  EXPECT_EQ(bad.body["ok"], false);
  ASSERT_GE(bad.body["diagnostics"].size(), 1u);
  EXPECT_EQ(bad.body["diagnostics"][0]["line"], 2);
  EXPECT_EQ(bad.body["diagnostics"][0]["column"], 3);
  EXPECT_NE(bad.body["diagnostics"][0]["text"].get<std::string>().find("disk.csv:2:3: error:"),
            std::string::npos)
      << bad.text;
  for (const char* name : {"", "../x.csv", ".hidden.csv", "x.txt", "a/b.csv"}) {
    EXPECT_EQ(Call("POST", std::string("/api/v1/rules/validate?file=") + name, kViewer, "x").status,
              400)
        << name;
  }
  EXPECT_FALSE(std::filesystem::exists(rules_dir_ + "/tables/extra.csv"));
  EXPECT_EQ(rules_->version(), version);
}

// GET /decisions pages the last decisions newest first, filtered by verdict, table and row;
// GET /rules gives each row's last hit.
TEST_F(RestApiTest, RecentDecisionsAreListedByVerdictTableAndRowWithLastHits) {
  std::shared_ptr<const engine::CompiledRuleSet> set = rules_->Current();
  engine::EventParser parser;
  for (int i = 0; i < 5; ++i) {
    engine::Event ev;
    ASSERT_TRUE(parser.Parse(Alert("DiskFull", i), 0, &ev).ok());
    engine::MatchResult m;
    m.verdict = i % 2 == 0 ? engine::Verdict::kSuppressed : engine::Verdict::kUnknown;
    if (i % 2 == 0) m.matches.push_back({.table = 0, .row = 0});
    recent_.Record("alertmanager", *set, ev, m, 1'780'000'000'000 + i * 1000);
  }
  Reply all = Call("GET", "/api/v1/decisions?limit=2", kViewer);
  ASSERT_EQ(all.status, 200) << all.text;
  ASSERT_EQ(all.body["items"].size(), 2u);
  EXPECT_EQ(all.body["items"][0]["event_id"], "DiskFull-4");
  EXPECT_EQ(all.body["items"][0]["verdict"], "suppressed");
  EXPECT_EQ(all.body["items"][0]["rows"], json::parse(R"([{"table":"disk","row":"disk-crit"}])"));
  EXPECT_EQ(all.body["items"][0]["source"], "alertmanager");
  EXPECT_EQ(all.body["items"][1]["event_id"], "DiskFull-3");
  ASSERT_TRUE(all.body["next_cursor"].is_string());
  Reply next =
      Call("GET", "/api/v1/decisions?limit=2&cursor=" + all.body["next_cursor"].get<std::string>(),
           kViewer);
  ASSERT_EQ(next.status, 200) << next.text;
  EXPECT_EQ(next.body["items"][0]["event_id"], "DiskFull-2");
  Reply unknown = Call("GET", "/api/v1/decisions?verdict=unknown", kViewer);
  ASSERT_EQ(unknown.body["items"].size(), 2u) << unknown.text;
  EXPECT_TRUE(unknown.body["next_cursor"].is_null());
  Reply by_row = Call("GET", "/api/v1/decisions?table=disk&row=disk-crit", kViewer);
  EXPECT_EQ(by_row.body["items"].size(), 3u) << by_row.text;
  EXPECT_EQ(Call("GET", "/api/v1/decisions?table=other", kViewer).body["items"].size(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/decisions?verdict=maybe", kViewer).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/decisions?cursor=x", kViewer).status, 400);
  Reply rules = Call("GET", "/api/v1/rules", kViewer);
  EXPECT_EQ(rules.body["tables"][0]["rows"][0]["last_hit"], "2026-05-28T20:26:44.000Z")
      << rules.text;
}

// Every path of the OpenAPI document is served (not 404) and every path served is in it.
TEST_F(RestApiTest, TheOpenApiDocumentDescribesEveryRoute) {
  const int64_t e1 = Unknown("DiskFull", 1);
  const int64_t run = AwaitingApproval("ev-1");
  const int64_t run2 = AwaitingApproval("ev-2");  // the one rejected (run is approved)
  Reply doc = Call("GET", "/api/v1/openapi.json", nullptr);
  ASSERT_EQ(doc.status, 200);
  std::set<std::string> documented;
  for (const auto& [path, ops] : doc.body["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      documented.insert(method + " " + path);
      std::string concrete = path;
      const size_t at = concrete.find("{id}");
      if (at != std::string::npos && path != "/silences/{id}") {
        const int64_t id = path.rfind("/approvals", 0) != 0           ? e1
                           : path.find("reject") != std::string::npos ? run2
                                                                      : run;
        concrete.replace(at, 4, std::to_string(id));
      }
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      std::string body;
      if (concrete.find("resolve") != std::string::npos) body = R"({"note":"n"})";
      if (concrete.find("reject") != std::string::npos) body = R"({"reason":"r"})";
      if (concrete == "/explain") body = Alert("DiskFull", 9);
      if (concrete == "/silences" && method == "post") body = Silence("DiskFull");
      if (path == "/silences/{id}") {
        auto added = silences_->Add(*engine::ParseSilenceJson(Silence("Other")));
        ASSERT_TRUE(added.ok());
        concrete = "/silences/" + *added;
      }
      if (concrete == "/rules/rollback") body = json({{"version", rules_->version()}}).dump();
      if (concrete.find("/teach") != std::string::npos && method == "post") {
        body = R"({"table":"disk","cells":["diskfull-page","DiskFull","page","ignore"]})";
      }
      if (concrete == "/rules/validate") {
        concrete += "?file=extra.csv";
        body = "id,alertname,action\nx,Extra,ignore\n";
      }
      Reply r = Call(upper, "/api/v1" + concrete, kAdmin, body);
      EXPECT_LT(r.status, 300) << upper << " " << concrete << ": " << r.text;
    }
  }
  const std::set<std::string> served = {"get /openapi.json",
                                        "get /whoami",
                                        "get /escalations",
                                        "get /escalations/{id}",
                                        "post /escalations/{id}/ack",
                                        "post /escalations/{id}/resolve",
                                        "get /escalations/{id}/teach",
                                        "post /escalations/{id}/teach",
                                        "post /escalations/{id}/teach/check",
                                        "get /approvals",
                                        "get /approvals/{id}",
                                        "post /approvals/{id}/approve",
                                        "post /approvals/{id}/reject",
                                        "get /audit",
                                        "get /decisions",
                                        "post /explain",
                                        "get /rules",
                                        "get /rules/history",
                                        "post /rules/reload",
                                        "post /rules/rollback",
                                        "post /rules/validate",
                                        "get /silences",
                                        "post /silences",
                                        "delete /silences/{id}"};
  EXPECT_EQ(documented, served);
}

}  // namespace
}  // namespace reflex::api
