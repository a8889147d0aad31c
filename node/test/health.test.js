'use strict';
// Connection health from Node: stats() counts exactly, heartbeatMs is a config key, and
// a peer frozen with SIGSTOP is reported unresponsive through 'disconnected'.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawn } = require('child_process');
const { IPCManager, IPCError, Status, configFromLauncherArgs } = require('..');
const { within, once, firstLine, LOCAL } = require('../test-support/helpers');

const PYTHON = process.env.PYTHON || 'python3';
const N = 400;
const payloads = Array.from({ length: N }, (_, i) => ({ i, pad: 'x'.repeat(i % 97) }));
const expectedBytes = payloads.reduce((sum, p) => sum + 8 + Buffer.byteLength(JSON.stringify(p)), 0);

/** Resolves once `m` has had `count` 'data' events. */
function frames(m, count) {
  let seen = 0;
  return new Promise((resolve) => {
    m.on('data', () => {
      if (++seen === count) resolve();
    });
  });
}

/** Resolves once condition() holds, checking every 10 ms. */
async function until(condition) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

for (const transport of [LOCAL, 'tcp']) {
  test(`${transport}: stats() counts every frame and byte exactly, heartbeats on and never counted`, async () => {
    const a = new IPCManager();
    const b = new IPCManager();
    const args = a.createListener({ transport, heartbeatMs: 100 });
    await within(10000, b.connect({ ...configFromLauncherArgs(args), heartbeatMs: 100 }), 'connect');
    const fresh = a.stats();
    assert.deepEqual(Object.keys(fresh).sort(), ['bytesReceived', 'bytesSent', 'connects', 'framesReceived',
      'framesSent', 'heartbeatRttUs', 'lastReceiveMsAgo', 'lastSendMsAgo', 'sendBlockedNs', 'state']);
    assert.equal(fresh.state, 1, 'listening: the reader accepts the client');
    const atA = frames(a, N);
    const atB = frames(b, N);
    a.startReader();
    b.startReader();
    await a.sendMany(payloads);
    await b.sendMany(payloads);
    await within(20000, Promise.all([atA, atB]), 'every frame');
    await within(20000, until(() => a.stats().heartbeatRttUs >= 0 && b.stats().heartbeatRttUs >= 0), 'heartbeats');
    for (const s of [a.stats(), b.stats()]) {
      assert.equal(s.state, 2);
      assert.equal(s.connects, 1);
      assert.equal(s.framesSent, N);
      assert.equal(s.framesReceived, N);
      assert.equal(s.bytesSent, expectedBytes);
      assert.equal(s.bytesReceived, expectedBytes);
      assert.ok(s.lastReceiveMsAgo >= 0 && s.lastSendMsAgo >= 0);
    }
    await b.cleanup();
    await a.cleanup();
    await a.destroy();
    await b.destroy();
  });
}

test('heartbeatMs must be an integer that fits the C field', async () => {
  const m = new IPCManager();
  assert.throws(() => m.createListener({ transport: 'tcp', heartbeatMs: 2 ** 31 }),
    (e) => e instanceof IPCError && e.status === Status.E_INVALID_ARGUMENT);
  await m.destroy();
});

const FROZEN_PEER = `
import sys, threading
from dapper_ipc import IPCManager, TransportConfig
config = TransportConfig.from_launcher_args(sys.argv[1:])
config.heartbeat_ms = 100
m = IPCManager()
m.connect(config)
m.start_reader(lambda message: None)
print("connected", flush=True)
threading.Event().wait()
`;

test('a peer frozen with SIGSTOP is reported unresponsive', { skip: process.platform === 'win32' && 'SIGSTOP is POSIX' }, async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'tcp', heartbeatMs: 100 });
  const env = { ...process.env, PYTHONPATH: path.join(__dirname, '..', '..', 'python', 'src') };
  const child = spawn(PYTHON, ['-c', FROZEN_PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
  try {
    assert.equal(await within(20000, firstLine(child), 'the peer connecting'), 'connected');
    const ended = once(m, 'disconnected');
    m.startReader();
    await within(20000, until(() => m.stats().heartbeatRttUs >= 0), 'heartbeats');
    process.kill(child.pid, 'SIGSTOP');
    const [reason] = await within(20000, ended, "'disconnected'");
    assert.equal(reason.status, Status.E_TIMEOUT);
    assert.match(reason.reason, /^peer unresponsive for \d+ ms$/);
    assert.equal(m.stats().state, 4);
  } finally {
    child.kill('SIGKILL');
    try { process.kill(child.pid, 'SIGCONT'); } catch { /* gone */ }
    await m.cleanup();
    await m.destroy();
  }
});
