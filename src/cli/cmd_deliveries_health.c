/*
 * cmd_deliveries_health.c - `auditdb deliveries health|enable|disable`: a
 * destination's health and circuit breaker, and turning it back on after the
 * breaker disabled it (src/delivery/breaker.c; docs/delivery.md "Health and
 * breakers").
 */
#include "deliveries.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../delivery/delivery.h"

#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_deliveries_health_usage[] =
    "usage: auditdb deliveries health ID [--org ID] [--json]\n"
    "       auditdb deliveries enable ID [--org ID]\n"
    "       auditdb deliveries disable ID [--reason TEXT] [--org ID]\n"
    "\n"
    "A destination's health (organization ID, default \"default\"): success rate, response\n"
    "times (average, p95, p99 over the last 100 attempts), failures, the circuit breaker's\n"
    "state and its latest transitions with their times and reasons.\n"
    "\n"
    "  health   the health; --json: the API's DestinationHealth document\n"
    "  enable   enable it again: breaker closed, its held deliveries pending again (they\n"
    "           keep their webhook-id)\n"
    "  disable  disable it: its pending deliveries are held; an alert and an audit event\n"
    "           of the organization are written\n"
    "\n"
    "Exit: 0 done, 1 unknown destination, 2 usage error, 3 database unavailable.\n";

const char cli_deliveries_enable_usage[] =
    "usage: auditdb deliveries enable ID [--org ID]   (see auditdb deliveries health --help)\n";
const char cli_deliveries_disable_usage[] =
    "usage: auditdb deliveries disable ID [--reason TEXT] [--org ID]   (see auditdb deliveries"
    " health --help)\n";

#define HEALTH_USAGE "run \"auditdb deliveries health --help\""

static const char *str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "-";
}

static void print_health(json_t *h)
{
    json_t *m = json_object_get(h, "metadata"), *w = json_object_get(m, "window");
    json_t *cb = json_object_get(m, "circuitBreaker"), *t;
    size_t i;

    printf("destination      %s\n", str(h, "destinationId"));
    printf("status           %s\n", str(h, "status"));
    printf("breaker          %s", str(h, "circuitBreakerState"));
    if (json_object_get(h, "circuitBreakerOpenedAt"))
        printf(" (opened %s)", str(h, "circuitBreakerOpenedAt"));
    printf("\n");
    printf("deliveries       %lld, %lld failed, success rate %s%%\n",
           (long long)json_integer_value(json_object_get(h, "totalDeliveries")),
           (long long)json_integer_value(json_object_get(h, "totalFailures")),
           str(h, "successRate"));
    printf("consecutive      %lld failure(s)",
           (long long)json_integer_value(json_object_get(h, "consecutiveFailures")));
    if (json_object_get(m, "failingSince"))
        printf(", failing since %s", str(m, "failingSince"));
    printf("\n");
    if (json_object_get(h, "averageResponseTime"))
        printf("response time    avg %lld ms, p95 %lld ms, p99 %lld ms\n",
               (long long)json_integer_value(json_object_get(h, "averageResponseTime")),
               (long long)json_integer_value(json_object_get(m, "p95ResponseTime")),
               (long long)json_integer_value(json_object_get(m, "p99ResponseTime")));
    printf("last success     %s\nlast failure     %s\n", str(h, "lastSuccessAt"),
           str(h, "lastFailureAt"));
    if (json_object_get(m, "lastError"))
        printf("last error       %s\n", str(m, "lastError"));
    if (json_object_get(h, "disabledAt"))
        printf("disabled         %s: %s\n", str(h, "disabledAt"), str(h, "disabledReason"));
    printf("window           %lld attempt(s), %lld failed, since %s\n",
           (long long)json_integer_value(json_object_get(w, "attempts")),
           (long long)json_integer_value(json_object_get(w, "failures")), str(w, "startedAt"));
    printf("settings         opens at %lld%% failures with >= %lld attempts in %lld s;"
           " cool-down %lld s; disabled after %lld s of failure\n",
           (long long)json_integer_value(json_object_get(cb, "failureRateThreshold")),
           (long long)json_integer_value(json_object_get(cb, "minimumVolume")),
           (long long)json_integer_value(json_object_get(cb, "windowSeconds")),
           (long long)json_integer_value(json_object_get(cb, "cooldownSeconds")),
           (long long)json_integer_value(json_object_get(cb, "disableAfterSeconds")));
    json_array_foreach(json_object_get(m, "transitions"), i, t)
        printf("%s  %s %s -> %s: %s\n", i ? "                " : "transitions     ", str(t, "at"),
               str(t, "from"), str(t, "to"), str(t, "reason"));
}

int cmd_deliveries_health(int argc, char **argv)
{
    const char *sub = argv[0], *org = "default", *reason = NULL;
    bool as_json = false;
    long long id = 0;
    cli_db db = { 0 };
    adb *h = NULL;
    json_t *out = NULL;
    int rc;
    char who[128], why[700];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--org") && v) {
            org = argv[++i];
        } else if (!strcmp(a, "--reason") && v && !strcmp(sub, "disable")) {
            reason = argv[++i];
            if (!*reason || strlen(reason) > 500) {
                cli_error("--reason must be 1 to 500 bytes");
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--json") && !strcmp(sub, "health")) {
            as_json = true;
        } else if (!id && a[0] != '-') {
            if (!adb__parse_int(a, 1, 2147483647, &id)) {
                cli_error("the destination id must be a positive integer, not \"%s\"", a);
                return EXIT_USAGE;
            }
        } else {
            cli_error("unexpected argument \"%s\"; " HEALTH_USAGE, a);
            return EXIT_USAGE;
        }
    }
    if (!id) {
        cli_error("%s needs a destination id; " HEALTH_USAGE, sub);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "health"))
        cli_reading("deliveries health");
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    adb_status st;
    adb_pool *pool = adb__pool(h);
    PGconn *c = adb_pool_acquire(pool, &st, NULL, 0);
    if (!c) {
        cli_error("%s", adb_strerror(st));
        rc = cli_exit_code(st);
        goto out;
    }
    long long released = 0;
    if (!strcmp(sub, "enable")) {
        st = adb__health_enable(h, c, org, (int)id, who, adb__delivery_now_ms(), &released);
    } else if (!strcmp(sub, "disable")) {
        adb__fmt(why, sizeof(why), "disabled by %s%s%s", who, reason ? ": " : "",
                 reason ? reason : "");
        st = adb__health_disable(h, c, org, (int)id, why, who, adb__delivery_now_ms());
    } else {
        st = ADB_OK;
    }
    if (st == ADB_OK)
        st = adb__health_json(c, org, (int)id, &out);
    adb_pool_release(pool, c);
    if (st == ADB_ERR_NOT_FOUND) {
        cli_error("no destination %lld in organization \"%s\"", id, org);
        rc = EXIT_FAILURE_;
    } else if (st != ADB_OK) {
        cli_error("%s", adb_strerror(st));
        rc = cli_exit_code(st);
    } else if (as_json) {
        char *s = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", s ? s : "null");
        free(s);
        rc = EXIT_OK;
    } else {
        if (!strcmp(sub, "enable"))
            printf("destination %lld enabled: %lld held deliver%s pending again\n", id, released,
                   released == 1 ? "y" : "ies");
        else if (!strcmp(sub, "disable"))
            printf("destination %lld disabled: its pending deliveries are held\n", id);
        print_health(out);
        rc = EXIT_OK;
    }
out:
    json_decref(out);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
