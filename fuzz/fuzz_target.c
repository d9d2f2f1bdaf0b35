/*
 * fuzz_target.c - the request-target decoder (src/http/target.c): whatever
 * the bytes, a target without a recorded problem yields a NUL-free UTF-8
 * path and NUL-free, UTF-8, distinct query parameters, and the access log's
 * form of the path is printable ASCII.
 */
#include "http/target.c"

#include <stdint.h>
#include <stdlib.h>

static bool tags_only(const char *name, void *ctx)
{
    (void)ctx;
    return strcmp(name, "tags") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size + 1);
    adb_http_target t = { 0 };

    if (!raw)
        return 0;
    memcpy(raw, data, size);
    raw[size] = '\0'; /* the request line cannot carry a raw NUL */
    /* a route that takes "tags" as a list and nothing else: repeats of tags
     * are joined, any other repeat becomes the query's problem */
    if (adb_http_target_parse(&t, raw) && adb_http_target_join_repeats(&t, tags_only, NULL)) {
        if (!t.path_problem.code && t.path_utf8 && !adb__utf8_valid(t.path, strlen(t.path)))
            abort();
        for (const char *p = t.log_path; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        if (!t.query_problem.code) {
            for (int i = 0; i < t.nparams; i++) {
                if (!adb__utf8_valid(t.name[i], strlen(t.name[i])) ||
                    !adb__utf8_valid(t.value[i], strlen(t.value[i])) || !t.name[i][0])
                    abort();
                for (int j = 0; j < i; j++)
                    if (!strcmp(t.name[i], t.name[j]))
                        abort();
            }
        }
        if (t.query_problem.code && !adb__utf8_valid(t.query_problem.field, strlen(t.query_problem.field)))
            abort();
    }
    adb_http_target_free(&t);
    free(raw);
    return 0;
}
