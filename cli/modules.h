// Subcommand modules beyond check/replay/test/explain. Each module adds its subcommands to
// the app; when one of them is parsed its CLI11 callback stores in *run the function that
// carries it out, and main() calls it. A runner returns the process exit code (commands.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace reflex::cli {

using Runner = std::function<int()>;

void AddRunCommand(CLI::App& app, Runner* run);          // run_cmd.cc: reflex run
void AddRulesCommands(CLI::App& app, Runner* run);       // rules_cmd.cc: reflex rules ...
void AddActionCommands(CLI::App& app, Runner* run);      // actions_cmd.cc: reflex actions|approvals
void AddEscalationCommands(CLI::App& app, Runner* run);  // escalations_cmd.cc: reflex escalations
void AddSilenceCommands(CLI::App& app, Runner* run);     // silences_cmd.cc: reflex silences
void AddConfigCommands(CLI::App& app, Runner* run);      // config_cmd.cc: reflex config schema
void AddAuditCommands(CLI::App& app, Runner* run);       // audit_cmd.cc: reflex audit list
void AddStoreCommands(CLI::App& app, Runner* run);       // store_cmd.cc: reflex store ...

}  // namespace reflex::cli
