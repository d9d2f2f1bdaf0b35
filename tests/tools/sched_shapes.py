#!/usr/bin/env python3
"""sched_shapes.py - holds answers of the scheduled-report and template routes against the
shapes @smedrec/audit-client's scheduled reports and compliance services expect (ScheduledReport,
ReportExecution, the paginated lists, the upcoming list, ReportTemplate; written here in our own
words from what those types require: zod's optional members may be absent but never null).

usage: sched_shapes.py KIND FILE
Prints one line per problem found (nothing when the answer fits). KIND: scheduled-report,
reports-page, execution, executions-page, upcoming, template, templates.
"""
import json
import re
import sys

ISO = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$')
TYPES = {'HIPAA_AUDIT_TRAIL', 'GDPR_PROCESSING_ACTIVITIES', 'GENERAL_COMPLIANCE',
         'INTEGRITY_VERIFICATION', 'CUSTOM_REPORT'}
FORMATS = {'pdf', 'html', 'csv', 'json', 'xlsx', 'xml'}
FREQS = {'once', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'custom'}
STATUSES = {'pending', 'running', 'completed', 'failed', 'cancelled', 'skipped', 'timeout'}
TRIGGERS = {'scheduled', 'manual', 'api', 'retry', 'catchup'}
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def is_int(v, lo=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def iso(v):
    return isinstance(v, str) and ISO.match(v) is not None


def opt(d, key, check, what):
    if key in d:
        need(check(d[key]), what)


def schedule(s, p):
    need(isinstance(s, dict), p + ' is not an object')
    if not isinstance(s, dict):
        return
    need(s.get('frequency') in FREQS, p + '.frequency')
    need(isinstance(s.get('timezone'), str), p + '.timezone')
    need(is_int(s.get('hour')) and s['hour'] <= 23, p + '.hour')
    need(is_int(s.get('minute')) and s['minute'] <= 59, p + '.minute')
    for k in ('skipWeekends', 'skipHolidays', 'catchUpMissedRuns'):
        need(isinstance(s.get(k), bool), p + '.' + k)
    need(is_int(s.get('maxMissedRuns')) and s['maxMissedRuns'] <= 100, p + '.maxMissedRuns')
    opt(s, 'dayOfWeek', lambda v: v in {'sunday', 'monday', 'tuesday', 'wednesday', 'thursday',
                                        'friday', 'saturday'}, p + '.dayOfWeek')
    opt(s, 'dayOfMonth', lambda v: is_int(v, 1) and v <= 31, p + '.dayOfMonth')
    if s.get('frequency') == 'custom':
        need(isinstance(s.get('cronExpression'), str), p + '.cronExpression')


def scheduled_report(r, p='report'):
    need(isinstance(r, dict), p + ' is not an object')
    if not isinstance(r, dict):
        return
    need(isinstance(r.get('id'), str) and r['id'].startswith('report-'), p + '.id starts with report-')
    need(isinstance(r.get('name'), str) and 0 < len(r['name']) <= 255, p + '.name')
    need(isinstance(r.get('organizationId'), str) and r['organizationId'], p + '.organizationId')
    need(r.get('reportType') in TYPES, p + '.reportType')
    need(isinstance(r.get('criteria'), dict), p + '.criteria')
    need(r.get('format') in FORMATS, p + '.format')
    schedule(r.get('schedule'), p + '.schedule')
    d = r.get('delivery')
    need(isinstance(d, dict) and (d.get('destinations') == 'default' or
                                  (isinstance(d.get('destinations'), list) and
                                   all(isinstance(x, str) for x in d['destinations']))),
         p + '.delivery.destinations')
    need(isinstance(r.get('export'), dict), p + '.export')
    need(isinstance(r.get('enabled'), bool), p + '.enabled')
    for k in ('createdAt', 'updatedAt', 'nextRun'):
        need(iso(r.get(k)), p + '.' + k + ' is not an ISO date-time')
    opt(r, 'lastRun', iso, p + '.lastRun')
    for k in ('createdBy', 'updatedBy'):
        need(isinstance(r.get(k), str) and r[k], p + '.' + k)
    for k in ('executionCount', 'successCount', 'failureCount'):
        need(is_int(r.get(k)), p + '.' + k)
    need(isinstance(r.get('tags'), list) and all(isinstance(t, str) for t in r['tags']), p + '.tags')
    need(is_int(r.get('version'), 1), p + '.version')
    opt(r, 'description', lambda v: isinstance(v, str), p + '.description')
    opt(r, 'templateId', lambda v: isinstance(v, str), p + '.templateId')
    opt(r, 'metadata', lambda v: isinstance(v, dict), p + '.metadata')
    opt(r, 'notifications', lambda v: isinstance(v, dict), p + '.notifications')


def pagination(pg, p):
    need(isinstance(pg, dict), p + ' is not an object')
    if isinstance(pg, dict):
        need(is_int(pg.get('total')), p + '.total')
        need(is_int(pg.get('limit'), 1), p + '.limit')
        need(is_int(pg.get('offset')), p + '.offset')
        need(isinstance(pg.get('hasNext'), bool) and isinstance(pg.get('hasPrevious'), bool),
             p + '.hasNext/hasPrevious')


def execution(e, p='execution'):
    need(isinstance(e, dict), p + ' is not an object')
    if not isinstance(e, dict):
        return
    need(isinstance(e.get('id'), str) and e['id'].startswith('execution-'), p + '.id starts with execution-')
    need(isinstance(e.get('scheduledReportId'), str), p + '.scheduledReportId')
    need(e.get('status') in STATUSES, p + '.status')
    need(e.get('trigger') in TRIGGERS, p + '.trigger')
    need(iso(e.get('scheduledTime')), p + '.scheduledTime')
    opt(e, 'executionTime', iso, p + '.executionTime')
    opt(e, 'duration', lambda v: is_num(v) and v >= 0, p + '.duration')
    opt(e, 'reportId', lambda v: isinstance(v, str), p + '.reportId')
    opt(e, 'recordsProcessed', is_int, p + '.recordsProcessed')
    opt(e, 'deliveryId', lambda v: isinstance(v, str), p + '.deliveryId')
    opt(e, 'metadata', lambda v: isinstance(v, dict), p + '.metadata')
    if 'error' in e:
        need(isinstance(e['error'], dict) and isinstance(e['error'].get('code'), str) and
             isinstance(e['error'].get('message'), str), p + '.error {code, message}')
    if 'exportResult' in e:
        x = e['exportResult']
        need(isinstance(x, dict) and isinstance(x.get('exportId'), str) and
             x.get('format') in {'json', 'csv', 'xml', 'pdf', 'parquet', 'avro'} and
             is_int(x.get('recordCount')) and is_int(x.get('dataSize')) and
             iso(x.get('exportTimestamp')) and
             x.get('status') in {'pending', 'processing', 'completed', 'failed'},
             p + '.exportResult')


def template(t, p='template'):
    need(isinstance(t, dict), p + ' is not an object')
    if not isinstance(t, dict):
        return
    for k in ('id', 'name', 'organizationId', 'version', 'createdBy'):
        need(isinstance(t.get(k), str) and t[k], p + '.' + k)
    need(t.get('category') in {'hipaa', 'gdpr', 'custom', 'privacy', 'security', 'audit'}, p + '.category')
    need(t.get('reportType') in TYPES, p + '.reportType')
    need(t.get('defaultFormat') in FORMATS, p + '.defaultFormat')
    for k in ('isPublic', 'isActive', 'isDefault'):
        need(isinstance(t.get(k), bool), p + '.' + k)
    c = t.get('configuration')
    need(isinstance(c, dict) and isinstance(c.get('sections'), list), p + '.configuration.sections')
    need(is_int(t.get('usageCount')), p + '.usageCount')
    for k in ('createdAt', 'updatedAt'):
        need(iso(t.get(k)), p + '.' + k)
    opt(t, 'tags', lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v), p + '.tags')
    opt(t, 'updatedBy', lambda v: isinstance(v, str), p + '.updatedBy')
    for k in ('defaultCriteria', 'defaultExport', 'defaultDelivery', 'defaultNotifications'):
        opt(t, k, lambda v: isinstance(v, dict), p + '.' + k)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        d = json.load(f)
    if kind == 'scheduled-report':
        scheduled_report(d)
    elif kind == 'reports-page':
        need(isinstance(d.get('data'), list), 'data')
        for i, r in enumerate(d.get('data') or []):
            scheduled_report(r, 'data[%d]' % i)
        pagination(d.get('pagination'), 'pagination')
        s = d.get('summary', {})
        need(all(is_int(s.get(k)) for k in ('totalReports', 'enabledReports', 'disabledReports',
                                            'upcomingExecutions')), 'summary counts')
        need(isinstance(s.get('reportsByType'), dict) and
             all(k in TYPES and is_int(v) for k, v in s['reportsByType'].items()), 'summary.reportsByType')
    elif kind == 'execution':
        execution(d)
    elif kind == 'executions-page':
        need(isinstance(d.get('data'), list), 'data')
        for i, e in enumerate(d.get('data') or []):
            execution(e, 'data[%d]' % i)
        pagination(d.get('pagination'), 'pagination')
        if 'summary' in d:
            s = d['summary']
            need(is_int(s.get('totalExecutions')) and is_num(s.get('successRate')) and
                 0 <= s['successRate'] <= 100 and is_num(s.get('averageDuration')), 'summary')
            opt(s, 'lastRun', iso, 'summary.lastRun')
            opt(s, 'nextRun', iso, 'summary.nextRun')
    elif kind == 'upcoming':
        need(isinstance(d, list), 'not an array')
        for i, u in enumerate(d if isinstance(d, list) else []):
            need(isinstance(u.get('reportId'), str) and isinstance(u.get('reportName'), str) and
                 iso(u.get('nextExecution')) and isinstance(u.get('frequency'), str), 'upcoming[%d]' % i)
    elif kind == 'template':
        template(d)
    elif kind == 'templates':
        need(isinstance(d, list), 'not an array')
        for i, t in enumerate(d if isinstance(d, list) else []):
            template(t, '[%d]' % i)
    else:
        problems.append('unknown kind ' + kind)
    for p in problems:
        print(p)


main()
