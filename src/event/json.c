/*
 * json.c - the strict, bounded JSON parser, the numeric normalizer and the
 * canonical writer behind json.h. Parsing is one pass with an explicit stack
 * (no recursion, so max_depth is not bounded by the C stack); every node and
 * string of a document lives in the document's arena.
 */
#include "json.h"
#include "../core/util.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for the limits left at 0 (see json.h). */
#define DEF_MAX_DEPTH      64
#define DEF_MAX_STRING     ((size_t)1 << 20)
#define DEF_MAX_ITEMS      100000
#define DEF_MAX_NUMBER_LEN 100
#define DEF_MAX_NODES      1000000

/* What PostgreSQL's numeric can hold (numeric.c: the exponent is refused
 * from INT_MAX / 2 on, the display scale is 14 bits, the weight an int16 of
 * base-10000 digits, i.e. at most 131072 decimal digits before the point). */
#define PG_EXPONENT_MAX   1073741822LL
#define PG_DSCALE_MAX     16383LL
#define PG_INT_DIGITS_MAX 131072LL
/* Exponents saturate here while being read: far beyond all of the above,
 * far below overflow of the arithmetic that follows. */
#define EXP_SATURATE      1000000000000000LL

/* Objects with at most this many members are checked for duplicate keys
 * (and sorted for writing) without a temporary array. */
#define SMALL_OBJECT 8

/* ---- arena --------------------------------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
} arena_chunk;

typedef struct arena {
    arena_chunk *head; /* the chunk being filled; dedicated chunks follow it */
    size_t next_cap;
} arena;

#define ARENA_FIRST ((size_t)4096)
#define ARENA_MAX   ((size_t)1 << 20)
#define ARENA_BIG   (ARENA_MAX / 4)

static arena_chunk *arena_chunk_new(size_t cap)
{
    arena_chunk *c;

    if (cap > SIZE_MAX - sizeof(arena_chunk))
        return NULL;
    c = malloc(sizeof(arena_chunk) + cap);
    if (c) {
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
    }
    return c;
}

/* Returns size bytes aligned to align (a power of two no larger than
 * max_align_t's), or NULL when out of memory. Freed with the arena. */
static void *arena_alloc(arena *a, size_t size, size_t align)
{
    arena_chunk *c = a->head;

    if (c) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->cap && size <= c->cap - off) {
            c->used = off + size;
            return (char *)c->data + off;
        }
    }
    if (size > ARENA_BIG) {
        /* a dedicated chunk, linked behind the current one so the space
         * left there is still used */
        arena_chunk *big = arena_chunk_new(size);
        if (!big)
            return NULL;
        big->used = size;
        if (c) {
            big->next = c->next;
            c->next = big;
        } else {
            a->head = big;
        }
        return big->data;
    }
    size_t cap = a->next_cap ? a->next_cap : ARENA_FIRST;
    while (cap < size)
        cap *= 2;
    arena_chunk *n = arena_chunk_new(cap);
    if (!n)
        return NULL;
    a->next_cap = cap < ARENA_MAX ? cap * 2 : ARENA_MAX;
    n->next = c;
    n->used = size;
    a->head = n;
    return n->data;
}

static void arena_free(arena *a)
{
    arena_chunk *c = a->head;

    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- documents and parser state ------------------------------------------ */

struct adb_json_doc {
    arena arena;
    adb_json *root;
};

/* A member parsed but not yet placed in its array or object. */
typedef struct member {
    adb_json *item;
    const char *key; /* objects */
    size_t klen;
    size_t koff;     /* offset of the key's opening quote */
} member;

/* An open array or object. */
typedef struct frame {
    adb_json *node;
    size_t start;    /* its first member in parser.members */
    const char *key; /* objects: the key read before the current value */
    size_t klen, koff;
} frame;

typedef struct parser {
    const char *text;
    size_t len, pos;
    adb_json_limits lim;
    adb_json_doc *doc;
    adb_json_error *err;
    size_t nodes;
    char *sbuf; /* decoded string being read */
    size_t scap;
    member *members;
    size_t nmembers, cmembers;
    frame *frames;
    size_t nframes, cframes;
} parser;

static void resolve_limits(const adb_json_limits *in, adb_json_limits *out)
{
    out->max_depth = in && in->max_depth ? in->max_depth : DEF_MAX_DEPTH;
    out->max_string = in && in->max_string ? in->max_string : DEF_MAX_STRING;
    out->max_items = in && in->max_items ? in->max_items : DEF_MAX_ITEMS;
    out->max_number_len = in && in->max_number_len ? in->max_number_len : DEF_MAX_NUMBER_LEN;
    out->max_nodes = in && in->max_nodes ? in->max_nodes : DEF_MAX_NODES;
}

/* Records the (first) error; always returns false so callers can
 * `return fail(...)`. */
__attribute__((format(printf, 4, 5)))
static bool fail(parser *p, adb_json_error_code code, size_t off, const char *fmt, ...)
{
    va_list ap;

    if (p->err->code != ADB_JSON_OK)
        return false;
    p->err->code = code;
    p->err->offset = off;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
    va_end(ap);
    return false;
}

static bool nomem(parser *p)
{
    return fail(p, ADB_JSON_ERR_NOMEM, p->pos, "out of memory");
}

/* "character 'x'" for a printable ASCII byte, "byte 0xNN" for the others. */
static const char *describe_byte(unsigned char c, char *buf, size_t len)
{
    if (c > 0x20 && c < 0x7f)
        adb__fmt(buf, len, "character '%c'", c);
    else
        adb__fmt(buf, len, "byte 0x%02x", c);
    return buf;
}

static bool unexpected(parser *p, const char *what)
{
    char b[32];

    if (p->pos >= p->len)
        return fail(p, ADB_JSON_ERR_SYNTAX, p->len, "unexpected end of input, expected %s", what);
    return fail(p, ADB_JSON_ERR_SYNTAX, p->pos, "unexpected %s, expected %s",
                describe_byte((unsigned char)p->text[p->pos], b, sizeof(b)), what);
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && is_ws((unsigned char)p->text[p->pos]))
        p->pos++;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static adb_json *new_node(parser *p, adb_json_type type)
{
    adb_json *v = arena_alloc(&p->doc->arena, sizeof(*v), alignof(adb_json));

    if (!v) {
        nomem(p);
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->type = type;
    return v;
}

/* Returns arr (of *cap elements of size sz) grown by doubling to hold at
 * least need elements, or NULL when out of memory (arr is then unchanged). */
static void *grow(void *arr, size_t *cap, size_t sz, size_t need)
{
    size_t n = *cap ? *cap : 16;

    if (arr && need <= *cap)
        return arr;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / sz)
        return NULL;
    void *a = realloc(arr, n * sz);
    if (a)
        *cap = n;
    return a;
}

/* ---- UTF-8 (sequences are checked by adb__utf8_seq, src/core/util.c) ------- */

static size_t utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- strings --------------------------------------------------------------- */

/* Appends n decoded bytes to the string being read (started at start). */
static bool sbuf_add(parser *p, size_t *used, const char *s, size_t n, size_t start)
{
    if (n > p->lim.max_string - *used)
        return fail(p, ADB_JSON_ERR_TOO_LONG, start, "string longer than %zu bytes",
                    p->lim.max_string);
    if (*used + n >= SIZE_MAX)
        return nomem(p);
    if (*used + n + 1 > p->scap) {
        /* doubling, but never beyond what max_string can need (need is
         * at most max_string + 1 after the check above) */
        size_t need = *used + n + 1, cap = p->scap ? p->scap : 64;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (p->lim.max_string < SIZE_MAX - 1 && cap > p->lim.max_string + 1)
            cap = p->lim.max_string + 1;
        char *b = realloc(p->sbuf, cap);
        if (!b)
            return nomem(p);
        p->sbuf = b;
        p->scap = cap;
    }
    memcpy(p->sbuf + *used, s, n);
    *used += n;
    return true;
}

/* Reads 4 hex digits at text[at..at+4) into *cp; false if not there. */
static bool hex4(const parser *p, size_t at, unsigned long *cp)
{
    unsigned long v = 0;

    if (at > p->len || p->len - at < 4)
        return false;
    for (size_t i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)p->text[at + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return false;
    }
    *cp = v;
    return true;
}

/* Decodes the escape at p->pos (a backslash) into the string. */
static bool read_escape(parser *p, size_t *used, size_t start)
{
    size_t at = p->pos;
    char out[4], b[32];
    unsigned long cp, lo;

    if (at + 1 >= p->len)
        return fail(p, ADB_JSON_ERR_SYNTAX, p->len, "unexpected end of input in a string");
    switch (p->text[at + 1]) {
    case '"': out[0] = '"'; break;
    case '\\': out[0] = '\\'; break;
    case '/': out[0] = '/'; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u':
        if (!hex4(p, at + 2, &cp))
            return fail(p, ADB_JSON_ERR_ESCAPE, at, "\\u must be followed by 4 hex digits");
        if (cp == 0)
            return fail(p, ADB_JSON_ERR_NUL, at, "\\u0000 is not allowed in strings");
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(p, ADB_JSON_ERR_ESCAPE, at,
                        "low surrogate \\u%04lx without a high surrogate before it", cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (at + 7 >= p->len || p->text[at + 6] != '\\' || p->text[at + 7] != 'u' ||
                !hex4(p, at + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
                return fail(p, ADB_JSON_ERR_ESCAPE, at,
                            "high surrogate \\u%04lx not followed by a low surrogate", cp);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p->pos += 6;
        }
        p->pos += 6;
        return sbuf_add(p, used, out, utf8_encode(cp, out), start);
    default:
        return fail(p, ADB_JSON_ERR_ESCAPE, at, "invalid escape: backslash followed by %s",
                    describe_byte((unsigned char)p->text[at + 1], b, sizeof(b)));
    }
    p->pos += 2;
    return sbuf_add(p, used, out, 1, start);
}

/* Reads the string at p->pos (its opening quote) into the arena:
 * NUL-terminated, *out and *outlen set. */
static bool read_string(parser *p, const char **out, size_t *outlen)
{
    size_t start = p->pos, used = 0;
    const unsigned char *t = (const unsigned char *)p->text;

    p->pos++;
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, ADB_JSON_ERR_SYNTAX, p->len, "unexpected end of input in a string");
        unsigned char c = t[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c == '\\') {
            if (!read_escape(p, &used, start))
                return false;
        } else if (c < 0x20) {
            return fail(p, ADB_JSON_ERR_SYNTAX, p->pos,
                        "control character 0x%02x in a string must be escaped", c);
        } else if (c < 0x80) {
            size_t e = p->pos + 1;
            while (e < p->len && t[e] >= 0x20 && t[e] < 0x80 && t[e] != '"' && t[e] != '\\')
                e++;
            if (!sbuf_add(p, &used, p->text + p->pos, e - p->pos, start))
                return false;
            p->pos = e;
        } else {
            size_t k = adb__utf8_seq(p->text + p->pos, p->len - p->pos);
            if (k == 0)
                return fail(p, ADB_JSON_ERR_UTF8, p->pos, "invalid utf-8 byte sequence in a string");
            if (!sbuf_add(p, &used, p->text + p->pos, k, start))
                return false;
            p->pos += k;
        }
    }
    char *s = arena_alloc(&p->doc->arena, used + 1, 1);
    if (!s)
        return nomem(p);
    if (used)
        memcpy(s, p->sbuf, used);
    s[used] = '\0';
    *out = s;
    *outlen = used;
    return true;
}

/* ---- numbers ---------------------------------------------------------------- */

/* The parts of a JSON number literal. */
typedef struct num_parts {
    bool neg;
    const char *ip; /* integer digits */
    size_t il;
    const char *fp; /* fraction digits */
    size_t fl;
    long long exp;  /* saturated at +-EXP_SATURATE */
} num_parts;

/* The shape of its numeric output. */
typedef struct num_shape {
    bool neg;          /* print a '-' (value not zero) */
    bool int_zero;     /* the integer part is "0" */
    size_t z;          /* first nonzero digit of ip ++ fp (il + fl if none) */
    long long point;   /* the point is before digit #point of ip ++ fp */
    long long dscale;  /* digits after the point */
    long long total;   /* characters */
    bool in_range;     /* PostgreSQL's numeric can hold it */
} num_shape;

/* Matches the longest JSON number at s[0..n); returns its length or 0. */
static size_t scan_number(const char *s, size_t n, num_parts *np)
{
    size_t i = 0;

    memset(np, 0, sizeof(*np));
    if (i < n && s[i] == '-') {
        np->neg = true;
        i++;
    }
    if (i >= n || !is_digit((unsigned char)s[i]))
        return 0;
    np->ip = s + i;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    np->il = (size_t)(s + i - np->ip);
    if (i < n && s[i] == '.') {
        i++;
        np->fp = s + i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        np->fl = (size_t)(s + i - np->fp);
        if (np->fl == 0)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        long long e = 0;
        size_t d;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (d = i; i < n && is_digit((unsigned char)s[i]); i++)
            e = e < (EXP_SATURATE - 9) / 10 ? e * 10 + (s[i] - '0') : EXP_SATURATE;
        if (i == d)
            return 0;
        np->exp = eneg ? -e : e;
    }
    return i;
}

static char num_digit(const num_parts *np, long long i)
{
    if (i < 0 || (unsigned long long)i >= np->il + np->fl)
        return '0';
    return (size_t)i < np->il ? np->ip[i] : np->fp[(size_t)i - np->il];
}

/* PostgreSQL's rule (numeric.c, set_var_from_str): the value is exact and
 * shown with dscale = max(0, fraction digits - exponent) digits after the
 * point; zero never has a sign. */
static void num_measure(const num_parts *np, num_shape *sh)
{
    size_t nd = np->il + np->fl;
    long long int_digits;

    sh->z = 0;
    while (sh->z < nd && num_digit(np, (long long)sh->z) == '0')
        sh->z++;
    sh->neg = np->neg && sh->z < nd;
    sh->point = (long long)np->il + np->exp;
    sh->dscale = (long long)np->fl - np->exp;
    if (sh->dscale < 0)
        sh->dscale = 0;
    sh->int_zero = sh->z == nd || sh->point <= (long long)sh->z;
    int_digits = sh->int_zero ? 1 : sh->point - (long long)sh->z;
    sh->total = (sh->neg ? 1 : 0) + int_digits + (sh->dscale ? sh->dscale + 1 : 0);
    sh->in_range = np->exp <= PG_EXPONENT_MAX && np->exp >= -PG_EXPONENT_MAX &&
                   sh->dscale <= PG_DSCALE_MAX && (sh->int_zero || int_digits <= PG_INT_DIGITS_MAX);
}

/* Writes the sh->total characters (no NUL). */
static void num_write(const num_parts *np, const num_shape *sh, char *out)
{
    if (sh->neg)
        *out++ = '-';
    if (sh->int_zero)
        *out++ = '0';
    else
        for (long long i = (long long)sh->z; i < sh->point; i++)
            *out++ = num_digit(np, i);
    if (sh->dscale) {
        *out++ = '.';
        for (long long i = 0; i < sh->dscale; i++)
            *out++ = num_digit(np, sh->point + i);
    }
}

size_t adb__json_number_normalize(const char *in, size_t len, char *out, size_t outlen)
{
    num_parts np;
    num_shape sh;

    if (!out || outlen == 0)
        return 0;
    out[0] = '\0';
    if (!in || len == 0 || scan_number(in, len, &np) != len)
        return 0;
    num_measure(&np, &sh);
    if (!sh.in_range || (unsigned long long)sh.total >= outlen)
        return 0;
    num_write(&np, &sh, out);
    out[sh.total] = '\0';
    return (size_t)sh.total;
}

static adb_json *read_number(parser *p)
{
    size_t start = p->pos, n;
    num_parts np;
    num_shape sh;

    n = scan_number(p->text + start, p->len - start, &np);
    if (n == 0 || (start + n < p->len && (is_alnum((unsigned char)p->text[start + n]) ||
                                          p->text[start + n] == '.' || p->text[start + n] == '+' ||
                                          p->text[start + n] == '-'))) {
        if (n && np.il == 1 && np.ip[0] == '0' && is_digit((unsigned char)p->text[start + n]))
            fail(p, ADB_JSON_ERR_SYNTAX, start, "invalid number: leading zeros are not allowed");
        else
            fail(p, ADB_JSON_ERR_SYNTAX, start, "invalid number");
        return NULL;
    }
    num_measure(&np, &sh);
    if ((unsigned long long)sh.total > p->lim.max_number_len) {
        fail(p, ADB_JSON_ERR_NUMBER, start,
             "number too long once written out in full (more than %zu characters)",
             p->lim.max_number_len);
        return NULL;
    }
    if (!sh.in_range) {
        fail(p, ADB_JSON_ERR_NUMBER, start, "number out of the range of postgresql numeric");
        return NULL;
    }
    adb_json *v = new_node(p, ADB_JSON_NUMBER);
    char *s = v ? arena_alloc(&p->doc->arena, (size_t)sh.total + 1, 1) : NULL;
    if (!s) {
        nomem(p);
        return NULL;
    }
    num_write(&np, &sh, s);
    s[sh.total] = '\0';
    v->str = s;
    v->len = (size_t)sh.total;
    p->pos = start + n;
    return v;
}

/* ---- values ------------------------------------------------------------------ */

static adb_json *read_literal(parser *p)
{
    static const struct { const char *word; size_t len; adb_json_type type; } lits[] = {
        { "true", 4, ADB_JSON_TRUE }, { "false", 5, ADB_JSON_FALSE }, { "null", 4, ADB_JSON_NULL },
    };
    size_t rest = p->len - p->pos;

    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        size_t n = lits[i].len;
        if (p->text[p->pos] != lits[i].word[0])
            continue;
        if (rest < n || memcmp(p->text + p->pos, lits[i].word, n) != 0 ||
            (rest > n && is_alnum((unsigned char)p->text[p->pos + n])))
            break;
        p->pos += n;
        return new_node(p, lits[i].type);
    }
    fail(p, ADB_JSON_ERR_SYNTAX, p->pos, "invalid literal (expected true, false or null)");
    return NULL;
}

/* The key of a duplicate as shown in a message: escaped like a JSON string,
 * cut at a character boundary with "..." when long. */
static void render_key(const char *k, size_t klen, char *out, size_t outlen)
{
    size_t o = 0, budget = outlen - 4; /* room for "..." and the NUL */
    size_t i = 0;

    while (i < klen) {
        unsigned char c = (unsigned char)k[i];
        char tmp[8];
        size_t n, adv = 1;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            const char *e = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (e)
                memcpy(tmp, e, 3);
            else
                adb__fmt(tmp, sizeof(tmp), "\\u%04x", c);
            n = e ? 2 : 6;
        } else {
            adv = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (adv > klen - i)
                adv = klen - i;
            memcpy(tmp, k + i, adv);
            n = adv;
        }
        if (o + n > budget)
            break;
        memcpy(out + o, tmp, n);
        o += n;
        i += adv;
    }
    if (i < klen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

typedef struct keyref {
    const char *key;
    size_t len;
    size_t idx;
} keyref;

/* Keys in canonical order: bytes, then the shorter first. */
static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int keyref_cmp(const void *x, const void *y)
{
    const keyref *a = x, *b = y;
    int c = key_cmp(a->key, a->len, b->key, b->len);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Checks the n members m[] of an object for a repeated key; reports the
 * repetition that comes first in the input. */
static bool check_duplicates(parser *p, const member *m, size_t n)
{
    size_t dup = SIZE_MAX;
    char shown[100];

    if (n < 2)
        return true;
    if (n <= SMALL_OBJECT) {
        for (size_t j = 1; j < n && dup == SIZE_MAX; j++)
            for (size_t i = 0; i < j; i++)
                if (m[i].klen == m[j].klen && memcmp(m[i].key, m[j].key, m[i].klen) == 0) {
                    dup = j;
                    break;
                }
    } else {
        keyref *r = n <= SIZE_MAX / sizeof(*r) ? malloc(n * sizeof(*r)) : NULL;
        if (!r)
            return nomem(p);
        for (size_t i = 0; i < n; i++)
            r[i] = (keyref){ m[i].key, m[i].klen, i };
        qsort(r, n, sizeof(*r), keyref_cmp);
        for (size_t i = 1; i < n; i++)
            if (r[i].len == r[i - 1].len && memcmp(r[i].key, r[i - 1].key, r[i].len) == 0 &&
                r[i].idx < dup)
                dup = r[i].idx;
        free(r);
    }
    if (dup == SIZE_MAX)
        return true;
    render_key(m[dup].key, m[dup].klen, shown, sizeof(shown));
    return fail(p, ADB_JSON_ERR_DUPLICATE_KEY, m[dup].koff, "duplicate key \"%s\" in object", shown);
}

/* Closes the innermost array or object: moves its members into the arena. */
static adb_json *close_container(parser *p)
{
    frame *f = &p->frames[p->nframes - 1];
    adb_json *v = f->node;
    member *m = p->members ? p->members + f->start : NULL; /* none pushed yet: no pointer arithmetic on NULL */
    size_t n = p->nmembers - f->start;

    if (v->type == ADB_JSON_OBJECT && !check_duplicates(p, m, n))
        return NULL;
    v->count = n;
    if (n) {
        v->items = arena_alloc(&p->doc->arena, n * sizeof(*v->items), alignof(adb_json *));
        if (!v->items)
            goto oom;
        for (size_t i = 0; i < n; i++)
            v->items[i] = m[i].item;
        if (v->type == ADB_JSON_OBJECT) {
            v->keys = arena_alloc(&p->doc->arena, n * sizeof(*v->keys), alignof(const char *));
            v->key_lens = arena_alloc(&p->doc->arena, n * sizeof(*v->key_lens), alignof(size_t));
            if (!v->keys || !v->key_lens)
                goto oom;
            for (size_t i = 0; i < n; i++) {
                v->keys[i] = m[i].key;
                v->key_lens[i] = m[i].klen;
            }
        }
    }
    p->nmembers = f->start;
    p->nframes--;
    return v;
oom:
    nomem(p);
    return NULL;
}

/* Reads `"key" :` of an object member into the innermost frame. */
static bool read_key(parser *p)
{
    frame *f = &p->frames[p->nframes - 1];

    if (p->pos >= p->len || p->text[p->pos] != '"')
        return unexpected(p, "a string key");
    f->koff = p->pos;
    if (!read_string(p, &f->key, &f->klen))
        return false;
    skip_ws(p);
    if (p->pos >= p->len || p->text[p->pos] != ':')
        return unexpected(p, "':' after an object key");
    p->pos++;
    return true;
}

/* Parses one value at p->pos (whitespace before it is skipped). */
static adb_json *parse_value(parser *p)
{
    adb_json *v;

    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len) {
            unexpected(p, "a value");
            return NULL;
        }
        size_t start = p->pos;
        unsigned char c = (unsigned char)p->text[start];
        if (p->nodes >= p->lim.max_nodes) {
            fail(p, ADB_JSON_ERR_TOO_MANY, start, "document has more than %zu values",
                 p->lim.max_nodes);
            return NULL;
        }
        p->nodes++;
        if (c == '[' || c == '{') {
            if (p->nframes >= p->lim.max_depth) {
                fail(p, ADB_JSON_ERR_DEPTH, start, "nesting deeper than %zu levels",
                     p->lim.max_depth);
                return NULL;
            }
            v = new_node(p, c == '[' ? ADB_JSON_ARRAY : ADB_JSON_OBJECT);
            if (!v)
                return NULL;
            frame *fs = grow(p->frames, &p->cframes, sizeof(frame), p->nframes + 1);
            if (!fs) {
                nomem(p);
                return NULL;
            }
            p->frames = fs;
            p->frames[p->nframes++] = (frame){ .node = v, .start = p->nmembers };
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->text[p->pos] == (c == '[' ? ']' : '}')) {
                p->pos++;
                v = close_container(p);
                if (!v)
                    return NULL;
            } else {
                if (c == '{' && !read_key(p))
                    return NULL;
                continue; /* its first member */
            }
        } else if (c == '"') {
            v = new_node(p, ADB_JSON_STRING);
            if (!v || !read_string(p, &v->str, &v->len))
                return NULL;
        } else if (c == '-' || is_digit(c)) {
            v = read_number(p);
        } else if (c == 't' || c == 'f' || c == 'n') {
            v = read_literal(p);
        } else {
            unexpected(p, "a value");
            return NULL;
        }
        if (!v)
            return NULL;

        /* v is complete: add it to the open containers, closing those that end */
        for (;;) {
            if (p->nframes == 0)
                return v;
            frame *f = &p->frames[p->nframes - 1];
            bool obj = f->node->type == ADB_JSON_OBJECT;
            char close = obj ? '}' : ']';
            member *ms = grow(p->members, &p->cmembers, sizeof(member), p->nmembers + 1);
            if (!ms) {
                nomem(p);
                return NULL;
            }
            p->members = ms;
            p->members[p->nmembers++] = (member){ v, f->key, f->klen, f->koff };
            skip_ws(p);
            if (p->pos < p->len && p->text[p->pos] == ',') {
                p->pos++;
                skip_ws(p);
                if (p->pos < p->len && p->text[p->pos] == close) {
                    fail(p, ADB_JSON_ERR_SYNTAX, p->pos, "trailing comma before '%c'", close);
                    return NULL;
                }
                if (p->nmembers - f->start >= p->lim.max_items) {
                    fail(p, ADB_JSON_ERR_TOO_MANY, p->pos, "%s has more than %zu members",
                         obj ? "object" : "array", p->lim.max_items);
                    return NULL;
                }
                if (obj && !read_key(p))
                    return NULL;
                break; /* the next member */
            }
            if (p->pos < p->len && p->text[p->pos] == close) {
                p->pos++;
                v = close_container(p);
                if (!v)
                    return NULL;
                continue;
            }
            unexpected(p, obj ? "',' or '}' after an object member"
                              : "',' or ']' after an array element");
            return NULL;
        }
    }
}

/* Parses one value from *pos; whole: nothing but whitespace may follow,
 * otherwise (a sequence) the value must end at whitespace or the end. */
static adb_json_doc *parse_one(const char *text, size_t len, size_t *pos,
                               const adb_json_limits *limits, adb_json_error *err, bool whole)
{
    parser p = { .text = text, .len = text ? len : 0, .pos = *pos, .err = err };
    adb_json_doc *doc = NULL;

    resolve_limits(limits, &p.lim);
    p.doc = calloc(1, sizeof(*p.doc));
    if (!p.doc) {
        nomem(&p);
        goto out;
    }
    p.doc->root = parse_value(&p);
    if (!p.doc->root)
        goto out;
    if (whole) {
        skip_ws(&p);
        if (p.pos < p.len) {
            fail(&p, ADB_JSON_ERR_SYNTAX, p.pos, "unexpected data after the value");
            goto out;
        }
    } else if (p.pos < p.len && !is_ws((unsigned char)p.text[p.pos])) {
        unexpected(&p, "whitespace or a newline after the value");
        goto out;
    }
    *pos = p.pos;
    doc = p.doc;
    p.doc = NULL;
out:
    if (p.doc) {
        arena_free(&p.doc->arena);
        free(p.doc);
    }
    free(p.sbuf);
    free(p.members);
    free(p.frames);
    return doc;
}

static void clear_error(adb_json_error *err)
{
    err->code = ADB_JSON_OK;
    err->offset = 0;
    err->message[0] = '\0';
}

adb_json_doc *adb__json_parse(const char *text, size_t len, const adb_json_limits *limits,
                              adb_json_error *err)
{
    adb_json_error local;
    size_t pos = 0;

    if (!err)
        err = &local;
    clear_error(err);
    return parse_one(text, len, &pos, limits, err, true);
}

adb_json_doc *adb__json_parse_next(const char *text, size_t len, size_t *pos,
                                   const adb_json_limits *limits, adb_json_error *err)
{
    adb_json_error local;
    size_t at;

    if (!err)
        err = &local;
    clear_error(err);
    if (!text)
        len = 0;
    at = *pos < len ? *pos : len;
    while (at < len && is_ws((unsigned char)text[at]))
        at++;
    if (at >= len) {
        *pos = len;
        return NULL;
    }
    adb_json_doc *doc = parse_one(text, len, &at, limits, err, false);
    if (doc)
        *pos = at;
    return doc;
}

const adb_json *adb__json_root(const adb_json_doc *doc)
{
    return doc ? doc->root : NULL;
}

void adb__json_free(adb_json_doc *doc)
{
    if (!doc)
        return;
    arena_free(&doc->arena);
    free(doc);
}

const adb_json *adb__json_get(const adb_json *obj, const char *key)
{
    size_t kl;

    if (!obj || obj->type != ADB_JSON_OBJECT || !key)
        return NULL;
    kl = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == kl && memcmp(obj->keys[i], key, kl) == 0)
            return obj->items[i];
    return NULL;
}

/* ---- writer -------------------------------------------------------------------- */

/* Makes room for need more bytes plus a NUL; capacity doubles. */
static bool buf_reserve(char **buf, size_t *len, size_t *cap, size_t need)
{
    size_t want, n;

    if (need > SIZE_MAX - 1 - *len)
        return false;
    want = *len + need + 1;
    if (*buf && want <= *cap)
        return true;
    n = *cap ? *cap : 64;
    while (n < want)
        n = n > SIZE_MAX / 2 ? want : n * 2;
    char *b = realloc(*buf, n);
    if (!b)
        return false;
    *buf = b;
    *cap = n;
    return true;
}

static bool buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (!buf_reserve(buf, len, cap, n))
        return false;
    if (n)
        memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

bool adb__json_write_string(const char *s, size_t len, char **buf, size_t *blen, size_t *cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, start = *blen;

    if (!s && len)
        return false;
    if (!buf_add(buf, blen, cap, "\"", 1))
        return false;
    while (i < len) {
        size_t e = i;
        while (e < len && (unsigned char)s[e] >= 0x20 && s[e] != '"' && s[e] != '\\')
            e++;
        if (e > i && !buf_add(buf, blen, cap, s + i, e - i))
            goto fail;
        if (e >= len)
            break;
        unsigned char c = (unsigned char)s[e];
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }
        if (!buf_add(buf, blen, cap, esc, n))
            goto fail;
        i = e + 1;
    }
    if (buf_add(buf, blen, cap, "\"", 1))
        return true;
fail:
    *blen = start;
    (*buf)[start] = '\0';
    return false;
}

/* An array or object being written. */
typedef struct wframe {
    const adb_json *v;
    size_t next;               /* members written */
    size_t *order;             /* objects with more than SMALL_OBJECT members */
    size_t small[SMALL_OBJECT];
} wframe;

/* The member indexes of object v in canonical key order into f. */
static bool sort_members(const adb_json *v, wframe *f)
{
    size_t n = v->count, *o = f->small;

    if (n > SMALL_OBJECT) {
        keyref *r = n <= SIZE_MAX / sizeof(*r) ? malloc(n * sizeof(*r)) : NULL;
        f->order = r ? malloc(n * sizeof(size_t)) : NULL;
        if (!f->order) {
            free(r);
            return false;
        }
        for (size_t i = 0; i < n; i++)
            r[i] = (keyref){ v->keys[i], v->key_lens[i], i };
        qsort(r, n, sizeof(*r), keyref_cmp);
        for (size_t i = 0; i < n; i++)
            f->order[i] = r[i].idx;
        free(r);
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && key_cmp(v->keys[o[j - 1]], v->key_lens[o[j - 1]], v->keys[i],
                                v->key_lens[i]) > 0) {
            o[j] = o[j - 1];
            j--;
        }
        o[j] = i;
    }
    return true;
}

bool adb__json_write_canonical(const adb_json *v, char **buf, size_t *len, size_t *cap)
{
    wframe *st = NULL;
    size_t nst = 0, cst = 0, start = *len;
    bool ok = false;

    if (!v)
        return false;
    for (;;) {
        /* write v: a scalar whole, a container's opening */
        switch (v->type) {
        case ADB_JSON_NULL:
            ok = buf_add(buf, len, cap, "null", 4);
            break;
        case ADB_JSON_FALSE:
            ok = buf_add(buf, len, cap, "false", 5);
            break;
        case ADB_JSON_TRUE:
            ok = buf_add(buf, len, cap, "true", 4);
            break;
        case ADB_JSON_NUMBER:
            ok = buf_add(buf, len, cap, v->str, v->len);
            break;
        case ADB_JSON_STRING:
            ok = adb__json_write_string(v->str, v->len, buf, len, cap);
            break;
        case ADB_JSON_ARRAY:
        case ADB_JSON_OBJECT:
            ok = buf_add(buf, len, cap, v->type == ADB_JSON_ARRAY ? "[" : "{", 1);
            if (ok && v->count) {
                wframe *nw = grow(st, &cst, sizeof(*st), nst + 1);
                ok = nw != NULL;
                if (ok) {
                    st = nw;
                    wframe *f = &st[nst++];
                    f->v = v;
                    f->next = 0;
                    f->order = NULL;
                    ok = v->type == ADB_JSON_ARRAY || sort_members(v, f);
                }
            } else if (ok) {
                ok = buf_add(buf, len, cap, v->type == ADB_JSON_ARRAY ? "]" : "}", 1);
            }
            break;
        default:
            ok = false;
        }
        if (!ok)
            goto out;

        /* the next member of the innermost open container, closing those done */
        v = NULL;
        while (nst > 0 && !v) {
            wframe *f = &st[nst - 1];
            const adb_json *c = f->v;
            if (f->next == c->count) {
                if (!buf_add(buf, len, cap, c->type == ADB_JSON_ARRAY ? "]" : "}", 1))
                    goto out;
                free(f->order);
                nst--;
                continue;
            }
            if (f->next > 0 && !buf_add(buf, len, cap, ",", 1))
                goto out;
            if (c->type == ADB_JSON_ARRAY) {
                v = c->items[f->next];
            } else {
                size_t i = f->order ? f->order[f->next] : f->small[f->next];
                if (!adb__json_write_string(c->keys[i], c->key_lens[i], buf, len, cap) ||
                    !buf_add(buf, len, cap, ":", 1))
                    goto out;
                v = c->items[i];
            }
            f->next++;
        }
        if (!v) {
            ok = true;
            goto out;
        }
    }
out:
    if (!ok) {
        for (size_t i = 0; i < nst; i++)
            free(st[i].order);
        if (*buf) {
            *len = start;
            (*buf)[start] = '\0';
        }
    }
    free(st);
    return ok;
}

/* ---- skipping over JSON text (no parse) -------------------------------- */

/* Past a JSON string starting at p (the quote); NULL if unterminated. */
const char *adb__json_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            if (++p >= end)
                return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

const char *adb__json_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past one JSON value starting at p; NULL if it does not end before end. */
const char *adb__json_skip_value(const char *p, const char *end)
{
    int depth = 0;

    do {
        if (p >= end)
            return NULL;
        if (*p == '"') {
            if (!(p = adb__json_skip_string(p, end)))
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        else if (depth == 0) { /* a scalar at the top: up to its delimiter */
            while (p < end && !strchr(",}] \t\n\r", *p))
                p++;
            return p;
        }
        p++;
    } while (depth > 0);
    return p;
}
