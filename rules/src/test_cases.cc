#include "reflex/rules/test_cases.h"

#include <nlohmann/json.hpp>

#include "reflex/base/strings.h"
#include "reflex/engine/event.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/source.h"

namespace reflex::rules {

using base::DidYouMean;

using nlohmann::json;

namespace {

std::string Trim(std::string_view s) { return std::string(base::Trim(s)); }

std::optional<engine::Verdict> ParseVerdict(std::string_view s) {
  return engine::kVerdictNames.Parse(base::AsciiLower(Trim(s)));
}

void SplitRow(const std::string& spec, std::string* table, std::string* row) {
  size_t slash = spec.find('/');
  if (slash == std::string::npos) {
    *row = spec;
  } else {
    *table = spec.substr(0, slash);
    *row = spec.substr(slash + 1);
  }
}

std::vector<std::string> SplitActions(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ';') {
      std::string a = Trim(s.substr(start, i - start));
      if (!a.empty()) out.push_back(a);
      start = i + 1;
    }
  }
  return out;
}

// The table a case belongs to: the one its cases file sits beside, else the one it expects.
const std::string& CaseOwner(const TestCase& tc) {
  return !tc.table_hint.empty() ? tc.table_hint : tc.expect_table;
}

CaseFailure Failure(const std::string& table, const CaseOutcome& o) {
  return CaseFailure{.table = table,
                     .name = o.test->name,
                     .file = o.test->file,
                     .line = o.test->line,
                     .reason = o.detail};
}

}  // namespace

bool IsCasesFile(std::string_view name) {
  return name.ends_with(".cases.csv") || name.ends_with(".cases.jsonl");
}

std::vector<TestCase> ReadCasesJsonl(std::string_view text, const std::string& file,
                                     Diagnostics* diags) {
  std::vector<TestCase> cases;
  int line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view l =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line;
    if (Trim(l).empty() || Trim(l)[0] == '#') continue;
    json j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      diags->Error(file, line, 1,
                   "a case is a JSON object: {\"name\":..,\"event\":{..},\"expect\":{..}}");
      continue;
    }
    TestCase tc;
    tc.file = file;
    tc.line = line;
    tc.name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>()
                                                          : file + ":" + std::to_string(line);
    // A string is the text payload of a mapping that reads text (`--mapping influx`).
    if (!j.contains("event") || !(j["event"].is_object() || j["event"].is_string())) {
      diags->Error(file, line, 1, "case '" + tc.name + "' has no \"event\" object");
      continue;
    }
    tc.event_json = j["event"].dump(-1, ' ', false, json::error_handler_t::replace);
    if (j.contains("meta")) {
      if (!j["meta"].is_object()) {
        diags->Error(file, line, 1,
                     "case '" + tc.name + "': \"meta\" must be an object of strings");
        continue;
      }
      for (const auto& [k, v] : j["meta"].items()) {
        tc.meta.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    if (!j.contains("expect") || !j["expect"].is_object()) {
      diags->Error(file, line, 1, "case '" + tc.name + "' has no \"expect\" object");
      continue;
    }
    const json& e = j["expect"];
    bool ok = true;
    for (const auto& [key, value] : e.items()) {
      if (key == "verdict" || key == "table" || key == "row" || key == "actions") continue;
      diags->Error(file, line, 1,
                   "case '" + tc.name + "': unknown expectation \"" + key + "\"" +
                       DidYouMean(key, {"verdict", "table", "row", "actions"}) +
                       " (expected verdict, table, row or actions)");
      ok = false;
    }
    if (e.contains("verdict")) {
      tc.expect_verdict =
          e["verdict"].is_string() ? ParseVerdict(e["verdict"].get<std::string>()) : std::nullopt;
      if (!tc.expect_verdict) {
        diags->Error(file, line, 1,
                     "case '" + tc.name + "': verdict must be known, suppressed or unknown");
        ok = false;
      }
    }
    if (e.contains("table") && e["table"].is_string()) tc.expect_table = e["table"];
    if (e.contains("row") && e["row"].is_string())
      SplitRow(e["row"], &tc.expect_table, &tc.expect_row);
    if (e.contains("actions") && e["actions"].is_array()) {
      tc.expect_actions.emplace();
      for (const auto& a : e["actions"]) {
        if (a.is_string()) tc.expect_actions->push_back(a);
      }
    }
    if (ok && !tc.expect_verdict && tc.expect_row.empty() && tc.expect_table.empty() &&
        !tc.expect_actions) {
      diags->Error(file, line, 1,
                   "case '" + tc.name + "' expects nothing (give a verdict, a row or actions)");
      ok = false;
    }
    if (ok) cases.push_back(std::move(tc));
  }
  return cases;
}

std::vector<TestCase> ReadCasesCsv(std::string_view text, const std::string& file,
                                   const std::string& table, Diagnostics* diags) {
  std::vector<TestCase> cases;
  std::vector<CsvRecord> recs = ReadCsv(text, file, diags);
  size_t i = 0;
  auto skip = [](const CsvRecord& r) { return r.blank() || Trim(r.at(0)).rfind('#', 0) == 0; };
  while (i < recs.size() && skip(recs[i])) ++i;
  if (i >= recs.size()) {
    diags->Error(
        file, 0, 0,
        "empty cases sheet: expected a header row (case, expect_verdict, expect_row, fields...)");
    return cases;
  }
  const CsvRecord& header = recs[i++];
  enum Kind { kName, kVerdict, kRow, kActions, kField, kSkip };
  struct Col {
    Kind kind = kSkip;
    engine::FieldPath path;
  };
  std::vector<Col> cols(header.cells.size());
  bool has_expect = false;
  bool bad_header = false;
  for (size_t c = 0; c < header.cells.size(); ++c) {
    std::string h = Trim(header.cells[c].text);
    std::string l = base::AsciiLower(h);
    if (h.empty()) continue;
    if (l == "case" || l == "name")
      cols[c].kind = kName;
    else if (l == "expect_verdict" || l == "verdict")
      cols[c].kind = kVerdict, has_expect = true;
    else if (l == "expect_row" || l == "row")
      cols[c].kind = kRow, has_expect = true;
    else if (l == "expect_actions" || l == "actions")
      cols[c].kind = kActions, has_expect = true;
    else if (l.rfind("expect", 0) == 0) {
      // A misspelt expectation read as an event field makes wrong expectations pass.
      diags->Error(file, header.line, header.cells[c].column,
                   "unknown expectation column '" + h + "'" +
                       DidYouMean(l, {"expect_verdict", "expect_row", "expect_actions"}) +
                       " (expected expect_verdict, expect_row or expect_actions)");
      cols[c].kind = kSkip;
      bad_header = true;
    } else {
      auto p = engine::FieldPath::Parse(h);
      if (!p.ok()) {
        diags->Error(file, header.line, header.cells[c].column,
                     "unknown column '" + h + "': " + p.status().message());
        continue;
      }
      cols[c].kind = kField;
      cols[c].path = *p;
    }
  }
  if (bad_header) return cases;
  if (!has_expect) {
    diags->Error(file, header.line, 0, "no expect_verdict / expect_row column");
    return cases;
  }
  for (; i < recs.size(); ++i) {
    const CsvRecord& r = recs[i];
    if (skip(r)) continue;
    TestCase tc;
    tc.file = file;
    tc.line = r.line;
    tc.table_hint = table;
    tc.name = file + ":" + std::to_string(r.line);
    json ev = json::object();
    bool ok = true;
    for (const CsvCell& cell : r.cells) {
      const size_t c = static_cast<size_t>(cell.column - 1);
      if (c >= cols.size()) continue;
      const std::string v = Trim(cell.text);
      if (v.empty()) continue;
      switch (cols[c].kind) {
        case kName:
          tc.name = v;
          break;
        case kVerdict:
          tc.expect_verdict = ParseVerdict(v);
          if (!tc.expect_verdict) {
            diags->Error(file, r.line, cell.column,
                         "verdict must be known, suppressed or unknown, got '" + v + "'");
            ok = false;
          }
          break;
        case kRow:
          SplitRow(v, &tc.expect_table, &tc.expect_row);
          if (tc.expect_table.empty()) tc.expect_table = table;
          break;
        case kActions:
          tc.expect_actions = SplitActions(v);
          break;
        case kSkip:
          break;
        case kField: {
          const engine::FieldPath& p = cols[c].path;
          using Root = engine::FieldPath::Root;
          switch (p.root()) {
            case Root::kBare:
            case Root::kLabel:
              ev["labels"][p.name()] = v;
              break;
            case Root::kValue: {
              auto d = engine::ParseNumber(v);
              if (!d) {
                diags->Error(file, r.line, cell.column,
                             "'" + p.text() + "' needs a number, got '" + v + "'");
                ok = false;
              } else {
                ev["values"][p.name()] = *d;
              }
              break;
            }
            case Root::kMessage:
              ev["message"] = v;
              break;
            case Root::kSource:
              ev["source"] = v;
              break;
            case Root::kId:
              ev["id"] = v;
              break;
            case Root::kMeta:
              tc.meta.emplace_back(p.name(), v);
              break;
            case Root::kTimestamp: {
              // RFC 3339 text, or an epoch number (seconds or milliseconds).
              auto num = engine::ParseNumber(v);
              ev["timestamp"] = num ? json(*num) : json(v);
              break;
            }
            case Root::kPayload: {
              // JSON pointer: '~' and '/' inside keys are escaped as ~0 and ~1.
              std::string ptr = "/payload";
              for (const auto& st : p.steps()) {
                ptr += '/';
                if (st.index >= 0) {
                  ptr += std::to_string(st.index);
                  continue;
                }
                for (char ch : st.key) {
                  if (ch == '~')
                    ptr += "~0";
                  else if (ch == '/')
                    ptr += "~1";
                  else
                    ptr += ch;
                }
              }
              auto num = engine::ParseNumber(v);
              try {
                ev[json::json_pointer(ptr)] = num ? json(*num) : json(v);
              } catch (const json::exception& e) {
                diags->Error(
                    file, r.line, cell.column,
                    "'" + p.text() + "' conflicts with another payload column (" + e.what() + ")");
                ok = false;
              }
              break;
            }
          }
          break;
        }
      }
    }
    if (!ok) continue;
    tc.event_json = ev.dump(-1, ' ', false, json::error_handler_t::replace);
    cases.push_back(std::move(tc));
  }
  return cases;
}

std::vector<CaseOutcome> RunCases(const engine::CompiledRuleSet& rules,
                                  const std::vector<TestCase>& cases, int64_t now_ms) {
  std::vector<CaseOutcome> out;
  engine::EventParser parser;
  engine::Event ev;
  engine::MatchScratch scratch;
  engine::MatchResult result;
  for (const TestCase& tc : cases) {
    CaseOutcome o;
    o.test = &tc;
    if (engine::Status s = parser.Parse(tc.event_json, now_ms, &ev); !s.ok()) {
      o.detail = "event does not parse: " + s.message();
      out.push_back(std::move(o));
      continue;
    }
    ev.meta = tc.meta;
    rules.Label(&ev);
    rules.Match(ev, &scratch, &result);
    std::string got = engine::VerdictName(result.verdict);
    std::vector<std::string> got_actions;
    for (size_t i = 0; i < result.matches.size(); ++i) {
      const auto& t = rules.tables()[result.matches[i].table];
      const auto& row = t.rows[result.matches[i].row];
      got += (i ? ", " : " ") + t.name + "/" + row.id;
      for (const auto& a : row.actions) got_actions.push_back(a.name);
    }
    std::string want;
    bool pass = true;
    if (tc.expect_verdict) {
      want = engine::VerdictName(*tc.expect_verdict);
      pass &= *tc.expect_verdict == result.verdict;
    }
    if (!tc.expect_row.empty() || !tc.expect_table.empty()) {
      want += " " + (tc.expect_table.empty() ? "*" : tc.expect_table) + "/" +
              (tc.expect_row.empty() ? "*" : tc.expect_row);
      bool found = false;
      for (const auto& m : result.matches) {
        const auto& t = rules.tables()[m.table];
        if (!tc.expect_table.empty() && t.name != tc.expect_table) continue;
        if (!tc.expect_row.empty() && t.rows[m.row].id != tc.expect_row) continue;
        found = true;
      }
      pass &= found;
    }
    if (tc.expect_actions) {
      std::string list;
      for (const auto& a : *tc.expect_actions) list += (list.empty() ? "" : ";") + a;
      want += " actions [" + list + "]";
      pass &= got_actions == *tc.expect_actions;
      std::string glist;
      for (const auto& a : got_actions) glist += (glist.empty() ? "" : ";") + a;
      got += " actions [" + glist + "]";
    }
    o.passed = pass;
    if (!pass) o.detail = "expected " + Trim(want) + ", got " + got;
    out.push_back(std::move(o));
  }
  return out;
}

std::string_view TableStateText(TableState state) {
  return state == TableState::kFailed ? "not verified" : kTableStateNames.Name(state);
}

std::vector<TableVerification> VerifyTables(const engine::CompiledRuleSet& rules,
                                            const std::vector<CaseOutcome>& outcomes) {
  std::vector<TableVerification> v;
  for (const auto& t : rules.tables()) {
    TableVerification tv;
    tv.table = t.name;
    for (const auto& o : outcomes) {
      if (CaseOwner(*o.test) != t.name) continue;
      if (o.passed) {
        ++tv.passed;
        continue;
      }
      ++tv.failed;
      tv.failures.push_back(Failure(t.name, o));
    }
    tv.state = tv.failed > 0   ? TableState::kFailed
               : tv.passed > 0 ? TableState::kVerified
                               : TableState::kUntested;
    v.push_back(std::move(tv));
  }
  return v;
}

bool RuleSetVerification::passed() const {
  if (diags.has_errors() || !other_failures.empty()) return false;
  for (const auto& t : tables) {
    if (t.state == TableState::kFailed) return false;
  }
  return true;
}

size_t RuleSetVerification::Count(TableState state) const {
  size_t n = 0;
  for (const auto& t : tables) n += t.state == state;
  return n;
}

std::vector<std::string> RuleSetVerification::Tables(TableState state) const {
  std::vector<std::string> names;
  for (const auto& t : tables) {
    if (t.state == state) names.push_back(t.table);
  }
  return names;
}

std::vector<std::string> RuleSetVerification::FailureLines() const {
  std::vector<std::string> lines;
  auto add = [&](const CaseFailure& f) {
    std::string l = f.file + ":" + std::to_string(f.line) + ": ";
    if (!f.table.empty()) l += "table " + f.table + ": ";
    l += f.name.empty() ? f.reason : "case '" + f.name + "' failed: " + f.reason;
    lines.push_back(std::move(l));
  };
  for (const auto& t : tables) {
    for (const auto& f : t.failures) add(f);
  }
  for (const auto& f : other_failures) add(f);
  return lines;
}

RuleSetVerification VerifyRuleSet(const engine::CompiledRuleSet& rules,
                                  const std::vector<CaseFile>& files, int64_t now_ms,
                                  const CaseExpander& expand_jsonl) {
  RuleSetVerification v;
  // A cases file beside a table belongs to it: tables/disk.cases.csv -> the table of disk.csv
  // (or of disk.xlsx, when the workbook holds one table).
  // A workbook of several table sheets shares one stem among its tables: its cases files
  // belong to none of them by name and say their table (`expect_row: ops.Noise/row`).
  std::map<std::string, std::string> stem_to_table;
  std::map<std::string, int> workbook_tables;
  std::string book, sheet;
  for (const auto& t : rules.tables()) {
    if (SplitSheetFile(t.file, &book, &sheet)) ++workbook_tables[book];
  }
  for (const auto& t : rules.tables()) {
    if (SplitSheetFile(t.file, &book, &sheet) && workbook_tables[book] > 1) continue;
    stem_to_table[FileStem(t.file)] = t.name;
  }
  std::map<std::string, std::string> file_table;  // cases file -> its table ("" for none)
  for (const CaseFile& f : files) {
    if (IsPatternCasesFile(f.path)) {
      std::vector<PatternCase> got = ReadPatternCases(f.text, f.path, &v.diags);
      v.pattern_cases.insert(v.pattern_cases.end(), std::make_move_iterator(got.begin()),
                             std::make_move_iterator(got.end()));
      file_table[f.path] = "";
      continue;
    }
    auto it = stem_to_table.find(FileStem(f.path));
    const std::string table = it == stem_to_table.end() ? "" : it->second;
    file_table[f.path] = table;
    const bool csv = f.path.ends_with(".csv");
    std::vector<TestCase> got = csv ? ReadCasesCsv(f.text, f.path, table, &v.diags)
                                    : ReadCasesJsonl(f.text, f.path, &v.diags);
    for (auto& tc : got) {
      if (tc.table_hint.empty()) tc.table_hint = table;
    }
    if (!csv && expand_jsonl) {
      std::vector<TestCase> expanded;
      for (auto& tc : got) expand_jsonl(std::move(tc), &expanded, &v.diags);
      got = std::move(expanded);
    }
    v.cases.insert(v.cases.end(), std::make_move_iterator(got.begin()),
                   std::make_move_iterator(got.end()));
  }
  v.outcomes = RunCases(rules, v.cases, now_ms);
  v.tables = VerifyTables(rules, v.outcomes);
  v.pattern_outcomes = RunPatternCases(rules, v.pattern_cases);
  for (const auto& o : v.pattern_outcomes) {
    if (o.passed) continue;
    v.other_failures.push_back(CaseFailure{.table = "",
                                           .name = o.test->name,
                                           .file = o.test->file,
                                           .line = o.test->line,
                                           .reason = o.detail});
  }
  for (const auto& o : v.outcomes) {
    if (o.passed) continue;
    const std::string owner = CaseOwner(*o.test);
    bool in_set = false;
    for (const auto& t : v.tables) in_set = in_set || t.table == owner;
    if (!in_set) v.other_failures.push_back(Failure("", o));
  }
  // An error in a cases file fails the table it belongs to: its cases could not all run.
  for (const Diagnostic& d : v.diags.Sorted()) {
    if (d.severity != Severity::kError) continue;
    CaseFailure f{.table = "", .name = "", .file = d.file, .line = d.line, .reason = d.message};
    auto it = file_table.find(d.file);
    TableVerification* owner = nullptr;
    for (auto& t : v.tables) {
      if (it != file_table.end() && t.table == it->second) owner = &t;
    }
    if (owner == nullptr) {
      v.other_failures.push_back(std::move(f));
      continue;
    }
    f.table = owner->table;
    owner->state = TableState::kFailed;
    owner->failures.push_back(std::move(f));
  }
  return v;
}

}  // namespace reflex::rules
