// What every subcommand shares: argument parsing with Node's parseArgs,
// the exit-code convention, colour and aligned tables.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pc from 'picocolors';
import { MAX_TIMER_MS, parseDuration as parseTimeDuration } from '../time';

/** Exit 2 with one line and the usage: the caller got the words wrong. */
export class UsageError extends Error {}

export interface Command {
  /** one line for the overview */
  summary: string;
  /** full --help text */
  usage: string;
  run(argv: string[]): Promise<number> | number;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: Options, allowPositionals = false): Parsed {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    // `--idle -5s`: parseArgs takes the value for another option and calls it ambiguous; name what it is.
    const option = /^Option '(--[\w-]+)' argument is ambiguous/.exec((error as Error).message)?.[1];
    const value = option === undefined ? undefined : argv[argv.indexOf(option) + 1];
    if (value !== undefined && /^-\d/.test(value)) throw negative(option!, value);
    // parseArgs explains some errors over several lines; a usage error is one.
    throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}

function negative(option: string, text: string): UsageError {
  return new UsageError(`${option} cannot be negative; got '${text}' (give a positive value, as in ${option} 5s)`);
}

/** picocolors decides from the terminal and NO_COLOR / FORCE_COLOR. */
export const color = pc;

export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  // A loop, not Math.max(...column): a spread of 130 000 rows overflows the stack.
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i] - visible(cell)))).join('  ').trimEnd();
  const out = all.map(line);
  if (header) out[0] = color.bold(out[0]);
  return out.join('\n');
}

/** 7875000 -> "2h 11m 15s"; under a second, "500ms". */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join(' ');
}

/**
 * A duration option (`--idle 1m30s`): lib/time's parser, its refusal turned
 * into a usage error (exit 2 at once). Bounded to what a Node timer takes.
 */
export function parseDuration(text: string, option: string, max = MAX_TIMER_MS, { zero = false } = {}): number {
  if (text.trim().startsWith('-')) throw negative(option, text);
  // A zero with a unit (0ms, 0s) where the option allows none: --delay 0ms is no delay.
  if (zero && /^\s*0+(\.0+)?\s*(ms|s|m|h|d)\s*$/.test(text)) return 0;
  try {
    return parseTimeDuration(text, option, max);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A whole number in [min, max] given on the command line. */
export function parseInteger(text: string, option: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}; got '${text}'`);
  }
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
