/*
 * log_health.c - the verifiable log's state for the health answers (log_health.h).
 */
#include "log_health.h"

#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../log/checkpoint.h"
#include "../log/integrator.h"

json_t *adb_http_log_health(adb *db, bool errors, bool *failing, char *why, size_t whylen)
{
    struct adb__integrator *in = adb__db_integrator(db);
    struct adb__checkpointer *cp = adb__db_checkpointer(db);
    json_t *o = json_object();

    *failing = false;
    if (in) {
        adb__integrator_stats s;
        adb__integrator_stats_get(in, &s);
        json_t *t = json_pack("{s:I, s:I, s:I}", "failingOrganizations", (json_int_t)s.failing_orgs,
                              "failedRounds", (json_int_t)s.failures, "alerts", (json_int_t)s.alerts);
        if (errors)
            json_object_set_new(t, "lastError", json_string(s.last_error));
        json_object_set_new(o, "tree", t);
        if (s.failing_orgs > 0) {
            *failing = true;
            adb__fmt(why, whylen, "the Merkle tree of %lld organization%s cannot grow: their "
                     "events get no receipt (alert raised)", s.failing_orgs,
                     s.failing_orgs == 1 ? "" : "s");
        }
    }
    if (cp) {
        adb__checkpointer_stats s;
        adb__checkpointer_stats_get(cp, &s);
        json_t *c = json_pack("{s:I, s:I, s:I, s:I}", "signed", (json_int_t)s.signed_count,
                              "failures", (json_int_t)s.failures, "failedInARow",
                              (json_int_t)s.streak, "refused", (json_int_t)s.refused);
        if (errors)
            json_object_set_new(c, "lastError", json_string(s.last_error));
        json_object_set_new(o, "checkpointer", c);
        if (s.failing && !*failing) {
            *failing = true;
            adb__fmt(why, whylen, "the log cannot sign or store checkpoints (%llu failures in a "
                     "row): new events get no receipt (alert raised)",
                     (unsigned long long)s.streak);
        }
    }
    return o;
}
