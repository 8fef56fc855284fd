// Rule chaining: rows whose actions `emit` conclusion events that re-enter the pipeline.
// A conclusion that can match its own row, directly or through other rows, would loop
// forever; CheckChainingCycles() finds such a cycle at load time and reports it with its
// path, so `reflex check` fails and a run-mode reload refuses the set.
//
// The graph (Boost.Graph, engine/graph.h) has a vertex per row that runs an `emit` action
// and an edge from row R to row S when the event R emits could match S. The emitted event's
// shape is the catalog's `event:` mapping with the row's literal parameters substituted
// (`{{params.host}}` with `host=db-1`); a string that still depends on the triggering event
// is unknown and may take any value. The check is conservative: an edge is left out only
// when a condition of S is on a field the emitted event sets to a constant that fails the
// condition (labels the labeling rules may overwrite count as unknown).
// Thread-safety: a pure function.
//
//   Diagnostics d;
//   CheckChainingCycles(lr.tables, lr.context, labeling_outputs, &d);
//   // tables/a.csv:3:1: error: rule chaining cycle: a/r1 -> b/r2 -> a/r1 (...)
#pragma once

#include <set>
#include <string>
#include <vector>

#include "reflex/engine/rule_model.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/table_reader.h"

namespace reflex::rules {

// `overwritten` holds the FieldKey names (analysis.h) the labeling rules may set on an
// event; conditions on them never prune an edge. Reports at most one cycle (at the first
// row of the cycle's path); returns true when there is none.
bool CheckChainingCycles(const std::vector<engine::TableSpec>& tables, const TableContext& ctx,
                         const std::set<std::string>& overwritten, Diagnostics* diags);

}  // namespace reflex::rules
