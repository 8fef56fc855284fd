// Actions per second through the executor: decisions submitted, journaled in SQLite (WAL),
// executed as webhooks against a local HTTP sink (httplib on 127.0.0.1, port 0), each run
// recorded as succeeded. Reports items_per_second = action runs completed.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "reflex/actions/executor.h"

namespace {

using namespace reflex;

class Sink {
 public:
  Sink() {
    svr_.Post("/hook", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.set_content("ok", "text/plain");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    for (int i = 0; i < 2000 && !svr_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~Sink() {
    svr_.stop();
    thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  httplib::Server svr_;
  std::thread thread_;
  std::atomic<int64_t> hits_{0};
  int port_ = 0;
};

void BM_WebhookActions(benchmark::State& state) {
  Sink sink;
  auto catalog = actions::ParseCatalog(
      "actions:\n  hook:\n    kind: webhook\n    params: [host]\n    url: \"" + sink.Url() +
          "\"\n    body: {host: \"{{params.host}}\", event: \"{{event.id}}\"}\n",
      "bench.yaml");
  if (!catalog.ok()) {
    state.SkipWithError(catalog.status().message().c_str());
    return;
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-bench-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  auto journal = actions::Journal::Open(dir + "/reflex.db");
  if (!journal.ok()) {
    state.SkipWithError(journal.status().message().c_str());
    return;
  }
  engine::SystemClock clock;
  actions::ExecutorOptions opts;
  opts.workers = static_cast<int>(state.range(0));
  actions::Executor ex(*catalog, **journal, {}, opts, clock);
  if (!ex.Start().ok()) {
    state.SkipWithError("start failed");
    return;
  }
  int64_t n = 0;
  for (auto _ : state) {
    std::string id = "e" + std::to_string(n++);
    std::string decision = R"({"event_id":")" + id +
                           R"(","ruleset":"v","matches":[{"table":"t","row":"r","actions":[)"
                           R"({"name":"hook","params":{"host":"web-01"}}]}]})";
    std::string event = R"({"id":")" + id + R"(","labels":{"instance":"web-01"}})";
    if (!ex.Submit(decision, event).ok()) {
      state.SkipWithError("submit failed");
      break;
    }
  }
  if (!ex.Drain(std::chrono::seconds(120))) state.SkipWithError("drain timed out");
  state.SetItemsProcessed(n);
  ex.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_WebhookActions)->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
