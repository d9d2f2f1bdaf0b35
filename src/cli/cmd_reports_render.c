/*
 * cmd_reports_render.c - `auditdb reports render --format F [FILE]`: a
 * report document (JSON, report.h's contract) rendered as json, csv, xml or
 * pdf on stdout, by the same adb__report_render a generated report uses
 * (docs/reports.md, "Renderings"). Needs no database: it reads the document
 * and writes the rendering, nothing else. Nothing is written to stdout
 * when the document is refused.
 */
#include "cli.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest document read (the CLI's bound; a generated report's document is in memory). */
#define RENDER_MAX_INPUT ((size_t)256 << 20)

const char cli_reports_render_usage[] =
    "usage: auditdb reports render --format json|csv|xml|pdf|xlsx [FILE]\n"
    "Renders the report document in FILE (default: standard input, at most 256 MiB) in the\n"
    "format asked for, on standard output. The same document always gives the same bytes.\n"
    "Exit: 0 rendered, 1 failed, 2 usage error or a document that cannot be rendered\n"
    "(the member at fault is named).\n";

int adb_cmd_reports_render(int argc, char **argv)
{
    const char *fmt = NULL, *path = NULL;
    char err[512];
    size_t len = 0;
    int rc = EXIT_FAILURE_;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(cli_reports_render_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            fmt = argv[++i];
        } else if (!path && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
            path = argv[i];
        } else {
            cli_error("unknown argument \"%s\"; run \"auditdb reports render --help\"", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!fmt) {
        cli_error("--format json|csv|xml|pdf|xlsx is required; run \"auditdb reports render --help\"");
        return EXIT_USAGE;
    }
    FILE *in = !path || !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!in) {
        cli_error("could not open \"%s\": %s", path, strerror(errno));
        return EXIT_FAILURE_;
    }
    char *text = adb__read_stream(in, RENDER_MAX_INPUT, &len);
    int read_errno = errno;
    if (in != stdin)
        fclose(in);
    if (!text) {
        if (read_errno == EFBIG)
            cli_error("the document is larger than 256 MiB");
        else
            cli_error("could not read the document: %s", strerror(read_errno));
        return read_errno == EFBIG ? EXIT_USAGE : EXIT_FAILURE_;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    free(text);
    if (!doc) {
        /* the position only: jansson's text quotes the document (personal data) */
        cli_error("the document is not JSON (line %d, column %d)", jerr.line, jerr.column);
        return EXIT_USAGE;
    }
    adb__buf out = { 0 };
    const char *ctype;
    adb_status st = adb__report_render(doc, fmt, &out, &ctype, err, sizeof err);
    json_decref(doc);
    if (st != ADB_OK) {
        cli_error("cannot render the report: %s", err);
        rc = cli_exit_code(st);
    } else if (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        cli_error("could not write the rendering: %s", strerror(errno));
    } else {
        rc = EXIT_OK;
    }
    adb__buf_free(&out);
    return rc;
}
