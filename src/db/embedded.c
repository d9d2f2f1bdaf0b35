/*
 * embedded.c - a private PostgreSQL cluster under $AUDITDB_HOME.
 *
 * The cluster listens on a unix socket in $AUDITDB_HOME/run and on no TCP
 * port. Ownership is an flock() on auditdb.lock (the kernel drops it when the
 * owner dies, even on kill -9); a postmaster left behind by a dead owner is
 * adopted, a stale postmaster.pid is cleared. initdb and postgres refuse to
 * run as root, so as root they run as an unprivileged user. See
 * docs/embedded.md.
 */
#include "auditdb.h"
#include "confine.h"
#include "../core/util.h"
#include "logging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_PORT "5432"
#define PG_SUPERUSER "postgres"
#define PG_DATABASE "auditdb"
#define START_TIMEOUT_S 60
#define SUN_PATH_MAX 107 /* sizeof(sockaddr_un.sun_path) - 1 */
/* where a cluster goes when the PostgreSQL user cannot reach $AUDITDB_HOME */
#define STATE_ROOT "/var/lib/auditdb"

struct adb_embedded {
    char *home, *datadir, *sockdir, *logdir, *logfile, *lockfile, *marker_init, *marker_detached;
    char *bindir_cfg, *user_cfg;
    char bindir[PATH_MAX];
    char conninfo[PATH_MAX + 128];
    int lock_fd;
    bool owner, guest, started;
    bool drop; /* run PostgreSQL programs as run_uid/run_gid */
    bool relocated; /* pg/, run/, log/ live under STATE_ROOT (linked from the home) */
    int landlock;   /* Landlock ABI, 0 when the kernel offers none */
    uid_t run_uid;
    gid_t run_gid;
    char run_user[64];
    char errmsg[ADB_ERRMSG_MAX];
};

#define SETERR(e, ...) adb__fmt((e)->errmsg, sizeof((e)->errmsg), __VA_ARGS__)

/* Points the data, socket and log paths at base/pg, base/run, base/log. */
static bool set_paths(adb_embedded *e, const char *base)
{
    free(e->datadir);
    free(e->sockdir);
    free(e->logdir);
    free(e->logfile);
    free(e->marker_init);
    free(e->marker_detached);
    e->datadir = adb__aprintf("%s/pg", base);
    e->logdir = adb__aprintf("%s/log", base);
    e->sockdir = adb__aprintf("%s/run", base);
    e->logfile = adb__aprintf("%s/log/postgresql.log", base);
    e->marker_init = adb__aprintf("%s/pg/auditdb_initialized", base);
    e->marker_detached = adb__aprintf("%s/run/auditdb_detached", base);
    if (!e->datadir || !e->sockdir || !e->logdir || !e->logfile || !e->marker_init || !e->marker_detached)
        return false;
    adb__fmt(e->conninfo, sizeof(e->conninfo), "host=%s port=" PG_PORT " dbname=" PG_DATABASE
             " user=" PG_SUPERUSER, e->sockdir);
    return true;
}

/* A home whose pg is a link made by relocate(): the cluster lives where it
 * points (STATE_ROOT/<id>/pg), and so do run/ and log/. */
static bool follow_relocation(adb_embedded *e)
{
    char link[PATH_MAX], target[PATH_MAX];
    struct stat st;
    ssize_t n;

    if (!adb__fmt(link, sizeof(link), "%s/pg", e->home) || lstat(link, &st) == -1 ||
        !S_ISLNK(st.st_mode))
        return true;
    n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return true;
    target[n] = '\0';
    char *slash = strrchr(target, '/');
    if (!slash || slash == target || strcmp(slash, "/pg") != 0)
        return true;
    *slash = '\0';
    e->relocated = true;
    return set_paths(e, target);
}

adb_embedded *adb_embedded_new(const char *home, const char *bindir, const char *user)
{
    adb_embedded *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->lock_fd = -1;
    e->home = strdup(home);
    e->lockfile = adb__aprintf("%s/auditdb.lock", home);
    e->bindir_cfg = adb__strdup(bindir);
    e->user_cfg = adb__strdup(user);
    if (!e->home || !e->lockfile || (bindir && !e->bindir_cfg) || (user && !e->user_cfg) ||
        !set_paths(e, home) || !follow_relocation(e)) {
        adb_embedded_free(e);
        return NULL;
    }
    return e;
}

bool adb_embedded_exists(const adb_embedded *e)
{
    /* a folder we may not look into is not "missing": the start reports why */
    return access(e->marker_init, F_OK) == 0 || errno != ENOENT;
}

const char *adb_embedded_conninfo(const adb_embedded *e) { return e->conninfo; }
const char *adb_embedded_datadir(const adb_embedded *e) { return e->datadir; }
const char *adb_embedded_logfile(const adb_embedded *e) { return e->logfile; }
const char *adb_embedded_errmsg(const adb_embedded *e) { return e->errmsg; }
bool adb_embedded_is_guest(const adb_embedded *e) { return e->guest; }

/* ---- locating PostgreSQL ------------------------------------------------ */

static const char *const pg_programs[] = { "initdb", "pg_ctl", "postgres" };

static bool executable(const char *dir, const char *prog)
{
    char path[PATH_MAX];

    return adb__fmt(path, sizeof(path), "%s/%s", dir, prog) && access(path, X_OK) == 0;
}

/* Writes the names missing from dir into buf ("initdb, pg_ctl"); returns how many. */
static int missing_programs(const char *dir, char *buf, size_t len)
{
    int n = 0;
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(pg_programs) / sizeof(pg_programs[0]); i++) {
        if (executable(dir, pg_programs[i]))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", n ? ", " : "", pg_programs[i]);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
        n++;
    }
    return n;
}

/* The newest /usr/lib/postgresql/<major>/bin that has every program. */
static bool find_debian_bindir(char *out, size_t len)
{
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *de;
    long best = -1;
    char missing[128];

    if (!d)
        return false;
    while ((de = readdir(d)) != NULL) {
        long long v;
        char dir[PATH_MAX];
        if (!adb__parse_int(de->d_name, 1, 1000, &v) || v <= best)
            continue;
        if (!adb__fmt(dir, sizeof(dir), "/usr/lib/postgresql/%s/bin", de->d_name))
            continue;
        if (missing_programs(dir, missing, sizeof(missing)) == 0) {
            best = (long)v;
            adb__fmt(out, len, "%s", dir);
        }
    }
    closedir(d);
    return best >= 0;
}

static bool find_path_bindir(char *out, size_t len)
{
    const char *path = getenv("PATH");
    char missing[128];

    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        char dir[PATH_MAX];
        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            if (missing_programs(dir, missing, sizeof(missing)) == 0) {
                adb__fmt(out, len, "%s", dir);
                return true;
            }
        }
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

static adb_status find_bindir(adb_embedded *e)
{
    char missing[128];

    if (e->bindir[0])
        return ADB_OK;
    if (e->bindir_cfg) {
        if (missing_programs(e->bindir_cfg, missing, sizeof(missing)) > 0) {
            SETERR(e, "PostgreSQL server binaries not found: %s missing from AUDITDB_PG_BINDIR "
                   "\"%s\"; install the Debian package \"postgresql\" (apt-get install "
                   "postgresql), point AUDITDB_PG_BINDIR at the folder holding initdb, pg_ctl "
                   "and postgres, or set AUDIT_DB_URL to use an existing server",
                   missing, e->bindir_cfg);
            return ADB_ERR_PG_MISSING;
        }
        adb__fmt(e->bindir, sizeof(e->bindir), "%s", e->bindir_cfg);
        return ADB_OK;
    }
    if (find_debian_bindir(e->bindir, sizeof(e->bindir)) ||
        find_path_bindir(e->bindir, sizeof(e->bindir)))
        return ADB_OK;
    SETERR(e, "PostgreSQL server binaries not found: initdb, pg_ctl and postgres are in neither "
           "/usr/lib/postgresql/<version>/bin nor PATH; install the Debian package "
           "\"postgresql\" (apt-get install postgresql), set AUDITDB_PG_BINDIR, or set "
           "AUDIT_DB_URL to use an existing server");
    return ADB_ERR_PG_MISSING;
}

/* ---- the user PostgreSQL runs as ---------------------------------------- */

static adb_status resolve_user(adb_embedded *e)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    const char *names[3] = { e->user_cfg, e->user_cfg ? NULL : "postgres", "nobody" };

    e->landlock = adb__landlock_abi();
    if (geteuid() != 0) {
        e->drop = false;
        return ADB_OK;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!names[i])
            continue;
        if (getpwnam_r(names[i], &pw, buf, sizeof(buf), &res) == 0 && res) {
            if (pw.pw_uid == 0) {
                SETERR(e, "AUDITDB_PG_USER \"%s\" is root: PostgreSQL refuses to run as root; "
                       "name an unprivileged user", names[i]);
                return ADB_ERR_CONFIG;
            }
            e->drop = true;
            e->run_uid = pw.pw_uid;
            e->run_gid = pw.pw_gid;
            adb__fmt(e->run_user, sizeof(e->run_user), "%s", names[i]);
            return ADB_OK;
        }
        if (e->user_cfg) {
            SETERR(e, "AUDITDB_PG_USER names user \"%s\", which does not exist", e->user_cfg);
            return ADB_ERR_CONFIG;
        }
    }
    SETERR(e, "running as root and no unprivileged user to run PostgreSQL as (tried postgres, "
           "nobody); create one or set AUDITDB_PG_USER");
    return ADB_ERR_CONFIG;
}

/* Run as an ordinary user, PostgreSQL runs as that same user: only Landlock
 * keeps master.key and admin.key (and the user's other files) out of reach
 * of SQL. Without it, refuse rather than hand the keys to the database. */
static adb_status check_confinable(adb_embedded *e)
{
    if (e->drop || e->landlock > 0)
        return ADB_OK;
    SETERR(e, "refusing to start the embedded PostgreSQL: it would run as auditdb's own OS user "
           "(uid %ld) and its superuser could read master.key and admin.key in \"%s\" from SQL "
           "(pg_read_file, COPY ... TO PROGRAM), and this kernel offers no Landlock to confine "
           "it. Run auditdb as root (PostgreSQL then runs as AUDITDB_PG_USER, else \"postgres\"), "
           "or set AUDIT_DB_URL to a server that runs as another OS user",
           (long)geteuid(), e->home);
    return ADB_ERR_PG_START;
}

/* true when user run_uid can search every folder down to dir. Asked of the
 * kernel in a child that takes on that user, so ACLs and groups count. */
static bool pg_user_reaches(adb_embedded *e, const char *dir)
{
    pid_t pid = fork();
    int status;

    if (pid == -1)
        return true; /* cannot tell: keep the home, initdb will say why */
    if (pid == 0) {
        if (setgroups(0, NULL) == -1 || setgid(e->run_gid) == -1 || setuid(e->run_uid) == -1)
            _exit(2);
        _exit(access(dir, X_OK) == 0 ? 0 : 1);
    }
    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            return true;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

/* As root, a home the PostgreSQL user cannot reach (under /root, mode 0700)
 * gets its cluster in STATE_ROOT/<id>, id from the home's path, with links
 * pg, run and log in the home so that every later command finds it. Only for
 * a new cluster: an existing one stays where it is. */
static adb_status relocate(adb_embedded *e)
{
    static const char *const parts[] = { "pg", "run", "log" };
    char id[65], base[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
    struct stat st;

    if (!e->drop || e->relocated || access(e->marker_init, F_OK) == 0 ||
        pg_user_reaches(e, e->home))
        return ADB_OK;
    adb__sha256_hex(e->home, strlen(e->home), id);
    id[16] = '\0';
    adb__fmt(base, sizeof(base), STATE_ROOT "/%s", id);
    /* left by a home of the same path that was deleted: not this home's data */
    if (lstat(base, &st) == 0) {
        char aside[PATH_MAX];
        adb__fmt(aside, sizeof(aside), "%s.orphaned.%ld", base, (long)time(NULL));
        if (rename(base, aside) == -1) {
            SETERR(e, "could not move \"%s\" aside: %s", base, strerror(errno));
            return ADB_ERR_IO;
        }
    }
    if (!adb__mkdir_p(base, 0755) || chmod(STATE_ROOT, 0755) == -1 || chmod(base, 0755) == -1) {
        SETERR(e, "user \"%s\" cannot reach AUDITDB_HOME \"%s\" (a parent folder is closed to "
               "it), and \"%s\" for its cluster could not be made: %s", e->run_user, e->home,
               base, strerror(errno));
        return ADB_ERR_IO;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        adb__fmt(link, sizeof(link), "%s/%s", e->home, parts[i]);
        adb__fmt(target, sizeof(target), "%s/%s", base, parts[i]);
        /* what an earlier failed attempt left (an empty or interrupted pg/)
         * is moved aside, never deleted */
        if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode)) {
            char aside[PATH_MAX];
            adb__fmt(aside, sizeof(aside), "%s.incomplete.%ld", link, (long)time(NULL));
            if (rename(link, aside) == -1) {
                SETERR(e, "could not move \"%s\" aside: %s", link, strerror(errno));
                return ADB_ERR_IO;
            }
        }
        if (symlink(target, link) == -1 && errno != EEXIST) {
            SETERR(e, "could not link \"%s\" to \"%s\": %s", link, target, strerror(errno));
            return ADB_ERR_IO;
        }
    }
    e->relocated = true;
    if (!set_paths(e, base)) {
        SETERR(e, "out of memory");
        return ADB_ERR_INTERNAL;
    }
    return ADB_OK;
}

/* Creates dir (mode) and hands it to the PostgreSQL user. */
static adb_status make_dir(adb_embedded *e, const char *dir, unsigned mode, bool for_pg)
{
    if (!adb__mkdir_p(dir, 0755)) {
        SETERR(e, "could not create directory \"%s\": %s", dir, strerror(errno));
        return ADB_ERR_IO;
    }
    if (for_pg) {
        if (chmod(dir, mode) == -1) {
            SETERR(e, "could not set permissions of \"%s\": %s", dir, strerror(errno));
            return ADB_ERR_IO;
        }
        if (e->drop && chown(dir, e->run_uid, e->run_gid) == -1) {
            SETERR(e, "could not give \"%s\" to user \"%s\": %s", dir, e->run_user, strerror(errno));
            return ADB_ERR_IO;
        }
    }
    return ADB_OK;
}

/* ---- running PostgreSQL programs ---------------------------------------- */

/* Runs bindir/prog with argv as the PostgreSQL user, its output captured into
 * out (the last len-1 bytes). Returns the exit status, or -1 if it could not
 * run (out says why). */
static int run_pg(adb_embedded *e, const char *prog, char *argv[], char *out, size_t len)
{
    char path[PATH_MAX];
    int pfd[2];
    pid_t pid;
    size_t used = 0;
    int status;

    out[0] = '\0';
    if (!adb__fmt(path, sizeof(path), "%s/%s", e->bindir, prog)) {
        adb__fmt(out, len, "path too long");
        return -1;
    }
    if (pipe2(pfd, O_CLOEXEC) == -1) {
        adb__fmt(out, len, "pipe: %s", strerror(errno));
        return -1;
    }
    /* built before fork(): the child of a threaded process only makes system calls */
    char *const *envp = adb__pg_environ();
    adb__confine confine = { .rw = { e->datadir, e->sockdir, e->logdir, NULL }, .bindir = e->bindir };
    pid = fork();
    if (pid == -1) {
        adb__fmt(out, len, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        if (e->drop) {
            if (setgroups(0, NULL) == -1 || setgid(e->run_gid) == -1 || setuid(e->run_uid) == -1) {
                dprintf(2, "could not switch to user \"%s\": %s\n", e->run_user, strerror(errno));
                _exit(126);
            }
            if (access(e->datadir, R_OK | W_OK | X_OK) == -1) {
                dprintf(2, "user \"%s\" cannot use \"%s\": %s (every parent folder must be "
                        "searchable by that user: choose another AUDITDB_HOME or set "
                        "AUDITDB_PG_USER)\n", e->run_user, e->datadir, strerror(errno));
                _exit(126);
            }
        }
        /* PostgreSQL's superuser reaches the OS through SQL: confine what this
         * process and every descendant may open (src/db/confine.c) */
        int cerr = e->landlock > 0 ? adb__confine_apply(&confine) : ENOSYS;
        if (cerr != 0 && !e->drop && e->landlock > 0) {
            dprintf(2, "could not confine PostgreSQL with Landlock: %s (it runs as auditdb's own "
                    "user and would read its keys)\n", strerror(cerr));
            _exit(126);
        }
        if (chdir(e->datadir) == -1 && chdir("/") == -1)
            _exit(126);
        /* argv[0] must be the full path: initdb and pg_ctl find their
         * sibling programs (postgres) from it, and search PATH without it */
        argv[0] = path;
        execve(path, argv, envp);
        dprintf(2, "could not run \"%s\": %s\n", path, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        char buf[1024];
        ssize_t n = read(pfd[0], buf, sizeof(buf) < len - 1 ? sizeof(buf) : len - 1);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* keep the tail: the last lines carry the reason (n <= len - 1) */
        if (used + (size_t)n > len - 1) {
            size_t drop = used + (size_t)n - (len - 1);
            memmove(out, out + drop, used - drop);
            used -= drop;
        }
        memcpy(out + used, buf, (size_t)n);
        used += (size_t)n;
        out[used] = '\0';
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            adb__fmt(out, len, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    /* trim trailing newlines for messages */
    while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == '\r'))
        out[--used] = '\0';
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Appends the last lines of the server log to the message. */
static void append_log_tail(adb_embedded *e)
{
    size_t len;
    char *log = adb__read_file(e->logfile, 16 << 20, &len);
    const char *tail;
    int lines = 0;

    if (!log)
        return;
    tail = log + len;
    while (tail > log && lines < 6) {
        tail--;
        if (*tail == '\n' && tail != log + len - 1)
            lines++;
    }
    if (*tail == '\n')
        tail++;
    size_t cur = strlen(e->errmsg);
    if (*tail && cur < sizeof(e->errmsg) - 1)
        snprintf(e->errmsg + cur, sizeof(e->errmsg) - cur, "; server log %s ends with: %s",
                 e->logfile, tail);
    free(log);
}

/* ---- ownership ---------------------------------------------------------- */

static pid_t read_pid_file(const char *path)
{
    char *s = adb__read_file(path, 4096, NULL);
    long long pid = 0;
    char *nl;

    if (!s)
        return 0;
    if ((nl = strchr(s, '\n')))
        *nl = '\0';
    if (!adb__parse_int(s, 1, INT32_MAX, &pid))
        pid = 0;
    free(s);
    return (pid_t)pid;
}

pid_t adb_embedded_owner_pid(adb_embedded *e)
{
    int fd;
    pid_t pid;

    if (e->owner)
        return 0;
    fd = open(e->lockfile, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) { /* nobody holds it */
        close(fd);
        return 0;
    }
    close(fd);
    pid = read_pid_file(e->lockfile);
    return pid;
}

adb_status adb_embedded_acquire(adb_embedded *e, adb_embedded_mode mode)
{
    adb_status st;
    char pidline[32];

    if (e->owner || e->guest)
        return ADB_OK;
    if ((st = resolve_user(e)) != ADB_OK || (st = check_confinable(e)) != ADB_OK)
        return st;
    if (!adb__mkdir_p(e->home, 0755)) {
        SETERR(e, "could not create AUDITDB_HOME \"%s\": %s", e->home, strerror(errno));
        return ADB_ERR_IO;
    }
    if (strlen(e->sockdir) + strlen("/.s.PGSQL." PG_PORT ".lock") > SUN_PATH_MAX) {
        SETERR(e, "AUDITDB_HOME \"%s\" is too long for a unix socket path (at most %d bytes "
               "with \"/run/.s.PGSQL." PG_PORT "\"): choose a shorter AUDITDB_HOME",
               e->home, SUN_PATH_MAX);
        return ADB_ERR_CONFIG;
    }
    if (strchr(e->home, '\'') || strchr(e->home, '\\')) {
        SETERR(e, "AUDITDB_HOME \"%s\" contains a quote or backslash, which PostgreSQL's "
               "start command cannot carry: choose another folder", e->home);
        return ADB_ERR_CONFIG;
    }
    e->lock_fd = open(e->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (e->lock_fd == -1) {
        SETERR(e, "could not open lock file \"%s\": %s", e->lockfile, strerror(errno));
        return ADB_ERR_IO;
    }
    if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == -1) {
        int err = errno;
        pid_t other = read_pid_file(e->lockfile);
        close(e->lock_fd);
        e->lock_fd = -1;
        if (err != EWOULDBLOCK) {
            SETERR(e, "could not lock \"%s\": %s", e->lockfile, strerror(err));
            return ADB_ERR_IO;
        }
        if (mode == ADB_EMBEDDED_OWNER_OR_GUEST) {
            e->guest = true;
            return ADB_OK;
        }
        SETERR(e, "another auditdb process (pid %ld) owns the embedded database in \"%s\"; "
               "stop it first, or use another AUDITDB_HOME", (long)other, e->home);
        return ADB_ERR_LOCKED;
    }
    adb__fmt(pidline, sizeof(pidline), "%ld\n", (long)getpid());
    if (ftruncate(e->lock_fd, 0) == -1 || pwrite(e->lock_fd, pidline, strlen(pidline), 0) == -1) {
        SETERR(e, "could not write lock file \"%s\": %s", e->lockfile, strerror(errno));
        close(e->lock_fd);
        e->lock_fd = -1;
        return ADB_ERR_IO;
    }
    e->owner = true;
    /* only the owner decides where a new cluster goes */
    return relocate(e);
}

/* ---- postmaster state --------------------------------------------------- */

typedef enum { PM_NONE, PM_STALE, PM_RUNNING } pm_state;

/* true when pid is a live (not zombie) postgres process. A pid from a pid
 * file may have been reused by an unrelated process, or belong to a killed
 * postmaster not yet reaped: /proc/PID/stat reads "PID (comm) STATE ...". */
static bool live_postgres(pid_t pid)
{
    char path[64];
    char *stat;
    const char *open_paren, *close_paren;
    bool ok;

    if (pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH))
        return false;
    adb__fmt(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (!(stat = adb__read_file(path, 4096, NULL)))
        return false;
    open_paren = strchr(stat, '(');
    close_paren = strrchr(stat, ')');
    ok = open_paren && close_paren && strncmp(open_paren + 1, "postgres", 8) == 0 &&
         close_paren[1] == ' ' && close_paren[2] != 'Z' && close_paren[2] != 'X';
    free(stat);
    return ok;
}

static pm_state postmaster_state(adb_embedded *e, pid_t *pid_out)
{
    char path[PATH_MAX];
    pid_t pid;

    *pid_out = 0;
    adb__fmt(path, sizeof(path), "%s/postmaster.pid", e->datadir);
    if (access(path, F_OK) == -1)
        return PM_NONE;
    pid = read_pid_file(path);
    if (!live_postgres(pid))
        return PM_STALE;
    *pid_out = pid;
    return PM_RUNNING;
}

pid_t adb_embedded_postmaster_pid(adb_embedded *e)
{
    pid_t pid;

    return postmaster_state(e, &pid) == PM_RUNNING ? pid : 0;
}

static bool accepting(adb_embedded *e)
{
    char ci[PATH_MAX + 128];

    adb__fmt(ci, sizeof(ci), "host=%s port=" PG_PORT " dbname=postgres user=" PG_SUPERUSER
             " connect_timeout=2", e->sockdir);
    return PQping(ci) == PQPING_OK;
}

bool adb_embedded_running(adb_embedded *e)
{
    pid_t pid;

    return postmaster_state(e, &pid) == PM_RUNNING && accepting(e);
}

static adb_status wait_accepting(adb_embedded *e, int timeout_s)
{
    double deadline = adb__now_ms() + timeout_s * 1000.0;
    pid_t pid;

    while (adb__now_ms() < deadline) {
        if (accepting(e))
            return ADB_OK;
        if (postmaster_state(e, &pid) != PM_RUNNING) {
            SETERR(e, "the embedded PostgreSQL server in \"%s\" stopped while starting", e->datadir);
            append_log_tail(e);
            return ADB_ERR_PG_START;
        }
        adb__sleep_ms(100);
    }
    SETERR(e, "the embedded PostgreSQL server in \"%s\" did not accept connections within %d s",
           e->datadir, timeout_s);
    append_log_tail(e);
    return ADB_ERR_TIMEOUT;
}

/* ---- initdb, start, stop ------------------------------------------------ */

static adb_status init_cluster(adb_embedded *e)
{
    char out[2048];
    char pgversion[PATH_MAX];
    adb_status st;
    int rc;

    if (access(e->marker_init, F_OK) == 0)
        return ADB_OK;
    adb__fmt(pgversion, sizeof(pgversion), "%s/PG_VERSION", e->datadir);
    if (access(e->datadir, F_OK) == 0) {
        /* a data directory without our marker is an interrupted initdb:
         * move it aside rather than delete anything */
        DIR *d = opendir(e->datadir);
        bool empty = true;
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                empty = false;
        if (d)
            closedir(d);
        if (!empty) {
            char aside[PATH_MAX];
            adb__fmt(aside, sizeof(aside), "%s.incomplete.%ld", e->datadir, (long)time(NULL));
            if (rename(e->datadir, aside) == -1) {
                SETERR(e, "could not move the incomplete data directory \"%s\" aside: %s",
                       e->datadir, strerror(errno));
                return ADB_ERR_IO;
            }
        }
    }
    if ((st = make_dir(e, e->datadir, 0700, true)) != ADB_OK)
        return st;
    char *argv[] = { "initdb", "-D", e->datadir, "-U", PG_SUPERUSER, "-A", "trust",
                     "--encoding=UTF8", "--no-locale", NULL };
    rc = run_pg(e, "initdb", argv, out, sizeof(out));
    if (rc != 0) {
        SETERR(e, "initdb failed in \"%s\" (exit %d): %s", e->datadir, rc, out);
        return ADB_ERR_PG_START;
    }
    int fd = open(e->marker_init, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        SETERR(e, "could not create \"%s\": %s", e->marker_init, strerror(errno));
        return ADB_ERR_IO;
    }
    close(fd);
    return ADB_OK;
}

static void clear_stale(adb_embedded *e)
{
    char path[PATH_MAX];

    adb__fmt(path, sizeof(path), "%s/postmaster.pid", e->datadir);
    unlink(path);
    adb__fmt(path, sizeof(path), "%s/.s.PGSQL." PG_PORT ".lock", e->sockdir);
    if (!live_postgres(read_pid_file(path)))
        unlink(path);
    unlink(e->marker_detached);
}

static adb_status create_database(adb_embedded *e)
{
    char ci[PATH_MAX + 128];
    PGconn *c;
    PGresult *r;
    adb_status st = ADB_OK;

    adb__fmt(ci, sizeof(ci), "host=%s port=" PG_PORT " dbname=postgres user=" PG_SUPERUSER
             " connect_timeout=5", e->sockdir);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        SETERR(e, "could not connect to the embedded server: %s", PQerrorMessage(c));
        PQfinish(c);
        return ADB_ERR_DB_CONNECT;
    }
    r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" PG_DATABASE "'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
        PQclear(r);
        r = PQexec(c, "CREATE DATABASE " PG_DATABASE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "", "42P04") != 0) {
            SETERR(e, "could not create database \"" PG_DATABASE "\": %s", PQerrorMessage(c));
            st = ADB_ERR_DB_QUERY;
        }
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        SETERR(e, "could not list databases: %s", PQerrorMessage(c));
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
    PQfinish(c);
    return st;
}

static adb_status start_postmaster(adb_embedded *e)
{
    char opts[PATH_MAX + 1024], out[2048];
    int rc;
    adb_status st;

    if ((st = make_dir(e, e->sockdir, 0700, true)) != ADB_OK)
        return st;
    if ((st = make_dir(e, e->logdir, 0700, true)) != ADB_OK)
        return st;
    /* pg_ctl hands -o to /bin/sh: the path is single-quoted (quotes refused earlier) */
    adb__fmt(opts, sizeof(opts), "-c listen_addresses='' -c port=" PG_PORT
             " -c unix_socket_directories='%s' -c unix_socket_permissions=0700", e->sockdir);
    /* privacy: nothing of a statement, its parameters or a refused row in
     * the server log (logging.h); on the command line, so that neither
     * postgresql.conf nor ALTER SYSTEM overrides it */
    size_t used = strlen(opts);
    if (!adb__pg_logging_options(opts + used, sizeof(opts) - used)) {
        SETERR(e, "the server options for \"%s\" are too long", e->datadir);
        return ADB_ERR_CONFIG;
    }
    /* database monitoring (docs/monitoring.md): per-statement times, when the
     * server has the module (a custom build may lack it: then nothing is
     * preloaded, and the monitor says so); utility statements untracked, as
     * PostgreSQL 15 keeps their text with its values */
    char pss[PATH_MAX + 64];
    used = strlen(opts);
    if (adb__fmt(pss, sizeof(pss), "%s/../lib/pg_stat_statements.so", e->bindir) &&
        access(pss, R_OK) == 0 &&
        !adb__fmt(opts + used, sizeof(opts) - used,
                  " -c shared_preload_libraries=pg_stat_statements"
                  " -c pg_stat_statements.track_utility=off -c pg_stat_statements.max=5000")) {
        SETERR(e, "the server options for \"%s\" are too long", e->datadir);
        return ADB_ERR_CONFIG;
    }
    char ts[16];
    adb__fmt(ts, sizeof(ts), "%d", START_TIMEOUT_S);
    char *argv[] = { "pg_ctl", "-D", e->datadir, "-l", e->logfile, "-o", opts, "-w", "-t", ts,
                     "-s", "start", NULL };
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = run_pg(e, "pg_ctl", argv, out, sizeof(out));
        if (rc == 0)
            return ADB_OK;
        /* backends of a killed postmaster may still hold its shared memory
         * for a moment: wait and try once more */
        adb__sleep_ms(1000);
        pid_t pid;
        if (postmaster_state(e, &pid) == PM_STALE)
            clear_stale(e);
    }
    SETERR(e, "could not start the embedded PostgreSQL server in \"%s\" (pg_ctl exit %d): %s",
           e->datadir, rc, out);
    append_log_tail(e);
    return ADB_ERR_PG_START;
}

adb_status adb_embedded_start(adb_embedded *e)
{
    adb_status st;
    pid_t pid;

    if (e->guest) {
        if (adb_embedded_running(e))
            return ADB_OK;
        SETERR(e, "the embedded database in \"%s\" is owned by auditdb process %ld but its "
               "server is not running", e->home, (long)adb_embedded_owner_pid(e));
        return ADB_ERR_LOCKED;
    }
    if (!e->owner) {
        SETERR(e, "adb_embedded_start called before adb_embedded_acquire");
        return ADB_ERR_INVALID;
    }
    switch (postmaster_state(e, &pid)) {
    case PM_RUNNING: /* left by an auditdb that died, or started by `db start` */
        if ((st = wait_accepting(e, START_TIMEOUT_S)) != ADB_OK)
            return st;
        break;
    case PM_STALE:
        clear_stale(e);
        /* fall through */
    case PM_NONE:
        if ((st = find_bindir(e)) != ADB_OK || (st = init_cluster(e)) != ADB_OK)
            return st;
        unlink(e->marker_detached);
        if ((st = start_postmaster(e)) != ADB_OK)
            return st;
        if ((st = wait_accepting(e, START_TIMEOUT_S)) != ADB_OK)
            return st;
        break;
    }
    e->started = true;
    return create_database(e);
}

adb_status adb_embedded_restart(adb_embedded *e, pid_t *pid)
{
    bool detached = access(e->marker_detached, F_OK) == 0;
    adb_status st;

    *pid = 0;
    if (!e->owner) {
        SETERR(e, "only the owner of \"%s\" restarts its server", e->home);
        return ADB_ERR_LOCKED;
    }
    e->started = false;
    if ((st = adb_embedded_start(e)) != ADB_OK)
        return st;
    /* an operator's `db start` still holds after a crash: keep it running on exit */
    if (detached && (st = adb_embedded_detach(e)) != ADB_OK)
        return st;
    *pid = adb_embedded_postmaster_pid(e);
    return ADB_OK;
}

adb_status adb_embedded_detach(adb_embedded *e)
{
    int fd;

    if (!e->started) {
        SETERR(e, "the embedded server is not running");
        return ADB_ERR_INVALID;
    }
    fd = open(e->marker_detached, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        SETERR(e, "could not create \"%s\": %s", e->marker_detached, strerror(errno));
        return ADB_ERR_IO;
    }
    close(fd);
    return ADB_OK;
}

adb_status adb_embedded_stop(adb_embedded *e)
{
    char out[2048];
    pid_t pid;
    adb_status st;
    int rc;

    if (e->guest) {
        SETERR(e, "auditdb process %ld owns the embedded database in \"%s\"; stop that process "
               "instead", (long)adb_embedded_owner_pid(e), e->home);
        return ADB_ERR_LOCKED;
    }
    switch (postmaster_state(e, &pid)) {
    case PM_NONE:
        return ADB_OK;
    case PM_STALE:
        clear_stale(e);
        return ADB_OK;
    case PM_RUNNING:
        break;
    }
    if ((st = resolve_user(e)) != ADB_OK || (st = find_bindir(e)) != ADB_OK)
        return st;
    char *argv[] = { "pg_ctl", "-D", e->datadir, "-m", "fast", "-w", "-t", "60", "-s", "stop", NULL };
    rc = run_pg(e, "pg_ctl", argv, out, sizeof(out));
    if (rc != 0) {
        SETERR(e, "could not stop the embedded PostgreSQL server in \"%s\" (pg_ctl exit %d): %s",
               e->datadir, rc, out);
        return ADB_ERR_PG_START;
    }
    unlink(e->marker_detached);
    e->started = false;
    return ADB_OK;
}

void adb_embedded_release(adb_embedded *e)
{
    if (!e)
        return;
    /* best effort: a failure here leaves a postmaster the next owner adopts */
    if (e->owner && e->started && access(e->marker_detached, F_OK) == -1 &&
        adb_embedded_stop(e) != ADB_OK)
        e->started = false;
    e->started = false;
    if (e->lock_fd >= 0) {
        close(e->lock_fd);
        e->lock_fd = -1;
    }
    e->owner = false;
    e->guest = false;
}

void adb_embedded_free(adb_embedded *e)
{
    if (!e)
        return;
    adb_embedded_release(e);
    free(e->home);
    free(e->datadir);
    free(e->sockdir);
    free(e->logdir);
    free(e->logfile);
    free(e->lockfile);
    free(e->marker_init);
    free(e->marker_detached);
    free(e->bindir_cfg);
    free(e->user_cfg);
    free(e);
}
