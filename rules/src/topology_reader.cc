#include "reflex/rules/topology_reader.h"

#include <yaml-cpp/yaml.h>

#include "reflex/base/strings.h"
#include "reflex/rules/csv.h"

namespace reflex::rules {

using engine::SourceLocation;
using engine::TopologyEdgeSpec;
using engine::TopologyNodeSpec;

namespace {

std::string Trim(std::string_view s) { return std::string(base::Trim(s)); }

// The first non-blank record is the header; -1 when there is none.
int HeaderIndex(const std::vector<CsvRecord>& recs) {
  for (size_t i = 0; i < recs.size(); ++i) {
    if (!recs[i].blank()) return static_cast<int>(i);
  }
  return -1;
}

int ColumnOf(const CsvRecord& header, std::string_view name) {
  for (size_t c = 0; c < header.cells.size(); ++c) {
    if (Trim(header.cells[c].text) == name) return static_cast<int>(c);
  }
  return -1;
}

int CellColumn(const CsvRecord& r, size_t i) {
  return i < r.cells.size() ? r.cells[i].column : static_cast<int>(i) + 1;
}

void ReadNodes(std::string_view text, const std::string& file, std::vector<TopologyNodeSpec>* out,
               std::vector<TopologyEdgeSpec>* edges, Diagnostics* diags) {
  std::vector<CsvRecord> recs = ReadCsv(text, file, diags);
  const int h = HeaderIndex(recs);
  if (h < 0) {
    diags->Error(file, 0, 0, "empty nodes file: expected a header row with an 'id' column");
    return;
  }
  const CsvRecord& header = recs[static_cast<size_t>(h)];
  const int id_col = ColumnOf(header, "id");
  if (id_col < 0) {
    diags->Error(file, header.line, 1, "no 'id' column in the header");
    return;
  }
  const int dep_col = ColumnOf(header, "depends_on");
  for (size_t r = static_cast<size_t>(h) + 1; r < recs.size(); ++r) {
    const CsvRecord& rec = recs[r];
    if (rec.blank()) continue;
    TopologyNodeSpec n;
    n.id = Trim(rec.at(static_cast<size_t>(id_col)));
    n.where = {file, rec.line, CellColumn(rec, static_cast<size_t>(id_col))};
    for (size_t c = 0; c < header.cells.size(); ++c) {
      if (static_cast<int>(c) == id_col || static_cast<int>(c) == dep_col) continue;
      const std::string name = Trim(header.cells[c].text);
      if (name.empty()) continue;
      n.labels.emplace_back(name, Trim(rec.at(c)));
    }
    if (dep_col >= 0) {
      const SourceLocation at{file, rec.line, CellColumn(rec, static_cast<size_t>(dep_col))};
      for (std::string_view part : base::Split(rec.at(static_cast<size_t>(dep_col)), ';')) {
        std::string to = Trim(part);
        if (to.empty()) continue;
        edges->push_back({n.id, std::move(to), n.where, at});
      }
    }
    out->push_back(std::move(n));
  }
}

void ReadEdges(std::string_view text, const std::string& file, std::vector<TopologyEdgeSpec>* out,
               Diagnostics* diags) {
  std::vector<CsvRecord> recs = ReadCsv(text, file, diags);
  const int h = HeaderIndex(recs);
  if (h < 0) return;  // an empty edges file: no edges
  const CsvRecord& header = recs[static_cast<size_t>(h)];
  const int from_col = ColumnOf(header, "node");
  const int to_col = ColumnOf(header, "depends_on");
  if (from_col < 0 || to_col < 0) {
    diags->Error(file, header.line, 1,
                 "the header needs the columns 'node' and 'depends_on' (node depends_on other)");
    return;
  }
  for (size_t r = static_cast<size_t>(h) + 1; r < recs.size(); ++r) {
    const CsvRecord& rec = recs[r];
    if (rec.blank()) continue;
    TopologyEdgeSpec e;
    e.from = Trim(rec.at(static_cast<size_t>(from_col)));
    e.to = Trim(rec.at(static_cast<size_t>(to_col)));
    e.from_where = {file, rec.line, CellColumn(rec, static_cast<size_t>(from_col))};
    e.to_where = {file, rec.line, CellColumn(rec, static_cast<size_t>(to_col))};
    if (e.from.empty() || e.to.empty()) {
      const SourceLocation& w = e.from.empty() ? e.from_where : e.to_where;
      diags->Error(file, w.line, w.column, "empty node id in an edge");
      continue;
    }
    out->push_back(std::move(e));
  }
}

// nodes.json: {"nodes": [{"id": .., "depends_on": [..] or "a; b", other scalars: labels}],
// "edges": [{"node": .., "depends_on": ..}]}, or the nodes list alone. Read with yaml-cpp (JSON
// is YAML's flow style) for the line and column of every value.
void ReadNodesJson(std::string_view text, const std::string& file,
                   std::vector<TopologyNodeSpec>* out, std::vector<TopologyEdgeSpec>* edges,
                   Diagnostics* diags) {
  auto at = [&](const YAML::Node& n) {
    return SourceLocation{file, n.Mark().line + 1, n.Mark().column + 1};
  };
  auto error = [&](const YAML::Node& n, const std::string& msg) {
    const SourceLocation w = at(n);
    diags->Error(file, w.line, w.column, msg);
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diags->Error(file, e.mark.line + 1, e.mark.column + 1, "JSON syntax: " + e.msg);
    return;
  }
  // Node::reset rebinds a handle; `=` would assign into the node it refers to (here the
  // root being iterated: a use after free that ASan found).
  YAML::Node nodes;
  nodes.reset(root);
  YAML::Node edge_list;
  if (root.IsMap()) {
    for (auto kv : root) {
      const std::string key = kv.first.as<std::string>("");
      if (key == "nodes") {
        nodes.reset(kv.second);
      } else if (key == "edges") {
        edge_list.reset(kv.second);
      } else {
        error(kv.first, "unknown key '" + key + "' (expected nodes, edges)");
      }
    }
    if (nodes.IsMap()) {
      diags->Error(file, 1, 1, "no 'nodes' list");
      return;
    }
  }
  if (!nodes.IsSequence()) {
    error(nodes, "expected a list of nodes, or an object with 'nodes' and 'edges'");
    return;
  }
  // One `depends_on` value: a list of ids or one string of ids separated by ';'.
  auto add_deps = [&](const std::string& from, const SourceLocation& from_at,
                      const YAML::Node& deps) {
    auto add = [&](const YAML::Node& v) {
      if (!v.IsScalar()) {
        error(v, "depends_on: expected node ids");
        return;
      }
      for (std::string_view part : base::Split(v.Scalar(), ';')) {
        std::string to = Trim(part);
        if (!to.empty()) edges->push_back({from, std::move(to), from_at, at(v)});
      }
    };
    if (deps.IsSequence()) {
      for (const auto& v : deps) add(v);
    } else if (!deps.IsNull()) {
      add(deps);
    }
  };
  for (const auto& item : nodes) {
    if (!item.IsMap()) {
      error(item, "a node must be an object with an 'id'");
      continue;
    }
    TopologyNodeSpec n;
    n.where = at(item);
    YAML::Node deps;
    bool has_id = false;
    for (auto kv : item) {
      const std::string key = kv.first.as<std::string>("");
      if (key == "depends_on") {
        deps.reset(kv.second);
      } else if (!kv.second.IsScalar()) {
        error(kv.second, "'" + key + "': expected a string or a number");
      } else if (key == "id") {
        n.id = Trim(kv.second.Scalar());
        n.where = at(kv.second);
        has_id = true;
      } else {
        n.labels.emplace_back(key, Trim(kv.second.Scalar()));
      }
    }
    if (!has_id) {
      error(item, "a node without an 'id'");
      continue;
    }
    add_deps(n.id, n.where, deps);
    out->push_back(std::move(n));
  }
  if (!edge_list || edge_list.IsNull()) return;
  if (!edge_list.IsSequence()) {
    error(edge_list, "'edges': expected a list of {node, depends_on}");
    return;
  }
  for (const auto& e : edge_list) {
    const YAML::Node from = e.IsMap() ? e["node"] : YAML::Node();
    const YAML::Node to = e.IsMap() ? e["depends_on"] : YAML::Node();
    if (!from || !to || !from.IsScalar() || Trim(from.Scalar()).empty()) {
      error(e, "an edge needs 'node' and 'depends_on'");
      continue;
    }
    add_deps(Trim(from.Scalar()), at(from), to);
  }
}

}  // namespace

std::shared_ptr<const engine::Topology> ReadTopologyCsv(
    std::string_view nodes_text, const std::string& nodes_file, std::string_view edges_text,
    const std::string& edges_file, engine::FieldPath node_field, Diagnostics* diags) {
  const size_t errors_before = diags->error_count();
  std::vector<TopologyNodeSpec> nodes;
  std::vector<TopologyEdgeSpec> edges;
  ReadNodes(nodes_text, nodes_file, &nodes, &edges, diags);
  if (!edges_file.empty()) ReadEdges(edges_text, edges_file, &edges, diags);
  // Build checks the graph even after a reading error, so one pass reports everything.
  auto topo =
      engine::Topology::Build(std::move(nodes), std::move(edges), diags, std::move(node_field));
  if (diags->error_count() > errors_before) return nullptr;
  return topo;
}

std::shared_ptr<const engine::Topology> LoadTopology(
    const FileSource& fs, const std::string& dir,
    std::vector<std::pair<std::string, std::string>>* read, Diagnostics* diags) {
  const std::string tdir = JoinPath(dir, std::string(kTopologyDir));
  if (!fs.IsDirectory(tdir)) return nullptr;
  const std::string rel = std::string(kTopologyDir) + "/";
  engine::FieldPath node_field = engine::Topology::DefaultNodeField();
  const std::string settings_path = JoinPath(tdir, "topology.yaml");
  const size_t errors_before = diags->error_count();
  if (fs.Exists(settings_path)) {
    auto text = fs.Read(settings_path);
    if (!text.ok()) {
      diags->Error(settings_path, 0, 0, text.status().message());
    } else {
      read->emplace_back(rel + "topology.yaml", *text);
      try {
        YAML::Node root = YAML::Load(*text);
        if (root && !root.IsNull()) {
          if (!root.IsMap()) {
            diags->Error(settings_path, root.Mark().line + 1, root.Mark().column + 1,
                         "expected a mapping (node_field)");
          } else {
            for (auto kv : root) {
              const std::string key = kv.first.as<std::string>("");
              const int line = kv.first.Mark().line + 1, col = kv.first.Mark().column + 1;
              if (key != "node_field") {
                diags->Error(settings_path, line, col,
                             "unknown key '" + key + "' (expected node_field)");
                continue;
              }
              auto path = engine::FieldPath::Parse(kv.second.IsScalar() ? kv.second.Scalar() : "");
              if (!path.ok()) {
                diags->Error(settings_path, kv.second.Mark().line + 1, kv.second.Mark().column + 1,
                             "bad node_field: " + path.status().message());
                continue;
              }
              node_field = *path;
            }
          }
        }
      } catch (const YAML::Exception& e) {
        diags->Error(settings_path, e.mark.line + 1, e.mark.column + 1, "YAML syntax: " + e.msg);
      }
    }
  }
  const std::string json_path = JoinPath(tdir, "nodes.json");
  const std::string csv_path = JoinPath(tdir, "nodes.csv");
  const bool json = fs.Exists(json_path);
  if (json && fs.Exists(csv_path)) {
    diags->Error(json_path, 0, 0, "both nodes.csv and nodes.json: keep one form of the nodes");
    return nullptr;
  }
  const std::string nodes_path = json ? json_path : csv_path;
  auto nodes_text = fs.Read(nodes_path);
  if (!nodes_text.ok()) {
    diags->Error(nodes_path, 0, 0,
                 "missing: a topology/ directory needs nodes.csv or nodes.json (" +
                     nodes_text.status().message() + ")");
    return nullptr;
  }
  read->emplace_back(rel + (json ? "nodes.json" : "nodes.csv"), *nodes_text);
  const std::string edges_path = JoinPath(tdir, "edges.csv");
  std::string edges_text;
  std::string edges_file;
  if (fs.Exists(edges_path)) {
    auto t = fs.Read(edges_path);
    if (!t.ok()) {
      diags->Error(edges_path, 0, 0, t.status().message());
    } else {
      read->emplace_back(rel + "edges.csv", *t);
      edges_text = std::move(*t);
      edges_file = edges_path;
    }
  }
  for (const std::string& name : fs.List(tdir)) {
    if (name != "nodes.csv" && name != "nodes.json" && name != "edges.csv" &&
        name != "topology.yaml" && name.find(".md") == std::string::npos && name[0] != '.') {
      diags->Warning(JoinPath(tdir, name), 0, 0,
                     "ignored: not nodes.csv, nodes.json, edges.csv or topology.yaml");
    }
  }
  std::shared_ptr<const engine::Topology> topo;
  if (json) {
    std::vector<TopologyNodeSpec> nodes;
    std::vector<TopologyEdgeSpec> edges;
    ReadNodesJson(*nodes_text, nodes_path, &nodes, &edges, diags);
    if (!edges_file.empty()) ReadEdges(edges_text, edges_file, &edges, diags);
    topo =
        engine::Topology::Build(std::move(nodes), std::move(edges), diags, std::move(node_field));
  } else {
    topo = ReadTopologyCsv(*nodes_text, nodes_path, edges_text, edges_file, std::move(node_field),
                           diags);
  }
  if (diags->error_count() > errors_before) return nullptr;
  return topo;
}

}  // namespace reflex::rules
