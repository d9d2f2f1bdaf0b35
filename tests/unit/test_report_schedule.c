/*
 * test_report_schedule.c - the schedule checks of src/report/schedule.c
 * (docs/reports.md, "Schedules"): what adb_report_next_run must never see
 * is refused with the member at fault; defaults filled; cron fields, ranges,
 * steps and lists; ISO 8601 date-times. Pure: no database.
 */
#include "t.h"
#include "report/schedule.h"

#include <string.h>

static json_t *check(const char *text, adb__sched_error *e)
{
    json_t *in = json_loads(text, 0, NULL);
    memset(e, 0, sizeof(*e));
    json_t *out = adb__schedule_check(in, e);
    json_decref(in);
    return out;
}

static void refused(const char *text, const char *field, const char *code)
{
    adb__sched_error e;
    json_t *out = check(text, &e);
    CHECK_MSG(out == NULL, "accepted: %s", text);
    CHECK_MSG(!strcmp(e.field, field), "%s: field %s, want %s", text, e.field, field);
    CHECK_MSG(!strcmp(e.code, code), "%s: code %s, want %s", text, e.code, code);
    CHECK_MSG(e.message[0] != '\0', "%s: no message", text);
    json_decref(out);
}

static void defaults_filled(void)
{
    adb__sched_error e;
    json_t *out = check("{\"frequency\":\"daily\"}", &e);
    REQUIRE(out != NULL);
    CHECK_STR(json_string_value(json_object_get(out, "timezone")), "UTC");
    CHECK(json_integer_value(json_object_get(out, "hour")) == 0);
    CHECK(json_integer_value(json_object_get(out, "minute")) == 0);
    CHECK(json_integer_value(json_object_get(out, "maxMissedRuns")) == 3);
    CHECK(json_is_false(json_object_get(out, "catchUpMissedRuns")));
    CHECK(json_is_false(json_object_get(out, "skipWeekends")));
    CHECK(json_object_get(out, "dayOfMonth") == NULL);
    json_decref(out);
    out = check("{\"frequency\":\"weekly\",\"dayOfWeek\":\"friday\",\"timezone\":\"Asia/Tokyo\","
                "\"hour\":23,\"minute\":59,\"catchUpMissedRuns\":true,\"maxMissedRuns\":100,"
                "\"startDate\":\"2026-01-01T00:00:00.123+09:00\",\"endDate\":\"2027-01-01\"}", &e);
    CHECK(out != NULL);
    CHECK_STR(json_string_value(json_object_get(out, "dayOfWeek")), "friday");
    json_decref(out);
}

static void refusals_name_the_member(void)
{
    refused("[]", "schedule", "INVALID_TYPE");
    refused("{}", "schedule.frequency", "REQUIRED");
    refused("{\"frequency\":\"fortnightly\"}", "schedule.frequency", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"hour\":24}", "schedule.hour", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"hour\":-1}", "schedule.hour", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"hour\":1.5}", "schedule.hour", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"minute\":60}", "schedule.minute", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"timezone\":\"\"}", "schedule.timezone", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"timezone\":7}", "schedule.timezone", "INVALID_VALUE");
    refused("{\"frequency\":\"weekly\"}", "schedule.dayOfWeek", "REQUIRED");
    refused("{\"frequency\":\"weekly\",\"dayOfWeek\":\"Monday\"}", "schedule.dayOfWeek", "INVALID_VALUE");
    refused("{\"frequency\":\"monthly\"}", "schedule.dayOfMonth", "REQUIRED");
    refused("{\"frequency\":\"monthly\",\"dayOfMonth\":32}", "schedule.dayOfMonth", "INVALID_VALUE");
    refused("{\"frequency\":\"yearly\",\"monthOfYear\":13}", "schedule.monthOfYear", "INVALID_VALUE");
    refused("{\"frequency\":\"custom\"}", "schedule.cronExpression", "REQUIRED");
    refused("{\"frequency\":\"custom\",\"cronExpression\":\"* * * *\"}", "schedule.cronExpression", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"skipHolidays\":true}", "schedule.skipHolidays", "UNSUPPORTED");
    refused("{\"frequency\":\"daily\",\"skipWeekends\":\"yes\"}", "schedule.skipWeekends", "INVALID_TYPE");
    refused("{\"frequency\":\"daily\",\"maxMissedRuns\":101}", "schedule.maxMissedRuns", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"startDate\":\"tomorrow\"}", "schedule.startDate", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"endDate\":\"2026-13-01T00:00:00Z\"}", "schedule.endDate", "INVALID_VALUE");
    refused("{\"frequency\":\"daily\",\"interval\":2}", "schedule.interval", "UNKNOWN_FIELD");
}

static void cron_expressions(void)
{
    static const char *const good[] = {
        "* * * * *", "0 9 * * 1-5", "*/15 9-17 * * 1-5", "0,30 0 1,15 * *", "5 4 * * 7",
        "0 0 29 2 *", "10-50/10 */2 1-31/3 1-12/6 0-6", "  0  12  *  *  *  ",
    };
    static const char *const bad[] = {
        "", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
        "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *",
        ",1 * * * *", "* * * * MON", "1;2 * * * *",
    };
    char why[160];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK_MSG(adb__cron_valid(good[i], why, sizeof(why)), "refused \"%s\": %s", good[i], why);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        CHECK_MSG(!adb__cron_valid(bad[i], why, sizeof(why)), "accepted \"%s\"", bad[i]);
        CHECK_MSG(why[0], "no reason for \"%s\"", bad[i]);
    }
    char longer[300];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    CHECK(!adb__cron_valid(longer, why, sizeof(why)));
}

static void iso_datetimes(void)
{
    CHECK(adb__iso_datetime_valid("2026-12-07T17:00:00Z"));
    CHECK(adb__iso_datetime_valid("2026-12-07T17:00:00.123456Z"));
    CHECK(adb__iso_datetime_valid("2026-12-07T17:00:00+05:30"));
    CHECK(adb__iso_datetime_valid("2026-12-07T17:00Z"));
    CHECK(adb__iso_datetime_valid("2026-12-07"));
    CHECK(!adb__iso_datetime_valid("2026-12-07T17:00:00"));   /* no zone */
    CHECK(!adb__iso_datetime_valid("2026-12-07 17:00:00Z"));
    CHECK(!adb__iso_datetime_valid("2026-00-07T17:00:00Z"));
    CHECK(!adb__iso_datetime_valid("2026-12-07T25:00:00Z"));
    CHECK(!adb__iso_datetime_valid("2026-12-07T17:00:00Zjunk"));
    CHECK(!adb__iso_datetime_valid("2026-12-07T17:00:00.Z"));
    CHECK(!adb__iso_datetime_valid(""));
    CHECK(!adb__iso_datetime_valid(NULL));
}

int main(void)
{
    RUN(defaults_filled);
    RUN(refusals_name_the_member);
    RUN(cron_expressions);
    RUN(iso_datetimes);
    return t_done();
}
