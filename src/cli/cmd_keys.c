/*
 * cmd_keys.c - `auditdb keys create|list|revoke|rotate|set-role`: API keys
 * of organizations. Every change is a row of the configuration history and
 * an audit event of the key's organization (src/auth/key_changes.h).
 */
#include "cli.h"
#include "../auth/key_changes.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int keys_create(adb *h, int argc, char **argv)
{
    const char *org = NULL, *role = NULL, *name = NULL;
    char key[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX], who[128];
    adb_key_info info;
    adb_status st;

    cli_actor(who, sizeof(who));

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else {
            cli_error("unknown argument \"%s\"; usage: auditdb keys create --org ID --role ROLE [--name N]"
                      " | --role operator [--name N]", argv[i]);
            return EXIT_USAGE;
        }
    }
    /* an operator key belongs to no organization (docs/auth.md, "Operator") */
    bool op = role && !strcmp(role, ADB_OPERATOR_ROLE);
    if (op && org) {
        cli_error("an operator key belongs to no organization: leave out --org");
        return EXIT_USAGE;
    }
    if (!role || (!org && !op)) {
        cli_error("keys create needs --org and --role (or --role operator alone)");
        return EXIT_USAGE;
    }
    if ((org && (st = adb_org_ensure(h, org, NULL, err, sizeof(err))) != ADB_OK) ||
        (st = adb__key_create_by(h, org, role, name, who, key, &info, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND ? EXIT_USAGE : cli_exit_code(st);
    }
    if (op)
        printf("created operator key %s (process-wide figures, no organization's data)\n"
               "key (shown once, store it now): %s\n", info.display, key);
    else
        printf("created key %s for organization %s, role %s\n"
               "key (shown once, store it now): %s\n", info.display, info.organization_id, info.role, key);
    OPENSSL_cleanse(key, sizeof(key));
    return EXIT_OK;
}

static int keys_list(adb *h, int argc, char **argv)
{
    const char *org = NULL;
    adb_key_info *keys = NULL;
    size_t n = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else {
            cli_error("unknown argument \"%s\"; usage: auditdb keys list [--org ID]", argv[i]);
            return EXIT_USAGE;
        }
    }
    if ((st = adb_key_list(h, org, &keys, &n, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    printf("%-22s %-20s %-10s %-8s %-20s %-20s %s\n", "key", "organization", "role", "state",
           "created", "last used", "name");
    for (size_t i = 0; i < n; i++)
        printf("%-22s %-20s %-10s %-8s %-20s %-20s %s\n", keys[i].display,
               keys[i].organization_id[0] ? keys[i].organization_id : "-",
               keys[i].role, keys[i].revoked ? "revoked" : "active", keys[i].created_at,
               keys[i].last_used_at[0] ? keys[i].last_used_at : "-", keys[i].name);
    free(keys);
    return EXIT_OK;
}

/* keys rotate ID: the successor's text once; keys set-role ID ROLE */
static int keys_change(adb *h, char **argv)
{
    char key[ADB_KEY_TEXT_MAX], err[ADB_ERRMSG_MAX], who[128];
    adb_key_info info;
    bool changed = false;
    adb_status st;

    cli_actor(who, sizeof(who));
    if (!strcmp(argv[1], "rotate"))
        st = adb__key_rotate_by(h, argv[2], who, key, &info, err, sizeof(err));
    else
        st = adb__key_set_role_by(h, argv[2], argv[3], who, &changed, err, sizeof(err));
    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    if (!strcmp(argv[1], "rotate")) {
        printf("rotated key %s: revoked, replaced by %s (organization %s, role %s)\n"
               "key (shown once, store it now): %s\n", argv[2], info.display,
               info.organization_id[0] ? info.organization_id : "-", info.role, key);
        OPENSSL_cleanse(key, sizeof(key));
    } else {
        printf(changed ? "key %s now has role %s\n" : "key %s has role %s already: nothing changed\n",
               argv[2], argv[3]);
    }
    return EXIT_OK;
}

int cmd_keys(int argc, char **argv)
{
    cli_db db;
    adb *h = NULL;
    int rc;
    char err[ADB_ERRMSG_MAX];

    if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "list") && strcmp(argv[1], "revoke") &&
                     strcmp(argv[1], "rotate") && strcmp(argv[1], "set-role"))) {
        cli_error("usage: auditdb keys create|list|revoke|rotate|set-role ...");
        return EXIT_USAGE;
    }
    if ((!strcmp(argv[1], "revoke") || !strcmp(argv[1], "rotate")) && argc != 3) {
        cli_error("usage: auditdb keys %s KEY-ID", argv[1]);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "set-role") && argc != 4) {
        cli_error("usage: auditdb keys set-role KEY-ID ROLE");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "list"))
        cli_reading("keys list");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (!strcmp(argv[1], "create"))
        rc = keys_create(h, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "list"))
        rc = keys_list(h, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "rotate") || !strcmp(argv[1], "set-role"))
        rc = keys_change(h, argv);
    else {
        char who[128];
        cli_actor(who, sizeof(who));
        adb_status st = adb__key_revoke_by(h, argv[2], who, err, sizeof(err));
        if (st != ADB_OK) {
            cli_error("%s", err);
            rc = st == ADB_ERR_NOT_FOUND ? EXIT_FAILURE_ : cli_exit_code(st);
        } else {
            printf("revoked key %s\n", argv[2]);
            rc = EXIT_OK;
        }
    }
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
