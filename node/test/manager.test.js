'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { IPCManager, IPCError, Status, Kind, configFromLauncherArgs } = require('..');
const { peer, firstLine, within, once, LOCAL } = require('../test-support/helpers');

for (const transport of [LOCAL, 'tcp']) {
  test(`${transport} round trip as the listener, with a Python peer in its own process`, async () => {
    const m = new IPCManager();
    const args = m.createListener({ transport });
    m.startReader(); // accepts the client, then 'connected'
    assert.equal(args[0], '--ipc');
    assert.equal(args[1], transport);
    const connected = once(m, 'connected');
    const child = peer('echo', ...args);
    await within(10000, m.waitForClient(10000), 'waitForClient');
    await within(10000, connected, "'connected'");
    assert.equal(m.isConnected, true);
    const got = once(m, 'message');
    await m.send({ command: 'evaluate', seq: 7, arguments: { expression: 'é ✓' } });
    const [message, kind] = await within(10000, got, 'the echo');
    assert.deepEqual(message, { echo: { command: 'evaluate', seq: 7, arguments: { expression: 'é ✓' } } });
    assert.equal(kind, Kind.EVENT);
    await m.cleanup();
    assert.equal(await child.exited, 0, 'the peer saw end-of-file and exited cleanly');
    assert.equal(m.isEnabled, false);
  });

  test(`${transport} round trip as the client (connect), with a Python listener in its own process`, async () => {
    const child = peer('listen-echo', transport);
    const line = await within(10000, firstLine(child), 'the peer listening');
    const config = configFromLauncherArgs(line.split(' ').slice(1));
    const m = new IPCManager();
    await within(10000, m.connect(config), 'connect');
    assert.equal(m.isConnected, true);
    const got = once(m, 'message');
    m.startReader();
    await m.send({ n: 1 }, Kind.COMMAND); // the peer answers commands
    assert.deepEqual((await within(10000, got, 'the echo'))[0], { echo: { n: 1 } });
    await m.cleanup();
    assert.equal(await child.exited, 0);
  });
}

test("10,000 messages arrive whole and in order through for await messages() and the 'message' handler", async () => {
  const N = 10000;
  const m = new IPCManager();
  const args = m.createListener({ transport: LOCAL });
  const stream = m.messages();
  const handled = [];
  m.on('message', (message) => handled.push(message.seq)); // the handler path, at the same time
  const child = peer('count', String(N), ...args);
  let expected = 0;
  await within(60000, (async () => {
    for await (const message of stream) {
      assert.deepEqual(message, { seq: expected });
      expected++;
      if (expected === N) break;
    }
  })(), 'the 10,000 messages');
  assert.equal(expected, N);
  assert.equal(handled.length, N);
  assert.ok(handled.every((seq, i) => seq === i), "the 'message' handler saw them in order too");
  await m.cleanup();
  assert.equal(await child.exited, 0);
});

test("the raw path: 'data' gets each payload as a Buffer with its kind; a payload that is not JSON is a parseError and the stream stays in sync", async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: LOCAL });
  const data = [];
  const messages = [];
  const parseErrors = [];
  m.on('data', (buf, kind) => data.push([Buffer.from(buf), kind]));
  m.on('parseError', (error, buf) => parseErrors.push([error, buf]));
  const second = new Promise((resolve) => m.on('message', (message) => { messages.push(message); resolve(); }));
  m.startReader();
  const child = peer('junk', ...args);
  await within(10000, second, 'the frame after the junk');
  assert.equal(data.length, 2);
  assert.deepEqual(data[0][0], Buffer.from('\xff\xfe not json', 'latin1'));
  assert.equal(data[0][1], Kind.EVENT);
  assert.deepEqual(JSON.parse(data[1][0]), { after: 'junk' });
  assert.equal(parseErrors.length, 1);
  assert.ok(parseErrors[0][0] instanceof SyntaxError);
  assert.deepEqual(messages, [{ after: 'junk' }]);
  await m.cleanup();
  assert.equal(await child.exited, 0);
});

test("the peer leaving emits 'disconnected' (status OK) and ends messages()", async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: LOCAL });
  const stream = m.messages();
  const disconnected = once(m, 'disconnected');
  const child = peer('count', '3', ...args);
  await m.waitForClient(10000);
  const seen = [];
  for await (const message of stream) {
    seen.push(message.seq);
    if (seen.length === 3) child.kill('SIGTERM'); // the peer goes while we keep reading
  }
  assert.deepEqual(seen, [0, 1, 2]);
  const [reason] = await within(10000, disconnected, "'disconnected'");
  assert.equal(typeof reason.status, 'number');
  assert.ok([Status.OK, Status.E_CLOSED].includes(reason.status), `status ${reason.status}`);
  assert.equal(typeof reason.reason, 'string');
  await m.cleanup();
});

test('cleanup with messages in flight resolves, and no message is emitted after it was called', async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: LOCAL });
  let count = 0;
  let afterCleanup = 0;
  let cleaning = false;
  const thousand = new Promise((resolve) => m.on('message', () => {
    count++;
    if (cleaning) afterCleanup++;
    if (count === 1000) resolve();
  }));
  m.startReader();
  const child = peer('flood', ...args);
  await within(20000, thousand, 'the first 1000 messages');
  cleaning = true;
  await within(20000, m.cleanup(), 'cleanup');
  assert.equal(afterCleanup, 0);
  assert.equal(m.isEnabled, false);
  assert.equal(m.isConnected, false);
  assert.equal(await within(20000, child.exited, 'the peer exiting'), 0, 'the peer saw the connection end');
  // The manager can listen again.
  const again = m.createListener({ transport: 'tcp' });
  assert.equal(again[1], 'tcp');
  await m.abort();
});

test('abort() with messages in flight ends at once', async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'tcp' });
  m.startReader();
  const child = peer('flood', ...args);
  await once(m, 'message');
  await within(5000, m.abort(), 'abort');
  assert.equal(await within(20000, child.exited, 'the peer exiting'), 0);
});

async function rejectsWith(promiseOrFn, status, what) {
  let error;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    error = e;
  }
  assert.ok(error, `${what}: no error`);
  assert.ok(error instanceof IPCError, `${what}: ${error}`);
  assert.ok(error instanceof Error);
  assert.equal(error.status, status, `${what}: status ${error.status} (${error.message})`);
  assert.equal(Status[error.code], status);
  assert.ok(error.message.length > 0);
  return error;
}

test("every failure is an IPCError with the library's status and message", async () => {
  const m = new IPCManager();
  let e = await rejectsWith(() => m.createListener({ transport: 'carrier-pigeon' }), Status.E_INVALID_ARGUMENT, 'bad transport');
  assert.match(e.message, /carrier-pigeon/, "the library's message names the value");
  if (process.platform !== 'win32') { // Windows has the pipe transport: no error there
    await rejectsWith(() => m.createListener({ transport: 'pipe' }), Status.E_UNSUPPORTED, 'pipe on POSIX');
  }
  await rejectsWith(() => m.createListener({ port: 1.5 }), Status.E_INVALID_ARGUMENT, 'a port that is not an integer');
  await rejectsWith(m.waitForClient(10), Status.E_INVALID_STATE, 'waitForClient before createListener');
  e = await rejectsWith(m.connect({ transport: 'unix' }), Status.E_INVALID_ARGUMENT, 'connect without a path');
  assert.match(e.message, /path/);
  e = await rejectsWith(m.connect({ transport: 'tcp', port: 1, connectTimeoutMs: 200 }), Status.E_CONNECTION_REFUSED, 'nobody listening');
  // The library's words from the thread that retried: the address, and the time it tried.
  assert.match(e.message, /^nobody is listening on tcp:127\.0\.0\.1:1 \(gave up after [1-9]\d* ms/);
  e = await rejectsWith(m.connect({ transport: 'tcp', host: 'example.invalid', port: 1 }), Status.E_INVALID_ARGUMENT, 'a host that does not resolve');
  assert.match(e.message, /^cannot resolve host 'example\.invalid': ./);
  await rejectsWith(() => m.sendBytes(Buffer.from('{}')), Status.E_NOT_CONNECTED, 'send with no connection');

  m.createListener({ transport: LOCAL, clientWaitMs: 100 });
  await rejectsWith(() => m.createListener({ transport: LOCAL }), Status.E_INVALID_STATE, 'a second listener');
  e = await rejectsWith(() => m.send({ a: 1 }), Status.E_TIMEOUT, 'send before a client, which waits clientWaitMs for it');
  assert.match(e.message, /no client connected within 100 ms/);
  e = await rejectsWith(m.waitForClient(50), Status.E_TIMEOUT, 'waitForClient with nobody coming');
  assert.notEqual(e.message, '');
  const waiting = rejectsWith(m.waitForClient(), Status.E_CANCELLED, 'waitForClient ended by cleanup');
  await m.cleanup();
  await waiting;

  const small = new IPCManager();
  const args = small.createListener({ transport: LOCAL, maxFrameSize: 16 });
  const child = peer('echo', ...args);
  await small.waitForClient(10000);
  await rejectsWith(() => small.sendBytes(Buffer.alloc(17)), Status.E_FRAME_TOO_LARGE, 'a frame above maxFrameSize');
  await small.cleanup();
  assert.equal(await child.exited, 0);
  await small.destroy();
  await rejectsWith(() => small.createListener(), Status.E_INVALID_HANDLE, 'a destroyed manager');
});

test('requireAuth: the launcher presents the listener\'s token; two managers in one process; sendMany keeps order', async () => {
  const server = new IPCManager();
  const args = server.createListener({ transport: 'tcp', requireAuth: true });
  assert.match(server.authToken, /^[0-9a-f]{64}$/);
  const client = new IPCManager();
  await within(10000, client.connect({ ...configFromLauncherArgs(args), authToken: server.authToken }), 'connect with the token');
  await within(10000, server.waitForClient(10000), 'the client accepted');
  server.startReader();
  client.startReader();
  const got = [];
  const three = new Promise((resolve) => server.on('message', (m, kind) => {
    got.push([m.n, kind]);
    if (got.length === 3) resolve();
  }));
  await client.sendMany([{ n: 1 }, { n: 2 }, { n: 3 }]); // a client sends events (kind 1)
  await within(10000, three, 'the batch');
  assert.deepEqual(got, [[1, Kind.EVENT], [2, Kind.EVENT], [3, Kind.EVENT]]);
  const back = once(client, 'message');
  await server.send({ reply: true });
  assert.deepEqual(await within(10000, back, 'the reply'), [{ reply: true }, Kind.COMMAND]);
  const disconnected = once(server, 'disconnected');
  await client.cleanup();
  assert.equal((await within(10000, disconnected, "the server's 'disconnected'"))[0].status, Status.OK);
  await server.cleanup();
});
