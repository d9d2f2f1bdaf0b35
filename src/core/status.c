/*
 * status.c - names and texts of adb_status, generated from ADB_STATUS_LIST.
 */
#include "auditdb.h"

const char *adb_strerror(adb_status st)
{
    switch (st) {
#define ADB__STATUS_TEXT(name, num, text) case ADB_##name: return text;
        ADB_STATUS_LIST(ADB__STATUS_TEXT)
#undef ADB__STATUS_TEXT
    }
    return "unknown status";
}

const char *adb_status_name(adb_status st)
{
    switch (st) {
#define ADB__STATUS_NAME(name, num, text) case ADB_##name: return #name;
        ADB_STATUS_LIST(ADB__STATUS_NAME)
#undef ADB__STATUS_NAME
    }
    return "UNKNOWN";
}

const char *adb_version(void)
{
    return ADB_VERSION_STRING;
}
