#!/usr/bin/env python3
"""Writes the seed corpus of the xlsx fuzz target, fuzz/corpus/xlsx/*.xlsx: small workbooks
laid out as Excel saves them (shared strings, inline strings, numbers, booleans, an error
cell, skipped cells and rows, several sheets, a hidden sheet). Deterministic: the same bytes
on every run (fixed timestamps), so the committed files only change when this script does.

    python3 fuzz/make_xlsx_corpus.py          # from the repository root
"""
import os
import zipfile
from xml.sax.saxutils import escape

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def col(n):
    s = ""
    while n > 0:
        n -= 1
        s = chr(ord("A") + n % 26) + s
        n //= 26
    return s


def shared_rows(rows, shared):
    """<row> elements with every non-empty cell a shared string (appended to `shared`)."""
    out = []
    for r, cells in enumerate(rows, 1):
        xml = ['<row r="%d">' % r]
        for c, text in enumerate(cells, 1):
            if text == "":
                continue
            if text not in shared:
                shared.append(text)
            xml.append('<c r="%s%d" t="s"><v>%d</v></c>' % (col(c), r, shared.index(text)))
        xml.append("</row>")
        out.append("".join(xml))
    return "".join(out)


def workbook(path, sheets, shared=None):
    """sheets: [(name, rows_xml, state)]; shared: list of plain strings or None."""
    parts = {}
    types = ['<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
             'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
             'officedocument.spreadsheetml.sheet.main+xml"/>']
    book = ['<workbook xmlns="%s" xmlns:r="%s"><sheets>' % (NS, REL)]
    rels = ['<Relationships xmlns="%s">' % PKG]
    for k, (name, rows_xml, state) in enumerate(sheets, 1):
        types.append('<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/'
                     'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' % k)
        st = ' state="%s"' % state if state else ""
        book.append('<sheet name="%s" sheetId="%d"%s r:id="rId%d"/>' % (escape(name), k, st, k))
        rels.append('<Relationship Id="rId%d" Type="%s/worksheet" Target="worksheets/sheet%d.xml"/>'
                    % (k, REL, k))
        parts["xl/worksheets/sheet%d.xml" % k] = (
            DECL + '<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (NS, rows_xml))
    if shared is not None:
        n = len(sheets) + 1
        types.append('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                     'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels.append('<Relationship Id="rId%d" Type="%s/sharedStrings" Target="sharedStrings.xml"/>'
                    % (n, REL))
        items = "".join("<si><t xml:space=\"preserve\">%s</t></si>" % escape(s) for s in shared)
        parts["xl/sharedStrings.xml"] = DECL + '<sst xmlns="%s" count="%d" uniqueCount="%d">%s</sst>' % (
            NS, len(shared), len(shared), items)
    parts["[Content_Types].xml"] = DECL + "".join(types) + "</Types>"
    parts["_rels/.rels"] = (DECL + '<Relationships xmlns="%s"><Relationship Id="rId1" Type="%s/'
                            'officeDocument" Target="xl/workbook.xml"/></Relationships>' % (PKG, REL))
    parts["xl/workbook.xml"] = DECL + "".join(book) + "</sheets></workbook>"
    parts["xl/_rels/workbook.xml.rels"] = DECL + "".join(rels) + "</Relationships>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(parts):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, parts[name])


DISK = [
    ["table", "disk"],
    ["hit_policy", "priority"],
    ["description", "Disk alerts"],
    ["id", "alertname", "mountpoint", "values.usage", "action", "param.host", "priority"],
    ["disk-tmp", "NodeFilesystemFull", "prefix(/tmp,/var/tmp)", ">= 80",
     "clean_tmp(path={{labels.mountpoint}})", "{{labels.instance}}", "90"],
    ["disk-crit", "NodeFilesystemFull", "", ">= 95", "expand_volume(grow_by=10%)",
     "{{labels.instance}}", "80"],
    ["disk-warn", "NodeFilesystemFull", "", "[80,95)", "open_ticket(queue=infra)", "", "10"],
]

NOISE = [["id", "alertname", "severity", "action"],
         ["watchdog", "in(Watchdog, DeadMansSwitch)", "", "ignore"],
         ["info", "", "ieq(info)", "ignore"]]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "xlsx")
    os.makedirs(out, exist_ok=True)

    shared = []
    workbook(os.path.join(out, "disk_shared.xlsx"), [("Sheet1", shared_rows(DISK, shared), "")],
             shared)

    shared = []
    noise = shared_rows(NOISE, shared)
    page = shared_rows([["id", "severity", "action"], ["p", "critical", "escalate"]], shared)
    workbook(os.path.join(out, "two_sheets.xlsx"),
             [("Noise", noise, ""), ("Paging rules", page, ""), ("_lists", "", ""),
              ("Old", page, "hidden")], shared)

    # Every cell type, skipped cells and rows, cells without `r`.
    types = ('<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
             '<c r="B1" t="inlineStr"><is><r><t>values.</t></r><r><t>usage</t></r></is></c>'
             '<c r="C1" t="inlineStr"><is><t>flag</t></is></c>'
             '<c r="D1" t="inlineStr"><is><t>action</t></is></c></row>'
             '<row r="3"><c r="A3" t="str"><f>"r"&amp;1</f><v>r1</v></c><c><v>90.0</v></c>'
             '<c r="C3" t="b"><v>1</v></c><c r="D3" t="inlineStr"><is><t>ignore</t></is></c></row>'
             '<row r="6"><c r="A6" t="inlineStr"><is><t>r2</t></is></c><c r="B6"><v>1E2</v></c>'
             '<c r="D6" t="inlineStr"><is><t>escalate</t></is></c><c r="F6" s="1"/></row>')
    workbook(os.path.join(out, "cell_types.xlsx"), [("Types", types, "")])

    # A cell the table reader rejects (Cells!C3), and an Excel error cell (Errors!B2) on a
    # second sheet: a sheet with an error cell makes no table, so it is not read further.
    bad = ('<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>values.usage</t></is></c>'
           '<c r="C1" t="inlineStr"><is><t>severity</t></is></c>'
           '<c r="D1" t="inlineStr"><is><t>action</t></is></c></row>'
           '<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c>'
           '<c r="C3" t="inlineStr"><is><t>frob(1)</t></is></c>'
           '<c r="D3" t="inlineStr"><is><t>ignore</t></is></c></row>')
    error = ('<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>values.usage</t></is></c></row>'
             '<row r="2"><c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>')
    workbook(os.path.join(out, "bad_cells.xlsx"), [("Cells", bad, ""), ("Errors", error, "")])

if __name__ == "__main__":
    main()
