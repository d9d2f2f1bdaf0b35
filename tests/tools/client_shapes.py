#!/usr/bin/env python3
"""client_shapes.py - holds answers of the export, stream and statistics routes against the
shapes @smedrec/audit-client expects (its ExportResult, export status, statistics and event
types; written here in our own words from what those types require).

usage: client_shapes.py KIND FILE [ORG]
Prints one line per problem found (nothing when the answer fits), and for files of events
a last line "count N". KIND: export-result, export-status, statistics, events-ndjson,
events-json, csv, xml, pseudonymization-result; and for the GDPR export (compliance.exportGdprData, streamGdprExport:
its GdprExportParams answered by GdprExportResult) gdpr-json, gdpr-ndjson, gdpr-csv,
gdpr-xml, with ORG and SUBJECT: every event is the subject's (principalId or
targetResourceId) and the organization's; and for the compliance reports (compliance.generate*
Report, getReportStatus, getReportHistory) hipaa-report, gdpr-report, custom-report,
integrity-report, report-status, report-history; and the alerts (metrics.getAlerts...): alert,
alerts-page, alert-statistics, alert-action, alert-config (ORG: every alert is the organization's).
"""
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET

ISO_CLIENT = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$')  # its isISODateTime
ISO_ANY = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$')       # zod's datetime()
STATUSES = {'attempt', 'success', 'failure'}
CLASSES = {'PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'PHI'}
EXPORT_STATUSES = {'pending', 'processing', 'completed', 'failed'}
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def is_int(v, lo=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def export_result(d):
    need(isinstance(d, dict), 'not an object')
    need(isinstance(d.get('exportId'), str) and d['exportId'].startswith('export-'),
         'exportId does not start with export-')
    need(d.get('format') in {'json', 'csv', 'xml', 'pdf', 'parquet', 'avro'}, 'format')
    need(is_int(d.get('recordCount')), 'recordCount is not a non-negative integer')
    need(is_int(d.get('dataSize')), 'dataSize is not a non-negative integer')
    need(isinstance(d.get('exportTimestamp'), str) and ISO_CLIENT.match(d['exportTimestamp']),
         'exportTimestamp is not ISO 8601 with 0 or 3 fraction digits')
    need(d.get('status') in EXPORT_STATUSES, 'status %r' % d.get('status'))
    if 'progress' in d:
        need(isinstance(d['progress'], (int, float)) and 0 <= d['progress'] <= 100, 'progress')
    for k in ('downloadUrl',):
        need(k not in d, '%s present (the client needs an absolute URL there)' % k)
    for k in ('expiresAt',):
        if k in d:
            need(ISO_ANY.match(d[k]) is not None, k)
    m = d.get('metadata')
    if m is not None:
        need(m.get('compression') in {None, 'gzip', 'zip', 'bzip2', 'none'}, 'metadata.compression')
        need('chunks' not in m or is_int(m['chunks'], 1), 'metadata.chunks')


def export_status(d):
    need(isinstance(d.get('id'), str) and d['id'], 'id')
    need(d.get('status') in EXPORT_STATUSES, 'status %r' % d.get('status'))
    need('progress' not in d or isinstance(d['progress'], (int, float)), 'progress')
    need('recordCount' not in d or is_int(d['recordCount']), 'recordCount')
    need('error' not in d or isinstance(d['error'], str), 'error')
    for k in ('completedAt', 'expiresAt'):
        need(k not in d or (isinstance(d[k], str) and ISO_ANY.match(d[k])), k)


def statistics(d):
    need(is_int(d.get('totalEvents')), 'totalEvents')
    total = d.get('totalEvents')
    for member, keys in (('eventsByStatus', STATUSES), ('eventsByAction', None),
                         ('eventsByDataClassification', CLASSES)):
        m = d.get(member)
        need(isinstance(m, dict), member)
        if not isinstance(m, dict):
            continue
        if keys:
            need(keys <= set(m), '%s lacks one of %s' % (member, sorted(keys)))
        need(all(is_int(v) for v in m.values()), '%s values are not counts' % member)
        need(sum(m.values()) == total, '%s does not add up to totalEvents' % member)
    # the client's AuditEventStatisticsSchema requires it; events without a type are not in it
    m = d.get('eventsByResourceType')
    need(isinstance(m, dict), 'eventsByResourceType')
    if isinstance(m, dict):
        need(all(is_int(v, 1) for v in m.values()), 'eventsByResourceType values are not counts')
        need(sum(m.values()) <= (total or 0), 'eventsByResourceType counts more than totalEvents')
    if 'timeline' in d:
        t = d['timeline']
        need(isinstance(t, list) and all(isinstance(p, dict) and ISO_ANY.match(p.get('timestamp', ''))
                                          and is_int(p.get('count')) for p in t), 'timeline')
        need(sum(p['count'] for p in t) == total, 'timeline does not add up to totalEvents')


def event(e, org):
    need(isinstance(e, dict), 'an event is not an object')
    need(isinstance(e.get('id'), str) and e['id'] != '', 'id is not a non-empty string')
    need(isinstance(e.get('timestamp'), str) and ISO_ANY.match(e['timestamp']) is not None,
         'timestamp %r' % e.get('timestamp'))
    for k in ('action', 'principalId', 'organizationId'):
        need(isinstance(e.get(k), str) and e[k] != '', '%s missing' % k)
    need(e.get('status') in STATUSES, 'status %r' % e.get('status'))
    need(e.get('dataClassification') in CLASSES, 'dataClassification')
    need(org is None or e.get('organizationId') == org,
         'an event of another organization: %r' % e.get('organizationId'))


def pseudonymization_result(d):
    """The answer compliance.pseudonymizeData resolves to (its PseudonymizationResult)."""
    need(isinstance(d, dict), 'not an object')
    # what the client requires (its PseudonymizationResultSchema)
    need(isinstance(d.get('requestId'), str) and d['requestId'] != '', 'requestId')
    need(d.get('status') in EXPORT_STATUSES, 'status is not pending|processing|completed|failed')
    need(d.get('method') in {'hash', 'encryption', 'tokenization', 'masking', 'generalization',
                             'suppression'}, 'method is not one of the client\'s methods')
    need(isinstance(d.get('processingTime'), (int, float)) and not isinstance(d.get('processingTime'), bool)
         and d['processingTime'] >= 0, 'processingTime is not a number >= 0')
    need(isinstance(d.get('reversible'), bool), 'reversible is not a boolean')
    if 'completedAt' in d:
        need(isinstance(d['completedAt'], str) and ISO_ANY.match(d['completedAt']), 'completedAt')
    # the operation's own members (docs/gdpr.md)
    need(isinstance(d.get('operationId'), str) and d['operationId'] != '', 'operationId')
    need(isinstance(d.get('processedAt'), str) and ISO_ANY.match(d['processedAt']), 'processedAt')
    sm = d.get('summary')
    need(isinstance(sm, dict), 'summary is not an object')
    if isinstance(sm, dict):
        for k in ('totalRecords', 'processedRecords', 'failedRecords'):
            need(is_int(sm.get(k)), 'summary.%s is not a non-negative integer' % k)
        need(isinstance(sm.get('affectedFields'), list) and
             all(isinstance(f, str) for f in sm['affectedFields']), 'summary.affectedFields')
    if 'mapping' in d:
        need(isinstance(d['mapping'], dict) and
             all(isinstance(v, str) for v in d['mapping'].values()), 'mapping is not string to string')
    if 'errors' in d:
        need(isinstance(d['errors'], list) and all(
            isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ('recordId', 'field', 'error'))
            for e in d['errors']), 'errors are not {recordId, field, error} strings')
ART15 = ('purposes', 'categories', 'recipients', 'storagePeriod', 'source', 'rights',
         'automatedDecisionMaking', 'complaint')


def gdpr_head(d, org, subject):
    """The members GdprExportResult requires, and the Art. 15(1) answers."""
    need(isinstance(d.get('exportId'), str) and d['exportId'].startswith('gdpr-'), 'exportId')
    need(d.get('dataSubjectId') == subject, 'dataSubjectId %r' % d.get('dataSubjectId'))
    need(d.get('organizationId') == org, 'organizationId')
    need(d.get('format') in {'json', 'xml', 'csv', 'ndjson'}, 'format')
    need(isinstance(d.get('exportTimestamp'), str) and ISO_CLIENT.match(d['exportTimestamp']),
         'exportTimestamp is not ISO 8601 with 0 or 3 fraction digits')
    a = d.get('article15') or {}
    for k in ART15:
        need(k in a, 'article15.%s missing' % k)
    need(all(isinstance(p.get('purpose'), str) and p['purpose'] for p in a.get('purposes', [])),
         'a purpose without text')
    m = d.get('metadata') or {}
    need(isinstance(m.get('categories'), list) and isinstance(m.get('sources'), list), 'metadata')


def gdpr_event(e, org, subject):
    event(e, org)
    need(subject in (e.get('principalId'), e.get('targetResourceId')),
         'an event not about the subject: %r' % e.get('id'))


def gdpr_consultation(c):
    need(isinstance(c.get('date'), str) and ISO_ANY.match(c['date']), 'consultation date')
    need(isinstance(c.get('purpose'), str) and c['purpose'], 'consultation purpose')
    need('consultedBy' in c, 'consultation consultedBy')


# ---- compliance reports: what HIPAAReport, GDPRReport, CustomReport, the integrity report,
# the status and the history require (restated from the client's types) ----
def score(v, what):
    need(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100, what + ' is not 0..100')


def report_metadata(m):
    need(isinstance(m, dict), 'metadata is not an object')
    m = m or {}
    need(isinstance(m.get('generatedBy'), str) and m['generatedBy'], 'metadata.generatedBy')
    need(isinstance(m.get('generatedAt'), str) and ISO_ANY.match(m['generatedAt']), 'metadata.generatedAt')
    need(isinstance(m.get('reportId'), str), 'metadata.reportId')
    need(isinstance(m.get('version'), str) and m['version'], 'metadata.version')
    dr = m.get('dataRange') or {}
    need(isinstance(dr.get('startDate'), str) and isinstance(dr.get('endDate'), str), 'metadata.dataRange')
    need(is_int(m.get('totalEvents')), 'metadata.totalEvents')
    need(isinstance(m.get('processingTime'), (int, float)) and m['processingTime'] >= 0, 'metadata.processingTime')


def report_common(d, want_type):
    need(isinstance(d, dict), 'not an object')
    need(isinstance(d.get('id'), str), 'id')
    need(d.get('type') == want_type, 'type %r' % d.get('type'))
    need(isinstance(d.get('generatedAt'), str) and ISO_ANY.match(d['generatedAt']), 'generatedAt')
    need(isinstance((d.get('criteria') or {}).get('dateRange'), dict), 'criteria.dateRange')
    report_metadata(d.get('metadata'))
    for f in d.get('figures', []):
        need(isinstance(f.get('query'), str) and f['query'], 'figure %r without its query' % f.get('id'))
        need('events' not in f or f['value'] <= 25, 'figure %r names events above 25' % f.get('id'))
        need('events' not in f or len(f['events']) == f['value'], 'figure %r names %d events of %r' %
             (f.get('id'), len(f.get('events', [])), f.get('value')))


def hipaa_report(d):
    report_common(d, 'HIPAA_AUDIT_TRAIL')
    s = d.get('summary') or {}
    need(is_int(s.get('totalEvents')), 'summary.totalEvents')
    score(s.get('complianceScore'), 'summary.complianceScore')
    need(is_int(s.get('violations')), 'summary.violations')
    need(isinstance(s.get('recommendations'), list) and all(isinstance(r, str) and r for r in s['recommendations']),
         'summary.recommendations')
    need(s.get('overallStatus') in {'compliant', 'non_compliant', 'partial', 'unknown'}, 'summary.overallStatus')
    for sec in d.get('sections') or []:
        need(sec.get('safeguard') in {'administrative', 'physical', 'technical', 'organizational'}, 'section.safeguard')
        need(sec.get('status') in {'compliant', 'non_compliant', 'partial', 'unknown'}, 'section.status')
        need(all(isinstance(e, str) for e in sec.get('events', [None])), 'section.events')
        for v in sec.get('violations', []):
            need(v.get('severity') in {'low', 'medium', 'high', 'critical'}, 'violation.severity')
            for k in ('eventId', 'violationType', 'description', 'recommendation'):
                need(isinstance(v.get(k), str) and v[k], 'violation.' + k)
        score(sec.get('score'), 'section.score')
        for k in ('title', 'description'):
            need(isinstance(sec.get(k), str) and sec[k], 'section.' + k)


UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
BASES = {'consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'}


def gdpr_report(d):
    report_common(d, 'GDPR_PROCESSING_ACTIVITIES')
    s = d.get('summary') or {}
    for k in ('totalEvents', 'dataSubjects', 'processingActivities', 'dataSubjectRequests', 'breaches'):
        need(is_int(s.get(k)), 'summary.' + k)
    need(isinstance(s.get('lawfulBases'), list) and all(b in BASES for b in s['lawfulBases']), 'summary.lawfulBases')
    score(s.get('complianceScore'), 'summary.complianceScore')
    for sec in d.get('sections') or []:
        need(sec.get('status') in {'compliant', 'non_compliant', 'partial', 'not_applicable'}, 'section.status')
        need(all(isinstance(e, str) and UUID.match(e) for e in sec.get('events', [])), 'section.events (uuids)')
        for a in sec.get('processingActivities', []):
            need(a.get('lawfulBasis') in BASES, 'activity.lawfulBasis')
            need(is_int(a.get('eventCount')), 'activity.eventCount')
            for k in ('id', 'name', 'purpose'):
                need(isinstance(a.get(k), str) and (k == 'id' or a[k]), 'activity.' + k)
        for r in sec.get('dataSubjectRequests', []):
            need(r.get('type') in {'access', 'rectification', 'erasure', 'restrict_processing', 'data_portability',
                                   'object', 'automated_decision_making'}, 'request.type')
            need(is_int(r.get('count')), 'request.count')
            score(r.get('completionRate'), 'request.completionRate')
        score(sec.get('score'), 'section.score')


def custom_report(d):
    report_common(d, 'custom')
    need(isinstance(d.get('name'), str), 'name')
    need(isinstance(d.get('data'), list) and all(isinstance(r, dict) for r in d['data']), 'data')
    need(isinstance(d.get('summary'), dict), 'summary')


def integrity_report(d):
    report_common(d, 'INTEGRITY_VERIFICATION')
    need(isinstance(d.get('verificationId'), str), 'verificationId')
    need(isinstance(d.get('verifiedAt'), str) and ISO_ANY.match(d['verifiedAt']), 'verifiedAt')
    r = d.get('results') or {}
    for k in ('totalEvents', 'verifiedEvents', 'failedVerifications', 'unverifiedEvents'):
        need(is_int(r.get(k)), 'results.' + k)
    score(r.get('verificationRate'), 'results.verificationRate')
    for f in d.get('failures', []):
        need(f.get('severity') in {'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'}, 'failure.severity')
        for k in ('eventId', 'expectedHash', 'actualHash', 'hashAlgorithm', 'failureReason'):
            need(isinstance(f.get(k), str), 'failure.' + k)
    st = d.get('statistics') or {}
    need(isinstance(st.get('hashAlgorithms'), dict), 'statistics.hashAlgorithms')
    lat = st.get('verificationLatency') or {}
    for k in ('average', 'median', 'p95'):
        need(isinstance(lat.get(k), (int, float)) and lat[k] >= 0, 'statistics.verificationLatency.' + k)


def report_status(d):
    need(isinstance(d.get('id'), str), 'id')
    need(d.get('status') in {'pending', 'processing', 'completed', 'failed', 'cancelled'}, 'status')
    need(isinstance(d.get('progress'), (int, float)) and 0 <= d['progress'] <= 100, 'progress')
    need('error' not in d or isinstance(d['error'], str), 'error')


def report_history(d):
    for r in d.get('reports', [None]):
        need(isinstance(r, dict), 'a report is not an object')
        r = r or {}
        for k in ('id', 'type', 'name', 'generatedAt', 'status'):
            need(isinstance(r.get(k), str), 'report.' + k)
        need(is_int(r.get('size')), 'report.size')
    p = d.get('pagination') or {}
    for k in ('total', 'limit', 'offset'):
        need(is_int(p.get(k)), 'pagination.' + k)
    need(isinstance(p.get('hasNext'), bool), 'pagination.hasNext')


REPORT_KINDS = {'hipaa-report': hipaa_report, 'gdpr-report': gdpr_report, 'custom-report': custom_report,
                'integrity-report': integrity_report, 'report-status': report_status,
                'report-history': report_history}


# ---- alerts (metrics.getAlerts, getAlert, getAlertStatistics, acknowledgeAlert, resolveAlert,
# dismissAlert, getAlertConfig, saveAlertConfig: the client's Alert, PaginatedAlerts,
# AlertStatistics, AlertActionResponse and AlertsConfiguration, in our words) ----
ALERT_SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']
ALERT_STATUSES = ['active', 'acknowledged', 'resolved', 'dismissed']
ALERT_TYPES = ['SECURITY', 'COMPLIANCE', 'PERFORMANCE', 'SYSTEM', 'METRICS', 'DELIVERY', 'CUSTOM']
ALERT_CATEGORIES = ['performance', 'security', 'compliance', 'system', 'data_quality',
                    'availability', 'capacity', 'custom']


def alert(a, org):
    need(isinstance(a, dict), 'an alert is not an object')
    need(isinstance(a.get('id'), str), 'alert id')
    need(isinstance(a.get('organizationId'), str) and a['organizationId'], 'organizationId')
    need(org is None or a.get('organizationId') == org, 'an alert of another organization')
    need(isinstance(a.get('title'), str) and a['title'], 'title')
    need('description' not in a or isinstance(a['description'], str), 'description')
    need(a.get('severity') in ALERT_SEVERITIES, 'severity %r' % a.get('severity'))
    need(a.get('status') in ALERT_STATUSES, 'status %r' % a.get('status'))
    need(a.get('type') in ALERT_TYPES, 'type %r' % a.get('type'))
    need(isinstance(a.get('source'), str), 'source')
    need(isinstance(a.get('createdAt'), str) and ISO_ANY.match(a['createdAt']), 'createdAt')
    for k in ('acknowledgedAt', 'resolvedAt'):
        # optional: absent, never null
        need(k not in a or (isinstance(a[k], str) and ISO_ANY.match(a[k])), k)
    for k in ('acknowledged', 'resolved'):
        need(isinstance(a.get(k), bool), k)
    for k in ('acknowledgedBy', 'resolvedBy', 'resolutionNotes', 'correlationId'):
        need(k not in a or isinstance(a[k], str), k + ' is present but not a string')
    need(isinstance(a.get('tags', []), list) and all(isinstance(t, str) for t in a.get('tags', [])), 'tags')
    need('metadata' not in a or isinstance(a['metadata'], dict), 'metadata')


def counts_of(d, keys, what):
    need(isinstance(d, dict), what + ' is not an object')
    for k in keys:
        need(isinstance(d, dict) and is_int(d.get(k)), '%s.%s' % (what, k))


def alerts_page(d, org):
    need(isinstance(d.get('data'), list), 'no data array')
    for a in d.get('data', []):
        alert(a, org)
    p = d.get('pagination') or {}
    need(is_int(p.get('total')) and is_int(p.get('limit'), 1) and is_int(p.get('offset')), 'pagination numbers')
    need(isinstance(p.get('hasNext'), bool) and isinstance(p.get('hasPrevious'), bool), 'pagination flags')
    if 'summary' in d:
        s = d['summary']
        for k in ('totalAlerts', 'activeAlerts', 'criticalAlerts'):
            need(is_int(s.get(k)), 'summary.' + k)
        counts_of(s.get('alertsBySeverity'), ALERT_SEVERITIES, 'summary.alertsBySeverity')
        counts_of(s.get('alertsByCategory'), ALERT_CATEGORIES, 'summary.alertsByCategory')
        need(set(s.get('alertsByCategory', {})) <= set(ALERT_CATEGORIES), 'a category the client does not know')


def alert_statistics(d):
    for k in ('total', 'active', 'acknowledged', 'resolved', 'dismissed'):
        need(is_int(d.get(k)), k)
    counts_of(d.get('bySeverity'), ALERT_SEVERITIES, 'bySeverity')
    counts_of(d.get('byType'), ALERT_TYPES, 'byType')
    need(isinstance(d.get('bySource'), dict), 'bySource')
    need(isinstance(d.get('trends'), list), 'trends')
    for t in d.get('trends', []):
        need(isinstance(t.get('period'), str) and is_int(t.get('created')) and is_int(t.get('resolved')), 'a trend')


def alert_action(d):
    need(isinstance(d.get('success'), bool), 'success')
    need('message' not in d or isinstance(d['message'], str), 'message')


def alert_config(d):
    num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    need(num(d.get('failureRateThreshold')) and 0 <= d['failureRateThreshold'] <= 100, 'failureRateThreshold')
    need(is_int(d.get('consecutiveFailureThreshold'), 1), 'consecutiveFailureThreshold')
    for k in ('queueBacklogThreshold', 'responseTimeThreshold', 'debounceWindow', 'escalationDelay'):
        need(num(d.get(k)) and d[k] >= 0, k)
    for w in d.get('suppressionWindows', []):
        need(all(isinstance(w.get(k), str) for k in ('start', 'end', 'timezone', 'reason')), 'a suppression window')


ALERT_KINDS = {'alert': lambda d, org: alert(d, org), 'alerts-page': alerts_page,
               'alert-statistics': lambda d, org: alert_statistics(d),
               'alert-action': lambda d, org: alert_action(d),
               'alert-config': lambda d, org: alert_config(d)}


def main():
    kind, path = sys.argv[1], sys.argv[2]
    org = sys.argv[3] if len(sys.argv) > 3 else None
    raw = open(path, 'rb').read()
    text = raw.decode('utf-8')  # raises on anything that is not UTF-8
    count = None
    if kind in REPORT_KINDS:
        REPORT_KINDS[kind](json.loads(text))
    elif kind in ALERT_KINDS:
        ALERT_KINDS[kind](json.loads(text), org)
    elif kind == 'export-result':
        export_result(json.loads(text))
    elif kind == 'export-status':
        export_status(json.loads(text))
    elif kind == 'statistics':
        statistics(json.loads(text))
    elif kind == 'pseudonymization-result':
        pseudonymization_result(json.loads(text))
    elif kind == 'events-ndjson':
        lines = [l for l in text.split('\n') if l]
        need(text == '' or text.endswith('\n'), 'the last line is not ended')
        for l in lines:
            event(json.loads(l), org)
        count = len(lines)
    elif kind == 'events-json':
        d = json.loads(text)
        need(isinstance(d.get('events'), list), 'no events array')
        for e in d['events']:
            event(e, org)
        need(d.get('recordCount') == len(d['events']), 'recordCount differs from the events')
        count = len(d['events'])
    elif kind == 'csv':
        rows = list(csv.reader(io.StringIO(text, newline='')))
        header, body = rows[0], rows[1:]
        need(header[0] == 'id', 'no header line')
        for r in body:
            need(len(r) == len(header), 'a row has %d cells, the header %d' % (len(r), len(header)))
            for cell in r:
                need(not cell or cell[0] not in '=+-@\t\r',
                     'a cell a spreadsheet would run as a formula: %r' % cell[:40])
            if org:
                need(r[header.index('organizationId')] == org, 'a row of another organization')
        count = len(body)
    elif kind == 'xml':
        root = ET.fromstring(raw)
        need(root.tag == 'auditEvents', 'root element %r' % root.tag)
        evs = root.findall('event')
        for e in evs:
            need(e.findtext('id'), 'an event without id')
            need(org is None or e.findtext('organizationId') == org, 'an event of another organization')
        count = len(evs)
    elif kind == 'gdpr-json':
        subject = sys.argv[4]
        d = json.loads(text)
        gdpr_head(d, org, subject)
        need(d.get('status') in EXPORT_STATUSES, 'status %r' % d.get('status'))
        need(is_int(d.get('dataSize')) and d['dataSize'] == len(raw), 'dataSize is not the bytes sent')
        for c in d.get('consultations', []):
            gdpr_consultation(c)
        for e in d.get('events', []):
            gdpr_event(e, org, subject)
        need(d.get('recordCount') == len(d.get('events', [])), 'recordCount differs from the events')
        count = len(d.get('events', []))
    elif kind == 'gdpr-ndjson':
        subject = sys.argv[4]
        lines = [json.loads(l) for l in text.split('\n') if l]
        need(lines and lines[0].get('recordType') == 'header', 'the first line is not the header')
        need(lines and lines[-1].get('recordType') == 'trailer', 'the last line is not the trailer')
        gdpr_head(lines[0], org, subject)
        evs = [l for l in lines if l.get('recordType') == 'event']
        for l in lines:
            if l.get('recordType') == 'consultation':
                gdpr_consultation(l)
        for l in evs:
            gdpr_event(l.get('event') or {}, org, subject)
            need('receipt' in l, 'an event line without receipt')
        need(lines[-1].get('recordCount') == len(evs), 'the trailer\'s recordCount')
        count = len(evs)
    elif kind == 'gdpr-csv':
        subject = sys.argv[4]
        rows = list(csv.reader(io.StringIO(text, newline='')))
        header, body = rows[0], rows[1:]
        need(header[:4] == ['section', 'key', 'value', 'id'], 'header %r' % header[:4])
        for r in body:
            need(len(r) in (3, len(header)), 'a row has %d cells' % len(r))
            for cell in r:
                need(not cell or cell[0] not in '=+-@\t\r',
                     'a cell a spreadsheet would run as a formula: %r' % cell[:40])
        secs = {r[1] for r in body if r[0] == 'article15'}
        for k in ART15:
            need(k in secs, 'article15 row %s missing' % k)
        evs = [dict(zip(header, r)) for r in body if r[0] == 'event']
        for e in evs:
            need(e['organizationId'] == org, 'a row of another organization')
            need(subject in (e['principalId'], e['targetResourceId']), 'a row not about the subject')
        count = len(evs)
    elif kind == 'gdpr-xml':
        subject = sys.argv[4]
        root = ET.fromstring(raw)
        need(root.tag == 'gdprExport', 'root element %r' % root.tag)
        need(root.findtext('dataSubjectId') == subject, 'dataSubjectId')
        for k in ART15:
            need(root.find('article15/' + k) is not None, 'article15/%s missing' % k)
        evs = root.findall('auditEvents/event')
        for e in evs:
            need(e.findtext('organizationId') == org, 'an event of another organization')
            need(subject in (e.findtext('principalId'), e.findtext('targetResourceId')),
                 'an event not about the subject')
        need(root.findtext('recordCount') == str(len(evs)), 'recordCount')
        count = len(evs)
    else:
        sys.exit('unknown kind %s' % kind)
    for p in problems[:10]:
        print(p)
    if count is not None:
        print('count %d' % count)


main()
