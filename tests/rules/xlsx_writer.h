// XlsxWriter: builds small .xlsx workbooks in memory for tests, with libzip, part by part as
// Excel lays them out: [Content_Types].xml, _rels/.rels, xl/workbook.xml,
// xl/_rels/workbook.xml.rels, xl/sharedStrings.xml (when there are shared strings) and
// xl/worksheets/sheetN.xml. Sheets are given as the raw XML of their <row> elements, so a
// test can write any cell type, skip cells and rows, or break a part on purpose
// (SetPart / DropPart).
//
// Header-only; depends on libzip alone (the rules and the CLI tests both use it). Errors
// from libzip throw std::runtime_error (the test fails with the reason). Not thread-safe.
//
//   std::vector<std::string> shared;
//   XlsxWriter w;
//   w.AddSheet("Sheet1", SharedRows({{"id", "action"}, {"r1", "ignore"}}, &shared));
//   w.SetSharedStrings(shared);
//   std::string bytes = w.Build();
#pragma once

#include <zip.h>

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reflex::test {

// Text escaped for XML element content and attribute values.
inline std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Spreadsheet column letters: 1 -> "A", 27 -> "AA".
inline std::string XlsxColumn(int column) {
  std::string s;
  while (column > 0) {
    --column;
    s.insert(s.begin(), static_cast<char>('A' + column % 26));
    column /= 26;
  }
  return s;
}

// <row> elements for rows of text, every non-empty cell an inline string at its reference
// (empty texts are left out, as Excel leaves out empty cells). rows[i] is sheet row i + 1.
inline std::string InlineRows(const std::vector<std::vector<std::string>>& rows) {
  std::string xml;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string n = std::to_string(r + 1);
    xml += "<row r=\"" + n + "\">";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      if (rows[r][c].empty()) continue;
      xml += "<c r=\"" + XlsxColumn(static_cast<int>(c + 1)) + n +
             "\" t=\"inlineStr\"><is><t xml:space=\"preserve\">" + XmlEscape(rows[r][c]) +
             "</t></is></c>";
    }
    xml += "</row>";
  }
  return xml;
}

// The same rows with every non-empty cell a shared string: each new text is appended to
// `shared` as the inner XML of an <si>, and a repeated text reuses its index.
inline std::string SharedRows(const std::vector<std::vector<std::string>>& rows,
                              std::vector<std::string>* shared) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shared->size(); ++i) index.emplace((*shared)[i], i);
  std::string xml;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string n = std::to_string(r + 1);
    xml += "<row r=\"" + n + "\">";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      if (rows[r][c].empty()) continue;
      const std::string item = "<t xml:space=\"preserve\">" + XmlEscape(rows[r][c]) + "</t>";
      auto [it, fresh] = index.emplace(item, shared->size());
      if (fresh) shared->push_back(item);
      xml += "<c r=\"" + XlsxColumn(static_cast<int>(c + 1)) + n + "\" t=\"s\"><v>" +
             std::to_string(it->second) + "</v></c>";
    }
    xml += "</row>";
  }
  return xml;
}

// A zip archive (deflate) of `parts`, name -> contents, in name order.
inline std::string ZipParts(const std::map<std::string, std::string>& parts) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &ze);
  if (buffer == nullptr) throw std::runtime_error(zip_error_strerror(&ze));
  zip_t* z = zip_open_from_source(buffer, ZIP_TRUNCATE, &ze);
  if (z == nullptr) {
    zip_source_free(buffer);
    throw std::runtime_error(zip_error_strerror(&ze));
  }
  zip_error_fini(&ze);
  zip_source_keep(buffer);  // read the archive back after zip_close
  for (const auto& part : parts) {
    zip_source_t* s = zip_source_buffer(z, part.second.data(), part.second.size(), 0);
    if (s == nullptr || zip_file_add(z, part.first.c_str(), s, ZIP_FL_ENC_UTF_8) < 0) {
      if (s != nullptr) zip_source_free(s);
      const std::string why = zip_strerror(z);
      zip_discard(z);
      zip_source_free(buffer);
      throw std::runtime_error("zip_file_add " + part.first + ": " + why);
    }
  }
  if (zip_close(z) < 0) {
    const std::string why = zip_strerror(z);
    zip_discard(z);
    zip_source_free(buffer);
    throw std::runtime_error("zip_close: " + why);
  }
  std::string out;
  if (zip_source_open(buffer) < 0) {
    zip_source_free(buffer);
    throw std::runtime_error("zip_source_open");
  }
  zip_source_seek(buffer, 0, SEEK_END);
  const zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  out.resize(static_cast<size_t>(size));
  const zip_int64_t got = zip_source_read(buffer, out.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(buffer);
  zip_source_free(buffer);
  if (got != size) throw std::runtime_error("zip_source_read");
  return out;
}

class XlsxWriter {
 public:
  // A worksheet named `name` whose <sheetData> holds `rows_xml`; `state` is "" (visible),
  // "hidden" or "veryHidden". Sheet k (from 1) is xl/worksheets/sheet<k>.xml, rId<k>.
  XlsxWriter& AddSheet(std::string name, std::string rows_xml, std::string state = "") {
    sheets_.push_back({std::move(name), std::move(rows_xml), std::move(state)});
    return *this;
  }
  // The shared string table: each item is the inner XML of one <si> ("<t>x</t>", or rich
  // text runs "<r><t>a</t></r><r><t>b</t></r>").
  XlsxWriter& SetSharedStrings(std::vector<std::string> items) {
    shared_ = std::move(items);
    has_shared_ = true;
    return *this;
  }
  // Replaces (or adds) a part's contents.
  XlsxWriter& SetPart(std::string part, std::string contents) {
    overrides_[std::move(part)] = std::move(contents);
    return *this;
  }
  // Leaves a part out of the archive.
  XlsxWriter& DropPart(std::string part) {
    dropped_.push_back(std::move(part));
    return *this;
  }

  // Every part, name -> contents.
  std::map<std::string, std::string> Parts() const {
    const std::string ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const std::string rel_ns =
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const std::string pkg_rel_ns = "http://schemas.openxmlformats.org/package/2006/relationships";
    const std::string xml_decl = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
    std::map<std::string, std::string> parts;
    std::string types = xml_decl +
                        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                        "content-types\"><Default Extension=\"rels\" ContentType=\"application/"
                        "vnd.openxmlformats-package.relationships+xml\"/><Default "
                        "Extension=\"xml\" ContentType=\"application/xml\"/><Override "
                        "PartName=\"/xl/workbook.xml\" ContentType=\"application/"
                        "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>";
    std::string workbook =
        xml_decl + "<workbook xmlns=\"" + ns + "\" xmlns:r=\"" + rel_ns + "\"><sheets>";
    std::string rels = xml_decl + "<Relationships xmlns=\"" + pkg_rel_ns + "\">";
    for (size_t i = 0; i < sheets_.size(); ++i) {
      const std::string k = std::to_string(i + 1);
      const Sheet& s = sheets_[i];
      types += "<Override PartName=\"/xl/worksheets/sheet" + k +
               ".xml\" ContentType=\"application/"
               "vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>";
      workbook += "<sheet name=\"" + XmlEscape(s.name) + "\" sheetId=\"" + k + "\"" +
                  (s.state.empty() ? "" : " state=\"" + s.state + "\"") + " r:id=\"rId" + k +
                  "\"/>";
      rels += "<Relationship Id=\"rId" + k + "\" Type=\"" + rel_ns +
              "/worksheet\" Target=\"worksheets/sheet" + k + ".xml\"/>";
      parts["xl/worksheets/sheet" + k + ".xml"] = xml_decl + "<worksheet xmlns=\"" + ns +
                                                  "\" xmlns:r=\"" + rel_ns + "\"><sheetData>" +
                                                  s.rows_xml + "</sheetData></worksheet>";
    }
    if (has_shared_) {
      types +=
          "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/"
          "vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>";
      rels += "<Relationship Id=\"rId" + std::to_string(sheets_.size() + 1) + "\" Type=\"" +
              rel_ns + "/sharedStrings\" Target=\"sharedStrings.xml\"/>";
      std::string sst = xml_decl + "<sst xmlns=\"" + ns + "\" count=\"" +
                        std::to_string(shared_.size()) + "\" uniqueCount=\"" +
                        std::to_string(shared_.size()) + "\">";
      for (const std::string& si : shared_) sst += "<si>" + si + "</si>";
      parts["xl/sharedStrings.xml"] = sst + "</sst>";
    }
    parts["[Content_Types].xml"] = types + "</Types>";
    parts["_rels/.rels"] = xml_decl + "<Relationships xmlns=\"" + pkg_rel_ns +
                           "\"><Relationship Id=\"rId1\" Type=\"" + rel_ns +
                           "/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>";
    parts["xl/workbook.xml"] = workbook + "</sheets></workbook>";
    parts["xl/_rels/workbook.xml.rels"] = rels + "</Relationships>";
    for (const auto& o : overrides_) parts[o.first] = o.second;
    for (const std::string& d : dropped_) parts.erase(d);
    return parts;
  }

  // The .xlsx file's bytes.
  std::string Build() const { return ZipParts(Parts()); }

 private:
  struct Sheet {
    std::string name, rows_xml, state;
  };
  std::vector<Sheet> sheets_;
  std::vector<std::string> shared_;
  bool has_shared_ = false;
  std::map<std::string, std::string> overrides_;
  std::vector<std::string> dropped_;
};

}  // namespace reflex::test
