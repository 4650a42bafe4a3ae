// TEMPORARY: stands in for lib/time.ts parseDuration(text, field), which the
// restructuring adds on main; delete at that merge.
import { invalidValue, outOfRange } from '../errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/y;

export function parseDuration(text: string, field: string): number {
  const trimmed = text.trim();
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < trimmed.length) {
    const start = PART.lastIndex;
    const match = PART.exec(trimmed);
    if (!match) {
      PART.lastIndex = start;
      throw invalidValue(field, `must be a duration such as 2s, 1500ms or 1m30s. Received '${text}'`);
    }
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  if (trimmed === '') throw invalidValue(field, `must be a duration such as 2s, 1500ms or 1m30s. Received '${text}'`);
  if (!(total > 0)) throw outOfRange(field, 'a duration longer than zero', text);
  return Math.ceil(total);
}
