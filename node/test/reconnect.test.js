'use strict';
// reconnect: true from Node: a tcp proxy (net) cuts the connection mid-frame every ~300
// frames while 3,000 flow each way; each side gets each frame exactly once, in order,
// with 'reconnecting' then 'connected' for every cut and never 'disconnected'.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const { IPCManager, IPCError, Status, configFromLauncherArgs } = require('..');
const { within } = require('../test-support/helpers');

const N = 3000;
const CUT_BYTES = 300 * 2 * 20;

/** Relays to `port`; after about CUT_BYTES (both ways) relays only part of a chunk, then destroys both sockets. */
function cuttingProxy(port) {
  const proxy = { cuts: 0 };
  proxy.server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    let budget = CUT_BYTES + Math.floor(Math.random() * 40);
    const relay = (from, to) => from.on('data', (chunk) => {
      if (budget <= 0) return;
      if (chunk.length >= budget) {
        to.write(chunk.subarray(0, budget), () => {
          down.destroy();
          up.destroy();
        });
        budget = 0;
        proxy.cuts++;
        return;
      }
      budget -= chunk.length;
      to.write(chunk);
    });
    relay(down, up);
    relay(up, down);
    const end = () => { down.destroy(); up.destroy(); };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  return proxy;
}

function numbered(m, events) {
  let next = 0;
  let disorder = 0;
  const done = new Promise((resolve) => {
    m.on('message', (message) => {
      if (message.i !== next) disorder++;
      if (message.i < next) return;
      next = message.i + 1;
      if (next === N) resolve();
    });
  });
  m.on('reconnecting', () => events.push('reconnecting'));
  m.on('connected', () => events.push('connected'));
  m.on('disconnected', (why) => events.push(`disconnected: ${why.reason}`));
  return { done, disorder: () => disorder };
}

test('tcp: cut mid-frame again and again, every frame arrives once and in order', async () => {
  const a = new IPCManager();
  const b = new IPCManager();
  const args = a.createListener({ transport: 'tcp', reconnect: true });
  const proxy = cuttingProxy(configFromLauncherArgs(args).port);
  await new Promise((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  const eventsA = [];
  const eventsB = [];
  const atA = numbered(a, eventsA);
  const atB = numbered(b, eventsB);
  a.startReader();
  await within(10000, b.connect({ transport: 'tcp', port: proxy.server.address().port, reconnect: true,
    reconnectTimeoutMs: 20000 }), 'connect');
  b.startReader();
  const payloads = Array.from({ length: N }, (_, i) => ({ i }));
  for (let i = 0; i < N; i += 100) {
    await Promise.all([a.sendMany(payloads.slice(i, i + 100)), b.sendMany(payloads.slice(i, i + 100))]);
  }
  await within(30000, Promise.all([atA.done, atB.done]), 'every frame');
  assert.equal(atA.disorder(), 0);
  assert.equal(atB.disorder(), 0);
  assert.ok(proxy.cuts >= 2, `the proxy cut ${proxy.cuts} times`);
  assert.ok(eventsB.includes('reconnecting'), eventsB.join(', '));
  assert.ok(!eventsA.concat(eventsB).some((e) => e.startsWith('disconnected')), eventsA.concat(eventsB).join(', '));
  assert.equal(b.stats().framesSent, N);
  assert.equal(b.stats().framesReceived, N);
  await b.cleanup();
  await a.cleanup();
  await a.destroy();
  await b.destroy();
  proxy.server.close();
});

test('reconnectTimeoutMs and resumeBufferBytes are config keys the library reads', async () => {
  const m = new IPCManager();
  assert.throws(() => m.createListener({ transport: 'tcp', resumeBufferBytes: 2 ** 32 }),
    (e) => e instanceof IPCError && e.status === Status.E_INVALID_ARGUMENT);
  assert.throws(() => m.createListener({ transport: 'tcp', reconect: true }),
    (e) => e instanceof IPCError && /did you mean 'reconnect'/.test(e.message));
  m.createListener({ transport: 'tcp', reconnect: true, reconnectTimeoutMs: 1000, resumeBufferBytes: 1 << 16 });
  await m.destroy();
});

test('a listener without the flag: the client reports it at once when that listener is gone', async () => {
  // Its offer never answered, the client makes one rejoin try; with the listener gone it
  // finds nobody and says so, long before reconnectTimeoutMs (ten minutes here).
  const a = new IPCManager();
  const b = new IPCManager();
  const args = a.createListener({ transport: 'tcp' });
  const got = new Promise((resolve) => a.on('message', resolve));
  a.startReader();
  await within(10000, b.connect({ transport: 'tcp', port: configFromLauncherArgs(args).port, reconnect: true,
    reconnectTimeoutMs: 600000 }), 'connect');
  const gone = new Promise((resolve) => b.on('disconnected', resolve));
  b.startReader();
  await b.send({ i: 0 });
  await within(10000, got, 'the listener got the frame');
  await a.cleanup();
  const why = await within(20000, gone, "the client's 'disconnected'");
  assert.match(why.reason, /never answered/);
  assert.match(why.reason, /DAPPER_IPC_FLAG_RECONNECT/);
  await b.cleanup();
  await a.destroy();
  await b.destroy();
});
