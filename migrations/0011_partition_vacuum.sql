-- 0011_partition_vacuum.sql: the newest events' pages are marked all-visible soon after they are
-- written (docs/schema.md). Index-only scans (a page filtered by principals and actions, migration
-- 0010) skip the table only for pages the visibility map calls all-visible, and only VACUUM sets
-- that. PostgreSQL's default vacuums an insert-only table after inserts of 20 % of its size: in a
-- month partition of 1.26 million events, a quarter of a million recent events waited for it, and
-- a filtered page of the organization being written to read 509 rows from the table instead of
-- none (1.65 ms of execution instead of 0.8). Auditors read the newest events most.
-- So each partition is vacuumed after every 10,000 inserts, whatever its size. Such a vacuum of
-- an insert-only table only visits the pages written since the last one (and skips the indexes:
-- nothing is dead); autovacuum visits a database at most once per autovacuum_naptime.
-- ALTER TABLE ... SET (autovacuum_*) takes a SHARE UPDATE EXCLUSIVE lock: reads and writes go on.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- what each partition gets when it is made (auditdb_ensure_partition calls this): the statistics
-- of migration 0008, and now the vacuum settings
CREATE OR REPLACE FUNCTION auditdb_partition_statistics(p_partition text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE STATISTICS IF NOT EXISTS %I (dependencies, ndistinct)'
                   ' ON organization_id, principal_id, action FROM %I',
                   p_partition || '_org_stats', p_partition);
    EXECUTE format('ALTER TABLE %I SET (autovacuum_vacuum_insert_threshold = 10000,'
                   ' autovacuum_vacuum_insert_scale_factor = 0)', p_partition);
END;
$$;
REVOKE ALL ON FUNCTION auditdb_partition_statistics(text) FROM PUBLIC;

-- and the partitions that exist already
SELECT auditdb_partition_statistics(c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'audit_log'::regclass;
