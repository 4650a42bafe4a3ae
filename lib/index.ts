// The public entry. Nothing behind it loads until it is used: each export is
// a getter that requires its module on first access, so require('tcp-keepalive')
// reads this one file (bench/load.js measures it) and a program that never
// touches the heartbeat never loads it.
//
// Each `export let` gives a name its type, and makes tsc emit
// `exports.<name> = void 0`: the pattern from which Node's ESM loader
// (cjs-module-lexer) learns the names for `import { heartbeat } from 'tcp-keepalive'`.
// lazy() then replaces that placeholder with the getter; its name list is
// checked against the module's exports by the compiler.
import type * as Errors from './errors';
import type * as KernelKeepalive from './kernel/keepalive';
import type * as ServersAndAgents from './kernel/servers-and-agents';
import type * as KernelTcpInfo from './kernel/tcp-info';
import type * as HeartbeatMonitor from './heartbeat/monitor';
import type * as HeartbeatFramed from './heartbeat/framed';
import type * as HeartbeatRespond from './heartbeat/respond';
import type * as HeartbeatAdapters from './heartbeat/adapters';
import type * as HeartbeatFraming from './heartbeat/framing';
import type * as HeartbeatDrivers from './heartbeat/drivers';
import type * as ProtectProtect from './protect/protect';
import type * as ProtectPolicy from './protect/policy';
import type * as ProtectEvents from './protect/events';
import type * as ProtectInventory from './protect/inventory';
import type * as ProtectReach from './protect/reach';
import type * as Layers from './layers';

function lazy<M>(load: () => M, names: readonly (keyof M & string)[]): void {
  let loaded: M | undefined;
  let failed: Error | undefined;
  const module = (): M => {
    if (failed) throw failed;
    try {
      return (loaded ??= load());
    } catch (error) {
      // Inside an ES module bundle the module cannot require Node's own
      // modules; the bundler then keeps it half-loaded, so the coded error
      // stands for every later use too.
      const bundle = (require('./errors') as typeof Errors).bundleError(error);
      if (!bundle) throw error;
      throw (failed = bundle);
    }
  };
  for (const name of names) {
    Object.defineProperty(exports, name, { enumerable: true, configurable: true, get: () => module()[name] });
  }
}

export let setKeepAlive: typeof KernelKeepalive.setKeepAlive;
export let getKeepAlive: typeof KernelKeepalive.getKeepAlive;
export let systemDefaults: typeof KernelKeepalive.systemDefaults;
lazy<typeof KernelKeepalive>(() => require('./kernel/keepalive'), ['setKeepAlive', 'getKeepAlive', 'systemDefaults']);
export type { KeepAliveOptions, KeepAliveState, SystemDefaults } from './kernel/keepalive';

export let applyToServer: typeof ServersAndAgents.applyToServer;
export let applyToAgent: typeof ServersAndAgents.applyToAgent;
lazy<typeof ServersAndAgents>(() => require('./kernel/servers-and-agents'), ['applyToServer', 'applyToAgent']);

export let tcpInfo: typeof KernelTcpInfo.tcpInfo;
lazy<typeof KernelTcpInfo>(() => require('./kernel/tcp-info'), ['tcpInfo']);
export type { TcpInfo } from './native';
export type { SocketLike } from './kernel/socket';

export let monitor: typeof HeartbeatMonitor.monitor;
export let Monitor: typeof HeartbeatMonitor.Monitor;
export type Monitor = HeartbeatMonitor.Monitor;
export let ProtocolMonitor: typeof HeartbeatMonitor.ProtocolMonitor;
export type ProtocolMonitor = HeartbeatMonitor.ProtocolMonitor;
export let DEFAULT_TIMING: typeof HeartbeatMonitor.DEFAULT_TIMING;
lazy<typeof HeartbeatMonitor>(() => require('./heartbeat/monitor'), ['monitor', 'Monitor', 'ProtocolMonitor', 'DEFAULT_TIMING']);

export let heartbeat: typeof HeartbeatFramed.heartbeat;
export let Heartbeat: typeof HeartbeatFramed.Heartbeat;
export type Heartbeat = HeartbeatFramed.Heartbeat;
lazy<typeof HeartbeatFramed>(() => require('./heartbeat/framed'), ['heartbeat', 'Heartbeat']);

export let respond: typeof HeartbeatRespond.respond;
lazy<typeof HeartbeatRespond>(() => require('./heartbeat/respond'), ['respond']);

export let wsHeartbeat: typeof HeartbeatAdapters.wsHeartbeat;
export let http2Heartbeat: typeof HeartbeatAdapters.http2Heartbeat;
lazy<typeof HeartbeatAdapters>(() => require('./heartbeat/adapters'), ['wsHeartbeat', 'http2Heartbeat']);

export let keepAlive: typeof Layers.keepAlive;
lazy<typeof Layers>(() => require('./layers'), ['keepAlive']);
export type { Fallback, KeepAliveLayers, KeepAliveLayersOptions, Layer } from './layers';

export let encode: typeof HeartbeatFraming.encode;
export let encodePing: typeof HeartbeatFraming.encodePing;
export let encodePong: typeof HeartbeatFraming.encodePong;
export let decode: typeof HeartbeatFraming.decode;
export let Decoder: typeof HeartbeatFraming.Decoder;
export type Decoder = HeartbeatFraming.Decoder;
export let PING: typeof HeartbeatFraming.PING;
export let PONG: typeof HeartbeatFraming.PONG;
export let HOST_ORDER_PONG: typeof HeartbeatFraming.HOST_ORDER_PONG;
export let CLASSIC_FRAME: typeof HeartbeatFraming.CLASSIC_FRAME;
export let COMPACT_HEADER: typeof HeartbeatFraming.COMPACT_HEADER;
lazy<typeof HeartbeatFraming>(() => require('./heartbeat/framing'), [
  'encode', 'encodePing', 'encodePong', 'decode', 'Decoder', 'PING', 'PONG', 'HOST_ORDER_PONG', 'CLASSIC_FRAME', 'COMPACT_HEADER',
]);
export let ioredisHeartbeat: typeof HeartbeatDrivers.ioredisHeartbeat;
export let pgHeartbeat: typeof HeartbeatDrivers.pgHeartbeat;
export let mysql2Heartbeat: typeof HeartbeatDrivers.mysql2Heartbeat;
lazy<typeof HeartbeatDrivers>(() => require('./heartbeat/drivers'), ['ioredisHeartbeat', 'pgHeartbeat', 'mysql2Heartbeat']);

// The heartbeat's types; its values are the lazy exports above (the package
// test checks that every value lib/heartbeat/index.ts exports is among them).
export type * from './heartbeat';

export let protect: typeof ProtectProtect.protect;
lazy<typeof ProtectProtect>(() => require('./protect/protect'), ['protect']);
export let parsePolicyText: typeof ProtectPolicy.parsePolicyText;
lazy<typeof ProtectPolicy>(() => require('./protect/policy'), ['parsePolicyText']);
export let stats: typeof ProtectEvents.stats;
export let DEAD_CHANNEL: typeof ProtectEvents.DEAD_CHANNEL;
lazy<typeof ProtectEvents>(() => require('./protect/events'), ['stats', 'DEAD_CHANNEL']);
export let sockets: typeof ProtectInventory.sockets;
lazy<typeof ProtectInventory>(() => require('./protect/inventory'), ['sockets']);
export let clientMechanism: typeof ProtectReach.clientMechanism;
lazy<typeof ProtectReach>(() => require('./protect/reach'), ['clientMechanism']);
// protect()'s types; its values are the lazy exports above (the package test
// checks that every value lib/protect/index.ts exports is among them).
export type * from './protect';
