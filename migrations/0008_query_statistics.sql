-- 0008_query_statistics.sql: the planner learns that a principal, an action
-- or a correlation id belongs to one organization. Without it, it multiplies
-- the selectivities of organization_id and principal_id as if independent,
-- expects a handful of rows per partition, reads every match of every
-- partition and sorts them (50-80 ms for a filtered page of 2M events); with
-- functional-dependency statistics it walks the time index and stops after
-- one page (under 1 ms). Each partition gets the statistics when it is made.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE FUNCTION auditdb_partition_statistics(p_partition text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE STATISTICS IF NOT EXISTS %I (dependencies, ndistinct)'
                   ' ON organization_id, principal_id, action FROM %I',
                   p_partition || '_org_stats', p_partition);
END;
$$;
REVOKE ALL ON FUNCTION auditdb_partition_statistics(text) FROM PUBLIC;

-- partitions made from now on get their statistics at once
CREATE OR REPLACE FUNCTION auditdb_ensure_partition(p_month date)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    v_first date;
    v_next  date;
    v_name  text;
BEGIN
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'auditdb_ensure_partition: month must not be null';
    END IF;

    v_first := date_trunc('month', p_month::timestamp)::date;
    v_next  := (v_first + interval '1 month')::date;
    v_name  := 'audit_log_' || to_char(v_first, 'YYYY_MM');

    IF NOT EXISTS (
        SELECT 1
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_log'::regclass
           AND c.relname = v_name
    ) THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                v_name,
                to_char(v_first, 'YYYY-MM-DD') || ' 00:00:00+00',
                to_char(v_next, 'YYYY-MM-DD') || ' 00:00:00+00');
            PERFORM auditdb_partition_statistics(v_name);
        EXCEPTION
            WHEN duplicate_table OR unique_violation OR duplicate_object THEN
                NULL;  -- another session created it at the same moment: checked below
        END;

        IF NOT EXISTS (
            SELECT 1
              FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'audit_log'::regclass
               AND c.relname = v_name
        ) THEN
            RAISE EXCEPTION 'relation "%" exists but is not a partition of audit_log', v_name;
        END IF;
    END IF;

    RETURN v_name;
END
$fn$;

-- and the partitions that exist already
DO $$
DECLARE
    v_part text;
BEGIN
    FOR v_part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'audit_log'::regclass
    LOOP
        PERFORM auditdb_partition_statistics(v_part);
    END LOOP;
END;
$$;
