'use strict';
// A key nobody reads would leave its default in force without a word: every options
// object refuses keys it does not know, naming the nearest known one.
const test = require('node:test');
const assert = require('node:assert/strict');
const { IPCManager, SessionListener, IPCError, Status } = require('..');

function refuses(fn, key, nearest) {
  assert.throws(fn, (e) => e instanceof IPCError && e.status === Status.E_INVALID_ARGUMENT &&
    e.message.startsWith(`unknown config key '${key}': did you mean '${nearest}'?`) || assert.fail(e.message));
}

test("createListener with { max_frame_size: 10 } fails naming the key and 'maxFrameSize'; nothing is bound", async () => {
  const m = new IPCManager();
  refuses(() => m.createListener({ transport: 'tcp', max_frame_size: 10 }), 'max_frame_size', 'maxFrameSize');
  assert.equal(m.isEnabled, false);
  refuses(() => m.createListener({ sendTimeout: 5 }), 'sendTimeout', 'sendTimeoutMs');
  refuses(() => m.createListener({ pipe_name: 'x' }), 'pipe_name', 'pipeName');
  await m.destroy();
});

test('connect with a misspelt key rejects before any attempt', async () => {
  const m = new IPCManager();
  await assert.rejects(m.connect({ transport: 'tcp', port: 1, conectTimeoutMs: 10 }),
    (e) => e.status === Status.E_INVALID_ARGUMENT && /unknown config key 'conectTimeoutMs': did you mean 'connectTimeoutMs'\?/.test(e.message));
  await m.destroy();
});

test("SessionListener options: an unknown one is refused with the nearest ('helloTimeout' -> 'helloTimeoutMs')", () => {
  assert.throws(() => new SessionListener({ helloTimeout: 100 }),
    (e) => e.status === Status.E_INVALID_ARGUMENT && /unknown SessionListener option key 'helloTimeout': did you mean 'helloTimeoutMs'\?/.test(e.message));
});

test('every known key is accepted', async () => {
  const m = new IPCManager();
  m.createListener({
    transport: 'tcp', host: '127.0.0.1', port: 0, path: undefined, pipeName: undefined, maxFrameSize: 1024,
    connectTimeoutMs: 100, sendTimeoutMs: 100, requireAuth: false, authToken: undefined, clientWaitMs: -1,
  });
  await m.destroy();
});
