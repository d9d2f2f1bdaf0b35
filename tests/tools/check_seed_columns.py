#!/usr/bin/env python3
"""check_seed_columns.py - does the migrated schema keep every documented column?

Usage: check_seed_columns.py SEED_COLUMNS DEVIATIONS CATALOG

SEED_COLUMNS: tests/schema/seed_columns.tsv (tests/tools/seed_columns.py).
DEVIATIONS:   tests/schema/seed_deviations.tsv: "seed table column aspect reason"
              lines, each a difference docs/schema.md explains ("seed" is a seed
              file's number or *), or "later" lines (column *) for a table whose
              subsystem a later issue builds.
CATALOG:      table, column, data_type, max length, is_nullable, default, keys
              (P, U, F: the column is part of a primary key, a unique
              constraint or index, a foreign key) of the migrated database.

Checks each documented column's presence, type (and varchar length), NOT NULL,
documented default and key. Prints TAP-like lines the runner counts: one "ok"
or "not ok" per seed file and table, "skip" for a later table with
differences (naming them), and "not ok" for a deviation that no longer
deviates (so the list cannot rot).
"""
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]


def norm_actual_default(d):
    if not d:
        return "-"
    if d.startswith("nextval("):
        return "nextval"
    d = re.sub(r"::[a-z ]+(\(\d+\))?", "", d)
    low = d.lower()
    if low in ("now()", "current_timestamp", "clock_timestamp()"):
        return "now()"
    if low in ("true", "false", "gen_random_uuid()"):
        return low
    return d


TYPES = {
    "serial": "integer", "integer": "integer", "bigint": "bigint", "text": "text",
    "jsonb": "jsonb", "boolean": "boolean", "inet": "inet", "uuid": "uuid",
    "timestamp with time zone": "timestamp with time zone",
}


def type_problem(seed, doc, data_type, maxlen):
    m = re.fullmatch(r"varchar(?:\((\d+)\))?", doc)
    if m:
        if data_type != "character varying":
            return "type %s, documented %s" % (data_type, doc)
        if m.group(1) and maxlen != m.group(1):
            return "type varchar(%s), documented %s" % (maxlen or "", doc)
        return None
    if doc == "timestamp":
        # 001's diagram writes every date-time as "timestamp", also those that
        # 000 and 002 give as "with time zone": there it only says "a timestamp"
        ok = ("timestamp without time zone", "timestamp with time zone") if seed.startswith("001") \
            else ("timestamp without time zone",)
        return None if data_type in ok else "type %s, documented timestamp" % data_type
    want = TYPES.get(doc)
    if want is None:
        return "documented type %s unknown to this checker" % doc
    return None if data_type == want else "type %s, documented %s" % (data_type, doc)


def problems(seed, row, col):
    """[(aspect, text)] for one documented column against its catalog row."""
    _, _, _, typ, notnull, default, key = row
    if col is None:
        return [("missing", "missing (documented %s)" % typ)]
    data_type, maxlen, nullable, actual_default, keys = col
    out = []
    t = type_problem(seed, typ, data_type, maxlen)
    if t:
        out.append(("type", t))
    # NOT NULL where the seed allows NULL is stricter, accepted (docs/schema.md) and
    # counted; a documented NOT NULL we lack is a difference
    if notnull == "yes" and nullable != "NO":
        out.append(("nullable", "is_nullable YES, documented NOT NULL"))
    elif notnull == "no" and nullable == "NO":
        out.append(("stricter", ""))
    if default not in ("-", "?") and norm_actual_default(actual_default) != default:
        out.append(("default", "default %s, documented %s" % (actual_default or "none", default)))
    for k, flag in (("PK", "P"), ("UK", "U"), ("FK", "F")):
        if k in key.split(",") and flag not in keys and not (k == "UK" and "P" in keys):
            out.append(("key", "not in a %s constraint" % k))
    return out


def main():
    seeds = load(sys.argv[1])
    devs = load(sys.argv[2])
    catalog = {(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6] if len(r) > 6 else "") for r in
               (l + [""] * (7 - len(l)) for l in load(sys.argv[3]))}
    later = {(d[0], d[1]): d[4] for d in devs if d[3] == "later"}
    replaced = {(d[0], d[1]): d[4] for d in devs if d[3] == "table"}
    explained = {}
    for d in devs:
        if d[3] not in ("later", "table"):
            explained[(d[0], d[1], d[2], d[3])] = d[4]
    used = set()
    failed = 0
    by_table = {}
    for r in seeds:
        by_table.setdefault((r[0], r[1]), []).append(r)
    for (seed, table), rows in by_table.items():
        bad, devn, stricter = [], 0, 0
        for r in rows:
            for aspect, text in problems(seed, r, catalog.get((table, r[2]))):
                if aspect == "stricter":
                    stricter += 1
                    continue
                hit = None
                for s in (seed[:3], "*"):
                    if (s, table, r[2], aspect) in explained:
                        hit = (s, table, r[2], aspect)
                        break
                if hit:
                    used.add(hit)
                    devn += 1
                else:
                    bad.append("%s.%s: %s" % (table, r[2], text))
        notes = []
        if devn:
            notes.append("%d explained deviations" % devn)
        if stricter:
            notes.append("%d NOT NULL where the seed allows NULL" % stricter)
        name = "%s %s: %d documented columns kept%s" % (
            seed[:3], table, len(rows), " (%s)" % ", ".join(notes) if notes else "")
        if not bad:
            print("ok - " + name)
        elif (seed[:3], table) in replaced:
            print("ok - %s %s: not built as documented, explained: %s" % (
                seed[:3], table, replaced[(seed[:3], table)]))
        elif (seed[:3], table) in later:
            print("skip - %s %s: %d differences left to %s: %s" % (
                seed[:3], table, len(bad), later[(seed[:3], table)], "; ".join(bad)))
        else:
            failed += 1
            print("not ok - " + name)
            for b in bad:
                print("#   " + b)
    for key, reason in explained.items():
        if key not in used:
            failed += 1
            print("not ok - deviation %s %s.%s (%s) no longer deviates: remove it from the list"
                  % (key[0], key[1], key[2], key[3]))
    tables = {(r[0][:3], r[1]) for r in seeds}
    for t in sorted(list(later) + list(replaced)):
        if t not in tables:
            failed += 1
            print("not ok - 'later'/'table' line %s %s names no documented table" % t)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
