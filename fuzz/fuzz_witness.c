/*
 * fuzz_witness.c - the tlog-witness's add-checkpoint (src/log/witness.c)
 * on any body: the answer is one the spec names (never a 500: the state is
 * sound), a 409 carries the latest size, a 200 a cosignature line, and
 * nothing but a 200 changes the state file. The state holds a checkpoint
 * of "fuzz.test/o" at size 5 before every input; the seeds (made with
 * tests/tools/witness_client.py and this log key) reach the proof check,
 * since the log's signature covers the checkpoint, not the proof lines.
 */
#include "log/merkle.c"
#include "log/note.c"
#include "log/witness.c"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

/* the log key of the seeds: 32 bytes 0x11 */
static adb__witness_service *w;
static adb__note_signer logk;
static char state_text[1024];
static size_t state_len;
static char dir[64] = "/tmp/fuzz_witness.XXXXXX";

static void setup(void)
{
    static uint8_t lseed[32], wseed[32];
    adb__mhash leaves[5];
    adb__note_verifier v;
    char err[256], vkey[ADB_NOTE_VKEY_MAX], text[ADB_CHECKPOINT_BODY_MAX];
    uint8_t root[32];
    size_t tlen, nlen;
    char *note;

    memset(lseed, 0x11, 32);
    memset(wseed, 0x22, 32);
    if (!mkdtemp(dir) || adb__note_signer_init(&logk, "fuzz.test", ADB_NOTE_ED25519, lseed, err,
                                               sizeof(err)) != ADB_OK)
        abort();
    adb__note_signer_verifier(&logk, &v);
    adb__note_vkey_format(&v, vkey, sizeof(vkey));
    adb__witness_log logs[] = { { "fuzz.test/", vkey } };
    adb__witness_options o = { .state_dir = dir, .name = "witness.fuzz/w", .seed = wseed,
                               .logs = logs, .nlogs = 1 };
    w = adb__witness_open(&o, err, sizeof(err));
    if (!w)
        abort();
    for (int i = 0; i < 5; i++) { /* witness_client.py's leaves, seed "h" */
        char leaf[16];
        int n = snprintf(leaf, sizeof(leaf), "h %d", i);
        adb__merkle_leaf_hash(leaf, (size_t)n, leaves[i]);
    }
    adb__merkle_root((const adb__mhash *)leaves, 5, root);
    tlen = adb__checkpoint_body_format("fuzz.test/o", 5, root, text, sizeof(text));
    note = adb__note_sign(&logk, text, tlen, 0, &nlen, err, sizeof(err));
    if (!note || nlen >= sizeof(state_text))
        abort();
    memcpy(state_text, note, nlen);
    state_len = nlen;
    free(note);
}

/* Empties the state directory but for fuzz.test/o's file at size 5. */
static void reset(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int fd;

    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (strcmp(e->d_name, "evidence") == 0) {
            int evfd = openat(dirfd(d), "evidence", O_RDONLY | O_DIRECTORY);
            DIR *evd = evfd >= 0 ? fdopendir(evfd) : NULL;
            struct dirent *f;
            while (evd && (f = readdir(evd)))
                if (f->d_name[0] != '.')
                    unlinkat(evfd, f->d_name, 0);
            if (evd)
                closedir(evd);
            continue;
        }
        unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    fd = openat(w->dirfd, "fuzz.test%2Fo.checkpoint", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, state_text, state_len) != (ssize_t)state_len)
        abort();
    close(fd);
    w->nevidence = 0;
}

/* At exit: the state directory goes. */
static void cleanup(void)
{
    reset();
    unlinkat(w->dirfd, "fuzz.test%2Fo.checkpoint", 0);
    unlinkat(w->dirfd, "evidence", AT_REMOVEDIR);
    adb__witness_close(w);
    adb__note_signer_free(&logk);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adb__witness_answer a;
    witness_state st;
    char reason[256], fname[300];

    if (!w) {
        setup();
        atexit(cleanup);
    }
    reset();
    adb__witness_add_checkpoint(w, (const char *)data, size, &a);
    if (getenv("FUZZ_WITNESS_VERBOSE")) /* to see what the seeds reach */
        fprintf(stderr, "%d %s\n", a.status, a.reason);
    switch (a.status) {
    case 200:
        if (!a.body || a.len < 4 || memcmp(a.body, "\xe2\x80\x94 ", 4) != 0 ||
            a.body[a.len - 1] != '\n')
            abort();
        break;
    case 409:
        if (!a.body || strcmp(a.content_type, "text/x.tlog.size") != 0 || a.len < 2 ||
            a.body[a.len - 1] != '\n')
            abort();
        break;
    case 400: case 403: case 404: case 422:
        break;
    default:
        abort(); /* 500, 503 or anything else: the state is sound, nothing should fail */
    }
    if (!a.reason[0])
        abort();
    /* only a 200 changes fuzz.test/o's state */
    if (a.status != 200 && strcmp(a.origin, "fuzz.test/o") == 0) {
        if (!adb__witness_state_name("fuzz.test/o", fname, sizeof(fname)) ||
            !state_read(w, "fuzz.test/o", fname, &st, reason, sizeof(reason)) || !st.exists ||
            st.size != 5 || st.len != state_len || memcmp(st.text, state_text, state_len) != 0)
            abort();
        free(st.text);
    }
    adb__witness_answer_free(&a);
    return 0;
}
