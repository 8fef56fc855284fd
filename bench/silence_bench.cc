// Silence lookup on the hot path (engine/silence.h): SilenceSet::Silencing over 10 .. 10,000
// silences, most filed under an `alertname` value, some only regex matchers (scanned for
// every event), against events most of which no silence matches (the usual case) and a
// share that one does. Also the cost of building the set (compile time apart from lookup)
// and of Muter::Apply with an inhibition rule.
//
//   build-ci/bench/silence_bench --benchmark_filter=Silencing/1000
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "reflex/engine/mute.h"
#include "reflex/engine/silence.h"

namespace {

using namespace reflex::engine;

constexpr int64_t kNow = 1764000000000;
constexpr int64_t kHour = 3600 * 1000;
constexpr size_t kEvents = 4096;

// n silences: 90% `alertname="A<i>"` plus an instance regex; 10% regex-only
// (`instance=~"rack<i>-.*"`, unindexed). A quarter start in the future (pending).
std::vector<Silence> MakeSilences(size_t n) {
  std::vector<Silence> out;
  for (size_t i = 0; i < n; ++i) {
    Silence s;
    s.id = "s" + std::to_string(i);
    if (i % 10 == 9) {
      s.matchers = {{"instance", "rack" + std::to_string(i) + "-.*", true, true}};
    } else {
      s.matchers = {{"alertname", "A" + std::to_string(i), false, true},
                    {"instance", "db-.*", true, true}};
    }
    s.starts_at_ms = i % 4 == 3 ? kNow + kHour : kNow - kHour;
    s.ends_at_ms = kNow + 2 * kHour;
    s.created_by = "bench";
    s.comment = "bench";
    out.push_back(std::move(s));
  }
  return out;
}

// Events with alertname A0..A(2n) and instances db-* / web-*: about a fifth are silenced.
std::vector<Event> MakeEvents(size_t n) {
  std::mt19937 rng(42);
  EventParser parser;
  std::vector<Event> out(kEvents);
  for (auto& ev : out) {
    const std::string json = R"({"labels":{"alertname":"A)" + std::to_string(rng() % (2 * n)) +
                             R"(","instance":")" + (rng() % 2 ? "db-" : "web-") +
                             std::to_string(rng() % 50) +
                             R"(","severity":"warning","job":"node"}})";
    if (!parser.Parse(json, kNow, &ev).ok()) std::abort();
  }
  return out;
}

void BM_Silencing(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto set = SilenceSet::Create(MakeSilences(n));
  if (!set.ok()) std::abort();
  const std::vector<Event> events = MakeEvents(n);
  size_t i = 0, silenced = 0;
  for (auto _ : state) {
    const Silence* s = (*set)->Silencing(events[i++ % kEvents], kNow);
    silenced += s != nullptr;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["silenced_share"] =
      static_cast<double>(silenced) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Silencing)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// The same lookups by scanning every silence: what the index saves.
void BM_SilencingPlainScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<Silence> silences = MakeSilences(n);
  std::vector<std::vector<CompiledMatcher>> compiled;
  for (const auto& s : silences) compiled.push_back(*CompileMatchers(s.matchers));
  const std::vector<Event> events = MakeEvents(n);
  size_t i = 0;
  for (auto _ : state) {
    const Event& ev = events[i++ % kEvents];
    const Silence* hit = nullptr;
    for (size_t k = 0; k < silences.size() && hit == nullptr; ++k) {
      if (StateAt(silences[k], kNow) == SilenceState::kActive && MatchesAll(compiled[k], ev)) {
        hit = &silences[k];
      }
    }
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SilencingPlainScan)->Arg(100)->Arg(1000);

void BM_SilenceSetCreate(benchmark::State& state) {
  const std::vector<Silence> silences = MakeSilences(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto set = SilenceSet::Create(silences);
    benchmark::DoNotOptimize(set);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SilenceSetCreate)->Arg(1000);

// Inhibition on every event: one rule, `equal: [instance]`, sources firing on 10% of hosts.
void BM_InhibitorObserve(benchmark::State& state) {
  InhibitRule r;
  r.name = "node-down";
  r.source_matchers = {{"alertname", "A0", false, true}};
  r.target_matchers = {{"severity", "warning", false, true}};
  r.equal = {"instance"};
  const std::vector<CompiledInhibitRule> rules = {*CompileInhibitRule(r)};
  const std::vector<Event> events = MakeEvents(1000);
  Inhibitor inh;
  MuteInfo out;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(inh.Observe(rules, events[i++ % kEvents], kNow, &out));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_InhibitorObserve);

}  // namespace
