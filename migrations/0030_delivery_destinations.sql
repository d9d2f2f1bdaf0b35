-- 0030_delivery_destinations.sql: deleting a destination (issue 18; docs/delivery.md,
-- "Destinations"). A deleted destination keeps its row, so that the delivery records and queue
-- items naming it stay whole, but disappears from every answer: deleted_at is set, its config
-- emptied, its sealed secrets and signing keys destroyed. Its label may be used again.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE delivery_destinations ADD COLUMN deleted_at timestamptz;
DROP INDEX delivery_destinations_org_label_unique;
CREATE UNIQUE INDEX delivery_destinations_org_label_unique
    ON delivery_destinations (organization_id, label) WHERE deleted_at IS NULL;
