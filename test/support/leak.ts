// Shared by the leak tests: a child started with --expose-gc runs the
// workload and prints one JSON line of samples; the test prints the figures
// and holds them to the stated margins.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

import { ROOT as root } from './paths';
const MiB = 1024 * 1024;

/**
 * From the start of the measured loop (after a warm-up) to its end. `native`
 * is RSS minus the V8 heap's resident size: V8 keeps heap pages it grew into
 * (tens of MiB on Node 24, in steps) while the used heap stays flat, and that
 * says nothing about the addon.
 */
export const MARGIN = { heapBytes: 1 * MiB, nativeBytes: 8 * MiB, fds: 0 };

/** ASan keeps freed memory in quarantine, so resident memory says nothing there; heap and fds still do. */
export const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');

/** Child-side source of sample(): a full collection, then heap, RSS, native and open fds. */
export const SAMPLE_SOURCE = String.raw`
function sample() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  // native: the resident memory outside V8's heap, where an addon's allocations live.
  const native = m.rss - require('node:v8').getHeapStatistics().total_physical_size;
  return { heap: m.heapUsed, rss: m.rss, native, fds: require('node:fs').readdirSync('/proc/self/fd').length };
}
`;

interface Sample {
  heap: number;
  rss: number;
  native: number;
  fds: number;
}

/**
 * Runs `child` (which must print `{ before, after, ... }` as its last line),
 * prints `label` with the figures, checks the margins and returns the rest of
 * what the child printed.
 */
export function expectFlatInChild<T>(child: string, label: (figures: T) => string): T {
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', SAMPLE_SOURCE + child, root], { encoding: 'utf8', timeout: 120_000 });
  const figures = JSON.parse(out.trim().split('\n').pop()!) as T & { before: Sample; after: Sample };
  const { before, after } = figures;
  const growth = { heapBytes: after.heap - before.heap, nativeBytes: after.native - before.native, fds: after.fds - before.fds };
  console.log(
    `${label(figures)}: ` +
      `heap ${(before.heap / MiB).toFixed(2)} -> ${(after.heap / MiB).toFixed(2)} MiB (${growth.heapBytes} B), ` +
      `native ${(before.native / MiB).toFixed(1)} -> ${(after.native / MiB).toFixed(1)} MiB (RSS ${(before.rss / MiB).toFixed(1)} -> ${(after.rss / MiB).toFixed(1)}), ` +
      `fds ${before.fds} -> ${after.fds}; margins: heap ${MARGIN.heapBytes / MiB} MiB, native ${MARGIN.nativeBytes / MiB} MiB, fds ${MARGIN.fds}` +
      (sanitized ? ' (native not judged under ASan)' : ''),
  );
  expect(growth.heapBytes).toBeLessThanOrEqual(MARGIN.heapBytes);
  expect(growth.fds).toBeLessThanOrEqual(MARGIN.fds);
  if (!sanitized) expect(growth.nativeBytes).toBeLessThanOrEqual(MARGIN.nativeBytes);
  return figures;
}
