/*
 * operator.c - who may read process-wide figures (operator.h).
 */
#include "operator.h"
#include "../core/util.h"

#include <string.h>

bool adb__operator_is(const adb_principal *p)
{
    return p->organization_id[0] == '\0' && strcmp(p->role, ADB_OPERATOR_ROLE) == 0;
}

bool adb__operator_resource(const char *resource)
{
    return strcmp(resource, "operator") == 0 || strncmp(resource, "operator.", 9) == 0;
}

/* Resources an organization's role may grant and an operator key holds as
 * well: what they show is process-wide (the health service's figures, no
 * organization's data; docs/auth.md, "The health service"). */
static bool shared_resource(const char *resource)
{
    return strcmp(resource, "health") == 0;
}

adb_status adb__operator_check(const adb_principal *p, const char *resource, char *errbuf,
                               size_t errlen)
{
    bool op = adb__operator_is(p), process_wide = adb__operator_resource(resource);

    if (op && (process_wide || shared_resource(resource)))
        return ADB_OK;
    if (process_wide)
        adb__fmt(errbuf, errlen, "%s covers every organization: it needs an operator key"
                 " (auditdb keys create --role operator), which no organization's role replaces",
                 resource);
    else
        adb__fmt(errbuf, errlen, "an operator key reads no organization's data (%s)", resource);
    return ADB_ERR_NOT_FOUND;
}
