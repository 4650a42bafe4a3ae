export { protect } from './protect';
export type { ProtectOptions, PolicyOptions, Rule, Direction } from './policy';
export { parsePolicyText } from './policy';
export { stats, DEAD_CHANNEL } from './events';
export type { Stats, DeadMessage, DeathCause, UnprotectedReason } from './events';
export { sockets } from './inventory';
export type { ProtectedSocket } from './inventory';
export { clientMechanism } from './reach';
export type { Mechanism } from './reach';
