// The links of README.md and docs/ lead somewhere, on GitHub and on npm.
// README.md is also shown on npmjs.com, which does not resolve every
// relative link against the repository, so it links to the docs with full
// github.com addresses; those must name files and headings that exist in
// this checkout. The pages of docs/ are read on GitHub or in the installed
// package, where relative links work, so they link relatively.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, docFiles, links } from '../support/docs';
import { ROOT } from '../support/paths';

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { repository: { url: string }; homepage?: string; files: string[] };
/** https://github.com/<owner>/<repo>, from package.json "repository". */
const REPOSITORY = manifest.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
const BLOB = `${REPOSITORY}/blob/main/`;
const RAW = `${REPOSITORY.replace('https://github.com/', 'https://raw.githubusercontent.com/')}/main/`;

/** A link's target as a path in this checkout and an anchor, or null for a link that leaves the repository. */
function local(from: string, target: string): { path: string; anchor: string } | null {
  const [address, anchor = ''] = target.split('#');
  let path: string;
  if (address.startsWith(BLOB)) path = address.slice(BLOB.length);
  else if (address.startsWith(RAW)) path = address.slice(RAW.length);
  else if (/^[a-z]+:/i.test(address)) return null;
  else if (address === '') path = from;
  else path = join(from, '..', address);
  return { path, anchor };
}

const all = docFiles().flatMap(links);

describe('links in README.md and docs/', () => {
  it('lead to files and headings that exist', () => {
    const broken = all.flatMap((link) => {
      const target = local(link.file, link.target);
      if (!target) return [];
      if (!existsSync(join(ROOT, target.path))) return [`${link.file}:${link.line} ${link.target}: no file ${target.path}`];
      if (target.anchor && target.path.endsWith('.md') && !anchors(target.path).has(target.anchor)) return [`${link.file}:${link.line} ${link.target}: no heading #${target.anchor} in ${target.path}`];
      return [];
    });
    expect(broken).toEqual([]);
  });

  it('README.md links into the repository only with full GitHub addresses (npm shows it too)', () => {
    const relative = all.filter((link) => link.file === 'README.md' && !/^[a-z]+:/i.test(link.target) && !link.target.startsWith('#'));
    expect(relative.map((link) => `README.md:${link.line} ${link.target}`)).toEqual([]);
  });

  it('docs/ pages link to each other relatively (they are read on GitHub and in node_modules)', () => {
    const absolute = all.filter((link) => link.file !== 'README.md' && (link.target.startsWith(BLOB) || link.target.startsWith(RAW)));
    expect(absolute.map((link) => `${link.file}:${link.line} ${link.target}`)).toEqual([]);
  });

  it('README.md links to every page of docs/', () => {
    const linked = new Set(all.filter((link) => link.file === 'README.md').map((link) => local('README.md', link.target)?.path));
    expect(docFiles().filter((file) => file !== 'README.md' && !linked.has(file))).toEqual([]);
  });

  it('a new user finds, one click from README.md, how to protect a pg pool, a whole process and a WebSocket server', () => {
    const targets = all.filter((link) => link.file === 'README.md').map((link) => link.target);
    expect(targets).toContain(`${BLOB}docs/recipes.md#pg-node-postgres`);
    expect(targets).toContain(`${BLOB}docs/protect.md`);
    expect(targets).toContain(`${BLOB}docs/recipes.md#ws`);
    // ... and the page sections say it: the pool, the preload, the server.
    const recipes = readFileSync(join(ROOT, 'docs', 'recipes.md'), 'utf8');
    expect(recipes).toMatch(/pg\.Pool/);
    expect(recipes).toMatch(/wss\.on\('connection'/);
    expect(readFileSync(join(ROOT, 'docs', 'protect.md'), 'utf8')).toMatch(/--require tcp-keepalive\/register/);
  });

  it('every page of docs/ starts with its title and what it answers', () => {
    const without = docFiles()
      .filter((file) => file !== 'README.md')
      .filter((file) => {
        const [title, blank, answers] = readFileSync(join(ROOT, file), 'utf8').split('\n');
        return !/^# \S/.test(title) || blank !== '' || !answers || /^[#`<|-]/.test(answers);
      });
    expect(without).toEqual([]);
  });

  it('the package ships the docs the README links to', () => {
    expect(manifest.files).toEqual(expect.arrayContaining(['docs/*.md', 'docs/*.svg']));
  });
});
