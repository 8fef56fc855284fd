// Labeling: adds labels to an event before matching.
//
// Extraction rules run an RE2 pattern with named groups (`(?P<mount>/\S+)`) over the
// message, a label or a payload field, optionally only when conditions hold, and add one
// label per named group. Lookup tables add columns of a CSV row keyed by a field (host
// inventory: instance -> team, service, env). Extraction runs first, in order, then lookups,
// so a lookup may key on an extracted label. Many patterns over the same field are
// pre-filtered with one RE2::Set pass.
// Thread-safety: immutable after Create; Apply is const and re-entrant.
//
//   LabelingSpec spec;
//   spec.extract.push_back({.name = "mount", .from = *FieldPath::Parse("message"),
//                           .pattern = "on (?P<mountpoint>/\\S*)"});
//   auto labeler = Labeler::Create(std::move(spec));
//   (*labeler)->Apply(&event);
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reflex/engine/condition.h"
#include "reflex/engine/event.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/status.h"

namespace reflex::engine {

struct ExtractRule {
  std::string name;
  FieldPath from;
  std::string pattern;
  std::vector<std::pair<FieldPath, Condition>> when;  // all must hold
  bool overwrite = false;  // replace labels the event already has
  SourceLocation where;
};

struct LookupTable {
  std::string name;
  FieldPath key;                    // the event field whose value is looked up
  std::vector<std::string> columns;  // labels added, in order
  // key value -> one value per column
  std::unordered_map<std::string, std::vector<std::string>> rows;
  bool overwrite = false;
  SourceLocation where;
  std::string source_file;  // the CSV it was read from, when any
};

struct LabelingSpec {
  std::vector<ExtractRule> extract;
  std::vector<LookupTable> lookups;
};

class Labeler {
 public:
  // Fails on a bad pattern or one without named groups; the message names the rule.
  static Result<std::unique_ptr<Labeler>> Create(LabelingSpec spec);
  ~Labeler();

  void Apply(Event* ev) const;
  // Every label name the rules can add (for template validation).
  std::vector<std::string> OutputLabels() const;
  const LabelingSpec& spec() const { return spec_; }
  bool empty() const { return spec_.extract.empty() && spec_.lookups.empty(); }

 private:
  Labeler() = default;
  struct Group;
  LabelingSpec spec_;
  std::vector<std::unique_ptr<Group>> groups_;
};

}  // namespace reflex::engine
