// Messages between the harness and its peer process (over the fork IPC channel).

/** Deaths the peer process causes itself; crash and hang are signals sent from outside. */
export type PeerAction = 'reset' | 'restart' | 'blackhole';

export type ToPeer =
  | { op: PeerAction; ref: number; connection?: number }
  | { op: 'delay'; ref: number; ms: number; connection?: number }
  | { op: 'stats'; ref: number };

/** One connection the peer accepted, as `peer.stats()` lists it. */
export interface PeerConnectionStats {
  /** the peer's own number for the connection, from 1 */
  id: number;
  /** the client's port: how a client finds its connection here */
  remotePort: number;
  /** bytes the peer's application has received on it */
  bytesRead: number;
  /** whether it is still open at the peer */
  open: boolean;
}

export type FromPeer =
  | { ev: 'listening'; host: string; port: number }
  | { ev: 'accepted'; id: number; remotePort: number }
  /** at: Date.now() as the peer began to act on the order */
  | { ev: 'reply'; ref: number; at: number; stats?: PeerConnectionStats[]; error?: { message: string; code?: string } };

export interface PeerStartOptions {
  host: string;
  /** ms the peer waits before answering each heartbeat ping */
  delay: number;
}

/** Both ends of a drill connection speak the package's own heartbeat framing, named so neither relies on a default. */
export const FRAMING = 'classic' as const;
