#!/usr/bin/env node
// check_response.js - checks a response body (stdin) against the schema api/openapi.json
// documents for it.
//
// usage: NODE_PATH=/path/to/node_modules node tests/tools/check_response.js OPENAPI METHOD PATH STATUS
//   PATH as the document writes it ("/health/detailed", "/api/v1/audit/events/{id}"),
//   STATUS the response's code; its application/json schema is used (or "default").
//
// Output: "ok" when the body validates, else "error: <text>" lines. Exit 0 ok, 1 invalid,
// 2 usage or environment problem. Ajv comes with @seriousme/openapi-schema-validator, as
// for check_openapi.js, whose schema compiler this uses.
'use strict';

const fs = require('fs');
const { schemaCompiler } = require('./check_openapi.js');

function die(msg) {
    process.stderr.write('check_response: ' + msg + '\n');
    process.exit(2);
}

const [file, method, p, status] = process.argv.slice(2);
if (!file || !method || !p || !status) die('usage: check_response.js OPENAPI METHOD PATH STATUS');
let doc, body;
try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
    die(`cannot read ${file}: ${e.message}`);
}
try {
    body = JSON.parse(fs.readFileSync(0, 'utf8'));
} catch (e) {
    console.log(`error: the body is not JSON: ${e.message}`);
    process.exit(1);
}
const op = doc.paths && doc.paths[p] && doc.paths[p][method.toLowerCase()];
if (!op) die(`${method} ${p} is not in ${file}`);
let resp = (op.responses || {})[status] || (op.responses || {}).default;
if (!resp) {
    console.log(`error: ${method} ${p} documents no ${status} response`);
    process.exit(1);
}
if (resp.$ref) resp = resp.$ref.split('/').slice(1).reduce((n, k) => n && n[k], doc);
const media = resp && resp.content && resp.content['application/json'];
if (!media || !media.schema) {
    console.log(`error: ${method} ${p} ${status} documents no application/json schema`);
    process.exit(1);
}
let entry;
try {
    entry = require.resolve('@seriousme/openapi-schema-validator');
} catch (e) {
    entry = undefined;
}
const compiler = schemaCompiler(doc, entry);
if (compiler.error) die(compiler.error);
const validate = compiler.compile(media.schema);
if (validate(body)) {
    console.log('ok');
    process.exit(0);
}
for (const e of validate.errors || []) console.log(`error: ${e.instancePath || '/'} ${e.message}`);
process.exit(1);
