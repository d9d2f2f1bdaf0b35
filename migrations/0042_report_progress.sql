-- 0042_report_progress.sql: a report's progress while it is computed (issue 19; docs/reports.md,
-- "Asynchronous generation"). The generator writes progress (0..100), the step it has reached
-- and when, in its own short transactions between steps, so that GET .../status shows the work
-- proceeding while the report's own transaction is still open. Completed reports read 100.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE compliance_reports
    ADD COLUMN progress       smallint    NOT NULL DEFAULT 0
        CONSTRAINT compliance_reports_progress_check CHECK (progress BETWEEN 0 AND 100),
    ADD COLUMN progress_step  varchar(64),
    ADD COLUMN progress_at    timestamptz;

UPDATE compliance_reports SET progress = 100 WHERE status = 'completed';
