// `pg`: node-postgres; `host`, `port`, `user`, `password`, `database`: a real PostgreSQL the test started (test/support/servers.ts).
const pg = require('pg');
const { host, port, user, password, database } = JSON.parse(process.env.DOCS_SERVER);
