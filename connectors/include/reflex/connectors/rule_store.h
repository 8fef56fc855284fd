// RuleStore: the live rule set of the run mode and its hot reload; RuleWatcher: reloads it
// when files in the rules directory change.
//
// The store holds the current `shared_ptr<const CompiledRuleSet>`. Readers take it with
// Current() (a snapshot copied under a short lock, base/atomic_shared_ptr.h; no lock held
// while matching) and may keep it as long as they like: a swap never changes a set in use,
// it publishes a new one. A worker that wants to avoid even that load per event checks
// generation() per batch and reloads the pointer only when it moved, then calls
// Pipeline::SetRules between events.
//
// Reload(trigger) loads and compiles the directory beside the running set. On any error the
// old set keeps running and the result carries every diagnostic (file:line:col: error: ...)
// and counts as refused; when the version hash is unchanged it is a no-op; otherwise the
// optional `validate` hook sees the candidate (the run mode runs its test cases there) and
// may refuse it the same way; a set that passes is published in one store. Every successful
// activation (the first load and each swap) is recorded in the RuleHistory when one is given.
// Reloads are serialised.
//
// RuleWatcher watches the directory and its immediate subdirectories (tables/, lookups/)
// with inotify (create, modify, close_write, moved_to/from, delete) and calls its callback
// once the directory has been quiet for `debounce` (200 ms by default), so an editor saving
// several files, or writing a temp file and renaming it, gives one reload. A steady stream
// of changes still fires at least every `max_delay`. Its thread is woken for Stop() by an
// eventfd. Subdirectories created or replaced later are picked up; when the directory itself
// disappears (deleted or renamed away) it is looked for once a second and reloaded when back.
//
// Thread-safety: Current(), generation(), version() and counters() from any thread;
// Reload() from any thread (serialised). The on_reload callback runs on the reloading
// thread while the reload lock is held: it must not call Reload(). RuleWatcher: Start/Stop
// from one owning thread; Stop is idempotent and joins; the callback runs on the watcher
// thread.
//
//   auto store = RuleStore::Create({.rules_dir = "rules", .history = history.get(),
//                                   .on_reload = [&](const ReloadResult& r) { log(r); }});
//   if (!store.ok()) { print store.status().message(); return 1; }
//   RuleWatcher watcher = RuleWatcher::ForStore(store->get());
//   Status s = watcher.Start();            // later: watcher.Stop();
//   pipeline.SetRules((*store)->Current());
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reflex/base/atomic_shared_ptr.h"
#include "reflex/base/enum_names.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/connectors/log.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/status.h"

namespace reflex::connectors {

struct ReloadResult {
  enum class Outcome {
    kSwapped,    // a new version is live
    kUnchanged,  // same version hash as the running set: nothing done
    kRefused,    // errors: the old set keeps running
  };
  Outcome outcome = Outcome::kRefused;
  std::string trigger;                   // "start", "sighup", "watch", "api", ...
  std::string old_version;               // live before ("" at start)
  std::string new_version;               // of the directory as loaded (also when refused)
  std::vector<std::string> diagnostics;  // errors, "file:line:col: error: message"
  size_t warnings = 0;
  size_t tables = 0;  // of the loaded set
  size_t rows = 0;
  int64_t duration_us = 0;                        // load + compile (+ validate)
  engine::Status history = engine::Status::Ok();  // recording in the history (not fatal)
  // The validate hook's refusal; OK when the hook passed the set or did not run. A refused
  // result with an OK `validation` did not load or compile.
  engine::Status validation = engine::Status::Ok();

  bool ok() const { return outcome != Outcome::kRefused; }
};

inline constexpr base::EnumNames<ReloadResult::Outcome, 3> kReloadOutcomeNames{
    {{{ReloadResult::Outcome::kSwapped, "swapped"},
      {ReloadResult::Outcome::kUnchanged, "unchanged"},
      {ReloadResult::Outcome::kRefused, "refused"}}}};
// "swapped", "unchanged", "refused".
std::string_view OutcomeName(ReloadResult::Outcome outcome);

// Logs one reload the standard way: swapped -> info "rules reloaded" (trigger, version,
// previous, tables, rows, warnings, load_ms); unchanged -> debug "rules unchanged";
// refused -> error "rules refused" (trigger, running version, refused version, errors,
// error = all diagnostics joined by newlines); a failed history record -> warn.
void LogReloadResult(Logger& log, const ReloadResult& result);

struct RuleStoreOptions {
  std::string rules_dir{};         // REQUIRES: not empty
  RuleHistory* history = nullptr;  // optional; must outlive the store
  // Called after every Reload (and the initial load), on the reloading thread.
  std::function<void(const ReloadResult&)> on_reload{};
  // Optional: asked before a set goes live (the initial load, and each reload whose version
  // differs from the running one), once it loaded and compiled without error; `candidate`
  // is valid during the call only. The run mode checks the action catalog strictly and runs
  // the test cases here. A non-OK status refuses the set like a load error: the old
  // set keeps serving (Create fails), ReloadResult::validation holds the status and its
  // message lines are the diagnostics. Runs on the reloading thread under the reload lock.
  std::function<engine::Status(const RuleSnapshot& candidate)> validate{};
};

class RuleStore {
 public:
  // Loads the directory; fails (InvalidArgument, message = the error diagnostics, one per
  // line) when the initial set does not load or compile, or `validate` refuses it.
  // `trigger` names the activation in the history.
  static engine::Result<std::unique_ptr<RuleStore>> Create(RuleStoreOptions options,
                                                           std::string_view trigger = "start");

  // The live set; never null after Create.
  std::shared_ptr<const engine::CompiledRuleSet> Current() const { return current_.Load(); }
  // Increases by one on every swap; starts at 1.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::string version() const { return Current()->version(); }
  const std::string& rules_dir() const { return options_.rules_dir; }

  ReloadResult Reload(std::string_view trigger);

  struct Counters {
    uint64_t swapped = 0, unchanged = 0, refused = 0;
  };
  Counters counters() const;

 private:
  explicit RuleStore(RuleStoreOptions options) : options_(std::move(options)) {}
  ReloadResult LoadAndMaybeSwap(std::string_view trigger, bool initial);

  RuleStoreOptions options_;
  base::AtomicSharedPtr<const engine::CompiledRuleSet> current_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> swapped_{0}, unchanged_{0}, refused_{0};
  base::Mutex reload_mu_;  // one reload at a time
};

struct RuleWatcherOptions {
  std::string dir{};  // the rules directory
  // Quiet time after the last change before the callback. Default: 200 ms.
  std::chrono::milliseconds debounce{200};
  // Longest wait after the first change of a burst, even if changes continue. Default: 5 s.
  std::chrono::milliseconds max_delay{5000};
};

class RuleWatcher {
 public:
  RuleWatcher(RuleWatcherOptions options, std::function<void()> on_change);
  // Reloads `store` with trigger "watch". `store` must outlive the watcher.
  static RuleWatcher ForStore(RuleStore* store,
                              std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  RuleWatcher(const RuleWatcher&) = delete;
  RuleWatcher& operator=(const RuleWatcher&) = delete;
  ~RuleWatcher();

  // Sets up inotify and starts the thread. FailedPrecondition when already started;
  // Internal when inotify cannot watch the directory.
  engine::Status Start();
  // Stops and joins the thread. Idempotent; safe if never started.
  void Stop();

  // Callbacks fired so far (for tests and metrics).
  uint64_t fired() const { return fired_.load(std::memory_order_acquire); }

 private:
  void Run();
  bool SyncWatches();  // false when the directory itself cannot be watched
  void CloseFds();

  RuleWatcherOptions options_;
  std::function<void()> on_change_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<std::pair<int, std::string>> watches_;  // wd -> directory; watcher thread only
  std::thread thread_;
  std::atomic<uint64_t> fired_{0};
};

}  // namespace reflex::connectors
