-- 0032_compliance_reports.sql: generated reports (issue 19; docs/reports.md, "Provenance").
-- A report row keeps its artifact (the rendering's exact bytes, whose SHA-256 is report_hash),
-- the checkpoint of the organization's log it read (tree_size, tree_root: base64), and the
-- C2SP signed note over the artifact's hash under the log key (signed_note; the seed's
-- signature column is 128 characters, too short for a note). 'cancelled' joins the statuses.
-- execution_id names the scheduled execution that produced it (no foreign key: an execution
-- row may be written after the report, in the scheduler's own transaction).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE compliance_reports
    ADD COLUMN artifact       bytea,
    ADD COLUMN content_type   varchar(100),
    ADD COLUMN filename       varchar(255),
    ADD COLUMN tree_size      bigint,
    ADD COLUMN tree_root      varchar(64),
    ADD COLUMN signed_note    text,
    ADD COLUMN execution_id   varchar(255);

ALTER TABLE compliance_reports DROP CONSTRAINT compliance_reports_status_check;
ALTER TABLE compliance_reports ADD CONSTRAINT compliance_reports_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'));

-- the previous report of a type (provenance); history pages use compliance_reports_org_created_idx
CREATE INDEX compliance_reports_org_type_completed_idx
    ON compliance_reports (organization_id, report_type, completed_at DESC)
    WHERE status = 'completed';

-- the API writes its tenant's reports (row-level security applies); it never deletes one
GRANT INSERT, UPDATE ON compliance_reports TO auditdb_app;
