#!/usr/bin/env python3
"""metrics_shapes.py SHAPE < answer.json: checks one answer of /api/v1/metrics
against what smart-logs' client accepts for it (its zod schemas in
src/types/metrics.ts, its type guards in src/utils/type-guards.ts and the
checks of src/services/metrics.ts), written here in our own words. Prints
"ok" or the first problem found, and exits 0 or 1."""
import json
import re
import sys

# zod's string().datetime(): UTC with a Z, fraction optional
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SEVERITY = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
ALERT_STATUS = {"active", "acknowledged", "resolved", "dismissed"}
ALERT_TYPE = {"SECURITY", "COMPLIANCE", "PERFORMANCE", "SYSTEM", "METRICS", "DELIVERY", "CUSTOM"}


class Bad(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Bad(what)


def num(v, what, lo=0, hi=None, integer=False):
    need(isinstance(v, (int, float)) and not isinstance(v, bool), what + " is a number")
    if integer:
        need(float(v).is_integer(), what + " is an integer")
    if lo is not None:
        need(v >= lo, "%s >= %s (%r)" % (what, lo, v))
    if hi is not None:
        need(v <= hi, "%s <= %s (%r)" % (what, hi, v))


def pct(v, what):
    num(v, what, 0, 100)


def count(v, what):
    num(v, what, 0, integer=True)


def iso(v, what):
    need(isinstance(v, str) and ISO.match(v), what + " is a datetime the client accepts: %r" % (v,))


def obj(v, what):
    need(isinstance(v, dict), what + " is an object")


def counts(v, what):  # z.record(z.number().int().min(0))
    obj(v, what)
    for k, n in v.items():
        count(n, "%s[%r]" % (what, k))


def time_range(v, what):  # DateRangeFilterSchema
    obj(v, what)
    iso(v.get("startDate"), what + ".startDate")
    iso(v.get("endDate"), what + ".endDate")
    need(v["startDate"] <= v["endDate"], what + ": start before end")


def system(d):  # SystemMetricsSchema + isSystemMetrics
    obj(d, "answer")
    iso(d.get("timestamp"), "timestamp")
    num(d.get("uptime"), "uptime")
    s = d.get("server")
    obj(s, "server")
    m = s.get("memoryUsage")
    obj(m, "server.memoryUsage")
    for k in ("total", "used", "free"):
        num(m.get(k), "server.memoryUsage." + k)
    pct(m.get("percentage"), "server.memoryUsage.percentage")
    for k in ("buffers", "cached", "available"):
        if k in m:
            num(m[k], "server.memoryUsage." + k)
    c = s.get("cpuUsage")
    obj(c, "server.cpuUsage")
    pct(c.get("percentage"), "server.cpuUsage.percentage")
    num(c.get("cores"), "server.cpuUsage.cores", 1, integer=True)
    if "loadAverage" in c:
        for k in ("oneMinute", "fiveMinutes", "fifteenMinutes"):
            num(c["loadAverage"].get(k), "server.cpuUsage.loadAverage." + k)
    if "processes" in c:
        for k in ("total", "running", "sleeping", "zombie"):
            count(c["processes"].get(k), "server.cpuUsage.processes." + k)
    for i, x in enumerate(s.get("diskUsage", [])):
        for k in ("total", "used", "free"):
            num(x.get(k), "diskUsage[%d].%s" % (i, k))
        pct(x.get("percentage"), "diskUsage[%d].percentage" % i)
        for k in ("inodesTotal", "inodesUsed", "inodesFree"):
            if k in x:
                count(x[k], "diskUsage[%d].%s" % (i, k))
    for i, x in enumerate(s.get("networkMetrics", [])):
        for k in ("bytesReceived", "bytesSent"):
            num(x.get(k), "networkMetrics[%d].%s" % (i, k))
        for k in ("packetsReceived", "packetsSent", "errorsReceived", "errorsSent", "droppedReceived",
                  "droppedSent"):
            count(x.get(k), "networkMetrics[%d].%s" % (i, k))
    db = d.get("database")
    obj(db, "database")
    for k in ("connectionCount", "activeQueries", "slowQueries"):
        count(db.get(k), "database." + k)
    num(db.get("averageQueryTime"), "database.averageQueryTime")
    if "deadlocks" in db:
        count(db["deadlocks"], "database.deadlocks")
    for k in ("cacheHitRatio", "indexUsage"):
        if k in db:
            pct(db[k], "database." + k)
    for k in ("tableSize", "indexSize"):
        if k in db:
            num(db[k], "database." + k)
    ca = d.get("cache")
    obj(ca, "cache")
    for k in ("hitRate", "missRate", "evictionRate"):
        pct(ca.get(k), "cache." + k)
    num(ca.get("memoryUsage"), "cache.memoryUsage")
    count(ca.get("keyCount"), "cache.keyCount")
    for k in ("totalRequests", "totalHits", "totalMisses"):  # the service's CacheMetrics
        count(ca.get(k), "cache." + k)
    a = d.get("api")
    obj(a, "api")
    num(a.get("requestsPerSecond"), "api.requestsPerSecond")
    num(a.get("averageResponseTime"), "api.averageResponseTime")
    pct(a.get("errorRate"), "api.errorRate")
    for k in ("activeConnections", "totalRequests", "totalErrors"):
        count(a.get(k), "api." + k)
    if "responseTimePercentiles" in a:
        for k in ("p50", "p90", "p95", "p99"):
            num(a["responseTimePercentiles"].get(k), "api.responseTimePercentiles." + k)


def latency(v, what, keys):
    obj(v, what)
    for k in keys:
        num(v.get(k), what + "." + k)


def audit(d):  # AuditMetricsSchema (the service itself asserts an object with a timestamp)
    obj(d, "answer")
    iso(d.get("timestamp"), "timestamp")
    time_range(d.get("timeRange"), "timeRange")
    count(d.get("eventsProcessed"), "eventsProcessed")
    latency(d.get("processingLatency"), "processingLatency",
            ("average", "median", "p50", "p90", "p95", "p99", "min", "max"))
    v = d.get("integrityVerifications")
    obj(v, "integrityVerifications")
    for k in ("total", "passed", "failed"):
        count(v.get(k), "integrityVerifications." + k)
    num(v.get("averageTime"), "integrityVerifications.averageTime")
    pct(v.get("successRate"), "integrityVerifications.successRate")
    if "failureReasons" in v:
        counts(v["failureReasons"], "integrityVerifications.failureReasons")
    r = d.get("complianceReports")
    obj(r, "complianceReports")
    for k in ("generated", "scheduled", "failed"):
        count(r.get(k), "complianceReports." + k)
    for k in ("averageGenerationTime", "totalSize", "averageSize"):
        num(r.get(k), "complianceReports." + k)
    counts(r.get("reportsByType"), "complianceReports.reportsByType")
    counts(r.get("reportsByFormat"), "complianceReports.reportsByFormat")
    e = d.get("errorRates")
    obj(e, "errorRates")
    count(e.get("total"), "errorRates.total")
    pct(e.get("rate"), "errorRates.rate")
    for k in ("byType", "byEndpoint", "byStatusCode"):
        counts(e.get(k), "errorRates." + k)
    count(e.get("criticalErrors"), "errorRates.criticalErrors")
    count(e.get("recoverableErrors"), "errorRates.recoverableErrors")
    for k in ("eventsByStatus", "eventsByAction", "eventsByResourceType", "eventsByDataClassification"):
        counts(d.get(k), k)
    if "eventsByOrganization" in d:
        counts(d["eventsByOrganization"], "eventsByOrganization")
    for i, p in enumerate(d.get("timeline", [])):
        iso(p.get("timestamp"), "timeline[%d].timestamp" % i)
        count(p.get("eventsProcessed"), "timeline[%d].eventsProcessed" % i)
        num(p.get("averageLatency"), "timeline[%d].averageLatency" % i)
        count(p.get("errorCount"), "timeline[%d].errorCount" % i)
        count(p.get("verificationCount"), "timeline[%d].verificationCount" % i)
    t = d.get("throughput")
    obj(t, "throughput")
    for k in ("eventsPerSecond", "peakEventsPerSecond", "averageEventsPerMinute"):
        num(t.get(k), "throughput." + k)


def performance(d):  # PerformanceMetricsSchema
    obj(d, "answer")
    iso(d.get("timestamp"), "timestamp")
    q = d.get("requests")
    obj(q, "requests")
    for k in ("total", "successful", "failed"):
        count(q.get(k), "requests." + k)
    num(q.get("rate"), "requests.rate")
    num(q.get("averageResponseTime"), "requests.averageResponseTime")
    latency(q.get("responseTimePercentiles"), "requests.responseTimePercentiles", ("p50", "p90", "p95", "p99"))
    latency(d.get("throughput"), "throughput", ("requestsPerSecond", "bytesPerSecond", "eventsPerSecond",
                                                "peakThroughput"))
    latency(d.get("latency"), "latency", ("average", "median", "p95", "p99", "max"))
    r = d.get("resources")
    obj(r, "resources")
    for k in ("cpuUtilization", "memoryUtilization", "diskUtilization", "networkUtilization"):
        pct(r.get(k), "resources." + k)
    c = d.get("concurrency")
    obj(c, "concurrency")
    for k in ("activeConnections", "maxConcurrentRequests", "queuedRequests", "rejectedRequests"):
        count(c.get(k), "concurrency." + k)


def usage(d):  # UsageMetricsSchema
    obj(d, "answer")
    iso(d.get("timestamp"), "timestamp")
    time_range(d.get("timeRange"), "timeRange")
    for k in ("totalRequests", "uniqueUsers", "uniqueOrganizations"):
        count(d.get(k), k)
    num(d.get("dataTransferred"), "dataTransferred")
    a = d.get("apiUsage")
    obj(a, "apiUsage")
    for k in ("totalCalls", "successfulCalls", "failedCalls"):
        count(a.get(k), "apiUsage." + k)
    num(a.get("averageResponseTime"), "apiUsage.averageResponseTime")
    need(isinstance(a.get("endpointUsage"), list), "apiUsage.endpointUsage is an array")
    for i, e in enumerate(a["endpointUsage"]):
        w = "apiUsage.endpointUsage[%d]" % i
        need(isinstance(e.get("endpoint"), str) and e["endpoint"], w + ".endpoint")
        need(isinstance(e.get("method"), str) and e["method"], w + ".method")
        count(e.get("requestCount"), w + ".requestCount")
        num(e.get("averageResponseTime"), w + ".averageResponseTime")
        pct(e.get("errorRate"), w + ".errorRate")
        num(e.get("dataTransferred"), w + ".dataTransferred")
        count(e.get("uniqueUsers"), w + ".uniqueUsers")
    need(isinstance(d.get("featureUsage"), list), "featureUsage is an array")
    for i, f in enumerate(d["featureUsage"]):
        w = "featureUsage[%d]" % i
        need(isinstance(f.get("feature"), str) and f["feature"], w + ".feature")
        count(f.get("usageCount"), w + ".usageCount")
        count(f.get("uniqueUsers"), w + ".uniqueUsers")
        num(f.get("averageUsagePerUser"), w + ".averageUsagePerUser")
        pct(f.get("adoptionRate"), w + ".adoptionRate")
        pct(f.get("retentionRate"), w + ".retentionRate")
    b = d.get("userBehavior")
    obj(b, "userBehavior")
    num(b.get("averageSessionDuration"), "userBehavior.averageSessionDuration")
    num(b.get("averageRequestsPerSession"), "userBehavior.averageRequestsPerSession")
    pct(b.get("bounceRate"), "userBehavior.bounceRate")
    pct(b.get("returnUserRate"), "userBehavior.returnUserRate")
    r = d.get("resourceConsumption")
    obj(r, "resourceConsumption")
    for k in ("storageUsed", "bandwidthUsed", "computeHours"):
        num(r.get(k), "resourceConsumption." + k)


def alert(a, what):  # AlertSchema (zod; the client's isAlert guard is marked FIXME and wrong)
    obj(a, what)
    need(isinstance(a.get("id"), str), what + ".id")
    need(isinstance(a.get("organizationId"), str) and a["organizationId"], what + ".organizationId")
    need(isinstance(a.get("title"), str) and a["title"], what + ".title")
    need(a.get("severity") in SEVERITY, what + ".severity")
    need(a.get("status") in ALERT_STATUS, what + ".status")
    need(a.get("type") in ALERT_TYPE, what + ".type")
    need(isinstance(a.get("source"), str), what + ".source")
    iso(a.get("createdAt"), what + ".createdAt")
    for k in ("acknowledgedAt", "resolvedAt"):
        if k in a:
            iso(a[k], what + "." + k)
    need(isinstance(a.get("acknowledged"), bool), what + ".acknowledged")
    need(isinstance(a.get("resolved"), bool), what + ".resolved")
    need(isinstance(a.get("tags", []), list), what + ".tags")


def dashboard(d):  # the service's getDashboardSummary type
    obj(d, "answer")
    obj(d.get("system"), "system")
    obj(d.get("audit"), "audit")
    obj(d.get("performance"), "performance")
    a = d.get("alerts")
    obj(a, "alerts")
    for k in ("total", "critical", "high"):
        count(a.get(k), "alerts." + k)
    need(isinstance(a.get("recent"), list), "alerts.recent is an array")
    for i, x in enumerate(a["recent"]):
        alert(x, "alerts.recent[%d]" % i)
    t = d.get("trends")
    obj(t, "trends")
    for k in ("eventsGrowth", "performanceTrend", "errorRateTrend"):
        num(t.get(k), "trends." + k, None)


def historical(d):  # Promise<any[]>: an array of points
    need(isinstance(d, list), "answer is an array")
    for i, p in enumerate(d):
        obj(p, "[%d]" % i)
        iso(p.get("timestamp"), "[%d].timestamp" % i)
        if "snapshots" in p:  # the process's series: snapshots in the bucket
            count(p["snapshots"], "[%d].snapshots" % i)


def config(d):  # the service's getMetricsConfig type
    obj(d, "answer")
    obj(d.get("alertThresholds"), "alertThresholds")
    obj(d.get("retentionPolicies"), "retentionPolicies")
    obj(d.get("samplingRates"), "samplingRates")
    for k, v in d["samplingRates"].items():
        num(v, "samplingRates." + k, None)
    need(isinstance(d.get("enabledMetrics"), list) and all(isinstance(x, str) for x in d["enabledMetrics"]),
         "enabledMetrics is an array of strings")


def stream_line(d):  # one line of streamHistoricalMetrics: JSON.parse of a line, any object
    obj(d, "line")
    need(d.get("type") in ("audit", "performance", "usage"), "line.type")
    iso(d.get("timestamp"), "line.timestamp")
    for k, v in d.items():
        if k not in ("type", "timestamp"):
            num(v, "line." + k, None)


def live(d):  # RealTimeMetricsData: {timestamp, type, data}, data by its type
    obj(d, "event")
    iso(d.get("timestamp"), "event.timestamp")
    t = d.get("type")
    need(t in ("system", "audit", "performance", "usage", "alert"), "event.type")
    if t == "alert":
        alert(d.get("data"), "event.data")
    elif t == "audit":  # the events' figures of the interval (the full answer: GET /metrics/audit)
        a = d.get("data")
        obj(a, "event.data")
        count(a.get("eventsProcessed"), "event.data.eventsProcessed")
        for k in ("eventsByStatus", "eventsByAction", "eventsByResourceType", "eventsByDataClassification"):
            counts(a.get(k), "event.data." + k)
        time_range(a.get("timeRange"), "event.data.timeRange")
    else:
        obj(d.get("data"), "event.data")


SHAPES = {f.__name__: f for f in (system, audit, performance, usage, dashboard, historical, config, stream_line,
                                  live)}

if __name__ == "__main__":
    try:
        SHAPES[sys.argv[1]](json.load(sys.stdin))
    except (Bad, KeyError, TypeError, AttributeError, ValueError) as e:
        print("%s: %s" % (type(e).__name__, e))
        sys.exit(1)
    print("ok")
