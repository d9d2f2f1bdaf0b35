/*
 * delivery_download.c - GET /api/v1/delivery/downloads/{id}: serves the
 * file of a download link (src/delivery/download.c) to whoever holds its
 * signed URL. No API key: the signature (HMAC-SHA256 under the link's
 * organization's key, compared in constant time) is the authority. 403 for
 * a signature that does not match (or an unknown link, told apart from
 * nothing) and for an address outside allowedIpRanges; 410 once expired,
 * revoked or fetched maxAccess times. Every answer is in the access log;
 * each download and each refusal is also a security event of the link's
 * organization. docs/delivery.md, "Download links".
 */
#include "delivery_routes.h"
#include "../delivery/download.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Content-Disposition for name (already free of control characters,
 * quotes and slashes): plain when ASCII, else with RFC 6266's filename* */
static char *disposition(const char *name)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x7f || *p == '\\')
            ascii = false;
    if (ascii) {
        size_t n = strlen(name) + 32;
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "attachment; filename=\"%s\"", name);
        return s;
    }
    size_t n = strlen(name) * 3 + 64;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t j = (size_t)snprintf(s, n, "attachment; filename=\"download\"; filename*=UTF-8''");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)name; *p && j + 4 < n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            s[j++] = (char)*p;
        } else {
            s[j++] = '%';
            s[j++] = hex[*p >> 4];
            s[j++] = hex[*p & 15];
        }
    }
    s[j] = '\0';
    return s;
}

static bool sig_shape(const char *s)
{
    if (!s || strlen(s) != ADB_DOWNLOAD_SIG_HEX)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

enum MHD_Result adb_http_delivery_download(adb_http_request *req)
{
    const char *id = req->param[0];
    const char *expires = adb_http_arg(req, "expires");
    const char *signature = adb_http_arg(req, "signature");
    adb__download_file f;
    char desc[160];

    if (!expires || !*expires || strspn(expires, "0123456789") != strlen(expires) ||
        strlen(expires) > 12)
        return adb_http_send_invalid(req, "expires", "INVALID_FORMAT",
                                     "expires is required: the link's expiry in Unix seconds, as "
                                     "the signed URL has it");
    if (!sig_shape(signature))
        return adb_http_send_invalid(req, "signature", "INVALID_FORMAT",
                                     "signature is required: 64 lowercase hex digits, as the "
                                     "signed URL has it");
    adb__download_verdict v = adb__download_open(req->state->db, id, expires, signature,
                                                 req->ip, &f);
    /* refusals and downloads are recorded for the link's organization */
    if (f.org[0] && !req->who.organization_id[0])
        snprintf(req->who.organization_id, sizeof(req->who.organization_id), "%s", f.org);
    switch (v) {
    case ADB_DL_OK:
        break;
    case ADB_DL_BAD_SIGNATURE:
        adb_http_security_event(req, "download_link_refused", "MEDIUM",
                                "a download link with a signature that does not match");
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "INVALID_SIGNATURE",
                                   "this download link is not valid", NULL);
    case ADB_DL_IP_REFUSED:
        adb_http_security_event(req, "download_link_refused", "MEDIUM",
                                "a download link used from outside its allowed address ranges");
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "ADDRESS_NOT_ALLOWED",
                                   "this download link may not be used from this address", NULL);
    case ADB_DL_EXPIRED:
        return adb_http_send_error(req, MHD_HTTP_GONE, "LINK_EXPIRED",
                                   "this download link has expired", NULL);
    case ADB_DL_REVOKED:
        return adb_http_send_error(req, MHD_HTTP_GONE, "LINK_REVOKED",
                                   "this download link was revoked", NULL);
    case ADB_DL_EXHAUSTED:
        return adb_http_send_error(req, MHD_HTTP_GONE, "ACCESS_LIMIT_REACHED",
                                   "this download link was used as many times as it allows",
                                   NULL);
    case ADB_DL_FILE_BAD:
        adb_http_security_event(req, "download_file_mismatch", "HIGH",
                                "a download link's file is missing or is not the file recorded");
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTEGRITY_ERROR",
                                   "the file of this download link is missing or changed", NULL);
    case ADB_DL_UNAVAILABLE:
    default:
        return adb_http_send_unavailable(req);
    }
    req->extra_header[0] = "Content-Disposition";
    req->extra_value[0] = disposition(f.name);
    snprintf(desc, sizeof(desc), "download link %.64s fetched (access %d)", id, f.access_count);
    adb_http_security_event(req, "delivery_download", "LOW", desc);
    return adb_http_send_text(req, MHD_HTTP_OK, (char *)f.data, f.len, f.mime);
}

/* DELETE /api/v1/delivery/downloads/{id}[?reason=]: revokes one of the
 * caller's organization's links (delivery:manage); 404 for another
 * organization's or an unknown or already revoked one. */
enum MHD_Result adb_http_delivery_download_revoke(adb_http_request *req)
{
    const char *id = req->param[0];
    const char *reason = adb_http_arg(req, "reason");
    char by[64], desc[160];

    if (reason && (strlen(reason) > 500 || strpbrk(reason, "\r\n")))
        return adb_http_send_invalid(req, "reason", "INVALID_FORMAT",
                                     "reason must be one line of at most 500 bytes");
    if (!id || strlen(id) >= ADB_DOWNLOAD_ID_MAX)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such download link",
                                   json_pack("{s:s}", "field", "id"));
    snprintf(by, sizeof(by), "key:%s", req->who.key_id);
    adb_status st = adb__download_revoke(req->state->db, req->who.organization_id, id, by,
                                         reason && *reason ? reason : "revoked through the API");
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "no such active download link", json_pack("{s:s}", "field", "id"));
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    snprintf(desc, sizeof(desc), "download link %.64s revoked", id);
    adb_http_security_event(req, "download_link_revoked", "LOW", desc);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s, s:b}", "id", id, "revoked", 1));
}
