// Reading the topology (CMDB) files of a rules directory into an engine::Topology.
//
// Layout (docs/topology.md):
//   topology/nodes.csv      required when topology/ exists: an `id` column, any other
//                           columns are the node's labels; an optional `depends_on` column
//                           lists the ids the node depends on, separated by `;`
//   topology/nodes.json     instead of nodes.csv (CMDB exports): {"nodes": [{"id": ..,
//                           "depends_on": [..], other keys are labels}], "edges": [{"node":
//                           .., "depends_on": ..}]}, or the nodes list alone
//   topology/edges.csv      optional: columns `node` and `depends_on`, one edge per row
//   topology/topology.yaml  optional: `node_field:` the event field naming an event's node
//                           (default labels.instance)
// Every problem is reported at its file:line:col (unknown nodes, duplicate ids, cycles with
// their path); a topology with an error is not built, so the rule set is refused.
// Thread-safety: pure functions over a FileSource.
//
//   Diagnostics d;
//   std::vector<std::pair<std::string, std::string>> read;
//   auto topo = LoadTopology(disk, "rules", &read, &d);  // null: none, or errors in d
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/topology.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/source.h"

namespace reflex::rules {

inline constexpr std::string_view kTopologyDir = "topology";

// Parses the CSV texts (edges_text may be empty: no edges file) and builds the graph.
// Null when there is any error (each one in `diags`).
std::shared_ptr<const engine::Topology> ReadTopologyCsv(
    std::string_view nodes_text, const std::string& nodes_file, std::string_view edges_text,
    const std::string& edges_file, engine::FieldPath node_field, Diagnostics* diags);

// Reads <dir>/topology/ when it exists; null when it does not (no error) or when it has
// errors (in `diags`). Each file read is appended to `read` as (name relative to dir,
// bytes), for the rule-set version.
std::shared_ptr<const engine::Topology> LoadTopology(
    const FileSource& fs, const std::string& dir,
    std::vector<std::pair<std::string, std::string>>* read, Diagnostics* diags);

}  // namespace reflex::rules
