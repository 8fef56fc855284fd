// Correlation engine benchmarks (PERFORMANCE.md: count windows and all-of patterns with 1M
// active keys, >= 1M events/s, <= 200 bytes per key; absence with 1M armed timers).
//
// Each benchmark first fills the Correlator with `keys` groups (one held event or armed
// timer each; the count window 1 to 4 events, or 4 each), measures the heap that took (glibc
// mallinfo2: bytes per key, everything the Correlator allocated), then times events spread
// round-robin over the keys. Counters:
//   items_per_second   events observed (or timers fired) per second
//   bytes_per_key      heap growth of the fill divided by the keys (real allocations,
//                      including the slack of grown vectors)
//   state_bytes_per_key  Correlator::MemoryBytes() / keys (its own accounting)
// Run a release build:
//   build/bench/correlation_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "reflex/engine/correlation.h"
#include "reflex/engine/event.h"
#include "reflex/engine/pattern_stage.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"

namespace reflex::engine {
namespace {

FieldPath P(const char* s) { return *FieldPath::Parse(s); }

PatternMember Member(const std::string& alertname) {
  PatternMember m;
  m.name = alertname;
  m.when.emplace_back(P("alertname"), Condition::Equals(alertname));
  return m;
}

PatternSpec Base(PatternKind kind, int64_t within_ms) {
  PatternSpec s;
  s.name = "bench";
  s.kind = kind;
  s.within_ms = within_ms;
  s.group_by = {P("labels.instance")};
  s.lateness_ms = 60000;
  s.max_keys = 2000000;
  return s;
}

// Instance names like a Prometheus target ("10.1.2.3:9100") and event ids like a derived
// id ("h-" + 16 hex digits).
std::vector<std::string> Instances(int64_t n) {
  std::vector<std::string> v;
  v.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    v.push_back("10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) +
                "." + std::to_string(i & 255) + ":9100");
  }
  return v;
}

struct Stream {
  Event ev;
  char id[19] = "h-0000000000000000";
  explicit Stream(const std::string& alertname) {
    ev.labels = {{"alertname", alertname}, {"instance", ""}, {"severity", "critical"}};
  }
  void Set(const std::string& alertname, const std::string& instance, uint64_t n) {
    static const char* kHex = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) id[2 + i] = kHex[(n >> (60 - 4 * i)) & 15];
    ev.id.assign(id, 18);
    ev.labels[0].second = alertname;
    ev.labels[1].second = instance;
  }
};

// Heap in use: small blocks plus mmap'ed large ones (big vectors).
size_t HeapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void Report(benchmark::State& state, const Correlator& c, size_t heap_delta, int64_t keys) {
  state.counters["bytes_per_key"] = static_cast<double>(heap_delta) / static_cast<double>(keys);
  state.counters["state_bytes_per_key"] =
      static_cast<double>(c.MemoryBytes()) / static_cast<double>(keys);
  state.counters["keys_at_end"] = static_cast<double>(c.stats(0).keys);
}

// count >= 5 within 10 minutes per instance; every fifth event of a key matches and the key
// starts again. range(1) = 0: the fill leaves the keys holding 1, 2, 3 and 4 events in turn
// (2.5 on average: the steady state of traffic spread over the keys), and the timed events,
// round-robin, keep that mix; range(1) = 1: every key holds 4 events, the most a key of this
// pattern holds (the worst case of bytes per key).
void BM_CountWindow(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const bool full = state.range(1) != 0;
  const std::vector<std::string> inst = Instances(keys);
  const size_t heap0 = HeapInUse();
  PatternSpec s = Base(PatternKind::kCount, 600000);
  s.members = {Member("OOMKill")};
  s.count = 5;
  auto c = std::move(*Correlator::Create({s}));
  std::vector<PatternOutput> out;
  Stream st("OOMKill");
  uint64_t n = 0;
  int64_t t = 1700000000000;
  for (int64_t round = 0; round < 4; ++round) {
    for (int64_t k = 0; k < keys; ++k) {
      if (!full && k % 4 < round) continue;
      st.Set("OOMKill", inst[static_cast<size_t>(k)], n++);
      c->Observe(st.ev, t, &out);
    }
  }
  const size_t heap_delta = HeapInUse() - heap0;
  size_t k = 0;
  for (auto _ : state) {
    st.Set("OOMKill", inst[k], n++);
    c->Observe(st.ev, t + static_cast<int64_t>(n / 100), &out);  // 10 µs of event time each
    if (++k == inst.size()) k = 0;
    if (out.size() > 4096) out.clear();
  }
  state.SetItemsProcessed(state.iterations());
  Report(state, *c, heap_delta, keys);
}
BENCHMARK(BM_CountWindow)
    ->Args({1000, 0})
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Unit(benchmark::kNanosecond);

// all_of {disk, backup, raid} within 10 minutes: keys hold one or two members; every third
// event of a key completes it.
void BM_AllOf(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const std::vector<std::string> inst = Instances(keys);
  const std::vector<std::string> names = {"Disk", "Backup", "Raid"};
  const size_t heap0 = HeapInUse();
  PatternSpec s = Base(PatternKind::kAllOf, 600000);
  s.members = {Member("Disk"), Member("Backup"), Member("Raid")};
  auto c = std::move(*Correlator::Create({s}));
  std::vector<PatternOutput> out;
  Stream st("Disk");
  uint64_t n = 0;
  int64_t t = 1700000000000;
  for (int64_t k = 0; k < keys; ++k) {
    st.Set("Disk", inst[static_cast<size_t>(k)], n++);
    c->Observe(st.ev, t, &out);
  }
  const size_t heap_delta = HeapInUse() - heap0;
  size_t k = 0, round = 1;
  for (auto _ : state) {
    st.Set(names[round % 3], inst[k], n++);
    c->Observe(st.ev, t + static_cast<int64_t>(n / 100), &out);
    if (++k == inst.size()) {
      k = 0;
      ++round;
    }
    if (out.size() > 4096) out.clear();
  }
  state.SetItemsProcessed(state.iterations());
  Report(state, *c, heap_delta, keys);
}
BENCHMARK(BM_AllOf)->Arg(1000)->Arg(1000000)->Unit(benchmark::kNanosecond);

// absence: BackupStarted not followed by BackupFinished within 2 h, `keys` timers armed.
// Each iteration observes two events of one key: finished (its timer is cancelled) and
// started again (armed again), so `keys` timers stay armed; Advance runs every 1024
// iterations with nothing due. items = events.
void BM_AbsenceArmed(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const std::vector<std::string> inst = Instances(keys);
  const size_t heap0 = HeapInUse();
  PatternSpec s = Base(PatternKind::kAbsence, 7200000);
  s.members = {Member("BackupStarted"), Member("BackupFinished")};
  auto c = std::move(*Correlator::Create({s}));
  std::vector<PatternOutput> out;
  Stream st("BackupStarted");
  uint64_t n = 0;
  const int64_t t = 1700000000000;
  for (int64_t k = 0; k < keys; ++k) {
    st.Set("BackupStarted", inst[static_cast<size_t>(k)], n++);
    c->Observe(st.ev, t, &out);
  }
  const size_t heap_delta = HeapInUse() - heap0;
  size_t k = 0;
  for (auto _ : state) {
    const int64_t now = t + static_cast<int64_t>(n / 100);
    st.Set("BackupFinished", inst[k], n++);
    c->Observe(st.ev, now, &out);
    st.Set("BackupStarted", inst[k], n++);
    c->Observe(st.ev, now, &out);
    if ((n & 2047) == 0) c->Advance(now, &out);
    if (++k == inst.size()) k = 0;
  }
  state.SetItemsProcessed(2 * state.iterations());
  Report(state, *c, heap_delta, keys);
}
BENCHMARK(BM_AbsenceArmed)->Arg(1000)->Arg(1000000)->Unit(benchmark::kNanosecond);

// `keys` absence timers armed with spread deadlines, then one Advance fires them all.
// items = timers fired.
void BM_AbsenceFire(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const std::vector<std::string> inst = Instances(keys);
  PatternSpec s = Base(PatternKind::kAbsence, 7200000);
  s.members = {Member("BackupStarted"), Member("BackupFinished")};
  Stream st("BackupStarted");
  std::vector<PatternOutput> out;
  out.reserve(static_cast<size_t>(keys));
  uint64_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto c = std::move(*Correlator::Create({s}));
    out.clear();
    for (int64_t k = 0; k < keys; ++k) {
      st.Set("BackupStarted", inst[static_cast<size_t>(k)], static_cast<uint64_t>(k));
      c->Observe(st.ev, 1700000000000 + (k * 7919) % 3600000, &out);
    }
    state.ResumeTiming();
    c->Advance(1700000000000 + 7200000 + 3600001, &out);
    fired += out.size();
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(fired));
}
BENCHMARK(BM_AbsenceFire)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMillisecond);

// The changelog's cost (docs/patterns.md, "State across restarts"): a count >= 5 pattern
// through a PatternStage, its state tracked and taken as changelog records (JSON) after every
// batch of 2,000 events, as `reflex run` does with kafka.changelog_topic, against the same
// without. Arg: groups; second arg: 1 = changelog. Counter records_per_batch: records taken
// per batch (one per group the batch changed).
void BM_StageChangelog(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const bool changelog = state.range(1) != 0;
  rules::MemorySource fs;
  fs.Put("r/tables/t.csv", "id,labels.alertname,actions\nsvc,ServiceDown,escalate\n");
  fs.Put("r/patterns/p.yaml",
         "- name: oom-storm\n  kind: count\n  count: 5\n  group_by: [labels.instance]\n"
         "  within: 10m\n  lateness: 1m\n  max_keys: 2000000\n"
         "  members:\n    - {when: {alertname: OOMKill}}\n  actions: [escalate]\n");
  rules::Diagnostics diags;
  auto rules = rules::Compile(rules::LoadRules(fs, "r"), &diags);
  auto stage = PatternStage::Create(rules);
  stage->TrackChanges(changelog);
  const std::vector<std::string> inst = Instances(keys);
  std::vector<PatternDecision> out;
  std::vector<PatternStage::StateRecord> records;
  Stream st("OOMKill");
  uint64_t n = 0, batches = 0, taken = 0;
  const int64_t t = 1700000000000;
  for (int64_t k = 0; k < keys; ++k) {
    st.Set("OOMKill", inst[static_cast<size_t>(k)], n++);
    stage->Observe(st.ev, Verdict::kUnknown, t, t, &out);
  }
  if (changelog) stage->TakeChanges(&records);
  records.clear();
  size_t k = 0;
  for (auto _ : state) {
    st.Set("OOMKill", inst[k], n++);
    const int64_t now = t + static_cast<int64_t>(n / 100);
    stage->Observe(st.ev, Verdict::kUnknown, now, now, &out);
    if (++k == inst.size()) k = 0;
    if (out.size() > 4096) out.clear();
    if (changelog && n % 2000 == 0) {
      stage->TakeChanges(&records);
      taken += records.size();
      ++batches;
      records.clear();
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (batches > 0) {
    state.counters["records_per_batch"] = static_cast<double>(taken) / static_cast<double>(batches);
  }
}
BENCHMARK(BM_StageChangelog)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace reflex::engine
