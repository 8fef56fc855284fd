// The fast Correlator. Per pattern: slots (one per group, fixed size) in a chunked pool with a
// free list, an open-addressing index from group key to slot, held events in a pooled singly
// linked list per slot (sorted by event time, stable), an intrusive LRU list over the slots,
// and a binary heap of timers with lazy deletion: a slot's live heap entry is the one whose
// deadline equals `queued`; a later deadline is re-queued when its entry pops, an earlier
// one pushes a new entry, and stale entries are dropped when the heap is compacted.
#include "reflex/engine/correlation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <unordered_set>

#include "correlation_common.h"
#include "reflex/engine/matcher.h"

namespace reflex::engine {

namespace {

constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A string in N bytes: up to N - 1 bytes inline, longer ones out of line (pointer and length
// in the first 16 bytes); can also be "missing" (a captured field the event lacked). The last
// byte tells which. Byte-aligned (the pointer is read with memcpy), so it packs into structs.
template <size_t N>
class BasicCompactString {
  static_assert(N >= 18 && N <= 128);

 public:
  BasicCompactString() { Reset(); }
  ~BasicCompactString() { Free(); }
  BasicCompactString(BasicCompactString&& o) noexcept {
    std::memcpy(b_, o.b_, sizeof(b_));
    o.Reset();
  }
  BasicCompactString& operator=(BasicCompactString&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(b_, o.b_, sizeof(b_));
      o.Reset();
    }
    return *this;
  }
  BasicCompactString(const BasicCompactString&) = delete;
  BasicCompactString& operator=(const BasicCompactString&) = delete;

  void Assign(std::string_view s) {
    Free();
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(b_, s.data(), s.size());
      b_[kTag] = static_cast<unsigned char>(s.size());
      return;
    }
    char* p = new char[s.size()];
    std::memcpy(p, s.data(), s.size());
    const uint64_t len = s.size();
    std::memcpy(b_, &p, sizeof(p));
    std::memcpy(b_ + 8, &len, sizeof(len));
    b_[kTag] = kHeap;
  }
  void SetMissing() {
    Free();
    b_[kTag] = kMissing;
  }
  bool missing() const { return b_[kTag] == kMissing; }
  std::string_view view() const {
    if (b_[kTag] == kHeap) {
      char* p;
      uint64_t len;
      std::memcpy(&p, b_, sizeof(p));
      std::memcpy(&len, b_ + 8, sizeof(len));
      return std::string_view(p, len);
    }
    if (b_[kTag] == kMissing) return {};
    return std::string_view(reinterpret_cast<const char*>(b_), b_[kTag]);
  }
  size_t heap_bytes() const { return b_[kTag] == kHeap ? view().size() : 0; }
  void Clear() { Free(); }  // frees an out-of-line string (a pooled slot is reused)

 private:
  static constexpr size_t kInline = N - 1;  // the bytes before the tag
  static constexpr size_t kTag = N - 1;
  static constexpr unsigned char kHeap = 0xFF, kMissing = 0xFE;
  void Free() {
    if (b_[kTag] == kHeap) {
      char* p;
      std::memcpy(&p, b_, sizeof(p));
      delete[] p;
    }
    b_[kTag] = 0;
  }
  void Reset() { b_[kTag] = 0; }
  unsigned char b_[N];
};
// Group keys and captured values: 23 bytes inline.
using CompactString = BasicCompactString<24>;
static_assert(sizeof(CompactString) == 24);

// One held member event (pooled): 32 bytes, the id inline up to 18 bytes (a derived id,
// "h-" + 16 hex digits, fits).
struct Held {
  int64_t t = 0;
  uint32_t next = kNil;
  uint8_t member = 0;  // ValidatePattern: at most 16 members
  BasicCompactString<19> id;
};
static_assert(sizeof(Held) == 32);

// A growable array whose elements never move: fixed chunks of 2^kShift elements, so a pool
// of a million elements holds at most one chunk more than it uses (a vector's doubling can
// hold twice as much) and growing it copies nothing.
template <typename T>
class Pool {
 public:
  static constexpr size_t kShift = 10;
  static constexpr size_t kChunk = size_t{1} << kShift;

  T& operator[](size_t i) { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  const T& operator[](size_t i) const { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  size_t size() const { return size_; }
  // Elements allocated (used or not), for MemoryBytes.
  size_t capacity() const { return chunks_.size() * kChunk; }
  size_t overhead_bytes() const { return chunks_.capacity() * sizeof(std::unique_ptr<T[]>); }
  void emplace_back() { resize(size_ + 1); }
  // Grows only (the correlator never gives elements back; freed ones go to a free list), so
  // every element past the old size is a fresh, value-initialised one.
  void resize(size_t n) {
    while (capacity() < n) chunks_.push_back(std::make_unique<T[]>(kChunk));
    size_ = std::max(size_, n);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

// One group's state.
struct Slot {
  CompactString key;
  int64_t wm = 0;                     // the group's watermark
  int64_t deadline = kNever;          // the armed timer
  int64_t queued = kNever;            // the deadline of its live heap entry
  uint32_t prev = kNil, next = kNil;  // LRU: prev towards the most recent
  uint32_t head = kNil, tail = kNil;  // held events, by time
  uint32_t n = 0;                     // held events (sustained: samples in the run)
  uint32_t bits = 0;                  // all_of: members held; sequence: next step; sustained: fired
};
static_assert(sizeof(Slot) <= 72);

struct TimerEntry {
  int64_t deadline;
  uint32_t slot;
  // Min-heap with std::push_heap (a max-heap): "less" is the later deadline.
  bool operator<(const TimerEntry& o) const { return deadline > o.deadline; }
};

}  // namespace

class CorrelatorImpl {
 public:
  explicit CorrelatorImpl(std::vector<PatternSpec> specs) : specs_(std::move(specs)) {
    rt_.resize(specs_.size());
    for (size_t i = 0; i < specs_.size(); ++i) {
      Rt& r = rt_[i];
      r.spec = &specs_[i];
      r.index = static_cast<uint32_t>(i);
      r.captures = PatternCaptures(specs_[i]);
      r.threshold = PatternThreshold(specs_[i]);
      r.table.assign(16, 0);
    }
  }

  Observation Observe(const Event& ev, int64_t t, std::vector<PatternOutput>* out) {
    Observation obs;
    for (Rt& r : rt_) ObservePattern(r, ev, t, &obs, out);
    return obs;
  }

  void Advance(int64_t now, std::vector<PatternOutput>* out) {
    for (Rt& r : rt_) {
      while (!r.heap.empty() && r.heap.front().deadline < now) {
        std::pop_heap(r.heap.begin(), r.heap.end());
        const TimerEntry e = r.heap.back();
        r.heap.pop_back();
        Slot& s = r.slots[e.slot];
        if (s.queued != e.deadline) continue;  // stale
        s.queued = kNever;
        --r.armed;
        if (s.deadline == kNever) continue;
        if (s.deadline >= now) {
          Queue(r, e.slot);
          continue;
        }
        Expire(r, e.slot, now, out);
      }
    }
  }

  void Drain(int64_t now, std::vector<PatternOutput>* out) {
    for (Rt& r : rt_) {
      while (r.lru_tail != kNil) {
        const uint32_t i = r.lru_tail;
        if (r.slots[i].head != kNil) {
          Emit(r, i, PatternOutcome::kEvicted, now, kNil, out);
          ++r.stats.evicted;
        }
        FreeSlot(r, i);
      }
      r.heap.clear();
      r.armed = 0;
    }
  }

  void TrackChanges(bool on) {
    track_ = on;
    if (!on) dirty_.clear();
  }

  std::optional<GroupState> State(uint32_t p, std::string_view key) const {
    if (p >= rt_.size()) return std::nullopt;
    const uint32_t i = Find(rt_[p], key, Hash(key));
    if (i == kNil) return std::nullopt;
    return Export(rt_[p], i);
  }

  void TakeChanges(std::vector<GroupChange>* out) {
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    for (auto& [p, key] : dirty_) {
      Rt& r = rt_[p];
      GroupChange& c = out->emplace_back();
      c.pattern = p;
      const uint32_t i = Find(r, key, Hash(key));
      if (i != kNil) c.state = Export(r, i);
      c.group_key = std::move(key);
    }
    dirty_.clear();
  }

  Status Restore(uint32_t p, std::string_view key, const GroupState& st,
                 std::vector<PatternOutput>* out) {
    if (p >= rt_.size()) return InvalidArgument("no pattern " + std::to_string(p));
    Rt& r = rt_[p];
    const size_t members = r.spec->members.size();
    for (const GroupState::HeldEvent& e : st.held) {
      if (e.member >= members) {
        return InvalidArgument("pattern '" + r.spec->name + "': held event " + e.event.id +
                               " names member " + std::to_string(e.member) + " of " +
                               std::to_string(members));
      }
    }
    const uint32_t h = Hash(key);
    if (uint32_t old = Find(r, key, h); old != kNil) FreeSlot(r, old);
    const uint32_t i = NewSlot(r, key, h, st.watermark, out);
    uint32_t tail = kNil;
    for (const GroupState::HeldEvent& e : st.held) {
      const uint32_t x = NewHeldFrom(r, e.event.id, e.event.time_ms, e.member, &e.event.captured);
      Slot& s = r.slots[i];
      if (tail == kNil) {
        s.head = x;
      } else {
        r.held[tail].next = x;
      }
      s.tail = tail = x;
    }
    Slot& s = r.slots[i];
    s.n = st.n;
    s.bits = st.bits;
    if (st.deadline != kNever) Arm(r, i, st.deadline);
    r.restored.emplace(key);
    return Status::Ok();
  }

  const std::vector<PatternSpec>& specs() const { return specs_; }
  const std::vector<FieldPath>& captures(uint32_t p) const { return rt_[p].captures; }
  PatternStats stats(uint32_t p) const {
    PatternStats st = rt_[p].stats;
    st.keys = rt_[p].keys;
    return st;
  }
  size_t MemoryBytes() const {
    size_t b = 0;
    for (const Rt& r : rt_) {
      b += r.slots.capacity() * sizeof(Slot) + r.free_slots.capacity() * sizeof(uint32_t) +
           r.table.capacity() * sizeof(uint64_t) + r.held.capacity() * sizeof(Held) +
           r.caps.capacity() * sizeof(CompactString) + r.heap.capacity() * sizeof(TimerEntry) +
           r.slots.overhead_bytes() + r.held.overhead_bytes() + r.caps.overhead_bytes();
      for (size_t i = 0; i < r.slots.size(); ++i) b += r.slots[i].key.heap_bytes();
      for (size_t i = 0; i < r.held.size(); ++i) b += r.held[i].id.heap_bytes();
      for (size_t i = 0; i < r.caps.size(); ++i) b += r.caps[i].heap_bytes();
    }
    return b;
  }

 private:
  struct Rt {
    const PatternSpec* spec = nullptr;
    uint32_t index = 0;
    std::vector<FieldPath> captures;
    uint64_t threshold = 0;
    Pool<Slot> slots;
    std::vector<uint32_t> free_slots;
    uint64_t keys = 0;
    // Index: 0 = empty, else (32-bit hash << 32) | (slot + 1); linear probing.
    std::vector<uint64_t> table;
    Pool<Held> held;
    Pool<CompactString> caps;  // held.size() * captures.size()
    uint32_t free_held = kNil;
    uint32_t lru_head = kNil, lru_tail = kNil;  // most recent, least recent
    std::vector<TimerEntry> heap;
    uint64_t armed = 0;  // slots with a live heap entry
    PatternStats stats;
    // Groups put back by Restore and not freed since: they ignore events they already hold.
    std::unordered_set<std::string> restored;
  };

  void MarkDirty(const Rt& r, std::string_view key) {
    if (track_) dirty_.emplace_back(r.index, std::string(key));
  }

  GroupState Export(const Rt& r, uint32_t i) const {
    const Slot& s = r.slots[i];
    GroupState st;
    st.watermark = s.wm;
    st.deadline = s.deadline;
    st.n = s.n;
    st.bits = s.bits;
    for (uint32_t h = s.head; h != kNil; h = r.held[h].next) {
      st.held.push_back(GroupState::HeldEvent{r.held[h].member, Member(r, h)});
    }
    return st;
  }

  // True when slot `i` (a restored group) holds an event with this id.
  static bool HoldsId(const Rt& r, const Slot& s, std::string_view id) {
    for (uint32_t h = s.head; h != kNil; h = r.held[h].next) {
      if (r.held[h].id.view() == id) return true;
    }
    return false;
  }

  static uint32_t Hash(std::string_view key) {
    const uint64_t h = std::hash<std::string_view>{}(key);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  // ---- index ----
  static uint32_t Find(const Rt& r, std::string_view key, uint32_t h) {
    const size_t mask = r.table.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const uint64_t e = r.table[i];
      if (e == 0) return kNil;
      if (static_cast<uint32_t>(e >> 32) == h) {
        const uint32_t slot = static_cast<uint32_t>(e) - 1;
        if (r.slots[slot].key.view() == key) return slot;
      }
    }
  }
  static void InsertEntry(std::vector<uint64_t>* table, uint64_t e) {
    const size_t mask = table->size() - 1;
    for (size_t i = static_cast<uint32_t>(e >> 32) & mask;; i = (i + 1) & mask) {
      if ((*table)[i] == 0) {
        (*table)[i] = e;
        return;
      }
    }
  }
  static void Insert(Rt& r, uint32_t h, uint32_t slot) {
    if ((r.keys + 1) * 4 > r.table.size() * 3) {
      std::vector<uint64_t> bigger(r.table.size() * 2, 0);
      for (uint64_t e : r.table) {
        if (e != 0) InsertEntry(&bigger, e);
      }
      r.table.swap(bigger);
    }
    InsertEntry(&r.table, (static_cast<uint64_t>(h) << 32) | (static_cast<uint64_t>(slot) + 1));
  }
  static void Erase(Rt& r, uint32_t slot) {
    const uint32_t h = Hash(r.slots[slot].key.view());
    const size_t mask = r.table.size() - 1;
    size_t i = h & mask;
    while (static_cast<uint32_t>(r.table[i]) != slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion keeps probe sequences intact without tombstones.
    for (size_t j = (i + 1) & mask; r.table[j] != 0; j = (j + 1) & mask) {
      const size_t home = static_cast<uint32_t>(r.table[j] >> 32) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        r.table[i] = r.table[j];
        i = j;
      }
    }
    r.table[i] = 0;
  }

  // ---- LRU ----
  static void Unlink(Rt& r, uint32_t i) {
    Slot& s = r.slots[i];
    if (s.prev != kNil) r.slots[s.prev].next = s.next;
    if (s.next != kNil) r.slots[s.next].prev = s.prev;
    if (r.lru_head == i) r.lru_head = s.next;
    if (r.lru_tail == i) r.lru_tail = s.prev;
    s.prev = s.next = kNil;
  }
  static void PushFront(Rt& r, uint32_t i) {
    Slot& s = r.slots[i];
    s.prev = kNil;
    s.next = r.lru_head;
    if (r.lru_head != kNil) r.slots[r.lru_head].prev = i;
    r.lru_head = i;
    if (r.lru_tail == kNil) r.lru_tail = i;
  }
  static void Touch(Rt& r, uint32_t i) {
    if (r.lru_head == i) return;
    Unlink(r, i);
    PushFront(r, i);
  }

  // ---- timers ----
  static void Queue(Rt& r, uint32_t i) {
    Slot& s = r.slots[i];
    if (s.queued == kNever) ++r.armed;
    s.queued = s.deadline;
    r.heap.push_back(TimerEntry{s.deadline, i});
    std::push_heap(r.heap.begin(), r.heap.end());
    if (r.heap.size() > 2 * r.armed + 1024) Compact(r);
  }
  static void Arm(Rt& r, uint32_t i, int64_t d) {
    Slot& s = r.slots[i];
    s.deadline = d;
    if (d < s.queued) Queue(r, i);
  }
  static void Compact(Rt& r) {
    std::vector<TimerEntry> live;
    live.reserve(r.armed);
    for (const TimerEntry& e : r.heap) {
      if (r.slots[e.slot].queued == e.deadline) live.push_back(e);
    }
    // Two live entries for one slot cannot both equal `queued` unless they are duplicates.
    std::sort(live.begin(), live.end(), [](const TimerEntry& a, const TimerEntry& b) {
      return a.slot != b.slot ? a.slot < b.slot : a.deadline < b.deadline;
    });
    live.erase(std::unique(live.begin(), live.end(),
                           [](const TimerEntry& a, const TimerEntry& b) {
                             return a.slot == b.slot && a.deadline == b.deadline;
                           }),
               live.end());
    std::make_heap(live.begin(), live.end());
    r.heap.swap(live);
  }

  // ---- held events ----
  uint32_t NewHeld(Rt& r, const Event& ev, int64_t t, uint32_t member) {
    return NewHeldFrom(r, ev.id, t, member, nullptr, &ev);
  }
  // A held event from an event (`ev`) or from captured values (`captured`, restored).
  uint32_t NewHeldFrom(Rt& r, std::string_view id, int64_t t, uint32_t member,
                       const std::vector<std::optional<std::string>>* captured,
                       const Event* ev = nullptr) {
    uint32_t h;
    const size_t nc = r.captures.size();
    if (r.free_held != kNil) {
      h = r.free_held;
      r.free_held = r.held[h].next;
    } else {
      h = static_cast<uint32_t>(r.held.size());
      r.held.emplace_back();
      r.caps.resize(r.caps.size() + nc);
    }
    Held& x = r.held[h];
    x.t = t;
    x.id.Assign(id);
    x.next = kNil;
    x.member = static_cast<uint8_t>(member);
    for (size_t c = 0; c < nc; ++c) {
      CompactString& cs = r.caps[h * nc + c];
      if (ev != nullptr) {
        FieldValue v = ev->Get(r.captures[c]);
        if (v.missing()) {
          cs.SetMissing();
        } else {
          cs.Assign(v.text());
        }
      } else if (c < captured->size() && (*captured)[c]) {
        cs.Assign(*(*captured)[c]);
      } else {
        cs.SetMissing();
      }
    }
    return h;
  }
  static void FreeHeld(Rt& r, uint32_t h) {
    r.held[h].id.Clear();
    r.held[h].next = r.free_held;
    r.free_held = h;
  }
  // Inserts after every entry whose time is <= t.
  static void InsertSorted(Rt& r, Slot& s, uint32_t h) {
    const int64_t t = r.held[h].t;
    if (s.tail == kNil || r.held[s.tail].t <= t) {
      if (s.tail == kNil) {
        s.head = h;
      } else {
        r.held[s.tail].next = h;
      }
      s.tail = h;
      return;
    }
    uint32_t prev = kNil, cur = s.head;
    while (cur != kNil && r.held[cur].t <= t) {
      prev = cur;
      cur = r.held[cur].next;
    }
    r.held[h].next = cur;
    if (prev == kNil) {
      s.head = h;
    } else {
      r.held[prev].next = h;
    }
  }

  MemberEvent Member(const Rt& r, uint32_t h) const {
    MemberEvent m;
    m.id = std::string(r.held[h].id.view());
    m.time_ms = r.held[h].t;
    const size_t nc = r.captures.size();
    m.captured.resize(nc);
    for (size_t c = 0; c < nc; ++c) {
      const CompactString& cs = r.caps[h * nc + c];
      if (!cs.missing()) m.captured[c] = std::string(cs.view());
    }
    return m;
  }

  // An output of the held events of slot `i` (all of them, or the first `limit`), ids in
  // member order for all_of, in list order otherwise.
  void Emit(Rt& r, uint32_t i, PatternOutcome outcome, int64_t at, uint32_t limit,
            std::vector<PatternOutput>* out) {
    const Slot& s = r.slots[i];
    PatternOutput o;
    o.pattern = r.index;
    o.group_key = std::string(s.key.view());
    o.outcome = outcome;
    o.at_ms = at;
    uint32_t last = kNil;
    uint32_t k = 0;
    std::vector<std::pair<uint32_t, uint32_t>> by_member;  // all_of: (member, held)
    for (uint32_t h = s.head; h != kNil && k < limit; h = r.held[h].next, ++k) {
      if (r.spec->kind == PatternKind::kAllOf) {
        by_member.emplace_back(r.held[h].member, h);
      } else {
        o.member_ids.emplace_back(r.held[h].id.view());
      }
      last = h;
    }
    if (!by_member.empty()) {
      std::sort(by_member.begin(), by_member.end());
      for (const auto& [m, h] : by_member) o.member_ids.emplace_back(r.held[h].id.view());
    }
    o.count = r.spec->kind == PatternKind::kSustained ? s.n : k;
    if (s.head != kNil) {
      o.first = Member(r, s.head);
      o.last = Member(r, last);
    }
    if (outcome == PatternOutcome::kTimedOut) {
      ++r.stats.timed_out;
    } else if (outcome != PatternOutcome::kEvicted) {
      ++r.stats.matched;
    }
    out->push_back(std::move(o));
  }

  void FreeSlot(Rt& r, uint32_t i) {
    Slot& s = r.slots[i];
    MarkDirty(r, s.key.view());
    if (!r.restored.empty()) r.restored.erase(std::string(s.key.view()));
    for (uint32_t h = s.head; h != kNil;) {
      const uint32_t next = r.held[h].next;
      FreeHeld(r, h);
      h = next;
    }
    Erase(r, i);
    Unlink(r, i);
    if (s.queued != kNever) --r.armed;
    s.queued = s.deadline = kNever;
    s.head = s.tail = kNil;
    s.n = s.bits = 0;
    s.key.Clear();
    r.free_slots.push_back(i);
    --r.keys;
  }

  uint32_t NewSlot(Rt& r, std::string_view key, uint32_t h, int64_t t,
                   std::vector<PatternOutput>* out) {
    if (r.keys >= r.spec->max_keys && r.lru_tail != kNil) {
      const uint32_t victim = r.lru_tail;
      Emit(r, victim, PatternOutcome::kEvicted, t, kNil, out);
      ++r.stats.evicted;
      FreeSlot(r, victim);
    }
    uint32_t i;
    if (!r.free_slots.empty()) {
      i = r.free_slots.back();
      r.free_slots.pop_back();
    } else {
      i = static_cast<uint32_t>(r.slots.size());
      r.slots.emplace_back();
    }
    Slot& s = r.slots[i];
    s.key.Assign(key);
    s.wm = t;
    ++r.keys;
    Insert(r, h, i);
    PushFront(r, i);
    return i;
  }

  // Closes what is due in slot `i` at group time `now`. True when it freed the slot.
  bool Expire(Rt& r, uint32_t i, int64_t now, std::vector<PatternOutput>* out) {
    Slot& s = r.slots[i];
    const int64_t w = r.spec->within_ms;
    switch (r.spec->kind) {
      case PatternKind::kAllOf:
      case PatternKind::kSequence:
        if (s.head != kNil && r.held[s.head].t + w < now) {
          Emit(r, i, PatternOutcome::kTimedOut, now, kNil, out);
          FreeSlot(r, i);
          return true;
        }
        return false;
      case PatternKind::kCount:
      case PatternKind::kRate: {
        uint32_t k = 0;
        for (uint32_t h = s.head; h != kNil && r.held[h].t + w < now; h = r.held[h].next) ++k;
        if (k == 0) return false;
        if (k == s.n) {
          Emit(r, i, PatternOutcome::kTimedOut, now, kNil, out);
          FreeSlot(r, i);
          return true;
        }
        Emit(r, i, PatternOutcome::kTimedOut, now, k, out);
        for (uint32_t j = 0; j < k; ++j) {
          const uint32_t h = s.head;
          s.head = r.held[h].next;
          FreeHeld(r, h);
        }
        s.n -= k;
        Arm(r, i, r.held[s.head].t + w);
        MarkDirty(r, s.key.view());
        return false;
      }
      case PatternKind::kAbsence:
      case PatternKind::kHeartbeat:
        if (s.deadline < now) {
          Emit(r, i, PatternOutcome::kAbsent, now, kNil, out);
          FreeSlot(r, i);
          return true;
        }
        return false;
      case PatternKind::kSustained:
        return false;
    }
    return false;
  }

  void ObservePattern(Rt& r, const Event& ev, int64_t t, Observation* obs,
                      std::vector<PatternOutput>* out) {
    const PatternSpec& spec = *r.spec;
    const PatternKind kind = spec.kind;
    if (HoldsEvents(kind) && IsResolved(ev)) return;
    uint32_t mask = 0;
    for (size_t m = 0; m < spec.members.size(); ++m) {
      if (spec.members[m].Matches(ev)) mask |= 1u << m;
    }
    if (mask == 0) return;
    bool on_side = false;
    if (kind == PatternKind::kSustained) {
      std::optional<double> v = ev.Get(spec.value).number();
      if (!v) return;
      on_side = spec.above ? *v > spec.bound : *v < spec.bound;
    }
    if (!BuildGroupKey(spec, ev, &key_)) return;
    ++obs->member_of;
    const int64_t w = spec.within_ms;
    const uint32_t h = Hash(key_);
    uint32_t i = Find(r, key_, h);
    if (i != kNil) {
      Slot& s = r.slots[i];
      // Read again after a restore: an event the restored group holds is not counted twice.
      if (!r.restored.empty() && HoldsEvents(kind) && r.restored.count(key_) != 0 &&
          HoldsId(r, s, ev.id)) {
        ++obs->pending;
        return;
      }
      if (IsLate(spec, s.wm, t)) {
        ++obs->late;
        ++r.stats.late;
        return;
      }
      if (Expire(r, i, std::max(s.wm, t), out)) i = kNil;
    }
    if (i == kNil) {
      bool creates = false;
      switch (kind) {
        case PatternKind::kAllOf:
        case PatternKind::kCount:
        case PatternKind::kRate:
        case PatternKind::kHeartbeat:
          creates = true;
          break;
        case PatternKind::kSequence:
        case PatternKind::kAbsence:
          creates = (mask & 1u) != 0;
          break;
        case PatternKind::kSustained:
          creates = on_side;
          break;
      }
      if (!creates) return;
      i = NewSlot(r, key_, h, t, out);
    } else {
      Touch(r, i);
    }
    Slot* s = &r.slots[i];
    const int64_t now = std::max(s->wm, t);
    s->wm = now;
    MarkDirty(r, key_);
    switch (kind) {
      case PatternKind::kAllOf: {
        const uint32_t free = mask & ~s->bits;
        if (free == 0) break;  // a repeat of a member already held
        const uint32_t m = static_cast<uint32_t>(__builtin_ctz(free));
        const uint32_t x = NewHeld(r, ev, t, m);
        s = &r.slots[i];
        InsertSorted(r, *s, x);
        ++s->n;
        s->bits |= 1u << m;
        if (s->bits == (1u << spec.members.size()) - 1) {
          Emit(r, i, PatternOutcome::kMatched, now, kNil, out);
          FreeSlot(r, i);
        } else {
          ++obs->pending;
          Arm(r, i, r.held[s->head].t + w);
        }
        break;
      }
      case PatternKind::kSequence: {
        const uint32_t k = s->bits;
        if ((mask & (1u << k)) == 0 || (s->tail != kNil && t < r.held[s->tail].t)) break;
        const uint32_t x = NewHeld(r, ev, t, k);
        s = &r.slots[i];
        InsertSorted(r, *s, x);
        ++s->n;
        s->bits = k + 1;
        if (s->bits == spec.members.size()) {
          Emit(r, i, PatternOutcome::kMatched, now, kNil, out);
          FreeSlot(r, i);
        } else {
          ++obs->pending;
          Arm(r, i, r.held[s->head].t + w);
        }
        break;
      }
      case PatternKind::kCount:
      case PatternKind::kRate: {
        const uint32_t x = NewHeld(r, ev, t, 0);
        s = &r.slots[i];
        InsertSorted(r, *s, x);
        ++s->n;
        if (s->n >= r.threshold) {
          Emit(r, i, PatternOutcome::kMatched, now, kNil, out);
          FreeSlot(r, i);
        } else {
          ++obs->pending;
          Arm(r, i, r.held[s->head].t + w);
        }
        break;
      }
      case PatternKind::kAbsence: {
        if (s->head != kNil) {
          if ((mask & 2u) != 0 && t >= r.held[s->head].t) FreeSlot(r, i);  // B came in time
          break;
        }
        const uint32_t x = NewHeld(r, ev, t, 0);
        s = &r.slots[i];
        InsertSorted(r, *s, x);
        s->n = 1;
        Arm(r, i, t + w);
        break;
      }
      case PatternKind::kHeartbeat: {
        if (s->head != kNil) {
          if (t < r.held[s->head].t) break;  // an older beat: the latest one stays
          const uint32_t old = s->head;
          s->head = s->tail = kNil;
          FreeHeld(r, old);
        }
        const uint32_t x = NewHeld(r, ev, t, 0);
        s = &r.slots[i];
        InsertSorted(r, *s, x);
        s->n = 1;
        Arm(r, i, t + w);
        break;
      }
      case PatternKind::kSustained: {
        if (!on_side) {
          FreeSlot(r, i);  // a sample on the other side resets the run
          break;
        }
        const uint32_t x = NewHeld(r, ev, t, 0);
        s = &r.slots[i];
        if (s->head == kNil) {
          s->head = s->tail = x;
        } else if (s->head == s->tail) {
          r.held[s->head].next = x;
          s->tail = x;
        } else {
          FreeHeld(r, s->tail);
          r.held[s->head].next = x;
          s->tail = x;
        }
        ++s->n;
        if (s->bits == 0 && t - r.held[s->head].t >= w) {
          s->bits = 1;
          Emit(r, i, PatternOutcome::kMatched, now, kNil, out);
        }
        break;
      }
    }
  }

  std::vector<PatternSpec> specs_;
  std::vector<Rt> rt_;
  std::string key_;  // scratch
  bool track_ = false;
  std::vector<std::pair<uint32_t, std::string>> dirty_;  // (pattern, group key), repeats
};

Result<std::unique_ptr<Correlator>> Correlator::Create(std::vector<PatternSpec> specs) {
  for (const PatternSpec& s : specs) {
    if (Status st = ValidatePattern(s); !st.ok()) {
      return InvalidArgument("pattern '" + s.name + "': " + st.message());
    }
  }
  return std::unique_ptr<Correlator>(
      new Correlator(std::make_unique<CorrelatorImpl>(std::move(specs))));
}

Correlator::Correlator(std::unique_ptr<CorrelatorImpl> impl) : impl_(std::move(impl)) {}
Correlator::~Correlator() = default;
Observation Correlator::Observe(const Event& ev, int64_t t_ms, std::vector<PatternOutput>* out) {
  return impl_->Observe(ev, t_ms, out);
}
void Correlator::Advance(int64_t now_ms, std::vector<PatternOutput>* out) {
  impl_->Advance(now_ms, out);
}
void Correlator::Drain(int64_t now_ms, std::vector<PatternOutput>* out) {
  impl_->Drain(now_ms, out);
}
void Correlator::TrackChanges(bool on) { impl_->TrackChanges(on); }
void Correlator::TakeChanges(std::vector<GroupChange>* out) { impl_->TakeChanges(out); }
std::optional<GroupState> Correlator::State(uint32_t pattern, std::string_view group_key) const {
  return impl_->State(pattern, group_key);
}
bool Correlator::GroupKey(uint32_t pattern, const Event& ev, std::string* key) const {
  return pattern < specs().size() && BuildGroupKey(specs()[pattern], ev, key);
}
Status Correlator::Restore(uint32_t pattern, std::string_view group_key, const GroupState& state,
                           std::vector<PatternOutput>* out) {
  return impl_->Restore(pattern, group_key, state, out);
}
const std::vector<PatternSpec>& Correlator::specs() const { return impl_->specs(); }
const std::vector<FieldPath>& Correlator::captures(uint32_t p) const { return impl_->captures(p); }
PatternStats Correlator::stats(uint32_t p) const { return impl_->stats(p); }
size_t Correlator::MemoryBytes() const { return impl_->MemoryBytes(); }

}  // namespace reflex::engine
