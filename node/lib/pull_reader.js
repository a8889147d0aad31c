'use strict';
/*
 * The package's receive path without a thread: the library's pull mode, read on the
 * loop. The library's readable handle (an epoll descriptor) is watched by libuv
 * (lib/loop_watch.js); when it is readable, dapper_ipc_recv_batch with timeout 0 takes
 * every whole frame the library holds into this reader's buffer, on the main thread.
 * The reader thread's path costs a thread hop per read and keeps the reader parked
 * until JavaScript has run; this one costs a poll wakeup of the loop, as net.Socket does.
 *
 * It serves a connection the library can give a readable handle for (unix, tcp) and a
 * manager whose end the library reports by recv's status alone: not with the reconnect
 * flag (its events come from a thread of the library) nor heartbeats (an unresponsive
 * peer is recv's E_TIMEOUT, which means "nothing yet" here). index.js falls back to the
 * reader thread everywhere else.
 */
const native = require('./native');
const loopWatch = require('./loop_watch');
const { socketBehind, SendRoom } = require('./send_room');

const { koffi, Status, FrameLayout } = native;

const MAX_FRAMES = 256; // frames per recv_batch call
const BATCHES_PER_TURN = 16; // then the loop serves others (the handle stays readable)
const POINTER_SIZE = koffi.sizeof('void *');

/** Whether a manager opened with `config` can be read this way (before asking the library). */
function eligible(config) {
  if (!loopWatch.available()) return false;
  const transport = (config.transport || 'auto').toLowerCase();
  if (transport !== 'auto' && transport !== 'unix' && transport !== 'tcp') return false;
  return !config.reconnect && !(config.heartbeatMs > 0);
}

class PullReader {
  /**
   * Starts reading `handle` (connected, reader thread not started) on the loop, or
   * returns null when the library has no readable handle for it (nothing changed then).
   * sink: { frames(buffer, table, count), ended(status, reason) } called on the loop.
   */
  static start(handle, sink) {
    const out = [0];
    if (native.lib().readable_handle(handle, out) !== 0) return null;
    return new PullReader(handle, Number(out[0]), sink);
  }

  constructor(handle, fd, sink) {
    this._handle = handle;
    this._sink = sink;
    this._buffer = Buffer.allocUnsafe(64 * 1024);
    this._table = Buffer.alloc(MAX_FRAMES * FrameLayout.size);
    this._view = new DataView(this._table.buffer, this._table.byteOffset, this._table.byteLength);
    this._count = POINTER_SIZE === 8 ? new BigUint64Array(1) : new Uint32Array(1);
    this._room = new SendRoom(socketBehind(fd));
    this._watch = new loopWatch.Watch(fd, () => this._read());
  }

  /** True when a frame of `bytes` can be sent on the loop without waiting (lib/send_room.js). */
  canSendNow(bytes) {
    return this._watch !== null && this._room.room(bytes);
  }

  _read() {
    const lib = native.lib();
    for (let turn = 0; turn < BATCHES_PER_TURN && this._watch !== null; turn++) {
      const status = lib.recv_batch(this._handle, this._buffer, this._buffer.length, this._table, MAX_FRAMES,
        this._count, 0);
      if (status === 0) {
        const count = Number(this._count[0]);
        this._sink.frames(this._buffer, this._view, count);
        // Fewer than asked for: the library's buffer is empty, and asking again would most
        // often be a read that finds nothing (one system call per round trip). If the
        // socket holds more, the handle is still readable and libuv calls again.
        if (count < MAX_FRAMES) return;
        continue;
      }
      if (status === Status.E_TIMEOUT) return;
      if (status === Status.E_BUFFER_TOO_SMALL) {
        // The next frame alone is larger: a buffer of its size, and the same call again.
        const need = FrameLayout.word(this._view, FrameLayout.length);
        this._buffer = Buffer.allocUnsafe(Math.max(need, this._buffer.length * 2));
        continue;
      }
      // The end: as the reader thread reports it (the peer leaving is status OK there).
      const reason = native.lastError() || lib.status_string(status);
      this.stop();
      this._sink.ended(status === Status.E_CLOSED ? Status.OK : status, reason);
      return;
    }
  }

  /** Stops watching at once; the library closes the handle at cleanup. */
  stop() {
    if (this._watch === null) return;
    this._watch.close();
    this._watch = null;
    this._room.close();
  }
}

module.exports = { PullReader, eligible };
