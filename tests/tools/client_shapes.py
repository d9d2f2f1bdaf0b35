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
targetResourceId) and the organization's.
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


def main():
    kind, path = sys.argv[1], sys.argv[2]
    org = sys.argv[3] if len(sys.argv) > 3 else None
    raw = open(path, 'rb').read()
    text = raw.decode('utf-8')  # raises on anything that is not UTF-8
    count = None
    if kind == 'export-result':
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
