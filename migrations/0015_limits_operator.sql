-- 0015_limits_operator.sql: rate-limit refusals as one row per key and window,
-- and API keys for the operator (issue 14, items 14 and 16; docs/auth.md).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- Until now every 429 was a row (thousands a second from one client, kept 90
-- days). A row now covers one key (limit_key) and one UTC minute
-- (window_start); request_count is the number of refusals in it. The rows
-- written so far, one per refusal, are folded into that form.
WITH old AS (
    DELETE FROM rate_limit_violations RETURNING *
)
INSERT INTO rate_limit_violations (organization_id, api_key_id, user_id, ip_address, limit_key,
                                   endpoint, method, request_count, limit_max, window_ms,
                                   window_start, created_at)
SELECT (array_agg(organization_id ORDER BY created_at, id))[1],
       (array_agg(api_key_id ORDER BY created_at, id))[1],
       (array_agg(user_id ORDER BY created_at, id))[1],
       (array_agg(ip_address ORDER BY created_at, id))[1],
       limit_key,
       (array_agg(endpoint ORDER BY created_at, id))[1],
       (array_agg(method ORDER BY created_at, id))[1],
       count(*)::integer,
       max(limit_max),
       60000,
       date_trunc('minute', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       min(created_at)
  FROM old
 GROUP BY limit_key, date_trunc('minute', created_at AT TIME ZONE 'UTC');

-- the writer adds to a window's row (INSERT ... ON CONFLICT DO UPDATE)
CREATE UNIQUE INDEX rate_limit_violations_key_window_idx
    ON rate_limit_violations (limit_key, window_start);

-- An operator key (role "operator") belongs to no organization: it reads the
-- process-wide figures (/metrics, /health/detailed) and no tenant's data. Only
-- such a key has no organization.
ALTER TABLE apikey ADD CONSTRAINT apikey_organization_or_operator
    CHECK (organization_id IS NOT NULL OR role = 'operator' OR prefix IS DISTINCT FROM 'adb');
