/*
 * dbmon_findings.c - what in the database's figures deserves an alert, with
 * the alert's deduplication key, severity and words (docs/monitoring.md,
 * "Findings"). Pure: reads the JSON of the other dbmon files only. A
 * description names tables, indexes and statement ids, never a statement's
 * text or a value.
 */
#include "dbmon.h"
#include "../core/util.h"

#include <string.h>

#define FINDINGS_MAX 100
#define XID_HIGH 1000000000LL     /* of the 2^31 before wraparound */
#define XID_CRITICAL 1500000000LL
#define LAG_S 3600                /* an hour past the autovacuum threshold */
#define LAG_DEAD_MIN 10000
#define BLOAT_MIN (100LL * 1024 * 1024)

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_number_value(v);
}

static void add(json_t *out, const char *kind, const char *severity, const char *type,
                const char *object, const char *title, const char *desc, json_t *meta)
{
    char key[512];
    if (json_array_size(out) >= FINDINGS_MAX) {
        json_decref(meta);
        return;
    }
    adb__fmt(key, sizeof(key), "dbmon/%s/%s", kind, object);
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "kind", kind,
                                         "severity", severity, "type", type, "key", key,
                                         "title", title, "description", desc,
                                         "metadata", meta ? meta : json_object()));
}

json_t *adb__dbmon_findings(const json_t *database, const json_t *tables, const json_t *indexes,
                            const json_t *slow, const json_t *suggestions,
                            const adb__dbmon_opts *o)
{
    json_t *out = json_array();
    char title[300], desc[800], obj[300];
    size_t i;
    json_t *e;

    if (!out)
        return NULL;
    /* transaction-id age: wraparound stops every write at 2^31 */
    if (database) {
        long long age = num(database, "xidAge"), freeze = num(database, "autovacuumFreezeMaxAge");
        const char *sev = age >= XID_CRITICAL ? "CRITICAL" : age >= XID_HIGH ? "HIGH"
                        : freeze > 0 && age >= 2 * freeze ? "MEDIUM" : NULL;
        if (sev) {
            adb__fmt(title, sizeof(title), "transaction-id age of database %s is %lld",
                     str(database, "database"), age);
            adb__fmt(desc, sizeof(desc), "the oldest unfrozen transaction id is %lld transactions "
                     "old (autovacuum_freeze_max_age %lld; PostgreSQL stops accepting writes near "
                     "2147483647): find what holds vacuum back (long transactions, replication "
                     "slots) and VACUUM (FREEZE) the oldest tables", age, freeze);
            add(out, "xid-age", sev, "SYSTEM", str(database, "database"), title, desc,
                json_pack("{s:I, s:I}", "xidAge", (json_int_t)age, "freezeMaxAge", (json_int_t)freeze));
        }
    }
    json_array_foreach(tables, i, e) {
        adb__fmt(obj, sizeof(obj), "%s.%s", str(e, "schema"), str(e, "table"));
        long long dead = num(e, "deadTuples"), lag = num(e, "autovacuumLagSeconds");
        if (json_is_true(json_object_get(e, "autovacuumDue")) && lag >= LAG_S && dead >= LAG_DEAD_MIN) {
            adb__fmt(title, sizeof(title), "autovacuum is behind on %s", obj);
            adb__fmt(desc, sizeof(desc), "%s holds %lld dead tuples, past its autovacuum threshold "
                     "of %lld, and was last vacuumed %lld s ago", obj, dead,
                     num(e, "autovacuumThreshold"), lag);
            add(out, "autovacuum-lag", "MEDIUM", "PERFORMANCE", obj, title, desc,
                json_pack("{s:s, s:I, s:I}", "table", obj, "deadTuples", (json_int_t)dead,
                          "lagSeconds", (json_int_t)lag));
        }
        long long bloat = num(e, "bloatBytesEstimate");
        if (bloat >= BLOAT_MIN) {
            adb__fmt(title, sizeof(title), "%s is bloated by about %lld MiB", obj, bloat >> 20);
            adb__fmt(desc, sizeof(desc), "dead tuples take about %lld bytes of %s (estimate from "
                     "the statistics): VACUUM gives the space back to new rows", bloat, obj);
            add(out, "bloat", "LOW", "PERFORMANCE", obj, title, desc,
                json_pack("{s:s, s:I}", "table", obj, "bloatBytesEstimate", (json_int_t)bloat));
        }
    }
    json_array_foreach(indexes, i, e) {
        adb__fmt(obj, sizeof(obj), "%s.%s", str(e, "schema"), str(e, "index"));
        const char *dup = json_string_value(json_object_get(e, "duplicateOf"));
        if (dup) {
            adb__fmt(title, sizeof(title), "index %s duplicates %s", obj, dup);
            adb__fmt(desc, sizeof(desc), "%s on %s.%s has the same definition as %s: every insert "
                     "pays for both; `auditdb db optimize --drop-duplicates` drops it when unused",
                     obj, str(e, "schema"), str(e, "table"), dup);
            add(out, "duplicate-index", "LOW", "PERFORMANCE", obj, title, desc,
                json_pack("{s:s, s:s, s:I}", "index", obj, "duplicateOf", dup, "sizeBytes",
                          (json_int_t)num(e, "sizeBytes")));
        } else if (json_is_true(json_object_get(e, "unused")) &&
                   num(e, "sizeBytes") >= o->unused_min_bytes) {
            adb__fmt(title, sizeof(title), "index %s is never used", obj);
            adb__fmt(desc, sizeof(desc), "%s (%lld bytes) was not scanned since the statistics "
                     "began, and backs no constraint: writes pay for it", obj, num(e, "sizeBytes"));
            add(out, "unused-index", "LOW", "PERFORMANCE", obj, title, desc,
                json_pack("{s:s, s:I}", "index", obj, "sizeBytes", (json_int_t)num(e, "sizeBytes")));
        }
    }
    json_array_foreach(slow, i, e) {
        double mean = json_number_value(json_object_get(e, "meanMs"));
        adb__fmt(title, sizeof(title), "slow statement %s", str(e, "queryId"));
        adb__fmt(desc, sizeof(desc), "statement %s averages %.1f ms over %lld calls (threshold "
                 "%d ms); GET /api/v1/db/slow-queries shows its normalized text", str(e, "queryId"),
                 mean, num(e, "calls"), o->slow_ms);
        add(out, "slow-query", mean >= 10.0 * o->slow_ms && o->slow_ms > 0 ? "HIGH" : "MEDIUM",
            "PERFORMANCE", str(e, "queryId"), title, desc,
            json_pack("{s:s, s:f, s:I}", "queryId", str(e, "queryId"), "meanMs", mean, "calls",
                      (json_int_t)num(e, "calls")));
    }
    json_array_foreach(suggestions, i, e) {
        char cols[200] = "";
        if (json_is_false(json_object_get(e, "checked")))
            continue; /* not checked by the planner (a GIN candidate): shown, never raised */
        size_t k, w = 0;
        json_t *col;
        json_array_foreach(json_object_get(e, "columns"), k, col)
            if (adb__fmt(cols + w, sizeof(cols) - w, "%s%s", k ? "," : "", json_string_value(col)))
                w = strlen(cols);
        const char *method = json_string_value(json_object_get(e, "method"));
        bool gin = method && !strcmp(method, "gin"); /* a GIN index names its method: another key */
        adb__fmt(obj, sizeof(obj), "%s.%s(%s)%s", str(e, "schema"), str(e, "table"), cols, gin ? " gin" : "");
        double before = json_number_value(json_object_get(e, "costBefore"));
        double after = json_number_value(json_object_get(e, "costAfter"));
        adb__fmt(title, sizeof(title), "missing index on %s", obj);
        adb__fmt(desc, sizeof(desc), "an index on %s cuts the planner's cost of %zu statement(s) "
                 "from %.2f to %.2f (checked with a hypothetical index): `auditdb db optimize "
                 "--apply` creates it", obj, json_array_size(json_object_get(e, "queryIds")),
                 before, after);
        add(out, "missing-index", "MEDIUM", "PERFORMANCE", obj, title, desc,
            json_pack("{s:s, s:f, s:f, s:O}", "index", obj, "costBefore", before, "costAfter",
                      after, "queryIds", json_object_get(e, "queryIds")));
    }
    return out;
}
