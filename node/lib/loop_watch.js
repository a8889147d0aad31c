'use strict';
/*
 * Watches a descriptor on the main thread's event loop: libuv's uv_poll, called through
 * koffi on the libuv that Node itself exports (the symbols native addons link against).
 * This is how the package reads in the pull mode (index.js): the library's readable
 * handle is an epoll descriptor, which net.Socket refuses (not a socket, pipe or tty),
 * but which libuv can poll like any other. When it is readable, one setImmediate runs
 * the reads on the loop, inside Node's own callback scope (so promises and nextTicks
 * that handlers create run at once, and a handler's exception is an ordinary uncaught
 * exception); no thread of the library or of Node is involved.
 *
 * available() is false where this cannot work, and the package then keeps the library's
 * reader thread: not Linux (macOS's kqueue handle would do, but is untested; Windows's
 * handle is an event, not a descriptor), a worker thread (its loop would serve, but the
 * path is untested there), or a host whose executable does not export libuv and node.h's
 * GetCurrentEventLoop.
 */
const { isMainThread } = require('worker_threads');
const { koffi } = require('./native');

const UV_READABLE = 1;
const HANDLE_BYTES = 512; // uv_poll_t is ~160 bytes on 64-bit Linux: room to spare

let uv; // the libuv functions, null when unavailable, undefined before the first look
const watches = new Map(); // handle address -> Watch
const closing = new Map(); // handle address -> the handle's memory, until uv_close is done

function load() {
  if (uv !== undefined) return uv;
  uv = null;
  if (process.platform !== 'linux' || !isMainThread || process.env.DAPPER_IPC_NODE_READER_THREAD) return uv;
  try {
    const self = koffi.load(null); // the process itself: Node's exported symbols
    const PollCb = koffi.proto('void dapper_ipc_uv_poll_cb(void *handle, int status, int events)');
    const CloseCb = koffi.proto('void dapper_ipc_uv_close_cb(void *handle)');
    const api = {
      // The loop of this Node environment (node.h's GetCurrentEventLoop), not
      // uv_default_loop(): an embedder (Electron's renderer and utility processes among
      // them) may run Node on a loop of its own, which a watch on the default loop would
      // never hear from. Itanium C++ names, as on Linux.
      isolate: self.func('void *_ZN2v87Isolate10GetCurrentEv(void)'),
      currentLoop: self.func('void *_ZN4node19GetCurrentEventLoopEPN2v87IsolateE(void *isolate)'),
      init: self.func('int uv_poll_init(void *loop, void *handle, int fd)'),
      start: self.func('int uv_poll_start(void *handle, int events, dapper_ipc_uv_poll_cb *cb)'),
      stop: self.func('int uv_poll_stop(void *handle)'),
      unref: self.func('void uv_unref(void *handle)'),
      close: self.func('void uv_close(void *handle, dapper_ipc_uv_close_cb *cb)'),
    };
    api.onPoll = koffi.register((handle) => {
      const watch = watches.get(koffi.address(handle));
      if (watch !== undefined) watch._ready();
    }, koffi.pointer(PollCb));
    api.onClose = koffi.register((handle) => {
      const at = koffi.address(handle);
      const memory = closing.get(at);
      closing.delete(at);
      if (memory !== undefined) koffi.free(memory);
    }, koffi.pointer(CloseCb));
    api.loop = () => api.currentLoop(api.isolate());
    if (api.loop() === null) throw new Error('no event loop for this environment');
    uv = api;
  } catch {
    uv = null; // no libuv exported here: the reader thread serves
  }
  return uv;
}

function available() {
  return load() !== null;
}

/** Calls onReadable on the loop (in a setImmediate) while fd is readable, until close(). */
class Watch {
  constructor(fd, onReadable) {
    const api = load();
    this._onReadable = onReadable;
    this._scheduled = false;
    this._run = () => {
      this._scheduled = false;
      if (this._handle !== null) this._onReadable();
    };
    this._handle = koffi.alloc('uint8_t', HANDLE_BYTES);
    this._address = koffi.address(this._handle);
    let status = api.init(api.loop(), this._handle, fd);
    if (status === 0) {
      // The manager decides what keeps the process alive (its own ref'd timer), as before.
      api.unref(this._handle);
      watches.set(this._address, this);
      status = api.start(this._handle, UV_READABLE, api.onPoll);
      if (status !== 0) this.close();
    } else {
      koffi.free(this._handle);
      this._handle = null;
    }
    if (status !== 0) throw new Error(`uv_poll on descriptor ${fd} failed (libuv error ${status})`);
  }

  _ready() {
    // Level-triggered: libuv calls again next round while frames are left.
    if (this._scheduled) return;
    this._scheduled = true;
    setImmediate(this._run);
  }

  /** Stops watching at once (before the descriptor is closed); frees the handle once libuv is done. */
  close() {
    if (this._handle === null) return;
    const api = load();
    api.stop(this._handle);
    watches.delete(this._address);
    closing.set(this._address, this._handle);
    api.close(this._handle, api.onClose);
    this._handle = null;
  }
}

module.exports = { available, Watch };
