/*
 * gdpr.h - the subcommands of `auditdb gdpr` (cmd_gdpr.c's table): each
 * lives in a cmd_gdpr_*.c file of its own and gets argv from its own name
 * on (argv[0] = "requests", ...). Its usage text is printed by
 * `auditdb gdpr --help` and `auditdb gdpr SUB --help`.
 */
#ifndef ADB_CLI_GDPR_H
#define ADB_CLI_GDPR_H

#include "cli.h"

/* requests (cmd_gdpr_requests.c) */
extern const char cli_gdpr_requests_usage[];
int cmd_gdpr_requests(int argc, char **argv);

/* pseudonymize, erase, reverse, hold (cmd_gdpr_erase.c) */
extern const char cli_gdpr_erase_usage[];
int cmd_gdpr_erase(int argc, char **argv);
/* export (cmd_gdpr_export.c) */
extern const char cli_gdpr_export_usage[];
int cmd_gdpr_export(int argc, char **argv);

#endif
