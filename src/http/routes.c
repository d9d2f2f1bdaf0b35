/*
 * routes.c - the route table of the HTTP API, authentication and permission
 * checks, and the operations handlers (/health, /ready, /live).
 * Every route is one row: method, path pattern ({name} matches one segment),
 * handler, and the permission it needs (resource, action; NULL: public).
 */
#include "http.h"
#include "ratelimit.h"
#include "selfaudit.h"
#include "presets.h"
#include "compliance.h"
#include "delivery_routes.h"
#include "reports_routes.h"
#include "sched_routes.h"
#include "db_routes.h"
#include "alerts_routes.h"
#include "detection_rules.h"
#include "monitor_routes.h"
#include "metrics_api.h"
#include "../core/util.h"

#include <string.h>

typedef enum MHD_Result (*route_fn)(adb_http_request *req);

/* the export, stream and statistics routes' query parameters (docs/exports.md) */
#define FILTER_PARAMS "startDate,endDate,principalIds,organizationIds,actions,statuses," \
                      "dataClassifications,resourceTypes,verifiedOnly,correlationId"
#define STREAM_PARAMS FILTER_PARAMS ",batchSize,format,includeMetadata"
#define STATS_PARAMS FILTER_PARAMS ",groupBy"

typedef struct route {
    const char *method;
    const char *pattern;
    route_fn fn;
    const char *resource; /* NULL: no authentication */
    const char *action;
    const char *summary;
    const char *params;   /* the query parameters it takes, comma-separated, "name[]" for
                             one that may repeat (its values joined); NULL: none */
} route;

#define PAGE "limit,offset"
#define LIST_PARAMS "startDate,endDate,principalIds,organizationIds,actions,statuses," \
                    "dataClassifications,resourceTypes,verifiedOnly,correlationId," \
                    "sortField,sortDirection,cursor," PAGE

/* the live metrics stream's parameters: the subscription's and the enhanced stream's */
#define LIVE_PARAMS "metricsTypes,updateInterval,includeAlerts,metrics,interval"

/* what smart-logs' client adds to its health check and detailed calls */
#define HEALTH_OPTIONS "timeout,includeDetails,checkDependencies,componentChecks"

/* ---- the table ---------------------------------------------------------- */

static const route routes[] = {
    { "GET", "/health", adb_http_ops_health, NULL, NULL, "service and database health", NULL },
    { "GET", "/health/detailed", adb_http_ops_health_detailed, "operator.metrics", "read", "health with writer, pool and request figures", NULL },
    { "GET", "/ready", adb_http_ops_ready, NULL, NULL, "ready: database reachable, schema current", NULL },
    { "GET", "/live", adb_http_ops_live, NULL, NULL, "the process is alive", NULL },
    { "GET", "/metrics", adb_http_ops_metrics, "operator.metrics", "read", "Prometheus metrics", NULL },
    { "GET", "/api/v1/openapi.json", adb_http_ops_openapi, NULL, NULL, "this API's OpenAPI 3.1 document", NULL },
    { "POST", "/api/v1/audit/events", adb_http_events_create, "audit.events", "create", "store one event", NULL },
    { "POST", "/api/v1/audit/events/bulk", adb_http_events_bulk, "audit.events", "create", "store many events", "shape" },
    { "GET", "/api/v1/audit/events", adb_http_events_list, "audit.events", "read", "list events", LIST_PARAMS },
    { "GET", "/api/v1/audit/events/stream", adb_http_events_stream, "audit.events", "read", "stream events as NDJSON (or CSV), oldest first", STREAM_PARAMS },
    { "GET", "/api/v1/audit/events/statistics", adb_http_events_statistics, "audit.events", "read", "count events by status, action, classification and time", STATS_PARAMS },
    { "POST", "/api/v1/audit/events/export", adb_http_exports_create, "audit.events", "export", "queue an export of events (json, csv, xml)", NULL },
    { "GET", "/api/v1/audit/events/exports/{id}/status", adb_http_exports_status, "audit.events", "export", "an export's status", NULL },
    { "GET", "/api/v1/audit/events/exports/{id}/download", adb_http_exports_download, "audit.events", "export", "an export's file", "format" },
    { "POST", "/api/v1/audit/events/exports/{id}/cancel", adb_http_exports_cancel, "audit.events", "export", "cancel an export", NULL },
    { "GET", "/api/v1/audit/events/{id}", adb_http_events_get, "audit.events", "read", "one event", NULL },
    { "POST", "/api/v1/audit/events/{id}/verify", adb_http_events_verify, "audit.events", "verify", "verify one event", NULL },
    /* the verifiable log: an event's receipt (proofs.c, docs/proofs.md) */
    { "GET", "/api/v1/audit/events/{id}/proof", adb_http_events_proof, "audit.log", "read", "the receipt of one event: inclusion proof and cosigned checkpoint (tlog-proof)", NULL },
    /* the verifiable log's signed checkpoints (docs/checkpoints.md) */
    { "GET", "/api/v1/audit/log/checkpoint", adb_http_log_checkpoint, "audit.log", "read", "the organization's latest signed checkpoint (a C2SP signed note with its cosignatures)", NULL },
    { "GET", "/api/v1/audit/log/vkey", adb_http_log_vkey, "audit.log", "read", "the log key's verifier key", NULL },
    /* the verifiable log's tree (log_tiles.c, docs/log.md) */
    { "GET", "/api/v1/audit/log/tile/{+tile}", adb_http_log_tile, "audit.log", "read", "tlog-tiles: a tile (L/N[.p/W]) or an entry bundle (entries/N[.p/W]) of the organization's tree", NULL },
    { "GET", "/api/v1/audit/log/consistency", adb_http_log_consistency, "audit.log", "read", "a consistency proof between two sizes of the organization's tree", "from,to" },
    { "GET", "/api/v1/archives", adb_http_archives_list, "archives", "read", "list archives", PAGE },
    { "GET", "/api/v1/archives/{id}/events", adb_http_archives_events, "archives", "read", "the events of one archive", PAGE },
    /* GDPR export of a data subject's data, Art. 15 and 20 (gdpr_export.c, gdpr_settings.c, docs/gdpr.md) */
    { "POST", "/api/v1/compliance/gdpr/export", adb_http_gdpr_export, "compliance.gdpr", "export", "export a data subject's data with the Art. 15 answers (json, csv, xml, ndjson)", NULL },
    { "POST", "/api/v1/compliance/gdpr/export/stream", adb_http_gdpr_export_stream, "compliance.gdpr", "export", "the same, NDJSON by default, each event with its receipt", NULL },
    { "GET", "/api/v1/compliance/gdpr/settings", adb_http_gdpr_settings_get, "compliance.gdpr", "read", "the purposes of the organization's actions and its consultations policy", NULL },
    { "PUT", "/api/v1/compliance/gdpr/settings", adb_http_gdpr_settings_put, "compliance.gdpr", "configure", "set purposes of actions and who consulted data is shown as", NULL },
    /* the health service as smart-logs' client calls it (docs/api.md, "Health service") */
    { "GET", "/api/v1/health", adb_http_health_check, NULL, NULL, "health: status of the service", HEALTH_OPTIONS },
    { "GET", "/api/v1/health/ready", adb_http_health_ready, NULL, NULL, "health: readiness with each check", NULL },
    { "GET", "/api/v1/health/alive", adb_http_health_alive, NULL, NULL, "health: liveness", NULL },
    { "GET", "/api/v1/health/version", adb_http_health_version, NULL, NULL, "health: version and build", NULL },
    { "GET", "/api/v1/health/detailed", adb_http_health_detailed, "health", "read", "health: every component checked", HEALTH_OPTIONS },
    { "POST", "/api/v1/health/check", adb_http_health_run, "health", "read", "health: run the checks now", NULL },
    { "GET", "/api/v1/health/status", adb_http_health_status, "health", "read", "health: API status and the caller's rate limit", NULL },
    { "GET", "/api/v1/health/components/{name}", adb_http_health_component, "health", "read", "health: one component", NULL },
    { "GET", "/api/v1/health/dependencies", adb_http_health_dependencies, "health", "read", "health: the services auditdb uses", NULL },
    { "GET", "/api/v1/health/dependencies/{name}", adb_http_health_dependency, "health", "read", "health: one dependency", NULL },
    { "GET", "/api/v1/health/history", adb_http_health_get_history, "health", "read", "health: recent checks of this instance", "startDate,endDate,component" },
    { "GET", "/api/v1/health/metrics", adb_http_health_metrics, "health", "read", "health: figures of the recent checks", NULL },
    { "POST", "/api/v1/health/cache/reset", adb_http_health_cache_reset, "health", "read", "health: nothing is cached (says so)", NULL },
    { "GET", "/api/v1/health/config", adb_http_health_config, "health", "read", "health: how the checks run", NULL },
    { "PUT", "/api/v1/health/config", adb_http_health_config_put, "operator.health", "write", "health: change how the checks run (an operator's)", NULL },
    { "POST", "/api/v1/health/connectivity", adb_http_health_connectivity, "health", "read", "health: connect to each dependency now", NULL },
    { "GET", "/api/v1/health/system", adb_http_health_system, "health", "read", "health: the process's memory, CPU time and the load", NULL },
    /* presets (presets*.c, docs/presets.md) */
    { "GET", "/api/v1/compliance/audit-presets", adb_http_presets_list, "audit.presets", "read", "list presets", "category,tags[],search,includeMetadata,sortBy,sortOrder," PAGE },
    { "POST", "/api/v1/audit-presets", adb_http_presets_create, "audit.presets", "write", "create a preset", NULL },
    { "POST", "/api/v1/audit-presets/export", adb_http_presets_export, "audit.presets", "read", "export presets as JSON", NULL },
    { "POST", "/api/v1/audit-presets/import", adb_http_presets_import, "audit.presets", "write", "import presets (all or nothing)", NULL },
    { "GET", "/api/v1/audit-presets/{name}", adb_http_presets_get, "audit.presets", "read", "one preset", "includeMetadata" },
    { "PUT", "/api/v1/audit-presets/{name}", adb_http_presets_update, "audit.presets", "write", "update a preset (a new version)", NULL },
    { "DELETE", "/api/v1/audit-presets/{name}", adb_http_presets_delete, "audit.presets", "write", "delete a preset", "force" },
    { "POST", "/api/v1/audit-presets/{name}/validate", adb_http_presets_validate, "audit.presets", "read", "validate a context against a preset, storing nothing", NULL },
    { "POST", "/api/v1/audit-presets/{name}/apply", adb_http_presets_apply, "audit.events", "create", "store the event a preset makes of a context", NULL },
    { "GET", "/api/v1/audit-presets/{name}/versions", adb_http_presets_versions, "audit.presets", "read", "a preset's versions", "limit" },
    { "GET", "/api/v1/audit-presets/{name}/versions/{version}", adb_http_presets_version, "audit.presets", "read", "one version of a preset", NULL },
    { "POST", "/api/v1/audit-presets/{name}/versions/{version}/restore", adb_http_presets_restore, "audit.presets", "write", "make an old version current (a new version)", NULL },
    { "GET", "/api/v1/audit-presets/{name}/stats", adb_http_presets_stats, "audit.presets", "read", "a preset's usage", "period,limit" },
    { "POST", "/api/v1/audit-presets/{name}/duplicate", adb_http_presets_duplicate, "audit.presets", "write", "copy a preset under a new name", NULL },
    /* data-subject requests as records (gdpr_requests.c, docs/gdpr.md "Requests", docs/hipaa.md) */
    { "GET", "/api/v1/compliance/gdpr/requests", adb_http_dsr_list, "compliance.gdpr", "read", "list data-subject requests", "kind,status,subjectId,overdue," PAGE },
    { "POST", "/api/v1/compliance/gdpr/requests", adb_http_dsr_create, "compliance.gdpr", "manage", "record a data-subject request received now", NULL },
    { "GET", "/api/v1/compliance/gdpr/requests/{id}", adb_http_dsr_get, "compliance.gdpr", "read", "one data-subject request", NULL },
    { "PUT", "/api/v1/compliance/gdpr/requests/{id}", adb_http_dsr_update, "compliance.gdpr", "manage", "move a data-subject request to in_progress, completed or refused", NULL },
    { "POST", "/api/v1/compliance/gdpr/requests/{id}/extend", adb_http_dsr_extend, "compliance.gdpr", "manage", "extend a data-subject request by 1 or 2 months with a reason", NULL },
    { "GET", "/api/v1/compliance/hipaa/requests", adb_http_dsr_list, "compliance.hipaa", "read", "list patients' HIPAA requests (accounting, access)", "kind,status,subjectId,overdue," PAGE },
    { "POST", "/api/v1/compliance/hipaa/requests", adb_http_dsr_create, "compliance.hipaa", "manage", "record a patient's HIPAA request received now", NULL },
    { "GET", "/api/v1/compliance/hipaa/requests/{id}", adb_http_dsr_get, "compliance.hipaa", "read", "one HIPAA request", NULL },
    { "PUT", "/api/v1/compliance/hipaa/requests/{id}", adb_http_dsr_update, "compliance.hipaa", "manage", "move a HIPAA request to in_progress, completed or refused", NULL },
    { "POST", "/api/v1/compliance/hipaa/requests/{id}/extend", adb_http_dsr_extend, "compliance.hipaa", "manage", "extend a HIPAA request once by up to 30 days with a reason", NULL },
    /* HIPAA accounting of disclosures, access report, suspensions (hipaa_*.c, docs/hipaa.md) */
    { "GET", "/api/v1/compliance/hipaa/accounting", adb_http_hipaa_accounting, "compliance.hipaa", "read", "a patient's accounting of disclosures (45 CFR 164.528)", "patient,startDate,endDate,requestId" },
    { "GET", "/api/v1/compliance/hipaa/access-report", adb_http_hipaa_access_report, "compliance.hipaa", "read", "every access to a patient's records: who and when", "patient,startDate,endDate," PAGE },
    { "GET", "/api/v1/compliance/hipaa/suspensions", adb_http_hipaa_suspensions_list, "compliance.hipaa", "read", "suspensions of the accounting of disclosures (164.528(a)(2))", "active" },
    { "POST", "/api/v1/compliance/hipaa/suspensions", adb_http_hipaa_suspensions_create, "compliance.hipaa", "manage", "record an agency's or official's suspension statement", NULL },
    /* pseudonymization, erasure, reversal, legal holds (gdpr_erase.c, docs/gdpr.md) */
    { "POST", "/api/v1/compliance/gdpr/pseudonymize", adb_http_gdpr_pseudonymize, "compliance.gdpr", "pseudonymize", "pseudonymize data subjects' events (hash, token, encryption)", NULL },
    { "POST", "/api/v1/compliance/gdpr/erase", adb_http_gdpr_erase, "compliance.gdpr", "erase", "erase a data subject's personal data (GDPR Art. 17), keeping what the law requires", NULL },
    { "POST", "/api/v1/compliance/gdpr/reverse", adb_http_gdpr_reverse, "compliance.gdpr", "reverse", "the original of a pseudonym (explicit grant only; audited)", NULL },
    { "POST", "/api/v1/compliance/gdpr/holds", adb_http_gdpr_hold_create, "compliance.gdpr", "hold", "place a legal hold", NULL },
    /* delivery destinations as smart-logs' client calls them (delivery_destinations.c, docs/delivery.md) */
    { "GET", "/api/v1/delivery/destinations", adb_http_delivery_dest_list, "delivery", "read", "list delivery destinations", "type,disabled,sortBy,sortOrder," PAGE },
    { "POST", "/api/v1/delivery/destinations", adb_http_delivery_dest_create, "delivery", "manage", "create a delivery destination (a webhook's signing secret is shown once)", NULL },
    { "GET", "/api/v1/delivery/destinations/{id}", adb_http_delivery_dest_get, "delivery", "read", "one delivery destination, secrets masked", NULL },
    { "PUT", "/api/v1/delivery/destinations/{id}", adb_http_delivery_dest_update, "delivery", "manage", "update a delivery destination", NULL },
    { "PATCH", "/api/v1/delivery/destinations/{id}", adb_http_delivery_dest_update, "delivery", "manage", "update a delivery destination (config as a JSON merge patch)", NULL },
    { "DELETE", "/api/v1/delivery/destinations/{id}", adb_http_delivery_dest_delete, "delivery", "manage", "delete a delivery destination (its secrets destroyed)", NULL },
    { "POST", "/api/v1/delivery/destinations/{id}/validate", adb_http_delivery_dest_validate, "delivery", "read", "check a destination's configuration and addresses", NULL },
    { "POST", "/api/v1/delivery/destinations/{id}/test", adb_http_delivery_dest_test, "delivery", "manage", "test-connect a destination without delivering", NULL },
    { "POST", "/api/v1/delivery/destinations/{id}/secrets/rotate", adb_http_delivery_dest_rotate, "delivery", "manage", "new webhook signing secrets, the old ones signing too for a grace period", NULL },
    /* deliveries: the queue as smart-logs' client calls it (delivery_deliveries.c, docs/delivery.md) */
    { "POST", "/api/v1/delivery/deliveries", adb_http_deliveries_create, "delivery", "deliver", "queue a delivery to destinations (one item each, signed webhooks, retries)", NULL },
    { "GET", "/api/v1/delivery/deliveries", adb_http_deliveries_list, "delivery", "read", "list deliveries with each destination's status", "destinationId,status,startDate,endDate,sortBy,sortOrder," PAGE },
    { "GET", "/api/v1/delivery/deliveries/{id}", adb_http_deliveries_get, "delivery", "read", "one delivery's status per destination", NULL },
    { "POST", "/api/v1/delivery/deliveries/{id}/retry", adb_http_deliveries_retry, "delivery", "deliver", "queue a delivery's failed or held destinations again (same webhook-id)", NULL },
    { "GET", "/api/v1/delivery/metrics", adb_http_delivery_metrics, "delivery", "read", "deliveries counted by outcome and destination type", "destinationType,startDate,endDate,granularity" },
    { "GET", "/api/v1/delivery/health", adb_http_delivery_health, "delivery", "read", "the delivery threads and the queue", NULL },
    /* destination health and the circuit breaker (delivery_health.c, docs/delivery.md "Health and breakers") */
    { "GET", "/api/v1/delivery/destinations/{id}/health", adb_http_delivery_health_get, "delivery", "read", "a destination's health and circuit breaker, with its latest transitions", NULL },
    { "POST", "/api/v1/delivery/destinations/{id}/enable", adb_http_delivery_enable, "delivery", "manage", "enable a destination again: breaker closed, held deliveries pending", NULL },
    { "POST", "/api/v1/delivery/destinations/{id}/disable", adb_http_delivery_disable, "delivery", "manage", "disable a destination: its pending deliveries held", NULL },
    /* download links: the signed URL is the authority (delivery_download.c, docs/delivery.md) */
    { "GET", "/api/v1/delivery/downloads/{id}", adb_http_delivery_download, NULL, NULL, "the file of a download link (signed, expiring URL; no key)", "expires,signature" },
    { "DELETE", "/api/v1/delivery/downloads/{id}", adb_http_delivery_download_revoke, "delivery", "manage", "revoke a download link (410 from then on)", "reason" },
    /* on-demand compliance reports (reports.c, docs/reports.md); history before {id} */
    { "POST", "/api/v1/compliance/reports/hipaa", adb_http_reports_hipaa, "reports", "generate", "generate a HIPAA audit trail report from the events (the document; artifact stored and signed)", NULL },
    { "POST", "/api/v1/compliance/reports/gdpr", adb_http_reports_gdpr, "reports", "generate", "generate a GDPR processing activities report", NULL },
    { "POST", "/api/v1/compliance/reports/integrity", adb_http_reports_integrity, "reports", "generate", "generate an integrity verification report (every hash, link and checkpoint recomputed)", NULL },
    { "POST", "/api/v1/compliance/reports/general", adb_http_reports_general, "reports", "generate", "generate a general compliance report", NULL },
    { "POST", "/api/v1/compliance/reports/custom", adb_http_reports_custom, "reports", "generate", "generate a custom report from saved or given criteria", NULL },
    { "GET", "/api/v1/compliance/reports/history/{organizationId}", adb_http_reports_history, "reports", "read", "the organization's reports, newest first", "reportType,startDate,endDate," PAGE },
    { "GET", "/api/v1/compliance/reports/{id}/status", adb_http_reports_status, "reports", "read", "a report's status, hash and signed note", NULL },
    { "GET", "/api/v1/compliance/reports/{id}/download", adb_http_reports_download, "reports", "read", "a report's artifact (another format: rendered from its document)", "format,includeCharts,includeMetadata,compression" },
    { "GET", "/api/v1/compliance/reports/{id}/stream", adb_http_reports_stream, "reports", "read", "the same as an octet stream", "format,includeCharts,includeMetadata,compression,chunkSize" },
    { "POST", "/api/v1/compliance/reports/{id}/cancel", adb_http_reports_cancel, "reports", "generate", "cancel a report being generated", NULL },
    /* scheduled reports as smart-logs' client calls them (scheduled_reports.c, docs/reports.md); upcoming before {id} */
    { "GET", "/api/v1/scheduled-reports", adb_http_sched_list, "reports", "read", "list scheduled reports (paginated, with a summary)", "enabled,reportType[],createdBy[],tags[],rangeBy,startDate,endDate,search,sortBy,sortOrder," PAGE },
    { "POST", "/api/v1/scheduled-reports", adb_http_sched_create, "reports", "manage", "create a scheduled report (next run computed in its time zone)", NULL },
    { "GET", "/api/v1/scheduled-reports/upcoming", adb_http_sched_upcoming, "reports", "read", "the next runs of the enabled schedules, soonest first", "organizationId,limit" },
    { "GET", "/api/v1/scheduled-reports/{id}", adb_http_sched_get, "reports", "read", "one scheduled report", NULL },
    { "PUT", "/api/v1/scheduled-reports/{id}", adb_http_sched_update, "reports", "manage", "update a scheduled report (a new schedule runs from now)", NULL },
    { "DELETE", "/api/v1/scheduled-reports/{id}", adb_http_sched_delete, "reports", "manage", "delete a scheduled report (its executions kept)", NULL },
    { "POST", "/api/v1/scheduled-reports/{id}/execute", adb_http_sched_execute, "reports", "execute", "run a scheduled report now (a manual execution, started by a scheduler)", NULL },
    { "GET", "/api/v1/scheduled-reports/{id}/executions", adb_http_sched_executions, "reports", "read", "a schedule's executions, newest instant first", "status," PAGE },
    { "GET", "/api/v1/scheduled-reports/{id}/executions/{executionId}", adb_http_sched_execution_get, "reports", "read", "one execution's status", NULL },
    { "POST", "/api/v1/scheduled-reports/{id}/executions/{executionId}/cancel", adb_http_sched_execution_cancel, "reports", "execute", "cancel a pending or running execution", NULL },
    { "GET", "/api/v1/scheduled-reports/{id}/executions/{executionId}/download", adb_http_sched_execution_download, "reports", "read", "a completed execution's artifact (the signed bytes)", "format" },
    { "POST", "/api/v1/scheduled-reports/{id}/enable", adb_http_sched_enable, "reports", "manage", "enable a scheduled report (its next run from now)", NULL },
    { "POST", "/api/v1/scheduled-reports/{id}/disable", adb_http_sched_disable, "reports", "manage", "disable a scheduled report", NULL },
    /* report templates (report_templates.c, docs/reports.md "Templates") */
    { "GET", "/api/v1/compliance/templates", adb_http_templates_list, "reports", "read", "the organization's report templates", NULL },
    { "POST", "/api/v1/compliance/templates", adb_http_templates_create, "reports", "manage", "create a report template", NULL },
    { "GET", "/api/v1/compliance/templates/{id}", adb_http_templates_get, "reports", "read", "one report template", NULL },
    { "PUT", "/api/v1/compliance/templates/{id}", adb_http_templates_update, "reports", "manage", "update a report template (its version goes up)", NULL },
    { "DELETE", "/api/v1/compliance/templates/{id}", adb_http_templates_delete, "reports", "manage", "delete a report template", NULL },
    /* database monitoring (db_monitor.c; docs/monitoring.md): operator keys only */
    { "GET", "/api/v1/db/performance", adb_http_db_performance, "operator.db", "read", "database monitoring: summary, findings and the last round (an operator's)", NULL },
    { "GET", "/api/v1/db/slow-queries", adb_http_db_slow_queries, "operator.db", "read", "statements slower on average than the threshold, normalized text (an operator's)", "limit,thresholdMs" },
    { "GET", "/api/v1/db/indexes", adb_http_db_indexes, "operator.db", "read", "index usage: scans, size, unused, duplicates (an operator's)", "only,limit" },
    { "GET", "/api/v1/db/tables", adb_http_db_tables, "operator.db", "read", "tables and partitions: tuples, dead tuples, bloat, vacuum, transaction-id age (an operator's)", "limit" },
    { "GET", "/api/v1/db/suggestions", adb_http_db_suggestions, "operator.db", "read", "missing indexes checked with hypothetical indexes: cost before and after (an operator's)", "minCalls" },
    /* the service's own alerts ("_process") for operator keys, read-only (alerts.c, docs/alerts.md) */
    { "GET", "/api/v1/operator/alerts", adb_http_operator_alerts_list, "operator.alerts", "read", "the service's own alerts (organization _process: checkpoints, errors, database findings), read-only (an operator's)", "status[],severity[],type[],source[],tags[],rangeBy,startDate,endDate,search,sortBy,sortOrder," PAGE },
    { "GET", "/api/v1/operator/alerts/{id}", adb_http_operator_alerts_get, "operator.alerts", "read", "one of the service's own alerts (an operator's)", NULL },
    /* alerts (alerts.c, alerts_config.c, docs/alerts.md); statistics, config, silences before {id} */
    { "GET", "/api/v1/alerts", adb_http_alerts_list, "alerts", "read", "the organization's alerts (paginated, filtered, with a summary)", "status[],severity[],type[],source[],tags[],rangeBy,startDate,endDate,search,sortBy,sortOrder," PAGE },
    { "GET", "/api/v1/alerts/statistics", adb_http_alerts_statistics, "alerts", "read", "alerts counted by status, severity, type and source, with 30 days of trends", NULL },
    { "GET", "/api/v1/alerts/config", adb_http_alerts_config_get, "alerts", "read", "the organization's alert configuration (hold-open, suppression windows, notification)", NULL },
    { "POST", "/api/v1/alerts/config", adb_http_alerts_config_post, "alerts", "manage", "save the alert configuration (members given replace the stored ones)", NULL },
    { "GET", "/api/v1/alerts/silences", adb_http_alerts_silences_list, "alerts", "read", "the organization's silences", "status" },
    { "POST", "/api/v1/alerts/silences", adb_http_alerts_silences_create, "alerts", "manage", "silence the alerts a set of matchers names, from startsAt to endsAt", NULL },
    { "GET", "/api/v1/alerts/silences/{id}", adb_http_alerts_silences_get, "alerts", "read", "one silence", NULL },
    { "DELETE", "/api/v1/alerts/silences/{id}", adb_http_alerts_silences_expire, "alerts", "manage", "expire a silence now", NULL },
    /* detection rules (detection_rules.c, docs/alerts.md "Detection rules"); before /alerts/{id} */
    { "GET", "/api/v1/alerts/rules", adb_http_rules_list, "alerts.rules", "read", "the organization's current detection rules", NULL },
    { "POST", "/api/v1/alerts/rules", adb_http_rules_create, "alerts.rules", "manage", "create a detection rule (version 1)", NULL },
    { "GET", "/api/v1/alerts/rules/{id}", adb_http_rules_get, "alerts.rules", "read", "one detection rule, its current version", NULL },
    { "PUT", "/api/v1/alerts/rules/{id}", adb_http_rules_update, "alerts.rules", "manage", "change a detection rule: its definition or enabled flag (a new version)", NULL },
    { "GET", "/api/v1/alerts/rules/{id}/versions", adb_http_rules_versions, "alerts.rules", "read", "every version of a detection rule, newest first", NULL },
    { "GET", "/api/v1/alerts/detection-settings", adb_http_detect_settings_get, "alerts.rules", "read", "the organization's detection settings (time zone of time-of-day windows)", NULL },
    { "PUT", "/api/v1/alerts/detection-settings", adb_http_detect_settings_put, "alerts.rules", "manage", "set the time zone of time-of-day windows", NULL },
    { "GET", "/api/v1/alerts/{id}", adb_http_alerts_get, "alerts", "read", "one alert", NULL },
    { "POST", "/api/v1/alerts/{id}/acknowledge", adb_http_alerts_acknowledge, "alerts", "manage", "acknowledge an alert (a second call changes nothing)", NULL },
    { "POST", "/api/v1/alerts/{id}/resolve", adb_http_alerts_resolve, "alerts", "manage", "resolve an alert with its resolution (a second call changes nothing)", NULL },
    { "POST", "/api/v1/alerts/{id}/dismiss", adb_http_alerts_dismiss, "alerts", "manage", "dismiss an alert (a second call changes nothing)", NULL },
    /* errors (operator only) and the configuration history (errors_api.c, config_changes.c, docs/monitoring.md) */
    { "GET", "/api/v1/errors", adb_http_errors_list, "operator.errors", "read", "the service's own failures, newest first (operator)", "category,severity,component,code,operation,aggregationKey,organizationId,startDate,endDate," PAGE },
    { "GET", "/api/v1/errors/aggregations", adb_http_errors_aggregations, "operator.errors", "read", "the failures grouped by fingerprint: count, rate, trend, samples, resolution (operator)", "category,severity,component,code,operation,status,sortBy,sortOrder,startDate,endDate," PAGE },
    { "POST", "/api/v1/errors/aggregations/{key}/resolve", adb_http_errors_resolve, "operator.errors", "manage", "resolve an error aggregation: its next occurrence is a regression and raises an alert (a second call changes nothing)", NULL },
    { "GET", "/api/v1/config/changes", adb_http_config_changes, "config.changes", "read", "the organization's configuration history, newest first (secrets masked)", "field,changedBy,startDate,endDate," PAGE },
    /* the metrics service as smart-logs' client calls it (metrics_api.c, metrics_series.c,
     * metrics_config.c; docs/monitoring.md "Metrics"): the tenant's own figures; system ones
     * (the host, the process, every organization) to operators only */
    { "GET", "/api/v1/metrics/system", adb_http_metrics_system, "operator.metrics", "read", "metrics: the host, the process, the database and the whole API (operators)", NULL },
    { "GET", "/api/v1/metrics/audit", adb_http_metrics_audit, "metrics", "read", "metrics: the organization's events, write latency, verifications, reports, errors, timeline", "timeRange,startDate,endDate,granularity,organizationIds[],principalIds[],actions[],resourceTypes[],includeBreakdown,includeTimeline" },
    { "GET", "/api/v1/metrics/performance", adb_http_metrics_performance, "metrics", "read", "metrics: the organization's requests, throughput and latency (last hour by default)", "timeRange,startDate,endDate" },
    { "GET", "/api/v1/metrics/usage", adb_http_metrics_usage, "metrics", "read", "metrics: the organization's API usage by endpoint and feature, sessions, storage", "timeRange,startDate,endDate,granularity,organizationIds[],includeDetails" },
    { "GET", "/api/v1/metrics/dashboard", adb_http_metrics_dashboard, "metrics", "read", "metrics: the organization's summary, open alerts and trends against the period before", "timeRange,startDate,endDate" },
    { "POST", "/api/v1/metrics/query", adb_http_metrics_query, "metrics", "read", "metrics: a custom query over the catalogue of metric names (never SQL)", NULL },
    { "GET", "/api/v1/metrics/config", adb_http_metrics_config_get, "metrics", "read", "metrics: the organization's metrics configuration and the catalogue", NULL },
    { "PUT", "/api/v1/metrics/config", adb_http_metrics_config_put, "metrics", "manage", "metrics: change the organization's metrics configuration", NULL },
    { "GET", "/api/v1/metrics/system/historical", adb_http_metrics_system_historical, "operator.metrics", "read", "metrics: the process-wide snapshots over time (operators)", "timeRange,startDate,endDate,granularity" },
    { "POST", "/api/v1/metrics/system/export", adb_http_metrics_system_export, "operator.metrics", "read", "metrics: export the process-wide snapshots (csv, json; operators)", NULL },
    { "GET", "/api/v1/metrics/{type}/historical", adb_http_metrics_historical, "metrics", "read", "metrics: the organization's snapshots over time (audit, performance, usage)", "timeRange,startDate,endDate,granularity" },
    { "POST", "/api/v1/metrics/{type}/export", adb_http_metrics_export, "metrics", "read", "metrics: export the organization's snapshots (csv, json; xlsx refused)", NULL },
    /* the streams the client reads (metrics_stream.c; docs/monitoring.md "Streams") */
    { "POST", "/api/v1/metrics/historical/stream", adb_http_metrics_historical_stream, "metrics", "read", "metrics: the organization's series by minute, hour or day, one JSON object a line (or CSV), written as read", NULL },
    { "GET", "/api/v1/metrics/stream", adb_http_metrics_live, "metrics", "read", "metrics: the last interval's figures as Server-Sent Events, reconnecting every interval (no WebSocket)", LIVE_PARAMS },
    { "GET", "/api/v1/metrics/sse", adb_http_metrics_live, "metrics", "read", "metrics: the same Server-Sent Events (the client's EventSource path)", LIVE_PARAMS },
    { "POST", "/api/v1/alerts/{id}/suppress", adb_http_alerts_suppress, "alerts", "manage", "suppress an alert for a number of minutes: a silence of its source and deduplication key (the client's suppressAlert)", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

/* Matches path against pattern, capturing {name} segments into req->param. */
static bool match(const char *pattern, const char *path, adb_http_request *req, bool capture)
{
    int np = 0;

    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '+') {
            /* {+name}, last: the rest of the path, slashes and all (RFC 6570's
             * reserved expansion; the tlog-tiles paths) */
            const char *pend = strchr(pattern, '}');
            if (!pend || pend[1] != '\0' || !*path || np >= ADB_HTTP_MAX_PARAMS)
                return false;
            if (capture) {
                free(req->param[np]);
                req->param[np] = strdup(path);
            }
            return true;
        }
        if (*pattern == '{') {
            const char *pend = strchr(pattern, '}');
            const char *seg_end = strchr(path, '/');
            size_t n = seg_end ? (size_t)(seg_end - path) : strlen(path);
            if (!pend || n == 0 || np >= ADB_HTTP_MAX_PARAMS)
                return false;
            if (capture) {
                free(req->param[np]);
                req->param[np] = strndup(path, n);
            }
            np++;
            pattern = pend + 1;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* The presented key: X-API-Key, else Authorization: Bearer. */
static const char *presented_key(adb_http_request *req)
{
    const char *k = adb_http_header(req, "X-API-Key");
    const char *auth;

    if (k && *k)
        return k;
    auth = adb_http_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        return *auth ? auth : NULL;
    }
    return NULL;
}

/* The public id of a presented key ("adb_<id>_..."), for the audit trail. */
static void key_id_of(const char *key, char out[24])
{
    out[0] = '\0';
    if (key && strncmp(key, "adb_", 4) == 0 && strlen(key) > 20)
        adb__fmt(out, 24, "%.16s", key + 4);
}

static enum MHD_Result authorize(adb_http_request *req, const route *r, bool *ok)
{
    char err[ADB_ERRMSG_MAX], kid[24];
    const char *key = presented_key(req);
    const char *ua = adb_http_header(req, "User-Agent");
    adb_selfaudit *sa = req->state->selfaudit;
    adb_status st;

    *ok = false;
    if (!key) {
        if (sa)
            adb_selfaudit_auth(sa, false, NULL, NULL, req->ip, ua, req->request_id, "missing API key");
        return adb_http_send_error(req, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                   "missing API key: send X-API-Key or Authorization: Bearer", NULL);
    }
    key_id_of(key, kid);
    st = adb_key_authenticate(req->state->db, key, &req->who, err, sizeof(err));
    if (st == ADB_ERR_NOT_FOUND) {
        if (sa)
            adb_selfaudit_auth(sa, false, NULL, kid, req->ip, ua, req->request_id,
                               "unknown, revoked or malformed API key");
        return adb_http_send_error(req, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED", "invalid API key", NULL);
    }
    if (st != ADB_OK)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not check the API key: database unavailable", 1000);
    req->authenticated = true;
    if (sa)
        adb_selfaudit_auth(sa, true, req->who.organization_id, req->who.key_id, req->ip, ua,
                           req->request_id, NULL);

    /* the key's bucket */
    adb_rl_decision d;
    adb_ratelimit_take(req->state->ratelimit, req->who.key_id, &d);
    if (d.limit > 0) { /* limiting on */
        req->rl_checked = true;
        req->rl = d;
    }
    if (!d.allowed) {
        if (sa)
            adb_selfaudit_rate(sa, req->who.organization_id, req->who.key_id, req->ip, req->path,
                               req->method, d.limit);
        return adb_http_send_retry(req, MHD_HTTP_TOO_MANY_REQUESTS, "RATE_LIMITED",
                                   "rate limit reached for this API key: retry later", d.retry_after_ms);
    }

    st = adb_permission_check(req->state->db, &req->who, r->resource, r->action, err, sizeof(err));
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", err,
                                   json_pack("{s:s, s:s}", "resource", r->resource, "action", r->action));
    if (st != ADB_OK)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not check permissions: database unavailable", 1000);
    *ok = true;
    return MHD_YES;
}

/* 400 VALIDATION_ERROR naming one parameter of the target. */
static enum MHD_Result target_error(adb_http_request *req, const char *field, const char *code,
                                    const char *message)
{
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", code, "field",
                                         field, "message", message));
}

/* Whether name is in the comma-separated list, where "name[]" marks a
 * parameter that may be repeated (a list the client sends as `name=a&name=b`);
 * with only_lists, only those count. */
static bool listed_as(const char *list, const char *name, bool only_lists)
{
    size_t n = strlen(name);

    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool is_list = len > 2 && !strncmp(p + len - 2, "[]", 2);
        size_t nlen = is_list ? len - 2 : len;
        if (nlen == n && !strncmp(p, name, n) && (is_list || !only_lists))
            return true;
        p = e ? e + 1 : p + len;
    }
    return false;
}

static bool listed(const char *list, const char *name)
{
    return listed_as(list, name, false);
}

static bool may_repeat(const char *name, void *route_params)
{
    return listed_as(route_params, name, true);
}

/* The route for req's method and path; NULL with *path_known when only the
 * method does not match. */
static const route *find_route(adb_http_request *req, bool *path_known)
{
    const route *found = NULL;

    *path_known = false;
    for (const route *r = routes; r->pattern && !found; r++) {
        if (!match(r->pattern, req->path, req, false))
            continue;
        *path_known = true;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0))
            found = r;
    }
    /* a literal route wins over a pattern: /events/bulk is not /events/{id} */
    if (found && strchr(found->pattern, '{')) {
        for (const route *r = routes; r->pattern; r++)
            if (!strchr(r->pattern, '{') && !strcmp(r->pattern, req->path) &&
                !strcmp(r->method, req->method))
                found = r;
    }
    return found;
}

enum MHD_Result adb_http_check_head(adb_http_request *req, bool expects_body)
{
    adb_http_target *t = &req->target;
    bool path_known;
    const route *found;

    req->head_checked = true;
    /* a NUL or a broken escape in the path: it cannot be routed as sent */
    if (t->path_problem.code)
        return target_error(req, "path", t->path_problem.code, t->path_problem.message);
    found = find_route(req, &path_known);
    if (found) {
        /* a segment captured as {name} names itself; else the path */
        match(found->pattern, req->path, req, true);
        for (int i = 0; i < ADB_HTTP_MAX_PARAMS && req->param[i]; i++)
            if (!adb__utf8_valid(req->param[i], strlen(req->param[i])))
                return target_error(req, "id", "INVALID_ENCODING", "id is not valid UTF-8");
    }
    if (!t->path_utf8)
        return target_error(req, "path", "INVALID_ENCODING", "the path is not valid UTF-8");
    if (!found) {
        if (path_known)
            return adb_http_send_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                       "method not allowed on this path",
                                       json_pack("{s:s}", "method", req->method));
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such endpoint",
                                   json_pack("{s:s}", "path", req->path));
    }
    req->route = found;
    if (found->resource) {
        bool ok;
        enum MHD_Result r = authorize(req, found, &ok);
        if (!ok)
            return r;
    }
    if (!adb_http_target_join_repeats(t, may_repeat, (void *)found->params))
        return adb_http_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                                   "out of memory: retry later", NULL);
    if (t->query_problem.code)
        return target_error(req, t->query_problem.field, t->query_problem.code,
                            t->query_problem.message);
    for (int i = 0; i < t->nparams; i++) {
        if (!listed(found->params, t->name[i])) {
            /* a misspelt filter must not quietly list everything */
            char msg[120], field[80];
            adb__fmt(field, sizeof(field), "%.64s", t->name[i]);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "unknown query parameter \"%s\"", field);
            json_t *allowed = json_array();
            for (const char *p = found->params; p && *p;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                json_array_append_new(allowed, json_stringn(p, len > 2 && !strncmp(p + len - 2, "[]", 2)
                                                                 ? len - 2 : len));
                p = e ? e + 1 : p + len;
            }
            return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", msg,
                                       json_pack("{s:[{s:s, s:s, s:s}], s:o}", "errors", "code",
                                                 "UNKNOWN_PARAMETER", "field", field, "message", msg,
                                                 "allowed", allowed));
        }
    }
    if (expects_body && strcmp(found->method, "POST") != 0 && strcmp(found->method, "PUT") != 0 &&
        strcmp(found->method, "PATCH") != 0)
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BODY_NOT_ALLOWED",
                                   "this endpoint takes no request body", NULL);
    return MHD_YES;
}

enum MHD_Result adb_http_dispatch(adb_http_request *req)
{
    if (!req->head_checked) {
        enum MHD_Result r = adb_http_check_head(req, req->body_len > 0);
        if (req->resp)
            return r;
    }
    const route *found = req->route;
    if (req->body_len > 0 && strcmp(found->method, "POST") != 0 && strcmp(found->method, "PUT") != 0 &&
        strcmp(found->method, "PATCH") != 0)
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BODY_NOT_ALLOWED",
                                   "this endpoint takes no request body", NULL);
    if (req->body_len > 0) {
        /* a body must be JSON when its type is said (curl -d says form data: accepted) */
        const char *ct = adb_http_header(req, "Content-Type");
        if (ct && strncasecmp(ct, "application/json", 16) != 0 &&
            strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 && !strstr(ct, "+json"))
            return adb_http_send_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
                                       "the request body must be JSON (Content-Type: application/json)",
                                       json_pack("{s:s}", "contentType", ct));
    }
    return found->fn(req);
}

void adb_http_routes_each(void (*fn)(void *ud, const char *method, const char *pattern,
                                     const char *permission, const char *summary), void *ud)
{
    char perm[96];
    for (const route *r = routes; r->pattern; r++) {
        if (r->resource)
            snprintf(perm, sizeof(perm), "%s:%s", r->resource, r->action);
        else
            snprintf(perm, sizeof(perm), "none");
        fn(ud, r->method, r->pattern, perm, r->summary);
    }
}

const char *adb_http_route_pattern(const struct route *r)
{
    return r ? r->pattern : NULL;
}
