// The rule-set model: decision tables as data, independent of the file they came from.
//
// reflex::rules reads CSV / YAML files into these structs (with source locations);
// CompiledRuleSet::Create (matcher.h) compiles them. Plain values, no behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/condition.h"
#include "reflex/engine/event.h"
#include "reflex/engine/template.h"

namespace reflex::engine {

enum class HitPolicy {
  kFirst,     // the first matching row, in file order
  kUnique,    // at most one row can match (overlaps are rejected at load time)
  kCollect,   // every matching row, in file order
  kPriority,  // the matching row with the highest `priority` (file order breaks ties)
};
inline constexpr base::EnumNames<HitPolicy, 4> kHitPolicyNames{
    {{{HitPolicy::kFirst, "first"},
      {HitPolicy::kUnique, "unique"},
      {HitPolicy::kCollect, "collect"},
      {HitPolicy::kPriority, "priority"}}}};
// "first", "unique", "collect", "priority".
const char* HitPolicyName(HitPolicy p);

// Where a piece of a rule came from, for error messages and decision provenance.
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based line (CSV record start / YAML line)
  int column = 0;  // 1-based column
};

// Built-in action names that only set the verdict.
inline constexpr const char* kIgnoreAction = "ignore";      // known benign: suppressed
inline constexpr const char* kEscalateAction = "escalate";  // known, needs a person

struct ActionSpec {
  std::string name;
  std::vector<std::pair<std::string, Template>> params;
};

struct ColumnSpec {
  FieldPath field;
  SourceLocation where;  // the header cell
};

struct RowSpec {
  std::string id;
  SourceLocation where;  // line of the row, column of the id cell (or 1)
  int64_t priority = 0;
  // One per table column, in column order; Condition::Any() for a blank cell.
  std::vector<Condition> conditions;
  std::vector<SourceLocation> condition_where;
  std::vector<ActionSpec> actions;
  std::string runbook;
  std::string description;

  bool IsIgnore() const { return actions.size() == 1 && actions[0].name == kIgnoreAction; }
};

struct TableSpec {
  std::string name;
  std::string file;
  // The cell or key that names the table; line 1, column 1 when the file name does.
  SourceLocation name_where;
  HitPolicy hit_policy = HitPolicy::kFirst;
  int tz_offset_min = 0;
  std::string description;
  std::vector<ColumnSpec> columns;
  std::vector<RowSpec> rows;
};

}  // namespace reflex::engine
