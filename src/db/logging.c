/*
 * logging.c - settings that keep statements, parameter values and rows out
 * of PostgreSQL's log (logging.h).
 */
#include "logging.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

/* Why each: PostgreSQL's defaults log the statement of every failed one
 * (log_min_error_statement = error), the failing row of a refused insert or
 * COPY (DETAIL: Failing row contains (...), CONTEXT: COPY audit_log, line 1:
 * ...), and the bind parameters of logged statements. */
const adb__pg_setting adb__pg_private_logging[] = {
    { "log_min_error_statement", "panic" },      /* no STATEMENT: line after an error */
    { "log_error_verbosity", "terse" },          /* no DETAIL, HINT, QUERY or CONTEXT lines */
    { "log_parameter_max_length", "0" },         /* no bind parameters in logged statements */
    { "log_parameter_max_length_on_error", "0" }, /* nor in error CONTEXT lines */
    { "log_statement", "none" },                 /* no statement logged as it arrives */
    { "log_min_duration_statement", "-1" },      /* nor when slow */
    { "log_min_duration_sample", "-1" },
    { "log_transaction_sample_rate", "0" },
    { "log_duration", "off" },
    { "debug_print_parse", "off" },              /* query trees carry their constants */
    { "debug_print_rewritten", "off" },
    { "debug_print_plan", "off" },
    { "auto_explain.log_min_duration", "-1" },   /* plans with parameter values, if loaded */
    { NULL, NULL }
};

bool adb__pg_logging_options(char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return false;
    buf[0] = '\0';
    for (const adb__pg_setting *s = adb__pg_private_logging; s->name; s++) {
        int w = snprintf(buf + used, len - used, " -c %s=%s", s->name, s->value);
        if (w < 0 || (size_t)w >= len - used)
            return false;
        used += (size_t)w;
    }
    return true;
}

bool adb__pg_logging_session(PGconn *c)
{
    adb__buf sql = { 0 };
    PGresult *r;
    bool ok;

    /* One DO block: each setting in its own exception block, so that one
     * the login role may not set (superuser-only, without GRANT SET ON
     * PARAMETER) is skipped instead of failing the rest; caught errors are
     * not logged. The names and values are the constants above (no quote in
     * them), not input. */
    adb__buf_puts(&sql, "DO $auditdb$ DECLARE s text[]; BEGIN FOREACH s SLICE 1 IN ARRAY ARRAY[");
    for (const adb__pg_setting *s = adb__pg_private_logging; s->name; s++) {
        adb__buf_puts(&sql, s == adb__pg_private_logging ? "['" : ",['");
        adb__buf_puts(&sql, s->name);
        adb__buf_puts(&sql, "','");
        adb__buf_puts(&sql, s->value);
        adb__buf_puts(&sql, "']");
    }
    adb__buf_puts(&sql, "]::text[] LOOP BEGIN PERFORM pg_catalog.set_config(s[1], s[2], false);"
                        " EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $auditdb$");
    if (sql.oom || !sql.p) {
        free(sql.p);
        return false;
    }
    r = PQexec(c, sql.p);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    free(sql.p);
    return ok;
}
