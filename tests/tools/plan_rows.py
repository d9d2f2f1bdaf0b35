#!/usr/bin/env python3
"""plan_rows.py - reads a PostgreSQL server log on stdin and prints, as JSON, what the last
plan auto_explain logged (JSON format, with ANALYZE) for a statement reading events' columns
(an events page of `auditdb serve`) read: every scan node with its type, relation, index and
rows read in all (actual rows times loops), and the input rows of every Sort node.
Exits 1 when the log holds no such plan yet. Used by tests/sh/sort_plans.sh."""
import json
import re
import sys

text = sys.stdin.read()
# each log entry starts with a time at the start of a line; a plan follows "plan:" on its
# own lines, each indented by a tab
entries = re.split(r'\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)', text)
plan = None
for e in entries:
    at = e.find('plan:\n')
    if at < 0:
        continue
    body = '\n'.join(l[1:] if l.startswith('\t') else l for l in e[at + 6:].split('\n'))
    try:
        doc = json.loads(body)
    except ValueError:
        continue
    q = doc.get('Query Text', '')
    if 'FROM audit_log' in q and 'event_id' in q and 'LIMIT' in q:
        plan, query = doc['Plan'], q
if plan is None:
    sys.exit(1)

scans, sorts = [], []


def walk(n):
    rows = int(n.get('Actual Rows', 0)) * int(n.get('Actual Loops', 1))
    t = n['Node Type']
    if 'Scan' in t and t not in ('CTE Scan', 'WorkTable Scan', 'Function Scan', 'Values Scan',
                                 'Subquery Scan', 'Result'):
        scans.append({'type': t, 'relation': n.get('Relation Name', ''),
                      'index': n.get('Index Name', ''), 'rows': rows})
    kids = n.get('Plans', [])
    if t in ('Sort', 'Incremental Sort'):
        sorts.append(sum(int(k.get('Actual Rows', 0)) * int(k.get('Actual Loops', 1))
                         for k in kids if k.get('Parent Relationship') == 'Outer'))
    for k in kids:
        walk(k)


walk(plan)
print(json.dumps({'scans': scans, 'sorts': sorts, 'query': query[:160]}))
