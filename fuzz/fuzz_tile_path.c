/*
 * fuzz_tile_path.c - the tlog-tiles path parsers (src/log/tiles.c): whatever
 * the bytes, an index path "<N>[.p/<W>]" or a level is accepted only in its
 * one canonical form: what was accepted, written back, is the input byte for
 * byte, with W in 1..255 and N below 2^56.
 */
#include "log/merkle.c"
#include "log/tiles.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128], back[ADB_TILE_PATH_MAX + 16];
    uint64_t index;
    unsigned width, level;

    if (size >= sizeof(s) || memchr(data, 0, size))
        return 0; /* a path has no NUL: target.c refuses one before routing */
    memcpy(s, data, size);
    s[size] = '\0';
    if (adb__tile_parse_index(s, &index, &width)) {
        if (width > 255 || index > (UINT64_MAX >> 8))
            abort();
        adb__tile_index_path(index, back);
        if (width)
            snprintf(back + strlen(back), sizeof(back) - strlen(back), ".p/%u", width);
        if (strcmp(back, s) != 0)
            abort(); /* two spellings of one tile */
    }
    if (adb__tile_parse_level(s, &level)) {
        snprintf(back, sizeof(back), "%u", level);
        if (level > 63 || strcmp(back, s) != 0)
            abort();
    }
    return 0;
}
