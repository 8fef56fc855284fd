// Topology: the configuration items (CMDB) of the monitored estate and what depends on
// what, for root-cause suppression of symptoms.
//
// A node has an id and labels; an edge `a depends_on b` says a fails when b fails. Build()
// checks the graph (duplicate ids, edges naming unknown nodes, dependency cycles with the
// cycle's path) and reports every problem at its source position; the result is immutable
// (Boost.Graph adjacency list) and shared by readers without locks.
//
// FindActiveRoot() answers "is this node a transitive dependent of a node with an active
// incident?": it walks up the dependencies from the node with an epoch-stamped visited
// array (no per-query clearing), so the cost follows the node's ancestors, not the graph.
//
// RootCauseTracker (pure, time passed in) keeps the active incidents per node and
// classifies events as symptoms of a root.
//
// Thread-safety: a Topology is immutable and safe to share; a TopologyScratch and a
// RootCauseTracker belong to one thread at a time.
//
//   Diagnostics d;
//   auto topo = Topology::Build(std::move(nodes), std::move(edges), &d);  // nullptr on error
//   RootCauseTracker tracker(topo, {});
//   Symptom s = tracker.Observe("web-1", /*resolved=*/false, now_ms);  // s.symptom, s.root
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reflex/base/diagnostic.h"
#include "reflex/engine/event.h"
#include "reflex/engine/rule_model.h"

namespace reflex::engine {

struct TopologyNodeSpec {
  std::string id;
  std::vector<std::pair<std::string, std::string>> labels;  // column name -> value
  SourceLocation where;                                     // the id cell
};

// `from` depends on `to`: an incident at `to` explains events at `from`.
struct TopologyEdgeSpec {
  std::string from;
  std::string to;
  SourceLocation from_where;  // the cell naming `from`
  SourceLocation to_where;    // the cell naming `to`
};

struct TopologyNode {
  std::string id;
  std::vector<std::pair<std::string, std::string>> labels;
  SourceLocation where;
};

// Per-thread buffers for FindActiveRoot (allocation-free after the first queries).
struct TopologyScratch {
  std::vector<uint32_t> stamp;   // per vertex: the query epoch that visited it
  std::vector<uint32_t> parent;  // per vertex: the vertex it was reached from
  std::vector<uint32_t> queue;
  uint32_t epoch = 0;
};

struct RootPath {
  bool found = false;
  uint32_t root = 0;
  // Vertices from the queried node to the root, both included (size >= 2 when found).
  std::vector<uint32_t> path;
};

class Topology {
 public:
  // Default event field that names an event's node.
  static constexpr std::string_view kDefaultNodeField = "labels.instance";
  // Largest graph accepted (vertex indices are 32-bit; the limit keeps memory bounded).
  static constexpr size_t kMaxNodes = 1'000'000;

  // Checks and builds the graph. Every problem goes to `diags` at its position: a
  // duplicate or empty node id, an edge naming an unknown node, a node depending on itself,
  // a dependency cycle (its path, "a -> b -> c -> a", at the edge that closes it).
  // Returns nullptr when there was any error.
  static std::shared_ptr<const Topology> Build(std::vector<TopologyNodeSpec> nodes,
                                               std::vector<TopologyEdgeSpec> edges,
                                               base::Diagnostics* diags,
                                               FieldPath node_field = DefaultNodeField());
  ~Topology();

  static FieldPath DefaultNodeField();

  size_t node_count() const { return nodes_.size(); }
  size_t edge_count() const;
  const TopologyNode& node(uint32_t v) const { return nodes_[v]; }
  // The vertex of `id`, or -1.
  int64_t Find(std::string_view id) const;
  // The event field whose value names the event's node.
  const FieldPath& node_field() const { return node_field_; }
  // The node of an event (its node_field value), or -1 when absent or unknown.
  int64_t NodeOf(const Event& ev) const;
  // Direct dependencies of v (the nodes v depends on), in edge order.
  std::vector<uint32_t> DependsOn(uint32_t v) const;

  // Walks up from `v` (v itself excluded) along depends_on edges to the nearest node for
  // which `active(vertex)` is true, then on from there while an active node lies further up,
  // so the root reported is a topmost active ancestor; the path passes through the active
  // nodes met on the way. `active` must be cheap (it is called once per ancestor visited).
  template <typename ActiveFn>
  RootPath FindActiveRoot(uint32_t v, const ActiveFn& active, TopologyScratch* scratch) const;

  // "web-1 -> app-1 -> db-1" for a path of vertices.
  std::string RenderPath(const std::vector<uint32_t>& path) const;

 private:
  Topology() = default;
  // Breadth-first from `from` (excluded) for the nearest active ancestor; appends the path
  // after `from` (ending at the ancestor) to `path`. False when there is none.
  template <typename ActiveFn>
  bool NearestActive(uint32_t from, const ActiveFn& active, TopologyScratch* s,
                     std::vector<uint32_t>* path) const;
  void PrepareScratch(TopologyScratch* s) const;

  std::vector<TopologyNode> nodes_;
  std::unordered_map<std::string, uint32_t> index_;
  // Compressed adjacency (built from the Boost.Graph adjacency list after validation):
  // deps_[offsets_[v] .. offsets_[v+1]) are v's dependencies.
  std::vector<uint32_t> offsets_;
  std::vector<uint32_t> deps_;
  FieldPath node_field_;
};

// An event classified by RootCauseTracker.
struct Symptom {
  bool symptom = false;
  std::string root;               // the root node's id
  std::string root_event;         // the event that opened the root's incident ("" unknown)
  std::vector<std::string> path;  // node ids from the event's node to the root
  int64_t root_opened_ms = 0;     // when the root's incident opened
  int64_t root_expires_ms = 0;    // when it closes unless refreshed
  uint64_t symptom_count = 0;     // symptoms counted for this root so far (this one included)
};

// One line for `reflex explain` and logs: "symptom of db-1 (3 symptoms, incident open since
// 1700000000000 ms, closes at 1700000900000 ms): web-1 -> app-1 -> db-1"; "not a symptom"
// when s.symptom is false.
std::string SymptomToText(const Symptom& s);

// An incident as a changelog keeps it (RootCauseTracker::Observe reports one when it opens,
// at most every quarter window while it is refreshed or counts symptoms, and `closed` when a
// resolved event ends it), and as Restore takes it back.
struct IncidentChange {
  enum class Kind : uint8_t { kNone, kOpen, kClosed };
  Kind kind = Kind::kNone;
  std::string node;      // the node's id
  std::string event_id;  // the event that opened it
  int64_t opened_ms = 0;
  int64_t expires_ms = 0;
  uint64_t symptoms = 0;
};

struct RootCauseOptions {
  // An incident closes this long after the last event that opened or refreshed it.
  int64_t window_ms = 15 * 60 * 1000;
  // At most this many incidents are open at once; when full, the one closest to closing
  // is dropped to make room (state stays bounded under a storm of distinct nodes).
  size_t max_incidents = 10000;
};

class RootCauseTracker {
 public:
  // `topology` may be null (nothing is ever a symptom).
  RootCauseTracker(std::shared_ptr<const Topology> topology, RootCauseOptions options);

  // Replaces the topology (a rule-set reload); open incidents on nodes that still exist
  // are kept, the others dropped.
  void SetTopology(std::shared_ptr<const Topology> topology);
  const std::shared_ptr<const Topology>& topology() const { return topology_; }

  // Opens (or refreshes) an incident at `node_id`, opened by event `event_id` (a refresh
  // keeps the first event). Unknown ids are ignored.
  void Open(std::string_view node_id, int64_t now_ms, std::string_view event_id = {});
  // Closes the incident at `node_id`, if any.
  void Close(std::string_view node_id);
  // Is `node_id` a transitive dependent of a node with an open incident? Counts the symptom
  // against its root. The node's own incident does not count.
  Symptom Classify(std::string_view node_id, int64_t now_ms);
  // One event from `node_id` after its decision: a resolved event closes the node's
  // incident; otherwise the event is a symptom of an active root, or it opens (refreshes)
  // an incident at its own node.
  // `change` (optional): the incident this call opened, refreshed or closed (or whose
  // symptoms it counted), when a changelog should keep it now (see IncidentChange).
  Symptom Observe(std::string_view node_id, bool resolved, int64_t now_ms,
                  std::string_view event_id = {}, IncidentChange* change = nullptr);
  // Puts back an incident read from a changelog (kind kOpen), unless it has closed by
  // `now_ms`, its node is unknown, or the node has an incident already: false then. Without
  // a topology yet, it is held and put in place by the next SetTopology (true).
  bool Restore(const IncidentChange& incident, int64_t now_ms);

  size_t open_incidents() const { return incidents_.size(); }
  // Symptoms counted against the open incident at `node_id` (0 when none).
  uint64_t symptom_count(std::string_view node_id) const;

 private:
  struct Incident {
    int64_t opened_ms = 0;
    int64_t expires_ms = 0;
    uint64_t symptoms = 0;
    std::string event_id;     // the event that opened it
    int64_t reported_ms = 0;  // when a change last reported it
  };
  bool Active(uint32_t v, int64_t now_ms) const;
  void Evict(int64_t now_ms);
  // Fills `change` with the incident at `v` (kind kOpen) when it opened now or was last
  // reported a quarter window ago or more.
  void Report(uint32_t v, Incident& inc, bool opened, int64_t now_ms, IncidentChange* change);
  // Puts an incident at `v` unless it has one (evicting at max_incidents).
  bool Place(uint32_t v, Incident inc, int64_t now_ms);

  std::shared_ptr<const Topology> topology_;
  RootCauseOptions options_;
  std::unordered_map<uint32_t, Incident> incidents_;
  std::vector<int64_t> expires_;  // per vertex: expiry of its open incident, 0 when none
  TopologyScratch scratch_;
  std::vector<IncidentChange> pending_;  // restored before there was a topology
};

// ---- implementation of the templates ----

template <typename ActiveFn>
bool Topology::NearestActive(uint32_t from, const ActiveFn& active, TopologyScratch* s,
                             std::vector<uint32_t>* path) const {
  if (++s->epoch == 0) {  // wrapped: clear the stamps once every 2^32 queries
    std::fill(s->stamp.begin(), s->stamp.end(), 0);
    s->epoch = 1;
  }
  const uint32_t epoch = s->epoch;
  s->queue.clear();
  s->queue.push_back(from);
  s->stamp[from] = epoch;
  for (size_t head = 0; head < s->queue.size(); ++head) {
    const uint32_t u = s->queue[head];
    for (uint32_t k = offsets_[u]; k < offsets_[u + 1]; ++k) {
      const uint32_t w = deps_[k];
      if (s->stamp[w] == epoch) continue;
      s->stamp[w] = epoch;
      s->parent[w] = u;
      if (active(w)) {
        const size_t at = path->size();
        for (uint32_t x = w; x != from; x = s->parent[x]) path->push_back(x);
        std::reverse(path->begin() + static_cast<std::ptrdiff_t>(at), path->end());
        return true;
      }
      s->queue.push_back(w);
    }
  }
  return false;
}

template <typename ActiveFn>
RootPath Topology::FindActiveRoot(uint32_t v, const ActiveFn& active,
                                  TopologyScratch* scratch) const {
  RootPath out;
  if (v >= nodes_.size()) return out;
  PrepareScratch(scratch);
  out.path.push_back(v);
  uint32_t at = v;
  // Each step moves strictly up a DAG, so there are at most node_count() steps.
  for (size_t steps = 0; steps < nodes_.size(); ++steps) {
    if (!NearestActive(at, active, scratch, &out.path)) break;
    at = out.path.back();
    out.found = true;
    out.root = at;
  }
  if (!out.found) out.path.clear();
  return out;
}

}  // namespace reflex::engine
