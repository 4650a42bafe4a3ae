// `mysql`: mysql2; `host`, `port`, `user`, `password`, `database`: a real MariaDB the test started (test/support/servers.ts).
const mysql = require('mysql2');
const { host, port, user, password, database } = JSON.parse(process.env.DOCS_SERVER);
