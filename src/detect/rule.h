/*
 * rule.h - detection rules as data (issue 20; docs/alerts.md "Detection
 * rules"): a rule's JSON definition, in the shape of a Sigma correlation rule
 * (named selections over an event's fields, a correlation type, group-by,
 * timespan, condition) plus an optional time-of-day window, parsed and checked
 * once into an adb__rule that the engine evaluates without parsing again.
 */
#ifndef ADB_DETECT_RULE_H
#define ADB_DETECT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields a selection may match and a rule group by (one record type for
 * the three sources: audit events, security_events rows, integrity rows). */
typedef enum adb__dfield {
    ADB_DF_ACTION, ADB_DF_STATUS, ADB_DF_PRINCIPAL, ADB_DF_RESOURCE, ADB_DF_RESOURCE_ID,
    ADB_DF_CLASSIFICATION, ADB_DF_OUTCOME, ADB_DF_TYPE, ADB_DF_IP, ADB_DF_KEY,
    ADB_DF_COUNT
} adb__dfield;

typedef enum adb__dsource { ADB_DS_EVENTS, ADB_DS_SECURITY, ADB_DS_INTEGRITY, ADB_DS_COUNT } adb__dsource;

typedef enum adb__dcorr {
    ADB_DC_EVENT_COUNT, ADB_DC_VALUE_COUNT, ADB_DC_TEMPORAL, ADB_DC_TEMPORAL_ORDERED
} adb__dcorr;

typedef enum adb__dmod { ADB_DM_EQ, ADB_DM_CONTAINS, ADB_DM_STARTSWITH, ADB_DM_ENDSWITH, ADB_DM_EXISTS } adb__dmod;

#define ADB_RULE_MAX_SELECTIONS 8
#define ADB_RULE_MAX_MATCHERS 8   /* per selection */
#define ADB_RULE_MAX_VALUES 16    /* per matcher */
#define ADB_RULE_MAX_GROUP 3
#define ADB_RULE_VALUE_MAX 200    /* characters of a matcher value */
#define ADB_RULE_TIMESPAN_MAX_MS (86400LL * 1000)

typedef struct adb__dmatcher {
    adb__dfield field;
    adb__dmod mod;
    bool exists;                  /* ADB_DM_EXISTS: wanted presence */
    char *values[ADB_RULE_MAX_VALUES]; /* lower case; any one matches */
    size_t nvalues;
} adb__dmatcher;

typedef struct adb__dselection {
    char name[48];
    adb__dmatcher m[ADB_RULE_MAX_MATCHERS]; /* all must match */
    size_t nm;
} adb__dselection;

typedef struct adb__rule {
    char id[65];
    int version;
    bool enabled;
    adb__dsource source;
    char title[201];
    char severity[12];            /* INFO LOW MEDIUM HIGH CRITICAL */
    char alert_type[16];          /* SECURITY ... */
    adb__dselection sel[ADB_RULE_MAX_SELECTIONS];
    size_t nsel;
    adb__dcorr type;
    int corr_sel[ADB_RULE_MAX_SELECTIONS]; /* indexes into sel: the correlation's rules */
    size_t ncorr;
    adb__dfield group[ADB_RULE_MAX_GROUP];
    size_t ngroup;
    adb__dfield value_field;      /* value_count */
    int64_t timespan_ms;
    /* condition: lower and upper bounds, each optional and inclusive */
    bool has_lo, has_hi;
    int64_t lo, hi;
    /* time of day in the organization's zone, minutes [start, end) wrapping midnight */
    bool has_tod;
    int tod_start, tod_end;
} adb__rule;

/* Parses and checks one definition (JSON text). On failure false, with the
 * member at fault (e.g. "correlation.timespan") in field and why in err.
 * The rule owns its matcher values: adb__rule_clear frees them. */
bool adb__rule_parse(const char *json, adb__rule *r, char *field, size_t fieldlen, char *err,
                     size_t errlen);
void adb__rule_clear(adb__rule *r);

/* A record as the rules see it: each field NULL when absent. minute_of_day is
 * the event's local time in the organization's zone (0..1439). */
typedef struct adb__drecord {
    const char *f[ADB_DF_COUNT];
    int64_t ts_ms;
    int minute_of_day;
    const char *event_id;         /* a UUID, or NULL */
} adb__drecord;

/* The bit set of the rule's selections that rec matches (bit i: sel[i]); 0
 * when none, or when the time-of-day window excludes it. */
unsigned adb__rule_match(const adb__rule *r, const adb__drecord *rec);

/* true when the condition can only become true (no upper bound): such a rule
 * fires as soon as it holds; others are decided when the window closes. */
static inline bool adb__rule_monotone(const adb__rule *r) { return !r->has_hi; }

static inline bool adb__rule_holds(const adb__rule *r, int64_t n)
{
    return (!r->has_lo || n >= r->lo) && (!r->has_hi || n <= r->hi);
}

/* Field names as rules write them ("principal"...); NULL when out of range. */
const char *adb__dfield_name(adb__dfield f);
const char *adb__dsource_name(adb__dsource s);

#endif
