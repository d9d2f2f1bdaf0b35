/*
 * hipaa_accounting.c - the accounting of disclosures (45 CFR 164.528) from a
 * patient's disclosure events: (a)(1) exclusions, (a)(2) suspensions, (b)(3)
 * summary form (hipaa.h; docs/hipaa.md).
 */
#include "hipaa.h"
#include "../core/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* details.disclosure.basis values that 164.528(a)(1) excludes, and the clause */
static const struct {
    const char *basis, *clause;
} exclusions[] = {
    { "treatment", "(a)(1)(i)" },           /* 164.506: treatment, payment, operations */
    { "payment", "(a)(1)(i)" },
    { "operations", "(a)(1)(i)" },
    { "individual", "(a)(1)(ii)" },          /* to the individual (164.502) */
    { "incidental", "(a)(1)(iii)" },         /* incident to a permitted use (164.502(a)(1)(iii)) */
    { "authorization", "(a)(1)(iv)" },       /* 164.508 */
    { "directory", "(a)(1)(v)" },            /* facility directory (164.510(a)) */
    { "involved_in_care", "(a)(1)(v)" },     /* persons involved, notification (164.510(b)) */
    { "national_security", "(a)(1)(vi)" },   /* 164.512(k)(2) */
    { "correctional", "(a)(1)(vii)" },       /* 164.512(k)(5) */
    { "limited_data_set", "(a)(1)(viii)" },  /* 164.514(e) */
    { "before_compliance_date", "(a)(1)(ix)" },
    { NULL, NULL },
};

int64_t adb__hipaa_window_start(int64_t now_us)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;

    gmtime_r(&t, &tm);
    tm.tm_year -= ADB_HIPAA_WINDOW_YEARS;
    if (tm.tm_mon == 1 && tm.tm_mday == 29)
        tm.tm_mday = 28;
    return (int64_t)timegm(&tm) * 1000000 + now_us % 1000000;
}

const char *adb__hipaa_exclusion(const char *basis)
{
    for (int i = 0; basis && exclusions[i].basis; i++)
        if (!strcmp(exclusions[i].basis, basis))
            return exclusions[i].clause;
    return NULL;
}

void adb__hipaa_recipient_key(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    bool space = false;

    if (cap == 0)
        return;
    for (const char *p = name ? name : ""; *p && o + 1 < cap; p++) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < cap)
            out[o++] = ' ';
        space = false;
        out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[o] = '\0';
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

typedef struct group {
    size_t first;       /* index in d of the first disclosure */
    size_t last;
    size_t count;
} group;

typedef struct keyed {
    char *key;          /* recipient key "\n" purpose */
    size_t i;           /* index in d */
} keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int by_first(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

json_t *adb__hipaa_accounting(const adb__disclosure *d, size_t n, const char *const *suspended,
                              size_t ns, adb__hipaa_counts *counts)
{
    keyed *kd = calloc(n ? n : 1, sizeof(*kd));
    group *g = calloc(n ? n : 1, sizeof(*g));
    size_t nk = 0, ng = 0;
    json_t *out = NULL;
    char rkey[512];

    memset(counts, 0, sizeof(*counts));
    if (!kd || !g)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (adb__hipaa_exclusion(d[i].basis)) {
            counts->excluded++;
            continue;
        }
        adb__hipaa_recipient_key(d[i].recipient_name, rkey, sizeof(rkey));
        bool held = false;
        for (size_t s = 0; s < ns && !held; s++)
            held = rkey[0] && !strcmp(rkey, suspended[s]);
        if (held) {
            counts->suspended++;
            continue;
        }
        counts->listed++;
        if (!(kd[nk].key = adb__aprintf("%s\n%s", rkey, d[i].purpose ? d[i].purpose : "")))
            goto out;
        kd[nk++].i = i;
    }
    /* group by (recipient, purpose): sorted by key, then by position */
    qsort(kd, nk, sizeof(*kd), by_key);
    for (size_t j = 0; j < nk; j++) {
        if (j > 0 && !strcmp(kd[j].key, kd[j - 1].key)) {
            g[ng - 1].last = kd[j].i;
            g[ng - 1].count++;
        } else {
            g[ng].first = g[ng].last = kd[j].i;
            g[ng++].count = 1;
        }
    }
    qsort(g, ng, sizeof(*g), by_first);
    if (!(out = json_array()))
        goto out;
    for (size_t k = 0; k < ng; k++) {
        const adb__disclosure *f = &d[g[k].first];
        json_t *summary = json_null();
        if (g[k].count > 1) {
            char freq[160];
            adb__fmt(freq, sizeof(freq), "%zu disclosures from %.10s to %.10s", g[k].count,
                     f->date, d[g[k].last].date);
            summary = json_pack("{s:I, s:s, s:s, s:s}", "count", (json_int_t)g[k].count,
                                "firstDate", f->date, "lastDate", d[g[k].last].date, "frequency",
                                freq);
        }
        json_t *e = json_pack("{s:s, s:{s:o, s:o}, s:o, s:o, s:o, s:s, s:o}", "date", f->date,
                              "recipient", "name", str_or_null(f->recipient_name), "address",
                              str_or_null(f->recipient_address), "description",
                              str_or_null(f->description), "purpose", str_or_null(f->purpose),
                              "basis", str_or_null(f->basis), "eventId", f->event_id, "summary",
                              summary ? summary : json_null());
        if (!e || json_array_append_new(out, e) != 0) {
            json_decref(out);
            out = NULL;
            goto out;
        }
        counts->entries++;
    }
out:
    for (size_t j = 0; kd && j < nk; j++)
        free(kd[j].key);
    free(kd);
    free(g);
    return out;
}
