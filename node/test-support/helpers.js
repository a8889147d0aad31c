'use strict';
const path = require('path');
const { spawn } = require('child_process');
const { once } = require('events');

const PEER = path.join(__dirname, 'peer.py');
const PYTHON = process.env.PYTHON || 'python3';
// The transport a test means by "the platform's own" (the library's default): unix
// sockets on POSIX, named pipes on Windows, whose CPython (the peer) has no AF_UNIX.
const LOCAL = process.platform === 'win32' ? 'pipe' : 'unix';

/** The Python peer (peer.py) in its own process; `exited` resolves to its exit code. */
function peer(mode, ...args) {
  const child = spawn(PYTHON, [PEER, mode, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal || code)));
  return child;
}

/** The first line the child prints. */
async function firstLine(child) {
  let text = '';
  for await (const chunk of child.stdout) {
    text += chunk;
    const end = text.indexOf('\n');
    if (end >= 0) return text.slice(0, end);
  }
  throw new Error('the peer printed nothing');
}

/** Rejects after ms with a message (a bound on a wait, never the thing waited for). */
function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms); }),
  ]);
}

module.exports = { peer, firstLine, within, once, LOCAL };
