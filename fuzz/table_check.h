// Shared invariants for the table-reader fuzz targets (CSV and YAML): diagnostics carry a
// position inside the text; a table comes back exactly when there is no error; an accepted
// table is well formed, passes static analysis without crashing, compiles, and its compiled
// index decides exactly like the linear ReferenceMatch, with decision JSON that parses.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "reflex/engine/decision.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/analysis.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/table_reader.h"

namespace reflex::fuzz {

inline void CheckDiagnostics(const rules::Diagnostics& diags, const std::string& file,
                             std::string_view text) {
  const int lines = LineCount(text);
  for (const auto& d : diags.items()) {
    REFLEX_FUZZ_CHECK(d.file == file || d.file.rfind(file, 0) == 0, d.ToString().c_str());
    REFLEX_FUZZ_CHECK(d.line >= 0 && d.line <= lines + 1, d.ToString().c_str());
    REFLEX_FUZZ_CHECK(d.column >= 0, d.ToString().c_str());
    REFLEX_FUZZ_CHECK(!d.message.empty(), "diagnostic without a message");
  }
}

// A value that satisfies (or nearly satisfies) a cell, to probe the row.
inline void Probe(const engine::Condition& c, std::string* text, double* num) {
  *text = "x";
  *num = 0;
  if (!c.strings().empty()) {
    *text = c.strings()[0];
    if (!c.numbers().empty() && std::isfinite(c.numbers()[0])) *num = c.numbers()[0];
  } else if (c.op() == engine::Op::kLess) {
    *num = std::isfinite(c.range().lo)   ? c.range().lo
           : std::isfinite(c.range().hi) ? c.range().hi
                                         : 0;
    *text = std::to_string(*num);
  }
}

inline void SetField(const engine::FieldPath& f, const std::string& text, double num,
                     engine::Event* ev) {
  using Root = engine::FieldPath::Root;
  switch (f.root()) {
    case Root::kBare:
    case Root::kLabel:
      ev->SetLabel(f.name(), text);
      break;
    case Root::kValue:
      ev->SetValue(f.name(), num);
      break;
    case Root::kMessage:
      ev->message = text;
      break;
    case Root::kSource:
      ev->source = text;
      break;
    case Root::kId:
      ev->id = text;
      break;
    case Root::kTimestamp:
      ev->time_ms = std::isfinite(num) && std::fabs(num) < 1e15 ? static_cast<int64_t>(num) : 0;
      break;
    case Root::kMeta:
      ev->meta.emplace_back(f.name(), text);
      break;
    case Root::kPayload:
      break;
  }
}

inline void CheckAcceptedTable(const std::optional<engine::TableSpec>& table,
                               const rules::Diagnostics& diags) {
  REFLEX_FUZZ_CHECK(table.has_value() == !diags.has_errors(),
                    "a table is returned exactly when there is no error");
  if (!table) return;
  for (const auto& row : table->rows) {
    REFLEX_FUZZ_CHECK(row.conditions.size() == table->columns.size(), "one condition per column");
  }
  rules::Diagnostics analysis;
  rules::AnalyzeTable(*table, &analysis);

  std::vector<engine::TableSpec> tables{*table};
  auto rs = engine::CompiledRuleSet::Create(tables, {}, "fuzz");
  if (!rs.ok()) return;  // e.g. a pattern RE2::Set refuses: reported by the loader
  const engine::CompiledRuleSet& set = **rs;

  // Events: empty, then one per row (up to 16 rows) built from that row's cells, then one
  // that takes each column from a different row.
  std::vector<engine::Event> events(1);
  const size_t n = std::min<size_t>(table->rows.size(), 16);
  for (size_t r = 0; r < n; ++r) {
    engine::Event ev;
    for (size_t c = 0; c < table->columns.size(); ++c) {
      std::string text;
      double num;
      Probe(table->rows[r].conditions[c], &text, &num);
      SetField(table->columns[c].field, text, num, &ev);
    }
    events.push_back(std::move(ev));
  }
  if (n > 1) {
    engine::Event ev;
    for (size_t c = 0; c < table->columns.size(); ++c) {
      std::string text;
      double num;
      Probe(table->rows[(c + 1) % n].conditions[c], &text, &num);
      SetField(table->columns[c].field, text, num, &ev);
    }
    events.push_back(std::move(ev));
  }
  engine::MatchScratch scratch;
  engine::MatchResult fast, slow;
  for (const engine::Event& ev : events) {
    set.Match(ev, &scratch, &fast);
    engine::ReferenceMatch(set.tables(), ev, &slow);
    REFLEX_FUZZ_CHECK(fast.verdict == slow.verdict, "index and ReferenceMatch: verdicts differ");
    REFLEX_FUZZ_CHECK(fast.matches == slow.matches, "index and ReferenceMatch: rows differ");
    std::string out;
    engine::AppendDecisionJson(set, ev, fast, 0, &out);
    REFLEX_FUZZ_CHECK(!nlohmann::json::parse(out, nullptr, false).is_discarded(),
                      "decision JSON does not parse");
  }
}

// One fuzz input through a table reader (ReadCsvTable or ReadYamlTable) and every check.
template <typename Reader>
int FuzzTableReader(Reader read, const std::string& file, const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text = AsText(data, size);
  rules::TableContext ctx;
  rules::Diagnostics diags;
  const auto table = read(text, file, ctx, &diags);
  CheckDiagnostics(diags, file, text);
  CheckAcceptedTable(table, diags);
  return 0;
}

}  // namespace reflex::fuzz
