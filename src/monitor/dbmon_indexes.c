/*
 * dbmon_indexes.c - index usage: every user index with its scans and size;
 * unused (never scanned since the statistics were reset, and backing no
 * unique rule or constraint); an exact duplicate of another index of the
 * same table (same columns, operator classes, expressions and predicate:
 * duplicateOf names the one to keep: primary, then unique, then the oldest);
 * covered by another (its columns a leading part of a wider btree index).
 */
#include "dbmon.h"
#include "dbmon_sql.h"

json_t *adb__dbmon_indexes(PGconn *c, char *err, size_t errlen)
{
    return adb__dbmon_json(c, "the indexes",
        "WITH ix AS ("
        " SELECT x.indexrelid, x.indrelid, x.indisunique, x.indisprimary, x.indkey::text AS keys,"
        "  x.indclass::text AS classes, coalesce(pg_get_expr(x.indexprs, x.indrelid), '') AS exprs,"
        "  coalesce(pg_get_expr(x.indpred, x.indrelid), '') AS pred, am.amname,"
        "  EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) AS cons"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam"
        " JOIN pg_namespace n ON n.oid = i.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')"
        "SELECT coalesce(json_agg(j ORDER BY j.schema, j.\"table\", j.index), '[]') FROM ("
        " SELECT n.nspname AS schema, t.relname AS \"table\", i.relname AS index, am.amname AS method,"
        "  pt.relname AS \"partitionOf\", coalesce(s.idx_scan, 0) AS scans,"
        "  coalesce(s.idx_tup_read, 0) AS \"tuplesRead\", pg_relation_size(i.oid) AS \"sizeBytes\","
        "  ix.indisunique AS \"unique\", ix.indisprimary AS \"primary\", ix.cons AS \"constraint\","
        "  coalesce(s.idx_scan, 0) = 0 AND NOT ix.indisunique AND NOT ix.cons AND i.relkind = 'i' AS unused,"
        "  (SELECT i2.relname FROM ix d JOIN pg_class i2 ON i2.oid = d.indexrelid"
        "    WHERE d.indrelid = ix.indrelid AND d.indexrelid <> ix.indexrelid AND d.keys = ix.keys"
        "     AND d.classes = ix.classes AND d.exprs = ix.exprs AND d.pred = ix.pred"
        "     AND d.amname = ix.amname"
        "     AND (d.indisprimary::int, d.indisunique::int, -d.indexrelid::bigint)"
        "       > (ix.indisprimary::int, ix.indisunique::int, -ix.indexrelid::bigint)"
        "    ORDER BY d.indisprimary DESC, d.indisunique DESC, d.indexrelid LIMIT 1) AS \"duplicateOf\","
        "  (SELECT i2.relname FROM ix d JOIN pg_class i2 ON i2.oid = d.indexrelid"
        "    WHERE d.indrelid = ix.indrelid AND d.indexrelid <> ix.indexrelid AND NOT ix.indisunique"
        "     AND ix.amname = 'btree' AND d.amname = 'btree' AND ix.exprs = '' AND d.exprs = ''"
        "     AND ix.pred = '' AND d.pred = '' AND d.keys LIKE ix.keys || ' %'"
        "     AND d.classes LIKE ix.classes || ' %'"
        "    ORDER BY d.indexrelid LIMIT 1) AS \"coveredBy\","
        "  pg_get_indexdef(i.oid) AS definition"
        " FROM ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam"
        " LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = ix.indexrelid"
        " LEFT JOIN pg_inherits h ON h.inhrelid = t.oid LEFT JOIN pg_class pt ON pt.oid = h.inhparent"
        " LIMIT 5000) j",
        0, NULL, err, errlen);
}
