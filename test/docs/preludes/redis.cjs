// `Redis`: the ioredis client; `host`, `port`: a real redis-server the test started (test/support/servers.ts).
// That server wants a password, which the recipes leave out (a reader's may
// not): `Redis` passes it for them, so a recipe really talks to the server.
const { host, port, password } = JSON.parse(process.env.DOCS_SERVER);
const Redis = class extends require('ioredis') {
  constructor(options) {
    super({ password, ...options });
  }
};
