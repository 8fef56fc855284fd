// Resolving the state directory and the rules directory for the operator commands.
#include "reflex/app/state_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "reflex/app/rule_history_store.h"

namespace reflex::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateDirEnv = "REFLEX_STATE_DIR";
constexpr const char* kRulesEnv = "REFLEX_RULES";

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

std::string StateDbPath(const std::string& state_dir) {
  return (fs::path(state_dir) / "reflex.db").string();
}

std::string StateLocation::DescribeDb() const {
  if (db_source == "--db") return db_path + " (from --db)";
  return db_path + " (state directory " + DescribeStateDir() + ")";
}

std::string StateLocation::DescribeStateDir() const {
  return state_dir + " from " + state_dir_source;
}

std::string StateLocationHint() {
  return "point to the state of `reflex run` with --state-dir DIR, --config FILE or "
         "REFLEX_STATE_DIR";
}

engine::Result<StateLocation> ResolveStateLocation(const StateFlags& flags,
                                                   const base::EnvLookup& env) {
  connectors::RunConfig cfg = connectors::DefaultRunConfig();
  StateLocation loc;
  loc.state_dir_source = "the default";
  loc.rules_dir_source = "the default";
  if (!flags.config_file.empty()) {
    std::ifstream in(flags.config_file, std::ios::binary);
    if (!in) return engine::NotFound(flags.config_file + ": cannot open the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    base::Diagnostics diags;
    // Only the overrides of the keys read here, and the variable holding the store's
    // connection string (storage.store.dsn_env): the rest of the environment is the run's.
    std::string dsn_env;
    base::EnvLookup only_ours = [&env,
                                 &dsn_env](const std::string& name) -> std::optional<std::string> {
      if (name != kStateDirEnv && name != kRulesEnv && name != dsn_env) return std::nullopt;
      return env ? env(name) : std::nullopt;
    };
    base::ConfigContext ctx(flags.config_file, only_ours, &diags);
    if (auto root = base::ParseYaml(ss.str(), ctx)) {
      const YAML::Node& r = *root;
      YAML::Node subset(YAML::NodeType::Map);
      if (r.IsMap()) {
        const YAML::Node store =
            r["storage"] && r["storage"].IsMap() ? r["storage"]["store"] : YAML::Node();
        if (store.IsMap() && store["dsn_env"] && store["dsn_env"].IsScalar()) {
          dsn_env = store["dsn_env"].Scalar();
        }
        for (const char* key : {"state_dir", "rules", "storage"}) {
          if (r[key]) subset[key] = r[key];
        }
        if (r["state_dir"]) loc.state_dir_source = "state_dir in " + flags.config_file;
        if (r["rules"]) loc.rules_dir_source = "rules in " + flags.config_file;
      }
      connectors::ReadRunConfig(r.IsMap() ? subset : r, &cfg, ctx);
    }
    if (diags.has_errors()) return diags.ToStatus();
  }
  if (env) {
    if (auto v = env(kStateDirEnv)) {
      cfg.state_dir = *v;
      loc.state_dir_source = kStateDirEnv;
    }
    if (auto v = env(kRulesEnv)) {
      cfg.rules_dir = *v;
      loc.rules_dir_source = kRulesEnv;
    }
  }
  if (!flags.state_dir.empty()) {
    cfg.state_dir = flags.state_dir;
    loc.state_dir_source = "--state-dir";
  }
  if (!flags.rules_dir.empty()) {
    cfg.rules_dir = flags.rules_dir;
    loc.rules_dir_source = "--rules";
  }
  if (cfg.state_dir.empty()) {
    return engine::InvalidArgument("the state directory (from " + loc.state_dir_source +
                                   ") is empty");
  }
  loc.state_dir = cfg.state_dir;
  loc.rules_dir = cfg.rules_dir;
  loc.storage = cfg.storage;
  if (!flags.db.empty()) {
    loc.db_path = flags.db;
    loc.db_source = "--db";
  } else {
    loc.db_path = StateDbPath(loc.state_dir);
    loc.db_source = loc.state_dir_source;
  }
  return loc;
}

// The stores below are opened only where a database exists: a state command never creates one.
static engine::Status RequireDb(const StateLocation& loc) {
  if (Exists(loc.db_path)) return engine::Status::Ok();
  return engine::NotFound("no state database at " + loc.DescribeDb() + "; " + StateLocationHint());
}

engine::Result<std::unique_ptr<actions::Journal>> OpenExistingJournal(const StateLocation& loc) {
  // On PostgreSQL (`storage.store`) the journal is in the shared database, not the state file.
  if (loc.storage.store.kind == base::StoreKind::kSqlite) {
    if (engine::Status s = RequireDb(loc); !s.ok()) return s;
  }
  actions::JournalOptions o;
  o.recover = false;
  o.durability = loc.storage.durability;
  return actions::Journal::Open(loc.storage.store, loc.db_path, o);
}

engine::Result<std::unique_ptr<actions::EscalationStore>> OpenExistingEscalations(
    const StateLocation& loc) {
  // On PostgreSQL (`storage.store`) the escalations are in the shared database, not the file.
  if (loc.storage.store.kind == base::StoreKind::kSqlite) {
    if (engine::Status s = RequireDb(loc); !s.ok()) return s;
  }
  actions::EscalationOptions o;
  o.create_if_missing = false;
  o.durability = loc.storage.durability;
  return actions::EscalationStore::Open(loc.storage.store, loc.db_path, o);
}

engine::Result<std::unique_ptr<actions::AuditLog>> OpenExistingAudit(const StateLocation& loc) {
  // On PostgreSQL (`storage.store`) the log is in the shared database, not the state file.
  if (loc.storage.store.kind == base::StoreKind::kSqlite) {
    if (engine::Status s = RequireDb(loc); !s.ok()) return s;
  }
  return actions::AuditLog::Open(
      loc.storage.store, loc.db_path,
      {.create_if_missing = false, .durability = loc.storage.durability});
}

engine::Result<std::unique_ptr<actions::SilenceStore>> OpenExistingSilences(
    const StateLocation& loc) {
  // On PostgreSQL (`storage.store`) the silences are in the shared database, not the state file.
  if (loc.storage.store.kind == base::StoreKind::kSqlite) {
    if (engine::Status s = RequireDb(loc); !s.ok()) return s;
  }
  return actions::SilenceStore::Open(
      loc.storage.store, loc.db_path,
      {.create_if_missing = false, .durability = loc.storage.durability});
}

engine::Result<std::unique_ptr<connectors::RuleHistory>> OpenExistingRuleHistory(
    const StateLocation& loc) {
  // On PostgreSQL (`storage.store`) the history is in the shared database, not the state
  // directory: no local file is needed.
  if (loc.storage.store.kind == base::StoreKind::kPostgresql) {
    auto store = actions::RuleSetStore::Open(
        loc.storage.store, loc.db_path,
        {.create_if_missing = false, .durability = loc.storage.durability});
    if (!store.ok()) return store.status();
    return connectors::RuleHistory::WithStorage(
        std::make_unique<StoreRuleHistoryStorage>(std::move(*store), kStoreRuleHistoryLocation),
        {.state_dir = loc.state_dir, .durability = loc.storage.durability});
  }
  auto history = connectors::RuleHistory::OpenReadOnly(
      {.state_dir = loc.state_dir, .durability = loc.storage.durability});
  if (!Exists(history->dir())) {
    return engine::NotFound("no rule history at " + history->dir() + " (state directory " +
                            loc.DescribeStateDir() + "); " + StateLocationHint());
  }
  return history;
}

engine::Result<actions::Catalog> LoadStateCatalog(const StateLocation& loc) {
  const std::string path = (fs::path(loc.rules_dir) / "actions.yaml").string();
  if (!Exists(path)) {
    return engine::NotFound("no action catalog at " + path + " (rules directory " + loc.rules_dir +
                            " from " + loc.rules_dir_source +
                            "); point to the rules of `reflex run` with --rules DIR, --config "
                            "FILE or REFLEX_RULES");
  }
  return actions::LoadCatalog(path);
}

}  // namespace reflex::app
