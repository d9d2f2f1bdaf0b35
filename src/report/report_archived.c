/*
 * report_archived.c - archived events in a report's figures (report_query.h):
 * the organization's archives read as the tenant through the archive reader
 * (every check of the reader applied; an archive that fails one fails the
 * report), each archived row of the period that passes the criteria tested
 * with each figure's condition restated in C, and the figures' values,
 * events and "archived" members updated. docs/reports.md, "Report types".
 */
#include "report_types.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../integrity/row.h"
#include "../lifecycle/archive.h"

#include <stdlib.h>
#include <string.h>

static bool in_array(const json_t *a, const char *v)
{
    if (!a || json_is_null(a))
        return true;
    for (size_t i = 0; v && i < json_array_size(a); i++)
        if (!strcmp(json_string_value(json_array_get(a, i)), v))
            return true;
    return false;
}

adb_status adb__rq_archived(adb__report_ctx *x, const adb__rq_archived_figure *f, size_t n,
                            void *ud, long long *counts)
{
    const json_t *crit = json_object_get(x->doc, "criteria");
    static const struct {
        const char *name;
        int col;
    } arrays[] = { { "principalIds", ADB_COL_PRINCIPAL_ID },
                   { "actions", ADB_COL_ACTION },
                   { "resourceTypes", ADB_COL_TARGET_RESOURCE_TYPE },
                   { "dataClassifications", ADB_COL_DATA_CLASSIFICATION },
                   { "statuses", ADB_COL_STATUS } };
    int64_t s_us, e_us;
    adb_status st = ADB_OK;
    json_t **ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids)
        return ADB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        counts[i] = 0;
        ids[i] = json_array();
    }
    adb__timestamp_parse(x->base.start, strlen(x->base.start), &s_us);
    adb__timestamp_parse(x->base.end, strlen(x->base.end), &e_us);
    const char *pp[] = { x->rq->org };
    PGresult *r = PQexecParams(x->c, "SELECT id FROM archive_storage WHERE organization_id = $1"
                                     " AND payload IS NOT NULL AND deleted_at IS NULL"
                                     " ORDER BY first_seq",
                               1, NULL, pp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__rq_db_error(x->c, "list the organization's archives", x->err, x->errlen);
        st = ADB_ERR_DB_QUERY;
    }
    for (int a = 0; st == ADB_OK && a < PQntuples(r); a++) {
        adb__archive_reader *ar = adb__archive_open(x->c, PQgetvalue(r, a, 0), x->err, x->errlen);
        if (!ar) {
            st = ADB_ERR_DB_QUERY;
            break;
        }
        const char *v[ADB__ROW_NCOLS];
        int k;
        while ((k = adb__archive_next(ar, v)) == 1) {
            const char *ts = v[ADB_COL_TIMESTAMP];
            int64_t us;
            if (!ts || !adb__timestamp_parse(ts, strlen(ts), &us) || us < s_us || us > e_us)
                continue;
            bool pass = true;
            for (size_t c = 0; pass && c < sizeof(arrays) / sizeof(arrays[0]); c++)
                pass = in_array(json_object_get(crit, arrays[c].name), v[arrays[c].col]);
            if (!pass)
                continue;
            if (x->archived_row)
                x->archived_row(v, x->archived_ud);
            for (size_t i = 0; i < n; i++) {
                if (!f[i].match(v, ud))
                    continue;
                counts[i]++;
                if (v[ADB_COL_EVENT_ID] && json_array_size(ids[i]) <= ADB_REPORT_SMALL_COUNT)
                    json_array_append_new(ids[i], json_string(v[ADB_COL_EVENT_ID]));
            }
        }
        if (k < 0) {
            adb__fmt(x->err, x->errlen, "could not read archive %s", PQgetvalue(r, a, 0));
            st = ADB_ERR_DB_QUERY;
        }
        adb__archive_close(ar);
    }
    PQclear(r);
    /* the figures: value += archived, events merged while small */
    for (size_t i = 0; st == ADB_OK && i < n; i++) {
        json_t *fig = (json_t *)adb__rq_find_figure(x->figures, f[i].id);
        if (!fig)
            continue;
        long long live = json_integer_value(json_object_get(fig, "value"));
        long long total = live + counts[i];
        json_object_set_new(fig, "value", json_integer(total));
        json_object_set_new(fig, "archived", json_integer(counts[i]));
        json_object_set_new(fig, "archivedQuery",
                            json_string("the organization's archives (archive_storage) read "
                                        "through the archive reader, the same condition tested "
                                        "on each archived event of the period and criteria"));
        json_t *ev = json_object_get(fig, "events");
        if (total <= ADB_REPORT_SMALL_COUNT) {
            if (!ev) {
                ev = json_array();
                json_object_set_new(fig, "events", ev);
            }
            json_array_extend(ev, ids[i]);
        } else if (ev) {
            json_object_del(fig, "events");
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(ids[i]);
    free(ids);
    return st;
}
