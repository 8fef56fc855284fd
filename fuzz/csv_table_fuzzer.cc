// Fuzz target: reflex::rules::ReadCsvTable (one decision table from Csv text), then
// static analysis, compilation and matching of whatever it accepts (see table_check.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "reflex/rules/table_reader.h"
#include "table_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  const std::string file = "tables/fuzz.csv";
  reflex::rules::TableContext ctx;
  reflex::rules::Diagnostics diags;
  const auto table = reflex::rules::ReadCsvTable(text, file, ctx, &diags);
  reflex::fuzz::CheckDiagnostics(diags, file, text);
  reflex::fuzz::CheckAcceptedTable(table, diags);
  return 0;
}
