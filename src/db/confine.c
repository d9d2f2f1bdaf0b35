/*
 * confine.c - the embedded PostgreSQL must never see key material or secrets.
 *
 * Its superuser is reachable from SQL (pg_read_file, COPY ... TO PROGRAM), so
 * whatever the postmaster's OS process can read, a database superuser can
 * read. Two walls: every PostgreSQL program starts with an explicit, minimal
 * environment (never auditdb's), and, where the kernel offers Landlock, a
 * ruleset applied before exec limits it and all its descendants to the system
 * folders and the cluster's own data, socket and log folders: master.key and
 * admin.key in $AUDITDB_HOME, the rest of the user's files and /proc stay out
 * of reach even when PostgreSQL runs as auditdb's own OS user.
 */
#include "confine.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* rights newer than the installed header (kernel ABI 3 and 5) */
#define ADB_LL_TRUNCATE (1ULL << 14)
#define ADB_LL_IOCTL_DEV (1ULL << 15)

#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_EXEC (LL_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define LL_ABI1_ALL                                                                              \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |                               \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |                             \
     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |  \
     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* what PostgreSQL may do in its own folders: everything but device nodes */
#define LL_OWN                                                                                   \
    (LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                   \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM)

int adb__landlock_abi(void)
{
    const char *off = getenv("AUDITDB_TEST_NO_LANDLOCK");
    long abi;

    if (off && *off && strcmp(off, "0") != 0)
        return 0;
    abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

/* Adds "everything under path may get access" to the ruleset; a missing path
 * (no /lib64 on this system) is no error. */
static int allow(int ruleset, const char *path, uint64_t access, uint64_t handled)
{
    struct landlock_path_beneath_attr pb;
    int fd, err = 0;

    fd = open(path, O_PATH | O_CLOEXEC);
    if (fd == -1)
        return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
    memset(&pb, 0, sizeof(pb));
    pb.parent_fd = fd;
    pb.allowed_access = access & handled;
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
        err = errno;
    close(fd);
    return err;
}

int adb__confine_apply(const adb__confine *c)
{
    static const char *const system_dirs[] = { "/usr", "/bin", "/sbin", "/lib", "/lib32",
                                               "/lib64", "/libx32", "/etc" };
    struct landlock_ruleset_attr attr;
    int abi = adb__landlock_abi(), ruleset, err = 0;
    uint64_t handled = LL_ABI1_ALL, dev = LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE;
    char parent[4096];

    if (abi < 1)
        return ENOSYS;
    if (abi >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        handled |= ADB_LL_TRUNCATE;
    if (abi >= 5) {
        handled |= ADB_LL_IOCTL_DEV;
        dev |= ADB_LL_IOCTL_DEV;
    }
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = handled;
    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset == -1)
        return errno;
    for (size_t i = 0; !err && i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
        err = allow(ruleset, system_dirs[i], LL_EXEC, handled);
    /* /dev/null, /dev/urandom; /dev/shm holds dynamic shared memory segments */
    if (!err)
        err = allow(ruleset, "/dev", dev, handled);
    if (!err)
        err = allow(ruleset, "/dev/shm", LL_OWN | ADB_LL_TRUNCATE | LANDLOCK_ACCESS_FS_REFER, handled);
    /* a custom build keeps share/ and lib/ beside bin/ */
    if (!err && c->bindir && strlen(c->bindir) < sizeof(parent)) {
        strcpy(parent, c->bindir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        err = allow(ruleset, parent, LL_EXEC, handled);
    }
    for (size_t i = 0; !err && i < sizeof(c->rw) / sizeof(c->rw[0]) && c->rw[i]; i++)
        err = allow(ruleset, c->rw[i], LL_OWN | ADB_LL_TRUNCATE | LANDLOCK_ACCESS_FS_REFER, handled);
    if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
        err = errno;
    if (!err && syscall(SYS_landlock_restrict_self, ruleset, 0) == -1)
        err = errno;
    close(ruleset);
    return err;
}

char *const *adb__pg_environ(void)
{
    static char tz[256];
    static char *env[5];
    const char *t = getenv("TZ");
    size_t n = 0;

    env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    env[n++] = "LC_ALL=C";
    env[n++] = "LANG=C";
    if (t && strlen(t) < sizeof(tz) - 3 && adb__fmt(tz, sizeof(tz), "TZ=%s", t))
        env[n++] = tz;
    env[n] = NULL;
    return env;
}
