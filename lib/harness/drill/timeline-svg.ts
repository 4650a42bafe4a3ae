// The drill's timeline as one self-contained SVG: a lane per scenario x
// set-up on a shared time axis from the death, with what the kernel and
// the heartbeat sent, the budget, and when (and how) the client noticed.
// Plain SVG written as text: no script, no external font or CSS, so it
// shows the same in a browser and in GitHub's <img> view of a README. A
// few dozen shapes and labels need no runtime dependency: the SVG
// libraries want a DOM (svg.js with svgdom, D3 with jsdom), and an XML
// builder (xmlbuilder2) would add only the escaping, one line here.
import type { TimelineEvent } from './events';

/**
 * What the picture needs of a drill row (DrillRow has all of it; the
 * renderer does not depend on the drill): any scenario or set-up name draws.
 */
export interface TimelineRow {
  /** the lane's first label */
  scenario: string;
  /** the lane's second label */
  setup: string;
  /** why the row was not run, or false */
  skipped: string | false;
  /** ms: drawn as the set-up's budget line; null for none */
  budgetMs: number | null;
  /** the marks, t in ms from the death */
  events: TimelineEvent[];
}

/** Options of `renderTimeline()`. */
export interface TimelineOptions {
  /** the heading line, e.g. the drill's settings */
  title?: string;
}

// Okabe & Ito's palette, told apart by people with any common colour
// vision deficiency; every kind also has a shape of its own.
const COLOR = {
  probe: '#0072B2', // blue
  retransmit: '#E69F00', // orange
  ping: '#CC79A7', // reddish purple
  pong: '#009E73', // bluish green
  noticed: '#D55E00', // vermillion
  text: '#222222',
  muted: '#6b6b6b',
  grid: '#e3e3e3',
};

const WIDTH = 960;
const PLOT_LEFT = 200;
const PLOT_RIGHT = WIDTH - 24;
const LANE = 24;
const MARK = 5;
/** px the label "not noticed" takes, at the font size used */
const NOT_NOTICED_WIDTH = 84;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** A white outline behind text, so lines it crosses do not cut through the letters. */
const HALO = 'stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"';

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A tick step of 1, 2 or 5 x 10^n ms giving at most 12 ticks. */
function tickStep(span: number): number {
  for (let power = 100; ; power *= 10) {
    for (const factor of [1, 2, 5]) if (span / (power * factor) <= 12) return power * factor;
  }
}

/** A marker of the event's own shape centred on (x, y). */
function marker(kind: 'probe' | 'retransmit' | 'ping' | 'pong', x: number, y: number, hollow = false): string {
  const fill = hollow ? '#ffffff' : COLOR[kind];
  const paint = `fill="${fill}" stroke="${COLOR[kind]}" stroke-width="1.5"`;
  const r = MARK;
  switch (kind) {
    case 'probe':
      return `<path d="M${x} ${y - r}L${x + r} ${y + r * 0.8}L${x - r} ${y + r * 0.8}Z" ${paint}/>`;
    case 'retransmit':
      return `<path d="M${x} ${y - r}L${x + r} ${y}L${x} ${y + r}L${x - r} ${y}Z" ${paint}/>`;
    case 'ping':
      return `<circle cx="${x}" cy="${y}" r="${r - 0.5}" ${paint}/>`;
    case 'pong':
      return `<rect x="${x - r + 1}" y="${y - r + 1}" width="${2 * r - 2}" height="${2 * r - 2}" ${paint}/>`;
  }
}

function cross(x: number, y: number): string {
  const r = MARK + 1;
  return `<path d="M${x - r} ${y - r}L${x + r} ${y + r}M${x - r} ${y + r}L${x + r} ${y - r}" stroke="${COLOR.noticed}" stroke-width="3" stroke-linecap="round"/>`;
}

/** A request the client sent (the middlebox scenario): a flag below the lane, filled when answered. */
function requestMark(x: number, y: number, answered: boolean): string {
  return `<path d="M${x} ${y + 8}V${y - 8}L${x + 8} ${y - 5}L${x} ${y - 2}" fill="${answered ? COLOR.pong : '#ffffff'}" stroke="${COLOR.text}" stroke-width="1.5"/>`;
}

const LEGEND: { label: string; draw: (x: number, y: number) => string }[] = [
  { label: 'death (t = 0)', draw: (x, y) => `<path d="M${x} ${y - 8}V${y + 8}" stroke="${COLOR.text}" stroke-width="2"/>` },
  { label: 'keepalive probe, unanswered', draw: (x, y) => marker('probe', x, y) },
  { label: 'keepalive probe, answered', draw: (x, y) => marker('probe', x, y, true) },
  { label: 'retransmission', draw: (x, y) => marker('retransmit', x, y) },
  { label: 'heartbeat PING sent', draw: (x, y) => marker('ping', x, y) },
  { label: 'PONG received', draw: (x, y) => marker('pong', x, y) },
  { label: 'noticed, and how', draw: (x, y) => cross(x, y) },
  {
    label: 'not noticed by the end of the wait',
    draw: (x, y) => `<path d="M${x - 9} ${y}H${x + 7}" stroke="${COLOR.muted}" stroke-width="2" stroke-dasharray="4 3"/><path d="M${x + 8} ${y - 6}V${y + 6}" stroke="${COLOR.muted}" stroke-width="2"/>`,
  },
  { label: 'request sent (answered: filled)', draw: (x, y) => requestMark(x, y, true) },
  { label: 'budget (idle + interval × count)', draw: (x, y) => `<path d="M${x} ${y - 8}V${y + 8}" stroke="${COLOR.text}" stroke-width="1.5" stroke-dasharray="3 2"/>` },
];

function legend(top: number): { svg: string; height: number } {
  const perRow = 3;
  const column = (WIDTH - 16) / perRow;
  const items = LEGEND.map((item, i) => {
    const x = 16 + (i % perRow) * column;
    const y = top + Math.floor(i / perRow) * 20;
    return `<g class="legend-item">${item.draw(x + 9, y)}<text x="${x + 24}" y="${y + 4}">${escape(item.label)}</text></g>`;
  });
  return { svg: `<g class="legend">${items.join('')}</g>`, height: Math.ceil(LEGEND.length / perRow) * 20 };
}

/**
 * Draws the rows' timelines: one lane each, in the order given, on one
 * axis from the earliest event (the death, t = 0, unless a false alarm came
 * before it) to the latest. Every event is an element with class
 * `event <kind>` and `data-t` (ms from the death), inside a
 * `<g class="lane" data-scenario data-setup>`, so tools and tests can read
 * the picture back.
 */
export function renderTimeline(rows: readonly TimelineRow[], options: TimelineOptions = {}): string {
  const times = rows.flatMap((row) => [...row.events.map((e) => e.t), row.budgetMs ?? 0]);
  const earliest = Math.min(0, ...times);
  const latest = Math.max(1000, ...times);
  const plotWidth = PLOT_RIGHT - PLOT_LEFT;
  // Room right of the latest event for the words "not noticed".
  const wanted = earliest + ((latest - earliest) * plotWidth) / (plotWidth - NOT_NOTICED_WIDTH);
  const step = tickStep(wanted - earliest);
  const start = Math.floor(earliest / step) * step;
  const end = Math.ceil(wanted / 100) * 100;
  const x = (t: number) => +(PLOT_LEFT + ((t - start) / (end - start)) * (PLOT_RIGHT - PLOT_LEFT)).toFixed(1);

  const title = options.title ?? 'tcp-keepalive drill';
  const head = `<text x="16" y="26" font-size="16" font-weight="bold">${escape(title)}</text>`;
  const key = legend(50);
  const lanesTop = 50 + key.height + 22;
  const lanesBottom = lanesTop + rows.length * LANE;
  const height = lanesBottom + 44;

  const grid: string[] = [];
  for (let t = start; t <= end + 1e-9; t += step) {
    grid.push(`<path d="M${x(t)} ${lanesTop}V${lanesBottom}" stroke="${COLOR.grid}"/>`);
    grid.push(`<text x="${x(t)}" y="${lanesBottom + 16}" text-anchor="middle" fill="${COLOR.muted}">${t / 1000} s</text>`);
  }
  const axisLabel = `<text x="${(PLOT_LEFT + PLOT_RIGHT) / 2}" y="${lanesBottom + 34}" text-anchor="middle" fill="${COLOR.muted}">time since the death</text>`;

  const lanes = rows.map((row, i) => lane(row, lanesTop + i * LANE, i === 0 || rows[i - 1].scenario !== row.scenario, x));
  const death = `<g class="death-label"><path d="M${x(0)} ${lanesTop - 6}V${lanesTop}" stroke="${COLOR.text}" stroke-width="2"/><text x="${x(0)}" y="${lanesTop - 9}" text-anchor="middle" font-weight="bold">death</text></g>`;

  const description = `${rows.length} lanes, one per scenario and set-up; time runs from the death (t = 0) to ${end / 1000} s.`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" font-size="13" fill="${COLOR.text}">`,
    `<title>${escape(title)}</title>`,
    `<desc>${escape(description)}</desc>`,
    // Opaque, so the picture reads the same on a dark page.
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    head,
    key.svg,
    `<g class="grid">${grid.join('')}${axisLabel}</g>`,
    ...lanes,
    death,
    '</svg>',
    '',
  ].join('\n');
}

function lane(row: TimelineRow, top: number, firstOfScenario: boolean, x: (t: number) => number): string {
  const mid = top + LANE / 2;
  const parts: string[] = [];
  if (firstOfScenario) {
    parts.push(`<path d="M8 ${top}H${PLOT_RIGHT}" stroke="#bdbdbd"/>`);
    parts.push(`<text x="12" y="${mid + 4}" font-weight="bold">${escape(row.scenario)}</text>`);
  }
  parts.push(`<text x="${PLOT_LEFT - 10}" y="${mid + 4}" text-anchor="end">${escape(row.setup)}</text>`);

  if (row.skipped) {
    const reason = row.skipped.length > 95 ? `${row.skipped.slice(0, 94)}…` : row.skipped;
    parts.push(`<text class="skipped" x="${x(0) + 8}" y="${mid + 4}" font-style="italic" fill="${COLOR.muted}">skipped: ${escape(reason)}</text>`);
    return group(row, parts);
  }

  const ended = row.events.find((e) => e.kind === 'noticed' || e.kind === 'not-noticed' || (e.kind === 'request' && e.answered));
  // The connection as the client saw it: open until it noticed (or its request was answered); dashed to the end of the wait when it never did.
  if (ended?.kind === 'request') {
    parts.push(`<path d="M${x(0)} ${mid}H${x(ended.t)}" stroke="#9e9e9e" stroke-width="2"/>`);
  } else if (ended?.kind === 'noticed') {
    parts.push(`<path d="M${x(Math.min(0, ended.t))} ${mid}H${x(ended.t)}" stroke="#9e9e9e" stroke-width="2"/>`);
  } else if (ended) {
    parts.push(`<path d="M${x(0)} ${mid}H${x(ended.t)}" stroke="${COLOR.muted}" stroke-width="2" stroke-dasharray="4 3"/>`);
  }
  if (row.budgetMs !== null) {
    parts.push(`<path class="budget" data-t="${row.budgetMs}" d="M${x(row.budgetMs)} ${top}V${top + LANE}" stroke="${COLOR.text}" stroke-width="1.5" stroke-dasharray="3 2"/>`);
  }
  for (const event of row.events) parts.push(eventMark(event, x, mid));
  return group(row, parts);
}

function group(row: TimelineRow, parts: string[]): string {
  return `<g class="lane" data-scenario="${escape(row.scenario)}" data-setup="${escape(row.setup)}">${parts.join('')}</g>`;
}

function eventMark(event: TimelineEvent, x: (t: number) => number, mid: number): string {
  const at = x(event.t);
  const within = event.within === undefined ? '' : ` (± ${event.within} ms)`;
  const tip = (what: string) => `<title>${escape(what)} at ${seconds(event.t)}${within}</title>`;
  const open = (extra = '') => `<g class="event ${event.kind}" data-t="${event.t}"${extra}>`;
  switch (event.kind) {
    case 'death':
      // Each lane's piece of one line across the chart.
      return `${open()}<path d="M${at} ${mid - LANE / 2}V${mid + LANE / 2}" stroke="${COLOR.text}" stroke-width="2"/>${tip('death')}</g>`;
    // The kernel's packets above the lane, the heartbeat's below.
    case 'probe':
      return `${open(event.answered ? ' data-answered="true"' : '')}${marker('probe', at, mid - 6, event.answered)}${tip(event.answered ? 'keepalive probe, answered' : 'keepalive probe')}</g>`;
    case 'retransmit':
      return `${open()}${marker('retransmit', at, mid - 6)}${tip('retransmission')}</g>`;
    case 'ping':
      return `${open()}${marker('ping', at, mid + 6)}${tip('PING sent')}</g>`;
    case 'pong':
      return `${open()}${marker('pong', at, mid + 6)}${tip('PONG received')}</g>`;
    case 'noticed': {
      const label = `${event.t < 0 ? 'false alarm: ' : ''}${event.code ?? 'noticed'} ${seconds(event.t)}`;
      // Near the right edge the label goes to the left of the cross.
      const right = at < PLOT_RIGHT - 190;
      const text = `<text x="${right ? at + 11 : at - 11}" y="${mid + 4}" text-anchor="${right ? 'start' : 'end'}" font-weight="bold" ${HALO}>${escape(label)}</text>`;
      return `${open(` data-code="${escape(event.code ?? '')}"`)}${cross(at, mid)}${text}${tip(`noticed (${event.code ?? ''})`)}</g>`;
    }
    case 'request': {
      // An answered request ends the lane: the connection is alive; a failed one sits under the cross that says how.
      const label = event.answered ? `<text x="${at + 12}" y="${mid + 4}" font-style="italic" fill="${COLOR.muted}">request answered</text>` : '';
      return `${open(event.answered ? ' data-answered="true"' : '')}${requestMark(at, mid, event.answered === true)}${label}${tip(event.answered ? 'request sent, answered' : 'request sent, not answered')}</g>`;
    }
    case 'not-noticed':
      // Where the drill stopped waiting: a bar, and the words after it.
      return `${open()}<path d="M${at} ${mid - 6}V${mid + 6}" stroke="${COLOR.muted}" stroke-width="2"/><text x="${at + 6}" y="${mid + 4}" font-style="italic" fill="${COLOR.muted}">not noticed</text>${tip('the drill stopped waiting: not noticed')}</g>`;
  }
}
