// Where the operator commands (`reflex actions`, `approvals`, `escalations`, `silences`,
// `rules history` and `rollback`) find the state `reflex run` keeps, and the rules directory whose
// action catalog `reflex actions run` and `retry` check against.
//
// The state directory is chosen as `reflex run` chooses it, first match wins:
//   1. an explicit flag (`--state-dir DIR`),
//   2. the environment (REFLEX_STATE_DIR),
//   3. the config file (`--config FILE`: its `state_dir` key),
//   4. the default, `.reflex` (relative to the working directory).
// The rules directory the same way (`--rules`, REFLEX_RULES, `rules`, rules/examples).
// A `--db FILE` flag names the database file itself and wins over all of them for the
// database (on SQLite the rule history still comes from the state directory).
//
// The config file is read through the same schema as `reflex run`, but only the keys these
// commands use (`state_dir`, `rules`, `storage`) are read and checked: an operator's shell
// need not hold the run's secrets (a `token_env` variable that is unset there is no error
// here), only the variable `storage.store.dsn_env` names when the stores are on PostgreSQL
// (every store: OpenExistingJournal, OpenExistingEscalations, OpenExistingAudit,
// OpenExistingSilences and OpenExistingRuleHistory open them there). A file that cannot be read, or
// a wrong value in one of those keys, is an error.
//
// Thread-safety: plain functions and values.
//
//   auto loc = ResolveStateLocation({.config_file = "reflex.yaml"}, base::SystemEnv());
//   if (!loc.ok()) ...;
//   auto journal = OpenExistingJournal(*loc);  // kNotFound: "no state database at ..."
#pragma once

#include <memory>
#include <string>

#include "reflex/actions/audit.h"
#include "reflex/actions/catalog.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/silence_store.h"
#include "reflex/base/config_schema.h"
#include "reflex/connectors/config.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/engine/status.h"

namespace reflex::app {

// What the command line gave; "" = not given.
struct StateFlags {
  std::string config_file;  // --config
  std::string state_dir;    // --state-dir
  std::string db;           // --db (the database file itself)
  std::string rules_dir;    // --rules
};

struct StateLocation {
  std::string state_dir;
  std::string state_dir_source;  // "--state-dir", "REFLEX_STATE_DIR", "state_dir in FILE",
                                 // "the default"
  std::string db_path;           // <state_dir>/reflex.db, or --db
  std::string db_source;         // state_dir_source, or "--db"
  std::string rules_dir;
  std::string rules_dir_source;
  connectors::StorageConfig storage;  // from the config file (durability of writes)

  // "<db_path> (state directory <dir> from <source>)" for messages that say where.
  std::string DescribeDb() const;
  // "<dir> (from <source>)".
  std::string DescribeStateDir() const;
};

// The database file of a state directory: <state_dir>/reflex.db (what `reflex run` opens).
std::string StateDbPath(const std::string& state_dir);

// Resolves the locations (see the file comment). kNotFound when the config file cannot be
// opened; kInvalidArgument with every problem of the keys read.
engine::Result<StateLocation> ResolveStateLocation(const StateFlags& flags,
                                                   const base::EnvLookup& env);

// The hint appended to "not found" messages: how to point the command elsewhere.
std::string StateLocationHint();

// Opens the journal of an existing state database without crash recovery (a `reflex run`
// may be executing from it) and with the configured durability; never creates the file.
// kNotFound "no state database at <where>" when the file does not exist; kUnavailable when
// it cannot be opened.
engine::Result<std::unique_ptr<actions::Journal>> OpenExistingJournal(const StateLocation& loc);
// The escalation store, the same way; on PostgreSQL (loc.storage.store) in the shared
// database, whether or not the state file exists.
engine::Result<std::unique_ptr<actions::EscalationStore>> OpenExistingEscalations(
    const StateLocation& loc);
// The audit log, the same way; on PostgreSQL (loc.storage.store) in the shared database,
// whether or not the state file exists.
engine::Result<std::unique_ptr<actions::AuditLog>> OpenExistingAudit(const StateLocation& loc);
// The silence store, the same way; on PostgreSQL (loc.storage.store) in the shared database,
// whether or not the state file exists.
engine::Result<std::unique_ptr<actions::SilenceStore>> OpenExistingSilences(
    const StateLocation& loc);
// The rule history `reflex run` records (app/rule_history_store.h), for reading and
// rollback: on PostgreSQL (loc.storage.store) in the shared database, whatever the state
// directory holds; on SQLite the state directory's files, read-only, and kNotFound "no rule
// history at <dir>/rules-history ..." when `reflex run` never recorded one there.
engine::Result<std::unique_ptr<connectors::RuleHistory>> OpenExistingRuleHistory(
    const StateLocation& loc);
// The action catalog of the rules directory (<rules_dir>/actions.yaml). kNotFound naming the
// file and its source when there is none; kInvalidArgument with every problem otherwise.
engine::Result<actions::Catalog> LoadStateCatalog(const StateLocation& loc);

}  // namespace reflex::app
