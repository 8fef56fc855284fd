#include "reflex/engine/matcher.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "reflex/base/utf8.h"
#include "reflex/engine/topology.h"

namespace reflex::engine {

const char* VerdictName(Verdict v) { return kVerdictNames.Name(v).data(); }

const char* HitPolicyName(HitPolicy p) { return kHitPolicyNames.Name(p).data(); }

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Open-addressing map from key text to a child node: one probe sequence over a flat slot
// array, keys in one arena. Built once, read-only after.
class FlatKeyMap {
 public:
  void Build(const std::vector<std::pair<std::string, uint32_t>>& items) {
    size_t cap = 8;
    while (cap < items.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const auto& [key, value] : items) {
      const uint64_t h = StringHash{}(key);
      size_t i = h & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      Slot& sl = slots_[i];
      sl.hash = h;
      sl.len = static_cast<uint32_t>(key.size());
      sl.value = value;
      sl.used = 1;
      if (key.size() <= sizeof(sl.inline_key)) {
        std::memcpy(sl.inline_key, key.data(), key.size());
      } else {
        sl.off = static_cast<uint32_t>(arena_.size());
        arena_ += key;
      }
    }
    size_ = items.size();
  }
  const uint32_t* Find(std::string_view key) const {
    if (size_ == 0) return nullptr;
    const uint64_t h = StringHash{}(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& sl = slots_[i];
      if (!sl.used) return nullptr;
      if (sl.hash == h && sl.len == key.size()) {
        const char* data = sl.len <= sizeof(sl.inline_key) ? sl.inline_key : arena_.data() + sl.off;
        if (std::memcmp(data, key.data(), key.size()) == 0) return &sl.value;
      }
    }
  }
  bool empty() const { return size_ == 0; }
  template <typename F>
  void ForEachValue(F f) const {
    for (const Slot& sl : slots_) {
      if (sl.used) f(sl.value);
    }
  }

 private:
  // Keys up to 20 bytes live in the slot itself: one cache line per probe.
  struct Slot {
    uint64_t hash = 0;
    uint32_t len = 0, value = 0, used = 0, off = 0;
    char inline_key[24] = {};
  };
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0, size_ = 0;
};

// Leaves at or under this size are scanned; splitting them costs more than it saves.
constexpr size_t kLeafSize = 6;
constexpr size_t kMaxDepth = 12;
// A split must cut the expected candidate count to this fraction of the node's rows.
constexpr double kMinGain = 0.8;
constexpr int64_t kRegexSetMaxMem = int64_t{512} << 20;

std::string& thread_local_render_buffer() {
  thread_local std::string buf;
  return buf;
}

// A number's hash key: its text as a field value (FieldValue::Number folds -0 into 0).
std::string CanonicalNumber(double d) { return std::string(FieldValue::Number(d).text()); }

}  // namespace

// One table's discrimination tree. See matcher.h for the shape. Rows are referred to by
// rank: their position in the order the hit policy prefers (file order, or priority).
class CompiledTable {
 public:
  explicit CompiledTable(const TableSpec& spec);
  Status Build();
  void Match(const Event& ev, uint32_t table_index, MatchScratch* s, MatchResult* out) const;
  CompiledRuleSet::Stats Stats() const;

 private:
  enum class Kind : uint8_t { kLeaf, kHash, kRegexSet, kInterval };
  // A row on a path through the tree, with the columns the path already proved for it.
  // Carries its row's check range so a leaf scan reads entries and checks only.
  struct Entry {
    uint32_t rank;
    uint32_t skip;  // bit c: column c (< 32) is already proved
    uint32_t check_begin, check_end;
    bool operator==(const Entry&) const = default;
  };
  static uint32_t Bit(uint16_t c) { return c < 32 ? uint32_t{1} << c : 0; }
  // Nodes are small (the tree is walked once per event and table); their bulky parts live
  // in side arrays indexed by `a` / `b`.
  struct Node {
    Kind kind = Kind::kLeaf;
    uint16_t column = 0;
    int32_t rest = -1;
    uint32_t a = 0;  // leaf: first entry; hash: exact map; regex: regex part; interval: part
    uint32_t b = 0;  // leaf: end of entries; hash: folded map (kNoMap when empty)
  };
  static constexpr uint32_t kNoMap = 0xffffffff;
  struct RegexPart {
    std::unique_ptr<RE2::Set> set;
    std::vector<uint32_t> children;  // per set pattern index
  };
  struct IntervalPart {
    std::vector<double> bounds;     // sorted distinct endpoints
    std::vector<int32_t> children;  // 2 * bounds.size() + 1 segments
  };
  // A cell to verify, with the common operators laid out flat so a leaf scan touches one
  // contiguous array instead of chasing into Condition objects.
  struct Check {
    enum Kind : uint8_t { kGeneric, kEqText, kRange } kind = kGeneric;
    uint8_t incl = 0;  // kRange: bit 0 low end included, bit 1 high end included
    uint16_t column = 0;
    uint32_t len = 0;  // kEqText: literal length
    union {
      char inl[8];    // kEqText: literal of up to 8 bytes
      uint32_t off;   // kEqText: offset of a longer literal in text_arena_
      uint32_t cond;  // kGeneric: index into generic_
    } u = {};
    double a = 0;  // kEqText: the literal as a number (NaN if none); kRange: low end
    double b = 0;  // kRange: high end
  };

  int32_t BuildNode(std::vector<Entry> ranks, uint64_t used, size_t depth);
  int32_t MakeLeaf(std::vector<Entry> ranks);
  const FieldValue& Column(const Event& ev, uint16_t c, MatchScratch* s) const;
  bool Verify(const Entry& e, const Event& ev, MatchScratch* s) const;
  void Visit(int32_t node, const Event& ev, MatchScratch* s, uint32_t* best, size_t depth) const;
  const Condition& Cell(uint32_t rank, uint16_t c) const {
    return spec_.rows[by_rank_[rank]].conditions[c];
  }

  const TableSpec& spec_;
  bool collect_;
  std::vector<uint32_t> by_rank_;      // rank -> row index
  std::vector<Check> checks_;          // the non-blank cells, grouped by rank
  std::vector<uint32_t> check_begin_;  // per rank: first index into checks_ (+1 sentinel)
  std::vector<const Condition*> generic_;
  std::string text_arena_;
  std::vector<Node> nodes_;
  std::vector<Entry> entries_;  // leaf rows, leaf by leaf, ascending rank within a leaf
  std::vector<FlatKeyMap> maps_;
  std::vector<RegexPart> regex_parts_;
  std::vector<IntervalPart> interval_parts_;
  int32_t root_ = -1;
  Status build_status_;
};

CompiledTable::CompiledTable(const TableSpec& spec)
    : spec_(spec), collect_(spec.hit_policy == HitPolicy::kCollect) {}

Status CompiledTable::Build() {
  const size_t n = spec_.rows.size();
  if (spec_.columns.size() > 64) {
    return InvalidArgument("table '" + spec_.name + "' has more than 64 condition columns");
  }
  by_rank_.resize(n);
  for (size_t i = 0; i < n; ++i) by_rank_[i] = static_cast<uint32_t>(i);
  if (spec_.hit_policy == HitPolicy::kPriority) {
    std::stable_sort(by_rank_.begin(), by_rank_.end(), [&](uint32_t a, uint32_t b) {
      return spec_.rows[a].priority > spec_.rows[b].priority;
    });
  }
  check_begin_.reserve(n + 1);
  for (uint32_t r = 0; r < n; ++r) {
    check_begin_.push_back(static_cast<uint32_t>(checks_.size()));
    const RowSpec& row = spec_.rows[by_rank_[r]];
    if (row.conditions.size() != spec_.columns.size()) {
      return InvalidArgument("table '" + spec_.name + "' row '" + row.id + "' has " +
                             std::to_string(row.conditions.size()) + " cells for " +
                             std::to_string(spec_.columns.size()) + " columns");
    }
    for (uint16_t c = 0; c < row.conditions.size(); ++c) {
      const Condition& cond = row.conditions[c];
      if (cond.op() == Op::kAny) continue;
      Check ch;
      ch.column = c;
      if (cond.op() == Op::kEq && !cond.negate() && !cond.icase()) {
        const std::string& lit = cond.strings()[0];
        ch.kind = Check::kEqText;
        ch.len = static_cast<uint32_t>(lit.size());
        if (lit.size() <= sizeof(ch.u.inl)) {
          std::memcpy(ch.u.inl, lit.data(), lit.size());
        } else {
          ch.u.off = static_cast<uint32_t>(text_arena_.size());
          text_arena_ += lit;
        }
        ch.a = cond.numbers()[0];
      } else if (cond.op() == Op::kLess && !cond.negate()) {
        ch.kind = Check::kRange;
        ch.a = cond.range().lo;
        ch.b = cond.range().hi;
        ch.incl =
            static_cast<uint8_t>((cond.range().lo_incl ? 1 : 0) | (cond.range().hi_incl ? 2 : 0));
      } else {
        ch.u.cond = static_cast<uint32_t>(generic_.size());
        generic_.push_back(&cond);
      }
      checks_.push_back(ch);
    }
  }
  check_begin_.push_back(static_cast<uint32_t>(checks_.size()));
  std::vector<Entry> all(n);
  for (uint32_t r = 0; r < n; ++r) all[r] = Entry{r, 0, check_begin_[r], check_begin_[r + 1]};
  root_ = BuildNode(std::move(all), 0, 0);
  return build_status_;
}

int32_t CompiledTable::MakeLeaf(std::vector<Entry> ranks) {
  Node node;
  node.kind = Kind::kLeaf;
  node.a = static_cast<uint32_t>(entries_.size());
  entries_.insert(entries_.end(), ranks.begin(), ranks.end());
  node.b = static_cast<uint32_t>(entries_.size());
  nodes_.push_back(node);
  return static_cast<int32_t>(nodes_.size() - 1);
}

int32_t CompiledTable::BuildNode(std::vector<Entry> ranks, uint64_t used, size_t depth) {
  const size_t n = ranks.size();
  if (n <= kLeafSize || depth >= kMaxDepth) return MakeLeaf(std::move(ranks));

  // Score every unused column: the expected number of rows an event still has to look at
  // after splitting on it (the rest list plus an average bucket).
  enum class Split { kNone, kHash, kRegex, kInterval } best_kind = Split::kNone;
  double best_cost = static_cast<double>(n) * kMinGain;
  uint16_t best_col = 0;
  for (uint16_t c = 0; c < spec_.columns.size(); ++c) {
    if ((used >> c) & 1) continue;
    size_t hashable = 0, regex = 0, ranged = 0;
    std::vector<std::string_view> keys, patterns;
    std::vector<double> ends;
    for (const Entry& e : ranks) {
      const Condition& cond = Cell(e.rank, c);
      if (cond.IsHashable()) {
        ++hashable;
        for (const auto& s : cond.strings()) keys.push_back(s);
      } else if (cond.op() == Op::kRegex && !cond.negate()) {
        ++regex;
        patterns.push_back(cond.pattern());
      } else if (cond.op() == Op::kLess && !cond.negate()) {
        ++ranged;
        ends.push_back(cond.range().lo);
        ends.push_back(cond.range().hi);
      }
    }
    auto distinct = [](auto v) {
      std::sort(v.begin(), v.end());
      return static_cast<size_t>(std::unique(v.begin(), v.end()) - v.begin());
    };
    if (hashable > 0) {
      const double cost = static_cast<double>(n - hashable) +
                          static_cast<double>(keys.size()) / static_cast<double>(distinct(keys));
      if (cost < best_cost) best_cost = cost, best_kind = Split::kHash, best_col = c;
    }
    if (regex >= 8) {
      // An RE2::Set pass costs about as much as checking a few rows.
      const double cost = static_cast<double>(n - regex) + 4.0 +
                          static_cast<double>(regex) / static_cast<double>(distinct(patterns));
      if (cost < best_cost) best_cost = cost, best_kind = Split::kRegex, best_col = c;
    }
    if (ranged > 0) {
      // Intervals usually overlap: assume a segment holds a quarter of them at best.
      const size_t segs = 2 * distinct(ends) + 1;
      const double per_seg = std::max(static_cast<double>(ranged) / 4.0,
                                      static_cast<double>(ranged) / static_cast<double>(segs));
      const double cost = static_cast<double>(n - ranged) + per_seg;
      if (cost < best_cost) best_cost = cost, best_kind = Split::kInterval, best_col = c;
    }
  }
  if (best_kind == Split::kNone) return MakeLeaf(std::move(ranks));

  const uint16_t c = best_col;
  const uint32_t bit = Bit(c);
  const uint64_t child_used = used | (uint64_t{1} << c);
  Node node;
  node.column = c;
  std::vector<Entry> rest;

  if (best_kind == Split::kHash) {
    node.kind = Kind::kHash;
    std::unordered_map<std::string, std::vector<Entry>> exact, folded;
    for (const Entry& e : ranks) {
      const Condition& cond = Cell(e.rank, c);
      if (!cond.IsHashable()) {
        rest.push_back(e);
        continue;
      }
      auto& map = cond.icase() ? folded : exact;
      for (size_t i = 0; i < cond.strings().size(); ++i) {
        // An event that reaches the child of one of the cell's own strings satisfies the
        // cell: the path proves the column.
        auto add = [&](const std::string& key) {
          auto& v = map[key];
          const bool proven =
              std::find(cond.strings().begin(), cond.strings().end(), key) != cond.strings().end();
          if (v.empty() || v.back().rank != e.rank)
            v.push_back(Entry{e.rank, e.skip | (proven ? bit : 0u), e.check_begin, e.check_end});
        };
        add(cond.strings()[i]);
        // Numeric literals also answer to the canonical text of the number, which is how
        // numeric event values are looked up ("90.0" in a cell, 90 in the event).
        if (!std::isnan(cond.numbers()[i])) add(CanonicalNumber(cond.numbers()[i]));
      }
    }
    // Build children after collecting, since BuildNode appends to nodes_.
    std::vector<std::pair<std::string, uint32_t>> ex, fo;
    for (auto& [k, v] : exact)
      ex.emplace_back(k, static_cast<uint32_t>(BuildNode(std::move(v), child_used, depth + 1)));
    for (auto& [k, v] : folded)
      fo.emplace_back(k, static_cast<uint32_t>(BuildNode(std::move(v), child_used, depth + 1)));
    node.a = static_cast<uint32_t>(maps_.size());
    maps_.emplace_back().Build(ex);
    node.b = kNoMap;
    if (!fo.empty()) {
      node.b = static_cast<uint32_t>(maps_.size());
      maps_.emplace_back().Build(fo);
    }
  } else if (best_kind == Split::kRegex) {
    node.kind = Kind::kRegexSet;
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(kRegexSetMaxMem);
    RegexPart part;
    part.set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
    std::unordered_map<std::string, int> index;
    std::vector<std::vector<Entry>> groups;
    for (const Entry& e : ranks) {
      const Condition& cond = Cell(e.rank, c);
      if (cond.op() != Op::kRegex || cond.negate()) {
        rest.push_back(e);
        continue;
      }
      const std::string pat = (cond.icase() ? "(?i)" : "") + cond.pattern();
      auto [it, fresh] = index.try_emplace(pat, static_cast<int>(groups.size()));
      if (fresh) {
        groups.emplace_back();
        if (part.set->Add(pat, nullptr) != it->second) {
          build_status_ = Internal("RE2::Set refused pattern " + pat);
          return MakeLeaf(std::move(ranks));
        }
      }
      groups[static_cast<size_t>(it->second)].push_back(
          Entry{e.rank, e.skip | bit, e.check_begin, e.check_end});
    }
    if (!part.set->Compile()) return MakeLeaf(std::move(ranks));  // too big: scan instead
    for (auto& g : groups) {
      part.children.push_back(
          static_cast<uint32_t>(BuildNode(std::move(g), child_used, depth + 1)));
    }
    node.a = static_cast<uint32_t>(regex_parts_.size());
    regex_parts_.push_back(std::move(part));
  } else {
    node.kind = Kind::kInterval;
    IntervalPart part;
    std::vector<Entry> ranged;
    for (const Entry& e : ranks) {
      const Condition& cond = Cell(e.rank, c);
      if (cond.op() == Op::kLess && !cond.negate()) {
        ranged.push_back(e);
        for (double d : {cond.range().lo, cond.range().hi}) {
          if (std::isfinite(d)) part.bounds.push_back(d);
        }
      } else {
        rest.push_back(e);
      }
    }
    std::sort(part.bounds.begin(), part.bounds.end());
    part.bounds.erase(std::unique(part.bounds.begin(), part.bounds.end()), part.bounds.end());
    // Segment 2i is the open interval below bounds[i]; 2i+1 is the point bounds[i]; the last
    // segment is above every bound. A row joins every segment its interval touches.
    const size_t nseg = 2 * part.bounds.size() + 1;
    auto seg_of = [&](double x) {
      auto it = std::lower_bound(part.bounds.begin(), part.bounds.end(), x);
      const size_t i = static_cast<size_t>(it - part.bounds.begin());
      return (it != part.bounds.end() && *it == x) ? 2 * i + 1 : 2 * i;
    };
    // The first and last segment each row's interval touches.
    std::vector<std::pair<size_t, size_t>> spans;
    size_t entries = 0;
    for (const Entry& e : ranged) {
      const NumRange& rg = Cell(e.rank, c).range();
      size_t lo = std::isfinite(rg.lo) ? seg_of(rg.lo) : 0;
      if (std::isfinite(rg.lo) && lo % 2 == 1 && !rg.lo_incl) ++lo;
      size_t hi = std::isfinite(rg.hi) ? seg_of(rg.hi) : nseg - 1;
      if (std::isfinite(rg.hi) && hi % 2 == 1 && !rg.hi_incl) --hi;
      spans.emplace_back(lo, hi);
      if (lo <= hi) entries += hi - lo + 1;
    }
    if (entries > 8 * ranged.size() + nseg) return MakeLeaf(std::move(ranks));  // too much copying
    // Every segment in a row's span lies wholly inside its interval (the interval's ends
    // are bounds), so reaching the segment proves the column.
    std::vector<std::vector<Entry>> segs(nseg);
    for (size_t k = 0; k < ranged.size(); ++k) {
      for (size_t sg = spans[k].first; sg <= spans[k].second && sg < nseg; ++sg) {
        segs[sg].push_back(Entry{ranged[k].rank, ranged[k].skip | bit, ranged[k].check_begin,
                                 ranged[k].check_end});
      }
    }
    part.children.assign(nseg, -1);
    for (size_t s = 0; s < nseg; ++s) {
      if (segs[s].empty()) continue;
      if (s > 0 && segs[s] == segs[s - 1] && part.children[s - 1] >= 0) {
        part.children[s] = part.children[s - 1];
        continue;
      }
      part.children[s] = BuildNode(segs[s], child_used, depth + 1);
    }
    node.a = static_cast<uint32_t>(interval_parts_.size());
    interval_parts_.push_back(std::move(part));
  }
  if (!rest.empty()) node.rest = BuildNode(std::move(rest), child_used, depth + 1);
  nodes_.push_back(node);
  return static_cast<int32_t>(nodes_.size() - 1);
}

const FieldValue& CompiledTable::Column(const Event& ev, uint16_t c, MatchScratch* s) const {
  if (!s->column_resolved[c]) {
    s->column_values[c] = ev.Get(spec_.columns[c].field);
    s->column_resolved[c] = 1;
  }
  return s->column_values[c];
}

bool CompiledTable::Verify(const Entry& e, const Event& ev, MatchScratch* s) const {
  for (uint32_t i = e.check_begin; i < e.check_end; ++i) {
    const Check& ch = checks_[i];
    if (e.skip & Bit(ch.column)) continue;
    const FieldValue& v = Column(ev, ch.column, s);
    switch (ch.kind) {
      case Check::kEqText: {
        if (v.missing()) return false;
        if (v.is_number() && *v.number() == ch.a) break;
        const std::string_view t = v.text();
        if (t.size() != ch.len) return false;
        const char* lit = ch.len <= sizeof(ch.u.inl) ? ch.u.inl : text_arena_.data() + ch.u.off;
        if (std::memcmp(t.data(), lit, ch.len) != 0) return false;
        break;
      }
      case Check::kRange: {
        if (v.missing()) return false;
        auto d = v.number();
        if (!d || !((ch.incl & 1) ? *d >= ch.a : *d > ch.a) ||
            !((ch.incl & 2) ? *d <= ch.b : *d < ch.b)) {
          return false;
        }
        break;
      }
      case Check::kGeneric:
        if (!generic_[ch.u.cond]->Evaluate(v)) return false;
        break;
    }
  }
  return true;
}

void CompiledTable::Visit(int32_t idx, const Event& ev, MatchScratch* s, uint32_t* best,
                          size_t depth) const {
  while (idx >= 0) {
    const Node& node = nodes_[static_cast<size_t>(idx)];
    switch (node.kind) {
      case Kind::kLeaf:
        for (uint32_t k = node.a; k < node.b; ++k) {
          const Entry& e = entries_[k];
          const uint32_t r = e.rank;
          if (!collect_ && r >= *best) break;
          if (Verify(e, ev, s)) {
            if (collect_) {
              s->collected.push_back(r);
            } else {
              *best = r;
              break;
            }
          }
        }
        return;
      case Kind::kHash: {
        const FieldValue& v = Column(ev, node.column, s);
        if (!v.missing()) {
          const std::string_view t = v.text();
          if (const uint32_t* child = maps_[node.a].Find(t)) {
            Visit(static_cast<int32_t>(*child), ev, s, best, depth + 1);
          }
          if (node.b != kNoMap) {
            s->folded.assign(t);
            for (char& ch : s->folded) {
              if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            }
            if (const uint32_t* child = maps_[node.b].Find(s->folded)) {
              Visit(static_cast<int32_t>(*child), ev, s, best, depth + 1);
            }
          }
        }
        break;
      }
      case Kind::kRegexSet: {
        const FieldValue& v = Column(ev, node.column, s);
        if (!v.missing()) {
          std::vector<int>& hits = s->regex_hits[depth];
          RE2::Set::ErrorInfo info{};
          const RegexPart& part = regex_parts_[node.a];
          if (part.set->Match(v.text(), &hits, &info)) {
            for (int h : hits)
              Visit(static_cast<int32_t>(part.children[static_cast<size_t>(h)]), ev, s, best,
                    depth + 1);
          } else if (info.kind != RE2::Set::kNoError) {
            // The set's DFA ran out of memory: it cannot say which patterns match, so every
            // child is a candidate (verification stays exact).
            for (uint32_t ch : part.children)
              Visit(static_cast<int32_t>(ch), ev, s, best, depth + 1);
          }
        }
        break;
      }
      case Kind::kInterval: {
        const FieldValue& v = Column(ev, node.column, s);
        if (auto d = v.number(); d && !std::isnan(*d)) {
          const IntervalPart& part = interval_parts_[node.a];
          auto it = std::lower_bound(part.bounds.begin(), part.bounds.end(), *d);
          size_t i = static_cast<size_t>(it - part.bounds.begin());
          const size_t seg = (it != part.bounds.end() && *it == *d) ? 2 * i + 1 : 2 * i;
          if (part.children[seg] >= 0) Visit(part.children[seg], ev, s, best, depth + 1);
        }
        break;
      }
    }
    idx = node.rest;
  }
}

void CompiledTable::Match(const Event& ev, uint32_t table_index, MatchScratch* s,
                          MatchResult* out) const {
  const size_t ncols = spec_.columns.size();
  if (s->column_values.size() < ncols) s->column_values.resize(ncols);
  s->column_resolved.assign(ncols, 0);
  s->collected.clear();
  if (s->regex_hits.size() < kMaxDepth + 2) s->regex_hits.resize(kMaxDepth + 2);
  uint32_t best = std::numeric_limits<uint32_t>::max();
  Visit(root_, ev, s, &best, 0);
  if (collect_) {
    std::sort(s->collected.begin(), s->collected.end());
    for (uint32_t r : s->collected) out->matches.push_back({table_index, by_rank_[r]});
  } else if (best != std::numeric_limits<uint32_t>::max()) {
    out->matches.push_back({table_index, by_rank_[best]});
  }
}

CompiledRuleSet::Stats CompiledTable::Stats() const {
  CompiledRuleSet::Stats st;
  st.nodes = nodes_.size();
  // Depth by walking from the root.
  std::vector<std::pair<int32_t, size_t>> stack{{root_, 1}};
  while (!stack.empty()) {
    auto [i, d] = stack.back();
    stack.pop_back();
    if (i < 0) continue;
    const Node& n = nodes_[static_cast<size_t>(i)];
    st.max_depth = std::max(st.max_depth, d);
    if (n.kind == Kind::kLeaf) {
      ++st.leaves;
      st.max_leaf = std::max(st.max_leaf, static_cast<size_t>(n.b - n.a));
      continue;
    }
    stack.emplace_back(n.rest, d + 1);
    // Copy `d`: clang 14 cannot capture a structured binding.
    auto push = [&, depth = d](uint32_t c) {
      stack.emplace_back(static_cast<int32_t>(c), depth + 1);
    };
    if (n.kind == Kind::kHash) {
      maps_[n.a].ForEachValue(push);
      if (n.b != kNoMap) maps_[n.b].ForEachValue(push);
    } else if (n.kind == Kind::kRegexSet) {
      for (uint32_t c : regex_parts_[n.a].children) push(c);
    } else {
      int32_t last = -2;
      for (int32_t c : interval_parts_[n.a].children) {
        if (c != last && c >= 0) push(static_cast<uint32_t>(c));
        last = c;
      }
    }
  }
  return st;
}

// ---- CompiledRuleSet -------------------------------------------------------------------

CompiledRuleSet::~CompiledRuleSet() = default;

Result<std::shared_ptr<const CompiledRuleSet>> CompiledRuleSet::Create(
    std::vector<TableSpec> tables, LabelingSpec labeling, std::string version,
    std::shared_ptr<const Topology> topology, std::vector<InhibitRule> inhibit,
    std::shared_ptr<const PatternSet> patterns) {
  std::shared_ptr<CompiledRuleSet> rs(new CompiledRuleSet());
  rs->topology_ = std::move(topology);
  rs->patterns_ = std::move(patterns);
  for (auto& r : inhibit) {
    auto c = CompileInhibitRule(std::move(r));
    if (!c.ok()) return c.status();
    rs->inhibit_rules_.push_back(std::move(*c));
  }
  rs->tables_ = std::move(tables);
  rs->version_ = std::move(version);
  auto labeler = Labeler::Create(std::move(labeling));
  if (!labeler.ok()) return labeler.status();
  rs->labeler_ = std::move(*labeler);
  for (const TableSpec& t : rs->tables_) {
    auto ct = std::make_unique<CompiledTable>(t);
    if (Status s = ct->Build(); !s.ok()) return s;
    rs->compiled_.push_back(std::move(ct));
    auto& flags = rs->ignore_.emplace_back();
    auto& resolved = rs->handles_resolved_.emplace_back();
    auto& json = rs->row_json_.emplace_back();
    int status_column = -1;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const FieldPath& f = t.columns[c].field;
      if ((f.root() == FieldPath::Root::kBare || f.root() == FieldPath::Root::kLabel) &&
          f.name() == kStatusLabel) {
        status_column = static_cast<int>(c);
      }
    }
    for (const RowSpec& row : t.rows) {
      flags.push_back(row.IsIgnore() ? 1 : 0);
      const size_t sc = static_cast<size_t>(status_column);
      resolved.push_back(status_column >= 0 && sc < row.conditions.size() &&
                                 row.conditions[sc].op() != Op::kAny
                             ? 1
                             : 0);
      RowJson rj;
      rj.head = "{\"table\":";
      base::AppendJsonString(t.name, &rj.head);
      rj.head += ",\"row\":";
      base::AppendJsonString(row.id, &rj.head);
      rj.head += ",\"file\":";
      base::AppendJsonString(t.file, &rj.head);
      rj.head += ",\"line\":" + std::to_string(row.where.line) + ",\"actions\":[";
      for (const ActionSpec& a : row.actions) {
        ActionJson aj;
        aj.head = "{\"name\":";
        base::AppendJsonString(a.name, &aj.head);
        aj.head += ",\"params\":{";
        for (const auto& [key, tmpl] : a.params) {
          std::string k;
          base::AppendJsonString(key, &k);
          k += ':';
          aj.params.emplace_back(std::move(k), &tmpl);
        }
        rj.actions.push_back(std::move(aj));
      }
      rj.tail = "]";
      if (!row.runbook.empty()) {
        rj.tail += ",\"runbook\":";
        base::AppendJsonString(row.runbook, &rj.tail);
      }
      rj.tail += "}";
      json.push_back(std::move(rj));
    }
  }
  return std::shared_ptr<const CompiledRuleSet>(std::move(rs));
}

bool IsResolved(const Event& ev) {
  const std::string* status = ev.Label(kStatusLabel);
  return status != nullptr && *status == kResolvedStatus;
}

void CompiledRuleSet::AppendMatchJson(const RowMatch& m, const Event& ev, std::string* out,
                                      std::string_view not_run) const {
  const RowJson& rj = row_json_[m.table][m.row];
  out->append(rj.head);
  std::string& rendered = thread_local_render_buffer();
  for (size_t a = 0; a < rj.actions.size(); ++a) {
    const ActionJson& aj = rj.actions[a];
    if (a) out->push_back(',');
    out->append(aj.head);
    for (size_t p = 0; p < aj.params.size(); ++p) {
      if (p) out->push_back(',');
      out->append(aj.params[p].first);
      rendered.clear();
      aj.params[p].second->RenderTo(ev, &rendered);
      base::AppendJsonString(rendered, out);
    }
    out->append("}}");
  }
  if (not_run.empty()) {
    out->append(rj.tail);
    return;
  }
  out->append("],\"not_run\":");  // the tail starts with the list's closing bracket
  base::AppendJsonString(not_run, out);
  out->append(std::string_view(rj.tail).substr(1));
}

size_t CompiledRuleSet::row_count() const {
  size_t n = 0;
  for (const auto& t : tables_) n += t.rows.size();
  return n;
}

CompiledRuleSet::Stats CompiledRuleSet::TableStats(size_t table) const {
  return compiled_.at(table)->Stats();
}

namespace {
Verdict VerdictOf(const std::vector<TableSpec>& tables, const std::vector<RowMatch>& matches) {
  if (matches.empty()) return Verdict::kUnknown;
  for (const RowMatch& m : matches) {
    if (tables[m.table].rows[m.row].IsIgnore()) return Verdict::kSuppressed;
  }
  return Verdict::kKnown;
}
}  // namespace

void CompiledRuleSet::Match(const Event& ev, MatchScratch* scratch, MatchResult* out) const {
  out->Clear();
  for (uint32_t t = 0; t < compiled_.size(); ++t) compiled_[t]->Match(ev, t, scratch, out);
  out->verdict = out->matches.empty() ? Verdict::kUnknown : Verdict::kKnown;
  for (const RowMatch& m : out->matches) {
    if (ignore_[m.table][m.row]) {
      out->verdict = Verdict::kSuppressed;
      break;
    }
  }
}

// ---- reference evaluator ---------------------------------------------------------------

bool RowMatches(const TableSpec& table, const RowSpec& row, const Event& ev) {
  for (size_t c = 0; c < table.columns.size() && c < row.conditions.size(); ++c) {
    if (!row.conditions[c].Evaluate(ev.Get(table.columns[c].field))) return false;
  }
  return true;
}

void ReferenceMatch(const std::vector<TableSpec>& tables, const Event& ev, MatchResult* out) {
  out->Clear();
  for (uint32_t t = 0; t < tables.size(); ++t) {
    const TableSpec& table = tables[t];
    int best = -1;
    for (uint32_t r = 0; r < table.rows.size(); ++r) {
      if (!RowMatches(table, table.rows[r], ev)) continue;
      if (table.hit_policy == HitPolicy::kCollect) {
        out->matches.push_back({t, r});
      } else if (table.hit_policy == HitPolicy::kPriority) {
        if (best < 0 || table.rows[r].priority > table.rows[static_cast<size_t>(best)].priority) {
          best = static_cast<int>(r);
        }
      } else {
        best = static_cast<int>(r);
        break;
      }
    }
    if (best >= 0) out->matches.push_back({t, static_cast<uint32_t>(best)});
  }
  out->verdict = VerdictOf(tables, out->matches);
}

}  // namespace reflex::engine
