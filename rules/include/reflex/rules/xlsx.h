// Reading the sheets of an .xlsx workbook (Office Open XML, as Excel and LibreOffice save it)
// into the rows of cells a CSV file gives (csv.h), so a decision table kept in Excel goes
// through the same table reader and the same checks as one saved as CSV.
//
// The workbook is opened from memory with libzip and its XML parts are parsed with pugixml:
// xl/workbook.xml (sheet names, visibility, relationship ids), xl/_rels/workbook.xml.rels
// (the part of each sheet), xl/sharedStrings.xml (shared strings, rich text runs joined,
// phonetic runs left out) and each xl/worksheets/sheetN.xml. A cell's text is:
//   t="s"          the shared string it indexes
//   t="inlineStr"  its <is> text;   t="str" (a formula's text result) its <v>
//   t="b"          TRUE or FALSE
//   t="n" / none   the number as Excel stored it; a whole number prints without a fraction
//                  or exponent ("90", not "90.0" or "9E1")
//   t="e"          an error (#N/A, #DIV/0!, ...): reported at the cell
// `_xHHHH_` escapes (Excel's way of storing control characters) are decoded. Cells are placed
// by their reference (`r="C7"`); cells and rows that are not in the file are empty, so a
// record holds columns 1..last non-empty column and records exist only for rows with a
// non-empty cell. A record's `line` is the sheet's row number and a cell's `column` its
// column number (A = 1).
//
// Which sheets are tables: every worksheet that is visible (not `hidden` / `veryHidden`),
// whose name does not start with `_`, and that holds at least one non-empty cell. Hidden
// sheets, `_` sheets (lists for drop-downs, notes) and chart sheets are skipped silently.
//
// Positions: every diagnostic about a cell names the sheet file SheetFile(file, sheet)
// (`tables/disk.xlsx:Sheet1`) with the cell's row and column, printed as
// `tables/disk.xlsx:Sheet1!C7: error: ...`; problems with the workbook itself (not a zip, a
// missing part, malformed XML, a limit) name `file` alone.
//
// Limits, for hostile input: no part is inflated past kMaxXlsxPartBytes (the size the zip
// declares is not trusted: reading stops at the limit), nor all parts together past
// kMaxXlsxTotalBytes; a cell past row kMaxXlsxRows or column kMaxXlsxColumns, a sheet of more
// than kMaxXlsxCells cells (counting the empty ones a record fills in), a cell over
// kMaxCellBytes and more than kMaxXlsxSheets sheets are errors. pugixml expands no DTD
// entities. Nothing here throws or aborts on bad input.
//
// Ownership: `bytes` is only read during the call; the sheets own their text.
// Thread-safety: a pure function.
//
//   Diagnostics diags;
//   std::vector<XlsxSheet> sheets = ReadXlsx(bytes, "tables/disk.xlsx", &diags);
//   for (const XlsxSheet& s : sheets) use(s.file, s.records);   // "tables/disk.xlsx:Sheet1"
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rules/csv.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

inline constexpr size_t kMaxXlsxPartBytes = 64 * 1024 * 1024;    // one part, inflated
inline constexpr size_t kMaxXlsxTotalBytes = 256 * 1024 * 1024;  // all parts read, inflated
inline constexpr int kMaxXlsxRows = 100000;
inline constexpr int kMaxXlsxColumns = 1024;  // column AMJ
inline constexpr size_t kMaxXlsxCells = 2000000;
inline constexpr size_t kMaxXlsxSheets = 256;

// One table sheet of a workbook.
struct XlsxSheet {
  std::string name;  // the sheet's name as Excel shows it on its tab
  std::string file;  // SheetFile(workbook file, name): the file of its positions
  std::vector<CsvRecord> records;
  // True when a cell of the sheet has an error (reported): its records are incomplete and
  // make no table. The sheet still counts as a table sheet (table names depend on how many
  // there are).
  bool has_errors = false;
};

// True for a table file this reader takes: "*.xlsx", but not Excel's lock file "~$*.xlsx".
bool IsXlsxFile(std::string_view name);

// Reads every table sheet of the workbook `bytes` (the .xlsx file's contents), in the order
// of the workbook's tabs. Every problem goes to `diags`; a sheet with an error in one of its
// cells comes back with has_errors set (the other sheets are still read); an error in the
// workbook itself returns no sheet. A workbook with no table sheet is an error.
std::vector<XlsxSheet> ReadXlsx(std::string_view bytes, const std::string& file,
                                Diagnostics* diags);

}  // namespace reflex::rules
