// ReferenceCorrelator: the semantics of correlation.h written as plainly as possible. Each
// group is a map entry holding its events in a vector; every rule is a scan. Kept apart
// from the fast Correlator (only selection, grouping and lateness are shared) so the
// property test compares two independent readings of the header.
#include <algorithm>
#include <map>

#include "correlation_common.h"
#include "reflex/engine/matcher.h"

namespace reflex::engine {

namespace {

struct RefHeld {
  int64_t t = 0;
  std::string id;
  uint32_t member = 0;
  std::vector<std::optional<std::string>> captured;
};

struct RefGroup {
  int64_t wm = 0;
  uint64_t touched = 0;
  std::vector<RefHeld> held;  // sorted by t, stable
  uint32_t next_step = 0;     // sequence
  uint64_t samples = 0;       // sustained
  bool fired = false;         // sustained
};

struct RefPattern {
  PatternSpec spec;
  std::vector<FieldPath> captures;
  std::map<std::string, RefGroup> groups;
  PatternStats stats;
};

}  // namespace

struct ReferenceCorrelator::State {
  std::vector<RefPattern> patterns;
  uint64_t clock = 0;  // touch counter for least-recently-observed
};

ReferenceCorrelator::ReferenceCorrelator(std::vector<PatternSpec> specs)
    : s_(std::make_unique<State>()) {
  for (PatternSpec& spec : specs) {
    RefPattern p;
    p.captures = PatternCaptures(spec);
    p.spec = std::move(spec);
    s_->patterns.push_back(std::move(p));
  }
}
ReferenceCorrelator::~ReferenceCorrelator() = default;

PatternStats ReferenceCorrelator::stats(uint32_t p) const {
  PatternStats st = s_->patterns[p].stats;
  st.keys = s_->patterns[p].groups.size();
  return st;
}

namespace {

RefHeld MakeHeld(const RefPattern& p, const Event& ev, int64_t t, uint32_t member) {
  RefHeld h;
  h.t = t;
  h.id = ev.id;
  h.member = member;
  for (const FieldPath& c : p.captures) {
    FieldValue v = ev.Get(c);
    if (v.missing()) {
      h.captured.emplace_back();
    } else {
      h.captured.emplace_back(std::string(v.text()));
    }
  }
  return h;
}

void InsertByTime(std::vector<RefHeld>* held, RefHeld h) {
  auto it = std::upper_bound(held->begin(), held->end(), h.t,
                             [](int64_t t, const RefHeld& x) { return t < x.t; });
  held->insert(it, std::move(h));
}

MemberEvent ToMember(const RefHeld& h) { return MemberEvent{h.id, h.t, h.captured}; }

// An output of `events` (a run of the group's held events, by time).
void Output(RefPattern& p, const std::string& key, const std::vector<RefHeld>& events,
            PatternOutcome outcome, int64_t at, uint64_t count, std::vector<PatternOutput>* out,
            uint32_t index) {
  PatternOutput o;
  o.pattern = index;
  o.group_key = key;
  o.outcome = outcome;
  o.at_ms = at;
  o.count = count;
  std::vector<const RefHeld*> order;
  for (const RefHeld& h : events) order.push_back(&h);
  if (p.spec.kind == PatternKind::kAllOf) {
    std::stable_sort(order.begin(), order.end(),
                     [](const RefHeld* a, const RefHeld* b) { return a->member < b->member; });
  }
  for (const RefHeld* h : order) o.member_ids.push_back(h->id);
  if (!events.empty()) {
    o.first = ToMember(events.front());
    o.last = ToMember(events.back());
  }
  if (outcome == PatternOutcome::kTimedOut) {
    ++p.stats.timed_out;
  } else if (outcome != PatternOutcome::kEvicted) {
    ++p.stats.matched;
  }
  out->push_back(std::move(o));
}

// The deadline of a group: when its window closes or its timer fires; none for sustained.
std::optional<int64_t> Deadline(const RefPattern& p, const RefGroup& g) {
  if (p.spec.kind == PatternKind::kSustained || g.held.empty()) return std::nullopt;
  if (p.spec.kind == PatternKind::kHeartbeat) return g.held.back().t + p.spec.within_ms;
  return g.held.front().t + p.spec.within_ms;
}

// Closes what is due in group `key` at time `now`; true when the group is gone.
bool ExpireGroup(RefPattern& p, uint32_t index, std::map<std::string, RefGroup>::iterator it,
                 int64_t now, std::vector<PatternOutput>* out) {
  RefGroup& g = it->second;
  const int64_t w = p.spec.within_ms;
  switch (p.spec.kind) {
    case PatternKind::kCount:
    case PatternKind::kRate: {
      std::vector<RefHeld> gone, kept;
      for (RefHeld& h : g.held) (h.t + w < now ? gone : kept).push_back(std::move(h));
      g.held = std::move(kept);
      if (!gone.empty()) {
        Output(p, it->first, gone, PatternOutcome::kTimedOut, now, gone.size(), out, index);
      }
      if (g.held.empty()) {
        p.groups.erase(it);
        return true;
      }
      return false;
    }
    case PatternKind::kSustained:
      return false;
    default: {
      std::optional<int64_t> d = Deadline(p, g);
      if (!d || *d >= now) return false;
      const PatternOutcome oc =
          p.spec.kind == PatternKind::kAbsence || p.spec.kind == PatternKind::kHeartbeat
              ? PatternOutcome::kAbsent
              : PatternOutcome::kTimedOut;
      Output(p, it->first, g.held, oc, now, g.held.size(), out, index);
      p.groups.erase(it);
      return true;
    }
  }
}

}  // namespace

Observation ReferenceCorrelator::Observe(const Event& ev, int64_t t,
                                         std::vector<PatternOutput>* out) {
  Observation obs;
  for (uint32_t index = 0; index < s_->patterns.size(); ++index) {
    RefPattern& p = s_->patterns[index];
    const PatternSpec& spec = p.spec;
    const PatternKind kind = spec.kind;
    if (HoldsEvents(kind) && IsResolved(ev)) continue;
    std::vector<bool> matches(spec.members.size());
    bool any = false;
    for (size_t m = 0; m < spec.members.size(); ++m) {
      matches[m] = spec.members[m].Matches(ev);
      any = any || matches[m];
    }
    if (!any) continue;
    bool on_side = false;
    if (kind == PatternKind::kSustained) {
      std::optional<double> v = ev.Get(spec.value).number();
      if (!v) continue;
      on_side = spec.above ? *v > spec.bound : *v < spec.bound;
    }
    std::string key;
    if (!BuildGroupKey(spec, ev, &key)) continue;
    ++obs.member_of;
    auto it = p.groups.find(key);
    if (it != p.groups.end()) {
      if (IsLate(spec, it->second.wm, t)) {
        ++obs.late;
        ++p.stats.late;
        continue;
      }
      if (ExpireGroup(p, index, it, std::max(it->second.wm, t), out)) it = p.groups.end();
    }
    if (it == p.groups.end()) {
      bool creates = true;
      if (kind == PatternKind::kSequence || kind == PatternKind::kAbsence) creates = matches[0];
      if (kind == PatternKind::kSustained) creates = on_side;
      if (!creates) continue;
      if (p.groups.size() >= spec.max_keys) {
        auto victim = p.groups.begin();
        for (auto g = p.groups.begin(); g != p.groups.end(); ++g) {
          if (g->second.touched < victim->second.touched) victim = g;
        }
        const uint64_t count =
            kind == PatternKind::kSustained ? victim->second.samples : victim->second.held.size();
        Output(p, victim->first, victim->second.held, PatternOutcome::kEvicted, t, count, out,
               index);
        ++p.stats.evicted;
        p.groups.erase(victim);
      }
      it = p.groups.emplace(key, RefGroup{}).first;
      it->second.wm = t;
    }
    RefGroup& g = it->second;
    g.touched = ++s_->clock;
    const int64_t now = std::max(g.wm, t);
    g.wm = now;
    switch (kind) {
      case PatternKind::kAllOf: {
        int member = -1;
        for (size_t m = 0; m < matches.size() && member < 0; ++m) {
          const bool held = std::any_of(g.held.begin(), g.held.end(),
                                        [&](const RefHeld& h) { return h.member == m; });
          if (matches[m] && !held) member = static_cast<int>(m);
        }
        if (member < 0) break;
        InsertByTime(&g.held, MakeHeld(p, ev, t, static_cast<uint32_t>(member)));
        if (g.held.size() == spec.members.size()) {
          Output(p, key, g.held, PatternOutcome::kMatched, now, g.held.size(), out, index);
          p.groups.erase(it);
        } else {
          ++obs.pending;
        }
        break;
      }
      case PatternKind::kSequence: {
        const uint32_t k = g.next_step;
        if (!matches[k] || (!g.held.empty() && t < g.held.back().t)) break;
        InsertByTime(&g.held, MakeHeld(p, ev, t, k));
        g.next_step = k + 1;
        if (g.next_step == spec.members.size()) {
          Output(p, key, g.held, PatternOutcome::kMatched, now, g.held.size(), out, index);
          p.groups.erase(it);
        } else {
          ++obs.pending;
        }
        break;
      }
      case PatternKind::kCount:
      case PatternKind::kRate:
        InsertByTime(&g.held, MakeHeld(p, ev, t, 0));
        if (g.held.size() >= PatternThreshold(spec)) {
          Output(p, key, g.held, PatternOutcome::kMatched, now, g.held.size(), out, index);
          p.groups.erase(it);
        } else {
          ++obs.pending;
        }
        break;
      case PatternKind::kAbsence:
        if (!g.held.empty()) {
          if (matches[1] && t >= g.held.front().t) p.groups.erase(it);
          break;
        }
        g.held.push_back(MakeHeld(p, ev, t, 0));
        break;
      case PatternKind::kHeartbeat:
        if (!g.held.empty() && t < g.held.front().t) break;
        g.held.assign(1, MakeHeld(p, ev, t, 0));
        break;
      case PatternKind::kSustained:
        if (!on_side) {
          p.groups.erase(it);
          break;
        }
        if (g.held.size() < 2) {
          g.held.push_back(MakeHeld(p, ev, t, 0));
        } else {
          g.held.back() = MakeHeld(p, ev, t, 0);
        }
        ++g.samples;
        if (!g.fired && t - g.held.front().t >= spec.within_ms) {
          g.fired = true;
          Output(p, key, g.held, PatternOutcome::kMatched, now, g.samples, out, index);
        }
        break;
    }
  }
  return obs;
}

void ReferenceCorrelator::Advance(int64_t now, std::vector<PatternOutput>* out) {
  for (uint32_t index = 0; index < s_->patterns.size(); ++index) {
    RefPattern& p = s_->patterns[index];
    // Groups due, fired in deadline order.
    std::vector<std::pair<int64_t, std::string>> due;
    for (const auto& [key, g] : p.groups) {
      std::optional<int64_t> d = Deadline(p, g);
      if (d && *d < now) due.emplace_back(*d, key);
    }
    std::stable_sort(due.begin(), due.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [d, key] : due) ExpireGroup(p, index, p.groups.find(key), now, out);
  }
}

}  // namespace reflex::engine
