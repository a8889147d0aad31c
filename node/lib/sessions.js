'use strict';
/*
 * SessionListener: one shared endpoint for many subprocess launchers, each routed by its
 * hello (dapper_ipc_session_listener_*). Each accepted session is an IPCManager.
 *
 * Threads. accept() blocks in the library until the session's child has said hello, so it
 * runs on a worker thread (lib/blocking.js, which keeps the library's message for a
 * failure) and the loop goes on. The offer callback is a
 * koffi registered callback: the library calls it on the thread that read the hello, and
 * koffi parks that thread until the JavaScript ran on the loop, so nothing on the loop may
 * wait for the library's hello threads: destroy (which joins them) runs on a worker too.
 */
const native = require('./native');
const { checkKeys } = require('./keys');
const blocking = require('./blocking');
const { eligible: pullEligible } = require('./pull_reader');

const { koffi, Status, IPCError } = native;

const offers = new Map(); // token -> SessionListener with an offer callback
let nextToken = 1;
let offerCallback = null; // registered once, never unregistered

function onOffer(token, sessionId, hello, length) {
  const listener = offers.get(Number(token));
  if (listener === undefined || listener._offer === null) return 0;
  try {
    const bytes = Buffer.from(koffi.view(hello, Number(length)));
    return listener._offer(JSON.parse(bytes.toString('utf8'))) ? 1 : 0;
  } catch (error) {
    process.nextTick(() => { throw error; }); // the host's bug, raised on the loop; the session is refused
    return 0;
  }
}

module.exports = (IPCManager) => {
  class SessionListener {
    /**
     * options.helloTimeoutMs: how long a client may take from its connect to its whole
     * hello (5000 by default); options.maxHelloSize: the largest hello in bytes (16384);
     * options.offer(hello) => boolean: decides about session ids nobody expected.
     */
    constructor(options = {}) {
      checkKeys('SessionListener option', options, ['helloTimeoutMs', 'maxHelloSize', 'offer']);
      const lib = native.lib();
      const handle = {};
      native.check(lib.session_listener_create(handle));
      this._handle = handle;
      this._token = nextToken++;
      this._offer = null;
      this._accepted = new Set();
      this._closing = null;
      this._destroyed = false;
      const timeout = options.helloTimeoutMs;
      const size = options.maxHelloSize;
      if (timeout !== undefined || size !== undefined) {
        if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0 && timeout < 2 ** 31)) {
          throw new IPCError(`helloTimeoutMs must be a positive integer (got ${timeout})`, Status.E_INVALID_ARGUMENT);
        }
        if (size !== undefined && !(Number.isInteger(size) && size > 0 && size < 2 ** 32)) {
          throw new IPCError(`maxHelloSize must be a positive integer (got ${size})`, Status.E_INVALID_ARGUMENT);
        }
        native.check(lib.session_listener_set_hello_limits(handle, timeout || 0, size || 0));
      }
      if (options.offer) this.setOfferCallback(options.offer);
    }

    /** Binds the shared endpoint (as a manager's listener: unix by default, a pipe on Windows; or tcp) and returns the launcher arguments every child gets. */
    createListener(config = {}) {
      native.check(native.lib().session_listener_listen(this._handle, IPCManager._nativeConfig(config)));
      this._pullEligible = pullEligible(config); // its sessions read on the loop where a manager would
      return this.launcherArgs;
    }

    get launcherArgs() {
      return native.launcherArgs(native.lib().session_listener_launcher_args, this._handle);
    }

    /** The token every child presents before its hello (requireAuth). */
    get authToken() {
      return native.textResult(native.lib().session_listener_auth_token, this._handle);
    }

    /** Announces a session id before its child starts: its hello is routed here, once. */
    expect(sessionId) {
      native.check(native.lib().session_listener_expect(this._handle, String(sessionId)));
    }

    /**
     * Resolves to an IPCManager for the session once its child said hello (connected, its
     * reader started, `hello` the hello); rejects with an IPCError: E_TIMEOUT after
     * timeoutMs (omitted or negative: no limit), E_INVALID_STATE for an id not expected,
     * E_CANCELLED when cleanup() ran meanwhile. Waits on a worker thread.
     */
    accept(sessionId, timeoutMs = -1) {
      const ms = timeoutMs === undefined || timeoutMs === null || timeoutMs < 0 ? -1 : Math.min(Math.round(timeoutMs), 2 ** 31 - 1);
      return new Promise((resolve, reject) => {
        if (this._closing || this._destroyed) {
          reject(new IPCError('cleanup ran while waiting for the session', Status.E_CANCELLED));
          return;
        }
        blocking.run(native.lib().path, 'accept', [this._handle.id, String(sessionId), ms]).then((reply) => {
          // The call may have started after cleanup's destroy retired the handle: the same cancellation.
          if (reply.status === Status.E_INVALID_HANDLE && (this._closing || this._destroyed)) {
            reject(new IPCError('cleanup ran while waiting for the session', Status.E_CANCELLED));
            return;
          }
          if (reply.status !== 0) {
            reject(new IPCError(reply.message, reply.status));
            return;
          }
          const manager = IPCManager._adopt({ id: reply.id }, this._pullEligible === true);
          this._accepted.add(manager);
          resolve(manager);
        }).catch(reject);
      });
    }

    /** offer(hello) => boolean for ids nobody expected (runs on the loop); null refuses them all. */
    setOfferCallback(offer) {
      if (offerCallback === null) offerCallback = koffi.register(onOffer, koffi.pointer(native.OfferCb));
      this._offer = offer || null;
      if (this._offer) offers.set(this._token, this); else offers.delete(this._token);
      native.check(native.lib().session_listener_set_offer_callback(this._handle, this._offer ? offerCallback : null,
        this._token));
    }

    /** Closes the endpoint and ends every session it accepted (on a worker thread). Idempotent. */
    cleanup() {
      if (this._destroyed) return Promise.resolve();
      if (this._closing) return this._closing;
      const lib = native.lib();
      // The library closes its sessions' readable handles: the loop stops watching them first.
      for (const manager of this._accepted) manager._stopPull();
      this._closing = new Promise((resolve, reject) => {
        lib.session_listener_destroy.async(this._handle, (error, status) => {
          this._destroyed = true;
          offers.delete(this._token);
          const managers = [...this._accepted];
          this._accepted.clear();
          // The library has ended those sessions: this finishes their JavaScript side.
          Promise.all(managers.map((m) => m.cleanup())).then(() => {
            if (error) reject(error);
            else if (status !== 0) reject(new IPCError(lib.status_string(status), status));
            else resolve();
          }, reject);
        });
      });
      return this._closing;
    }
  }

  return { SessionListener };
};
