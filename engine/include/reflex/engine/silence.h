// Silences and inhibition rules as Alertmanager has them, over Reflex events.
//
// A label matcher is {name, value, isRegex, isEqual}: `name="v"`, `name!="v"`, `name=~"re"`,
// `name!~"re"`. It reads the event's label of that name; a label the event does not carry is
// the empty string. Regex matchers are fully anchored, `^(?:re)$`, and use RE2.
// A silence mutes every event all of its matchers match while it is active: from startsAt
// (inclusive) to endsAt (exclusive). An inhibition rule mutes an event its target matchers
// match while a firing event its source matchers match, with the same values of the `equal`
// labels, is being tracked (mute.h keeps that state).
//
// This module is pure: no I/O, no clock (times are passed in). The store (actions/
// silence_store.h) keeps silences; the run mode publishes them as a SilenceSet.
//
// Thread-safety: free functions over values; a SilenceSet and a CompiledMatcher are immutable
// and may be shared by any number of threads.
//
//   auto m = ParseMatchers(R"({alertname="DiskFull", instance=~"db-.*"})");   // 2 matchers
//   auto set = SilenceSet::Create({silence});
//   if (const Silence* s = (*set)->Silencing(event, now_ms)) ... s->id mutes it
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace re2 {
class RE2;
}

namespace reflex::engine {

struct LabelMatcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
  bool operator==(const LabelMatcher&) const = default;

  // amtool's text: `name="value"`, `name!~"a|b"` (the value quoted and escaped).
  std::string ToString() const;
};

// `[a-zA-Z_][a-zA-Z0-9_]*`, Alertmanager's (and Prometheus's) label name.
bool IsValidLabelName(std::string_view name);

// Parses matchers as amtool accepts them: `alertname="X"`, `instance=~"db-.*"`,
// `severity!=info`, `job!~"a|b"`; values quoted (escapes \" \\ \n \t \r) or bare (up to a
// blank, a comma or a brace); several separated by commas and/or blanks, optionally inside
// one pair of braces; a trailing comma is allowed. Empty text (or `{}`) gives no matchers.
// kInvalidArgument names the column (1-based byte offset) and what was expected there, e.g.
// "column 9: expected an operator (=, !=, =~, !~) after label name \"severity\"".
// Only the syntax is checked here; CompileMatcher checks the name and the regex.
Result<std::vector<LabelMatcher>> ParseMatchers(std::string_view text);

// A matcher ready to match: validated, its regex compiled and anchored. Cheap to copy.
class CompiledMatcher {
 public:
  // kInvalidArgument: an invalid label name, a value that is not UTF-8, a regex RE2 refuses.
  static Result<CompiledMatcher> Create(LabelMatcher spec);
  bool Matches(std::string_view value) const;
  // Reads the label from the event (absent = "").
  bool Matches(const Event& ev) const;
  const LabelMatcher& spec() const { return spec_; }

 private:
  LabelMatcher spec_;
  std::shared_ptr<const re2::RE2> re_;  // set when spec_.is_regex
};

// Compiles every matcher; the error names the matcher's index ("matcher 2 (foo=~"(")": ...").
Result<std::vector<CompiledMatcher>> CompileMatchers(const std::vector<LabelMatcher>& specs);
// Every matcher matches the event.
bool MatchesAll(const std::vector<CompiledMatcher>& matchers, const Event& ev);

enum class SilenceState { kPending, kActive, kExpired };
inline constexpr base::EnumNames<SilenceState, 3> kSilenceStateNames{
    {{{SilenceState::kPending, "pending"},
      {SilenceState::kActive, "active"},
      {SilenceState::kExpired, "expired"}}}};

struct Silence {
  std::string id;
  std::vector<LabelMatcher> matchers;
  int64_t starts_at_ms = 0;  // ms since the Unix epoch (UTC)
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
  bool operator==(const Silence&) const = default;
};

// Alertmanager's `filter` of GET /api/v2/silences: every filter matcher names a label the
// silence has a matcher for, and matches that matcher's value (`filter=instance=~"db-.*"`
// finds the silences whose instance matcher's value starts with db-).
bool SilenceMatchesFilter(const Silence& s, const std::vector<CompiledMatcher>& filter);

// pending before starts_at, active until ends_at, expired from ends_at on.
SilenceState StateAt(const Silence& s, int64_t now_ms);

// What Alertmanager checks of any silence: at least one matcher; each valid (label name,
// UTF-8 value, regex compiles); at least one matcher that does not match the empty string
// (a silence of everything is refused); both times set; endsAt not before startsAt; and
// createdBy and comment not blank (amtool requires both). kInvalidArgument with the reason.
Status ValidateSilence(const Silence& s);
// A silence being created (CLI add, POST): ValidateSilence, and as Alertmanager's API: the
// start strictly before the end, and the end not in the past.
Status ValidateNewSilence(const Silence& s, int64_t now_ms);

// Alertmanager API v2: a PostableSilence body ({"id"?, "matchers":[{"name","value",
// "isRegex","isEqual"?}], "startsAt", "endsAt", "createdBy", "comment"}) into a Silence; keys
// Alertmanager does not define are ignored as it does. kInvalidArgument with the reason
// (not JSON, a key missing or of the wrong type, a bad timestamp). Does not validate the
// silence (ValidateNewSilence does).
Result<Silence> ParseSilenceJson(std::string_view body);
// A GettableSilence: {"id","status":{"state":..},"updatedAt","matchers",...}.
std::string SilenceJson(const Silence& s, int64_t now_ms);

// An immutable snapshot of silences indexed for the hot path: each silence is filed under one
// of its `name="value"` matchers (alertname first), so an event looks at the silences filed
// under its own label values plus those with no such matcher, not at all of them.
class SilenceSet {
 public:
  // Compiles every silence (expired ones too: they simply never match). kInvalidArgument
  // naming the silence when one does not compile. Ids should be unique.
  static Result<std::shared_ptr<const SilenceSet>> Create(std::vector<Silence> silences);

  // The active silence (at `now_ms`) whose matchers all match `ev`, or nullptr; the one with
  // the smallest id when several do. Valid while this set lives.
  const Silence* Silencing(const Event& ev, int64_t now_ms) const;

  size_t size() const { return entries_.size(); }
  const Silence& silence(size_t i) const { return entries_[i].silence; }

 private:
  SilenceSet() = default;
  struct Entry {
    Silence silence;
    std::vector<CompiledMatcher> matchers;
  };
  bool Mutes(const Entry& e, const Event& ev, int64_t now_ms) const;
  std::vector<Entry> entries_;  // in id order
  // label name -> value -> entries (indexes into entries_, ascending).
  std::vector<std::pair<std::string, std::unordered_map<std::string, std::vector<uint32_t>>>>
      by_label_;
  std::vector<uint32_t> unindexed_;  // ascending
};

// One inhibition rule (inhibit.yaml in the rules directory):
//   - name: node-down-mutes-disk        # optional; default "inhibit[<index>]"
//     source_matchers: ['alertname="NodeDown"']
//     target_matchers: ['severity=~"warning|info"']
//     equal: [instance]
struct InhibitRule {
  std::string name;
  std::vector<LabelMatcher> source_matchers;
  std::vector<LabelMatcher> target_matchers;
  std::vector<std::string> equal;
  std::string file;  // where it is defined, for messages
  int line = 0;
};

// An inhibition rule ready to match. `key` identifies its source side (source matchers and
// `equal`): tracked sources survive a reload that keeps it.
struct CompiledInhibitRule {
  InhibitRule spec;
  std::vector<CompiledMatcher> source;
  std::vector<CompiledMatcher> target;
  uint64_t key = 0;
};
// kInvalidArgument naming the rule and matcher; also refuses a rule without target matchers
// (it would mute everything) or with an invalid `equal` label name.
Result<CompiledInhibitRule> CompileInhibitRule(InhibitRule rule);

}  // namespace reflex::engine
