-- 0037_db_monitoring.sql: the extensions database monitoring reads (docs/monitoring.md,
-- "Database monitoring" and "Index suggestions"), each created only when the server has it and
-- the migrating role may: pg_stat_statements (per-statement times; it counts only when the
-- server preloads it: the embedded cluster does, an operator's server may not) and hypopg
-- (hypothetical indexes: a suggestion's planner cost with the index, without building it).
-- Neither is required: without them the monitor says what it lacks and does the rest
-- (src/monitor/dbmon_caps.c). No table: findings are alerts (adb__alert_raise).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.
DO $$
DECLARE
    ext text;
BEGIN
    FOREACH ext IN ARRAY ARRAY['pg_stat_statements', 'hypopg'] LOOP
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = ext) THEN
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ext) THEN
            RAISE NOTICE 'extension % is not installed on this server: database monitoring '
                         'goes without it (docs/monitoring.md)', ext;
            CONTINUE;
        END IF;
        BEGIN
            EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I', ext);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'could not create extension % (%): database monitoring goes '
                         'without it; a superuser may run CREATE EXTENSION % (docs/monitoring.md)',
                         ext, SQLERRM, ext;
        END;
    END LOOP;
END
$$;
