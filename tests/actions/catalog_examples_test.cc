// The shipped action catalog (rules/examples/actions.yaml) passes the strict catalog reader,
// and every action (and every parameter name) the example tables use is defined in it.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "reflex/actions/catalog.h"
#include "reflex/engine/rule_model.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::actions {
namespace {

const std::string kExamples = std::string(REFLEX_SOURCE_DIR) + "/rules/examples";

TEST(CatalogExamplesTest, LoadsWithoutErrors) {
  auto c = LoadCatalog(kExamples + "/actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->actions().empty());
}

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
      for (const auto& a : row.actions) {
        if (a.name == engine::kIgnoreAction || a.name == engine::kEscalateAction) continue;
        used.insert(a.name);
        const ActionSpec* spec = c->Find(a.name);
        ASSERT_NE(spec, nullptr) << t.file << ": row " << row.id << " uses undefined action "
                                 << a.name;
        for (const auto& [pname, value] : a.params) {
          EXPECT_NE(std::find(spec->params.begin(), spec->params.end(), pname),
                    spec->params.end())
              << t.file << ": row " << row.id << " passes " << pname << " to " << a.name
              << ", which does not declare it";
        }
      }
    }
  }
  EXPECT_FALSE(used.empty());
  // The catalog defines exactly the names the rules loader saw in actions.yaml.
  std::set<std::string> defined;
  for (const auto& [name, spec] : c->actions()) defined.insert(name);
  EXPECT_EQ(defined, std::set<std::string>(lr.context.action_names.begin(),
                                           lr.context.action_names.end()));
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
