// Topology (CMDB) graph, the shared cycle finder and the root-cause tracker: validation with
// positions, the active-root walk (against a plain BFS over random DAGs), classification on
// a generated graph of 12,000 nodes, the incident window and the bound on open incidents.
#include "reflex/engine/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <set>

#include "reflex/engine/graph.h"

namespace reflex::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TopologyNodeSpec Node(std::string id, int line = 0) {
  TopologyNodeSpec n;
  n.id = std::move(id);
  n.where = {"topology/nodes.csv", line, 1};
  return n;
}
TopologyEdgeSpec Edge(std::string from, std::string to, int line = 0) {
  return {std::move(from),
          std::move(to),
          {"topology/edges.csv", line, 1},
          {"topology/edges.csv", line, 3}};
}

std::string AllErrors(const base::Diagnostics& d) {
  std::string s;
  for (const auto& x : d.Sorted()) s += x.ToString() + "\n";
  return s;
}

TEST(GraphTest, FindCycleReportsThePath) {
  EXPECT_TRUE(FindCycle(3, {{0, 1}, {1, 2}}).empty());
  EXPECT_THAT(FindCycle(3, {{0, 1}, {1, 2}, {2, 0}}), ElementsAre(0, 1, 2, 0));
  EXPECT_THAT(FindCycle(2, {{1, 1}}), ElementsAre(1, 1));
  // A cycle away from vertex 0, reached through a tail.
  EXPECT_THAT(FindCycle(4, {{0, 1}, {1, 2}, {2, 3}, {3, 1}}), ElementsAre(1, 2, 3, 1));
  EXPECT_TRUE(FindCycle(2, {{0, 5}}).empty());  // out-of-range edges are ignored
}

TEST(TopologyTest, BuildsAndAnswersQueries) {
  base::Diagnostics d;
  auto t = Topology::Build({Node("web"), Node("app"), Node("db")},
                           {Edge("web", "app"), Edge("app", "db")}, &d);
  ASSERT_NE(t, nullptr) << AllErrors(d);
  EXPECT_EQ(t->node_count(), 3u);
  EXPECT_EQ(t->edge_count(), 2u);
  EXPECT_EQ(t->Find("app"), 1);
  EXPECT_EQ(t->Find("nope"), -1);
  EXPECT_THAT(t->DependsOn(0), ElementsAre(1));
  EXPECT_EQ(t->node_field().text(), "labels.instance");

  Event ev;
  ASSERT_TRUE(EventParser().Parse(R"({"labels":{"instance":"web"}})", 0, &ev).ok());
  EXPECT_EQ(t->NodeOf(ev), 0);
  TopologyScratch s;
  RootPath rp = t->FindActiveRoot(
      0, [](uint32_t v) { return v == 2; }, &s);
  ASSERT_TRUE(rp.found);
  EXPECT_EQ(rp.root, 2u);
  EXPECT_EQ(t->RenderPath(rp.path), "web -> app -> db");
  // The node's own incident is not an ancestor.
  EXPECT_FALSE(t->FindActiveRoot(
                    2, [](uint32_t v) { return v == 2; }, &s)
                   .found);
}

TEST(TopologyTest, ReportsEveryProblemWithItsPosition) {
  base::Diagnostics d;
  auto t = Topology::Build({Node("a", 2), Node("b", 3), Node("a", 4), Node("", 5)},
                           {Edge("a", "ghost", 2), Edge("nobody", "b", 3), Edge("b", "b", 4)}, &d);
  EXPECT_EQ(t, nullptr);
  const std::string all = AllErrors(d);
  EXPECT_THAT(all, HasSubstr("topology/nodes.csv:4:1: error: duplicate node id 'a' (first "
                             "defined at topology/nodes.csv:2:1)"));
  EXPECT_THAT(all, HasSubstr("topology/nodes.csv:5:1: error: empty node id"));
  EXPECT_THAT(all, HasSubstr("topology/edges.csv:2:3: error: edge names unknown node 'ghost'"));
  EXPECT_THAT(all, HasSubstr("topology/edges.csv:3:1: error: edge names unknown node 'nobody'"));
  EXPECT_THAT(all, HasSubstr("topology/edges.csv:4:3: error: node 'b' depends on itself"));
}

TEST(TopologyTest, ReportsACycleWithItsPath) {
  base::Diagnostics d;
  auto t = Topology::Build(
      {Node("lb", 2), Node("web", 3), Node("app", 4), Node("db", 5)},
      {Edge("lb", "web", 2), Edge("web", "app", 3), Edge("app", "db", 4), Edge("db", "web", 5)},
      &d);
  EXPECT_EQ(t, nullptr);
  ASSERT_EQ(d.error_count(), 1u) << AllErrors(d);
  EXPECT_EQ(d.items()[0].ToString(),
            "topology/edges.csv:5:1: error: dependency cycle: web -> app -> db -> web (cell A5)");
}

TEST(TopologyTest, WalksUpToTheTopmostActiveRoot) {
  // web -> app -> db -> storage; app and storage both have incidents.
  base::Diagnostics d;
  auto t = Topology::Build({Node("web"), Node("app"), Node("db"), Node("storage")},
                           {Edge("web", "app"), Edge("app", "db"), Edge("db", "storage")}, &d);
  ASSERT_NE(t, nullptr);
  TopologyScratch s;
  RootPath rp = t->FindActiveRoot(
      0, [](uint32_t v) { return v == 1 || v == 3; }, &s);
  ASSERT_TRUE(rp.found);
  EXPECT_EQ(t->node(rp.root).id, "storage");
  EXPECT_EQ(t->RenderPath(rp.path), "web -> app -> db -> storage");
}

// Plain reachability by BFS over the edge list: the reference for the fast walk.
std::set<uint32_t> Ancestors(size_t n, const std::vector<std::pair<uint32_t, uint32_t>>& edges,
                             uint32_t v) {
  std::vector<std::vector<uint32_t>> adj(n);
  for (auto [a, b] : edges) adj[a].push_back(b);
  std::set<uint32_t> seen;
  std::deque<uint32_t> q{v};
  while (!q.empty()) {
    uint32_t u = q.front();
    q.pop_front();
    for (uint32_t w : adj[u]) {
      if (seen.insert(w).second) q.push_back(w);
    }
  }
  seen.erase(v);
  return seen;
}

TEST(TopologyPropertyTest, FastRootQueryAgreesWithPlainBfs) {
  std::mt19937 rng(20261202);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 2 + rng() % 60;
    std::vector<TopologyNodeSpec> nodes;
    for (size_t i = 0; i < n; ++i) nodes.push_back(Node("n" + std::to_string(i)));
    // A DAG: edges only from a higher index to a lower one, in a shuffled node order.
    std::vector<uint32_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    std::vector<TopologyEdgeSpec> edges;
    const size_t m = rng() % (3 * n);
    for (size_t k = 0; k < m; ++k) {
      uint32_t a = static_cast<uint32_t>(rng() % n), b = static_cast<uint32_t>(rng() % n);
      if (a == b) continue;
      if (a < b) std::swap(a, b);
      const uint32_t from = order[a], to = order[b];
      pairs.emplace_back(from, to);
      edges.push_back(Edge("n" + std::to_string(from), "n" + std::to_string(to)));
    }
    base::Diagnostics d;
    auto t = Topology::Build(nodes, edges, &d);
    ASSERT_NE(t, nullptr) << AllErrors(d);
    std::vector<uint8_t> active(n, 0);
    for (size_t i = 0; i < n; ++i) active[i] = rng() % 5 == 0;
    TopologyScratch s;
    for (uint32_t v = 0; v < n; ++v) {
      RootPath rp = t->FindActiveRoot(
          v, [&](uint32_t w) { return active[w] != 0; }, &s);
      const std::set<uint32_t> anc = Ancestors(n, pairs, v);
      bool any_active = false;
      for (uint32_t a : anc) any_active |= active[a] != 0;
      ASSERT_EQ(rp.found, any_active) << "round " << round << " node " << v;
      if (!rp.found) continue;
      ASSERT_TRUE(active[rp.root]);
      ASSERT_TRUE(anc.count(rp.root));
      // Topmost: no active node above the root.
      for (uint32_t a : Ancestors(n, pairs, rp.root)) ASSERT_FALSE(active[a]) << round;
      // The path is a chain of real edges from v to the root.
      ASSERT_GE(rp.path.size(), 2u);
      ASSERT_EQ(rp.path.front(), v);
      ASSERT_EQ(rp.path.back(), rp.root);
      for (size_t k = 0; k + 1 < rp.path.size(); ++k) {
        const std::vector<uint32_t> deps = t->DependsOn(rp.path[k]);
        ASSERT_NE(std::find(deps.begin(), deps.end(), rp.path[k + 1]), deps.end());
      }
    }
  }
}

// A layered estate: 12,000 nodes, each in layer L>0 depending on two nodes of layer L-1.
std::shared_ptr<const Topology> Layered(size_t layers, size_t width) {
  std::vector<TopologyNodeSpec> nodes;
  std::vector<TopologyEdgeSpec> edges;
  auto id = [](size_t l, size_t i) { return "l" + std::to_string(l) + "-" + std::to_string(i); };
  for (size_t l = 0; l < layers; ++l) {
    for (size_t i = 0; i < width; ++i) {
      nodes.push_back(Node(id(l, i)));
      if (l == 0) continue;
      edges.push_back(Edge(id(l, i), id(l - 1, i)));
      edges.push_back(Edge(id(l, i), id(l - 1, (i * 7 + 1) % width)));
    }
  }
  base::Diagnostics d;
  return Topology::Build(std::move(nodes), std::move(edges), &d);
}

TEST(RootCauseTrackerTest, ClassifiesSymptomsOnTwelveThousandNodes) {
  auto t = Layered(12, 1000);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->node_count(), 12000u);
  RootCauseTracker tracker(t, {.window_ms = 60000, .max_incidents = 100});
  // l0-5 fails; l1-5 depends on it directly, l11-5 through ten layers.
  EXPECT_FALSE(tracker.Observe("l0-5", false, 1000).symptom);
  EXPECT_EQ(tracker.open_incidents(), 1u);
  Symptom s = tracker.Observe("l11-5", false, 2000);
  ASSERT_TRUE(s.symptom);
  EXPECT_EQ(s.root, "l0-5");
  EXPECT_EQ(s.path.front(), "l11-5");
  EXPECT_EQ(s.path.back(), "l0-5");
  EXPECT_EQ(s.path.size(), 12u);
  EXPECT_EQ(s.root_opened_ms, 1000);
  EXPECT_EQ(s.root_expires_ms, 61000);
  EXPECT_EQ(s.symptom_count, 1u);
  EXPECT_EQ(
      SymptomToText(s),
      "symptom of l0-5 (1 symptom, incident open since 1000 ms, closes at 61000 ms): " + [&] {
        std::string p;
        for (const auto& x : s.path) p += (p.empty() ? "" : " -> ") + x;
        return p;
      }());
  EXPECT_EQ(SymptomToText(Symptom{}), "not a symptom");
  EXPECT_TRUE(tracker.Observe("l1-5", false, 2500).symptom);
  EXPECT_EQ(tracker.symptom_count("l0-5"), 2u);
  // A symptom does not open an incident of its own.
  EXPECT_EQ(tracker.open_incidents(), 1u);
  // Some but not all nodes of layer 3 depend on l0-5 (the property test checks exactness).
  size_t symptoms = 0, checked = 0;
  for (size_t i = 0; i < 1000; ++i) {
    const std::string id = "l3-" + std::to_string(i);
    Symptom x = tracker.Classify(id, 3000);
    ++checked;
    symptoms += x.symptom;
  }
  EXPECT_EQ(checked, 1000u);
  EXPECT_GT(symptoms, 0u);
  EXPECT_LT(symptoms, 1000u);
  EXPECT_FALSE(tracker.Classify("l0-6", 3000).symptom);
  EXPECT_FALSE(tracker.Classify("unknown-node", 3000).symptom);
}

TEST(RootCauseTrackerTest, IncidentsCloseOnResolvedOrAfterTheWindow) {
  auto t = Layered(3, 4);
  ASSERT_NE(t, nullptr);
  RootCauseTracker tracker(t, {.window_ms = 1000, .max_incidents = 10});
  tracker.Observe("l0-1", false, 0);
  EXPECT_TRUE(tracker.Classify("l2-1", 999).symptom);
  EXPECT_FALSE(tracker.Classify("l2-1", 1000).symptom);  // window over
  tracker.Observe("l0-1", false, 2000);                  // opens again
  EXPECT_TRUE(tracker.Classify("l2-1", 2001).symptom);
  tracker.Observe("l0-1", true, 2002);  // resolved
  EXPECT_FALSE(tracker.Classify("l2-1", 2003).symptom);
  EXPECT_EQ(tracker.open_incidents(), 0u);
  // A repeat event from the root refreshes the window.
  tracker.Observe("l0-1", false, 3000);
  tracker.Observe("l0-1", false, 3900);
  EXPECT_TRUE(tracker.Classify("l2-1", 4500).symptom);
}

TEST(RootCauseTrackerTest, OpenIncidentsStayBounded) {
  auto t = Layered(2, 500);
  ASSERT_NE(t, nullptr);
  RootCauseTracker tracker(t, {.window_ms = 1'000'000, .max_incidents = 16});
  for (int i = 0; i < 500; ++i) tracker.Open("l0-" + std::to_string(i), i);
  EXPECT_EQ(tracker.open_incidents(), 16u);
  // The newest survive; the oldest were dropped.
  EXPECT_TRUE(tracker.Classify("l1-499", 600).symptom);
  EXPECT_FALSE(tracker.Classify("l1-0", 600).symptom);
}

TEST(RootCauseTrackerTest, KeepsIncidentsAcrossATopologyReload) {
  auto t1 = Layered(2, 4);
  RootCauseTracker tracker(t1, {});
  tracker.Open("l0-2", 0);
  base::Diagnostics d;
  auto t2 = Topology::Build({Node("new"), Node("l0-2")}, {Edge("new", "l0-2")}, &d);
  ASSERT_NE(t2, nullptr);
  tracker.SetTopology(t2);
  EXPECT_EQ(tracker.open_incidents(), 1u);
  Symptom s = tracker.Classify("new", 1);
  ASSERT_TRUE(s.symptom);
  EXPECT_EQ(s.root, "l0-2");
  RootCauseTracker none(nullptr, {});
  none.Open("x", 0);
  EXPECT_FALSE(none.Observe("x", false, 1).symptom);
}

// For a changelog: an incident is reported when it opens, again when a refresh or a symptom
// comes a quarter window or more after the last report, and closed when a resolved event
// ends one that is there; another tracker takes the reports back, with or without a topology
// yet, and classifies the same symptoms.
TEST(RootCauseTrackerTest, IncidentsAreReportedAndRestoredElsewhere) {
  auto t = Layered(3, 4);
  ASSERT_NE(t, nullptr);
  RootCauseTracker a(t, {.window_ms = 1000, .max_incidents = 10});
  IncidentChange c;
  a.Observe("l0-1", false, 0, "e1", &c);
  ASSERT_EQ(c.kind, IncidentChange::Kind::kOpen);
  EXPECT_EQ(c.node, "l0-1");
  EXPECT_EQ(c.event_id, "e1");
  EXPECT_EQ(c.opened_ms, 0);
  EXPECT_EQ(c.expires_ms, 1000);
  a.Observe("l0-1", false, 100, "e2", &c);
  EXPECT_EQ(c.kind, IncidentChange::Kind::kNone) << "refreshed within a quarter window";
  a.Observe("l2-1", false, 200, "s1", &c);
  EXPECT_EQ(c.kind, IncidentChange::Kind::kNone) << "a symptom within a quarter window";
  a.Observe("l2-1", false, 260, "s2", &c);
  ASSERT_EQ(c.kind, IncidentChange::Kind::kOpen) << "a symptom a quarter window on";
  EXPECT_EQ(c.node, "l0-1");
  EXPECT_EQ(c.symptoms, 2u);
  EXPECT_EQ(c.expires_ms, 1100) << "the refresh at 100 moved the end";
  const IncidentChange reported = c;

  RootCauseTracker b(t, {.window_ms = 1000, .max_incidents = 10});
  EXPECT_FALSE(b.Restore(reported, 1100)) << "closed by now";
  EXPECT_TRUE(b.Restore(reported, 300));
  EXPECT_FALSE(b.Restore(reported, 300)) << "one incident a node";
  Symptom s = b.Classify("l2-1", 400);
  ASSERT_TRUE(s.symptom);
  EXPECT_EQ(s.root_event, "e1");
  EXPECT_EQ(s.symptom_count, 3u);
  IncidentChange unknown = reported;
  unknown.node = "no-such-node";
  EXPECT_FALSE(b.Restore(unknown, 300));

  // Before the first rule set there is no topology: held until one comes.
  RootCauseTracker later(nullptr, {.window_ms = 1000, .max_incidents = 10});
  EXPECT_TRUE(later.Restore(reported, 300));
  EXPECT_EQ(later.open_incidents(), 0u);
  later.SetTopology(t);
  EXPECT_EQ(later.open_incidents(), 1u);
  EXPECT_TRUE(later.Classify("l1-1", 400).symptom);

  a.Observe("l0-1", true, 500, "r1", &c);
  ASSERT_EQ(c.kind, IncidentChange::Kind::kClosed);
  EXPECT_EQ(c.node, "l0-1");
  a.Observe("l0-1", true, 600, "r2", &c);
  EXPECT_EQ(c.kind, IncidentChange::Kind::kNone) << "nothing open: nothing to tombstone";
}

}  // namespace
}  // namespace reflex::engine
