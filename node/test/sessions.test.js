'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const net = require('net');
const { SessionListener, IPCError, Status, Kind } = require('..');
const { peer, within, once } = require('../test-support/helpers');

// The Python peers have no AF_UNIX on Windows: there the unix case is skipped and the rest
// runs over tcp (a session listener's pipe is run by the Wine lane and the subprocess sample).
const SHARED = process.platform === 'win32' ? 'tcp' : 'unix';

for (const transport of ['unix', 'tcp']) {
  const skip = transport === 'unix' && process.platform === 'win32' ? 'CPython on Windows has no AF_UNIX for the peers' : false;
  test(`${transport}: two Python launchers on one shared endpoint, each routed by its hello to its own manager`, { skip }, async () => {
    const listener = new SessionListener();
    const args = listener.createListener({ transport });
    assert.deepEqual(args.slice(0, 2), ['--ipc', transport]);
    listener.expect('a');
    listener.expect('b');
    const children = { a: peer('session', 'a', ...args), b: peer('session', 'b', ...args) };
    const managers = {
      b: await within(10000, listener.accept('b', 10000), "session b's accept"),
      a: await within(10000, listener.accept('a', 10000), "session a's accept"),
    };
    for (const id of ['a', 'b']) {
      const m = managers[id];
      assert.equal(m.hello.event, 'dapper/sessionHello');
      assert.equal(m.hello.body.sessionId, id);
      assert.equal(m.hello.body.pid, children[id].pid);
      const got = once(m, 'message');
      m.startReader();
      if (process.platform === 'linux' && !process.env.DAPPER_IPC_NODE_READER_THREAD) {
        assert.ok(m._pull !== null, 'a session reads on the loop too');
      }
      await m.send({ command: 'whoami', to: id }); // a command by default, as from a listener
      const [message, kind] = await within(10000, got, `the echo of ${id}`);
      assert.deepEqual(message, { echo: { command: 'whoami', to: id } });
      assert.equal(kind, Kind.EVENT);
    }
    await listener.cleanup();
    assert.equal(await children.a.exited, 0, 'a saw end-of-file');
    assert.equal(await children.b.exited, 0, 'b saw end-of-file');
    assert.equal(managers.a.isEnabled, false);
    if (transport === 'unix') assert.equal(fs.existsSync(args[3]), false, 'the socket file is gone');
  });
}

test('unknown ids are refused unless the offer callback accepts them; accept rejects with the statuses', async () => {
  const offered = [];
  const listener = new SessionListener({
    helloTimeoutMs: 2000,
    offer: (hello) => { offered.push(hello.body.sessionId); return hello.body.sessionId.startsWith('friend'); },
  });
  const args = listener.createListener({ transport: SHARED });
  const foe = peer('session', 'foe', ...args);
  assert.equal(await within(10000, foe.exited, 'the refused peer'), 0, 'the refused peer saw its connection closed');
  const friend = peer('session', 'friend-1', ...args);
  const m = await within(10000, listener.accept('friend-1', 10000), 'the offered session');
  assert.equal(m.hello.body.sessionId, 'friend-1');
  assert.deepEqual(offered.sort(), ['foe', 'friend-1']);
  listener.expect('late');
  await assert.rejects(listener.accept('late', 0), (e) => e instanceof IPCError && e.status === Status.E_TIMEOUT);
  const cancelled = assert.rejects(listener.accept('late', -1),
    (e) => e instanceof IPCError && e.status === Status.E_CANCELLED);
  await listener.cleanup();
  await within(10000, cancelled, 'the accept ended by cleanup');
  assert.equal(await friend.exited, 0);
});

test('a client that is silent past the deadline is closed', async () => {
  const listener = new SessionListener({ helloTimeoutMs: 200 });
  const args = listener.createListener({ transport: SHARED });
  const socket = SHARED === 'unix' ? net.connect(args[3]) : net.connect(Number(args[5]), args[3]);
  await within(10000, once(socket, 'close'), 'the silent client closed by the listener');
  await listener.cleanup();
});
