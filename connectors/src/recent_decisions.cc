#include "reflex/connectors/recent_decisions.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

namespace reflex::connectors {

namespace {

// "table\x1frow": the last-hit key (the separator is no character of a table name or row id
// a CSV or YAML reader accepts as written).
void RowKey(std::string_view table, std::string_view row, std::string* key) {
  key->assign(table);
  key->push_back('\x1f');
  key->append(row);
}

void Muted(const engine::MuteInfo& m, std::string* out) {
  using Kind = engine::MuteInfo::Kind;
  out->clear();
  switch (m.kind) {
    case Kind::kNone:
      break;
    case Kind::kSilence:
      out->append("silence ").append(m.silence_id);
      break;
    case Kind::kInhibition:
      out->append("inhibited by ").append(m.inhibit_rule);
      break;
    case Kind::kSymptom:
      out->append("symptom of ").append(m.root);
      break;
    case Kind::kDuplicate:
      out->append("duplicate of ").append(m.duplicate_of);
      break;
  }
}

// Ids of recorders, never reused (a thread's cache names the recorder it belongs to; an
// address could be reused by the next one).
uint64_t NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

bool Newer(const RecentDecision& a, const RecentDecision& b) {
  return a.at_ms != b.at_ms ? a.at_ms > b.at_ms : a.seq > b.seq;
}

}  // namespace

RecentDecisions::RecentDecisions(size_t capacity)
    : id_(NextId()),
      capacity_(std::min(capacity, kMaxCapacity)),
      per_shard_(capacity_ == 0 ? 0 : (capacity_ + kShards - 1) / kShards) {}

RecentDecisions::Shard& RecentDecisions::ShardOfThisThread() {
  static std::atomic<size_t> next_thread{0};
  thread_local const size_t index = next_thread.fetch_add(1, std::memory_order_relaxed);
  return shards_[index % kShards];
}

std::shared_ptr<RecentDecisions::SetHits> RecentDecisions::HitsOf(
    const engine::CompiledRuleSet& rules) {
  base::MutexLock lock(sets_mu_);
  for (const auto& h : sets_) {
    if (h->version == rules.version()) return h;
  }
  auto h = std::make_shared<SetHits>();
  h->version = rules.version();
  for (const engine::TableSpec& t : rules.tables()) {
    h->first.push_back(h->keys.size());
    for (const engine::RowSpec& r : t.rows) {
      h->keys.emplace_back();
      RowKey(t.name, r.id, &h->keys.back());
    }
  }
  h->first.push_back(h->keys.size());
  h->last = std::make_unique<std::atomic<int64_t>[]>(h->keys.size());
  for (size_t i = 0; i < h->keys.size(); ++i) h->last[i].store(0, std::memory_order_relaxed);
  if (sets_.size() == kKeptSets) {
    // The oldest set's times are kept by name.
    const SetHits& old = *sets_.front();
    for (size_t i = 0; i < old.keys.size(); ++i) {
      const int64_t t = old.last[i].load(std::memory_order_relaxed);
      if (t == 0) continue;
      int64_t& slot = older_[old.keys[i]];
      slot = std::max(slot, t);
    }
    sets_.erase(sets_.begin());
  }
  sets_.push_back(h);
  return h;
}

void RecentDecisions::Record(std::string_view source, const engine::CompiledRuleSet& rules,
                             const engine::Event& event, const engine::MatchResult& result,
                             int64_t now_ms) {
  // This thread's last set: looked up again when the set (or the recorder) changes.
  thread_local uint64_t cached_owner = 0;
  thread_local const engine::CompiledRuleSet* cached_set = nullptr;
  thread_local std::shared_ptr<SetHits> cached_hits;
  if (cached_owner != id_ || cached_set != &rules || cached_hits->version != rules.version()) {
    cached_hits = HitsOf(rules);
    cached_owner = id_;
    cached_set = &rules;
  }
  const SetHits& hits = *cached_hits;
  for (const engine::RowMatch& m : result.matches) {
    if (m.table + 1 >= hits.first.size()) continue;
    const size_t i = hits.first[m.table] + m.row;
    if (i < hits.first[m.table + 1]) hits.last[i].store(now_ms, std::memory_order_relaxed);
  }
  if (per_shard_ == 0) return;
  Shard& s = ShardOfThisThread();
  base::MutexLock lock(s.mu);
  if (s.ring.size() < per_shard_) s.ring.resize(per_shard_);
  RecentDecision& d = s.ring[s.next];
  s.next = (s.next + 1) % per_shard_;
  s.count = std::min(s.count + 1, per_shard_);
  d.at_ms = now_ms;
  // Sequences interleave the shards, so no two decisions share one.
  d.seq = ++s.seq * static_cast<int64_t>(kShards) + (&s - shards_.data());
  d.event_id.assign(event.id);
  d.source.assign(source);
  d.verdict = result.verdict;
  d.ruleset.assign(rules.version());
  d.rows.resize(result.matches.size());
  size_t n = 0;
  for (const engine::RowMatch& m : result.matches) {
    if (m.table >= rules.tables().size() || m.row >= rules.tables()[m.table].rows.size()) {
      continue;
    }
    const engine::TableSpec& t = rules.tables()[m.table];
    d.rows[n].first.assign(t.name);
    d.rows[n].second.assign(t.rows[m.row].id);
    ++n;
  }
  d.rows.resize(n);
  Muted(result.mute, &d.muted);
}

std::vector<RecentDecision> RecentDecisions::List(const DecisionFilter& f) const {
  std::vector<RecentDecision> out;
  auto pass = [&](const RecentDecision& d) {
    if (f.verdict && d.verdict != *f.verdict) return false;
    if (f.before && std::make_pair(d.at_ms, d.seq) >= *f.before) return false;
    if (f.table.empty() && f.row.empty()) return true;
    return std::any_of(d.rows.begin(), d.rows.end(), [&](const auto& r) {
      return (f.table.empty() || r.first == f.table) && (f.row.empty() || r.second == f.row);
    });
  };
  for (const Shard& s : shards_) {
    base::MutexLock lock(s.mu);
    // This shard's matches, newest first, at most `limit` of them.
    std::vector<RecentDecision> mine;
    for (size_t i = 0; i < s.count && mine.size() < f.limit; ++i) {
      const size_t slot = (s.next + per_shard_ - 1 - i) % per_shard_;
      if (pass(s.ring[slot])) mine.push_back(s.ring[slot]);
    }
    out.insert(out.end(), std::make_move_iterator(mine.begin()),
               std::make_move_iterator(mine.end()));
  }
  std::sort(out.begin(), out.end(), Newer);
  if (out.size() > f.limit) out.resize(f.limit);
  return out;
}

std::vector<std::vector<int64_t>> RecentDecisions::LastHits(
    const engine::CompiledRuleSet& rules) const {
  std::unordered_map<std::string, int64_t> by_key;
  {
    base::MutexLock lock(sets_mu_);
    by_key.insert(older_.begin(), older_.end());
    for (const auto& h : sets_) {
      for (size_t i = 0; i < h->keys.size(); ++i) {
        const int64_t t = h->last[i].load(std::memory_order_relaxed);
        if (t == 0) continue;
        int64_t& slot = by_key[h->keys[i]];
        slot = std::max(slot, t);
      }
    }
  }
  std::vector<std::vector<int64_t>> out(rules.tables().size());
  std::string key;
  for (size_t t = 0; t < rules.tables().size(); ++t) {
    const engine::TableSpec& table = rules.tables()[t];
    out[t].resize(table.rows.size());
    for (size_t r = 0; r < table.rows.size(); ++r) {
      RowKey(table.name, table.rows[r].id, &key);
      auto it = by_key.find(key);
      out[t][r] = it == by_key.end() ? 0 : it->second;
    }
  }
  return out;
}

}  // namespace reflex::connectors
