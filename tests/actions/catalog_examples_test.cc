// The shipped action catalog (rules/examples/actions.yaml) passes the strict catalog reader,
// and every action (and every parameter name) the example tables use is defined in it.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "reflex/actions/catalog.h"
#include "reflex/actions/driver.h"
#include "reflex/engine/rule_model.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"
#include "render_util.h"

namespace reflex::actions {
namespace {

const std::string kExamples = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";

TEST(CatalogExamplesTest, LoadsWithoutErrors) {
  auto c = LoadCatalog(kExamples + "/actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->actions().empty());
  // Not a warning either, through the structured reader.
  base::Diagnostics diags;
  auto d = LoadCatalog(kExamples + "/actions.yaml", &diags);
  ASSERT_TRUE(d.has_value()) << diags.ToStatus().message();
  EXPECT_TRUE(diags.empty()) << diags.ToStatus().message();
  EXPECT_EQ(d->actions().size(), c->actions().size());
}

// Every action a table names is in the catalog. Every parameter a row passes is declared by
// the action, or (a row-wide `param.X` column goes to each action of the row) by another
// action of the same row; a parameter no action of its row declares would be lost.
TEST(CatalogExamplesTest, EveryActionAndParamTheTablesUseIsDefined) {
  auto c = LoadCatalog(kExamples + "/actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  rules::DiskSource disk;
  rules::LoadedRules lr = rules::LoadRules(disk, kExamples);
  ASSERT_FALSE(lr.diags.has_errors());
  ASSERT_FALSE(lr.tables.empty());
  std::set<std::string> used;
  for (const auto& t : lr.tables) {
    for (const auto& row : t.rows) {
      std::set<std::string> declared_in_row;
      for (const auto& a : row.actions) {
        if (a.name == engine::kIgnoreAction || a.name == engine::kEscalateAction) continue;
        used.insert(a.name);
        const ActionSpec* spec = c->Find(a.name);
        ASSERT_NE(spec, nullptr) << t.file << ": row " << row.id << " uses undefined action "
                                 << a.name;
        declared_in_row.insert(spec->params.begin(), spec->params.end());
      }
      for (const auto& a : row.actions) {
        for (const auto& [pname, value] : a.params) {
          EXPECT_EQ(declared_in_row.count(pname), 1u)
              << t.file << ": row " << row.id << " passes " << pname << " to " << a.name
              << ", which no action of the row declares";
        }
      }
    }
  }
  // Every catalog action is used by some table.
  std::set<std::string> defined;
  for (const auto& [name, spec] : c->actions()) defined.insert(name);
  EXPECT_EQ(used, defined);
  // The catalog defines exactly the names the rules loader saw in actions.yaml.
  EXPECT_EQ(defined,
            std::set<std::string>(lr.context.action_names.begin(), lr.context.action_names.end()));
}

// The parameter lists the tables were written against.
TEST(CatalogExamplesTest, ParamListsAreThoseTheTablesUse) {
  auto c = LoadCatalog(kExamples + "/actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::map<std::string, std::vector<std::string>> want = {
      {"restart_service", {"host", "unit"}},
      {"clean_tmp", {"host", "path", "older_than"}},
      {"rotate_logs", {"host", "path"}},
      {"expand_volume", {"host", "mountpoint", "grow_by"}},
      {"renew_certificate", {"domain", "force"}},
      {"notify", {"channel", "text"}},
      {"page_oncall", {"team", "summary", "host"}},
      {"open_ticket", {"queue", "summary", "host"}},
  };
  ASSERT_EQ(c->actions().size(), want.size());
  for (const auto& [name, params] : want) {
    const ActionSpec* spec = c->Find(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->params, params) << name;
  }
}

TEST(CatalogExamplesTest, ExamplesShowPresetApprovalAndPolicies) {
  auto c = LoadCatalog(kExamples + "/actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ActionSpec* restart = c->Find("restart_service");
  ASSERT_NE(restart, nullptr);
  EXPECT_EQ(restart->kind, ActionKind::kWebhook);
  EXPECT_EQ(restart->webhook.preset, "awx");
  EXPECT_EQ(restart->webhook.token_env, "AWX_TOKEN");

  const std::vector<std::pair<std::string, std::string>> params = {{"host", "web-01"},
                                                                   {"unit", "nginx"}};
  ActionContext ctx;
  ctx.params = &params;
  ctx.action = "restart_service";
  const nlohmann::json req = RenderRequest(*restart, ctx);
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["url"], "https://awx.ops.internal/api/v2/job_templates/42/launch/");
  const nlohmann::json body = nlohmann::json::parse(req["body"].get<std::string>());
  EXPECT_EQ(body["extra_vars"]["unit"], "nginx");
  EXPECT_EQ(body["limit"], "web-01");

  const ActionSpec* expand = c->Find("expand_volume");
  ASSERT_NE(expand, nullptr);
  EXPECT_TRUE(expand->approval_required);

  bool any_throttle = false, any_suppress = false, any_breaker = false;
  for (const auto& [name, spec] : c->actions()) {
    EXPECT_EQ(spec.kind, ActionKind::kWebhook) << name;
    EXPECT_FALSE(spec.webhook.url.source().empty()) << name;
    any_throttle = any_throttle || spec.throttle.window_ms > 0;
    any_suppress = any_suppress || spec.suppress.window_ms > 0;
    any_breaker = any_breaker || spec.breaker.failures > 0;
  }
  EXPECT_TRUE(any_throttle);
  EXPECT_TRUE(any_suppress);
  EXPECT_TRUE(any_breaker);
}

}  // namespace
}  // namespace reflex::actions
