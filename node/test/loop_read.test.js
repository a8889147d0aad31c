'use strict';
// Reading on the loop (lib/pull_reader.js: the library's pull mode, its readable handle
// polled by libuv) and small sends made on the loop (lib/send_room.js): frames arrive in
// order and none is lost, a send never blocks the loop, and cleanup while frames are
// pending ends at once and leaves no descriptor behind. Elsewhere than Linux the package
// keeps the reader thread, and the same promises hold there.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { IPCManager, Kind, configFromLauncherArgs } = require('..');
const { peer, within, once, LOCAL } = require('../test-support/helpers');

const ON_LOOP = process.platform === 'linux' && !process.env.DAPPER_IPC_NODE_READER_THREAD;

function openDescriptors() {
  return process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0;
}

async function listenerWithPeer(mode, transport, ...extra) {
  const m = new IPCManager();
  const args = m.createListener({ transport });
  const connected = once(m, 'connected');
  m.startReader(); // before the client: accepted on a worker thread, then read on the loop
  const child = peer(mode, ...extra, ...args);
  await within(10000, connected, "'connected'");
  if (ON_LOOP) assert.ok(m._pull !== null, 'the loop reads this manager (no reader thread)');
  return { m, child };
}

for (const transport of [LOCAL, 'tcp']) {
  test(`${transport}: 10,000 round trips arrive in order, each answer to its own request`, async () => {
    const { m, child } = await listenerWithPeer('echo', transport);
    const N = 10000;
    let next = 0;
    const done = new Promise((resolve, reject) => {
      m.on('message', (message, kind) => {
        try {
          assert.equal(kind, Kind.EVENT);
          assert.deepEqual(message, { echo: { seq: next } });
        } catch (error) {
          reject(error);
          return;
        }
        if (++next === N) resolve();
        else m.send({ seq: next }).catch(reject);
      });
    });
    await m.send({ seq: 0 });
    await within(60000, done, 'the round trips');
    assert.equal(next, N);
    await m.cleanup();
    assert.equal(await child.exited, 0);
  });
}

test('a flood of 100,000 frames arrives whole and in order through messages()', async () => {
  const N = 100000;
  const { m, child } = await listenerWithPeer('count', LOCAL, String(N));
  let seen = 0;
  for await (const message of m.messages()) {
    assert.equal(message.seq, seen);
    if (++seen === N) break;
  }
  assert.equal(seen, N);
  await m.cleanup();
  assert.equal(await child.exited, 0);
});

test("frames larger than the reader's buffer and than a send on the loop take arrive whole", async () => {
  const { m, child } = await listenerWithPeer('echo', LOCAL);
  for (const size of [100, 20 * 1024, 300 * 1024, 5]) {
    const got = once(m, 'message');
    await m.send({ text: 'y'.repeat(size) });
    const [message] = await within(10000, got, `the echo of ${size} bytes`);
    assert.equal(message.echo.text.length, size);
  }
  await m.cleanup();
  assert.equal(await child.exited, 0);
});

test('cleanup while a flood is pending ends at once, delivers nothing more and closes every descriptor', async () => {
  const before = openDescriptors();
  const { m, child } = await listenerWithPeer('flood', LOCAL);
  let after = 0;
  let cleaning = false;
  const first = new Promise((resolve) => m.on('message', () => { if (cleaning) after++; resolve(); }));
  await within(10000, first, 'the first frame');
  cleaning = true;
  await within(10000, m.cleanup(), 'cleanup');
  assert.equal(after, 0, "no 'message' once cleanup() was called");
  assert.equal(await within(10000, child.exited, 'the peer'), 0);
  await new Promise((resolve) => setImmediate(resolve)); // libuv closes the poll handle on its next turn
  if (process.platform === 'linux') assert.equal(openDescriptors(), before, 'no descriptor left open');
});

test('two managers of this process exchange 30 MB of sends never awaited: the loop never blocks on a full socket', async () => {
  const server = new IPCManager();
  const args = server.createListener({ transport: LOCAL });
  const serverConnected = once(server, 'connected');
  server.startReader();
  const client = new IPCManager();
  await within(10000, client.connect(configFromLauncherArgs(args)), 'connect');
  client.startReader();
  await within(10000, serverConnected, "the server's 'connected'");
  if (ON_LOOP) assert.ok(client._pull !== null && server._pull !== null);
  const N = 3000;
  const body = 'z'.repeat(10 * 1024); // under the size sent on the loop: each write asks for room first
  let got = 0;
  const all = new Promise((resolve, reject) => {
    server.on('message', (message) => {
      if (message.n !== got) reject(new Error(`frame ${message.n} arrived as number ${got}`));
      if (++got === N) resolve();
    });
  });
  const sends = [];
  for (let n = 0; n < N; n++) sends.push(client.send({ n, body }));
  await within(60000, Promise.all(sends), 'the sends');
  await within(60000, all, 'the frames');
  assert.equal(got, N);
  await client.cleanup();
  await server.cleanup();
});
