// The drill's timeline as a user gets it: `tcp-keepalive drill --json --svg`
// run once on blackhole and hang, its rows' events and its picture read
// back, and the picture rendered by a real browser.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasNetAdmin, killAll, namespaceSupport, renderTimeline, type DrillRow, type TimelineEvent } from '../../lib/harness';
import { run } from '../support/cli';
import { isLinux } from '../support/sockets';

const work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-svg-'));
afterAll(async () => {
  await killAll();
  rmSync(work, { recursive: true, force: true });
});

/** Why this process can make no blackhole, here or in a namespace; null when it can. */
function noBlackhole(): string | null {
  if (!isLinux) return 'the drill runs on Linux';
  if (hasNetAdmin()) return null;
  const ns = namespaceSupport();
  return ns.ok ? null : `blackhole needs CAP_NET_ADMIN, and ${ns.reason}`;
}
const blackholeSkip = noBlackhole();

/**
 * The browser is not ours to sanitize: under `npm run test:asan` the suite's
 * LD_PRELOAD of libasan would be inherited and break Chromium's start.
 */
function browserEnv(): NodeJS.ProcessEnv {
  const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, UBSAN_OPTIONS: _ubsan, ...env } = process.env;
  return env;
}

const chromium = ['chromium', 'chromium-browser'].find((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0);

interface LaneEvent {
  kind: string;
  t: number;
  code?: string;
  answered: boolean;
}
interface Lane {
  scenario: string;
  setup: string;
  events: LaneEvent[];
  text: string;
}

/** The lanes of a drawn timeline, each with the events it shows, read back from the SVG's XML. */
function lanesOf(svg: string): Lane[] {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true });
  type Node = Record<string, Node[]> & { ':@'?: Record<string, string>; '#text'?: string };
  const nodes = parser.parse(svg) as Node[];
  const lanes: Lane[] = [];
  const text = (list: Node[]): string => list.map((n) => n['#text'] ?? Object.entries(n).filter(([k]) => k !== ':@').map(([, v]) => text(v as Node[])).join('')).join(' ');
  const walk = (list: Node[], lane: Lane | null) => {
    for (const node of list) {
      const attrs = node[':@'] ?? {};
      const [name] = Object.keys(node).filter((k) => k !== ':@');
      const children = (node[name] ?? []) as Node[];
      const classes = (attrs.class ?? '').split(' ');
      if (classes.includes('lane')) {
        const found: Lane = { scenario: attrs['data-scenario'], setup: attrs['data-setup'], events: [], text: text(children) };
        lanes.push(found);
        walk(children, found);
        continue;
      }
      if (lane && classes.includes('event')) {
        lane.events.push({ kind: classes[1], t: Number(attrs['data-t']), code: attrs['data-code'], answered: attrs['data-answered'] === 'true' });
      }
      if (Array.isArray(children)) walk(children, lane);
    }
  };
  walk(nodes, null);
  return lanes;
}

const kinds = <E extends { kind: string }>(events: readonly E[], kind: string): E[] => events.filter((e) => e.kind === kind);
const noticedOf = (events: readonly TimelineEvent[]) => events.find((e) => e.kind === 'noticed');

describe.skipIf(blackholeSkip !== null)(`drill --svg on blackhole and hang${blackholeSkip ? ` (skipped: ${blackholeSkip})` : ''}`, () => {
  const svgFile = join(work, 'drill.svg');
  let rows: DrillRow[] = [];
  let svg = '';
  let lanes: Lane[] = [];

  beforeAll(async () => {
    // idle 1 s, interval 1 s, count 2: a 3 s budget; the drill waits 9 s for what is not noticed.
    const args = ['drill', '--json', '--svg', svgFile, '--scenario', 'blackhole,hang', '--idle', '1s', '--interval', '1s', '--count', '2'];
    const drill = await run(args);
    // Exit status 1 (a set-up late on a loaded machine) still draws the picture; anything else is a failure.
    if (drill.code !== 0 && drill.code !== 1) throw new Error(`drill exited with ${drill.code}: ${drill.stderr}`);
    rows = JSON.parse(drill.stdout) as DrillRow[];
    svg = readFileSync(svgFile, 'utf8');
    lanes = lanesOf(svg);
  }, 90_000);

  const row = (scenario: string, setup: string) => rows.find((r) => r.scenario === scenario && r.setup === setup)!;
  const lane = (scenario: string, setup: string) => lanes.find((l) => l.scenario === scenario && l.setup === setup)!;

  it('the SVG is well-formed XML with one lane per scenario and set-up, in the table order', () => {
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).not.toMatch(/<script|href=|@import|url\(/);
    expect(rows.every((r) => r.skipped === false)).toBe(true);
    expect(lanes.map((l) => `${l.scenario}/${l.setup}`)).toEqual(rows.map((r) => `${r.scenario}/${r.setup}`));
    expect(rows).toHaveLength(8);
  });

  it("each row's events start at the death and end where the table says: noticed at the measured time, with its code, or not noticed", () => {
    for (const r of rows) {
      const drawn = lane(r.scenario, r.setup).events;
      expect(r.events[0]).toEqual({ t: 0, kind: 'death' });
      // Time order, and what the JSON says is what the picture shows.
      expect(r.events.map((e) => e.t)).toEqual([...r.events.map((e) => e.t)].sort((a, b) => a - b));
      expect(drawn.map((e) => `${e.kind}@${e.t}`)).toEqual(r.events.map((e) => `${e.kind}@${e.t}`));
      const noticed = noticedOf(r.events);
      if (r.detected) {
        expect(noticed).toEqual({ t: r.measuredMs, kind: 'noticed', code: r.how });
        expect(r.detectedAt! - r.diedAt!).toBe(noticed!.t);
        expect(kinds(drawn, 'noticed')[0].code).toBe(r.how);
        expect(lane(r.scenario, r.setup).text).toContain(`${r.how} ${(r.measuredMs! / 1000).toFixed(2)} s`);
        expect(r.events.at(-1)).toBe(noticed);
      } else {
        expect(noticed).toBeUndefined();
        expect(r.events.at(-1)!.kind).toBe('not-noticed');
        expect(lane(r.scenario, r.setup).text).toContain('not noticed');
      }
    }
  });

  it('blackhole / kernel (idle 1 s, interval 1 s, count 2): exactly 2 unanswered probes, 1 s apart, then ETIMEDOUT', () => {
    const r = row('blackhole', 'kernel');
    expect(r).toMatchObject({ detected: true, how: 'ETIMEDOUT' });
    const noticed = noticedOf(r.events)!;
    const probes = kinds(r.events, 'probe');
    expect(probes).toHaveLength(2);
    expect(probes.every((p) => !p.answered && p.t < noticed.t)).toBe(true);
    // Each tick within 50 ms: the readings came at least every 100 ms even on a loaded machine.
    for (const probe of probes) expect(probe.within).toBeLessThanOrEqual(50);
    // The kernel's interval, and the one after the last probe before it gives up: 1 s each, as far as the
    // ticks' own uncertainty and the kernel's timer slack (up to 64 ms for a 1 s timer) allow.
    const slack = 100 + probes[0].within! + probes[1].within!;
    expect(Math.abs(probes[1].t - probes[0].t - 1000)).toBeLessThanOrEqual(slack);
    expect(Math.abs(noticed.t - probes[1].t - 1000)).toBeLessThanOrEqual(slack);
    // The picture: 2 probe marks left of the ETIMEDOUT cross.
    const drawn = lane('blackhole', 'kernel').events;
    expect(kinds(drawn, 'probe').filter((p) => p.t < kinds(drawn, 'noticed')[0].t)).toHaveLength(2);
    expect(kinds(drawn, 'noticed')[0].code).toBe('ETIMEDOUT');
  });

  it('hang / heartbeat: PINGs without PONGs, then ERR_HEARTBEAT_TIMEOUT; hang / kernel: probes answered, never noticed', () => {
    const heartbeat = lane('hang', 'heartbeat').events;
    expect(kinds(heartbeat, 'ping')).toHaveLength(2);
    expect(kinds(heartbeat, 'pong')).toHaveLength(0);
    expect(kinds(heartbeat, 'noticed')[0].code).toBe('ERR_HEARTBEAT_TIMEOUT');
    const pings = kinds(heartbeat, 'ping');
    expect(Math.abs(pings[1].t - pings[0].t - 1000)).toBeLessThan(150);
    // The frozen peer's kernel still ACKs: the keepalive probes go out and are answered, so the kernel layer never notices.
    const kernel = lane('hang', 'kernel').events;
    expect(kinds(kernel, 'probe').length).toBeGreaterThanOrEqual(2);
    expect(kinds(kernel, 'probe').filter((p) => !p.answered)).toEqual([]);
    expect(kinds(kernel, 'noticed')).toHaveLength(0);
    expect(kinds(kernel, 'not-noticed')).toHaveLength(1);
  });

  it.skipIf(!chromium)(`renders in headless Chromium: not blank, the Okabe-Ito marks drawn${chromium ? '' : ' (skipped: no chromium; scripts/install-test-deps.sh installs it)'}`, async () => {
    const shot = join(work, 'drill.png');
    const height = Number(/height="(\d+)"/.exec(svg)![1]);
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
      const args = [...flags, `--user-data-dir=${join(work, 'profile')}`, `--screenshot=${shot}`, `--window-size=960,${height}`, `file://${svgFile}`];
      execFile(chromium!, args, { timeout: 60_000, env: browserEnv() }, (error, _out, stderr) => resolve({ code: error ? 1 : 0, stderr }));
    });
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const png = PNG.sync.read(readFileSync(shot));
    expect(png.width).toBe(960);
    let inked = 0;
    const near = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let count = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        if (Math.abs(png.data[i] - r) + Math.abs(png.data[i + 1] - g) + Math.abs(png.data[i + 2] - b) < 30) count++;
      }
      return count;
    };
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] + png.data[i + 1] + png.data[i + 2] < 3 * 235) inked++;
    // Text, lanes, grid and marks: well over 2 % of the pixels are not background.
    expect(inked / (png.width * png.height)).toBeGreaterThan(0.02);
    // The ETIMEDOUT and heartbeat crosses (vermillion), the probes (blue), the PINGs (reddish purple).
    expect(near('#D55E00')).toBeGreaterThan(50);
    expect(near('#0072B2')).toBeGreaterThan(20);
    expect(near('#CC79A7')).toBeGreaterThan(20);
  }, 90_000);
});

describe.skipIf(!isLinux)('drill --svg, any privilege', () => {
  it('reset: a picture with its four lanes, each noticed with ECONNRESET at the measured time', async () => {
    const file = join(work, 'reset.svg');
    const drill = await run(['drill', '--json', '--svg', file, '--scenario', 'reset']);
    expect(drill.code, drill.stderr).toBe(0);
    const rows = JSON.parse(drill.stdout) as DrillRow[];
    const svg = readFileSync(file, 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    const lanes = lanesOf(svg);
    expect(lanes.map((l) => l.setup)).toEqual(['nothing', 'kernel', 'heartbeat', 'both']);
    lanes.forEach((lane, i) => {
      expect(lane.events.at(-1)).toEqual({ kind: 'noticed', t: rows[i].measuredMs, code: 'ECONNRESET', answered: false });
    });
  });

  it('a file it cannot write fails at once with the system error, before any peer dies', async () => {
    const drill = await run(['drill', '--svg', join(work, 'no-such-dir', 'x.svg'), '--scenario', 'reset']);
    expect(drill.code).toBe(1);
    expect(drill.stderr).toMatch(/ENOENT: no such file or directory, access '.*no-such-dir'/);
    expect(drill.stderr).not.toMatch(/the peer died/);
  });
});

describe('renderTimeline', () => {
  const base = { budgetMs: 3000, skipped: false as const };
  it('draws skipped rows with their reason, a false alarm before the death, and escapes what it writes', () => {
    const svg = renderTimeline(
      [
        { ...base, scenario: 'blackhole', setup: 'kernel', skipped: 'needs CAP_NET_ADMIN <and> a "namespace"', events: [] },
        { ...base, scenario: 'slow', setup: 'heartbeat', events: [{ t: -400, kind: 'noticed', code: 'ERR_HEARTBEAT_TIMEOUT' }, { t: 0, kind: 'death' }] },
        { ...base, scenario: 'a&b', setup: 'nothing', budgetMs: null, events: [{ t: 0, kind: 'death' }, { t: 9000, kind: 'not-noticed' }] },
      ],
      { title: 'drill <test>' },
    );
    expect(XMLValidator.validate(svg)).toBe(true);
    const lanes = lanesOf(svg);
    expect(lanes.map((l) => `${l.scenario}/${l.setup}`)).toEqual(['blackhole/kernel', 'slow/heartbeat', 'a&b/nothing']);
    expect(lanes[0].text).toContain('skipped: needs CAP_NET_ADMIN <and> a "namespace"');
    expect(lanes[0].events).toEqual([]);
    expect(lanes[1].text).toContain('false alarm: ERR_HEARTBEAT_TIMEOUT -0.40 s');
    expect(lanes[2].text).toContain('not noticed');
    // The budget line where the set-up has one, none where it has not.
    expect(svg.match(/class="budget" data-t="3000"/g)).toHaveLength(1);
  });
});
