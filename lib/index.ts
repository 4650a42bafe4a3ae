export { setKeepAlive, getKeepAlive, systemDefaults } from './kernel/keepalive';
export type { KeepAliveOptions, KeepAliveState, SystemDefaults } from './kernel/keepalive';
export { applyToServer, applyToAgent } from './kernel/servers-and-agents';
export { tcpInfo } from './kernel/tcp-info';
export type { TcpInfo } from './native';
export type { SocketLike } from './kernel/socket';
export * from './heartbeat';
