-- report_schedule_dst.sql: the daylight-saving property of adb_report_next_run (docs/reports.md,
-- "Schedules"), run by report_schedule_dst.sh. For every transition from 2000 to 2100 in 20
-- zones, and every local time from an hour before the shift to an hour after it (30-minute
-- steps), daily, weekly and monthly schedules at that time on that day must run once on every
-- day they name around it, none skipped, none doubled, at the instant the written rule says:
-- the first instant whose local time is it, or, for a time that does not exist, the wall time
-- read with the offset before the shift. The oracle below uses only PostgreSQL's conversions.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE zones (z text PRIMARY KEY);
INSERT INTO zones VALUES
    ('America/New_York'), ('America/Chicago'), ('America/Denver'), ('America/Los_Angeles'),
    ('America/St_Johns'), ('America/Havana'), ('America/Santiago'), ('America/Asuncion'),
    ('America/Sao_Paulo'), ('Europe/London'), ('Europe/Berlin'), ('Europe/Moscow'),
    ('Asia/Tehran'), ('Asia/Jerusalem'), ('Asia/Beirut'), ('Africa/Cairo'),
    ('Australia/Sydney'), ('Australia/Lord_Howe'), ('Pacific/Auckland'), ('Pacific/Chatham');

-- the offset of zone z at instant t
CREATE FUNCTION pg_temp.off(t timestamptz, z text) RETURNS interval LANGUAGE sql IMMUTABLE
    AS $$ SELECT (t AT TIME ZONE z) - (t AT TIME ZONE 'UTC') $$;

-- days whose UTC noon has another offset than the day before's
CREATE TEMP TABLE days AS
SELECT z, g AS noon, pg_temp.off(g, z) AS o,
       lag(pg_temp.off(g, z)) OVER (PARTITION BY z ORDER BY g) AS o_prev
FROM zones, generate_series('2000-01-01 12:00Z'::timestamptz, '2100-12-31 12:00Z', '1 day') g;
-- each transition: its instant (to the minute) and the offsets before and after
CREATE TEMP TABLE tr AS
SELECT d.z, d.o_prev AS ob, d.o AS oa,
       (SELECT min(q) FROM generate_series(d.noon - interval '1 day', d.noon, '1 minute') q
        WHERE pg_temp.off(q, d.z) = d.o) AS t
FROM days d WHERE d.o_prev IS NOT NULL AND d.o <> d.o_prev;

-- The expected instant of local wall time w in z (offsets ob before, oa after the transition
-- nearby): the first of the instants that show w; none: w read with the offset before.
CREATE FUNCTION pg_temp.expect(w timestamp, z text, ob interval, oa interval) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(
        (SELECT min(c) FROM (VALUES ((w - ob) AT TIME ZONE 'UTC'), ((w - oa) AT TIME ZONE 'UTC')) v(c)
         WHERE (c AT TIME ZONE z) = w),
        (w - ob) AT TIME ZONE 'UTC')
$$;

-- the cases: wall times from an hour before the shift's wall time to an hour after its end
CREATE TEMP TABLE cases AS
SELECT tr.z, tr.ob, tr.oa, tr.t,
       (tr.t AT TIME ZONE 'UTC') + tr.ob + k * interval '30 minutes' AS w
FROM tr, generate_series(-2, 3) k;

CREATE TEMP TABLE checks (freq text, z text, w timestamp, got timestamptz[], want timestamptz[]);
-- daily: the three days before the wall time's date to two days after
INSERT INTO checks
SELECT 'daily', c.z, c.w,
       ARRAY(SELECT adb_report_due_instants(s, lo, hi, 100)),
       ARRAY(SELECT pg_temp.expect(dd::date + c.w::time, c.z, c.ob, c.oa)
             FROM generate_series(c.w::date - 3, c.w::date + 2, '1 day') dd ORDER BY 1)
FROM cases c,
     LATERAL (SELECT jsonb_build_object('frequency', 'daily', 'timezone', c.z,
                                        'hour', extract(hour FROM c.w)::int,
                                        'minute', extract(minute FROM c.w)::int) AS s,
                     ((c.w::date - 3)::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS lo,
                     ((c.w::date + 3)::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS hi) x;
-- weekly: that weekday, two weeks either side
INSERT INTO checks
SELECT 'weekly', c.z, c.w,
       ARRAY(SELECT adb_report_due_instants(s, lo, hi, 100)),
       ARRAY(SELECT pg_temp.expect(c.w - k * interval '7 days', c.z, c.ob, c.oa)
             FROM generate_series(-1, 2) k ORDER BY 1)
FROM cases c,
     LATERAL (SELECT jsonb_build_object('frequency', 'weekly', 'timezone', c.z,
                                        'hour', extract(hour FROM c.w)::int,
                                        'minute', extract(minute FROM c.w)::int,
                                        'dayOfWeek', (ARRAY['sunday', 'monday', 'tuesday', 'wednesday',
                                                            'thursday', 'friday', 'saturday'])
                                                     [extract(dow FROM c.w)::int + 1]) AS s,
                     ((c.w::date - 14)::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS lo,
                     ((c.w::date + 14)::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS hi) x;
-- monthly: that day of month (the last day for shorter months), two months either side
INSERT INTO checks
SELECT 'monthly', c.z, c.w,
       ARRAY(SELECT adb_report_due_instants(s, lo, hi, 100)),
       ARRAY(SELECT pg_temp.expect(md + c.w::time, c.z, c.ob, c.oa) FROM unnest(ds[1:4]) md ORDER BY 1)
FROM cases c,
     LATERAL (SELECT ARRAY(SELECT (date_trunc('month', c.w) + k * interval '1 month')::date
                                  + least(extract(day FROM c.w)::int,
                                          extract(day FROM date_trunc('month', c.w)
                                                  + (k + 1) * interval '1 month' - interval '1 day')::int) - 1
                           FROM generate_series(-2, 2) k ORDER BY k) AS ds) dd,
     LATERAL (SELECT jsonb_build_object('frequency', 'monthly', 'timezone', c.z,
                                        'hour', extract(hour FROM c.w)::int,
                                        'minute', extract(minute FROM c.w)::int,
                                        'dayOfMonth', extract(day FROM c.w)::int) AS s,
                     (dd.ds[1]::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS lo,
                     (dd.ds[5]::timestamp AT TIME ZONE c.z) - interval '1 microsecond' AS hi) x;

\pset format unaligned
\pset tuples_only on
SELECT 'zones_with_transitions ' || count(DISTINCT z) FROM tr;
SELECT 'transitions ' || count(*) FROM tr;
SELECT 'transitions_after_2037 ' || count(*) FROM tr WHERE t > '2038-01-01';
SELECT 'checks ' || count(*) FROM checks;
SELECT 'runs ' || coalesce(sum(cardinality(got)), 0) FROM checks;
SELECT 'mismatches ' || count(*) FROM checks WHERE got IS DISTINCT FROM want;
SELECT 'example ' || freq || ' ' || z || ' ' || w || ' got ' || got::text || ' want ' || want::text
FROM checks WHERE got IS DISTINCT FROM want ORDER BY z, w LIMIT 5;

-- the test can fail: with PostgreSQL's own reading of a repeated local time (the second
-- occurrence) instead of the written rule, the fall-back days of New York must mismatch
BEGIN;
CREATE OR REPLACE FUNCTION adb_report_local_instant(ts timestamp, tz text) RETURNS timestamptz
LANGUAGE sql STABLE STRICT AS $$ SELECT ts AT TIME ZONE tz $$;
SELECT 'control_mismatches ' || count(*) FROM (
    SELECT c.w, ARRAY(SELECT adb_report_due_instants(
                    jsonb_build_object('frequency', 'daily', 'timezone', c.z,
                                       'hour', extract(hour FROM c.w)::int,
                                       'minute', extract(minute FROM c.w)::int),
                    ((c.w::date - 3)::timestamp AT TIME ZONE c.z) - interval '1 microsecond',
                    ((c.w::date + 3)::timestamp AT TIME ZONE c.z) - interval '1 microsecond', 100)) AS got,
           ARRAY(SELECT pg_temp.expect(dd::date + c.w::time, c.z, c.ob, c.oa)
                 FROM generate_series(c.w::date - 3, c.w::date + 2, '1 day') dd ORDER BY 1) AS want
    FROM cases c WHERE c.z = 'America/New_York' AND c.t < '2010-01-01') x
WHERE got IS DISTINCT FROM want;
ROLLBACK;
