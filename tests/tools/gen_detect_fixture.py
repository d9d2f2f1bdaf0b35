#!/usr/bin/env python3
"""gen_detect_fixture.py - the detection rules' deterministic fixture (issue 20 must-show;
docs/alerts.md "The golden replay").

Writes N events as NDJSON (one event object a line, in the events API's shape, ordered by
timestamp across organizations) for four organizations in four time zones, over 16 days that
cross both daylight-saving changes of 2026 (Europe 25 October, United States 1 November).
Background traffic never trips a rule by construction (no failed logins, no denials, no bulk
actions, data access only in local daytime, principals too many to reach a velocity); planted on
top: bursts for every default rule and for the custom rules of tests/golden/alerts/rules.json,
and near-misses just under each threshold or just outside each window.

usage: gen_detect_fixture.py [--events N] [--seed S] OUT.ndjson
Same seed and N: the same bytes.
"""
import argparse
import datetime as dt
import json
import random
import sys
from zoneinfo import ZoneInfo

ORGS = [("det-utc", "UTC"), ("det-ny", "America/New_York"),
        ("det-berlin", "Europe/Berlin"), ("det-kolkata", "Asia/Kolkata")]
START = dt.datetime(2026, 10, 20, tzinfo=dt.timezone.utc)
DAYS = 16
SPAN_MS = DAYS * 86400 * 1000
START_MS = int(START.timestamp() * 1000)

BG_ACTIONS = [("auth.login.success", None), ("auth.logout", None),
              ("patient.chart.view", "Patient"), ("record.update", "Observation"),
              ("settings.change", None), ("report.view", "Report")]
DAY_ACTIONS = [("data.read", "Patient"), ("fhir.patient.read", "Patient"),
               ("data.write", "Observation")]
# no PUBLIC: the seeded retention policy archives PUBLIC events after 30 days, and serve's
# maintenance would move them out of audit_log while the engine reads (docs/archive.md)
CLASSES = ["PHI", "INTERNAL", "CONFIDENTIAL"]


def iso(ms):
    s, r = divmod(ms, 1000)
    return dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        ".%03dZ" % r


def local_hour(ms, tz):
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).hour


def ev(org, ms, action, status, principal, rtype=None, rid=None, outcome=None, cls="PHI"):
    e = {"timestamp": iso(ms), "organizationId": org, "action": action, "status": status,
         "principalId": principal, "dataClassification": cls}
    if rtype:
        e["targetResourceType"] = rtype
        e["targetResourceId"] = rid or "r-%d" % (ms % 100000)
    if outcome:
        e["outcomeDescription"] = outcome
    return e


class Gen:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.out = []  # (ms, seq, event)
        self.seq = 0

    def add(self, ms, e):
        self.out.append((ms, self.seq, e))
        self.seq += 1

    def day_window(self, tz, lo_h=9, hi_h=17, span_ms=60000):
        """a window start (ms, aligned to span) in local daytime, away from the ends"""
        while True:
            ms = START_MS + self.rnd.randrange(86400000, SPAN_MS - 2 * 86400000)
            ms -= ms % span_ms
            if lo_h <= local_hour(ms, tz) < hi_h and lo_h <= local_hour(ms + span_ms - 1, tz) < hi_h:
                return ms

    def inside(self, ws, span, n):
        """n distinct instants inside [ws, ws + span)"""
        return sorted(self.rnd.sample(range(ws, ws + span), n))

    # ---- background ------------------------------------------------------------------------
    def background(self, n):
        per = n // len(ORGS)
        for oi, (org, tz) in enumerate(ORGS):
            count = per + (n - per * len(ORGS) if oi == 0 else 0)
            for _ in range(count):
                ms = START_MS + self.rnd.randrange(SPAN_MS)
                p = "user-%d" % self.rnd.randrange(400)
                h = local_hour(ms, tz)
                if 8 <= h < 20 and self.rnd.random() < 0.4:
                    action, rtype = self.rnd.choice(DAY_ACTIONS)
                else:
                    action, rtype = self.rnd.choice(BG_ACTIONS)
                status = "success"
                outcome = None
                r = self.rnd.random()
                if r < 0.03 and not action.startswith(("data.", "fhir.")):
                    status, outcome = "failure", "timeout"
                elif r < 0.05:
                    outcome = "completed"
                self.add(ms, ev(org, ms, action, status, p, rtype,
                                "%s-%d" % ((rtype or "x").lower(), self.rnd.randrange(5000)),
                                outcome, self.rnd.choice(CLASSES)))

    # ---- plants ----------------------------------------------------------------------------
    def plants(self):
        for org, tz in ORGS:
            self.failed_auth(org, tz)
            self.unauthorized(org, tz)
            self.velocity(org, tz)
            self.bulk(org, tz)
            self.off_hours(org, tz)
        self.custom("det-utc", "UTC")
        self.custom("det-berlin", "Europe/Berlin")

    def failed_auth(self, org, tz):
        span = 300000
        for i, n in enumerate([5, 6, 7, 9, 5, 12, 4, 4, 4, 3]):  # 6 bursts, 4 near-misses
            ws = self.day_window(tz, 0, 24, span)
            for ms in self.inside(ws, span, n):
                self.add(ms, ev(org, ms, "auth.login.failure", "failure", "fa-%d" % i,
                                outcome="bad password"))
        for i in range(3):  # 3 + 3 across a window boundary: no window holds 5
            ws = self.day_window(tz, 0, 24, span)
            for ms in self.inside(ws + span - 60000, 60000, 3) + self.inside(ws + span, 60000, 3):
                self.add(ms, ev(org, ms, "auth.login.failure", "failure", "fa-edge-%d" % i))
        for i in range(2):  # 5 failures of one principal, one of them a success: 4
            ws = self.day_window(tz, 0, 24, span)
            for k, ms in enumerate(self.inside(ws, span, 5)):
                self.add(ms, ev(org, ms, "auth.login.failure", "success" if k == 2 else "failure",
                                "fa-mixed-%d" % i))

    def unauthorized(self, org, tz):
        span = 600000
        outs = ["Unauthorized", "ACCESS DENIED to record", "Forbidden by policy",
                "request unauthorized: role"]
        for i, n in enumerate([3, 4, 5, 3, 8, 2, 2, 2]):
            ws = self.day_window(tz, 0, 24, span)
            for ms in self.inside(ws, span, n):
                self.add(ms, ev(org, ms, "patient.chart.view", "failure", "ua-%d" % i, "Patient",
                                outcome=self.rnd.choice(outs)))
        for i in range(2):  # denial wording with status success: never counted
            ws = self.day_window(tz, 0, 24, span)
            for ms in self.inside(ws, span, 4):
                self.add(ms, ev(org, ms, "patient.chart.view", "success", "ua-ok-%d" % i,
                                "Patient", outcome="Unauthorized"))

    def velocity(self, org, tz):
        span = 60000
        for i, n in enumerate([50, 55, 70, 50, 49, 49, 30]):
            ws = self.day_window(tz, 9, 17, span)
            for k, ms in enumerate(self.inside(ws, span, n)):
                action = "data.read" if k % 3 else "fhir.observation.read"
                self.add(ms, ev(org, ms, action, "success", "vel-%d" % i, None))
        ws = self.day_window(tz, 9, 17, span)  # counted through the resource selection
        for ms in self.inside(ws, span, 52):
            self.add(ms, ev(org, ms, "patient.chart.view", "success", "vel-res", "Patient"))
        ws = self.day_window(tz, 9, 17, span)  # 60 reads, 11 of them failures: 49
        for k, ms in enumerate(self.inside(ws, span, 60)):
            self.add(ms, ev(org, ms, "data.read", "failure" if k < 11 else "success", "vel-fail"))

    def bulk(self, org, tz):
        span = 300000
        acts = ["data.export", "data.import", "records.bulk.update", "BULK.delete"]
        for i, n in enumerate([100, 130, 99, 60]):
            ws = self.day_window(tz, 9, 17, span)
            for k, ms in enumerate(self.inside(ws, span, n)):
                self.add(ms, ev(org, ms, acts[k % 4], "success", "bulk-%d-%d" % (i, k % 7),
                                cls="INTERNAL"))

    def off_hours(self, org, tz):
        z = ZoneInfo(tz)
        # local instants: in the window (22:00 .. 05:59) and just outside (21:59, 06:00)
        days = [(2026, 10, 24), (2026, 10, 25), (2026, 10, 31), (2026, 11, 1), (2026, 11, 3)]
        for di, (y, m, d) in enumerate(days):
            for hh, mm, status, expect in [(22, 0, "success", 1), (23, 30, "success", 1),
                                           (2, 30, "success", 1), (5, 59, "success", 1),
                                           (21, 59, "success", 0), (6, 0, "success", 0),
                                           (1, 15, "failure", 0)]:
                local = dt.datetime(y, m, d, hh, mm, 30, tzinfo=z)
                ms = int(local.timestamp() * 1000)
                self.add(ms, ev(org, ms, "data.read", status,
                                "night-%d-%02d%02d" % (di, hh, mm), "Patient"))
            # a night event that is not data access: never counted
            local = dt.datetime(y, m, d, 23, 0, 0, tzinfo=z)
            ms = int(local.timestamp() * 1000)
            self.add(ms, ev(org, ms, "auth.login.success", "success", "night-login-%d" % di))

    def custom(self, org, tz):
        # value_count: distinct resources per principal >= 20 in 10 min
        span = 600000
        for i, (n, distinct) in enumerate([(25, 20), (30, 25), (40, 19), (19, 19)]):
            ws = self.day_window(tz, 9, 17, span)
            for k, ms in enumerate(self.inside(ws, span, n)):
                self.add(ms, ev(org, ms, "record.scan", "success", "scan-%d" % i, "Observation",
                                "obs-%d" % (k % distinct)))
        # temporal_ordered: a failed login, then a success, same principal, within 10 min
        for i, order in enumerate(["fs", "fs", "sf", "fsf", "s"]):
            ws = self.day_window(tz, 9, 17, span)
            for ch, ms in zip(order, self.inside(ws, span, len(order))):
                if ch == "f":
                    self.add(ms, ev(org, ms, "auth.login.failure", "failure", "tko-%d" % i))
                else:
                    self.add(ms, ev(org, ms, "auth.login.success", "success", "tko-%d" % i))
        # a range decided at the window's close: 2 or 3 session revocations in an hour
        span = 3600000
        for i, n in enumerate([2, 3, 1, 4]):
            ws = self.day_window(tz, 0, 24, span)
            for ms in self.inside(ws, span, n):
                self.add(ms, ev(org, ms, "session.revoke", "success", "rev-%d" % i))

    def write(self, f):
        self.out.sort(key=lambda t: (t[0], t[1]))
        for _, _, e in self.out:
            f.write(json.dumps(e, separators=(",", ":")))
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("out")
    a = ap.parse_args()
    g = Gen(a.seed)
    g.plants()
    planted = len(g.out)
    if a.events < planted:
        sys.exit("gen_detect_fixture.py: --events must be at least %d" % planted)
    g.background(a.events - planted)
    with open(a.out, "w") as f:
        g.write(f)
    print("%d events (%d planted) in %s" % (len(g.out), planted, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
