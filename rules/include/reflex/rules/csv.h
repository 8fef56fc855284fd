// CSV reading (RFC 4180 as spreadsheets write it) with the line and column of every cell.
//
// Handles quoted cells with commas, doubled quotes and line breaks, CRLF, a UTF-8 byte
// order mark, and a blank last line. Rejects invalid UTF-8, a quote inside an unquoted
// cell, an unterminated quote, and cells over kMaxCellBytes, each with its position.
// Thread-safety: a pure function.
//
//   Diagnostics diags;
//   std::vector<CsvRecord> recs = ReadCsv(text, "tables/disk.csv", &diags);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

struct CsvCell {
  std::string text;
  int column = 0;  // 1-based
};

struct CsvRecord {
  int line = 0;  // 1-based line where the record starts
  std::vector<CsvCell> cells;
  // True when every cell is empty or whitespace.
  bool blank() const;
  // Cell text by 0-based index, "" past the end.
  std::string_view at(size_t i) const;
};

inline constexpr size_t kMaxCellBytes = 64 * 1024;
inline constexpr size_t kMaxCsvBytes = 256 * 1024 * 1024;

// Parses all records. On a structural error the diagnostic is added and parsing stops at
// that record (records before it are returned).
std::vector<CsvRecord> ReadCsv(std::string_view text, const std::string& file,
                               Diagnostics* diags);

}  // namespace reflex::rules
