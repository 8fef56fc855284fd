// Whole in-process pipeline on W1 (PERFORMANCE.md): Pipeline::Process = JSON parse ->
// labeling -> match -> decision JSON, on ~220-byte and ~500-byte events with 10k rows, and
// the same with 10k regex extraction patterns over the ~200-byte message of the large events.
//
//   build/bench/pipeline_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "reflex/connectors/recent_decisions.h"
#include "reflex/engine/pipeline.h"
#include "w1.h"

namespace {

using reflex::engine::CompiledRuleSet;
using reflex::engine::Pipeline;
using reflex::engine::Verdict;

constexpr size_t kEvents = 4096;
constexpr int64_t kNowMs = 1795600900000;

struct Fixture {
  std::shared_ptr<const CompiledRuleSet> rules;
  std::vector<std::string> lines;
  double known_fraction = 0;
  double labeled_fraction = 0;  // events the extraction rules added a label to
};

// rows W1 rows; `patterns` extraction rules on message (0 = no labeling).
const Fixture& GetFixture(size_t rows, w1::EventSize size, size_t patterns) {
  static std::map<std::tuple<size_t, int, size_t>, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[{rows, static_cast<int>(size), patterns}];
  if (!slot) {
    slot = std::make_unique<Fixture>();
    std::vector<reflex::engine::TableSpec> tables;
    tables.push_back(w1::Table(rows));
    slot->rules = w1::Compile(std::move(tables), patterns > 0 ? w1::RegexLabeling(patterns)
                                                              : reflex::engine::LabelingSpec{});
    slot->lines = w1::EventJson(rows, kEvents, size);
    // Sanity pass: every event parses; count verdicts and extracted labels.
    Pipeline p(slot->rules);
    size_t known = 0, labeled = 0;
    for (const auto& line : slot->lines) {
      if (auto s = p.Process(line, kNowMs, nullptr); !s.ok()) {
        std::fprintf(stderr, "pipeline_bench: %s\n", s.ToString().c_str());
        std::abort();
      }
      if (p.result().verdict == Verdict::kKnown) ++known;
      if (p.event().Label("module") != nullptr) ++labeled;
    }
    slot->known_fraction = static_cast<double>(known) / kEvents;
    slot->labeled_fraction = static_cast<double>(labeled) / kEvents;
  }
  return *slot;
}

// `recent`: also keep each decision as the run mode does for GET /api/v1/decisions.
void RunPipeline(benchmark::State& state, const Fixture& f,
                 reflex::connectors::RecentDecisions* recent = nullptr) {
  Pipeline p(f.rules);
  std::string out;
  out.reserve(4096);
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    const std::string& line = f.lines[i];
    if (auto s = p.Process(line, kNowMs, &out); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    if (recent != nullptr) recent->Record("w1", *f.rules, p.event(), p.result(), kNowMs);
    benchmark::DoNotOptimize(out.data());
    bytes += static_cast<int64_t>(line.size());
    if (++i == f.lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["event_bytes"] = w1::AverageBytes(f.lines);
  state.counters["known"] = f.known_fraction;
  state.counters["labeled"] = f.labeled_fraction;
}

// W1 table of range(0) rows; ~220-byte events.
void BM_Pipeline220B(benchmark::State& state) {
  RunPipeline(state, GetFixture(static_cast<size_t>(state.range(0)), w1::EventSize::kSmall, 0));
}
BENCHMARK(BM_Pipeline220B)->Arg(100)->Arg(10000);

// The same with the run mode's recent decisions kept (http.recent_decisions: 1000): the
// cost of the window GET /api/v1/decisions serves, per event.
void BM_Pipeline220BRecentDecisions(benchmark::State& state) {
  reflex::connectors::RecentDecisions recent(1000);
  RunPipeline(state, GetFixture(static_cast<size_t>(state.range(0)), w1::EventSize::kSmall, 0),
              &recent);
}
BENCHMARK(BM_Pipeline220BRecentDecisions)->Arg(10000);

// W1 table of range(0) rows; ~500-byte events.
void BM_Pipeline500B(benchmark::State& state) {
  RunPipeline(state, GetFixture(static_cast<size_t>(state.range(0)), w1::EventSize::kLarge, 0));
}
BENCHMARK(BM_Pipeline500B)->Arg(100)->Arg(10000);

// W1 table of range(0) rows, ~500-byte events, range(1) extraction patterns on the ~200-byte
// message (one RE2::Set pass, then the one pattern that hits runs with captures).
void BM_PipelineRegexLabeling(benchmark::State& state) {
  RunPipeline(state, GetFixture(static_cast<size_t>(state.range(0)), w1::EventSize::kLarge,
                                static_cast<size_t>(state.range(1))));
}
BENCHMARK(BM_PipelineRegexLabeling)->Args({100, 100})->Args({10000, 10000});

}  // namespace
