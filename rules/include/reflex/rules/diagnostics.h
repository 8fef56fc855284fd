// Diagnostics for rule files: the project-wide type (base/diagnostic.h) named in
// reflex::rules, where the table readers, the loader and the analysis report with it.
// Format: `tables/disk.csv:7:3: error: ...` (CSV positions also name the cell);
// `tables/disk.xlsx:Sheet1!C7: error: ...` for a cell of a workbook sheet (SheetFile).
#pragma once

#include "reflex/base/diagnostic.h"

namespace reflex::rules {

using base::CheckUtf8;
using base::ColumnLetters;
using base::Diagnostic;
using base::Diagnostics;
using base::PositionText;
using base::Severity;
using base::SheetFile;
using base::SplitSheetFile;

}  // namespace reflex::rules
