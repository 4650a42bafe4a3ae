// The documentation as the tests read it: README.md and docs/*.md, their
// fenced code blocks with the markers written above them, and their links.
// The rules the markers follow are in docs/contributing.md, "Documentation".
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths';

/** README.md and every page of docs/, relative to the repository's root. */
export function docFiles(): string[] {
  const pages = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...pages];
}

export interface CodeBlock {
  /** the page, relative to the root */
  file: string;
  /** 1-based line of the opening fence */
  line: number;
  /** the info string's first word; '' when there is none */
  lang: string;
  code: string;
  /** the markers in the HTML comments directly above the fence: `<!-- name: value -->` or `<!-- name -->` */
  markers: Record<string, string>;
}

const FENCE = /^(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^<!--\s*([\w-]+)\s*(?::\s*([\s\S]*?))?\s*-->\s*$/;

/** The fenced code blocks of a page, in order. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const markers: Record<string, string> = {};
    for (let j = i - 1; j >= 0; j--) {
      const marker = MARKER.exec(lines[j].trim());
      if (!marker) break;
      markers[marker[1]] = marker[2] ?? '';
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith(open[1]); i++) body.push(lines[i]);
    blocks.push({ file, line: start + 1, lang: open[2], code: body.join('\n') + '\n', markers });
  }
  return blocks;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Every Markdown link and image target of a page, outside code blocks and code spans. */
export function links(file: string): Link[] {
  const found: Link[] = [];
  let fence: string | null = null;
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .forEach((text, index) => {
      const open = FENCE.exec(text);
      if (open && (fence === null || text.startsWith(fence))) {
        fence = fence === null ? open[1] : null;
        return;
      }
      if (fence !== null) return;
      const prose = text.replace(/`[^`]*`/g, '');
      for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ file, line: index + 1, target: match[1] });
    });
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a page's headings, numbered as GitHub numbers repeats (-1, -2, …). */
export function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence: string | null = null;
  for (const text of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    const open = FENCE.exec(text);
    if (open && (fence === null || text.startsWith(fence))) {
      fence = fence === null ? open[1] : null;
      continue;
    }
    const heading = fence === null && /^#{1,6}\s+(.*)$/.exec(text);
    if (!heading) continue;
    const base = anchorOf(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}
