#include "reflex/connectors/rule_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "reflex/base/strings.h"

namespace reflex::connectors {

namespace fs = std::filesystem;
using engine::Result;
using engine::Status;

std::string_view OutcomeName(ReloadResult::Outcome outcome) {
  return kReloadOutcomeNames.Name(outcome);
}

void LogReloadResult(Logger& log, const ReloadResult& r) {
  const double load_ms = static_cast<double>(r.duration_us) / 1000.0;
  switch (r.outcome) {
    case ReloadResult::Outcome::kSwapped:
      log.Info("rules reloaded", {{"trigger", r.trigger},
                                  {"version", r.new_version},
                                  {"previous", r.old_version},
                                  {"tables", r.tables},
                                  {"rows", r.rows},
                                  {"warnings", r.warnings},
                                  {"load_ms", load_ms}});
      break;
    case ReloadResult::Outcome::kUnchanged:
      log.Debug("rules unchanged",
                {{"trigger", r.trigger}, {"version", r.new_version}, {"load_ms", load_ms}});
      break;
    case ReloadResult::Outcome::kRefused: {
      std::string all;
      for (const auto& d : r.diagnostics) all += (all.empty() ? "" : "\n") + d;
      log.Error("rules refused", {{"trigger", r.trigger},
                                  {"version", r.old_version},
                                  {"refused_version", r.new_version},
                                  {"errors", r.diagnostics.size()},
                                  {"error", all}});
      break;
    }
  }
  if (!r.history.ok()) {
    log.Warn("rule-set history not recorded",
             {{"version", r.new_version}, {"error", r.history.message()}});
  }
}

Result<std::unique_ptr<RuleStore>> RuleStore::Create(RuleStoreOptions options,
                                                     std::string_view trigger) {
  if (options.rules_dir.empty()) return engine::InvalidArgument("no rules directory given");
  std::unique_ptr<RuleStore> store(new RuleStore(std::move(options)));
  ReloadResult r = store->LoadAndMaybeSwap(trigger, /*initial=*/true);
  if (!r.ok()) {
    std::string msg = "rules in " + store->options_.rules_dir +
                      (r.validation.ok() ? " do not load:" : " are refused:");
    for (const auto& d : r.diagnostics) msg += "\n" + d;
    return engine::InvalidArgument(std::move(msg));
  }
  return store;
}

ReloadResult RuleStore::Reload(std::string_view trigger) {
  return LoadAndMaybeSwap(trigger, /*initial=*/false);
}

ReloadResult RuleStore::LoadAndMaybeSwap(std::string_view trigger, bool initial) {
  base::MutexLock lock(reload_mu_);
  ReloadResult r;
  r.trigger = std::string(trigger);
  std::shared_ptr<const engine::CompiledRuleSet> old = current_.Load();
  if (old) r.old_version = old->version();

  const auto start = std::chrono::steady_clock::now();
  RuleSnapshot snap = LoadRuleSnapshot(options_.rules_dir);
  const bool unchanged = snap.ok() && old && old->version() == snap.version;
  if (snap.ok() && !unchanged && options_.validate) r.validation = options_.validate(snap);
  r.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  r.new_version = snap.version;
  r.tables = snap.tables;
  r.rows = snap.rows;
  r.warnings = snap.diags.warning_count();
  if (!snap.ok()) {
    r.outcome = ReloadResult::Outcome::kRefused;
    r.diagnostics = snap.Errors();
    if (r.diagnostics.empty()) r.diagnostics.push_back(options_.rules_dir + ": does not compile");
    refused_.fetch_add(1, std::memory_order_relaxed);
  } else if (unchanged) {
    r.outcome = ReloadResult::Outcome::kUnchanged;
    unchanged_.fetch_add(1, std::memory_order_relaxed);
  } else if (!r.validation.ok()) {
    r.outcome = ReloadResult::Outcome::kRefused;
    for (std::string_view line : base::Split(r.validation.message(), '\n')) {
      if (!line.empty()) r.diagnostics.emplace_back(line);
    }
    if (r.diagnostics.empty()) r.diagnostics.push_back(options_.rules_dir + ": refused");
    refused_.fetch_add(1, std::memory_order_relaxed);
  } else {
    r.outcome = ReloadResult::Outcome::kSwapped;
    current_.Store(snap.rules);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    if (!initial) swapped_.fetch_add(1, std::memory_order_relaxed);
    if (options_.history != nullptr) r.history = options_.history->Record(snap, trigger);
  }
  if (options_.on_reload) options_.on_reload(r);
  return r;
}

RuleStore::Counters RuleStore::counters() const {
  Counters c;
  c.swapped = swapped_.load(std::memory_order_relaxed);
  c.unchanged = unchanged_.load(std::memory_order_relaxed);
  c.refused = refused_.load(std::memory_order_relaxed);
  return c;
}

// ---------------------------------------------------------------------------------------
// RuleWatcher

namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                              IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

RuleWatcher::RuleWatcher(RuleWatcherOptions options, std::function<void()> on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {}

RuleWatcher RuleWatcher::ForStore(RuleStore* store, std::chrono::milliseconds debounce) {
  RuleWatcherOptions o;
  o.dir = store->rules_dir();
  o.debounce = debounce;
  return RuleWatcher(std::move(o), [store] { (void)store->Reload("watch"); });
}

RuleWatcher::~RuleWatcher() { Stop(); }

void RuleWatcher::CloseFds() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
  watches_.clear();
}

Status RuleWatcher::Start() {
  if (thread_.joinable()) return Status(engine::StatusCode::kFailedPrecondition, "already started");
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    const std::string err = std::strerror(errno);
    CloseFds();
    return engine::Internal("inotify_init1: " + err);
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const std::string err = std::strerror(errno);
    CloseFds();
    return engine::Internal("eventfd: " + err);
  }
  if (::inotify_add_watch(inotify_fd_, options_.dir.c_str(), kDirMask) < 0) {
    const std::string err = std::strerror(errno);
    CloseFds();
    return engine::Internal("cannot watch " + options_.dir + ": " + err);
  }
  (void)SyncWatches();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void RuleWatcher::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    ssize_t n;
    do {
      n = ::write(wake_fd_, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    thread_.join();
  }
  CloseFds();
}

// (Re)adds watches on the directory and each immediate subdirectory. inotify_add_watch on
// an already-watched inode returns the same descriptor, so this is cheap to repeat; a
// subdirectory replaced by a new one (rename, ConfigMap-style symlink swap) gets a watch on
// the new inode.
bool RuleWatcher::SyncWatches() {
  auto add = [this](const std::string& path) {
    const int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), kDirMask);
    if (wd < 0) return false;
    for (auto& w : watches_) {
      if (w.first == wd) {
        w.second = path;
        return true;
      }
    }
    watches_.emplace_back(wd, path);
    return true;
  };
  if (!add(options_.dir)) return false;
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) add(it->path().string());
  }
  return true;
}

void RuleWatcher::Run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;
  bool root_watched = true;  // Start() added it
  Clock::time_point first{}, last{};
  alignas(struct inotify_event) char buf[16 * 1024];
  for (;;) {
    // While the directory itself is gone (deleted, or replaced by a rename), look for it
    // once a second; inotify cannot report its return.
    int timeout_ms = root_watched ? -1 : 1000;
    if (pending) {
      const auto now = Clock::now();
      const auto due = std::min(last + options_.debounce, first + options_.max_delay);
      timeout_ms =
          due <= now
              ? 0
              : static_cast<int>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count()) +
                    1;
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    if (n > 0 && (fds[0].revents & POLLIN)) return;  // Stop()
    bool structure_changed = false;
    if (n > 0 && (fds[1].revents & POLLIN)) {
      for (;;) {
        const ssize_t len = ::read(inotify_fd_, buf, sizeof(buf));
        if (len <= 0) break;  // EAGAIN: drained
        for (ssize_t off = 0; off < len;) {
          const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
          off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
          if (ev->mask & IN_IGNORED) {
            std::erase_if(watches_, [&](const auto& w) { return w.first == ev->wd; });
            structure_changed = true;
            continue;
          }
          if (ev->mask & (IN_ISDIR | IN_DELETE_SELF | IN_MOVE_SELF)) structure_changed = true;
          const auto now = Clock::now();
          if (!pending) first = now;
          pending = true;
          last = now;
        }
      }
    }
    if (structure_changed || !root_watched) {
      const bool was_watched = root_watched;
      root_watched = SyncWatches();
      if (root_watched && !was_watched && !pending) {  // it is back: reload what it holds
        first = last = Clock::now();
        pending = true;
      }
    }
    if (pending) {
      const auto now = Clock::now();
      if (now >= last + options_.debounce || now >= first + options_.max_delay) {
        pending = false;
        // A new subdirectory may have appeared with the burst (e.g. tables/ created).
        root_watched = SyncWatches();
        if (on_change_) on_change_();
        fired_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
  }
}

}  // namespace reflex::connectors
