/*
 * operator.h - the operator: whoever runs the service, as opposed to its
 * tenants. An operator key is an API key of role "operator" that belongs to
 * no organization; it alone may read process-wide figures (resources under
 * "operator."), which no organization's role grants, not even "*", and it
 * reads no organization's data, except the health service ("health"),
 * whose figures are process-wide. See docs/auth.md ("Operator").
 */
#ifndef ADB_AUTH_OPERATOR_H
#define ADB_AUTH_OPERATOR_H

#include <stdbool.h>
#include <stddef.h>
#include "auditdb.h"

/* Is p an operator key (role "operator", no organization)? */
bool adb__operator_is(const adb_principal *p);

/* Is resource process-wide ("operator" or under "operator.")? */
bool adb__operator_resource(const char *resource);

/* The decision for a request that involves the operator (either of the
 * above is true): ADB_OK when an operator asks for a process-wide resource
 * or "health", else ADB_ERR_NOT_FOUND with the reason in errbuf. */
adb_status adb__operator_check(const adb_principal *p, const char *resource, char *errbuf,
                               size_t errlen);

#endif
