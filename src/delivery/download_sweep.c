/*
 * download_sweep.c - removes from disk the files of download links that can
 * no longer be served (download.h, adb__download_sweep; docs/delivery.md
 * "Download links"). Run by the first delivery thread of every serve every
 * AUDITDB_DOWNLOAD_SWEEP_MS (60 s; 0: never).
 */
#include "download.h"
#include "../core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dl_ and 22 base64url characters: what download.c makes, nothing else. */
static bool link_id_ok(const char *id)
{
    if (strncmp(id, "dl_", 3) != 0 || strlen(id) != 25)
        return false;
    for (const char *p = id + 3; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

adb_status adb__download_sweep(adb *h, PGconn *c, int max, int *removed)
{
    char dir[1024], lim[16];
    *removed = 0;
    if (!adb__download_dir(h, dir, sizeof(dir)))
        return ADB_OK;   /* no folder: no file was ever stored here */
    if (!exec_ok(c, "BEGIN"))
        return ADB_ERR_DB_QUERY;
    adb__fmt(lim, sizeof(lim), "%d", max);
    const char *p[] = { lim };
    PGresult *r = PQexecParams(c,
        "SELECT id, organization_id FROM download_links"
        " WHERE NOT (metadata ? 'fileRemovedAt')"
        "   AND (expires_at <= now() OR is_active <> 'true'"
        "        OR (max_access IS NOT NULL AND access_count >= max_access))"
        " ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        exec_ok(c, "ROLLBACK");
        return ADB_ERR_DB_QUERY;
    }
    bool ok = true;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *org = PQgetvalue(r, i, 1);
        char folder[33], path[1200];
        const char *outcome = "removed";
        adb__download_org_folder(org, folder);
        if (!link_id_ok(id)) {
            outcome = "not a link id: no file removed";
        } else if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, folder, id) >= sizeof(path)) {
            continue;
        } else if (unlink(path) != 0) {
            if (errno != ENOENT)
                continue;   /* kept: tried again at the next sweep */
            outcome = "already gone";
        }
        const char *u[] = { id, outcome };
        PGresult *w = PQexecParams(c,
            "UPDATE download_links SET metadata = metadata || jsonb_build_object('fileRemovedAt',"
            " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'fileRemoval', $2::text),"
            " updated_at = now() WHERE id = $1", 2, NULL, u, NULL, NULL, 0);
        ok = PQresultStatus(w) == PGRES_COMMAND_OK;
        PQclear(w);
        if (ok)
            (*removed)++;
    }
    PQclear(r);
    if (!ok) {
        exec_ok(c, "ROLLBACK");
        return ADB_ERR_DB_QUERY;
    }
    return exec_ok(c, "COMMIT") ? ADB_OK : ADB_ERR_DB_QUERY;
}
