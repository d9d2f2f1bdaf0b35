/*
 * config_change.c - PLACEHOLDER until the errors/config helper replaces this
 * file (config_change.h): writes nothing, refuses nothing.
 */
#include "config_change.h"

adb_status adb__config_change_tx(PGconn *c, const adb__config_change *ch, char *err,
                                 size_t errlen)
{
    (void)c;
    (void)ch;
    (void)err;
    (void)errlen;
    return ADB_OK;
}

void adb__config_change_announce(adb *h, const adb__config_change *ch)
{
    (void)h;
    (void)ch;
}
