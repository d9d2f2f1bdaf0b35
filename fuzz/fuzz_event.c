/*
 * fuzz_event.c - libFuzzer target over the whole ingest path that needs no
 * database: parse -> validate -> canonical form -> hash and signature.
 * Invariants checked (abort on violation):
 *  - a sealed event's canonical form is valid JSON that our parser accepts;
 *  - details re-parsed and re-written canonically give the same bytes;
 *  - the hash is the SHA-256 of the canonical form.
 */
#include "auditdb.h"
#include "core/util.h"
#include "event/event.h"
#include "event/json.h"
#include "integrity/integrity.h"

#include <stdlib.h>
#include <string.h>

static adb__keys keys;
static int keys_ready;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    adb_json_limits lim = { .max_depth = 16, .max_string = 65536, .max_items = 1000,
                            .max_number_len = 100, .max_nodes = 10000 };
    adb_json_error je;
    adb_event_errors errs;
    adb__validation v;
    adb_json_doc *doc;
    adb__event *ev;

    if (!keys_ready) {
        if (!adb__keys_derive((const unsigned char *)"fuzz-key-fuzz-key-fuzz-key-fuzz-key", 35, &keys))
            abort();
        keys_ready = 1;
    }
    doc = adb__json_parse((const char *)data, size, &lim, &je);
    if (!doc)
        return 0;
    adb__validation_default(&v);
    v.now_us = 1706700000LL * 1000000;
    v.max_past_us = INT64_C(4000) * 365 * 86400 * 1000000; /* let any year through */
    v.allow_legacy_hash = size % 2;
    ev = adb__event_from_json(adb__json_root(doc), NULL, &v, &errs);
    adb__json_free(doc);
    if (!ev)
        return 0;
    if (adb__event_seal(ev, &keys, &errs)) {
        size_t len;
        char *c = adb__canonical(ev, &len), hex[65];
        if (!c)
            abort();
        adb_json_doc *again = adb__json_parse(c, len, NULL, &je);
        if (!again)
            abort(); /* the canonical form must itself be valid JSON */
        adb__json_free(again);
        adb__sha256_hex(c, len, hex);
        if (strcmp(hex, ev->content_hash) != 0)
            abort();
        free(c);
        if (ev->details) {
            adb_json_doc *d = adb__json_parse(ev->details, ev->details_len, NULL, &je);
            char *buf = NULL;
            size_t blen = 0, cap = 0;
            if (!d || !adb__json_write_canonical(adb__json_root(d), &buf, &blen, &cap) ||
                blen != ev->details_len || memcmp(buf, ev->details, blen) != 0)
                abort(); /* canonical details must be a fixed point */
            free(buf);
            adb__json_free(d);
        }
    }
    adb__event_free(ev);
    return 0;
}
