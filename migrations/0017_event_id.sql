-- 0017_event_id.sql: every event has a public id, a UUID (issue 15, Deliver 1; docs/events.md
-- "Event id", docs/integrity.md "Event id"). The numeric id stays, as a locator inside one
-- database; event_id is what the API answers and what an auditor cites.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- The id of an event stored before ids existed (hash algorithms sha256-c14n-v1 and SHA-256),
-- derived from the row so that verification finds it again (src/event/event_id.c does the
-- same): an RFC 9562 version 1 UUID whose timestamp is the event's own (100 ns units since
-- 1582-10-15), whose clock sequence and node are bytes 8..15 of
-- SHA-256('adb-event-id-v1' || E'\n' || chain_hash) (variant bits and the node's multicast bit
-- set); out of version 1's range (before 1582-10-15, after 5236) a version 4 UUID of bytes
-- 0..15 of that hash.
CREATE FUNCTION auditdb_event_id_derive(p_ts timestamptz, p_chain_hash text)
RETURNS uuid
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    md bytea := sha256(convert_to('adb-event-id-v1' || E'\n' || coalesce(p_chain_hash, ''), 'UTF8'));
    t  numeric := extract(epoch FROM p_ts) * 10000000 + 122192928000000000;
    h  text;
    u  bytea;
BEGIN
    IF t >= 0 AND t < 1152921504606846976 THEN  -- 2^60
        h := lpad(to_hex(t::bigint), 15, '0');
        u := substring(md FROM 9 FOR 8);
        u := set_byte(u, 0, (get_byte(u, 0) & 63) | 128);
        u := set_byte(u, 2, get_byte(u, 2) | 1);
        RETURN (substr(h, 8, 8) || '-' || substr(h, 4, 4) || '-1' || substr(h, 1, 3) || '-' ||
                encode(u, 'hex'))::uuid;
    END IF;
    u := substring(md FROM 1 FOR 16);
    u := set_byte(u, 6, (get_byte(u, 6) & 15) | 64);
    u := set_byte(u, 8, (get_byte(u, 8) & 63) | 128);
    RETURN encode(u, 'hex')::uuid;
END
$fn$;

ALTER TABLE audit_log ADD COLUMN event_id uuid;
UPDATE audit_log SET event_id = auditdb_event_id_derive("timestamp", chain_hash);
ALTER TABLE audit_log ALTER COLUMN event_id SET NOT NULL;

-- A row inserted by other means than the writer and a restore (SQL) without an id gets a random
-- one (version 4): verify then finds that it is not the event's (docs/integrity.md). The writer
-- and a restore always name the column, so the default costs them nothing; a trigger deriving
-- the id would have made the writer's COPY insert row by row (a BEFORE ROW trigger does).
ALTER TABLE audit_log ALTER COLUMN event_id SET DEFAULT gen_random_uuid();

-- Unique, and the way to an event by its id: a version 1 id carries its event's timestamp, so
-- a lookup names the partition and the entry ("timestamp" first also keeps the index's inserts
-- at its right edge as events arrive in time order). A partitioned table's unique index must
-- hold the partition key; since the timestamp is a function of a version 1 id, this is
-- uniqueness of the id.
CREATE UNIQUE INDEX audit_log_event_id_idx ON audit_log ("timestamp", event_id);
