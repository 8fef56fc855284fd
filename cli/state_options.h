// The options every command that reads the state of `reflex run` takes (--config,
// --state-dir, --db, and --rules where the catalog is needed), resolved as app/state_dir.h
// says: --state-dir > REFLEX_STATE_DIR > the config file's state_dir > .reflex.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "reflex/app/state_dir.h"

namespace reflex::cli {

// Adds --config and --state-dir (and --db when `with_db`, --rules when `with_rules`).
void AddStateOptions(CLI::App* cmd, app::StateFlags* flags, bool with_db, bool with_rules = false);

// The resolved location, or nullopt after printing why to `err` (prefixed by `command`).
std::optional<app::StateLocation> ResolveState(const app::StateFlags& flags,
                                               const std::string& command, std::ostream& err);

// Who runs a command: `by`, else $USER, else "cli".
std::string WhoIs(const std::string& by);

// Writes the audit entry of a change a command made (via "cli", now; actions/audit.h) to
// the state database at `where`. A failure is printed to `err` as a warning: the change
// was made already.
void AuditChange(const app::StateLocation& where, actions::AuditEntry entry, std::ostream& err);

}  // namespace reflex::cli
