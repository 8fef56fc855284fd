// Loading a rules directory: every table, the labeling rules, the action catalog, checked
// and compiled.
//
// Layout of a rules directory:
//   tables/*.csv, tables/*.yaml|yml   decision tables (one per file, loaded in name order)
//   tables/*.cases.csv|jsonl         test cases for the table of the same stem
//   labeling.yaml                    optional: extraction rules and lookup tables
//   actions.yaml                     optional: the action catalog (names tables may use)
//   topology/nodes.csv, edges.csv    optional: configuration items and their dependencies
//                                    (topology_reader.h, docs/topology.md)
//   inhibit.yaml                     optional: inhibition rules (docs/silences.md), as
//                                    Alertmanager's `inhibit_rules:` with source_matchers,
//                                    target_matchers and equal; they go live with the set
//   patterns/*.yaml|yml              optional: multi-event patterns (rules/patterns.h)
//
// Besides each table's own analysis, the loader refuses a set whose `emit` rows can
// re-trigger themselves (a rule-chaining cycle, chaining.h) and a topology with errors.
//
// The rule-set version is "v-" + 16 hex digits of a hash over every file's name and bytes:
// the same files always give the same version.
// Thread-safety: pure functions over a FileSource.
//
//   DiskSource disk;
//   LoadedRules lr = LoadRules(disk, "rules/examples");
//   if (lr.diags.has_errors()) { print lr.diags; }
//   auto compiled = Compile(std::move(lr));
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reflex/engine/correlation.h"
#include "reflex/engine/labeling.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/topology.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/source.h"
#include "reflex/rules/table_reader.h"

namespace reflex::rules {

struct LoadedRules {
  std::string dir;
  std::vector<engine::TableSpec> tables;
  // Multi-event patterns (correlation.h), in file order; Compile hands them to the rule set
  // (CompiledRuleSet::patterns), where each worker builds its engine::Correlator from them.
  std::vector<engine::PatternSpec> patterns;
  // A hash of the pattern files alone (PatternSet::version).
  std::string patterns_version;
  engine::LabelingSpec labeling;
  TableContext context;
  std::vector<engine::InhibitRule> inhibit_rules;  // from inhibit.yaml, checked
  std::vector<std::string> case_files;             // paths of *.cases.* files found beside tables
  // The topology/ graph; null when there is none (or it has errors, in `diags`).
  std::shared_ptr<const engine::Topology> topology;
  std::string version;
  Diagnostics diags;
};

LoadedRules LoadRules(const FileSource& fs, const std::string& dir);

// Parses labeling.yaml text (paths of lookup files are relative to `dir`).
void ReadLabelingYaml(const FileSource& fs, const std::string& dir, std::string_view text,
                      const std::string& file, engine::LabelingSpec* out, Diagnostics* diags);
// Parses actions.yaml text into ctx->action_names (and sets has_catalog).
void ReadActionCatalog(std::string_view text, const std::string& file, TableContext* ctx,
                       Diagnostics* diags);

// Parses inhibit.yaml text into `out`; every problem (unknown key, a matcher string that does
// not parse, a rule that does not compile) is an error at its line and column.
void ReadInhibitYaml(std::string_view text, const std::string& file,
                     std::vector<engine::InhibitRule>* out, Diagnostics* diags);

// Compiles loaded rules; errors from compilation (e.g. a pattern RE2 refuses) are added to
// `diags`. Returns nullptr when `rules.diags` or compilation has errors.
std::shared_ptr<const engine::CompiledRuleSet> Compile(LoadedRules rules, Diagnostics* diags);

}  // namespace reflex::rules
