// Every process the harness starts is recorded here so that none outlives
// it: killed on process exit, on SIGINT/SIGTERM/SIGHUP, and by killAll()
// (which tests call in afterEach). A frozen peer (SIGSTOP) still dies from
// SIGKILL, so SIGKILL is what is sent.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const live = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooked = false;

function killNow(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGKILL');
  } catch {
    // already reaped
  }
}

function onExit(): void {
  for (const child of live) killNow(child);
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  // Our listener suppressed the default action; with it gone, the signal
  // ends the process the way it would have.
  unhook();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Records a child until it exits. */
export function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  hook();
  child.once('exit', () => {
    live.delete(child);
    if (live.size === 0) unhook();
  });
  return child;
}

/** Pids of the harness's children still running. */
export function liveChildren(): number[] {
  return [...live].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!).filter(Boolean);
}

/** Kills every child the harness started and waits until they are gone. */
export async function killAll(): Promise<void> {
  const waiting = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        killNow(child);
      }),
  );
  await Promise.all(waiting);
}

/**
 * Where util-linux setpriv exists, children are started through it with a
 * parent-death signal: the kernel kills them even when this process is
 * itself killed with SIGKILL and no handler runs.
 */
export function deathSignalPrefix(): string[] {
  if (process.platform !== 'linux') return [];
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  return setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--'] : [];
}

/**
 * The command line that runs one of the harness's scripts in this runtime.
 * Deno runs a script only with `run` and permissions before it; its fork()
 * adds them itself, but in front of all arguments, so behind a custom
 * execPath (setpriv) they land where setpriv takes a command. Spelled out
 * here, spawn() with an 'ipc' stdio works the same in Node, Bun and Deno.
 */
export function scriptCommand(script: string, ...args: string[]): string[] {
  const runtime = process.versions.deno === undefined ? [process.execPath] : [process.execPath, 'run', '--allow-all'];
  return [...runtime, script, ...args];
}
