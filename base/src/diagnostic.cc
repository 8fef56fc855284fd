#include "reflex/base/diagnostic.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <tuple>

#include "reflex/base/utf8.h"

namespace reflex::base {

std::string ColumnLetters(int column) {
  std::string s;
  while (column > 0) {
    --column;
    s.insert(s.begin(), static_cast<char>('A' + column % 26));
    column /= 26;
  }
  return s;
}

namespace {
constexpr std::string_view kWorkbookSuffix = ".xlsx";
}  // namespace

std::string SheetFile(std::string_view workbook, std::string_view sheet) {
  std::string s(workbook);
  s += ':';
  s += sheet;
  return s;
}

bool SplitSheetFile(std::string_view file, std::string* workbook, std::string* sheet) {
  // The last ".xlsx:" splits: a sheet name holds no ':', a directory name might.
  const std::string marker = std::string(kWorkbookSuffix) + ":";
  const size_t at = file.rfind(marker);
  if (at == std::string_view::npos || at == 0) return false;
  const size_t split = at + kWorkbookSuffix.size();
  *workbook = std::string(file.substr(0, split));
  *sheet = std::string(file.substr(split + 1));
  return true;
}

std::string PositionText(std::string_view file, int line, int column) {
  std::string workbook, sheet;
  std::string s(file);
  if (SplitSheetFile(file, &workbook, &sheet)) {
    if (line > 0) {
      s += "!";
      s += column > 0 ? ColumnLetters(column) + std::to_string(line)
                      : std::to_string(line) + ":" + std::to_string(line);
    }
    return s;
  }
  if (line > 0 && !file.empty()) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

std::string Diagnostic::ToString() const {
  std::string s = PositionText(file, line, column);
  if (!key_path.empty()) {
    // A value read from no file (a spec built in code) is named by its key path alone.
    if (!s.empty() || severity != Severity::kError) {
      s += s.empty() ? "" : ": ";
      s += severity == Severity::kError ? "" : "warning: ";
    }
    s += key_path + ": ";
  } else {
    s += severity == Severity::kError ? ": error: " : ": warning: ";
  }
  s += message;
  const bool spreadsheet = file.size() > 4 && file.compare(file.size() - 4, 4, ".csv") == 0;
  if (spreadsheet && line > 0 && column > 0) {
    s += " (cell " + ColumnLetters(column) + std::to_string(line) + ")";
  }
  return s;
}

void Diagnostics::Error(std::string file, int line, int column, std::string message) {
  items_.push_back({Severity::kError, std::move(file), line, column, std::move(message), ""});
}

void Diagnostics::Error(std::string file, int line, int column, std::string key_path,
                        std::string message) {
  items_.push_back(
      {Severity::kError, std::move(file), line, column, std::move(message), std::move(key_path)});
}

void Diagnostics::Warning(std::string file, int line, int column, std::string message) {
  items_.push_back({Severity::kWarning, std::move(file), line, column, std::move(message), ""});
}

void Diagnostics::Append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  return static_cast<size_t>(std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::kError;
  }));
}

size_t Diagnostics::warning_count() const { return items_.size() - error_count(); }

std::vector<Diagnostic> Diagnostics::Sorted() const {
  std::vector<Diagnostic> v = items_;
  std::stable_sort(v.begin(), v.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  return v;
}

Status Diagnostics::ToStatus() const {
  if (!has_errors()) return Status::Ok();
  std::vector<Diagnostic> v = items_;
  // File order: by line, then column; problems without a position after the others.
  auto key = [](const Diagnostic& d) {
    return std::make_tuple(d.file, d.line == 0 ? INT32_MAX : d.line, d.column);
  };
  std::stable_sort(v.begin(), v.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
  std::string all;
  for (const auto& d : v) all += (all.empty() ? "" : "\n") + d.ToString();
  return InvalidArgument(all);
}

bool CheckUtf8(std::string_view text, const std::string& file, Diagnostics* diags) {
  const size_t bad = FirstInvalidUtf8(text);
  if (bad == std::string_view::npos) return true;
  int line = 1, column = 1;
  for (size_t i = 0; i < bad; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;  // count characters, not continuation bytes
    }
  }
  char byte[8];
  std::snprintf(byte, sizeof(byte), "0x%02x", static_cast<unsigned char>(text[bad]));
  diags->Error(file, line, column, std::string("invalid UTF-8 (byte ") + byte + ")");
  return false;
}

}  // namespace reflex::base
