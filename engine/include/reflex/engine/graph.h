// Directed-graph helpers shared by the topology (CMDB) and rule-chaining checks, on
// Boost.Graph: one home for "find a cycle and name its path".
//
// Vertices are 0..n-1; an edge (u, v) points from u to v. Thread-safety: pure functions.
//
//   std::vector<std::pair<uint32_t, uint32_t>> edges = {{0, 1}, {1, 2}, {2, 0}};
//   std::vector<uint32_t> cycle = FindCycle(3, edges);  // {0, 1, 2, 0}
//   if (!cycle.empty()) report(cycle);
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace reflex::engine {

// One cycle of the graph as its vertex path, first vertex repeated at the end
// ({a, b, c, a}; a self-loop is {a, a}); empty when the graph is acyclic. The search visits
// vertices in index order and edges in the order given, so the same graph always reports
// the same cycle. Edges naming a vertex >= n are ignored.
std::vector<uint32_t> FindCycle(size_t n, const std::vector<std::pair<uint32_t, uint32_t>>& edges);

}  // namespace reflex::engine
