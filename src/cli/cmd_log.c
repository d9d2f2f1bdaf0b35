/*
 * cmd_log.c - `auditdb log`: the verifiable log's verifier key and its
 * latest signed checkpoints, read from AUDITDB_HOME without the database
 * (docs/checkpoints.md).
 */
#include "cli.h"
#include "../core/util.h"
#include "../log/checkpoint.h"
#include "../log/logkey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_log_vkey(const char *hex, const char *home, const char *log_name, char *out, size_t cap)
{
    adb__note_signer s;
    adb__note_verifier v;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__logkey_load(hex, home, log_name, false, &s, err, sizeof(err));

    if (st != ADB_OK) {
        cli_error("%s", err);
        return EXIT_FAILURE_;
    }
    adb__note_signer_verifier(&s, &v);
    adb__note_signer_free(&s);
    if (!adb__note_vkey_format(&v, out, cap)) {
        cli_error("the verifier key does not fit");
        return EXIT_FAILURE_;
    }
    return EXIT_OK;
}

static int log_vkey(adb_config *cfg, int argc, char **argv)
{
    char vkey[ADB_NOTE_VKEY_MAX], err[ADB_ERRMSG_MAX];
    bool create = false;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--create") == 0) {
            create = true;
        } else {
            cli_error("unknown option \"%s\" for log vkey", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (create) {
        adb__note_signer s;
        adb_status st = adb__logkey_load(cfg->log_key, cfg->home, cfg->log_name, true, &s, err,
                                         sizeof(err));
        if (st != ADB_OK) {
            cli_error("%s", err);
            return EXIT_FAILURE_;
        }
        adb__note_signer_free(&s);
    }
    int rc = cli_log_vkey(cfg->log_key, cfg->home, cfg->log_name, vkey, sizeof(vkey));
    if (rc == EXIT_OK)
        printf("%s\n", vkey);
    return rc;
}

static int log_checkpoint(adb_config *cfg, int argc, char **argv)
{
    const char *org = "default";
    char dir[4096], path[ADB_CHECKPOINT_PATH_MAX];
    size_t len;
    char *text;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--org") == 0 && i + 1 < argc) {
            org = argv[++i];
        } else {
            cli_error("unknown option \"%s\" for log checkpoint", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (cfg->checkpoint_dir)
        adb__fmt(dir, sizeof(dir), "%s", cfg->checkpoint_dir);
    else
        adb__fmt(dir, sizeof(dir), "%s/checkpoints", cfg->home);
    if (!adb__checkpoint_path(dir, org, path, sizeof(path))) {
        cli_error("the organization id is too long");
        return EXIT_USAGE;
    }
    if (!(text = adb__read_file(path, ADB_NOTE_MAX_LEN, &len))) {
        if (errno == ENOENT)
            cli_error("no checkpoint of organization \"%s\" yet (%s)", org, path);
        else
            cli_error("could not read \"%s\": %s", path, strerror(errno));
        return EXIT_FAILURE_;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    return EXIT_OK;
}

int cmd_log(int argc, char **argv)
{
    adb_config cfg;
    adb_status st;
    int rc;

    if (argc < 2) {
        cli_error("usage: auditdb log vkey [--create] | checkpoint [--org ID]");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "vkey") != 0 && strcmp(argv[1], "checkpoint") != 0) {
        cli_error("unknown log command \"%s\" (expected vkey or checkpoint)", argv[1]);
        return EXIT_USAGE;
    }
    if ((st = adb_config_load(&cfg)) != ADB_OK) {
        cli_error("%s", cfg.errmsg);
        adb_config_free(&cfg);
        return EXIT_USAGE;
    }
    rc = strcmp(argv[1], "vkey") == 0 ? log_vkey(&cfg, argc, argv) : log_checkpoint(&cfg, argc, argv);
    adb_config_free(&cfg);
    return rc;
}
