// Fuzz target: reflex::rules::ReadXlsxTables (decision tables from an .xlsx workbook: a zip
// read by libzip, XML parts parsed by pugixml, all of it untrusted), then static analysis,
// compilation and matching of every table it accepts (table_check.h). Invariants: every
// diagnostic names the workbook or one of its sheets with a position inside the sheet
// limits; a workbook that yields no table has an error; each table names its sheet's file.
// Seed corpus: fuzz/corpus/xlsx/, made by fuzz/make_xlsx_corpus.py.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "reflex/rules/table_reader.h"
#include "reflex/rules/xlsx.h"
#include "table_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string file = "tables/fuzz.xlsx";
  reflex::rules::TableContext ctx;
  reflex::rules::Diagnostics diags;
  const std::vector<reflex::engine::TableSpec> tables =
      reflex::rules::ReadXlsxTables(reflex::fuzz::AsText(data, size), file, ctx, &diags);
  for (const auto& d : diags.items()) {
    const std::string text = d.ToString();
    REFLEX_FUZZ_CHECK(d.file == file || d.file.rfind(file + ":", 0) == 0, text.c_str());
    REFLEX_FUZZ_CHECK(d.line >= 0 && d.line <= reflex::rules::kMaxXlsxRows, text.c_str());
    REFLEX_FUZZ_CHECK(d.column >= 0 && d.column <= reflex::rules::kMaxXlsxColumns, text.c_str());
    REFLEX_FUZZ_CHECK(!d.message.empty(), "diagnostic without a message");
  }
  REFLEX_FUZZ_CHECK(!tables.empty() || diags.has_errors(), "no table and no error");
  for (const auto& t : tables) {
    REFLEX_FUZZ_CHECK(t.file.rfind(file + ":", 0) == 0, "a table's file names its sheet");
    reflex::fuzz::CheckAcceptedTable(t, reflex::rules::Diagnostics());
  }
  return 0;
}
