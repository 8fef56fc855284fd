// Cost of storage.durability: one action run through the journal (Enqueue, MarkRunning,
// MarkSucceeded: three commits) per iteration, on a real SQLite file in the temp directory,
// with synchronous=NORMAL (arg 0) and synchronous=FULL (arg 1). Numbers depend on the disk.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "reflex/actions/journal.h"

namespace {

using reflex::actions::Journal;
using reflex::actions::NewRun;
using reflex::base::Durability;

void BM_JournalRunLifecycle(benchmark::State& state) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-dur-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const Durability d = state.range(0) == 0 ? Durability::kNormal : Durability::kFsync;
  {
    auto j = Journal::Open(tmpl + "/reflex.db", {.durability = d});
    if (!j.ok()) {
      state.SkipWithError(j.status().ToString().c_str());
      return;
    }
    int64_t n = 0;
    for (auto _ : state) {
      NewRun r;
      r.key = reflex::actions::RunKey{"e" + std::to_string(n), "disk", "disk-tmp", 0, "clean"};
      r.kind = "command";
      r.target = "/bin/true";
      r.request = R"({"argv":["/bin/true"]})";
      r.event_json = R"({"id":"e"})";
      auto e = (*j)->Enqueue(r, ++n);
      if (!e.ok() || !(*j)->MarkRunning(e->id, n).ok() || !(*j)->MarkSucceeded(e->id, "", n).ok()) {
        state.SkipWithError("journal write failed");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(d == Durability::kFsync ? "fsync" : "normal");
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}
BENCHMARK(BM_JournalRunLifecycle)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
