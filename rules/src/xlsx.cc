#include "reflex/rules/xlsx.h"

#include <zip.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <pugixml.hpp>

#include "reflex/base/strings.h"
#include "reflex/base/utf8.h"

namespace reflex::rules {

namespace {

std::string MiB(size_t bytes) { return std::to_string(bytes / (1024 * 1024)) + " MiB"; }

// ---- the zip -----------------------------------------------------------------------------

// A read-only zip archive over bytes the caller keeps alive. Parts are inflated with a
// budget: the size a zip header declares is checked first, then reading stops at the limit
// whatever the header said.
class Archive {
 public:
  // Null with *error set when `bytes` is not a zip archive.
  static std::unique_ptr<Archive> Open(std::string_view bytes, std::string* error) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t* src = zip_source_buffer_create(bytes.empty() ? "" : bytes.data(), bytes.size(),
                                                 /*freep=*/0, &ze);
    zip_t* z = src == nullptr ? nullptr : zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (z == nullptr) {
      *error = zip_error_strerror(&ze);
      if (src != nullptr) zip_source_free(src);
      zip_error_fini(&ze);
      return nullptr;
    }
    zip_error_fini(&ze);
    return std::unique_ptr<Archive>(new Archive(z));
  }
  ~Archive() { zip_discard(zip_); }
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  // True once a read went past kMaxXlsxTotalBytes: every later read would too.
  bool exhausted() const { return exhausted_; }

  bool Has(const std::string& part) const {
    return zip_name_locate(zip_, part.c_str(), ZIP_FL_NOCASE) >= 0;
  }

  // Inflates `part` into *out; false with *error set when it is missing, over a limit or
  // corrupt (a bad CRC, a truncated stream, an encrypted entry).
  bool Read(const std::string& part, std::string* out, std::string* error) {
    out->clear();
    const zip_int64_t index = zip_name_locate(zip_, part.c_str(), ZIP_FL_NOCASE);
    if (index < 0) {
      *error = "missing part " + part;
      return false;
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, static_cast<zip_uint64_t>(index), 0, &st) == 0 &&
        (st.valid & ZIP_STAT_SIZE) != 0 && st.size > kMaxXlsxPartBytes) {
      *error = "part " + part + " is " + std::to_string(st.size) +
               " bytes uncompressed; the limit is " + MiB(kMaxXlsxPartBytes);
      return false;
    }
    zip_file_t* f = zip_fopen_index(zip_, static_cast<zip_uint64_t>(index), 0);
    if (f == nullptr) {
      *error = "cannot open part " + part + ": " + zip_strerror(zip_);
      return false;
    }
    char buf[64 * 1024];
    bool ok = true;
    while (true) {
      const zip_int64_t n = zip_fread(f, buf, sizeof(buf));
      if (n < 0) {
        *error = "corrupt part " + part + ": " + zip_file_strerror(f);
        ok = false;
        break;
      }
      if (n == 0) break;
      const size_t got = static_cast<size_t>(n);
      if (out->size() + got > kMaxXlsxPartBytes) {
        *error =
            "part " + part + " inflates to more than " + MiB(kMaxXlsxPartBytes) + " (the limit)";
        ok = false;
        break;
      }
      if (total_ + out->size() + got > kMaxXlsxTotalBytes) {
        exhausted_ = true;
        *error = "the workbook inflates to more than " + MiB(kMaxXlsxTotalBytes) + " (the limit)";
        ok = false;
        break;
      }
      out->append(buf, got);
    }
    zip_fclose(f);
    if (!ok) {
      out->clear();
      return false;
    }
    total_ += out->size();
    return true;
  }

 private:
  explicit Archive(zip_t* z) : zip_(z) {}
  zip_t* zip_;
  size_t total_ = 0;  // bytes inflated so far
  bool exhausted_ = false;
};

// ---- XML ---------------------------------------------------------------------------------

// The local part of a qualified name ("r:id" -> "id"): some writers prefix the main
// namespace (`<x:row>`), and relationship ids are `r:id` under any prefix.
std::string_view Local(const char* name) {
  std::string_view s(name);
  const size_t colon = s.find(':');
  return colon == std::string_view::npos ? s : s.substr(colon + 1);
}

pugi::xml_node Child(pugi::xml_node n, std::string_view local) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && Local(c.name()) == local) return c;
  }
  return pugi::xml_node();
}

const char* Attr(pugi::xml_node n, std::string_view local) {
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
    if (Local(a.name()) == local) return a.value();
  }
  return nullptr;
}

// Parses `text` in place (the document points into it). False with *error on malformed XML.
bool ParseXml(std::string* text, const std::string& part, pugi::xml_document* doc,
              std::string* error) {
  const pugi::xml_parse_result r = doc->load_buffer_inplace(
      text->data(), text->size(), pugi::parse_default | pugi::parse_ws_pcdata_single);
  if (!r) {
    *error = "malformed XML in " + part + " at byte " + std::to_string(r.offset) + ": " +
             r.description();
    return false;
  }
  if (!doc->document_element()) {
    *error = "malformed XML in " + part + ": no root element";
    return false;
  }
  return true;
}

// Excel stores characters XML cannot hold (control characters) as `_xHHHH_`, and a literal
// `_x` that would read as one as `_x005F_x...`. Decodes them; surrogates are left as written.
std::string DecodeEscapes(std::string_view s) {
  if (s.find("_x") == std::string_view::npos) return std::string(s);
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i + 6 < s.size() && s[i + 1] == 'x' && s[i + 6] == '_') {
      uint32_t cp = 0;
      bool ok = true;
      for (size_t k = i + 2; k < i + 6; ++k) {
        const int h = hex(s[k]);
        ok = ok && h >= 0;
        cp = cp * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
      }
      if (ok && (cp < 0xD800 || cp > 0xDFFF)) {
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        i += 6;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The text of a string item (<si> or <is>): its <t>, or its rich-text runs' <t>s joined.
// Phonetic runs (<rPh>, the reading of Japanese text) are not part of the value.
std::string ItemText(pugi::xml_node item) {
  std::string s;
  for (pugi::xml_node c = item.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    const std::string_view l = Local(c.name());
    if (l == "t") {
      s += c.text().get();
    } else if (l == "r") {
      for (pugi::xml_node t = c.first_child(); t; t = t.next_sibling()) {
        if (t.type() == pugi::node_element && Local(t.name()) == "t") s += t.text().get();
      }
    }
  }
  return DecodeEscapes(s);
}

// ---- package paths -----------------------------------------------------------------------

std::string DirOf(const std::string& part) {
  const size_t slash = part.rfind('/');
  return slash == std::string::npos ? "" : part.substr(0, slash + 1);
}

// A relationship target resolved against the folder of its source part; "" when it leaves
// the package.
std::string ResolveTarget(const std::string& dir, std::string_view target) {
  std::string joined = !target.empty() && target[0] == '/' ? std::string(target.substr(1))
                                                           : dir + std::string(target);
  std::vector<std::string> parts;
  for (std::string_view seg : base::Split(joined, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.emplace_back(seg);
  }
  return base::Join(parts, "/");
}

// The relationships file of a part: "xl/workbook.xml" -> "xl/_rels/workbook.xml.rels".
std::string RelsOf(const std::string& part) {
  const std::string dir = DirOf(part);
  return dir + "_rels/" + part.substr(dir.size()) + ".rels";
}

struct Relationship {
  std::string type;    // the type URI
  std::string target;  // resolved part name
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Reads a .rels part: relationship id -> relationship (internal targets only).
bool ReadRels(Archive* zip, const std::string& rels_part, const std::string& source_dir,
              std::map<std::string, Relationship>* out, std::string* error) {
  std::string text;
  if (!zip->Read(rels_part, &text, error)) return false;
  pugi::xml_document doc;
  if (!ParseXml(&text, rels_part, &doc, error)) return false;
  for (pugi::xml_node r = doc.document_element().first_child(); r; r = r.next_sibling()) {
    if (r.type() != pugi::node_element || Local(r.name()) != "Relationship") continue;
    const char* id = Attr(r, "Id");
    const char* type = Attr(r, "Type");
    const char* target = Attr(r, "Target");
    const char* mode = Attr(r, "TargetMode");
    if (id == nullptr || type == nullptr || target == nullptr) continue;
    if (mode != nullptr && std::string_view(mode) == "External") continue;
    (*out)[id] = {type, ResolveTarget(source_dir, target)};
  }
  return true;
}

// ---- cells -------------------------------------------------------------------------------

// "C7" -> column 3, row 7 (Excel's limits: XFD, 1048576). False when it is not a reference.
bool ParseCellRef(std::string_view ref, int* column, int* row) {
  size_t i = 0;
  int col = 0;
  while (i < ref.size() && i < 4 &&
         ((ref[i] >= 'A' && ref[i] <= 'Z') || (ref[i] >= 'a' && ref[i] <= 'z'))) {
    col = col * 26 + ((ref[i] | 0x20) - 'a' + 1);
    ++i;
  }
  if (i == 0 || i > 3 || col > 16384) return false;
  int r = 0;
  const char* end = ref.data() + ref.size();
  auto res = std::from_chars(ref.data() + i, end, r);
  if (res.ec != std::errc() || res.ptr != end || r < 1 || r > 1048576) return false;
  *column = col;
  *row = r;
  return true;
}

// A number as Excel stored it, except that a whole number prints without a fraction or an
// exponent ("90.0", "9E1" -> "90").
std::string NumberText(std::string_view v) {
  const std::string_view t = base::Trim(v);
  double d = 0;
  const auto res = std::from_chars(t.data(), t.data() + t.size(), d);
  if (res.ec != std::errc() || res.ptr != t.data() + t.size() || !std::isfinite(d) ||
      d != std::trunc(d) || std::fabs(d) >= 1e15) {
    return std::string(t);
  }
  return std::to_string(static_cast<int64_t>(d));
}

struct SheetCells {
  // row -> column -> text, non-empty cells only.
  std::map<int, std::map<int, std::string>> rows;
  bool has_errors = false;
};

// Reads one worksheet part's cells. Cell problems go to diags at (sheet_file, row, column).
void ReadSheetCells(const pugi::xml_document& doc, const std::vector<std::string>& shared,
                    const std::string& sheet_file, SheetCells* out, Diagnostics* diags) {
  auto error = [&](int line, int column, const std::string& message) {
    diags->Error(sheet_file, line, column, message);
    out->has_errors = true;
  };
  const pugi::xml_node data = Child(doc.document_element(), "sheetData");
  int row_num = 0;
  for (pugi::xml_node row = data.first_child(); row; row = row.next_sibling()) {
    if (row.type() != pugi::node_element || Local(row.name()) != "row") continue;
    if (const char* r = Attr(row, "r"); r != nullptr) {
      int n = 0;
      const std::string_view rs(r);
      const auto res = std::from_chars(rs.data(), rs.data() + rs.size(), n);
      if (res.ec != std::errc() || res.ptr != rs.data() + rs.size() || n < 1 || n > 1048576) {
        error(0, 0, "bad row number '" + std::string(base::CutUtf8(rs, 32)) + "'");
        return;
      }
      row_num = n;
    } else {
      ++row_num;
    }
    int col_num = 0;
    for (pugi::xml_node c = row.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element || Local(c.name()) != "c") continue;
      int line = row_num, column = col_num + 1;
      if (const char* ref = Attr(c, "r"); ref != nullptr && !ParseCellRef(ref, &column, &line)) {
        error(row_num <= kMaxXlsxRows ? row_num : 0, 0,
              "bad cell reference '" + std::string(base::CutUtf8(ref, 32)) + "'");
        return;
      }
      col_num = column;
      const std::string cell_name = ColumnLetters(column) + std::to_string(line);
      const std::string_view type = Attr(c, "t") != nullptr ? Attr(c, "t") : "n";
      const pugi::xml_node v = Child(c, "v");
      std::string text;
      if (type == "s") {
        if (!v) continue;
        size_t index = 0;
        const std::string_view vs = base::Trim(v.text().get());
        const auto res = std::from_chars(vs.data(), vs.data() + vs.size(), index);
        if (res.ec != std::errc() || res.ptr != vs.data() + vs.size() || index >= shared.size()) {
          if (line <= kMaxXlsxRows && column <= kMaxXlsxColumns) {
            error(line, column,
                  "shared string '" + std::string(base::CutUtf8(vs, 32)) +
                      "' does not exist (the workbook has " + std::to_string(shared.size()) + ")");
          } else {
            error(0, 0, "cell " + cell_name + ": shared string does not exist");
          }
          continue;
        }
        text = shared[index];
      } else if (type == "inlineStr") {
        text = ItemText(Child(c, "is"));
      } else if (type == "str") {
        text = DecodeEscapes(v.text().get());
      } else if (type == "b") {
        if (!v) continue;
        text = base::Trim(v.text().get()) == "0" ? "FALSE" : "TRUE";
      } else if (type == "e") {
        const std::string what(base::CutUtf8(base::Trim(v.text().get()), 32));
        if (line <= kMaxXlsxRows && column <= kMaxXlsxColumns) {
          error(line, column,
                "the cell holds the Excel error " + (what.empty() ? "value" : what) +
                    " (a formula that fails): fix the formula or type the value");
        } else {
          error(0, 0, "cell " + cell_name + " holds an Excel error");
        }
        continue;
      } else if (type == "n") {
        if (!v) continue;
        text = NumberText(v.text().get());
      } else {
        text = v.text().get();  // "d" (an ISO 8601 date) and anything newer: as stored
      }
      if (text.empty()) continue;
      if (line > kMaxXlsxRows) {
        error(0, 0,
              "cell " + cell_name + " is past row " + std::to_string(kMaxXlsxRows) +
                  ", the limit for a table sheet");
        return;
      }
      if (column > kMaxXlsxColumns) {
        error(0, 0,
              "cell " + cell_name + " is past column " + ColumnLetters(kMaxXlsxColumns) + " (" +
                  std::to_string(kMaxXlsxColumns) + " columns), the limit for a table sheet");
        return;
      }
      if (text.size() > kMaxCellBytes) {
        error(line, column, "cell longer than " + std::to_string(kMaxCellBytes) + " bytes");
        continue;
      }
      if (const size_t bad = base::FirstInvalidUtf8(text); bad != std::string::npos) {
        error(line, column, "invalid UTF-8 in the cell's text");
        continue;
      }
      if (!out->rows[line].emplace(column, std::move(text)).second) {
        error(line, column, "cell " + cell_name + " appears twice in the sheet");
      }
    }
  }
}

// Excel's rule for sheet names: none of : \ / ? * [ ], not empty. Positions depend on the
// first (SheetFile).
bool ValidSheetName(std::string_view name) {
  return !name.empty() && name.find_first_of(":\\/?*[]") == std::string_view::npos &&
         base::FirstInvalidUtf8(name) == std::string_view::npos;
}

}  // namespace

bool IsXlsxFile(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  return EndsWith(base, ".xlsx") && base.substr(0, 2) != "~$";
}

std::vector<XlsxSheet> ReadXlsx(std::string_view bytes, const std::string& file,
                                Diagnostics* out_diags) {
  Diagnostics local;
  Diagnostics* diags = &local;
  std::vector<XlsxSheet> sheets;
  std::string error;
  auto fail = [&](const std::string& message) {
    out_diags->Append(local);
    out_diags->Error(file, 0, 0, message);
    return std::vector<XlsxSheet>();
  };
  if (bytes.empty()) {
    return fail(
        "not an .xlsx workbook (empty file); save it from Excel or LibreOffice as "
        "\"Excel Workbook (.xlsx)\"");
  }
  std::unique_ptr<Archive> zip = Archive::Open(bytes, &error);
  if (!zip) {
    return fail("not an .xlsx workbook (" + error +
                "); save it from Excel or LibreOffice as \"Excel Workbook (.xlsx)\"");
  }
  // The workbook part: named by the package relationships, else the usual name.
  std::string workbook_part = "xl/workbook.xml";
  if (zip->Has("_rels/.rels")) {
    std::map<std::string, Relationship> rels;
    if (!ReadRels(zip.get(), "_rels/.rels", "", &rels, &error)) return fail(error);
    for (const auto& entry : rels) {
      if (EndsWith(entry.second.type, "/officeDocument") && !entry.second.target.empty()) {
        workbook_part = entry.second.target;
      }
    }
  }
  std::string workbook_text;
  if (!zip->Read(workbook_part, &workbook_text, &error)) {
    return fail(error + " (the workbook: not an .xlsx file, or a damaged one)");
  }
  pugi::xml_document workbook;
  if (!ParseXml(&workbook_text, workbook_part, &workbook, &error)) return fail(error);
  if (Local(workbook.document_element().name()) != "workbook") {
    return fail(workbook_part + " is not a workbook (its root element is <" +
                std::string(base::CutUtf8(workbook.document_element().name(), 32)) + ">)");
  }
  std::map<std::string, Relationship> rels;
  if (!ReadRels(zip.get(), RelsOf(workbook_part), DirOf(workbook_part), &rels, &error)) {
    return fail(error);
  }
  // Shared strings, when the workbook has any.
  std::vector<std::string> shared;
  {
    std::string part;
    for (const auto& entry : rels) {
      if (EndsWith(entry.second.type, "/sharedStrings")) part = entry.second.target;
    }
    if (part.empty() && zip->Has(DirOf(workbook_part) + "sharedStrings.xml")) {
      part = DirOf(workbook_part) + "sharedStrings.xml";
    }
    if (!part.empty()) {
      std::string text;
      if (!zip->Read(part, &text, &error)) return fail(error);
      pugi::xml_document doc;
      if (!ParseXml(&text, part, &doc, &error)) return fail(error);
      for (pugi::xml_node si = doc.document_element().first_child(); si; si = si.next_sibling()) {
        if (si.type() != pugi::node_element || Local(si.name()) != "si") continue;
        if (shared.size() >= kMaxXlsxCells) {
          return fail(part + " holds more than " + std::to_string(kMaxXlsxCells) +
                      " strings (the limit)");
        }
        shared.push_back(ItemText(si));
      }
    }
  }
  const pugi::xml_node sheet_list = Child(workbook.document_element(), "sheets");
  size_t listed = 0;
  for (pugi::xml_node s = sheet_list.first_child(); s; s = s.next_sibling()) {
    if (s.type() != pugi::node_element || Local(s.name()) != "sheet") continue;
    if (++listed > kMaxXlsxSheets) {
      return fail("the workbook has more than " + std::to_string(kMaxXlsxSheets) +
                  " sheets (the limit)");
    }
    const char* name_attr = Attr(s, "name");
    const std::string name = name_attr == nullptr ? "" : name_attr;
    if (!ValidSheetName(name)) {
      diags->Error(file, 0, 0,
                   "sheet " + std::to_string(listed) + " has a bad name '" +
                       std::string(base::CutUtf8(name, 64)) +
                       "' (empty, not UTF-8, or with one of : \\ / ? * [ ])");
      continue;
    }
    const char* state = Attr(s, "state");
    if (state != nullptr && std::string_view(state) != "visible") continue;  // hidden
    if (name[0] == '_') continue;
    const std::string sheet_file = SheetFile(file, name);
    const char* rid = Attr(s, "id");
    auto rel = rid == nullptr ? rels.end() : rels.find(rid);
    if (rel == rels.end()) {
      diags->Error(sheet_file, 0, 0,
                   "the workbook names no part for this sheet (relationship '" +
                       std::string(base::CutUtf8(rid == nullptr ? "" : rid, 32)) + "' in " +
                       RelsOf(workbook_part) + ")");
      continue;
    }
    if (!EndsWith(rel->second.type, "/worksheet")) continue;  // a chart sheet, ...
    std::string text;
    pugi::xml_document doc;
    if (!zip->Read(rel->second.target, &text, &error) ||
        !ParseXml(&text, rel->second.target, &doc, &error)) {
      diags->Error(sheet_file, 0, 0, error);
      // A workbook over its size budget stops here: every later part would fail the same way.
      if (zip->exhausted()) break;
      continue;
    }
    SheetCells cells;
    ReadSheetCells(doc, shared, sheet_file, &cells, diags);
    if (cells.rows.empty() && !cells.has_errors) continue;  // an empty sheet is not a table
    XlsxSheet sheet;
    sheet.name = name;
    sheet.file = sheet_file;
    sheet.has_errors = cells.has_errors;
    size_t dense = 0;
    for (const auto& row : cells.rows) dense += static_cast<size_t>(row.second.rbegin()->first);
    if (dense > kMaxXlsxCells) {
      diags->Error(sheet_file, 0, 0,
                   "the sheet spans " + std::to_string(dense) + " cells (rows times their last " +
                       "column); the limit is " + std::to_string(kMaxXlsxCells));
      sheet.has_errors = true;
    } else {
      for (auto& [line, columns] : cells.rows) {
        CsvRecord rec;
        rec.line = line;
        rec.cells.resize(static_cast<size_t>(columns.rbegin()->first));
        for (size_t i = 0; i < rec.cells.size(); ++i) rec.cells[i].column = static_cast<int>(i + 1);
        for (auto& [column, cell_text] : columns) {
          rec.cells[static_cast<size_t>(column - 1)].text = std::move(cell_text);
        }
        sheet.records.push_back(std::move(rec));
      }
    }
    sheets.push_back(std::move(sheet));
  }
  if (sheets.empty() && !diags->has_errors()) {
    diags->Error(file, 0, 0,
                 "no table in the workbook: every sheet is empty, hidden or named with a leading "
                 "'_'");
  }
  out_diags->Append(local);
  return sheets;
}

}  // namespace reflex::rules
