// The built-in heartbeat over real loopback sockets: framing, the stream
// decoder, the PING/PONG timing and what is left once a connection closes.
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CLASSIC_FRAME, Decoder, encode, encodePing, encodePong, heartbeat, monitor, respond, type Framing, type HeartbeatTimeoutError } from '../../lib';
import { scheduler } from '../../lib/heartbeat/scheduler';
import { connectedPair, type Pair } from '../support/sockets';
import { DIST_INDEX } from '../support/paths';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});


/** Frames a decoder delivers, as [type, payload text without trailing zeros]. */
function decodeAll(framing: Framing, chunks: Buffer[]): [number, string][] {
  const frames: [number, string][] = [];
  const decoder = new Decoder(framing, (type, payload) => frames.push([type, payload.toString().replace(/\0+$/, '')]));
  for (const chunk of chunks) decoder.push(chunk);
  return frames;
}

function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return parts;
}

describe('wire framing', () => {
  it('classic frames are 1028 bytes: type in network byte order, then a 1024-byte payload', () => {
    const frame = encode('classic', 11, Buffer.from('hi'));
    expect(frame.length).toBe(CLASSIC_FRAME);
    expect([...frame.subarray(0, 6)]).toEqual([0, 0, 0, 11, 0x68, 0x69]);
    expect(frame.subarray(6).every((b) => b === 0)).toBe(true);
  });

  it('compact frames are type, uint16 length, payload: a PING is 15 bytes, and its PONG echoes it', () => {
    expect([...encode('compact', 21, Buffer.from('abc'))]).toEqual([21, 0, 3, 0x61, 0x62, 0x63]);
    const ping = encodePing('compact', 258, 1.5);
    // type 1, length 12, seq 258, then 1.5 as a float64 in network byte order
    expect([...ping]).toEqual([1, 0, 12, 0, 0, 1, 2, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    expect([...encodePong('compact', ping.subarray(3))]).toEqual([2, ...ping.subarray(1)]);
  });

  for (const framing of ['classic', 'compact'] as const) {
    const stream = Buffer.concat([
      encode(framing, 1),
      encode(framing, 11, Buffer.from('first message')),
      encode(framing, 2),
      encode(framing, 21, Buffer.from('x'.repeat(framing === 'classic' ? 1024 : 3000))),
    ]);
    const expected: [number, string][] = [
      [1, ''],
      [11, 'first message'],
      [2, ''],
      [21, 'x'.repeat(framing === 'classic' ? 1024 : 3000)],
    ];

    it(`${framing}: frames split byte by byte decode the same as frames coalesced in one chunk`, () => {
      expect(decodeAll(framing, [stream])).toEqual(expected);
      expect(decodeAll(framing, splitEvery(stream, 1))).toEqual(expected);
    });

    it(`${framing}: any split of the stream decodes to the same frames, never holding more than one frame`, () => {
      const largest = Math.max(...[encode(framing, 21, Buffer.from(expected[3][1])).length, encode(framing, 1).length]);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let start = 0;
          for (const point of [...points, stream.length]) {
            if (point > start) chunks.push(stream.subarray(start, point));
            start = point;
          }
          const frames: [number, string][] = [];
          const decoder = new Decoder(framing, (type, payload) => frames.push([type, payload.toString().replace(/\0+$/, '')]));
          for (const chunk of chunks) {
            decoder.push(chunk);
            expect(decoder.buffered).toBeLessThan(largest);
          }
          expect(frames).toEqual(expected);
          expect(decoder.buffered).toBe(0);
        }),
        { numRuns: 200 },
      );
    });
  }
});

describe('heartbeat() between two ends of a loopback connection', () => {
  it('detects a silent peer with a 300 ms budget, and destroys the socket with the timeout error', async () => {
    pair = await connectedPair();
    // The accepted end reads nothing and answers nothing.
    const hb = heartbeat(pair.client, { idle: 100, interval: 100, count: 2, framing: 'compact' });
    const pings: number[] = [];
    hb.on('ping', (seq: number) => pings.push(seq));
    const started = performance.now();
    const [[dead], [socketError]] = await Promise.all([once(hb, 'dead'), once(pair.client, 'error')]);
    const elapsed = performance.now() - started;
    expect(dead.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(dead.probes).toBe(2);
    expect(dead.sinceLastReceived).toBeGreaterThanOrEqual(300);
    expect(socketError).toBe(dead);
    expect(pings).toEqual([1, 2]);
    // Budget 100 + 100 x 2 = 300 ms; generous slack for a loaded machine.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 700);
    expect(pair.client.destroyed).toBe(true);
  });

  it('raises no false alarm for a peer that answers late but within budget, and reports the rtt', async () => {
    pair = await connectedPair();
    respond(pair.accepted, { delay: 150, framing: 'compact' });
    const hb = heartbeat(pair.client, { idle: 100, interval: 100, count: 3, framing: 'compact' });
    const rtts: number[] = [];
    let dead = false;
    hb.on('pong', ({ rtt }) => rtts.push(rtt!));
    hb.on('dead', () => (dead = true));
    await sleep(1500);
    expect(dead).toBe(false);
    expect(pair.client.destroyed).toBe(false);
    expect(rtts.length).toBeGreaterThanOrEqual(3);
    // Each PONG echoes the PING it answers, sent 150 ms before.
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(140);
    hb.stop();
  });

  it('takes any data as a sign of life by default, and only PONGs with onlyPong', async () => {
    pair = await connectedPair();
    const chatter = setInterval(() => pair!.accepted.write(encode('compact', 11, Buffer.from('tick'))), 40);
    try {
      const anyData = heartbeat(pair.client, { idle: 100, interval: 100, count: 2, framing: 'compact' });
      let anyDataDead = false;
      anyData.on('dead', () => (anyDataDead = true));
      anyData.on('message', () => {});
      await sleep(700);
      expect(anyDataDead).toBe(false);
      anyData.stop();

      const onlyPong = heartbeat(pair.client, { idle: 100, interval: 100, count: 2, framing: 'compact', onlyPong: true, destroyOnDead: false });
      const [error] = await once(onlyPong, 'dead');
      expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
      expect(pair.client.destroyed).toBe(false);
    } finally {
      clearInterval(chatter);
    }
  });

  it('carries application messages both ways, in both framings', async () => {
    for (const framing of ['classic', 'compact'] as const) {
      pair = await connectedPair();
      const a = heartbeat(pair.client, { framing });
      const b = heartbeat(pair.accepted, { framing });
      const toB = once(b, 'message');
      a.send(11, 'from client');
      const [typeB, payloadB] = await toB;
      const toA = once(a, 'message');
      b.send(21, Buffer.from('from server'));
      const [typeA, payloadA] = await toA;
      expect([typeB, payloadB.toString().replace(/\0+$/, '')]).toEqual([11, 'from client']);
      expect([typeA, payloadA.toString().replace(/\0+$/, '')]).toEqual([21, 'from server']);
      await pair.close();
      pair = undefined;
    }
  });

  it('decodes frames the peer writes in pieces and several at once', async () => {
    pair = await connectedPair();
    pair.accepted.setNoDelay(true);
    const hb = heartbeat(pair.client, {});
    const got: number[] = [];
    hb.on('message', (type: number) => got.push(type));
    const frames = Buffer.concat([encode('classic', 11), encode('classic', 12), encode('classic', 13)]);
    // First frame in three writes a few ms apart, then the rest in one.
    pair.accepted.write(frames.subarray(0, 3));
    await sleep(20);
    pair.accepted.write(frames.subarray(3, 700));
    await sleep(20);
    pair.accepted.write(frames.subarray(700, 1100));
    await sleep(20);
    pair.accepted.write(frames.subarray(1100));
    await sleep(100);
    expect(got).toEqual([11, 12, 13]);
    hb.stop();
  });

  it("accepts the classic server's PONG written in host byte order (02 00 00 00)", async () => {
    pair = await connectedPair();
    const hb = heartbeat(pair.client, { idle: 50, interval: 1000, count: 1 });
    pair.accepted.once('data', () => {
      const pong = Buffer.alloc(CLASSIC_FRAME);
      pong.set([2, 0, 0, 0]);
      pair!.accepted.write(pong);
    });
    const [info] = await once(hb, 'pong');
    expect(info.rtt).toBeGreaterThanOrEqual(0);
    hb.stop();
  });

  it("answers the peer's PINGs itself, so both ends can run a heartbeat", async () => {
    pair = await connectedPair();
    const a = heartbeat(pair.client, { idle: 50, interval: 1000, count: 1, framing: 'compact' });
    const b = heartbeat(pair.accepted, { idle: 60_000, framing: 'compact' });
    await once(a, 'pong');
    a.stop();
    b.stop();
  });

  describe('a frame of an unknown type', () => {
    const unknown = Buffer.alloc(CLASSIC_FRAME);
    unknown.writeUInt32BE(0x12345678, 0);

    it("is an 'error' event naming the type, and decoding goes on", async () => {
      pair = await connectedPair();
      const hb = heartbeat(pair.client, {});
      const messages: number[] = [];
      hb.on('message', (type: number) => messages.push(type));
      const failed = once(hb, 'error');
      pair.accepted.write(Buffer.concat([unknown, encode('classic', 11)]));
      const [error] = await failed;
      expect(error.code).toBe('ERR_HEARTBEAT_UNKNOWN_TYPE');
      expect(error.type).toBe(0x12345678);
      expect(error.message).toMatch(/unknown type 305419896 \(0x12345678\)/);
      await sleep(50);
      expect(messages).toEqual([11]);
      expect(pair.client.destroyed).toBe(false);
      hb.stop();
    });

    it('with no error listener, destroys the socket with the error instead of crashing', async () => {
      pair = await connectedPair();
      heartbeat(pair.client, {});
      const failed = once(pair.client, 'error');
      pair.accepted.write(unknown);
      const [error] = await failed;
      expect(error.code).toBe('ERR_HEARTBEAT_UNKNOWN_TYPE');
    });

    it("is skipped silently with unknownTypes: 'ignore', and with a declared set of message types", async () => {
      pair = await connectedPair();
      const hb = heartbeat(pair.client, { unknownTypes: 'ignore', messageTypes: [11, 21] });
      const messages: number[] = [];
      let errors = 0;
      hb.on('message', (type: number) => messages.push(type));
      hb.on('error', () => errors++);
      pair.accepted.write(Buffer.concat([unknown, encode('classic', 12), encode('classic', 21)]));
      await sleep(100);
      expect(messages).toEqual([21]);
      expect(errors).toBe(0);
      hb.stop();
    });
  });

  it('leaves no listener and no timer once the socket closes', async () => {
    pair = await connectedPair();
    const baseline = {
      data: pair.client.listenerCount('data'),
      close: pair.client.listenerCount('close'),
      acceptedData: pair.accepted.listenerCount('data'),
      acceptedClose: pair.accepted.listenerCount('close'),
    };
    const before = scheduler.size;
    const hb = heartbeat(pair.client, { idle: 100, interval: 100, count: 5 });
    const stopResponder = respond(pair.accepted, { delay: 500 });
    expect(scheduler.size).toBe(before + 1);
    expect(scheduler.armed).toBe(true);
    await once(hb, 'ping');
    // A delayed PONG is pending in the responder when the connection closes.
    await sleep(50);
    pair.client.destroy();
    await Promise.all([once(pair.client, 'close'), once(pair.accepted, 'close')]);
    expect(hb.active).toBe(false);
    expect(scheduler.size).toBe(before);
    expect(scheduler.armed).toBe(before > 0);
    expect(pair.client.listenerCount('data')).toBe(baseline.data);
    expect(pair.client.listenerCount('close')).toBe(baseline.close);
    expect(pair.accepted.listenerCount('data')).toBe(baseline.acceptedData);
    expect(pair.accepted.listenerCount('close')).toBe(baseline.acceptedClose);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout')).toEqual([]);
    stopResponder();
  });

  it('lets the process exit by itself once its connections close', async () => {
    const { execFile } = await import('node:child_process');
    const script = `
      const net = require('node:net');
      const { heartbeat, respond } = require(${JSON.stringify(DIST_INDEX)});
      const server = net.createServer((s) => respond(s, { delay: 200 })).listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1', () => {
          const hb = heartbeat(client, { idle: 20, interval: 20, count: 50 });
          hb.once('ping', () => setTimeout(() => { client.end(); server.close(); }, 50));
        });
      });`;
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, ['-e', script], { timeout: 10_000 }, () => {});
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('monitor() with a ping of its own', () => {
  it('counts a fulfilled ping() promise as the PONG', async () => {
    let answered = 0;
    const m = monitor({
      idle: 30,
      interval: 30,
      count: 2,
      ping: async () => {
        await sleep(5);
        answered++;
      },
    });
    let dead = false;
    m.on('dead', () => (dead = true));
    await sleep(400);
    expect(dead).toBe(false);
    expect(answered).toBeGreaterThanOrEqual(3);
    m.stop();
  });

  it('declares death when ping() is never answered, after idle + interval x count', async () => {
    const m = monitor({ idle: 50, interval: 50, count: 3, ping: () => {} });
    const started = performance.now();
    const [error] = (await once(m, 'dead')) as [HeartbeatTimeoutError];
    expect(error.probes).toBe(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(m.active).toBe(false);
  });
});

describe('bad input', () => {
  it('names the field and the allowed range', () => {
    const stream = new PassThrough();
    expect(() => heartbeat(stream, { idle: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/options\.idle.*from 1/) }));
    expect(() => heartbeat(stream, { count: 1.5 })).toThrow(RangeError);
    expect(() => heartbeat(stream, { interval: '5' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => heartbeat(stream, { framing: 'json' as Framing })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => heartbeat({} as net.Socket)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => monitor({ idle: 1, interval: 1, count: 1 } as never)).toThrow(/options\.ping/);
    expect(() => respond(stream, { delay: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(scheduler.size).toBe(0);
  });

  it('refuses to send PING or PONG types or oversized payloads as messages', () => {
    const hb = heartbeat(new PassThrough(), { framing: 'compact' });
    expect(() => hb.send(1, 'x')).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/from 3 to 255/) }));
    expect(() => hb.send(300)).toThrow(RangeError);
    expect(() => hb.send(11, Buffer.alloc(70_000))).toThrow(/at most 65535 bytes/);
    hb.stop();
  });
});

describe('many short connections', () => {
  it('stopped monitors do not pile up: the scheduler keeps running ones only, and its timer ends with the last', () => {
    const before = scheduler.size;
    const streams = Array.from({ length: 3000 }, () => new PassThrough());
    const beats = streams.map((s) => heartbeat(s, { idle: 60_000 }));
    expect(scheduler.size).toBe(before + 3000);
    // Closing most of them triggers a sweep: closed streams are not held until their deadline.
    const filedBefore = scheduler.filed;
    beats.slice(0, 2500).forEach((hb) => hb.stop());
    expect(scheduler.size).toBe(before + 500);
    expect(scheduler.filed).toBeLessThan(filedBefore - 1000);
    expect(beats.slice(2500).every((hb) => hb.active)).toBe(true);
    beats.slice(2500).forEach((hb) => hb.stop());
    expect(scheduler.size).toBe(before);
    expect(scheduler.armed).toBe(before > 0);
  });
});
