import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, type Command } from './common';

// Each subcommand lives in its own module, loaded only when asked for. The
// '.js' is needed: the compiled import() resolves like ESM; each module
// exports its Command as `command`.
const COMMANDS: Record<string, () => Promise<Command>> = {
  sysctl: async () => (await import('./commands/sysctl.js')).command,
  plan: async () => (await import('./commands/plan.js')).command,
  sockets: async () => (await import('./commands/sockets.js')).command,
  'ping-server': async () => (await import('./commands/ping.js')).pingServer,
  'ping-client': async () => (await import('./commands/ping.js')).pingClient,
  drill: async () => (await import('./commands/drill.js')).command,
  'idle-limit': async () => (await import('./commands/idle-limit.js')).command,
};

const DEFAULT = 'sysctl';

function overview(commands: Record<string, Command | Error>): string {
  const lines = Object.entries(commands).map(
    ([name, c]) => `  ${name.padEnd(12)} ${c instanceof Error ? `(cannot be loaded: ${c.message.split('\n')[0]})` : c.summary}`,
  );
  return `Usage: tcp-keepalive [command] [options]\n\nCommands:\n${lines.join('\n')}\n\nWith no command: ${DEFAULT}. Every command takes --help and --json; --version prints the version.`;
}

// One command that cannot load (a missing native build, say) must not take the overview down with it.
async function loadAll(): Promise<Record<string, Command | Error>> {
  const entries = await Promise.all(
    Object.entries(COMMANDS).map(async ([name, load]) => [name, await load().catch((error: Error) => error)] as const),
  );
  return Object.fromEntries(entries);
}

export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    // package.json sits two levels up from both lib/cli and dist/cli.
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`${version}\n`);
    return;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(overview(await loadAll()) + '\n');
    return;
  }
  const name = first === undefined || first.startsWith('-') ? DEFAULT : first;
  const args = name === first ? rest : argv;
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`tcp-keepalive: unknown command '${name}'\n\n${overview(await loadAll())}\n`);
    process.exitCode = 2;
    return;
  }
  let command: Command | undefined;
  try {
    command = await load();
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(command.usage + '\n');
      return;
    }
    process.exitCode = await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tcp-keepalive ${name}: ${error.message}\n\n${command?.usage ?? ''}\n`);
      process.exitCode = 2;
    } else {
      // A failure is one line: the first of a message, e.g. why the native addon is missing.
      process.stderr.write(`tcp-keepalive ${name}: ${String((error as Error).message).split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  }
}
