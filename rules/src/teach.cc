#include "reflex/rules/teach.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "reflex/base/strings.h"
#include "reflex/engine/event.h"
#include "reflex/engine/explain.h"
#include "reflex/rules/cell.h"
#include "reflex/rules/csv.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/test_cases.h"

namespace reflex::rules {

using engine::Result;

namespace {

bool IsCsv(const std::string& file) { return file.ends_with(".csv"); }

// The rules directory, loaded and compiled; kFailedPrecondition with its errors when it does
// not load (nothing can be taught into a directory that does not go live).
struct Loaded {
  LoadedRules rules;
  std::shared_ptr<const engine::CompiledRuleSet> set;
};
engine::Status DoesNotLoad(const std::string& dir, const Diagnostics& diags) {
  std::string msg = "the rules directory " + dir + " does not load:";
  for (const Diagnostic& d : diags.Sorted()) {
    if (d.severity == Severity::kError) msg += "\n" + d.ToString();
  }
  return engine::FailedPrecondition(std::move(msg));
}

// The directory loaded and compiled (a draft explains the event with the set).
Result<Loaded> LoadDir(const FileSource& fs, const std::string& dir) {
  Loaded l;
  l.rules = LoadRules(fs, dir);
  Diagnostics diags = l.rules.diags;
  LoadedRules copy = l.rules;
  l.set = Compile(std::move(copy), &diags);
  if (l.set == nullptr) return DoesNotLoad(dir, diags);
  return l;
}

const engine::TableSpec* FindTable(const LoadedRules& lr, std::string_view name) {
  for (const engine::TableSpec& t : lr.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The table's CSV records and the index of its header row.
struct Sheet {
  std::string text;
  std::vector<CsvRecord> records;
  size_t header = 0;
};
Result<Sheet> ReadSheet(const FileSource& fs, const std::string& file) {
  Sheet s;
  auto text = fs.Read(file);
  if (!text.ok()) return text.status();
  s.text = std::move(*text);
  Diagnostics diags;
  s.records = ReadCsv(s.text, file, &diags);
  s.header = HeaderRecordIndex(s.records);
  if (diags.has_errors() || s.header >= s.records.size()) {
    return engine::FailedPrecondition(file + ": not a CSV table with a header row");
  }
  return s;
}

// "NodeDiskPressure" -> "nodediskpressure"; other characters become '-'.
std::string Slug(std::string_view text) {
  std::string out;
  for (char c : text) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      out.push_back(l);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// A row id the table does not use yet: the slug of the event's alertname (else "taught"),
// then "-2", "-3", ...
std::string FreshRowId(const engine::TableSpec& table, const engine::Event& ev) {
  const std::string* name = ev.Label("alertname");
  std::string base = name != nullptr ? Slug(*name) : "";
  if (base.empty()) base = "taught";
  auto used = [&](const std::string& id) {
    return std::any_of(table.rows.begin(), table.rows.end(),
                       [&](const engine::RowSpec& r) { return r.id == id; });
  };
  if (!used(base)) return base;
  for (int n = 2;; ++n) {
    std::string id = base + "-" + std::to_string(n);
    if (!used(id)) return id;
  }
}

const CsvRecord* RecordAtLine(const Sheet& s, int line) {
  for (size_t i = s.header + 1; i < s.records.size(); ++i) {
    if (s.records[i].line == line) return &s.records[i];
  }
  return nullptr;
}

}  // namespace

std::string ExactCell(std::string_view value) {
  std::string quoted = "\"";
  for (char c : value) {
    quoted.push_back(c);
    if (c == '"') quoted.push_back('"');
  }
  quoted.push_back('"');
  if (value.empty() || base::Trim(value) != value) return quoted;
  const CellResult plain = ParseCondition(value);
  const CellResult exact = ParseCondition(quoted);
  if (plain.ok && exact.ok && plain.condition.Describe() == exact.condition.Describe()) {
    return std::string(value);
  }
  return quoted;
}

std::string CsvLine(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out.push_back(',');
    const std::string& c = cells[i];
    const bool quote = c.find_first_of(",\"\r\n") != std::string::npos ||
                       (!c.empty() && (c.front() == ' ' || c.back() == ' '));
    if (!quote) {
      out += c;
      continue;
    }
    out.push_back('"');
    for (char ch : c) {
      out.push_back(ch);
      if (ch == '"') out.push_back('"');
    }
    out.push_back('"');
  }
  return out;
}

Result<TeachDraft> DraftTeachRow(const FileSource& fs, const std::string& dir,
                                 std::string_view event, std::string_view table,
                                 std::string_view description, int64_t now_ms) {
  auto loaded = LoadDir(fs, dir);
  if (!loaded.ok()) return loaded.status();
  const LoadedRules& lr = loaded->rules;
  engine::EventParser parser;
  engine::Event ev;
  if (auto s = parser.Parse(engine::SingleEventText(event), now_ms, &ev); !s.ok()) {
    return engine::InvalidArgument("the event: " + s.message());
  }
  loaded->set->Label(&ev);
  const engine::Explanation ex = engine::Explain(*loaded->set, ev);

  TeachDraft d;
  d.has_catalog = lr.context.has_catalog;
  d.catalog = lr.context.action_params;
  for (const std::string& name : lr.context.action_names) d.catalog.try_emplace(name);
  for (const engine::TableSpec& t : lr.tables) {
    if (IsCsv(t.file)) d.tables.push_back(t.name);
  }
  if (d.tables.empty()) {
    return engine::FailedPrecondition(
        "no CSV table to teach a row to (YAML tables and workbooks are edited by hand)");
  }
  const engine::TableExplanation* chosen = nullptr;
  if (!table.empty()) {
    const engine::TableSpec* t = FindTable(lr, table);
    if (t == nullptr) return engine::InvalidArgument("no table '" + std::string(table) + "'");
    if (!IsCsv(t->file)) {
      return engine::InvalidArgument("table '" + std::string(table) + "' is in " + t->file +
                                     ": only CSV tables are taught (edit it by hand)");
    }
    for (const auto& te : ex.tables) {
      if (te.table == table) chosen = &te;
    }
  } else {
    for (const auto& te : ex.tables) {
      if (!IsCsv(te.file) || te.near_misses.empty()) continue;
      if (chosen == nullptr ||
          te.near_misses[0].failed.size() < chosen->near_misses[0].failed.size()) {
        chosen = &te;
      }
    }
  }
  const engine::TableSpec* spec = FindTable(lr, chosen != nullptr ? chosen->table
                                                : table.empty()   ? d.tables[0]
                                                                  : table);
  d.table = spec->name;
  d.file = spec->file;
  auto sheet = ReadSheet(fs, spec->file);
  if (!sheet.ok()) return sheet.status();

  // The rows that came nearest, as written.
  std::vector<const CsvRecord*> near;
  if (chosen != nullptr) {
    for (const engine::NearMiss& m : chosen->near_misses) {
      if (const CsvRecord* r = RecordAtLine(*sheet, m.line)) near.push_back(r);
    }
    if (!chosen->near_misses.empty()) d.nearest_row = chosen->near_misses[0].row;
  }
  const CsvRecord& header = sheet->records[sheet->header];
  for (size_t c = 0; c < header.cells.size(); ++c) {
    TeachColumn col;
    col.header = std::string(base::Trim(header.cells[c].text));
    col.kind = ClassifyHeader(col.header);
    if (!near.empty()) col.nearest = std::string(near[0]->at(c));
    std::string cell;
    switch (col.kind) {
      case HeaderKind::kId:
        cell = FreshRowId(*spec, ev);
        break;
      case HeaderKind::kCondition: {
        auto path = engine::FieldPath::Parse(col.header);
        engine::FieldValue v;
        if (path.ok()) v = ev.Get(*path);
        col.missing = v.missing();
        if (!col.missing) col.observed = std::string(v.text());
        col.prefilled = std::any_of(near.begin(), near.end(), [&](const CsvRecord* r) {
          return !base::Trim(r->at(c)).empty();
        });
        if (col.prefilled) cell = col.missing ? "missing" : ExactCell(col.observed);
        break;
      }
      case HeaderKind::kDescription:
        cell = std::string(description);
        break;
      case HeaderKind::kNone:
        break;
      default:  // action, parameters, priority, runbook: as the nearest row has them
        cell = col.nearest;
        break;
    }
    d.columns.push_back(std::move(col));
    d.cells.push_back(std::move(cell));
  }
  return d;
}

Result<TeachCheck> CheckTeachRow(const FileSource& fs, const std::string& dir,
                                 std::string_view table, const std::vector<std::string>& cells,
                                 const std::vector<std::string>& samples,
                                 std::string_view case_name, int64_t now_ms) {
  // Only to find the table: the directory is compiled once, with the row (below).
  const LoadedRules current = LoadRules(fs, dir);
  if (current.diags.has_errors()) return DoesNotLoad(dir, current.diags);
  const engine::TableSpec* spec = FindTable(current, table);
  if (spec == nullptr) return engine::InvalidArgument("no table '" + std::string(table) + "'");
  if (!IsCsv(spec->file)) {
    return engine::InvalidArgument("table '" + std::string(table) + "' is in " + spec->file +
                                   ": only CSV tables are taught (edit it by hand)");
  }
  auto sheet = ReadSheet(fs, spec->file);
  if (!sheet.ok()) return sheet.status();
  const CsvRecord& header = sheet->records[sheet->header];
  if (cells.size() != header.cells.size()) {
    return engine::InvalidArgument("cells: expected " + std::to_string(header.cells.size()) +
                                   " (one per column of the header row), got " +
                                   std::to_string(cells.size()));
  }
  TeachCheck c;
  c.table = spec->name;
  c.table_file = spec->file;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string& cell = cells[i];
    if (std::any_of(cell.begin(), cell.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) < 0x20 && ch != '\t'; })) {
      return engine::InvalidArgument("cell " + std::string(ColumnLetters(static_cast<int>(i) + 1)) +
                                     " (" + std::string(base::Trim(header.cells[i].text)) +
                                     "): line breaks and control characters are not allowed");
    }
    if (cell.size() > kMaxCellBytes) {
      return engine::InvalidArgument("cell " + std::string(ColumnLetters(static_cast<int>(i) + 1)) +
                                     ": longer than " + std::to_string(kMaxCellBytes) + " bytes");
    }
    if (ClassifyHeader(header.cells[i].text) == HeaderKind::kId) {
      c.row_id = std::string(base::Trim(cell));
    }
  }
  if (c.row_id.empty()) c.problems.push_back("the row needs an id (the id column is empty)");

  // The table with the row appended, in the file's line ending.
  const std::string eol = sheet->text.find("\r\n") != std::string::npos ? "\r\n" : "\n";
  c.table_text = sheet->text;
  if (!c.table_text.empty() && c.table_text.back() != '\n') c.table_text += eol;
  c.line = static_cast<int>(std::count(c.table_text.begin(), c.table_text.end(), '\n')) + 1;
  c.csv_line = CsvLine(cells);
  c.table_text += c.csv_line + eol;

  // The cases file with a case built from the last sample that is an object.
  c.cases_file = JoinPath(spec->file.substr(0, spec->file.find_last_of('/') + 1),
                          FileStem(spec->file) + ".cases.jsonl");
  if (auto old = fs.Read(c.cases_file); old.ok()) {
    c.cases_file_existed = true;
    c.cases_text = std::move(*old);
    if (!c.cases_text.empty() && c.cases_text.back() != '\n') c.cases_text += '\n';
  }
  std::optional<nlohmann::json> event;
  for (const std::string& s : samples) {
    auto j = nlohmann::json::parse(engine::SingleEventText(s), nullptr, false);
    if (j.is_object()) event = std::move(j);
  }
  if (!event) {
    c.problems.push_back(
        "no sample event to build a test case from (samples cut short by "
        "escalations.max_sample_bytes cannot be used)");
  }

  // `reflex check` on the directory with the row.
  OverlaySource over(fs);
  over.Put(c.table_file, c.table_text);
  LoadedRules lr = LoadRules(over, dir);
  c.version = lr.version;
  const std::string quoted_id = "'" + c.row_id + "'";
  for (const Diagnostic& d : lr.diags.Sorted()) {
    const bool about_row = d.file == c.table_file &&
                           (d.line == c.line || d.message.find(quoted_id) != std::string::npos);
    if (d.severity == Severity::kError || about_row) c.diagnostics.push_back(d);
  }
  // The verdict the row gives: an `ignore` row suppresses, any other decides `known`.
  engine::Verdict expect = engine::Verdict::kKnown;
  if (const engine::TableSpec* t = FindTable(lr, c.table)) {
    for (const engine::RowSpec& r : t->rows) {
      if (r.id == c.row_id && r.IsIgnore()) expect = engine::Verdict::kSuppressed;
    }
  }
  std::vector<std::string> case_files = lr.case_files;
  Diagnostics compile_diags;
  auto set = Compile(std::move(lr), &compile_diags);
  for (const Diagnostic& d : compile_diags.items()) c.diagnostics.push_back(d);
  const size_t errors = static_cast<size_t>(
      std::count_if(c.diagnostics.begin(), c.diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::kError; }));
  if (set == nullptr || errors > 0) {
    c.problems.push_back("the rules directory does not load with the row (" +
                         std::to_string(errors) + " error(s))");
    c.ok = false;
    return c;
  }
  if (event) {
    nlohmann::ordered_json tc;
    tc["name"] = case_name;
    tc["event"] = *event;
    tc["expect"] = {
        {"verdict", engine::VerdictName(expect)}, {"table", c.table}, {"row", c.row_id}};
    c.cases_text += tc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    over.Put(c.cases_file, c.cases_text);
    if (std::find(case_files.begin(), case_files.end(), c.cases_file) == case_files.end()) {
      case_files.push_back(c.cases_file);
    }
  }

  // `reflex test`: every cases file, the new case included.
  std::vector<CaseFile> files;
  for (const std::string& path : case_files) {
    if (auto text = over.Read(path); text.ok()) files.push_back({path, std::move(*text)});
  }
  const RuleSetVerification v = VerifyRuleSet(*set, files, now_ms);
  for (const TableVerification& t : v.tables) {
    c.cases_passed += static_cast<size_t>(t.passed);
    c.cases_failed += static_cast<size_t>(t.failed);
  }
  c.cases_failed += v.other_failures.size();
  c.case_failures = v.FailureLines();
  if (!v.passed()) {
    c.problems.push_back(std::to_string(c.case_failures.size()) +
                         " test case failure(s) with the row");
  }

  // Every sample again: known, through the new row.
  for (size_t i = 0; i < samples.size(); ++i) {
    TeachSample out;
    auto ex = engine::ExplainEventText(*set, samples[i], now_ms);
    if (!ex.ok()) {
      out.error = ex.status().message();
      c.problems.push_back("sample " + std::to_string(i + 1) + " does not parse: " + out.error);
      c.samples.push_back(std::move(out));
      continue;
    }
    out.event_id = ex->event_id;
    out.verdict = ex->verdict;
    for (const auto& te : ex->tables) {
      if (te.table == c.table) out.rows = te.selected;
    }
    out.by_row = out.verdict == expect &&
                 std::find(out.rows.begin(), out.rows.end(), c.row_id) != out.rows.end();
    if (!out.by_row) {
      std::string by;
      for (const std::string& r : out.rows) by += (by.empty() ? " by " : ", ") + r;
      std::string what = "sample " + std::to_string(i + 1) + " (" + out.event_id + ") is " +
                         std::string(engine::VerdictName(out.verdict)) + by +
                         ", not decided by the new row";
      // The last sample is the event taught (its case is written); earlier ones of the same
      // shape may differ in other fields, and are only reported.
      if (i + 1 == samples.size()) {
        c.problems.push_back(std::move(what));
      } else {
        c.notes.push_back(std::move(what));
      }
    }
    c.samples.push_back(std::move(out));
  }
  c.ok = c.problems.empty();
  return c;
}

}  // namespace reflex::rules
