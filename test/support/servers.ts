// Real database servers for the tests: a private redis-server, PostgreSQL or
// MariaDB, each in a network namespace of its own, reached from the test
// process over a veth pair. Each can be frozen (SIGSTOP: the kernel still
// answers, the server does not), blackholed (nft drops everything inside
// its namespace), or killed, and is cleaned up after, also when a test
// fails or the test process exits without stop().
//
// Needs root (ip netns) on Linux with the server installed; serverSkipReason()
// says why not otherwise, for it.skipIf(). The system's own instances are
// never touched: every server gets its own data directory, namespace and
// address, and runs as the package's unprivileged user.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, appendFileSync, chmodSync, chownSync, closeSync, constants, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { setKeepAlive, type KeepAliveOptions } from '../../lib';

// The servers and tools are not ours to instrument: a sanitizer preloaded
// into the test's Node (npm run test:asan) stays out of them.
const PRELOAD_VARIABLES = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'];
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !PRELOAD_VARIABLES.includes(name)));
const execFileAsync = promisify(execFile);
const run = (file: string, args: string[]) => execFileAsync(file, args, { env });

export type ServerKind = 'redis' | 'postgres' | 'mariadb';

export interface RunningServer {
  readonly kind: ServerKind;
  /** address of the server, inside its namespace, reachable from the test process */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** pid of the server's main process */
  readonly pid: number;
  /** name of its network namespace (`ip netns exec <name> ...`) */
  readonly namespace: string;
  /** SIGSTOP to every process of the server: its kernel still ACKs, nothing answers. */
  freeze(): Promise<void>;
  /** SIGCONT to every process of the server. */
  thaw(): Promise<void>;
  /** Drops every packet in and out of the server's namespace. */
  blackhole(): Promise<void>;
  /** Removes the drop rules. */
  unblackhole(): Promise<void>;
  /** SIGKILL to every process of the server; its kernel closes the connections. */
  kill(): Promise<void>;
  /** Kills the server, deletes its namespace and data. Idempotent. */
  stop(): Promise<void>;
  /** The last lines the server logged, for failure messages. */
  log(): string;
}

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
function findTool(name: string): string | undefined {
  return SEARCH_DIRS.map((dir) => join(dir, name)).find((p) => existsSync(p));
}
function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

const tools = {
  ip: findTool('ip'),
  nft: findTool('nft'),
  setpriv: findTool('setpriv'),
  cp: findTool('cp'),
  redis: findTool('redis-server'),
  mariadbd: findTool('mariadbd') ?? findTool('mysqld'),
  mariadbInstall: findTool('mariadb-install-db') ?? findTool('mysql_install_db'),
  postgres: findPostgresBin(),
};

/** The unprivileged user each server runs as (the Debian package creates it). */
const SERVICE_USER: Record<ServerKind, string> = { redis: 'redis', postgres: 'postgres', mariadb: 'mysql' };
const PACKAGE: Record<ServerKind, string> = { redis: 'redis-server', postgres: 'postgresql', mariadb: 'mariadb-server' };

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

/** Why a server of this kind cannot be started here, or undefined if it can. */
export function serverSkipReason(kind: ServerKind): string | undefined {
  if (process.platform !== 'linux') return `${process.platform} has no network namespaces`;
  if (process.getuid?.() !== 0) return 'not root: ip netns, which isolates the server, needs root';
  if (!tools.ip) return 'ip (iproute2) is not installed';
  if (!tools.nft) return 'nft (nftables), which blackholes the server, is not installed';
  if (!tools.setpriv) return 'setpriv (util-linux) is not installed';
  const binary = { redis: tools.redis, postgres: tools.postgres, mariadb: tools.mariadbd && tools.mariadbInstall }[kind];
  if (!binary) return `${PACKAGE[kind]} is not installed (scripts/install-test-deps.sh installs it as root)`;
  if (!userIds(SERVICE_USER[kind])) return `user ${SERVICE_USER[kind]}, which ${PACKAGE[kind]} creates, is missing`;
  return undefined;
}

// ---------------------------------------------------------------- clean-up

const NAMESPACE_PREFIX = 'tka-srv-';
const DIR_PREFIX = 'tka-servers-';
const running = new Set<Instance>();
let hooked = false;

const pidAlive = (pid: number) => existsSync(`/proc/${pid}`);

/** The fields of a /proc stat file after "pid (comm) ": [state, ppid, ...]; comm may hold spaces and parentheses. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process and every descendant, from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(`/proc/${entry}/stat`)[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** The threads of these processes that are not stopped yet (state T or t in /proc); exited ones and zombies count as stopped. */
function threadsRunning(pids: number[]): string[] {
  const running: string[] = [];
  for (const pid of pids) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    for (const task of tasks) {
      try {
        const [state] = statFields(`/proc/${pid}/task/${task}/stat`);
        if (!['T', 't', 'Z', 'X'].includes(state)) running.push(`${pid}/${task} (${state})`);
      } catch {
        // exited meanwhile
      }
    }
  }
  return running;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

/** Kills whatever still runs in a namespace, then deletes it (and with it the veth pair). */
function deleteNamespaceSync(namespace: string): void {
  const pids = spawnSync(tools.ip!, ['netns', 'pids', namespace], { encoding: 'utf8', env }).stdout ?? '';
  signalAll(pids.split(/\s+/).filter(Boolean).map(Number), 'SIGKILL');
  spawnSync(tools.ip!, ['netns', 'delete', namespace], { env });
}

/** Never throws on the way out: what is left, the next start sweeps away. */
function cleanUpSync(): void {
  try {
    removeEverythingSync();
  } catch {
    // leftovers of a dead process are swept by sweepLeftovers()
  }
}

function removeEverythingSync(): void {
  for (const instance of running) instance.destroySync();
  if (fileDir) rmSync(fileDir, { recursive: true, force: true, maxRetries: 3 });
  fileDir = undefined;
  templates.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanUpSync();
  // Our listener suppressed the default action: end the way the signal would have.
  process.off(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanUpSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  sweepLeftovers();
}

/** Namespaces and directories left by a test process that died without clean-up (SIGKILL). */
function sweepLeftovers(): void {
  const list = spawnSync(tools.ip!, ['netns', 'list'], { encoding: 'utf8', env }).stdout ?? '';
  for (const name of list.split('\n').map((l) => l.split(' ')[0])) {
    const owner = new RegExp(`^${NAMESPACE_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (owner && !pidAlive(Number(owner))) deleteNamespaceSync(name);
  }
  const base = baseDir();
  for (const entry of readdirSync(base)) {
    const owner = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (owner && !pidAlive(Number(owner))) rmSync(join(base, entry), { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ directories

/** A temp dir every service user can reach: the CI's TMPDIR may be closed to others. */
function baseDir(): string {
  const candidate = tmpdir();
  for (let dir = candidate; ; dir = dirname(dir)) {
    try {
      accessSync(dir, constants.F_OK);
      const mode = spawnSync('/usr/bin/stat', ['-c', '%a', dir], { encoding: 'utf8', env }).stdout.trim();
      if ((parseInt(mode, 8) & 0o001) === 0) return '/tmp';
    } catch {
      return '/tmp';
    }
    if (dir === dirname(dir)) return candidate;
  }
}

let fileDir: string | undefined;
/** This test process's own directory; holds the templates and every server's data. */
function processDir(): string {
  if (!fileDir) {
    fileDir = mkdtempSync(join(baseDir(), `${DIR_PREFIX}${process.pid}-`));
    chmodSync(fileDir, 0o755);
  }
  return fileDir;
}

function ownedDir(path: string, user: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const ids = userIds(user)!;
  chownSync(path, ids.uid, ids.gid);
  return path;
}

function asUser(user: string, command: string[]): string[] {
  return [tools.setpriv!, `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--pdeathsig', 'SIGKILL', '--', ...command];
}

// ---------------------------------------------------------------- network

let counter = 0;
interface Network {
  namespace: string;
  hostAddress: string;
  serverAddress: string;
}

// Asynchronous, as is everything a test does while other servers' clients are
// being timed: a blocked event loop would make their timers late.
async function usedAddresses(): Promise<string> {
  return (await run(tools.ip!, ['-4', '-o', 'addr', 'show'])).stdout;
}

/** A namespace (the nth of this process) with a veth pair to it, on a random /30 of 100.64.0.0/10 that no interface here uses. */
async function makeNetwork(n: number): Promise<Network> {
  const id = `${process.pid.toString(36)}${n.toString(36)}`;
  const namespace = `${NAMESPACE_PREFIX}${process.pid}-${n}`;
  const used = await usedAddresses();
  let hostAddress: string;
  let serverAddress: string;
  do {
    const prefix = `100.${64 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 256)}.`;
    const base = Math.floor(Math.random() * 64) * 4;
    hostAddress = `${prefix}${base + 1}`;
    serverAddress = `${prefix}${base + 2}`;
  } while (used.includes(` ${hostAddress}/`) || used.includes(` ${serverAddress}/`));
  const hostSide = `tkh${id}`.slice(0, 15);
  const serverSide = `tkn${id}`.slice(0, 15);
  const ip = tools.ip!;
  await run(ip, ['netns', 'add', namespace]);
  try {
    await run(ip, ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', serverSide, 'netns', namespace]);
    await run(ip, ['addr', 'add', `${hostAddress}/30`, 'dev', hostSide]);
    await run(ip, ['link', 'set', hostSide, 'up']);
    await run(ip, ['-n', namespace, 'addr', 'add', `${serverAddress}/30`, 'dev', serverSide]);
    await run(ip, ['-n', namespace, 'link', 'set', serverSide, 'up']);
    await run(ip, ['-n', namespace, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    deleteNamespaceSync(namespace);
    throw error;
  }
  return { namespace, hostAddress, serverAddress };
}

const BLACKHOLE_RULES = `table inet tka_blackhole {
  chain in { type filter hook input priority -300; policy drop; }
  chain out { type filter hook output priority -300; policy drop; }
}
`;

// ---------------------------------------------------------------- servers

interface Launch {
  kind: ServerKind;
  /** the server's command line, run as its service user in the namespace */
  command: (address: string, port: number, dir: string) => string[];
  /** prepares the data directory (owned by the service user) before the start */
  prepare?: (dir: string) => Promise<void>;
  /** true once the server takes connections */
  ready?: (dir: string) => boolean;
  user: string;
  password: string;
  database: string;
}

class Instance implements RunningServer {
  readonly kind: ServerKind;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly host: string;
  readonly port: number;
  readonly namespace: string;
  private child?: ChildProcess;
  private readonly logFile: string;
  private stopped = false;

  constructor(
    private readonly launch: Launch,
    network: Network,
    private readonly dir: string,
  ) {
    this.kind = launch.kind;
    this.user = launch.user;
    this.password = launch.password;
    this.database = launch.database;
    this.host = network.serverAddress;
    this.namespace = network.namespace;
    // The namespace is the server's alone: any port is free in it.
    this.port = 20_000 + Math.floor(Math.random() * 40_000);
    this.logFile = join(dir, 'server.log');
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  async start(): Promise<void> {
    writeFileSync(this.logFile, '');
    const ids = userIds(SERVICE_USER[this.kind])!;
    chownSync(this.logFile, ids.uid, ids.gid);
    const command = asUser(SERVICE_USER[this.kind], this.launch.command(this.host, this.port, this.dir));
    const log = openSync(this.logFile, 'a');
    // `ip netns exec` and setpriv exec in place: the child's pid is the server's.
    this.child = spawn(tools.ip!, ['netns', 'exec', this.namespace, ...command], { stdio: ['ignore', log, log], detached: true, env });
    closeSync(log);
    this.child.unref();
    const exited = once(this.child, 'exit').then(([code, signal]) => {
      throw new Error(`${this.kind} exited (${code ?? signal}) while starting:\n${this.log()}`);
    });
    exited.catch(() => {});
    await Promise.race([this.waitReady(), exited]);
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child!.exitCode !== null || this.child!.signalCode !== null) return;
      if ((await this.accepts()) && (this.launch.ready?.(this.dir) ?? true)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${this.kind} did not take connections on ${this.host}:${this.port} within 60 s:\n${this.log()}`);
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(this.port, this.host);
      socket.setTimeout(1000);
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => resolve(false));
      socket.once('close', () => resolve(false));
      socket.once('connect', () => socket.destroy());
      socket.once('timeout', () => socket.destroy());
    });
  }

  async freeze(): Promise<void> {
    // The main process first: once stopped, it forks no child we could miss.
    signalAll([this.pid], 'SIGSTOP');
    const tree = processTree(this.pid);
    signalAll(tree, 'SIGSTOP');
    // kill() returns once the signal is queued; the threads stop as they are
    // next scheduled. On a busy machine a server thread woken by a request
    // sent right after could still answer it: the freeze is over only when
    // every thread is seen stopped.
    const deadline = performance.now() + 5000;
    for (;;) {
      const running = threadsRunning([this.pid, ...tree]);
      if (running.length === 0) return;
      if (performance.now() > deadline) throw new Error(`${this.kind}: threads still running 5 s after SIGSTOP: ${running.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  async thaw(): Promise<void> {
    signalAll(processTree(this.pid), 'SIGCONT');
  }

  async blackhole(): Promise<void> {
    const child = spawn(tools.ip!, ['netns', 'exec', this.namespace, tools.nft!, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.stdin!.end(BLACKHOLE_RULES);
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`nft could not blackhole ${this.namespace}: ${stderr.trim()}`);
  }

  async unblackhole(): Promise<void> {
    await run(tools.ip!, ['netns', 'exec', this.namespace, tools.nft!, 'delete', 'table', 'inet', 'tka_blackhole']);
  }

  async kill(): Promise<void> {
    if (this.pid < 0) return;
    // Stopped first, the main process forks nothing we could miss, and its
    // children die with it rather than noticing its death.
    signalAll([this.pid], 'SIGSTOP');
    signalAll(processTree(this.pid).reverse(), 'SIGKILL');
    const child = this.child!;
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.kill();
    if (this.stopped) return;
    this.stopped = true;
    running.delete(this);
    const pids = await run(tools.ip!, ['netns', 'pids', this.namespace]).then(({ stdout }) => stdout, () => '');
    signalAll(pids.split(/\s+/).filter(Boolean).map(Number), 'SIGKILL');
    await run(tools.ip!, ['netns', 'delete', this.namespace]).catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }

  /** @internal kills everything left in the namespace, deletes it and the data. */
  destroySync(): void {
    if (this.stopped) return;
    this.stopped = true;
    running.delete(this);
    if (this.pid > 0) signalAll(processTree(this.pid), 'SIGKILL');
    deleteNamespaceSync(this.namespace);
    rmSync(this.dir, { recursive: true, force: true });
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

async function startServer(launch: Launch): Promise<RunningServer> {
  const reason = serverSkipReason(launch.kind);
  if (reason) throw new Error(`cannot start ${launch.kind}: ${reason}`);
  hook();
  const n = counter++;
  const dir = ownedDir(join(processDir(), `${launch.kind}-${n}`), SERVICE_USER[launch.kind]);
  await launch.prepare?.(dir);
  const network = await makeNetwork(n);
  const instance = new Instance(launch, network, dir);
  running.add(instance);
  try {
    await instance.start();
  } catch (error) {
    instance.destroySync();
    throw error;
  }
  return instance;
}

/** Runs a command as a service user, failing with its output. */
async function runAs(user: string, command: string[], input?: string): Promise<void> {
  const [file, ...args] = asUser(user, command);
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  child.stdin!.end(input ?? '');
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${command.join(' ')} failed (${code}):\n${output.slice(-2000)}`);
}

/** Copies a template data directory, ownership and modes included. */
async function copyTemplate(template: string, target: string): Promise<void> {
  await run(tools.cp!, ['-a', `${template}/.`, target]);
}

const PASSWORD = 'tka-test-secret';

// redis -------------------------------------------------------------------

/** A private redis-server, no persistence, password PASSWORD for the default user. */
export function startRedis(): Promise<RunningServer> {
  return startServer({
    kind: 'redis',
    user: 'default',
    password: PASSWORD,
    database: '0',
    command: (address, port, dir) => [
      tools.redis!,
      '--port', String(port),
      '--bind', address,
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
      '--protected-mode', 'no',
      '--requirepass', PASSWORD,
      '--daemonize', 'no',
    ],
  });
}

const templates = new Map<ServerKind, Promise<string>>();

/**
 * Builds a data directory once per test process (initdb and
 * mariadb-install-db take seconds); each server gets a copy of it in
 * <its dir>/data.
 */
function fromTemplate(kind: ServerKind, build: (data: string, dir: string) => Promise<void>): (dir: string) => Promise<void> {
  const user = SERVICE_USER[kind];
  return async (dir) => {
    if (!templates.has(kind)) {
      const templateDir = ownedDir(join(processDir(), `${kind}-template`), user);
      const data = join(templateDir, 'data');
      templates.set(kind, build(data, templateDir).then(() => data));
    }
    await copyTemplate(await templates.get(kind)!, ownedDir(join(dir, 'data'), user));
  };
}

// postgres ----------------------------------------------------------------

const postgresData = fromTemplate('postgres', async (data, dir) => {
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${PASSWORD}\n`);
  const ids = userIds('postgres')!;
  chownSync(pwfile, ids.uid, ids.gid);
  await runAs('postgres', [join(tools.postgres!, 'initdb'), '-D', data, '-N', '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`]);
  appendFileSync(join(data, 'pg_hba.conf'), 'host all all 0.0.0.0/0 scram-sha-256\n');
});

/** A private PostgreSQL: user postgres, password PASSWORD, database postgres. */
export function startPostgres(): Promise<RunningServer> {
  return startServer({
    kind: 'postgres',
    user: 'postgres',
    password: PASSWORD,
    database: 'postgres',
    prepare: postgresData,
    ready: (dir) => {
      // postmaster.pid's 8th line says "ready" once it accepts queries
      try {
        return readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() === 'ready';
      } catch {
        return false;
      }
    },
    command: (address, port, dir) => [
      join(tools.postgres!, 'postgres'),
      '-D', join(dir, 'data'),
      '-p', String(port),
      '-h', address,
      '-k', dir,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=16MB',
      '-c', 'max_connections=40',
    ],
  });
}

// mariadb -----------------------------------------------------------------

const MARIADB_SETTINGS = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--skip-log-bin', '--skip-name-resolve', '--performance-schema=OFF'];

/** The system tables, with user `tka` allowed from anywhere and its database. */
const mariadbData = fromTemplate('mariadb', async (data) => {
  await runAs('mysql', [tools.mariadbInstall!, '--no-defaults', `--datadir=${data}`, '--skip-test-db', '--auth-root-authentication-method=normal', ...MARIADB_SETTINGS]);
  const sql = [
    'USE mysql;',
    'FLUSH PRIVILEGES;',
    `CREATE USER 'tka'@'%' IDENTIFIED BY '${PASSWORD}';`,
    "GRANT ALL ON *.* TO 'tka'@'%';",
    'CREATE DATABASE tka;',
  ].join('\n');
  await runAs('mysql', [tools.mariadbd!, '--no-defaults', '--bootstrap', `--datadir=${data}`, ...MARIADB_SETTINGS], sql);
});

/** A private MariaDB: user tka, password PASSWORD, database tka. */
export function startMariadb(): Promise<RunningServer> {
  return startServer({
    kind: 'mariadb',
    user: 'tka',
    password: PASSWORD,
    database: 'tka',
    prepare: mariadbData,
    command: (address, port, dir) => [
      tools.mariadbd!,
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      `--port=${port}`,
      `--bind-address=${address}`,
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      ...MARIADB_SETTINGS,
    ],
  });
}

/** Starts a server of the given kind. */
export function startServerOf(kind: ServerKind): Promise<RunningServer> {
  return { redis: startRedis, postgres: startPostgres, mariadb: startMariadb }[kind]();
}

/** Stops every server this process started (for afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

// ------------------------------------------------- for the tests' clients

/** What a driver's error says, as the tests tabulate it: its code, else its message. */
export function describeError(error: unknown): string {
  return String((error as { code?: string }).code ?? (error as Error).message);
}

/**
 * Sends `request` again `retryMs` after each failure until it is answered
 * (true) or `deadline` (performance.now()) passes (false): an application
 * retrying its request across a server's freeze and its own reconnects.
 */
export async function untilAnswered(request: () => Promise<unknown>, deadline: number, retryMs: number): Promise<boolean> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  while (performance.now() < deadline) {
    const answered = await Promise.race([request().then(() => true, () => false), sleep(deadline - performance.now()).then(() => false)]);
    if (answered) return true;
    await sleep(retryMs);
  }
  return false;
}

/**
 * mysql2's connection options as docs/recipes.md has them: the server's
 * credentials, and a `stream` through which mysql2 makes each socket with
 * the kernel's options set before it connects. `onSocket` sees each socket
 * the connection (or pool) makes.
 */
export function mysql2RecipeOptions(server: RunningServer, keepalive: KeepAliveOptions, onSocket: (socket: net.Socket) => void = () => {}) {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    stream: ({ config }: { config: { host: string; port: number } }) => {
      const socket = net.connect(config.port, config.host);
      socket.setNoDelay(true);
      setKeepAlive(socket, keepalive);
      onSocket(socket);
      return socket;
    },
  };
}
