/*
 * test_report_generate.c - report generation against PostgreSQL
 * (src/report/generate.c, report_*.c, provenance.c): the HIPAA figures
 * counted from known events and naming them, another organization's events
 * never counted, hostile criteria values counted as values, the request's
 * refusals naming the field, the stored row (artifact, hash, signed note,
 * checkpoint) and the note verified with the log key, a second report's
 * consistency proof from the first's checkpoint.
 */
#include "tdb.h"
#include "report/report.h"
#include "report/provenance.h"
#include "report/report_query.h"
#include "core/adb_internal.h"
#include "core/util.h"
#include "log/merkle.h"
#include "log/note.h"
#include "log/integrator.h"
#include "log/tiles.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char ci[512];
static PGconn *su;
static char home[256];
static adb *db;

static void with_log(adb_options *o)
{
    o->log_name = "reports.test/log";
    o->log_key = "4f1c2e3d4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
    o->home = home;
    o->checkpoint_dir = home;
}

static bool logev(adb *h, const char *org, const char *ts, const char *action,
                  const char *status, const char *who, const char *cls, const char *patient)
{
    char ev[768];
    adb_log_result res;
    adb_log_options lo = { .organization_id = org };
    snprintf(ev, sizeof(ev),
             "{\"timestamp\":\"%s\",\"action\":\"%s\",\"status\":\"%s\",\"principalId\":\"%s\","
             "\"dataClassification\":\"%s\",\"targetResourceType\":\"Patient\","
             "\"targetResourceId\":\"%s\"}",
             ts, action, status, who, cls, patient);
    adb_status st = adb_log_json(h, ev, strlen(ev), &lo, &res);
    if (st != ADB_OK)
        printf("# log: %s\n", adb_strerror(st));
    return st == ADB_OK;
}

static json_t *criteria(const char *extra)
{
    char s[512];
    snprintf(s, sizeof(s),
             "{\"dateRange\":{\"startDate\":\"2026-11-01T00:00:00Z\","
             "\"endDate\":\"2026-11-30T23:59:59Z\"}%s%s}",
             extra ? "," : "", extra ? extra : "");
    return json_loads(s, 0, NULL);
}

static long long fig(const json_t *doc, const char *id)
{
    json_t *f = json_object_get(doc, "figures");
    for (size_t i = 0; i < json_array_size(f); i++) {
        json_t *o = json_array_get(f, i);
        if (!strcmp(json_string_value(json_object_get(o, "id")), id))
            return json_integer_value(json_object_get(o, "value"));
    }
    return -1;
}

static json_t *fig_events(const json_t *doc, const char *id)
{
    json_t *f = json_object_get(doc, "figures");
    for (size_t i = 0; i < json_array_size(f); i++) {
        json_t *o = json_array_get(f, i);
        if (!strcmp(json_string_value(json_object_get(o, "id")), id))
            return json_object_get(o, "events");
    }
    return NULL;
}

static adb_status gen(adb *h, const char *org, const char *type, json_t *crit,
                      adb__report_result *r, char *field, char *err)
{
    adb__report_request rq = { .org = org, .type = type, .criteria = crit, .format = "json",
                               .generated_by = "test" };
    return adb__report_generate(h, &rq, r, field, 128, err, 256);
}

static void hipaa_figures(void)
{
    const char *o = "org-hipaa";
    REQUIRE(logev(db, o, "2026-11-02T10:00:00Z", "record.read", "success", "u1", "PHI", "p1"));
    REQUIRE(logev(db, o, "2026-11-02T11:00:00Z", "record.read", "success", "u1", "PHI", "p1"));
    REQUIRE(logev(db, o, "2026-11-03T10:00:00Z", "record.view", "success", "u1", "PHI", "p2"));
    REQUIRE(logev(db, o, "2026-11-04T10:00:00Z", "record.update", "success", "u2", "PHI", "p2"));
    REQUIRE(logev(db, o, "2026-11-04T12:00:00Z", "record.delete", "success", "u2", "PHI", "p1"));
    REQUIRE(logev(db, o, "2026-11-05T10:00:00Z", "record.read", "failure", "u3", "PHI", "p1"));
    REQUIRE(logev(db, o, "2026-11-06T10:00:00Z", "break-glass.access", "success", "u4", "PHI",
                  "p3"));
    REQUIRE(logev(db, o, "2026-11-07T10:00:00Z", "login", "success", "u1", "INTERNAL", "x"));
    REQUIRE(logev(db, o, "2026-11-08T10:00:00Z", "login", "success", "u2", "INTERNAL", "x"));
    /* outside the period, and another organization inside it */
    REQUIRE(logev(db, o, "2026-10-20T10:00:00Z", "record.read", "failure", "u9", "PHI", "p1"));
    REQUIRE(logev(db, "org-other", "2026-11-02T10:00:00Z", "record.read", "failure", "u9", "PHI",
                  "p1"));

    REQUIRE(adb__integrator_sync(adb__db_integrator(db), 20000));
    adb__report_result r;
    char field[128], err[256];
    json_t *c = criteria(NULL);
    adb_status st = gen(db, o, "HIPAA_AUDIT_TRAIL", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "generate: %s (%s)", err, field);
    REQUIRE(st == ADB_OK);
    CHECK(fig(r.doc, "totalEvents") == 9);
    CHECK(fig(r.doc, "phiEvents") == 7);
    CHECK(fig(r.doc, "phiAccesses") == 4);
    CHECK(fig(r.doc, "phiModifications") == 2);
    CHECK(fig(r.doc, "unauthorizedAttempts") == 1);
    CHECK(fig(r.doc, "emergencyAccesses") == 1);
    CHECK(fig(r.doc, "distinctUsers") == 4);
    CHECK(r.records == 9);
    /* the small figures name their events, the right ones */
    json_t *ev = fig_events(r.doc, "unauthorizedAttempts");
    CHECK(json_array_size(ev) == 1);
    char *want = t_query1(su, "SELECT event_id::text FROM audit_log WHERE organization_id ="
                              " 'org-hipaa' AND status = 'failure' AND timestamp >= '2026-11-01'");
    CHECK_STR(json_string_value(json_array_get(ev, 0)), want);
    free(want);
    CHECK(json_array_size(fig_events(r.doc, "phiModifications")) == 2);
    /* each figure says its query; running it as written gives its value */
    json_t *f0 = json_array_get(json_object_get(r.doc, "figures"), 4);
    const char *q = json_string_value(json_object_get(f0, "query"));
    json_t *pa = json_object_get(f0, "parameters");
    REQUIRE(q && json_array_size(pa) == 8);
    const char *pv[8];
    for (size_t i = 0; i < 8; i++)
        pv[i] = json_string_value(json_array_get(pa, i));
    PGresult *qr = PQexecParams(su, q, 8, NULL, pv, NULL, NULL, 0);
    CHECK(PQresultStatus(qr) == PGRES_TUPLES_OK &&
          strtoll(PQgetvalue(qr, 0, 0), NULL, 10) == json_integer_value(json_object_get(f0, "value")));
    PQclear(qr);
    /* client's shape */
    json_t *sum = json_object_get(r.doc, "summary");
    CHECK(json_integer_value(json_object_get(sum, "totalEvents")) == 9);
    CHECK(json_integer_value(json_object_get(sum, "violations")) == 2);
    CHECK(json_array_size(json_object_get(r.doc, "sections")) == 3);
    CHECK_STR(json_string_value(json_object_get(r.doc, "type")), "HIPAA_AUDIT_TRAIL");
    /* the per-user table: u1 has 3 PHI events */
    json_t *t0 = json_array_get(json_object_get(r.doc, "tables"), 0);
    json_t *row0 = json_array_get(json_object_get(t0, "rows"), 0);
    CHECK_STR(json_string_value(json_array_get(row0, 0)), "u1");
    CHECK(json_integer_value(json_array_get(row0, 1)) == 3);

    /* the stored row: its artifact, hash, and the note signed with the log key */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT encode(sha256(artifact), 'hex') = report_hash AND report_hash = '%s'"
             " AND status = 'completed' AND total_records = 9 FROM compliance_reports"
             " WHERE id = '%s'", r.sha256_hex, r.report_id);
    char *okv = t_query1(su, sql);
    CHECK_STR(okv, "t");
    free(okv);
    snprintf(sql, sizeof(sql), "SELECT signed_note FROM compliance_reports WHERE id = '%s'",
             r.report_id);
    char *note = t_query1(su, sql);
    REQUIRE(note);
    adb__note_verifier v;
    adb__note_signer_verifier(adb__db_log_signer(db), &v);
    adb__note n;
    size_t cnt = 0;
    CHECK(adb__note_verify(note, strlen(note), &v, 1, &n, NULL, NULL, &cnt, err, sizeof(err)) ==
          ADB_OK && cnt == 1);
    adb__report_note rn;
    CHECK(adb__report_note_parse(n.text, n.text_len, &rn, err, sizeof(err)) == ADB_OK);
    CHECK_STR(rn.sha256, r.sha256_hex);
    CHECK_STR(rn.report_id, r.report_id);
    CHECK(!rn.prov.has_prev);
    free(note);
    uint64_t size1 = rn.prov.size;
    uint8_t root1[32];
    memcpy(root1, rn.prov.root, 32);
    CHECK(size1 >= 10); /* the tree covered the organization's events */
    adb__report_result_free(&r);

    /* more events, a second report: previous = the first, proof verifies */
    REQUIRE(logev(db, o, "2026-11-09T10:00:00Z", "record.read", "success", "u5", "PHI", "p1"));
    REQUIRE(adb__integrator_sync(adb__db_integrator(db), 20000));
    st = gen(db, o, "HIPAA_AUDIT_TRAIL", c, &r, field, err);
    REQUIRE(st == ADB_OK);
    CHECK(fig(r.doc, "totalEvents") == 10);
    json_t *pv2 = json_object_get(r.doc, "provenance");
    CHECK(json_is_true(json_object_get(pv2, "consistent")));
    snprintf(sql, sizeof(sql), "SELECT signed_note FROM compliance_reports WHERE id = '%s'",
             r.report_id);
    note = t_query1(su, sql);
    REQUIRE(note);
    CHECK(adb__note_verify(note, strlen(note), &v, 1, &n, NULL, NULL, &cnt, err, sizeof(err)) ==
          ADB_OK);
    CHECK(adb__report_note_parse(n.text, n.text_len, &rn, err, sizeof(err)) == ADB_OK);
    CHECK(rn.prov.has_prev && rn.prov.prev_size == size1 && !memcmp(rn.prov.prev_root, root1, 32));
    CHECK(rn.prov.size == size1 + 1);
    CHECK(adb__merkle_verify_consistency(rn.prov.prev_size, rn.prov.size, rn.prov.prev_root,
                                         rn.prov.root, rn.prov.proof, rn.prov.nproof));
    free(note);
    adb__report_result_free(&r);
    json_decref(c);

    /* hostile criteria values are values: nothing matches them */
    c = criteria("\"principalIds\":[\"u1' OR '1'='1\"]");
    st = gen(db, o, "HIPAA_AUDIT_TRAIL", c, &r, field, err);
    CHECK(st == ADB_OK && fig(r.doc, "totalEvents") == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(r.doc, "summary"),
                                                "overallStatus")), "unknown");
    adb__report_result_free(&r);
    json_decref(c);
    c = criteria("\"principalIds\":[\"u1\"],\"statuses\":[\"success\"]");
    st = gen(db, o, "HIPAA_AUDIT_TRAIL", c, &r, field, err);
    CHECK(st == ADB_OK && fig(r.doc, "totalEvents") == 4);
    adb__report_result_free(&r);
    json_decref(c);
}

static void refusals(void)
{
    adb__report_result r;
    char field[128], err[256];
    json_t *c = json_loads("{}", 0, NULL);
    CHECK(gen(db, "org-hipaa", "HIPAA_AUDIT_TRAIL", c, &r, field, err) == ADB_ERR_INVALID);
    CHECK_STR(field, "criteria.dateRange");
    json_decref(c);
    c = json_loads("{\"dateRange\":{\"startDate\":\"2026-11-02T00:00:00Z\","
                   "\"endDate\":\"2026-11-01T00:00:00Z\"}}", 0, NULL);
    CHECK(gen(db, "org-hipaa", "HIPAA_AUDIT_TRAIL", c, &r, field, err) == ADB_ERR_INVALID);
    CHECK_STR(field, "criteria.dateRange.endDate");
    json_decref(c);
    c = json_loads("{\"dateRange\":{\"startDate\":\"yesterday\","
                   "\"endDate\":\"2026-11-01T00:00:00Z\"}}", 0, NULL);
    CHECK(gen(db, "org-hipaa", "HIPAA_AUDIT_TRAIL", c, &r, field, err) == ADB_ERR_INVALID);
    CHECK_STR(field, "criteria.dateRange.startDate");
    json_decref(c);
    c = criteria("\"statuses\":[\"success\",\"maybe\"]");
    CHECK(gen(db, "org-hipaa", "HIPAA_AUDIT_TRAIL", c, &r, field, err) == ADB_ERR_INVALID);
    CHECK_STR(field, "criteria.statuses[1]");
    CHECK(gen(db, "org-hipaa", "NOPE", c, &r, field, err) == ADB_ERR_INVALID);
    CHECK_STR(field, "type");
    adb__report_request rq = { .org = "org-hipaa", .type = "HIPAA_AUDIT_TRAIL", .criteria = c,
                               .format = "docx" };
    CHECK(adb__report_generate(db, &rq, &r, field, 128, err, 256) == ADB_ERR_INVALID);
    CHECK_STR(field, "format");
    json_decref(c);
    /* nothing half-written: no row for a refused request */
    CHECK(t_count(su, "SELECT count(*) FROM compliance_reports WHERE status <> 'completed'") == 0);
}

/* GDPR, general and custom reports count the same events. */
static void other_types(void)
{
    adb__report_result r;
    char field[128], err[256];
    json_t *c = criteria(NULL);
    CHECK(t_exec(su, "INSERT INTO gdpr_action_purpose (organization_id, action, purpose,"
                     " legal_basis) VALUES ('org-hipaa', 'record.read', 'treatment',"
                     " 'Art. 6(1)(c) legal obligation')"));
    CHECK(t_exec(su, "INSERT INTO data_subject_request (id, organization_id, kind, subject_index,"
                     " received_at, due_at) VALUES (gen_random_uuid(), 'org-hipaa', 'access',"
                     " decode(repeat('ab', 32), 'hex'), '2026-11-03', '2026-11-04')"));
    adb_status st = gen(db, "org-hipaa", "GDPR_PROCESSING_ACTIVITIES", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "gdpr: %s (%s)", err, field);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "personalDataEvents") == 8);
        CHECK(fig(r.doc, "withDeclaredPurpose") == 4); /* record.read: 3 in the period + 1 */
        CHECK(fig(r.doc, "withoutDeclaredPurpose") == 4);
        CHECK(fig(r.doc, "dataSubjectRequests") == 1);
        CHECK(fig(r.doc, "overdueRequests") == 1);
        json_t *sum = json_object_get(r.doc, "summary");
        CHECK_STR(json_string_value(json_array_get(json_object_get(sum, "lawfulBases"), 0)),
                  "legal_obligation");
        adb__report_result_free(&r);
    }
    st = gen(db, "org-hipaa", "GENERAL_COMPLIANCE", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "general: %s (%s)", err, field);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "totalEvents") == 10 && fig(r.doc, "failures") == 1);
        adb__report_result_free(&r);
    }
    json_t *cp = json_loads("{\"name\":\"reads by u1\",\"includeRawData\":true,"
                            "\"template\":{\"filters\":[{\"field\":\"action\",\"operator\":"
                            "\"in\",\"value\":[\"record.read\",\"record.view\"]},"
                            "{\"field\":\"principalId\",\"operator\":\"eq\",\"value\":\"u1\"}],"
                            "\"aggregations\":[{\"field\":\"id\",\"operation\":\"count\","
                            "\"groupBy\":\"targetResourceId\"}]}}", 0, NULL);
    REQUIRE(cp);
    adb__report_request rq = { .org = "org-hipaa", .type = "CUSTOM_REPORT", .criteria = c,
                               .custom = cp, .format = "json" };
    st = adb__report_generate(db, &rq, &r, field, sizeof(field), err, sizeof(err));
    CHECK_MSG(st == ADB_OK, "custom: %s (%s)", err, field);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "totalEvents") == 3);
        CHECK(json_array_size(json_object_get(r.doc, "data")) == 3);
        json_t *agg = json_object_get(json_object_get(r.doc, "aggregations"),
                                      "count(id) by targetResourceId");
        CHECK(json_integer_value(json_object_get(agg, "p1")) == 2);
        CHECK_STR(json_string_value(json_object_get(r.doc, "type")), "custom");
        adb__report_result_free(&r);
    }
    json_decref(cp);
    /* a filter on an unknown field, an injected operator: refused, naming the field */
    cp = json_loads("{\"name\":\"x\",\"template\":{\"filters\":[{\"field\":\"action; DROP\","
                    "\"operator\":\"eq\",\"value\":\"a\"}]}}", 0, NULL);
    rq.custom = cp;
    CHECK(adb__report_generate(db, &rq, &r, field, sizeof(field), err, sizeof(err)) ==
          ADB_ERR_INVALID);
    CHECK_STR(field, "template.filters[0].field");
    json_decref(cp);
    cp = json_loads("{\"name\":\"x\",\"template\":{\"filters\":[{\"field\":\"action\","
                    "\"operator\":\"= 1 OR\",\"value\":\"a\"}]}}", 0, NULL);
    rq.custom = cp;
    CHECK(adb__report_generate(db, &rq, &r, field, sizeof(field), err, sizeof(err)) ==
          ADB_ERR_INVALID);
    CHECK_STR(field, "template.filters[0].operator");
    json_decref(cp);
    json_decref(c);
}

/* Archived events are counted too (HIPAA keeps six years; archives hold the older ones). */
static void archived_counted(void)
{
    const char *o = "org-arch";
    REQUIRE(logev(db, o, "2025-05-02T10:00:00Z", "record.read", "success", "a1", "PHI", "p1"));
    REQUIRE(logev(db, o, "2025-05-03T10:00:00Z", "record.update", "success", "a2", "PHI", "p1"));
    REQUIRE(logev(db, o, "2025-05-04T10:00:00Z", "record.read", "failure", "a3", "PHI", "p2"));
    REQUIRE(logev(db, o, "2025-05-05T10:00:00Z", "break-glass.access", "success", "a4", "PHI", "p3"));
    char *failed = t_query1(su, "SELECT event_id::text FROM audit_log WHERE organization_id ="
                                " 'org-arch' AND status = 'failure'");
    char err[ADB_ERRMSG_MAX], field[128];
    adb_maintenance_options mo;
    adb_maintenance_report rep;
    adb_maintenance_options_default(&mo);
    CHECK(adb_maintenance_run(db, &mo, &rep, err, sizeof(err)) == ADB_OK);
    CHECK(t_count(su, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-arch'") == 0);
    CHECK(t_count(su, "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-arch'") >= 1);
    /* one live event in the same period, after the archival */
    REQUIRE(logev(db, o, "2025-05-06T10:00:00Z", "record.read", "success", "a5", "PHI", "p1"));
    /* and one emergency access said by its details, not its action */
    const char *bg = "{\"timestamp\":\"2025-05-07T10:00:00Z\",\"action\":\"record.read\","
                     "\"status\":\"success\",\"principalId\":\"a6\",\"dataClassification\":"
                     "\"PHI\",\"details\":{\"breakGlass\":true}}";
    adb_log_result lr;
    adb_log_options lo = { .organization_id = o };
    REQUIRE(adb_log_json(db, bg, strlen(bg), &lo, &lr) == ADB_OK);
    json_t *c = json_loads("{\"dateRange\":{\"startDate\":\"2025-05-01T00:00:00Z\","
                           "\"endDate\":\"2025-05-31T00:00:00Z\"}}", 0, NULL);
    adb__report_result r;
    adb_status st = gen(db, o, "HIPAA_AUDIT_TRAIL", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "%s", err);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "totalEvents") == 6);
        CHECK(fig(r.doc, "phiAccesses") == 4);
        CHECK(fig(r.doc, "phiModifications") == 1);
        CHECK(fig(r.doc, "unauthorizedAttempts") == 1);
        CHECK(fig(r.doc, "emergencyAccesses") == 2);
        json_t *ev = fig_events(r.doc, "unauthorizedAttempts");
        CHECK_STR(json_string_value(json_array_get(ev, 0)), failed);
        CHECK(json_array_size(fig_events(r.doc, "phiEvents")) == 6);
        /* and the per-user table, both charts and distinctUsers (rarch): 4 archived + 2 live */
        CHECK(fig(r.doc, "distinctUsers") == 6);
        const json_t *t0 = json_array_get(json_object_get(r.doc, "tables"), 0);
        CHECK_STR(json_string_value(json_object_get(t0, "id")), "perUser");
        CHECK(json_array_size(json_object_get(t0, "rows")) == 6);
        const json_t *c0 = json_array_get(json_object_get(r.doc, "charts"), 0);
        const json_t *c1 = json_array_get(json_object_get(r.doc, "charts"), 1);
        CHECK(json_array_size(json_object_get(c0, "labels")) == 6);
        CHECK_STR(json_string_value(json_array_get(json_object_get(c0, "labels"), 0)), "2025-05-02");
        char *st_json = json_dumps(json_object_get(c1, "labels"), JSON_COMPACT);
        char *sv_json = json_dumps(json_object_get(json_array_get(json_object_get(c1, "series"), 0),
                                                   "values"), JSON_COMPACT);
        CHECK_STR(st_json, "[\"failure\",\"success\"]");
        CHECK_STR(sv_json, "[1,5]");
        free(st_json);
        free(sv_json);
        adb__report_result_free(&r);
    }
    /* the general and GDPR figures count them too (rarch) */
    st = gen(db, o, "GENERAL_COMPLIANCE", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "%s", err);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "totalEvents") == 6);
        CHECK(fig(r.doc, "failures") == 1);
        CHECK(fig(r.doc, "phiEvents") == 6);
        const json_t *tf = adb__rq_find_figure(json_object_get(r.doc, "figures"), "totalEvents");
        CHECK(json_integer_value(json_object_get(tf, "archived")) == 4);
        adb__report_result_free(&r);
    }
    st = gen(db, o, "GDPR_PROCESSING_ACTIVITIES", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "%s", err);
    if (st == ADB_OK) {
        CHECK(fig(r.doc, "totalEvents") == 6);
        CHECK(fig(r.doc, "personalDataEvents") == 6);
        CHECK(fig(r.doc, "failedPersonalDataEvents") == 1);
        CHECK(fig(r.doc, "withoutDeclaredPurpose") == 6);
        CHECK(fig(r.doc, "withDeclaredPurpose") == 0);
        json_t *ev = fig_events(r.doc, "failedPersonalDataEvents");
        CHECK_STR(json_string_value(json_array_get(ev, 0)), failed);
        adb__report_result_free(&r);
    }
    json_decref(c);
    free(failed);
}

static int stop_calls;
static bool stop_at_second(void *ud)
{
    (void)ud;
    return ++stop_calls >= 2;
}

/* A cancel between steps: ADB_ERR_BUSY, the row cancelled, nothing completed. */
static void cancelled(void)
{
    adb__report_result r;
    char field[128], err[256];
    json_t *c = criteria(NULL);
    long long before = t_count(su, "SELECT count(*) FROM compliance_reports WHERE status = 'completed'");
    adb__report_request rq = { .org = "org-hipaa", .type = "HIPAA_AUDIT_TRAIL", .criteria = c,
                               .format = "json", .should_stop = stop_at_second };
    CHECK(adb__report_generate(db, &rq, &r, field, sizeof(field), err, sizeof(err)) == ADB_ERR_BUSY);
    CHECK(r.doc == NULL && r.artifact == NULL);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT status || ' ' || (artifact IS NULL) FROM compliance_reports"
                               " WHERE id = '%s'", r.report_id);
    char *v = t_query1(su, sql);
    CHECK_STR(v, "cancelled true");
    free(v);
    CHECK(t_count(su, "SELECT count(*) FROM compliance_reports WHERE status = 'completed'") == before);
    json_decref(c);
}

/* The integrity report: all valid, then one event changed by SQL is named. */
static void integrity(void)
{
    adb__report_result r;
    char field[128], err[256];
    json_t *c = criteria(NULL);
    REQUIRE(adb__integrator_sync(adb__db_integrator(db), 20000));
    adb__sleep_ms(600); /* the checkpointer signs (every 250 ms in tests) */
    adb_status st = gen(db, "org-hipaa", "INTEGRITY_VERIFICATION", c, &r, field, err);
    CHECK_MSG(st == ADB_OK, "%s", err);
    REQUIRE(st == ADB_OK);
    long long n = fig(r.doc, "eventsChecked");
    CHECK_MSG(n == 11 && fig(r.doc, "eventsValid") == n && fig(r.doc, "eventsBroken") == 0,
              "%lld checked, %lld valid, %lld broken", n, fig(r.doc, "eventsValid"),
              fig(r.doc, "eventsBroken"));
    long long cps = fig(r.doc, "checkpointsChecked");
    CHECK_MSG(cps >= 1 && fig(r.doc, "checkpointsValid") == cps, "%lld checkpoints, %lld valid",
              cps, fig(r.doc, "checkpointsValid"));
    json_t *res = json_object_get(r.doc, "results");
    CHECK(json_is_true(json_object_get(res, "valid")));
    adb__report_result_free(&r);

    /* one event changed by SQL (a superuser): named, and the report says invalid */
    char *victim = t_query1(su, "SELECT event_id::text FROM audit_log WHERE organization_id ="
                                " 'org-hipaa' AND action = 'record.delete'");
    REQUIRE(victim);
    CHECK(t_exec(su, "UPDATE audit_log SET principal_id = 'someone-else'"
                     " WHERE organization_id = 'org-hipaa' AND action = 'record.delete'"));
    st = gen(db, "org-hipaa", "INTEGRITY_VERIFICATION", c, &r, field, err);
    REQUIRE(st == ADB_OK);
    CHECK(fig(r.doc, "eventsBroken") == 1);
    CHECK(fig(r.doc, "eventsValid") == n - 1);
    json_t *ev = fig_events(r.doc, "eventsBroken");
    CHECK_STR(json_string_value(json_array_get(ev, 0)), victim);
    res = json_object_get(r.doc, "results");
    CHECK(json_is_false(json_object_get(res, "valid")));
    CHECK(json_array_size(json_object_get(r.doc, "failures")) >= 1);
    adb__report_result_free(&r);
    free(victim);
    json_decref(c);
}

int main(void)
{
    snprintf(home, sizeof(home), "%s/rgen-home", getenv("TEST_TMP") ? getenv("TEST_TMP") : "/tmp");
    mkdir(home, 0700);
    if (!t_migrated_db("t_report_generate", ci, sizeof(ci))) {
        printf("not ok - database\n");
        return 1;
    }
    su = PQconnectdb(ci);
    db = t_open(ci, with_log);
    if (!db) {
        printf("not ok - open\n");
        return 1;
    }
    PQclear(PQexec(su, "INSERT INTO organization (id, name, created_at) VALUES"
                       " ('org-hipaa', 'h', now()), ('org-other', 'o', now()),"
                       " ('org-arch', 'a', now())"));
    RUN(hipaa_figures);
    RUN(refusals);
    RUN(other_types);
    RUN(archived_counted);
    RUN(cancelled);
    RUN(integrity);
    adb_close(db);
    PQfinish(su);
    return t_done();
}
