/*
 * report_integrity.c - integrity verification (INTEGRITY_VERIFICATION), in
 * the client's IntegrityVerificationReport shape: the organization's whole
 * chain walked by adb_verify (live and archived events: every canonical
 * hash, signature, chain link and sequence number recomputed, the tree and
 * the checkpoint files checked: what `auditdb verify` does, not a reading
 * of stored results), lawful erasures named with their records, and every
 * signed checkpoint of the organization checked: its signature under the
 * log key and its root against the tree recomputed at its size.
 * docs/reports.md, "Report types".
 */
#include "report_types.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../log/note.h"
#include "../log/tiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAILURES_MAX 1000

typedef struct walk {
    json_t *failures;   /* the client's IntegrityFailure objects */
    json_t *broken;     /* event ids of broken events (first 26) */
    json_t *erasures;   /* table rows */
    json_t *erased_ids;
    long long nfail;
    char last_eid[37];
} walk;

static const char *severity_of(const char *kind)
{
    if (!strcmp(kind, "hash_mismatch") || !strcmp(kind, "signature_invalid") ||
        !strcmp(kind, "missing_events") || !strcmp(kind, "missing_tail") ||
        !strcmp(kind, "chain_break"))
        return "CRITICAL";
    if (!strcmp(kind, "chain_link_mismatch") || !strcmp(kind, "duplicate_seq") ||
        !strcmp(kind, "archive_mismatch"))
        return "HIGH";
    return "MEDIUM";
}

static void on_problem(void *ud, const adb_verify_problem *p)
{
    walk *w = ud;
    w->nfail++;
    if (json_array_size(w->failures) < FAILURES_MAX)
        json_array_append_new(
            w->failures,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "eventId",
                      p->event_id[0] ? p->event_id : "", "timestamp", "", "expectedHash",
                      p->expected, "actualHash", p->found, "hashAlgorithm", "SHA-256",
                      "failureReason", p->message, "severity", severity_of(p->kind), "chainSeq",
                      (json_int_t)p->chain_seq));
    /* one entry per broken event */
    if (p->event_id[0] && strcmp(p->event_id, w->last_eid) &&
        json_array_size(w->broken) <= ADB_REPORT_SMALL_COUNT) {
        json_array_append_new(w->broken, json_string(p->event_id));
        memcpy(w->last_eid, p->event_id, sizeof(w->last_eid));
    }
}

static void on_erasure(void *ud, const adb_verify_erasure *e)
{
    walk *w = ud;
    if (json_array_size(w->erasures) < ADB_REPORT_TABLE_ROWS)
        json_array_append_new(w->erasures,
                              json_pack("[s, s, s, s, s, s]", e->event_id ? e->event_id : "",
                                        e->field ? e->field : "",
                                        e->request_id ? e->request_id : "",
                                        e->legal_basis ? e->legal_basis : "",
                                        e->erased_at ? e->erased_at : "",
                                        e->archive ? e->archive : "live"));
    if (e->event_id && json_array_size(w->erased_ids) <= ADB_REPORT_SMALL_COUNT) {
        size_t n = json_array_size(w->erased_ids);
        const char *last = n ? json_string_value(json_array_get(w->erased_ids, n - 1)) : NULL;
        if (!last || strcmp(last, e->event_id))
            json_array_append_new(w->erased_ids, json_string(e->event_id));
    }
}

static json_t *figure(const char *id, const char *label, long long v, const char *how,
                      json_t *events)
{
    json_t *f = json_pack("{s:s, s:s, s:I, s:s}", "id", id, "label", label, "value",
                          (json_int_t)v, "query", how);
    if (f && events && v <= ADB_REPORT_SMALL_COUNT)
        json_object_set(f, "events", events);
    return f;
}

/* Every signed checkpoint of the organization: signature under the log key
 * and root against the tree at its size. */
static adb_status checkpoints(adb__report_ctx *x, long long *n, long long *valid, json_t *rows)
{
    const adb__note_signer *s = x->rq->signer ? x->rq->signer : adb__db_log_signer(x->h);
    adb__note_verifier v;
    const char *p[] = { x->rq->org };
    if (s)
        adb__note_signer_verifier(s, &v);
    PGresult *r = PQexecParams(x->c,
                               "SELECT tree_size::text, note FROM log_checkpoint"
                               " WHERE organization_id = $1 ORDER BY tree_size",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        adb__rq_db_error(x->c, "read the organization's checkpoints", x->err, x->errlen);
        return ADB_ERR_DB_QUERY;
    }
    *n = PQntuples(r);
    *valid = 0;
    uint64_t head = 0;
    uint8_t head_root[32];
    char e[256];
    bool have_head = adb__tree_head(x->c, x->rq->org, &head, head_root, e, sizeof(e)) == ADB_OK;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *note = PQgetvalue(r, i, 1);
        adb__note pn;
        adb__checkpoint_body cb;
        size_t cnt = 0;
        const char *why = NULL;
        uint8_t root[32];
        if (!s)
            why = "no log key to verify with";
        else if (adb__note_verify(note, strlen(note), &v, 1, &pn, NULL, NULL, &cnt, e,
                                  sizeof(e)) != ADB_OK || cnt != 1)
            why = "signature invalid";
        else if (adb__checkpoint_body_parse(pn.text, pn.text_len, &cb, e, sizeof(e)) != ADB_OK)
            why = "body unreadable";
        else if (cb.size != strtoull(PQgetvalue(r, i, 0), NULL, 10))
            why = "size differs from its row";
        else if (!have_head || cb.size > head)
            why = "larger than the tree";
        else if (adb__tree_root_at(x->c, x->rq->org, cb.size, root, e, sizeof(e)) != ADB_OK)
            why = "tree unreadable at its size";
        else if (memcmp(root, cb.root, 32))
            why = "root differs from the tree recomputed at its size";
        if (!why)
            (*valid)++;
        if (json_array_size(rows) < ADB_REPORT_TABLE_ROWS)
            json_array_append_new(rows, json_pack("[I, s]", (json_int_t)strtoll(PQgetvalue(r, i, 0),
                                                                               NULL, 10),
                                                  why ? why : "valid"));
        if (i % 64 == 63 && adb__report_stop(x)) {
            PQclear(r);
            return ADB_ERR_BUSY;
        }
    }
    PQclear(r);
    return ADB_OK;
}

adb_status adb__report_integrity(adb__report_ctx *x)
{
    adb *h = x->h;
    walk w = { json_array(), json_array(), json_array(), json_array(), 0, "" };
    adb_verify_summary sum;
    char dir[1024] = "", vkey[ADB_NOTE_VKEY_MAX] = "", verr[ADB_ERRMSG_MAX], by[128];
    const adb__note_signer *s = x->rq->signer ? x->rq->signer : adb__db_log_signer(h);
    adb_status st;
    double t0 = adb__now_ms();

    if (h->o.checkpoint_dir)
        adb__fmt(dir, sizeof(dir), "%s", h->o.checkpoint_dir);
    else if (h->o.home)
        adb__fmt(dir, sizeof(dir), "%s/checkpoints", h->o.home);
    if (s) {
        adb__note_verifier v;
        adb__note_signer_verifier(s, &v);
        if (!adb__note_vkey_format(&v, vkey, sizeof(vkey)))
            vkey[0] = '\0';
    }
    adb__fmt(by, sizeof(by), "report %s", x->report_id ? x->report_id : "");
    adb_verify_options vo = { .organization_id = x->rq->org, .record = true, .verified_by = by,
                              .on_problem = on_problem, .on_erasure = on_erasure, .ud = &w,
                              .checkpoint_dir = dir[0] ? dir : NULL,
                              .log_vkey = vkey[0] ? vkey : NULL };
    memset(&sum, 0, sizeof(sum));
    st = adb_verify(h, &vo, &sum, verr, sizeof(verr));
    if (st != ADB_OK) {
        adb__fmt(x->err, x->errlen, "could not verify the organization's events: %s", verr);
        goto out;
    }
    if (adb__report_step(x, 60, "events verified")) {
        st = ADB_ERR_BUSY;
        goto out;
    }
    long long ncp = 0, cpvalid = 0;
    json_t *cprows = json_array();
    if ((st = checkpoints(x, &ncp, &cpvalid, cprows)) != ADB_OK) {
        json_decref(cprows);
        goto out;
    }
    x->records = sum.events;
    long long valid = sum.events - sum.broken_events;
    static const char how[] =
        "adb_verify over the organization's whole chain, live and archived (auditdb verify "
        "--org): each event's canonical form, SHA-256 hash, HMAC signature, chain link and "
        "sequence recomputed from its stored row";
    static const char cphow[] =
        "SELECT tree_size, note FROM log_checkpoint WHERE organization_id = $1: each note's "
        "signature verified with the log key and its root compared with the tree's root "
        "recomputed at its size";
    json_array_append_new(x->figures, figure("eventsChecked", "Events checked", sum.events, how, NULL));
    json_array_append_new(x->figures, figure("eventsValid", "Events valid", valid, how, NULL));
    json_array_append_new(x->figures,
                          figure("eventsBroken", "Events with a problem", sum.broken_events, how,
                                 w.broken));
    json_array_append_new(x->figures, figure("problems", "Problems found", sum.problems, how, NULL));
    json_array_append_new(x->figures,
                          figure("eventsErased", "Events with personal data lawfully erased",
                                 sum.erased_events, how, w.erased_ids));
    json_array_append_new(x->figures,
                          figure("checkpointsChecked", "Signed checkpoints checked", ncp, cphow, NULL));
    json_array_append_new(x->figures,
                          figure("checkpointsValid", "Signed checkpoints valid", cpvalid, cphow, NULL));

    static const char *const ecols[] = { "eventId", "field", "requestId", "legalBasis",
                                         "erasedAt", "archive" };
    static const char *const ccols[] = { "treeSize", "result" };
    static const char *const fcols[] = { "eventId", "chainSeq", "severity", "reason" };
    json_t *ec = json_array(), *cc = json_array(), *fc = json_array(), *frows = json_array();
    for (size_t k = 0; k < 6; k++)
        json_array_append_new(ec, json_string(ecols[k]));
    for (size_t k = 0; k < 2; k++)
        json_array_append_new(cc, json_string(ccols[k]));
    for (size_t k = 0; k < 4; k++)
        json_array_append_new(fc, json_string(fcols[k]));
    size_t i;
    json_t *f;
    json_array_foreach(w.failures, i, f)
    {
        json_array_append_new(frows,
                              json_pack("[O, O, O, O]", json_object_get(f, "eventId"),
                                        json_object_get(f, "chainSeq"),
                                        json_object_get(f, "severity"),
                                        json_object_get(f, "failureReason")));
    }
    json_array_append_new(x->tables, json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", "failures",
                                               "title", "Problems found", "columns", fc, "rows",
                                               frows, "query", how));
    json_array_append_new(x->tables, json_pack("{s:s, s:s, s:o, s:O, s:s}", "id", "erasures",
                                               "title", "Lawful erasures (signed records)",
                                               "columns", ec, "rows", w.erasures, "query", how));
    json_array_append_new(x->tables, json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", "checkpoints",
                                               "title", "Signed checkpoints", "columns", cc,
                                               "rows", cprows, "query", cphow));
    json_array_append_new(
        x->charts,
        json_pack("{s:s, s:s, s:s, s:[s, s, s], s:[{s:s, s:[I, I, I]}], s:s}", "id", "eventStates",
                  "title", "Events by verification result", "kind", "bar", "labels", "valid",
                  "broken", "erased", "series", "name", "events", "values", (json_int_t)valid,
                  (json_int_t)sum.broken_events, (json_int_t)sum.erased_events, "query", how));

    double rate = sum.events ? 100.0 * (double)valid / (double)sum.events : 100.0;
    double ms = adb__now_ms() - t0;
    double per = sum.events ? ms / (double)sum.events : 0;
    char line[160];
    adb__fmt(line, sizeof(line), "%lld/%lld events valid, %lld/%lld checkpoints valid", valid,
             sum.events, cpvalid, ncp);
    json_object_set_new(x->doc, "verificationId", json_string(x->report_id ? x->report_id : ""));
    json_object_set_new(x->doc, "verifiedAt", json_deep_copy(json_object_get(x->doc, "generatedAt")));
    json_object_set_new(x->doc, "verifiedBy", json_string(x->rq->generated_by ? x->rq->generated_by
                                                                             : "auditdb"));
    json_object_set_new(
        x->doc, "results",
        json_pack("{s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:s, s:b}", "totalEvents",
                  (json_int_t)sum.events, "verifiedEvents", (json_int_t)valid,
                  "failedVerifications", (json_int_t)sum.broken_events, "unverifiedEvents",
                  (json_int_t)0, "verificationRate", rate, "checkpointsChecked", (json_int_t)ncp,
                  "checkpointsValid", (json_int_t)cpvalid, "statement", line, "valid",
                  sum.problems == 0 && cpvalid == ncp));
    json_object_set_new(x->doc, "failures", w.failures);
    w.failures = NULL;
    json_object_set_new(x->doc, "statistics",
                        json_pack("{s:{s:I}, s:{s:f, s:f, s:f}}", "hashAlgorithms", "SHA-256",
                                  (json_int_t)sum.events, "verificationLatency", "average", per,
                                  "median", per, "p95", per));
    json_object_set_new(x->doc, "summary",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "totalEvents",
                                  (json_int_t)sum.events, "validEvents", (json_int_t)valid,
                                  "brokenEvents", (json_int_t)sum.broken_events, "erasedEvents",
                                  (json_int_t)sum.erased_events, "checkpoints", (json_int_t)ncp,
                                  "validCheckpoints", (json_int_t)cpvalid, "statement", line));
    st = ADB_OK;
out:
    json_decref(w.failures);
    json_decref(w.broken);
    json_decref(w.erasures);
    json_decref(w.erased_ids);
    return st;
}
