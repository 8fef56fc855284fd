// The `reflex` subcommands. main.cc parses the command line (CLI11) into these option
// structs and calls one function; each returns the process exit code.
//
// Exit codes: 0 success; 1 rule errors or failed cases; 2 usage or I/O error;
// 3 replay saw malformed events and --fail-on-malformed was given.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "reflex/connectors/config.h"

namespace reflex::cli {

// --mapping KIND, or --config FILE --source NAME: the payload mapping `replay`, `test` and
// `explain` apply to their input before deciding it, as `reflex run` does for a source
// (connectors::ChooseMapping). Default: none (the input already is events).
using MappingChoice = connectors::MappingChoice;

struct CheckOptions {
  std::string rules_dir;
  bool stats = false;
};
int RunCheck(const CheckOptions& o, std::ostream& out, std::ostream& err);

struct ReplayOptions {
  std::string events_file;  // "-" = stdin
  std::string rules_dir;
  std::string format = "jsonl";  // jsonl | summary
  std::string output = "-";
  std::string dead_letter;        // "" = stderr
  std::string progress = "auto";  // auto | always | never
  std::optional<int64_t> now_ms;  // fixed decision time (for reproducible output)
  bool quiet = false;
  bool fail_on_malformed = false;
  // Each line is one payload of this mapping; its events are decided in order, and a line
  // the mapping refuses is dead-lettered with the reason.
  MappingChoice mapping;
};
int RunReplay(const ReplayOptions& o, std::ostream& out, std::ostream& err);

struct TestOptions {
  std::string rules_dir;
  std::vector<std::string> case_files;  // empty = every *.cases.* beside the tables
  bool verbose = false;
  bool require_all = false;
  // The `event` of each JSON Lines case is a payload of this mapping; a payload that maps to
  // several events (an Alertmanager payload with several alerts) makes one case per event,
  // "name [alerts[1]]", each with the case's expectations. CSV cases are built as events and
  // are not mapped.
  MappingChoice mapping;
};
int RunTest(const TestOptions& o, std::ostream& out, std::ostream& err);

struct ExplainOptions {
  std::string event_file;  // "-" = stdin; the first non-blank line is the event
  std::string rules_dir;
  bool json = false;
  int near_misses = 3;
  // The file is a payload of this mapping (or several, as the webhook accepts them); each
  // event it maps to is explained in turn (--json: an array when there are several).
  MappingChoice mapping;
  // Nodes of the rule set's topology (topology/) with an open incident: the event is shown
  // as a symptom, with the path to its root, when its node depends on one of them.
  std::vector<std::string> incidents;
  // Events (JSON Lines) that came before it: fed to the patterns by event time, so the
  // explanation shows what each pattern holds for the event's group.
  std::string history_file;
};
int RunExplain(const ExplainOptions& o, std::ostream& out, std::ostream& err);

}  // namespace reflex::cli
