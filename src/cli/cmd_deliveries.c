/*
 * cmd_deliveries.c - `auditdb deliveries SUBCOMMAND`: the dispatcher of the
 * delivery commands (docs/delivery.md). One row per subcommand; each lives
 * in its own cmd_deliveries_*.c file (deliveries.h).
 */
#include "deliveries.h"

#include <stdio.h>
#include <string.h>

static const cli_deliveries_sub subs[] = {
    { "destinations", "list, show, create, update and delete destinations; rotate a webhook's secret",
      cli_deliveries_destinations_usage, cmd_deliveries_destinations },
    { "list", "deliveries and each destination's status, newest first", cli_deliveries_queue_usage, cmd_deliveries_queue },
    { "show", "one delivery's status per destination", cli_deliveries_show_usage, cmd_deliveries_queue },
    { "retry", "queue a delivery's failed or held destinations again (same webhook-id)", cli_deliveries_retry_usage, cmd_deliveries_queue },
    { "health", "a destination's health and circuit breaker", cli_deliveries_health_usage,
      cmd_deliveries_health },
    { "enable", "enable a destination again: its held deliveries pending",
      cli_deliveries_enable_usage, cmd_deliveries_health },
    { "disable", "disable a destination: its pending deliveries held",
      cli_deliveries_disable_usage, cmd_deliveries_health },
    { NULL, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
    fputs("usage: auditdb deliveries SUBCOMMAND [ARGS...]\n\nDelivery of reports, alerts and "
          "exports to destinations (docs/delivery.md).\n\nsubcommands:\n", f);
    for (const cli_deliveries_sub *s = subs; s->name; s++)
        fprintf(f, "  %-13s %s\n", s->name, s->summary);
    fputs("\nRun \"auditdb deliveries SUBCOMMAND --help\" for its options.\n", f);
    for (const cli_deliveries_sub *s = subs; s->name; s++)
        fprintf(f, "\n%s", s->usage);
}

int cmd_deliveries(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    for (const cli_deliveries_sub *s = subs; s->name; s++) {
        if (strcmp(s->name, argv[1]) != 0)
            continue;
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                fputs(s->usage, stdout);
                return EXIT_OK;
            }
        return s->run(argc - 1, argv + 1);
    }
    cli_error("unknown deliveries subcommand \"%s\"; run \"auditdb deliveries --help\"", argv[1]);
    return EXIT_USAGE;
}
