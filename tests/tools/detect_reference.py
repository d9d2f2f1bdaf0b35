#!/usr/bin/env python3
"""detect_reference.py - an independent evaluator of detection rules (docs/alerts.md, "Detection
rules" and "The engine"), written from the documented semantics, not from src/detect/: it reads
the whole fixture at once and computes, for every rule, the set of (organization, rule, group,
window) whose condition holds, with the window's final count. The service's engine computes the
same set incrementally, round by round; tests/sh/detect_golden.sh compares the two through the
checked-in golden file.

usage: detect_reference.py RULES.json FIXTURE.ndjson > GOLDEN.tsv
Output: a header, then one line per hit sorted: org, rule, group, window_start, window_end, count
(times in UTC, ISO 8601 with milliseconds).
"""
import datetime as dt
import json
import sys
from collections import defaultdict
from zoneinfo import ZoneInfo

FIELDS = {"action": "action", "status": "status", "principal": "principalId",
          "resource": "targetResourceType", "resourceId": "targetResourceId",
          "classification": "dataClassification", "outcome": "outcomeDescription"}
SPANS = {"s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def to_ms(ts):
    d = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp()) * 1000 + d.microsecond // 1000


def iso(ms):
    s, r = divmod(ms, 1000)
    return dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        ".%03dZ" % r


class Rule:
    def __init__(self, rid, d):
        self.id = rid
        c = d["correlation"]
        self.type = c["type"]
        self.span = int(c["timespan"][:-1]) * SPANS[c["timespan"][-1]]
        names = c.get("rules") or list(d["selections"])
        self.sels = [self.selection(d["selections"][n]) for n in names]
        self.group = c.get("group-by") or []
        self.field = c.get("field")
        cond = c.get("condition") or {}
        self.lo = self.hi = None
        for op, n in cond.items():
            if op == "gte": self.lo = n
            elif op == "gt": self.lo = n + 1
            elif op == "lte": self.hi = n
            elif op == "lt": self.hi = n - 1
            elif op == "eq": self.lo = self.hi = n
        if self.type.startswith("temporal"):
            self.lo = len(self.sels)
        tod = d.get("timeOfDay")
        self.tod = None
        if tod:
            f = lambda s: int(s[:2]) * 60 + int(s[3:])
            self.tod = (f(tod["start"]), f(tod["end"]))

    @staticmethod
    def selection(sel):
        tests = []
        for key, want in sel.items():
            name, _, mod = key.partition("|")
            attr = FIELDS[name]
            if mod == "exists":
                tests.append((attr, "exists", want))
            else:
                vals = [want] if isinstance(want, str) else list(want)
                tests.append((attr, mod or "eq", [v.lower() for v in vals]))
        return tests

    @staticmethod
    def test(e, attr, mod, want):
        v = e.get(attr)
        if mod == "exists":
            return bool(v) == want
        if v is None:
            return False
        v = v.lower()
        if mod == "eq": return v in want
        if mod == "contains": return any(w in v for w in want)
        if mod == "startswith": return any(v.startswith(w) for w in want)
        if mod == "endswith": return any(v.endswith(w) for w in want)
        raise ValueError(mod)

    def matches(self, e, minute):
        if self.tod:
            a, b = self.tod
            if not ((a <= minute < b) if a < b else (minute >= a or minute < b)):
                return []
        return [i for i, s in enumerate(self.sels) if all(self.test(e, *t) for t in s)]

    def holds(self, n):
        return (self.lo is None or n >= self.lo) and (self.hi is None or n <= self.hi)


def main():
    rules_doc = json.load(open(sys.argv[1]))
    lateness = rules_doc["lateness_s"] * 1000
    zones = {o: ZoneInfo(z) for o, z in rules_doc["timezones"].items()}
    defaults = [Rule(k, v) for k, v in sorted(rules_doc["defaults"].items())
                if v.get("source", "events") == "events"]
    custom = [Rule(k, v) for k, v in sorted(rules_doc["custom"].items())]
    org_rules = {o: defaults + (custom if o in rules_doc["custom_orgs"] else []) for o in zones}

    # per (org, rule, group, window): the matching events' times and selections
    cells = defaultdict(list)
    last = {}
    for line in open(sys.argv[2]):
        e = json.loads(line)
        org = e["organizationId"]
        ms = to_ms(e["timestamp"])
        last[org] = max(last.get(org, ms), ms)
        if e["action"].startswith("alert."):
            continue
        loc = dt.datetime.fromtimestamp(ms / 1000, zones[org])
        minute = loc.hour * 60 + loc.minute
        for r in org_rules[org]:
            hit = r.matches(e, minute)
            if not hit:
                continue
            group = "|".join(e.get(FIELDS[g]) or "unknown" for g in r.group) if r.group else "*"
            ws = ms - ms % r.span
            cells[(org, r.id, group, ws)].append((ms, hit, e.get(FIELDS[r.field]) if r.field else None))

    byid = {(o, r.id): r for o, rs in org_rules.items() for r in rs}
    out = []
    for (org, rid, group, ws), evs in cells.items():
        r = byid[(org, rid)]
        if r.type == "event_count":
            n = len(evs)
        elif r.type == "value_count":
            n = len({v for _, _, v in evs if v})
        elif r.type == "temporal":
            n = len({i for _, h, _ in evs for i in h})
        else:  # temporal_ordered, two selections: a first one at or before a second one
            firsts = [t for t, h, _ in evs if 0 in h]
            seconds = [t for t, h, _ in evs if 1 in h]
            n = 2 if firsts and seconds and min(firsts) <= max(seconds) else (1 if evs else 0)
        if not r.holds(n):
            continue
        we = ws + r.span
        if r.hi is not None and we + lateness > last[org]:
            continue  # decided at the window's close, which has not come
        out.append((org, rid, group, iso(ws), iso(we), n))
    out.sort()
    w = sys.stdout
    w.write("org\trule\tgroup\twindow_start\twindow_end\tcount\n")
    for row in out:
        w.write("\t".join(str(x) for x in row) + "\n")


if __name__ == "__main__":
    main()
