// Correlation: multi-event patterns over a stream of events, keyed by group-by fields.
//
// A pattern selects its member events with the engine's conditions (field path + Condition,
// all of a member's conditions must hold) and keeps state per group key (the values of its
// `group_by` fields, e.g. `labels.instance`). Kinds:
//   all_of     every member within W of each other, any order           -> matched
//   sequence   the members in order (by event time) within W of the first -> matched
//   count      at least N member events within a sliding window W        -> matched
//   rate       more than R member events per second over W (count with N = floor(R*W)+1)
//   absence    member 0 (A) not followed by member 1 (B) within T        -> absent
//   heartbeat  no member event of a group seen once for T                -> absent
//   sustained  `value` above (or below) a bound in every sample for D    -> matched
// A window of all_of / sequence / count that closes without a match releases its held
// events as `timed_out` (the caller escalates them: "not all" of the pattern came).
//
// The module is pure: no I/O, no clock. The caller passes the time of each event (event
// time or arrival time: its choice) and calls Advance with its notion of "now" to fire
// timers of quiet groups. Deterministic: the same calls give the same outputs.
//
// Time within a group. A group's watermark is the largest event time it has accepted; its
// "now" is max(watermark, t) for an event at t. An event older than the watermark by more
// than the pattern's `lateness`, or (windowed kinds) whose window has already passed
// (t + W < watermark), is refused as late: Observation::late, Stats::late, nothing held.
// Deadlines: a window [first, first + W] closes, an absence or heartbeat fires, when the
// group's now or Advance's `now_ms` is past the deadline (strictly greater).
//
// Holding events. all_of, sequence, count and rate hold their member events (only firing
// ones: IsResolved events are not members) while the window is open: Observe reports them
// as pending, so the caller does not escalate them as unknown. Every held event leaves in
// exactly one output: matched, timed_out, or evicted (state dropped at the key limit),
// never silently. A repeated all_of member already held, or a sequence step out of order,
// is a member but is not held (the caller handles it as any other event). absence,
// heartbeat and sustained never hold events: their outputs carry the ids of the events
// that armed them (the A event, the last heartbeat, the first and last sample).
//
// Bounded state. A group exists while it holds something (events, an armed timer, a
// sustained run); its watermark goes with it. At `max_keys` groups a new group evicts the
// least recently observed one (an `evicted` output, Stats::evicted). Memory per group: a
// fixed slot, about 72 bytes, plus ~40 bytes per held event and 8-16 bytes of index, no
// heap allocation per group (group keys and event ids up to 22 bytes are stored inline).
//
// Thread-safety: a Correlator is owned by one thread (a per-partition worker owns one;
// events of a group must reach the same worker, which partitioning by the group key
// gives). The PatternSpecs are immutable and may be shared.
//
// How a worker uses it:
//   auto c = Correlator::Create(specs);            // specs from rules::ReadPatternsYaml
//   std::vector<PatternOutput> out;
//   Observation o = (*c)->Observe(ev, ev.time_ms, &out);  // then act on `out`; if
//   if (o.pending == 0) { ...decide ev as usual... }        // pending, do not escalate ev
//   (*c)->Advance(clock.NowMillis(), &out);        // periodically: timers of quiet groups
// Each output names its pattern (index into specs()); render the pattern's action
// parameters with PatternMatchView (events.count, events.first.<path>, events.last.<path>).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/condition.h"
#include "reflex/engine/event.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/status.h"
#include "reflex/engine/template.h"

namespace reflex::engine {

enum class PatternKind : uint8_t {
  kAllOf,
  kSequence,
  kCount,
  kRate,
  kAbsence,
  kHeartbeat,
  kSustained
};
inline constexpr base::EnumNames<PatternKind, 7> kPatternKindNames{
    {{{PatternKind::kAllOf, "all_of"},
      {PatternKind::kSequence, "sequence"},
      {PatternKind::kCount, "count"},
      {PatternKind::kRate, "rate"},
      {PatternKind::kAbsence, "absence"},
      {PatternKind::kHeartbeat, "heartbeat"},
      {PatternKind::kSustained, "sustained"}}}};

enum class PatternOutcome : uint8_t {
  kMatched,   // the pattern completed: run its actions
  kTimedOut,  // a window closed without a match: its held events are released (escalate)
  kAbsent,    // an absence or heartbeat fired: run its actions
  kEvicted,   // the group's state was dropped at max_keys: its held events are released
};
inline constexpr base::EnumNames<PatternOutcome, 4> kPatternOutcomeNames{
    {{{PatternOutcome::kMatched, "matched"},
      {PatternOutcome::kTimedOut, "timed_out"},
      {PatternOutcome::kAbsent, "absent"},
      {PatternOutcome::kEvicted, "evicted"}}}};

// One member of a pattern: the conditions an event must satisfy (all of them).
struct PatternMember {
  std::string name;
  std::vector<std::pair<FieldPath, Condition>> when;
  SourceLocation where;
  bool Matches(const Event& ev) const;
};

struct PatternSpec {
  std::string name;
  PatternKind kind = PatternKind::kAllOf;
  SourceLocation where;
  std::string file;
  std::string description;
  // The group key: these fields' values. An event missing one of them is not a member.
  std::vector<FieldPath> group_by;
  // W (all_of, sequence, count, rate), T (absence, heartbeat) or D (sustained). >= 0.
  int64_t within_ms = 0;
  // all_of, sequence: 2..16 members; absence: exactly 2 (A, B); others: 1 or more (an event
  // satisfying any of them is a member).
  std::vector<PatternMember> members;
  // count: at least this many events (>= 1). rate: derived (floor(rate * W / 1000) + 1).
  uint32_t count = 0;
  // rate: the bound in events per second (strictly above fires).
  double rate = 0;
  // sustained: the sampled value and its bound.
  FieldPath value;
  bool above = true;  // true: value > bound; false: value < bound
  double bound = 0;
  // An event older than the group's watermark by more than this is refused as late.
  int64_t lateness_ms = 0;
  // Most groups kept at once; the least recently observed one is evicted beyond. >= 1.
  uint32_t max_keys = 100000;
  std::vector<ActionSpec> actions;
  std::string runbook;
};

// The patterns of a rule set (CompiledRuleSet::patterns) and their version: a hash of the
// pattern files, which changes when any of them does. A worker keeps its pattern state
// across a reload that leaves the version alone.
struct PatternSet {
  std::vector<PatternSpec> specs;
  std::string version;
};

// The threshold a count or rate pattern fires at: `count`, or floor(rate * W / 1000) + 1.
uint64_t PatternThreshold(const PatternSpec& spec);
// Checks a spec's shape (members, counts, bounds); InvalidArgument naming the problem.
Status ValidatePattern(const PatternSpec& spec);
// The fields the pattern's action templates read as events.first.<path> / events.last.<path>
// (their inner paths, deduplicated, in order of first use): captured from member events.
std::vector<FieldPath> PatternCaptures(const PatternSpec& spec);

// A member event as an output reports it: id, time, and the captured fields (one per
// Correlator::captures(pattern), nullopt where the event lacked the field).
struct MemberEvent {
  std::string id;
  int64_t time_ms = 0;
  std::vector<std::optional<std::string>> captured;
  bool operator==(const MemberEvent&) const = default;
};

struct PatternOutput {
  uint32_t pattern = 0;   // index into Correlator::specs()
  std::string group_key;  // the group_by values joined by '\x1f' (GroupKeyValues splits)
  PatternOutcome outcome = PatternOutcome::kMatched;
  // all_of, sequence: in member order; count, rate: in event-time order; absence: [A];
  // heartbeat: [last seen]; sustained: [first, last] of the run (one when they are one).
  std::vector<std::string> member_ids;
  MemberEvent first;   // the earliest member (event time; ties: the first observed)
  MemberEvent last;    // the latest member (ties: the last observed)
  uint64_t count = 0;  // member events in the outcome (sustained: samples in the run)
  int64_t at_ms = 0;   // the group time (Observe) or the Advance time that decided it
  bool operator==(const PatternOutput&) const = default;
};

// Splits a group key into its values, one per group_by field.
std::vector<std::string> GroupKeyValues(std::string_view key);

// What happened to one observed event, summed over the patterns.
struct Observation {
  uint32_t member_of = 0;  // patterns whose members it satisfies (and whose group it has)
  uint32_t pending = 0;    // patterns now holding it in an open window
  uint32_t late = 0;       // patterns that refused it as late
};

struct PatternStats {
  uint64_t keys = 0;     // groups now held
  uint64_t late = 0;     // events refused as late
  uint64_t evicted = 0;  // groups evicted at max_keys
  uint64_t matched = 0;  // matched and absent outputs
  uint64_t timed_out = 0;
};

// The state of one group, as a changelog keeps it (Correlator::TakeChanges, Restore): enough
// to carry on exactly where the group was. Held events in list order (event time).
struct GroupState {
  struct HeldEvent {
    uint32_t member = 0;  // all_of, sequence: the member index it satisfied
    MemberEvent event;    // id, time, captured fields (Correlator::captures)
    bool operator==(const HeldEvent&) const = default;
  };
  int64_t watermark = 0;
  int64_t deadline = 0;  // the armed timer; INT64_MAX when none
  uint32_t n = 0;        // held events (sustained: samples in the run)
  uint32_t bits = 0;     // all_of: members held; sequence: the next step; sustained: fired
  std::vector<HeldEvent> held;
  bool operator==(const GroupState&) const = default;
};

// A group whose state changed since the last TakeChanges: its state now, or nullopt when
// the group is gone (matched, closed, evicted, drained).
struct GroupChange {
  uint32_t pattern = 0;
  std::string group_key;
  std::optional<GroupState> state;
};

class CorrelatorImpl;

// The fast implementation: open-addressing index, pooled held events, a timer heap with
// lazy deletion (one live entry per armed group; a later deadline is re-queued on pop).
class Correlator {
 public:
  // Fails with InvalidArgument when a spec does not pass ValidatePattern.
  static Result<std::unique_ptr<Correlator>> Create(std::vector<PatternSpec> specs);
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // Feeds one event at time `t_ms`; appends outputs it completes or closes (windows that
  // closed before it in its group first, then its own match) to `out`.
  Observation Observe(const Event& ev, int64_t t_ms, std::vector<PatternOutput>* out);
  // Fires every timer whose deadline is before `now_ms`: absences, heartbeats, windows
  // closing as timed_out, count events sliding out. Outputs in deadline order (ties in an
  // unspecified order).
  void Advance(int64_t now_ms, std::vector<PatternOutput>* out);
  // Gives up all state: every group that holds events is released as `evicted` (at
  // `now_ms`, counted in Stats::evicted), armed timers are dropped without firing. For a
  // rule reload that changes the patterns, a revoked partition, a shutdown.
  void Drain(int64_t now_ms, std::vector<PatternOutput>* out);

  // Changelog (state that moves with a partition). Once TrackChanges(true), every group
  // whose state changes is remembered; TakeChanges appends each such group once (its state
  // now, or nullopt when it is gone) and forgets them. Restore puts one group back as it
  // was, before any event of it is observed (a group already present is replaced); a
  // restored group ignores an event whose id it already holds (reported pending): after a
  // crash the input is read again from the committed offset, and an event the changelog
  // already holds must not be counted twice. Restore appends an `evicted` output when the
  // group exceeds max_keys. InvalidArgument when the state does not fit the pattern (a
  // member index out of range, held events on a kind that holds none).
  void TrackChanges(bool on);
  // The state of one group now (nullopt when the pattern holds nothing for it), and the
  // group key of an event for pattern `p` (false when it lacks a group_by field): for
  // `reflex explain`.
  std::optional<GroupState> State(uint32_t pattern, std::string_view group_key) const;
  bool GroupKey(uint32_t pattern, const Event& ev, std::string* key) const;
  void TakeChanges(std::vector<GroupChange>* out);
  Status Restore(uint32_t pattern, std::string_view group_key, const GroupState& state,
                 std::vector<PatternOutput>* out);

  const std::vector<PatternSpec>& specs() const;
  // The captured fields of pattern `p` (PatternCaptures), as MemberEvent::captured holds.
  const std::vector<FieldPath>& captures(uint32_t p) const;
  PatternStats stats(uint32_t p) const;
  // Approximate bytes of state held (slots, index, held events, timer heap, out-of-line
  // strings), for metrics.
  size_t MemoryBytes() const;

 private:
  explicit Correlator(std::unique_ptr<CorrelatorImpl> impl);
  std::unique_ptr<CorrelatorImpl> impl_;
};

// The reference: a map of groups, each a list of held events, scanned; eviction by a scan
// for the least recently observed group. Obviously correct and slow; the property test
// holds Correlator equal to it.
class ReferenceCorrelator {
 public:
  explicit ReferenceCorrelator(std::vector<PatternSpec> specs);
  ~ReferenceCorrelator();
  Observation Observe(const Event& ev, int64_t t_ms, std::vector<PatternOutput>* out);
  void Advance(int64_t now_ms, std::vector<PatternOutput>* out);
  PatternStats stats(uint32_t p) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// What `{{events.count}}`, `{{events.first.<path>}}` and `{{events.last.<path>}}` read when
// a pattern's action parameters are rendered for one output. Holds references: `output`
// and `captures` must outlive it.
class PatternMatchView final : public EventsView {
 public:
  PatternMatchView(const PatternOutput& output, const std::vector<FieldPath>& captures)
      : output_(output), captures_(captures) {}
  FieldValue Count() const override;
  FieldValue Member(bool first, const FieldPath& inner) const override;

 private:
  const PatternOutput& output_;
  const std::vector<FieldPath>& captures_;
};

}  // namespace reflex::engine
