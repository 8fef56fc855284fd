// Root-cause classification over a topology (docs/topology.md): an estate of N configuration
// items in 10 layers, each item depending on two items of the layer below, with 10 open
// incidents in the bottom layer. Build time is measured apart from classification.
//
//   build/bench/topology_bench --benchmark_filter=Classify
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "reflex/engine/topology.h"

namespace {

using reflex::engine::RootCauseTracker;
using reflex::engine::Topology;
using reflex::engine::TopologyEdgeSpec;
using reflex::engine::TopologyNodeSpec;

constexpr size_t kLayers = 10;

std::string Id(size_t layer, size_t i) {
  return "ci-" + std::to_string(layer) + "-" + std::to_string(i);
}

void MakeEstate(size_t n, std::vector<TopologyNodeSpec>* nodes,
                std::vector<TopologyEdgeSpec>* edges) {
  const size_t width = n / kLayers;
  for (size_t l = 0; l < kLayers; ++l) {
    for (size_t i = 0; i < width; ++i) {
      nodes->push_back({Id(l, i), {{"layer", std::to_string(l)}}, {}});
      if (l == 0) continue;
      edges->push_back({Id(l, i), Id(l - 1, i), {}, {}});
      edges->push_back({Id(l, i), Id(l - 1, (i * 7 + 3) % width), {}, {}});
    }
  }
}

std::shared_ptr<const Topology> Estate(size_t n) {
  std::vector<TopologyNodeSpec> nodes;
  std::vector<TopologyEdgeSpec> edges;
  MakeEstate(n, &nodes, &edges);
  reflex::base::Diagnostics d;
  return Topology::Build(std::move(nodes), std::move(edges), &d);
}

void BM_TopologyBuild(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<TopologyNodeSpec> nodes;
  std::vector<TopologyEdgeSpec> edges;
  MakeEstate(n, &nodes, &edges);
  for (auto _ : state) {
    reflex::base::Diagnostics d;
    auto t = Topology::Build(nodes, edges, &d);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_TopologyBuild)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// Events from random items of the top half of the estate (most of them symptoms).
void BM_ClassifySymptom(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  auto topo = Estate(n);
  RootCauseTracker tracker(topo, {.window_ms = 1LL << 40, .max_incidents = 1000});
  const size_t width = n / kLayers;
  for (size_t k = 0; k < 10; ++k) tracker.Open(Id(0, k * width / 10), 0);
  std::mt19937 rng(7);
  std::vector<std::string> events;
  for (int i = 0; i < 4096; ++i)
    events.push_back(Id(kLayers / 2 + rng() % (kLayers / 2), rng() % width));
  size_t i = 0, symptoms = 0;
  for (auto _ : state) {
    auto s = tracker.Classify(events[i++ & 4095], 1);
    symptoms += s.symptom;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["symptom_share"] =
      static_cast<double>(symptoms) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ClassifySymptom)->Arg(1000)->Arg(10000)->Arg(100000);

// No incident open: the common case costs a lookup at most.
void BM_ClassifyNoIncident(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  RootCauseTracker tracker(Estate(n), {});
  const std::string id = Id(kLayers - 1, 1);
  for (auto _ : state) benchmark::DoNotOptimize(tracker.Classify(id, 1));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyNoIncident)->Arg(1000)->Arg(10000);

}  // namespace
