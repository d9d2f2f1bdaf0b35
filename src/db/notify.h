/*
 * notify.h - waiting for a PostgreSQL NOTIFY on a LISTENing connection
 * (internal): the wake-up of the delivery threads and of the report
 * scheduler.
 */
#ifndef ADB_DB_NOTIFY_H
#define ADB_DB_NOTIFY_H

#include <libpq-fe.h>

/* Waits on c (which LISTENs) until a notification arrives, stop_fd becomes
 * readable or ms pass; the notifications that came are read and dropped (a
 * wake-up says only "look again"). Returns at once when one was already
 * read along with an earlier result. */
void adb__pg_wait_notify(PGconn *c, int stop_fd, int ms);

#endif
