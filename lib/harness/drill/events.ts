// What happened on one drill connection, for its timeline: the keepalive
// probes and retransmissions its kernel sent (read from TCP_INFO), the
// heartbeat's PINGs and PONGs, and at the end the death and the detection.
import type * as net from 'node:net';
import { tcpInfo } from '../../kernel/tcp-info';

/**
 * death: t = 0. probe: the kernel sent a keepalive probe (answered: the
 * peer's kernel ACKed it). retransmit: the kernel resent unacknowledged
 * data. ping / pong: a heartbeat PING sent, its answer received. noticed:
 * the client learnt of the death (code: how). not-noticed: the drill
 * stopped waiting. request: the client sent a request (the middlebox
 * scenario; answered: an answer came back).
 */
export type TimelineKind = 'death' | 'probe' | 'retransmit' | 'ping' | 'pong' | 'noticed' | 'not-noticed' | 'request';

/** One mark on a drill row's timeline. */
export interface TimelineEvent {
  /** ms from the death */
  t: number;
  /** what happened */
  kind: TimelineKind;
  /** noticed: the error code or event, as in the row's `how` */
  code?: string;
  /** probe: the peer's kernel acknowledged it; request: an answer came back */
  answered?: boolean;
  /** probe, retransmit: seen between two TCP_INFO readings, so `t` is right within this many ms either way */
  within?: number;
}

/** How often the drill reads TCP_INFO: ticks are within half of this (plus event-loop delay). */
export const SAMPLE_EVERY_MS = 20;

/**
 * An ACK this long after anything we sent or received answers no data: the
 * peer's kernel answering a keepalive probe. (Delayed ACKs for data come
 * within 200 ms; keepalive waits at least 1 s of silence.)
 */
const BARE_ACK_AFTER_MS = 250;

/** Linux's TCP_ESTABLISHED, as TCP_INFO reports the state. */
const ESTABLISHED = 1;

/** An event as it happened, on Date.now()'s clock. */
type Seen = Omit<TimelineEvent, 't' | 'kind' | 'code'> & { at: number; kind: 'probe' | 'retransmit' | 'ping' | 'pong' };

/** One TCP_INFO reading, to tell what the kernel sent since the one before. */
interface KernelReading {
  at: number;
  probes: number;
  retransmits: number;
  lastAckAt: number | null;
}

/** The events of anything that emits the heartbeat's 'ping' and 'pong'. */
interface Pinging {
  on(event: 'ping' | 'pong', listener: () => void): unknown;
}

export class ConnectionLog {
  private readonly seen: Seen[] = [];
  /** the last reading; 'unreadable' once the socket (or the platform) gave none */
  private last: KernelReading | null | 'unreadable' = null;

  constructor(
    private readonly socket: net.Socket,
    heartbeat: Pinging | null,
  ) {
    heartbeat?.on('ping', () => this.seen.push({ at: Date.now(), kind: 'ping' }));
    heartbeat?.on('pong', () => this.seen.push({ at: Date.now(), kind: 'pong' }));
  }

  /**
   * Reads TCP_INFO and records what the kernel sent since the last reading:
   * each rise of `probes` (unanswered keepalive probes) or `retransmits` is
   * one more, dated halfway between the readings; an ACK that answers no
   * data is a probe the peer's kernel answered (the counter went up and
   * down between two readings), dated by `lastAckRecvMs`.
   */
  readKernel(): void {
    if (this.socket.destroyed || this.last === 'unreadable') return;
    let info;
    try {
      info = tcpInfo(this.socket);
    } catch {
      // Closed under us, or a platform without TCP_INFO: nothing more to see.
      this.last = 'unreadable';
      return;
    }
    const now = Date.now();
    const ago = (ms: number | null) => (ms === null ? null : now - ms);
    const reading: KernelReading = { at: now, probes: info.probes ?? 0, retransmits: info.retransmits ?? 0, lastAckAt: ago(info.lastAckRecvMs) };
    const previous = this.last;
    this.last = reading;
    if (!previous) return;

    const between = { at: Math.round((previous.at + now) / 2), within: Math.ceil((now - previous.at) / 2) };
    for (let n = previous.probes; n < reading.probes; n++) this.seen.push({ kind: 'probe', ...between });
    for (let n = previous.retransmits; n < reading.retransmits; n++) this.seen.push({ kind: 'retransmit', ...between });

    const ackAt = reading.lastAckAt;
    // The margin covers the kernel's jiffy-granular lastAckRecvMs.
    const newAck = ackAt !== null && previous.lastAckAt !== null && ackAt > previous.lastAckAt + SAMPLE_EVERY_MS;
    // Still established: the ACK on a FIN answers no data either.
    if (!newAck || info.state !== ESTABLISHED || reading.probes !== 0) return;
    const bare = [ago(info.lastDataSentMs), ago(info.lastDataRecvMs)].every((at) => at === null || ackAt - at >= BARE_ACK_AFTER_MS);
    if (!bare) return;
    if (previous.probes > 0) {
      // Probes the last reading caught outstanding (a loaded machine delays the ACK) were answered now.
      for (const probe of this.seen.filter((e) => e.kind === 'probe' && !e.answered).slice(-previous.probes)) probe.answered = true;
    } else {
      // The probe went out and was answered between two readings.
      this.seen.push({ at: ackAt, kind: 'probe', answered: true });
    }
  }

  /**
   * The connection's timeline from its death (Date.now() `diedAt`): what
   * was sent and heard after it, then the detection, or the end of the wait
   * when there was none.
   */
  timeline(diedAt: number, detection: { at: number; how: string } | null, waitedUntil: number): TimelineEvent[] {
    const events: TimelineEvent[] = [{ t: 0, kind: 'death' }];
    const end = detection?.at ?? waitedUntil;
    for (const { at, ...event } of this.seen) {
      if (at >= diedAt && at <= end) events.push({ t: at - diedAt, ...event });
    }
    events.push(detection ? { t: detection.at - diedAt, kind: 'noticed', code: detection.how } : { t: waitedUntil - diedAt, kind: 'not-noticed' });
    // A false alarm is noticed before the death: sorting keeps time order.
    return events.sort((a, b) => a.t - b.t);
  }
}
