/*
 * dbmon_suggest.c - missing-index suggestions, each checked by the planner
 * with a hypothetical index (hypopg) before it is shown.
 *
 * For the statements pg_stat_statements saw run most often (SELECTs only,
 * costliest in total first): the statement's normalized text is prepared
 * (protocol-level PQprepare: nothing is pasted), planned generically
 * (plan_cache_mode = force_generic_plan: no parameter value is needed or
 * used) and explained, as the role that ran it, in a read-only transaction
 * that is rolled back. Every sequential scan with a filter names the
 * filter's columns (equality columns first, then one range column); those
 * become a hypothetical index, the statement is planned again, and the
 * suggestion is kept when the planner uses the index and the cost falls to
 * opts->suggest_gain of what it was or less. Hypothetical indexes live in
 * the backend's memory: hypopg_reset() after each try, and the prepared
 * statement is deallocated, so the connection goes back to its pool as it
 * came. Nothing here executes a statement or changes the schema.
 */
#include "dbmon.h"
#include "dbmon_sql.h"
#include "../core/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define STMT "adb_dbmon_plan" /* the prepared statement's name */
#define MAX_COLS 3
#define NAME_MAX_ 64          /* PostgreSQL's NAMEDATALEN */

typedef struct cand_cols {
    char eq[MAX_COLS][NAME_MAX_];
    int neq;
    char range[NAME_MAX_];
    char gin[NAME_MAX_];   /* a column tested with a jsonb operator (@>, ?, ?|, ?&) */
    bool gin_path_ops;     /* ...only with @>: jsonb_path_ops (smaller) serves it */
} cand_cols;

static bool ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return good;
}

/* Reads an identifier at *p (plain or "quoted", dotted chains keep their
 * last part) into out; false when none. */
static bool read_ident(const char **p, char out[NAME_MAX_])
{
    const char *s = *p;
    bool any = false;

    for (;;) {
        size_t n = 0;
        if (*s == '"') {
            s++;
            while (*s && !(*s == '"' && s[1] != '"')) {
                if (*s == '"')
                    s++;
                if (n + 1 < NAME_MAX_)
                    out[n++] = *s;
                s++;
            }
            if (*s != '"')
                return false;
            s++;
        } else if (isalpha((unsigned char)*s) || *s == '_') {
            while (isalnum((unsigned char)*s) || *s == '_' || *s == '$') {
                if (n + 1 < NAME_MAX_)
                    out[n++] = *s;
                s++;
            }
        } else {
            break;
        }
        out[n] = '\0';
        any = true;
        if (*s != '.')
            break;
        s++;
    }
    *p = s;
    return any;
}

/* What follows a column in a filter: closing parentheses and casts
 * ("::character varying"), then an operator; 1 for =, 2 for < <= > >=,
 * 3 for @> (jsonb containment), 4 for ? ?| ?& (jsonb keys), 0 for anything
 * else. */
static int operator_after(const char *s)
{
    for (;;) {
        while (*s == ')' || *s == ' ')
            s++;
        if (s[0] == ':' && s[1] == ':') {
            s += 2;
            while (isalnum((unsigned char)*s) || *s == '_' || *s == ' ' || *s == '"' ||
                   *s == '[' || *s == ']' || *s == '.')
                if (*s++ == ' ' && (s[0] == '=' || s[0] == '<' || s[0] == '>'))
                    break;
            continue;
        }
        break;
    }
    if (s[0] == '@' && s[1] == '>')
        return 3;
    if (s[0] == '?' && (s[1] == ' ' || s[1] == '|' || s[1] == '&'))
        return 4;
    if (s[0] == '=' && s[1] != '>')
        return 1;
    if ((s[0] == '<' && s[1] != '>') || s[0] == '>')
        return 2;
    return 0;
}

static bool has_col(const cand_cols *cc, const char *name)
{
    for (int i = 0; i < cc->neq; i++)
        if (!strcmp(cc->eq[i], name))
            return true;
    return !strcmp(cc->range, name);
}

/* The columns a filter compares with something (see operator_after). */
static void filter_columns(const char *f, cand_cols *cc)
{
    memset(cc, 0, sizeof(*cc));
    for (const char *s = f; *s;) {
        char name[NAME_MAX_];
        const char *at = s;
        if ((s == f || !(isalnum((unsigned char)s[-1]) || s[-1] == '_' || s[-1] == '$')) &&
            read_ident(&s, name)) {
            int op = *s == '(' ? 0 : operator_after(s);
            if (op >= 3) { /* a GIN candidate: the first jsonb column so tested */
                if (!cc->gin[0]) {
                    memcpy(cc->gin, name, sizeof(name));
                    cc->gin_path_ops = op == 3;
                } else if (!strcmp(cc->gin, name) && op == 4) {
                    cc->gin_path_ops = false;
                }
            } else if (op && !has_col(cc, name)) {
                if (op == 1 && cc->neq < MAX_COLS)
                    memcpy(cc->eq[cc->neq++], name, sizeof(name));
                else if (op == 2 && !cc->range[0])
                    memcpy(cc->range, name, sizeof(name));
            }
            if (s == at)
                s++;
        } else if (s[0] == ':' && s[1] == ':') { /* a cast: its type is no column */
            for (s += 2; isalnum((unsigned char)*s) || *s == '_' || *s == '"' || *s == '[' ||
                         *s == ']' || *s == '.' || (*s == ' ' && isalpha((unsigned char)s[1]));
                 s++)
                ;
        } else if (*s == '\'') { /* a constant: skipped whole */
            for (s++; *s && !(*s == '\'' && s[1] != '\''); s += *s == '\'' ? 2 : 1)
                ;
            if (*s)
                s++;
        } else {
            s++;
        }
    }
}

/* The plan of sql (EXPLAIN's JSON, a new reference) and its total cost;
 * NULL when it cannot be planned. *prepared says whether the statement is
 * still prepared (a failure aborted the transaction before DEALLOCATE). */
static json_t *explain(PGconn *c, const char *sql, double *cost, bool *prepared)
{
    PGresult *r = PQprepare(c, STMT, sql, 0, NULL);
    json_t *plan = NULL;
    int nparams = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    *prepared = true;
    r = PQdescribePrepared(c, STMT);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        nparams = PQnparams(r);
    PQclear(r);
    if (nparams > 1000)
        goto out;
    /* EXECUTE's arguments are NULLs: only their number is written; the
     * generic plan does not look at them */
    size_t len = 96 + (size_t)nparams * 6;
    char *q = malloc(len);
    if (!q)
        goto out;
    size_t w = (size_t)snprintf(q, len, "EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE " STMT);
    for (int i = 0; i < nparams; i++)
        w += (size_t)snprintf(q + w, len - w, "%sNULL", i ? ", " : " (");
    if (nparams)
        snprintf(q + w, len - w, ")");
    r = PQexec(c, q);
    free(q);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        json_t *all = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        json_t *p = json_object_get(json_array_get(all, 0), "Plan");
        if (p && json_is_number(json_object_get(p, "Total Cost"))) {
            plan = json_incref(p);
            *cost = json_number_value(json_object_get(p, "Total Cost"));
        }
        json_decref(all);
    }
    PQclear(r);
out:
    if (ok(c, "DEALLOCATE " STMT))
        *prepared = false;
    return plan;
}

/* Appends to scans every sequential scan with a filter under node. */
static void seq_scans(json_t *node, json_t *scans)
{
    const char *type = json_string_value(json_object_get(node, "Node Type"));
    if (type && !strcmp(type, "Seq Scan") && json_is_string(json_object_get(node, "Filter")) &&
        json_is_string(json_object_get(node, "Relation Name")))
        json_array_append(scans, node);
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child)
        seq_scans(child, scans);
}

/* Does the plan use the index named name? */
static bool uses_index(json_t *node, const char *name)
{
    const char *ix = json_string_value(json_object_get(node, "Index Name"));
    if (ix && !strcmp(ix, name))
        return true;
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child)
        if (uses_index(child, name))
            return true;
    return false;
}

/* The CREATE INDEX for (schema.table, columns) with every name quoted by
 * PostgreSQL (format %I, quote_ident), and the columns quoted and checked
 * to exist; NULL when a column is not the table's. The caller frees. */
static char *index_ddl(PGconn *c, const char *schema, const char *table, const cand_cols *cc,
                       json_t *cols_out)
{
    const char *p[2 + MAX_COLS + 1] = { schema, table };
    int n = 2;
    for (int i = 0; i < cc->neq; i++)
        p[n++] = cc->eq[i];
    if (cc->range[0] && n < 2 + MAX_COLS)
        p[n++] = cc->range;
    while (n < 2 + MAX_COLS)
        p[n++] = NULL;
    PGresult *r = PQexecParams(c,
        "WITH want AS (SELECT x, o FROM unnest(ARRAY[$3, $4, $5]::text[]) WITH ORDINALITY AS u(x, o)"
        "  WHERE x IS NOT NULL),"
        " have AS (SELECT w.x, w.o FROM want w JOIN pg_attribute a ON a.attname = w.x"
        "  AND a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND a.attnum > 0"
        "  AND NOT a.attisdropped)"
        "SELECT format('CREATE INDEX CONCURRENTLY ON %I.%I (%s)', $1::text, $2::text,"
        "  (SELECT string_agg(quote_ident(x), ', ' ORDER BY o) FROM have)),"
        " (SELECT count(*) FROM want) = (SELECT count(*) FROM have)",
        2 + MAX_COLS, NULL, p, NULL, NULL, 0);
    char *ddl = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't') {
        ddl = adb__strdup(PQgetvalue(r, 0, 0));
        for (int i = 2; i < 2 + MAX_COLS && p[i]; i++)
            json_array_append_new(cols_out, json_string(p[i]));
    }
    PQclear(r);
    return ddl;
}

/* The CREATE INDEX of a GIN index over cc's jsonb column (jsonb_path_ops
 * when only @> tests it), built like index_ddl; NULL when the column is not
 * a jsonb column of the table. The caller frees. */
static char *gin_ddl(PGconn *c, const char *schema, const char *table, const cand_cols *cc,
                     json_t *cols_out)
{
    const char *p[] = { schema, table, cc->gin, cc->gin_path_ops ? "t" : "f" };
    PGresult *r = PQexecParams(c,
        "SELECT format('CREATE INDEX CONCURRENTLY ON %I.%I USING gin (%I%s)', $1::text, $2::text, $3::text,"
        "  CASE WHEN $4::boolean THEN ' jsonb_path_ops' ELSE '' END)"
        " FROM pg_attribute a WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text))"
        " AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'jsonb'::regtype",
        4, NULL, p, NULL, NULL, 0);
    char *ddl = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        ddl = adb__strdup(PQgetvalue(r, 0, 0));
        json_array_append_new(cols_out, json_string(cc->gin));
    }
    PQclear(r);
    return ddl;
}

static json_t *try_ddl(PGconn *c, const char *sql, double before, const char *schema, const char *table,
                       json_t *cols, const char *ddl, const char *method, double gain, bool *prepared,
                       bool *refused);

/* Tries one scan's columns as hypothetical indexes: a btree over its
 * equality and range columns, and a GIN index over a jsonb column it tests
 * for containment or keys; the better of those the planner takes (a new
 * reference), or NULL. */
static json_t *try_index(PGconn *c, const char *sql, double before, json_t *scan, double gain,
                         bool *prepared)
{
    const char *schema = json_string_value(json_object_get(scan, "Schema"));
    const char *table = json_string_value(json_object_get(scan, "Relation Name"));
    cand_cols cc;
    json_t *best = NULL;

    filter_columns(json_string_value(json_object_get(scan, "Filter")), &cc);
    if (!schema || !table)
        return NULL;
    for (int kind = 0; kind < 2; kind++) {
        json_t *cols = json_array();
        char *ddl = NULL;
        if (cols && kind == 0 && (cc.neq || cc.range[0]))
            ddl = index_ddl(c, schema, table, &cc, cols);
        else if (cols && kind == 1 && cc.gin[0])
            ddl = gin_ddl(c, schema, table, &cc, cols);
        bool refused = false;
        json_t *s = ddl && !*prepared ? try_ddl(c, sql, before, schema, table, cols, ddl, kind ? "gin" : "btree",
                                                 gain, prepared, &refused)
                                      : NULL;
        /* hypopg refuses a GIN index (1.x: btree, brin, hash, bloom only): the candidate is
         * shown unchecked, never raised nor applied (docs/monitoring.md) */
        if (!s && refused && kind == 1 && !best && before > 0)
            s = json_pack("{s:s, s:s, s:O, s:s, s:s, s:f, s:n, s:n, s:b, s:s}", "schema", schema, "table", table,
                          "columns", cols, "method", "gin", "statement", ddl, "costBefore", before, "costAfter",
                          "gain", "checked", false, "reason",
                          "hypopg does not take GIN indexes: not checked by the planner (build it to compare)");
        if (s && (!best || json_number_value(json_object_get(s, "costAfter")) <
                               json_number_value(json_object_get(best, "costAfter")))) {
            json_decref(best);
            best = s;
        } else {
            json_decref(s);
        }
        free(ddl);
        json_decref(cols);
    }
    return best;
}

/* Tries ddl as a hypothetical index; a suggestion (new reference) or NULL
 * (*refused: hypopg would not make it). */
static json_t *try_ddl(PGconn *c, const char *sql, double before, const char *schema, const char *table,
                       json_t *cols, const char *ddl, const char *method, double gain, bool *prepared,
                       bool *refused)
{
    json_t *s = NULL;
    /* hypopg wants a plain CREATE INDEX */
    const char *hyp_p[] = { ddl };
    ok(c, "SAVEPOINT adb_dbmon_hyp"); /* a method hypopg does not take leaves the transaction usable */
    PGresult *r = PQexecParams(c,
        "SELECT indexname FROM hypopg_create_index(replace($1, 'CREATE INDEX CONCURRENTLY ON',"
        " 'CREATE INDEX ON'))", 1, NULL, hyp_p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        ok(c, "ROLLBACK TO SAVEPOINT adb_dbmon_hyp");
        *refused = true;
        return NULL;
    }
    char hypname[128];
    adb__fmt(hypname, sizeof(hypname), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    double after = 0;
    json_t *plan = explain(c, sql, &after, prepared);
    if (plan && uses_index(plan, hypname) && before > 0 && after <= before * gain)
        s = json_pack("{s:s, s:s, s:O, s:s, s:s, s:f, s:f, s:f, s:b}", "schema", schema, "table",
                      table, "columns", cols, "method", method, "statement", ddl, "costBefore", before,
                      "costAfter", after, "gain", after / before, "checked", true);
    json_decref(plan);
    ok(c, "SELECT hypopg_reset()");
    return s;
}

/* Adds s to out, or folds its statement into the same index suggested
 * already; takes s. */
static void add_suggestion(json_t *out, json_t *s, const char *qid, long long calls, double mean)
{
    const char *ddl = json_string_value(json_object_get(s, "statement"));
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "statement")), ddl)) {
            json_array_append_new(json_object_get(e, "queryIds"), json_string(qid));
            json_object_set_new(e, "calls", json_integer(json_integer_value(
                json_object_get(e, "calls")) + calls));
            json_decref(s);
            return;
        }
    }
    json_object_set_new(s, "queryIds", json_pack("[s]", qid));
    json_object_set_new(s, "calls", json_integer(calls));
    json_object_set_new(s, "meanMs", json_real(mean));
    json_array_append_new(out, s);
}

json_t *adb__dbmon_suggestions(PGconn *c, const adb__dbmon_caps *caps, const adb__dbmon_opts *o,
                               char *err, size_t errlen)
{
    char calls[32], lim[32];
    const char *p[] = { calls, lim };
    json_t *out = json_array();

    if (!out || !caps->pss || !caps->hypopg)
        return out;
    adb__fmt(calls, sizeof(calls), "%d", o->suggest_min_calls < 1 ? 1 : o->suggest_min_calls);
    adb__fmt(lim, sizeof(lim), "%d", o->suggest_max < 1 ? 1 : o->suggest_max > 200 ? 200 : o->suggest_max);
    /* SELECTs alone (EXPLAIN of anything else is not tried), not the
     * monitor's own, one statement each */
    PGresult *r = PQexecParams(c,
        "SELECT s.queryid::text, s.query, r.rolname, s.calls, s.mean_exec_time"
        " FROM pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "  AND s.calls >= $1::bigint AND s.query ~* '^\\s*select\\M'"
        "  AND s.query !~* '(pg_stat_statements|hypopg|pg_catalog\\.|pg_stat_|pg_class)'"
        "  AND position(';' IN s.query) = 0"
        " ORDER BY s.total_exec_time DESC LIMIT $2::int",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char e[300];
        adb__fmt(e, sizeof(e), "%s", PQresultErrorMessage(r));
        adb__fmt(err, errlen, "could not read pg_stat_statements: %s", adb__oneline(e));
        PQclear(r);
        json_decref(out);
        return NULL;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *sql = PQgetvalue(r, i, 1);
        const char *role[] = { PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2) };
        if (!ok(c, "BEGIN READ ONLY"))
            break;
        /* the monitor's own PREPARE and EXPLAIN are not statements to count
         * (they would come back as candidates); a superuser's setting: a
         * login that may not set it leaves it */
        ok(c, "SAVEPOINT adb_dbmon_track");
        if (!ok(c, "SELECT set_config('pg_stat_statements.track', 'none', true)"))
            ok(c, "ROLLBACK TO SAVEPOINT adb_dbmon_track");
        /* as the role that ran it: its privileges, its row-level security */
        PGresult *sr = PQexecParams(c,
            "SELECT set_config('plan_cache_mode', 'force_generic_plan', true),"
            " CASE WHEN $1::text IS NOT NULL THEN set_config('role', $1, true) END",
            1, NULL, role, NULL, NULL, 0);
        bool set = PQresultStatus(sr) == PGRES_TUPLES_OK;
        PQclear(sr);
        double before = 0;
        bool prepared = false;
        json_t *plan = set ? explain(c, sql, &before, &prepared) : NULL;
        json_t *scans = json_array();
        if (plan && scans)
            seq_scans(plan, scans);
        size_t k;
        json_t *scan;
        json_array_foreach(scans, k, scan) {
            json_t *s = prepared ? NULL : try_index(c, sql, before, scan, o->suggest_gain, &prepared);
            if (s)
                add_suggestion(out, s, PQgetvalue(r, i, 0), atoll(PQgetvalue(r, i, 3)),
                               strtod(PQgetvalue(r, i, 4), NULL));
        }
        json_decref(scans);
        json_decref(plan);
        ok(c, "ROLLBACK");
        ok(c, "SELECT hypopg_reset()");
        if (prepared) /* a failure left it prepared */
            ok(c, "DEALLOCATE " STMT);
    }
    PQclear(r);
    return out;
}
