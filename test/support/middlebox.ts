// A server behind the harness's middlebox, and the `tcp-keepalive` command
// run from the client's side of it: what the idle-limit and drill tests share.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { middleboxSupport, startMiddlebox, startPeer, type Forgets, type Middlebox, type Peer } from '../../lib/harness';
import { run, type Run } from './cli';

/** Why no middlebox can be built here, or undefined. */
export function middleboxSkipReason(): string | undefined {
  const support = middleboxSupport();
  return support.ok ? undefined : support.reason;
}

export interface Path {
  box: Middlebox;
  /** the harness peer, listening in the server's namespace */
  peer: Peer;
  /** the command, run in the client's namespace */
  cli(args: string[]): Promise<Run>;
  close(): Promise<void>;
}

/** A middlebox forgetting after `forgetAfter` ms, a harness peer behind it, and the CLI in front. */
export async function pathThrough(forgetAfter: number, forgets: Forgets): Promise<Path> {
  const box = await startMiddlebox({ forgetAfter, forgets });
  try {
    const peer = await startPeer({ host: box.serverAddress, prefix: box.serverPrefix });
    return {
      box,
      peer,
      cli: (args) => run(args, { prefix: box.clientPrefix }),
      async close() {
        await peer.close();
        await box.close();
      },
    };
  } catch (error) {
    await box.close();
    throw error;
  }
}

export const REDIS = '/usr/bin/redis-server';

/**
 * A real redis-server in the middlebox's server namespace that closes
 * connections idle for `timeoutS` seconds itself (its `timeout` setting).
 */
export async function redisBehind(box: Middlebox, timeoutS: number): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `tka-mbox-redis-${process.pid}-`));
  const port = 6379;
  const argv = [...box.serverPrefix, REDIS, '--bind', box.serverAddress, '--port', String(port), '--timeout', String(timeoutS), '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'];
  // redis is not ours to sanitize (npm run test:asan preloads into this Node).
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'].includes(name)));
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
