/*
 * cmd_deliveries.c - `auditdb deliveries SUBCOMMAND`: the dispatcher of the
 * delivery commands (docs/delivery.md). One row per subcommand; each lives
 * in its own cmd_deliveries_*.c file (deliveries.h).
 */
#include "deliveries.h"

#include <stdio.h>
#include <string.h>

static const cli_sub subs[] = {
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

int cmd_deliveries(int argc, char **argv)
{
    return cli_dispatch("deliveries", "Delivery of reports, alerts and exports to destinations (docs/delivery.md).", subs, argc, argv);
}
