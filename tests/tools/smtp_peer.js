// smtp_peer.js - the SMTP server of the delivery tests: npm smtp-server on
// 127.0.0.1 with STARTTLS (a self-signed certificate made by the test) and
// AUTH required, refused before TLS; every message received is kept raw and
// taken apart by npm mailparser, independently of auditdb.
//
// usage: NODE_PATH=DIR/node_modules node smtp_peer.js PORT_FILE OUT_DIR KEY CERT USER PASS [implicit]
//   OUT_DIR/mail-N.eml      the message as received (DATA)
//   OUT_DIR/mail-N.json     {envelope: {from, to}, from, to, subject, text, messageId,
//                            attachments: [{filename, contentType, size, file}]}
//   OUT_DIR/mail-N.att-I    attachment I's bytes as mailparser decoded them
//   OUT_DIR/events.log      one line per session event (auth ok/refused, tls)
// "implicit" makes it an SMTPS server (TLS from the first byte) instead.
'use strict';
const fs = require('fs');
const path = require('path');
const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');

const [portFile, outDir, keyFile, certFile, user, pass, mode] = process.argv.slice(2);
let n = 0;
const note = (line) => fs.appendFileSync(path.join(outDir, 'events.log'), line + '\n');

const server = new SMTPServer({
    secure: mode === 'implicit',
    key: fs.readFileSync(keyFile),
    cert: fs.readFileSync(certFile),
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    authOptional: false,
    logger: false,
    size: 32 * 1024 * 1024,
    onSecure(socket, session, cb) { note('tls'); cb(); },
    onAuth(auth, session, cb) {
        if (!session.secure) { note('auth refused: cleartext'); return cb(new Error('TLS first')); }
        if (auth.username === user && auth.password === pass) { note('auth ok'); return cb(null, { user }); }
        note('auth refused');
        return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
        const chunks = [];
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', async () => {
            const raw = Buffer.concat(chunks);
            const base = path.join(outDir, 'mail-' + (++n));
            fs.writeFileSync(base + '.eml', raw);
            try {
                const m = await simpleParser(raw);
                const atts = m.attachments.map((a, i) => {
                    fs.writeFileSync(base + '.att-' + i, a.content);
                    return { filename: a.filename, contentType: a.contentType, size: a.size,
                             file: base + '.att-' + i };
                });
                const summary = {
                    envelope: { from: session.envelope.mailFrom.address,
                                to: session.envelope.rcptTo.map((r) => r.address) },
                    from: m.from ? m.from.text : null,
                    to: m.to ? m.to.text : null,
                    subject: m.subject, text: m.text, messageId: m.messageId, attachments: atts,
                };
                fs.writeFileSync(base + '.json.tmp', JSON.stringify(summary));
                fs.renameSync(base + '.json.tmp', base + '.json');
                cb(null, 'queued as mail-' + n);
            } catch (e) {
                note('parse failed: ' + e.message);
                cb(e);
            }
        });
    },
});
server.on('error', (e) => note('error: ' + e.message));
server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(portFile + '.tmp', String(server.server.address().port));
    fs.renameSync(portFile + '.tmp', portFile);
});
