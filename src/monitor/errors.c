/*
 * errors.c - PLACEHOLDER until the errors helper replaces this file
 * (errors.h): records nothing.
 */
#include "errors.h"

void adb__error_record(adb *h, const adb__error_report *e)
{
    (void)h;
    (void)e;
}
