#include "reflex/rules/loader.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "reflex/base/hash.h"
#include "reflex/rules/analysis.h"
#include "reflex/rules/cell.h"
#include "reflex/rules/chaining.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/pattern_cases.h"
#include "reflex/rules/patterns.h"
#include "reflex/rules/test_cases.h"
#include "reflex/rules/topology_reader.h"
#include "reflex/rules/xlsx.h"

namespace reflex::rules {

using engine::FieldPath;

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int Line(const YAML::Node& n) { return n.Mark().line + 1; }
int Col(const YAML::Node& n) { return n.Mark().column + 1; }

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Loads YAML text, reporting a syntax error with its position. Null node on error.
YAML::Node LoadYaml(std::string_view text, const std::string& file, Diagnostics* diags) {
  if (!CheckUtf8(text, file, diags)) return YAML::Node();
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diags->Error(file, e.mark.line + 1, e.mark.column + 1, "YAML syntax: " + e.msg);
    return YAML::Node();
  }
}

std::string Scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

void CheckKeys(const YAML::Node& map, const std::vector<std::string>& allowed,
               const std::string& file, const std::string& what, Diagnostics* diags) {
  for (auto kv : map) {
    const std::string key = kv.first.as<std::string>("");
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      diags->Error(file, Line(kv.first), Col(kv.first),
                   "unknown key '" + key + "' in " + what + " (expected " + list + ")");
    }
  }
}

// A YAML tree as JSON, every scalar as its text (templates stay unrendered).
nlohmann::json YamlToJson(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (auto kv : n) o[kv.first.as<std::string>("")] = YamlToJson(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (auto x : n) a.push_back(YamlToJson(x));
    return a;
  }
  if (n.IsScalar()) return n.Scalar();
  return nullptr;
}

}  // namespace

void ReadActionCatalog(std::string_view text, const std::string& file, TableContext* ctx,
                       Diagnostics* diags) {
  YAML::Node root = LoadYaml(text, file, diags);
  if (!root) return;
  ctx->has_catalog = true;
  YAML::Node actions = root.IsMap() ? root["actions"] : YAML::Node();
  if (!actions || !actions.IsMap()) {
    diags->Error(file, root.IsMap() ? Line(root) : 1, 0,
                 "expected 'actions:' mapping action names to their settings");
    return;
  }
  for (auto kv : actions) {
    const std::string name = kv.first.as<std::string>("");
    if (name.empty()) {
      diags->Error(file, Line(kv.first), Col(kv.first), "empty action name");
      continue;
    }
    if (name == engine::kIgnoreAction || name == engine::kEscalateAction) {
      diags->Error(file, Line(kv.first), Col(kv.first),
                   "'" + name + "' is a built-in outcome and cannot be redefined");
      continue;
    }
    ctx->action_names.insert(name);
    if (kv.second.IsMap() && Scalar(kv.second["kind"]) == "emit" && kv.second["event"] &&
        kv.second["event"].IsMap()) {
      ctx->emit_events[name] = YamlToJson(kv.second["event"]);
    }
    std::set<std::string>& params = ctx->action_params[name];
    const YAML::Node list = kv.second.IsMap() ? kv.second["params"] : YAML::Node();
    if (!list || !list.IsSequence()) continue;  // the catalog reader reports a bad shape
    for (const auto& item : list) {
      if (item.IsScalar()) params.insert(item.Scalar());
      if (item.IsMap() && item["name"] && item["name"].IsScalar()) {
        params.insert(item["name"].Scalar());
      }
    }
  }
}

void ReadInhibitYaml(std::string_view text, const std::string& file,
                     std::vector<engine::InhibitRule>* out, Diagnostics* diags) {
  YAML::Node root = LoadYaml(text, file, diags);
  if (!root || root.IsNull()) return;
  YAML::Node rules = root.IsMap() ? root["inhibit_rules"] : YAML::Node();
  if (!root.IsMap() || !rules || !(rules.IsSequence() || rules.IsNull())) {
    diags->Error(file, Line(root), Col(root), "expected 'inhibit_rules:' with a list of rules");
    return;
  }
  for (auto kv : root) {
    if (kv.first.as<std::string>("") != "inhibit_rules") {
      diags->Error(file, Line(kv.first), Col(kv.first),
                   "unknown key '" + kv.first.as<std::string>("") + "' (expected inhibit_rules)");
    }
  }
  if (rules.IsNull()) return;
  for (size_t i = 0; i < rules.size(); ++i) {
    const YAML::Node r = rules[i];
    if (!r.IsMap()) {
      diags->Error(file, Line(r), Col(r),
                   "an inhibit rule is a mapping with source_matchers, target_matchers, equal");
      continue;
    }
    engine::InhibitRule rule;
    rule.name = "inhibit[" + std::to_string(i) + "]";
    rule.file = file;
    rule.line = Line(r);
    bool ok = true;
    auto matchers = [&](const YAML::Node& n, const std::string& key,
                        std::vector<engine::LabelMatcher>* into) {
      if (!n.IsSequence()) {
        diags->Error(file, Line(n), Col(n),
                     key + ": expected a list of matcher strings, e.g. ['alertname=\"NodeDown\"']");
        ok = false;
        return;
      }
      for (const auto& item : n) {
        if (!item.IsScalar()) {
          diags->Error(file, Line(item), Col(item), key + ": expected a matcher string");
          ok = false;
          continue;
        }
        auto m = engine::ParseMatchers(item.Scalar());
        if (!m.ok()) {
          diags->Error(file, Line(item), Col(item), key + ": " + m.status().message());
          ok = false;
          continue;
        }
        for (auto& x : *m) {
          if (auto c = engine::CompiledMatcher::Create(x); !c.ok()) {
            diags->Error(file, Line(item), Col(item), key + ": " + c.status().message());
            ok = false;
          }
          into->push_back(std::move(x));
        }
      }
    };
    for (auto kv : r) {
      const std::string key = kv.first.as<std::string>("");
      const YAML::Node& v = kv.second;
      if (key == "name" && v.IsScalar()) {
        rule.name = v.Scalar();
      } else if (key == "source_matchers") {
        matchers(v, key, &rule.source_matchers);
      } else if (key == "target_matchers") {
        matchers(v, key, &rule.target_matchers);
      } else if (key == "equal" && v.IsSequence()) {
        for (const auto& l : v) {
          if (!l.IsScalar() || !engine::IsValidLabelName(l.Scalar())) {
            diags->Error(file, Line(l), Col(l), "equal: expected label names");
            ok = false;
            continue;
          }
          rule.equal.push_back(l.Scalar());
        }
      } else if (key == "source_match" || key == "target_match" || key == "source_match_re" ||
                 key == "target_match_re") {
        diags->Error(file, Line(kv.first), Col(kv.first),
                     "'" + key + "' is not supported (deprecated in Alertmanager): use " +
                         (key.rfind("source", 0) == 0 ? "source_matchers" : "target_matchers"));
        ok = false;
      } else {
        diags->Error(file, Line(kv.first), Col(kv.first),
                     "unknown or malformed key '" + key +
                         "' (expected name, source_matchers, target_matchers, equal)");
        ok = false;
      }
    }
    if (!ok) continue;
    if (auto c = engine::CompileInhibitRule(rule); !c.ok()) {
      diags->Error(file, Line(r), Col(r), c.status().message());
      continue;
    }
    out->push_back(std::move(rule));
  }
}

void ReadLabelingYaml(const FileSource& fs, const std::string& dir, std::string_view text,
                      const std::string& file, engine::LabelingSpec* out, Diagnostics* diags) {
  YAML::Node root = LoadYaml(text, file, diags);
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) {
    diags->Error(file, Line(root), Col(root), "expected a mapping with 'extract' and/or 'lookups'");
    return;
  }
  CheckKeys(root, {"extract", "lookups"}, file, "labeling.yaml", diags);
  if (YAML::Node ex = root["extract"]; ex) {
    if (!ex.IsSequence()) {
      diags->Error(file, Line(ex), Col(ex), "'extract' must be a list of rules");
    } else {
      int k = 0;
      for (auto r : ex) {
        ++k;
        if (!r.IsMap()) {
          diags->Error(file, Line(r), Col(r),
                       "an extraction rule is a mapping (name, from, pattern)");
          continue;
        }
        CheckKeys(r, {"name", "from", "pattern", "when", "overwrite"}, file, "an extraction rule",
                  diags);
        engine::ExtractRule rule;
        rule.name = Scalar(r["name"]);
        if (rule.name.empty()) rule.name = "extract#" + std::to_string(k);
        rule.where = {file, Line(r), Col(r)};
        std::string from = r["from"] ? Scalar(r["from"]) : "message";
        auto path = FieldPath::Parse(from);
        if (!path.ok()) {
          diags->Error(file, Line(r["from"]), Col(r["from"]),
                       "bad 'from' field: " + path.status().message());
          continue;
        }
        rule.from = *path;
        rule.pattern = Scalar(r["pattern"]);
        const YAML::Node pat = r["pattern"];
        const int pl = pat ? Line(pat) : Line(r), pc = pat ? Col(pat) : Col(r);
        if (rule.pattern.empty()) {
          diags->Error(file, pl, pc, "extraction rule '" + rule.name + "' has no pattern");
          continue;
        }
        RE2::Options opts;
        opts.set_log_errors(false);
        RE2 re(rule.pattern, opts);
        if (!re.ok()) {
          diags->Error(file, pl, pc, "bad pattern in '" + rule.name + "': " + re.error());
          continue;
        }
        if (re.NamedCapturingGroups().empty()) {
          diags->Error(file, pl, pc,
                       "pattern of '" + rule.name + "' has no named group (?P<label>...)");
          continue;
        }
        if (YAML::Node when = r["when"]; when) {
          if (!when.IsMap()) {
            diags->Error(file, Line(when), Col(when), "'when' maps fields to conditions");
            continue;
          }
          bool ok = true;
          for (auto w : when) {
            auto wp = FieldPath::Parse(w.first.as<std::string>(""));
            CellResult cr = ParseCondition(Scalar(w.second));
            if (!wp.ok() || !cr.ok) {
              diags->Error(file, Line(w.second), Col(w.second),
                           !wp.ok() ? wp.status().message() : cr.error.message);
              ok = false;
              continue;
            }
            rule.when.emplace_back(*wp, std::move(cr.condition));
          }
          if (!ok) continue;
        }
        if (YAML::Node ow = r["overwrite"]; ow) rule.overwrite = ow.as<bool>(false);
        out->extract.push_back(std::move(rule));
      }
    }
  }
  if (YAML::Node lk = root["lookups"]; lk) {
    if (!lk.IsSequence()) {
      diags->Error(file, Line(lk), Col(lk), "'lookups' must be a list");
      return;
    }
    for (auto l : lk) {
      if (!l.IsMap()) {
        diags->Error(file, Line(l), Col(l), "a lookup is a mapping (name, file, key, columns)");
        continue;
      }
      CheckKeys(l, {"name", "file", "key", "key_column", "columns", "overwrite"}, file, "a lookup",
                diags);
      engine::LookupTable table;
      table.where = {file, Line(l), Col(l)};
      const std::string csv_file = Scalar(l["file"]);
      table.name = l["name"] ? Scalar(l["name"]) : csv_file;
      auto key = FieldPath::Parse(Scalar(l["key"]));
      if (!key.ok()) {
        diags->Error(file, Line(l), Col(l),
                     "lookup '" + table.name + "': bad 'key': " + key.status().message());
        continue;
      }
      table.key = *key;
      if (YAML::Node ow = l["overwrite"]; ow) table.overwrite = ow.as<bool>(false);
      if (csv_file.empty()) {
        diags->Error(file, Line(l), Col(l), "lookup '" + table.name + "' has no 'file'");
        continue;
      }
      const std::string path = JoinPath(dir, csv_file);
      auto text_or = fs.Read(path);
      if (!text_or.ok()) {
        diags->Error(file, Line(l["file"]), Col(l["file"]),
                     "lookup file " + text_or.status().message());
        continue;
      }
      std::vector<CsvRecord> recs = ReadCsv(*text_or, path, diags);
      size_t h = 0;
      while (h < recs.size() && recs[h].blank()) ++h;
      if (h >= recs.size()) {
        diags->Error(path, 0, 0, "empty lookup file: expected a header row");
        continue;
      }
      const CsvRecord& header = recs[h];
      const std::string key_col =
          l["key_column"] ? Scalar(l["key_column"]) : std::string(header.at(0));
      int key_idx = -1;
      for (size_t c = 0; c < header.cells.size(); ++c) {
        if (header.cells[c].text == key_col) key_idx = static_cast<int>(c);
      }
      if (key_idx < 0) {
        diags->Error(path, header.line, 0, "no key column '" + key_col + "' in the header");
        continue;
      }
      std::vector<int> take;
      if (YAML::Node cols = l["columns"]; cols && cols.IsSequence()) {
        for (auto c : cols) {
          const std::string name = Scalar(c);
          int idx = -1;
          for (size_t k = 0; k < header.cells.size(); ++k) {
            if (header.cells[k].text == name) idx = static_cast<int>(k);
          }
          if (idx < 0) {
            diags->Error(file, Line(c), Col(c),
                         "lookup '" + table.name + "': no column '" + name + "' in " + path);
            continue;
          }
          take.push_back(idx);
          table.columns.push_back(name);
        }
      } else {
        for (size_t k = 0; k < header.cells.size(); ++k) {
          if (static_cast<int>(k) == key_idx || header.cells[k].text.empty()) continue;
          take.push_back(static_cast<int>(k));
          table.columns.push_back(header.cells[k].text);
        }
      }
      for (size_t r = h + 1; r < recs.size(); ++r) {
        if (recs[r].blank()) continue;
        std::string k(recs[r].at(static_cast<size_t>(key_idx)));
        if (k.empty()) continue;
        std::vector<std::string> vals;
        for (int idx : take) vals.emplace_back(recs[r].at(static_cast<size_t>(idx)));
        if (!table.rows.emplace(k, std::move(vals)).second) {
          diags->Warning(path, recs[r].line, key_idx + 1,
                         "duplicate key '" + k + "': the first row is used");
        }
      }
      table.source_file = path;
      out->lookups.push_back(std::move(table));
    }
  }
}

// The fields labeling rules and test cases name (as FieldKey), for WarnMisspeltFields. Case
// files that do not parse add nothing here; `reflex test` reports them.
static std::set<std::string> FieldsUsedOutsideTables(const FileSource& fs, const LoadedRules& lr) {
  std::set<std::string> used = lr.context.known_labels;
  for (const auto& r : lr.labeling.extract) {
    used.insert(FieldKey(r.from));
    for (const auto& [field, cond] : r.when) used.insert(FieldKey(field));
  }
  for (const auto& lt : lr.labeling.lookups) used.insert(FieldKey(lt.key));
  for (const std::string& path : lr.case_files) {
    auto text = fs.Read(path);
    if (!text.ok()) continue;
    Diagnostics scratch;
    const bool csv = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
    std::vector<TestCase> cases =
        csv ? ReadCasesCsv(*text, path, "", &scratch) : ReadCasesJsonl(*text, path, &scratch);
    for (const TestCase& tc : cases) {
      auto ev = nlohmann::json::parse(tc.event_json, nullptr, false);
      if (!ev.is_object()) continue;
      for (const auto& [k, v] : ev.items()) {
        if (k == "labels" && v.is_object()) {
          for (const auto& [name, x] : v.items()) used.insert(name);
        } else if (k == "values" && v.is_object()) {
          for (const auto& [name, x] : v.items()) used.insert("values." + name);
        } else {
          used.insert(k);
        }
      }
    }
  }
  return used;
}

// Reads <dir>/patterns/*.yaml|yml (optional) into lr->patterns, mixing each file into the
// version; a pattern name used twice is an error at its second use.
template <typename Mix>
static void ReadPatternsDir(const FileSource& fs, const std::string& dir, const Mix& mix,
                            LoadedRules* lr) {
  const std::string patterns_dir = JoinPath(dir, "patterns");
  if (!fs.IsDirectory(patterns_dir)) return;
  std::map<std::string, engine::SourceLocation> names;
  uint64_t hash = base::Fnv1a64("reflex-patterns");
  for (const std::string& name : fs.List(patterns_dir)) {
    const std::string path = JoinPath(patterns_dir, name);
    if (IsPatternCasesFile(path)) {
      lr->case_files.push_back(path);
      continue;
    }
    if (!EndsWith(name, ".yaml") && !EndsWith(name, ".yml")) {
      if (!EndsWith(name, ".md") && name[0] != '.') {
        lr->diags.Warning(path, 0, 0, "ignored: not a patterns file (.yaml)");
      }
      continue;
    }
    auto text = fs.Read(path);
    if (!text.ok()) {
      lr->diags.Error(path, 0, 0, text.status().message());
      continue;
    }
    mix("patterns/" + name, *text);
    hash = base::Fnv1a64(name, hash);
    hash = base::Fnv1a64(std::string_view("\0", 1), hash);
    hash = base::Fnv1a64(*text, hash);
    std::vector<engine::PatternSpec> read;
    ReadPatternsYaml(*text, path, lr->context, &read, &lr->diags);
    for (engine::PatternSpec& p : read) {
      if (auto [it, fresh] = names.emplace(p.name, p.where); !fresh) {
        lr->diags.Error(path, p.where.line, p.where.column,
                        "pattern name '" + p.name + "' is also used by " + it->second.file + ":" +
                            std::to_string(it->second.line));
        continue;
      }
      lr->patterns.push_back(std::move(p));
    }
  }
  lr->patterns_version = "p-" + Hex16(hash);
}

LoadedRules LoadRules(const FileSource& fs, const std::string& dir_arg) {
  // "rules" and "rules/" are the same directory and must give the same version (lookup
  // file names are mixed in relative to `dir`); "/" itself stays "/".
  std::string dir = dir_arg;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  LoadedRules lr;
  lr.dir = dir;
  if (!fs.IsDirectory(dir)) {
    lr.diags.Error(
        dir, 0, 0,
        "not a rules directory (expected tables/, and optionally labeling.yaml and actions.yaml)");
    return lr;
  }
  uint64_t hash = base::Fnv1a64("reflex-rules");
  auto mix = [&](const std::string& name, const std::string& text) {
    hash = base::Fnv1a64(name, hash);
    hash = base::Fnv1a64(std::string_view("\0", 1), hash);
    hash = base::Fnv1a64(text, hash);
  };
  const std::string actions_path = JoinPath(dir, "actions.yaml");
  if (fs.Exists(actions_path)) {
    auto text = fs.Read(actions_path);
    if (text.ok()) {
      mix("actions.yaml", *text);
      ReadActionCatalog(*text, actions_path, &lr.context, &lr.diags);
    }
  }
  const std::string inhibit_path = JoinPath(dir, "inhibit.yaml");
  if (fs.Exists(inhibit_path)) {
    auto text = fs.Read(inhibit_path);
    if (text.ok()) {
      mix("inhibit.yaml", *text);
      ReadInhibitYaml(*text, inhibit_path, &lr.inhibit_rules, &lr.diags);
    } else {
      lr.diags.Error(inhibit_path, 0, 0, text.status().message());
    }
  }
  const std::string labeling_path = JoinPath(dir, "labeling.yaml");
  if (fs.Exists(labeling_path)) {
    auto text = fs.Read(labeling_path);
    if (text.ok()) {
      mix("labeling.yaml", *text);
      ReadLabelingYaml(fs, dir, *text, labeling_path, &lr.labeling, &lr.diags);
      for (const auto& lt : lr.labeling.lookups) {
        if (auto t = fs.Read(lt.source_file); t.ok()) mix(lt.source_file.substr(dir.size()), *t);
      }
    }
  }
  // Labels the labeling rules can add are valid bare template variables.
  for (const auto& r : lr.labeling.extract) {
    RE2 re(r.pattern);
    for (const auto& [name, idx] : re.NamedCapturingGroups()) lr.context.known_labels.insert(name);
  }
  for (const auto& lt : lr.labeling.lookups) {
    lr.context.known_labels.insert(lt.columns.begin(), lt.columns.end());
    if (lt.key.root() == FieldPath::Root::kBare) lr.context.known_labels.insert(lt.key.name());
  }
  const std::string tables_dir = JoinPath(dir, "tables");
  if (!fs.IsDirectory(tables_dir)) {
    lr.diags.Error(tables_dir, 0, 0,
                   "missing: decision tables go in " + tables_dir + "/*.csv or *.yaml");
    return lr;
  }
  std::map<std::string, engine::SourceLocation> names;  // table name -> where it is named
  for (const std::string& name : fs.List(tables_dir)) {
    const std::string path = JoinPath(tables_dir, name);
    if (IsCasesFile(name)) {
      lr.case_files.push_back(path);
      continue;
    }
    const bool csv = EndsWith(name, ".csv");
    const bool yaml = EndsWith(name, ".yaml") || EndsWith(name, ".yml");
    const bool xlsx = IsXlsxFile(name);
    if (!csv && !yaml && !xlsx) {
      // Excel's lock file beside an open workbook (`~$disk.xlsx`) is skipped silently too.
      if (!EndsWith(name, ".md") && name[0] != '.' && name.rfind("~$", 0) != 0) {
        lr.diags.Warning(path, 0, 0, "ignored: not a table (.csv, .yaml, .xlsx) or a cases file");
      }
      continue;
    }
    auto text = fs.Read(path);
    if (!text.ok()) {
      lr.diags.Error(path, 0, 0, text.status().message());
      continue;
    }
    mix("tables/" + name, *text);
    std::vector<engine::TableSpec> read;
    if (xlsx) {
      read = ReadXlsxTables(*text, path, lr.context, &lr.diags);
    } else if (std::optional<engine::TableSpec> table =
                   csv ? ReadCsvTable(*text, path, lr.context, &lr.diags)
                       : ReadYamlTable(*text, path, lr.context, &lr.diags)) {
      read.push_back(std::move(*table));
    }
    for (engine::TableSpec& table : read) {
      // The matcher's limit (CompiledTable::Build); reported here so the error has a position.
      if (constexpr size_t kMaxColumns = 64; table.columns.size() > kMaxColumns) {
        const engine::SourceLocation& at = table.columns[kMaxColumns].where;
        lr.diags.Error(table.file, at.line, at.column,
                       "table '" + table.name + "' has " + std::to_string(table.columns.size()) +
                           " condition columns; the limit is " + std::to_string(kMaxColumns));
        continue;
      }
      if (auto [it, fresh] = names.emplace(table.name, table.name_where); !fresh) {
        const engine::SourceLocation& at = table.name_where;
        const engine::SourceLocation& first = it->second;
        lr.diags.Error(table.file, at.line, at.column,
                       "table name '" + table.name + "' is also used by " +
                           base::PositionText(first.file, first.line, first.column));
        continue;
      }
      AnalyzeTable(table, &lr.diags);
      lr.tables.push_back(std::move(table));
    }
  }
  ReadPatternsDir(fs, dir, mix, &lr);
  if (lr.tables.empty() && !lr.diags.has_errors()) {
    lr.diags.Error(tables_dir, 0, 0, "no decision tables (*.csv, *.yaml, *.xlsx) found");
  }
  WarnMisspeltFields(lr.tables, FieldsUsedOutsideTables(fs, lr), &lr.diags);
  {
    // Labels the labeling rules may set or overwrite: unknown to the chaining check.
    std::set<std::string> labeled;
    for (const auto& r : lr.labeling.extract) {
      RE2 re(r.pattern);
      for (const auto& [name, idx] : re.NamedCapturingGroups()) labeled.insert(name);
    }
    for (const auto& lt : lr.labeling.lookups) labeled.insert(lt.columns.begin(), lt.columns.end());
    CheckChainingCycles(lr.tables, lr.context, labeled, &lr.diags);
  }
  std::vector<std::pair<std::string, std::string>> topology_files;
  lr.topology = LoadTopology(fs, dir, &topology_files, &lr.diags);
  for (const auto& [name, text] : topology_files) mix(name, text);
  lr.version = "v-" + Hex16(hash);
  return lr;
}

std::shared_ptr<const engine::CompiledRuleSet> Compile(LoadedRules rules, Diagnostics* diags) {
  if (rules.diags.has_errors()) return nullptr;
  std::shared_ptr<engine::PatternSet> patterns;
  if (!rules.patterns.empty()) {
    patterns = std::make_shared<engine::PatternSet>();
    patterns->specs = std::move(rules.patterns);
    patterns->version = std::move(rules.patterns_version);
  }
  auto rs = engine::CompiledRuleSet::Create(std::move(rules.tables), std::move(rules.labeling),
                                            rules.version, std::move(rules.topology),
                                            std::move(rules.inhibit_rules), std::move(patterns));
  if (!rs.ok()) {
    diags->Error(rules.dir, 0, 0, "compile: " + rs.status().message());
    return nullptr;
  }
  return *rs;
}

}  // namespace reflex::rules
