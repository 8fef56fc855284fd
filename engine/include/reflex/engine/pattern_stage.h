// PatternStage: the multi-event patterns (correlation.h) of one partition, beside its tables.
//
// After the Pipeline has decided an event with the tables, the stage shows it to the rule
// set's patterns. An unknown event that a pattern now holds in an open window becomes
// `pending`: it is not escalated, the pattern's outcome decides it. Each outcome becomes one
// decision of its own (PatternDecision):
//   matched, absent -> verdict `known`, one match {"table":"pattern:<name>","row":"<name>",
//       "file":..,"line":..,"actions":[..],"runbook":..} whose action parameters are rendered
//       with the matched events (events.count, events.first.<field>, ...): the executor runs
//       them like a row's actions;
//   timed_out, evicted -> when some members are pending, verdict `unknown` (escalated to a
//       person: the window closed with only some of the members, the group was evicted at
//       max_keys, or the state was given up: a reload that changes the patterns, a revoked
//       partition, a shutdown). When every member was decided by its tables already (known,
//       suppressed), there is nothing left to decide: the outcome has no decision.
// The decision's event is synthetic and deterministic, so a replay gives the same ids and
// the executor's idempotency key runs the actions once:
//   {"id":"pattern:<name>:<group values joined by ','>:<first member id>",
//    "source":"reflex.pattern","timestamp":<outcome time>,
//    "labels":{"alertname":<name>,"pattern":<name>,"pattern_outcome":..,
//              <group field>:<value>...},"message":..}
// where a group field that is a label (or a bare name) is keyed by its name, any other by its
// path. The decision carries, after the verdict,
//   "pattern":{"name":..,"kind":..,"outcome":..,"group":{..},"count":N,
//              "member_ids":[..],"pending_ids":[..]}
//
// Time: the caller passes each event's time (event time or arrival time, its choice) and
// calls Advance with its clock, so absences, heartbeats and closing windows fire with no
// further event.
//
// Thread-safety: owned by one thread, like its Correlator (one stage per input partition).
//
//   auto stage = PatternStage::Create(rules);       // null: the set has no patterns
//   pipeline.Process(json, now, nullptr, meta);
//   std::vector<PatternDecision> out;
//   if (stage->Observe(pipeline.event(), pipeline.result().verdict, t, now, &out))
//     pipeline.MarkPending();                       // then AppendDecision as usual
//   stage->Advance(clock.NowMillis(), &out);        // periodically
//
// Changelog (state that moves with the partition, as Kafka Streams keeps a store): with
// TrackChanges(true), TakeChanges gives one record per group whose state changed since the
// last call: key `<pattern>/<group key>`, value the group's state as JSON (held events
// with their captured fields and whether each is pending, the watermark, the armed timer),
// or an empty value (a tombstone) when the group is gone. Written to a compacted topic
// before the input offsets that produced them are committed, the latest record per key is
// the state at (or after) the committed offset. Restore puts such records back into a new
// stage: a group of a pattern the rule set still has (same name and kind) carries on; one
// whose pattern is gone or changed kind is released as `evicted` (its pending members
// escalated): nothing held is lost across a restart, a rebalance or a rule change.
//   {"pattern":"oom-storm","kind":"count","version":"<pattern set>","group":"web-1",
//    "group_by":["labels.host"],"captures":["labels.instance"],"watermark":..,
//    "deadline":..|null,"n":2,"bits":0,
//    "held":[{"id":"e1","t":..,"member":0,"pending":true,"captured":["web-1:9100"|null]}]}
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "reflex/engine/correlation.h"
#include "reflex/engine/event.h"
#include "reflex/engine/matcher.h"

namespace reflex::engine {

// One pattern outcome. `decision_json` is empty when the outcome leaves nothing to decide.
struct PatternDecision {
  uint32_t pattern = 0;  // index into the set's PatternSet::specs (UINT32_MAX: a restored
                         // group whose pattern the set no longer has)
  std::string name;      // the pattern's name
  PatternOutcome outcome = PatternOutcome::kMatched;
  Verdict verdict = Verdict::kKnown;
  std::string event_id;
  std::vector<std::string> member_ids;  // as PatternOutput::member_ids
  std::string decision_json;
  std::string event_json;  // the synthetic event the decision is about
};

class PatternStage {
 public:
  // Null when `rules` has no patterns (unless `even_without_patterns`: a stage that only
  // restores, to release the state of patterns the set no longer has).
  static std::unique_ptr<PatternStage> Create(std::shared_ptr<const CompiledRuleSet> rules,
                                              bool even_without_patterns = false);
  ~PatternStage();
  PatternStage(const PatternStage&) = delete;
  PatternStage& operator=(const PatternStage&) = delete;

  // Shows a decided event to the patterns at time `t_ms` (`verdict`: the tables' verdict,
  // after muting); appends the outcomes it completes or closes, stamped `now_ms`. True when
  // the event is now `pending`: `verdict` is unknown and a pattern holds it, or an outcome
  // it completed (appended after it) decides it. Late events are counted in `late` of
  // `*obs` and decided alone by the caller, as is a member that is not held.
  bool Observe(const Event& ev, Verdict verdict, int64_t t_ms, int64_t now_ms,
               std::vector<PatternDecision>* out, Observation* obs = nullptr);
  // Fires the timers due before `now_ms` (correlation.h Correlator::Advance).
  void Advance(int64_t now_ms, std::vector<PatternDecision>* out);
  // Gives up all state: held events leave as `evicted` (pending ones are escalated).
  void Drain(int64_t now_ms, std::vector<PatternDecision>* out);
  // A new rule set. When its patterns have the stage's version, only the set the decisions
  // name changes and the state is kept; otherwise the state is drained and the patterns are
  // rebuilt. False when the new set has no patterns (the state was drained: drop the stage).
  bool SetRules(std::shared_ptr<const CompiledRuleSet> rules, int64_t now_ms,
                std::vector<PatternDecision>* out);

  // Changelog records (see above). `key` is `<pattern>/<group key>`; `value` empty for
  // a group that is gone.
  struct StateRecord {
    std::string key;
    std::string value;
  };
  void TrackChanges(bool on) {
    track_ = on;
    correlator_->TrackChanges(on);
  }
  void TakeChanges(std::vector<StateRecord>* out);
  // Puts back the latest value of each key (tombstones already applied). Appends the
  // outcomes of groups released because their pattern is gone (or exceeding max_keys).
  // Returns the groups restored; a value that cannot be read is an error naming its key
  // (the records restored before it stay).
  Result<size_t> Restore(const std::vector<StateRecord>& records, int64_t now_ms,
                         std::vector<PatternDecision>* out);

  // `reflex explain`: for every pattern the event is a member of, its group and the
  // group's state before the event: the events held (with the member each satisfied), the
  // members still missing (all_of, sequence), the count so far against the threshold
  // (count, rate), and when the open window closes or the timer fires. Read only.
  struct PatternView {
    std::string pattern;
    PatternKind kind = PatternKind::kAllOf;
    std::vector<std::string> members;  // the members the event satisfies ("#2" unnamed)
    std::vector<std::pair<std::string, std::string>> group;  // group_by field, value
    bool grouped = true;  // false: the event lacks a group_by field (not a member then)
    std::vector<std::pair<std::string, int64_t>> held;  // id, time (member order: list)
    std::vector<std::string> held_members;              // the member each held one met
    std::vector<std::string> missing;                   // all_of, sequence
    uint64_t threshold = 0;                             // count, rate
    std::optional<int64_t> closes_at_ms;                // the armed deadline
  };
  std::vector<PatternView> Explain(const Event& ev) const;

  const std::shared_ptr<const CompiledRuleSet>& rules() const { return rules_; }
  const Correlator& correlator() const { return *correlator_; }
  // Events held while pending: decided by a later outcome.
  size_t pending() const { return pending_.size(); }

 private:
  PatternStage() = default;
  void Decide(std::vector<PatternOutput>& outputs, int64_t now_ms,
              std::vector<PatternDecision>* out);
  void DecideOne(const PatternSpec& spec, const std::vector<FieldPath>& captures,
                 const PatternOutput& o, int64_t now_ms, std::vector<PatternDecision>* out);
  std::string EncodeGroup(const GroupChange& change) const;

  std::shared_ptr<const CompiledRuleSet> rules_;
  std::unique_ptr<Correlator> correlator_;
  std::unordered_set<std::string> pending_;
  std::vector<PatternOutput> scratch_;
  std::vector<GroupChange> changes_;
  bool track_ = false;
  // Changelog records not yet taken: of a correlator replaced by SetRules, and tombstones of
  // restored groups released because their pattern is gone.
  std::vector<StateRecord> carry_;
  std::unique_ptr<EventParser> parser_;
};

// The views as `reflex explain` prints them ("patterns:" section) and as its --json
// "patterns" array carries them.
std::string PatternViewsToText(const std::vector<PatternStage::PatternView>& views);
nlohmann::json PatternViewsToJson(const std::vector<PatternStage::PatternView>& views);

}  // namespace reflex::engine
