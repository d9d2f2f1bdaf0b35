/*
 * test_target.c - the request-target decoder (src/http/target.c): escapes,
 * NUL bytes, UTF-8, repeated and too many query parameters, and the access
 * log's form of the path. The file is compiled in here: it is part of the
 * server, not of the library.
 */
#include "t.h"
#include "http/target.c"

static void parse(adb_http_target *t, const char *raw)
{
    memset(t, 0, sizeof(*t));
    REQUIRE(adb_http_target_parse(t, raw));
}

static void test_plain(void)
{
    adb_http_target t;
    parse(&t, "/api/v1/audit/events?actions=a.b%2Cc&limit=5&q=a+b&flag");
    CHECK_STR(t.path, "/api/v1/audit/events");
    CHECK(!t.path_problem.code && t.path_utf8 && !t.query_problem.code);
    CHECK(t.nparams == 4);
    CHECK_STR(adb_http_target_arg(&t, "actions"), "a.b,c");
    CHECK_STR(adb_http_target_arg(&t, "limit"), "5");
    CHECK_STR(adb_http_target_arg(&t, "q"), "a b");
    CHECK_STR(adb_http_target_arg(&t, "flag"), "");
    CHECK(adb_http_target_arg(&t, "offset") == NULL);
    adb_http_target_free(&t);
}

static void test_path(void)
{
    adb_http_target t;
    parse(&t, "/api/v1/audit/events%00/bulk");
    CHECK_STR(t.path_problem.code, "INVALID_CHARACTER");
    CHECK_STR(t.path_problem.field, "path");
    CHECK_STR(t.log_path, "/api/v1/audit/events%00/bulk");
    adb_http_target_free(&t);
    parse(&t, "/a%2/b");
    CHECK_STR(t.path_problem.code, "INVALID_ENCODING");
    adb_http_target_free(&t);
    parse(&t, "/api/v1/archives/%ff%fe/events");
    CHECK(!t.path_problem.code && !t.path_utf8);
    adb_http_target_free(&t);
    parse(&t, "/x/\xc3\xa9\x01");
    CHECK(t.path_utf8);
    CHECK_STR(t.log_path, "/x/%C3%A9%01"); /* printable ASCII for the log */
    CHECK_STR(t.path, "/x/\xc3\xa9\x01");
    adb_http_target_free(&t);
}

static void test_query_problems(void)
{
    static const struct { const char *raw, *code, *field; } cases[] = {
        { "/e?actions=%ff%fe", "INVALID_ENCODING", "actions" },
        { "/e?actions=a%00b", "INVALID_CHARACTER", "actions" },
        { "/e?a=1&b=%zz", "INVALID_ENCODING", "b" },
        { "/e?=x", "INVALID_ENCODING", "" },
        { "/e?x%00y=1", "INVALID_CHARACTER", "x?y" },
        { "/e?startDate=2026%c3", "INVALID_ENCODING", "startDate" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        adb_http_target t;
        parse(&t, cases[i].raw);
        CHECK_MSG(t.query_problem.code && !strcmp(t.query_problem.code, cases[i].code) &&
                      !strcmp(t.query_problem.field, cases[i].field),
                  "%s: %s %s", cases[i].raw, t.query_problem.code ? t.query_problem.code : "(none)",
                  t.query_problem.field);
        adb_http_target_free(&t);
    }
}

static bool only_tags(const char *name, void *ctx)
{
    (void)ctx;
    return !strcmp(name, "tags");
}

/* Repeats are kept by the parse and joined or refused once the route says
 * which parameters are lists (adb_http_target_join_repeats). */
static void test_repeats(void)
{
    adb_http_target t;

    parse(&t, "/e?limit=1&limit=2");
    CHECK(!t.query_problem.code && t.nparams == 2);
    CHECK(adb_http_target_join_repeats(&t, only_tags, NULL));
    CHECK_STR(t.query_problem.code, "DUPLICATE_PARAMETER");
    CHECK_STR(t.query_problem.field, "limit");
    adb_http_target_free(&t);

    parse(&t, "/e?tags=a&limit=5&tags=b%2Cc&tags=&tags=d");
    CHECK(adb_http_target_join_repeats(&t, only_tags, NULL));
    CHECK(!t.query_problem.code);
    CHECK(t.nparams == 2);
    CHECK_STR(adb_http_target_arg(&t, "tags"), "a,b,c,d");
    CHECK_STR(adb_http_target_arg(&t, "limit"), "5");
    adb_http_target_free(&t);

    /* a list allowed, another repeat refused, whatever the order */
    parse(&t, "/e?sortBy=x&tags=a&tags=b&sortBy=y");
    CHECK(adb_http_target_join_repeats(&t, only_tags, NULL));
    CHECK_STR(t.query_problem.code, "DUPLICATE_PARAMETER");
    CHECK_STR(t.query_problem.field, "sortBy");
    adb_http_target_free(&t);

    /* an earlier problem of the query string stays the one reported */
    parse(&t, "/e?a=%zz&b=1&b=2");
    CHECK(adb_http_target_join_repeats(&t, only_tags, NULL));
    CHECK_STR(t.query_problem.code, "INVALID_ENCODING");
    adb_http_target_free(&t);
}

static void test_limits(void)
{
    char raw[1024] = "/e?";
    adb_http_target t;
    for (int i = 0; i <= ADB_HTTP_MAX_QUERY; i++)
        snprintf(raw + strlen(raw), sizeof(raw) - strlen(raw), "p%d=1&", i);
    parse(&t, raw);
    CHECK_STR(t.query_problem.code, "TOO_MANY_PARAMETERS");
    CHECK(t.nparams == ADB_HTTP_MAX_QUERY);
    adb_http_target_free(&t);
    /* a name cut to fit the error is cut between characters */
    char longname[400] = "/e?";
    for (int i = 0; i < 60; i++)
        strcat(longname, "%c3%a9");
    strcat(longname, "=%ff");
    parse(&t, longname);
    CHECK_STR(t.query_problem.code, "INVALID_ENCODING");
    CHECK(adb__utf8_valid(t.query_problem.field, strlen(t.query_problem.field)));
    CHECK(strlen(t.query_problem.field) == 64);
    adb_http_target_free(&t);
}

static void test_utf8_repair(void)
{
    char s[] = "ab\xc3\xa9\xc3"; /* a sequence cut at the end */
    CHECK_STR(adb__utf8_repair(s), "ab\xc3\xa9");
    char m[] = "x\xe2\x82y\xf0\x9f\x98\x80z\xff"; /* cut in the middle, stray byte */
    CHECK_STR(adb__utf8_repair(m), "xy\xf0\x9f\x98\x80z");
    CHECK(!adb__utf8_valid("\xed\xa0\x80", 3)); /* a surrogate */
    CHECK(!adb__utf8_valid("\xc0\xaf", 2));     /* overlong */
    CHECK(adb__utf8_valid("\xf4\x8f\xbf\xbf", 4));
}

int main(void)
{
    RUN(test_plain);
    RUN(test_path);
    RUN(test_repeats);
    RUN(test_query_problems);
    RUN(test_limits);
    RUN(test_utf8_repair);
    return t_failures != 0;
}
