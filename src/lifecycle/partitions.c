/*
 * partitions.c - monthly partitions of audit_log: made ahead and on demand,
 * listed, analyzed; and the retention of the security tables. The
 * maintenance round that calls them is in maintenance.c (docs/lifecycle.md).
 */
#include "lifecycle.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static adb_status exec_month(PGconn *c, int year, int month, char name[64], char *errbuf,
                             size_t errlen)
{
    char day[16];
    const char *p[] = { day };
    PGresult *r;

    adb__fmt(day, sizeof(day), "%04d-%02d-01", year, month);
    r = PQexecParams(c, "SELECT auditdb_ensure_partition($1::date)", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not create the partition of %s: %s", day, PQresultErrorMessage(r));
        adb__oneline(errbuf);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (name)
        adb__fmt(name, 64, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ADB_OK;
}

static long long count_partitions(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass");
    long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

adb_status adb__partitions_ensure_on(PGconn *c, int64_t now_us, int ahead, int *created,
                                     char *errbuf, size_t errlen)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    long long before = count_partitions(c);
    adb_status st;

    gmtime_r(&t, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
    for (int i = 0; i <= ahead; i++) {
        if ((st = exec_month(c, y, m, NULL, errbuf, errlen)) != ADB_OK)
            return st;
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    if (created)
        *created = (int)(count_partitions(c) - before);
    return ADB_OK;
}

adb_status adb_partitions_ensure(adb *db, int64_t now_us, int ahead, int *created, char *errbuf,
                                 size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);

    if (!c)
        return st;
    st = adb__partitions_ensure_on(c, now_us, ahead, created, errbuf, errlen);
    adb_pool_release(db->pool, c);
    return st;
}

adb_status adb_partitions_create_month(adb *db, const char *month, char name[64], char *errbuf,
                                       size_t errlen)
{
    long long y, m;
    char ys[8], ms[8];
    adb_status st;
    PGconn *c;

    if (!month || strlen(month) != 7 || month[4] != '-') {
        adb__fmt(errbuf, errlen, "invalid month \"%s\" (expected YYYY-MM)", month ? month : "");
        return ADB_ERR_INVALID;
    }
    memcpy(ys, month, 4);
    ys[4] = '\0';
    memcpy(ms, month + 5, 2);
    ms[2] = '\0';
    if (!adb__parse_int(ys, 1, 9999, &y) || !adb__parse_int(ms, 1, 12, &m)) {
        adb__fmt(errbuf, errlen, "invalid month \"%s\" (expected YYYY-MM)", month);
        return ADB_ERR_INVALID;
    }
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = exec_month(c, (int)y, (int)m, name, errbuf, errlen);
    adb_pool_release(db->pool, c);
    return st;
}

adb_status adb_partitions_list(adb *db, adb_partition_info **out, size_t *n, char *errbuf,
                               size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);
    PGresult *r;

    *out = NULL;
    *n = 0;
    if (!c)
        return st;
    /* the bounds come from the catalog; rows are counted exactly, partition by
     * partition, which index-only scans keep cheap */
    r = PQexec(c, "SELECT c.relname,"
                  " to_char(lower_bound AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                  " to_char(upper_bound AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                  " (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname),"
                  "  false, true, '')))[1]::text::bigint,"
                  " pg_total_relation_size(c.oid)"
                  " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                  " CROSS JOIN LATERAL (SELECT"
                  "   (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower_bound,"
                  "   (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper_bound) b"
                  " WHERE i.inhparent = 'audit_log'::regclass ORDER BY lower_bound");
    adb_pool_release(db->pool, c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not list partitions: %s", PQresultErrorMessage(r));
        adb__oneline(errbuf);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    *out = calloc((size_t)PQntuples(r) + 1, sizeof(**out));
    if (!*out) {
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        adb_partition_info *p = &(*out)[i];
        adb__fmt(p->name, sizeof(p->name), "%s", PQgetvalue(r, i, 0));
        adb__fmt(p->range_from, sizeof(p->range_from), "%s", PQgetvalue(r, i, 1));
        adb__fmt(p->range_to, sizeof(p->range_to), "%s", PQgetvalue(r, i, 2));
        p->rows = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        p->bytes = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    }
    *n = (size_t)PQntuples(r);
    PQclear(r);
    return ADB_OK;
}

adb_status adb_partitions_analyze(adb *db, int *analyzed, char *errbuf, size_t errlen)
{
    adb_partition_info *parts = NULL;
    size_t n = 0;
    adb_status st = adb_partitions_list(db, &parts, &n, errbuf, errlen);
    PGconn *c;

    *analyzed = 0;
    if (st != ADB_OK)
        return st;
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen))) {
        free(parts);
        return st;
    }
    for (size_t i = 0; i < n && st == ADB_OK; i++) {
        /* identifiers cannot be parameters: quote the catalog's name */
        char *q = PQescapeIdentifier(c, parts[i].name, strlen(parts[i].name));
        char *sql = q ? adb__aprintf("ANALYZE %s", q) : NULL;
        PGresult *r = sql ? PQexec(c, sql) : NULL;
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            adb__fmt(errbuf, errlen, "could not analyze %s: %s", parts[i].name, PQerrorMessage(c));
            adb__oneline(errbuf);
            st = ADB_ERR_DB_QUERY;
        } else {
            (*analyzed)++;
        }
        PQclear(r);
        free(sql);
        PQfreemem(q);
    }
    adb_pool_release(db->pool, c);
    free(parts);
    return st;
}

/* ---- retention of the security tables ----------------------------------- */

adb_status adb__security_retention_on(PGconn *c, int64_t now_us, long long *deleted,
                                      char *errbuf, size_t errlen)
{
    char ts[40];
    const char *p[] = { ts };
    PGresult *r;

    adb__timestamp_format(now_us, ts);
    r = PQexecParams(c, "SELECT coalesce(sum(deleted), 0) FROM auditdb_apply_security_retention($1::timestamptz)",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not apply the security tables' retention: %s",
                 PQresultErrorMessage(r));
        adb__oneline(errbuf);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (deleted)
        *deleted = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ADB_OK;
}

adb_status adb_security_retention(adb *db, int64_t now_us, long long *deleted, char *errbuf,
                                  size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(db->pool, &st, errbuf, errlen);

    if (!c)
        return st;
    st = adb__security_retention_on(c, now_us, deleted, errbuf, errlen);
    adb_pool_release(db->pool, c);
    return st;
}
