/*
 * event_id.c - events' public ids (event_id.h; docs/events.md, "Event id").
 *
 * Version 1 and not version 7: smart-logs' client checks ids with
 * /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i,
 * which refuses versions 6 to 8. Version 1 still carries the event's time,
 * to the microsecond, which is what a lookup by id needs to reach one
 * partition and one index entry.
 */
#include "event_id.h"
#include "../core/util.h"
#include "../core/digest.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

/* 100 ns intervals from 1582-10-15 (the UUID epoch) to 1970-01-01. */
#define GREGORIAN_OFFSET 122192928000000000LL
#define V1_MAX ((int64_t)1 << 60)

/* Random bytes drawn in blocks, so that an event costs no call into OpenSSL's
 * generator of its own. One block per thread: no lock. A forked child drops
 * what its parent's thread had left, or both would hand out the same ids. */
#define RAND_BLOCK 4096
static _Thread_local unsigned char rand_block[RAND_BLOCK];
static _Thread_local size_t rand_left;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void drop_block_in_child(void)
{
    rand_left = 0;
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, drop_block_in_child);
}

bool adb__event_random(unsigned char *out, size_t n)
{
    if (n > RAND_BLOCK)
        return RAND_bytes(out, (int)n) == 1;
    pthread_once(&fork_once, watch_forks);
    if (rand_left < n) {
        if (RAND_bytes(rand_block, RAND_BLOCK) != 1)
            return false;
        rand_left = RAND_BLOCK;
    }
    memcpy(out, rand_block + RAND_BLOCK - rand_left, n);
    memset(rand_block + RAND_BLOCK - rand_left, 0, n); /* used once */
    rand_left -= n;
    return true;
}

static void to_text(const unsigned char u[16], char out[ADB_EVENT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = '\0';
}

/* Builds the id of an event at ts_us from 16 bytes of random or derived
 * bits: their last 8 bytes become clock sequence and node of a version 1
 * id, or, out of version 1's range, all of them a version 4 id. */
static void build(int64_t ts_us, unsigned char bits[16], char out[ADB_EVENT_ID_LEN + 1])
{
    unsigned char *u = bits;
    bool v1 = ts_us >= -GREGORIAN_OFFSET / 10 && ts_us < (V1_MAX - GREGORIAN_OFFSET) / 10;

    if (v1) {
        uint64_t t = (uint64_t)(ts_us * 10 + GREGORIAN_OFFSET);
        uint32_t low = (uint32_t)t;
        uint16_t mid = (uint16_t)(t >> 32), hi = (uint16_t)((t >> 48) & 0x0fff);
        u[0] = (unsigned char)(low >> 24);
        u[1] = (unsigned char)(low >> 16);
        u[2] = (unsigned char)(low >> 8);
        u[3] = (unsigned char)low;
        u[4] = (unsigned char)(mid >> 8);
        u[5] = (unsigned char)mid;
        u[6] = (unsigned char)(0x10 | (hi >> 8));
        u[7] = (unsigned char)hi;
        u[10] |= 0x01; /* multicast bit: a node that is not a MAC address */
    } else {
        u[6] = (unsigned char)(0x40 | (u[6] & 0x0f));
    }
    u[8] = (unsigned char)(0x80 | (u[8] & 0x3f)); /* RFC 9562 variant */
    to_text(u, out);
}

bool adb__event_id_new(int64_t ts_us, char out[ADB_EVENT_ID_LEN + 1])
{
    unsigned char bits[16];

    if (!adb__event_random(bits, sizeof(bits))) {
        out[0] = '\0';
        return false;
    }
    build(ts_us, bits, out);
    return true;
}

void adb__event_id_derive(int64_t ts_us, const char *chain_hash, char out[ADB_EVENT_ID_LEN + 1])
{
    static const char tag[] = "adb-event-id-v1\n";
    unsigned char msg[sizeof(tag) - 1 + 128], md[32];
    size_t hl = chain_hash ? strlen(chain_hash) : 0;

    if (hl > 128)
        hl = 128; /* a chain link is 64 characters; longer text is not one */
    memcpy(msg, tag, sizeof(tag) - 1);
    if (hl)
        memcpy(msg + sizeof(tag) - 1, chain_hash, hl);
    adb__sha256(msg, sizeof(tag) - 1 + hl, md);
    build(ts_us, md, out);
}

bool adb__event_id_parse(const char *s, size_t len, char out[ADB_EVENT_ID_LEN + 1])
{
    if (len != ADB_EVENT_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : adb__hexval(s[i]) < 0)
            return false;
        out[i] = dash ? '-' : "0123456789abcdef"[adb__hexval(s[i])];
    }
    out[len] = '\0';
    return true;
}

bool adb__event_id_time(const char *id, int64_t *ts_us)
{
    uint64_t t = 0;
    /* time_hi (without the version digit), time_mid, time_low */
    static const int pos[] = { 15, 16, 17, 9, 10, 11, 12, 0, 1, 2, 3, 4, 5, 6, 7 };

    if (!id || strlen(id) != ADB_EVENT_ID_LEN || id[14] != '1')
        return false;
    for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
        int h = adb__hexval(id[pos[i]]);
        if (h < 0)
            return false;
        t = t << 4 | (uint64_t)h;
    }
    int64_t hundred_ns = (int64_t)t - GREGORIAN_OFFSET;
    /* ours are whole microseconds; floor for the others */
    *ts_us = hundred_ns >= 0 ? hundred_ns / 10 : -((-hundred_ns + 9) / 10);
    return true;
}
