-- 0023_status_action_sort_index.sql: one index serves the events list sorted by status or by
-- action (the client's sortField; docs/schema.md "audit_log indexes", docs/api.md "Sorting").
-- By status a page is this index read forward or backward (ties by action, then by time); by
-- action a page reads, for each status of the organization (three), its first keys in
-- (action, time) order from this index and merges them: a few short index-only scans in both
-- cases instead of a sort of every matching event's keys (90-350 ms a page at 101,000 events).
-- One index, not one per field: each secondary index is paid on every insert.
-- Created on the partitioned table, so every partition, present and future, gets it. Holds a
-- SHARE lock on audit_log while it builds (writes wait; reads go on), like 0010.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

CREATE INDEX audit_log_org_status_action_time_idx
    ON audit_log (organization_id, status, action, "timestamp" DESC, id DESC);
