// The list of live protected sockets (lib/protect/live.ts): what sockets()
// and unprotect() walk, threaded through the sockets themselves.
import { describe, expect, it } from 'vitest';
import { LiveSockets } from '../../lib/protect/live';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i }));

describe('LiveSockets', () => {
  it('lists what was added, oldest first, once each', () => {
    const live = new LiveSockets<{ id: number }>();
    const [a, b, c] = items(3);
    expect(live.add(a)).toBe(true);
    expect(live.add(b)).toBe(true);
    expect(live.add(a)).toBe(false);
    expect(live.add(c)).toBe(true);
    expect([...live]).toEqual([a, b, c]);
    expect(live.size).toBe(3);
    expect(live.has(b)).toBe(true);
  });

  it('unlinks from the start, the middle and the end, and adds again after', () => {
    const live = new LiveSockets<{ id: number }>();
    const all = items(5);
    for (const item of all) live.add(item);
    expect(live.delete(all[0])).toBe(true);
    expect(live.delete(all[2])).toBe(true);
    expect(live.delete(all[4])).toBe(true);
    expect(live.delete(all[2])).toBe(false);
    expect([...live]).toEqual([all[1], all[3]]);
    expect(live.size).toBe(2);
    expect(live.has(all[2])).toBe(false);
    live.add(all[2]);
    expect([...live]).toEqual([all[1], all[3], all[2]]);
    for (const item of all) live.delete(item);
    expect([...live]).toEqual([]);
    expect(live.size).toBe(0);
  });

  it('lets a loop delete what it visits and what it has not reached yet', () => {
    const live = new LiveSockets<{ id: number }>();
    const all = items(6);
    for (const item of all) live.add(item);
    const visited: number[] = [];
    for (const item of live) {
      visited.push(item.id);
      live.delete(item);
      if (item.id === 1) live.delete(all[4]);
    }
    // The loop walks a copy taken when it started: 4 is visited although deleted by then.
    expect(visited).toEqual([0, 1, 2, 3, 4, 5]);
    expect(live.size).toBe(0);
  });

  it('keeps no reference from a deleted item to its neighbours', () => {
    const live = new LiveSockets<{ id: number }>();
    const [a, b, c] = items(3);
    for (const item of [a, b, c]) live.add(item);
    live.delete(b);
    const links = Object.getOwnPropertySymbols(b).map((key) => (b as unknown as Record<symbol, unknown>)[key]);
    expect(links).toEqual([undefined, undefined]);
    expect([...live]).toEqual([a, c]);
  });
});
