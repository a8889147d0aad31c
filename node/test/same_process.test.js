'use strict';
// Both ends in one Node process: each side's reader hands its frames over on the one
// event loop, so no call may hold that loop while it waits for the peer to read.
const test = require('node:test');
const assert = require('node:assert/strict');
const { IPCManager, configFromLauncherArgs, Kind } = require('..');
const { within, once, LOCAL } = require('../test-support/helpers');

const SIZES = [0, 1, 64 * 1024, 5 * 1024 * 1024, 64 * 1024 * 1024]; // 64 MiB: the default maxFrameSize

function payload(size, seed) {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4096) data.fill((i / 4096 + seed) & 0xff, i, Math.min(size, i + 4096));
  return data;
}

/** Resolves with the next `count` frames `m` receives, as [payload, kind] pairs. */
function nextFrames(m, count) {
  const frames = [];
  return new Promise((resolve) => {
    const onData = (data, kind) => {
      frames.push([Buffer.from(data), kind]);
      if (frames.length === count) {
        m.off('data', onData);
        resolve(frames);
      }
    };
    m.on('data', onData);
  });
}

/** A listener and a client connected to it, both in this process, no reader started yet. */
async function pair(transport) {
  const a = new IPCManager();
  const b = new IPCManager();
  const args = a.createListener({ transport });
  await within(10000, b.connect(configFromLauncherArgs(args)), 'connect');
  return [a, b];
}

// shm (Linux): the same frames through the shared-memory rings, with no change in the package.
for (const transport of [LOCAL, 'tcp', 'ws', ...(process.platform === 'linux' ? ['shm'] : [])]) {
  test(`${transport}: a listener and its client in one process send each other 0 B to 64 MiB, both directions at once`, async () => {
    const [a, b] = await pair(transport);
    await within(10000, a.waitForClient(10000), 'waitForClient');
    // Their 'connected' callbacks are still queued for the loop when the first sends start,
    // and each large frame follows a small one at once: the receiving reader is then parked
    // in a callback that only the loop can run while the large frame is on its way.
    a.startReader();
    b.startReader();
    try {
      for (const size of SIZES) {
        const toB = payload(size, 1);
        const toA = payload(size, 2);
        const atB = nextFrames(b, 2);
        const atA = nextFrames(a, 2);
        await within(120000, Promise.all([a.send({ size }), a.sendBytes(toB), b.send({ size }), b.sendBytes(toA)]),
          `the ${size}-byte sends`);
        const [fromA, fromB] = await within(120000, Promise.all([atB, atA]), `the ${size}-byte frames`);
        for (const [frames, sent, kind, who] of [[fromA, toB, Kind.COMMAND, 'the listener'], [fromB, toA, Kind.EVENT, 'the client']]) {
          assert.deepEqual(JSON.parse(frames[0][0]), { size });
          assert.equal(frames[1][0].length, size);
          assert.ok(frames[1][0].equals(sent), `${size} bytes from ${who} arrived intact`);
          assert.equal(frames[1][1], kind);
        }
      }
    } finally {
      await b.cleanup();
      await a.cleanup();
    }
  });
}

test('sends from one manager keep their order, across calls made while one is in flight', async () => {
  const [a, b] = await pair(LOCAL);
  const seen = [];
  const all = new Promise((resolve) => b.on('message', (m) => { seen.push(m.n); if (seen.length === 2003) resolve(); }));
  b.startReader();
  const sends = [a.sendBytes(payload(8 * 1024 * 1024, 3).fill(0x20).fill('{"n":-1}', 0, 8))];
  for (let n = 0; n < 1000; n++) sends.push(a.send({ n }));
  sends.push(a.sendMany([{ n: 1000 }, { n: 1001 }]));
  for (let n = 1002; n < 2002; n++) sends.push(a.send({ n }));
  await within(60000, Promise.all(sends), 'the sends');
  await within(60000, all, 'the messages');
  assert.deepEqual(seen, [-1, ...Array.from({ length: 2002 }, (_, n) => n)]);
  await b.cleanup();
  await a.cleanup();
});

test('a send before the client arrives waits for it (clientWaitMs), and the loop serves the client meanwhile', async () => {
  const a = new IPCManager();
  const b = new IPCManager();
  const args = a.createListener({ transport: LOCAL });
  const sent = a.send({ early: true }); // made before anyone connects
  const got = once(b, 'message');
  await b.connect(configFromLauncherArgs(args));
  b.startReader();
  await within(10000, sent, 'the early send');
  assert.deepEqual((await within(10000, got, 'the early message'))[0], { early: true });
  await b.cleanup();
  await a.cleanup();
});
