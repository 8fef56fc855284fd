// Metric samples from Kafka: payload mapping of Influx line protocol (kind influx) and of
// Prometheus JSON samples (kind prometheus_json). items_per_second is samples (mapped
// events) per second, each checked by the engine's parser as ingest does; bytes_per_second
// is payload bytes. Telegraf batches many lines into one message: the influx case maps a
// payload of range(0) lines of a cpu metric (5 tags, 8 fields); the Prometheus case maps one
// adapter message (one sample) per call.
//
//   build/bench/samples_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "reflex/connectors/mapping.h"

namespace {

using reflex::connectors::Mapping;
using reflex::connectors::MappingKind;

std::string TelegrafCpuLines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "cpu,cpu=cpu" + std::to_string(i % 8) + ",host=web-" + std::to_string(i % 50) +
            ",dc=eu-west-1,rack=r12,env=prod usage_user=" + std::to_string(10 + i % 80) +
            ".25,usage_system=3.5,usage_idle=" + std::to_string(90 - i % 80) +
            ".125,usage_iowait=0.5,usage_irq=0,usage_steal=0.01,threads=128i,online=true " +
            std::to_string(1795489200000000000LL + i * 10000000000LL) + "\n";
  }
  return text;
}

void BM_InfluxLines(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string payload = TelegrafCpuLines(n);
  const Mapping mapping = Mapping::OfKind(MappingKind::kInflux);
  std::vector<std::string> events;
  for (auto _ : state) {
    events.clear();
    if (auto s = mapping.Map(payload, &events); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BM_InfluxLines)->Arg(1)->Arg(100)->Arg(1000);

void BM_PrometheusJsonSample(benchmark::State& state) {
  // As prometheus-kafka-adapter writes one sample per message.
  const std::string sample =
      R"({"timestamp":"2026-11-24T03:12:00Z","value":"0.25","name":"node_cpu_seconds_total",)"
      R"("labels":{"__name__":"node_cpu_seconds_total","cpu":"3","instance":"web-17:9100",)"
      R"("job":"node","mode":"iowait","dc":"eu-west-1"}})";
  const Mapping mapping = Mapping::OfKind(MappingKind::kPrometheusJson);
  std::vector<std::string> events;
  for (auto _ : state) {
    events.clear();
    if (auto s = mapping.Map(sample, &events); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * sample.size()));
}
BENCHMARK(BM_PrometheusJsonSample)->Arg(1);  // one sample per message

}  // namespace
