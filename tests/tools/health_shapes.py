#!/usr/bin/env python3
"""health_shapes.py SHAPE < answer.json: checks one answer of /api/v1/health
against what smart-logs' client accepts for it (its zod schemas in
src/types/health.ts, its type guards in src/utils/type-guards.ts and the
types of src/services/health.ts), written here in our own words. Prints
"ok" or the first problem found, and exits 0 or 1."""
import json
import re
import sys

# the client's isISODateTime: Date.parse-able, seconds, 0 or 3 fraction digits
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
STATUS = {"healthy", "degraded", "unhealthy"}


class Bad(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Bad(what)


def num(v, what, lo=None, hi=None, integer=False):
    need(isinstance(v, (int, float)) and not isinstance(v, bool), what + " is a number")
    if integer:
        need(float(v).is_integer(), what + " is an integer")
    if lo is not None:
        need(v >= lo, "%s >= %s" % (what, lo))
    if hi is not None:
        need(v <= hi, "%s <= %s" % (what, hi))


def text(v, what, nonempty=True):
    need(isinstance(v, str) and (v or not nonempty), what + " is a non-empty string")


def iso(v, what):
    need(isinstance(v, str) and ISO.match(v), what + " is an ISO date-time the client accepts: %r" % (v,))


def obj(v, what):
    need(isinstance(v, dict), what + " is an object")


def health_status(d):  # HealthStatusSchema + isHealthStatus
    obj(d, "answer")
    need(d.get("status") in STATUS, "status in healthy|degraded|unhealthy")
    iso(d.get("timestamp"), "timestamp")
    text(d.get("environment"), "environment")
    num(d.get("uptime"), "uptime", 0)
    if "version" in d:
        text(d["version"], "version")


def detailed(d):  # DetailedHealthStatusSchema + isDetailedHealthStatus
    obj(d, "answer")
    need(d.get("status") in STATUS, "status")
    iso(d.get("timestamp"), "timestamp")
    num(d.get("uptime"), "uptime", 0)
    text(d.get("version"), "version")
    obj(d.get("details"), "details (the type guard's)")
    obj(d.get("services"), "services")
    need(d["services"], "services names at least one")
    for name, s in d["services"].items():
        component(s, "services." + name, "lastCheck")
    if "metrics" in d:
        m = d["metrics"]
        num(m.get("memoryUsage"), "metrics.memoryUsage", 0)
        num(m.get("cpuUsage"), "metrics.cpuUsage", 0, 100)
        num(m.get("activeConnections"), "metrics.activeConnections", 0, integer=True)
        num(m.get("requestsPerSecond"), "metrics.requestsPerSecond", 0)


def component(s, what="answer", stamp="lastChecked"):  # ComponentHealth
    obj(s, what)
    need(s.get("status") in STATUS, what + ".status")
    iso(s.get(stamp), what + "." + stamp)
    if "responseTime" in s:
        num(s["responseTime"], what + ".responseTime", 0)
    if "details" in s:
        obj(s["details"], what + ".details")
    if "errorMessage" in s:
        text(s["errorMessage"], what + ".errorMessage")


def ready(d):  # ReadinessStatusSchema
    obj(d, "answer")
    need(isinstance(d.get("ready"), bool), "ready is a boolean")
    iso(d.get("timestamp"), "timestamp")
    need(isinstance(d.get("checks"), list) and d["checks"], "checks is a non-empty array")
    for i, c in enumerate(d["checks"]):
        text(c.get("name"), "checks[%d].name" % i)
        need(isinstance(c.get("ready"), bool), "checks[%d].ready" % i)
        if "message" in c:
            need(isinstance(c["message"], str), "checks[%d].message" % i)
        num(c.get("duration"), "checks[%d].duration" % i, 0)
    dep = d.get("dependencies")
    obj(dep, "dependencies")
    for k in ("database", "cache", "externalServices"):
        need(isinstance(dep.get(k), bool), "dependencies.%s is a boolean" % k)
    if "migrations" in dep:
        need(isinstance(dep["migrations"], bool), "dependencies.migrations")


def alive(d):  # LivenessStatus
    obj(d, "answer")
    need(d.get("alive") is True, "alive is true")
    iso(d.get("timestamp"), "timestamp")
    num(d.get("uptime"), "uptime", 0)
    iso(d.get("lastActivity"), "lastActivity")


def version(d):  # VersionInfoSchema
    obj(d, "answer")
    text(d.get("version"), "version")
    iso(d.get("buildDate"), "buildDate")
    text(d.get("apiVersion"), "apiVersion")
    if "environment" in d:
        need(isinstance(d["environment"], str), "environment")


def api_status(d):  # ApiStatus
    obj(d, "answer")
    need(d.get("status") in {"operational", "degraded", "maintenance", "outage"}, "status")
    iso(d.get("timestamp"), "timestamp")
    obj(d.get("endpoints"), "endpoints")
    need(d["endpoints"], "endpoints names some")
    for k, e in d["endpoints"].items():
        need(e.get("status") in {"operational", "degraded", "down"}, k + ".status")
        num(e.get("responseTime"), k + ".responseTime", 0)
        num(e.get("errorRate"), k + ".errorRate", 0, 1)
        iso(e.get("lastChecked"), k + ".lastChecked")
    rl = d.get("rateLimit")
    obj(rl, "rateLimit")
    num(rl.get("current"), "rateLimit.current", 0)
    num(rl.get("limit"), "rateLimit.limit", 0)
    iso(rl.get("resetTime"), "rateLimit.resetTime")


def dependency(s, what="answer"):  # ServiceDependency
    obj(s, what)
    text(s.get("name"), what + ".name")
    need(s.get("type") in {"database", "cache", "external_api", "storage", "queue"}, what + ".type")
    need(s.get("status") in STATUS, what + ".status")
    iso(s.get("lastChecked"), what + ".lastChecked")
    num(s.get("responseTime"), what + ".responseTime", 0)
    need("url" not in s, what + " shows no URL (it may hold a password)")


def dependencies(d):
    need(isinstance(d, list) and d, "a non-empty array")
    for i, s in enumerate(d):
        dependency(s, "[%d]" % i)


def history(d):
    need(isinstance(d, list), "an array")
    for i, h in enumerate(d):
        iso(h.get("timestamp"), "[%d].timestamp" % i)
        text(h.get("status"), "[%d].status" % i)
        num(h.get("responseTime"), "[%d].responseTime" % i, 0)
        if "component" in h:
            text(h["component"], "[%d].component" % i)


def metrics(d):
    obj(d, "answer")
    for k in ("current", "average", "availability"):
        num(d["uptime"][k], "uptime." + k, 0)
    need(d["uptime"]["availability"] <= 100, "availability <= 100")
    for k in ("average", "p50", "p95", "p99"):
        num(d["responseTime"][k], "responseTime." + k, 0)
    need(d["responseTime"]["p50"] <= d["responseTime"]["p95"] <= d["responseTime"]["p99"], "p50 <= p95 <= p99")
    num(d["errorRates"]["total"], "errorRates.total", 0, 1)
    obj(d["errorRates"]["byComponent"], "errorRates.byComponent")
    obj(d["errorRates"]["byDependency"], "errorRates.byDependency")
    for k in ("healthy", "degraded", "unhealthy"):
        num(d["statusDistribution"][k], "statusDistribution." + k, 0, integer=True)
    for k in ("uptimeTrend", "responseTimeTrend", "errorRateTrend"):
        num(d["trends"][k], "trends." + k)


def config(d):
    obj(d, "answer")
    for k in ("checkInterval", "timeout", "retryAttempts"):
        num(d.get(k), k, 0)
    obj(d.get("alertThresholds"), "alertThresholds")
    need(isinstance(d.get("enabledChecks"), list) and all(isinstance(x, str) for x in d["enabledChecks"]),
         "enabledChecks is an array of names")
    obj(d.get("dependencyChecks"), "dependencyChecks")
    flat = json.dumps(d).lower()
    for secret in ("password", "postgresql://", "redis://", "host=", "adb_"):
        need(secret not in flat, "no secret-like value (%s) in config" % secret)


def system(d):  # the parts of the client's system info that identify no host
    obj(d, "answer")
    for k in ("platform", "architecture", "environment"):
        need(isinstance(d.get(k), str), k)
    num(d["memoryUsage"]["rss"], "memoryUsage.rss", 1)
    num(d["memoryUsage"]["heapUsed"], "memoryUsage.heapUsed", 0)
    num(d["cpuUsage"]["user"], "cpuUsage.user", 0)
    num(d["cpuUsage"]["system"], "cpuUsage.system", 0)
    need(isinstance(d.get("loadAverage"), list) and len(d["loadAverage"]) == 3, "loadAverage has 3")
    for k in ("hostname", "networkInterfaces", "workingDirectory", "execPath", "processId", "parentProcessId"):
        need(k not in d, "no %s (it identifies the host)" % k)


def connectivity(d):
    obj(d, "answer")
    iso(d.get("timestamp"), "timestamp")
    need(isinstance(d.get("results"), list), "results is an array")
    for i, r in enumerate(d["results"]):
        text(r.get("service"), "results[%d].service" % i)
        need(r.get("status") in {"connected", "failed", "timeout"}, "results[%d].status" % i)
        num(r.get("responseTime"), "results[%d].responseTime" % i, 0)
    s = d.get("summary")
    for k in ("total", "connected", "failed"):
        num(s.get(k), "summary." + k, 0, integer=True)
    num(s.get("averageResponseTime"), "summary.averageResponseTime", 0)
    need(s["total"] == len(d["results"]) == s["connected"] + s["failed"], "summary adds up")


SHAPES = {f.__name__: f for f in (health_status, detailed, component, ready, alive, version, api_status,
                                   dependency, dependencies, history, metrics, config, system, connectivity)}

if __name__ == "__main__":
    try:
        SHAPES[sys.argv[1]](json.load(sys.stdin))
    except (Bad, KeyError, TypeError, AttributeError, ValueError) as e:
        print("%s: %s" % (type(e).__name__, e))
        sys.exit(1)
    print("ok")
