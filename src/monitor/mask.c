/*
 * mask.c - secrets out of configuration values (mask.h).
 */
#include "mask.h"

#include <ctype.h>
#include <string.h>

static const char *const secret_parts[] = {
    "secret", "password", "passwd", "passphrase", "token", "credential", "privatekey",
    "apikey", "accesskey", "signingkey", "authorization", "cookie", NULL
};

bool adb__config_secret_name(const char *name)
{
    char n[128];
    size_t k = 0;

    if (!name)
        return false;
    for (const char *s = name; *s && k + 1 < sizeof(n); s++)
        if (*s != '_' && *s != '-')
            n[k++] = (char)tolower((unsigned char)*s);
    n[k] = '\0';
    for (size_t i = 0; secret_parts[i]; i++)
        if (strstr(n, secret_parts[i]))
            return true;
    return k >= 3 && strcmp(n + k - 3, "key") == 0;
}

void adb__config_mask(json_t *v)
{
    const char *name;
    json_t *m;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, name, m) {
            if (adb__config_secret_name(name) && !json_is_null(m))
                json_object_set_new(v, name, json_string(ADB_CONFIG_MASKED));
            else
                adb__config_mask(m);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
            adb__config_mask(m);
    }
}
