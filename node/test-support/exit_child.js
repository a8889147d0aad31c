'use strict';
// A Node host that ends with its reader running and messages flowing (the parent test
// checks it exits 0, by no signal). MODE:
//   exit     process.exit(0) from inside the 'message' handler, mid-flood
//   natural  the manager is unref()'d; the script ends with the flood going on
//   connecting  process.exit(0) while connect() is retrying (nobody listens)
//   sending  process.exit(0) while a send waits for a client that never comes
const { IPCManager } = require('..');
const { peer, LOCAL } = require('./helpers');

const mode = process.argv[2];
if (mode === 'connecting') {
  // process.exit() while connect() retries on a worker thread (Node joins those at exit).
  const waiting = new IPCManager();
  waiting.connect({ transport: 'tcp', port: 1, connectTimeoutMs: 60000 }).catch(() => {});
  setTimeout(() => { process.stdout.write('exiting\n'); process.exit(0); }, 300);
  return;
}
if (mode === 'sending') {
  // process.exit() while a send waits on a worker thread (Node joins those at exit).
  const lonely = new IPCManager();
  lonely.createListener({ transport: process.argv[3] || LOCAL, clientWaitMs: 60000 });
  lonely.send({ never: 'delivered' }).catch(() => {});
  setTimeout(() => { process.stdout.write('exiting\n'); process.exit(0); }, 300);
  return;
}
const m = new IPCManager();
const args = m.createListener({ transport: process.argv[3] || LOCAL });
const child = peer('flood', ...args);
child.unref();
child.stdout.destroy(); // nothing but the manager may keep this process alive
let n = 0;
m.on('message', () => {
  n++;
  if (n === 2000) {
    process.stdout.write(`received ${n}\n`);
    if (mode === 'exit') process.exit(0);
    if (mode === 'natural') m.unref();
  }
});
m.startReader();
