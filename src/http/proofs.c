/*
 * proofs.c - GET /api/v1/audit/events/{id}/proof: the receipt of one event
 * of the caller's organization (c2sp.org/tlog-proof@v1, docs/proofs.md):
 * its leaf (chain_seq - 1), the inclusion proof read from the stored tree
 * and the newest checkpoint that covers it, preferring the most cosigned of
 * the newest few. Archived events are found in their archive (the tree keeps
 * their leaves). Everything is read as the tenant in one transaction.
 */
#include "http.h"
#include "event_ref.h"
#include "../core/util.h"
#include "../integrity/row.h"
#include "../lifecycle/archive.h"
#include "../log/receipt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Of the newest checkpoints covering the event, how many are weighed for
 * their cosignatures. */
#define CHECKPOINT_CANDIDATES 16
/* The Retry-After of an event not yet in a checkpoint (ms; the
 * checkpointer's default interval is 250 ms, witnesses add a round trip). */
#define RETRY_MS 1000

static bool uuid_bytes(const char *s, uint8_t out[16])
{
    size_t o = 0;

    for (size_t i = 0; s[i] && o < 32; i++) {
        if (s[i] == '-')
            continue;
        int v = adb__hexval(s[i]);
        if (v < 0)
            return false;
        if (o % 2 == 0)
            out[o / 2] = (uint8_t)(v << 4);
        else
            out[o / 2] |= (uint8_t)v;
        o++;
    }
    return o == 32;
}

/* The event's chain position and UUID among the live rows: 1 found, 0 not,
 * -1 on a database error. */
static int find_live(PGconn *c, const char *org, const adb_http_event_ref *ref, int64_t *seq,
                     char uuid[37])
{
    char num[24];
    adb__fmt(num, sizeof(num), "%" PRId64, ref->id);
    const char *p[] = { org, ref->uuid[0] ? ref->uuid : num, ref->ts };
    PGresult *r = PQexecParams(c, ref->uuid[0]
        ? "SELECT chain_seq, event_id FROM audit_log WHERE organization_id = $1"
          " AND event_id = $2::uuid AND ($3 = '' OR \"timestamp\" = nullif($3, '')::timestamptz)"
        : "SELECT chain_seq, event_id FROM audit_log WHERE organization_id = $1"
          " AND id = $2::bigint AND $3 = ''",
        3, NULL, p, NULL, NULL, 0);
    int rc = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = 0;
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && !PQgetisnull(r, 0, 1)) {
            *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            adb__fmt(uuid, 37, "%s", PQgetvalue(r, 0, 1));
            rc = 1;
        }
    }
    PQclear(r);
    return rc;
}

/* The same in the organization's archives (stubs hold no id): those whose
 * dates hold a version 1 id's instant, or every one for a numeric id. 1
 * found, 0 not, -1 when an archive cannot be read (err says why). */
static int find_archived(PGconn *c, const char *org, const adb_http_event_ref *ref, int64_t *seq,
                         char uuid[37], char *err, size_t errlen)
{
    const char *p[] = { org, ref->ts };
    PGresult *ids = PQexecParams(c,
                                 "SELECT id FROM archive_storage WHERE organization_id = $1"
                                 "   AND payload IS NOT NULL AND deleted_at IS NULL"
                                 "   AND ($2 = '' OR (coalesce(metadata->'dateRange'->>'end', $2)"
                                 "        COLLATE \"C\" >= $2"
                                 "    AND coalesce(metadata->'dateRange'->>'start', $2)"
                                 "        COLLATE \"C\" <= $2))"
                                 " ORDER BY first_seq",
                                 2, NULL, p, NULL, NULL, 0);
    char num[24];
    int rc = 0;

    if (PQresultStatus(ids) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not list archives: %s", PQerrorMessage(c));
        adb__oneline(err);
        PQclear(ids);
        return -1;
    }
    adb__fmt(num, sizeof(num), "%" PRId64, ref->id);
    for (int i = 0; i < PQntuples(ids) && rc == 0; i++) {
        adb__archive_reader *ar = adb__archive_open(c, PQgetvalue(ids, i, 0), err, errlen);
        const char *v[ADB__ROW_NCOLS];
        int k;
        if (!ar) {
            rc = -1;
            break;
        }
        while ((k = adb__archive_next(ar, v)) == 1) {
            bool match = ref->uuid[0] ? v[ADB_COL_EVENT_ID] && !strcmp(v[ADB_COL_EVENT_ID], ref->uuid)
                                      : v[ADB_COL_ID] && !strcmp(v[ADB_COL_ID], num);
            if (match && v[ADB_COL_CHAIN_SEQ] && v[ADB_COL_EVENT_ID]) {
                *seq = strtoll(v[ADB_COL_CHAIN_SEQ], NULL, 10);
                adb__fmt(uuid, 37, "%s", v[ADB_COL_EVENT_ID]);
                rc = 1;
                break;
            }
        }
        if (k < 0) {
            adb__fmt(err, errlen, "archive %s: %s", PQgetvalue(ids, i, 0), adb__archive_error(ar));
            rc = -1;
        }
        adb__archive_close(ar);
    }
    PQclear(ids);
    return rc;
}

/* The checkpoint note to prove leaf index under into *note (malloc()ed):
 * of the newest CHECKPOINT_CANDIDATES covering it, the most cosigned (the
 * newest of those). *witnessed: whether the organization has any cosigned
 * checkpoint at all. 1 found, 0 none covers it yet, -1 on a database error. */
static int pick_checkpoint(PGconn *c, const char *org, uint64_t index, char **note,
                           size_t *len, int *cosigs, bool *witnessed)
{
    char idx[24], lim[8];
    adb__fmt(idx, sizeof(idx), "%" PRIu64, index);
    adb__fmt(lim, sizeof(lim), "%d", CHECKPOINT_CANDIDATES);
    const char *p[] = { org, idx, lim };
    PGresult *r = PQexecParams(c,
                               "SELECT note, cosignatures,"
                               " EXISTS (SELECT 1 FROM log_checkpoint WHERE organization_id = $1"
                               "         AND cosignatures > 0)"
                               " FROM log_checkpoint WHERE organization_id = $1"
                               "  AND tree_size > $2::bigint ORDER BY tree_size DESC LIMIT $3::int",
                               3, NULL, p, NULL, NULL, 0);
    int best = -1, rc = -1;

    *note = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            int n = atoi(PQgetvalue(r, i, 1));
            if (best < 0 || n > *cosigs) {
                best = i;
                *cosigs = n;
            }
        }
        rc = 0;
        *witnessed = PQntuples(r) > 0 && PQgetvalue(r, 0, 2)[0] == 't';
        if (best >= 0) {
            *len = (size_t)PQgetlength(r, best, 0);
            rc = (*note = strndup(PQgetvalue(r, best, 0), *len)) ? 1 : -1;
        }
    }
    PQclear(r);
    return rc;
}

enum MHD_Result adb_http_events_proof(adb_http_request *req)
{
    const char *org = req->who.organization_id;
    adb_http_event_ref ref;
    adb_status st;
    char err[ADB_ERRMSG_MAX], uuid[37] = "", *note = NULL, *receipt = NULL;
    size_t nlen = 0, rlen = 0;
    int64_t seq = 0;
    int found, cosigs = 0;
    bool witnessed = false;
    uint8_t id16[16];
    enum MHD_Result res;

    if (!adb_http_event_ref_parse(req->param[0], &ref))
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "INVALID_FORMAT",
                                   "id must be an event id: a UUID (or an event's former "
                                   "numeric id)", json_pack("{s:s}", "field", "id"));
    PGconn *c = adb_tenant_begin(req->state->db, org, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                                   "the database is unavailable", 1000);
    found = find_live(c, org, &ref, &seq, uuid);
    if (found == 0)
        found = find_archived(c, org, &ref, &seq, uuid, err, sizeof(err));
    if (found < 0) {
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                   "could not look the event up", NULL);
    }
    if (found == 0 || seq < 1 || !uuid_bytes(uuid, id16)) {
        adb_tenant_end(req->state->db, c, false);
        adb_http_events_probe(req, &ref);
        /* another organization's id answers exactly like a missing one */
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such event",
                                   json_pack("{s:s}", "id", req->param[0]));
    }
    uint64_t index = (uint64_t)(seq - 1);
    found = pick_checkpoint(c, org, index, &note, &nlen, &cosigs, &witnessed);
    if (found < 0) {
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                                   "the database is unavailable", 1000);
    }
    if (found == 0 || (witnessed && cosigs == 0)) {
        adb_tenant_end(req->state->db, c, false);
        free(note);
        return adb_http_send_retry(req, MHD_HTTP_CONFLICT, "NOT_YET_CHECKPOINTED",
                                   found == 0 ? "the event is not in a signed checkpoint yet"
                                              : "the event is not in a cosigned checkpoint yet",
                                   RETRY_MS);
    }
    st = adb__receipt_build(c, org, index, id16, note, nlen, &receipt, &rlen, err, sizeof(err));
    adb_tenant_end(req->state->db, c, st == ADB_OK);
    free(note);
    if (st == ADB_ERR_NOT_FOUND) /* a checkpoint ahead of the tree it was read with */
        return adb_http_send_retry(req, MHD_HTTP_CONFLICT, "NOT_YET_CHECKPOINTED",
                                   "the event is not in the tree yet", RETRY_MS);
    if (st == ADB_ERR_INTERNAL) {
        char desc[256];
        adb__fmt(desc, sizeof(desc), "the tree's leaf for event %s names another event", uuid);
        adb_http_security_event(req, "log_inconsistent", "HIGH", desc);
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "LOG_INCONSISTENT",
                                   "the log's tree and the event's chain position disagree",
                                   json_pack("{s:s}", "id", uuid));
    }
    if (st != ADB_OK)
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                   "could not build the receipt", NULL);
    /* a file name for clients that save it (C2SP: ".tlog-proof") */
    req->extra_header[0] = "Content-Disposition";
    if ((req->extra_value[0] = malloc(96)))
        adb__fmt(req->extra_value[0], 96, "attachment; filename=\"%s.tlog-proof\"", uuid);
    res = adb_http_send_text(req, MHD_HTTP_OK, receipt, rlen, "text/plain; charset=utf-8");
    return res;
}
