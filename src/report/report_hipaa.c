/*
 * report_hipaa.c - the HIPAA audit trail (HIPAA_AUDIT_TRAIL): PHI accesses
 * and modifications, unauthorized attempts, emergency and break-glass
 * access, per-user and per-patient breakdowns, in the client's HIPAAReport
 * shape. Every number is a query over the organization's events;
 * docs/reports.md, "Report types" says what each condition means.
 */
#include "report_types.h"
#include "../core/util.h"

#include "../event/event.h"
#include "../integrity/row.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What the figures count (constants of the code, documented in docs/reports.md). */
#define PHI "data_classification = 'PHI'"
#define MODIFY "action ~* '(create|update|delete|write|modify|edit|insert|amend|patch|merge|erase)'"
#define EMERGENCY                                                                       \
    "(action ~* '(break.?glass|emergency)' OR (details ?| ARRAY['emergencyAccess',"       \
    " 'breakGlass', 'emergency'] AND (details->>'emergencyAccess' = 'true'"               \
    " OR details->>'breakGlass' = 'true' OR details->>'emergency' = 'true')))"
#define DENIED                                                                          \
    "(status = 'failure' AND (" PHI " OR coalesce(outcome_description, '') ~*"          \
    " '(unauthori[sz]ed|forbidden|denied|not permitted|permission)'"                     \
    " OR action ~* '(unauthori[sz]ed|denied|forbidden)'))"

static const adb__rq_figure figs[] = {
    { "totalEvents", "Events in the period", "true" },
    { "phiEvents", "Events on protected health information", PHI },
    { "phiAccesses", "PHI accesses (reads)", PHI " AND NOT " MODIFY " AND status <> 'failure'" },
    { "phiModifications", "PHI modifications", PHI " AND " MODIFY " AND status <> 'failure'" },
    { "unauthorizedAttempts", "Unauthorized or failed attempts", DENIED },
    { "emergencyAccesses", "Emergency and break-glass accesses", EMERGENCY },
    { "phiFailures", "Failed PHI operations", PHI " AND status = 'failure'" },
    { "distinctUsers", "Users who touched PHI", "false" }, /* filled below */
};
#define NFIGS (sizeof(figs) / sizeof(figs[0]))

/* The same conditions in C, for archived events (report_archived.c). */
typedef struct hx {
    regex_t modify, emergency, denied_outcome, denied_action;
} hx;

static bool eq(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static bool rx(const regex_t *r, const char *s)
{
    return s && regexec(r, s, 0, NULL, 0) == 0;
}

static bool p_phi(const char *const *v)
{
    return eq(v[ADB_COL_DATA_CLASSIFICATION], "PHI");
}

static bool p_true(const char *const *v, void *ud)
{
    (void)v, (void)ud;
    return true;
}

static bool p_phi_ud(const char *const *v, void *ud)
{
    (void)ud;
    return p_phi(v);
}

static bool p_access(const char *const *v, void *ud)
{
    return p_phi(v) && !rx(&((hx *)ud)->modify, v[ADB_COL_ACTION]) &&
           !eq(v[ADB_COL_STATUS], "failure");
}

static bool p_modify(const char *const *v, void *ud)
{
    return p_phi(v) && rx(&((hx *)ud)->modify, v[ADB_COL_ACTION]) &&
           !eq(v[ADB_COL_STATUS], "failure");
}

static bool p_denied(const char *const *v, void *ud)
{
    hx *h = ud;
    return eq(v[ADB_COL_STATUS], "failure") &&
           (p_phi(v) || rx(&h->denied_outcome, v[ADB_COL_OUTCOME_DESCRIPTION] ? v[ADB_COL_OUTCOME_DESCRIPTION] : "") ||
            rx(&h->denied_action, v[ADB_COL_ACTION]));
}

static bool p_emergency(const char *const *v, void *ud)
{
    if (rx(&((hx *)ud)->emergency, v[ADB_COL_ACTION]))
        return true;
    const char *d = v[ADB_COL_DETAILS];
    if (!d || (!strstr(d, "mergency") && !strstr(d, "breakGlass")))
        return false;
    json_t *j = json_loads(d, 0, NULL);
    bool yes = false;
    static const char *const keys[] = { "emergencyAccess", "breakGlass", "emergency" };
    for (size_t i = 0; j && i < 3 && !yes; i++) {
        json_t *e = json_object_get(j, keys[i]);
        yes = json_is_true(e) || (json_is_string(e) && !strcmp(json_string_value(e), "true"));
    }
    json_decref(j);
    return yes;
}

static bool p_phi_failure(const char *const *v, void *ud)
{
    (void)ud;
    return p_phi(v) && eq(v[ADB_COL_STATUS], "failure");
}

static const adb__rq_archived_figure afigs[] = {
    { "totalEvents", p_true },       { "phiEvents", p_phi_ud },
    { "phiAccesses", p_access },     { "phiModifications", p_modify },
    { "unauthorizedAttempts", p_denied }, { "emergencyAccesses", p_emergency },
    { "phiFailures", p_phi_failure },
};

/* One scan for the figures, the per-user table and both charts (rfast;
 * bench/README.md, "Reports"): each event's conditions are computed once
 * (the OFFSET 0 keeps PostgreSQL from copying them into every aggregate),
 * then GROUPING SETS count per user (PHI), per UTC day (PHI) and per
 * status. Every row of the period is in exactly one status group, so the
 * figures are the sums of the status groups. Rows come grouped by set
 * (GROUPING: 3 user, 5 day, 6 status), users by events descending then
 * name, days and statuses by name: the orders of the standalone queries
 * each table, chart and figure shows as its "query". Columns: 0 set, 1 key,
 * 2 events, 3 accesses, 4 modifications, 5 failures (PHI), 6 emergency
 * (PHI), 7 PHI events, 8 unauthorized attempts, 9 emergency accesses. */
#define SET_USER 3
#define SET_DAY 5
#define SET_STATUS 6
static const char one_scan_sql[] =
    "SELECT GROUPING(u, d, s), CASE GROUPING(u, d, s) WHEN 3 THEN u WHEN 5 THEN d ELSE s END,"
    " count(*), count(*) FILTER (WHERE acc), count(*) FILTER (WHERE md),"
    " count(*) FILTER (WHERE fl), count(*) FILTER (WHERE em), count(*) FILTER (WHERE phi),"
    " count(*) FILTER (WHERE dn), count(*) FILTER (WHERE ema)"
    " FROM (SELECT CASE WHEN phi THEN coalesce(principal_id, '') END AS u,"
    "  CASE WHEN phi THEN to_char(date_trunc('day', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD') END AS d,"
    "  status AS s, phi AND NOT m AND status <> 'failure' AS acc,"
    "  phi AND m AND status <> 'failure' AS md, phi AND status = 'failure' AS fl,"
    "  phi AND ema AS em, phi, dn, ema"
    "  FROM (SELECT principal_id, \"timestamp\" AS ts, status, " PHI " AS phi,"
    "   CASE WHEN " PHI " THEN " MODIFY " END AS m, " DENIED " AS dn, " EMERGENCY " AS ema"
    "   FROM audit_log WHERE " ADB_REPORT_BASE " OFFSET 0) r) e"
    " GROUP BY GROUPING SETS ((u), (d), (s))"
    " HAVING GROUPING(u, d, s) = 6 OR coalesce(u, d) IS NOT NULL"
    " ORDER BY 1, CASE WHEN GROUPING(u, d, s) = 3 THEN count(*) END DESC, 2";

/* The rows [from, to) of one grouping set in the one-scan result. */
static void set_rows(const PGresult *r, int set, int *from, int *to)
{
    int n = PQntuples(r);
    *from = *to = n;
    for (int i = 0; i < n; i++)
        if (strtol(PQgetvalue(r, i, 0), NULL, 10) == set) {
            if (*from == n)
                *from = i;
            *to = i + 1;
        }
}

/* rarch: the archived events' share of the per-user table and both charts,
 * counted while adb__rq_archived reads them (jansson objects as maps, keys
 * as the live groups': principal, UTC day, status). */
typedef struct arch_groups {
    hx *h;
    json_t *users;    /* principal -> [events, accesses, modifications, failures, emergency] */
    json_t *days;     /* YYYY-MM-DD -> [PHI events] */
    json_t *statuses; /* status -> [events] */
} arch_groups;

static json_t *group_of(json_t *map, const char *key, size_t n)
{
    json_t *a = json_object_get(map, key);
    if (!a) {
        a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_integer(0));
        json_object_set_new(map, key, a);
    }
    return a;
}

static void add_at(json_t *a, size_t i, long long n)
{
    json_integer_set(json_array_get(a, i), json_integer_value(json_array_get(a, i)) + n);
}

static void on_archived(const char *const *v, void *ud)
{
    arch_groups *g = ud;
    add_at(group_of(g->statuses, v[ADB_COL_STATUS] ? v[ADB_COL_STATUS] : "", 1), 0, 1);
    if (!p_phi(v))
        return;
    json_t *u = group_of(g->users, v[ADB_COL_PRINCIPAL_ID] ? v[ADB_COL_PRINCIPAL_ID] : "", 5);
    add_at(u, 0, 1);
    add_at(u, 1, p_access(v, g->h));
    add_at(u, 2, p_modify(v, g->h));
    add_at(u, 3, eq(v[ADB_COL_STATUS], "failure"));
    add_at(u, 4, p_emergency(v, g->h));
    int64_t us;
    const char *ts = v[ADB_COL_TIMESTAMP];
    if (ts && adb__timestamp_parse(ts, strlen(ts), &us)) {
        time_t t = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
        struct tm tm;
        char day[16];
        if (gmtime_r(&t, &tm) && strftime(day, sizeof(day), "%Y-%m-%d", &tm))
            add_at(group_of(g->days, day, 1), 0, 1);
    }
}

/* One merged group: its key and counts (borrowed from the merged map). */
typedef struct mrow {
    const char *key;
    json_t *counts;
} mrow;

static int by_count_then_key(const void *a, const void *b)
{
    const mrow *x = a, *y = b;
    long long cx = json_integer_value(json_array_get(x->counts, 0));
    long long cy = json_integer_value(json_array_get(y->counts, 0));
    if (cx != cy)
        return cx > cy ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const mrow *)a)->key, ((const mrow *)b)->key);
}

/* The live groups (rows [from, to) of the one scan: key in column 1, n
 * counts from column 2) plus the archived ones in map (consumed), sorted
 * (by_count: events descending then key; else key). Returns map, and *rows
 * (malloc'ed, the caller frees; *nrows of them, borrowing from the map). */
static json_t *merge_groups(const PGresult *all, int from, int to, size_t n, json_t *map,
                            bool by_count, mrow **rows, size_t *nrows)
{
    for (int i = from; i < to; i++) {
        json_t *a = group_of(map, PQgetisnull(all, i, 1) ? "" : PQgetvalue(all, i, 1), n);
        for (size_t k = 0; k < n; k++)
            add_at(a, k, strtoll(PQgetvalue(all, i, 2 + (int)k), NULL, 10));
    }
    size_t m = json_object_size(map), j = 0;
    const char *key;
    json_t *val;
    *rows = calloc(m ? m : 1, sizeof(**rows));
    if (*rows) {
        json_object_foreach(map, key, val)
            (*rows)[j++] = (mrow){ key, val };
        qsort(*rows, j, sizeof(**rows), by_count ? by_count_then_key : by_key);
    }
    *nrows = j;
    return map;
}

/* The merged groups as a table (at most ADB_REPORT_TABLE_ROWS rows: key,
 * then the counts as integers) or as a one-series chart. */
static void merged_table(json_t *tables, const char *id, const char *title,
                         const char *const *cols, size_t ncol, const mrow *rows, size_t n,
                         const char *sql)
{
    json_t *jc = json_array(), *jr = json_array();
    for (size_t k = 0; k < ncol; k++)
        json_array_append_new(jc, json_string(cols[k]));
    for (size_t i = 0; i < n && i < ADB_REPORT_TABLE_ROWS; i++) {
        json_t *row = json_pack("[s]", rows[i].key);
        for (size_t k = 0; row && k + 1 < ncol; k++)
            json_array_append(row, json_array_get(rows[i].counts, k));
        json_array_append_new(jr, row);
    }
    json_array_append_new(tables, json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", id, "title", title,
                                            "columns", jc, "rows", jr, "query", sql));
}

static void merged_chart(json_t *charts, const char *id, const char *title, const char *kind,
                         const char *series, const mrow *rows, size_t n, const char *sql)
{
    json_t *labels = json_array(), *values = json_array();
    for (size_t i = 0; i < n && i < ADB_REPORT_TABLE_ROWS; i++) {
        json_array_append_new(labels, json_string(rows[i].key));
        json_array_append(values, json_array_get(rows[i].counts, 0));
    }
    json_array_append_new(charts, json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:o}], s:s}", "id", id,
                                            "title", title, "kind", kind, "labels", labels,
                                            "series", "name", series, "values", values, "query",
                                            sql));
}

/* The standalone queries of the per-user table and the charts (each shown as its "query"). */
static const char per_user_sql[] =
    "SELECT coalesce(principal_id, ''), count(*),"
    " count(*) FILTER (WHERE NOT " MODIFY " AND status <> 'failure'),"
    " count(*) FILTER (WHERE " MODIFY " AND status <> 'failure'),"
    " count(*) FILTER (WHERE status = 'failure'),"
    " count(*) FILTER (WHERE " EMERGENCY ")"
    " FROM audit_log WHERE " ADB_REPORT_BASE " AND " PHI
    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1000";
static const char per_day_sql[] =
    "SELECT to_char(date_trunc('day', \"timestamp\" AT TIME ZONE 'UTC'),"
    " 'YYYY-MM-DD'), count(*) FROM audit_log WHERE " ADB_REPORT_BASE
    " AND " PHI " GROUP BY 1 ORDER BY 1";
static const char by_status_sql[] =
    "SELECT status, count(*) FROM audit_log WHERE " ADB_REPORT_BASE " GROUP BY 1 ORDER BY 1";

/* Each unauthorized attempt or emergency access, at most this many listed as violations. */
#define VIOLATIONS_MAX 200

static json_t *violations_of(adb__report_ctx *x, const char *cond, const char *type,
                             const char *severity, const char *desc, const char *rec,
                             adb_status *st)
{
    char *sql = adb__aprintf("SELECT event_id::text, action, coalesce(principal_id, '')"
                             " FROM audit_log WHERE %s AND %s ORDER BY \"timestamp\", id LIMIT %d",
                             ADB_REPORT_BASE, cond, VIOLATIONS_MAX);
    json_t *out = json_array();
    PGresult *r = sql ? PQexecParams(x->c, sql, 8, NULL, x->base.params, NULL, NULL, 0) : NULL;
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__rq_db_error(x->c, "list the HIPAA violations", x->err, x->errlen);
        *st = ADB_ERR_DB_QUERY;
        PQclear(r);
        return out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char *d = adb__aprintf("%s: %s by %s", desc, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s}", "eventId",
                                             PQgetvalue(r, i, 0), "violationType", type,
                                             "severity", severity, "description", d ? d : desc,
                                             "recommendation", rec));
        free(d);
    }
    PQclear(r);
    return out;
}

static json_t *ids_of(const json_t *figures, const char *id)
{
    const json_t *f = adb__rq_find_figure(figures, id);
    json_t *e = f ? json_object_get(f, "events") : NULL;
    return e ? json_deep_copy(e) : json_array();
}

static double score_of(long long bad, long long base)
{
    if (base <= 0)
        return 100.0;
    double s = 100.0 * (double)(base - bad) / (double)base;
    if (s < 0)
        s = 0;
    return round(s * 100.0) / 100.0;
}

static adb_status hipaa(adb__report_ctx *x, PGresult *all, arch_groups *ag);

adb_status adb__report_hipaa(adb__report_ctx *x)
{
    PGresult *all = PQexecParams(x->c, one_scan_sql, 8, NULL, x->base.params, NULL, NULL, 0);
    if (PQresultStatus(all) != PGRES_TUPLES_OK || PQnfields(all) != 10) {
        adb__rq_db_error(x->c, "count the HIPAA figures", x->err, x->errlen);
        PQclear(all);
        return ADB_ERR_DB_QUERY;
    }
    arch_groups ag = { NULL, json_object(), json_object(), json_object() };
    adb_status st = ag.users && ag.days && ag.statuses ? hipaa(x, all, &ag) : ADB_ERR_NOMEM;
    json_decref(ag.users);
    json_decref(ag.days);
    json_decref(ag.statuses);
    PQclear(all);
    return st;
}

static adb_status hipaa(adb__report_ctx *x, PGresult *all, arch_groups *ag)
{
    long long v[NFIGS] = { 0 };
    adb_status st;
    int from, to;

    /* the figures: sums of the status groups (see one_scan_sql) */
    static const int fig_col[NFIGS - 1] = { 2, 7, 3, 4, 8, 9, 5 };
    set_rows(all, SET_STATUS, &from, &to);
    for (int i = from; i < to; i++)
        for (size_t k = 0; k < NFIGS - 1; k++)
            v[k] += strtoll(PQgetvalue(all, i, fig_col[k]), NULL, 10);
    st = adb__rq_figures_counted(x->c, &x->base, figs, NFIGS - 1, v, x->figures, x->err,
                                 x->errlen);
    if (st != ADB_OK)
        return st;
    if (adb__report_step(x, 35, "figures"))
        return ADB_ERR_BUSY;
    /* archived events: HIPAA keeps six years, archives hold the older ones */
    hx h;
    long long arch[NFIGS - 1];
    if (regcomp(&h.modify, "(create|update|delete|write|modify|edit|insert|amend|patch|merge|erase)",
                REG_EXTENDED | REG_ICASE | REG_NOSUB) ||
        regcomp(&h.emergency, "(break.?glass|emergency)", REG_EXTENDED | REG_ICASE | REG_NOSUB) ||
        regcomp(&h.denied_outcome, "(unauthori[sz]ed|forbidden|denied|not permitted|permission)",
                REG_EXTENDED | REG_ICASE | REG_NOSUB) ||
        regcomp(&h.denied_action, "(unauthori[sz]ed|denied|forbidden)",
                REG_EXTENDED | REG_ICASE | REG_NOSUB)) {
        adb__fmt(x->err, x->errlen, "could not compile the HIPAA conditions");
        return ADB_ERR_INTERNAL;
    }
    ag->h = &h;
    x->archived_row = on_archived;
    x->archived_ud = ag;
    st = adb__rq_archived(x, afigs, sizeof(afigs) / sizeof(afigs[0]), &h, arch);
    x->archived_row = NULL;
    x->archived_ud = NULL;
    ag->h = NULL;
    /* with archived events the groups are merged in C (sorted by byte order) */
    bool archived = json_object_size(ag->statuses) > 0;
    regfree(&h.modify);
    regfree(&h.emergency);
    regfree(&h.denied_outcome);
    regfree(&h.denied_action);
    if (st != ADB_OK)
        return st;
    for (size_t i = 0; i < NFIGS - 1; i++)
        v[i] += arch[i];
    x->records = v[0];
    if (adb__report_step(x, 45, "archived events"))
        return ADB_ERR_BUSY;

    /* per user: who touched PHI, how */
    static const char *const ucols[] = { "principalId", "phiEvents", "accesses", "modifications",
                                         "failures", "emergency" };
    json_t *urows = NULL; /* not needed beyond the table */
    static const int ucol_at[] = { 1, 2, 3, 4, 5, 6 };
    long long users;
    set_rows(all, SET_USER, &from, &to);
    if (archived) {
        mrow *rows;
        size_t n;
        merge_groups(all, from, to, 5, ag->users, true, &rows, &n);
        if (!rows)
            return ADB_ERR_NOMEM;
        merged_table(x->tables, "perUser", "PHI events per user", ucols, 6, rows, n, per_user_sql);
        users = (long long)n;
        free(rows);
    } else {
        st = adb__rq_table_from(all, from, to, ucol_at, "perUser", "PHI events per user", ucols, 6,
                                per_user_sql, x->tables, &urows, x->err, x->errlen);
        if (st != ADB_OK)
            return st;
        users = to - from;
    }
    static const char *const pcols[] = { "patientId", "phiEvents", "accesses", "modifications",
                                         "users" };
    /* run as two hashed groupings (patient and user, then patient) rather
     * than the sort count(DISTINCT) needs; the query shown is the plain one */
    static const char per_patient_sql[] =
        "SELECT target_resource_id, count(*),"
        " count(*) FILTER (WHERE NOT " MODIFY " AND status <> 'failure'),"
        " count(*) FILTER (WHERE " MODIFY " AND status <> 'failure'),"
        " count(DISTINCT principal_id)"
        " FROM audit_log WHERE " ADB_REPORT_BASE " AND " PHI
        " AND target_resource_type = 'Patient' AND target_resource_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1000";
    PGresult *pr = PQexecParams(
        x->c,
        "SELECT pt, sum(n)::bigint, sum(acc)::bigint, sum(md)::bigint, count(principal_id)"
        " FROM (SELECT pt, principal_id, count(*) AS n,"
        "  count(*) FILTER (WHERE NOT m AND status <> 'failure') AS acc,"
        "  count(*) FILTER (WHERE m AND status <> 'failure') AS md"
        "  FROM (SELECT target_resource_id AS pt, principal_id, status, " MODIFY " AS m"
        "   FROM audit_log WHERE " ADB_REPORT_BASE " AND " PHI
        "   AND target_resource_type = 'Patient' AND target_resource_id IS NOT NULL OFFSET 0) r"
        "  GROUP BY 1, 2) g GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1000",
        8, NULL, x->base.params, NULL, NULL, 0);
    static const int pcol_at[] = { 0, 1, 2, 3, 4 };
    if (PQresultStatus(pr) != PGRES_TUPLES_OK || PQnfields(pr) != 5) {
        adb__rq_db_error(x->c, "read a report table", x->err, x->errlen);
        st = ADB_ERR_DB_QUERY;
    } else {
        st = adb__rq_table_from(pr, 0, PQntuples(pr), pcol_at, "perPatient",
                                "PHI events per patient", pcols, 5, per_patient_sql, x->tables,
                                NULL, x->err, x->errlen);
    }
    PQclear(pr);
    if (st != ADB_OK) {
        json_decref(urows);
        return st;
    }
    /* the number of users is a figure of its own query (users_sql); the
     * one scan has every user's group, so it is their number */
    static const char users_sql[] = "SELECT count(DISTINCT coalesce(principal_id, ''))"
                                    " FROM audit_log WHERE " ADB_REPORT_BASE " AND " PHI;
    v[NFIGS - 1] = users;
    json_decref(urows);
    json_array_append_new(x->figures,
                          json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", "distinctUsers", "label",
                                    figs[NFIGS - 1].label, "value", (json_int_t)v[NFIGS - 1],
                                    "query", users_sql, "parameters",
                                    adb__rq_base_params(&x->base)));
    if (adb__report_step(x, 65, "tables"))
        return ADB_ERR_BUSY;

    if (archived) {
        static const struct { int set; const char *id, *title, *kind, *series, *sql; } ch[] = {
            { SET_DAY, "phiPerDay", "PHI events per day (UTC)", "line", "PHI events", per_day_sql },
            { SET_STATUS, "byStatus", "Events by status", "bar", "events", by_status_sql },
        };
        for (size_t c = 0; c < 2; c++) {
            mrow *rows;
            size_t n;
            set_rows(all, ch[c].set, &from, &to);
            merge_groups(all, from, to, 1, c ? ag->statuses : ag->days, false, &rows, &n);
            if (!rows)
                return ADB_ERR_NOMEM;
            merged_chart(x->charts, ch[c].id, ch[c].title, ch[c].kind, ch[c].series, rows, n,
                         ch[c].sql);
            free(rows);
        }
    } else {
        set_rows(all, SET_DAY, &from, &to);
        st = adb__rq_chart_from(all, from, to, 1, 2, "phiPerDay", "PHI events per day (UTC)",
                                "line", "PHI events", per_day_sql, x->charts, x->err, x->errlen);
        set_rows(all, SET_STATUS, &from, &to);
        if (st == ADB_OK)
            st = adb__rq_chart_from(all, from, to, 1, 2, "byStatus", "Events by status", "bar",
                                    "events", by_status_sql, x->charts, x->err, x->errlen);
        if (st != ADB_OK)
            return st;
    }
    if (adb__report_step(x, 75, "charts"))
        return ADB_ERR_BUSY;

    /* the client's sections: violations are the events themselves */
    json_t *denied = violations_of(x, DENIED, "unauthorized_access", "high",
                                   "unauthorized or failed attempt",
                                   "review the principal's permissions and the attempt", &st);
    json_t *emerg = violations_of(x, EMERGENCY, "emergency_access", "medium",
                                  "emergency or break-glass access",
                                  "review the emergency access within the policy's deadline", &st);
    if (st != ADB_OK) {
        json_decref(denied);
        json_decref(emerg);
        return st;
    }
    long long total = v[0], phi = v[1], nden = v[4], nemg = v[5], phifail = v[6];
    double s_access = score_of(phifail, phi), s_emerg = score_of(nemg, phi),
           s_audit = phi > 0 || total > 0 ? 100.0 : 0.0;
    double score = round((s_access + s_emerg + s_audit) / 3.0 * 100.0) / 100.0;
    if (total == 0)
        score = 0;
    json_t *recs = json_array();
    if (nden)
        json_array_append_new(recs, json_string("review the unauthorized attempts listed under "
                                                "access control"));
    if (nemg)
        json_array_append_new(recs, json_string("document a review of every emergency access"));
    if (!total)
        json_array_append_new(recs, json_string("no events in the period: check that the "
                                                "applications audit PHI access"));
    json_t *sections = json_pack(
        "[{s:s, s:s, s:s, s:s, s:o, s:o, s:[], s:f},"
        " {s:s, s:s, s:s, s:s, s:o, s:o, s:[], s:f},"
        " {s:s, s:s, s:s, s:s, s:o, s:[], s:[], s:f}]",
        "safeguard", "technical", "title", "Access control (45 CFR 164.312(a)(1))", "description",
        "Unauthorized or failed attempts to reach PHI or denied by policy", "status",
        adb__report_status_of(s_access, total, nden), "events", ids_of(x->figures, "unauthorizedAttempts"),
        "violations", denied, "recommendations", "score", s_access,
        "safeguard", "administrative", "title",
        "Emergency access procedure (45 CFR 164.312(a)(2)(ii))", "description",
        "Emergency and break-glass accesses, each to be reviewed", "status",
        adb__report_status_of(s_emerg, total, nemg), "events", ids_of(x->figures, "emergencyAccesses"),
        "violations", emerg, "recommendations", "score", s_emerg,
        "safeguard", "technical", "title", "Audit controls (45 CFR 164.312(b))", "description",
        "PHI accesses and modifications recorded in the tamper-evident log", "status",
        adb__report_status_of(s_audit, total, 0), "events", ids_of(x->figures, "phiModifications"),
        "violations", "recommendations", "score", s_audit);
    if (!sections) {
        json_decref(recs);
        adb__fmt(x->err, x->errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    const char *overall = total == 0 ? "unknown"
                          : nden + nemg == 0 ? "compliant"
                          : score >= 80 ? "partial"
                                        : "non_compliant";
    json_object_set_new(x->doc, "summary",
                        json_pack("{s:I, s:f, s:I, s:o, s:s, s:I, s:I, s:I, s:I, s:I}",
                                  "totalEvents", (json_int_t)total, "complianceScore", score,
                                  "violations", (json_int_t)(nden + nemg), "recommendations", recs,
                                  "overallStatus", overall, "phiAccesses", (json_int_t)v[2],
                                  "phiModifications", (json_int_t)v[3], "unauthorizedAttempts",
                                  (json_int_t)nden, "emergencyAccesses", (json_int_t)nemg,
                                  "distinctUsers", (json_int_t)v[NFIGS - 1]));
    json_object_set_new(x->doc, "sections", sections);
    return ADB_OK;
}
