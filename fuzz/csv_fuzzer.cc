// Fuzz target: reflex::rules::ReadCsv.
// Invariants: every diagnostic is an error at a real position (line within the text,
// column >= 1); records have increasing lines and cells numbered 1..n; no cell exceeds
// kMaxCellBytes; a successful parse round-trips: writing the records back as fully quoted
// CSV and reading that gives the same cells.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "reflex/rules/csv.h"

using reflex::rules::CsvRecord;
using reflex::rules::Diagnostics;

namespace {

std::string WriteQuoted(const std::vector<CsvRecord>& recs) {
  std::string out;
  for (const CsvRecord& r : recs) {
    for (size_t c = 0; c < r.cells.size(); ++c) {
      if (c > 0) out.push_back(',');
      out.push_back('"');
      for (char ch : r.cells[c].text) {
        if (ch == '"') out.push_back('"');
        out.push_back(ch);
      }
      out.push_back('"');
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  Diagnostics diags;
  const std::vector<CsvRecord> recs = reflex::rules::ReadCsv(text, "f.csv", &diags);
  const int lines = reflex::fuzz::LineCount(text);

  REFLEX_FUZZ_CHECK(diags.items().size() <= 1, "ReadCsv stops at the first error");
  for (const auto& d : diags.items()) {
    REFLEX_FUZZ_CHECK(d.file == "f.csv", d.ToString().c_str());
    REFLEX_FUZZ_CHECK(d.line >= 1 && d.line <= lines, d.ToString().c_str());
    REFLEX_FUZZ_CHECK(d.column >= 1, d.ToString().c_str());
    REFLEX_FUZZ_CHECK(!d.message.empty(), "error without a message");
  }
  int prev_line = 0;
  for (const CsvRecord& r : recs) {
    REFLEX_FUZZ_CHECK(r.line > prev_line && r.line <= lines, "record lines increase");
    prev_line = r.line;
    REFLEX_FUZZ_CHECK(!r.cells.empty(), "a record has at least one cell");
    for (size_t c = 0; c < r.cells.size(); ++c) {
      REFLEX_FUZZ_CHECK(r.cells[c].column == static_cast<int>(c) + 1, "cell columns are 1..n");
      REFLEX_FUZZ_CHECK(r.cells[c].text.size() <= reflex::rules::kMaxCellBytes, "cell size cap");
    }
  }
  if (diags.has_errors()) return 0;

  // Round trip through fully quoted CSV.
  const std::string again = WriteQuoted(recs);
  Diagnostics diags2;
  const std::vector<CsvRecord> recs2 = reflex::rules::ReadCsv(again, "g.csv", &diags2);
  REFLEX_FUZZ_CHECK(!diags2.has_errors(), "re-reading written CSV fails");
  REFLEX_FUZZ_CHECK(recs2.size() == recs.size(), "record count changes in a round trip");
  for (size_t i = 0; i < recs.size(); ++i) {
    REFLEX_FUZZ_CHECK(recs2[i].cells.size() == recs[i].cells.size(), "cell count changes");
    for (size_t c = 0; c < recs[i].cells.size(); ++c) {
      REFLEX_FUZZ_CHECK(recs2[i].cells[c].text == recs[i].cells[c].text, "cell text changes");
    }
  }
  return 0;
}
