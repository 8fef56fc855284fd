// The topology/ files of a rules directory (nodes.csv, edges.csv, topology.yaml) read into a
// Topology with every problem at its file:line:col, and the rule-chaining cycle check on
// `emit` rows (a cycle with its path; conservative pruning on constant fields).
#include "reflex/rules/topology_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "diag_test_util.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::rules {
namespace {

using test_util::All;

constexpr const char* kTable =
    "table,disk\n"
    "hit_policy,first\n"
    "id,alertname,action\n"
    "disk-full,DiskFull,escalate\n";

MemorySource Dir() {
  MemorySource fs;
  fs.Put("r/tables/disk.csv", kTable);
  return fs;
}

TEST(TopologyReaderTest, ReadsNodesLabelsAndBothEdgeForms) {
  MemorySource fs = Dir();
  fs.Put("r/topology/nodes.csv",
         "id,kind,team,depends_on\n"
         "web-1,vm,web,app-1\n"
         "app-1,vm,app,db-1; cache-1\n"
         "db-1,db,dba,\n"
         "cache-1,redis,app,\n");
  fs.Put("r/topology/edges.csv", "node,depends_on\nweb-1,cache-1\n");
  fs.Put("r/topology/topology.yaml", "node_field: labels.host\n");
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  ASSERT_NE(lr.topology, nullptr);
  const engine::Topology& t = *lr.topology;
  EXPECT_EQ(t.node_count(), 4u);
  EXPECT_EQ(t.edge_count(), 4u);
  EXPECT_EQ(t.node_field().text(), "labels.host");
  const auto& web = t.node(static_cast<uint32_t>(t.Find("web-1")));
  ASSERT_EQ(web.labels.size(), 2u);
  EXPECT_EQ(web.labels[0], (std::pair<std::string, std::string>("kind", "vm")));
  EXPECT_EQ(web.where.line, 2);

  // The topology travels with the compiled set; its files are part of the version.
  const std::string version = lr.version;
  Diagnostics cd;
  auto rs = Compile(std::move(lr), &cd);
  ASSERT_NE(rs, nullptr) << All(cd);
  EXPECT_EQ(rs->topology()->node_count(), 4u);
  fs.Put("r/topology/edges.csv", "node,depends_on\n");
  EXPECT_NE(LoadRules(fs, "r").version, version);
}

// A CMDB export as JSON: nodes with labels and depends_on (a list or "a; b"), plus an edge
// list; the same graph as the CSV form, positions from the JSON text.
TEST(TopologyReaderTest, ReadsNodesJsonWithLabelsAndEdges) {
  MemorySource fs = Dir();
  fs.Put("r/topology/nodes.json",
         "{\"nodes\": [\n"
         "  {\"id\":\"web-1\",\"kind\":\"vm\",\"rack\":7,\"depends_on\":[\"app-1\"]},\n"
         "  {\"id\": \"app-1\", \"kind\": \"vm\", \"depends_on\": \"db-1; cache-1\"},\n"
         "  {\"id\": \"db-1\"},\n"
         "  {\"id\": \"cache-1\", \"depends_on\": []}\n"
         " ],\n"
         " \"edges\": [{\"node\": \"web-1\", \"depends_on\": \"cache-1\"}]}\n");
  LoadedRules lr = LoadRules(fs, "r");
  ASSERT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  ASSERT_NE(lr.topology, nullptr);
  const engine::Topology& t = *lr.topology;
  EXPECT_EQ(t.node_count(), 4u);
  EXPECT_EQ(t.edge_count(), 4u);
  const auto& web = t.node(static_cast<uint32_t>(t.Find("web-1")));
  ASSERT_EQ(web.labels.size(), 2u);
  EXPECT_EQ(web.labels[0], (std::pair<std::string, std::string>("kind", "vm")));
  EXPECT_EQ(web.labels[1], (std::pair<std::string, std::string>("rack", "7")));
  EXPECT_EQ(web.where.line, 2);
  // The JSON file is part of the rule-set version.
  const std::string version = lr.version;
  fs.Put("r/topology/nodes.json", "[{\"id\": \"web-1\"}]\n");
  LoadedRules lone = LoadRules(fs, "r");
  ASSERT_FALSE(lone.diags.has_errors()) << All(lone.diags);
  EXPECT_EQ(lone.topology->node_count(), 1u);
  EXPECT_NE(lone.version, version);
}

TEST(TopologyReaderTest, NodesJsonErrorsNameLineAndColumn) {
  MemorySource fs = Dir();
  fs.Put("r/topology/nodes.json",
         "{\"nodes\": [\n"
         "  {\"id\": \"web-1\", \"depends_on\": [\"db-9\"]},\n"
         "  {\"kind\": \"vm\"},\n"
         "  {\"id\": \"web-1\", \"tags\": {\"a\": 1}}\n"
         " ],\n"
         " \"edgez\": []}\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(lr.topology, nullptr);
  EXPECT_DIAG_AT(lr.diags, "unknown node 'db-9'", 2, 34);
  EXPECT_DIAG_AT(lr.diags, "a node without an 'id'", 3, 3);
  EXPECT_DIAG_AT(lr.diags, "'tags': expected a string or a number", 4, 27);
  EXPECT_DIAG_AT(lr.diags, "duplicate node id 'web-1'", 4, 10);
  EXPECT_DIAG_AT(lr.diags, "unknown key 'edgez'", 6, 2);

  fs.Put("r/topology/nodes.json", "{\"nodes\": [\n  {\"id\": \"a\"\n]}\n");
  EXPECT_DIAG_AT(LoadRules(fs, "r").diags, "JSON syntax", 3, 1);
  fs.Put("r/topology/nodes.csv", "id\na\n");
  EXPECT_DIAG_AT(LoadRules(fs, "r").diags, "both nodes.csv and nodes.json", 0, 0);
}

TEST(TopologyReaderTest, NoTopologyDirectoryIsNoTopology) {
  LoadedRules lr = LoadRules(Dir(), "r");
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  EXPECT_EQ(lr.topology, nullptr);
}

TEST(TopologyReaderTest, ErrorsNameFileLineAndColumn) {
  MemorySource fs = Dir();
  fs.Put("r/topology/nodes.csv",
         "kind,id\n"
         "vm,web-1\n"
         "vm,app-1\n"
         "vm,web-1\n");
  fs.Put("r/topology/edges.csv",
         "node,depends_on\n"
         "web-1,app-1\n"
         "app-1,db-9\n"
         ",app-1\n");
  fs.Put("r/topology/topology.yaml", "node_fields: host\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(lr.topology, nullptr);
  EXPECT_DIAG_AT(lr.diags, "duplicate node id 'web-1' (first defined at r/topology/nodes.csv:2:2)",
                 4, 2);
  EXPECT_DIAG_AT(lr.diags, "unknown node 'db-9'", 3, 2);
  EXPECT_DIAG_AT(lr.diags, "empty node id in an edge", 4, 1);
  EXPECT_DIAG_AT(lr.diags, "unknown key 'node_fields'", 1, 1);
  EXPECT_EQ(Compile(std::move(lr), &lr.diags), nullptr);
}

TEST(TopologyReaderTest, CycleIsALoadErrorWithItsPath) {
  MemorySource fs = Dir();
  fs.Put("r/topology/nodes.csv", "id,depends_on\nlb,web\nweb,app\napp,db\ndb,web\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_EQ(lr.topology, nullptr);
  EXPECT_DIAG_AT(lr.diags, "dependency cycle: web -> app -> db -> web", 5, 1);
}

TEST(TopologyReaderTest, MissingNodesFileAndBadHeaders) {
  MemorySource fs = Dir();
  fs.Put("r/topology/edges.csv", "from,to\na,b\n");
  LoadedRules lr = LoadRules(fs, "r");
  EXPECT_DIAG_AT(lr.diags, "a topology/ directory needs nodes.csv", 0, 0);
  fs.Put("r/topology/nodes.csv", "name\na\n");
  lr = LoadRules(fs, "r");
  EXPECT_DIAG_AT(lr.diags, "no 'id' column", 1, 1);
  EXPECT_DIAG_AT(lr.diags, "columns 'node' and 'depends_on'", 1, 1);
}

// ---- rule chaining ----

constexpr const char* kEmitCatalog =
    "actions:\n"
    "  conclude: {kind: emit, params: [name, host], event: {labels: {alertname: "
    "\"{{params.name}}\", instance: \"{{params.host}}\"}, message: \"concluded\"}}\n"
    "  remediated: {kind: emit, event: {labels: {alertname: Remediated}}}\n"
    "  fix: {kind: webhook, url: \"http://x/\"}\n";

LoadedRules LoadWith(const std::string& tables_a, const std::string& tables_b = "") {
  MemorySource fs;
  fs.Put("r/actions.yaml", kEmitCatalog);
  fs.Put("r/tables/a.csv", tables_a);
  if (!tables_b.empty()) fs.Put("r/tables/b.csv", tables_b);
  return LoadRules(fs, "r");
}

TEST(ChainingTest, ARowWhoseConclusionMatchesItselfIsACycle) {
  // Any alertname: the row's own `Remediated` conclusion matches it again.
  LoadedRules lr = LoadWith(
      "table,a\nhit_policy,first\nid,severity,action\n"
      "any-crit,,remediated\n");
  EXPECT_DIAG_AT(lr.diags, "rule chaining cycle", 4, 1);
  EXPECT_NE(All(lr.diags).find("a/any-crit (r/tables/a.csv:4, emits via 'remediated') -> "
                               "a/any-crit"),
            std::string::npos)
      << All(lr.diags);
  Diagnostics cd;
  EXPECT_EQ(Compile(std::move(lr), &cd), nullptr);
}

TEST(ChainingTest, ACycleThroughTwoTablesNamesEveryHop) {
  LoadedRules lr = LoadWith(
      "table,a\nhit_policy,first\nid,alertname,action\n"
      "disk,DiskFull,conclude(name=Remediated)\n",
      "table,b\nhit_policy,first\nid,alertname,action\n"
      "again,Remediated,conclude(name=DiskFull)\n");
  EXPECT_DIAG_AT(lr.diags, "rule chaining cycle", 4, 1);
  EXPECT_NE(All(lr.diags).find("a/disk (r/tables/a.csv:4, emits via 'conclude') -> b/again "
                               "(r/tables/b.csv:4, emits via 'conclude') -> a/disk"),
            std::string::npos)
      << All(lr.diags);
}

TEST(ChainingTest, AConstantThatFailsTheConditionBreaksTheChain) {
  // DiskFull concludes Remediated; the Remediated row concludes Closed, which nothing
  // matches: a chain, not a cycle.
  LoadedRules lr = LoadWith(
      "table,a\nhit_policy,first\nid,alertname,action\n"
      "disk,DiskFull,conclude(name=Remediated)\n"
      "done,Remediated,conclude(name=Closed)\n");
  EXPECT_FALSE(lr.diags.has_errors()) << All(lr.diags);
  // A conclusion whose name comes from the triggering event is unknown: it may loop.
  LoadedRules unknown = LoadWith(
      "table,a\nhit_policy,first\nid,alertname,action\n"
      "disk,DiskFull,conclude(name={{labels.alertname}})\n");
  EXPECT_DIAG_AT(unknown.diags, "rule chaining cycle", 4, 1);
  // Other operators prune too (a prefix the constant does not have).
  LoadedRules prefix = LoadWith(
      "table,a\nhit_policy,first\nid,alertname,action\n"
      "disk,prefix(Disk),conclude(name=Remediated)\n");
  EXPECT_FALSE(prefix.diags.has_errors()) << All(prefix.diags);
  // Rows that run no emit action never chain.
  LoadedRules plain = LoadWith(
      "table,a\nhit_policy,first\nid,alertname,action\n"
      "disk,,fix\n");
  EXPECT_FALSE(plain.diags.has_errors()) << All(plain.diags);
}

TEST(ChainingTest, LabelsTheLabelingRulesSetAreUnknown) {
  MemorySource fs;
  fs.Put("r/actions.yaml", kEmitCatalog);
  // Without labeling.yaml this row's Remediated conclusion fails its DiskFull condition
  // (AConstantThatFailsTheConditionBreaksTheChain); here extraction may rewrite alertname.
  fs.Put("r/labeling.yaml",
         "extract:\n  - name: e\n    from: message\n    pattern: 'in (?P<alertname>\\w+)'\n");
  fs.Put("r/tables/a.csv",
         "table,a\nhit_policy,first\nid,alertname,action\n"
         "r1,DiskFull,conclude(name=Remediated)\n");
  LoadedRules lr = LoadRules(fs, "r");
  // Conservatively a cycle.
  EXPECT_DIAG_AT(lr.diags, "rule chaining cycle", 4, 1);
}

}  // namespace
}  // namespace reflex::rules
