// Windows gives no fd, so options go through Node's own setKeepAlive. That
// path cannot run on this Linux machine against a real socket; it is checked
// here against a recording stand-in for the socket.
import type * as net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { applyThroughNode, systemDefaults, toRequest } from '../../lib/kernel/keepalive';

function recorder() {
  const setKeepAlive = vi.fn();
  return { socket: { setKeepAlive } as unknown as net.Socket, setKeepAlive };
}

describe('options through Node (Windows)', () => {
  it('passes whole seconds in ms, filled with the system defaults, when Node takes interval and count', () => {
    const { socket, setKeepAlive } = recorder();
    const request = toRequest({ idle: 1_500, count: 3 });
    const state = applyThroughNode(socket, request, true);
    const defaults = systemDefaults();
    expect(setKeepAlive).toHaveBeenCalledWith(true, 2_000, defaults.interval, 3);
    expect(state).toEqual({ enabled: true, idle: 2_000, interval: defaults.interval, count: 3, userTimeout: null });
  });

  it('says exactly what an older Node cannot set, and sets nothing', () => {
    const { socket, setKeepAlive } = recorder();
    expect(() => applyThroughNode(socket, toRequest({ idle: 1_000, interval: 500 }), false)).toThrow(
      expect.objectContaining({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/interval and count need Node 24\.19\+ or 26\.4\+/) }),
    );
    expect(setKeepAlive).not.toHaveBeenCalled();
    applyThroughNode(socket, toRequest({ idle: 1_000 }), false);
    expect(setKeepAlive).toHaveBeenCalledWith(true, 1_000);
  });

  it('turns keepalive off', () => {
    const { socket, setKeepAlive } = recorder();
    expect(applyThroughNode(socket, false, true).enabled).toBe(false);
    expect(setKeepAlive).toHaveBeenCalledWith(false);
  });
});
