/*
 * cmd_verify_proof.c - `auditdb verify-proof`: checks receipts (tlog-proof@v1,
 * docs/proofs.md) offline against the log's verifier key, the witnesses'
 * keys and a quorum; optionally that a receipt names a given event. No
 * database, no network, no configuration.
 */
#include "cli.h"
#include "../core/util.h"
#include "../log/receipt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WITNESSES 64
#define MAX_EVENT (4u << 20) /* bytes of an event object */

/* Reads at most max bytes of path ("-": stdin) into a malloc()ed buffer
 * (NUL added); NULL with why filled when unreadable or longer. */
static char *read_file(const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf;
    size_t n;

    if (!f) {
        adb__fmt(why, whylen, "could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(max + 2))) {
        adb__fmt(why, whylen, "out of memory");
        if (f != stdin)
            fclose(f);
        return NULL;
    }
    n = fread(buf, 1, max + 1, f);
    bool bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad || n > max) {
        adb__fmt(why, whylen, bad ? "could not read \"%s\"" : "\"%s\" is longer than %zu bytes",
                 path, max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A verifier key given as its text or as @FILE (the text, one trailing
 * newline allowed), of type want. */
static bool load_key(const char *arg, uint8_t want, const char *opt, adb__note_verifier *v)
{
    char err[512], *text = NULL, *t;
    size_t len;
    bool ok = false;

    if (arg[0] == '@') {
        if (!(text = read_file(arg + 1, ADB_NOTE_VKEY_MAX + 2, &len, err, sizeof(err)))) {
            cli_error("%s: %s", opt, err);
            return false;
        }
        if (len && text[len - 1] == '\n')
            text[--len] = '\0';
        t = text;
    } else {
        t = (char *)arg;
    }
    if (adb__note_vkey_parse(t, v, err, sizeof(err)) != ADB_OK)
        cli_error("%s: %s", opt, err);
    else if (v->type != want)
        cli_error("%s: %s is a key of type 0x%02x; expected 0x%02x (%s)", opt, v->name, v->type,
                  want, want == ADB_NOTE_ED25519 ? "the log's Ed25519 key" : "a witness's "
                                                                             "cosignature key");
    else
        ok = true;
    free(text);
    return ok;
}

static void print_ok(const char *name, const adb__receipt_result *r, bool event, bool recomputed)
{
    printf("%s: ok: event %s (content hash %s) is leaf %llu of %s, size %llu", name, r->event_id,
           r->content_hash, (unsigned long long)r->index, r->origin, (unsigned long long)r->size);
    if (r->cosigned)
        printf(", cosigned by %zu witness%s", r->cosigned, r->cosigned == 1 ? "" : "es");
    if (event)
        printf(", the event %s", recomputed ? "recomputed and matching" : "matching (hash as stated)");
    printf("\n");
}

int cmd_verify_proof(int argc, char **argv)
{
    adb__note_verifier log, wit[MAX_WITNESSES];
    size_t nwit = 0, nfiles = 0;
    long long quorum = -1;
    const char *org = NULL, *event = NULL;
    const char **files = NULL;
    bool have_log = false, quiet = false;
    int rc = EXIT_USAGE, bad = 0;
    adb__receipt_verifier *v = NULL;
    char *evtext = NULL;
    size_t evlen = 0;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--report")) /* a compliance report: cmd_verify_report.c */
            return cli_verify_report(argc, argv);
    if (!(files = calloc((size_t)argc, sizeof(*files)))) {
        cli_error("out of memory");
        return EXIT_FAILURE_;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes = !strcmp(a, "--vkey") || !strcmp(a, "--witness") || !strcmp(a, "--quorum") ||
                     !strcmp(a, "--org") || !strcmp(a, "--event");
        if (takes && i + 1 >= argc) {
            cli_error("%s needs a value", a);
            goto out;
        }
        if (!strcmp(a, "--vkey")) {
            if (have_log) {
                cli_error("--vkey given twice");
                goto out;
            }
            if (!load_key(argv[++i], ADB_NOTE_ED25519, "--vkey", &log))
                goto out;
            have_log = true;
        } else if (!strcmp(a, "--witness")) {
            if (nwit == MAX_WITNESSES) {
                cli_error("more than %d --witness keys", MAX_WITNESSES);
                goto out;
            }
            if (!load_key(argv[++i], ADB_NOTE_COSIG_V1, "--witness", &wit[nwit]))
                goto out;
            nwit++;
        } else if (!strcmp(a, "--quorum")) {
            if (!adb__parse_int(argv[++i], 0, MAX_WITNESSES, &quorum)) {
                cli_error("--quorum: expected a number from 0 to %d, got \"%s\"", MAX_WITNESSES,
                          argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--org")) {
            org = argv[++i];
        } else if (!strcmp(a, "--event")) {
            event = argv[++i];
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option \"%s\"; run \"auditdb verify-proof --help\"", a);
            goto out;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!have_log || nfiles == 0) {
        cli_error("usage: auditdb verify-proof RECEIPT... --vkey VKEY [--witness VKEY]... "
                  "[--quorum N] [--org ID] [--event EVENT.json]");
        goto out;
    }
    if (quorum < 0)
        quorum = (long long)nwit; /* every witness named, unless told otherwise */
    if ((size_t)quorum > nwit) {
        cli_error("--quorum %lld: only %zu --witness key%s given", quorum, nwit,
                  nwit == 1 ? "" : "s");
        goto out;
    }
    if (event && nfiles != 1) {
        cli_error("--event goes with exactly one receipt");
        goto out;
    }
    if (event) {
        char why[512];
        if (!(evtext = read_file(event, MAX_EVENT, &evlen, why, sizeof(why)))) {
            cli_error("--event: %s", why);
            rc = EXIT_FAILURE_;
            goto out;
        }
    }
    adb__receipt_policy p = { .log = &log, .witnesses = wit, .nwitnesses = nwit,
                              .quorum = (size_t)quorum, .org = org };
    if (!(v = adb__receipt_verifier_new(&p, 16))) {
        cli_error("out of memory (or --org too long for an origin)");
        rc = EXIT_FAILURE_;
        goto out;
    }
    rc = EXIT_OK;
    for (size_t i = 0; i < nfiles; i++) {
        char why[1024];
        size_t len;
        char *text = read_file(files[i], ADB_RECEIPT_MAX, &len, why, sizeof(why));
        adb__receipt_result r;
        bool recomputed = false;
        if (!text) {
            cli_error("%s: %s", files[i], why);
            rc = EXIT_FAILURE_;
            continue;
        }
        adb_status st = adb__receipt_verify(v, text, len, &r, why, sizeof(why));
        if (st == ADB_OK && evtext)
            st = adb__receipt_event_check(evtext, evlen, &r, &recomputed, why, sizeof(why));
        free(text);
        if (st == ADB_ERR_NOMEM) {
            cli_error("%s: out of memory", files[i]);
            rc = EXIT_FAILURE_;
        } else if (st != ADB_OK) {
            cli_error("%s: invalid: %s", files[i], why);
            bad++;
        } else if (!quiet) {
            print_ok(files[i], &r, evtext != NULL, recomputed);
        }
    }
    if (bad)
        rc = EXIT_INTEGRITY;
out:
    adb__receipt_verifier_free(v);
    free(evtext);
    free(files);
    return rc;
}
