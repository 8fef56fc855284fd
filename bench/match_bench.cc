// Match-stage benchmarks on W1 (PERFORMANCE.md): pre-parsed events through
// CompiledRuleSet::Match at 100 .. 100k rows, the regex-column (RE2::Set) path, the linear
// ReferenceMatch for the speed-up ratio, and compile / load times apart from matching.
//
//   build/bench/match_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"
#include "w1.h"

namespace {

using reflex::engine::CompiledRuleSet;
using reflex::engine::Event;
using reflex::engine::MatchResult;
using reflex::engine::MatchScratch;
using reflex::engine::TableSpec;
using reflex::engine::Verdict;

constexpr size_t kEvents = 4096;  // cycled; enough distinct events to defeat a tiny cache

// Built once per size and kept: google-benchmark calls a function several times.
struct Fixture {
  std::vector<TableSpec> tables;
  std::shared_ptr<const CompiledRuleSet> rules;
  std::vector<Event> events;
  double known_fraction = 0;
};

// Checks the index against the linear evaluator on a sample, and measures the share of
// `known` verdicts (so a broken index cannot report a fast "unknown" for everything).
void Validate(Fixture* f, size_t sample) {
  MatchScratch scratch;
  MatchResult fast, slow;
  size_t known = 0;
  for (size_t i = 0; i < f->events.size(); ++i) {
    f->rules->Match(f->events[i], &scratch, &fast);
    if (fast.verdict == Verdict::kKnown) ++known;
    if (i < sample) {
      reflex::engine::ReferenceMatch(f->tables, f->events[i], &slow);
      if (fast.verdict != slow.verdict || fast.matches != slow.matches) {
        std::fprintf(stderr, "match_bench: index and ReferenceMatch disagree on event %zu\n", i);
        std::abort();
      }
    }
  }
  f->known_fraction = static_cast<double>(known) / static_cast<double>(f->events.size());
}

const Fixture& W1Fixture(size_t rows) {
  static std::map<size_t, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[rows];
  if (!slot) {
    slot = std::make_unique<Fixture>();
    slot->tables.push_back(w1::Table(rows));
    slot->rules = w1::Compile(slot->tables);
    slot->events = w1::Events(rows, kEvents, w1::EventSize::kSmall);
    Validate(slot.get(), 256);
  }
  return *slot;
}

const Fixture& RegexFixture(size_t rows) {
  static std::map<size_t, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[rows];
  if (!slot) {
    slot = std::make_unique<Fixture>();
    slot->tables.push_back(w1::RegexTable(rows));
    slot->rules = w1::Compile(slot->tables);
    slot->events = w1::Events(rows * 4, kEvents, w1::EventSize::kSmall);
    Validate(slot.get(), 256);
  }
  return *slot;
}

void RunMatch(benchmark::State& state, const Fixture& f) {
  MatchScratch scratch;
  MatchResult result;
  size_t i = 0;
  for (auto _ : state) {
    f.rules->Match(f.events[i], &scratch, &result);
    benchmark::DoNotOptimize(result.verdict);
    if (++i == f.events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["known"] = f.known_fraction;
}

// Indexed match, W1 table of state.range(0) rows.
void BM_Match(benchmark::State& state) {
  RunMatch(state, W1Fixture(static_cast<size_t>(state.range(0))));
}
BENCHMARK(BM_Match)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);

// One regex column (rows `/on web{i}:\d+ /` over `message`, RE2::Set) plus severity.
void BM_MatchRegex(benchmark::State& state) {
  RunMatch(state, RegexFixture(static_cast<size_t>(state.range(0))));
}
BENCHMARK(BM_MatchRegex)->Arg(1000);

// The linear reference evaluator on the same data: the ratio to BM_Match is the index gain.
void BM_ReferenceMatch(benchmark::State& state) {
  const Fixture& f = W1Fixture(static_cast<size_t>(state.range(0)));
  MatchResult result;
  size_t i = 0;
  for (auto _ : state) {
    reflex::engine::ReferenceMatch(f.tables, f.events[i], &result);
    benchmark::DoNotOptimize(result.verdict);
    if (++i == f.events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReferenceMatch)->Arg(1000)->Arg(10000);

// TableSpec -> CompiledRuleSet. items/s are rows/s; the time column is one compile.
void BM_CompileTable(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  const TableSpec table = w1::Table(rows);
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<TableSpec> tables{table};
    state.ResumeTiming();
    auto rs = CompiledRuleSet::Create(std::move(tables), {}, "w1");
    if (!rs.ok()) {
      state.SkipWithError(rs.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(rs->get());
    state.PauseTiming();
    rs = reflex::engine::Status(reflex::engine::StatusCode::kInternal, "freed");  // untimed free
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
}
BENCHMARK(BM_CompileTable)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// CSV text -> LoadRules (CSV reader, cell parser, table checks and analysis) -> Compile:
// what `reflex` does on start-up and reload, minus the disk.
void BM_LoadCsv(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  reflex::rules::MemorySource fs;
  fs.Put("rules/tables/w1.csv", w1::TableCsv(rows));
  for (auto _ : state) {
    reflex::rules::LoadedRules lr = reflex::rules::LoadRules(fs, "rules");
    reflex::rules::Diagnostics diags = lr.diags;
    auto rs = reflex::rules::Compile(std::move(lr), &diags);
    if (rs == nullptr || rs->row_count() != rows) {
      std::string why = "load failed";
      if (!diags.items().empty()) why += ": " + diags.items().front().ToString();
      state.SkipWithError(why.c_str());
      break;
    }
    benchmark::DoNotOptimize(rs.get());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
}
BENCHMARK(BM_LoadCsv)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
