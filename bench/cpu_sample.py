#!/usr/bin/env python3
# cpu_sample.py OUT - CPU time per process while it runs (until SIGTERM/SIGINT), written to OUT
# as seconds (user, system) per class: PostgreSQL backends by database, a backend that was seen
# running COPY being a "writer" (the writer's connections, or a raw COPY); PostgreSQL's own
# processes by name; every other process by name. Also the machine's idle fraction.
# Used by bench/ingest_cpu.sh (bench/README.md, "Where an HTTP event's CPU goes").
import os
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PG_AUX = ("checkpointer", "background", "walwriter", "autovacuum", "logical")


def snap():
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        r = st.rfind(")")
        fields = st[r + 2:].split()
        out[p] = (st[st.find("(") + 1:r], cmd, int(fields[11]), int(fields[12]))
    return out


def machine():
    with open("/proc/stat") as f:
        return list(map(int, f.readline().split()[1:8]))


stop = False


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
first = snap()
last = dict(first)
copying = set()
m0 = machine()
while not stop:
    time.sleep(0.2)
    cur = snap()
    for p, (_, cmd, _, _) in cur.items():
        w = cmd.split()
        if cmd.startswith("postgres:") and len(w) > 4 and w[4] == "COPY":
            copying.add(p)
    last.update(cur)
m1 = machine()
classes = {}
for p, (comm, cmd, u, s) in last.items():
    b = first.get(p, (None, None, 0, 0))
    du, ds = u - b[2], s - b[3]
    if du + ds <= 0:
        continue
    w = cmd.split()
    if cmd.startswith("postgres:") and len(w) > 1 and w[1] in PG_AUX:
        k = "postgres " + w[1]
    elif cmd.startswith("postgres:"):
        k = "postgres " + (w[2] if len(w) > 2 else "?") + (" writer" if p in copying else " other")
    else:
        k = comm
    c = classes.setdefault(k, [0, 0])
    c[0] += du
    c[1] += ds
with open(sys.argv[1], "w") as f:
    d = [b - a for a, b in zip(m0, m1)]
    f.write(f"idle {(d[3] + d[4]) / max(1, sum(d)):.3f}\n")
    # the machine as a whole (every core), seconds: what no process is charged with shows here
    for name, k in (("user", 0), ("nice", 1), ("system", 2), ("iowait", 4), ("irq", 5), ("softirq", 6)):
        f.write(f"{d[k] / TICK:.2f} {d[k] / TICK:.2f} 0 machine {name}\n")
    for k, (u, s) in sorted(classes.items(), key=lambda x: -sum(x[1])):
        f.write(f"{(u + s) / TICK:.2f} {u / TICK:.2f} {s / TICK:.2f} {k}\n")
