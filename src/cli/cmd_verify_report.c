/*
 * cmd_verify_report.c - `auditdb verify-proof --report NOTE --artifact FILE
 * --vkey VKEY [--previous NOTE] [--org ID]`: a compliance report checked
 * offline (docs/reports.md, "Provenance"): the note's signature under the
 * log key, the artifact's SHA-256 against the note, the origin against the
 * log and organization, the consistency proof from the previous report's
 * checkpoint to this one's, the previous report's own note (signature, and
 * its checkpoint equal to the one this note names), and for a JSON artifact
 * the checkpoint its provenance shows. No database, no network.
 */
#include "cli.h"
#include "../core/util.h"
#include "../log/merkle.h"
#include "../log/note.h"
#include "../report/provenance.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARTIFACT (1u << 30)

static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    char *s = adb__read_stream(f, max, len);
    int e = errno;
    if (f != stdin)
        fclose(f);
    if (!s)
        cli_error("could not read \"%s\": %s", path, e == EFBIG ? "too large" : strerror(e));
    return s;
}

/* Reads, verifies and parses a report note; EXIT_OK or the exit code. */
static int load_note(const char *path, const adb__note_verifier *v, adb__report_note *rn)
{
    size_t len;
    char err[512];
    char *text = slurp(path, ADB_NOTE_MAX_LEN, &len);
    adb__note n;
    size_t cnt = 0;
    if (!text)
        return EXIT_FAILURE_;
    adb_status st = adb__note_verify(text, len, v, 1, &n, NULL, NULL, &cnt, err, sizeof(err));
    if (st != ADB_OK || cnt != 1) {
        cli_error("%s: %s", path,
                  st == ADB_ERR_NOT_FOUND ? "not signed by the log key given" : err);
        free(text);
        return EXIT_INTEGRITY;
    }
    st = adb__report_note_parse(n.text, n.text_len, rn, err, sizeof(err));
    free(text);
    if (st != ADB_OK) {
        cli_error("%s: %s", path, err);
        return EXIT_INTEGRITY;
    }
    return EXIT_OK;
}

int cli_verify_report(int argc, char **argv)
{
    const char *report = NULL, *artifact = NULL, *vkey = NULL, *previous = NULL, *org = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes = !strcmp(a, "--report") || !strcmp(a, "--artifact") ||
                     !strcmp(a, "--vkey") || !strcmp(a, "--previous") || !strcmp(a, "--org");
        if (takes && i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return EXIT_USAGE;
        }
        if (!strcmp(a, "--report"))
            report = argv[++i];
        else if (!strcmp(a, "--artifact"))
            artifact = argv[++i];
        else if (!strcmp(a, "--vkey"))
            vkey = argv[++i];
        else if (!strcmp(a, "--previous"))
            previous = argv[++i];
        else if (!strcmp(a, "--org"))
            org = argv[++i];
        else if (!strcmp(a, "--quiet"))
            quiet = true;
        else {
            cli_error("unknown option \"%s\" with --report; run \"auditdb verify-proof --help\"", a);
            return EXIT_USAGE;
        }
    }
    if (!report || !artifact || !vkey) {
        cli_error("usage: auditdb verify-proof --report NOTE --artifact FILE --vkey VKEY "
                  "[--previous NOTE] [--org ID]");
        return EXIT_USAGE;
    }
    /* the key: its text or @FILE */
    adb__note_verifier v;
    char err[512], *ktext = NULL;
    size_t klen;
    if (vkey[0] == '@') {
        if (!(ktext = slurp(vkey + 1, ADB_NOTE_VKEY_MAX + 2, &klen)))
            return EXIT_FAILURE_;
        if (klen && ktext[klen - 1] == '\n')
            ktext[--klen] = '\0';
    }
    adb_status st = adb__note_vkey_parse(ktext ? ktext : vkey, &v, err, sizeof(err));
    free(ktext);
    if (st != ADB_OK || v.type != ADB_NOTE_ED25519) {
        cli_error("--vkey: %s", st != ADB_OK ? err : "not the log's Ed25519 key");
        return EXIT_USAGE;
    }
    adb__report_note rn, pn;
    int rc = load_note(report, &v, &rn);
    if (rc != EXIT_OK)
        return rc;
    /* the origin is this log's, and the organization's when one is given */
    size_t vn = strlen(v.name);
    if (strncmp(rn.origin, v.name, vn) || rn.origin[vn] != '/') {
        cli_error("%s: origin %s is not of the log %s", report, rn.origin, v.name);
        return EXIT_INTEGRITY;
    }
    if (org) {
        char want[ADB_NOTE_MAX_ORIGIN + 1];
        if (!adb__checkpoint_origin(v.name, org, want, sizeof(want)) || strcmp(want, rn.origin)) {
            cli_error("%s: the report is not of organization %s (origin %s)", report, org,
                      rn.origin);
            return EXIT_INTEGRITY;
        }
    }
    /* the artifact's bytes */
    size_t alen;
    char *abytes = slurp(artifact, MAX_ARTIFACT, &alen);
    if (!abytes)
        return EXIT_FAILURE_;
    char hex[65];
    adb__sha256_hex(abytes, alen, hex);
    if (strcmp(hex, rn.sha256)) {
        cli_error("%s: SHA-256 %s, but the report's note names %s: not the signed artifact",
                  artifact, hex, rn.sha256);
        free(abytes);
        return EXIT_INTEGRITY;
    }
    /* a JSON artifact's provenance names the same checkpoint */
    json_t *doc = json_loadb(abytes, alen, 0, NULL);
    free(abytes);
    if (json_is_object(doc)) {
        json_t *cp = json_array_get(json_object_get(json_object_get(doc, "provenance"),
                                                    "checkpoints"), 0);
        char rb[45];
        adb__note_b64_encode(rn.prov.root, 32, rb);
        const char *droot = json_string_value(json_object_get(cp, "rootHash"));
        if (cp && ((uint64_t)json_integer_value(json_object_get(cp, "treeSize")) != rn.prov.size ||
                   !droot || strcmp(droot, rb))) {
            cli_error("%s: its provenance names another checkpoint than the signed note",
                      artifact);
            json_decref(doc);
            return EXIT_INTEGRITY;
        }
    }
    json_decref(doc);
    /* consistency with the previous report's checkpoint */
    if (rn.prov.has_prev) {
        bool ok;
        if (rn.prov.prev_size == 0)
            ok = rn.prov.nproof == 0;
        else if (rn.prov.prev_size == rn.prov.size)
            ok = rn.prov.nproof == 0 && !memcmp(rn.prov.prev_root, rn.prov.root, 32);
        else
            ok = adb__merkle_verify_consistency(rn.prov.prev_size, rn.prov.size,
                                                rn.prov.prev_root, rn.prov.root, rn.prov.proof,
                                                rn.prov.nproof);
        if (!ok) {
            cli_error("%s: the log at size %llu is not an extension of the previous report's "
                      "(size %llu): the consistency proof fails",
                      report, (unsigned long long)rn.prov.size,
                      (unsigned long long)rn.prov.prev_size);
            return EXIT_INTEGRITY;
        }
    }
    if (previous) {
        if ((rc = load_note(previous, &v, &pn)) != EXIT_OK)
            return rc;
        if (!rn.prov.has_prev || strcmp(pn.report_id, rn.prov.prev_id) ||
            pn.prov.size != rn.prov.prev_size || memcmp(pn.prov.root, rn.prov.prev_root, 32) ||
            strcmp(pn.origin, rn.origin)) {
            cli_error("%s: does not follow report %s (%s names another previous checkpoint)",
                      report, pn.report_id, report);
            return EXIT_INTEGRITY;
        }
    }
    if (!quiet) {
        printf("report %s valid: %s %s..%s, artifact sha256 %s\n", rn.report_id, rn.type,
               rn.start, rn.end, rn.sha256);
        printf("  checkpoint %s size %llu\n", rn.origin, (unsigned long long)rn.prov.size);
        if (rn.prov.has_prev && rn.prov.size > rn.prov.prev_size)
            printf("  consistent with report %s at size %llu: entries %llu to %llu are new\n",
                   rn.prov.prev_id, (unsigned long long)rn.prov.prev_size,
                   (unsigned long long)rn.prov.prev_size + 1, (unsigned long long)rn.prov.size);
        else if (rn.prov.has_prev)
            printf("  the same log as report %s: no new entries\n", rn.prov.prev_id);
        else
            printf("  first report of its schedule or type: no previous checkpoint\n");
    }
    return EXIT_OK;
}
