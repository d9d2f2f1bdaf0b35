# report_render.sh - the report renderings end to end through `auditdb reports render` (issue 19
# item 3, docs/reports.md "Renderings"): the golden fixture documents (tests/golden/reports/) give
# the same totals in JSON, CSV, XML and the PDF's text (pdftotext), read back by
# tests/tools/report_totals.py and held against the golden totals; CSV and XML byte-equal to their
# golden files; the PDF passes `qpdf --check`, carries the document's date, not the clock's, and
# is the same bytes on every run; its first page rendered to PNG (pdftoppm) for a look, the path
# printed. Hostile documents: formulas, XML specials, control characters, a 100 KB text,
# 10,000 rows, empty charts, huge and negative numbers; refused documents leave stdout empty and
# name the member. No database is needed.
. tests/lib.sh

G=tests/golden/reports
qcheck() { qpdf --check "$1" >"$W/qpdf.out" 2>&1 || { cat "$W/qpdf.out"; return 1; }; }
OUT=$(cd "$(dirname "$AUDITDB_BIN")" && pwd)/reports
mkdir -p "$OUT"
W=$TEST_TMP
render() { "$AUDITDB_BIN" reports render "$@"; }
totals() { python3 tests/tools/report_totals.py "$@"; }
# REPORT_GOLDEN_UPDATE=1 writes the golden files instead of comparing (then read them: git diff)
golden() { # NAME FILE GOLDEN
    if [ -n "${REPORT_GOLDEN_UPDATE:-}" ]; then cp "$2" "$3"; fi
    if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1"; diff "$3" "$2" | head -20 | sed 's/^/#   /'; fi
}
# same_members NAME A B KEY...: the members KEY of the JSON files A and B are equal
same_members() {
    name=$1 a=$2 b=$3; shift 3
    if python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
sys.exit(0 if all(a.get(k) == b.get(k) for k in sys.argv[3:]) else 1)' "$a" "$b" "$@"; then
        ok "$name"
    else
        not_ok "$name"; diag "$(cat "$a")" "---" "$(cat "$b")"
    fi
}

for doc in hipaa_fixture rgen_shape; do
    for f in json csv xml pdf; do
        render --format "$f" "$G/$doc.json" >"$W/$doc.$f" 2>"$W/$doc.$f.err"
        expect_eq "$doc: $f renders" "0 " "$? $(cat "$W/$doc.$f.err")"
    done
    # the JSON rendering is the document itself
    check "$doc: json is the document" python3 -c 'import json,sys
sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' "$G/$doc.json" "$W/$doc.json"
    for f in json csv xml; do totals "$f" "$W/$doc.$f" >"$W/$doc.$f.totals" || not_ok "$doc: $f totals read"; done
    pdftotext -layout "$W/$doc.pdf" "$W/$doc.txt"
    totals pdf "$W/$doc.txt" "$G/$doc.json" >"$W/$doc.pdf.totals" || not_ok "$doc: pdf totals read"
    golden "$doc: the JSON's totals are the golden ones" "$W/$doc.json.totals" "$G/$doc.totals.json"
    golden "$doc: CSV is the golden file" "$W/$doc.csv" "$G/$doc.csv"
    golden "$doc: XML is the golden file" "$W/$doc.xml" "$G/$doc.xml"
    same_members "$doc: CSV has the JSON's totals" "$W/$doc.json.totals" "$W/$doc.csv.totals" figures tables charts checkpoints
    same_members "$doc: XML has the JSON's totals" "$W/$doc.json.totals" "$W/$doc.xml.totals" figures tables charts checkpoints
    same_members "$doc: the PDF's text has the JSON's figures and checkpoints" "$W/$doc.json.totals" "$W/$doc.pdf.totals" figures checkpoints
    # xlsx (rxlsx): a workbook whose cells carry the same totals, the same bytes every time
    render --format xlsx "$G/$doc.json" >"$W/$doc.xlsx" 2>"$W/$doc.xlsx.err"
    expect_eq "$doc: xlsx renders" "0 " "$? $(cat "$W/$doc.xlsx.err")"
    totals xlsx "$W/$doc.xlsx" >"$W/$doc.xlsx.totals" || not_ok "$doc: xlsx totals read"
    same_members "$doc: the xlsx workbook has the JSON's totals" "$W/$doc.json.totals" "$W/$doc.xlsx.totals" figures tables charts checkpoints
    render --format xlsx "$G/$doc.json" >"$W/$doc.again.xlsx"
    check "$doc: the xlsx is the same bytes on a second run" cmp -s "$W/$doc.xlsx" "$W/$doc.again.xlsx"
    check "$doc: qpdf --check" qcheck "$W/$doc.pdf"
    sleep 1 # the clock moves on: the bytes must not
    render --format pdf "$G/$doc.json" >"$W/$doc.again.pdf"
    check "$doc: the PDF is the same bytes on a second run" cmp -s "$W/$doc.pdf" "$W/$doc.again.pdf"
    cp "$W/$doc.pdf" "$OUT/$doc.pdf"
    rm -f "$OUT/$doc-1.png"
    pdftoppm -png -r 50 -f 1 -l 1 "$OUT/$doc.pdf" "$OUT/$doc"
    check "$doc: first page rendered to PNG" test -s "$OUT/$doc-1.png"
    echo "# $doc: first page of the PDF: $OUT/$doc-1.png"
done

# the PDF's dates are the document's generatedAt (as cairo 1.16 writes them: without "D:")
pdf_date() { pdfinfo -rawdates "$1" | sed -n "s/^$2: *//p"; }
expect_eq "PDF CreationDate is generatedAt" "20261201060000Z" "$(pdf_date "$W/hipaa_fixture.pdf" CreationDate)"
expect_eq "PDF ModDate is generatedAt (its fraction of a second dropped)" "20261207101112Z" \
    "$(pdf_date "$W/rgen_shape.pdf" ModDate)"
# a table's rows read as lines of the PDF's text, cells in order; a formula is text in a PDF
check "PDF: the per-user rows, cells in order" sh -c '
    grep -Eq "^ *dr-house +physician +20311 +1204 *$" "$1" &&
    grep -Eq "^ *=cmd\|'"'"' /C calc'"'"'!A0 +attacker +1 +0 *$" "$1" &&
    grep -Eq "^ *<script>&amp; +x +0 +-2 *$" "$1"' - "$W/hipaa_fixture.txt"
check "PDF: the appendix has each figure's query and events" sh -c '
    grep -q "A.4 *Unauthorized attempts" "$1" && grep -q "0193a1b2-0000-7000-8000-000000000003" "$1" &&
    grep -q "SELECT event_id FROM audit_log WHERE status = .failure." "$1"' - "$W/hipaa_fixture.txt"
check "PDF: an empty chart and an empty table say so" sh -c '
    grep -q "(no data in this chart)" "$1" && grep -q "(no rows)" "$1"' - "$W/rgen_shape.txt"

# ---- hostile documents ----
python3 - "$W" <<'EOF'
import json, sys
w = sys.argv[1]
nasty = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|calc", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
         "<b a=\"1\">&amp; ' ]]> </b>", "bell\u0007 nul\u0000 esc\u001b del\u007f c1\u0085 end",
         "line1\nline2\r\nline3", "\ufffe\uffff", "caf\u00e9 \u65e5\u672c \U0001F600", "a,b;\"c\""]
rows = [["row-%05d" % i, nasty[i % len(nasty)], i, -i * 3, (i % 7) * 0.5 if i % 2 else None]
        for i in range(10000)]
doc = {
    "title": "Hostile <report> & \"friends\" =1+1 \u0007",
    "organizationId": "org-<x>", "type": "CUSTOM_REPORT",
    "generatedAt": "2026-12-05T01:02:03+02:00",
    "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
    "figures": [{"id": "f%d" % i, "label": "label %d %s" % (i, s.replace("\0", "")), "value": v,
                 "query": "SELECT '%s'" % s.replace("\0", "")}
                for i, (s, v) in enumerate(zip(nasty, [0, -1, 9223372036854775807, -9223372036854775808,
                                                       1e300, -1e-300, 0.1, 2.5, 1e21, 3, 4, 5]))]
               + [{"id": "long", "label": "L" * 100000, "value": 7, "query": "X" * 100000,
                   "events": ["=evil", "<e/>"]}],
    "tables": [{"id": "big", "title": "Ten thousand rows", "columns": ["id", "text", "n", "neg", "half"],
                "rows": rows},
               {"id": "empty", "title": "=no rows", "columns": ["only"], "rows": []}],
    "charts": [{"id": "empty", "title": "No labels", "kind": "bar", "labels": [], "series": []},
               {"id": "noseries", "title": "Labels, no series", "kind": "line", "labels": ["a", "b"], "series": []},
               {"id": "huge", "title": "Huge and negative", "kind": "bar", "labels": ["a", "=b", "<c>"],
                "series": [{"name": "s1", "values": [1e300, -1e300, 0]}, {"name": "=s2", "values": [-5, 5, 2.5]}]},
               {"id": "flat", "title": "All zero", "kind": "line", "labels": ["x"] * 500,
                "series": [{"name": "z", "values": [0] * 500}]}],
    "provenance": {"checkpoints": [{"origin": "o<&>", "treeSize": 9223372036854775807, "rootHash": "=r"}],
                   "signature": "\u2014 o sig=\n\u2014 w sig2=\n", "nested": {"a": [1, "=x"]}},
}
json.dump(doc, open(w + "/hostile.doc.json", "w"))
EOF
for f in json csv xml pdf xlsx; do
    render --format "$f" "$W/hostile.doc.json" >"$W/hostile.$f" 2>"$W/hostile.$f.err"
    expect_eq "hostile: $f renders" "0 " "$? $(cat "$W/hostile.$f.err")"
done
for f in json csv xml; do totals "$f" "$W/hostile.$f" >"$W/hostile.$f.totals" || not_ok "hostile: $f totals read"; done
same_members "hostile: CSV has the JSON's totals" "$W/hostile.json.totals" "$W/hostile.csv.totals" figures tables charts checkpoints
same_members "hostile: XML has the JSON's totals" "$W/hostile.json.totals" "$W/hostile.xml.totals" figures tables charts checkpoints
totals xlsx "$W/hostile.xlsx" >"$W/hostile.xlsx.totals" || not_ok "hostile: xlsx totals read"
same_members "hostile: the xlsx workbook has the JSON's totals" "$W/hostile.json.totals" "$W/hostile.xlsx.totals" figures tables charts checkpoints
check "hostile: xlsx text cells read back (formulas stay text, controls as U+FFFD, long text cut with …)" python3 - "$W/hostile.doc.json" "$W/hostile.xlsx" <<'EOF'
import json, sys
sys.path.insert(0, "tests/tools")
from report_totals import xlsx_sheets
doc = json.load(open(sys.argv[1]))
sheets = dict(xlsx_sheets(sys.argv[2]))
def shown(s):
    return "".join("\ufffd" if (ord(c) < 32 and c not in "\t\n\r") or c in "\ufffe\uffff" else c for c in s)
big = [rows for name, rows in sheets.items() if rows and rows[0][:2] == ["table", "big"]][0]
cells = [r[1] for r in big[2:]]
want = [shown(r[1]) for r in doc["tables"][0]["rows"]]
report = sheets["Report"]
titled = report[0] == ["title", shown(doc["title"])]
long = [r for r in report if r and r[0] == "long"][0]
cut = long[1].endswith("\u2026") and len(long[1].encode()) <= 32003 and long[1].startswith("LLLL")
names = list(sheets)
print("# sheets:", names, "first mismatch:", next(((a, b) for a, b in zip(cells, want) if a != b), None))
ok = cells == want and titled and cut and len(names) == len(set(n.lower() for n in names)) \
    and all(len(n) <= 31 and not set(n) & set(":\\/?*[]") for n in names)
sys.exit(0 if ok else 1)
EOF
check "hostile: every CSV text cell starting = + - @ tab CR is prefixed with ', others exact" python3 - "$W/hostile.doc.json" "$W/hostile.csv" <<'EOF'
import csv, io, json, sys
doc = json.load(open(sys.argv[1]))
lines = list(csv.reader(io.StringIO(open(sys.argv[2], encoding="utf-8", newline="").read(), newline="")))
start = lines.index(["section", "table", "big", "Ten thousand rows"])
got = lines[start + 2:start + 2 + 10000]
def shown(s):  # the rule of docs/reports.md: controls other than tab, LF, CR become U+FFFD
    t = "".join("\ufffd" if ord(c) < 32 and c not in "\t\n\r" else c for c in s)
    return "'" + t if s[:1] in ("=", "+", "-", "@", "\t", "\r", "\0") else t
bad = [(i, r[1]) for i, r in enumerate(got) if r[1] != shown(doc["tables"][0]["rows"][i][1])]
bare = [r for r in lines if r and r[0][:1] in "=+@"]
print("# mismatches:", bad[:3], "unprefixed:", bare[:3])
sys.exit(1 if bad or bare or len(got) != 10000 else 0)
EOF
check "hostile: XML is well-formed and every text reads back (controls as U+FFFD)" python3 - "$W/hostile.doc.json" "$W/hostile.xml" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
doc = json.load(open(sys.argv[1]))
root = ET.parse(sys.argv[2]).getroot()
def shown(s):
    return "".join("\ufffd" if (ord(c) < 32 and c not in "\t\n\r") or c in "\ufffe\uffff" else c for c in s)
cells = [c.text or "" for c in root.find("tables").find("table").iter("cell") if c.get("column") == "text"]
want = [shown(r[1]) for r in doc["tables"][0]["rows"]]
ok = cells == want and root.find("title").text == shown(doc["title"]) and root.get("organizationId") == "org-<x>"
print("# first mismatch:", next(((a, b) for a, b in zip(cells, want) if a != b), None))
sys.exit(0 if ok else 1)
EOF
check "hostile: qpdf --check" qcheck "$W/hostile.pdf"
pages=$(pdfinfo "$W/hostile.pdf" | sed -n 's/^Pages: *//p')
check "hostile: 10,000 rows take many pages (got $pages)" test "${pages:-0}" -ge 150
pdftotext -layout "$W/hostile.pdf" "$W/hostile.txt"
check "hostile: the last row, empty charts and cut texts in the PDF" sh -c '
    grep -q "row-09999" "$1" && grep -q "(no data in this chart)" "$1" &&
    grep -q "(cut here; the whole text is in the JSON, CSV and XML renderings)" "$1" &&
    grep -q "Ten thousand rows (continued)" "$1"' - "$W/hostile.txt"
check "hostile: numbers are never cut in the PDF (int64 extremes, 1e+300)" sh -c '
    grep -Eq "label 2 .* 9223372036854775807( |$)" "$1" && grep -Eq " -9223372036854775808( |$)" "$1" &&
    grep -Eq "label 4 .* 1e\+300( |$)" "$1"' - "$W/hostile.txt"
expect_eq "hostile: the PDF's date keeps the document's offset" "20261205010203+02'00" \
    "$(pdf_date "$W/hostile.pdf" CreationDate)"

# ---- refusals: nothing on stdout, the member at fault on stderr, exit 2 ----
refuse() { # NAME PATTERN ARGS... (document on stdin)
    name=$1 pat=$2; shift 2
    render "$@" >"$W/refused.out" 2>"$W/refused.err"
    rc=$?
    if [ "$rc" = 2 ] && [ ! -s "$W/refused.out" ] && grep -Eq -- "$pat" "$W/refused.err"; then ok "$name"
    else not_ok "$name"; diag "exit $rc, stdout $(wc -c <"$W/refused.out") bytes" "$(cat "$W/refused.err")"; fi
}
for f in json csv xml pdf xlsx; do
    printf '%s' '{"title":"t","organizationId":"o","period":{"start":"a","end":"b"},"tables":[{"id":"t","title":"T","columns":["a","b"],"rows":[[1,2],[3]]}]}' |
        refuse "refused ($f): a row with a missing cell" 'tables\[0\]\.rows\[1\]: 1 cells for 2 columns' --format "$f"
done
printf '%s' '{"title":"t","organizationId":"o","period":{"start":"a","end":"b"},"charts":[{"id":"c","title":"C","kind":"pie","labels":[],"series":[]}]}' |
    refuse "refused: a chart kind" 'charts\[0\]\.kind' --format pdf
printf '%s' '{"title":"t","organizationId":"o","period":{"start":"a","end":"b"},"figures":[{"id":"x","label":"l","value":"7"}]}' |
    refuse "refused: a figure's value as a string" 'figures\[0\]\.value' --format csv
printf '%s' '{"title":"SECRET-PATIENT-42", "organizationId":' |
    refuse "refused: not JSON, without quoting the document" 'not JSON \(line 1, column' --format csv
check "refused: the document's text is not in the message" sh -c '! grep -q SECRET "$1"' - "$W/refused.err"
printf '%s' '{"title":"a","title":"b","organizationId":"o","period":{"start":"a","end":"b"}}' |
    refuse "refused: a duplicated member" 'not JSON' --format json
printf '%s' '{"title":"t","organizationId":"o","period":{"start":"a","end":"b"}}' |
    refuse "refused: an unknown format" 'unknown report format "html"' --format html
refuse "refused: no --format" '--format json\|csv\|xml\|pdf\|xlsx is required' </dev/null
printf '%s' '{"title":"t","organizationId":"o","period":{"start":"a","end":"b"}}' >"$W/min.json"
render --format pdf "$W/min.json" >"$W/min.pdf"
check "a minimal document (no figures, tables, charts, date) renders a valid PDF" qcheck "$W/min.pdf"
expect_eq "...dated the epoch when the document has no date, never the clock" "19700101000000Z" \
    "$(pdf_date "$W/min.pdf" CreationDate)"
finish
