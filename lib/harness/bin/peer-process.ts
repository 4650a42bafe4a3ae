// The peer: a process of its own, so the harness can kill it (crash) and
// freeze it (hang). It accepts connections on loopback, answers heartbeat
// pings, and on the harness's word kills its connections the other ways.
import * as net from 'node:net';
import { harnessBinding } from '../native';
import { handleFd } from '../../kernel/socket';
import { respond } from '../../heartbeat';
import { FRAMING, type FromPeer, type PeerConnectionStats, type PeerStartOptions, type ToPeer } from '../protocol';

interface Connection {
  id: number;
  socket: net.Socket;
  remotePort: number;
  /** ms before each heartbeat answer on this connection */
  delay: number;
  stopResponder: () => void;
}

const send = (message: FromPeer) => process.send?.(message);

if (!process.send) {
  process.stderr.write('tcp-keepalive harness peer: start me with child_process.fork (I take orders over IPC)\n');
  process.exit(2);
}
// The harness gone (even killed with SIGKILL) means nobody needs this peer.
process.on('disconnect', () => process.exit(0));

const options = JSON.parse(process.argv[2] ?? '{}') as PeerStartOptions;
const connections = new Map<number, Connection>();
let delay = options.delay;
let nextId = 1;

const server = net.createServer((socket) => {
  const connection: Connection = {
    id: nextId++,
    socket,
    remotePort: socket.remotePort ?? 0,
    delay,
    stopResponder: respond(socket, { delay, framing: FRAMING }),
  };
  connections.set(connection.id, connection);
  // A connection the client drops is ordinary here, not a failure of the peer.
  socket.on('error', () => {});
  socket.on('close', () => connection.stopResponder());
  send({ ev: 'accepted', id: connection.id, remotePort: connection.remotePort });
});

function stats(): PeerConnectionStats[] {
  return [...connections.values()].map((c) => ({
    id: c.id,
    remotePort: c.remotePort,
    bytesRead: c.socket.bytesRead,
    open: !c.socket.destroyed,
  }));
}

function kill(how: 'reset' | 'restart' | 'blackhole', connection: Connection): void {
  const { socket } = connection;
  switch (how) {
    case 'reset':
      socket.resetAndDestroy();
      return;
    case 'restart':
      // In repair mode close() sends nothing and the kernel drops the
      // connection: the client's next segment finds no socket and gets a RST.
      harnessBinding.setRepairMode(handleFd(socket), true);
      connection.stopResponder();
      socket.destroy();
      return;
    case 'blackhole':
      // Drops every segment for this socket before TCP sees it: no ACK, no
      // data, no reply, while the socket itself stays open.
      harnessBinding.attachDropFilter(handleFd(socket));
      return;
  }
}

function handle(message: ToPeer): void {
  // Taken before acting: the client may see the death before this process
  // gets to run again, and the death must not look later than its effect.
  const reply: Extract<FromPeer, { ev: 'reply' }> = { ev: 'reply', ref: message.ref, at: Date.now() };
  try {
    if (message.op === 'stats') {
      reply.stats = stats();
    } else if (message.op === 'delay') {
      if (message.connection === undefined) delay = message.ms;
      for (const c of connections.values()) {
        if (c.socket.destroyed || (message.connection !== undefined && c.id !== message.connection)) continue;
        c.delay = message.ms;
        c.stopResponder();
        c.stopResponder = respond(c.socket, { delay: c.delay, framing: FRAMING });
      }
    } else {
      const targets = [...connections.values()].filter(
        (c) => !c.socket.destroyed && (message.connection === undefined || c.id === message.connection),
      );
      for (const c of targets) kill(message.op, c);
    }
  } catch (error) {
    const { message: text, code } = error as Error & { code?: string };
    reply.error = { message: text, code };
  }
  send(reply);
}

process.on('message', (message) => handle(message as ToPeer));

server.listen(0, options.host, () => {
  const address = server.address() as net.AddressInfo;
  send({ ev: 'listening', host: address.address, port: address.port });
});
