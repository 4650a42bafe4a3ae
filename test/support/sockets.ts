// Loopback fixtures shared by the test files.
import { once } from 'node:events';
import * as net from 'node:net';

export interface Pair {
  client: net.Socket;
  /** the server's end of the same connection */
  accepted: net.Socket;
  server: net.Server;
  close(): Promise<void>;
}

export async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

export async function connectedPair(host = '127.0.0.1'): Promise<Pair> {
  const server = net.createServer();
  const port = await listen(server, host);
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, host);
  await once(client, 'connect');
  const [socket] = await accepted;
  return {
    client,
    accepted: socket,
    server,
    async close() {
      client.destroy();
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const isRoot = process.getuid?.() === 0;
export const isLinux = process.platform === 'linux';
