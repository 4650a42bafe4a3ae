// Children started with the preload, as a user starts them.
import { fork, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { DIST, FIXTURES, ROOT } from '../support/paths';

export { ROOT };
export const REGISTER = join(DIST, 'protect', 'register.js');
export const fixture = (name: string) => join(FIXTURES, 'protect', name);
export const OBSERVER = fixture('observer.cjs');

/** idle 2 s, 3 probes 1 s apart: a dead idle peer is noticed within 5 s */
export const POLICY_TEXT = 'idle=2s,interval=1s,count=3,userTimeout=auto';
export const POLICY = { enabled: true, idle: 2000, interval: 1000, count: 3, userTimeout: 5000 };
export const BUDGET_MS = 5000;

export interface DeadReport {
  cause: string;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  budgetMs: number;
  silentMs: number | null;
  code: string;
  at: number;
}

export interface Report {
  report: Array<{ remoteAddress: string; remotePort: number; localPort: number; keepalive: typeof POLICY }>;
  inventory: Array<{ direction: string; remotePort: number; keepalive: typeof POLICY; tcp: Record<string, number | null> | null }>;
  stats: { protected: number; live: number; unprotected: Record<string, number>; deaths: Record<string, number> };
}

export class Child {
  readonly process: ChildProcess;
  readonly deaths: DeadReport[] = [];
  readonly stderr: string[] = [];
  private readonly waiting: Array<(message: any) => boolean> = [];

  /** `passed`: sockets the child gets as its fds 4, 5, … */
  constructor(app: string, env: Record<string, string>, execArgv = ['--require', REGISTER, '--require', OBSERVER], passed: unknown[] = []) {
    const stdio = ['ignore', 'inherit', 'pipe', 'ipc', ...passed] as StdioOptions;
    this.process = fork(app, [], { execArgv, env: { ...process.env, ...env }, stdio });
    this.process.stderr!.on('data', (chunk) => this.stderr.push(String(chunk)));
    this.process.on('message', (message: any) => {
      if (process.env.PRELOAD_DEBUG) console.log('child message', JSON.stringify(message).slice(0, 200));
      if (message.dead) this.deaths.push(message.dead);
      for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i](message)) this.waiting.splice(i, 1);
    });
  }

  /** The first message for which pick() returns something. */
  next<T>(pick: (message: any) => T | undefined, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message within ${timeoutMs} ms; stderr: ${this.stderr.join('')}`)), timeoutMs);
      this.process.once('exit', (code) => reject(new Error(`child exited with ${code}: ${this.stderr.join('')}`)));
      this.waiting.push((message) => {
        const value = pick(message);
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      });
    });
  }

  async report(): Promise<Report> {
    const answer = this.next((m) => (m.report ? (m as Report) : undefined));
    this.process.send('report');
    return answer;
  }

  /** Resolves with the death of the connection to remotePort, already arrived or still to come. */
  death(match: (dead: DeadReport) => boolean, timeoutMs = 20_000): Promise<DeadReport> {
    const seen = this.deaths.find(match);
    if (seen) return Promise.resolve(seen);
    return this.next((m) => (m.dead && match(m.dead) ? (m.dead as DeadReport) : undefined), timeoutMs);
  }

  stop(): void {
    if (this.process.exitCode === null) this.process.kill('SIGKILL');
  }
}
