'use strict';
/*
 * Library calls that may block (connect's retries, a wait for the client, a send to a peer
 * that is not reading yet), made on worker threads so that the event loop never waits for
 * them. The loop must stay free: a reader of this very process (the peer of a manager in
 * the same process) hands its frames over on the loop, so a send that blocked the loop
 * would wait for a reader that waits for the loop.
 *
 * They run on Node worker threads (worker_threads), not libuv's pool (koffi's fn.async):
 * the library keeps each failure's message on the thread that failed, and only a thread
 * that runs JavaScript can read it there, right after the call (blocking_worker.js).
 * A thread serves one call at a time; a call that finds none idle gets a new one, so no
 * call waits behind another that blocks (a send waiting for the client must not hold up
 * the connect of that client). A few idle threads are kept, unref()'d.
 */
const path = require('path');
const { Worker } = require('worker_threads');

const SCRIPT = path.join(__dirname, 'blocking_worker.js');
const KEEP_IDLE = 2;

const idle = [];
let libraryFile = null;

function spawn() {
  const worker = new Worker(SCRIPT, { workerData: { library: libraryFile } });
  worker.pending = null;
  worker.on('message', (reply) => {
    const { resolve } = worker.pending;
    worker.pending = null;
    release(worker);
    resolve(reply);
  });
  worker.on('error', (error) => {
    // The thread is gone (an exception in the worker script: a bug); its caller hears of it.
    const pending = worker.pending;
    worker.pending = null;
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
    if (pending) pending.reject(error);
  });
  return worker;
}

function release(worker) {
  if (idle.length < KEEP_IDLE) {
    worker.unref(); // an idle thread does not keep the process alive
    idle.push(worker);
  } else {
    worker.terminate();
  }
}

/**
 * Runs the call `op` (one of blocking_worker.js's) on a thread of its own and resolves to
 * its reply: `{status, message}` (message: the library's, for a failing status) and the
 * call's outputs. `transfer`: ArrayBuffers handed to the thread (not copied). `keepAlive`
 * false: the call does not keep the process alive.
 */
function run(file, op, args, transfer = [], keepAlive = true) {
  libraryFile = file;
  const worker = idle.pop() || spawn();
  // A call in flight keeps the process alive, as an open socket does; a listener's wait for
  // its client leaves that to the manager (its ref()/unref()), as its reader thread would.
  if (keepAlive) worker.ref(); else worker.unref();
  return new Promise((resolve, reject) => {
    worker.pending = { resolve, reject };
    worker.postMessage({ op, args }, transfer);
  });
}

module.exports = { run };
