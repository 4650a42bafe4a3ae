// `host`, `port`: a TLS server over loopback with the test's self-signed certificate (so the client trusts any).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const tlsFixtures = process.env.DOCS_FIXTURES;
const tlsServer = tls.createServer({ key: readFileSync(join(tlsFixtures, 'key.pem')), cert: readFileSync(join(tlsFixtures, 'cert.pem')) }, (s) => s.on('error', () => {}));
await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
const host = '127.0.0.1';
const port = tlsServer.address().port;
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
