/*
 * row.c - recomputes the hash, signature and chain link of a stored row
 * given as its 24 strings (docs/integrity.md).
 */
#include "row.h"
#include "commit.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

const char *const adb__row_names[ADB__ROW_NCOLS] = {
    "id", "timestamp", "ttl", "principal_id", "organization_id", "action",
    "target_resource_type", "target_resource_id", "status", "outcome_description", "hash",
    "hash_algorithm", "signature", "event_version", "correlation_id", "data_classification",
    "retention_policy", "details", "chain_seq", "prev_chain_hash", "chain_hash", "event_id",
    "commit_key", "commit_field_keys",
};

/* The row column of each event field. */
static const adb__row_col field_col[ADB_F__COUNT] = {
    [ADB_F_ACTION] = ADB_COL_ACTION,
    [ADB_F_STATUS] = ADB_COL_STATUS,
    [ADB_F_PRINCIPAL_ID] = ADB_COL_PRINCIPAL_ID,
    [ADB_F_ORGANIZATION_ID] = ADB_COL_ORGANIZATION_ID,
    [ADB_F_TARGET_RESOURCE_TYPE] = ADB_COL_TARGET_RESOURCE_TYPE,
    [ADB_F_TARGET_RESOURCE_ID] = ADB_COL_TARGET_RESOURCE_ID,
    [ADB_F_OUTCOME_DESCRIPTION] = ADB_COL_OUTCOME_DESCRIPTION,
    [ADB_F_CORRELATION_ID] = ADB_COL_CORRELATION_ID,
    [ADB_F_DATA_CLASSIFICATION] = ADB_COL_DATA_CLASSIFICATION,
    [ADB_F_RETENTION_POLICY] = ADB_COL_RETENTION_POLICY,
    [ADB_F_EVENT_VERSION] = ADB_COL_EVENT_VERSION,
    [ADB_F_HASH_ALGORITHM] = ADB_COL_HASH_ALGORITHM,
    [ADB_F_TTL] = ADB_COL_TTL,
};

/* Builds the event the row stores into ev (ev->details malloc()ed):
 * 1, 0 unreadable (out->why), -1 out of memory. */
int adb__row_event(const char *const v[ADB__ROW_NCOLS], adb__event *ev, adb__row_expect *out)
{
    const char *ts = v[ADB_COL_TIMESTAMP], *details = v[ADB_COL_DETAILS];

    memset(ev, 0, sizeof(*ev));
    for (int f = 0; f < ADB_F__COUNT; f++)
        ev->f[f] = (char *)v[field_col[f]];
    if (!ts || !adb__timestamp_parse(ts, strlen(ts), &ev->ts_us)) {
        adb__fmt(out->why, sizeof(out->why), "no readable timestamp");
        return 0;
    }
    adb__timestamp_format(ev->ts_us, ev->ts_text);
    adb__fmt(ev->event_id, sizeof(ev->event_id), "%s", v[ADB_COL_EVENT_ID] ? v[ADB_COL_EVENT_ID] : "");
    if (details) {
        adb_json_error je;
        adb_json_doc *doc = adb__json_parse(details, strlen(details), NULL, &je);
        size_t cap = 0;
        if (!doc) {
            adb__fmt(out->why, sizeof(out->why), "details unreadable: %s", je.message);
            return je.code == ADB_JSON_ERR_NOMEM ? -1 : 0;
        }
        bool ok = adb__json_write_canonical(adb__json_root(doc), &ev->details, &ev->details_len, &cap);
        adb__json_free(doc);
        if (!ok)
            return -1;
    }
    return 1;
}

/* The v3 keys of a row: its commit_key (64 hex) into key, its
 * commit_field_keys parsed into *doc. */
static bool row_keys(const char *const v[ADB__ROW_NCOLS], unsigned char key[32], bool *has_key,
                     adb_json_doc **doc)
{
    const char *hex = v[ADB_COL_COMMIT_KEY], *fk = v[ADB_COL_COMMIT_FIELD_KEYS];

    *has_key = false;
    *doc = NULL;
    if (hex && strlen(hex) == 64) {
        *has_key = true;
        for (int i = 0; i < 32 && *has_key; i++) {
            int hi = adb__hexval(hex[2 * i]), lo = adb__hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                *has_key = false;
            else
                key[i] = (unsigned char)(hi << 4 | lo);
        }
    }
    if (fk) {
        adb_json_error je;
        *doc = adb__json_parse(fk, strlen(fk), NULL, &je);
        if (!*doc && je.code == ADB_JSON_ERR_NOMEM)
            return false;
    }
    return true;
}

int adb__row_recompute_erased(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                              const adb__erased *erased, size_t nerased, adb__row_expect *out)
{
    const char *alg = v[ADB_COL_HASH_ALGORITHM], *org = v[ADB_COL_ORGANIZATION_ID];
    const char *seq = v[ADB_COL_CHAIN_SEQ], *prev = v[ADB_COL_PREV_CHAIN_HASH];
    adb__event ev;
    size_t len;
    char *canon;
    int rc;
    unsigned char key[32];
    bool has_key;
    adb_json_doc *fk = NULL;
    bool v3 = alg && !strcmp(alg, ADB_HASH_ALG_C14N);

    memset(out, 0, sizeof(*out));
    if ((rc = adb__row_event(v, &ev, out)) != 1) {
        free(ev.details);
        return rc;
    }
    if (v3 && !row_keys(v, key, &has_key, &fk)) {
        free(ev.details);
        return -1;
    }
    adb__commit_src src = { .event_key = v3 && has_key ? key : NULL,
                            .field_keys = fk && adb__json_root(fk)->type == ADB_JSON_OBJECT
                                              ? adb__json_root(fk) : NULL,
                            .erased = erased, .nerased = nerased };
    canon = adb__canonical_src(&ev, &src, &len);
    adb__json_free(fk);
    memset(key, 0, sizeof(key));
    if (!canon) {
        free(ev.details);
        return -1;
    }
    if (v3) {
        out->key_erased = !has_key;
        out->keyless = src.keyless;
        memcpy(out->keyless_field, src.keyless_field, sizeof(out->keyless_field));
        out->recorded = src.recorded;
        out->field_keys = src.field_keys != NULL;
        out->unrecorded = src.unrecorded;
        memcpy(out->unrecorded_field, src.unrecorded_field, sizeof(out->unrecorded_field));
    }
    adb__sha256_hex(canon, len, out->content);
    free(canon);
    if (alg && !strcmp(alg, ADB_HASH_ALG_LEGACY)) {
        if (!(canon = adb__legacy_canonical(&ev, &len))) {
            free(ev.details);
            return -1;
        }
        adb__sha256_hex(canon, len, out->hash);
        free(canon);
    } else {
        memcpy(out->hash, out->content, sizeof(out->hash));
    }
    free(ev.details);
    /* the id: ours covered by the hash since sha256-c14n-v2, else derived */
    if (adb__hash_alg_binds_id(alg))
        memcpy(out->event_id, ev.event_id, sizeof(out->event_id));
    else
        adb__event_id_derive(ev.ts_us, v[ADB_COL_CHAIN_HASH], out->event_id);
    adb__signature(k, v[ADB_COL_HASH] ? v[ADB_COL_HASH] : "", out->signature);
    adb__chain_link(k, org ? org : "", seq ? strtoll(seq, NULL, 10) : 0, prev ? prev : "",
                    out->content, out->link);
    return 1;
}

int adb__row_recompute(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                       adb__row_expect *out)
{
    return adb__row_recompute_erased(k, v, NULL, 0, out);
}

void adb__row_expect_residual(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                              const char original[65], adb__row_expect *out)
{
    const char *org = v[ADB_COL_ORGANIZATION_ID], *seq = v[ADB_COL_CHAIN_SEQ];
    const char *prev = v[ADB_COL_PREV_CHAIN_HASH];

    memcpy(out->content, original, 65);
    adb__fmt(out->hash, sizeof(out->hash), "%s", v[ADB_COL_HASH] ? v[ADB_COL_HASH] : "");
    adb__chain_link(k, org ? org : "", seq ? strtoll(seq, NULL, 10) : 0, prev ? prev : "",
                    out->content, out->link);
    out->recorded = 1;
}
