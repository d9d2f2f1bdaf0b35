/*
 * download.h - download links (download.c): the artifact of a 'download'
 * destination kept outside the database, a download_links row, and a URL
 * signed with HMAC-SHA256 under the organization's "download-link" key
 * (org_keys: from the master key, which the database cannot read). The
 * GET route that serves a link is src/http/delivery_download.c.
 * docs/delivery.md, "Download links".
 */
#ifndef ADB_DELIVERY_DOWNLOAD_H
#define ADB_DELIVERY_DOWNLOAD_H

#include "delivery.h"

#define ADB_DOWNLOAD_ID_MAX 64
#define ADB_DOWNLOAD_SIG_HEX 64
/* the largest artifact a link serves (it is read and checked whole) */
#define ADB_DOWNLOAD_FILE_MAX (256u * 1024 * 1024)

/* The folder artifacts are kept in: AUDITDB_DOWNLOAD_DIR, else
 * <home>/downloads. false when there is neither. */
bool adb__download_dir(adb *h, char *out, size_t len);

/* The link's signature: 64 hex digits of HMAC-SHA256 under org's
 * "download-link" key over "auditdb-download-v1\n<id>\n<expires>\n<sha256
 * hex of the file>\n<file name>\n<content type>": the URL binds the bytes it
 * serves, under a name and type, so neither the row nor the file can be
 * changed without the master key. */
bool adb__download_sign(adb *h, const char *org, const char *id, long long expires,
                        const char *sha256_hex, const char *name, const char *mime,
                        char out[ADB_DOWNLOAD_SIG_HEX + 1]);

/* Why a link is not served. */
typedef enum {
    ADB_DL_OK,
    ADB_DL_BAD_SIGNATURE,  /* unknown id, another expiry, a signature that does not match: 403 */
    ADB_DL_EXPIRED,        /* 410 */
    ADB_DL_REVOKED,        /* 410 */
    ADB_DL_EXHAUSTED,      /* maxAccess reached: 410 */
    ADB_DL_IP_REFUSED,     /* not in allowedIpRanges: 403 */
    ADB_DL_FILE_BAD,       /* the stored file is missing or not the one signed: 500 */
    ADB_DL_UNAVAILABLE     /* the database did not answer: 503 */
} adb__download_verdict;

/* A link opened for serving (adb__download_open): the file's bytes
 * (malloc()ed, caller frees), its name and type. */
typedef struct adb__download_file {
    char org[256];
    char name[256];
    char mime[128];
    unsigned char *data;
    size_t len;
    int access_count;
} adb__download_file;

/* Checks id's link against expires and signature (constant time), its
 * expiry, revocation, access count and address ranges (ip: the client's);
 * on ADB_DL_OK counts the access (accessed_by gets {at, ip}) and reads the
 * file into out, its SHA-256 checked against the row's. The count is taken
 * in the same statement that checks maxAccess, so parallel requests never
 * exceed it. out->org is set as soon as the signature is good. */
adb__download_verdict adb__download_open(adb *h, const char *id, const char *expires,
                                         const char *signature, const char *ip,
                                         adb__download_file *out);

/* Revokes org's link id (by, reason recorded). ADB_ERR_NOT_FOUND when org
 * has no such active link. */
adb_status adb__download_revoke(adb *h, const char *org, const char *id, const char *by,
                                const char *reason);

/* The folder (under adb__download_dir) of org's files: 32 hex digits of the
 * SHA-256 of its id. */
void adb__download_org_folder(const char *org, char out[33]);

/* The sweeper (download_sweep.c): the files of links that can no longer be
 * served (expired, revoked, or at maxAccess) removed from disk, at most max
 * per call, each row marked (metadata.fileRemovedAt) in the transaction that
 * claims it with FOR UPDATE SKIP LOCKED, so instances sweeping at once never
 * take the same link. The path removed is derived from the row's
 * organization and link id (never the row's file_path, which a superuser of
 * the database could point anywhere): <dir>/<org folder>/<dl_ id>. c: the
 * owner's connection, idle. *removed: rows swept (a file already gone counts). */
adb_status adb__download_sweep(adb *h, PGconn *c, int max, int *removed);

#endif
