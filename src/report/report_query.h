/*
 * report_query.h - what every report type shares (internal to src/report/):
 * the criteria as query parameters, figures counted in one scan of the
 * organization's events with each figure's own query written down, and the
 * document's members built from query results. docs/reports.md, "The
 * document".
 */
#ifndef ADB_REPORT_QUERY_H
#define ADB_REPORT_QUERY_H

#include "report.h"

/* Figures with at most this many events name them. */
#define ADB_REPORT_SMALL_COUNT 25
/* Rows of one breakdown table at most (the largest groups first). */
#define ADB_REPORT_TABLE_ROWS 1000
/* Entries of one criteria array at most. */
#define ADB_REPORT_CRITERIA_MAX 100

/* The events a report reads: the organization, the period (inclusive) and
 * the criteria's filters, as the 8 parameters of ADB_REPORT_BASE (text; an
 * absent filter is NULL). Owns the array texts. */
typedef struct adb__rq_base {
    const char *org;
    char start[40], end[40];   /* RFC 3339 as given (checked) */
    char *arrays[5];           /* principalIds, actions, resourceTypes,
                                  dataClassifications, statuses: '{...}' or NULL */
    const char *params[8];
} adb__rq_base;

/* The WHERE clause every figure starts from ($1..$8 of adb__rq_base). */
#define ADB_REPORT_BASE                                                                   \
    "organization_id = $1 AND \"timestamp\" >= $2::timestamptz"                           \
    " AND \"timestamp\" <= $3::timestamptz"                                               \
    " AND ($4::text[] IS NULL OR principal_id = ANY($4::text[]))"                         \
    " AND ($5::text[] IS NULL OR action = ANY($5::text[]))"                               \
    " AND ($6::text[] IS NULL OR target_resource_type = ANY($6::text[]))"                 \
    " AND ($7::text[] IS NULL OR data_classification = ANY($7::text[]))"                  \
    " AND ($8::text[] IS NULL OR status = ANY($8::text[]))"

/* Checks criteria (the client's ReportCriteria) and fills b. ADB_ERR_INVALID
 * with the field at fault ("criteria.dateRange.startDate", ...) and why. */
adb_status adb__rq_base_init(adb__rq_base *b, const char *org, const json_t *criteria, char *field,
                             size_t fieldlen, char *err, size_t errlen);
void adb__rq_base_free(adb__rq_base *b);
/* The parameters as a JSON array (strings and nulls), new reference. */
json_t *adb__rq_base_params(const adb__rq_base *b);

/* One figure: a count of the base's events that match cond (an SQL boolean
 * over audit_log's columns, a constant of the code: never a value). */
typedef struct adb__rq_figure {
    const char *id, *label, *cond;
} adb__rq_figure;

/* Counts the n figures in one scan (count(*) FILTER (WHERE cond)), then
 * names the events (event_id, in time order) of each figure whose count is
 * 1..ADB_REPORT_SMALL_COUNT in one more query. Appends to figures (the
 * document's array) one object per figure: id, label, value, query (the
 * standalone count query), parameters, events (when value <= 25). counts
 * (n entries) gets the values. */
adb_status adb__rq_figures(PGconn *c, const adb__rq_base *b, const adb__rq_figure *f, size_t n,
                           json_t *figures, long long *counts, char *err, size_t errlen);

/* adb__rq_figures' second half, for counts computed elsewhere (a scan that
 * also builds tables): the events of the small figures named (one query),
 * the figures appended to figures as adb__rq_figures does. */
adb_status adb__rq_figures_counted(PGconn *c, const adb__rq_base *b, const adb__rq_figure *f,
                                   size_t n, const long long *counts, json_t *figures, char *err,
                                   size_t errlen);

/* Runs sql (parameters: the base's first nparams: 8, or 3 for org and period
 * alone) and appends its rows as a table to
 * tables: {id, title, columns, rows, query}; a column whose values are all
 * integers is written as numbers. At most ADB_REPORT_TABLE_ROWS rows (the
 * query should say LIMIT). *out_rows gets the rows (may be NULL). */
adb_status adb__rq_table(PGconn *c, const adb__rq_base *b, int nparams, const char *id,
                         const char *title,
                         const char *const *columns, size_t ncol, const char *sql, json_t *tables,
                         json_t **out_rows, char *err, size_t errlen);

/* The same from rows [from, to) of a result already read (at most
 * ADB_REPORT_TABLE_ROWS of them), its columns cols[0..ncol) (ncol <= 16);
 * sql is the query shown (the standalone equivalent). r stays the caller's. */
adb_status adb__rq_table_from(const PGresult *r, int from, int to, const int *cols,
                              const char *id, const char *title, const char *const *columns,
                              size_t ncol, const char *sql, json_t *tables, json_t **out_rows,
                              char *err, size_t errlen);

/* Runs sql (nparams as above) whose rows are (label text, value bigint) and appends a chart
 * {id, title, kind, labels, series: [{name, values}], query}. */
adb_status adb__rq_chart(PGconn *c, const adb__rq_base *b, int nparams, const char *id,
                         const char *title,
                         const char *kind, const char *series_name, const char *sql,
                         json_t *charts, char *err, size_t errlen);

/* The same from rows [from, to) of a result already read, its label and value columns. */
adb_status adb__rq_chart_from(const PGresult *r, int from, int to, int label_col, int value_col,
                              const char *id, const char *title, const char *kind,
                              const char *series_name, const char *sql, json_t *charts,
                              char *err, size_t errlen);

/* A figure's value by id in the document's figures (0 when missing). */
long long adb__rq_figure_value(const json_t *figures, const char *id);
/* A figure by id (borrowed), NULL when missing. */
const json_t *adb__rq_find_figure(const json_t *figures, const char *id);

/* A figure's condition restated in C over an archived row (integrity/row.h's
 * ADB_COL_* columns, NULL for NULL). */
typedef struct adb__rq_archived_figure {
    const char *id;
    bool (*match)(const char *const *row, void *ud);
} adb__rq_archived_figure;

struct adb__report_ctx;
/* Adds the organization's archived events (of the period, passing the
 * criteria) to the n figures already in the document (report_archived.c):
 * value, "archived", "archivedQuery", events while at most 25. counts gets
 * the archived counts. */
adb_status adb__rq_archived(struct adb__report_ctx *x, const adb__rq_archived_figure *f, size_t n,
                            void *ud, long long *counts);

/* Sets err from c's last error with a prefix ("could not count the HIPAA
 * figures: ..."); never the statement's values. */
void adb__rq_db_error(PGconn *c, const char *what, char *err, size_t errlen);

#endif
