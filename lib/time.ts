// Time limits and durations shared by every layer and the command line.
import { invalidType, invalidValue, outOfRange } from './errors';

/** The largest int32: file descriptors, int socket options. */
export const INT32_MAX = 2 ** 31 - 1;

/** The longest delay a Node timer takes: longer ones fire after 1 ms with a warning. */
export const MAX_TIMER_MS = INT32_MAX;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/y;

/**
 * A duration as people write it: `30s`, `1500ms`, `2m`, `1.5h`, `1m30s`.
 * A bare number is refused everywhere: "30" reads as seconds to some and
 * milliseconds to others. Returns whole ms, rounded up, from 1 to `max`.
 *
 * (`ms` takes no compound values like `1m30s`; `parse-duration` reads a bare
 * number as ms. Hence the few lines here.)
 */
export function parseDuration(text: unknown, field: string, max = MAX_TIMER_MS): number {
  // The text may come from the environment, of any length: quoted short.
  const shown = () => JSON.stringify(typeof text === 'string' && text.length > 40 ? `${text.slice(0, 40)}…` : text);
  const allowed = `a duration with a unit (ms, s, m, h, d) as in 30s, 1500ms or 1m30s, from 1 ms to ${max} ms`;
  if (typeof text !== 'string') throw invalidType(field, allowed, text);
  const compact = text.trim();
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < compact.length) {
    const start = PART.lastIndex;
    const match = PART.exec(compact);
    if (!match) {
      PART.lastIndex = start;
      throw invalidValue(field, `must be ${allowed}; got ${shown()}`);
    }
    total += Number(match[1]) * UNIT_MS[match[2]];
    while (compact[PART.lastIndex] === ' ') PART.lastIndex++;
  }
  if (compact.length === 0) throw invalidValue(field, `must be ${allowed}; got ${shown()}`);
  const ms = Math.ceil(total);
  if (ms < 1 || ms > max) throw outOfRange(field, `from 1 ms to ${max} ms`, text);
  return ms;
}
