/*
 * execution.c - one execution of a scheduled report, from its claim to its
 * record (docs/reports.md, "Exactly once"): adb__report_generate with the
 * schedule's criteria, adb__report_deliver in a tenant transaction that
 * also writes the delivery id (so a resume after a crash never delivers
 * twice), then the end written fenced by the claim. While it runs, the
 * lease is renewed every third of it through should_stop, which also sees a
 * cancel. A lost claim writes nothing: the row is its new claimer's.
 */
#include "schedule.h"
#include "../core/util.h"
#include "../monitor/errors.h"

#include <stdlib.h>
#include <string.h>

#define ADB_REPORT_TIMEOUT_DEFAULT_MS 3600000

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

typedef struct run_ctx {
    PGconn *c;
    const char *id, *claim;
    int lease_ms;
    int64_t last_renew;
    double deadline;            /* first start + timeout, on the monotonic clock (0: none) */
    bool lost, cancel, timed_out;
    bool (*stopping)(void *ud);
    void *ud;
} run_ctx;

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

/* Renews the lease (at most every third of it unless force) and reads the
 * cancel flag; sets lost when the row is no longer this claim's. */
static void renew(run_ctx *x, bool force)
{
    int64_t now = adb__report_now_ms();
    char until[40];

    if (x->lost || (!force && now - x->last_renew < x->lease_ms / 3))
        return;
    adb__fmt(until, sizeof(until), "%lld.%03d", (long long)((now + x->lease_ms) / 1000),
             (int)((now + x->lease_ms) % 1000));
    const char *p[] = { x->id, x->claim, until };
    PGresult *r = q(x->c,
                    "UPDATE report_executions SET lease_until = to_timestamp($3::double precision)"
                    " WHERE id = $1 AND claimed_by = $2 AND status = 'running'"
                    " RETURNING cancel_requested",
                    3, p);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        if (PQntuples(r) == 0)
            x->lost = true;
        else if (PQgetvalue(r, 0, 0)[0] == 't')
            x->cancel = true;
        x->last_renew = now;
    }
    PQclear(r);
}

static bool should_stop(void *ud)
{
    run_ctx *x = ud;

    if (x->stopping && x->stopping(x->ud))
        return true;
    if (x->deadline && adb__now_ms() > x->deadline)
        x->timed_out = true;
    renew(x, false);
    return x->lost || x->cancel || x->timed_out;
}

/* Writes the end of the execution and the schedule's counters in one
 * transaction, fenced by the claim. */
static void finish(run_ctx *x, const char *sid, const char *status, const char *code,
                   const char *message, const adb__report_result *res)
{
    if (!strcmp(status, "failed")) /* the service's own failure (docs/monitoring.md) */
        adb__error_record(NULL, &(adb__error_report){ .category = "REPORT_ERROR",
            .severity = "MEDIUM", .code = code ? code : "FAILED", .component = "report",
            .operation = "execute", .message = "a report execution failed" });
    json_t *err = code ? json_pack("{s:s,s:s}", "code", code, "message", message ? message : "") : NULL;
    json_t *exp = NULL;
    char *errs = err ? json_dumps(err, JSON_COMPACT) : NULL, *exps = NULL, recs[24] = "";

    if (res && res->report_id[0]) {
        exp = json_pack("{s:s,s:s,s:I,s:s,s:s}", "format", res->content_type ? res->content_type : "",
                        "filename", res->filename, "size", (json_int_t)res->artifact_len, "sha256",
                        res->sha256_hex, "reportId", res->report_id);
        exps = json_dumps(exp, JSON_COMPACT);
        adb__fmt(recs, sizeof(recs), "%lld", res->records);
    }
    const char *p[] = { x->id, x->claim, status, code, errs, exps, recs[0] ? recs : NULL,
                        res && res->report_id[0] ? res->report_id : NULL, sid };
    PGresult *r = q(x->c,
                    "WITH e AS (UPDATE report_executions SET status = $3::text, error_code = $4::text, error = $5::text,"
                    "  export_result = coalesce($6::jsonb, export_result),"
                    "  records_processed = coalesce($7::int, records_processed),"
                    "  report_id = coalesce($8::text, report_id), finished_at = now(), lease_until = NULL,"
                    "  duration = (EXTRACT(EPOCH FROM now() - started_at) * 1000)::int"
                    "  WHERE id = $1 AND claimed_by = $2 AND status = 'running' RETURNING id)"
                    " UPDATE scheduled_reports SET execution_count = execution_count + 1,"
                    "  success_count = success_count + ($3::text = 'completed')::int,"
                    "  failure_count = failure_count + ($3::text IN ('failed', 'timeout'))::int"
                    " WHERE id = $9 AND EXISTS (SELECT 1 FROM e)",
                    9, p);
    PQclear(r);
    json_decref(err);
    json_decref(exp);
    free(errs);
    free(exps);
}

/* Gives the row back at once (the scheduler stops): another resumes it. */
static void release(run_ctx *x)
{
    const char *p[] = { x->id, x->claim };
    PQclear(q(x->c,
              "UPDATE report_executions SET lease_until = now() - interval '1 second'"
              " WHERE id = $1 AND claimed_by = $2 AND status = 'running'",
              2, p));
}

static bool has_destinations(const json_t *delivery)
{
    json_t *d = json_object_get(delivery, "destinations");
    return json_is_string(d) || (json_is_array(d) && json_array_size(d) > 0);
}

adb_status adb__execution_run(adb *h, PGconn *c, const char *id, const char *claim, int lease_ms,
                              int timeout_ms, bool (*stopping)(void *ud), void *ud)
{
    run_ctx x = { .c = c, .id = id, .claim = claim, .lease_ms = lease_ms,
                  .last_renew = adb__report_now_ms(), .stopping = stopping, .ud = ud };
    adb__report_result res;
    char field[128] = "", err[512] = "", sid[256], org[256], delivery_id[64] = "";
    adb_status st = ADB_OK;
    json_t *criteria = NULL, *delivery = NULL;

    memset(&res, 0, sizeof(res));
    const char *p[] = { id, claim };
    PGresult *r = q(c,
                    "SELECT e.scheduled_report_id, e.organization_id, e.delivery_id, s.report_type,"
                    " s.criteria, s.format, s.delivery, s.created_by,"
                    " " ISO_UTC("e.scheduled_time") ","
                    " " ISO_UTC("(SELECT max(p.scheduled_time) FROM report_executions p"
                    "   WHERE p.scheduled_report_id = e.scheduled_report_id"
                    "   AND p.scheduled_time < e.scheduled_time AND p.trigger <> 'manual')") ","
                    " " ISO_UTC("s.created_at") ","
                    " (extract(epoch FROM now() - coalesce(e.started_at, now())) * 1000)::bigint,"
                    " s.export::text"
                    " FROM report_executions e JOIN scheduled_reports s ON s.id = e.scheduled_report_id"
                    " WHERE e.id = $1 AND e.claimed_by = $2 AND e.status = 'running'",
                    2, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return ADB_ERR_BUSY;
    }
    adb__fmt(sid, sizeof(sid), "%s", PQgetvalue(r, 0, 0));
    adb__fmt(org, sizeof(org), "%s", PQgetvalue(r, 0, 1));
    /* the time already run (resumes count) from the database's clock, the
     * rest on this process's monotonic clock (not the scheduler's test clock) */
    x.deadline = adb__now_ms() + (double)(timeout_ms > 0 ? timeout_ms : ADB_REPORT_TIMEOUT_DEFAULT_MS) -
                 (double)strtoll(PQgetvalue(r, 0, 11), NULL, 10);
    if (!PQgetisnull(r, 0, 2)) {
        /* resumed after its delivery was committed: only the end is missing */
        PQclear(r);
        finish(&x, sid, "completed", NULL, NULL, NULL);
        return ADB_OK;
    }
    /* a report a lost claim left running (a crash during generation) never
     * completes: it is marked so, and this claim generates its own */
    const char *po[] = { id };
    PQclear(q(c,
              "UPDATE compliance_reports SET status = 'failed', completed_at = now(),"
              " error = 'interrupted: its execution was resumed by another claim'"
              " WHERE execution_id = $1 AND status = 'running'",
              1, po));
    criteria = json_loads(PQgetvalue(r, 0, 4), 0, NULL);
    delivery = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
    {
        /* the export config's compression applies when the delivery names none (rxlsx) */
        json_t *exp = PQgetisnull(r, 0, 12) ? NULL : json_loads(PQgetvalue(r, 0, 12), 0, NULL);
        json_t *ec = json_object_get(exp, "compression");
        if (json_is_object(delivery) && !json_object_get(delivery, "compression") && json_is_string(ec))
            json_object_set(delivery, "compression", ec);
        json_decref(exp);
    }
    if (!json_is_object(criteria))
        criteria = json_object();
    /* an execution reports on the time since the schedule's previous
     * instant (the first: since the criteria's startDate, else the
     * schedule's creation) up to its own instant; the other criteria stay */
    const char *from = PQgetvalue(r, 0, 9);
    json_t *given = json_object_get(json_object_get(criteria, "dateRange"), "startDate");
    if (PQgetisnull(r, 0, 9))
        from = json_is_string(given) ? json_string_value(given) : PQgetvalue(r, 0, 10);
    json_object_set_new(criteria, "dateRange",
                        json_pack("{s:s,s:s}", "startDate", from, "endDate", PQgetvalue(r, 0, 8)));
    char type[64], format[16], by[256];
    adb__fmt(type, sizeof(type), "%s", PQgetvalue(r, 0, 3));
    adb__fmt(format, sizeof(format), "%s", PQgetvalue(r, 0, 5));
    adb__fmt(by, sizeof(by), "%s", PQgetvalue(r, 0, 7));
    PQclear(r);

#ifdef ADB_TEST_BUILD
    /* tests hold an execution running (kill -9 during it, cancel) */
    const char *delay = getenv("AUDITDB_REPORT_TEST_DELAY_MS");
    long long ms;
    if (delay && adb__parse_int(delay, 1, 3600000, &ms)) {
        double until = adb__now_ms() + (double)ms;   /* monotonic: not the test clock */
        while (adb__now_ms() < until && !should_stop(&x))
            adb__sleep_ms(50);
    }
#endif
    if (should_stop(&x))
        goto stopped;
    adb__report_request rq = { .org = org, .type = type, .criteria = criteria,
                               .custom = json_object_get(criteria, "customParams"),
                               .format = format, .generated_by = by, .scheduled_report_id = sid,
                               .execution_id = id, .should_stop = should_stop, .ud = &x };
    st = adb__report_generate(h, &rq, &res, field, sizeof(field), err, sizeof(err));
    if (st == ADB_ERR_BUSY || should_stop(&x))
        goto stopped;
    if (st != ADB_OK) {
        char msg[700];
        adb__fmt(msg, sizeof(msg), "%s%s%s", err, field[0] ? " (field " : "", field[0] ? field : "");
        if (field[0])
            adb__fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), ")");
        finish(&x, sid, "failed", st == ADB_ERR_INVALID ? "INVALID_CRITERIA" : "GENERATION_FAILED", msg,
               NULL);
        goto out;
    }
    /* the report exists: its id first, so a resume can tell */
    const char *pr[] = { id, claim, res.report_id };
    PQclear(q(c, "UPDATE report_executions SET report_id = $3 WHERE id = $1 AND claimed_by = $2", 3, pr));
    if (has_destinations(delivery)) {
        adb_status dst;
        PGconn *tc = adb_tenant_begin(h, org, &dst, err, sizeof(err));
        if (tc) {
            dst = adb__report_deliver(tc, org, delivery, id, &res, delivery_id, err, sizeof(err));
            if (dst == ADB_OK) {
                const char *pd[] = { id, claim, delivery_id };
                PGresult *u = q(tc,
                                "UPDATE report_executions SET delivery_id = $3"
                                " WHERE id = $1 AND claimed_by = $2 AND status = 'running'",
                                3, pd);
                if (PQresultStatus(u) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(u), "1"))
                    dst = ADB_ERR_BUSY;
                PQclear(u);
            }
            adb_tenant_end(h, tc, dst == ADB_OK);
        }
        if (dst == ADB_ERR_BUSY)
            goto stopped;
        if (dst != ADB_OK) {
            finish(&x, sid, "failed", "DELIVERY_FAILED", err, &res);
            goto out;
        }
    }
    finish(&x, sid, "completed", NULL, NULL, &res);
    goto out;
stopped:
    renew(&x, true);
    if (x.cancel && !x.lost) {
        finish(&x, sid, "cancelled", "CANCELLED", "cancelled on request", NULL);
    } else if (x.timed_out && !x.lost) {
        char msg[160];
        adb__fmt(msg, sizeof(msg), "the execution ran longer than %d ms (AUDITDB_REPORT_TIMEOUT_MS)",
                 timeout_ms > 0 ? timeout_ms : ADB_REPORT_TIMEOUT_DEFAULT_MS);
        finish(&x, sid, "timeout", "TIMEOUT", msg, NULL);
    } else if (!x.lost) {
        release(&x);
        st = ADB_ERR_BUSY;
    } else {
        st = ADB_ERR_BUSY;
    }
out:
    adb__report_result_free(&res);
    json_decref(criteria);
    json_decref(delivery);
    return st == ADB_ERR_BUSY ? ADB_ERR_BUSY : ADB_OK;
}
