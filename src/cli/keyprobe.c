/*
 * keyprobe.c - before serve takes requests, it asks the database itself
 * whether it can read the key files. Whatever the PostgreSQL server can read,
 * its superusers can read from SQL (pg_read_binary_file, COPY): if that
 * includes master.key or admin.key, events could be rewritten and re-signed
 * without a trace, and with log.key a rewritten history could get signed
 * checkpoints (docs/checkpoints.md), so serve refuses. For the embedded cluster this checks
 * the confinement of docs/embedded.md; with AUDIT_DB_URL it is the only
 * check there is. See docs/integrity.md, Keys.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* true only when the server opened path: reading 0 bytes needs the file to be
 * readable and transfers nothing. A missing file (NULL), a role that may not
 * call the function, or a server that may not open the file: false. */
static bool server_reads(PGconn *c, const char *path)
{
    const char *params[1] = { path };
    PGresult *r = PQexecParams(c, "SELECT pg_read_binary_file($1, 0, 0, true) IS NOT NULL", 1,
                               NULL, params, NULL, NULL, 0);
    bool readable = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                    strcmp(PQgetvalue(r, 0, 0), "t") == 0;

    PQclear(r);
    return readable;
}

int cli_key_probe(cli_db *db)
{
    static const char *const files[] = { "master.key", "admin.key", "log.key" };
    char path[4200];
    PGconn *c;
    int rc = EXIT_OK;

    if (!(c = cli_db_connect(db)))
        return EXIT_DB;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == EXIT_OK; i++) {
        snprintf(path, sizeof(path), "%s/%s", db->cfg.home, files[i]);
        if (access(path, F_OK) == 0 && server_reads(c, path)) {
            cli_error("refusing to serve: the database server can read \"%s\" (SQL "
                      "pg_read_binary_file succeeded), so anyone with superuser SQL could take "
                      "the key and rewrite and re-sign events. Run PostgreSQL as another OS user "
                      "than auditdb, keep the master key in AUDITDB_MASTER_KEY only, and connect "
                      "as a role without pg_read_server_files (docs/integrity.md, Keys)", path);
            rc = EXIT_INTEGRITY;
        }
    }
    PQfinish(c);
    return rc;
}
