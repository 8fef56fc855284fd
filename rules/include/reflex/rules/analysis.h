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

}  // namespace reflex::rules
