// `Redis`: the ioredis client; `host`, `port`: a real redis-server the test started (test/support/servers.ts).
const Redis = require('ioredis');
const { host, port } = JSON.parse(process.env.DOCS_SERVER);
