/*
 * body_coding.h - request bodies sent with a Content-Encoding (gzip,
 * deflate), decoded as they arrive (docs/http.md, "Compressed request
 * bodies").
 *
 * The decoder never holds the decoded body itself: it hands each piece it
 * inflates to a sink, which may refuse it (the body limit, the budget), and
 * then stops at once, so a decompression bomb is never inflated past what
 * the sink accepted.
 */
#ifndef ADB_HTTP_BODY_CODING_H
#define ADB_HTTP_BODY_CODING_H

#include <stdbool.h>
#include <stddef.h>

typedef enum adb_http_coding {
    ADB_CODING_IDENTITY = 0,
    ADB_CODING_GZIP,
    ADB_CODING_DEFLATE,
} adb_http_coding;

/* Memory a decoder holds (zlib's state and window, the decoder's buffers),
 * which the server takes from the body budget while the decoder lives. */
#define ADB_HTTP_DECODER_MEMORY ((size_t)64 * 1024)

/* Reads a Content-Encoding value (NULL: none). "identity" and an empty
 * value mean none; "gzip", "x-gzip" and "deflate" are decoded. Returns
 * false for anything else, or for more than one coding, with the coding at
 * fault (cut to fit) in bad. */
bool adb_http_coding_parse(const char *value, adb_http_coding *coding, char *bad, size_t badlen);

/* The name of a coding ("gzip"), static. */
const char *adb_http_coding_name(adb_http_coding coding);

typedef struct adb_http_decoder adb_http_decoder;

/* Takes n decoded bytes; returns false to stop decoding (the caller knows
 * why: body too large, budget spent). */
typedef bool (*adb_http_decoded_fn)(void *ud, const char *data, size_t n);

/* A decoder for a coding other than identity; NULL when out of memory.
 * Free with adb_http_decoder_free. */
adb_http_decoder *adb_http_decoder_new(adb_http_coding coding);

/* Decodes n more bytes of the body, handing what it decodes to sink.
 * Returns 1 when all was taken, 0 when sink refused (nothing more is
 * decoded), -1 when the data is not valid (adb_http_decoder_error says
 * why; later calls return -1 at once). */
int adb_http_decoder_feed(adb_http_decoder *d, const char *in, size_t n, adb_http_decoded_fn sink,
                          void *ud);

/* At the end of the body: true when the encoded data ended where its
 * format says it ends; else false with the reason in adb_http_decoder_error. */
bool adb_http_decoder_finish(adb_http_decoder *d);

/* Why the data was refused (lower case, no period); "" when it was not. */
const char *adb_http_decoder_error(const adb_http_decoder *d);

/* Whether the body came in the form smart-logs' client sends (the gzip
 * bytes written as the JSON object {"0":31,"1":139,...}). */
bool adb_http_decoder_byte_object(const adb_http_decoder *d);

/* Frees d; accepts NULL. */
void adb_http_decoder_free(adb_http_decoder *d);

#endif
