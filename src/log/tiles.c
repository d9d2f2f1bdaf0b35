/*
 * tiles.c - an organization's Merkle tree read from its stored tiles
 * (tiles.h, docs/log.md): tlog-tiles paths, a subtree getter over tiles for
 * merkle.c's proofs, the tree's head, roots, proofs, entries and the tiles
 * and entry bundles as served.
 */
#include "tiles.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define READER_CACHE 16

/* ---- paths ------------------------------------------------------------------ */

void adb__tile_index_path(uint64_t n, char out[ADB_TILE_PATH_MAX])
{
    unsigned el[8];
    int k = 0;
    size_t o = 0;

    do {
        el[k++] = (unsigned)(n % 1000);
        n /= 1000;
    } while (n > 0);
    for (int i = k - 1; i >= 0; i--)
        o += (size_t)snprintf(out + o, ADB_TILE_PATH_MAX - o, "%s%03u%s", i > 0 ? "x" : "",
                              el[i], i > 0 ? "/" : "");
}

static bool digits3(const char *s, unsigned *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
        return false;
    *v = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    return true;
}

bool adb__tile_parse_index(const char *s, uint64_t *index, unsigned *width)
{
    uint64_t n = 0;
    int elements = 0;
    unsigned v;

    *width = 0;
    for (;;) {
        if (elements >= 7)
            return false;
        if (s[0] == 'x') {
            if (!digits3(s + 1, &v) || s[4] != '/' || (elements == 0 && v == 0))
                return false;
            s += 5;
        } else {
            if (!digits3(s, &v))
                return false;
            s += 3;
        }
        if (n > (UINT64_MAX - v) / 1000)
            return false;
        n = n * 1000 + v;
        elements++;
        if (s[-1] != '/')
            break;
    }
    if (n > (UINT64_MAX >> 8))
        return false; /* no tree that large */
    *index = n;
    if (*s == '\0')
        return true;
    if (strncmp(s, ".p/", 3) != 0)
        return false;
    s += 3;
    if (s[0] < '1' || s[0] > '9')
        return false;
    unsigned w = 0;
    for (int i = 0; s[i]; i++) {
        if (i >= 3 || s[i] < '0' || s[i] > '9')
            return false;
        w = w * 10 + (unsigned)(s[i] - '0');
    }
    if (w < 1 || w > 255)
        return false;
    *width = w;
    return true;
}

bool adb__tile_parse_level(const char *s, unsigned *level)
{
    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1]))
        return false;
    unsigned v = 0;
    for (int i = 0; s[i]; i++) {
        if (i >= 2 || s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > ADB_TILE_MAX_LEVEL)
        return false;
    *level = v;
    return true;
}

unsigned adb__tile_partial_width(uint64_t size, unsigned level)
{
    unsigned shift = level * ADB_TILE_HEIGHT;
    if (shift >= 64)
        return 0;
    return (unsigned)((size >> shift) & 0xff);
}

void adb__tree_entry_make(const uint8_t event_id[16], const uint8_t content_hash[32],
                          uint8_t entry[48])
{
    memcpy(entry, event_id, 16);
    memcpy(entry + 16, content_hash, 32);
}

bool adb__tree_entry_from_text(const char *event_id, const char *content_hash_hex,
                               uint8_t entry[48])
{
    int n = 0;
    const char *s = event_id;

    for (; *s && n < 32; s++) {
        if (*s == '-')
            continue;
        int v = adb__hexval(*s);
        if (v < 0)
            return false;
        if (n % 2 == 0)
            entry[n / 2] = (uint8_t)(v << 4);
        else
            entry[n / 2] |= (uint8_t)v;
        n++;
    }
    if (n != 32 || *s != '\0')
        return false;
    for (int i = 0; i < 32; i++) {
        int a = adb__hexval(content_hash_hex[2 * i]);
        int b = a < 0 ? -1 : adb__hexval(content_hash_hex[2 * i + 1]);
        if (a < 0 || b < 0)
            return false;
        entry[16 + i] = (uint8_t)(a << 4 | b);
    }
    return content_hash_hex[64] == '\0';
}

/* ---- reading ------------------------------------------------------------------ */

static void pg_err(PGconn *c, PGresult *r, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c);
    adb__fmt(err, errlen, "%s", m);
    adb__oneline(err);
}

/* One row's bytea (binary result) as a fresh copy; ADB_ERR_NOT_FOUND without a row. */
static adb_status query_bytes(PGconn *c, const char *sql, int np, const char *const *vals,
                              uint8_t **out, size_t *len, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, np, NULL, vals, NULL, NULL, 1);
    adb_status st = ADB_OK;

    *out = NULL;
    *len = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_err(c, r, err, errlen);
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        st = ADB_ERR_NOT_FOUND;
    } else {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        if (!(*out = malloc(n ? n : 1)))
            st = ADB_ERR_NOMEM;
        else {
            memcpy(*out, PQgetvalue(r, 0, 0), n);
            *len = n;
        }
    }
    PQclear(r);
    return st;
}

/* The stored tile (level, index): malloc()ed hashes and their count. */
static adb_status load_tile(PGconn *c, const char *org, unsigned level, uint64_t index,
                            uint8_t **hashes, unsigned *width, char *err, size_t errlen)
{
    char l[8], i[24];
    const char *v[3] = { org, l, i };
    size_t len;

    snprintf(l, sizeof(l), "%u", level);
    snprintf(i, sizeof(i), "%" PRIu64, index);
    adb_status st = query_bytes(c,
                                "SELECT hashes FROM audit_tree_tile WHERE organization_id = $1"
                                " AND level = $2::smallint AND index = $3::bigint",
                                3, v, hashes, &len, err, errlen);
    if (st == ADB_ERR_NOT_FOUND)
        adb__fmt(err, errlen, "tile %u/%" PRIu64 " is missing", level, index);
    if (st != ADB_OK)
        return st;
    if (len == 0 || len % 32 != 0 || len > ADB_TILE_WIDTH * 32) {
        free(*hashes);
        *hashes = NULL;
        adb__fmt(err, errlen, "tile %u/%" PRIu64 " has %zu bytes", level, index, len);
        return ADB_ERR_NOT_FOUND;
    }
    *width = (unsigned)(len / 32);
    return ADB_OK;
}

typedef struct cached_tile {
    unsigned level;
    uint64_t index;
    unsigned width;
    uint8_t *hashes; /* NULL: slot free */
} cached_tile;

struct adb__tile_reader {
    PGconn *c;
    const char *org;
    cached_tile cache[READER_CACHE];
    unsigned next; /* slot replaced next */
    char err[256];
};

adb__tile_reader *adb__tile_reader_new(PGconn *c, const char *org)
{
    adb__tile_reader *r = calloc(1, sizeof(*r));
    if (r) {
        r->c = c;
        r->org = org;
    }
    return r;
}

void adb__tile_reader_done(adb__tile_reader *r)
{
    if (!r)
        return;
    for (int i = 0; i < READER_CACHE; i++)
        free(r->cache[i].hashes);
    free(r);
}

const char *adb__tile_reader_error(const adb__tile_reader *r)
{
    return r ? r->err : "out of memory";
}

static adb_status reader_tile(adb__tile_reader *r, unsigned level, uint64_t index,
                              cached_tile **out)
{
    for (int i = 0; i < READER_CACHE; i++)
        if (r->cache[i].hashes && r->cache[i].level == level && r->cache[i].index == index) {
            *out = &r->cache[i];
            return ADB_OK;
        }
    cached_tile *t = &r->cache[r->next];
    r->next = (r->next + 1) % READER_CACHE;
    free(t->hashes);
    t->hashes = NULL;
    if (!r->c) {
        adb__fmt(r->err, sizeof(r->err), "tile %u/%" PRIu64 " was not given", level, index);
        return ADB_ERR_NOT_FOUND;
    }
    adb_status st = load_tile(r->c, r->org, level, index, &t->hashes, &t->width, r->err,
                              sizeof(r->err));
    if (st != ADB_OK)
        return st;
    t->level = level;
    t->index = index;
    *out = t;
    return ADB_OK;
}

bool adb__tile_reader_put(adb__tile_reader *r, unsigned level, uint64_t index,
                          const uint8_t *hashes, unsigned width)
{
    if (!r || width == 0 || width > ADB_TILE_WIDTH)
        return false;
    for (int i = 0; i < READER_CACHE; i++)
        if (r->cache[i].hashes && r->cache[i].level == level && r->cache[i].index == index) {
            if (r->cache[i].width >= width)
                return true;
            free(r->cache[i].hashes);
            r->cache[i].hashes = NULL;
        }
    cached_tile *t = NULL;
    for (int i = 0; i < READER_CACHE && !t; i++)
        if (!r->cache[i].hashes)
            t = &r->cache[i];
    if (!t) /* full: the oldest goes */
        t = &r->cache[r->next], r->next = (r->next + 1) % READER_CACHE;
    free(t->hashes);
    if (!(t->hashes = malloc((size_t)width * 32)))
        return false;
    memcpy(t->hashes, hashes, (size_t)width * 32);
    t->level = level;
    t->index = index;
    t->width = width;
    return true;
}

adb_status adb__tile_reader_get(void *reader, unsigned level, uint64_t index, uint8_t out[32])
{
    adb__tile_reader *r = reader;
    unsigned tl = level / ADB_TILE_HEIGHT, rest = level % ADB_TILE_HEIGHT;
    cached_tile *t;

    if (level >= 64 || (rest && index > (UINT64_MAX >> rest)))
        return ADB_ERR_INVALID;
    /* the 2^rest hashes of tile level tl under this subtree: all in one tile */
    uint64_t first = index << rest;
    unsigned count = 1u << rest, off = (unsigned)(first % ADB_TILE_WIDTH);
    adb_status st = reader_tile(r, tl, first / ADB_TILE_WIDTH, &t);
    if (st != ADB_OK)
        return st;
    if (off + count > t->width) {
        adb__fmt(r->err, sizeof(r->err), "tile %u/%" PRIu64 " is %u wide, not %u", tl,
                 first / ADB_TILE_WIDTH, t->width, off + count);
        return ADB_ERR_NOT_FOUND;
    }
    if (count == 1) {
        memcpy(out, t->hashes + (size_t)off * 32, 32);
        return ADB_OK;
    }
    adb__mhash h[128];
    for (unsigned i = 0; i < count; i += 2)
        adb__merkle_node_hash(t->hashes + (size_t)(off + i) * 32,
                              t->hashes + (size_t)(off + i + 1) * 32, h[i / 2]);
    for (unsigned n = count / 2; n > 1; n /= 2)
        for (unsigned i = 0; i < n; i += 2)
            adb__merkle_node_hash(h[i], h[i + 1], h[i / 2]);
    memcpy(out, h[0], 32);
    return ADB_OK;
}

/* ---- the tree ------------------------------------------------------------------ */

adb_status adb__tree_head(PGconn *c, const char *org, uint64_t *size, uint8_t root[32], char *err,
                          size_t errlen)
{
    const char *v[1] = { org };
    PGresult *r;
    adb_status st = ADB_OK;

    if (!org || !*org) {
        adb__fmt(err, errlen, "no organization");
        return ADB_ERR_INVALID;
    }
    r = PQexecParams(c, "SELECT size::text, root FROM audit_tree WHERE organization_id = $1",
                     1, NULL, v, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_err(c, r, err, errlen);
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) == 0) {
        adb__fmt(err, errlen, "the organization has no tree");
        st = ADB_ERR_NOT_FOUND;
    } else if (PQgetlength(r, 0, 1) != 32) {
        adb__fmt(err, errlen, "the tree head's root is not 32 bytes");
        st = ADB_ERR_NOT_FOUND;
    } else {
        /* binary text: size::text comes as its characters */
        char buf[32];
        int n = PQgetlength(r, 0, 0);
        if (n <= 0 || n >= (int)sizeof(buf)) {
            adb__fmt(err, errlen, "the tree head's size is unreadable");
            st = ADB_ERR_DB_QUERY;
        } else {
            memcpy(buf, PQgetvalue(r, 0, 0), (size_t)n);
            buf[n] = '\0';
            *size = strtoull(buf, NULL, 10);
            memcpy(root, PQgetvalue(r, 0, 1), 32);
        }
    }
    PQclear(r);
    return st;
}

/* The head's size, checking that want <= it. */
static adb_status within_head(PGconn *c, const char *org, uint64_t want, uint64_t *size,
                              uint8_t root[32], char *err, size_t errlen)
{
    adb_status st = adb__tree_head(c, org, size, root, err, errlen);
    if (st != ADB_OK)
        return st;
    if (want > *size) {
        adb__fmt(err, errlen, "the tree has %" PRIu64 " leaves, not %" PRIu64, *size, want);
        return ADB_ERR_NOT_FOUND;
    }
    return ADB_OK;
}

static adb_status reader_status(adb__tile_reader *r, adb_status st, char *err, size_t errlen)
{
    if (st != ADB_OK && st != ADB_ERR_INVALID)
        adb__fmt(err, errlen, "%s", adb__tile_reader_error(r));
    return st;
}

adb_status adb__tree_root_at(PGconn *c, const char *org, uint64_t size, uint8_t root[32],
                             char *err, size_t errlen)
{
    uint64_t head;
    adb_status st = within_head(c, org, size, &head, root, err, errlen);

    if (st != ADB_OK || size == head)
        return st;
    adb__tile_reader *r = adb__tile_reader_new(c, org);
    if (!r)
        return ADB_ERR_NOMEM;
    st = reader_status(r, adb__merkle_root_from(adb__tile_reader_get, r, size, root), err, errlen);
    adb__tile_reader_done(r);
    return st;
}

adb_status adb__tree_inclusion_proof(PGconn *c, const char *org, uint64_t index, uint64_t size,
                                     adb__mhash *proof, size_t *n, char *err, size_t errlen)
{
    uint64_t head;
    uint8_t root[32];
    adb_status st;

    *n = 0;
    if (index >= size) {
        adb__fmt(err, errlen, "leaf %" PRIu64 " is not in a tree of %" PRIu64, index, size);
        return ADB_ERR_INVALID;
    }
    if ((st = within_head(c, org, size, &head, root, err, errlen)) != ADB_OK)
        return st;
    adb__tile_reader *r = adb__tile_reader_new(c, org);
    if (!r)
        return ADB_ERR_NOMEM;
    st = reader_status(r, adb__merkle_inclusion_proof(adb__tile_reader_get, r, index, size, proof, n),
                       err, errlen);
    adb__tile_reader_done(r);
    return st;
}

adb_status adb__tree_consistency_proof(PGconn *c, const char *org, uint64_t size1, uint64_t size2,
                                       adb__mhash *proof, size_t *n, char *err, size_t errlen)
{
    uint64_t head;
    uint8_t root[32];
    adb_status st;

    *n = 0;
    if (size1 > size2) {
        adb__fmt(err, errlen, "size %" PRIu64 " is beyond %" PRIu64, size1, size2);
        return ADB_ERR_INVALID;
    }
    if ((st = within_head(c, org, size2, &head, root, err, errlen)) != ADB_OK)
        return st;
    adb__tile_reader *r = adb__tile_reader_new(c, org);
    if (!r)
        return ADB_ERR_NOMEM;
    st = reader_status(r, adb__merkle_consistency_proof(adb__tile_reader_get, r, size1, size2,
                                                        proof, n),
                       err, errlen);
    adb__tile_reader_done(r);
    return st;
}

adb_status adb__tree_entry(PGconn *c, const char *org, uint64_t index, uint8_t entry[48], char *err,
                           size_t errlen)
{
    char b[24], off[8];
    const char *v[3] = { org, b, off };
    uint8_t *data;
    size_t len;

    snprintf(b, sizeof(b), "%" PRIu64, index / ADB_TILE_WIDTH);
    snprintf(off, sizeof(off), "%u", (unsigned)(index % ADB_TILE_WIDTH) * ADB_TREE_ENTRY + 1);
    adb_status st = query_bytes(c,
                                "SELECT substring(entries FROM $3::int FOR 48)"
                                " FROM audit_tree_bundle WHERE organization_id = $1"
                                " AND index = $2::bigint",
                                3, v, &data, &len, err, errlen);
    if (st == ADB_OK && len != ADB_TREE_ENTRY) {
        free(data);
        st = ADB_ERR_NOT_FOUND;
    }
    if (st == ADB_ERR_NOT_FOUND)
        adb__fmt(err, errlen, "leaf %" PRIu64 " is not in the tree", index);
    if (st == ADB_OK) {
        memcpy(entry, data, ADB_TREE_ENTRY);
        free(data);
    }
    return st;
}

adb_status adb__tree_tile(PGconn *c, const char *org, unsigned level, uint64_t index,
                          unsigned width, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    unsigned have;
    uint8_t *h;

    *out = NULL;
    *outlen = 0;
    if (level > ADB_TILE_MAX_LEVEL || width >= ADB_TILE_WIDTH) {
        adb__fmt(err, errlen, "no such tile");
        return ADB_ERR_INVALID;
    }
    adb_status st = load_tile(c, org, level, index, &h, &have, err, errlen);
    if (st != ADB_OK)
        return st;
    unsigned want = width ? width : ADB_TILE_WIDTH;
    if (have < want) {
        free(h);
        adb__fmt(err, errlen, "tile %u/%" PRIu64 " has %u hashes, not %u", level, index, have,
                 want);
        return ADB_ERR_NOT_FOUND;
    }
    *out = h;
    *outlen = (size_t)want * 32;
    return ADB_OK;
}

adb_status adb__tree_entry_bundle(PGconn *c, const char *org, uint64_t index, unsigned width,
                                  uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    char b[24];
    const char *v[2] = { org, b };
    uint8_t *data;
    size_t len;

    *out = NULL;
    *outlen = 0;
    if (width >= ADB_TILE_WIDTH) {
        adb__fmt(err, errlen, "no such entry bundle");
        return ADB_ERR_INVALID;
    }
    snprintf(b, sizeof(b), "%" PRIu64, index);
    adb_status st = query_bytes(c,
                                "SELECT entries FROM audit_tree_bundle"
                                " WHERE organization_id = $1 AND index = $2::bigint",
                                2, v, &data, &len, err, errlen);
    if (st == ADB_ERR_NOT_FOUND)
        adb__fmt(err, errlen, "entry bundle %" PRIu64 " is missing", index);
    if (st != ADB_OK)
        return st;
    unsigned have = (unsigned)(len / ADB_TREE_ENTRY), want = width ? width : ADB_TILE_WIDTH;
    if (len % ADB_TREE_ENTRY != 0 || have < want) {
        free(data);
        adb__fmt(err, errlen, "entry bundle %" PRIu64 " has %u entries, not %u", index, have,
                 want);
        return ADB_ERR_NOT_FOUND;
    }
    uint8_t *o = malloc((size_t)want * (ADB_TREE_ENTRY + 2));
    if (!o) {
        free(data);
        return ADB_ERR_NOMEM;
    }
    for (unsigned i = 0; i < want; i++) {
        uint8_t *p = o + (size_t)i * (ADB_TREE_ENTRY + 2);
        p[0] = 0;
        p[1] = ADB_TREE_ENTRY;
        memcpy(p + 2, data + (size_t)i * ADB_TREE_ENTRY, ADB_TREE_ENTRY);
    }
    free(data);
    *out = o;
    *outlen = (size_t)want * (ADB_TREE_ENTRY + 2);
    return ADB_OK;
}
