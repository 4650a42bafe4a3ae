// `socket`: a client connected over loopback; `serverSideSocket`: its peer, as a server accepted it.
const net = require('node:net');
const { once } = require('node:events');
const pairServer = net.createServer().listen(0, '127.0.0.1');
await once(pairServer, 'listening');
const socket = net.connect(pairServer.address().port, '127.0.0.1');
const [[serverSideSocket]] = await Promise.all([once(pairServer, 'connection'), once(socket, 'connect')]);
pairServer.close();
