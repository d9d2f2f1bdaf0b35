-- 0014_documented_columns.sql: issue 14, items 21 and 23.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- Item 21: serve writes keys' last-use times (apikey.last_request) in one
-- statement per interval. That UPDATE must not wake every server to drop its
-- key and role caches: the change trigger now fires on every column but
-- last_request. A column added to apikey later must be added here too.
DROP TRIGGER apikey_changed ON apikey;
CREATE TRIGGER apikey_changed
    AFTER INSERT OR DELETE OR UPDATE OF id, name, start, prefix, key, user_id, refill_interval,
        refill_amount, last_refill_at, enabled, rate_limit_enabled, rate_limit_time_window,
        rate_limit_max, request_count, remaining, expires_at, created_at, updated_at,
        permissions, metadata, organization_id, role, revoked_at
    ON apikey
    FOR EACH STATEMENT EXECUTE FUNCTION auditdb_notify_auth_change();
