// webhook_receiver.js - a webhook receiver for the delivery tests, written
// from the Standard Webhooks 1.0 specification: every request is verified
// with the npm `standardwebhooks` library (v1, HMAC-SHA256 with the whsec_
// secret) and with Node's own Ed25519 (v1a, the public key), and counted by
// webhook-id. Loopback only.
//
// usage: node webhook_receiver.js PORTFILE
//   PORTFILE  where the port it listens on is written once it listens
// POST /_keys        {secret: "whsec_...", publicKey: "whpk_..."}: the keys the
//                    destination was given (until then every webhook is 401)
// GET /_stats        {received, verified, badV1, badV1a, rawV1 (v1 checked here over a body that
//                     is not JSON: the library cannot), unique, duplicates,
//                     concurrent, ids: {id: count}} (ids with ?ids=1)
// POST /_mode        {status, retryAfter, delayMs, failFirst, failStatus, noVerify, saveDir}: how
//                    to answer (the first failFirst attempts of each id get failStatus);
//                    saveDir: each verified and accepted body kept as DIR/<webhook-id>.body
//                    (and its headers as .headers, JSON)
// POST /_reset       forget every count
// anything else      a webhook: 401 when a signature fails, else the mode's status
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const { Webhook } = require('standardwebhooks');

const [portFile] = process.argv.slice(2);
let wh = null, pub = null, rawSecret = null;
function setKeys(k) {
    wh = new Webhook(k.secret);
    rawSecret = Buffer.from(k.secret.slice(6), 'base64');
    pub = crypto.createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'),
                            Buffer.from(k.publicKey.replace(/^whpk_/, ''), 'base64')]),
        format: 'der', type: 'spki' });
}

let mode = { status: 200, retryAfter: null, delayMs: 0, failFirst: 0 };
let st;
function reset() {
    st = { rawV1: 0, legacyOk: 0, legacyBad: 0, headers: null, received: 0, verified: 0, badV1: 0, badV1a: 0, noV1a: 0, concurrent: 0, ids: new Map(),
           inflight: new Set(), times: [], seen: new Map(), byDelivery: new Map() };
}
reset();

function stats(withIds) {
    let dups = 0;
    for (const n of st.ids.values()) dups += n - 1;
    let multi = 0;
    for (const s of st.byDelivery.values()) if (s.size > 1) multi++;
    const o = { rawV1: st.rawV1, legacyOk: st.legacyOk, legacyBad: st.legacyBad, lastHeaders: st.headers, deliveries: st.byDelivery.size, multiIdDeliveries: multi, received: st.received, verified: st.verified, badV1: st.badV1, badV1a: st.badV1a,
                noV1a: st.noV1a, unique: st.ids.size, duplicates: dups, concurrent: st.concurrent };
    if (withIds) o.ids = Object.fromEntries(st.ids);
    if (withIds) o.times = st.times;
    return o;
}

const server = http.createServer((req, res) => {
    const firstByte = Date.now();   // the request's head arrived
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url, 'http://x');
        if (url.pathname === '/_stats') {
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end(JSON.stringify(stats(url.searchParams.get('ids') === '1')));
        }
        if (url.pathname === '/_mode') {
            mode = Object.assign({ status: 200, retryAfter: null, delayMs: 0, failFirst: 0 }, JSON.parse(body.toString() || '{}'));
            res.writeHead(204);
            return res.end();
        }
        if (url.pathname === '/_keys') {
            setKeys(JSON.parse(body.toString()));
            res.writeHead(204);
            return res.end();
        }
        if (url.pathname === '/_reset') {
            reset();
            res.writeHead(204);
            return res.end();
        }
        const arrived = firstByte;
        st.received++;
        const id = req.headers['webhook-id'];
        const ts = req.headers['webhook-timestamp'];
        const sigs = (req.headers['webhook-signature'] || '').split(' ');
        let okV1 = false, okV1a = false;
        st.headers = req.headers;
        if (mode.noVerify) {
            // the bench: the same work for every sender (count, the arrival time)
            let created = 0;
            if (body[0] === 0x7b) {
                try { created = Date.parse(JSON.parse(body.toString()).timestamp) || 0; } catch (e) { /* */ }
            }
            if (created) st.times.push(arrived - created);
            st.ids.set(id || ('n' + st.received), 1);
            res.writeHead(200);
            return res.end('{}');
        }
        if (!wh) {
            res.writeHead(401);
            return res.end('no keys yet');
        }
        if (req.headers['x-webhook-signature']) {
            // the original's legacy header: sha256=hex(HMAC(secret, timestamp "." body))
            const mac = crypto.createHmac('sha256', rawSecret)
                .update(Buffer.concat([Buffer.from(req.headers['x-webhook-timestamp'] + '.'), body])).digest('hex');
            if (req.headers['x-webhook-signature'] === 'sha256=' + mac) st.legacyOk++; else st.legacyBad++;
        }
        let isJson = true;
        try { JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)); } catch (e) { isJson = false; }
        if (isJson) {
            try {
                // the library verifies the v1 signatures over the exact bytes received
                wh.verify(body, { 'webhook-id': id, 'webhook-timestamp': ts,
                                  'webhook-signature': req.headers['webhook-signature'] });
                okV1 = true;
            } catch (e) { st.badV1++; }
        } else {
            // a report artifact (PDF, CSV...): standardwebhooks 1.1.1 turns a Buffer into a
            // UTF-8 string before signing and JSON-parses it after, so it cannot check binary
            // or non-JSON bodies; the same v1 rule (HMAC-SHA256 of id.timestamp.body under the
            // whsec_ secret's bytes) computed here over the raw bytes
            const mac = crypto.createHmac('sha256', rawSecret)
                .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), body])).digest('base64');
            okV1 = sigs.some((s) => s === 'v1,' + mac);
            if (okV1) st.rawV1++; else st.badV1++;
        }
        {
            const content = Buffer.concat([Buffer.from(`${id}.${ts}.`), body]);
            const v1a = sigs.filter((s) => s.startsWith('v1a,'));
            if (v1a.length === 0) st.noV1a++;
            okV1a = v1a.some((s) => crypto.verify(null, content, pub, Buffer.from(s.slice(4), 'base64')));
            if (v1a.length && !okV1a) st.badV1a++;
        }
        if (!okV1 || !okV1a) {
            res.writeHead(401);
            return res.end('bad signature');
        }
        st.verified++;
        if (st.inflight.has(id)) st.concurrent++;
        st.inflight.add(id);
        let created = 0, dlv = null;
        try {
            const j = JSON.parse(body.toString());
            created = Date.parse(j.timestamp) || 0;
            dlv = j.deliveryId || null;
        } catch (e) { /* not JSON */ }
        if (dlv) {
            if (!st.byDelivery.has(dlv)) st.byDelivery.set(dlv, new Set());
            st.byDelivery.get(dlv).add(id);
        }
        const seen = (st.seen.get(id) || 0) + 1;
        st.seen.set(id, seen);
        const answer = () => {
            st.inflight.delete(id);
            let status = mode.status;
            if (mode.failFirst && seen <= mode.failFirst) status = mode.failStatus || 500;
            if (status >= 200 && status < 300) {
                if (mode.saveDir) {
                    // the report tests: the verified bytes and headers, by webhook-id
                    fs.writeFileSync(`${mode.saveDir}/${id.replace(/[^A-Za-z0-9_-]/g, '_')}.body`, body);
                    fs.writeFileSync(`${mode.saveDir}/${id.replace(/[^A-Za-z0-9_-]/g, '_')}.headers`,
                                     JSON.stringify(req.headers));
                }
                st.ids.set(id, (st.ids.get(id) || 0) + 1);
                if (created) st.times.push(arrived - created);
            }
            const h = { 'x-request-id': 'rcv-' + st.received };
            if (mode.retryAfter !== null && status !== 200) h['retry-after'] = String(mode.retryAfter);
            if (status >= 300 && status < 400) h.location = 'http://127.0.0.1:1/elsewhere';
            res.writeHead(status, h);
            res.end('{}');
        };
        if (mode.delayMs) setTimeout(answer, mode.delayMs); else answer();
    });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
