#include "reflex/engine/mute.h"

#include <algorithm>

#include "reflex/base/hash.h"

namespace reflex::engine {
namespace {

// The identity of an alert: its labels other than `status`, in name order (Alertmanager's
// fingerprint is over the label set; the status is not a label there).
std::vector<const std::pair<std::string, std::string>*> IdentityLabels(const Event& ev) {
  std::vector<const std::pair<std::string, std::string>*> labels;
  labels.reserve(ev.labels.size());
  for (const auto& l : ev.labels) {
    if (l.first != kStatusLabel) labels.push_back(&l);
  }
  std::sort(labels.begin(), labels.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return labels;
}

uint64_t SourceFingerprint(const Event& ev) {
  uint64_t h = base::Fnv1a64("labels");
  for (const auto* l : IdentityLabels(ev)) {
    h = base::Fnv1a64(l->first, h);
    h = base::Fnv1a64(std::string_view("\0", 1), h);
    h = base::Fnv1a64(l->second, h);
    h = base::Fnv1a64(std::string_view("\0", 1), h);
  }
  return h;
}

// The rule's key and the event's values of its `equal` labels, each length-prefixed.
void GroupKey(const CompiledInhibitRule& rule, const Event& ev, std::string* out) {
  out->assign(reinterpret_cast<const char*>(&rule.key), sizeof rule.key);
  for (const auto& name : rule.spec.equal) {
    const std::string* v = ev.Label(name);
    const std::string_view value = v != nullptr ? std::string_view(*v) : std::string_view();
    out->append(std::to_string(value.size())).push_back(':');
    out->append(value);
  }
}

}  // namespace

void Inhibitor::ForgetLocked(Iter it) {
  auto g = groups_.find(it->group);
  if (g != groups_.end()) {
    g->second.erase(it->source);
    if (g->second.empty()) groups_.erase(g);
  }
  lru_.erase(it);
}

size_t Inhibitor::tracked() const {
  base::MutexLock l(mu_);
  return lru_.size();
}

bool Inhibitor::Observe(const std::vector<CompiledInhibitRule>& rules, const Event& ev,
                        int64_t now_ms, MuteInfo* out) {
  if (rules.empty()) return false;
  const uint64_t self = SourceFingerprint(ev);
  const bool resolved = IsResolved(ev);
  std::string group;
  base::MutexLock l(mu_);
  // Sources not seen for a TTL are gone (the list is in order of last sight).
  while (!lru_.empty() && lru_.front().seen_ms + options_.source_ttl_ms <= now_ms) {
    ForgetLocked(lru_.begin());
  }
  for (const auto& rule : rules) {
    if (!MatchesAll(rule.source, ev)) continue;
    GroupKey(rule, ev, &group);
    auto g = groups_.find(group);
    if (resolved) {
      if (g == groups_.end()) continue;
      if (auto it = g->second.find(self); it != g->second.end()) ForgetLocked(it->second);
      continue;
    }
    if (g != groups_.end()) {
      if (auto it = g->second.find(self); it != g->second.end()) {
        it->second->event_id = ev.id;
        it->second->seen_ms = now_ms;
        lru_.splice(lru_.end(), lru_, it->second);
        continue;
      }
    }
    if (lru_.size() >= options_.max_sources) {
      ForgetLocked(lru_.begin());
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    lru_.push_back(Tracked{group, self, ev.id, now_ms});
    groups_[group][self] = std::prev(lru_.end());
  }
  for (const auto& rule : rules) {
    if (!MatchesAll(rule.target, ev)) continue;
    GroupKey(rule, ev, &group);
    auto g = groups_.find(group);
    if (g == groups_.end()) continue;
    for (const auto& [source, it] : g->second) {
      if (source == self) continue;  // an event does not inhibit itself
      out->kind = MuteInfo::Kind::kInhibition;
      out->inhibit_rule = rule.spec.name;
      out->source_event_id = it->event_id;
      return true;
    }
  }
  return false;
}

bool Deduper::Observe(const Event& ev, int64_t now_ms, MuteInfo* out, DedupChange* change) {
  if (change != nullptr) change->kind = DedupChange::Kind::kNone;
  if (options_.window_ms <= 0) return false;
  // Length-prefixed parts: no two label sets give the same key.
  std::string key = std::to_string(ev.source.size()) + ":" + ev.source;
  for (const auto* l : IdentityLabels(ev)) {
    key += std::to_string(l->first.size()) + ":" + l->first;
    key += std::to_string(l->second.size()) + ":" + l->second;
  }
  base::MutexLock lock(mu_);
  auto it = index_.find(key);
  if (IsResolved(ev)) {
    if (it != index_.end()) {
      Iter w = it->second;
      index_.erase(it);
      lru_.erase(w);
    }
    if (change != nullptr) {
      change->kind = DedupChange::Kind::kClosed;
      change->key = std::move(key);
    }
    return false;
  }
  if (it != index_.end() && now_ms - it->second->opened_ms < options_.window_ms) {
    Iter w = it->second;
    ++w->count;
    lru_.splice(lru_.end(), lru_, w);  // most recently seen last
    out->kind = MuteInfo::Kind::kDuplicate;
    out->duplicate_of = w->first_id;
    out->duplicates = w->count;
    duplicates_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (it != index_.end()) {  // the window passed: this one opens a new window
    Iter w = it->second;
    index_.erase(it);
    lru_.erase(w);
  }
  if (lru_.size() >= options_.max_keys && !lru_.empty()) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  if (change != nullptr) {
    change->kind = DedupChange::Kind::kOpened;
    change->key = key;
    change->window = DedupWindow{ev.id, now_ms, 0};
  }
  lru_.push_back(Window{std::move(key), ev.id, now_ms, 0});
  index_.emplace(lru_.back().key, std::prev(lru_.end()));
  return false;
}

bool Deduper::Restore(std::string_view key, const DedupWindow& window, int64_t now_ms) {
  if (options_.window_ms <= 0 || now_ms - window.opened_ms >= options_.window_ms) return false;
  base::MutexLock lock(mu_);
  if (index_.count(key) > 0) return false;
  if (lru_.size() >= options_.max_keys && !lru_.empty()) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  lru_.push_back(Window{std::string(key), window.first_id, window.opened_ms, window.count});
  index_.emplace(lru_.back().key, std::prev(lru_.end()));
  return true;
}

size_t Deduper::tracked() const {
  base::MutexLock l(mu_);
  return lru_.size();
}

void Muter::Apply(const CompiledRuleSet& rules, const Event& ev, int64_t now_ms,
                  MatchResult* result) {
  MuteInfo inhibited;
  const bool is_inhibited = inhibitor_.Observe(rules.inhibit_rules(), ev, now_ms, &inhibited);
  if (MuteInfo dup; deduper_.Observe(ev, now_ms, &dup, &result->dedup)) {
    result->verdict = Verdict::kSuppressed;
    result->mute = std::move(dup);
    return;
  }
  if (std::shared_ptr<const SilenceSet> set = silences_.Load(); set && set->size() > 0) {
    if (const Silence* s = set->Silencing(ev, now_ms)) {
      result->verdict = Verdict::kSuppressed;
      result->mute.kind = MuteInfo::Kind::kSilence;
      result->mute.silence_id = s->id;
      return;
    }
  }
  if (is_inhibited) {
    result->verdict = Verdict::kSuppressed;
    result->mute = std::move(inhibited);
    return;
  }
  const std::shared_ptr<const Topology>& topology = rules.topology();
  if (!topology || result->verdict == Verdict::kSuppressed) return;  // an `ignore` row
  const int64_t node = topology->NodeOf(ev);
  if (node < 0) return;
  Symptom s;
  {
    base::MutexLock l(root_mu_);
    if (root_cause_.topology() != topology) root_cause_.SetTopology(topology);
    s = root_cause_.Observe(topology->node(static_cast<uint32_t>(node)).id, IsResolved(ev), now_ms,
                            ev.id);
  }
  if (!s.symptom) return;
  result->verdict = Verdict::kSuppressed;
  result->mute.kind = MuteInfo::Kind::kSymptom;
  result->mute.root = std::move(s.root);
  result->mute.root_event = std::move(s.root_event);
  result->mute.path = std::move(s.path);
  result->mute.symptoms = s.symptom_count;
}

size_t Muter::open_incidents() const {
  base::MutexLock l(root_mu_);
  return root_cause_.open_incidents();
}

}  // namespace reflex::engine
