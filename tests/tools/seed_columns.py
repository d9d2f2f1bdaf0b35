#!/usr/bin/env python3
"""seed_columns.py - the documented columns, extracted from the seed documents.

Usage: seed_columns.py SEEDS_DIR > tests/schema/seed_columns.tsv

Reads every table definition the seeds give (docs/schema.md, "Documented
columns"): mermaid erDiagram blocks (000, 001, 004), mermaid classDiagram
blocks (000), the "Entity Relationship Details" prose of 000 (its "Not Null
Constraints", "Default Values" and "Foreign Key" lines and its list of foreign
keys), drizzle pgTable() definitions (002), and SQL "ALTER TABLE ... ADD
COLUMN" lines (001). Prints one line per (seed file, table, column):

  seed  table  column  type  not_null  default  key

type as documented, lower case (e.g. varchar(255), timestamp with time zone);
not_null yes/no, or ? when the seed does not say (001's diagram); default as
documented (normalized: now() for every "current timestamp" spelling), - for
none, ? when the seed does not say; key PK/FK/UK/- . The schema test compares
this output with the committed list, so the list cannot drift from the seeds.
"""
import os
import re
import sys

KEYS = {"PK", "FK", "UK"}


def norm_default(d):
    d = d.strip()
    low = d.lower()
    if low in ("now()", "current timestamp", "current_timestamp", "defaultnow"):
        return "now()"
    if re.fullmatch(r"'[^']*'|\d+|true|false|gen_random_uuid\(\)", low):
        return low if not low.startswith("'") else d
    return d


def mermaid_blocks(text, kind):
    for m in re.finditer(r"```mermaid\s*\n\s*" + kind + r"\b(.*?)```", text, re.S):
        yield m.group(1)


def er_tables(block):
    """erDiagram: 'name {' then lines 'type name [KEY...] ["constraint"]' then '}'."""
    for m in re.finditer(r"^\s*(\w+)\s*\{\s*\n(.*?)^\s*\}", block, re.S | re.M):
        cols = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line:
                continue
            quoted = ""
            q = re.search(r'"([^"]*)"\s*$', line)
            if q:
                quoted = q.group(1)
                line = line[: q.start()].strip()
            toks = line.split()
            keys = []
            while toks and toks[-1] in KEYS:
                keys.insert(0, toks.pop())
            name = toks.pop()
            cols.append((name, " ".join(toks).lower(), keys, quoted))
        yield m.group(1), cols


def class_tables(block):
    """classDiagram: 'class name {' then '+name : type' lines."""
    for m in re.finditer(r"class\s+(\w+)\s*\{(.*?)\}", block, re.S):
        cols = []
        for line in m.group(2).splitlines():
            c = re.match(r"\s*\+(\w+)\s*:\s*(.+?)\s*$", line)
            if c:
                cols.append((c.group(1), c.group(2).lower(), [], ""))
        yield m.group(1), cols


def prose_constraints(text):
    """000's '### <table> Table' sections: NOT NULL, defaults, PK/UK lists."""
    out = {}
    for m in re.finditer(r"^### (\w+) Table\n(.*?)(?=^### |^## )", text, re.S | re.M):
        body = m.group(2)
        info = {"notnull": None, "defaults": {}, "pk": [], "uk": []}
        nn = re.search(r"^- Not Null Constraints: (.*)$", body, re.M)
        if nn:
            info["notnull"] = {c.strip() for c in nn.group(1).split(",")}
        dv = re.search(r"^- Default Values: (.*)$", body, re.M)
        if dv:
            for c, v in re.findall(r"(\w+) \(([^)]*\)?)\)", dv.group(1)):
                info["defaults"][c] = norm_default(v)
        pk = re.search(r"^- Primary Key: (\w+)(?: and (\w+))?", body, re.M)
        if pk:
            info["pk"] = [p for p in pk.groups() if p]
        info["fk"] = re.findall(r"^- Foreign Key: (\w+) references", body, re.M)
        uk = re.search(r"^- Unique Constraint: (\w+)(?: and (\w+))?", body, re.M)
        if uk:
            info["uk"] = [u for u in uk.groups() if u]
        out[m.group(1)] = info
    return out


def listed_foreign_keys(text):
    """000's "### Foreign Keys" list: '- table.column references other.column: why'."""
    m = re.search(r"^### Foreign Keys\n(.*?)(?=^### |^## )", text, re.S | re.M)
    return set(re.findall(r"^- (\w+)\.(\w+) references", m.group(1), re.M)) if m else set()


def drizzle_tables(text):
    """002's pgTable('name', { field: type('col', {...}).notNull().default(x), ... })."""
    for m in re.finditer(r"pgTable\(\s*'(\w+)',\s*\{(.*?)\n\t\},", text, re.S):
        body = re.sub(r"//[^\n]*", "", m.group(2))
        cols = []
        for f in re.finditer(r"\w+:\s*(\w+)\('(\w+)'(?:,\s*(\{.*?\}))?\)((?:\s*\.\w+\([^()]*(?:\([^()]*\))?[^()]*\))*)\s*,", body, re.S):
            fn, name, opts, chain = f.group(1), f.group(2), f.group(3) or "", f.group(4)
            length = re.search(r"length:\s*(\d+)", opts)
            if fn == "varchar":
                typ = "varchar(%s)" % length.group(1) if length else "varchar"
            elif fn == "timestamp":
                typ = "timestamp with time zone" if "withTimezone: true" in opts else "timestamp"
            else:
                typ = fn
            keys = ["PK"] if ".primaryKey()" in chain else []
            notnull = "yes" if (".notNull()" in chain or keys) else "no"
            d = re.search(r"\.default\((.*?)\)(?=\s*(?:\.|$))", chain, re.S)
            if typ == "serial":
                default = "nextval"
            elif ".defaultNow()" in chain:
                default = "now()"
            elif d:
                default = norm_default(d.group(1))
            else:
                default = "-"
            cols.append((name, typ, keys, notnull, default))
        yield m.group(1), cols


def from_er(seed, table, cols, prose=None, precise_nulls=False):
    rows = []
    for name, typ, keys, quoted in cols:
        q = quoted.upper()
        if prose is not None:
            notnull = "yes" if (name in (prose["notnull"] or set()) or name in prose["pk"]) else "no"
            default = prose["defaults"].get(name, "-")
            if name in prose["uk"] and "UK" not in keys:
                keys = keys + ["UK"]
            if name in prose["fk"] and "FK" not in keys:
                keys = keys + ["FK"]
        elif precise_nulls:
            notnull = "yes" if ("NOT NULL" in q or "PK" in keys) else "no"
            d = re.search(r"DEFAULT (.+?)(?:$| NOT NULL| UNIQUE)", quoted, re.I)
            default = norm_default(d.group(1)) if d else "-"
        else:
            notnull = "yes" if "PK" in keys else "?"
            default = "?"
        if "UNIQUE" in q and "UK" not in keys:
            keys = keys + ["UK"]
        if typ in ("serial",):
            default = "nextval"
            notnull = "yes"
        rows.append((seed, table, name, typ, notnull, default, ",".join(keys) or "-"))
    return rows


def main():
    seeds = sys.argv[1]
    files = sorted(f for f in os.listdir(seeds) if re.match(r"\d{3}_.*\.txt$", f))
    out = []
    for f in files:
        text = open(os.path.join(seeds, f), encoding="utf-8").read()
        seen = {}
        prose = prose_constraints(text)
        if f.startswith("004"):
            for block in mermaid_blocks(text, "erDiagram"):
                for t, cols in er_tables(block):
                    for r in from_er(f, t, cols, precise_nulls=True):
                        seen.setdefault((t, r[2]), r)
        else:
            # erDiagram first (it carries keys), then classDiagram for what it lacks
            for block in mermaid_blocks(text, "erDiagram"):
                for t, cols in er_tables(block):
                    for r in from_er(f, t, cols, prose.get(t)):
                        seen.setdefault((t, r[2]), r)
            for block in mermaid_blocks(text, "classDiagram"):
                for t, cols in class_tables(block):
                    for r in from_er(f, t, cols, prose.get(t)):
                        seen.setdefault((t, r[2]), r)
            for t, cols in drizzle_tables(text):
                for name, typ, keys, notnull, default in cols:
                    seen.setdefault((t, name), (f, t, name, typ, notnull, default, ",".join(keys) or "-"))
        # SQL snippets: ALTER TABLE "t" ADD COLUMN "c" type [NOT NULL] [DEFAULT x];
        for t, c, typ, rest in re.findall(
                r'ALTER TABLE "(\w+)" ADD COLUMN "(\w+)" ([a-z]+(?:\(\d+\))?)([^;]*);', text):
            notnull = "yes" if "NOT NULL" in rest.upper() else "no"
            d = re.search(r"DEFAULT (\S+)", rest, re.I)
            row = (f, t, c, typ.lower(), notnull, norm_default(d.group(1)) if d else "-", "-")
            old = seen.get((t, c))
            if old is None:
                seen[(t, c)] = row
            elif old[4] == "?":  # a diagram that did not say: the SQL does
                seen[(t, c)] = old[:4] + (notnull, row[5] if old[5] == "?" else old[5], old[6])
        for t, c in listed_foreign_keys(text):
            r = seen.get((t, c))
            if r and "FK" not in r[6].split(","):
                seen[(t, c)] = r[:6] + (",".join([k for k in r[6].split(",") if k != "-"] + ["FK"]),)
        out.extend(seen.values())
    print("# seed\ttable\tcolumn\ttype\tnot_null\tdefault\tkey")
    print("# generated by tests/tools/seed_columns.py from the seed documents; do not edit")
    for r in out:
        print("\t".join(r))


if __name__ == "__main__":
    main()
