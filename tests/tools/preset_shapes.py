#!/usr/bin/env python3
"""preset_shapes.py - does a presets answer have the shape smart-logs' client
expects? (its AuditPreset, PresetVersion, PresetVersionHistory,
PresetUsageStats, PresetApplicationResult, ValidationResult and the list's
PaginatedAuditPresets, restated here in our own words as checks.)

usage: preset_shapes.py KIND FILE   (KIND: preset, version, history, stats,
apply, validation, list, error): prints "ok" or one problem per line and
exits 1; preset_shapes.py --batch CHECKS.tsv: runs a list of checks (batch())."""
import json
import re
import sys

ISO = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$')  # 0 or 3 fraction digits
RFC3339 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
CLASSES = {'PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'PHI'}
STATUSES = {'attempt', 'success', 'failure'}
CATEGORIES = {'authentication', 'authorization', 'data_access', 'data_modification',
              'system_administration', 'compliance', 'security', 'user_management',
              'configuration', 'monitoring', 'custom'}
problems = []


def bad(path, why):
    problems.append('%s: %s' % (path, why))


def text(v, path, min_len=0, max_len=None, optional=False, among=None):
    if v is None and optional:
        return
    if not isinstance(v, str):
        return bad(path, 'not a string: %r' % (v,))
    if len(v) < min_len:
        bad(path, 'shorter than %d' % min_len)
    if max_len is not None and len(v) > max_len:
        bad(path, 'longer than %d' % max_len)
    if among is not None and v not in among:
        bad(path, '%r not one of %s' % (v, sorted(among)))


def when(v, path, optional=False):
    if v is None and optional:
        return
    if not isinstance(v, str) or not ISO.match(v):
        bad(path, 'not an ISO 8601 time with 0 or 3 fraction digits: %r' % (v,))


def count(v, path):
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        bad(path, 'not a nonnegative integer: %r' % (v,))


def number(v, path, lo=0, hi=None):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        bad(path, 'not a number in [%s, %s]: %r' % (lo, hi, v))


def obj(v, path, optional=False):
    if v is None and optional:
        return False
    if not isinstance(v, dict):
        bad(path, 'not an object')
        return False
    return True


def strings(v, path, optional=False):
    if v is None and optional:
        return
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        bad(path, 'not an array of strings: %r' % (v,))


def boolean(v, path, optional=False):
    if v is None and optional:
        return
    if not isinstance(v, bool):
        bad(path, 'not a boolean: %r' % (v,))


def preset(p, path='preset'):
    if not obj(p, path):
        return
    text(p.get('name'), path + '.name', 1, 255)
    text(p.get('description'), path + '.description', 0, 1000, optional=True)
    t = p.get('template')
    if obj(t, path + '.template'):
        text(t.get('action'), path + '.template.action', 1)
        text(t.get('targetResourceType'), path + '.template.targetResourceType', 1)
        text(t.get('dataClassification'), path + '.template.dataClassification', among=CLASSES)
        text(t.get('status'), path + '.template.status', among=STATUSES, optional=True)
        obj(t.get('defaultDetails'), path + '.template.defaultDetails', optional=True)
    v = p.get('validation')
    if obj(v, path + '.validation'):
        strings(v.get('requiredFields'), path + '.validation.requiredFields')
        strings(v.get('optionalFields'), path + '.validation.optionalFields')
        obj(v.get('fieldValidation'), path + '.validation.fieldValidation')
    m = p.get('metadata')
    if obj(m, path + '.metadata'):
        when(m.get('createdAt'), path + '.metadata.createdAt')
        when(m.get('updatedAt'), path + '.metadata.updatedAt')
        text(m.get('createdBy'), path + '.metadata.createdBy', 1)
        text(m.get('lastModifiedBy'), path + '.metadata.lastModifiedBy', 1)
        text(m.get('version'), path + '.metadata.version', 1)
        strings(m.get('tags'), path + '.metadata.tags')
        text(m.get('category'), path + '.metadata.category', among=CATEGORIES, optional=True)
        count(m.get('usageCount', 0), path + '.metadata.usageCount')
        when(m.get('lastUsed'), path + '.metadata.lastUsed', optional=True)
        boolean(m.get('approvalRequired'), path + '.metadata.approvalRequired', optional=True)
    boolean(p.get('enabled'), path + '.enabled')  # the client's type guard wants it
    boolean(p.get('deprecated'), path + '.deprecated', optional=True)


def version(v, path='version'):
    if not obj(v, path):
        return
    text(v.get('version'), path + '.version', 1)
    preset(v.get('preset'), path + '.preset')
    when(v.get('createdAt'), path + '.createdAt')
    text(v.get('createdBy'), path + '.createdBy', 1)
    text(v.get('changeLog'), path + '.changeLog', optional=True)
    strings(v.get('tags', []), path + '.tags')
    boolean(v.get('isActive', False), path + '.isActive')


def history(h, path='history'):
    if not obj(h, path):
        return
    text(h.get('presetName'), path + '.presetName', 1)
    if not isinstance(h.get('versions'), list):
        return bad(path + '.versions', 'not an array')
    for i, v in enumerate(h['versions']):
        version(v, '%s.versions[%d]' % (path, i))
    count(h.get('totalVersions'), path + '.totalVersions')
    text(h.get('activeVersion'), path + '.activeVersion', optional=True)


def stats(s, path='stats'):
    if not obj(s, path):
        return
    text(s.get('presetName'), path + '.presetName', 1)
    count(s.get('totalUsage'), path + '.totalUsage')
    for name, key in (('usageByPeriod', None), ('usageByUser', 'userId'),
                      ('usageByOrganization', 'organizationId')):
        rows = s.get(name)
        if not isinstance(rows, list):
            bad(path + '.' + name, 'not an array')
            continue
        for i, r in enumerate(rows):
            rp = '%s.%s[%d]' % (path, name, i)
            if not obj(r, rp):
                continue
            count(r.get('count'), rp + '.count')
            if key is None:
                when(r.get('period'), rp + '.period')
            else:
                text(r.get(key), rp + '.' + key)
                when(r.get('lastUsed'), rp + '.lastUsed')
    number(s.get('errorRate'), path + '.errorRate', 0, 100)
    number(s.get('averageApplicationTime'), path + '.averageApplicationTime', 0)
    when(s.get('lastUsed'), path + '.lastUsed', optional=True)


def apply(a, path='apply'):
    if not obj(a, path):
        return
    boolean(a.get('success'), path + '.success')
    e = a.get('auditEvent')
    if obj(e, path + '.auditEvent', optional=True):
        # the event's own form is the event routes' (src/http/event_json.c, one
        # serializer for every route): checked by their tests, here only that
        # it is an RFC 3339 UTC time
        if not isinstance(e.get('timestamp'), str) or not RFC3339.match(e['timestamp']):
            bad(path + '.auditEvent.timestamp', 'not an RFC 3339 UTC time: %r' % (e.get('timestamp'),))
        text(e.get('action'), path + '.auditEvent.action', 1)
        text(e.get('status'), path + '.auditEvent.status', among=STATUSES)
    m = a.get('metadata')
    if obj(m, path + '.metadata', optional=True):
        text(m.get('presetName'), path + '.metadata.presetName')
        text(m.get('presetVersion'), path + '.metadata.presetVersion')
        number(m.get('applicationTime'), path + '.metadata.applicationTime')
        number(m.get('validationTime'), path + '.metadata.validationTime')


def validation(v, path='validation'):
    if not obj(v, path):
        return
    boolean(v.get('isValid'), path + '.isValid')
    strings(v.get('errors'), path + '.errors', optional=True)
    strings(v.get('warnings'), path + '.warnings', optional=True)


def listing(l, path='list'):
    if not obj(l, path):
        return
    if not isinstance(l.get('presets'), list):
        return bad(path + '.presets', 'not an array')
    for i, p in enumerate(l['presets']):
        preset(p, '%s.presets[%d]' % (path, i))
    pg = l.get('pagination')
    if obj(pg, path + '.pagination'):
        for k in ('total', 'limit', 'offset'):
            count(pg.get(k), path + '.pagination.' + k)
        boolean(pg.get('hasNext'), path + '.pagination.hasNext')
        boolean(pg.get('hasPrevious'), path + '.pagination.hasPrevious')
    m = l.get('metadata')
    if obj(m, path + '.metadata', optional=True):
        number(m.get('queryTime'), path + '.metadata.queryTime')
        count(m.get('totalCategories'), path + '.metadata.totalCategories')
        count(m.get('totalTags'), path + '.metadata.totalTags')


def error(e, path='body'):
    """auditdb's own error body: {"error":{"code","message","details","requestId"}}."""
    if not obj(e, path) or not obj(e.get('error'), path + '.error'):
        return
    err = e['error']
    text(err.get('code'), path + '.error.code', 1)
    text(err.get('message'), path + '.error.message', 1)
    obj(err.get('details'), path + '.error.details')
    text(err.get('requestId'), path + '.error.requestId', 1)


KINDS = {'preset': preset, 'version': version, 'history': history, 'stats': stats,
         'apply': apply, 'validation': validation, 'list': listing, 'error': error}

def shown(v):
    """A value as tests/lib.sh's jbody prints it."""
    return json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else str(v)


def refusal_field(e):
    details = e['error']['details']
    return details.get('field') or details['errors'][0]['field']


def batch(name):
    """Runs the checks listed in a TSV file (tests/sh/presets.sh writes it):
    shape NAME FILE KIND | eq NAME FILE EXPECTED EXPR | refusal NAME FILE FIELD;
    prints one ok / not ok line each (tests/run.sh counts them)."""
    global problems
    for line in open(name):
        kind, label, path, *args = line.rstrip('\n').split('\t')
        problems = []
        try:
            with open(path) as f:
                doc = json.load(f)
            if kind == 'shape':
                KINDS[args[0]](doc)
            elif kind == 'eq':
                got = shown(eval(args[1], {'d': doc, 'json': json}))
                if got != args[0]:
                    problems.append('expected: %s' % args[0])
                    problems.append('actual:   %s' % got)
            elif kind == 'refusal':
                error(doc)
                if not problems and refusal_field(doc) != args[0]:
                    problems.append('names %r, not %r' % (refusal_field(doc), args[0]))
        except Exception as e:  # a missing member is a failed check, not a crash
            problems.append('%s: %s (body: %.300s)' % (type(e).__name__, e, open(path).read()))
        print(('not ok - ' if problems else 'ok - ') + label)
        for p in problems:
            print('#   ' + p)


if __name__ == '__main__':
    if sys.argv[1] == '--batch':
        batch(sys.argv[2])
        sys.exit(0)
    kind, name = sys.argv[1], sys.argv[2]
    try:
        with open(name) as f:
            doc = json.load(f)
    except ValueError as e:
        print('not JSON: %s' % e)
        sys.exit(1)
    KINDS[kind](doc)
    print('\n'.join(problems) if problems else 'ok')
    sys.exit(1 if problems else 0)
