// `wss`: a WebSocketServer on an http server over loopback; `url`: where it listens; `WebSocket`: the ws client.
const { WebSocket, WebSocketServer } = require('ws');
const wsHttpServer = http.createServer();
const wss = new WebSocketServer({ server: wsHttpServer });
await new Promise((resolve) => wsHttpServer.listen(0, '127.0.0.1', resolve));
const url = `ws://127.0.0.1:${wsHttpServer.address().port}`;
