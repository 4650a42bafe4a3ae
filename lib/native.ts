// The one place the native addon is loaded.
import { join } from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** The native layer; times as the kernel takes them (whole seconds), -1 = leave as is. */
export interface NativeBinding {
  setKeepAlive(fd: number, enable: boolean, idleS: number, intervalS: number, count: number, userTimeoutMs: number): void;
  /** [enabled, idleS, intervalS, count, userTimeoutMs (-1: no such option)] */
  getKeepAlive(fd: number): [boolean, number, number, number, number];
  /** [idleS, intervalS, count] */
  systemDefaults(): [number, number, number];
  tcpInfo(fd: number): TcpInfo;
  attachDropFilter(fd: number): void;
  detachFilter(fd: number): void;
  setRepairMode(fd: number, on: boolean): void;
}

/** Fields of TCP_INFO every platform can fill; null where this one cannot. */
export interface TcpInfo {
  state: number | null;
  retransmits: number | null;
  probes: number | null;
  backoff: number | null;
  rtoUs: number | null;
  rttUs: number | null;
  unacked: number | null;
  lastDataSentMs: number | null;
  lastDataRecvMs: number | null;
  lastAckRecvMs: number | null;
}

export const binding: NativeBinding = nodeGypBuild(join(__dirname, '..'));
