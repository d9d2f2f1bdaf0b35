#!/usr/bin/env python3
"""delivery_shapes.py - holds answers of the delivery routes against the shapes
@smedrec/audit-client's delivery service expects (its DeliveryDestination, the paginated list,
ValidationResult and ConnectionTestResult; written here in our own words from what those
types require: zod's optional members may be absent but never null).

usage: delivery_shapes.py KIND FILE
Prints one line per problem found (nothing when the answer fits). KIND: destination,
destinations-page, validation-result, connection-test. Add a kind per answer shape below.
"""
import json
import re
import sys

TYPES = {'email', 'webhook', 'storage', 'sftp', 'download'}
ISO_ANY = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$')
URL = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+([/?#]\S*)?$')  # what z.string().url() takes
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v, lo=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def opt(d, key, check, what):
    """an optional member: absent, or right (null is not absent for zod)"""
    if key in d:
        need(check(d[key]), what)


def strs(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def webhook(w, p):
    need(isinstance(w.get('url'), str) and URL.match(w['url']) is not None, p + '.url is not a URL')
    need(w.get('method') in {'POST', 'PUT'}, p + '.method')
    h = w.get('headers')
    need(isinstance(h, dict) and all(isinstance(v, str) for v in h.values()),
         p + '.headers is not a record of strings')
    need(is_num(w.get('timeout')), p + '.timeout')
    r = w.get('retryConfig')
    need(isinstance(r, dict) and all(is_num(r.get(k)) for k in
                                     ('maxRetries', 'backoffMultiplier', 'maxBackoffDelay')),
         p + '.retryConfig')


def email(m, p):
    for k in ('service', 'from', 'subject'):
        need(isinstance(m.get(k), str), p + '.' + k)
    for k in ('apiKey', 'bodyTemplate', 'attachmentName'):
        opt(m, k, lambda v: isinstance(v, str), p + '.' + k)
    opt(m, 'recipients', strs, p + '.recipients')
    if 'smtpConfig' in m:
        s = m['smtpConfig']
        need(isinstance(s, dict) and isinstance(s.get('host'), str) and is_num(s.get('port'))
             and isinstance(s.get('secure'), bool) and isinstance(s.get('auth'), dict)
             and isinstance(s['auth'].get('user'), str) and isinstance(s['auth'].get('pass'), str),
             p + '.smtpConfig')


def storage(m, p):
    need(m.get('provider') in {'local', 's3', 'azure', 'gcp'}, p + '.provider')
    need(isinstance(m.get('config'), dict), p + '.config')
    need(isinstance(m.get('path'), str), p + '.path')
    r = m.get('retention')
    need(isinstance(r, dict) and is_num(r.get('days')) and isinstance(r.get('autoCleanup'), bool),
         p + '.retention')


def sftp(m, p):
    need(isinstance(m.get('host'), str), p + '.host')
    need(is_num(m.get('port')), p + '.port')
    need(isinstance(m.get('path'), str), p + '.path')
    for k in ('username', 'password', 'privateKey', 'filename'):
        opt(m, k, lambda v: isinstance(v, str), p + '.' + k)


def download(m, p):
    need(is_num(m.get('expiryHours')), p + '.expiryHours')
    opt(m, 'baseUrl', lambda v: isinstance(v, str), p + '.baseUrl')
    opt(m, 'maxAccess', is_num, p + '.maxAccess')
    opt(m, 'allowedIpRanges', strs, p + '.allowedIpRanges')


def destination(d, where='destination'):
    need(isinstance(d, dict), where + ' is not an object')
    if not isinstance(d, dict):
        return
    for k in ('id', 'organizationId', 'label', 'createdAt', 'updatedAt'):
        need(isinstance(d.get(k), str), '%s.%s is not a string' % (where, k))
    need(d.get('type') in TYPES, where + '.type')
    need(isinstance(d.get('disabled'), bool), where + '.disabled')
    need(is_num(d.get('countUsage')), where + '.countUsage')
    for k in ('description', 'icon', 'instructions', 'disabledBy'):
        opt(d, k, lambda v: isinstance(v, str), '%s.%s (absent or a string, never null)' % (where, k))
    for k in ('disabledAt', 'lastUsedAt'):
        opt(d, k, lambda v: isinstance(v, str) and ISO_ANY.match(v), '%s.%s' % (where, k))
    for k in ('createdAt', 'updatedAt'):
        need(isinstance(d.get(k), str) and ISO_ANY.match(d[k]) is not None, '%s.%s' % (where, k))
    c = d.get('config')
    need(isinstance(c, dict), where + '.config')
    if not isinstance(c, dict):
        return
    checks = {'webhook': webhook, 'email': email, 'storage': storage, 'sftp': sftp,
              'download': download}
    for k, v in c.items():
        if k == 'circuitBreaker':  # ours (health and breakers); zod's object drops it
            need(isinstance(v, dict) and all(is_int(x) for x in v.values()), where + '.config.circuitBreaker')
            continue
        need(k in checks, '%s.config.%s is not a config member' % (where, k))
        if k in checks:
            need(isinstance(v, dict), '%s.config.%s' % (where, k))
            if isinstance(v, dict):
                checks[k](v, '%s.config.%s' % (where, k))
    need(d.get('type') in c, where + '.config has no member of its type')


def page(d):
    need(isinstance(d.get('data'), list), 'data is not an array')
    for i, x in enumerate(d.get('data') or []):
        destination(x, 'data[%d]' % i)
    p = d.get('pagination')
    need(isinstance(p, dict), 'pagination')
    if isinstance(p, dict):
        need(isinstance(p.get('hasNext'), bool) and isinstance(p.get('hasPrevious'), bool),
             'pagination.hasNext/hasPrevious')
        opt(p, 'total', lambda v: is_int(v), 'pagination.total')
        opt(p, 'limit', lambda v: is_int(v, 1), 'pagination.limit')
        opt(p, 'offset', lambda v: is_int(v), 'pagination.offset')
        for k in ('nextCursor', 'previousCursor'):
            opt(p, k, lambda v: isinstance(v, str), 'pagination.' + k)


def validation_result(d):
    need(isinstance(d.get('isValid'), bool), 'isValid')
    opt(d, 'errors', strs, 'errors is not an array of strings')
    opt(d, 'warnings', strs, 'warnings is not an array of strings')


def connection_test(d):
    need(isinstance(d.get('success'), bool), 'success')
    opt(d, 'responseTime', is_num, 'responseTime')
    opt(d, 'statusCode', is_num, 'statusCode')
    opt(d, 'error', lambda v: isinstance(v, str), 'error')
    opt(d, 'details', lambda v: isinstance(v, dict), 'details')


def main():
    kind, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        d = json.load(f)
    {'destination': destination, 'destinations-page': page,
     'validation-result': validation_result, 'connection-test': connection_test}[kind](d)
    for p in problems:
        print(p)


if __name__ == '__main__':
    main()
