#!/usr/bin/env python3
"""fault_load.py - creates under database faults, and what became of each.

Client threads POST one event each time, every event with its own action
("fl.<run>.<thread>.<n>"), and record each answer's status. Meanwhile the
fault loop, every --every seconds, either ends the service's PostgreSQL
backends (pg_terminate_backend) or restarts PostgreSQL at once (pg_ctl
restart -m immediate), alternately. At the end every answer is checked
against the database:

  lost        201 answered, event not stored (must be 0)
  false503    503 answered, event stored anyway (must be 0)
  unknown     504 COMMIT_OUTCOME_UNKNOWN (allowed: the answer says "maybe")

usage: fault_load.py BASE_URL KEY CONNINFO PGDATA PG_CTL [--seconds N]
       [--threads N] [--every S] [--restarts-only]
Prints one line "key=value ..." and exits 0 when lost == false503 == 0.
"""
import argparse, http.client, json, subprocess, sys, threading, time, urllib.parse, uuid

ap = argparse.ArgumentParser()
ap.add_argument("base"); ap.add_argument("key"); ap.add_argument("conninfo")
ap.add_argument("pgdata"); ap.add_argument("pg_ctl")
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--every", type=float, default=2.0)
a = ap.parse_args()
run = uuid.uuid4().hex[:8]
u = urllib.parse.urlparse(a.base)
answers = []  # (action, status)
lock = threading.Lock()
stop = time.time() + a.seconds

def client(t):
    n = 0
    conn = None
    while time.time() < stop:
        action = "fl.%s.%d.%d" % (run, t, n)
        n += 1
        body = json.dumps({"eventData": {"action": action, "status": "success",
                                         "principalId": "load"}})
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            conn.request("POST", "/api/v1/audit/events", body,
                         {"X-API-Key": a.key, "Content-Type": "application/json"})
            r = conn.getresponse(); r.read(); st = r.status
        except Exception:
            st = 0  # no answer: neither acknowledged nor refused
            conn = None
        with lock:
            answers.append((action, st))
        if st == 503:
            time.sleep(0.05)

def psql(sql):
    return subprocess.run(["psql", a.conninfo, "-qAtX", "-c", sql], capture_output=True,
                          text=True, timeout=30)

threads = [threading.Thread(target=client, args=(t,)) for t in range(a.threads)]
for th in threads: th.start()
faults = {"terminate": 0, "restart": 0}
k = 0
while time.time() < stop - a.every / 2:
    time.sleep(a.every)
    if k % 2 == 0:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE application_name = 'auditdb' AND pid <> pg_backend_pid()")
        faults["terminate"] += 1
    else:
        subprocess.run([a.pg_ctl, "-D", a.pgdata, "restart", "-m", "immediate", "-w", "-t", "60"],
                       capture_output=True, timeout=90)
        faults["restart"] += 1
    k += 1
for th in threads: th.join()
time.sleep(1)
stored = set()
for _ in range(30):
    r = psql("SELECT action FROM audit_log WHERE action LIKE 'fl.%s.%%'" % run)
    if r.returncode == 0:
        stored = set(r.stdout.split()); break
    time.sleep(1)
else:
    print("could not read the stored events"); sys.exit(2)
c = {"201": 0, "503": 0, "504": 0, "other": 0, "noanswer": 0}
lost = false503 = unknown_stored = 0
for action, st in answers:
    if st == 201:
        c["201"] += 1; lost += action not in stored
    elif st == 503:
        c["503"] += 1; false503 += action in stored
    elif st == 504:
        c["504"] += 1; unknown_stored += action in stored
    elif st == 0:
        c["noanswer"] += 1
    else:
        c["other"] += 1
print("requests=%d acked=%d lost=%d s503=%d false503=%d s504=%d s504_stored=%d other=%d "
      "noanswer=%d terminations=%d restarts=%d" % (len(answers), c["201"], lost, c["503"], false503,
      c["504"], unknown_stored, c["other"], c["noanswer"], faults["terminate"], faults["restart"]))
sys.exit(0 if lost == 0 and false503 == 0 else 1)
