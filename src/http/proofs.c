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
#include "../log/tile_cache.h"
#include "../log/tiles.h"

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

/* ---- the one-round-trip path (docs/proofs.md, "Speed") ---------------------------- */

/* The receipt of a live event in one round trip: the event's position, the
 * checkpoint (as pick_checkpoint chooses), the entry, and the tiles the
 * inclusion proof reads (level L: the tile holding the leaf and the one at
 * the checkpoint's right edge; levels 0-6, trees of up to 2^56 leaves: a
 * larger one takes the long path), less those the cache holds wide enough.
 * $1 org, $2 the id, $3 the instant of a version 1 id, $4-$6 the cached
 * tiles' levels, indexes and widths. */
#define FAST_SQL(COND)                                                                           \
    "WITH ev AS (SELECT chain_seq - 1 AS idx, event_id, hash FROM audit_log"                     \
    "            WHERE organization_id = $1 AND " COND " AND chain_seq IS NOT NULL LIMIT 1),"    \
    " cand AS (SELECT c.note, c.cosignatures, c.tree_size FROM log_checkpoint c, ev"             \
    "          WHERE c.organization_id = $1 AND c.tree_size > ev.idx"                            \
    "          ORDER BY c.tree_size DESC LIMIT " ADB_STR(CHECKPOINT_CANDIDATES) "),"             \
    " cp AS (SELECT * FROM cand ORDER BY cosignatures DESC, tree_size DESC LIMIT 1)"             \
    " SELECT 0 AS kind, ev.idx, ev.event_id::text, cp.note, cp.cosignatures,"                    \
    "  EXISTS (SELECT 1 FROM log_checkpoint w WHERE w.organization_id = $1"                      \
    "          AND w.cosignatures > 0),"                                                         \
    "  ev.hash,"                                                                                 \
    "  NULL::smallint, NULL::bigint, NULL::bytea"                                                \
    " FROM ev LEFT JOIN cp ON true"                                                              \
    " UNION ALL"                                                                                 \
    " SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, k.level, k.index,"                           \
    "  (SELECT t.hashes FROM audit_tree_tile t WHERE t.organization_id = $1"                     \
    "     AND t.level = k.level AND t.index = k.index)"                                          \
    " FROM (SELECT DISTINCT l::smallint AS level, x.index,"                                      \
    "         CASE WHEN x.index < cp.tree_size >> (8 * l + 8) THEN 256"                          \
    "              ELSE ((cp.tree_size >> (8 * l)) % 256)::int END AS need"                      \
    "         FROM ev, cp, generate_series(0, 6) l,"                                             \
    "         LATERAL (VALUES (ev.idx >> (8 * l + 8)), (cp.tree_size >> (8 * l + 8))) x(index)) k" \
    " WHERE k.need > 0 AND NOT EXISTS (SELECT 1 FROM unnest($4::smallint[], $5::bigint[],"       \
    "   $6::smallint[]) h(l, i, w) WHERE h.l = k.level AND h.i = k.index AND h.w >= k.need)"
#define ADB_STR_(x) #x
#define ADB_STR(x) ADB_STR_(x)

/* bytea's text form (\x and hex) into out (at most cap bytes): the length, or -1. */
static long unhex_bytea(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);

    if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2 || (n - 2) / 2 > cap)
        return -1;
    for (size_t i = 0; i < (n - 2) / 2; i++) {
        int a = adb__hexval(s[2 + 2 * i]), b = adb__hexval(s[3 + 2 * i]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return (long)((n - 2) / 2);
}

/* True with *receipt (malloc()ed) and the event's uuid; false: take the path
 * of several round trips, which tells apart what this one does not answer
 * (an archived or unknown event, no (cosigned) checkpoint covering it yet, a
 * database error, a tile the statement did not bring, the tree and the
 * chain disagreeing). */
static bool fast_receipt(adb_http_request *req, const adb_http_event_ref *ref,
                                 char uuid[37], char **receipt, size_t *rlen)
{
    const char *org = req->who.organization_id;
    adb_status st;
    char num[24], cl[2048], ci[4096], cw[2048];
    adb__tile_cache *tc = req->state->tiles;

    adb__fmt(num, sizeof(num), "%" PRId64, ref->id);
    adb__tile_cache_list(tc, org, cl, ci, cw, sizeof(cl));
    const char *p[] = { org, ref->uuid[0] ? ref->uuid : num, ref->ts, cl, ci, cw };
    const char *sql = !ref->uuid[0] ? FAST_SQL("id = $2::bigint AND $3 = ''")
                      : ref->ts[0]  ? FAST_SQL("event_id = $2::uuid AND \"timestamp\" = $3::timestamptz")
                                    : FAST_SQL("event_id = $2::uuid AND $3 = ''");
    PGresult *r = adb_tenant_query(req->state->db, org, sql, 6, p, ADB_PLAN_GENERIC, NULL, 0, NULL,
                                   &st);
    bool out = false;
    int head = -1;
    adb__tile_reader *rd = NULL;
    uint8_t *buf = NULL;

    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        goto done;
    for (int i = 0; i < PQntuples(r) && head < 0; i++)
        if (!strcmp(PQgetvalue(r, i, 0), "0"))
            head = i;
    if (head < 0 || PQgetisnull(r, head, 1))
        goto done; /* not a live event */
    uint64_t index = strtoull(PQgetvalue(r, head, 1), NULL, 10);
    adb__fmt(uuid, 37, "%s", PQgetvalue(r, head, 2));
    if (PQgetisnull(r, head, 3) ||
        (PQgetvalue(r, head, 5)[0] == 't' && atoi(PQgetvalue(r, head, 4)) == 0))
        goto done; /* not (cosigned) in a checkpoint yet */
    const char *note = PQgetvalue(r, head, 3);
    size_t note_len = (size_t)PQgetlength(r, head, 3);
    uint8_t entry[48], id16[16];
    adb__note n;
    adb__checkpoint_body body;
    char why[256];
    /* the entry from the row (its id and stored hash); the leaf in the tile
     * below must be its hash, else (a legacy import, whose content hash is not
     * the stored one, or a row that disagrees with its tree) the long path */
    if (PQgetisnull(r, head, 6) ||
        !adb__tree_entry_from_text(uuid, PQgetvalue(r, head, 6), entry) ||
        !uuid_bytes(uuid, id16) || memcmp(entry, id16, 16) != 0)
        goto done;
    if (adb__note_parse(note, note_len, &n, why, sizeof(why)) != ADB_OK ||
        adb__checkpoint_body_parse(n.text, n.text_len, &body, why, sizeof(why)) != ADB_OK ||
        index >= body.size)
        goto done;
    if (!(rd = adb__tile_reader_new(NULL, org)) ||
        !(buf = malloc((size_t)ADB_TILE_WIDTH * 32)))
        goto done;
    for (int i = 0; i < PQntuples(r); i++) {
        if (i == head || PQgetisnull(r, i, 7) || PQgetisnull(r, i, 9))
            continue;
        unsigned level = (unsigned)atoi(PQgetvalue(r, i, 7));
        uint64_t tindex = strtoull(PQgetvalue(r, i, 8), NULL, 10);
        long len = unhex_bytea(PQgetvalue(r, i, 9), buf, (size_t)ADB_TILE_WIDTH * 32);
        if (len <= 0 || len % 32 || level > ADB_TILE_MAX_LEVEL ||
            !adb__tile_reader_put(rd, level, tindex, buf, (unsigned)(len / 32)))
            goto done;
        adb__tile_cache_put(tc, org, level, tindex, buf, (unsigned)(len / 32));
    }
    for (unsigned l = 0; l < 7; l++) { /* levels 0-6 (as the statement) */
        uint64_t want[2] = { index >> (8 * l + 8), body.size >> (8 * l + 8) };
        unsigned w;
        for (int k = 0; k < 2; k++)
            if (adb__tile_cache_get(tc, org, l, want[k], buf, &w) &&
                !adb__tile_reader_put(rd, l, want[k], buf, w))
                goto done;
    }
    uint8_t leaf[32], stored[32];
    adb__merkle_leaf_hash(entry, sizeof(entry), leaf);
    if (adb__tile_reader_get(rd, 0, index, stored) != ADB_OK || memcmp(leaf, stored, 32) != 0)
        goto done;
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t np = 0;
    if (adb__merkle_inclusion_proof(adb__tile_reader_get, rd, index, body.size, proof, &np) !=
        ADB_OK)
        goto done; /* a tile not brought: the long path reads it */
    if ((*receipt = adb__receipt_format(entry, index, proof, np, note, note_len, rlen)))
        out = true;
done:
    free(buf);
    adb__tile_reader_done(rd);
    PQclear(r);
    return out;
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
    if (fast_receipt(req, &ref, uuid, &receipt, &rlen))
        goto send;
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
send:
    /* a file name for clients that save it (C2SP: ".tlog-proof") */
    req->extra_header[0] = "Content-Disposition";
    if ((req->extra_value[0] = malloc(96)))
        adb__fmt(req->extra_value[0], 96, "attachment; filename=\"%s.tlog-proof\"", uuid);
    res = adb_http_send_text(req, MHD_HTTP_OK, receipt, rlen, "text/plain; charset=utf-8");
    return res;
}
