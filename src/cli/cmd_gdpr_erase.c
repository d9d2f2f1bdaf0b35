/*
 * cmd_gdpr_erase.c - `auditdb gdpr pseudonymize|erase|reverse|hold`: the
 * pseudonymization and erasure of a data subject from the command line
 * (src/compliance/gdpr.h; docs/gdpr.md "Pseudonymization", "Erasure").
 * Each operation opens (or names) a data-subject request (dsr.h) and is an
 * audit event of the organization, its principal "cli:<user>".
 */
#include "gdpr.h"
#include "../monitor/config_change.h"
#include "../compliance/dsr.h"
#include "../compliance/gdpr.h"
#include "../compliance/hold.h"
#include "../compliance/pseudonym.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cli_gdpr_erase_usage[] =
    "usage: auditdb gdpr pseudonymize --subject ID [--strategy hash|token|encryption]\n"
    "                                 [--field principalId|targetResourceId]... [--org ID]\n"
    "       auditdb gdpr erase --subject ID [--request UUID] [--basis TEXT] [--reason TEXT]\n"
    "                          [--org ID] [--json]\n"
    "       auditdb gdpr reverse PSEUDONYM --reason TEXT [--org ID]\n"
    "       auditdb gdpr hold add --scope subject|principal --value ID --reason TEXT\n"
    "                             [--action PATTERN] [--classification C] [--until T] [--org ID]\n"
    "       auditdb gdpr hold release HOLD_ID [--org ID]\n"
    "\n"
    "pseudonymize  replaces the subject's principalId/targetResourceId in its events, live and\n"
    "              archived, by its pseudonym (one per subject and organization), lawfully:\n"
    "              the events keep verifying and `auditdb verify` names each change\n"
    "erase         erases the subject's personal data (GDPR Art. 17): identifiers,\n"
    "              outcomeDescription and details; events whose retention policy forbids\n"
    "              it are kept pseudonymized with that basis; a legal hold refuses the whole\n"
    "              request (exit 5) and nothing changes\n"
    "reverse       prints the original of a pseudonym (the CLI holds the master key: it is\n"
    "              the operator's right; audited with the reason)\n"
    "hold          places or releases a legal hold\n"
    "--org defaults to \"default\". Without --request a request is opened and closed.\n"
    "\n"
    "Exit: 0 done, 1 refused or unknown, 2 usage error, 3 database unavailable, 5 legal hold.\n";

#define USAGE_HINT "run \"auditdb gdpr erase --help\""
#define EXIT_HELD 5

static void audit(adb *h, const char *org, const char *who, const char *action,
                  const char *status, const char *target_type, const char *target, json_t *details)
{
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "timestamp", now,
                           "action", action, "status", status, "principalId", who,
                           "organizationId", org, "dataClassification", "CONFIDENTIAL",
                           "targetResourceType", target_type, "targetResourceId", target,
                           "details", details);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text)
        return;
    adb_log_options o = { .organization_id = org };
    adb_log_result r;
    if (adb_log_json(h, text, strlen(text), &o, &r) != ADB_OK)
        cli_error("the audit event of this operation was not stored: %s", r.message);
    free(text);
}

static int op_run(adb *h, const char *org, const char *who, adb__gdpr_op *op, const char *kind,
                  const char *basis, const char *given, bool as_json)
{
    char rid[ADB_DSR_ID_LEN + 1], err[ADB_ERRMSG_MAX], ferr[ADB_ERRMSG_MAX];
    adb_status st;

    if (given) {
        adb__dsr d;
        memset(&d, 0, sizeof(d));
        if ((st = adb__dsr_get(h, org, given, &d, err, sizeof(err))) != ADB_OK) {
            cli_error("request %s: %s", given, err);
            return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
        }
        const char *why = strcmp(d.kind, kind) ? "is of another kind"
                          : !strcmp(d.status, "completed") || !strcmp(d.status, "refused") ? "is closed"
                          : !d.subject || strcmp(d.subject, op->subject) ? "names another subject"
                                                                         : NULL;
        adb__dsr_clear(&d);
        if (why) {
            cli_error("request %s %s", given, why);
            return EXIT_FAILURE_;
        }
        adb__fmt(rid, sizeof(rid), "%s", given);
    } else if ((st = adb__dsr_open(h, org, kind, op->subject, who, basis, rid, err,
                                   sizeof(err))) != ADB_OK) {
        cli_error("could not record the request: %s", err);
        return cli_exit_code(st);
    }
    op->request_id = rid;
    adb__gdpr_result r;
    st = adb__gdpr_apply(h, op, &r, err, sizeof(err));
    if (st == ADB_ERR_BUSY) {
        char oc[700];
        adb__fmt(oc, sizeof(oc), "{\"legalHold\":\"%s\"}", r.hold_id);
        if (adb__dsr_finish(h, org, rid, "refused", oc, who, ferr, sizeof(ferr)) != ADB_OK)
            cli_error("request %s stays open: %s", rid, ferr);
        audit(h, org, who, op->erase ? "gdpr.erasure" : "gdpr.pseudonymize", "failure",
              "gdpr_request", rid, json_pack("{s:s, s:s}", "requestId", rid, "refusedBy", r.hold_id));
        cli_error("refused: %s; nothing was changed", err);
        return EXIT_HELD;
    }
    if (st != ADB_OK) {
        cli_error("%s; nothing was changed", err);
        return st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    char oc[300];
    adb__fmt(oc, sizeof(oc), "{\"erasedRecords\":%lld,\"pseudonymizedRecords\":%lld,"
             "\"failedRecords\":%lld,\"erasureRecords\":%lld}", r.erased, r.pseudonymized,
             r.failed, r.records);
    if (adb__dsr_finish(h, org, rid, "completed", oc, who, ferr, sizeof(ferr)) != ADB_OK)
        cli_error("request %s stays open: %s", rid, ferr);
    audit(h, org, who, op->erase ? "gdpr.erasure" : "gdpr.pseudonymize", "success",
          "gdpr_request", rid, json_pack("{s:s, s:I, s:I}", "requestId", rid, "erased",
                                         (json_int_t)r.erased, "pseudonymized",
                                         (json_int_t)r.pseudonymized));
    if (as_json) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?}", "requestId", rid,
                              "totalRecords", (json_int_t)r.events, "erasedRecords",
                              (json_int_t)r.erased, "pseudonymizedRecords",
                              (json_int_t)r.pseudonymized, "failedRecords", (json_int_t)r.failed,
                              "erasureRecords", (json_int_t)r.records, "archivesRewritten",
                              (json_int_t)r.archives_rewritten, "mappingsDeleted",
                              (json_int_t)r.mapping_deleted, "pseudonym",
                              op->erase ? NULL : r.pseudonym);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else if (op->erase) {
        printf("request %s: %lld event(s) of the subject: %lld erased, %lld kept pseudonymized%s%s, "
               "%lld failed; %lld erasure record(s), %lld archive(s) rewritten\n", rid, r.events,
               r.erased, r.pseudonymized, r.pseudonymized ? " under " : "",
               r.pseudonymized ? r.basis : "", r.failed, r.records, r.archives_rewritten);
    } else {
        printf("request %s: pseudonym %s (%s); %lld event(s) pseudonymized, %lld failed\n", rid,
               r.pseudonym, r.strategy, r.pseudonymized, r.failed);
    }
    for (long long i = 0; i < r.failed && i < ADB_GDPR_MAX_FAILURES; i++)
        cli_error("event %s not changed: %s", r.failures[i].event_id, r.failures[i].why);
    return r.failed ? EXIT_FAILURE_ : EXIT_OK;
}

static int reverse(adb *h, const char *org, const char *who, const char *psn, const char *reason)
{
    char err[ADB_ERRMSG_MAX], *original = NULL;
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, err, sizeof(err));

    if (!c) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    st = adb__pseudonym_reverse(c, adb__db_keys(h), org, psn, &original, err, sizeof(err));
    adb_pool_release(adb__pool(h), c);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    audit(h, org, who, "gdpr.pseudonym.reverse", "success", "pseudonym", psn,
          json_pack("{s:s}", "reason", reason));
    printf("%s\n", original);
    free(original);
    return EXIT_OK;
}

static int hold(adb *h, const char *org, const char *who, bool add, const char *id,
                const char *scope, const char *value, const char *action, const char *cls,
                const char *until, const char *reason)
{
    char err[ADB_ERRMSG_MAX], hid[64];
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, err, sizeof(err));

    if (!c) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    PQclear(PQexec(c, "BEGIN"));
    if (add)
        st = adb__hold_create(c, adb__db_keys(h), org, scope, value, action, cls, until, reason,
                              who, hid, err, sizeof(err));
    else
        st = adb__hold_release(c, org, id, err, sizeof(err));
    /* the configuration history (never the held value); its audit event is gdpr.hold.* */
    adb__config_change_rec cc = { 0 };
    char fld[80];
    adb__fmt(fld, sizeof(fld), "legal_hold.%s", add ? hid : id);
    json_t *doc = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:b}", "id", add ? hid : id, "scope",
                            scope, "actionPattern", action, "dataClassification", cls, "until",
                            until, "released", !add);
    if (st == ADB_OK)
        st = doc ? adb__config_change_json_tx(c, &cc, org, fld, add ? NULL : doc, add ? doc : NULL,
                                              who, reason, err, sizeof(err))
                 : ADB_ERR_NOMEM;
    json_decref(doc);
    PGresult *cr = PQexec(c, st == ADB_OK ? "COMMIT" : "ROLLBACK");
    if (st == ADB_OK && PQresultStatus(cr) != PGRES_COMMAND_OK)
        st = ADB_ERR_INTERNAL;
    PQclear(cr);
    adb__config_change_rec_done(NULL, &cc, false);
    adb_pool_release(adb__pool(h), c);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_DB_QUERY ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    audit(h, org, who, add ? "gdpr.hold.create" : "gdpr.hold.release", "success", "legal_hold",
          add ? hid : id, json_pack("{s:s}", "holdId", add ? hid : id));
    if (add)
        printf("%s\n", hid);
    else
        printf("hold %s released\n", id);
    return EXIT_OK;
}

int cmd_gdpr_erase(int argc, char **argv)
{
    const char *cmd = argv[0], *org = "default", *subject = NULL, *request = NULL;
    const char *basis = NULL, *reason = NULL, *strategy = "hash", *pos = NULL, *pos2 = NULL;
    const char *scope = NULL, *value = NULL, *action = NULL, *cls = NULL, *until = NULL;
    const char *fields[2];
    size_t nfields = 0;
    bool as_json = false;
    bool psn = !strcmp(cmd, "pseudonymize"), erase = !strcmp(cmd, "erase");
    bool rev = !strcmp(cmd, "reverse"), hld = !strcmp(cmd, "hold");
    char who[300];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--org") && v)
            org = argv[++i];
        else if ((psn || erase) && !strcmp(a, "--subject") && v)
            subject = argv[++i];
        else if (erase && !strcmp(a, "--request") && v)
            request = argv[++i];
        else if (erase && !strcmp(a, "--basis") && v)
            basis = argv[++i];
        else if ((erase || rev || hld) && !strcmp(a, "--reason") && v)
            reason = argv[++i];
        else if (erase && !strcmp(a, "--json"))
            as_json = true;
        else if (psn && !strcmp(a, "--strategy") && v)
            strategy = argv[++i];
        else if (psn && !strcmp(a, "--field") && v) {
            if (strcmp(v, "principalId") && strcmp(v, "targetResourceId")) {
                cli_error("--field is principalId or targetResourceId");
                return EXIT_USAGE;
            }
            if (nfields < 2)
                fields[nfields++] = v;
            i++;
        } else if (hld && !strcmp(a, "--scope") && v)
            scope = argv[++i];
        else if (hld && !strcmp(a, "--value") && v)
            value = argv[++i];
        else if (hld && !strcmp(a, "--action") && v)
            action = argv[++i];
        else if (hld && !strcmp(a, "--classification") && v)
            cls = argv[++i];
        else if (hld && !strcmp(a, "--until") && v)
            until = argv[++i];
        else if (a[0] != '-' && !pos)
            pos = a;
        else if (a[0] != '-' && hld && !pos2)
            pos2 = a;
        else {
            cli_error("unexpected argument \"%s\"; " USAGE_HINT, a);
            return EXIT_USAGE;
        }
    }
    adb__psn_strategy strat = ADB_PSN_HASH;
    if ((psn || erase) && (!subject || !*subject || strlen(subject) > ADB_PSN_SUBJECT_MAX)) {
        cli_error("--subject ID (1 to %d bytes) is required", ADB_PSN_SUBJECT_MAX);
        return EXIT_USAGE;
    }
    if (psn && !adb__psn_strategy_parse(strategy, &strat)) {
        cli_error("--strategy is hash, token or encryption");
        return EXIT_USAGE;
    }
    if (rev && (!pos || !reason || !*reason)) {
        cli_error("reverse needs PSEUDONYM and --reason TEXT");
        return EXIT_USAGE;
    }
    bool add = hld && pos && !strcmp(pos, "add"), rel = hld && pos && !strcmp(pos, "release");
    if (hld && !add && !rel) {
        cli_error("hold add|release; " USAGE_HINT);
        return EXIT_USAGE;
    }
    if (add && (!scope || (strcmp(scope, "subject") && strcmp(scope, "principal")) || !value ||
                !*value || !reason || !*reason)) {
        cli_error("hold add needs --scope subject|principal, --value ID and --reason TEXT");
        return EXIT_USAGE;
    }
    if (rel && !pos2) {
        cli_error("hold release needs HOLD_ID");
        return EXIT_USAGE;
    }
    cli_actor(who, sizeof(who));
    cli_db db;
    adb *h = NULL;
    int rc = cli_adb_open_tree(&db, &h, true);
    if (rc != EXIT_OK)
        return rc;
    if (psn || erase) {
        adb__gdpr_op op = { .org = org, .subject = subject, .erase = erase, .strategy = strat,
                            .fields = nfields ? fields : NULL, .nfields = nfields,
                            .legal_basis = basis, .reason = reason };
        rc = op_run(h, org, who, &op, erase ? "erasure" : "pseudonymization",
                    erase ? (basis ? basis : "GDPR Art. 17(1)") : "GDPR Art. 4(5): pseudonymization",
                    request, as_json);
    } else if (rev) {
        rc = reverse(h, org, who, pos, reason);
    } else {
        rc = hold(h, org, who, add, pos2, scope, value, action, cls, until, reason);
    }
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
