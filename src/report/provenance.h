/*
 * provenance.h - what a report proves about its base (internal to
 * src/report/): the checkpoint of the organization's log it read, the
 * previous report's checkpoint of the same schedule (or type) with a
 * consistency proof to it, and the signed note over the artifact's SHA-256
 * under the log key. Its text is parsed back by `auditdb verify-proof
 * --report`. docs/reports.md, "Provenance".
 *
 * The note's text (c2sp.org/signed-note, signed with the log key):
 *   auditdb-report/v1
 *   origin <the organization's checkpoint origin>
 *   report <report id>
 *   type <report type>
 *   period <start> <end>
 *   sha256 <64 hex digits of the artifact>
 *   checkpoint <tree size> <base64 root>
 *   previous <report id> <tree size> <base64 root>     (when there is one)
 *   proof <base64 hash>                                 (one line per hash)
 */
#ifndef ADB_PROVENANCE_H
#define ADB_PROVENANCE_H

#include <stdint.h>

#include "report_types.h"
#include "../log/merkle.h"

#define ADB_REPORT_NOTE_HEADER "auditdb-report/v1"

typedef struct adb__report_prov {
    char origin[1100];
    uint64_t size;
    uint8_t root[32];
    bool has_prev;
    char prev_id[64];
    uint64_t prev_size;
    uint8_t prev_root[32];
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t nproof;
    bool consistent; /* the proof verified here (true without a previous report) */
} adb__report_prov;

/* Reads the tree head of the organization and the previous completed
 * report's checkpoint (same scheduled_report_id, else same type among
 * on-demand reports), proves consistency between them, and sets
 * doc.provenance. */
adb_status adb__report_provenance(adb__report_ctx *x, adb__report_prov *p);

/* The note's text for an artifact of sha256 hex (malloc()ed; caller frees). */
char *adb__report_note_text(const adb__report_prov *p, const char *report_id, const char *type,
                            const char *start, const char *end, const char *sha256_hex);

/* A parsed note text (verify-proof). */
typedef struct adb__report_note {
    char origin[1100], report_id[64], type[64], start[40], end[40], sha256[65];
    adb__report_prov prov;
} adb__report_note;

/* Parses the text of a report note strictly. ADB_ERR_INVALID with why. */
adb_status adb__report_note_parse(const char *text, size_t len, adb__report_note *n, char *err,
                                  size_t errlen);

#endif
