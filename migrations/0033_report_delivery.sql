-- 0033_report_delivery.sql: a report's artifact handed to the delivery queue (issue 19
-- "Delivery"; docs/reports.md "Delivery of artifacts", src/report/deliver.c). The queueing
-- runs in the execution's tenant transaction as auditdb_app, which writes nothing of
-- report_executions but the two columns that name its delivery: delivery_id, and
-- delivery_attempts (the delivery threads append each attempt as the owner).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

GRANT UPDATE (delivery_id, delivery_attempts) ON report_executions TO auditdb_app;

