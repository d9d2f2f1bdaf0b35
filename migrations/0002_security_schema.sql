-- 0002_security_schema.sql: identities (organization, user, API key, organization roles) and
-- the security record tables (authentication log, security events, rate-limit violations,
-- sessions, compliance reports, API access log, retention rules for these tables).
-- organization, "user", apikey and organization_role follow the smart-logs auth package
-- (packages/auth/src/db/schema/auth.ts and authz.ts, drizzle migrations in packages/auth/drizzle)
-- column for column, including its `timestamp without time zone` columns. The seven security
-- tables do not exist in smart-logs: they are this project's design (see docs/schema.md).
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

-- ===========================================================================================
-- Identities (from the smart-logs auth package)
-- ===========================================================================================

CREATE TABLE organization (
    id             text      PRIMARY KEY,
    name           text      NOT NULL,
    slug           text,
    logo           text,
    created_at     timestamp NOT NULL,
    metadata       text,
    retention_days integer   DEFAULT 90,
    CONSTRAINT organization_slug_unique UNIQUE (slug)
);

CREATE TABLE "user" (
    id             text      PRIMARY KEY,
    name           text      NOT NULL,
    email          text      NOT NULL,
    email_verified boolean   NOT NULL,
    image          text,
    created_at     timestamp NOT NULL,
    updated_at     timestamp NOT NULL,
    role           text,
    banned         boolean,
    ban_reason     text,
    ban_expires    timestamp,
    CONSTRAINT user_email_unique UNIQUE (email)
);

CREATE TABLE apikey (
    id                     text      PRIMARY KEY,
    name                   text,
    start                  text,
    prefix                 text,
    key                    text      NOT NULL,
    user_id                text      NOT NULL,
    refill_interval        integer,
    refill_amount          integer,
    last_refill_at         timestamp,
    enabled                boolean   DEFAULT true,
    rate_limit_enabled     boolean   DEFAULT true,
    rate_limit_time_window integer   DEFAULT 86400000,
    rate_limit_max         integer   DEFAULT 10,
    request_count          integer,
    remaining              integer,
    last_request           timestamp,
    expires_at             timestamp,
    created_at             timestamp NOT NULL,
    updated_at             timestamp NOT NULL,
    permissions            text,
    metadata               text,
    CONSTRAINT apikey_user_id_user_id_fk
        FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE ON UPDATE NO ACTION
);
-- Not in the original: apikey.user_id is a foreign key column used on every key lookup by
-- owner and by the ON DELETE CASCADE from "user".
CREATE INDEX apikey_user_id_idx ON apikey (user_id);

CREATE TABLE organization_role (
    organization_id varchar(50) NOT NULL,
    name            varchar(50) NOT NULL,
    description     text,
    permissions     jsonb       NOT NULL,
    inherits        jsonb,
    CONSTRAINT organization_role_organization_id_name_pk PRIMARY KEY (organization_id, name),
    CONSTRAINT organization_role_organization_id_organization_id_fk
        FOREIGN KEY (organization_id) REFERENCES organization (id)
        ON DELETE CASCADE ON UPDATE NO ACTION
);
CREATE INDEX organization_role_name_idx ON organization_role (name);

-- ===========================================================================================
-- Security records (ours; not in smart-logs)
-- Append-only logs keep plain identifier columns without foreign keys, so a record outlives
-- the user, key or organization it names and the hot write path pays no FK checks. State
-- tables (sessions, reports, retention rules) reference their owners.
-- ===========================================================================================

-- Authentication outcomes: sign-in/out, failed sign-in, API key use and rejection, key and
-- session lifecycle, MFA changes.
CREATE TABLE auth_audit_log (
    id              bigserial    PRIMARY KEY,
    organization_id text,
    user_id         text,
    api_key_id      text,
    event_type      varchar(50)  NOT NULL,
    event_status    varchar(20)  NOT NULL DEFAULT 'success',
    ip_address      varchar(45),
    user_agent      text,
    session_id      text,
    request_id      varchar(255),
    failure_reason  text,
    details         jsonb        NOT NULL DEFAULT '{}',
    created_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT auth_audit_log_event_status_check
        CHECK (event_status IN ('attempt', 'success', 'failure'))
);
CREATE INDEX auth_audit_log_org_created_idx ON auth_audit_log (organization_id, created_at DESC);
CREATE INDEX auth_audit_log_user_created_idx ON auth_audit_log (user_id, created_at DESC);

-- Security-relevant detections: brute force, invalid or revoked keys, permission denials,
-- rate-limit abuse, integrity failures found by the verifier.
CREATE TABLE security_events (
    id              bigserial    PRIMARY KEY,
    organization_id text,
    event_type      varchar(50)  NOT NULL,
    severity        varchar(20)  NOT NULL DEFAULT 'LOW',
    user_id         text,
    api_key_id      text,
    ip_address      varchar(45),
    user_agent      text,
    request_id      varchar(255),
    description     text,
    details         jsonb        NOT NULL DEFAULT '{}',
    resolved        boolean      NOT NULL DEFAULT false,
    resolved_at     timestamptz,
    resolved_by     text,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT security_events_severity_check
        CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL'))
);
CREATE INDEX security_events_org_created_idx ON security_events (organization_id, created_at DESC);
CREATE INDEX security_events_unresolved_idx ON security_events (severity, created_at)
    WHERE NOT resolved;

-- One row per rejected request window (not per rejected request).
CREATE TABLE rate_limit_violations (
    id              bigserial    PRIMARY KEY,
    organization_id text,
    api_key_id      text,
    user_id         text,
    ip_address      varchar(45),
    limit_key       varchar(255) NOT NULL,
    endpoint        varchar(255) NOT NULL,
    method          varchar(10),
    request_count   integer      NOT NULL,
    limit_max       integer      NOT NULL,
    window_ms       integer      NOT NULL,
    window_start    timestamptz  NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX rate_limit_violations_org_created_idx
    ON rate_limit_violations (organization_id, created_at DESC);
CREATE INDEX rate_limit_violations_key_created_idx
    ON rate_limit_violations (api_key_id, created_at DESC);

-- Interactive sessions (bearer tokens). Only the SHA-256 of the token is stored.
CREATE TABLE user_sessions (
    id               text        PRIMARY KEY,
    user_id          text        NOT NULL,
    organization_id  text,
    token_hash       varchar(64) NOT NULL,
    ip_address       varchar(45),
    user_agent       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    revoked_reason   text,
    CONSTRAINT user_sessions_token_hash_unique UNIQUE (token_hash),
    CONSTRAINT user_sessions_user_id_user_id_fk
        FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE,
    CONSTRAINT user_sessions_organization_id_organization_id_fk
        FOREIGN KEY (organization_id) REFERENCES organization (id) ON DELETE CASCADE
);
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_organization_id_idx ON user_sessions (organization_id);
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- Generated compliance reports (HIPAA, GDPR, integrity), ad hoc or from a schedule. The report
-- body lives at storage_path; content_hash and signature let an auditor check it.
CREATE TABLE compliance_reports (
    id                  varchar(255)  PRIMARY KEY,
    organization_id     text          NOT NULL,
    report_type         varchar(50)   NOT NULL,
    status              varchar(20)   NOT NULL DEFAULT 'pending',
    format              varchar(20)   NOT NULL DEFAULT 'json',
    criteria            jsonb         NOT NULL DEFAULT '{}',
    period_start        timestamptz,
    period_end          timestamptz,
    record_count        integer,
    summary             jsonb,
    storage_path        varchar(1000),
    content_hash        varchar(64),
    signature           varchar(128),
    scheduled_report_id varchar(255),
    generated_by        varchar(255),
    error               text,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    CONSTRAINT compliance_reports_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    CONSTRAINT compliance_reports_organization_id_organization_id_fk
        FOREIGN KEY (organization_id) REFERENCES organization (id) ON DELETE CASCADE,
    CONSTRAINT compliance_reports_scheduled_report_id_scheduled_reports_id_fk
        FOREIGN KEY (scheduled_report_id) REFERENCES scheduled_reports (id) ON DELETE SET NULL
);
CREATE INDEX compliance_reports_org_created_idx
    ON compliance_reports (organization_id, created_at DESC);
CREATE INDEX compliance_reports_scheduled_report_id_idx
    ON compliance_reports (scheduled_report_id);

-- One row per API request. Written on every request, so one index only.
CREATE TABLE api_access_log (
    id               bigserial     PRIMARY KEY,
    organization_id  text,
    api_key_id       text,
    user_id          text,
    request_id       varchar(255),
    method           varchar(10)   NOT NULL,
    path             varchar(2048) NOT NULL,
    status_code      integer       NOT NULL,
    response_time_ms integer,
    request_bytes    integer,
    response_bytes   integer,
    ip_address       varchar(45),
    user_agent       text,
    error_code       varchar(50),
    created_at       timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX api_access_log_org_created_idx ON api_access_log (organization_id, created_at DESC);

-- Retention rules for the security tables above (audit_log has audit_retention_policy).
-- organization_id NULL is the system-wide rule; an organization's own row overrides it. The
-- age of a row is measured on the table's created_at (user_sessions: expires_at), fixed in
-- code, never taken from this table.
CREATE TABLE data_retention_policies (
    id               bigserial    PRIMARY KEY,
    organization_id  text,
    table_name       varchar(100) NOT NULL,
    retention_days   integer      NOT NULL,
    is_active        boolean      NOT NULL DEFAULT true,
    description      text,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    created_by       varchar(255),
    CONSTRAINT data_retention_policies_retention_days_check CHECK (retention_days > 0),
    CONSTRAINT data_retention_policies_table_name_check
        CHECK (table_name IN ('auth_audit_log', 'security_events', 'rate_limit_violations',
                              'user_sessions', 'compliance_reports', 'api_access_log')),
    CONSTRAINT data_retention_policies_org_table_unique
        UNIQUE NULLS NOT DISTINCT (organization_id, table_name),
    CONSTRAINT data_retention_policies_organization_id_organization_id_fk
        FOREIGN KEY (organization_id) REFERENCES organization (id) ON DELETE CASCADE
);
