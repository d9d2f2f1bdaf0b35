"""health_schema.py - checks a /health/detailed body (stdin) against smart-logs'
DetailedHealthSchema (apps/server/src/routes/health-api.ts): prints "ok" or the
first difference."""
import json
import sys

STATUSES = ("healthy", "degraded", "unhealthy")


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_entry(where, c):
    if not isinstance(c, dict):
        return f"{where}: not an object"
    if not isinstance(c.get("name"), str):
        return f"{where}.name: not a string"
    if c.get("status") not in STATUSES:
        return f"{where}.status: {c.get('status')!r} not one of {STATUSES}"
    if "responseTime" in c and not num(c["responseTime"]):
        return f"{where}.responseTime: not a number"
    if "message" in c and not isinstance(c["message"], str):
        return f"{where}.message: not a string"
    if "details" in c and not isinstance(c["details"], dict):
        return f"{where}.details: not an object"
    if not isinstance(c.get("lastChecked"), str):
        return f"{where}.lastChecked: not a string"
    return None


def problem(d):
    if d.get("status") not in STATUSES:
        return f"status: {d.get('status')!r}"
    for k in ("timestamp", "environment"):
        if not isinstance(d.get(k), str):
            return f"{k}: not a string"
    if "version" in d and not isinstance(d["version"], str):
        return "version: not a string"
    if not num(d.get("uptime")):
        return "uptime: not a number"
    if not isinstance(d.get("checks"), list):
        return "checks: not an array"
    for i, c in enumerate(d["checks"]):
        p = check_entry(f"checks[{i}]", c)
        if p:
            return p
    sysm = d.get("system")
    if not isinstance(sysm, dict):
        return "system: not an object"
    mem = sysm.get("memory")
    if not isinstance(mem, dict) or not all(num(mem.get(k)) for k in ("used", "total", "percentage")):
        return "system.memory: needs numbers used, total, percentage"
    cpu = sysm.get("cpu")
    if not isinstance(cpu, dict) or not num(cpu.get("usage")) or not isinstance(cpu.get("loadAverage"), list) \
            or not all(num(x) for x in cpu["loadAverage"]):
        return "system.cpu: needs usage and loadAverage numbers"
    if "disk" in sysm:
        disk = sysm["disk"]
        if not isinstance(disk, dict) or not all(num(disk.get(k)) for k in ("used", "total", "percentage")):
            return "system.disk: needs numbers used, total, percentage"
    svc = d.get("services")
    if not isinstance(svc, dict):
        return "services: not an object"
    for k in ("database", "redis", "auth", "audit"):
        p = check_entry(f"services.{k}", svc.get(k))
        if p:
            return p
    m = d.get("metrics")
    if not isinstance(m, dict):
        return "metrics: not an object"
    for k in ("requestsPerSecond", "averageResponseTime", "errorRate", "activeConnections"):
        if not num(m.get(k)):
            return f"metrics.{k}: not a number"
    return None


try:
    body = json.load(sys.stdin)
except ValueError as e:
    print(f"not JSON: {e}")
    sys.exit(0)
print(problem(body) or "ok")
