// The stores on each database (storage.store): SQLite (a file in the temp directory) and
// PostgreSQL (a real server from Debian's package, started once for the binary by
// tests/pg_server.h on 127.0.0.1, fsync off). Two operations, one per iteration:
//   BM_JournalRun        one action run through the journal (Enqueue, MarkRunning,
//                        MarkSucceeded: three commits), each thread a replica with its own
//                        connection and claim owner;
//   BM_EscalationRecord  one unknown event recorded (the event id claimed and the group's
//                        upsert in one transaction), every event of the same shape, so every
//                        thread writes the one group, as replicas sharing a store do.
// Arg 0 is SQLite, arg 1 PostgreSQL (skipped when its binaries are missing). items_per_second
// is runs (events) per second over all threads. Numbers depend on the disk and the server.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "pg_server.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/base/store_config.h"

namespace {

using reflex::actions::EscalationStore;
using reflex::actions::Journal;
using reflex::actions::NewRun;
using reflex::base::StoreConfig;
using reflex::base::StoreKind;

// One database per benchmark run: a SQLite file in a fresh directory, or a fresh database on
// the one PostgreSQL server of this binary.
class Database {
 public:
  // nullptr (with the reason in *why) when the backend is not available.
  static std::unique_ptr<Database> Make(int64_t kind, const std::string& name, std::string* why) {
    std::unique_ptr<Database> db(new Database);
    std::string tmpl = (std::filesystem::temp_directory_path() / "reflex-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      *why = "mkdtemp failed";
      return nullptr;
    }
    db->dir_ = tmpl;
    if (kind == 1) {
      reflex::test::PgServer* pg = Server(why);
      if (pg == nullptr) return nullptr;
      db->store_.kind = StoreKind::kPostgresql;
      db->store_.dsn = pg->CreateDatabase(name);
    }
    return db;
  }
  ~Database() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const StoreConfig& store() const { return store_; }
  std::string sqlite_path() const { return dir_ + "/reflex.db"; }
  const char* label() const { return store_.kind == StoreKind::kSqlite ? "sqlite" : "postgresql"; }

 private:
  Database() = default;
  // The binary's server, started on first use and stopped at exit.
  static reflex::test::PgServer* Server(std::string* why) {
    static std::once_flag once;
    static std::unique_ptr<reflex::test::PgServer> server;
    static std::string error;
    std::call_once(once, [] {
      const std::string bin = reflex::test::PgServer::FindBinDir();
      if (bin.empty()) {
        error = "PostgreSQL's binaries are missing (deploy/setup.sh --tests installs them)";
        return;
      }
      try {
        server = reflex::test::PgServer::Start(bin);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    if (server == nullptr) *why = error;
    return server.get();
  }

  std::string dir_;
  StoreConfig store_;
};

// What the threads of one run share.
struct Shared {
  std::mutex mu;  // guards the rest; also makes the threads' opens take turns
  std::unique_ptr<Database> db;
  std::string why;
  int runs = 0;
  int done = 0;
};

// Every thread of a run calls it before its loop; the first makes the run's database.
Database* Setup(benchmark::State& state, Shared& shared, const std::string& name) {
  std::lock_guard<std::mutex> lock(shared.mu);
  if (shared.db == nullptr && shared.why.empty()) {
    shared.db = Database::Make(state.range(0), name + std::to_string(++shared.runs), &shared.why);
  }
  return shared.db.get();
}

// Every thread of a run calls it after its loop; the last drops the run's database.
void Teardown(benchmark::State& state, Shared& shared) {
  std::lock_guard<std::mutex> lock(shared.mu);
  if (++shared.done == state.threads()) {
    shared.done = 0;
    shared.db.reset();
    shared.why.clear();
  }
}

// This thread's store on the run's database (made by the first thread, Setup), opened with
// `open` (threads take turns, as replicas opening at once do); nullptr, after SkipWithError,
// when either fails. *db is the run's database (null when it could not be made).
template <typename Store, typename Open>
std::unique_ptr<Store> OpenForThread(benchmark::State& state, Shared& shared,
                                     const std::string& name, Open open, Database** db) {
  *db = Setup(state, shared, name);
  if (*db == nullptr) {
    state.SkipWithError(shared.why.c_str());
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(shared.mu);
  auto opened = open(**db);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*opened);
}

void BM_JournalRun(benchmark::State& state) {
  static Shared shared;
  const std::string owner = "replica-" + std::to_string(state.thread_index());
  Database* db = nullptr;
  std::unique_ptr<Journal> journal = OpenForThread<Journal>(
      state, shared, "journal",
      [&](const Database& d) {
        return Journal::Open(d.store(), d.sqlite_path(), {.owner = owner});
      },
      &db);
  int64_t n = 0;
  for (auto _ : state) {
    if (journal == nullptr) continue;
    NewRun r;
    r.key =
        reflex::actions::RunKey{owner + "-e" + std::to_string(n), "disk", "disk-tmp", 0, "clean"};
    r.kind = "command";
    r.target = "/bin/true";
    r.request = R"({"argv":["/bin/true"]})";
    r.event_json = R"({"id":"e"})";
    auto e = journal->Enqueue(r, ++n);
    if (!e.ok() || !journal->MarkRunning(e->id, n).ok() ||
        !journal->MarkSucceeded(e->id, "", n).ok()) {
      state.SkipWithError("journal write failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (db != nullptr) state.SetLabel(db->label());
  journal.reset();
  Teardown(state, shared);
}
BENCHMARK(BM_JournalRun)
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_EscalationRecord(benchmark::State& state) {
  static Shared shared;
  Database* db = nullptr;
  std::unique_ptr<EscalationStore> store = OpenForThread<EscalationStore>(
      state, shared, "escalations",
      [](const Database& d) { return EscalationStore::Open(d.store(), d.sqlite_path(), {}); }, &db);
  const std::string prefix = "r" + std::to_string(state.thread_index()) + "-e";
  int64_t n = 0;
  for (auto _ : state) {
    if (store == nullptr) continue;
    const std::string event = R"({"id":")" + prefix + std::to_string(++n) +
                              R"(","timestamp":"2026-12-04T10:00:00Z","labels":{"alertname":)"
                              R"("Mystery","instance":"db-3"},"message":"unknown"})";
    auto r = store->RecordUnknown(event, 1'700'000'000'000 + n);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (db != nullptr) state.SetLabel(db->label());
  store.reset();
  Teardown(state, shared);
}
BENCHMARK(BM_EscalationRecord)
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
