#include "reflex/rules/table_reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "reflex/base/strings.h"
#include "reflex/rules/cell.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/source.h"
#include "reflex/rules/xlsx.h"

namespace reflex::rules {

using base::DidYouMean;
using base::EditDistance;
using engine::ActionSpec;
using engine::ColumnSpec;
using engine::FieldPath;
using engine::HitPolicy;
using engine::RowSpec;
using engine::TableSpec;
using engine::Template;

namespace {

std::string Trim(std::string_view s) { return std::string(base::Trim(s)); }

bool ValidTableName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// A policy's name or its first letter ("first" or "f", ...), in any case.
bool ParseHitPolicy(std::string_view s, HitPolicy* out) {
  std::string l = base::AsciiLower(Trim(s));
  for (const auto& [policy, name] : engine::kHitPolicyNames.entries) {
    if (l == name || l == name.substr(0, 1)) {
      *out = policy;
      return true;
    }
  }
  return false;
}

const std::vector<std::string> kReserved = {"id", "action", "priority", "runbook", "description"};
const std::vector<std::string> kBuiltinActions = {engine::kIgnoreAction, engine::kEscalateAction,
                                                  "emit"};

// Checks the variables of a template: a bare `{{name}}` must be a label the rule set knows.
bool CheckTemplateVars(const Template& t, const TableContext& ctx, const TableSpec& table,
                       std::string* bad) {
  for (const FieldPath& p : t.variables()) {
    if (p.root() != FieldPath::Root::kBare) continue;
    if (ctx.known_labels.count(p.name())) continue;
    bool column = std::any_of(table.columns.begin(), table.columns.end(),
                              [&](const ColumnSpec& c) { return c.field.name() == p.name(); });
    if (!column) {
      *bad = p.name();
      return false;
    }
  }
  return true;
}

// Type check of a condition against its column's field.
std::string TypeError(const engine::Condition& c, const FieldPath& f) {
  using engine::Op;
  using Root = FieldPath::Root;
  const bool numeric_field = f.root() == Root::kValue || f.root() == Root::kTimestamp;
  const bool text_field =
      f.root() == Root::kMessage || f.root() == Root::kSource || f.root() == Root::kId;
  const bool time_op = c.op() == Op::kTimeOfDay || c.op() == Op::kWeekday;
  const bool text_op = c.op() == Op::kPrefix || c.op() == Op::kSuffix || c.op() == Op::kContains ||
                       c.op() == Op::kRegex || c.op() == Op::kCidr;
  if (time_op && f.root() != Root::kTimestamp && f.root() != Root::kPayload &&
      f.root() != Root::kLabel && f.root() != Root::kBare) {
    return std::string(engine::OpName(c.op())) + "() applies to a timestamp field, and '" +
           f.text() + "' is not one";
  }
  if (numeric_field && text_op && f.root() != Root::kTimestamp) {
    return "'" + f.text() + "' holds numbers; " + engine::OpName(c.op()) + " needs text";
  }
  if (numeric_field && (c.op() == Op::kEq || c.op() == Op::kIn)) {
    for (double d : c.numbers()) {
      if (d != d) return "'" + f.text() + "' holds numbers; '" + c.Describe() + "' is not a number";
    }
  }
  if (text_field && c.op() == Op::kLess) {
    return "'" + f.text() + "' is text; " + c.Describe() + " needs a number";
  }
  if (f.root() == Root::kTimestamp && (text_op || c.op() == Op::kEq || c.op() == Op::kIn)) {
    return "timestamp conditions are time(), weekday() or numeric comparisons";
  }
  return "";
}

// Splits `s` on `sep` outside "quotes" and (parentheses).
std::vector<std::pair<std::string, size_t>> SplitTop(std::string_view s, char sep) {
  std::vector<std::pair<std::string, size_t>> parts;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == sep && depth == 0 && !quoted)) {
      parts.emplace_back(std::string(s.substr(start, i - start)), start);
      start = i + 1;
      continue;
    }
    if (s[i] == '"')
      quoted = !quoted;
    else if (!quoted && s[i] == '(')
      ++depth;
    else if (!quoted && s[i] == ')')
      --depth;
  }
  return parts;
}

// Builds rows for CSV and YAML alike.
struct CellInput {
  std::string text;
  int line = 0, column = 0;
};
struct RowInput {
  std::string id;
  int line = 0, id_column = 1;
  std::vector<CellInput> cells;  // one per table column
  CellInput action;
  std::vector<std::pair<std::string, CellInput>> params;
  CellInput priority;
  std::string runbook, description;
};

bool IsCatalogAction(const TableContext& ctx, const std::string& action) {
  return ctx.has_catalog && ctx.action_params.count(action) > 0;
}

// Why `action` may not take `param` ("" when it may): the catalog declares every parameter
// an action takes, and a row passing another (`force=true`) would be silently ignored.
std::string UndeclaredParam(const TableContext& ctx, const std::string& action,
                            const std::string& param) {
  if (!IsCatalogAction(ctx, action)) return "";
  const std::set<std::string>& declared = ctx.action_params.at(action);
  if (declared.count(param)) return "";
  std::string list;
  for (const auto& d : declared) list += (list.empty() ? "" : ", ") + d;
  return "parameter '" + param + "' is not declared by action '" + action +
         "' in actions.yaml (its params are [" + list + "])" + DidYouMean(param, declared);
}

bool BuildRow(const RowInput& in, const std::string& file, const TableContext& ctx,
              TableSpec* table, Diagnostics* diags) {
  bool ok = true;
  RowSpec row;
  row.id = in.id;
  row.where = {file, in.line, in.id_column};
  row.runbook = in.runbook;
  row.description = in.description;
  for (size_t c = 0; c < table->columns.size(); ++c) {
    const CellInput& ci = in.cells[c];
    CellResult r = ParseCondition(ci.text, table->tz_offset_min);
    if (!r.ok) {
      std::string msg = r.error.message;
      if (r.error.offset > 0)
        msg += " (at character " + std::to_string(r.error.offset) + " of '" + Trim(ci.text) + "')";
      diags->Error(file, ci.line, ci.column, msg);
      ok = false;
      row.conditions.emplace_back();
    } else {
      std::string type_err = TypeError(r.condition, table->columns[c].field);
      if (!type_err.empty()) {
        diags->Error(file, ci.line, ci.column, "type error: " + type_err);
        ok = false;
      }
      row.conditions.push_back(std::move(r.condition));
    }
    row.condition_where.push_back({file, ci.line, ci.column});
  }
  if (!Trim(in.priority.text).empty()) {
    std::string p = Trim(in.priority.text);
    auto res = std::from_chars(p.data(), p.data() + p.size(), row.priority);
    if (res.ec != std::errc() || res.ptr != p.data() + p.size()) {
      diags->Error(file, in.priority.line, in.priority.column,
                   "priority must be a whole number, got '" + p + "'");
      ok = false;
    }
  }
  if (Trim(in.action.text).empty()) {
    diags->Error(file, in.action.line, in.action.column,
                 "row '" + in.id + "' has no action (write an action name, ignore or escalate)");
    ok = false;
  } else if (!ParseActionCell(in.action.text, file, in.action.line, in.action.column, ctx,
                              &row.actions, diags)) {
    ok = false;
  }
  auto check_vars = [&](const Template& t, const std::string& pname, const CellInput& where) {
    if (t.uses_events()) {
      diags->Error(file, where.line, where.column,
                   "parameter '" + pname +
                       "' reads events.*, the matched events of a pattern (patterns/*.yaml); a "
                       "table row sees one event (write labels.<name>)");
      return false;
    }
    std::string bad;
    if (CheckTemplateVars(t, ctx, *table, &bad)) return true;
    diags->Error(file, where.line, where.column,
                 "unknown template variable '{{" + bad + "}}' in parameter '" + pname +
                     "' (write labels." + bad + " for a label the event may carry)");
    return false;
  };
  for (const auto& a : row.actions) {
    for (const auto& [pname, tmpl] : a.params) ok &= check_vars(tmpl, pname, in.action);
  }
  for (const auto& [name, ci] : in.params) {
    if (Trim(ci.text).empty()) continue;
    auto t = Template::Parse(ci.text);
    if (!t.ok()) {
      diags->Error(file, ci.line, ci.column,
                   "bad template for '" + name + "': " + t.status().message());
      ok = false;
      continue;
    }
    if (!check_vars(*t, name, ci)) {
      ok = false;
      continue;
    }
    // A parameter column goes to every action of the row; one of them must declare it.
    std::string why;
    bool declared = false;
    for (const auto& a : row.actions) {
      if (!IsCatalogAction(ctx, a.name)) continue;
      std::string w = UndeclaredParam(ctx, a.name, name);
      declared |= w.empty();
      if (why.empty()) why = w;
    }
    if (!declared && !why.empty()) {
      diags->Error(file, ci.line, ci.column, why);
      ok = false;
      continue;
    }
    for (auto& a : row.actions) {
      if (a.name == engine::kIgnoreAction) {
        diags->Warning(file, ci.line, ci.column,
                       "'ignore' takes no parameters; '" + name + "' is unused");
        continue;
      }
      a.params.emplace_back(name, *t);
    }
  }
  table->rows.push_back(std::move(row));
  return ok;
}

void CheckIds(TableSpec* table, const std::string& file, Diagnostics* diags) {
  std::map<std::string, int> seen;
  for (const RowSpec& r : table->rows) {
    auto [it, fresh] = seen.emplace(r.id, r.where.line);
    if (!fresh) {
      diags->Error(file, r.where.line, r.where.column,
                   "duplicate row id '" + r.id + "' (first used on line " +
                       std::to_string(it->second) + ")");
    }
  }
}

}  // namespace

bool ParseActionCell(std::string_view cell, const std::string& file, int line, int column,
                     const TableContext& ctx, std::vector<ActionSpec>* out, Diagnostics* diags) {
  bool ok = true;
  out->clear();
  for (const auto& [part, offset] : SplitTop(cell, ';')) {
    std::string item = Trim(part);
    if (item.empty()) continue;
    auto err = [&](const std::string& m) {
      diags->Error(file, line, column, m + " (in action '" + item + "')");
      ok = false;
    };
    size_t paren = item.find('(');
    std::string name = Trim(item.substr(0, paren));
    bool ident = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
      ident = ident && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
    }
    if (!ident) {
      err("bad action name '" + name + "'");
      continue;
    }
    const bool builtin =
        std::find(kBuiltinActions.begin(), kBuiltinActions.end(), name) != kBuiltinActions.end();
    if (!builtin && ctx.has_catalog && !ctx.action_names.count(name)) {
      std::vector<std::string> cands(ctx.action_names.begin(), ctx.action_names.end());
      cands.insert(cands.end(), kBuiltinActions.begin(), kBuiltinActions.end());
      err("unknown action '" + name + "': not in actions.yaml" + DidYouMean(name, cands));
      continue;
    }
    ActionSpec spec;
    spec.name = name;
    if (paren != std::string::npos) {
      if (item.back() != ')') {
        err("missing ')' after the parameters");
        continue;
      }
      std::string_view inner = std::string_view(item).substr(paren + 1, item.size() - paren - 2);
      for (const auto& [kv, kv_off] : SplitTop(inner, ',')) {
        std::string p = Trim(kv);
        if (p.empty()) continue;
        size_t eq = p.find('=');
        if (eq == std::string::npos || Trim(p.substr(0, eq)).empty()) {
          err("parameter '" + p + "' is not key=value");
          continue;
        }
        std::string key = Trim(p.substr(0, eq));
        std::string val = Trim(p.substr(eq + 1));
        if (val.size() >= 2 && val.front() == '"' && val.back() == '"') {
          std::string un;
          for (size_t i = 1; i + 1 < val.size(); ++i) {
            if (val[i] == '"' && i + 2 < val.size() && val[i + 1] == '"') ++i;
            un.push_back(val[i]);
          }
          val = un;
        }
        auto t = Template::Parse(val);
        if (!t.ok()) {
          err("bad template for '" + key + "': " + t.status().message());
          continue;
        }
        if (std::string why = UndeclaredParam(ctx, name, key); !why.empty()) {
          err(why);
          continue;
        }
        spec.params.emplace_back(key, std::move(*t));
      }
    }
    out->push_back(std::move(spec));
  }
  if (ok && out->empty()) {
    diags->Error(file, line, column, "empty action cell");
    ok = false;
  }
  if (ok && out->size() > 1) {
    for (const auto& a : *out) {
      if (a.name == engine::kIgnoreAction) {
        diags->Error(file, line, column, "'ignore' cannot be combined with other actions");
        ok = false;
        break;
      }
    }
  }
  return ok;
}

// ---- CSV -------------------------------------------------------------------------------

HeaderKind ClassifyHeader(std::string_view header) {
  std::string l = base::AsciiLower(Trim(header));
  if (l.empty()) return HeaderKind::kNone;
  if (l == "id") return HeaderKind::kId;
  if (l == "action" || l == "actions") return HeaderKind::kAction;
  if (l == "priority") return HeaderKind::kPriority;
  if (l == "runbook") return HeaderKind::kRunbook;
  if (l == "description" || l == "note" || l == "comment") return HeaderKind::kDescription;
  if (l.rfind("param.", 0) == 0 || l.rfind("params.", 0) == 0) return HeaderKind::kParam;
  return HeaderKind::kCondition;
}

size_t HeaderRecordIndex(const std::vector<CsvRecord>& records) {
  for (size_t i = 0; i < records.size(); ++i) {
    const CsvRecord& r = records[i];
    if (r.blank() || Trim(r.at(0)).rfind('#', 0) == 0) continue;
    const std::string key = base::AsciiLower(Trim(r.at(0)));
    if (key != "table" && key != "hit_policy" && key != "hit policy" && key != "description" &&
        key != "timezone") {
      return i;
    }
  }
  return records.size();
}

std::optional<TableSpec> ReadCsvTable(std::string_view text, const std::string& file,
                                      const TableContext& ctx, Diagnostics* diags) {
  Diagnostics local;
  std::vector<CsvRecord> recs = ReadCsv(text, file, &local);
  diags->Append(local);
  if (local.has_errors()) return std::nullopt;
  return ReadRecordsTable(recs, file, FileStem(file), ctx, diags);
}

std::optional<TableSpec> ReadRecordsTable(const std::vector<CsvRecord>& recs,
                                          const std::string& file, const std::string& default_name,
                                          const TableContext& ctx, Diagnostics* diags) {
  Diagnostics local;
  TableSpec table;
  table.file = file;
  table.name = default_name;
  table.name_where = {file, 1, 1};
  size_t i = 0;
  auto skip = [&](const CsvRecord& r) { return r.blank() || Trim(r.at(0)).rfind('#', 0) == 0; };
  // Property rows.
  int hit_line = 0;
  for (; i < recs.size(); ++i) {
    const CsvRecord& r = recs[i];
    if (skip(r)) continue;
    std::string key = base::AsciiLower(Trim(r.at(0)));
    std::string value = Trim(r.at(1));
    if (key == "table") {
      if (!ValidTableName(value)) {
        local.Error(file, r.line, 2, "bad table name '" + value + "' (letters, digits, _ - .)");
      } else {
        table.name = value;
        table.name_where = {file, r.line, 2};
      }
    } else if (key == "hit_policy" || key == "hit policy") {
      if (!ParseHitPolicy(value, &table.hit_policy)) {
        local.Error(file, r.line, 2,
                    "unknown hit policy '" + value + "' (first, unique, collect or priority)");
      }
      hit_line = r.line;
    } else if (key == "description") {
      table.description = value;
    } else if (key == "timezone") {
      if (!ParseTzOffset(value, &table.tz_offset_min)) {
        local.Error(file, r.line, 2, "bad timezone '" + value + "' (write +09:00, -05:00 or UTC)");
      }
    } else {
      break;
    }
    for (size_t c = 2; c < r.cells.size(); ++c) {
      if (!Trim(r.cells[c].text).empty()) {
        local.Warning(file, r.line, r.cells[c].column,
                      "ignored: a property row has a key and one value");
      }
    }
  }
  (void)hit_line;
  if (i >= recs.size()) {
    local.Error(file, recs.empty() ? 0 : recs.back().line, 0,
                recs.empty()
                    ? "empty file: a table needs property rows (table, hit_policy) and a header row"
                    : "no header row (id, conditions..., action)");
    diags->Append(local);
    return std::nullopt;
  }
  // Header row.
  const CsvRecord& header = recs[i++];
  struct Col {
    enum Kind {
      kIgnore,
      kId,
      kCond,
      kAction,
      kParam,
      kPriority,
      kRunbook,
      kDescription
    } kind = kIgnore;
    std::string param;
    size_t cond_index = 0;
  };
  std::vector<Col> cols(header.cells.size());
  std::map<std::string, int> reserved_seen;
  bool has_action = false, has_priority = false;
  for (size_t c = 0; c < header.cells.size(); ++c) {
    const CsvCell& hc = header.cells[c];
    std::string h = Trim(hc.text);
    std::string l = base::AsciiLower(h);
    Col& col = cols[c];
    if (h.empty()) continue;
    if (l == "note" || l == "comment") l = "description";
    if (l == "actions") l = "action";
    if (std::find(kReserved.begin(), kReserved.end(), l) != kReserved.end()) {
      if (reserved_seen.count(l)) {
        local.Error(file, header.line, hc.column, "duplicate '" + l + "' column");
        continue;
      }
      reserved_seen[l] = hc.column;
      col.kind = l == "id"         ? Col::kId
                 : l == "action"   ? Col::kAction
                 : l == "priority" ? Col::kPriority
                 : l == "runbook"  ? Col::kRunbook
                                   : Col::kDescription;
      has_action |= col.kind == Col::kAction;
      has_priority |= col.kind == Col::kPriority;
      continue;
    }
    if (l.rfind("param.", 0) == 0 || l.rfind("params.", 0) == 0) {
      std::string name = h.substr(h.find('.') + 1);
      if (Trim(name).empty()) {
        local.Error(file, header.line, hc.column, "'param.' needs a parameter name: param.<name>");
        continue;
      }
      col.kind = Col::kParam;
      col.param = Trim(name);
      continue;
    }
    auto path = FieldPath::Parse(h);
    if (!path.ok()) {
      local.Error(file, header.line, hc.column,
                  "unknown column '" + h + "': " + path.status().message());
      continue;
    }
    if (path->root() == FieldPath::Root::kBare && !ctx.known_labels.count(h)) {
      // A typo is a near miss of a longer reserved name (`acton`); short label names such
      // as `pod`, `ip` or `ns` are within two edits of `id` but are real columns.
      std::vector<std::string> near;
      for (const std::string& r : kReserved) {
        if (2 * EditDistance(l, r, r.size()) < r.size()) near.push_back(r);
      }
      std::string hint = DidYouMean(l, near);
      if (!hint.empty()) {
        local.Error(file, header.line, hc.column, "unknown column '" + h + "'" + hint);
        continue;
      }
    }
    col.kind = Col::kCond;
    col.cond_index = table.columns.size();
    table.columns.push_back({*path, {file, header.line, hc.column}});
  }
  if (!has_action) {
    std::string first = Trim(header.at(0));
    local.Error(
        file, header.line, 1,
        "header row has no 'action' column" +
            (header.cells.size() <= 3
                 ? " ('" + first +
                       "' is not a table property: use table, hit_policy, description or timezone)"
                 : std::string()));
  }
  if (table.hit_policy == HitPolicy::kPriority && !has_priority) {
    local.Error(file, header.line, 0, "hit policy 'priority' needs a 'priority' column");
  }
  if (local.has_errors()) {
    diags->Append(local);
    return std::nullopt;
  }
  // Data rows.
  int data_index = 0;
  for (; i < recs.size(); ++i) {
    const CsvRecord& r = recs[i];
    if (skip(r)) continue;
    ++data_index;
    RowInput in;
    in.line = r.line;
    in.id = "r" + std::to_string(data_index);
    in.cells.resize(table.columns.size());
    for (size_t c = 0; c < table.columns.size(); ++c) {
      in.cells[c] = {"", r.line, table.columns[c].where.column};
    }
    in.action = {"", r.line, reserved_seen.count("action") ? reserved_seen["action"] : 1};
    for (const CsvCell& cell : r.cells) {
      const size_t c = static_cast<size_t>(cell.column - 1);
      if (c >= cols.size() || cols[c].kind == Col::kIgnore) {
        if (!Trim(cell.text).empty()) {
          local.Error(file, r.line, cell.column, "value in a column without a header");
        }
        continue;
      }
      const Col& col = cols[c];
      CellInput ci{cell.text, r.line, cell.column};
      switch (col.kind) {
        case Col::kId:
          if (!Trim(cell.text).empty()) in.id = Trim(cell.text);
          in.id_column = cell.column;
          break;
        case Col::kCond:
          in.cells[col.cond_index] = ci;
          break;
        case Col::kAction:
          in.action = ci;
          break;
        case Col::kParam:
          in.params.emplace_back(col.param, ci);
          break;
        case Col::kPriority:
          in.priority = ci;
          break;
        case Col::kRunbook:
          in.runbook = Trim(cell.text);
          break;
        case Col::kDescription:
          in.description = Trim(cell.text);
          break;
        case Col::kIgnore:
          break;
      }
    }
    BuildRow(in, file, ctx, &table, &local);
  }
  if (table.rows.empty())
    local.Warning(file, header.line, 0, "table '" + table.name + "' has no rows");
  CheckIds(&table, file, &local);
  diags->Append(local);
  if (local.has_errors()) return std::nullopt;
  return table;
}

// ---- XLSX ------------------------------------------------------------------------------

namespace {

// A sheet name as the part of a table name: each run of characters a table name cannot
// hold (anything but letters, digits, _ - .) becomes one '_'.
std::string SheetNamePart(std::string_view sheet) {
  std::string out;
  bool in_run = false;
  for (char c : sheet) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (ok) {
      out.push_back(c);
    } else if (!in_run) {
      out.push_back('_');
    }
    in_run = !ok;
  }
  return out;
}

}  // namespace

std::vector<TableSpec> ReadXlsxTables(std::string_view bytes, const std::string& file,
                                      const TableContext& ctx, Diagnostics* diags) {
  std::vector<TableSpec> tables;
  const std::vector<XlsxSheet> sheets = ReadXlsx(bytes, file, diags);
  const std::string stem = FileStem(file);
  for (const XlsxSheet& sheet : sheets) {
    if (sheet.has_errors) continue;
    const std::string name = sheets.size() == 1 ? stem : stem + "." + SheetNamePart(sheet.name);
    std::optional<TableSpec> table = ReadRecordsTable(sheet.records, sheet.file, name, ctx, diags);
    if (table) tables.push_back(std::move(*table));
  }
  return tables;
}

// ---- YAML ------------------------------------------------------------------------------

namespace {

int Line(const YAML::Node& n) { return n.Mark().line + 1; }
int Column(const YAML::Node& n) { return n.Mark().column + 1; }

bool ScalarText(const YAML::Node& n, std::string* out) {
  if (n.IsNull()) {
    out->clear();
    return true;
  }
  if (!n.IsScalar()) return false;
  *out = n.Scalar();
  return true;
}

}  // namespace

std::optional<TableSpec> ReadYamlTable(std::string_view text, const std::string& file,
                                       const TableContext& ctx, Diagnostics* diags) {
  Diagnostics local;
  if (!CheckUtf8(text, file, diags)) return std::nullopt;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diags->Error(file, e.mark.line + 1, e.mark.column + 1, "YAML syntax: " + e.msg);
    return std::nullopt;
  }
  if (!root.IsMap()) {
    diags->Error(file, root.IsDefined() && !root.IsNull() ? Line(root) : 1, 1,
                 "a YAML table is a mapping with table, hit_policy and rules");
    return std::nullopt;
  }
  TableSpec table;
  table.file = file;
  table.name = FileStem(file);
  table.name_where = {file, 1, 1};
  YAML::Node rules, columns;
  for (auto kv : root) {
    const std::string key = kv.first.as<std::string>("");
    const YAML::Node& v = kv.second;
    std::string s;
    if (key == "table") {
      if (!ScalarText(v, &s) || !ValidTableName(s)) {
        local.Error(file, Line(v), Column(v), "bad table name (letters, digits, _ - .)");
      } else {
        table.name = s;
        table.name_where = {file, Line(v), Column(v)};
      }
    } else if (key == "hit_policy") {
      if (!ScalarText(v, &s) || !ParseHitPolicy(s, &table.hit_policy)) {
        local.Error(file, Line(v), Column(v),
                    "unknown hit policy '" + s + "' (first, unique, collect or priority)");
      }
    } else if (key == "description") {
      ScalarText(v, &table.description);
    } else if (key == "timezone") {
      if (!ScalarText(v, &s) || !ParseTzOffset(s, &table.tz_offset_min)) {
        local.Error(file, Line(v), Column(v),
                    "bad timezone '" + s + "' (write +09:00, -05:00 or UTC)");
      }
    } else if (key == "rules") {
      rules = v;
    } else if (key == "columns") {
      columns = v;
    } else {
      local.Error(file, Line(kv.first), Column(kv.first),
                  "unknown key '" + key + "'" +
                      DidYouMean(key, std::vector<std::string>{"table", "hit_policy", "description",
                                                               "timezone", "rules", "columns"}));
    }
  }
  if (!rules.IsDefined() || !rules.IsSequence()) {
    // A missing `rules:` key has no position of its own: point at the table's mapping.
    const YAML::Node& at = rules.IsDefined() && !rules.IsNull() ? rules : root;
    local.Error(file, Line(at), Column(at), "'rules' must be a list of rules");
    diags->Append(local);
    return std::nullopt;
  }
  // Columns: declared, or every `when` key in order of first use.
  std::map<std::string, size_t> col_index;
  auto add_column = [&](const std::string& name, const YAML::Node& at) {
    if (col_index.count(name)) return;
    auto path = FieldPath::Parse(name);
    if (!path.ok()) {
      local.Error(file, Line(at), Column(at),
                  "unknown column '" + name + "': " + path.status().message());
      return;
    }
    col_index[name] = table.columns.size();
    table.columns.push_back({*path, {file, Line(at), Column(at)}});
  };
  const bool has_columns = columns.IsDefined() && !columns.IsNull();
  const bool declared = has_columns && columns.IsSequence();
  if (has_columns && !declared)
    local.Error(file, Line(columns), Column(columns), "'columns' must be a list");
  if (declared) {
    for (auto c : columns) {
      std::string s;
      if (!ScalarText(c, &s)) {
        local.Error(file, Line(c), Column(c), "a column is a field name");
        continue;
      }
      add_column(s, c);
    }
  }
  for (auto r : rules) {
    if (!r.IsMap()) continue;
    if (auto when = r["when"]; when && when.IsMap()) {
      for (auto kv : when) {
        const std::string name = kv.first.as<std::string>("");
        if (!col_index.count(name)) {
          if (declared) {
            local.Error(file, Line(kv.first), Column(kv.first),
                        "'" + name + "' is not in 'columns'");
          } else {
            add_column(name, kv.first);
          }
        }
      }
    }
  }
  bool has_priority = false;
  int data_index = 0;
  const std::vector<std::string> kRuleKeys = {"id",     "when",     "action",  "actions",
                                              "params", "priority", "runbook", "description"};
  for (auto r : rules) {
    ++data_index;
    if (!r.IsMap()) {
      local.Error(file, Line(r), Column(r), "a rule is a mapping with when and action");
      continue;
    }
    RowInput in;
    in.line = Line(r);
    in.id_column = Column(r);
    in.id = "r" + std::to_string(data_index);
    in.cells.resize(table.columns.size());
    for (size_t c = 0; c < table.columns.size(); ++c) in.cells[c] = {"", in.line, in.id_column};
    in.action = {"", in.line, in.id_column};
    for (auto kv : r) {
      const std::string key = kv.first.as<std::string>("");
      const YAML::Node& v = kv.second;
      std::string s;
      if (key == "id") {
        if (ScalarText(v, &s) && !s.empty()) in.id = s;
      } else if (key == "when") {
        if (!v.IsMap()) {
          local.Error(file, Line(v), Column(v), "'when' maps columns to conditions");
          continue;
        }
        for (auto w : v) {
          const std::string name = w.first.as<std::string>("");
          auto it = col_index.find(name);
          if (it == col_index.end()) continue;
          if (!ScalarText(w.second, &s)) {
            local.Error(file, Line(w.second), Column(w.second),
                        "a condition is a single text cell");
            continue;
          }
          in.cells[it->second] = {s, Line(w.second), Column(w.second)};
        }
      } else if (key == "action" || key == "actions") {
        if (v.IsSequence()) {
          std::string joined;
          for (auto a : v) {
            if (ScalarText(a, &s)) joined += (joined.empty() ? "" : "; ") + s;
          }
          in.action = {joined, Line(v), Column(v)};
        } else if (ScalarText(v, &s)) {
          in.action = {s, Line(v), Column(v)};
        }
      } else if (key == "params") {
        if (!v.IsMap()) {
          local.Error(file, Line(v), Column(v), "'params' maps names to templates");
          continue;
        }
        for (auto p : v) {
          std::string val;
          ScalarText(p.second, &val);
          in.params.emplace_back(p.first.as<std::string>(""),
                                 CellInput{val, Line(p.second), Column(p.second)});
        }
      } else if (key == "priority") {
        has_priority = true;
        ScalarText(v, &s);
        in.priority = {s, Line(v), Column(v)};
      } else if (key == "runbook") {
        ScalarText(v, &in.runbook);
      } else if (key == "description") {
        ScalarText(v, &in.description);
      } else {
        local.Error(file, Line(kv.first), Column(kv.first),
                    "unknown rule key '" + key + "'" + DidYouMean(key, kRuleKeys));
      }
    }
    BuildRow(in, file, ctx, &table, &local);
  }
  if (table.hit_policy == HitPolicy::kPriority && !has_priority) {
    local.Error(file, Line(root), 0, "hit policy 'priority' needs a priority on the rules");
  }
  CheckIds(&table, file, &local);
  diags->Append(local);
  if (local.has_errors()) return std::nullopt;
  return table;
}

}  // namespace reflex::rules
