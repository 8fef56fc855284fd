// reflex rules history | rollback: the rule sets the run mode activated, and restoring one.
//
//   reflex rules history [--json]                  + --config FILE, --state-dir DIR
//   reflex rules rollback <version> [--rules DIR]  + --config FILE, --state-dir DIR
// The state directory and the rules directory are found as `reflex run` finds them
// (state_options.h, app/state_dir.h).
//
// Exit codes: 0 ok (an empty history too); 1 unknown version or the old set no longer
// compiles; 2 usage or I/O, and no rule history in the state directory.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "modules.h"
#include "reflex/base/time.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/engine/event.h"
#include "state_options.h"

namespace reflex::cli {

namespace {

using connectors::RuleHistory;

struct RulesHistoryOptions {
  app::StateFlags where;
  bool json = false;
};

struct RulesRollbackOptions {
  std::string version;
  app::StateFlags where;
};

int RunRulesHistory(const RulesHistoryOptions& o, std::ostream& out, std::ostream& err) {
  auto loc = ResolveState(o.where, "rules history", err);
  if (!loc) return 2;
  auto opened = app::OpenExistingRuleHistory(*loc);
  if (!opened.ok()) {
    err << "rules history: " << opened.status().message() << "\n";
    return 2;
  }
  const auto& history = *opened;
  auto listed = history->List();
  if (!listed.ok()) {
    err << "rules history: " << listed.status().message() << "\n";
    return 2;
  }
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *listed) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : e.files) files.push_back({{"path", f.path}, {"size", f.size}});
      arr.push_back({{"version", e.version},
                     {"current", e.current},
                     {"activated_at", base::FormatRfc3339Millis(e.activated_at_ms)},
                     {"first_activated_at", base::FormatRfc3339Millis(e.first_activated_at_ms)},
                     {"activations", e.activations},
                     {"trigger", e.trigger},
                     {"previous", e.previous},
                     {"tables", e.tables},
                     {"rows", e.rows},
                     {"replica", e.replica},
                     {"files", files}});
    }
    out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (listed->empty()) {
    out << "no rule sets recorded in " << history->dir() << " (state directory "
        << loc->DescribeStateDir() << ")\n";
    return 0;
  }
  out << "  " << std::left << std::setw(20) << "VERSION" << std::setw(26) << "ACTIVATED AT"
      << std::setw(10) << "TRIGGER" << std::right << std::setw(7) << "TABLES" << std::setw(7)
      << "ROWS"
      << "\n";
  for (const auto& e : *listed) {
    out << (e.current ? "* " : "  ") << std::left << std::setw(20) << e.version << std::setw(26)
        << base::FormatRfc3339Millis(e.activated_at_ms) << std::setw(10)
        << (e.trigger.empty() ? "-" : e.trigger) << std::right << std::setw(7) << e.tables
        << std::setw(7) << e.rows << "\n";
  }
  out << "(* = current; " << listed->size() << " kept in " << history->dir() << ")\n";
  return 0;
}

int RunRulesRollback(const RulesRollbackOptions& o, std::ostream& out, std::ostream& err) {
  auto loc = ResolveState(o.where, "rules rollback", err);
  if (!loc) return 2;
  if (loc->rules_dir_source == "the default") {
    // Writing into a directory nobody named (the bundled examples) would surprise.
    err << "rules rollback: name the rules directory to write with --rules DIR, --config FILE "
           "or REFLEX_RULES\n";
    return 2;
  }
  auto history = app::OpenExistingRuleHistory(*loc);
  if (!history.ok()) {
    err << "rules rollback: " << history.status().message() << "\n";
    return 2;
  }
  const std::string& rules_dir = loc->rules_dir;
  auto report = (*history)->Rollback(o.version, rules_dir);
  if (!report.ok()) {
    err << "rules rollback: " << report.status().message() << "\n";
    const auto code = report.status().code();
    return code == engine::StatusCode::kNotFound || code == engine::StatusCode::kFailedPrecondition
               ? 1
               : 2;
  }
  const auto& r = *report;
  out << "rolled back " << rules_dir << " to " << r.version << " (was "
      << (r.previous_version.empty() ? "-" : r.previous_version) << ")\n";
  for (const auto& p : r.changed) out << "  changed  " << p << "\n";
  for (const auto& p : r.added) out << "  added    " << p << "\n";
  for (const auto& p : r.removed) out << "  removed  " << p << "\n";
  out << "  " << r.unchanged << " file(s) unchanged\n";
  if (r.resulting_version != r.version) {
    err << "rules rollback: the rules directory now hashes to " << r.resulting_version << ", not "
        << r.version << " (a file could not be restored)\n";
    return 2;
  }
  out << "a running engine picks it up through its file watcher, or send it SIGHUP\n";
  return 0;
}

}  // namespace

void AddRulesCommands(CLI::App& app, Runner* run) {
  auto* rules = app.add_subcommand("rules", "Rule-set history and rollback");
  rules->require_subcommand(1);

  auto history = std::make_shared<RulesHistoryOptions>();
  auto* h =
      rules->add_subcommand("history", "List the rule sets that went live, most recent first");
  AddStateOptions(h, &history->where, false);
  h->add_flag("--json", history->json, "Machine-readable output");
  h->callback([run, history] {
    *run = [history] { return RunRulesHistory(*history, std::cout, std::cerr); };
  });

  auto rollback = std::make_shared<RulesRollbackOptions>();
  auto* b = rules->add_subcommand(
      "rollback", "Restore a recorded rule set into the rules directory (the engine reloads it)");
  b->add_option("version", rollback->version, "Version to restore (see reflex rules history)")
      ->required();
  AddStateOptions(b, &rollback->where, false, true);
  b->callback([run, rollback] {
    *run = [rollback] { return RunRulesRollback(*rollback, std::cout, std::cerr); };
  });
}

}  // namespace reflex::cli
