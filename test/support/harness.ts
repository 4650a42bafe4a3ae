// Shared by the harness and drill test files.
import { readdirSync, readFileSync } from 'node:fs';

/** Gone, or a zombie nobody reaped yet: either way it runs no more. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

/** Polls until the process is gone; false if it still runs after `ms`. */
export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!processGone(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** The built harness, as a user's program loads it. */
export { DIST_HARNESS as distHarness, BIN as cli } from './paths';

/**
 * Live processes whose environment holds `marker` (children inherit it):
 * what a test started, however deep, found without trusting the harness.
 */
export function processesMarked(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker) && !processGone(pid)) found.push(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
