// The whole `reflex run` configuration: the run config's schema (connectors), the action
// executor's `actions:` section and the `notifiers:` list (actions), in one pass.
#include <fstream>
#include <sstream>

#include "reflex/app/app.h"

namespace reflex::app {

const base::Schema<actions::ExecutorOptions>& ExecutorConfigSchema() {
  static const base::Schema<actions::ExecutorOptions> schema = [] {
    base::Schema<actions::ExecutorOptions> s;
    s.Int("workers", &actions::ExecutorOptions::workers, 1, 256,
          "threads carrying out actions at once");
    s.Int("queue_capacity", &actions::ExecutorOptions::queue_capacity, 1, 1000000,
          "runs held in memory (queued, waiting or in flight) before new decisions wait");
    s.Duration("escalation_dedup_window", &actions::ExecutorOptions::escalation_dedup_window_ms, 0,
               7 * 24 * 3600 * 1000LL,
               "an action escalation (failed action, expired approval, `escalate` row) seen "
               "again within this long of its previous occurrence is counted on its group, not "
               "notified again; 0: every occurrence is notified");
    return s;
  }();
  return schema;
}

namespace {

void ReadAppConfig(const YAML::Node& root, AppConfig* out, base::ConfigContext& ctx) {
  connectors::ReadRunConfig(root, &out->run, ctx);
  const connectors::RunConfig& run = out->run;
  if (run.actions.IsDefined())
    ExecutorConfigSchema().Read(run.actions, "actions", &out->executor, ctx);
  if (run.notifiers.IsDefined() && !run.notifiers.IsNull()) {
    if (auto targets = actions::NotifierTarget::ReadList(run.notifiers, "notifiers", ctx)) {
      out->notifiers = std::move(*targets);
    }
  }
}

}  // namespace

engine::Result<AppConfig> LoadAppConfig(const std::string& path, const base::EnvLookup& env) {
  std::string text;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return engine::NotFound(path + ": cannot open the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  base::Diagnostics diags;
  base::ConfigContext ctx(path, env, &diags);
  AppConfig cfg;
  cfg.run = connectors::DefaultRunConfig();
  cfg.run.file = path;
  if (auto root = base::ParseYaml(text, ctx)) ReadAppConfig(*root, &cfg, ctx);
  if (diags.has_errors()) return diags.ToStatus();
  return cfg;
}

std::vector<base::SchemaDoc> ConfigSchemaDocs() {
  std::vector<base::SchemaDoc> docs;
  connectors::RunConfigSchema().Document("", &docs);
  ExecutorConfigSchema().Document("actions", &docs);
  connectors::MappingSchema().Document("sources[].mapping", &docs);
  actions::NotifierSchema().Document("notifiers[]", &docs);
  return docs;
}

}  // namespace reflex::app
