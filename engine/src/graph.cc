#include "reflex/engine/graph.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/depth_first_search.hpp>

namespace reflex::engine {

namespace {

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;
using Edge = boost::graph_traits<Graph>::edge_descriptor;

// Records DFS tree parents; the first back edge closes the reported cycle.
class CycleVisitor : public boost::default_dfs_visitor {
 public:
  CycleVisitor(std::vector<Vertex>* parent, std::vector<uint32_t>* cycle)
      : parent_(parent), cycle_(cycle) {}
  void tree_edge(Edge e, const Graph& g) { (*parent_)[boost::target(e, g)] = boost::source(e, g); }
  void back_edge(Edge e, const Graph& g) {
    if (!cycle_->empty()) return;
    const Vertex u = boost::source(e, g), v = boost::target(e, g);
    // v is on the DFS stack: walk the tree from u up to v, then close the loop.
    std::vector<uint32_t> rev;
    for (Vertex x = u; x != v; x = (*parent_)[x]) rev.push_back(static_cast<uint32_t>(x));
    rev.push_back(static_cast<uint32_t>(v));
    cycle_->assign(rev.rbegin(), rev.rend());
    cycle_->push_back(static_cast<uint32_t>(v));
  }

 private:
  std::vector<Vertex>* parent_;
  std::vector<uint32_t>* cycle_;
};

}  // namespace

std::vector<uint32_t> FindCycle(size_t n, const std::vector<std::pair<uint32_t, uint32_t>>& edges) {
  Graph g(n);
  for (const auto& [u, v] : edges) {
    if (u < n && v < n) boost::add_edge(u, v, g);
  }
  std::vector<Vertex> parent(n);
  for (size_t i = 0; i < n; ++i) parent[i] = i;
  std::vector<uint32_t> cycle;
  std::vector<boost::default_color_type> color(n);
  boost::depth_first_search(g, boost::visitor(CycleVisitor(&parent, &cycle))
                                   .color_map(boost::make_iterator_property_map(
                                       color.begin(), boost::get(boost::vertex_index, g))));
  return cycle;
}

}  // namespace reflex::engine
