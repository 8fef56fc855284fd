// RecentDecisions: the last decisions this process made, in memory, for GET /api/v1/decisions
// and the console ("what did Reflex just decide, and by which row?"), and the time each row
// was last selected (GET /api/v1/rules). The full record of every decision is the decisions
// topic; this is a window on it that needs no consumer.
//
// Bounded: `capacity` decisions in all (0 turns it off), oldest overwritten first; last-hit
// times for the rows of the last kKeptSets rule sets, and by name for the rows of older ones
// that were ever selected (which the rule files bound). The hot path is a relaxed atomic
// store per selected row and one short critical section per decision on a shard of the
// deciding thread's own (threads are spread over kShards shards, each with its own lock and
// its own ring of capacity / kShards), with no allocation once the ring's strings have grown
// to size. Decisions are ordered by decision time, then by a per-shard sequence.
//
// Thread-safety: Record from any number of threads; List and LastHit from any thread.
// Ownership: plain values in and out.
//
//   RecentDecisions recent(1000);
//   recent.Record("alertmanager", rules, event, result, now_ms);   // on the deciding thread
//   auto page = recent.List({.verdict = engine::Verdict::kUnknown, .limit = 50});
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/thread_annotations.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"

namespace reflex::connectors {

struct RecentDecision {
  int64_t at_ms = 0;  // decision time
  int64_t seq = 0;    // orders decisions made in the same millisecond; part of the cursor
  std::string event_id;
  std::string source;
  engine::Verdict verdict = engine::Verdict::kUnknown;
  std::string ruleset;
  std::vector<std::pair<std::string, std::string>> rows;  // (table, row) selected, in order
  // Why a matched or unknown event was muted: "silence <id>", "inhibited by <rule>",
  // "symptom of <node>", "duplicate of <event>"; "" when it was not.
  std::string muted;
};

struct DecisionFilter {
  std::optional<engine::Verdict> verdict{};
  std::string table{};  // "" = any
  std::string row{};    // "" = any (with `table`: that table's row)
  size_t limit = 50;
  // Paging: only decisions before this (at_ms, seq), newest first. nullopt = the newest.
  std::optional<std::pair<int64_t, int64_t>> before{};
};

class RecentDecisions {
 public:
  static constexpr size_t kShards = 8;
  // The most a capacity may be (GET /api/v1/decisions serves from memory).
  static constexpr size_t kMaxCapacity = 100000;

  // `capacity` decisions kept (at most kMaxCapacity); 0 keeps none (Record does nothing but
  // the last-hit times).
  explicit RecentDecisions(size_t capacity);
  RecentDecisions(const RecentDecisions&) = delete;
  RecentDecisions& operator=(const RecentDecisions&) = delete;

  // One decision of `rules` for `event`, made at `now_ms`.
  void Record(std::string_view source, const engine::CompiledRuleSet& rules,
              const engine::Event& event, const engine::MatchResult& result, int64_t now_ms);

  // The decisions kept that pass `filter`, newest first, at most filter.limit.
  std::vector<RecentDecision> List(const DecisionFilter& filter) const;

  // When each row of `rules` was last selected (ms; 0 when never since the start), by
  // table and row index. Rows are matched by table name and row id, so a row keeps its time
  // across reloads.
  std::vector<std::vector<int64_t>> LastHits(const engine::CompiledRuleSet& rules) const;

  size_t capacity() const { return capacity_; }

 private:
  struct Shard {
    mutable base::Mutex mu;
    std::vector<RecentDecision> ring GUARDED_BY(mu);
    size_t next GUARDED_BY(mu) = 0;   // slot the next decision goes to
    size_t count GUARDED_BY(mu) = 0;  // slots filled
    int64_t seq GUARDED_BY(mu) = 0;
  };
  // The last-hit times of one rule set, by table and row index (a relaxed atomic store per
  // selected row on the hot path), with the names they belong to.
  struct SetHits {
    std::string version;
    std::vector<std::string> keys;  // "table\x1frow", flat
    std::vector<size_t> first;      // per table, its first row's index in `keys` and `last`
    std::unique_ptr<std::atomic<int64_t>[]> last;
  };
  static constexpr size_t kKeptSets = 4;
  Shard& ShardOfThisThread();
  // The SetHits of `rules`, made on its first decision.
  std::shared_ptr<SetHits> HitsOf(const engine::CompiledRuleSet& rules);

  const uint64_t id_;
  size_t capacity_;
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
  mutable base::Mutex sets_mu_;
  std::vector<std::shared_ptr<SetHits>> sets_ GUARDED_BY(sets_mu_);  // the newest last
  // Times of the rows of sets no longer kept, by key.
  std::map<std::string, int64_t, std::less<>> older_ GUARDED_BY(sets_mu_);
};

}  // namespace reflex::connectors
