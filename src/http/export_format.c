/*
 * export_format.c - events as JSON, NDJSON, CSV or XML (export_format.h).
 */
#include "export_format.h"
#include "event_json.h"
#include "jw.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The members this server writes, in the CSV and XML column order; meta:
 * an integrity member (left out without includeMetadata). DERIVED: written
 * by the serializer from another member, not a field of its own. */
#define DERIVED ((size_t)-1)
static const struct { const char *name; size_t off; bool meta; } members[] = {
    { "id", offsetof(adb_http_event, id), false },
    { "timestamp", offsetof(adb_http_event, timestamp), false },
    { "storedTimestamp", DERIVED, false }, /* the serializer's exact time, from timestamp */
    { "action", offsetof(adb_http_event, action), false },
    { "status", offsetof(adb_http_event, status), false },
    { "principalId", offsetof(adb_http_event, principal_id), false },
    { "organizationId", offsetof(adb_http_event, organization_id), false },
    { "targetResourceType", offsetof(adb_http_event, target_resource_type), false },
    { "targetResourceId", offsetof(adb_http_event, target_resource_id), false },
    { "outcomeDescription", offsetof(adb_http_event, outcome_description), false },
    { "correlationId", offsetof(adb_http_event, correlation_id), false },
    { "dataClassification", offsetof(adb_http_event, data_classification), false },
    { "retentionPolicy", offsetof(adb_http_event, retention_policy), false },
    { "eventVersion", offsetof(adb_http_event, event_version), false },
    { "ttl", offsetof(adb_http_event, ttl), false },
    { "archivedAt", offsetof(adb_http_event, archived_at), false },
    { "details", offsetof(adb_http_event, details), false },
    { "sessionContext", offsetof(adb_http_event, session_context), false },
    { "hashAlgorithm", offsetof(adb_http_event, hash_algorithm), true },
    { "hash", offsetof(adb_http_event, hash), true },
    { "signature", offsetof(adb_http_event, signature), true },
    { "chainSeq", offsetof(adb_http_event, chain_seq), true },
    { "prevChainHash", offsetof(adb_http_event, prev_chain_hash), true },
    { "chainHash", offsetof(adb_http_event, chain_hash), true },
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

enum { C_ID, C_TS, C_ACTION, C_STATUS, C_PRINCIPAL, C_ORG, C_TTYPE, C_TID, C_OUTCOME, C_CORR,
       C_CLASS, C_RET, C_VERSION, C_HALG, C_HASH, C_SIG, C_DETAILS, C_SEQ, C_PREV, C_CHAIN,
       C_TTL, C_ARCHIVED, C_SESSION, C_PUBLIC_ID };

/* The column each plain text member is read from (row_cells); -1: a member
 * made otherwise (id, times, chainSeq, JSON). */
static const int column_of[] = {
    -1, -1, -1, C_ACTION, C_STATUS, C_PRINCIPAL, C_ORG, C_TTYPE, C_TID, C_OUTCOME, C_CORR,
    C_CLASS, C_RET, C_VERSION, C_TTL, -1, -1, -1, C_HALG, C_HASH, C_SIG, -1, C_PREV, C_CHAIN,
};
_Static_assert(sizeof(column_of) / sizeof(column_of[0]) == NMEMBERS, "a column for every member");

bool adb_http_fmt_parse(const char *name, adb_http_fmt_kind *kind)
{
    static const struct { const char *name; adb_http_fmt_kind kind; } kinds[] = {
        { "json", ADB_FMT_JSON }, { "ndjson", ADB_FMT_NDJSON }, { "csv", ADB_FMT_CSV },
        { "xml", ADB_FMT_XML },
    };
    for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(name, kinds[i].name)) {
            *kind = kinds[i].kind;
            return true;
        }
    return false;
}

const char *adb_http_fmt_type(adb_http_fmt_kind kind)
{
    switch (kind) {
    case ADB_FMT_NDJSON: return "application/x-ndjson";
    case ADB_FMT_CSV: return "text/csv; charset=utf-8";
    case ADB_FMT_XML: return "application/xml; charset=utf-8";
    default: return "application/json";
    }
}

static int member_index(const char *name)
{
    for (size_t i = 0; i < NMEMBERS; i++)
        if (!strcmp(members[i].name, name))
            return (int)i;
    return -1;
}

json_t *adb_http_fmt_fields(const json_t *given, const char **bad)
{
    size_t k;
    json_t *v, *out = json_array();

    *bad = NULL;
    json_array_foreach(given, k, v) {
        if (!json_is_string(v) || member_index(json_string_value(v)) < 0) {
            *bad = json_is_string(v) ? json_string_value(v) : "";
            json_decref(out);
            return NULL;
        }
        json_array_append(out, v);
    }
    return out;
}

/* Whether member i is written. */
static bool kept(const adb_http_fmt *f, size_t i)
{
    if (members[i].meta && !f->metadata)
        return false;
    if (!f->fields)
        return true;
    size_t k;
    json_t *v;
    json_array_foreach(f->fields, k, v)
        if (!strcmp(json_string_value(v), members[i].name))
            return true;
    return false;
}

/* A time as PostgreSQL printed it, in the API's form (as events.c). */
static const char *api_time(const char *pg, char out[ADB_TS_TEXT_MAX])
{
    int64_t t;
    if (!pg || !adb__timestamp_parse(pg, strlen(pg), &t))
        return pg;
    adb__timestamp_format(t, out);
    return out;
}

/* The event object of the row v (ADB_EXPORT_COLUMNS' order), by the one
 * serializer, with the members not kept left out (the id is always
 * written). Caller frees. */
static char *event_text(const adb_http_fmt *f, const char *const *v, size_t *len)
{
    char ts[ADB_TS_TEXT_MAX], archived[ADB_TS_TEXT_MAX];
    adb_http_event e = {
        .id = v[C_PUBLIC_ID], .timestamp = api_time(v[C_TS], ts),
        .action = v[C_ACTION], .status = v[C_STATUS],
        .principal_id = v[C_PRINCIPAL], .organization_id = v[C_ORG],
        .target_resource_type = v[C_TTYPE], .target_resource_id = v[C_TID],
        .outcome_description = v[C_OUTCOME], .correlation_id = v[C_CORR],
        .data_classification = v[C_CLASS], .retention_policy = v[C_RET],
        .event_version = v[C_VERSION], .hash_algorithm = v[C_HALG],
        .hash = v[C_HASH], .signature = v[C_SIG], .ttl = v[C_TTL],
        .archived_at = api_time(v[C_ARCHIVED], archived),
        .details = v[C_DETAILS], .session_context = v[C_SESSION],
        .chain_seq = v[C_SEQ], .prev_chain_hash = v[C_PREV],
        .chain_hash = v[C_CHAIN],
    };
    for (size_t i = 1; i < NMEMBERS; i++)
        if (members[i].off != DERIVED && !kept(f, i))
            *(const char **)((char *)&e + members[i].off) = NULL;
    jw w;
    jw_init(&w);
    adb_http_write_event(&w, &e);
    return jw_take(&w, len);
}

void adb_http_csv_cell(adb__buf *out, const char *s, size_t n)
{
    bool formula = n > 0 && strchr("=+-@\t\r", s[0]);
    bool quote = formula;

    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        adb__buf_put(out, s, n);
        return;
    }
    adb__buf_put(out, formula ? "\"'" : "\"", formula ? 2 : 1); /* ': shown as text by spreadsheets */
    for (const char *p = s, *end = s + n; p < end;) {   /* runs up to each quote, the quote doubled */
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t run = q ? (size_t)(q - p) + 1 : (size_t)(end - p);
        adb__buf_put(out, p, run);
        if (q)
            adb__buf_put(out, "\"", 1);
        p += run;
    }
    adb__buf_put(out, "\"", 1);
}

void adb_http_xml_text(adb__buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = adb__utf8_seq(s + i, n - i);
        if (len == 0) { /* not UTF-8 (never from jansson): the replacement character */
            adb__buf_puts(out, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        if (len == 1) {
            switch (c) {
            case '&': adb__buf_puts(out, "&amp;"); break;
            case '<': adb__buf_puts(out, "&lt;"); break;
            case '>': adb__buf_puts(out, "&gt;"); break;
            case '"': adb__buf_puts(out, "&quot;"); break;
            case '\'': adb__buf_puts(out, "&apos;"); break;
            case '\r': adb__buf_puts(out, "&#13;"); break; /* kept: a parser would fold it */
            default:
                if (c < 0x20 && c != '\t' && c != '\n')
                    adb__buf_puts(out, "\xEF\xBF\xBD"); /* XML 1.0 has no such character */
                else
                    adb__buf_put(out, s + i, 1);
            }
        } else if (len == 3 && (unsigned char)s[i] == 0xEF && (unsigned char)s[i + 1] == 0xBF &&
                   ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF)) {
            adb__buf_puts(out, "\xEF\xBF\xBD"); /* U+FFFE, U+FFFF: not XML characters */
        } else {
            adb__buf_put(out, s + i, len);
        }
        i += len;
    }
}

/* ---- CSV and XML cells straight from the row ------------------------------ */

/* JSON text j (as jsonb prints it: ", " and ": " between members) made
 * compact: whitespace outside strings dropped, the hex digits of \u escapes
 * in upper case; numbers and everything else exactly as stored. This is the
 * text jansson's compact dump gave when cells were taken from the
 * serializer's object (kept so that files read the same), except numbers:
 * a real was re-printed from a double (0.1 as 0.10000000000000001) and an
 * integer beyond 64 bits failed the export; now both are as stored. */
static void json_compact(adb__buf *out, const char *j)
{
    bool in = false;
    const char *run = j, *p = j;

    for (; *p; p++) {
        char c = *p;
        if (in) {
            if (c == '"') {
                in = false;
            } else if (c == '\\' && p[1] == 'u') {
                adb__buf_put(out, run, (size_t)(p - run) + 2);
                p += 2;
                for (int k = 0; k < 4 && *p; k++, p++) {
                    char h = *p >= 'a' && *p <= 'f' ? (char)(*p - 'a' + 'A') : *p;
                    adb__buf_put(out, &h, 1);
                }
                run = p--;
            } else if (c == '\\' && p[1]) {
                p++;
            }
        } else if (c == '"') {
            in = true;
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            adb__buf_put(out, run, (size_t)(p - run));
            run = p + 1;
        }
    }
    adb__buf_put(out, run, (size_t)(p - run));
}

/* b holding one JSON string: b made its decoded text, returned with its
 * length in *n (as a cell of the serializer's object read it); NULL when
 * it does not decode. Rare (a string where an object is usual). */
static const char *json_string_text(adb__buf *b, size_t *n)
{
    json_t *t = json_loadb(b->p, b->len, JSON_DECODE_ANY, NULL);
    const char *s = NULL;
    if (json_is_string(t)) {
        b->len = 0;
        adb__buf_put(b, json_string_value(t), json_string_length(t));
        if (!b->oom) {
            s = b->p;
            *n = b->len;
        }
    }
    json_decref(t);
    return s;
}

/* One cell of a CSV row or element of an XML event. */
static void put_cell(const adb_http_fmt *f, const char *name, const char *s, size_t n, adb__buf *out)
{
    if (f->kind == ADB_FMT_CSV) {
        if (s)
            adb_http_csv_cell(out, s, n);
        return;
    }
    if (!s)
        return; /* XML: an absent member has no element */
    adb__buf_put(out, "<", 1);
    adb__buf_puts(out, name);
    adb__buf_put(out, ">", 1);
    adb_http_xml_text(out, s, n);
    adb__buf_put(out, "</", 2);
    adb__buf_puts(out, name);
    adb__buf_put(out, ">", 1);
}

/* The row v (ADB_EXPORT_COLUMNS' order) as one CSV line or XML event, each
 * cell taken from the row itself: the same texts the API's serializer gives
 * each member (event_json.c: times in its two forms, chainSeq as a number,
 * details and sessionContext as compact JSON text), without writing the
 * event as JSON and parsing it back (docs/exports.md, "Formats"). */
static void row_cells(const adb_http_fmt *f, const char *const *v, adb__buf *out)
{
    char exact_buf[ADB_TS_TEXT_MAX], ms_buf[ADB_TS_TEXT_MAX], archived[ADB_TS_TEXT_MAX], seq[24];
    const char *exact = NULL, *ms = NULL;
    adb__buf json = { 0 };

    if (kept(f, 1)) /* the serializer writes both forms, or neither, from timestamp */
        adb_http_event_times(v[C_TS], exact_buf, ms_buf, &exact, &ms);
    if (f->kind == ADB_FMT_XML)
        adb__buf_puts(out, "  <event>");
    for (size_t i = 0; i < NMEMBERS; i++) {
        if (i != 0 && !kept(f, i))
            continue;
        if (f->kind == ADB_FMT_CSV && i != 0)
            adb__buf_put(out, ",", 1);
        const char *s = NULL;
        size_t n = 0;
        switch (i) {
        case 0: s = v[C_PUBLIC_ID] ? v[C_PUBLIC_ID] : ""; break;
        case 1: s = ms; break;
        case 2: s = exact; break;
        default:
            if (members[i].off == offsetof(adb_http_event, archived_at)) {
                s = api_time(v[C_ARCHIVED], archived);
            } else if (members[i].off == offsetof(adb_http_event, chain_seq)) {
                if (v[C_SEQ]) {
                    adb__fmt(seq, sizeof(seq), "%lld", strtoll(v[C_SEQ], NULL, 10));
                    s = seq;
                }
            } else if (members[i].off == offsetof(adb_http_event, details) ||
                       members[i].off == offsetof(adb_http_event, session_context)) {
                const char *j = v[members[i].off == offsetof(adb_http_event, details) ? C_DETAILS
                                                                                    : C_SESSION];
                if (j) {
                    json.len = 0;
                    json_compact(&json, j);
                    if (json.oom) {
                        out->oom = true;
                        break;
                    }
                    s = json.p ? json.p : "";
                    n = json.len;
                    if (n == 4 && !memcmp(s, "null", 4))
                        s = NULL; /* JSON null: absent, as the serializer's object had it */
                    else if (s[0] == '"') /* a JSON string (sessionContext may be one): its text */
                        s = json_string_text(&json, &n);
                }
            } else if (column_of[i] >= 0) {
                s = v[column_of[i]];
            }
        }
        if (s && !n)
            n = strlen(s);
        put_cell(f, members[i].name, s, n, out);
    }
    adb__buf_puts(out, f->kind == ADB_FMT_CSV ? "\r\n" : "</event>\n");
    adb__buf_free(&json);
}

void adb_http_fmt_csv_header(const adb_http_fmt *f, adb__buf *out)
{
    bool first = true;
    for (size_t i = 0; i < NMEMBERS; i++)
        if (i == 0 || kept(f, i)) {
            if (!first)
                adb__buf_put(out, ",", 1);
            adb__buf_puts(out, members[i].name);
            first = false;
        }
}

void adb_http_fmt_begin(adb_http_fmt *f, adb__buf *out)
{
    f->count = 0;
    switch (f->kind) {
    case ADB_FMT_JSON:
        if (f->embedded) {
            adb__buf_puts(out, "\"events\":[");
            break;
        }
        adb__buf_puts(out, "{");
        if (f->title[0]) {
            adb__buf_puts(out, "\"exportId\":");
            adb__buf_json_string(out, f->title, strlen(f->title));
            adb__buf_puts(out, ",");
        }
        adb__buf_puts(out, "\"events\":[");
        break;
    case ADB_FMT_CSV:
        if (f->headers && !f->embedded) {
            adb_http_fmt_csv_header(f, out);
            adb__buf_puts(out, "\r\n");
        }
        break;
    case ADB_FMT_XML:
        if (f->embedded) {
            adb__buf_puts(out, "<auditEvents>\n");
            break;
        }
        adb__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<auditEvents");
        if (f->title[0]) {
            adb__buf_puts(out, " exportId=\"");
            adb_http_xml_text(out, f->title, strlen(f->title));
            adb__buf_puts(out, "\"");
        }
        adb__buf_puts(out, ">\n");
        break;
    case ADB_FMT_NDJSON:
        break;
    }
}

void adb_http_fmt_event(adb_http_fmt *f, PGresult *r, int row, adb__buf *out)
{
    const char *v[ADB_EXPORT_NCOLS];

    for (int c = 0; c < ADB_EXPORT_NCOLS; c++)
        v[c] = PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
    adb_http_fmt_values(f, v, out);
}

void adb_http_fmt_values(adb_http_fmt *f, const char *const v[ADB_EXPORT_NCOLS], adb__buf *out)
{
    if (f->kind == ADB_FMT_CSV || f->kind == ADB_FMT_XML) {
        row_cells(f, v, out);
        f->count++;
        return;
    }
    size_t len;
    char *text = event_text(f, v, &len);

    if (!text) {
        out->oom = true;
        return;
    }
    if (f->kind == ADB_FMT_JSON && f->count > 0)
        adb__buf_put(out, ",", 1);
    adb__buf_put(out, text, len);
    if (f->kind == ADB_FMT_NDJSON)
        adb__buf_put(out, "\n", 1);
    free(text);
    f->count++;
}

void adb_http_fmt_end(adb_http_fmt *f, adb__buf *out)
{
    if (f->kind == ADB_FMT_JSON && f->embedded)
        adb__buf_puts(out, "]");
    else if (f->kind == ADB_FMT_JSON)
        adb__buf_printf(out, "],\"recordCount\":%lld}\n", f->count);
    else if (f->kind == ADB_FMT_XML)
        adb__buf_puts(out, "</auditEvents>\n");
}
