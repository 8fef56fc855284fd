// Muting decided events: silences and inhibition, applied after matching.
//
// Inhibitor keeps the inhibition sources: an event that a rule's source matchers match is
// tracked while it fires (keyed by its labels other than `status`, so the firing and the
// resolved notification of one alert are the same source); its resolved event (IsResolved)
// forgets it, and so does `source_ttl_ms` without a new firing event (a source whose
// resolution never arrives does not mute forever). At most `max_sources` are tracked; the
// one seen longest ago is evicted first and counted. An event that a rule's target matchers
// match is inhibited while a tracked source of that rule has the same values of the rule's
// `equal` labels (absent = ""), other than the event itself (an event that matches source
// and target does not inhibit itself). Rules are identified by their source side
// (CompiledInhibitRule::key), so sources stay tracked across a reload that keeps the rule.
//
// Deduper: repeats of one alert within a window. An alert's identity is its source and its
// labels other than `status` (the whole text, not a hash: a crafted event cannot pass for
// another alert). The first firing event opens a window of `window_ms`; a firing event of
// the same identity within it is a duplicate of the first (counted); after it, the next one
// is decided again and opens a new window. A resolved event is never a duplicate and ends
// the window, so a later firing is decided again. At most `max_keys` identities are kept;
// the one seen longest ago is evicted first (counted). Off when window_ms is 0. For a state
// changelog (the run mode's, with the partitions), Observe reports the windows it opens and
// closes, and Restore puts windows read back in place: a replica that takes a partition over
// goes on treating repeats of its alerts as duplicates (the count of duplicates restarts from
// the one recorded at the window's opening). The inhibition sources and the open root-cause
// incidents move the same way (Inhibitor::Observe's and RootCauseTracker::Observe's changes,
// Restore; an incident's symptom count is as recent as its last report, at most a quarter
// window old).
//
// Muter: what the pipeline calls after Match. It records inhibition sources (every event,
// muted or not, as Alertmanager does), then mutes the event when an active silence of the
// published SilenceSet matches it (the silence wins when both apply), else when an
// inhibition rule does, else, when the rule set has a topology, when the event is a
// symptom: its node depends, transitively, on a node with an open incident
// (RootCauseTracker, topology.h). The verdict becomes `suppressed` and MatchResult::mute
// says why. A duplicate (Deduper) is muted before all of them: it records inhibition sources
// but is not checked against silences and neither opens nor refreshes a root-cause incident
// (keep dedup_window below root_cause_window). Root cause: an event whose tables decided it (known
// or unknown, not an `ignore` row) opens or refreshes an incident at its node unless it is a
// symptom itself; its resolved event closes it; an incident closes by itself `window_ms` after its
// last event. An event without a node (no node_field value, or an id the topology lacks) is
// neither.
//
// Thread-safety: Muter and Inhibitor may be used from any number of threads (the inhibition
// state is under a mutex; the silence set is swapped atomically, readers take a snapshot).
//
//   Muter muter({.source_ttl_ms = 6 * 3600 * 1000});
//   muter.SetSilences(*SilenceSet::Create(store_silences));
//   pipeline.SetMuter(&muter);   // every decision from now on
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reflex/base/atomic_shared_ptr.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/silence.h"
#include "reflex/engine/topology.h"

namespace reflex::engine {

// What became of a record read back from a changelog.
enum class RestoreOutcome : uint8_t {
  kRestored,
  kSkipped,     // ended by now, or the entry is there already
  kUnreadable,  // not a record this version writes
};

struct InhibitorOptions {
  // How long a source stays tracked after its last firing event. Default: 6 h.
  // REQUIRES: > 0.
  int64_t source_ttl_ms = 6 * 3600 * 1000LL;
  // Most sources tracked at once (over all rules). Default: 100000. REQUIRES: > 0.
  size_t max_sources = 100000;
};

class Inhibitor {
 public:
  explicit Inhibitor(InhibitorOptions options = {}) : options_(options) {}

  // Records `ev` as a source of each rule whose source matchers match it (firing: tracked or
  // refreshed; resolved: forgotten), then returns true and fills `out` (kind kInhibition)
  // when a rule inhibits it (the first in rule order). `changes` (optional) gets what a
  // changelog keeps: a source tracked (and refreshed once a quarter of source_ttl_ms has
  // passed since it was last reported, so a source that keeps firing is written a few times
  // per TTL, not at every event) or forgotten by its resolution.
  bool Observe(const std::vector<CompiledInhibitRule>& rules, const Event& ev, int64_t now_ms,
               MuteInfo* out, std::vector<MuteStateChange>* changes = nullptr);
  // Puts back a source read from a changelog (key and value as a change gave them), unless
  // it is tracked already or its TTL has passed by `now_ms` (kSkipped); kUnreadable for a
  // key or value no change of this version gives.
  RestoreOutcome Restore(std::string_view key, std::string_view value, int64_t now_ms);
  // After the Restore calls of one read: puts the sources back in order of last sight.
  void FinishRestore();

  size_t tracked() const;
  int64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }

 private:
  struct Tracked {
    std::string group;  // rule key + the `equal` values
    uint64_t source = 0;
    std::string event_id;
    int64_t seen_ms = 0;
    int64_t reported_ms = 0;  // when a change last reported it
  };
  // Adds a source at the end of the LRU list (the caller keeps the list in seen order).
  void TrackLocked(std::string group, uint64_t source, std::string event_id, int64_t seen_ms)
      REQUIRES(mu_);
  using Iter = std::list<Tracked>::iterator;
  void ForgetLocked(Iter it) REQUIRES(mu_);

  const InhibitorOptions options_;
  mutable base::Mutex mu_;
  std::list<Tracked> lru_ GUARDED_BY(mu_);  // least recently seen first
  std::unordered_map<std::string, std::unordered_map<uint64_t, Iter>> groups_ GUARDED_BY(mu_);
  std::atomic<int64_t> evicted_{0};
};

struct DedupOptions {
  int64_t window_ms = 0;  // 0: off
  size_t max_keys = 100000;
};

class Deduper {
 public:
  explicit Deduper(DedupOptions options = {}) : options_(options) {}
  // True when `ev` is a duplicate: fills `out` (kind kDuplicate). `change` (optional) says
  // whether it opened or closed its identity's window, for a changelog.
  bool Observe(const Event& ev, int64_t now_ms, MuteInfo* out, DedupChange* change = nullptr);
  // Puts back a window read from a changelog (identity `key`, as DedupChange::key): unless
  // the identity has a window already or this one has ended by `now_ms`. True when put back.
  bool Restore(std::string_view key, const DedupWindow& window, int64_t now_ms);
  int64_t window_ms() const { return options_.window_ms; }
  size_t tracked() const;
  int64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  int64_t duplicates() const { return duplicates_.load(std::memory_order_relaxed); }

 private:
  struct Window {
    std::string key;
    std::string first_id;
    int64_t opened_ms = 0;
    uint64_t count = 0;
  };
  using Iter = std::list<Window>::iterator;
  // Appends a window as the most recently seen, evicting the least recently seen one at
  // max_keys.
  void AddLocked(Window w) REQUIRES(mu_);
  const DedupOptions options_;
  mutable base::Mutex mu_;
  std::list<Window> lru_ GUARDED_BY(mu_);                             // least recently seen first
  std::unordered_map<std::string_view, Iter> index_ GUARDED_BY(mu_);  // views into lru_ keys
  std::atomic<int64_t> evicted_{0};
  std::atomic<int64_t> duplicates_{0};
};

class Muter {
 public:
  explicit Muter(InhibitorOptions options = {}, RootCauseOptions root_cause = {},
                 DedupOptions dedup = {})
      : inhibitor_(options), deduper_(dedup), root_cause_(nullptr, root_cause) {}

  // Publishes the silences every later Apply uses (null: none).
  void SetSilences(std::shared_ptr<const SilenceSet> set) { silences_.Store(std::move(set)); }
  std::shared_ptr<const SilenceSet> silences() const { return silences_.Load(); }

  // See the file comment. `rules`: the set that decided `ev` (its inhibit_rules()).
  void Apply(const CompiledRuleSet& rules, const Event& ev, int64_t now_ms, MatchResult* result);

  const Inhibitor& inhibitor() const { return inhibitor_; }
  const Deduper& deduper() const { return deduper_; }
  // From now on (on) every Apply reports the changes to the dedup windows, inhibition
  // sources and root-cause incidents in MatchResult::state_changes, for the run mode's
  // changelog; off (the default) it reports none.
  void TrackChanges(bool on) { track_.store(on, std::memory_order_relaxed); }
  // Puts back an entry of `store` read from a changelog (key and value as a change gave
  // them): kSkipped when it has ended or is present already, kUnreadable when the record is
  // not one a change of this version gives (the caller reports it).
  RestoreOutcome Restore(MuteStateChange::Store store, std::string_view key, std::string_view value,
                         int64_t now_ms);
  // After the Restore calls of one read of the changelog.
  void FinishRestore() { inhibitor_.FinishRestore(); }
  // Open root-cause incidents (for metrics).
  size_t open_incidents() const;

 private:
  std::atomic<bool> track_{false};
  base::AtomicSharedPtr<const SilenceSet> silences_;
  Inhibitor inhibitor_;
  Deduper deduper_;
  mutable base::Mutex root_mu_;
  RootCauseTracker root_cause_ GUARDED_BY(root_mu_);
};

}  // namespace reflex::engine
