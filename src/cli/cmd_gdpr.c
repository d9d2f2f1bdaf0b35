/*
 * cmd_gdpr.c - `auditdb gdpr SUBCOMMAND`: the dispatcher of the data-subject
 * rights commands (docs/gdpr.md). One row per subcommand; each subcommand
 * lives in its own cmd_gdpr_*.c file (gdpr.h).
 */
#include "gdpr.h"
#include "../core/util.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const cli_sub subs[] = {
    { "requests", "list, show, open, extend and close data-subject requests (GDPR and HIPAA)",
      cli_gdpr_requests_usage, cmd_gdpr_requests },
    { "pseudonymize", "pseudonymize a data subject's events (hash, token, encryption)", cli_gdpr_erase_usage, cmd_gdpr_erase },
    { "erase", "erase a data subject's personal data (GDPR Art. 17), keeping what the law requires", cli_gdpr_erase_usage, cmd_gdpr_erase },
    { "reverse", "the original of a pseudonym (audited)", cli_gdpr_erase_usage, cmd_gdpr_erase },
    { "hold", "place or release a legal hold", cli_gdpr_erase_usage, cmd_gdpr_erase },
    { "export", "export a data subject's data with the Art. 15 answers (json, ndjson, csv, xml)",
      cli_gdpr_export_usage, cmd_gdpr_export },
    { NULL, NULL, NULL, NULL },
};

int cmd_gdpr(int argc, char **argv)
{
    return cli_dispatch("gdpr", "Data-subject rights (docs/gdpr.md, docs/hipaa.md).", subs, argc, argv);
}
