// `socket`: a client connected over loopback to a server that answers the heartbeat's PINGs (both ends use this package).
const net = require('node:net');
const { once } = require('node:events');
const { respond: answerPings } = require('tcp-keepalive');
const pairServer = net.createServer((accepted) => answerPings(accepted, { framing: 'compact' })).listen(0, '127.0.0.1');
await once(pairServer, 'listening');
const socket = net.connect(pairServer.address().port, '127.0.0.1');
await once(socket, 'connect');
