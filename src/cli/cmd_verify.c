/*
 * cmd_verify.c - `auditdb verify`: recompute every hash, signature and chain
 * link; name each broken event; exit 4 on tampering (and while the log's
 * checkpointer has refused a checkpoint: an unresolved alert of
 * docs/checkpoints.md). --auth-log: the same for the chain of auth_audit_log.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../http/authchain.h"
#include "../log/logkey.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct vstate {
    bool json;
    json_t *problems;
    json_t *erasures;  /* --json: the lawful erasures named */
    long long shown;
} vstate;

static void on_problem(void *ud, const adb_verify_problem *p)
{
    vstate *v = ud;

    if (v->json) {
        if (json_array_size(v->problems) < 1000)
            json_array_append_new(v->problems,
                                  json_pack("{s:I, s:s?, s:s, s:I, s:s, s:s, s:s, s:s}", "id",
                                            (json_int_t)p->id, "eventId",
                                            p->event_id[0] ? p->event_id : NULL,
                                            "organizationId", p->organization_id,
                                            "chainSeq", (json_int_t)p->chain_seq, "kind", p->kind,
                                            "message", p->message, "expected", p->expected,
                                            "found", p->found));
        return;
    }
    if (cli_tty())
        fputs("\r\033[K", stderr);
    printf("%s: %s: %s\n", p->organization_id, p->kind, p->message);
    if (p->expected[0] || p->found[0])
        printf("    expected %s\n    found    %s\n", p->expected[0] ? p->expected : "-",
               p->found[0] ? p->found : "-");
    v->shown++;
}

/* A lawful erasure: named with the request that made it (docs/gdpr.md). */
static void on_erasure(void *ud, const adb_verify_erasure *e)
{
    vstate *v = ud;

    if (v->json) {
        if (json_array_size(v->erasures) < 1000)
            json_array_append_new(v->erasures,
                                  json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s?, s:s?}",
                                            "organizationId", e->organization_id, "eventId",
                                            e->event_id, "chainSeq", (json_int_t)e->chain_seq,
                                            "field", e->field, "requestId", e->request_id,
                                            "legalBasis", e->legal_basis, "erasedAt",
                                            e->erased_at, "reason", e->reason, "archive",
                                            e->archive));
        return;
    }
    if (cli_tty())
        fputs("\r\033[K", stderr);
    printf("%s: lawful_erasure: event %s (seq %lld%s%s): %s erased by request %s (%s)%s%s\n",
           e->organization_id, e->event_id, (long long)e->chain_seq, e->archive ? ", archive " : "",
           e->archive ? e->archive : "", e->field, e->request_id, e->legal_basis,
           e->reason ? ": " : "", e->reason ? e->reason : "");
}

static void on_progress(void *ud, long long done)
{
    (void)ud;
    if (cli_tty())
        fprintf(stderr, "\r\033[Kverifying: %lld events", done);
}

static void on_auth_problem(void *ud, const adb_authchain_problem *p)
{
    vstate *v = ud;

    if (v->json) {
        if (json_array_size(v->problems) < 1000)
            json_array_append_new(v->problems, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)p->id,
                                                         "kind", p->kind, "expected", p->expected,
                                                         "found", p->found));
        return;
    }
    static const char *const what[][2] = {
        { "link", "previous_hash is not the blockchain_hash of the row before" },
        { "hash", "blockchain_hash does not match the row's fields" },
        { "signature", "signature does not match blockchain_hash" },
    };
    const char *msg = p->kind;
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++)
        if (!strcmp(p->kind, what[i][0]))
            msg = what[i][1];
    if (v->shown++ < 100)
        printf("auth_audit_log id %lld: %s: %s\n    expected %s\n    found    %s\n", p->id, p->kind,
               msg, p->expected, p->found[0] ? p->found : "-");
}

/* --auth-log: the chain of auth_audit_log (src/http/authchain.h). */
static int verify_auth_log(adb *h, vstate *v)
{
    adb_authchain_summary sum;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb_authchain_verify(h, on_auth_problem, v, &sum, err, sizeof(err));

    if (st != ADB_OK) {
        cli_error("verification could not complete: %s", err);
        return cli_exit_code(st) == EXIT_USAGE ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    if (v->json) {
        json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:b, s:I, s:I, s:O}", "intact", sum.problems == 0, "rows",
                              (json_int_t)sum.rows, "firstId", (json_int_t)sum.first_id, "lastId",
                              (json_int_t)sum.last_id, "startsAfterRemoval", sum.starts_after_removal,
                              "redacted", (json_int_t)sum.redacted, "problems", (json_int_t)sum.problems,
                              "details", v->problems);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        if (v->shown > 100)
            printf("(%lld more problems not shown)\n", v->shown - 100);
        printf("verified %lld auth_audit_log row(s)", sum.rows);
        if (sum.rows)
            printf(", ids %lld..%lld", sum.first_id, sum.last_id);
        printf(": %s\n", sum.problems == 0 ? "chain intact" : "TAMPERING DETECTED");
        if (sum.problems)
            printf("%lld problem(s)\n", sum.problems);
        if (sum.redacted)
            printf("%lld row(s) redacted by retention (the last at %s): their links and signatures"
                   " checked, their cleared contents no longer hashed\n", sum.redacted, sum.last_redacted_at);
        if (sum.starts_after_removal)
            printf("the first row stored links to a row no longer stored (deleted before retention"
                   " redacted rows, or by hand)\n");
    }
    return sum.problems ? EXIT_INTEGRITY : EXIT_OK;
}

/* The log's refused checkpoints (docs/checkpoints.md): each alert of the
 * checkpointer that nobody resolved is a problem, so that verify fails while
 * the log refuses to sign (or a witness refused it). Returns how many. */
static long long checkpoint_refusals(adb *h, const char *org, vstate *v)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_pool_acquire(adb_get_pool(h), &st, err, sizeof(err));
    long long n = 0;

    if (!c)
        return 0;
    const char *p[] = { org ? org : "" };
    PGresult *r = PQexecParams(c,
                               "SELECT organization_id, coalesce(metadata->>'kind', ''),"
                               " description FROM alerts"
                               " WHERE source = 'auditdb-checkpoint' AND resolved = 'false' AND status <> 'dismissed'"
                               " AND ($1 = '' OR organization_id = $1)"
                               " ORDER BY created_at, id",
                               1, NULL, p, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        adb_verify_problem pr;
        memset(&pr, 0, sizeof(pr));
        adb__fmt(pr.organization_id, sizeof(pr.organization_id), "%s", PQgetvalue(r, i, 0));
        pr.kind = "checkpoint_refused";
        adb__fmt(pr.message, sizeof(pr.message), "%s: %s", PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2));
        adb__utf8_repair(pr.message);
        on_problem(v, &pr);
        n++;
    }
    PQclear(r);
    adb_pool_release(adb_get_pool(h), c);
    return n;
}

/* The verifiable log for adb_verify (docs/integrity.md section 6): the
 * checkpoint directory outside the database, and the log's verifier key:
 * --log-vkey, else the log key's own (AUDITDB_LOG_KEY or $AUDITDB_HOME/log.key,
 * never created here). */
static void log_anchor(cli_db *db, adb_verify_options *o, const char *vkey_arg, char *dir,
                       size_t dirlen, char *vkey, size_t vkeylen)
{
    adb__note_signer s;
    adb__note_verifier v;
    char err[ADB_ERRMSG_MAX];

    if (db->cfg.checkpoint_dir)
        adb__fmt(dir, dirlen, "%s", db->cfg.checkpoint_dir);
    else
        adb__fmt(dir, dirlen, "%s/checkpoints", db->cfg.home ? db->cfg.home : ".auditdb");
    o->checkpoint_dir = dir;
    if (vkey_arg) {
        o->log_vkey = vkey_arg;
        return;
    }
    if (adb__logkey_load(db->cfg.log_key, db->cfg.home ? db->cfg.home : ".auditdb",
                         db->cfg.log_name, false, &s, err, sizeof(err)) != ADB_OK)
        return; /* no key here: sizes and roots are still compared */
    adb__note_signer_verifier(&s, &v);
    adb__note_signer_free(&s);
    if (adb__note_vkey_format(&v, vkey, vkeylen))
        o->log_vkey = vkey;
}

int cmd_verify(int argc, char **argv)
{
    adb_verify_options o = { .record = true, .verified_by = "auditdb verify" };
    vstate v = { 0 };
    adb_verify_summary sum;
    char err[ADB_ERRMSG_MAX];
    cli_db db;
    adb *h = NULL;
    int rc;
    long long id = 0;
    const char *event_ref = NULL;
    char event_id[37] = "";
    bool auth_log = false;
    const char *vkey_arg = NULL;
    char anchor_dir[4096], anchor_vkey[ADB_NOTE_VKEY_MAX];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            o.organization_id = argv[++i];
        else if (!strcmp(argv[i], "--from") && i + 1 < argc)
            o.from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            o.to = argv[++i];
        else if (!strcmp(argv[i], "--event") && i + 1 < argc) {
            char uuid[ADB_EVENT_ID_LEN + 1];
            event_ref = argv[++i];
            if (!adb__event_id_parse(event_ref, strlen(event_ref), uuid) &&
                !adb__parse_int(event_ref, 1, INT64_MAX, &id)) {
                cli_error("invalid --event \"%s\" (expected an event id: a UUID, or the numeric"
                          " id)", argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--json"))
            v.json = true;
        else if (!strcmp(argv[i], "--auth-log"))
            auth_log = true;
        else if (!strcmp(argv[i], "--no-record"))
            o.record = false;
        else {
            cli_error("unknown argument \"%s\"; run \"auditdb verify --help\"", argv[i]);
            return EXIT_USAGE;
        }
    }
    const char *bounds[2] = { o.from, o.to };
    for (int i = 0; i < 2; i++) {
        int64_t us;
        if (bounds[i] && !adb__timestamp_parse(bounds[i], strlen(bounds[i]), &us)) {
            cli_error("invalid --%s \"%s\" (expected RFC 3339, e.g. 2024-01-31T00:00:00Z)",
                      i ? "to" : "from", bounds[i]);
            return EXIT_USAGE;
        }
    }
    cli_reading("verify");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    v.problems = json_array();
    v.erasures = json_array();
    if (auth_log) {
        if (event_ref || o.organization_id || o.from || o.to) {
            cli_error("--auth-log verifies the whole auth_audit_log: --org, --from, --to and --event do not apply");
            rc = EXIT_USAGE;
            goto out;
        }
        rc = verify_auth_log(h, &v);
        goto out;
    }
    log_anchor(&db, &o, vkey_arg, anchor_dir, sizeof(anchor_dir), anchor_vkey,
               sizeof(anchor_vkey));
    o.on_problem = on_problem;
    o.on_erasure = on_erasure;
    o.on_progress = v.json ? NULL : on_progress;
    o.ud = &v;
    if (event_ref) {
        adb_verify_problem probs[16];
        int n = 0;
        int64_t found_id = 0;
        adb_status st = adb_event_locate(h, event_ref, o.organization_id, &found_id, event_id, err,
                                         sizeof(err));
        id = found_id;
        if (st == ADB_OK)
            st = adb_verify_event(h, found_id, o.organization_id, probs, 16, &n, err, sizeof(err));
        if (st != ADB_OK) {
            cli_error("%s", err);
            rc = st == ADB_ERR_NOT_FOUND ? EXIT_FAILURE_ : cli_exit_code(st);
            goto out;
        }
        for (int i = 0; i < n && i < 16; i++)
            on_problem(&v, &probs[i]);
        if (v.json) {
            json_t *j = json_pack("{s:I, s:s, s:b, s:O}", "id", (json_int_t)id, "eventId", event_id,
                                  "intact", n == 0, "problems", v.problems);
            char *s = json_dumps(j, JSON_COMPACT);
            printf("%s\n", s ? s : "{}");
            free(s);
            json_decref(j);
        } else if (n == 0) {
            printf("event %s (id %lld) is intact: hash, signature and chain link verified\n",
                   event_id, id);
        }
        rc = n ? EXIT_INTEGRITY : EXIT_OK;
        goto out;
    }
    adb_status st = adb_verify(h, &o, &sum, err, sizeof(err));
    if (cli_tty() && !v.json)
        fputs("\r\033[K", stderr);
    if (st != ADB_OK) {
        cli_error("verification could not complete: %s", err);
        rc = cli_exit_code(st) == EXIT_USAGE ? EXIT_FAILURE_ : cli_exit_code(st);
        goto out;
    }
    /* like the tree's checks, on walks of whole chains only */
    if (!o.from && !o.to)
        sum.problems += checkpoint_refusals(h, o.organization_id, &v);
    double rate = sum.seconds > 0 ? (double)sum.events / sum.seconds : 0;
    if (v.json) {
        json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:O, s:O}", "intact", sum.problems == 0,
                              "events", (json_int_t)sum.events, "organizations",
                              (json_int_t)sum.organizations, "problems", (json_int_t)sum.problems,
                              "brokenEvents", (json_int_t)sum.broken_events,
                              "erasedEvents", (json_int_t)sum.erased_events, "seconds", sum.seconds,
                              "eventsPerSecond", rate, "details", v.problems, "erasures",
                              v.erasures);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        printf("verified %lld events of %lld organization(s) in %.2f s (%.0f events/s): ",
               sum.events, sum.organizations, sum.seconds, rate);
        if (sum.problems == 0 && sum.erased_events)
            printf("all intact (%lld with personal data lawfully erased)\n", sum.erased_events);
        else if (sum.problems == 0)
            printf("all intact\n");
        else
            printf("%lld problem(s) in %lld event(s): TAMPERING DETECTED\n", sum.problems,
                   sum.broken_events);
    }
    rc = sum.problems ? EXIT_INTEGRITY : EXIT_OK;
out:
    json_decref(v.problems);
    json_decref(v.erasures);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
