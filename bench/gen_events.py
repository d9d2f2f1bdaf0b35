#!/usr/bin/env python3
"""gen_events.py - realistic audit events as NDJSON on stdout, for bench/query.sh.

usage: gen_events.py [--events N] [--orgs 50] [--days 182] [--group I --groups G] [--seed S]
       gen_events.py --principal ORG RANK      (prints the principal id of that rank)

Organizations are org-00 .. org-NN. With --groups G, this process writes only the
organizations whose number is I modulo G, and only its share of N (so G processes
together write N events, each organization about N / orgs). Within a process the
events are in ascending timestamp order, spread uniformly over the last --days days
and ending ten minutes before now (the server refuses future events).

Per organization: about 2000 practitioners whose activity follows a Zipf law
(rank r is chosen with weight 1/r: the busiest practitioner does about 12% of an
organization's events, the top five about 28%), 8 actions with realistic weights,
a target resource matching the action, a data classification, a correlation id,
a session context and a small details object (about 600 bytes per stored row).
Standard library only; deterministic for a given seed.
"""
import argparse
import bisect
import itertools
import random
import sys
import time

PRACTITIONERS = 2000
PATIENTS = 100000

# (action, weight, target type, classification)
ACTIONS = [
    ("fhir.patient.read", 30, "Patient", "PHI"),
    ("fhir.observation.read", 20, "Observation", "PHI"),
    ("auth.login.success", 12, "Session", "INTERNAL"),
    ("fhir.encounter.read", 10, "Encounter", "PHI"),
    ("fhir.observation.create", 10, "Observation", "PHI"),
    ("fhir.patient.update", 8, "Patient", "PHI"),
    ("auth.logout", 6, "Session", "INTERNAL"),
    ("fhir.medicationrequest.create", 4, "MedicationRequest", "CONFIDENTIAL"),
]
STATUSES = [("success", 95), ("failure", 4), ("attempt", 1)]
REASONS = ["treatment", "payment", "operations", "emergency", "research", "audit"]
CLIENTS = ["ehr-web/4.2.1", "ehr-mobile/2.8.0", "lab-gateway/1.14", "pharmacy-svc/3.0.2"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
    "ehr-mobile/2.8.0 (iOS 17.4; iPad)",
    "lab-gateway/1.14 (linux; x86_64)",
]


def org_name(i):
    return "org-%02d" % i


def principal_id(org, rank):
    """Practitioner of rank 1..2000 in org (rank 1 is the busiest)."""
    return "prac-%s-%04d" % (org[4:], rank)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000000)
    ap.add_argument("--orgs", type=int, default=50)
    ap.add_argument("--days", type=float, default=182.0)
    ap.add_argument("--group", type=int, default=0)
    ap.add_argument("--groups", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20240131)
    ap.add_argument("--principal", nargs=2, metavar=("ORG", "RANK"))
    a = ap.parse_args()
    if a.principal:
        print(principal_id(a.principal[0], int(a.principal[1])))
        return
    if not (0 <= a.group < a.groups) or a.orgs < 1 or a.events < 0:
        ap.error("need 0 <= group < groups, orgs >= 1, events >= 0")

    orgs = [org_name(i) for i in range(a.orgs) if i % a.groups == a.group]
    if not orgs:
        return
    n = a.events * len(orgs) // a.orgs
    rng = random.Random(a.seed * 1000 + a.group)

    end = time.time() - 600.0
    start = end - a.days * 86400.0
    stamps = sorted(rng.uniform(start, end) for _ in range(n))

    pcum = list(itertools.accumulate(1.0 / r for r in range(1, PRACTITIONERS + 1)))
    ptotal = pcum[-1]
    acum = list(itertools.accumulate(w for _, w, _, _ in ACTIONS))
    atotal = acum[-1]
    scum = list(itertools.accumulate(w for _, w in STATUSES))
    stotal = scum[-1]
    # each practitioner works from one workstation address and one user agent
    addr = {}

    out = sys.stdout
    buf = []
    rnd = rng.random
    rint = rng.getrandbits
    for ts in stamps:
        org = orgs[int(rnd() * len(orgs))]
        rank = bisect.bisect_left(pcum, rnd() * ptotal) + 1
        if rank > PRACTITIONERS:
            rank = PRACTITIONERS
        pid = principal_id(org, rank)
        act, _, ttype, cls = ACTIONS[bisect.bisect_left(acum, rnd() * atotal)]
        status = STATUSES[bisect.bisect_left(scum, rnd() * stotal)][0]
        key = (org, rank)
        if key not in addr:
            addr[key] = ("10.%d.%d.%d" % (int(org[4:]), rank >> 8, rank & 255),
                         USER_AGENTS[rank % len(USER_AGENTS)], CLIENTS[rank % len(CLIENTS)])
        ip, ua, client = addr[key]
        sec = int(ts)
        us = int((ts - sec) * 1e6)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % us
        if ttype == "Session":
            tid = "sess-%012x" % rint(48)
        else:
            tid = "%s-%d" % (ttype[:3].lower(), rint(30) % PATIENTS + 1)
        outcome = ""
        if status == "failure":
            outcome = ',"outcomeDescription":"access denied: missing consent for %s"' % ttype
        buf.append(
            '{"timestamp":"%s","action":"%s","status":"%s","principalId":"%s",'
            '"organizationId":"%s","targetResourceType":"%s","targetResourceId":"%s",'
            '"dataClassification":"%s","correlationId":"corr-%016x"%s,'
            '"sessionContext":{"sessionId":"sess-%s-%04d-%d","ipAddress":"%s","userAgent":"%s"},'
            '"details":{"reason":"%s","client":"%s","durationMs":%d,"department":"dept-%02d"}}\n'
            % (stamp, act, status, pid, org, ttype, tid, cls, rint(64), outcome,
               org[4:], rank, sec // 28800, ip, ua, REASONS[rint(8) % len(REASONS)], client,
               rint(10) % 900 + 3, rank % 24))
        if len(buf) >= 4096:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(1)
