/*
 * hipaa.h - the HIPAA accounting of disclosures (45 CFR 164.528) from
 * disclosure events: which disclosures the accounting lists, which the
 * exclusions of (a)(1) and the suspensions of (a)(2) leave out, and the
 * summary form of (b)(3) for repeated disclosures to one recipient for one
 * purpose (internal; pure: no database). The event fields it reads are
 * defined in docs/hipaa.md.
 */
#ifndef ADB_COMPLIANCE_HIPAA_H
#define ADB_COMPLIANCE_HIPAA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auditdb.h"

/* At most this many disclosure events are read for one accounting. */
#define ADB_HIPAA_DISCLOSURES_MAX 100000
/* The default period: six years before the request (164.528(a)(1)). */
#define ADB_HIPAA_WINDOW_YEARS 6

/* The start of the default period: now_us (microseconds since 1970 UTC)
 * minus ADB_HIPAA_WINDOW_YEARS calendar years (29 February gives 28). */
int64_t adb__hipaa_window_start(int64_t now_us);

/* One disclosure event of the patient, as read (strings owned by the
 * caller; NULL when the event has no such field). */
typedef struct adb__disclosure {
    const char *event_id;
    const char *date;              /* the event's timestamp, RFC 3339 */
    const char *recipient_name;    /* details.disclosure.recipient(.name) */
    const char *recipient_address; /* details.disclosure.recipient.address */
    const char *description;       /* details.disclosure.description, else the fallback */
    const char *purpose;           /* details.disclosure.purpose */
    const char *basis;             /* details.disclosure.basis */
} adb__disclosure;

/* What adb__hipaa_accounting left out or folded, for the response. */
typedef struct adb__hipaa_counts {
    size_t listed;      /* disclosures in the accounting (summarized ones counted each) */
    size_t entries;     /* entries of the accounting (a summary is one) */
    size_t excluded;    /* left out under (a)(1) */
    size_t suspended;   /* left out under (a)(2) */
} adb__hipaa_counts;

/* The (a)(1) clause that excludes disclosures of basis (e.g. "(a)(1)(i)"
 * for "treatment"), or NULL when basis is not an exclusion (a NULL or
 * unknown basis is accounted for). */
const char *adb__hipaa_exclusion(const char *basis);

/* The recipient name as compared: trimmed, inner white space collapsed to
 * one space, ASCII letters folded to lower case, into out (cap bytes). */
void adb__hipaa_recipient_key(const char *name, char *out, size_t cap);

/* The accounting's entries as a JSON array (a new reference; NULL when out
 * of memory) from d[0..n) sorted by date (oldest first): a disclosure whose
 * basis is an exclusion is left out, so is one whose recipient's key equals
 * one of suspended[0..ns) (recipient keys of the suspensions in force), and
 * the rest grouped by (recipient key, purpose): a group of one is listed
 * in full; a larger group is its first disclosure in full with "summary":
 * {"count", "firstDate", "lastDate", "frequency"} (164.528(b)(3)). Entries
 * are in order of their first disclosure. Each entry: {"date", "recipient":
 * {"name", "address"}, "description", "purpose", "basis", "eventId",
 * "summary"}. */
struct json_t;
struct json_t *adb__hipaa_accounting(const adb__disclosure *d, size_t n,
                                     const char *const *suspended, size_t ns,
                                     adb__hipaa_counts *counts);

/* Reads the accounting of patient in org for [start, end] (RFC 3339 texts)
 * as the tenant: the disclosure events (docs/hipaa.md), the suspensions in
 * force now, then adb__hipaa_accounting. *entries: a new reference (caller
 * decrefs). ADB_ERR_BUSY when the period holds more than
 * ADB_HIPAA_DISCLOSURES_MAX disclosures; database statuses otherwise. */
adb_status adb__hipaa_accounting_read(adb *h, const char *org, const char *patient,
                                      const char *start, const char *end, struct json_t **entries,
                                      adb__hipaa_counts *counts, char *err, size_t errlen);

/* Calls fn(ctx, row, date) for each archived event of org (archive_storage,
 * read through the archive reader as the tenant) whose target is the
 * Patient patient and whose timestamp is within [start_us, end_us]: row the
 * archive's columns (integrity/row.h's ADB_COL_*, NULL for NULL; valid
 * during the call), date its timestamp as RFC 3339 UTC with microseconds.
 * Stops at the first status fn returns other than ADB_OK and returns it;
 * ADB_ERR_DB_QUERY with err filled when an archive cannot be read. */
typedef adb_status (*adb__hipaa_archived_fn)(void *ctx, const char *const *row, const char *date);
adb_status adb__hipaa_archived_each(adb *h, const char *org, const char *patient, int64_t start_us,
                                    int64_t end_us, adb__hipaa_archived_fn fn, void *ctx, char *err,
                                    size_t errlen);
/* Records that principal read (action: "hipaa.accounting.read",
 * "hipaa.access_report.read") what about patient over [start, end] as an
 * audit event of org, details {startDate, endDate} and the members of
 * extra (may be NULL); returns once it is committed (ADB_OK) or refused. */
adb_status adb__hipaa_record_reading(adb *h, const char *org, const char *principal,
                                     const char *action, const char *patient, const char *start,
                                     const char *end, struct json_t *extra);

#endif
