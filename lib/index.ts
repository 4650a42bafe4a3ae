export { setKeepAlive, getKeepAlive, systemDefaults } from './keepalive';
export type { KeepAliveOptions, KeepAliveState, SystemDefaults } from './keepalive';
export { applyToServer, applyToAgent } from './born';
export { tcpInfo } from './info';
export type { TcpInfo } from './binding';
export type { SocketLike } from './socket';
export * from './heartbeat';
export * from './protect';
