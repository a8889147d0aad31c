'use strict';
// manager.adopt over a pipe pair this process holds (two FIFOs, each opened twice):
// frames both ways, owned descriptors closed at cleanup, borrowed ones left open.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { IPCManager } = require('..');
const { within } = require('../test-support/helpers');

const posix = process.platform !== 'win32';

function isOpen(fd) {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Two FIFOs, each opened read-write twice (O_RDWR never blocks on a FIFO): [aRead, aWrite, bRead, bWrite]. */
function fifoPair(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dapper-adopt-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ab = path.join(dir, 'ab');
  const ba = path.join(dir, 'ba');
  execFileSync('mkfifo', [ab, ba]);
  return [fs.openSync(ba, 'r+'), fs.openSync(ab, 'r+'), fs.openSync(ab, 'r+'), fs.openSync(ba, 'r+')];
}

function nextMessage(m) {
  return new Promise((resolve) => m.once('message', resolve));
}

test('adopt: frames both ways over a pipe pair, owned descriptors closed at cleanup', { skip: !posix && 'POSIX only' }, async (t) => {
  const [aRead, aWrite, bRead, bWrite] = fifoPair(t);
  const a = new IPCManager();
  const b = new IPCManager();
  a.adopt(aRead, aWrite);
  b.adopt(bRead, bWrite);
  a.startReader();
  b.startReader();
  const atB = nextMessage(b);
  await a.send({ hello: 'b' });
  assert.deepEqual(await within(10000, atB, 'b receives'), { hello: 'b' });
  const atA = nextMessage(a);
  await b.send({ hello: 'a' });
  assert.deepEqual(await within(10000, atA, 'a receives'), { hello: 'a' });
  await a.cleanup();
  await b.cleanup();
  for (const fd of [aRead, aWrite, bRead, bWrite]) assert.equal(isOpen(fd), false, `owned fd ${fd} closed at cleanup`);
  await a.destroy();
  await b.destroy();
});

test('adopt: borrowed descriptors stay open after close', { skip: !posix && 'POSIX only' }, async (t) => {
  const fds = fifoPair(t);
  const a = new IPCManager();
  a.adopt(fds[0], fds[1], { borrow: true });
  await a.send({ x: 1 });
  await a.cleanup();
  await a.destroy();
  for (const fd of fds) {
    assert.equal(isOpen(fd), true, `borrowed fd ${fd} is open`);
    fs.closeSync(fd);
  }
});

test('adopt: a closed descriptor is an invalid argument', { skip: !posix && 'POSIX only' }, async () => {
  const a = new IPCManager();
  const fd = fs.openSync(os.devNull, 'r');
  fs.closeSync(fd);
  assert.throws(() => a.adopt(fd, fd, { borrow: true }), (e) => e.status === -1 && /not open/.test(e.message));
  await a.destroy();
});
