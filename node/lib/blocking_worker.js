'use strict';
// A thread that makes one blocking library call at a time (blocking.js) and reads the
// library's message for a failure on this same thread, where the library keeps it.
const { parentPort, workerData } = require('worker_threads');
const native = require('./native');

native.useLibrary(workerData.library); // the very file the main thread loaded
const lib = native.lib();
// A wait with no end is made in slices: between two, Node can end this thread at exit.
const SLICE_MS = 200;

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
  // A session listener's accept; `id` the new manager's on success.
  accept(id, sessionId, timeoutMs) {
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    const out = {};
    for (;;) {
      const left = deadline - Date.now();
      const slice = left === Infinity ? SLICE_MS : Math.max(0, Math.min(SLICE_MS, Math.round(left)));
      const status = lib.session_listener_accept({ id }, sessionId, slice, out);
      if (status === 0) return { status, id: out.id };
      if (status !== native.Status.E_TIMEOUT) return { status };
      if (Date.now() >= deadline) {
        // The library's words, with the whole wait rather than the last slice.
        return { status, message: `session '${sessionId}' did not connect within ${timeoutMs} ms` };
      }
    }
  },
};

parentPort.on('message', ({ op, args }) => {
  const reply = calls[op](...args);
  if (reply.status !== 0 && reply.message === undefined) reply.message = native.lastError() || lib.status_string(reply.status);
  parentPort.postMessage(reply);
});
