// Diagnostic: the one way every loader (rule tables, labeling, the run config, source
// mappings, the action catalog, notifiers) reports a problem in a file an operator wrote.
//
// A problem names its file, 1-based line and column, the key path inside a configuration
// (`kafka.group_id`, `actions.restart.retries`) when there is one, a severity and a message.
// Loaders collect every problem (they do not stop at the first), so an operator fixes a
// file in one pass. Text form, the convention editors and CI annotate:
//
//   reflex.yaml:12:5: kafka.group_id: expected a string          (a config key)
//   tables/disk.csv:7:3: error: unknown operator 'frob' (cell C7)  (a rule cell)
//   tables/disk.yaml:9:1: warning: row 'b' can never fire
//   tables/disk.xlsx:Sheet1!C7: error: unknown operator 'frob'     (a cell of a workbook sheet)
//
// A position in one sheet of an .xlsx workbook names the sheet in its file, as
// SheetFile("tables/disk.xlsx", "Sheet1") == "tables/disk.xlsx:Sheet1"; its line is the
// sheet's row and its column the sheet's column, so every reader and check that reports
// (file, line, column) reports workbook cells unchanged, and ToString prints Excel's
// reference: `file.xlsx:Sheet!C7`, `file.xlsx:Sheet!7:7` for a whole row, `file.xlsx:Sheet`
// for the whole sheet. Excel forbids ':' in sheet names, so the split is unambiguous.
//
// Thread-safety: values; a Diagnostics list is owned by one thread at a time.
//
//   Diagnostics d;
//   d.Error("reflex.yaml", 12, 5, "kafka.group_id", "expected a string");
//   if (d.has_errors()) return d.ToStatus();
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/status.h"

namespace reflex::base {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;    // 1-based; 0 = whole file
  int column = 0;  // 1-based; 0 = whole line
  std::string message;
  std::string key_path;  // configuration key path; empty for rule cells

  // "file:line:col: key.path: message" when a key path is set (warnings say "warning:"
  // before the key), else "file:line:col: error: message"; line and col are omitted when
  // 0. With no file (a value built in code) a key-path problem is "key.path: message".
  // CSV positions also name the spreadsheet cell ("(cell C7)"); a workbook sheet's position
  // is printed as its cell reference ("book.xlsx:Sheet1!C7: error: message").
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Error(std::string file, int line, int column, std::string message);
  void Warning(std::string file, int line, int column, std::string message);
  // A problem at a configuration key.
  void Error(std::string file, int line, int column, std::string key_path, std::string message);
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  void Append(const Diagnostics& other);

  bool has_errors() const;
  size_t error_count() const;
  size_t warning_count() const;
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Sorted by file, line, column (whole-file problems, line 0, first in their file).
  std::vector<Diagnostic> Sorted() const;
  // OK when there is no error; else kInvalidArgument whose message holds one ToString()
  // line per problem, in Sorted() order (warnings included).
  Status ToStatus() const;

 private:
  std::vector<Diagnostic> items_;
};

// Spreadsheet column letters: 1 -> "A", 27 -> "AA".
std::string ColumnLetters(int column);

// The file of positions in sheet `sheet` of workbook `workbook` ("book.xlsx:Sheet1").
std::string SheetFile(std::string_view workbook, std::string_view sheet);
// For a file made by SheetFile: sets the workbook path and the sheet name and returns true.
// False (outputs untouched) for any other file.
bool SplitSheetFile(std::string_view file, std::string* workbook, std::string* sheet);
// A position as ToString prints it, without the message: "f.csv:7:3", "f.csv:7", "f.csv",
// "book.xlsx:Sheet1!C7", "book.xlsx:Sheet1!7:7", "book.xlsx:Sheet1".
std::string PositionText(std::string_view file, int line, int column);

// For a text file (YAML, JSON Lines): when `text` is not valid UTF-8, reports an error at
// the line and column (1-based, in characters) of the first bad byte and returns false.
bool CheckUtf8(std::string_view text, const std::string& file, Diagnostics* diags);

}  // namespace reflex::base
