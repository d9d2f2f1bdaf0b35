/*
 * cmd_alerts.c - `auditdb alerts SUBCOMMAND` (docs/alerts.md "API and CLI"):
 * an operator's view of any organization's alerts (the process-wide ones of
 * "_process" included), their states, silences and cleanup. Changes go
 * through the same functions as the API (src/alert/), by "cli:<user>", each
 * with its audit event.
 */
#include "cli.h"
#include "../alert/alert.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/config_change.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char list_usage[] =
    "usage: auditdb alerts list [--org ID] [--status S] [--severity S] [--type T] [--source S]\n"
    "                           [--limit N] [--json]\n"
    "\n"
    "The organization's alerts (default \"default\"; \"_process\": the service's own), newest\n"
    "first: id, status, severity, type, trigger count, last trigger, title. S and T may be\n"
    "comma-separated lists. --json: one Alert document (the API's shape) per line.\n"
    "\n"
    "Exit: 0 listed, 2 usage error, 3 database unavailable.\n";
static const char show_usage[] =
    "usage: auditdb alerts show ID [--org ID]\n\nOne alert as the API's Alert document.\n"
    "Exit: 0 shown, 1 no such alert in the organization, 2 usage error, 3 database unavailable.\n";
static const char act_usage[] =
    "usage: auditdb alerts ack ID [--org ID]\n"
    "       auditdb alerts resolve ID --resolution TEXT [--org ID]\n"
    "       auditdb alerts dismiss ID [--reason TEXT] [--org ID]\n"
    "\n"
    "Acknowledge (active -> acknowledged), resolve or dismiss (active or acknowledged ->\n"
    "resolved / dismissed) an alert, by cli:<user>, with its audit event (alert.acknowledge,\n"
    "alert.resolve, alert.dismiss). An alert already in that state is left as it is (exit 0,\n"
    "\"already\"); a later trigger of a resolved or dismissed alert's key opens a new alert.\n"
    "\n"
    "Exit: 0 done or already so, 1 no such alert or its state does not allow it, 2 usage\n"
    "error, 3 database unavailable.\n";
static const char silence_usage[] =
    "usage: auditdb alerts silence --reason TEXT (--for MINUTES | --until T) [--from T]\n"
    "                              [--rule ID] [--type T] [--severity S] [--source S] [--key K]\n"
    "                              [--org ID]\n"
    "\n"
    "Silences the organization's alerts the matchers name (all given must match; --key ending\n"
    "in * matches a prefix; none: every alert) from --from (default now) until --until or for\n"
    "--for minutes (at most 366 days): their triggers are recorded with silenced true and not\n"
    "notified. Prints the silence's id.\n"
    "\n"
    "Exit: 0 created, 2 usage error, 3 database unavailable.\n";
static const char silences_usage[] =
    "usage: auditdb alerts silences [--org ID] [--all]\n"
    "       auditdb alerts unsilence ID [--org ID]\n"
    "\n"
    "silences: the silences in force or pending (--all: the expired ones too).\n"
    "unsilence: expire a silence now (an expired one is left as it is).\n"
    "\n"
    "Exit: 0 done, 1 no such silence, 2 usage error, 3 database unavailable.\n";
static const char cleanup_usage[] =
    "usage: auditdb alerts cleanup [--days N]\n"
    "\n"
    "Deletes the alerts resolved or dismissed more than N days ago (default 90), of every\n"
    "organization; open and acknowledged alerts stay whatever their age. The maintenance\n"
    "round does the same with 90 days.\n"
    "\n"
    "Exit: 0 done, 2 usage error, 3 database unavailable.\n";

/* The options every subcommand takes: --org and the ones named in `takes`
 * (space-separated, each followed by a value unless in flags). The
 * positional argument (an id) into *pos. Values into vals[i] by order of
 * `takes`. */
static int options(int argc, char **argv, const char *const *takes, const char **vals,
                   const char *const *flags, bool *set, const char **org, const char **pos,
                   const char *usage_hint)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool done = false;
        if (!strcmp(a, "--org") && v) {
            *org = argv[++i];
            continue;
        }
        for (int k = 0; takes && takes[k] && !done; k++)
            if (!strcmp(a, takes[k]) && v) {
                vals[k] = argv[++i];
                done = true;
            }
        for (int k = 0; flags && flags[k] && !done; k++)
            if (!strcmp(a, flags[k])) {
                set[k] = true;
                done = true;
            }
        if (done)
            continue;
        if (pos && !*pos && a[0] != '-') {
            *pos = a;
            continue;
        }
        cli_error("unexpected argument \"%s\"; run \"auditdb alerts %s --help\"", a, usage_hint);
        return EXIT_USAGE;
    }
    if (!**org || strlen(*org) > 255) {
        cli_error("--org must be 1 to 255 bytes");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* A comma-separated list of known values as a JSON array text (NULL: absent). */
static bool csv_list(const char *opt, const char *v, bool (*known)(const char *), char **out)
{
    json_t *a;
    *out = NULL;
    if (!v)
        return true;
    a = json_array();
    for (const char *s = v; *s;) {
        size_t n = strcspn(s, ",");
        char one[64];
        adb__fmt(one, sizeof(one), "%.*s", (int)(n < 63 ? n : 63), s);
        if (!n || n > 255 || (known && !known(one))) {
            cli_error("%s: \"%s\" is not a value it takes", opt, one);
            json_decref(a);
            return false;
        }
        json_array_append_new(a, json_stringn(s, n));
        s += n + (s[n] == ',');
    }
    *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return *out != NULL;
}

static bool status_known(const char *s)
{
    return !strcmp(s, "active") || !strcmp(s, "acknowledged") || !strcmp(s, "resolved") ||
           !strcmp(s, "dismissed");
}

/* The owner's connection of an opened handle (caller releases). */
static PGconn *owner(adb *h, int *rc)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, NULL, 0);
    if (!c) {
        cli_error("%s", adb_strerror(st));
        *rc = cli_exit_code(st);
    }
    return c;
}

static int cmd_list(int argc, char **argv)
{
    static const char *const takes[] = { "--status", "--severity", "--type", "--source", "--limit", NULL };
    static const char *const flags[] = { "--json", NULL };
    const char *vals[5] = { 0 }, *org = "default";
    bool set[1] = { false };
    long long limit = 50;
    char *sts = NULL, *sev = NULL, *typ = NULL, *src = NULL, lim[24];
    cli_db db = { 0 };
    adb *h = NULL;
    int rc;

    if ((rc = options(argc, argv, takes, vals, flags, set, &org, NULL, "list")) != EXIT_OK)
        return rc;
    if (vals[4] && !adb__parse_int(vals[4], 1, 10000, &limit)) {
        cli_error("--limit must be an integer from 1 to 10000");
        return EXIT_USAGE;
    }
    if (!csv_list("--status", vals[0], status_known, &sts) ||
        !csv_list("--severity", vals[1], adb__alert_severity_known, &sev) ||
        !csv_list("--type", vals[2], adb__alert_type_known, &typ) ||
        !csv_list("--source", vals[3], NULL, &src)) {
        rc = EXIT_USAGE;
        goto out;
    }
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    cli_reading("alerts list");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    PGconn *c = owner(h, &rc);
    if (!c)
        goto out;
    const char *p[] = { org, sts, sev, typ, src, lim };
    PGresult *r = PQexecParams(c,
        "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE a.organization_id = $1"
        " AND ($2::jsonb IS NULL OR $2::jsonb ? a.status)"
        " AND ($3::jsonb IS NULL OR $3::jsonb ? a.severity)"
        " AND ($4::jsonb IS NULL OR $4::jsonb ? a.type)"
        " AND ($5::jsonb IS NULL OR $5::jsonb ? a.source)"
        " ORDER BY a.created_at DESC, a.id DESC LIMIT $6::int", 6, NULL, p, NULL, NULL, 0);
    adb_pool_release(adb__pool(h), c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cli_error("could not read the alerts: %s", PQresultErrorMessage(r));
        PQclear(r);
        rc = EXIT_DB;
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *a = adb__alert_row_json(r, i);
        if (set[0]) {
            cli_print_json(a, JSON_COMPACT);
        } else {
            printf("%s  %-12s %-8s %-11s %5lld  %s  %s%s\n", json_string_value(json_object_get(a, "id")),
                   json_string_value(json_object_get(a, "status")),
                   json_string_value(json_object_get(a, "severity")),
                   json_string_value(json_object_get(a, "type")),
                   (long long)json_integer_value(json_object_get(a, "triggerCount")),
                   json_string_value(json_object_get(a, "lastTriggeredAt")),
                   json_string_value(json_object_get(a, "title")),
                   json_is_true(json_object_get(a, "silenced")) ? " (silenced)" : "");
        }
        json_decref(a);
    }
    if (!set[0] && PQntuples(r) == 0)
        printf("no alerts in organization \"%s\"\n", org);
    PQclear(r);
    rc = EXIT_OK;
out:
    free(sts);
    free(sev);
    free(typ);
    free(src);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static int cmd_show(int argc, char **argv)
{
    const char *org = "default", *id = NULL;
    cli_db db = { 0 };
    adb *h = NULL;
    int rc;

    if ((rc = options(argc, argv, NULL, NULL, NULL, NULL, &org, &id, "show")) != EXIT_OK)
        return rc;
    if (!id) {
        cli_error("show needs an alert id");
        return EXIT_USAGE;
    }
    cli_reading("alerts show");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    PGconn *c = owner(h, &rc);
    if (!c)
        goto out;
    const char *p[] = { org, id };
    PGresult *r = PQexecParams(c, "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE"
                               " a.organization_id = $1 AND a.id = $2", 2, NULL, p, NULL, NULL, 0);
    adb_pool_release(adb__pool(h), c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cli_error("could not read the alert: %s", PQresultErrorMessage(r));
        rc = EXIT_DB;
    } else if (PQntuples(r) != 1) {
        cli_error("no alert %s in organization \"%s\"", id, org);
        rc = EXIT_FAILURE_;
    } else {
        json_t *a = adb__alert_row_json(r, 0);
        cli_print_json(a, JSON_INDENT(2));
        json_decref(a);
        rc = EXIT_OK;
    }
    PQclear(r);
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static int cmd_act(int argc, char **argv)
{
    static const char *const takes[] = { "--resolution", "--reason", NULL };
    const char *vals[2] = { 0 }, *org = "default", *id = NULL, *sub = argv[0];
    adb__alert_action a = !strcmp(sub, "ack") ? ADB_ALERT_ACK
                        : !strcmp(sub, "resolve") ? ADB_ALERT_RESOLVE : ADB_ALERT_DISMISS;
    cli_db db = { 0 };
    adb *h = NULL;
    char who[128], err[300];
    bool changed = false;
    int rc;

    if ((rc = options(argc, argv, takes, vals, NULL, NULL, &org, &id, sub)) != EXIT_OK)
        return rc;
    const char *notes = a == ADB_ALERT_RESOLVE ? vals[0] : a == ADB_ALERT_DISMISS ? vals[1] : NULL;
    if (!id) {
        cli_error("%s needs an alert id", sub);
        return EXIT_USAGE;
    }
    if ((a == ADB_ALERT_RESOLVE && !notes) || (a != ADB_ALERT_RESOLVE && vals[0]) ||
        (a != ADB_ALERT_DISMISS && vals[1])) {
        cli_error(a == ADB_ALERT_RESOLVE ? "resolve needs --resolution TEXT"
                                         : "%s takes no --resolution (and only dismiss --reason)", sub);
        return EXIT_USAGE;
    }
    if (notes && (!*notes || strlen(notes) > 2000)) {
        cli_error("the text must be 1 to 2000 bytes");
        return EXIT_USAGE;
    }
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    adb_status st = adb__alert_act(h, org, id, a, who, notes, &changed, err, sizeof(err));
    static const char *const done[] = { "acknowledged", "resolved", "dismissed" };
    if (st == ADB_OK) {
        printf(changed ? "alert %s %s\n" : "alert %s was already %s\n", id, done[a]);
        rc = EXIT_OK;
    } else if (st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
    } else {
        cli_error("%s", err[0] ? err : adb_strerror(st));
        rc = cli_exit_code(st);
    }
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

/* The audit event of a silence's change made here (after its commit). */
/* Ends c's transaction around a silence's write: r (a command's result,
 * cleared here; NULL when the write succeeded and its answer is read by the
 * caller) and the configuration history row of silence id going from prev to
 * next (next NULL: nothing changed, no row). Committed: true; else rolled
 * back, false with why in err. The row is not announced: the silence's own
 * alert.silence.* event is (docs/monitoring.md). */
static bool silence_recorded(PGconn *c, PGresult *r, const char *org, const char *id,
                             const json_t *prev, const json_t *next, const char *who, char *err,
                             size_t errlen)
{
    adb__config_change_rec cc = { 0 };
    char fld[64];
    bool ok = !r || PQresultStatus(r) == PGRES_COMMAND_OK;

    adb__fmt(err, errlen, "%s", r && !ok ? PQresultErrorMessage(r) : "the commit failed");
    PQclear(r);
    adb__fmt(fld, sizeof(fld), "alert_silence.%s", id);
    if (ok && next)
        ok = adb__config_change_json_tx(c, &cc, org, fld, prev, next, who, NULL, err, errlen) ==
             ADB_OK;
    PGresult *e = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    ok = ok && PQresultStatus(e) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(e), "COMMIT");
    PQclear(e);
    adb__config_change_rec_done(NULL, &cc, false);
    adb__oneline(err);
    return ok;
}

static void silence_event(adb *h, const char *org, const char *who, const char *action,
                          const char *id, json_t *details)
{
    char ts[ADB_TS_TEXT_MAX];
    adb_log_options lo = { .organization_id = org };
    adb_log_result lr;

    adb__timestamp_format(adb__now_us(), ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "timestamp", ts,
                           "action", action, "status", "success", "principalId", who,
                           "organizationId", org, "targetResourceType", "AlertSilence",
                           "targetResourceId", id, "dataClassification", "INTERNAL", "details",
                           details);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (text && adb_log_json(h, text, strlen(text), &lo, &lr) != ADB_OK)
        cli_error("the silence changed but its audit event could not be logged");
    free(text);
}

static int cmd_silence(int argc, char **argv)
{
    static const char *const takes[] = { "--reason", "--for", "--until", "--from", "--rule",
                                         "--type", "--severity", "--source", "--key", NULL };
    const char *v[9] = { 0 }, *org = "default";
    cli_db db = { 0 };
    adb *h = NULL;
    char who[128], start[ADB_TS_TEXT_MAX], end[ADB_TS_TEXT_MAX], id[48], hex[33];
    int64_t now_us = adb__alert_now_ms() * 1000, s_us = now_us, e_us = 0;
    long long minutes = 0;
    int rc;

    if ((rc = options(argc, argv, takes, v, NULL, NULL, &org, NULL, "silence")) != EXIT_OK)
        return rc;
    if (!v[0] || !*v[0] || strlen(v[0]) > 2000) {
        cli_error("silence needs --reason TEXT (1 to 2000 bytes)");
        return EXIT_USAGE;
    }
    if (v[3] && !adb__timestamp_parse(v[3], strlen(v[3]), &s_us)) {
        cli_error("--from must be an RFC 3339 date-time with an offset");
        return EXIT_USAGE;
    }
    if (!!v[1] == !!v[2]) {
        cli_error("silence needs one of --for MINUTES and --until T");
        return EXIT_USAGE;
    }
    if (v[1] && !adb__parse_int(v[1], 1, 366LL * 1440, &minutes)) {
        cli_error("--for must be minutes from 1 to 527040 (366 days)");
        return EXIT_USAGE;
    }
    e_us = v[1] ? s_us + minutes * 60000000LL : 0;
    if (v[2] && !adb__timestamp_parse(v[2], strlen(v[2]), &e_us)) {
        cli_error("--until must be an RFC 3339 date-time with an offset");
        return EXIT_USAGE;
    }
    if (e_us <= s_us || e_us <= now_us || e_us - s_us > 366LL * 86400 * 1000000) {
        cli_error("the silence must end after it starts, in the future, within 366 days");
        return EXIT_USAGE;
    }
    if ((v[5] && !adb__alert_type_known(v[5])) || (v[6] && !adb__alert_severity_known(v[6]))) {
        cli_error("--type or --severity is not one of the alerts' types or severities");
        return EXIT_USAGE;
    }
    json_t *m = json_object();
    static const char *const mk[] = { "ruleId", "type", "severity", "source", "dedupKey" };
    for (int i = 0; i < 5; i++)
        if (v[4 + i]) {
            if (!*v[4 + i] || strlen(v[4 + i]) > 500) {
                cli_error("a matcher must be 1 to 500 bytes");
                json_decref(m);
                return EXIT_USAGE;
            }
            json_object_set_new(m, mk[i], json_string(v[4 + i]));
        }
    char *mt = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char rnd[16];
    cli_actor(who, sizeof(who));
    adb__timestamp_format(s_us, start);
    adb__timestamp_format(e_us, end);
    if (!mt || RAND_bytes(rnd, sizeof(rnd)) != 1) {
        cli_error("out of memory");
        rc = EXIT_FAILURE_;
        goto out;
    }
    adb__hex(rnd, sizeof(rnd), hex);
    adb__fmt(id, sizeof(id), "silence-%s", hex);
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    PGconn *c = owner(h, &rc);
    if (!c)
        goto out;
    const char *p[] = { id, org, who, v[0], mt, start, end };
    /* the silence and its configuration history row in one transaction */
    PQclear(PQexec(c, "BEGIN"));
    PGresult *r = PQexecParams(c, "INSERT INTO alert_silences (id, organization_id, created_by,"
                               " reason, matchers, starts_at, ends_at) VALUES ($1, $2, $3, $4,"
                               " $5::jsonb, $6::timestamptz, $7::timestamptz)",
                               7, NULL, p, NULL, NULL, 0);
    json_t *doc = json_pack("{s:s, s:o, s:s, s:s}", "reason", v[0], "matchers",
                            json_loads(mt, 0, NULL), "startsAt", start, "endsAt", end);
    char err[ADB_ERRMSG_MAX];
    bool ok = doc && silence_recorded(c, r, org, id, NULL, doc, who, err, sizeof(err));
    if (!doc) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        adb__fmt(err, sizeof(err), "out of memory");
    }
    json_decref(doc);
    adb_pool_release(adb__pool(h), c);
    if (!ok) {
        cli_error("could not create the silence: %s", err);
        rc = EXIT_DB;
        goto out;
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "reason", v[0], "matchers", mt, "startsAt",
                          start, "endsAt", end);
    silence_event(h, org, who, "alert.silence.create", id, d);
    json_decref(d);
    printf("%s\n", id);
    rc = EXIT_OK;
out:
    free(mt);
    json_decref(m);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static int cmd_silences(int argc, char **argv)
{
    static const char *const flags[] = { "--all", NULL };
    const char *org = "default", *id = NULL;
    bool set[1] = { false }, expire = !strcmp(argv[0], "unsilence");
    cli_db db = { 0 };
    adb *h = NULL;
    char who[128], now[ADB_TS_TEXT_MAX];
    int rc;

    if ((rc = options(argc, argv, NULL, NULL, expire ? NULL : flags, set, &org,
                      expire ? &id : NULL, argv[0])) != EXIT_OK)
        return rc;
    if (expire && !id) {
        cli_error("unsilence needs a silence id");
        return EXIT_USAGE;
    }
    if (!expire)
        cli_reading("alerts silences");
    cli_actor(who, sizeof(who));
    adb__timestamp_format(adb__alert_now_ms() * 1000, now);
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    PGconn *c = owner(h, &rc);
    if (!c)
        goto out;
    PGresult *r;
    if (expire) {
        const char *p[] = { org, now, id, who };
        PQclear(PQexec(c, "BEGIN"));
        r = PQexecParams(c, "WITH s AS (SELECT id, ends_at <= $2::timestamptz AS ended, ends_at AS e"
                         " FROM alert_silences WHERE organization_id = $1 AND id = $3 FOR UPDATE),"
                         " u AS (UPDATE alert_silences a SET ends_at = $2::timestamptz,"
                         " starts_at = least(a.starts_at, $2::timestamptz - interval '1 microsecond'),"
                         " expired_by = $4, updated_at = now() FROM s WHERE a.id = s.id AND NOT s.ended"
                         " RETURNING a.id) SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM u),"
                         " (SELECT " ADB__TS("e") " FROM s)",
                         4, NULL, p, NULL, NULL, 0);
        /* its configuration history row when it changed, in the same transaction */
        bool changed = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 1), "1");
        json_t *was = changed ? json_pack("{s:s}", "endsAt", PQgetvalue(r, 0, 2)) : NULL;
        json_t *now_doc = changed ? json_pack("{s:s, s:s}", "endsAt", now, "expiredBy", who) : NULL;
        char err[ADB_ERRMSG_MAX];
        PGresult *keep = PQresultStatus(r) == PGRES_TUPLES_OK ? r : NULL;
        if (!silence_recorded(c, keep ? NULL : r, org, id, was, now_doc, who, err, sizeof(err))) {
            PQclear(keep);
            r = PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
        }
        json_decref(was);
        json_decref(now_doc);
    } else {
        const char *p[] = { org, now, set[0] ? "t" : "f" };
        r = PQexecParams(c, "SELECT id, CASE WHEN ends_at <= $2::timestamptz THEN 'expired'"
                         " WHEN starts_at > $2::timestamptz THEN 'pending' ELSE 'active' END,"
                         " " ADB__TS("starts_at") ", " ADB__TS("ends_at") ", created_by, matchers::text, reason"
                         " FROM alert_silences WHERE organization_id = $1"
                         " AND ($3::boolean OR ends_at > $2::timestamptz) ORDER BY ends_at DESC, id",
                         3, NULL, p, NULL, NULL, 0);
    }
    adb_pool_release(adb__pool(h), c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cli_error("could not read the silences: %s", PQresultErrorMessage(r));
        PQclear(r);
        rc = EXIT_DB;
        goto out;
    }
    rc = EXIT_OK;
    if (expire) {
        bool found = !strcmp(PQgetvalue(r, 0, 0), "1"), changed = !strcmp(PQgetvalue(r, 0, 1), "1");
        if (!found) {
            cli_error("no silence %s in organization \"%s\"", id, org);
            rc = EXIT_FAILURE_;
        } else if (changed) {
            json_t *d = json_pack("{s:s}", "endsAt", now);
            silence_event(h, org, who, "alert.silence.expire", id, d);
            json_decref(d);
            printf("silence %s expired\n", id);
        } else {
            printf("silence %s had expired already\n", id);
        }
    } else {
        for (int i = 0; i < PQntuples(r); i++)
            printf("%s  %-8s %s .. %s  by %s  %s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                   PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
        if (PQntuples(r) == 0)
            printf("no silences in organization \"%s\"\n", org);
    }
    PQclear(r);
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static int cmd_cleanup(int argc, char **argv)
{
    static const char *const takes[] = { "--days", NULL };
    const char *v[1] = { 0 }, *org = "default";
    long long days = ADB_ALERT_RETENTION_DAYS, deleted = 0;
    cli_db db = { 0 };
    adb *h = NULL;
    char err[300];
    int rc;

    if ((rc = options(argc, argv, takes, v, NULL, NULL, &org, NULL, "cleanup")) != EXIT_OK)
        return rc;
    if (v[0] && !adb__parse_int(v[0], 1, 36500, &days)) {
        cli_error("--days must be an integer from 1 to 36500");
        return EXIT_USAGE;
    }
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    PGconn *c = owner(h, &rc);
    if (!c)
        goto out;
    adb_status st = adb__alert_cleanup(c, adb__alert_now_ms() * 1000, (int)days, &deleted, err,
                                       sizeof(err));
    adb_pool_release(adb__pool(h), c);
    if (st != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    printf("%lld alert(s) resolved or dismissed more than %lld days ago deleted\n", deleted, days);
    rc = EXIT_OK;
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static const cli_sub subs[] = {
    { "list", "the organization's alerts, newest first", list_usage, cmd_list },
    { "show", "one alert as the API's Alert document", show_usage, cmd_show },
    { "ack", "acknowledge an alert", act_usage, cmd_act },
    { "resolve", "resolve an alert with its resolution", act_usage, cmd_act },
    { "dismiss", "dismiss an alert", act_usage, cmd_act },
    { "silence", "silence the alerts a set of matchers names for a while", silence_usage, cmd_silence },
    { "silences", "the silences in force or pending", silences_usage, cmd_silences },
    { "unsilence", "expire a silence now", silences_usage, cmd_silences },
    { "cleanup", "delete the alerts closed more than 90 days ago", cleanup_usage, cmd_cleanup },
    { "rules", "detection rules: list, show, set, enable, disable, versions (cmd_rules.c)",
      "usage: auditdb alerts rules list|show|set|enable|disable|versions [ARGS...]\n"
      "       (\"auditdb alerts rules --help\" for each one's options)\n", adb_cmd_alerts_rules },
    { NULL, NULL, NULL, NULL },
};

int cmd_alerts(int argc, char **argv)
{
    return cli_dispatch("alerts", "Alerts: states, silences and cleanup (docs/alerts.md).", subs,
                        argc, argv);
}
