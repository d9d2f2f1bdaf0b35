-- 0031_report_schedules.sql: templates, schedules and exactly-once executions (issue 19;
-- docs/reports.md, "Schedules" and "Exactly once").
--
-- report_executions gets one row per (schedule, scheduled instant), enforced by a unique index:
-- whoever inserts the row for an instant owns it, and a second serve, a restart or a catch-up can
-- only find it. A row is worked under a lease (claimed_by, lease_until) that the worker renews;
-- a worker killed mid-run leaves a lapsed lease, and the next scheduler resumes the same row
-- (attempts counts the starts). The next run of a schedule is computed here, with PostgreSQL's
-- time zone rules, by adb_report_next_run, and written in the transaction that inserts the
-- execution. The service's scheduler thread works on the owner's connection (fixed statements);
-- the request login reaches these tables only as a tenant, through RLS (0006/0013).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE report_executions
    ADD COLUMN claimed_by       varchar(255),          -- host:pid of the scheduler working it
    ADD COLUMN lease_until      timestamptz,           -- the claim lapses after this
    ADD COLUMN attempts         integer     NOT NULL DEFAULT 0,  -- starts (1 + resumes)
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN finished_at      timestamptz,
    ADD COLUMN report_id        varchar(255),          -- compliance_reports.id of the artifact
    ADD COLUMN cancel_requested boolean     NOT NULL DEFAULT false,
    ADD COLUMN error_code       varchar(64),
    ADD CONSTRAINT report_executions_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'skipped',
                          'timeout')),
    ADD CONSTRAINT report_executions_trigger_check
        CHECK (trigger IN ('scheduled', 'manual', 'api', 'retry', 'catchup'));
CREATE UNIQUE INDEX report_executions_schedule_instant_unique
    ON report_executions (scheduled_report_id, scheduled_time);
CREATE INDEX report_executions_unfinished_idx ON report_executions (lease_until)
    WHERE status IN ('pending', 'running');
CREATE INDEX report_executions_org_schedule_idx
    ON report_executions (organization_id, scheduled_report_id, scheduled_time DESC);

ALTER TABLE scheduled_reports
    ADD CONSTRAINT scheduled_reports_enabled_check CHECK (enabled IN ('true', 'false')),
    ADD CONSTRAINT scheduled_reports_is_deleted_check CHECK (is_deleted IN ('true', 'false'));
CREATE INDEX scheduled_reports_due_idx ON scheduled_reports (next_run)
    WHERE enabled = 'true' AND is_deleted = 'false';

-- templates: the client's ReportTemplate keeps a few members the seed has no column for
ALTER TABLE report_templates ADD COLUMN is_deleted varchar(10) NOT NULL DEFAULT 'false';

-- The local wall-clock time ts in zone tz as an instant, by the written daylight-saving rules:
-- a local time that does not exist (spring forward) is the instant PostgreSQL gives it, read
-- with the offset before the shift (02:30 on a 02:00->03:00 day runs at 03:30 new time); a local
-- time that exists twice (fall back) is its FIRST occurrence (PostgreSQL alone would give the
-- second).
CREATE FUNCTION adb_report_local_instant(ts timestamp, tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    c timestamptz := ts AT TIME ZONE tz;
    before_off interval := ((c - interval '1 day') AT TIME ZONE tz)
                           - ((c - interval '1 day') AT TIME ZONE 'UTC');
    e timestamptz := (ts - before_off) AT TIME ZONE 'UTC';
BEGIN
    IF e < c AND (e AT TIME ZONE tz) = ts THEN
        RETURN e;
    END IF;
    RETURN c;
END $$;

-- One field of a 5-field cron expression as the sorted values it allows (NULL: every value):
-- '*', 'N', 'A-B', '*/S', 'A-B/S', 'N/S' and comma lists of these; dow 7 is Sunday (0).
CREATE FUNCTION adb_report_cron_field(f text, lo int, hi int) RETURNS int[]
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    part text;
    base text;
    step int;
    a int;
    b int;
    out int[] := '{}';
BEGIN
    IF f = '*' THEN
        RETURN NULL;
    END IF;
    FOREACH part IN ARRAY string_to_array(f, ',') LOOP
        step := 1;
        base := part;
        IF position('/' IN part) > 0 THEN
            base := split_part(part, '/', 1);
            step := split_part(part, '/', 2)::int;
            IF step < 1 THEN
                RAISE EXCEPTION 'cron step must be at least 1: %', part;
            END IF;
        END IF;
        IF base = '*' THEN
            a := lo; b := hi;
        ELSIF position('-' IN base) > 0 THEN
            a := split_part(base, '-', 1)::int; b := split_part(base, '-', 2)::int;
        ELSE
            a := base::int;
            b := CASE WHEN position('/' IN part) > 0 THEN hi ELSE a END;
        END IF;
        IF hi = 6 AND b = 7 THEN                  -- day of week: 7 is Sunday (0)
            IF a = 7 THEN
                a := 0; b := 0;
            ELSE
                b := 6; out := out || 0;
            END IF;
        END IF;
        IF a < lo OR b > hi OR a > b THEN
            RAISE EXCEPTION 'cron value out of range %-%: %', lo, hi, part;
        END IF;
        FOR v IN a..b BY step LOOP
            out := out || v;
        END LOOP;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(out) x ORDER BY x);
END $$;

-- The first scheduled instant strictly after `after` of a schedule in the client's
-- ScheduleConfig shape (frequency, cronExpression, timezone, hour, minute, dayOfWeek,
-- dayOfMonth, monthOfYear, skipWeekends, startDate, endDate), or NULL when there is none (past
-- endDate). Every frequency is a set of local dates (months, days of month, days of week, no
-- weekends) times a set of local times (hours x minutes); each candidate becomes an instant by
-- adb_report_local_instant. A dayOfMonth beyond a month's last day runs on its last day.
-- 'once' is 'daily' here; the scheduler ends a 'once' schedule after its run.
CREATE FUNCTION adb_report_next_run(s jsonb, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    tz text := coalesce(s->>'timezone', 'UTC');
    freq text := s->>'frequency';
    hh int := coalesce((s->>'hour')::int, 0);
    mm int := coalesce((s->>'minute')::int, 0);
    dom int := (s->>'dayOfMonth')::int;
    moy int := (s->>'monthOfYear')::int;
    skip_we boolean := coalesce((s->>'skipWeekends')::boolean, false);
    start_at timestamptz := (s->>'startDate')::timestamptz;
    end_at timestamptz := (s->>'endDate')::timestamptz;
    minutes int[];
    hours int[];
    doms int[];
    months int[];
    dows int[];
    dom_or_dow boolean := false;
    clamp boolean := false;
    f text[];
    d date;
    last_d int;
    day_ok boolean;
    c timestamptz;
    best timestamptz;
    extra int := -1;
BEGIN
    IF start_at IS NOT NULL AND after < start_at THEN
        after := start_at - interval '1 microsecond';
    END IF;
    minutes := ARRAY[mm];
    hours := ARRAY[hh];
    CASE freq
    WHEN 'once', 'daily' THEN
        NULL;
    WHEN 'hourly' THEN
        hours := ARRAY(SELECT generate_series(0, 23));
    WHEN 'weekly' THEN
        dows := ARRAY[array_position(ARRAY['sunday', 'monday', 'tuesday', 'wednesday', 'thursday',
                                           'friday', 'saturday'], s->>'dayOfWeek') - 1];
    WHEN 'monthly' THEN
        doms := ARRAY[coalesce(dom, 1)]; clamp := true;
    WHEN 'quarterly' THEN
        doms := ARRAY[coalesce(dom, 1)]; clamp := true;
        months := ARRAY(SELECT ((coalesce(moy, 1) - 1 + 3 * q) % 12) + 1
                        FROM generate_series(0, 3) q ORDER BY 1);
    WHEN 'yearly' THEN
        doms := ARRAY[coalesce(dom, 1)]; clamp := true; months := ARRAY[coalesce(moy, 1)];
    WHEN 'custom' THEN
        f := regexp_split_to_array(btrim(s->>'cronExpression'), '\s+');
        IF array_length(f, 1) <> 5 THEN
            RAISE EXCEPTION 'cron expression needs 5 fields: %', s->>'cronExpression';
        END IF;
        minutes := coalesce(adb_report_cron_field(f[1], 0, 59), ARRAY(SELECT generate_series(0, 59)));
        hours := coalesce(adb_report_cron_field(f[2], 0, 23), ARRAY(SELECT generate_series(0, 23)));
        doms := adb_report_cron_field(f[3], 1, 31);
        months := adb_report_cron_field(f[4], 1, 12);
        dows := adb_report_cron_field(f[5], 0, 6);
        dom_or_dow := doms IS NOT NULL AND dows IS NOT NULL;   -- cron: either matches
    ELSE
        RAISE EXCEPTION 'unknown schedule frequency: %', freq;
    END CASE;

    -- from the local day before `after` (a shifted time may cross midnight) for up to 9 years
    -- (29 February); once a day has a candidate, one more day is looked at, then the earliest
    d := (after AT TIME ZONE tz)::date - 1;
    FOR i IN 0..(366 * 9) LOOP
        IF months IS NULL OR extract(month FROM d)::int = ANY (months) THEN
            last_d := extract(day FROM (date_trunc('month', d) + interval '1 month - 1 day'))::int;
            IF doms IS NULL THEN
                day_ok := NULL;
            ELSIF clamp THEN
                day_ok := extract(day FROM d)::int = least(doms[1], last_d);
            ELSE
                day_ok := extract(day FROM d)::int = ANY (doms);
            END IF;
            IF dows IS NOT NULL THEN
                IF dom_or_dow THEN
                    day_ok := day_ok OR extract(dow FROM d)::int = ANY (dows);
                ELSE
                    day_ok := coalesce(day_ok, true) AND extract(dow FROM d)::int = ANY (dows);
                END IF;
            END IF;
            day_ok := coalesce(day_ok, true);
            IF day_ok AND skip_we AND extract(isodow FROM d)::int >= 6 THEN
                day_ok := false;
            END IF;
            IF day_ok THEN
                FOREACH hh IN ARRAY hours LOOP
                    FOREACH mm IN ARRAY minutes LOOP
                        c := adb_report_local_instant(d + make_time(hh, mm, 0), tz);
                        IF c > after AND (best IS NULL OR c < best) THEN
                            best := c;
                        END IF;
                    END LOOP;
                END LOOP;
            END IF;
        END IF;
        IF best IS NOT NULL THEN
            extra := extra + 1;
            EXIT WHEN extra >= 1;
        END IF;
        d := d + 1;
    END LOOP;
    IF best IS NULL OR (end_at IS NOT NULL AND best > end_at) THEN
        RETURN NULL;
    END IF;
    RETURN best;
END $$;

-- The scheduled instants of s in (after, upto], oldest first, at most cap of the newest ones
-- (a catch-up looks at no more than it may run).
CREATE FUNCTION adb_report_due_instants(s jsonb, after timestamptz, upto timestamptz, cap int)
RETURNS SETOF timestamptz LANGUAGE sql STABLE STRICT AS $$
    WITH RECURSIVE r(t, n) AS (
        SELECT adb_report_next_run(s, after), 1
        UNION ALL
        SELECT adb_report_next_run(s, t), n + 1 FROM r WHERE t IS NOT NULL AND t <= upto AND n < 100000
    )
    SELECT t FROM (SELECT t FROM r WHERE t IS NOT NULL AND t <= upto ORDER BY t DESC LIMIT cap) x
    ORDER BY t
$$;

-- the request login manages templates and schedules and starts executions as the tenant
GRANT INSERT, UPDATE, DELETE ON scheduled_reports, report_templates TO auditdb_app;
GRANT INSERT, UPDATE ON report_executions TO auditdb_app;
GRANT EXECUTE ON FUNCTION adb_report_local_instant(timestamp, text),
    adb_report_cron_field(text, int, int), adb_report_next_run(jsonb, timestamptz),
    adb_report_due_instants(jsonb, timestamptz, timestamptz, int) TO auditdb_app;
