// What every subcommand shares: argument parsing with Node's parseArgs,
// the exit-code convention, colour and aligned tables.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pc from 'picocolors';

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
    throw new UsageError((error as Error).message);
  }
}

/** picocolors decides from the terminal and NO_COLOR / FORCE_COLOR. */
export const color = pc;

export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = all[0]?.map((_, i) => Math.max(...all.map((r) => visible(r[i] ?? '')))) ?? [];
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
