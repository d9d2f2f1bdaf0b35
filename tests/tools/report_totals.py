#!/usr/bin/env python3
"""report_totals.py - the totals a report rendering carries, read back from the rendering alone
(tests/sh/report_render.sh), so that the JSON, CSV, XML and PDF of one document can be held
against each other and against a golden file. Written from docs/reports.md ("Renderings"), not
from auditdb's code.

usage: report_totals.py json|csv|xml|xlsx FILE
       report_totals.py pdf TEXT_FILE DOC.json   (TEXT_FILE: `pdftotext -layout` of the PDF; the
                                                 document gives only the labels to look for)
Prints one JSON object: figures {id: value}, checkpoints {origin: treeSize}, and for json, csv
and xml also tables {id: {rows, sums {column: sum of its numbers}}} and charts {id: {series: sum}}.
Numbers are compared as numbers: an integral value prints as an integer.
"""
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET


def num(text):
    if isinstance(text, int) or (isinstance(text, str) and re.fullmatch(r"-?\d+", text)):
        return int(text)
    v = float(text)
    return int(v) if v == int(v) and abs(v) < 2**63 else v


def add_table(tables, tid, columns, rows):
    sums = {}
    for row in rows:
        for c, cell in zip(columns, row):
            if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                sums[c] = num(sums.get(c, 0) + cell)
    tables[tid] = {"rows": len(rows), "sums": sums}


def from_json(text):
    d = json.loads(text)
    out = {"figures": {f["id"]: num(f["value"]) for f in d.get("figures") or []},
           "checkpoints": {c["origin"]: c["treeSize"]
                           for c in (d.get("provenance") or {}).get("checkpoints") or []},
           "tables": {}, "charts": {}}
    for t in d.get("tables") or []:
        add_table(out["tables"], t["id"], t["columns"], t["rows"])
    for ch in d.get("charts") or []:
        out["charts"][ch["id"]] = {s["name"]: num(sum(s["values"])) for s in ch["series"]}
    return out


def cell_value(text):
    """A CSV or XML cell: a number when it reads as one (numbers are written bare)."""
    if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return num(text)
    return text


def unprefix(cell):
    """A text cell as the document had it: the ' that guards a formula taken off."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r", "\ufffd") else cell


def from_csv(text):
    assert text.endswith("\r\n"), "the last line has no CRLF"
    lines = list(csv.reader(io.StringIO(text, newline="")))
    out = {"figures": {}, "checkpoints": {}, "tables": {}, "charts": {}}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        assert line[0] == "section", "expected a section line, got %r" % line
        kind = line[1]
        block = []
        i += 1
        while i < len(lines) and lines[i]:
            block.append(lines[i])
            i += 1
        if kind == "figures":
            assert block[0] == ["id", "label", "value", "query", "events"]
            for r in block[1:]:
                out["figures"][unprefix(r[0])] = num(r[2])
        elif kind == "checkpoints":
            for r in block[1:]:
                out["checkpoints"][unprefix(r[0])] = int(r[1])
        elif kind == "table":
            add_table(out["tables"], unprefix(line[2]), [unprefix(c) for c in block[0]],
                      [[cell_value(c) for c in r] for r in block[1:]])
        elif kind == "chart":
            names = [unprefix(c) for c in block[0][1:]]
            sums = {n: 0 for n in names}
            for r in block[1:]:
                for n, v in zip(names, r[1:]):
                    sums[n] = num(sums[n] + num(v))
            out["charts"][unprefix(line[2])] = sums
    return out


def from_xml(text):
    root = ET.fromstring(text.encode("utf-8"))
    out = {"figures": {f.get("id"): num(f.get("value")) for f in root.iter("figure")},
           "checkpoints": {c.get("origin"): int(c.get("treeSize")) for c in root.iter("checkpoint")},
           "tables": {}, "charts": {}}
    for t in root.iter("table"):
        columns = [c.text or "" for c in t.find("columns")]
        rows = [[cell_value(c.text or "") for c in r.findall("cell")] for r in t.findall("row")]
        add_table(out["tables"], t.get("id"), columns, rows)
    for ch in root.iter("chart"):
        out["charts"][ch.get("id")] = {
            s.get("name"): num(sum(num(v.text) for v in s.findall("value"))) for s in ch.findall("series")}
    return out


XNS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RNS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def xlsx_sheets(path):
    """The workbook's sheets in order: (name, rows), a row a list of cells (text, a number, or
    None for an empty cell), placed by their A1 references; rows missing from the sheet are []."""
    import zipfile
    z = zipfile.ZipFile(path)
    assert z.testzip() is None, "a ZIP entry's CRC does not match"
    types = ET.fromstring(z.read("[Content_Types].xml"))
    assert any(o.get("PartName") == "/xl/workbook.xml" for o in types), "no workbook in the content types"
    rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    out = []
    for sh in ET.fromstring(z.read("xl/workbook.xml")).find(XNS + "sheets"):
        root = ET.fromstring(z.read("xl/" + rels[sh.get(RNS + "id")]))
        rows = []
        for r in root.iter(XNS + "row"):
            n = int(r.get("r"))
            while len(rows) < n:
                rows.append([])
            cells = rows[n - 1]
            for c in r.findall(XNS + "c"):
                ref = re.match(r"([A-Z]+)(\d+)$", c.get("r"))
                assert int(ref.group(2)) == n, "a cell outside its row"
                col = 0
                for ch in ref.group(1):
                    col = col * 26 + ord(ch) - 64
                while len(cells) < col:
                    cells.append(None)
                if c.get("t") == "inlineStr":
                    cells[col - 1] = "".join(t.text or "" for t in c.iter(XNS + "t"))
                else:
                    cells[col - 1] = num(c.find(XNS + "v").text)
        out.append((sh.get("name"), rows))
    return out


def from_xlsx(path):
    out = {"figures": {}, "checkpoints": {}, "tables": {}, "charts": {}}
    for name, rows in xlsx_sheets(path):
        first = rows[0] if rows else []
        if name == "Report":
            head = [i for i, r in enumerate(rows) if r[:5] == ["id", "label", "value", "query", "events"]][0]
            for r in rows[head + 1:]:
                out["figures"][r[0]] = num(r[2])
        elif name == "Provenance":
            for r in rows[1:]:
                if not r:
                    break
                out["checkpoints"][r[0]] = int(r[1])
        elif first[:1] == ["table"]:
            columns = rows[1]
            body = [r + [None] * (len(columns) - len(r)) for r in rows[2:]]
            add_table(out["tables"], first[1], columns, body)
        elif first[:1] == ["chart"]:
            names = rows[1][1:]
            sums = {n: 0 for n in names}
            for r in rows[2:]:
                for n, v in zip(names, r[1:]):
                    sums[n] = num(sums[n] + v)
            out["charts"][first[1]] = sums
    return out


def from_pdf_text(text, doc):
    """Figures: the line that starts with the figure's label, its first number after it.
    Checkpoints: the line that starts with the origin, the number after it."""
    d = json.loads(doc)
    lines = [l.strip() for l in text.splitlines()]
    out = {"figures": {}, "checkpoints": {}}

    def after(prefix):
        for l in lines:
            if l.startswith(prefix):
                m = re.match(r"\s+(-?\d+(\.\d+)?([eE][-+]?\d+)?)(\s|$)", l[len(prefix):])
                if m:
                    return num(m.group(1))
        return None

    for f in d.get("figures") or []:
        out["figures"][f["id"]] = after(f["label"])
    for c in (d.get("provenance") or {}).get("checkpoints") or []:
        out["checkpoints"][c["origin"]] = after(c["origin"])
    return out


def main():
    fmt, path = sys.argv[1], sys.argv[2]
    if fmt == "xlsx":
        print(json.dumps(from_xlsx(path), sort_keys=True, indent=1))
        return
    text = open(path, encoding="utf-8", newline="").read()
    if fmt == "json":
        out = from_json(text)
    elif fmt == "csv":
        out = from_csv(text)
    elif fmt == "xml":
        out = from_xml(text)
    elif fmt == "pdf":
        out = from_pdf_text(text, open(sys.argv[3], encoding="utf-8").read())
    else:
        sys.exit("unknown format " + fmt)
    print(json.dumps(out, sort_keys=True, indent=1))


if __name__ == "__main__":
    main()
