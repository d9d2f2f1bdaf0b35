/*
 * provenance.c - the checkpoint a report read, the consistency proof from
 * the previous report's, and the note text signed over the artifact
 * (provenance.h; docs/reports.md, "Provenance").
 */
#include "provenance.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../log/note.h"
#include "../log/tiles.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static void b64(const uint8_t h[32], char out[45])
{
    adb__note_b64_encode(h, 32, out);
}

adb_status adb__report_provenance(adb__report_ctx *x, adb__report_prov *p)
{
    adb *h = x->h;
    const char *org = x->rq->org;
    const adb__note_signer *sg = x->rq->signer ? x->rq->signer : adb__db_log_signer(h);
    const char *log_name = sg ? sg->name : h->o.log_name ? h->o.log_name : "auditdb";
    char e[256];
    adb_status st;

    memset(p, 0, sizeof(*p));
    p->consistent = true;
    if (!adb__checkpoint_origin(log_name, org, p->origin, sizeof(p->origin))) {
        adb__fmt(x->err, x->errlen, "the organization's checkpoint origin is too long");
        return ADB_ERR_INVALID;
    }
    st = adb__tree_head(x->c, org, &p->size, p->root, e, sizeof(e));
    if (st == ADB_ERR_NOT_FOUND) { /* no event ever: the empty tree */
        p->size = 0;
        SHA256((const unsigned char *)"", 0, p->root);
    } else if (st != ADB_OK) {
        adb__fmt(x->err, x->errlen, "could not read the organization's tree head: %s", e);
        return st;
    }
    /* the previous completed report of the same schedule, else of the same type on demand */
    const char *pp[] = { org, x->rq->scheduled_report_id, x->rq->type };
    PGresult *r = PQexecParams(x->c,
                               "SELECT id, tree_size::text, tree_root FROM compliance_reports"
                               " WHERE organization_id = $1 AND status = 'completed'"
                               " AND tree_size IS NOT NULL AND CASE WHEN $2::text IS NOT NULL"
                               " THEN scheduled_report_id = $2 ELSE scheduled_report_id IS NULL"
                               " AND report_type = $3 END"
                               " ORDER BY completed_at DESC, created_at DESC LIMIT 1",
                               3, NULL, pp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        adb__rq_db_error(x->c, "read the previous report's checkpoint", x->err, x->errlen);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) == 1) {
        const char *root = PQgetvalue(r, 0, 2);
        p->has_prev = true;
        adb__fmt(p->prev_id, sizeof(p->prev_id), "%s", PQgetvalue(r, 0, 0));
        p->prev_size = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        if (adb__note_b64_decode(root, strlen(root), p->prev_root, 32) != 32)
            p->consistent = false;
    }
    PQclear(r);
    if (p->has_prev && p->consistent) {
        if (p->prev_size > p->size) {
            p->consistent = false; /* the log shrank since the previous report */
        } else if (p->prev_size > 0 && p->prev_size < p->size) {
            st = adb__tree_consistency_proof(x->c, org, p->prev_size, p->size, p->proof,
                                             &p->nproof, e, sizeof(e));
            if (st != ADB_OK) {
                adb__fmt(x->err, x->errlen, "could not prove consistency with the previous "
                         "report: %s", e);
                return st;
            }
            p->consistent = adb__merkle_verify_consistency(p->prev_size, p->size, p->prev_root,
                                                           p->root, p->proof, p->nproof);
        } else if (p->prev_size == p->size) {
            p->consistent = !memcmp(p->prev_root, p->root, 32);
        }
    }
    char rb[45], pb[45];
    b64(p->root, rb);
    json_t *proof = json_array();
    for (size_t i = 0; i < p->nproof; i++) {
        char hb[45];
        b64(p->proof[i], hb);
        json_array_append_new(proof, json_string(hb));
    }
    json_t *prev = json_null();
    if (p->has_prev) {
        b64(p->prev_root, pb);
        prev = json_pack("{s:s, s:I, s:s}", "reportId", p->prev_id, "treeSize",
                         (json_int_t)p->prev_size, "rootHash", pb);
    }
    char vkey[ADB_NOTE_VKEY_MAX] = "";
    const adb__note_signer *s = sg;
    if (s) {
        adb__note_verifier v;
        adb__note_signer_verifier(s, &v);
        if (!adb__note_vkey_format(&v, vkey, sizeof(vkey)))
            vkey[0] = '\0';
    }
    json_t *pv = json_pack(
        "{s:[{s:s, s:I, s:s}], s:o, s:o, s:b, s:{s:I, s:I}, s:s*, s:s}", "checkpoints", "origin",
        p->origin, "treeSize", (json_int_t)p->size, "rootHash", rb, "previous", prev,
        "consistencyProof", proof, "consistent", p->consistent, "covers", "fromTreeSize",
        (json_int_t)(p->has_prev ? p->prev_size : 0), "toTreeSize", (json_int_t)p->size,
        "logKey", vkey[0] ? vkey : NULL, "signature",
        "a C2SP signed note over the artifact's SHA-256 (GET .../{id}/status: signedNote)");
    if (!pv) {
        adb__fmt(x->err, x->errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    json_object_set_new(x->doc, "provenance", pv);
    return ADB_OK;
}

char *adb__report_note_text(const adb__report_prov *p, const char *report_id, const char *type,
                            const char *start, const char *end, const char *sha256_hex)
{
    adb__buf b = { 0 };
    char rb[45];
    b64(p->root, rb);
    adb__buf_printf(&b, ADB_REPORT_NOTE_HEADER "\norigin %s\nreport %s\ntype %s\nperiod %s %s\n"
                        "sha256 %s\ncheckpoint %llu %s\n",
                    p->origin, report_id, type, start, end, sha256_hex,
                    (unsigned long long)p->size, rb);
    if (p->has_prev) {
        b64(p->prev_root, rb);
        adb__buf_printf(&b, "previous %s %llu %s\n", p->prev_id, (unsigned long long)p->prev_size,
                        rb);
        for (size_t i = 0; i < p->nproof; i++) {
            b64(p->proof[i], rb);
            adb__buf_printf(&b, "proof %s\n", rb);
        }
    }
    return adb__buf_take(&b, NULL);
}

/* The next line of [*s, end) without its '\n' into line (cap); false at the
 * end or for a line without '\n' or too long. */
static bool next_line(const char **s, const char *end, char *line, size_t cap)
{
    const char *nl = memchr(*s, '\n', (size_t)(end - *s));
    if (!nl || (size_t)(nl - *s) >= cap)
        return false;
    memcpy(line, *s, (size_t)(nl - *s));
    line[nl - *s] = '\0';
    *s = nl + 1;
    return true;
}

static bool word(const char *line, const char *key, const char **rest)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) || line[n] != ' ')
        return false;
    *rest = line + n + 1;
    return true;
}

static bool size_root(const char *s, uint64_t *size, uint8_t root[32])
{
    char *sp;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != ' '))
        return false;
    unsigned long long v = strtoull(s, &sp, 10);
    if (*sp != ' ' || v > INT64_MAX)
        return false;
    *size = v;
    return adb__note_b64_decode(sp + 1, strlen(sp + 1), root, 32) == 32;
}

static bool copy_token(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (!n || n >= cap || strchr(s, ' '))
        return false;
    memcpy(out, s, n + 1);
    return true;
}

adb_status adb__report_note_parse(const char *text, size_t len, adb__report_note *n, char *err,
                                  size_t errlen)
{
    const char *s = text, *end = text + len, *rest;
    char line[1200];
    memset(n, 0, sizeof(*n));
    n->prov.consistent = true;
#define BAD(why)                                  \
    do {                                          \
        adb__fmt(err, errlen, "the report note %s", why); \
        return ADB_ERR_INVALID;                   \
    } while (0)
    if (!next_line(&s, end, line, sizeof(line)) || strcmp(line, ADB_REPORT_NOTE_HEADER))
        BAD("does not start with " ADB_REPORT_NOTE_HEADER);
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "origin", &rest) ||
        !copy_token(rest, n->origin, sizeof(n->origin)))
        BAD("has no origin line");
    memcpy(n->prov.origin, n->origin, sizeof(n->origin));
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "report", &rest) ||
        !copy_token(rest, n->report_id, sizeof(n->report_id)))
        BAD("has no report line");
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "type", &rest) ||
        !copy_token(rest, n->type, sizeof(n->type)))
        BAD("has no type line");
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "period", &rest))
        BAD("has no period line");
    const char *sp = strchr(rest, ' ');
    if (!sp || (size_t)(sp - rest) >= sizeof(n->start) || strlen(sp + 1) >= sizeof(n->end) ||
        !sp[1] || strchr(sp + 1, ' '))
        BAD("has a malformed period line");
    memcpy(n->start, rest, (size_t)(sp - rest));
    memcpy(n->end, sp + 1, strlen(sp + 1) + 1);
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "sha256", &rest) ||
        strlen(rest) != 64 || strspn(rest, "0123456789abcdef") != 64)
        BAD("has no sha256 line of 64 lowercase hex digits");
    memcpy(n->sha256, rest, 65);
    if (!next_line(&s, end, line, sizeof(line)) || !word(line, "checkpoint", &rest) ||
        !size_root(rest, &n->prov.size, n->prov.root))
        BAD("has no checkpoint line (size and base64 root)");
    if (s < end) {
        if (!next_line(&s, end, line, sizeof(line)) || !word(line, "previous", &rest))
            BAD("has an unknown line after the checkpoint");
        sp = strchr(rest, ' ');
        if (!sp || (size_t)(sp - rest) >= sizeof(n->prov.prev_id) ||
            !size_root(sp + 1, &n->prov.prev_size, n->prov.prev_root))
            BAD("has a malformed previous line");
        memcpy(n->prov.prev_id, rest, (size_t)(sp - rest));
        n->prov.has_prev = true;
        while (s < end) {
            if (n->prov.nproof >= ADB_MERKLE_MAX_PROOF)
                BAD("has too many proof lines");
            if (!next_line(&s, end, line, sizeof(line)) || !word(line, "proof", &rest) ||
                adb__note_b64_decode(rest, strlen(rest), n->prov.proof[n->prov.nproof], 32) != 32)
                BAD("has a malformed proof line");
            n->prov.nproof++;
        }
    }
#undef BAD
    return ADB_OK;
}
