#include "reflex/engine/mute.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

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

// A source's changelog key: its group, then '\x1e' and its fingerprint in 16 hex digits.
std::string SourceKey(const std::string& group, uint64_t source) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, source);
  std::string key = group;
  key.push_back('\x1e');
  key.append(hex, 16);
  return key;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void Inhibitor::TrackLocked(std::string group, uint64_t source, std::string event_id,
                            int64_t seen_ms) {
  if (lru_.size() >= options_.max_sources) {
    ForgetLocked(lru_.begin());
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  lru_.push_back(Tracked{std::move(group), source, std::move(event_id), seen_ms, seen_ms});
  groups_[lru_.back().group][source] = std::prev(lru_.end());
}

RestoreOutcome Inhibitor::Restore(std::string_view key, std::string_view value, int64_t now_ms) {
  const size_t sep = key.rfind('\x1e');
  if (sep == std::string_view::npos || key.size() - sep - 1 != 16) {
    return RestoreOutcome::kUnreadable;
  }
  uint64_t source = 0;
  const char* hex = key.data() + sep + 1;
  if (std::from_chars(hex, hex + 16, source, 16).ptr != hex + 16) {
    return RestoreOutcome::kUnreadable;
  }
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || !j["event_id"].is_string() || !j["seen_ms"].is_number_integer()) {
    return RestoreOutcome::kUnreadable;
  }
  const int64_t seen = j["seen_ms"].get<int64_t>();
  if (seen + options_.source_ttl_ms <= now_ms) return RestoreOutcome::kSkipped;
  const std::string group(key.substr(0, sep));
  base::MutexLock l(mu_);
  if (auto g = groups_.find(group); g != groups_.end() && g->second.count(source) > 0) {
    return RestoreOutcome::kSkipped;
  }
  TrackLocked(group, source, j["event_id"].get<std::string>(), seen);
  return RestoreOutcome::kRestored;
}

void Inhibitor::FinishRestore() {
  // The list is in order of last sight again (the TTL sweep reads its front): restored
  // sources, seen before the newest ones, move to their place. std::list::sort keeps every
  // iterator the index holds valid.
  base::MutexLock l(mu_);
  lru_.sort([](const Tracked& a, const Tracked& b) { return a.seen_ms < b.seen_ms; });
}

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
                        int64_t now_ms, MuteInfo* out, std::vector<MuteStateChange>* changes) {
  auto report = [&](const Tracked& t) {
    if (changes == nullptr) return;
    changes->push_back({MuteStateChange::Store::kInhibit, SourceKey(t.group, t.source),
                        Dump({{"event_id", t.event_id}, {"seen_ms", t.seen_ms}})});
  };
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
      if (auto it = g->second.find(self); it != g->second.end()) {
        if (changes != nullptr) {
          changes->push_back({MuteStateChange::Store::kInhibit, SourceKey(group, self), ""});
        }
        ForgetLocked(it->second);
      }
      continue;
    }
    if (g != groups_.end()) {
      if (auto it = g->second.find(self); it != g->second.end()) {
        Tracked& t = *it->second;
        t.event_id = ev.id;
        t.seen_ms = now_ms;
        lru_.splice(lru_.end(), lru_, it->second);
        if (now_ms - t.reported_ms >= options_.source_ttl_ms / 4) {
          t.reported_ms = now_ms;
          report(t);
        }
        continue;
      }
    }
    TrackLocked(group, self, ev.id, now_ms);
    report(lru_.back());
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
    // Only a window that is there is closed (and tombstoned in a changelog).
    if (it != index_.end()) {
      Iter w = it->second;
      index_.erase(it);
      lru_.erase(w);
      if (change != nullptr) {
        change->kind = DedupChange::Kind::kClosed;
        change->key = std::move(key);
      }
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
  if (change != nullptr) {
    change->kind = DedupChange::Kind::kOpened;
    change->key = key;
    change->window = DedupWindow{ev.id, now_ms, 0};
  }
  AddLocked(Window{std::move(key), ev.id, now_ms, 0});
  return false;
}

void Deduper::AddLocked(Window w) {
  if (lru_.size() >= options_.max_keys && !lru_.empty()) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  lru_.push_back(std::move(w));
  index_.emplace(lru_.back().key, std::prev(lru_.end()));
}

bool Deduper::Restore(std::string_view key, const DedupWindow& window, int64_t now_ms) {
  if (options_.window_ms <= 0 || now_ms - window.opened_ms >= options_.window_ms) return false;
  base::MutexLock lock(mu_);
  if (index_.count(key) > 0) return false;
  AddLocked(Window{std::string(key), window.first_id, window.opened_ms, window.count});
  return true;
}

size_t Deduper::tracked() const {
  base::MutexLock l(mu_);
  return lru_.size();
}

void Muter::Apply(const CompiledRuleSet& rules, const Event& ev, int64_t now_ms,
                  MatchResult* result) {
  const bool track = track_.load(std::memory_order_relaxed);
  MuteInfo inhibited;
  const bool is_inhibited = inhibitor_.Observe(rules.inhibit_rules(), ev, now_ms, &inhibited,
                                               track ? &result->state_changes : nullptr);
  DedupChange dc;
  const bool duplicate = deduper_.Observe(ev, now_ms, &result->mute, track ? &dc : nullptr);
  if (dc.kind != DedupChange::Kind::kNone) {
    result->state_changes.push_back({MuteStateChange::Store::kDedup, std::move(dc.key),
                                     dc.kind == DedupChange::Kind::kClosed
                                         ? std::string()
                                         : Dump({{"first_id", dc.window.first_id},
                                                 {"opened_ms", dc.window.opened_ms},
                                                 {"count", dc.window.count}})});
  }
  if (duplicate) {
    result->verdict = Verdict::kSuppressed;
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
  IncidentChange ic;
  {
    base::MutexLock l(root_mu_);
    if (root_cause_.topology() != topology) root_cause_.SetTopology(topology);
    s = root_cause_.Observe(topology->node(static_cast<uint32_t>(node)).id, IsResolved(ev), now_ms,
                            ev.id, track ? &ic : nullptr);
  }
  if (ic.kind != IncidentChange::Kind::kNone) {
    result->state_changes.push_back({MuteStateChange::Store::kRootCause, std::move(ic.node),
                                     ic.kind == IncidentChange::Kind::kClosed
                                         ? std::string()
                                         : Dump({{"event_id", ic.event_id},
                                                 {"opened_ms", ic.opened_ms},
                                                 {"expires_ms", ic.expires_ms},
                                                 {"symptoms", ic.symptoms}})});
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

namespace reflex::engine {

RestoreOutcome Muter::Restore(MuteStateChange::Store store, std::string_view key,
                              std::string_view value, int64_t now_ms) {
  if (store == MuteStateChange::Store::kInhibit) return inhibitor_.Restore(key, value, now_ms);
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (store == MuteStateChange::Store::kRootCause) {
    if (key.empty() || !j.is_object() || !j["event_id"].is_string() ||
        !j["opened_ms"].is_number_integer() || !j["expires_ms"].is_number_integer()) {
      return RestoreOutcome::kUnreadable;
    }
    IncidentChange ic;
    ic.kind = IncidentChange::Kind::kOpen;
    ic.node = std::string(key);
    ic.event_id = j["event_id"].get<std::string>();
    ic.opened_ms = j["opened_ms"].get<int64_t>();
    ic.expires_ms = j["expires_ms"].get<int64_t>();
    ic.symptoms = j["symptoms"].is_number_unsigned() ? j["symptoms"].get<uint64_t>() : 0;
    base::MutexLock l(root_mu_);
    return root_cause_.Restore(ic, now_ms) ? RestoreOutcome::kRestored : RestoreOutcome::kSkipped;
  }
  if (!j.is_object() || !j["first_id"].is_string() || !j["opened_ms"].is_number_integer()) {
    return RestoreOutcome::kUnreadable;
  }
  const nlohmann::json& count = j["count"];
  return deduper_.Restore(
             key,
             DedupWindow{j["first_id"].get<std::string>(), j["opened_ms"].get<int64_t>(),
                         count.is_number_unsigned() ? count.get<uint64_t>() : 0},
             now_ms)
             ? RestoreOutcome::kRestored
             : RestoreOutcome::kSkipped;
}

}  // namespace reflex::engine
