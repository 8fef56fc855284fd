// CompiledRuleSet: decision tables compiled into indexed matchers, plus the labeler.
//
// Each table becomes a discrimination tree. An inner node splits the rows on one column:
// a hash map from the event's value to the rows whose cell is `= v` / `in(..v..)` (an
// exact and a case-folded map), or an RE2::Set over the column's regex cells, or a sorted
// list of numeric intervals; rows whose cell on that column is anything else go to the
// node's `rest` child. Leaves hold a few rows, verified cell by cell in rank order. An
// event visits one child per split plus `rest`, so the cost follows the length of the
// candidate lists, not the number of rows.
//
// A rule set is immutable once built: publish it as shared_ptr<const CompiledRuleSet> and
// swap the pointer atomically to reload; readers never lock. Match() is const and
// re-entrant; each thread passes its own MatchScratch.
//
//   auto rs = CompiledRuleSet::Create(std::move(tables), std::move(labeling), "v1");
//   MatchScratch scratch;
//   MatchResult result;
//   (*rs)->Match(event, &scratch, &result);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/event.h"
#include "reflex/engine/labeling.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/silence.h"
#include "reflex/engine/status.h"

namespace reflex::engine {

enum class Verdict : uint8_t {
  kKnown,       // a row matched; its actions run
  kSuppressed,  // a row matched whose outcome is `ignore`
  kUnknown,     // nothing matched: escalated to a person
  kPending,     // nothing matched, and a multi-event pattern holds the event in an open
                // window (pattern_stage.h): decided later by the pattern's outcome
};
inline constexpr base::EnumNames<Verdict, 4> kVerdictNames{{{{Verdict::kKnown, "known"},
                                                             {Verdict::kSuppressed, "suppressed"},
                                                             {Verdict::kUnknown, "unknown"},
                                                             {Verdict::kPending, "pending"}}}};
// "known", "suppressed", "unknown", "pending".
const char* VerdictName(Verdict v);

struct RowMatch {
  uint32_t table = 0;
  uint32_t row = 0;
  bool operator==(const RowMatch&) const = default;
};

// Per table: the rows its hit policy selects (first/unique/priority: at most one; collect:
// all matches in file order). Tables are evaluated in rule-set order. The verdict is
// `suppressed` when any selected row is `ignore` (a known-benign row silences the event
// for every table), else `known` when any row was selected, else `unknown`.
// A resolved event: its `status` label is "resolved" (Alertmanager's resolved notification,
// or any source that sets the label). Its matches run no actions unless the row handles
// resolutions (CompiledRuleSet::HandlesResolved), so a recovery never re-runs a remediation.
bool IsResolved(const Event& ev);
inline constexpr std::string_view kStatusLabel = "status";
inline constexpr std::string_view kResolvedStatus = "resolved";

// Why an event is muted (mute.h): a silence, or an inhibition rule and the source event that
// inhibits it. A muted event's verdict is `suppressed` whatever matched; no action runs and
// nothing is escalated. The decision carries "muted_by".
struct MuteInfo {
  enum class Kind : uint8_t { kNone, kSilence, kInhibition, kSymptom, kDuplicate };
  Kind kind = Kind::kNone;
  std::string silence_id;       // kSilence
  std::string inhibit_rule;     // kInhibition: the rule's name
  std::string source_event_id;  // kInhibition: the firing source event
  // kSymptom (topology.h): the root node with the open incident, the path of node ids from
  // the event's node to it, and the symptoms counted against it so far (this one included).
  std::string root;
  std::string root_event;  // the event that opened the root's incident (its escalation)
  std::vector<std::string> path;
  uint64_t symptoms = 0;
  // kDuplicate (mute.h Deduper): the first event of the fingerprint's window and how many
  // duplicates of it came so far (this one included).
  std::string duplicate_of;
  uint64_t duplicates = 0;
  void Clear() {
    kind = Kind::kNone;
    silence_id.clear();
    inhibit_rule.clear();
    source_event_id.clear();
    root.clear();
    root_event.clear();
    path.clear();
    symptoms = 0;
    duplicate_of.clear();
    duplicates = 0;
  }
};

// A dedup window as a changelog keeps it (mute.h Deduper::Restore).
struct DedupWindow {
  std::string first_id;
  int64_t opened_ms = 0;
  uint64_t count = 0;
};

// What an event did to its alert's dedup window (mute.h Deduper), for the state changelog:
// opened one (`window`, keyed by the alert's identity `key`), or closed one (a resolved
// event: the record goes). A duplicate only counts, and changes nothing the changelog keeps.
struct DedupChange {
  enum class Kind : uint8_t { kNone, kOpened, kClosed };
  Kind kind = Kind::kNone;
  std::string key;
  DedupWindow window;
};

// A change to muting state that moves with the input partitions (mute.h Muter::TrackChanges):
// which state, the entry's key, and its state now as JSON text (empty: the entry is gone).
struct MuteStateChange {
  enum class Store : uint8_t { kDedup, kInhibit, kRootCause };
  Store store = Store::kDedup;
  std::string key;
  std::string value;
};

struct MatchResult {
  Verdict verdict = Verdict::kUnknown;
  std::vector<RowMatch> matches;
  MuteInfo mute;  // set by Muter::Apply after Match
  // Set by Muter::Apply while it tracks changes: what this event changed, for a changelog.
  std::vector<MuteStateChange> state_changes;
  void Clear() {
    verdict = Verdict::kUnknown;
    matches.clear();
    mute.Clear();
    state_changes.clear();
  }
};

// Reusable per-thread buffers for Match (keeps the hot path allocation-free).
struct MatchScratch {
  std::vector<FieldValue> column_values;
  std::vector<uint8_t> column_resolved;
  std::vector<std::vector<int>> regex_hits;  // one per tree depth
  std::vector<uint32_t> collected;
  std::string folded;
};

class CompiledTable;
class Topology;     // topology.h
struct PatternSet;  // correlation.h

class CompiledRuleSet {
 public:
  // Compiles the tables (and the labeler). `version` identifies the set in decisions.
  // `topology` (optional, from the rules directory's topology/) travels with the set, so it
  // reloads with the tables. `inhibit`: the set's inhibition rules (inhibit.yaml), compiled
  // here; kInvalidArgument naming the rule when one does not compile. `patterns` (optional,
  // patterns/*.yaml) travel with the set like the topology; a worker builds its Correlator
  // from them (pattern_stage.h).
  static Result<std::shared_ptr<const CompiledRuleSet>> Create(
      std::vector<TableSpec> tables, LabelingSpec labeling, std::string version,
      std::shared_ptr<const Topology> topology = nullptr, std::vector<InhibitRule> inhibit = {},
      std::shared_ptr<const PatternSet> patterns = nullptr);
  ~CompiledRuleSet();

  // Labels the event in place (extraction + lookups).
  void Label(Event* ev) const { labeler_->Apply(ev); }
  void Match(const Event& ev, MatchScratch* scratch, MatchResult* out) const;

  const std::vector<TableSpec>& tables() const { return tables_; }
  const Labeler& labeler() const { return *labeler_; }
  const std::string& version() const { return version_; }
  // The configuration-item graph of the rule set; null when it has none.
  const std::shared_ptr<const Topology>& topology() const { return topology_; }
  // The multi-event patterns of the set; null when it has none.
  const std::shared_ptr<const PatternSet>& patterns() const { return patterns_; }
  size_t row_count() const;
  // The inhibition rules that go live with this set, in file order.
  const std::vector<CompiledInhibitRule>& inhibit_rules() const { return inhibit_rules_; }

  // Appends the decision-record JSON of one matched row (table, row, file, line, actions
  // with parameters rendered over `ev`, runbook). The constant parts are escaped once, when
  // the set is built.
  // `not_run` (when not empty) marks the row's actions as not carried out and says why:
  // `"not_run":"<reason>"` after the action list; the executor skips such a match.
  void AppendMatchJson(const RowMatch& m, const Event& ev, std::string* out,
                       std::string_view not_run = {}) const;

  // The row's outcome is `ignore`.
  bool IsIgnoreRow(const RowMatch& m) const { return ignore_[m.table][m.row] != 0; }
  // The row says it handles resolutions: it has a condition (a non-blank cell) on the
  // `status` label. Only such rows run actions for a resolved event (IsResolved).
  bool HandlesResolved(const RowMatch& m) const { return handles_resolved_[m.table][m.row] != 0; }

  // Index shape, for tests and `reflex check --stats`: nodes, leaves, deepest path, and the
  // largest leaf.
  struct Stats {
    size_t nodes = 0, leaves = 0, max_depth = 0, max_leaf = 0;
  };
  Stats TableStats(size_t table) const;

 private:
  CompiledRuleSet() = default;
  std::vector<TableSpec> tables_;
  std::unique_ptr<Labeler> labeler_;
  std::vector<std::unique_ptr<CompiledTable>> compiled_;
  std::vector<std::vector<uint8_t>> ignore_;  // per table, per row: the row's outcome is `ignore`
  std::vector<std::vector<uint8_t>> handles_resolved_;  // per table, per row: HandlesResolved
  struct ActionJson {
    std::string head;                                             // {"name":"..","params":{
    std::vector<std::pair<std::string, const Template*>> params;  // "key": and its template
  };
  struct RowJson {
    std::string head;  // {"table":..,"row":..,"file":..,"line":N,"actions":[
    std::vector<ActionJson> actions;
    std::string tail;  // ] and the runbook, }
  };
  std::vector<std::vector<RowJson>> row_json_;
  std::string version_;
  std::shared_ptr<const Topology> topology_;
  std::shared_ptr<const PatternSet> patterns_;
  std::vector<CompiledInhibitRule> inhibit_rules_;
};

// The plain reference evaluator: every row of every table, in order, no index. Same
// semantics as CompiledRuleSet::Match; the property test holds the two equal.
void ReferenceMatch(const std::vector<TableSpec>& tables, const Event& ev, MatchResult* out);

// Evaluates one row against an event (all cells).
bool RowMatches(const TableSpec& table, const RowSpec& row, const Event& ev);

}  // namespace reflex::engine
