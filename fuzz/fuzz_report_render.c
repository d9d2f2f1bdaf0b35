/*
 * fuzz_report_render.c - the report renderers (src/report/render*.c) on any
 * document: whatever JSON the bytes are, every format either renders or
 * refuses with a reason and nothing written, a document one format takes
 * every format takes (but for the PDF's row cap), and CSV and XML are the
 * same bytes twice. The PDF is drawn for documents up to 4 KiB (cairo is
 * slow for the fuzzer's pace, and the larger ones add nothing it checks).
 */
#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const formats[] = { "json", "csv", "xml", "pdf" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    if (!doc)
        return 0;
    int accepted = -1;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (i == 3 && size > 4096)
            break;
        adb__buf a = { 0 }, b = { 0 };
        const char *ct = "unset";
        char err[256] = "";
        adb_status st = adb__report_render(doc, formats[i], &a, &ct, err, sizeof err);
        if (st != ADB_OK && (a.len != 0 || !err[0] || ct != NULL))
            abort(); /* a refusal writes nothing and says why */
        if (st == ADB_OK && (!ct || a.len == 0))
            abort();
        if (st != ADB_OK && st != ADB_ERR_INVALID)
            abort();
        int ok = st == ADB_OK;
        if (accepted < 0)
            accepted = ok;
        else if (accepted != ok)
            abort(); /* the same document for every format */
        if (ok && i != 3) {
            if (adb__report_render(doc, formats[i], &b, &ct, err, sizeof err) != ADB_OK ||
                a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
                abort();
        }
        adb__buf_free(&a);
        adb__buf_free(&b);
    }
    json_decref(doc);
    return 0;
}
