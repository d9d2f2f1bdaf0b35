/*
 * authchain.c - the hash chain of auth_audit_log: the link hash and the
 * verifier (authchain.h).
 */
#include "authchain.h"
#include "jw.h"
#include "../core/digest.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define PAGE_ROWS "5000"

bool adb_authchain_hash(const char *prev, const char *const fields[ADB_AUTHCHAIN_FIELDS],
                        char out[65])
{
    jw w;
    size_t len;

    jw_init(&w);
    jw_arr(&w);
    jw_str(&w, prev);
    for (int i = 0; i < ADB_AUTHCHAIN_FIELDS; i++)
        jw_str(&w, fields[i] ? fields[i] : "");
    jw_end_arr(&w);
    char *canon = jw_take(&w, &len);
    if (!canon)
        return false;
    adb__sha256_hex(canon, len, out);
    free(canon);
    return true;
}

static void problem(void (*on_problem)(void *, const adb_authchain_problem *), void *ud,
                    adb_authchain_summary *sum, long long id, const char *kind,
                    const char *expected, const char *found)
{
    adb_authchain_problem p = { .id = id, .kind = kind };

    adb__fmt(p.expected, sizeof(p.expected), "%s", expected);
    adb__fmt(p.found, sizeof(p.found), "%s", found);
    sum->problems++;
    if (on_problem)
        on_problem(ud, &p);
}

adb_status adb_authchain_verify(adb *db, void (*on_problem)(void *ud, const adb_authchain_problem *p),
                                void *ud, adb_authchain_summary *sum, char *err, size_t errlen)
{
    adb_status st = ADB_OK;
    adb_pool *pool = adb_get_pool(db);
    PGconn *c = adb_pool_acquire(pool, &st, err, errlen);
    char after[32] = "0", prev[65] = "";

    memset(sum, 0, sizeof(*sum));
    if (!c)
        return st;
    for (;;) {
        const char *p[] = { after };
        PGresult *r = adb_pool_exec(pool, c,
                                    "SELECT id, to_char(created_at AT TIME ZONE 'UTC',"
                                    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), organization_id, api_key_id,"
                                    " event_type, event_status, ip_address, user_agent, request_id,"
                                    " failure_reason, coalesce(previous_hash, ''),"
                                    " coalesce(blockchain_hash, ''), coalesce(signature, ''),"
                                    " to_char(redacted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                    " FROM auth_audit_log WHERE id > $1::bigint ORDER BY id LIMIT " PAGE_ROWS,
                                    1, p);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            adb__fmt(err, errlen, "could not read auth_audit_log: %s", PQerrorMessage(c));
            adb__oneline(err);
            st = PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
            PQclear(r);
            break;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            const char *fields[ADB_AUTHCHAIN_FIELDS];
            const char *stored_prev = PQgetvalue(r, i, 10), *hash = PQgetvalue(r, i, 11),
                       *sig = PQgetvalue(r, i, 12);
            char want[65], want_sig[65];
            for (int k = 0; k < ADB_AUTHCHAIN_FIELDS; k++)
                fields[k] = PQgetvalue(r, i, 1 + k); /* NULL reads as "" */
            if (sum->rows++ == 0) {
                sum->first_id = id;
                sum->starts_after_removal = strcmp(stored_prev, ZEROS) != 0;
            } else if (strcmp(stored_prev, prev) != 0) {
                problem(on_problem, ud, sum, id, "link", prev, stored_prev);
            }
            sum->last_id = id;
            bool redacted = !PQgetisnull(r, i, 13);
            if (redacted) {
                /* redacted by retention (migration 0012): the link is checked
                 * above and the signature below (it signs the stored hash);
                 * the cleared fields can no longer give the hash back */
                sum->redacted++;
                adb__fmt(sum->last_redacted_at, sizeof(sum->last_redacted_at), "%s", PQgetvalue(r, i, 13));
            } else if (!adb_authchain_hash(stored_prev, fields, want)) {
                adb__fmt(err, errlen, "out of memory");
                PQclear(r);
                adb_pool_release(pool, c);
                return ADB_ERR_NOMEM;
            }
            if (!redacted && strcmp(want, hash) != 0) {
                problem(on_problem, ud, sum, id, "hash", want, hash);
            } else {
                adb_sign_hex(db, hash, want_sig);
                if (strcmp(want_sig, sig) != 0)
                    problem(on_problem, ud, sum, id, "signature", "", sig); /* never the keyed value */
            }
            adb__fmt(prev, sizeof(prev), "%s", hash); /* the next row links to what is stored */
            adb__fmt(after, sizeof(after), "%lld", id);
        }
        PQclear(r);
        if (n < atoi(PAGE_ROWS))
            break;
    }
    adb_pool_release(pool, c);
    return st;
}
