/*
 * fuzz_note.c - the signed-note parsers (src/log/note.c): whatever the
 * bytes, note parsing and verification against a known key never read
 * outside the input and give a text that ends in a newline with signature
 * lines inside the note; what parses as a checkpoint body (without
 * extension lines) formats back to the same bytes, a verifier key to the
 * same key, and base64 that decodes encodes back to the same text (one text
 * per value).
 */
#include "log/note.c"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static adb__note_verifier v;
    static bool init;
    char err[256];
    char *s = malloc(size + 1);
    adb__note n;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (!init) {
        if (adb__note_vkey_parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                                 &v, err, sizeof(err)) != ADB_OK)
            abort();
        init = true;
    }

    if (adb__note_parse(s, size, &n, err, sizeof(err)) == ADB_OK) {
        if (n.text != s || n.text_len == 0 || n.text_len > size || s[n.text_len - 1] != '\n' ||
            n.nsigs == 0 || n.nsigs > ADB_NOTE_MAX_SIGS)
            abort();
        for (size_t i = 0; i < n.nsigs; i++)
            if (n.sigs[i].line < s || n.sigs[i].line + n.sigs[i].line_len > s + size ||
                n.sigs[i].line[n.sigs[i].line_len - 1] != '\n')
                abort();
    }
    bool ok[1];
    size_t count;
    (void)adb__note_verify(s, size, &v, 1, NULL, ok, NULL, &count, err, sizeof(err));

    adb__checkpoint_body cp;
    if (adb__checkpoint_body_parse(s, size, &cp, err, sizeof(err)) == ADB_OK && cp.extensions == 0) {
        char back[ADB_CHECKPOINT_BODY_MAX];
        size_t bl = adb__checkpoint_body_format(cp.origin, cp.size, cp.root, back, sizeof(back));
        if (bl != size || memcmp(back, s, size) != 0)
            abort();
    }

    adb__note_verifier pv, pv2;
    if (adb__note_vkey_parse(s, &pv, err, sizeof(err)) == ADB_OK) {
        char back[ADB_NOTE_VKEY_MAX];
        if (!adb__note_vkey_format(&pv, back, sizeof(back)) ||
            adb__note_vkey_parse(back, &pv2, err, sizeof(err)) != ADB_OK ||
            memcmp(&pv, &pv2, sizeof(pv)) != 0 || strcasecmp(back, s) != 0)
            abort();
    }

    if (size <= 4096) {
        uint8_t raw[3072];
        char enc[4100];
        long dl = adb__note_b64_decode(s, size, raw, sizeof(raw));
        if (dl >= 0 && (adb__note_b64_encode(raw, (size_t)dl, enc) != size || memcmp(enc, s, size) != 0))
            abort();
    }
    free(s);
    return 0;
}
