/*
 * ssrf.h - the address policy's parts beyond delivery.h (ssrf.c;
 * docs/delivery.md, "SSRF").
 *
 * adb__ssrf_check_host (delivery.h) answers ADB_ERR_INVALID when an address
 * of the host is refused and ADB_ERR_NOT_FOUND when the host does not
 * resolve; err says which address and why.
 */
#ifndef ADB_DELIVERY_SSRF_H
#define ADB_DELIVERY_SSRF_H

#include <stdbool.h>
#include <sys/socket.h>

/* NULL when the policy admits the address, else why not (static text). */
const char *adb__ssrf_check_addr(const struct sockaddr *sa);

/* Why this thread's last connection under adb__ssrf_attach was refused
 * ("" when none was since the attach): the transports put it in the
 * attempt's error when curl answers CURLE_COULDNT_CONNECT. */
const char *adb__ssrf_last_refusal(void);

/* Whether text is an IPv4 or IPv6 address with an optional /bits. */
bool adb__cidr_valid(const char *text);

#endif
