'use strict';
// The floor for bench/preload.js: a preload that only sets the same five
// options through the addon's raw call, on each client socket at 'connect'
// and on each accepted socket, with none of the package's bookkeeping
// (no policy lookup, rules, inventory, counters, death reports, listener
// carrying). What the package's preload costs above this is its own.
const dc = require('node:diagnostics_channel');
const { loadAddon } = require('../dist/native');

const loaded = loadAddon();
if (loaded.binding === null) throw new Error(`the floor needs the addon: ${loaded.reason}`);
const { setKeepAlive } = loaded.binding;
// idle=10s,interval=2s,count=3,userTimeout=auto, as bench/preload.js's policy
const IDLE_S = 10;
const INTERVAL_S = 2;
const COUNT = 3;
const USER_TIMEOUT_MS = (IDLE_S + INTERVAL_S * COUNT) * 1000;

const set = (socket) => setKeepAlive(socket._handle.fd, true, IDLE_S, INTERVAL_S, COUNT, USER_TIMEOUT_MS);
function onConnect() {
  set(this);
}
// bench/preload-child.js connects with net.connect, which publishes here on every Node.
dc.subscribe('net.client.socket', ({ socket }) => socket.once('connect', onConnect));
dc.subscribe('net.server.socket', ({ socket }) => set(socket));
