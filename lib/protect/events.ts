// What the operator sees: the `tcp-keepalive:dead` channel and the
// process-wide counters of stats().
import * as dc from 'node:diagnostics_channel';
import type * as net from 'node:net';

/**
 * The `diagnostics_channel` name on which a protected socket's death is
 * published, as a `DeadMessage` (built only when someone subscribes).
 *
 * @example
 * ```js
 * require('node:diagnostics_channel').subscribe(DEAD_CHANNEL, ({ cause, remoteAddress, silentMs }) => console.warn(cause, remoteAddress, silentMs));
 * ```
 */
export const DEAD_CHANNEL = 'tcp-keepalive:dead';
const dead = dc.channel(DEAD_CHANNEL);

/**
 * Why a protected socket died: 'timeout' (ETIMEDOUT from keepalive or the
 * user timeout), 'reset' (a RST after the connection had been silent for at
 * least the policy's idle time) or 'heartbeat' (the heartbeat ended it).
 */
export type DeathCause = 'timeout' | 'reset' | 'heartbeat';

/** Published on `tcp-keepalive:dead` when a protected socket dies. */
export interface DeadMessage {
  /** the socket that died */
  socket: net.Socket;
  /** why it died */
  cause: DeathCause;
  /** the error the socket was destroyed with */
  error: Error;
  /** the peer's address, read before the socket closed */
  remoteAddress: string | undefined;
  /** the peer's port */
  remotePort: number | undefined;
  /** this end's port */
  localPort: number | undefined;
  /** idle + interval x count of the policy: the longest a dead idle peer goes unnoticed */
  budgetMs: number;
  /** ms since anything was received, from TCP_INFO; null where the platform does not say */
  silentMs: number | null;
}

/** Why a socket the process made was not protected. */
export type UnprotectedReason = 'unix' | 'rule' | 'no-policy' | 'error';

/** The process-wide counters of `protect()` and the preload, since the process started. */
export interface Stats {
  /** sockets the policy was applied to, since the process started */
  protected: number;
  /** protected sockets still open */
  live: number;
  /** sockets left alone, by reason: unix (Unix-domain), rule (a rule said false), no-policy (no rule matched and no base policy), error (the kernel refused; the socket was kept) */
  unprotected: Record<UnprotectedReason, number>;
  /** protected sockets that died, by cause */
  deaths: Record<DeathCause, number>;
}

const counters: Stats = {
  protected: 0,
  live: 0,
  unprotected: { unix: 0, rule: 0, 'no-policy': 0, error: 0 },
  deaths: { timeout: 0, reset: 0, heartbeat: 0 },
};

export function countProtected(): void {
  counters.protected++;
  counters.live++;
}

export function countClosed(): void {
  counters.live--;
}

export function countUnprotected(reason: UnprotectedReason): void {
  counters.unprotected[reason]++;
}

/** Counts the death and publishes it where someone listens (the message is built only then). */
export function reportDeath(build: () => DeadMessage, cause: DeathCause): void {
  counters.deaths[cause]++;
  if (dead.hasSubscribers) dead.publish(build());
}

/**
 * A copy of the process-wide counters of `protect()` and the preload:
 * sockets protected, still live, left alone (by reason) and dead (by cause).
 * All zero when nothing is protected.
 */
export function stats(): Stats {
  return { ...counters, unprotected: { ...counters.unprotected }, deaths: { ...counters.deaths } };
}

/**
 * Why a protected socket died, or null when the error is not one keepalive
 * or the heartbeat detects. A reset counts when the connection had been
 * silent at least the policy's idle time: probes were due, and the peer (or
 * a middlebox that forgot the connection) answered with RST.
 */
export function causeOf(error: Error | null, silentMs: number | null, idleMs: number): DeathCause | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ERR_HEARTBEAT_TIMEOUT') return 'heartbeat';
  if ((code === 'ECONNRESET' || code === 'EPIPE') && silentMs !== null && silentMs >= idleMs) return 'reset';
  return null;
}
