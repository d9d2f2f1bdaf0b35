/*
 * export_format.h - audit events written as a file or a stream (internal):
 * JSON (one document), NDJSON (one object a line), CSV and XML. JSON and
 * NDJSON events are written by the API's one serializer (event_json.c), so
 * that ids and times read the same in every format and in every route; CSV
 * and XML cells are written straight from the row, each the text that
 * serializer gives its member (no JSON in between). CSV cells are safe against
 * formula injection, XML is escaped and keeps to XML 1.0's characters
 * (docs/exports.md).
 */
#ifndef ADB_HTTP_EXPORT_FORMAT_H
#define ADB_HTTP_EXPORT_FORMAT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include "../core/buf.h"

/* The column of the id the API shows for an event: the same as the list's
 * (src/http/events.c), so that an event reads alike in every answer. */
#define ADB_EXPORT_PUBLIC_ID "event_id"
/* The columns an event is read with, for adb_http_fmt_event (FROM audit_log):
 * the numeric id first (the streams' keyset), the shown id last. */
#define ADB_EXPORT_COLUMNS                                                                      \
    "id, \"timestamp\", action, status, principal_id, organization_id, target_resource_type,"  \
    " target_resource_id, outcome_description, correlation_id, data_classification,"          \
    " retention_policy, event_version, hash_algorithm, hash, signature, details::text,"       \
    " chain_seq, prev_chain_hash, chain_hash, ttl, archived_at,"                               \
    " (details -> 'sessionContext')::text, " ADB_EXPORT_PUBLIC_ID
/* ...of which the keyset columns, for streams resuming after a row */
#define ADB_EXPORT_NCOLS 24
#define ADB_EXPORT_COL_ID 0
#define ADB_EXPORT_COL_TS 1

typedef enum adb_http_fmt_kind { ADB_FMT_JSON, ADB_FMT_NDJSON, ADB_FMT_CSV, ADB_FMT_XML } adb_http_fmt_kind;

typedef struct adb_http_fmt {
    adb_http_fmt_kind kind;
    bool metadata;        /* the integrity members (hash, signature, chain) */
    bool headers;         /* CSV: a header line */
    json_t *fields;       /* customFields: the members (columns) kept; NULL: all */
    char title[96];       /* JSON and XML: the export id written in the document; "" none */
    long long count;      /* events written */
    bool embedded;        /* JSON, XML: the events' member or element only, inside a
                             document of the caller's (gdpr_export.c); CSV: no header */
} adb_http_fmt;

/* "json", "ndjson", "csv", "xml" -> kind; false for any other. */
bool adb_http_fmt_parse(const char *name, adb_http_fmt_kind *kind);
/* The content type of kind. */
const char *adb_http_fmt_type(adb_http_fmt_kind kind);

/* Checks customFields (an array of member names this server writes); NULL
 * with the first unknown name in *bad, or an array (new reference). */
json_t *adb_http_fmt_fields(const json_t *given, const char **bad);

void adb_http_fmt_begin(adb_http_fmt *f, adb__buf *out);
/* Writes row of r (ADB_EXPORT_COLUMNS) to out. */
void adb_http_fmt_event(adb_http_fmt *f, PGresult *r, int row, adb__buf *out);
/* The same for one row given as its ADB_EXPORT_COLUMNS values (NULL: NULL),
 * e.g. an archived event's. */
void adb_http_fmt_values(adb_http_fmt *f, const char *const v[ADB_EXPORT_NCOLS], adb__buf *out);
void adb_http_fmt_end(adb_http_fmt *f, adb__buf *out);
/* CSV: the header line's member names (without the line's end). */
void adb_http_fmt_csv_header(const adb_http_fmt *f, adb__buf *out);

/* One CSV cell (RFC 4180 quoting; a leading = + - @ tab or CR is prefixed
 * with ' and the cell quoted: OWASP's defence against formula injection). */
void adb_http_csv_cell(adb__buf *out, const char *s, size_t n);
/* s escaped as XML character data; characters XML 1.0 cannot carry become U+FFFD. */
void adb_http_xml_text(adb__buf *out, const char *s, size_t n);

#endif
