// Static analysis of decision tables: overlapping rows under `unique`, rows shadowed by an
// earlier row under `first` (they can never fire), duplicate rows, and rows that can never
// match (an empty numeric range).
//
// Relations between two cells are decided exactly for equality, sets, numeric intervals,
// prefixes/suffixes, exists/missing and CIDR blocks; a regex against a literal is decided
// by running it. Where a relation cannot be decided (two regexes, say), an overlap is
// reported as a warning ("may overlap"), never as an error, and no shadowing is claimed.
// Rows are bucketed on their most selective equality column, so large tables are not
// compared all-pairs. Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "reflex/engine/condition.h"
#include "reflex/engine/rule_model.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

enum class Tri { kNo, kYes, kMaybe };

// Can some value satisfy both a and b?
Tri CellsOverlap(const engine::Condition& a, const engine::Condition& b);
// Does every value that satisfies `inner` also satisfy `outer`?
Tri CellSubsumes(const engine::Condition& outer, const engine::Condition& inner);

void AnalyzeTable(const engine::TableSpec& table, Diagnostics* diags);

// The name a field is known by across tables, labeling rules and cases: a bare name and
// `labels.x` are the label "x"; `values.x` is "values.x"; other roots their canonical text.
std::string FieldKey(const engine::FieldPath& field);

// Alert label names monitoring systems send without any rule naming them (Prometheus and
// Alertmanager conventions: alertname, severity, instance, job, ...).
const std::set<std::string>& WellKnownFields();

// Probable typos in condition columns: a warning at the header cell of a column whose field
// no other table, no labeling rule, no test case (`other_uses`, as FieldKey) and no
// well-known label uses, and which is one or two edits from a field one of them does use
// (`severty` when another table or a case names `severity`). Short names are spared: the
// distance must be under half the near name's length, so `pod` is not taken for `id`.
void WarnMisspeltFields(const std::vector<engine::TableSpec>& tables,
                        const std::set<std::string>& other_uses, Diagnostics* diags);

}  // namespace reflex::rules
