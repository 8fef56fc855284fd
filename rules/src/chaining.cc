#include "reflex/rules/chaining.h"

#include <cstdint>
#include <map>
#include <utility>

#include "reflex/engine/condition.h"
#include "reflex/engine/graph.h"
#include "reflex/engine/template.h"
#include "reflex/rules/analysis.h"

namespace reflex::rules {

using engine::ActionSpec;
using engine::FieldPath;
using engine::RowSpec;
using engine::TableSpec;
using engine::Template;

namespace {

using Params = std::vector<std::pair<std::string, Template>>;

// The text a catalog template renders to for this row whatever the triggering event, or
// false when it depends on the event (or on a parameter the row computes from it).
bool ResolveConstant(const std::string& text, const Params& params, std::string* out) {
  out->clear();
  engine::Status s = engine::ScanTemplate(
      text, [&](std::string literal, const engine::TemplatePlaceholder* ph) -> engine::Status {
        *out += literal;
        if (ph == nullptr) return engine::Status::Ok();
        constexpr std::string_view kParams = "params.";
        if (ph->name.substr(0, kParams.size()) != kParams) {
          return engine::InvalidArgument("depends on the event");
        }
        const std::string_view name = ph->name.substr(kParams.size());
        for (const auto& [k, t] : params) {
          if (k != name) continue;
          if (!t.is_literal()) return engine::InvalidArgument("depends on the event");
          *out += t.source().empty() ? ph->fallback : t.source();
          return engine::Status::Ok();
        }
        *out += ph->fallback;  // a parameter the row does not pass renders as its default
        return engine::Status::Ok();
      });
  return s.ok();
}

// Keeps the members whose value is constant for this row; drops the others (unknown).
nlohmann::json ConstantPart(const nlohmann::json& j, const Params& params, bool* any_unknown) {
  if (j.is_object()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) {
      if (v.is_string()) {
        std::string s;
        if (ResolveConstant(v.get<std::string>(), params, &s)) {
          o[k] = s;
        } else {
          *any_unknown = true;
        }
      } else {
        o[k] = ConstantPart(v, params, any_unknown);
      }
    }
    return o;
  }
  if (j.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : j) {
      if (v.is_string()) {
        std::string s;
        if (!ResolveConstant(v.get<std::string>(), params, &s)) {
          *any_unknown = true;
          return nullptr;  // positions would shift: the whole list is unknown
        }
        a.push_back(s);
      } else {
        a.push_back(ConstantPart(v, params, any_unknown));
      }
    }
    return a;
  }
  return j;
}

// What is known of one emitted event: the constant fields, as an Event.
struct EmittedShape {
  bool parsed = false;
  engine::Event event;
  bool has_message = false;
};

EmittedShape ShapeOf(const nlohmann::json& templ, const Params& params) {
  EmittedShape out;
  bool unknown = false;
  nlohmann::json j = ConstantPart(templ, params, &unknown);
  if (!j.is_object()) return out;
  if (auto v = j.find("values"); v != j.end() && v->is_object()) {
    for (auto& [k, x] : v->items()) {
      if (!x.is_string()) continue;
      auto num = engine::ParseNumber(x.get<std::string>());
      if (num) {
        x = *num;
      } else {
        x = nullptr;
      }
    }
  }
  out.has_message = j.contains("message");
  engine::EventParser parser;
  out.parsed = parser.Parse(j.dump(), 0, &out.event).ok();
  return out;
}

// Could the emitted event match `row` of `table`? False only when some condition is on a
// constant field and fails on it.
bool CouldMatch(const EmittedShape& shape, const TableSpec& table, const RowSpec& row,
                const std::set<std::string>& overwritten) {
  if (!shape.parsed) return true;
  for (size_t c = 0; c < table.columns.size() && c < row.conditions.size(); ++c) {
    const FieldPath& f = table.columns[c].field;
    const engine::Condition& cond = row.conditions[c];
    if (cond.op() == engine::Op::kAny) continue;
    switch (f.root()) {
      case FieldPath::Root::kBare:
      case FieldPath::Root::kLabel:
      case FieldPath::Root::kValue:
        break;
      case FieldPath::Root::kMessage:
        if (!shape.has_message) continue;
        break;
      default:
        continue;  // set by the ingest path, not by the emit template
    }
    if (overwritten.count(FieldKey(f)) > 0) continue;
    engine::FieldValue v = shape.event.Get(f);
    if (v.missing()) continue;  // unknown: could be anything
    if (!cond.Evaluate(v)) return false;
  }
  return true;
}

struct Emitter {
  size_t table = 0;
  size_t row = 0;
  const ActionSpec* action = nullptr;
};

std::string RowName(const TableSpec& t, const RowSpec& r) { return t.name + "/" + r.id; }

}  // namespace

bool CheckChainingCycles(const std::vector<TableSpec>& tables, const TableContext& ctx,
                         const std::set<std::string>& overwritten, Diagnostics* diags) {
  if (ctx.emit_events.empty()) return true;
  std::vector<Emitter> emitters;
  std::vector<EmittedShape> shapes;
  for (size_t t = 0; t < tables.size(); ++t) {
    for (size_t r = 0; r < tables[t].rows.size(); ++r) {
      for (const ActionSpec& a : tables[t].rows[r].actions) {
        auto it = ctx.emit_events.find(a.name);
        if (it == ctx.emit_events.end()) continue;
        emitters.push_back({t, r, &a});
        shapes.push_back(ShapeOf(it->second, a.params));
      }
    }
  }
  if (emitters.empty()) return true;
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  for (size_t i = 0; i < emitters.size(); ++i) {
    for (size_t k = 0; k < emitters.size(); ++k) {
      const TableSpec& t = tables[emitters[k].table];
      if (CouldMatch(shapes[i], t, t.rows[emitters[k].row], overwritten)) {
        edges.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(k));
      }
    }
  }
  std::vector<uint32_t> cycle = engine::FindCycle(emitters.size(), edges);
  if (cycle.empty()) return true;
  std::string path;
  for (size_t i = 0; i < cycle.size(); ++i) {
    const Emitter& e = emitters[cycle[i]];
    const TableSpec& t = tables[e.table];
    const RowSpec& r = t.rows[e.row];
    if (!path.empty()) path += " -> ";
    path += RowName(t, r);
    if (i + 1 < cycle.size()) {
      path += " (" + base::PositionText(t.file, r.where.line, 0) + ", emits via '" +
              e.action->name + "')";
    }
  }
  const Emitter& first = emitters[cycle.front()];
  const RowSpec& row = tables[first.table].rows[first.row];
  diags->Error(row.where.file.empty() ? tables[first.table].file : row.where.file, row.where.line,
               row.where.column,
               "rule chaining cycle: a conclusion event can trigger its own rule again: " + path);
  return false;
}

}  // namespace reflex::rules
