/*
 * event_filter.h - the event filters of the export, stream and statistics
 * routes (internal): read from a query string (stream, statistics) or from
 * the export's JSON body, kept as JSON in the export's row, and turned into
 * a WHERE clause whose every value is a parameter. Names and meanings are
 * those of GET /api/v1/audit/events (docs/api.md); the organization is
 * never a filter: it is the key's, and naming another is refused.
 */
#ifndef ADB_HTTP_EVENT_FILTER_H
#define ADB_HTTP_EVENT_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "../core/buf.h"

#define ADB_FILTER_LISTS 6      /* the list filters below */
#define ADB_FILTER_VALUES_MAX 100
#define ADB_SQL_PARAMS_MAX 24

/* A statement under construction: its text and parameters (owned copies). */
typedef struct adb_http_sql {
    adb__buf text;
    char *param[ADB_SQL_PARAMS_MAX];
    int n;
} adb_http_sql;

/* Adds a copy of v (NULL: SQL NULL) as the next parameter; its $ number,
 * 0 when out of room or memory. */
int adb_http_sql_param(adb_http_sql *q, const char *v);
void adb_http_sql_free(adb_http_sql *q);

typedef struct adb_http_filter {
    bool has_start, has_end;
    int64_t start_us, end_us;          /* microseconds since 1970, both inclusive */
    char *list[ADB_FILTER_LISTS];      /* text[] literals ({"a","b"}); NULL: not filtered */
    json_t *list_json[ADB_FILTER_LISTS]; /* the same values as a JSON array (kept in the row) */
    char *correlation_id;
    int has_session_context;           /* -1: not filtered; 0, 1 */
} adb_http_filter;

/* Why a filter was refused: the field at fault; forbidden when it named
 * another organization (403, recorded as a cross-tenant probe). */
typedef struct adb_http_filter_error {
    char field[64], code[32], message[200];
    bool forbidden;
} adb_http_filter_error;

void adb_http_filter_init(adb_http_filter *f);
void adb_http_filter_free(adb_http_filter *f);

/* From query arguments (arg(ud, name): the value or NULL), the names of the
 * list route. false with *e filled. */
bool adb_http_filter_from_query(adb_http_filter *f, const char *(*arg)(void *ud, const char *name),
                                void *ud, const char *own_org, adb_http_filter_error *e);

/* From the client's filter object ({dateRange:{startDate,endDate},
 * principalIds:[...], ...}; NULL: none); prefix names the member in errors
 * ("filter"). false with *e filled. */
bool adb_http_filter_from_json(adb_http_filter *f, const json_t *o, const char *prefix,
                               const char *own_org, adb_http_filter_error *e);

/* The filter as the client's filter object (new reference). */
json_t *adb_http_filter_to_json(const adb_http_filter *f);

/* Appends " AND ..." conditions on audit_log's columns to q. */
void adb_http_filter_where(const adb_http_filter *f, adb_http_sql *q);

#endif
