/*
 * dbmon_tables.c - tables, partitions and the database: tuples, dead
 * tuples, sizes, a bloat estimate, scans, vacuum and analyze times,
 * autovacuum lag, and transaction-id age (relfrozenxid, datfrozenxid).
 *
 * The bloat estimate is the dead tuples' share of the table's pages
 * (pg_relation_size x dead / (live + dead)): cheap, read from the
 * statistics, and what VACUUM can give back to new rows; it does not count
 * free space left by earlier vacuums (pgstattuple would, by reading every
 * page). Autovacuum is due when dead tuples pass the server's threshold
 * (autovacuum_vacuum_threshold + scale_factor x live tuples, the table's own
 * settings when it has them); its lag is how long the table has waited
 * since its last vacuum (or since the statistics began, when never).
 */
#include "dbmon.h"
#include "dbmon_sql.h"

json_t *adb__dbmon_tables(PGconn *c, char *err, size_t errlen)
{
    return adb__dbmon_json(c, "the tables",
        "SELECT coalesce(json_agg(j ORDER BY j.\"totalBytes\" DESC, j.schema, j.\"table\"), '[]') FROM ("
        " SELECT s.schemaname AS schema, s.relname AS \"table\", pt.relname AS \"partitionOf\","
        "  c.relkind = 'p' AS partitioned,"
        "  (SELECT count(*) FROM pg_inherits WHERE inhparent = c.oid) AS partitions,"
        "  s.n_live_tup AS \"liveTuples\", s.n_dead_tup AS \"deadTuples\","
        "  round(CASE WHEN s.n_live_tup + s.n_dead_tup > 0"
        "   THEN s.n_dead_tup::numeric / (s.n_live_tup + s.n_dead_tup) ELSE 0 END, 4) AS \"deadRatio\","
        "  pg_relation_size(c.oid) AS \"tableBytes\", pg_indexes_size(c.oid) AS \"indexBytes\","
        "  pg_total_relation_size(c.oid) AS \"totalBytes\","
        "  (CASE WHEN s.n_live_tup + s.n_dead_tup > 0 THEN pg_relation_size(c.oid)::numeric"
        "   * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup) ELSE 0 END)::bigint AS \"bloatBytesEstimate\","
        "  s.seq_scan AS \"seqScans\", s.seq_tup_read AS \"seqTuplesRead\","
        "  coalesce(s.idx_scan, 0) AS \"indexScans\", s.n_tup_ins AS inserted, s.n_tup_upd AS updated,"
        "  s.n_tup_del AS deleted, s.n_mod_since_analyze AS \"modifiedSinceAnalyze\","
        "  " DBMON_TS("s.last_vacuum") " AS \"lastVacuum\","
        "  " DBMON_TS("s.last_autovacuum") " AS \"lastAutovacuum\","
        "  " DBMON_TS("s.last_analyze") " AS \"lastAnalyze\","
        "  " DBMON_TS("s.last_autoanalyze") " AS \"lastAutoanalyze\","
        "  s.vacuum_count + s.autovacuum_count AS vacuums,"
        "  v.threshold AS \"autovacuumThreshold\", s.n_dead_tup > v.threshold AS \"autovacuumDue\","
        "  CASE WHEN s.n_dead_tup > v.threshold THEN floor(extract(epoch FROM now() - coalesce("
        "   greatest(s.last_autovacuum, s.last_vacuum), d.stats_reset,"
        "   pg_postmaster_start_time())))::bigint ELSE 0 END AS \"autovacuumLagSeconds\","
        "  CASE WHEN c.relkind IN ('r', 'm', 't') THEN age(c.relfrozenxid) END AS \"xidAge\""
        " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
        " LEFT JOIN pg_inherits h ON h.inhrelid = c.oid LEFT JOIN pg_class pt ON pt.oid = h.inhparent"
        " LEFT JOIN pg_stat_database d ON d.datname = current_database()"
        " CROSS JOIN LATERAL (SELECT (coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions)"
        "    WHERE option_name = 'autovacuum_vacuum_threshold'),"
        "    current_setting('autovacuum_vacuum_threshold'))::float8"
        "   + coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions)"
        "    WHERE option_name = 'autovacuum_vacuum_scale_factor'),"
        "    current_setting('autovacuum_vacuum_scale_factor'))::float8 * s.n_live_tup)::bigint"
        "   AS threshold) v"
        " LIMIT 5000) j",
        0, NULL, err, errlen);
}

json_t *adb__dbmon_database(PGconn *c, char *err, size_t errlen)
{
    return adb__dbmon_json(c, "the database's figures",
        "SELECT json_build_object("
        " 'database', current_database(), 'serverVersion', current_setting('server_version'),"
        " 'sizeBytes', pg_database_size(current_database()),"
        " 'xidAge', (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()),"
        " 'xidAgeMaxAnyDatabase', (SELECT max(age(datfrozenxid)) FROM pg_database),"
        " 'oldestTableXidAge', (SELECT max(age(relfrozenxid)) FROM pg_class WHERE relkind IN ('r', 'm', 't')),"
        " 'autovacuumFreezeMaxAge', current_setting('autovacuum_freeze_max_age')::bigint,"
        " 'xidWraparoundAt', 2147483647,"
        " 'connections', (SELECT coalesce(json_object_agg(st, n), '{}') FROM (SELECT coalesce(state,"
        "   'background') AS st, count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
        "   GROUP BY 1) a),"
        " 'maxConnections', current_setting('max_connections')::int,"
        " 'longestTransactionSeconds', (SELECT coalesce(max(floor(extract(epoch FROM now() - xact_start))),"
        "   0)::bigint FROM pg_stat_activity WHERE datname = current_database() AND xact_start IS NOT NULL"
        "   AND pid <> pg_backend_pid()),"
        " 'cacheHitRatio', (SELECT round(CASE WHEN blks_hit + blks_read > 0 THEN blks_hit::numeric"
        "   / (blks_hit + blks_read) ELSE 1 END, 4) FROM pg_stat_database WHERE datname = current_database()),"
        " 'transactions', (SELECT json_build_object('committed', xact_commit, 'rolledBack', xact_rollback)"
        "   FROM pg_stat_database WHERE datname = current_database()),"
        " 'deadlocks', (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()),"
        " 'tempBytes', (SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()),"
        " 'statsResetAt', (SELECT " DBMON_TS("stats_reset") " FROM pg_stat_database"
        "   WHERE datname = current_database()),"
        " 'serverStartedAt', " DBMON_TS("pg_postmaster_start_time()") ")",
        0, NULL, err, errlen);
}
