#include "reflex/rules/analysis.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <map>
#include <unordered_map>

#include "reflex/base/strings.h"

namespace reflex::rules {

using engine::Condition;
using engine::FieldValue;
using engine::Op;

namespace {

// Beyond this many row pairs a table is not compared pairwise (reported as a warning).
constexpr size_t kMaxPairs = 20'000'000;

bool IsPositive(const Condition& c) { return !c.negate(); }

// The values a positive, case-sensitive `= x` / `in(...)` accepts, as event values: each
// literal as text and, when it is a number, as that number.
std::vector<FieldValue> LiteralValues(const Condition& c) {
  std::vector<FieldValue> v;
  for (size_t i = 0; i < c.strings().size(); ++i) {
    v.push_back(FieldValue::Text(c.strings()[i]));
    if (!std::isnan(c.numbers()[i])) v.push_back(FieldValue::Number(c.numbers()[i]));
  }
  return v;
}

bool IsLiteralSet(const Condition& c) {
  return (c.op() == Op::kEq || c.op() == Op::kIn) && IsPositive(c) && !c.icase();
}

bool RangesIntersect(const engine::NumRange& a, const engine::NumRange& b) {
  const double lo = std::max(a.lo, b.lo), hi = std::min(a.hi, b.hi);
  if (lo < hi) return true;
  if (lo > hi) return false;
  return a.Contains(lo) && b.Contains(lo);
}

bool RangeWithin(const engine::NumRange& in, const engine::NumRange& out) {
  const bool lo_ok = out.lo < in.lo || (out.lo == in.lo && (out.lo_incl || !in.lo_incl));
  const bool hi_ok = out.hi > in.hi || (out.hi == in.hi && (out.hi_incl || !in.hi_incl));
  return lo_ok && hi_ok;
}

// Minutes of the UTC day a time() condition accepts.
std::bitset<1440> UtcMinutes(const Condition& c) {
  std::bitset<1440> b;
  // Same test as Condition::Evaluate: [from, to), wrapping when to < from. Ends may be
  // 1440 (24:00), so the minutes are enumerated rather than walked from `from` to `to`.
  for (const auto& [from, to] : c.minutes()) {
    for (int m = 0; m < 1440; ++m) {
      if (from <= to ? (m >= from && m < to) : (m >= from || m < to)) {
        b.set(static_cast<size_t>(((m - c.tz_offset_min()) % 1440 + 1440) % 1440));
      }
    }
  }
  return b;
}

bool CidrWithin(const engine::CidrBlock& in, const engine::CidrBlock& out) {
  return in.v6 == out.v6 && in.prefix_len >= out.prefix_len && out.Contains(in.addr, in.v6);
}

}  // namespace

Tri CellsOverlap(const Condition& a, const Condition& b) {
  if (a.op() == Op::kAny || b.op() == Op::kAny) return Tri::kYes;
  const FieldValue missing;
  if (a.op() == Op::kMissing || b.op() == Op::kMissing) {
    const Condition& other = a.op() == Op::kMissing ? b : a;
    return other.Evaluate(missing) ? Tri::kYes : Tri::kNo;
  }
  if (IsLiteralSet(a) || IsLiteralSet(b)) {
    const Condition& lit = IsLiteralSet(a) ? a : b;
    const Condition& other = IsLiteralSet(a) ? b : a;
    if (other.icase() && other.op() != Op::kRegex) {
      // Fold the literals and compare with the folded strings of `other`.
      for (const auto& s : lit.strings()) {
        if (other.Evaluate(FieldValue::Text(s))) return Tri::kYes;
      }
      return Tri::kMaybe;
    }
    for (const FieldValue& v : LiteralValues(lit)) {
      if (other.Evaluate(v)) return Tri::kYes;
    }
    return Tri::kNo;
  }
  if (a.op() == Op::kExists || b.op() == Op::kExists) return Tri::kYes;
  if (a.op() != b.op() || a.negate() || b.negate()) return Tri::kMaybe;
  switch (a.op()) {
    case Op::kLess:
      return RangesIntersect(a.range(), b.range()) ? Tri::kYes : Tri::kNo;
    case Op::kPrefix:
    case Op::kSuffix:
      if (a.icase() != b.icase()) return Tri::kMaybe;
      for (const auto& x : a.strings()) {
        for (const auto& y : b.strings()) {
          const auto& shorter = x.size() <= y.size() ? x : y;
          const auto& longer = x.size() <= y.size() ? y : x;
          const bool fits = a.op() == Op::kPrefix ? longer.compare(0, shorter.size(), shorter) == 0
                                                  : longer.compare(longer.size() - shorter.size(),
                                                                   shorter.size(), shorter) == 0;
          if (fits) return Tri::kYes;
        }
      }
      return Tri::kNo;
    case Op::kCidr:
      for (const auto& x : a.cidrs()) {
        for (const auto& y : b.cidrs()) {
          if (CidrWithin(x, y) || CidrWithin(y, x)) return Tri::kYes;
        }
      }
      return Tri::kNo;
    case Op::kTimeOfDay:
      return (UtcMinutes(a) & UtcMinutes(b)).any() ? Tri::kYes : Tri::kNo;
    case Op::kWeekday:
      if (a.tz_offset_min() != b.tz_offset_min()) return Tri::kMaybe;
      return (a.weekdays() & b.weekdays()) ? Tri::kYes : Tri::kNo;
    case Op::kRegex:
      return a.pattern() == b.pattern() && a.icase() == b.icase() ? Tri::kYes : Tri::kMaybe;
    default:
      return Tri::kMaybe;
  }
}

Tri CellSubsumes(const Condition& outer, const Condition& inner) {
  if (outer.op() == Op::kAny) return Tri::kYes;
  if (inner.op() == Op::kAny) return Tri::kNo;
  const FieldValue missing;
  if (inner.op() == Op::kMissing) return outer.Evaluate(missing) ? Tri::kYes : Tri::kNo;
  if (IsLiteralSet(inner)) {
    for (const FieldValue& v : LiteralValues(inner)) {
      if (!outer.Evaluate(v)) return Tri::kNo;
    }
    return Tri::kYes;
  }
  if (outer.op() == Op::kExists) {
    // Every positive operator needs the field; negated ones also accept a missing field.
    return inner.op() == Op::kExists || IsPositive(inner) ? Tri::kYes : Tri::kNo;
  }
  if (outer.op() == Op::kMissing) return Tri::kNo;
  if (outer.op() != inner.op() || outer.negate() != inner.negate() ||
      outer.icase() != inner.icase()) {
    return Tri::kMaybe;
  }
  if (outer.negate()) return outer.Describe() == inner.Describe() ? Tri::kYes : Tri::kMaybe;
  switch (outer.op()) {
    case Op::kLess:
      return RangeWithin(inner.range(), outer.range()) ? Tri::kYes : Tri::kNo;
    case Op::kEq:
    case Op::kIn:  // icase sets: every inner string in the outer set
      for (const auto& s : inner.strings()) {
        if (std::find(outer.strings().begin(), outer.strings().end(), s) == outer.strings().end()) {
          return Tri::kNo;
        }
      }
      return Tri::kYes;
    case Op::kPrefix:
    case Op::kSuffix:
      for (const auto& i : inner.strings()) {
        bool covered = false;
        for (const auto& o : outer.strings()) {
          if (o.size() <= i.size() &&
              (outer.op() == Op::kPrefix ? i.compare(0, o.size(), o) == 0
                                         : i.compare(i.size() - o.size(), o.size(), o) == 0)) {
            covered = true;
          }
        }
        if (!covered) return Tri::kNo;
      }
      return Tri::kYes;
    case Op::kContains:
      for (const auto& i : inner.strings()) {
        bool covered = false;
        for (const auto& o : outer.strings()) covered |= i.find(o) != std::string::npos;
        if (!covered) return Tri::kMaybe;
      }
      return Tri::kYes;
    case Op::kCidr:
      for (const auto& i : inner.cidrs()) {
        bool covered = false;
        for (const auto& o : outer.cidrs()) covered |= CidrWithin(i, o);
        if (!covered) return Tri::kNo;
      }
      return Tri::kYes;
    case Op::kTimeOfDay: {
      auto in = UtcMinutes(inner), out = UtcMinutes(outer);
      return (in & ~out).none() ? Tri::kYes : Tri::kNo;
    }
    case Op::kWeekday:
      if (outer.tz_offset_min() != inner.tz_offset_min()) return Tri::kMaybe;
      return (inner.weekdays() & ~outer.weekdays()) == 0 ? Tri::kYes : Tri::kNo;
    case Op::kRegex:
      return outer.pattern() == inner.pattern() ? Tri::kYes : Tri::kMaybe;
    default:
      return Tri::kMaybe;
  }
}

void AnalyzeTable(const engine::TableSpec& t, Diagnostics* diags) {
  const size_t n = t.rows.size();
  if (n < 2) return;
  const bool unique = t.hit_policy == engine::HitPolicy::kUnique;
  const bool ordered =
      t.hit_policy == engine::HitPolicy::kFirst || t.hit_policy == engine::HitPolicy::kPriority;
  if (!unique && !ordered && t.hit_policy != engine::HitPolicy::kCollect) return;

  // Bucket rows on the column with the most single-literal cells: rows in different
  // buckets cannot overlap, so only pairs inside a bucket, and pairs with unbucketed rows,
  // are compared.
  size_t best_col = t.columns.size(), best_count = 0;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    size_t count = 0;
    for (const auto& r : t.rows) {
      const Condition& cond = r.conditions[c];
      count += cond.op() == Op::kEq && IsPositive(cond) && !cond.icase();
    }
    if (count > best_count) best_count = count, best_col = c;
  }
  std::unordered_map<std::string, std::vector<uint32_t>> buckets;
  std::vector<uint32_t> others;
  // A field that may hold a number matches `90` and `90.0` alike: numeric literals share
  // the bucket of their value there, so the buckets never separate rows that overlap.
  using Root = engine::FieldPath::Root;
  const Root root = best_col < t.columns.size() ? t.columns[best_col].field.root() : Root::kLabel;
  const bool text_only =
      root == Root::kLabel || root == Root::kMessage || root == Root::kSource || root == Root::kId;
  auto bucket_key = [&](const Condition& c) {
    if (text_only || std::isnan(c.numbers()[0])) return c.strings()[0];
    return "#" + std::string(FieldValue::Number(c.numbers()[0]).text());
  };
  for (uint32_t i = 0; i < n; ++i) {
    const Condition* cond = best_col < t.columns.size() ? &t.rows[i].conditions[best_col] : nullptr;
    if (cond && cond->op() == Op::kEq && IsPositive(*cond) && !cond->icase()) {
      buckets[bucket_key(*cond)].push_back(i);
    } else {
      others.push_back(i);
    }
  }
  size_t pairs = others.size() * others.size() / 2 + others.size() * (n - others.size());
  for (const auto& [k, v] : buckets) pairs += v.size() * v.size() / 2;
  if (pairs > kMaxPairs) {
    diags->Warning(t.file, 0, 0,
                   "table '" + t.name + "': overlap and shadowing checks skipped (" +
                       std::to_string(pairs) + " row pairs; add an equality column)");
    return;
  }
  // Rank order for `first` / `priority`: who wins when both match.
  auto wins = [&](uint32_t a, uint32_t b) {
    if (t.hit_policy == engine::HitPolicy::kPriority && t.rows[a].priority != t.rows[b].priority) {
      return t.rows[a].priority > t.rows[b].priority;
    }
    return a < b;
  };
  std::vector<bool> shadowed(n, false);
  auto check = [&](uint32_t a, uint32_t b) {
    if (a == b) return;
    if (a > b) std::swap(a, b);
    const auto& ra = t.rows[a];
    const auto& rb = t.rows[b];
    if (unique || t.hit_policy == engine::HitPolicy::kCollect) {
      Tri all = Tri::kYes;
      for (size_t c = 0; c < t.columns.size() && all != Tri::kNo; ++c) {
        Tri o = CellsOverlap(ra.conditions[c], rb.conditions[c]);
        if (o == Tri::kNo)
          all = Tri::kNo;
        else if (o == Tri::kMaybe)
          all = Tri::kMaybe;
      }
      if (!unique) {
        bool same = true;
        for (size_t c = 0; c < t.columns.size() && same; ++c) {
          same = ra.conditions[c].Describe() == rb.conditions[c].Describe();
        }
        if (same) {
          diags->Warning(t.file, rb.where.line, rb.where.column,
                         "row '" + rb.id + "' has the same conditions as row '" + ra.id +
                             "' (line " + std::to_string(ra.where.line) + ")");
        }
        return;
      }
      if (all == Tri::kYes) {
        diags->Error(t.file, rb.where.line, rb.where.column,
                     "rows '" + ra.id + "' (line " + std::to_string(ra.where.line) + ") and '" +
                         rb.id + "' overlap: hit policy 'unique' allows one match per event");
      } else if (all == Tri::kMaybe) {
        diags->Warning(t.file, rb.where.line, rb.where.column,
                       "rows '" + ra.id + "' (line " + std::to_string(ra.where.line) + ") and '" +
                           rb.id + "' may overlap (could not be decided for every column)");
      }
      return;
    }
    const uint32_t win = wins(a, b) ? a : b;
    const uint32_t lose = win == a ? b : a;
    if (shadowed[lose]) return;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (CellSubsumes(t.rows[win].conditions[c], t.rows[lose].conditions[c]) != Tri::kYes) return;
    }
    shadowed[lose] = true;
    const auto& rw = t.rows[win];
    const auto& rl = t.rows[lose];
    diags->Error(t.file, rl.where.line, rl.where.column,
                 "row '" + rl.id + "' can never fire: row '" + rw.id + "' (line " +
                     std::to_string(rw.where.line) +
                     ") matches every event it matches and wins under hit policy '" +
                     engine::HitPolicyName(t.hit_policy) + "'");
  };
  for (const auto& [k, v] : buckets) {
    for (size_t i = 0; i < v.size(); ++i) {
      for (size_t j = i + 1; j < v.size(); ++j) check(v[i], v[j]);
      for (uint32_t o : others) check(v[i], o);
    }
  }
  for (size_t i = 0; i < others.size(); ++i) {
    for (size_t j = i + 1; j < others.size(); ++j) check(others[i], others[j]);
  }
}

std::string FieldKey(const engine::FieldPath& field) {
  using Root = engine::FieldPath::Root;
  switch (field.root()) {
    case Root::kBare:
    case Root::kLabel:
      return field.name();
    case Root::kValue:
      return "values." + field.name();
    default:
      return field.text();
  }
}

const std::set<std::string>& WellKnownFields() {
  static const std::set<std::string> names = {
      "alertname", "severity", "instance", "job",    "namespace", "pod",
      "container", "service",  "cluster",  "node",   "host",      "team",
      "status",    "env",      "message",  "source", "id",        "timestamp"};
  return names;
}

void WarnMisspeltFields(const std::vector<engine::TableSpec>& tables,
                        const std::set<std::string>& other_uses, Diagnostics* diags) {
  // field -> the tables whose columns name it
  std::map<std::string, std::set<std::string>> tables_of;
  for (const auto& t : tables) {
    for (const auto& c : t.columns) tables_of[FieldKey(c.field)].insert(t.name);
  }
  std::set<std::string> used = other_uses;
  used.insert(WellKnownFields().begin(), WellKnownFields().end());
  for (const auto& [field, names] : tables_of) used.insert(field);
  for (const auto& t : tables) {
    std::set<std::string> warned;
    for (const auto& c : t.columns) {
      const std::string key = FieldKey(c.field);
      if (tables_of[key].size() > 1 || other_uses.count(key) || WellKnownFields().count(key) ||
          !warned.insert(key).second) {
        continue;
      }
      std::string best;
      size_t best_d = 3;
      for (const std::string& u : used) {
        if (u == key) continue;
        // A field only this table names cannot be the near name of its own typo.
        if (auto it = tables_of.find(u); it != tables_of.end() && it->second.size() == 1 &&
                                         *it->second.begin() == t.name && !other_uses.count(u) &&
                                         !WellKnownFields().count(u)) {
          continue;
        }
        const size_t d = base::EditDistance(key, u, 2);
        if (d < best_d && 2 * d < u.size()) best_d = d, best = u;
      }
      if (best.empty()) continue;
      diags->Warning(c.where.file.empty() ? t.file : c.where.file, c.where.line, c.where.column,
                     "condition column '" + c.field.text() + "' names a field that no other " +
                         "table, labeling rule or test case uses (did you mean '" + best + "'?)");
    }
  }
}

}  // namespace reflex::rules
