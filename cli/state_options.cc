#include "state_options.h"

#include <cstdlib>

#include "reflex/engine/clock.h"

namespace reflex::cli {

void AddStateOptions(CLI::App* cmd, app::StateFlags* flags, bool with_db, bool with_rules) {
  cmd->add_option("-c,--config", flags->config_file,
                  "Config file of `reflex run`: its state_dir (and rules) are used");
  cmd->add_option("--state-dir", flags->state_dir,
                  "State directory (wins over REFLEX_STATE_DIR and --config; default .reflex)");
  if (with_db) {
    cmd->add_option("--db", flags->db, "The database file itself (wins over the state directory)");
  }
  if (with_rules) {
    cmd->add_option("--rules", flags->rules_dir,
                    "Rules directory whose actions.yaml is the catalog (wins over REFLEX_RULES "
                    "and --config)");
  }
}

std::optional<app::StateLocation> ResolveState(const app::StateFlags& flags,
                                               const std::string& command, std::ostream& err) {
  auto loc = app::ResolveStateLocation(flags, base::SystemEnv());
  if (!loc.ok()) {
    err << command << ": " << loc.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*loc);
}

std::string WhoIs(const std::string& by) {
  if (!by.empty()) return by;
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "cli";
}

void AuditChange(const app::StateLocation& where, actions::AuditEntry entry, std::ostream& err) {
  entry.via = "cli";
  if (entry.outcome.empty()) entry.outcome = "ok";
  entry.at_ms = engine::SystemClock().NowMillis();
  auto audit = app::OpenExistingAudit(where);
  engine::Status s = audit.ok() ? (*audit)->Record(entry).status() : audit.status();
  if (!s.ok())
    err << "warning: the change was made but not written to the audit log: " << s.message() << "\n";
}

}  // namespace reflex::cli
