'use strict';
/*
 * Whether a send can be made on the loop without waiting (Linux, pull mode only).
 *
 * A send through the library blocks while the socket's buffer is full; the loop must
 * never block on that (a peer in this process reads on this very loop), which is why
 * sends go to a worker thread (lib/blocking.js) — a hop that costs more than the write.
 * A frame written into a socket that poll() reports writable does not wait: Linux
 * reports a unix stream socket writable while at most a quarter of its send buffer is
 * used, and a tcp socket while a third is free, and either then takes a frame of
 * SMALL_FRAME bytes into one buffer allocation without sleeping. So the package writes
 * such a frame on the loop when nothing else of this manager is in flight, and hands
 * everything else to a worker as before.
 *
 * The socket is the one the library's readable handle (an epoll descriptor) watches:
 * Linux lists an epoll descriptor's targets in /proc/self/fdinfo, and the socket is the
 * one of them that is a socket (the other is the library's eventfd). The package only
 * polls it; the library keeps owning it, and the package stops using it at cleanup.
 */
const fs = require('fs');
const { koffi } = require('./native');

const SMALL_FRAME = 16 * 1024;
const POLLOUT = 4;
const POLLERR_HUP_NVAL = 8 | 16 | 32;

let poll; // libc's poll, null when unavailable

function libcPoll() {
  if (poll !== undefined) return poll;
  poll = null;
  try {
    poll = koffi.load('libc.so.6').func('int poll(void *fds, unsigned long nfds, int timeout)');
  } catch {
    poll = null;
  }
  return poll;
}

/** The socket descriptor an epoll descriptor of this process watches, or -1. */
function socketBehind(epollFd) {
  if (process.platform !== 'linux' || libcPoll() === null) return -1;
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${epollFd}`, 'latin1');
    for (const match of info.matchAll(/^tfd:\s*(\d+)/gm)) {
      const fd = Number(match[1]);
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) return fd;
    }
  } catch {
    // not readable here (no /proc): sends keep going through the worker threads
  }
  return -1;
}

/** A check of one socket: room() is true when a frame of `bytes` goes out without waiting. */
class SendRoom {
  constructor(fd) {
    this._fd = fd;
    // struct pollfd { int fd; short events; short revents; }, in the machine's byte order.
    this._pollfd = new ArrayBuffer(8);
    new Int32Array(this._pollfd, 0, 1)[0] = fd;
    this._shorts = new Int16Array(this._pollfd, 4, 2);
    this._shorts[0] = POLLOUT;
  }

  room(bytes) {
    if (this._fd < 0 || bytes > SMALL_FRAME) return false;
    this._shorts[1] = 0;
    if (poll(this._pollfd, 1, 0) !== 1) return false;
    const revents = this._shorts[1];
    return (revents & POLLOUT) !== 0 && (revents & POLLERR_HUP_NVAL) === 0;
  }

  /** From cleanup on: the descriptor may be closed and reused. */
  close() {
    this._fd = -1;
  }
}

module.exports = { socketBehind, SendRoom, SMALL_FRAME };
