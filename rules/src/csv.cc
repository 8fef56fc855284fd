#include "reflex/rules/csv.h"

#include "reflex/base/utf8.h"
#include "reflex/engine/event.h"

namespace reflex::rules {

bool CsvRecord::blank() const {
  for (const auto& c : cells) {
    if (c.text.find_first_not_of(" \t") != std::string::npos) return false;
  }
  return true;
}

std::string_view CsvRecord::at(size_t i) const {
  return i < cells.size() ? std::string_view(cells[i].text) : std::string_view();
}

std::vector<CsvRecord> ReadCsv(std::string_view text, const std::string& file, Diagnostics* diags) {
  std::vector<CsvRecord> records;
  if (text.size() > kMaxCsvBytes) {
    diags->Error(file, 0, 0,
                 "file of " + std::to_string(text.size()) + " bytes exceeds the " +
                     std::to_string(kMaxCsvBytes) + "-byte limit");
    return records;
  }
  // Reject invalid UTF-8 up front, naming the line and the cell it is in.
  if (size_t bad = base::FirstInvalidUtf8(text); bad != std::string_view::npos) {
    int line = 1, column = 1;
    bool quoted = false;
    for (size_t i = 0; i < bad; ++i) {
      if (text[i] == '"') quoted = !quoted;
      if (text[i] == '\n') {
        ++line;
        if (!quoted) column = 1;
      } else if (text[i] == ',' && !quoted) {
        ++column;
      }
    }
    diags->Error(
        file, line, column,
        "invalid UTF-8 (byte 0x" +
            std::string(1, "0123456789abcdef"[(static_cast<unsigned char>(text[bad]) >> 4)]) +
            std::string(1, "0123456789abcdef"[static_cast<unsigned char>(text[bad]) & 15]) +
            "); save the sheet as \"CSV UTF-8\"");
    return records;
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // byte order mark

  size_t i = 0;
  int line = 1;
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    int column = 1;
    bool end_of_record = false;
    while (!end_of_record) {
      CsvCell cell;
      cell.column = column;
      const int cell_line = line;
      if (i < text.size() && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          char c = text[i];
          if (c == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              cell.text.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          cell.text.push_back(c);
          ++i;
          if (cell.text.size() > kMaxCellBytes) break;
        }
        if (cell.text.size() > kMaxCellBytes) {
          diags->Error(file, cell_line, column,
                       "cell longer than " + std::to_string(kMaxCellBytes) + " bytes");
          return records;
        }
        if (!closed) {
          diags->Error(file, cell_line, column, "quoted cell is never closed (missing '\"')");
          return records;
        }
        // After a closing quote: a separator, a line end or the end of input.
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          diags->Error(file, line, column, "unexpected text after a closing quote");
          return records;
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            diags->Error(file, line, column,
                         "quote inside an unquoted cell (quote the whole cell and double the "
                         "quotes inside it)");
            return records;
          }
          cell.text.push_back(text[i]);
          ++i;
          if (cell.text.size() > kMaxCellBytes) {
            diags->Error(file, line, column,
                         "cell longer than " + std::to_string(kMaxCellBytes) + " bytes");
            return records;
          }
        }
      }
      rec.cells.push_back(std::move(cell));
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
        ++column;
      } else {
        if (text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    records.push_back(std::move(rec));
  }
  return records;
}

}  // namespace reflex::rules
