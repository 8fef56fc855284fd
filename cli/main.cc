// reflex: the command-line entry point. Parses arguments and calls one subcommand.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "commands.h"
#include "modules.h"
#include "reflex/base/time.h"
#include "reflex/engine/event.h"

namespace reflex::cli {
namespace {

// --mapping KIND | --config FILE --source NAME (commands.h MappingChoice).
void AddMappingOptions(CLI::App* c, MappingChoice* choice, const std::string& what) {
  c->add_option("--mapping", choice->mapping,
                what +
                    " is a payload of this mapping kind (event, alertmanager, fields, influx, "
                    "prometheus_json), as "
                    "`reflex run` maps a source's messages");
  c->add_option("--config", choice->config_file,
                "A `reflex run` config file; with --source, use that source's mapping");
  c->add_option("--source", choice->source,
                "A source name of --config: its mapping (with its options) applies");
}

CLI::App* AddCheck(CLI::App& app, CheckOptions* check) {
  auto* c = app.add_subcommand(
      "check", "Validate a rules directory; print every error with file:line:column");
  c->add_option("rules_dir", check->rules_dir,
                "Rules directory (tables/, labeling.yaml, actions.yaml)")
      ->required();
  c->add_flag("--stats", check->stats, "Print per-table index statistics and compile time");
  return c;
}

// `now` receives the --now text; ParseNow turns it into replay->now_ms after parsing.
CLI::App* AddReplay(CLI::App& app, ReplayOptions* replay, std::string* now) {
  auto* r = app.add_subcommand("replay", "Decide every event of a JSON Lines file");
  r->add_option("events", replay->events_file, "Events file (JSON Lines), or - for stdin")
      ->required();
  r->add_option("--rules", replay->rules_dir, "Rules directory")->required();
  r->add_option("--format", replay->format,
                "jsonl: decisions on stdout and a summary on stderr; summary: the summary only")
      ->check(CLI::IsMember({"jsonl", "summary"}));
  r->add_option("-o,--output", replay->output, "Write decisions to this file instead of stdout");
  r->add_option("--dead-letter", replay->dead_letter,
                "Write malformed events (with the reason) here; default stderr");
  r->add_option("--progress", replay->progress,
                "Progress bar on stderr: auto (terminal and file > 16 MiB), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  r->add_option("--now", *now,
                "Decision time as RFC 3339 (reproducible output); default: the clock");
  r->add_flag("-q,--quiet", replay->quiet, "No summary");
  r->add_flag("--fail-on-malformed", replay->fail_on_malformed,
              "Exit 3 when any event was malformed");
  AddMappingOptions(r, &replay->mapping, "Each line");
  return r;
}

CLI::App* AddTest(CLI::App& app, TestOptions* test) {
  auto* t = app.add_subcommand("test", "Run rule test cases; report which tables are verified");
  t->add_option("rules_dir", test->rules_dir, "Rules directory")->required();
  t->add_option("cases", test->case_files,
                "Case files (.jsonl or .csv); default: tables/*.cases.*");
  t->add_flag("-v,--verbose", test->verbose, "List passing cases too");
  t->add_flag("--require-all", test->require_all, "Fail when a table has no cases");
  AddMappingOptions(t, &test->mapping, "The event of each JSON Lines case");
  return t;
}

CLI::App* AddExplain(CLI::App& app, ExplainOptions* explain) {
  auto* e = app.add_subcommand("explain", "Show which rows match an event and why others do not");
  e->add_option("event", explain->event_file, "A JSON event file (or - for stdin)")->required();
  e->add_option("--rules", explain->rules_dir, "Rules directory")->required();
  e->add_flag("--json", explain->json, "Machine-readable output");
  e->add_option("--near-misses", explain->near_misses, "Near misses shown per table (default 3)");
  e->add_option("--incident", explain->incidents,
                "A topology node with an open incident (repeatable): show whether the event is "
                "its symptom, and the dependency path");
  e->add_option("--history", explain->history_file,
                "Events before it (JSON Lines, by event time): show what each pattern holds "
                "for the event's group, what is missing and when its window closes");
  AddMappingOptions(e, &explain->mapping, "The file");
  return e;
}

// Parses the command line. nullopt when the command should run; else the exit code.
std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every usage error exits 2 (commands.h), not CLI11's
    // own codes (106 for a missing argument, 109 for an unknown command, ...).
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::cerr << "unknown command '" << argv[1] << "' (see reflex --help)\n";
    }
    return app.exit(error) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// Sets replay->now_ms from the --now text. False (after printing why) when it is not RFC 3339.
bool ParseNow(const std::string& now, ReplayOptions* replay) {
  if (now.empty()) return true;
  auto ms = base::ParseRfc3339Millis(now);
  if (!ms.ok()) {
    std::cerr << "--now: " << ms.status().message() << "\n";
    return false;
  }
  replay->now_ms = *ms;
  return true;
}

}  // namespace
}  // namespace reflex::cli

int main(int argc, char** argv) {
  using namespace reflex::cli;
  CLI::App app{
      "Reflex: event-driven autonomous operations. Decision tables decide every event:\n"
      "known incidents trigger automation, unknown ones reach a person."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "reflex 0.1.0");

  CheckOptions check;
  ReplayOptions replay;
  std::string now;
  TestOptions test;
  ExplainOptions explain;
  Runner module_run;
  auto* c = AddCheck(app, &check);
  auto* r = AddReplay(app, &replay, &now);
  auto* t = AddTest(app, &test);
  auto* e = AddExplain(app, &explain);
  AddRunCommand(app, &module_run);
  AddRulesCommands(app, &module_run);
  AddActionCommands(app, &module_run);
  AddEscalationCommands(app, &module_run);
  AddSilenceCommands(app, &module_run);
  AddConfigCommands(app, &module_run);
  AddAuditCommands(app, &module_run);
  AddStoreCommands(app, &module_run);

  if (auto code = Parse(app, argc, argv)) return *code;
  if (!ParseNow(now, &replay)) return 2;
  if (module_run) return module_run();
  if (c->parsed()) return RunCheck(check, std::cout, std::cerr);
  if (r->parsed()) return RunReplay(replay, std::cout, std::cerr);
  if (t->parsed()) return RunTest(test, std::cout, std::cerr);
  if (e->parsed()) return RunExplain(explain, std::cout, std::cerr);
  return 2;
}
