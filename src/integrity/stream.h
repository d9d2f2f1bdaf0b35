/*
 * stream.h - the chains as verification walks them (internal): the live
 * rows of audit_log (one COPY) merged, organization by organization and by
 * chain position, with the rows of the organization's archives and the
 * positions kept by its stubs (docs/archive.md), all read in one snapshot.
 *
 * Organizations come in the database's order of organization_id, each
 * organization's items in chain order. An archive's own checks (checksums,
 * sizes, counts, positions against its metadata) are read as it is merged;
 * what fails comes out as a problem item after the archive's last row.
 */
#ifndef ADB_INTEGRITY_STREAM_H
#define ADB_INTEGRITY_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "auditdb.h"
#include "row.h"

typedef enum adb__sitem_type {
    ADB__SI_ROW,      /* a row: live, archived, or a stub's position */
    ADB__SI_PROBLEM   /* an archive failed one of its own checks */
} adb__sitem_type;

typedef struct adb__sitem {
    adb__sitem_type type;
    const char *org;                   /* the organization it belongs to */
    const char *v[ADB__ROW_NCOLS];     /* ROW: the 24 strings (NULL: SQL NULL) */
    const char *archive;               /* the archive it comes from, NULL: live */
    bool stub;                         /* a stub's position: only the links are known */
    const char *kind, *message;        /* PROBLEM */
    int64_t seq;                       /* ROW: chain_seq (0 unreadable); PROBLEM: archive start */
    /* storage */
    char *mem;
    bool pq;                           /* mem is a libpq COPY line */
} adb__sitem;

typedef struct adb__stream adb__stream;

/* Starts the walk: c streams the live rows, ac reads archives and is left
 * in the same snapshot (a read-only transaction) for the caller's reads of
 * chain heads until adb__stream_close(). organization_id, from and to
 * (RFC 3339) narrow the walk (NULL: open); archives count when their date
 * range meets [from, to], their rows when their timestamp is in it, stubs
 * whole. NULL with *st and err filled. */
adb__stream *adb__stream_open(PGconn *c, PGconn *ac, const char *organization_id,
                              const char *from, const char *to, adb_status *st, char *err,
                              size_t errlen);

/* The next item (free with adb__sitem_free): 1, 0 at the end, -1 on an
 * error (adb__stream_close reports it). */
int adb__stream_next(adb__stream *s, adb__sitem *it);

void adb__sitem_free(adb__sitem *it);

/* Ends the walk (both transactions) and frees s: ADB_OK, or why the walk
 * failed. */
adb_status adb__stream_close(adb__stream *s, char *err, size_t errlen);

#endif
