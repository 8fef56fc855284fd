// Events with many labels: parse, whole pipeline and Alertmanager mapping, from a handful of
// labels to the default cap (1000, processing.max_labels) and past it under a raised cap.
// items_per_second is events/s; `labels_per_second` (events/s x labels) stays about flat
// from 100 labels to 50,000 when building the label list is near-linear (it fell as 1/n
// when every insert scanned the labels before it).
//
// Sorted keys are the common case (generators and our own mapping write them sorted); the
// shuffled cases force the O(n log n) repeat check.
//
//   build/bench/event_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "reflex/connectors/mapping.h"
#include "reflex/engine/event.h"
#include "reflex/engine/pipeline.h"
#include "w1.h"

namespace {

using reflex::engine::Event;
using reflex::engine::EventLimits;
using reflex::engine::EventParser;
using reflex::engine::Pipeline;

constexpr int64_t kNowMs = 1795600900000;

// `n` label names "k00000".. in increasing order, or shuffled (fixed seed).
std::vector<std::string> Keys(int n, bool shuffled) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(n));
  char buf[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "k%05d", i);
    keys.emplace_back(buf);
  }
  if (shuffled) std::shuffle(keys.begin(), keys.end(), std::mt19937_64(w1::kSeed));
  return keys;
}

// {"k00000":"v",...}: short values, so 50,000 labels fit in one event of under 1 MiB.
std::string LabelObject(const std::vector<std::string>& keys) {
  std::string out = "{";
  for (const std::string& k : keys) {
    if (out.size() > 1) out += ',';
    out += "\"" + k + "\":\"v\"";
  }
  return out + "}";
}

// An event of W1 shape (alertname, severity, usage) with `n` labels in all.
std::string EventWithLabels(int n, bool shuffled) {
  std::string labels = LabelObject(Keys(n - 2, shuffled));
  labels.insert(1, R"("alertname":"Alert3","severity":"page")" + std::string(n > 2 ? "," : ""));
  return R"({"id":"e1","source":"bench","labels":)" + labels + R"(,"values":{"usage":42}})";
}

EventLimits Limits(int n) {
  EventLimits l;
  l.max_labels = std::max<size_t>(l.max_labels, static_cast<size_t>(n));
  return l;
}

void Report(benchmark::State& state, int labels, size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["labels_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * labels, benchmark::Counter::kIsRate);
}

void RunParse(benchmark::State& state, bool shuffled) {
  const int n = static_cast<int>(state.range(0));
  const std::string json = EventWithLabels(n, shuffled);
  EventParser parser(Limits(n));
  Event ev;
  for (auto _ : state) {
    if (auto s = parser.Parse(json, kNowMs, &ev); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(ev.labels.data());
  }
  if (ev.labels.size() != static_cast<size_t>(n)) state.SkipWithError("labels lost");
  Report(state, n, json.size());
}

// EventParser::Parse of one event with range(0) labels.
void BM_ParseLabels(benchmark::State& state) { RunParse(state, false); }
void BM_ParseLabelsShuffled(benchmark::State& state) { RunParse(state, true); }
BENCHMARK(BM_ParseLabels)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(50000);
BENCHMARK(BM_ParseLabelsShuffled)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(50000);

// Pipeline::Process (parse, label, match on a 100-row W1 table, decision JSON) of one event
// with range(0) labels, shuffled: the matcher looks up alertname and severity among them.
void BM_PipelineLabels(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string json = EventWithLabels(n, true);
  std::vector<reflex::engine::TableSpec> tables;
  tables.push_back(w1::Table(100));
  Pipeline p(w1::Compile(std::move(tables)), Limits(n));
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (auto s = p.Process(json, kNowMs, &out); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  if (p.result().verdict != reflex::engine::Verdict::kKnown) state.SkipWithError("not known");
  Report(state, n, json.size());
}
BENCHMARK(BM_PipelineLabels)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(50000);

// Mapping kind alertmanager of a webhook whose one alert has range(0) labels (the mapped
// event carries them twice, in labels and payload, so 30,000 is near the 1 MiB event limit).
void BM_AlertmanagerLabels(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = R"({"version":"4","status":"firing","alerts":[{"fingerprint":"f1",)"
                           R"("startsAt":"2026-11-24T03:12:00Z","labels":)" +
                           LabelObject(Keys(n, true)) + "}]}";
  const auto mapping =
      reflex::connectors::Mapping::OfKind(reflex::connectors::MappingKind::kAlertmanager);
  const EventLimits limits = Limits(n + 1);  // + status
  std::vector<std::string> events;
  for (auto _ : state) {
    events.clear();
    if (auto s = mapping.Map(body, &events, limits); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(events.data());
  }
  Report(state, n, body.size());
}
BENCHMARK(BM_AlertmanagerLabels)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(30000);

}  // namespace
