#!/usr/bin/env node
// check_openapi.js - validates api/openapi.json as OpenAPI 3.1 and lists its operations.
//
// usage: NODE_PATH=/path/to/node_modules node tests/tools/check_openapi.js [openapi.json]
//
// Needs @seriousme/openapi-schema-validator, installed outside the repository at test time
// (e.g. npm install --prefix "$TMP" @seriousme/openapi-schema-validator) and found via
// NODE_PATH. The document defaults to api/openapi.json next to this script's repository.
//
// Output, stdout:
//   "ok"                 when the document is valid and passes the project rules below,
//   "error: <text>"      one line per problem otherwise;
// then, whenever the document parses, one line "METHOD PATH" per operation (method in
// upper case, path as written, e.g. "GET /api/v1/audit/events/{id}"), sorted.
// Exit status: 0 valid, 1 invalid, 2 usage or environment problem.
//
// Project rules checked on top of the OpenAPI schema: openapi is 3.1.x; every operation has
// a unique operationId, a summary, a 2xx response and x-auditdb-permission ("none" or
// "resource:action"); operations with permission "none" have security [], the others do
// not; every local $ref resolves; every Schema Object compiles as JSON Schema 2020-12 in
// Ajv's strict mode (the OpenAPI schema does not look inside schemas), and every example
// of a parameter, header or media type validates against its schema. Ajv comes with the
// validator package.
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PERMISSION = /^(none|[a-z][a-z0-9_.-]*:[a-z*][a-z0-9_*-]*)$/;

function fail(msg) {
    process.stderr.write('check_openapi: ' + msg + '\n');
    process.exit(2);
}

function pointer(doc, ref) {
    if (!ref.startsWith('#/')) return undefined;
    let node = doc;
    for (const raw of ref.slice(2).split('/')) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
        node = node[key];
    }
    return node;
}

function collectRefs(node, out) {
    if (Array.isArray(node)) {
        node.forEach((n) => collectRefs(n, out));
    } else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
            if (k === '$ref' && typeof v === 'string') out.push(v);
            else collectRefs(v, out);
        }
    }
}

function projectRules(doc) {
    const errors = [];
    if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi))
        errors.push(`openapi is ${JSON.stringify(doc.openapi)}, want 3.1.x`);
    const seen = new Map();
    const schemes = (doc.components && doc.components.securitySchemes) || {};
    for (const name of ['ApiKeyAuth', 'BearerAuth'])
        if (!schemes[name]) errors.push(`components.securitySchemes.${name} is missing`);
    for (const [p, item] of Object.entries(doc.paths || {})) {
        for (const m of METHODS) {
            const op = item[m];
            if (!op) continue;
            const where = `${m.toUpperCase()} ${p}`;
            if (!op.operationId) errors.push(`${where}: no operationId`);
            else if (seen.has(op.operationId))
                errors.push(`${where}: operationId ${op.operationId} also used by ${seen.get(op.operationId)}`);
            else seen.set(op.operationId, where);
            if (!op.summary) errors.push(`${where}: no summary`);
            if (!op.responses || !Object.keys(op.responses).some((c) => /^2(\d\d|XX)$/.test(c)))
                errors.push(`${where}: no 2xx response`);
            const perm = op['x-auditdb-permission'];
            if (typeof perm !== 'string' || !PERMISSION.test(perm)) {
                errors.push(`${where}: x-auditdb-permission ${JSON.stringify(perm)} is not "none" or "resource:action"`);
                continue;
            }
            const sec = op.security !== undefined ? op.security : doc.security;
            const isPublic = Array.isArray(sec) && sec.length === 0;
            if (perm === 'none' && !isPublic) errors.push(`${where}: permission "none" but security is not []`);
            if (perm !== 'none' && isPublic) errors.push(`${where}: permission ${perm} but security is []`);
        }
    }
    const refs = [];
    collectRefs(doc, refs);
    for (const r of new Set(refs))
        if (r.startsWith('#') && pointer(doc, r) === undefined) errors.push(`unresolved $ref ${r}`);
    return errors;
}

// Every Schema Object of the document, with where it is and the examples that go with it.
function schemaSites(doc) {
    const sites = [];
    const comp = doc.components || {};
    const withExamples = (holder) => {
        const ex = [];
        if (holder && 'example' in holder) ex.push(holder.example);
        if (holder && holder.examples && typeof holder.examples === 'object')
            for (const e of Object.values(holder.examples)) if (e && 'value' in e) ex.push(e.value);
        return ex;
    };
    const resolve = (o) => (o && typeof o.$ref === 'string' ? pointer(doc, o.$ref) : o);
    for (const [n, s] of Object.entries(comp.schemas || {})) sites.push({ where: `#/components/schemas/${n}`, schema: s, examples: [] });
    const param = (where, p) => {
        p = resolve(p);
        if (p && p.schema) sites.push({ where, schema: p.schema, examples: withExamples(p) });
    };
    const content = (where, c) => {
        for (const [mt, m] of Object.entries(c || {}))
            if (m && m.schema) sites.push({ where: `${where} ${mt}`, schema: m.schema, examples: withExamples(m) });
    };
    const response = (where, r) => {
        r = resolve(r);
        if (!r) return;
        for (const [h, hv] of Object.entries(r.headers || {})) param(`${where} header ${h}`, hv);
        content(where, r.content);
    };
    for (const [n, p] of Object.entries(comp.parameters || {})) param(`#/components/parameters/${n}`, p);
    for (const [n, h] of Object.entries(comp.headers || {})) param(`#/components/headers/${n}`, h);
    for (const [n, r] of Object.entries(comp.responses || {})) response(`#/components/responses/${n}`, r);
    for (const [p, item] of Object.entries(doc.paths || {}))
        for (const m of METHODS) {
            const op = item && item[m];
            if (!op) continue;
            const where = `${m.toUpperCase()} ${p}`;
            for (const prm of op.parameters || []) if (!prm.$ref) param(`${where} parameter`, prm);
            if (op.requestBody && !op.requestBody.$ref) content(`${where} request`, op.requestBody.content);
            for (const [code, r] of Object.entries(op.responses || {})) if (!r.$ref) response(`${where} ${code}`, r);
        }
    return sites;
}

// An Ajv (JSON Schema 2020-12, strict) that knows the document's component schemas, and
// compile(schema) for any schema of the document; or { error } when Ajv cannot be found.
// validatorEntry: where the validator package resolved (Ajv is its dependency), or undefined.
function schemaCompiler(doc, validatorEntry) {
    let Ajv2020, addFormats;
    try {
        const near = validatorEntry ? [path.dirname(validatorEntry)] : [];
        const opts = { paths: [...near, ...(require.resolve.paths('ajv') || [])] };
        Ajv2020 = require(require.resolve('ajv/dist/2020', opts)).default;
        addFormats = require(require.resolve('ajv-formats', opts)).default;
    } catch (e) {
        return { error: `ajv (a dependency of the validator package) not found: ${e.message}` };
    }
    // schemas refer to each other as "#/components/schemas/X": register them all as $defs of
    // one schema and point those refs there
    const BASE = 'urn:auditdb:openapi:schemas';
    const PREFIX = '#/components/schemas/';
    const rewrite = (node) => {
        if (Array.isArray(node)) return node.map(rewrite);
        if (!node || typeof node !== 'object') return node;
        const out = {};
        for (const [k, v] of Object.entries(node))
            out[k] = k === '$ref' && typeof v === 'string' && v.startsWith(PREFIX)
                ? `${BASE}#/$defs/${v.slice(PREFIX.length)}` : rewrite(v);
        return out;
    };
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    try {
        ajv.addSchema({ $id: BASE, $defs: rewrite((doc.components && doc.components.schemas) || {}) });
    } catch (e) {
        return { error: `#/components/schemas: ${e.message}` };
    }
    return { compile: (schema) => ajv.compile(rewrite(schema)) };
}

// Compiles every schema with Ajv (JSON Schema 2020-12, strict) and checks the examples.
function checkSchemas(doc, validatorEntry) {
    const errors = [];
    const compiler = schemaCompiler(doc, validatorEntry);
    if (compiler.error) return [compiler.error];
    for (const site of schemaSites(doc)) {
        let validate;
        try {
            validate = compiler.compile(site.schema);
        } catch (e) {
            errors.push(`${site.where}: schema does not compile: ${e.message}`);
            continue;
        }
        site.examples.forEach((ex, i) => {
            if (!validate(ex))
                for (const e of validate.errors || [])
                    errors.push(`${site.where}: example ${i + 1}: ${e.instancePath || '/'} ${e.message}`);
        });
    }
    return errors;
}

function operations(doc) {
    const lines = [];
    for (const [p, item] of Object.entries(doc.paths || {}))
        for (const m of METHODS) if (item && item[m]) lines.push(`${m.toUpperCase()} ${p}`);
    return lines.sort();
}

async function main() {
    const file = process.argv[2] || path.join(__dirname, '..', '..', 'api', 'openapi.json');
    let text;
    try {
        text = fs.readFileSync(file, 'utf8');
    } catch (e) {
        fail(`cannot read ${file}: ${e.message}`);
    }
    let doc;
    try {
        doc = JSON.parse(text);
    } catch (e) {
        console.log(`error: ${file} is not JSON: ${e.message}`);
        process.exit(1);
    }

    // ESM package: resolve through NODE_PATH with require.resolve, then import() the file.
    let Validator, entry;
    try {
        entry = require.resolve('@seriousme/openapi-schema-validator');
        ({ Validator } = await import(pathToFileURL(entry).href));
    } catch (e) {
        fail('@seriousme/openapi-schema-validator not found; install it outside the repository ' +
             'and set NODE_PATH to its node_modules (' + e.message + ')');
    }

    const errors = [];
    const validator = new Validator();
    const res = await validator.validate(doc);
    if (!res.valid) {
        const list = Array.isArray(res.errors) ? res.errors : [res.errors];
        for (const e of list) {
            if (e && typeof e === 'object')
                errors.push(`schema: ${e.instancePath || e.instanceLocation || '/'} ${e.message || JSON.stringify(e)}`);
            else errors.push(`schema: ${String(e)}`);
        }
    } else if (!String(validator.version).startsWith('3.1')) {
        errors.push(`validated as OpenAPI ${validator.version}, want 3.1`);
    }
    errors.push(...projectRules(doc));
    if (errors.length === 0) errors.push(...checkSchemas(doc, entry));

    if (errors.length === 0) console.log('ok');
    else for (const e of errors) console.log(`error: ${e}`);
    for (const line of operations(doc)) console.log(line);
    process.exit(errors.length === 0 ? 0 : 1);
}

if (require.main === module) main().catch((e) => fail(e && e.stack ? e.stack : String(e)));

module.exports = { schemaCompiler };
