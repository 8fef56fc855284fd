#include "reflex/engine/topology.h"

#include <boost/graph/adjacency_list.hpp>

#include "reflex/engine/graph.h"

namespace reflex::engine {

namespace {

std::string At(const SourceLocation& w) {
  return w.file + ":" + std::to_string(w.line) + ":" + std::to_string(w.column);
}

}  // namespace

FieldPath Topology::DefaultNodeField() { return *FieldPath::Parse(kDefaultNodeField); }

Topology::~Topology() = default;

std::shared_ptr<const Topology> Topology::Build(std::vector<TopologyNodeSpec> nodes,
                                                std::vector<TopologyEdgeSpec> edges,
                                                base::Diagnostics* diags, FieldPath node_field) {
  const size_t errors_before = diags->error_count();
  std::shared_ptr<Topology> t(new Topology());
  t->node_field_ = std::move(node_field);
  if (nodes.size() > kMaxNodes) {
    const SourceLocation& w = nodes[kMaxNodes].where;
    diags->Error(w.file, w.line, w.column,
                 "topology has " + std::to_string(nodes.size()) + " nodes; the limit is " +
                     std::to_string(kMaxNodes));
    return nullptr;
  }
  for (TopologyNodeSpec& n : nodes) {
    if (n.id.empty()) {
      diags->Error(n.where.file, n.where.line, n.where.column, "empty node id");
      continue;
    }
    auto [it, fresh] = t->index_.emplace(n.id, static_cast<uint32_t>(t->nodes_.size()));
    if (!fresh) {
      diags->Error(n.where.file, n.where.line, n.where.column,
                   "duplicate node id '" + n.id + "' (first defined at " +
                       At(t->nodes_[it->second].where) + ")");
      continue;
    }
    t->nodes_.push_back({std::move(n.id), std::move(n.labels), n.where});
  }
  // The graph as Boost.Graph holds it: vertex per node, edge dependent -> dependency.
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  Graph g(t->nodes_.size());
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  std::vector<size_t> pair_edge;  // index into `edges` of each pair
  for (size_t i = 0; i < edges.size(); ++i) {
    const TopologyEdgeSpec& e = edges[i];
    const int64_t from = t->Find(e.from), to = t->Find(e.to);
    bool ok = true;
    if (from < 0) {
      diags->Error(e.from_where.file, e.from_where.line, e.from_where.column,
                   "edge names unknown node '" + e.from + "'");
      ok = false;
    }
    if (to < 0) {
      diags->Error(e.to_where.file, e.to_where.line, e.to_where.column,
                   "edge names unknown node '" + e.to + "'");
      ok = false;
    }
    if (!ok) continue;
    if (from == to) {
      diags->Error(e.to_where.file, e.to_where.line, e.to_where.column,
                   "node '" + e.from + "' depends on itself");
      continue;
    }
    pairs.emplace_back(static_cast<uint32_t>(from), static_cast<uint32_t>(to));
    pair_edge.push_back(i);
    boost::add_edge(static_cast<size_t>(from), static_cast<size_t>(to), g);
  }
  if (std::vector<uint32_t> cycle = FindCycle(t->nodes_.size(), pairs); !cycle.empty()) {
    // Report at the edge that closes the cycle (its last hop).
    const uint32_t a = cycle[cycle.size() - 2], b = cycle.back();
    SourceLocation where;
    for (size_t k = 0; k < pairs.size(); ++k) {
      if (pairs[k].first == a && pairs[k].second == b) {
        where = edges[pair_edge[k]].from_where;
        break;
      }
    }
    std::vector<uint32_t> path(cycle.begin(), cycle.end());
    diags->Error(where.file, where.line, where.column, "dependency cycle: " + t->RenderPath(path));
  }
  if (diags->error_count() > errors_before) return nullptr;
  // Compress the adjacency for the query's hot loop.
  const size_t n = t->nodes_.size();
  t->offsets_.assign(n + 1, 0);
  t->deps_.reserve(boost::num_edges(g));
  for (size_t v = 0; v < n; ++v) {
    t->offsets_[v] = static_cast<uint32_t>(t->deps_.size());
    for (auto [it, end] = boost::adjacent_vertices(v, g); it != end; ++it) {
      t->deps_.push_back(static_cast<uint32_t>(*it));
    }
  }
  t->offsets_[n] = static_cast<uint32_t>(t->deps_.size());
  return t;
}

size_t Topology::edge_count() const { return deps_.size(); }

int64_t Topology::Find(std::string_view id) const {
  auto it = index_.find(std::string(id));
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

int64_t Topology::NodeOf(const Event& ev) const {
  FieldValue v = ev.Get(node_field_);
  if (v.missing()) return -1;
  return Find(v.text());
}

std::vector<uint32_t> Topology::DependsOn(uint32_t v) const {
  if (v >= nodes_.size()) return {};
  return std::vector<uint32_t>(deps_.begin() + offsets_[v], deps_.begin() + offsets_[v + 1]);
}

std::string Topology::RenderPath(const std::vector<uint32_t>& path) const {
  std::string out;
  for (uint32_t v : path) {
    if (!out.empty()) out += " -> ";
    out += v < nodes_.size() ? nodes_[v].id : "?";
  }
  return out;
}

void Topology::PrepareScratch(TopologyScratch* s) const {
  if (s->stamp.size() != nodes_.size()) {
    s->stamp.assign(nodes_.size(), 0);
    s->parent.assign(nodes_.size(), 0);
    s->epoch = 0;
  }
}

std::string SymptomToText(const Symptom& s) {
  if (!s.symptom) return "not a symptom";
  std::string out = "symptom of " + s.root + " (" + std::to_string(s.symptom_count) +
                    (s.symptom_count == 1 ? " symptom" : " symptoms") + ", incident open since " +
                    std::to_string(s.root_opened_ms) + " ms, closes at " +
                    std::to_string(s.root_expires_ms) + " ms): ";
  for (size_t i = 0; i < s.path.size(); ++i) {
    if (i > 0) out += " -> ";
    out += s.path[i];
  }
  return out;
}

// ---- RootCauseTracker ----

RootCauseTracker::RootCauseTracker(std::shared_ptr<const Topology> topology,
                                   RootCauseOptions options)
    : options_(options) {
  if (options_.max_incidents == 0) options_.max_incidents = 1;
  SetTopology(std::move(topology));
}

void RootCauseTracker::SetTopology(std::shared_ptr<const Topology> topology) {
  std::unordered_map<uint32_t, Incident> kept;
  std::vector<int64_t> expires(topology ? topology->node_count() : 0, 0);
  if (topology_ && topology) {
    for (const auto& [v, inc] : incidents_) {
      const int64_t nv = topology->Find(topology_->node(v).id);
      if (nv < 0) continue;
      kept.emplace(static_cast<uint32_t>(nv), inc);
      expires[static_cast<size_t>(nv)] = inc.expires_ms;
    }
  }
  topology_ = std::move(topology);
  incidents_ = std::move(kept);
  expires_ = std::move(expires);
  scratch_ = TopologyScratch();
  // Incidents read back before there was a topology to place them on.
  std::vector<IncidentChange> pending;
  pending.swap(pending_);
  for (const IncidentChange& p : pending) Restore(p, /*now_ms=*/0);
}

bool RootCauseTracker::Place(uint32_t v, Incident inc, int64_t now_ms) {
  if (incidents_.count(v) > 0) return false;
  if (incidents_.size() >= options_.max_incidents) Evict(now_ms);
  expires_[v] = inc.expires_ms;
  incidents_.emplace(v, std::move(inc));
  return true;
}

bool RootCauseTracker::Restore(const IncidentChange& incident, int64_t now_ms) {
  if (incident.kind != IncidentChange::Kind::kOpen || incident.expires_ms <= now_ms) return false;
  if (!topology_) {
    if (pending_.size() >= options_.max_incidents) return false;
    pending_.push_back(incident);
    return true;
  }
  const int64_t v = topology_->Find(incident.node);
  if (v < 0) return false;
  return Place(static_cast<uint32_t>(v),
               Incident{incident.opened_ms, incident.expires_ms, incident.symptoms,
                        incident.event_id, incident.opened_ms},
               now_ms);
}

void RootCauseTracker::Report(uint32_t v, Incident& inc, bool opened, int64_t now_ms,
                              IncidentChange* change) {
  if (change == nullptr) return;
  if (!opened && now_ms - inc.reported_ms < options_.window_ms / 4) return;
  inc.reported_ms = now_ms;
  change->kind = IncidentChange::Kind::kOpen;
  change->node = topology_->node(v).id;
  change->event_id = inc.event_id;
  change->opened_ms = inc.opened_ms;
  change->expires_ms = inc.expires_ms;
  change->symptoms = inc.symptoms;
}

bool RootCauseTracker::Active(uint32_t v, int64_t now_ms) const { return expires_[v] > now_ms; }

void RootCauseTracker::Evict(int64_t now_ms) {
  for (auto it = incidents_.begin(); it != incidents_.end();) {
    if (it->second.expires_ms <= now_ms) {
      expires_[it->first] = 0;
      it = incidents_.erase(it);
    } else {
      ++it;
    }
  }
  if (incidents_.size() < options_.max_incidents) return;
  auto victim = incidents_.begin();
  for (auto it = incidents_.begin(); it != incidents_.end(); ++it) {
    if (it->second.expires_ms < victim->second.expires_ms ||
        (it->second.expires_ms == victim->second.expires_ms && it->first < victim->first)) {
      victim = it;
    }
  }
  expires_[victim->first] = 0;
  incidents_.erase(victim);
}

void RootCauseTracker::Open(std::string_view node_id, int64_t now_ms, std::string_view event_id) {
  if (!topology_) return;
  const int64_t v = topology_->Find(node_id);
  if (v < 0) return;
  const auto u = static_cast<uint32_t>(v);
  auto it = incidents_.find(u);
  if (it == incidents_.end() || it->second.expires_ms <= now_ms) {
    if (it != incidents_.end()) incidents_.erase(it);
    if (incidents_.size() >= options_.max_incidents) Evict(now_ms);
    it = incidents_.emplace(u, Incident{now_ms, 0, 0, std::string(event_id), now_ms}).first;
  }
  it->second.expires_ms = now_ms + options_.window_ms;
  expires_[u] = it->second.expires_ms;
}

void RootCauseTracker::Close(std::string_view node_id) {
  if (!topology_) return;
  const int64_t v = topology_->Find(node_id);
  if (v < 0) return;
  incidents_.erase(static_cast<uint32_t>(v));
  expires_[static_cast<size_t>(v)] = 0;
}

Symptom RootCauseTracker::Classify(std::string_view node_id, int64_t now_ms) {
  Symptom out;
  if (!topology_ || incidents_.empty()) return out;
  const int64_t v = topology_->Find(node_id);
  if (v < 0) return out;
  RootPath rp = topology_->FindActiveRoot(
      static_cast<uint32_t>(v), [&](uint32_t w) { return Active(w, now_ms); }, &scratch_);
  if (!rp.found) return out;
  Incident& inc = incidents_[rp.root];
  ++inc.symptoms;
  out.symptom = true;
  out.root = topology_->node(rp.root).id;
  out.root_event = inc.event_id;
  out.path.reserve(rp.path.size());
  for (uint32_t x : rp.path) out.path.push_back(topology_->node(x).id);
  out.root_opened_ms = inc.opened_ms;
  out.root_expires_ms = inc.expires_ms;
  out.symptom_count = inc.symptoms;
  return out;
}

Symptom RootCauseTracker::Observe(std::string_view node_id, bool resolved, int64_t now_ms,
                                  std::string_view event_id, IncidentChange* change) {
  if (change != nullptr) change->kind = IncidentChange::Kind::kNone;
  if (resolved) {
    // Only an incident that is there is closed (and tombstoned in a changelog).
    if (change != nullptr && topology_) {
      const int64_t v = topology_->Find(node_id);
      if (v >= 0 && incidents_.count(static_cast<uint32_t>(v)) > 0) {
        change->kind = IncidentChange::Kind::kClosed;
        change->node = std::string(node_id);
      }
    }
    Close(node_id);
    return {};
  }
  Symptom s = Classify(node_id, now_ms);
  if (!topology_) return s;
  if (s.symptom) {
    const int64_t root = topology_->Find(s.root);
    if (root >= 0) {
      auto it = incidents_.find(static_cast<uint32_t>(root));
      if (it != incidents_.end()) {
        Report(it->first, it->second, /*opened=*/false, now_ms, change);
      }
    }
    return s;
  }
  const int64_t v = topology_->Find(node_id);
  if (v < 0) return s;
  const auto u = static_cast<uint32_t>(v);
  auto before = incidents_.find(u);
  const bool opened = before == incidents_.end() || before->second.expires_ms <= now_ms;
  Open(node_id, now_ms, event_id);
  auto it = incidents_.find(u);
  if (it != incidents_.end()) Report(u, it->second, opened, now_ms, change);
  return s;
}

uint64_t RootCauseTracker::symptom_count(std::string_view node_id) const {
  if (!topology_) return 0;
  const int64_t v = topology_->Find(node_id);
  if (v < 0) return 0;
  auto it = incidents_.find(static_cast<uint32_t>(v));
  return it == incidents_.end() ? 0 : it->second.symptoms;
}

}  // namespace reflex::engine
