/*
 * log_tiles.c - the organization's Merkle tree over HTTP (docs/log.md):
 * GET /api/v1/audit/log/tile/<L>/<N>[.p/<W>] and .../tile/entries/<N>[.p/<W>]
 * as C2SP tlog-tiles serves them, and GET /api/v1/audit/log/consistency.
 * Every read runs as the key's organization (row-level security): another
 * organization's tree is not there.
 */
#include "http.h"
#include "../core/util.h"
#include "../log/tiles.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Tiles and bundles never change once served (tlog-tiles: "immutable"), but
 * they answer an API key: private, so that no shared cache hands one
 * organization's tree to another asking for the same path. */
#define CACHE_IMMUTABLE "private, max-age=31536000, immutable"

static enum MHD_Result bad(adb_http_request *req, const char *field, const char *code,
                           const char *message)
{
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", code, "field",
                                         field, "message", message));
}

static enum MHD_Result db_unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

/* Which part of "<N>[.p/<W>]" is at fault. */
static enum MHD_Result bad_index(adb_http_request *req, const char *s)
{
    const char *p = strstr(s, ".p/");
    if (p) {
        char idx[64];
        uint64_t n;
        unsigned w;
        adb__fmt(idx, sizeof(idx), "%.*s", (int)(p - s), s);
        if ((size_t)(p - s) < sizeof(idx) && adb__tile_parse_index(idx, &n, &w))
            return bad(req, "width", "INVALID_FORMAT",
                       "the width after .p/ must be a decimal from 1 to 255 without leading zeros");
    }
    return bad(req, "index", "INVALID_FORMAT",
               "the tile index must be tlog-tiles path elements: 3 digits each, all but the last "
               "prefixed with x (x001/x234/067)");
}

enum MHD_Result adb_http_log_tile(adb_http_request *req)
{
    const char *path = req->param[0] ? req->param[0] : "";
    bool entries = false;
    unsigned level = 0, width;
    uint64_t index;
    char lv[4];

    if (!strncmp(path, "entries/", 8)) {
        entries = true;
        path += 8;
    } else {
        const char *slash = strchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) : strlen(path);
        if (!slash || n >= sizeof(lv))
            return bad(req, "level", "INVALID_FORMAT",
                       "the tile level must be a decimal from 0 to 63 without leading zeros, "
                       "or \"entries\"");
        memcpy(lv, path, n);
        lv[n] = '\0';
        if (!adb__tile_parse_level(lv, &level))
            return bad(req, "level", "INVALID_FORMAT",
                       "the tile level must be a decimal from 0 to 63 without leading zeros, "
                       "or \"entries\"");
        path = slash + 1;
    }
    if (!adb__tile_parse_index(path, &index, &width))
        return bad_index(req, path);

    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0);
    if (!c)
        return db_unavailable(req);
    uint8_t *data = NULL;
    size_t len = 0;
    st = entries ? adb__tree_entry_bundle(c, req->who.organization_id, index, width, &data, &len,
                                          err, sizeof(err))
                 : adb__tree_tile(c, req->who.organization_id, level, index, width, &data, &len,
                                  err, sizeof(err));
    adb_tenant_end(req->state->db, c, st == ADB_OK || st == ADB_ERR_NOT_FOUND);
    if (st == ADB_ERR_NOT_FOUND) {
        json_t *d = entries ? json_pack("{s:I, s:i}", "index", (json_int_t)index, "width", (int)width)
                            : json_pack("{s:i, s:I, s:i}", "level", (int)level, "index",
                                        (json_int_t)index, "width", (int)width);
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   entries ? "no such entry bundle in the organization's tree"
                                           : "no such tile in the organization's tree",
                                   d);
    }
    if (st == ADB_ERR_NOMEM)
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                   "out of memory", NULL);
    if (st != ADB_OK)
        return db_unavailable(req);
    req->cache_control = CACHE_IMMUTABLE;
    return adb_http_send_text(req, MHD_HTTP_OK, (char *)data, len, "application/octet-stream");
}

/* A tree size: decimal digits only, below 2^63. */
static bool parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 19)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

static json_t *b64(const uint8_t *h, size_t n)
{
    char out[4 * ((ADB_MERKLE_HASH + 2) / 3) + 1];
    if (n != 32)
        return json_null();
    EVP_EncodeBlock((unsigned char *)out, h, (int)n);
    return json_string(out);
}

enum MHD_Result adb_http_log_consistency(adb_http_request *req)
{
    const char *from_s = adb_http_arg(req, "from"), *to_s = adb_http_arg(req, "to");
    uint64_t from, to, size = 0;
    uint8_t head_root[32], r1[32], r2[32];
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t n = 0;
    char err[256];
    adb_status st;

    if (!from_s || !*from_s)
        return bad(req, "from", "REQUIRED_FIELD_MISSING", "from (the smaller tree size) is required");
    if (!to_s || !*to_s)
        return bad(req, "to", "REQUIRED_FIELD_MISSING", "to (the larger tree size) is required");
    if (!parse_size(from_s, &from))
        return bad(req, "from", "INVALID_FORMAT", "from must be a tree size: a non-negative decimal integer");
    if (!parse_size(to_s, &to))
        return bad(req, "to", "INVALID_FORMAT", "to must be a tree size: a non-negative decimal integer");
    if (from > to)
        return bad(req, "from", "INVALID_VALUE", "from must not be larger than to");

    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0);
    if (!c)
        return db_unavailable(req);
    /* the head first: the tiles below it never change, so what follows agrees with it */
    const char *org = req->who.organization_id;
    st = adb__tree_head(c, org, &size, head_root, err, sizeof(err));
    if (st == ADB_OK && to > size)
        st = ADB_ERR_NOT_FOUND;
    if (st == ADB_OK)
        st = adb__tree_root_at(c, org, from, r1, err, sizeof(err));
    if (st == ADB_OK)
        st = adb__tree_root_at(c, org, to, r2, err, sizeof(err));
    if (st == ADB_OK)
        st = adb__tree_consistency_proof(c, org, from, to, proof, &n, err, sizeof(err));
    adb_tenant_end(req->state->db, c, st == ADB_OK);
    if (st == ADB_ERR_NOT_FOUND) {
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "to is beyond the organization's tree",
                                   json_pack("{s:s, s:I}", "field", "to", "treeSize",
                                             (json_int_t)size));
    }
    if (st == ADB_ERR_NOMEM)
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                   "out of memory", NULL);
    if (st != ADB_OK)
        return db_unavailable(req);
    json_t *p = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(p, b64(proof[i], 32));
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:I, s:I, s:o, s:o, s:o, s:I, s:o}", "from",
                                        (json_int_t)from, "to", (json_int_t)to, "proof", p,
                                        "fromRoot", b64(r1, 32), "toRoot", b64(r2, 32),
                                        "treeSize", (json_int_t)size, "treeRoot",
                                        b64(head_root, 32)));
}
