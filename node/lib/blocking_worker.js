'use strict';
// A thread that makes one blocking library call at a time (blocking.js) and reads the
// library's message for a failure on this same thread, where the library keeps it.
const { parentPort, workerData } = require('worker_threads');
const native = require('./native');

native.useLibrary(workerData.library); // the very file the main thread loaded
const lib = native.lib();

const calls = {
  connect(id, config) {
    return { status: lib.connect({ id }, config) };
  },
  wait_for_client(id, timeoutMs) {
    return { status: lib.wait_for_client({ id }, timeoutMs) };
  },
  // frames: [kind, length] pairs; their payloads lie back to back in `bytes`.
  send(id, bytes, frames) {
    const data = Buffer.from(bytes);
    if (frames.length === 1) {
      const status = lib.send({ id }, frames[0][0], data, data.length);
      return { status, sent: status === 0 ? 1 : 0 };
    }
    let offset = 0;
    const table = frames.map(([kind, length]) => {
      const frame = { payload: data.subarray(offset, offset + length), length, kind };
      offset += length;
      return frame;
    });
    const sent = [0];
    const status = lib.send_batch({ id }, table, table.length, sent);
    return { status, sent: sent[0] };
  },
};

parentPort.on('message', ({ op, args }) => {
  const reply = calls[op](...args);
  if (reply.status !== 0) reply.message = native.lastError() || lib.status_string(reply.status);
  parentPort.postMessage(reply);
});
