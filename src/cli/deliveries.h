/*
 * deliveries.h - the subcommands of `auditdb deliveries` (cmd_deliveries.c's
 * table; docs/delivery.md): each lives in a cmd_deliveries_*.c file of its
 * own and gets argv from its own name on (argv[0] = "destinations", ...).
 * Its usage text is printed by `auditdb deliveries --help` and
 * `auditdb deliveries SUB --help`. Add one block here and one row in the
 * table per subcommand file.
 */
#ifndef ADB_CLI_DELIVERIES_H
#define ADB_CLI_DELIVERIES_H

#include "cli.h"

/* destinations (cmd_deliveries_destinations.c) */
extern const char cli_deliveries_destinations_usage[];
int cmd_deliveries_destinations(int argc, char **argv);

/* list, show, retry: deliveries and their queue items (cmd_deliveries_queue.c) */
extern const char cli_deliveries_queue_usage[], cli_deliveries_show_usage[],
    cli_deliveries_retry_usage[];
int cmd_deliveries_queue(int argc, char **argv);
/* health, enable, disable (cmd_deliveries_health.c) */
extern const char cli_deliveries_health_usage[];
extern const char cli_deliveries_enable_usage[];
extern const char cli_deliveries_disable_usage[];
int cmd_deliveries_health(int argc, char **argv);

#endif
