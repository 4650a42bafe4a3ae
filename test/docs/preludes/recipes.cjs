// What every recipe of docs/recipes.md has in scope: Node's modules and the
// application's `log`.
const net = require('node:net');
const http = require('node:http');
const tls = require('node:tls');
const log = (...args) => console.log(...args);
