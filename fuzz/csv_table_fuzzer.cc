// Fuzz target: reflex::rules::ReadCsvTable (one decision table from CSV text), then
// static analysis, compilation and matching of whatever it accepts (see table_check.h).
#include <cstddef>
#include <cstdint>

#include "reflex/rules/table_reader.h"
#include "table_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return reflex::fuzz::FuzzTableReader(reflex::rules::ReadCsvTable, "tables/fuzz.csv", data, size);
}
