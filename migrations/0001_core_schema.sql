-- 0001_core_schema.sql: the audit database proper (audit, integrity, retention, errors,
-- archives, alerts, reporting, GDPR, delivery, organization settings).
-- Column names, types, defaults, NOT NULLs, unique constraints and foreign keys follow the
-- smart-logs audit database (packages/audit-db/src/db/schema.ts and its drizzle migrations);
-- every deliberate deviation is listed in docs/schema.md.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- ===========================================================================================
-- Audit events
-- ===========================================================================================

-- Event ids come from an explicit 8-byte sequence (the original used a 4-byte serial).
-- An identity column is avoided on purpose: identity on a partitioned table is awkward in 15.
CREATE SEQUENCE audit_log_id_seq AS bigint;

-- Monthly range partitions on "timestamp" (UTC month boundaries). Partitions are created at
-- run time by auditdb_ensure_partition() below; there is no DEFAULT partition, so an event
-- for a month without a partition is rejected instead of landing somewhere unprunable.
CREATE TABLE audit_log (
    id                   bigint       NOT NULL DEFAULT nextval('audit_log_id_seq'),
    "timestamp"          timestamptz  NOT NULL,
    ttl                  varchar(255),
    principal_id         varchar(255),
    organization_id      varchar(255) NOT NULL,
    action               varchar(255) NOT NULL,
    target_resource_type varchar(255),
    target_resource_id   varchar(255),
    status               varchar(50)  NOT NULL,
    outcome_description  text,
    hash                 varchar(64),
    hash_algorithm       varchar(50)  DEFAULT 'SHA-256',
    signature            varchar(128),
    event_version        varchar(20)  DEFAULT '1.0',
    correlation_id       varchar(255),
    data_classification  varchar(20)  DEFAULT 'INTERNAL',
    retention_policy     varchar(50)  DEFAULT 'standard',
    processing_latency   integer,
    archived_at          timestamptz,
    details              jsonb,
    -- per-organization hash chain (ours): position, previous link, this link
    chain_seq            bigint,
    prev_chain_hash      varchar(64),
    chain_hash           varchar(64),
    CONSTRAINT audit_log_pkey PRIMARY KEY (id, "timestamp")
) PARTITION BY RANGE ("timestamp");

ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;

-- The only secondary indexes on audit_log; each one is paid on every insert. Why each exists
-- (and why the original's sixteen do not) is in docs/schema.md.
-- Organization-scoped, newest-first pages with keyset on ("timestamp", id); also time ranges.
CREATE INDEX audit_log_org_time_idx
    ON audit_log (organization_id, "timestamp" DESC, id DESC);
-- Filter by principal within an organization; GDPR export/pseudonymize/erase by data subject.
CREATE INDEX audit_log_org_principal_time_idx
    ON audit_log (organization_id, principal_id, "timestamp" DESC, id DESC);
-- Chain walk in chain order for verification, and chain tail checks.
CREATE INDEX audit_log_org_chain_idx
    ON audit_log (organization_id, chain_seq);
-- Correlation id lookup; partial, so events without a correlation id do not pay for it.
CREATE INDEX audit_log_org_correlation_idx
    ON audit_log (organization_id, correlation_id)
    WHERE correlation_id IS NOT NULL;

-- Creates (if missing) the partition audit_log_YYYY_MM holding the UTC month that contains
-- p_month, i.e. [first day 00:00 UTC, first day of next month 00:00 UTC), and returns its
-- name. Safe to call repeatedly and from concurrent sessions. SECURITY DEFINER so that the
-- service role, which does not own audit_log, can be granted EXECUTE to create partitions.
CREATE FUNCTION auditdb_ensure_partition(p_month date)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    v_first date;
    v_next  date;
    v_name  text;
BEGIN
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'auditdb_ensure_partition: month must not be null';
    END IF;

    v_first := date_trunc('month', p_month::timestamp)::date;
    v_next  := (v_first + interval '1 month')::date;
    v_name  := 'audit_log_' || to_char(v_first, 'YYYY_MM');

    IF NOT EXISTS (
        SELECT 1
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_log'::regclass
           AND c.relname = v_name
    ) THEN
        -- No IF NOT EXISTS: it would emit a NOTICE on every call; a concurrent creator is
        -- handled by the exception block instead.
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                v_name,
                to_char(v_first, 'YYYY-MM-DD') || ' 00:00:00+00',
                to_char(v_next, 'YYYY-MM-DD') || ' 00:00:00+00');
        EXCEPTION
            WHEN duplicate_table OR unique_violation THEN
                NULL;  -- another session created it at the same moment: checked below
        END;

        IF NOT EXISTS (
            SELECT 1
              FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'audit_log'::regclass
               AND c.relname = v_name
        ) THEN
            RAISE EXCEPTION 'relation "%" exists but is not a partition of audit_log', v_name;
        END IF;
    END IF;

    RETURN v_name;
END
$fn$;

REVOKE ALL ON FUNCTION auditdb_ensure_partition(date) FROM PUBLIC;

-- One row per organization: the writer locks it (SELECT ... FOR UPDATE) to serialize appends,
-- so concurrent writers (threads or instances) can never fork an organization's chain.
CREATE TABLE audit_chain_head (
    organization_id varchar(255) PRIMARY KEY,
    last_seq        bigint       NOT NULL,
    last_chain_hash varchar(64)  NOT NULL,
    updated_at      timestamptz  NOT NULL DEFAULT now()
);

-- Idempotent ingestion: a retried request with the same key returns the event already stored.
-- event_timestamp lets the replay fetch the event by its full primary key (one partition).
CREATE TABLE audit_idempotency (
    organization_id varchar(255) NOT NULL,
    idempotency_key varchar(255) NOT NULL,
    event_id        bigint       NOT NULL,
    event_timestamp timestamptz  NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, idempotency_key)
);

CREATE TABLE audit_preset (
    id                  serial       PRIMARY KEY,
    name                varchar(255) NOT NULL,
    description         text,
    organization_id     varchar(255) NOT NULL,
    action              varchar(255) NOT NULL,
    data_classification varchar(20)  NOT NULL,
    required_fields     jsonb,
    default_values      jsonb        NOT NULL,
    validation          jsonb        DEFAULT '{"maxStringLength":10000,"allowedDataClassifications":["PUBLIC","INTERNAL","CONFIDENTIAL","PHI"],"requiredFields":["timestamp","action","status"],"maxCustomFieldDepth":3,"allowedEventVersions":["1.0","1.1","2.0"]}'::jsonb,
    created_at          timestamptz  NOT NULL DEFAULT now(),
    created_by          varchar(255) NOT NULL,
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    updated_by          varchar(255)
);
CREATE UNIQUE INDEX audit_preset_name_org_unique ON audit_preset (name, organization_id);
CREATE INDEX audit_preset_organization_id_idx ON audit_preset (organization_id);

-- audit_log_id is bigint to match audit_log.id. No foreign key: the original dropped it, and
-- a partitioned audit_log has no unique key on id alone to reference.
CREATE TABLE audit_integrity_log (
    id                     serial       PRIMARY KEY,
    audit_log_id           bigint       NOT NULL,
    verification_timestamp timestamptz  NOT NULL DEFAULT now(),
    verification_status    varchar(20)  NOT NULL,
    verification_details   jsonb,
    verified_by            varchar(255),
    hash_verified          varchar(64),
    expected_hash          varchar(64)
);
CREATE INDEX audit_integrity_log_audit_log_id_idx ON audit_integrity_log (audit_log_id);
CREATE INDEX audit_integrity_log_verification_timestamp_idx
    ON audit_integrity_log (verification_timestamp);

CREATE TABLE audit_retention_policy (
    id                  serial       PRIMARY KEY,
    policy_name         varchar(100) NOT NULL,
    retention_days      integer      NOT NULL,
    archive_after_days  integer,
    delete_after_days   integer,
    data_classification varchar(20)  NOT NULL,
    description         text,
    is_active           varchar(10)  DEFAULT 'true',
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    created_by          varchar(255),
    CONSTRAINT audit_retention_policy_policy_name_unique UNIQUE (policy_name)
);

-- ===========================================================================================
-- Errors and configuration history
-- ===========================================================================================

CREATE TABLE error_log (
    id              varchar(36)  PRIMARY KEY,
    category        varchar(50)  NOT NULL,
    severity        varchar(20)  NOT NULL,
    code            varchar(20)  NOT NULL,
    message         text         NOT NULL,
    component       varchar(100) NOT NULL,
    operation       varchar(100) NOT NULL,
    correlation_id  varchar(255) NOT NULL,
    user_id         varchar(255),
    session_id      varchar(255),
    request_id      varchar(255),
    retryable       varchar(10)  NOT NULL,
    aggregation_key varchar(255) NOT NULL,
    context         jsonb,
    troubleshooting jsonb,
    "timestamp"     timestamptz  NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX error_log_timestamp_idx ON error_log ("timestamp");
CREATE INDEX error_log_correlation_id_idx ON error_log (correlation_id);
CREATE INDEX error_log_aggregation_key_idx ON error_log (aggregation_key);
CREATE INDEX error_log_category_severity_idx ON error_log (category, severity);
CREATE INDEX error_log_component_timestamp_idx ON error_log (component, "timestamp");

CREATE TABLE error_aggregation (
    aggregation_key     varchar(255) PRIMARY KEY,
    category            varchar(50)  NOT NULL,
    severity            varchar(20)  NOT NULL,
    count               integer      NOT NULL DEFAULT 0,
    error_rate          varchar(20)  NOT NULL DEFAULT '0',
    trend               varchar(20)  NOT NULL DEFAULT 'STABLE',
    first_occurrence    timestamptz  NOT NULL,
    last_occurrence     timestamptz  NOT NULL,
    affected_components jsonb        NOT NULL DEFAULT '[]',
    affected_users      jsonb        NOT NULL DEFAULT '[]',
    samples             jsonb        NOT NULL DEFAULT '[]',
    updated_at          timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX error_aggregation_category_count_idx ON error_aggregation (category, count);
CREATE INDEX error_aggregation_severity_count_idx ON error_aggregation (severity, count);
CREATE INDEX error_aggregation_last_occurrence_idx ON error_aggregation (last_occurrence);

CREATE TABLE config_change_event (
    id               serial       PRIMARY KEY,
    "timestamp"      timestamptz  NOT NULL,
    field            varchar(255) NOT NULL,
    previous_value   jsonb        NOT NULL,
    new_value        jsonb        NOT NULL,
    changed_by       varchar(255) NOT NULL,
    reason           varchar(255),
    environment      varchar(255) NOT NULL,
    previous_version varchar(255),
    new_version      varchar(255)
);
CREATE INDEX config_change_event_timestamp_idx ON config_change_event ("timestamp");
CREATE INDEX config_change_event_field_idx ON config_change_event (field);

-- ===========================================================================================
-- Archives
-- ===========================================================================================

CREATE TABLE archive_storage (
    id                varchar(255) PRIMARY KEY,
    metadata          jsonb        NOT NULL,
    data              text         NOT NULL,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    retrieved_count   integer      NOT NULL DEFAULT 0,
    last_retrieved_at timestamptz
);
CREATE INDEX archive_storage_created_at_idx ON archive_storage (created_at);
CREATE INDEX archive_storage_retention_policy_idx
    ON archive_storage ((metadata ->> 'retentionPolicy'));
CREATE INDEX archive_storage_data_classification_idx
    ON archive_storage ((metadata ->> 'dataClassification'));
CREATE INDEX archive_storage_date_range_start_idx
    ON archive_storage ((((metadata ->> 'dateRange')::jsonb) ->> 'start'));
CREATE INDEX archive_storage_date_range_end_idx
    ON archive_storage ((((metadata ->> 'dateRange')::jsonb) ->> 'end'));

CREATE TABLE archive_dlq_event (
    id                  serial       PRIMARY KEY,
    "timestamp"         timestamptz  NOT NULL,
    action              varchar(255) NOT NULL,
    failure_reason      varchar(255) NOT NULL,
    failure_count       integer      NOT NULL,
    first_failure_time  timestamptz  NOT NULL,
    last_failure_time   timestamptz  NOT NULL,
    original_job_id     varchar(255),
    original_queue_name varchar(255),
    original_event      jsonb        NOT NULL,
    metadata            jsonb        NOT NULL
);
CREATE INDEX dlq_event_timestamp_idx ON archive_dlq_event ("timestamp");
CREATE INDEX dlq_event_original_job_id_idx ON archive_dlq_event (original_job_id);

-- ===========================================================================================
-- Alerts
-- ===========================================================================================

CREATE TABLE alerts (
    id               varchar(255) PRIMARY KEY,
    organization_id  varchar(255) NOT NULL,
    severity         varchar(20)  NOT NULL,
    type             varchar(20)  NOT NULL,
    title            varchar(500) NOT NULL,
    description      text         NOT NULL,
    source           varchar(100) NOT NULL,
    status           varchar(20)  NOT NULL DEFAULT 'active',
    correlation_id   varchar(255),
    metadata         jsonb        NOT NULL DEFAULT '{}',
    acknowledged     varchar(10)  NOT NULL DEFAULT 'false',
    acknowledged_at  timestamptz,
    acknowledged_by  varchar(255),
    resolved         varchar(10)  NOT NULL DEFAULT 'false',
    resolved_at      timestamptz,
    resolved_by      varchar(255),
    resolution_notes text,
    tags             jsonb        NOT NULL DEFAULT '[]',
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX alerts_organization_created_idx ON alerts (organization_id, created_at);
CREATE INDEX alerts_organization_status_idx ON alerts (organization_id, status);
CREATE INDEX alerts_org_severity_created_idx ON alerts (organization_id, severity, created_at);
CREATE INDEX alerts_organization_type_idx ON alerts (organization_id, type);
CREATE INDEX alerts_organization_source_idx ON alerts (organization_id, source);
CREATE INDEX alerts_organization_acknowledged_idx ON alerts (organization_id, acknowledged);
CREATE INDEX alerts_organization_resolved_idx ON alerts (organization_id, resolved);
CREATE INDEX alerts_organization_correlation_id_idx ON alerts (organization_id, correlation_id);

-- ===========================================================================================
-- Reporting
-- ===========================================================================================

CREATE TABLE scheduled_reports (
    id              varchar(255) PRIMARY KEY,
    name            varchar(255) NOT NULL,
    description     text,
    organization_id varchar(255) NOT NULL,
    template_id     varchar(255),
    report_type     varchar(50)  NOT NULL,
    criteria        jsonb        NOT NULL,
    format          varchar(50)  NOT NULL,
    schedule        jsonb        NOT NULL,
    delivery        jsonb        NOT NULL,
    export          jsonb        NOT NULL,
    notification    jsonb        NOT NULL,
    enabled         varchar(10)  NOT NULL DEFAULT 'true',
    last_run        timestamptz,
    next_run        timestamptz,
    execution_count integer      NOT NULL DEFAULT 0,
    success_count   integer      NOT NULL DEFAULT 0,
    failure_count   integer      NOT NULL DEFAULT 0,
    run_id          varchar(255),
    tags            jsonb        NOT NULL DEFAULT '[]',
    metadata        jsonb,
    version         integer      NOT NULL DEFAULT 1,
    is_deleted      varchar(10)  NOT NULL DEFAULT 'false',
    created_at      timestamptz  NOT NULL DEFAULT now(),
    created_by      varchar(255) NOT NULL,
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    updated_by      varchar(255)
);
CREATE INDEX scheduled_reports_template_id_idx ON scheduled_reports (template_id);
CREATE INDEX scheduled_reports_org_enabled_idx ON scheduled_reports (organization_id, enabled);
CREATE INDEX scheduled_reports_org_next_run_idx ON scheduled_reports (organization_id, next_run);
CREATE INDEX scheduled_reports_enabled_next_run_idx ON scheduled_reports (enabled, next_run);

CREATE TABLE report_templates (
    id                           varchar(255) PRIMARY KEY,
    name                         varchar(255) NOT NULL,
    description                  text,
    organization_id              varchar(255) NOT NULL,
    category                     varchar(50)  NOT NULL,
    is_public                    varchar(10)  NOT NULL DEFAULT 'false',
    report_type                  varchar(100) NOT NULL,
    default_format               varchar(50)  NOT NULL,
    default_criteria             jsonb,
    default_export_config        jsonb,
    default_delivery_config      jsonb,
    default_notifications_config jsonb,
    tags                         jsonb        NOT NULL DEFAULT '[]',
    is_active                    varchar(10)  NOT NULL DEFAULT 'true',
    is_default                   varchar(10)  NOT NULL DEFAULT 'false',
    configuration                jsonb,
    version                      integer      NOT NULL DEFAULT 1,
    usage_count                  integer      NOT NULL DEFAULT 0,
    created_at                   timestamptz  NOT NULL DEFAULT now(),
    created_by                   varchar(255) NOT NULL,
    updated_at                   timestamptz  NOT NULL DEFAULT now(),
    updated_by                   varchar(255)
);
CREATE INDEX report_templates_org_active_idx ON report_templates (organization_id, is_active);
CREATE INDEX report_templates_org_type_idx ON report_templates (organization_id, report_type);
CREATE INDEX report_templates_org_public_idx ON report_templates (organization_id, is_public);
CREATE INDEX report_templates_org_default_idx ON report_templates (organization_id, is_default);

CREATE TABLE report_executions (
    id                  varchar(255) PRIMARY KEY,
    scheduled_report_id varchar(255) NOT NULL,
    organization_id     varchar(255) NOT NULL,
    run_id              varchar(255) NOT NULL,
    scheduled_time      timestamptz  NOT NULL,
    execution_time      timestamptz  NOT NULL,
    status              varchar(20)  NOT NULL,
    trigger             varchar(20)  NOT NULL,
    duration            integer,
    records_processed   integer,
    export_result       jsonb,
    integrity_report    jsonb,
    delivery_id         varchar(255),
    error               text,
    created_at          timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT report_executions_scheduled_report_id_scheduled_reports_id_fk
        FOREIGN KEY (scheduled_report_id) REFERENCES scheduled_reports (id)
        ON DELETE NO ACTION ON UPDATE NO ACTION
);
CREATE INDEX report_executions_config_execution_time_idx
    ON report_executions (scheduled_report_id, execution_time);
CREATE INDEX report_executions_org_execution_time_idx
    ON report_executions (organization_id, execution_time);
CREATE INDEX report_executions_org_status_idx ON report_executions (organization_id, status);
CREATE INDEX report_executions_delivery_id_idx ON report_executions (delivery_id);

-- ===========================================================================================
-- GDPR
-- ===========================================================================================

CREATE TABLE pseudonym_mapping (
    id           serial      PRIMARY KEY,
    "timestamp"  timestamptz NOT NULL,
    pseudonym_id text        NOT NULL,
    original_id  text        NOT NULL,
    strategy     varchar(20) NOT NULL
);
CREATE UNIQUE INDEX pseudonym_mapping_original_id_idx ON pseudonym_mapping (original_id);
CREATE INDEX pseudonym_mapping_pseudonym_id_idx ON pseudonym_mapping (pseudonym_id);

-- ===========================================================================================
-- Delivery
-- ===========================================================================================

CREATE TABLE delivery_destinations (
    id              serial       PRIMARY KEY,
    organization_id varchar(255) NOT NULL,
    type            varchar(50)  NOT NULL,
    label           varchar(255) NOT NULL,
    description     text,
    icon            varchar(255),
    instructions    text,
    is_default      varchar(10)  NOT NULL DEFAULT 'false',
    disabled        varchar(10)  NOT NULL DEFAULT 'false',
    disabled_at     timestamptz,
    disabled_by     varchar(255),
    count_usage     integer      NOT NULL DEFAULT 0,
    last_used_at    timestamptz,
    config          jsonb        NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX delivery_destinations_org_label_unique
    ON delivery_destinations (organization_id, label);

CREATE TABLE delivery_logs (
    id                     serial       PRIMARY KEY,
    delivery_id            varchar(255) NOT NULL,
    destinations           jsonb        NOT NULL DEFAULT '[]',
    organization_id        varchar(255) NOT NULL,
    object_details         jsonb        NOT NULL,
    status                 varchar(20)  NOT NULL,
    attempts               jsonb        NOT NULL DEFAULT '[]',
    last_attempt_at        timestamptz,
    delivered_at           timestamptz,
    failure_reason         text,
    cross_system_reference varchar(255),
    correlation_id         varchar(255),
    idempotency_key        varchar(255),
    details                jsonb,
    created_at             timestamptz  NOT NULL DEFAULT now(),
    updated_at             timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX delivery_logs_delivery_id_idx ON delivery_logs (delivery_id);
CREATE INDEX delivery_logs_org_created_idx ON delivery_logs (organization_id, created_at);
CREATE INDEX delivery_logs_org_status_idx ON delivery_logs (organization_id, status);
CREATE INDEX delivery_logs_status_idx ON delivery_logs (status);
CREATE INDEX delivery_logs_idempotency_key_idx ON delivery_logs (idempotency_key);

CREATE TABLE delivery_queue (
    id              varchar(255) PRIMARY KEY,
    organization_id varchar(255) NOT NULL,
    destination_id  integer      NOT NULL,
    payload         jsonb        NOT NULL,
    priority        integer      NOT NULL DEFAULT 0,
    scheduled_at    timestamptz  NOT NULL,
    processed_at    timestamptz,
    status          varchar(20)  NOT NULL DEFAULT 'pending',
    correlation_id  varchar(255),
    idempotency_key varchar(255),
    retry_count     integer      NOT NULL DEFAULT 0,
    max_retries     integer      NOT NULL DEFAULT 5,
    next_retry_at   timestamptz,
    metadata        jsonb        NOT NULL DEFAULT '{}',
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX delivery_queue_status_priority_idx ON delivery_queue (status, priority);
CREATE INDEX delivery_queue_status_scheduled_idx ON delivery_queue (status, scheduled_at);
CREATE INDEX delivery_queue_retry_scheduled_idx ON delivery_queue (next_retry_at, status);
CREATE INDEX delivery_queue_org_status_idx ON delivery_queue (organization_id, status);
CREATE INDEX delivery_queue_destination_id_idx ON delivery_queue (destination_id);
CREATE INDEX delivery_queue_idempotency_key_idx ON delivery_queue (idempotency_key);

CREATE TABLE destination_health (
    destination_id            integer     PRIMARY KEY,
    status                    varchar(20) NOT NULL,
    last_check_at             timestamptz NOT NULL,
    consecutive_failures      integer     NOT NULL DEFAULT 0,
    total_failures            integer     NOT NULL DEFAULT 0,
    total_deliveries          integer     NOT NULL DEFAULT 0,
    success_rate              varchar(10) NOT NULL DEFAULT '0',
    average_response_time     integer,
    last_failure_at           timestamptz,
    last_success_at           timestamptz,
    disabled_at               timestamptz,
    disabled_reason           text,
    circuit_breaker_state     varchar(20) NOT NULL DEFAULT 'closed',
    circuit_breaker_opened_at timestamptz,
    metadata                  jsonb       NOT NULL DEFAULT '{}',
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX destination_health_status_idx ON destination_health (status);

CREATE TABLE webhook_secrets (
    id             varchar(255) PRIMARY KEY,
    destination_id integer      NOT NULL,
    secret_key     varchar(255) NOT NULL,
    algorithm      varchar(50)  NOT NULL DEFAULT 'HMAC-SHA256',
    is_active      varchar(10)  NOT NULL DEFAULT 'true',
    is_primary     varchar(10)  NOT NULL DEFAULT 'false',
    expires_at     timestamptz,
    rotated_at     timestamptz,
    usage_count    integer      NOT NULL DEFAULT 0,
    last_used_at   timestamptz,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    created_by     varchar(255)
);
CREATE INDEX webhook_secrets_destination_active_idx ON webhook_secrets (destination_id, is_active);
CREATE INDEX webhook_secrets_destination_primary_idx ON webhook_secrets (destination_id, is_primary);

CREATE TABLE download_links (
    id              varchar(255)  PRIMARY KEY,
    organization_id varchar(255)  NOT NULL,
    delivery_id     varchar(255),
    object_id       varchar(255)  NOT NULL,
    object_type     varchar(50)   NOT NULL,
    object_metadata jsonb         NOT NULL,
    file_path       varchar(1000) NOT NULL,
    file_name       varchar(255)  NOT NULL,
    mime_type       varchar(100),
    file_size       integer,
    signed_url      text          NOT NULL,
    signature       varchar(255)  NOT NULL,
    algorithm       varchar(50)   NOT NULL DEFAULT 'HMAC-SHA256',
    expires_at      timestamptz   NOT NULL,
    access_count    integer       NOT NULL DEFAULT 0,
    max_access      integer,
    accessed_by     jsonb         NOT NULL DEFAULT '[]',
    is_active       varchar(10)   NOT NULL DEFAULT 'true',
    revoked_at      timestamptz,
    revoked_by      varchar(255),
    revoked_reason  text,
    created_by      varchar(255),
    metadata        jsonb         NOT NULL DEFAULT '{}',
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX download_links_org_active_idx ON download_links (organization_id, is_active);
CREATE INDEX download_links_org_expires_idx ON download_links (organization_id, expires_at);
CREATE INDEX download_links_object_active_idx ON download_links (object_id, is_active);
CREATE INDEX download_links_delivery_id_idx ON download_links (delivery_id);
CREATE INDEX download_links_expired_cleanup_idx ON download_links (expires_at, is_active);

-- ===========================================================================================
-- Organization settings
-- ===========================================================================================

CREATE TABLE organization_configs (
    id              varchar(255) PRIMARY KEY,
    organization_id varchar(255),
    config          jsonb        NOT NULL DEFAULT '{}',
    created_at      timestamptz  NOT NULL DEFAULT now(),
    created_by      varchar(255) NOT NULL,
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    updated_by      varchar(255)
);
CREATE INDEX organization_configs_organization_id_idx ON organization_configs (organization_id);
