// Small builders shared by the engine tests: events, tables and rows without the rule
// language, so these tests exercise reflex::engine alone.
#pragma once

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/event.h"
#include "reflex/engine/rule_model.h"
#include "reflex/engine/template.h"

namespace reflex::engine::testing {

inline FieldPath Path(std::string_view text) {
  auto p = FieldPath::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : FieldPath();
}

inline Event ParseEvent(std::string_view json, int64_t default_time_ms = 0) {
  EventParser parser;
  Event ev;
  Status s = parser.Parse(json, default_time_ms, &ev);
  EXPECT_TRUE(s.ok()) << json << ": " << s.ToString();
  return ev;
}

inline Template Tmpl(std::string_view text) {
  auto t = Template::Parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().ToString();
  return t.ok() ? *t : *Template::Parse("");
}

inline TableSpec MakeTable(std::string name, std::vector<std::string> columns,
                           HitPolicy policy = HitPolicy::kFirst) {
  TableSpec t;
  t.name = std::move(name);
  t.file = "tables/" + t.name + ".csv";
  t.hit_policy = policy;
  int col = 1;
  for (const auto& c : columns) {
    t.columns.push_back(ColumnSpec{Path(c), SourceLocation{t.file, 1, col++}});
  }
  return t;
}

// Appends a row whose id is `id`, on line rows.size() + 2 (the header is line 1).
inline RowSpec& AddRow(TableSpec* t, std::string id, std::vector<Condition> cells,
                       std::vector<ActionSpec> actions = {}, int64_t priority = 0) {
  RowSpec r;
  r.id = std::move(id);
  r.where = SourceLocation{t->file, static_cast<int>(t->rows.size()) + 2, 1};
  r.priority = priority;
  r.conditions = std::move(cells);
  r.condition_where.resize(r.conditions.size());
  r.actions = std::move(actions);
  t->rows.push_back(std::move(r));
  return t->rows.back();
}

inline ActionSpec Action(std::string name,
                         std::vector<std::pair<std::string, std::string>> params = {}) {
  ActionSpec a;
  a.name = std::move(name);
  for (auto& [k, v] : params) a.params.emplace_back(k, Tmpl(v));
  return a;
}

inline Condition Re(std::string pattern, bool icase = false, bool negate = false) {
  auto c = Condition::Regex(pattern, icase, negate);
  EXPECT_TRUE(c.ok()) << pattern << ": " << c.status().ToString();
  return c.ok() ? *c : Condition::Any();
}

inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline Condition Ge(double x) { return Condition::Range(NumRange{x, kInf, true, false}); }
inline Condition Gt(double x) { return Condition::Range(NumRange{x, kInf, false, false}); }
inline Condition Le(double x) { return Condition::Range(NumRange{-kInf, x, false, true}); }
inline Condition Lt(double x) { return Condition::Range(NumRange{-kInf, x, false, false}); }

}  // namespace reflex::engine::testing
