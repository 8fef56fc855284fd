#include "reflex/rules/patterns.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/rules/cell.h"

namespace reflex::rules {

using engine::FieldPath;
using engine::PatternKind;
using engine::PatternSpec;

namespace {

int Line(const YAML::Node& n) { return n.Mark().line + 1; }
int Col(const YAML::Node& n) { return n.Mark().column + 1; }

const std::vector<std::string> kPatternKeys = {
    "name",  "kind", "description", "group_by", "within", "lateness", "max_keys", "members",
    "count", "rate", "value",       "above",    "below",  "actions",  "runbook"};
const std::vector<std::string> kMemberKeys = {"name", "when"};

bool ValidName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// Reads one pattern; false when it has an error (reported).
bool ReadPattern(const YAML::Node& node, const std::string& file, const TableContext& ctx,
                 PatternSpec* spec, Diagnostics* diags) {
  const size_t errors_before = diags->error_count();
  auto err = [&](const YAML::Node& at, const std::string& msg) {
    diags->Error(file, Line(at), Col(at), msg);
  };
  spec->file = file;
  spec->where = {file, Line(node), Col(node)};
  spec->lateness_ms = kDefaultPatternLatenessMs;
  for (auto kv : node) {
    const std::string key = kv.first.as<std::string>("");
    if (std::find(kPatternKeys.begin(), kPatternKeys.end(), key) == kPatternKeys.end()) {
      err(kv.first, "unknown key '" + key + "' in a pattern" + base::DidYouMean(key, kPatternKeys));
    }
  }
  auto scalar = [&](const char* key, std::string* out) {
    const YAML::Node n = node[key];
    if (!n) return false;
    if (!n.IsScalar()) {
      err(n, std::string("'") + key + "' must be a single value");
      return false;
    }
    *out = n.Scalar();
    return true;
  };
  std::string s;
  if (!scalar("name", &spec->name) || !ValidName(spec->name)) {
    err(node["name"] ? node["name"] : node,
        node["name"] ? "bad pattern name '" + spec->name + "' (letters, digits, _ - .)"
                     : "a pattern needs a 'name'");
  }
  scalar("description", &spec->description);
  scalar("runbook", &spec->runbook);
  bool kind_ok = false;
  if (scalar("kind", &s)) {
    for (const auto& [k, name] : engine::kPatternKindNames.entries) {
      if (s == name) {
        spec->kind = k;
        kind_ok = true;
      }
    }
    if (!kind_ok) {
      std::vector<std::string> names;
      for (const auto& [k, name] : engine::kPatternKindNames.entries) names.emplace_back(name);
      err(node["kind"], "unknown kind '" + s + "' (" + base::Join(names, ", ") + ")");
    }
  } else if (!node["kind"]) {
    err(node, "pattern '" + spec->name + "' needs a 'kind'");
  }
  auto duration = [&](const char* key, int64_t* out) {
    if (!scalar(key, &s)) return false;
    auto d = base::ParseDurationMs(s);
    if (!d.ok()) {
      err(node[key], std::string("'") + key + "': " + d.status().message());
      return false;
    }
    if (*d < 0) {
      err(node[key], std::string("'") + key + "' must not be negative");
      return false;
    }
    *out = *d;
    return true;
  };
  if (!duration("within", &spec->within_ms) && !node["within"]) {
    err(node, "pattern '" + spec->name + "' needs 'within' (a duration: 30s, 10m, 1h)");
  }
  duration("lateness", &spec->lateness_ms);
  auto number = [&](const char* key, double* out) {
    if (!scalar(key, &s)) return false;
    std::optional<double> d = engine::ParseNumber(base::Trim(s));
    if (!d) {
      err(node[key], std::string("'") + key + "' must be a number, got '" + s + "'");
      return false;
    }
    *out = *d;
    return true;
  };
  double d = 0;
  if (number("max_keys", &d)) {
    if (d < 1 || d > 1e9 || d != std::floor(d)) {
      err(node["max_keys"], "'max_keys' must be a whole number from 1 to 1000000000");
    } else {
      spec->max_keys = static_cast<uint32_t>(d);
    }
  }
  // Kind-specific keys.
  auto only_for = [&](const char* key, PatternKind k) {
    if (node[key] && kind_ok && spec->kind != k) {
      err(node[key], std::string("'") + key + "' applies only to kind " +
                         std::string(engine::kPatternKindNames.Name(k)));
    }
  };
  only_for("count", PatternKind::kCount);
  only_for("rate", PatternKind::kRate);
  only_for("value", PatternKind::kSustained);
  only_for("above", PatternKind::kSustained);
  only_for("below", PatternKind::kSustained);
  if (kind_ok && spec->kind == PatternKind::kCount) {
    if (!node["count"]) {
      err(node, "kind count needs 'count' (how many events within the window)");
    } else if (number("count", &d)) {
      if (d < 1 || d > 100000 || d != std::floor(d)) {
        err(node["count"], "'count' must be a whole number from 1 to 100000");
      } else {
        spec->count = static_cast<uint32_t>(d);
      }
    }
  }
  if (kind_ok && spec->kind == PatternKind::kRate) {
    if (!node["rate"]) {
      err(node, "kind rate needs 'rate' (the bound in events per second)");
    } else if (number("rate", &spec->rate) && spec->rate < 0) {
      err(node["rate"], "'rate' must not be negative");
    }
  }
  if (kind_ok && spec->kind == PatternKind::kSustained) {
    if (!scalar("value", &s)) {
      if (!node["value"]) err(node, "kind sustained needs 'value' (the sampled field)");
    } else {
      auto p = FieldPath::Parse(s);
      if (!p.ok()) {
        err(node["value"], "bad 'value' field: " + p.status().message());
      } else {
        spec->value = *p;
      }
    }
    if (node["above"] && node["below"]) {
      err(node["below"], "give 'above' or 'below', not both");
    } else if (node["above"]) {
      spec->above = true;
      number("above", &spec->bound);
    } else if (node["below"]) {
      spec->above = false;
      number("below", &spec->bound);
    } else {
      err(node, "kind sustained needs 'above: <bound>' or 'below: <bound>'");
    }
  }
  if (YAML::Node g = node["group_by"]; g) {
    std::vector<YAML::Node> items;
    if (g.IsScalar()) {
      items.push_back(g);
    } else if (g.IsSequence()) {
      for (auto x : g) items.push_back(x);
    } else {
      err(g, "'group_by' is a list of fields");
    }
    for (const YAML::Node& x : items) {
      if (!x.IsScalar()) {
        err(x, "a group_by entry is a field name");
        continue;
      }
      auto p = FieldPath::Parse(x.Scalar());
      if (!p.ok()) {
        err(x, "bad group_by field: " + p.status().message());
        continue;
      }
      spec->group_by.push_back(*p);
    }
  }
  const YAML::Node members = node["members"];
  if (!members || !members.IsSequence() || members.size() == 0) {
    err(members ? members : node, "'members' must be a list of {name, when}");
  } else {
    std::set<std::string> names;
    for (auto m : members) {
      if (!m.IsMap()) {
        err(m, "a member is a mapping {name, when}");
        continue;
      }
      for (auto kv : m) {
        const std::string key = kv.first.as<std::string>("");
        if (std::find(kMemberKeys.begin(), kMemberKeys.end(), key) == kMemberKeys.end()) {
          err(kv.first, "unknown key '" + key + "' in a member (name, when)");
        }
      }
      engine::PatternMember member;
      member.where = {file, Line(m), Col(m)};
      if (m["name"] && m["name"].IsScalar()) member.name = m["name"].Scalar();
      if (member.name.empty()) member.name = "member" + std::to_string(spec->members.size() + 1);
      if (!names.insert(member.name).second) {
        err(m, "member name '" + member.name + "' is used twice");
      }
      const YAML::Node when = m["when"];
      if (!when || !when.IsMap() || when.size() == 0) {
        err(when ? when : m, "member '" + member.name + "' needs 'when': fields to conditions");
        continue;
      }
      for (auto w : when) {
        const std::string field = w.first.as<std::string>("");
        auto p = FieldPath::Parse(field);
        if (!p.ok()) {
          err(w.first, "bad field '" + field + "': " + p.status().message());
          continue;
        }
        if (!w.second.IsScalar()) {
          err(w.second, "a condition is a single cell, e.g. \">= 90\" or \"in(a, b)\"");
          continue;
        }
        CellResult cr = ParseCondition(w.second.Scalar());
        if (!cr.ok) {
          diags->Error(file, Line(w.second), Col(w.second),
                       "bad condition for '" + field + "': " + cr.error.message);
          continue;
        }
        member.when.emplace_back(*p, std::move(cr.condition));
      }
      spec->members.push_back(std::move(member));
    }
  }
  if (YAML::Node acts = node["actions"]; acts) {
    std::vector<YAML::Node> cells;
    if (acts.IsScalar()) {
      cells.push_back(acts);
    } else if (acts.IsSequence()) {
      for (auto a : acts) cells.push_back(a);
    } else {
      err(acts, "'actions' is a list of action cells, e.g. page_oncall(team=storage)");
    }
    for (const YAML::Node& a : cells) {
      if (!a.IsScalar()) {
        err(a, "an action is a text cell: name or name(key=value, ...)");
        continue;
      }
      std::vector<engine::ActionSpec> parsed;
      if (ParseActionCell(a.Scalar(), file, Line(a), Col(a), ctx, &parsed, diags)) {
        for (auto& x : parsed) spec->actions.push_back(std::move(x));
      }
    }
  } else {
    err(node, "pattern '" + spec->name + "' needs 'actions' (what to do when it fires)");
  }
  if (diags->error_count() > errors_before) return false;
  if (engine::Status st = engine::ValidatePattern(*spec); !st.ok()) {
    err(node, "pattern '" + spec->name + "': " + st.message());
    return false;
  }
  return true;
}

}  // namespace

void ReadPatternsYaml(std::string_view text, const std::string& file, const TableContext& ctx,
                      std::vector<PatternSpec>* out, Diagnostics* diags) {
  if (!CheckUtf8(text, file, diags)) return;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diags->Error(file, e.mark.line + 1, e.mark.column + 1, "YAML syntax: " + e.msg);
    return;
  }
  if (!root || root.IsNull()) return;
  if (!root.IsSequence()) {
    diags->Error(file, Line(root), Col(root),
                 "a patterns file is a list of patterns (- name: ..., kind: ...)");
    return;
  }
  for (auto node : root) {
    if (!node.IsMap()) {
      diags->Error(file, Line(node), Col(node), "a pattern is a mapping (name, kind, members...)");
      continue;
    }
    PatternSpec spec;
    try {
      if (ReadPattern(node, file, ctx, &spec, diags)) out->push_back(std::move(spec));
    } catch (const YAML::Exception& e) {
      diags->Error(file, e.mark.line + 1, e.mark.column + 1, "YAML: " + e.msg);
    }
  }
}

}  // namespace reflex::rules
