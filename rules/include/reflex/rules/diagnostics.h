// Diagnostics: errors and warnings about rule files, each with file, line and column.
//
// Rule loading collects every problem it finds (it does not stop at the first), so an
// operator fixes a table in one pass. Format: `tables/disk.csv:7:3: error: ...` — the
// compiler convention editors and CI annotate.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace reflex::rules {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;    // 1-based; 0 = whole file
  int column = 0;  // 1-based; 0 = whole line
  std::string message;

  // "file:line:col: error: message" (line/col omitted when 0); CSV positions also name
  // the spreadsheet cell ("(cell C7)").
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Error(std::string file, int line, int column, std::string message);
  void Warning(std::string file, int line, int column, std::string message);
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  void Append(const Diagnostics& other);

  bool has_errors() const;
  size_t error_count() const;
  size_t warning_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  // Sorted by file, line, column.
  std::vector<Diagnostic> Sorted() const;

 private:
  std::vector<Diagnostic> items_;
};

// Spreadsheet column letters: 1 -> "A", 27 -> "AA".
std::string ColumnLetters(int column);

// For a text file (YAML, JSON Lines): when `text` is not valid UTF-8, reports an error at
// the line and column (1-based, in characters) of the first bad byte and returns false.
bool CheckUtf8(std::string_view text, const std::string& file, Diagnostics* diags);

}  // namespace reflex::rules
