/*
 * event_id.h - the public id of an event: a UUID (docs/events.md, "Event id";
 * docs/integrity.md says how it is bound to the event).
 *
 * Every id is written as RFC 9562 version 1 ("time-based") whose 60-bit
 * timestamp is the event's own timestamp (100 ns units since 1582-10-15, the
 * event's microseconds times 10), so the timestamp, and with it the monthly
 * partition, can be read back from the id alone. The remaining 62 bits
 * (clock sequence and node, the node's multicast bit set as RFC 9562 asks of
 * a node that is not a MAC address) are:
 *   - random for new events (OpenSSL's RAND_bytes, drawn in bulk);
 *   - derived for events stored before ids existed: from SHA-256 of
 *     "adb-event-id-v1\n" + chain_hash, so anyone holding the row finds the
 *     same id again.
 * A timestamp outside what version 1 can hold (before 1582-10-15 or after
 * 5236) gives a version 4 id of the same random or derived bits instead.
 */
#ifndef ADB_EVENT_EVENT_ID_H
#define ADB_EVENT_EVENT_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADB_EVENT_ID_LEN 36 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* A new id for an event at ts_us (microseconds since 1970 UTC). false only
 * when the random generator fails. */
bool adb__event_id_new(int64_t ts_us, char out[ADB_EVENT_ID_LEN + 1]);

/* n random bytes (OpenSSL's generator, drawn in blocks per thread; what is
 * handed out is wiped from the block): the ids' bits and events' commitment
 * keys. false only when the generator fails. */
bool adb__event_random(unsigned char *out, size_t n);

/* The id of an event stored without one (hash algorithms sha256-c14n-v1 and
 * SHA-256): at ts_us, derived from its chain link (chain_hash text; "" when
 * the row has none). */
void adb__event_id_derive(int64_t ts_us, const char *chain_hash, char out[ADB_EVENT_ID_LEN + 1]);

/* Reads a UUID in its 36-character text (any case) into lowercase out.
 * false if s is not one. */
bool adb__event_id_parse(const char *s, size_t len, char out[ADB_EVENT_ID_LEN + 1]);

/* The event timestamp (microseconds since 1970) a version 1 id carries:
 * false for any other id (a lookup then cannot narrow by time). */
bool adb__event_id_time(const char *id, int64_t *ts_us);

#endif
