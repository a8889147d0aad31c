'use strict';
/*
 * IPCManager: one libdapper_ipc manager, in Node's idioms.
 *
 * The loop path (Linux: lib/pull_reader.js). Where it applies, startReader() reads in the
 * library's pull mode on the loop, woken by libuv polling the readable handle, and small
 * sends are written on the loop when the socket has room (lib/send_room.js): no thread
 * between the socket and JavaScript, as with net.Socket. Everything below describes the
 * reader thread, which serves everywhere else (node/README.md lists where).
 *
 * Threads. The library reads frames on its own reader thread and calls the batch and
 * state callbacks there. The two callbacks given to the library are koffi registered
 * callbacks, made once for the process and never unregistered. Called from a thread
 * that is not the main thread, koffi queues the call to the event loop (a thread-safe
 * function) and blocks the calling thread until the JavaScript callback has run on the
 * main thread. So no JavaScript runs on a foreign thread, and the frames are still
 * valid while the JavaScript callback copies them (the reader is parked inside the C
 * callback until then). The cost is one hop to the loop per read of the socket (the
 * batch callback gets every frame of a read: a burst costs one hop, not one per frame),
 * and the rule that follows from it: nothing on the main thread may wait for the reader (cleanup joins
 * it), or the two wait for each other. So cleanup runs on a libuv worker thread
 * (koffi's fn.async) while the loop goes on serving the reader's queued callbacks. Nor may
 * the main thread wait for a peer, which may be a manager of this process whose reader needs
 * this loop: every call that may wait (sends, connect's retries, the wait for a client) runs
 * on a worker thread of lib/blocking.js, which reads the library's message for a failure
 * on that thread.
 *
 * Lifetime. The callbacks find their manager by a token (the user_data) in `open`,
 * which holds every manager from createListener/connect until cleanup: a callback
 * that arrives for a manager already cleaned up finds nothing and returns.
 *
 * Exit. When the loop runs dry ('beforeExit') every open manager is cleaned up before
 * Node tears the environment down (koffi releases its thread-safe function then, and a
 * reader calling into it afterwards would crash the process). process.exit() ends the
 * process without that teardown: a reader parked in a callback stays parked until the
 * process is gone. A call still in flight on a worker thread is ended by aborting its
 * manager from the 'exit' handler, so no worker thread blocks the exit.
 */
const { EventEmitter } = require('events');
const native = require('./lib/native');
const blocking = require('./lib/blocking');
const pullReader = require('./lib/pull_reader');
const { checkKeys } = require('./lib/keys');

const { koffi, Status, Kind, IPCError, FrameLayout } = native;

const open = new Map(); // token -> IPCManager, from createListener/connect until cleanup
const blockedIn = new Set(); // managers with a library call in flight on a worker thread (lib/blocking.js)
let nextToken = 1;
let callbacks = null; // [batch, state], registered once, never unregistered
const END = Symbol('end');
const INT32_MAX = 2 ** 31 - 1;

function onBatch(token, frames, count) {
  const manager = open.get(token);
  if (manager === undefined) return;
  manager._onBatch(frames, Number(count));
}

function onState(token, event, status, reason) {
  const manager = open.get(token);
  if (manager === undefined) return;
  manager._onState(event, status, reason);
}

function registeredCallbacks() {
  if (callbacks === null) {
    callbacks = [koffi.register(onBatch, koffi.pointer(native.BatchCb)),
      koffi.register(onState, koffi.pointer(native.StateCb))];
  }
  return callbacks;
}

let exitHooks = false;
function installExitHooks() {
  if (exitHooks) return;
  exitHooks = true;
  // The loop ran dry with managers still open (unref()'d, or left behind): clean them up
  // while the loop still runs, so no reader is inside koffi when Node tears down.
  process.on('beforeExit', () => {
    for (const manager of open.values()) manager.cleanup().catch(() => {});
  });
  process.on('exit', () => {
    for (const manager of blockedIn) {
      // Node joins its worker threads at exit: abort ends the call one of them is blocked
      // in (a connect, a wait for the client, a send) at once, and waits for no reader
      // here (a reader parked in a callback stays parked until the process is gone).
      native.lib().abort(manager._handle);
    }
  });
}

function int32(name, value, low, high) {
  if (value === undefined || value === null) return 0;
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new IPCError(`${name} must be an integer between ${low} and ${high} (got ${value})`, Status.E_INVALID_ARGUMENT);
  }
  return value;
}

function text(name, value) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    throw new IPCError(`${name} must be a string (got ${typeof value})`, Status.E_INVALID_ARGUMENT);
  }
  return value;
}

function ms(name, value) {
  // undefined/null: the library's default (0); negative: no limit / one attempt.
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new IPCError(`${name} must be a number of milliseconds (got ${value})`, Status.E_INVALID_ARGUMENT);
  }
  if (value < 0) return -1;
  return Math.min(INT32_MAX, Math.max(1, Math.round(value)));
}

const CONFIG_KEYS = ['transport', 'host', 'port', 'path', 'pipeName', 'maxFrameSize', 'connectTimeoutMs',
  'sendTimeoutMs', 'requireAuth', 'authToken', 'clientWaitMs', 'heartbeatMs', 'wsOrigins', 'reconnect',
  'reconnectTimeoutMs', 'resumeBufferBytes', 'shmRingBytes', 'shmSpinUs', 'tlsCertFile', 'tlsKeyFile', 'tlsFingerprint',
  'allowTls12'];

/** The dapper_ipc_config for a JS config object; the library checks every value it can hold. */
function nativeConfig(config = {}) {
  if (config === null || typeof config !== 'object') {
    throw new IPCError('config must be an object', Status.E_INVALID_ARGUMENT);
  }
  checkKeys('config', config, CONFIG_KEYS);
  return {
    struct_size: native.lib().configSize,
    max_frame_size: int32('maxFrameSize', config.maxFrameSize, 0, 2 ** 32 - 1),
    transport: text('transport', config.transport),
    host: text('host', config.host),
    path: text('path', config.path),
    pipe_name: text('pipeName', config.pipeName),
    port: int32('port', config.port, -(2 ** 31), INT32_MAX),
    connect_timeout_ms: ms('connectTimeoutMs', config.connectTimeoutMs),
    send_timeout_ms: ms('sendTimeoutMs', config.sendTimeoutMs),
    flags: (config.requireAuth ? native.FLAG_REQUIRE_AUTH : 0) | (config.reconnect ? native.FLAG_RECONNECT : 0)
      | (config.allowTls12 ? native.FLAG_ALLOW_TLS12 : 0),
    auth_token: text('authToken', config.authToken),
    // The library's default (10 s): a send waits for the client on a worker thread, not the loop.
    client_wait_ms: ms('clientWaitMs', config.clientWaitMs),
    // 0 (off) unless set; negative is off too, as in C.
    heartbeat_ms: int32('heartbeatMs', config.heartbeatMs, -(2 ** 31), INT32_MAX),
    ws_origins: text('wsOrigins', config.wsOrigins),
    reconnect_timeout_ms: ms('reconnectTimeoutMs', config.reconnectTimeoutMs),
    resume_buffer_bytes: int32('resumeBufferBytes', config.resumeBufferBytes, 0, 2 ** 32 - 1),
    shm_ring_bytes: int32('shmRingBytes', config.shmRingBytes, 0, 2 ** 32 - 1),
    shm_spin_us: int32('shmSpinUs', config.shmSpinUs, -(2 ** 31), INT32_MAX),
    tls_cert_file: text('tlsCertFile', config.tlsCertFile),
    tls_key_file: text('tlsKeyFile', config.tlsKeyFile),
    tls_fingerprint: text('tlsFingerprint', config.tlsFingerprint),
  };
}

/** The config a launcher connects with, from the arguments createListener returned. */
function configFromLauncherArgs(args) {
  const fields = { '--ipc': 'transport', '--ipc-host': 'host', '--ipc-port': 'port', '--ipc-path': 'path', '--ipc-pipe': 'pipeName', '--ipc-tls-fingerprint': 'tlsFingerprint' };
  const config = {};
  for (let i = 0; i + 1 < args.length; i++) {
    if (fields[args[i]]) config[fields[args[i]]] = args[i + 1];
  }
  if (config.transport === undefined) throw new IPCError(`no --ipc in ${JSON.stringify(args)}`, Status.E_INVALID_ARGUMENT);
  if (config.port !== undefined) config.port = Number(config.port);
  return config;
}

function isLocal(config) {
  const transport = (config.transport || 'auto').toLowerCase();
  if (transport !== 'tcp' && transport !== 'ws') return true;
  return config.host === undefined || config.host === null || config.host === 'localhost' ||
    config.host === '::1' || /^127\./.test(config.host);
}

class IPCManager extends EventEmitter {
  constructor() {
    super();
    const handle = {};
    native.check(native.lib().manager_create(handle));
    this._init(handle);
  }

  _init(handle) {
    this._handle = handle;
    this.hello = null; // a session's hello, for a manager a SessionListener accepted
    this._token = 0;
    this._destroyed = false;
    this._enabled = false;
    this._isListener = false;
    this._closing = null; // the cleanup promise while one runs
    this._ended = false;
    this._subscribers = new Set();
    this._keepAlive = null;
    this._ref = true;
    this._parseErrors = 0;
    this._readerStarted = false;
    this._generation = 0; // counts cleanups: a wait that outlives one was cancelled by it
    this._sends = []; // sends waiting for the one in flight: {frames, resolve, reject, many}
    this._sending = false;
    this._solo = 0; // sends to make one call each (after a batch refused a frame)
    this._blockingCalls = 0;
    this._pullEligible = false; // the config allows reading on the loop (lib/pull_reader.js)
    this._pull = null; // the PullReader while the loop reads
    this.disconnectReason = null;
    installExitHooks();
  }

  // ---- lifecycle ------------------------------------------------------------------

  /** True from createListener/connect until cleanup. */
  get isEnabled() { return this._enabled; }

  get isListener() { return this._isListener; }

  /** True while a peer is connected. */
  get isConnected() {
    if (this._destroyed) return false;
    const connected = [0];
    native.check(native.lib().is_connected(this._handle, connected));
    return connected[0] === 1;
  }

  /**
   * The manager's counters (dapper_ipc_get_stats), over its whole life: state (0 idle,
   * 1 listening, 2 connected, 4 closed), framesSent, framesReceived, bytesSent,
   * bytesReceived (headers included), connects, sendBlockedNs, lastSendMsAgo,
   * lastReceiveMsAgo (-1: never), heartbeatRttUs (-1: none). Heartbeats are never counted.
   */
  stats() {
    if (this._destroyed) throw new IPCError('the manager is destroyed', Status.E_INVALID_HANDLE);
    const out = { struct_size: native.koffi.sizeof(native.Stats) };
    native.check(native.lib().get_stats(this._handle, out));
    const result = {};
    for (const [name, value] of Object.entries(out)) {
      if (name === 'struct_size') continue;
      const camel = name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
      // 64-bit counters arrive as Number or BigInt by size: always a Number here (exact below 2^53).
      result[camel] = typeof value === 'bigint' ? Number(value) : value;
    }
    return result;
  }

  /** The library's path and version. */
  static get library() {
    const lib = native.lib();
    return { path: lib.path, version: lib.version() };
  }

  _opened(isListener) {
    this._pullEligible = false;
    this._enabled = true;
    this._readerStarted = false;
    this._isListener = isListener;
    this._ended = false;
    this.disconnectReason = null;
    this._token = nextToken++;
    open.set(this._token, this);
    this._holdLoop();
  }

  /**
   * Starts the library's reader thread: from then on 'message', 'data', 'connected' and
   * 'disconnected' are emitted. A listener whose client has not arrived accepts it first
   * (then 'connected'). As dapper_ipc_start_reader: E_INVALID_STATE before createListener
   * or connect, or when the reader already runs. messages() starts it too.
   */
  startReader() {
    this._assertUsable();
    if (this._readerStarted) throw new IPCError('the reader is already running', Status.E_INVALID_STATE);
    if (this._startPull()) return this;
    const [onBat, onSt] = registeredCallbacks();
    const lib = native.lib();
    native.check(lib.set_batch_callback(this._handle, onBat, onSt, this._token));
    native.check(lib.start_reader(this._handle));
    this._readerStarted = true;
    return this;
  }

  /*
   * Reads on the loop instead of a reader thread (lib/pull_reader.js) when the config
   * allows it and the connection is there: a client, or a listener whose client arrived.
   * The events are the reader thread's: 'connected' first, frames, 'disconnected'.
   */
  _startPull() {
    if (!this._pullEligible) return false;
    if (this._isListener && native.lib().wait_for_client(this._handle, 0) !== 0) {
      // The client is accepted on a worker thread (as the reader thread would), then read here.
      this._readerStarted = true;
      this._acceptThenPull(this._generation);
      return true;
    }
    if (this._pullNow()) return true;
    return false;
  }

  async _acceptThenPull(generation) {
    let reply;
    try {
      reply = await this._blocking('wait_for_client', [-1], undefined, false);
    } catch (error) {
      reply = { status: Status.E_INTERNAL, message: error.message };
    }
    if (this._generation !== generation || this._closing) return; // cleanup ended the wait
    if (reply.status !== 0) {
      this._onState(native.EVENT_DISCONNECTED, reply.status, reply.message);
      return;
    }
    if (this._pullNow()) return;
    // No readable handle after all: the library's reader thread, as without this path.
    const [onBat, onSt] = registeredCallbacks();
    const lib = native.lib();
    let status = lib.set_batch_callback(this._handle, onBat, onSt, this._token);
    if (status === 0) status = lib.start_reader(this._handle);
    if (status !== 0) this._onState(native.EVENT_DISCONNECTED, status, native.lastError() || lib.status_string(status));
  }

  _pullNow() {
    const pull = pullReader.PullReader.start(this._handle, {
      frames: (buffer, table, count) => this._onPulled(buffer, table, count),
      ended: (status, reason) => {
        this._pull = null;
        this._onState(native.EVENT_DISCONNECTED, status, reason);
      },
    });
    if (pull === null) return false;
    this._pull = pull;
    this._readerStarted = true;
    process.nextTick(() => { if (this._pull === pull) this._onState(native.EVENT_CONNECTED, 0, ''); });
    return true;
  }

  _stopPull() {
    if (this._pull === null) return;
    this._pull.stop();
    this._pull = null;
  }

  /** A library call that may block, on a worker thread: its reply ({status, message, ...}). */
  async _blocking(op, args, transfer, keepAlive = true) {
    this._blockingCalls++;
    blockedIn.add(this);
    try {
      return await blocking.run(native.lib().path, op, [this._handle.id, ...args], transfer, keepAlive);
    } finally {
      if (--this._blockingCalls === 0) blockedIn.delete(this);
    }
  }

  _assertUsable() {
    if (this._destroyed) throw new IPCError('the manager was destroyed', Status.E_INVALID_HANDLE);
    if (this._closing) throw new IPCError('cleanup() is running', Status.E_INVALID_STATE);
  }

  /**
   * Binds a listener now (a launcher started afterwards finds it) and returns the launcher
   * arguments (--ipc ...). The client is accepted by waitForClient(), by the reader
   * (startReader()) or by the first send.
   */
  createListener(config = {}) {
    this._assertUsable();
    const c = nativeConfig(config);
    native.check(native.lib().create_listener(this._handle, c));
    this._opened(true);
    this._pullEligible = pullReader.eligible(config);
    return this.launcherArgs;
  }

  get launcherArgs() {
    return native.launcherArgs(native.lib().launcher_args, this._handle);
  }

  /** The token a launcher must present (listener with requireAuth); hand it over in the
   * DAPPER_IPC_AUTH_TOKEN environment variable, never argv. */
  get authToken() {
    return native.textResult(native.lib().auth_token, this._handle);
  }

  /** The certificate fingerprint of a tls or wss listener, 'sha256:<64 hex>' (the launcher
   * arguments carry it too, after --ipc-tls-fingerprint). */
  get tlsFingerprint() {
    return native.textResult(native.lib().tls_fingerprint, this._handle);
  }

  /** The manager of a session a SessionListener accepted: connected, `hello` its hello, no reader yet. */
  static _adopt(handle, pullEligible) {
    const manager = Object.create(IPCManager.prototype);
    EventEmitter.call(manager);
    manager._init(handle);
    manager.hello = JSON.parse(native.textResult(native.lib().session_hello, handle));
    manager._opened(false);
    manager._pullEligible = pullEligible;
    return manager;
  }

  /**
   * Becomes connected over a stream this process already holds (POSIX file descriptors):
   * a connected socket (readFd alone) or a pipe pair (readFd the end the peer writes,
   * writeFd the end it reads). Owned (the default) descriptors are the library's from
   * here: closed exactly once, at cleanup, or before this throws; with `{ borrow: true }`
   * they are never closed by the library. Throws IPCError (E_UNSUPPORTED on Windows).
   */
  adopt(readFd, writeFd = readFd, { borrow = false } = {}) {
    this._assertUsable();
    native.check(native.lib().adopt(this._handle, readFd, writeFd, borrow ? native.ADOPT_BORROW : 0));
    return this._opened(false);
  }

  /**
   * Connects to a listener, retrying while nobody listens (connectTimeoutMs, 3000 by
   * default). Resolves once connected; rejects with an IPCError carrying the library's
   * status and message. The reader starts with startReader() (or messages()).
   */
  async connect(config) {
    this._assertUsable();
    const c = nativeConfig(config || {});
    const lib = native.lib();
    // One attempt here first: a local listener that is already there (the usual case: the
    // adapter started this launcher) connects at once, without a hop to another thread.
    // A local attempt does not wait for anything; a remote one could (a tcp handshake).
    if (isLocal(config || {})) {
      const status = lib.connect(this._handle, { ...c, connect_timeout_ms: -1 });
      if (status === 0) return this._openedClient(config || {});
      if (status !== Status.E_CONNECTION_REFUSED || c.connect_timeout_ms < 0) throw native.errorFor(status);
    }
    const reply = await this._blocking('connect', [c]);
    if (reply.status !== 0) throw new IPCError(reply.message, reply.status);
    return this._openedClient(config || {});
  }

  _openedClient(config) {
    this._opened(false);
    this._pullEligible = pullReader.eligible(config);
  }

  /**
   * Resolves once a client is connected (at once if one is); rejects with an IPCError:
   * E_TIMEOUT after timeoutMs (omitted or negative: no limit), E_INVALID_STATE before
   * createListener, E_CANCELLED when cleanup() ran meanwhile. Without a reader the
   * library accepts on a worker thread; with one, this waits for its 'connected' on the
   * loop.
   */
  async waitForClient(timeoutMs = -1) {
    if (!this._readerStarted && !this._closing) {
      const limit = timeoutMs === undefined || timeoutMs === null || timeoutMs < 0 ? -1
        : Math.min(INT32_MAX, Math.round(timeoutMs));
      const generation = this._generation;
      const reply = await this._blocking('wait_for_client', [limit]);
      if (reply.status === Status.E_INVALID_STATE && this._generation !== generation) {
        // cleanup() ran before the library's call began: it found no listener any more.
        throw new IPCError('cleanup ran while waiting for a client', Status.E_CANCELLED);
      }
      if (reply.status !== 0) throw new IPCError(reply.message, reply.status);
      return;
    }
    await new Promise((resolve, reject) => {
      if (this._closing) {
        reject(new IPCError('cleanup ran while waiting for a client', Status.E_CANCELLED));
        return;
      }
      const lib = native.lib();
      // timeout 0: the library answers at once (OK, E_TIMEOUT, E_INVALID_STATE, ...).
      const now = lib.wait_for_client(this._handle, 0);
      if (now === 0) { resolve(); return; }
      if (now !== Status.E_TIMEOUT) { reject(native.errorFor(now)); return; }
      let timer = null;
      const done = (error) => {
        if (timer) clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('_closed', onClosed);
        if (error) reject(error); else resolve();
      };
      const onConnected = () => done(null);
      const onClosed = () => done(new IPCError('cleanup ran while waiting for a client', Status.E_CANCELLED));
      this.on('connected', onConnected);
      this.on('_closed', onClosed);
      if (timeoutMs !== undefined && timeoutMs !== null && timeoutMs >= 0) {
        timer = setTimeout(() => {
          // The library's own verdict and words, at the deadline.
          const status = lib.wait_for_client(this._handle, 0);
          done(status === 0 ? null : native.errorFor(status));
        }, Math.min(timeoutMs, INT32_MAX));
      }
    });
  }

  // ---- sending ----------------------------------------------------------------------

  _defaultKind() {
    // The adapter's side sends commands: a listener, or a session a SessionListener accepted.
    return this._isListener || this.hello !== null ? Kind.COMMAND : Kind.EVENT;
  }

  /**
   * Sends one frame whose payload the caller encoded (a Buffer, a Uint8Array or a string;
   * copied at the call, so the caller may reuse it at once). Resolves once the frame is
   * handed to the kernel; the library's call runs on a worker thread, so the loop goes on
   * while the peer's receive buffer is full (a peer in this same process reads on this
   * loop). Sends of one manager leave in the order they were made. Kind: command (2) on a
   * listener, event (1) on a client. On a listener whose client has not arrived it first
   * waits for the client, up to clientWaitMs (10 s). Rejects with an IPCError
   * (E_NOT_CONNECTED without a listener or connection, E_TIMEOUT when no client came,
   * E_CLOSED after the peer left, E_SEND_TIMEOUT, E_FRAME_TOO_LARGE, ...).
   */
  sendBytes(payload, kind) {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new IPCError('payload must be a Buffer, a Uint8Array or a string', Status.E_INVALID_ARGUMENT));
    }
    return this._queueSend([data], kind, false);
  }

  /** Sends a value as JSON (sendBytes of JSON.stringify(message)). */
  send(message, kind) {
    return this._queueSend([Buffer.from(JSON.stringify(message), 'utf8')], kind, false);
  }

  /**
   * Sends several values as JSON in one call (dapper_ipc_send_batch): in order, in as few
   * writes as the OS allows, no other sender's frame between them. On failure the
   * error's `sent` says how many went out whole.
   */
  sendMany(messages, kind) {
    return this._queueSend(messages.map((m) => Buffer.from(JSON.stringify(m), 'utf8')), kind, true);
  }

  _queueSend(payloads, kind, many) {
    const k = kind === undefined ? this._defaultKind() : kind;
    if (!many && this._pull !== null && !this._sending && this._sends.length === 0 && !this._closing &&
        this._pull.canSendNow(payloads[0].length)) {
      // Room in the socket and nothing of this manager in flight: the write cannot wait,
      // so it is made here, without the hop to a worker thread (lib/send_room.js).
      const status = native.lib().send(this._handle, k, payloads[0], payloads[0].length);
      return status === 0 ? Promise.resolve() : Promise.reject(native.errorFor(status));
    }
    return new Promise((resolve, reject) => {
      this._sends.push({ payloads, kind: k, resolve, reject, many });
      this._pumpSends();
    });
  }

  /*
   * One library call at a time per manager, so frames leave in order. Sends made while one
   * is in flight go out together in the next call (dapper_ipc_send_batch: one write for
   * many frames), each resolved or rejected as if it had been a call of its own.
   */
  async _pumpSends() {
    if (this._sending || this._sends.length === 0) return;
    this._sending = true;
    try {
      while (this._sends.length > 0) {
        const take = this._solo > 0 ? 1 : this._sends.length;
        if (this._solo > 0) this._solo--;
        const entries = this._sends.splice(0, take);
        await this._sendEntries(entries);
      }
    } finally {
      this._sending = false;
    }
  }

  async _sendEntries(entries) {
    const frames = [];
    let size = 0;
    for (const entry of entries) {
      for (const payload of entry.payloads) {
        frames.push([entry.kind, payload.length]);
        size += payload.length;
      }
    }
    // One buffer of exactly the payloads, handed to the worker thread without a copy.
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const entry of entries) {
      for (const payload of entry.payloads) {
        bytes.set(payload, offset);
        offset += payload.length;
      }
    }
    let reply;
    try {
      reply = await this._blocking('send', [bytes.buffer, frames], [bytes.buffer]);
    } catch (error) {
      for (const entry of entries) entry.reject(error);
      return;
    }
    if (reply.status === 0) {
      for (const entry of entries) entry.resolve();
      return;
    }
    if (entries.length > 1 && reply.sent === 0 &&
        (reply.status === Status.E_FRAME_TOO_LARGE || reply.status === Status.E_INVALID_ARGUMENT)) {
      // The library checks every frame of a batch before it sends any: one send's bad
      // frame refused them all. Each goes again as the call of its own it was.
      this._sends.unshift(...entries);
      this._solo = entries.length;
      return;
    }
    // Sends whose frames all went out succeeded; the one cut short has the library's
    // error; the later ones are made again, each then getting its own outcome.
    let before = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const count = entry.payloads.length;
      if (before + count <= reply.sent) {
        entry.resolve();
      } else {
        const error = new IPCError(reply.message, reply.status);
        if (entry.many) error.sent = reply.sent - before;
        entry.reject(error);
        this._sends.unshift(...entries.slice(i + 1));
        return;
      }
      before += count;
    }
  }

  // ---- receiving (on the loop, from koffi's queue) ------------------------------------

  _onBatch(frames, count) {
    // The reader is parked in the C callback until this returns: the frames are valid
    // here, and only here. Their payloads lie in order in one span of the library's
    // buffer (with the frame headers between them): one copy of that span, then slices.
    if (this._closing) return; // cleanup() was asked for: nothing more is delivered
    const wantsData = this.listenerCount('data') > 0;
    const wantsMessage = this.listenerCount('message') > 0 || this._subscribers.size > 0;
    if (!wantsData && !wantsMessage) return;
    const L = FrameLayout;
    if (count === 1 && !wantsData) {
      // A lone frame (a response, an event): decoded straight from the library's buffer.
      const frame = koffi.decode(frames, native.Frame);
      const n = Number(frame.length);
      this._deliverText(frame.kind, n > 0 ? koffi.decode.string(frame.payload, n) : '');
      return;
    }
    const table = new DataView(koffi.view(frames, count * L.size));
    const first = L.word(table, 0);
    const last = (count - 1) * L.size;
    const span = L.word(table, last) - first + L.word(table, last + L.length);
    const bytes = Buffer.allocUnsafe(span); // every byte is written by the copy
    if (span > 0) bytes.set(new Uint8Array(koffi.view(koffi.decode(frames, 'const void *'), span)));
    for (let i = 0, at = 0; i < count && !this._closing; i++, at += L.size) {
      const start = L.word(table, at) - first;
      this._deliver(table.getInt32(at + L.kind, L.littleEndian), bytes, start, start + L.word(table, at + L.length),
        wantsData, wantsMessage);
    }
  }

  _onPulled(buffer, table, count) {
    // The payloads lie back to back in the reader's buffer, which the next read reuses:
    // 'data' gets slices of a copy, 'message' is decoded from the buffer itself.
    if (this._closing) return;
    const wantsData = this.listenerCount('data') > 0;
    const wantsMessage = this.listenerCount('message') > 0 || this._subscribers.size > 0;
    if (!wantsData && !wantsMessage) return;
    const L = FrameLayout;
    let bytes = buffer;
    if (wantsData) {
      let total = 0;
      for (let i = 0, at = 0; i < count; i++, at += L.size) total += L.word(table, at + L.length);
      bytes = Buffer.from(buffer.subarray(0, total));
    }
    for (let i = 0, at = 0, start = 0; i < count && !this._closing; i++, at += L.size) {
      const end = start + L.word(table, at + L.length);
      this._deliver(table.getInt32(at + L.kind, L.littleEndian), bytes, start, end, wantsData, wantsMessage);
      start = end;
    }
  }

  _deliver(kind, bytes, start, end, wantsData, wantsMessage) {
    if (wantsData) {
      try {
        this.emit('data', bytes.subarray(start, end), kind);
      } catch (error) {
        this._rethrowLater(error);
      }
    }
    if (wantsMessage) this._deliverText(kind, bytes.toString('utf8', start, end));
  }

  _deliverText(kind, text) {
    try {
      let message;
      try {
        message = JSON.parse(text);
      } catch (error) {
        this._parseErrors++;
        if (this.listenerCount('parseError') > 0) this.emit('parseError', error, Buffer.from(text, 'utf8'), kind);
        return;
      }
      this.emit('message', message, kind);
      for (const subscriber of this._subscribers) subscriber.push(message);
    } catch (error) {
      this._rethrowLater(error);
    }
  }

  _rethrowLater(error) {
    // A listener threw: as in any event handler, it is the process's uncaught exception,
    // raised on the loop after the library's reader has been let go.
    process.nextTick(() => { throw error; });
  }

  _onState(event, status, reason) {
    if (event === native.EVENT_CONNECTED) {
      if (!this._closing) this.emit('connected');
      return;
    }
    if (event === native.EVENT_RECONNECTING) {
      if (!this._closing) this.emit('reconnecting', { status, reason: String(reason) });
      return;
    }
    if (event !== native.EVENT_DISCONNECTED) return;
    this.disconnectReason = { status, reason: String(reason) };
    this._end();
    this._releaseLoop(); // the connection is over: it keeps the process alive no more
    if (!this._closing) {
      try {
        this.emit('disconnected', this.disconnectReason);
      } catch (error) {
        process.nextTick(() => { throw error; });
      }
    }
  }

  _end() {
    if (this._ended) return;
    this._ended = true;
    for (const subscriber of this._subscribers) subscriber.push(END);
  }

  /**
   * `for await (const message of manager.messages())`: the parsed messages received from
   * now on, in order; ends when the peer leaves or at cleanup. Messages are queued
   * between iterations (nothing is dropped). Starts the reader if it is not running.
   */
  messages() {
    const manager = this;
    const queue = [];
    let head = 0;
    let wake = null;
    const subscriber = {
      push(item) {
        queue.push(item);
        if (wake) { const w = wake; wake = null; w(); }
      },
    };
    this._subscribers.add(subscriber);
    if (this._ended || this._closing || !this._enabled) subscriber.push(END);
    else if (!this._readerStarted) this.startReader(); // as Python's messages(): asking for messages starts the reader
    const finish = () => {
      manager._subscribers.delete(subscriber);
      queue.length = 0;
      head = 0;
    };
    return {
      [Symbol.asyncIterator]() { return this; },
      async next() {
        while (head >= queue.length) {
          if (!manager._subscribers.has(subscriber)) return { value: undefined, done: true };
          await new Promise((resolve) => { wake = resolve; });
        }
        const item = queue[head++];
        if (head > 1024 && head * 2 > queue.length) { queue.splice(0, head); head = 0; }
        if (item === END) { finish(); return { value: undefined, done: true }; }
        return { value: item, done: false };
      },
      async return() {
        finish();
        if (wake) { const w = wake; wake = null; w(); }
        return { value: undefined, done: true };
      },
    };
  }

  // ---- keeping the process alive ------------------------------------------------------

  _holdLoop() {
    if (this._keepAlive === null) {
      // Like a net.Socket: an open connection keeps the process alive; unref() lets it go.
      this._keepAlive = setInterval(() => {}, 2 ** 30);
      if (!this._ref) this._keepAlive.unref();
    }
  }

  _releaseLoop() {
    if (this._keepAlive !== null) {
      clearInterval(this._keepAlive);
      this._keepAlive = null;
    }
  }

  /** Lets the process exit while this manager is open (it is then cleaned up at exit). */
  unref() {
    this._ref = false;
    if (this._keepAlive) this._keepAlive.unref();
    return this;
  }

  ref() {
    this._ref = true;
    if (this._keepAlive) this._keepAlive.ref();
    return this;
  }

  // ---- cleanup ----------------------------------------------------------------------

  _forget() {
    this._enabled = false;
    open.delete(this._token);
    this._releaseLoop();
  }

  /**
   * Closes the connection (the peer sees end-of-file after every frame already sent) and
   * the listener, removes the socket file, and stops the reader. No 'message' is emitted
   * once cleanup() was called; the promise resolves once the reader has ended (it runs on
   * a worker thread, so the loop serves the reader meanwhile). Idempotent; the manager
   * can listen or connect again afterwards. Await it before process.exit().
   */
  cleanup() {
    return this._close(false);
  }

  /** As cleanup(), without the linger: frames still in the kernel may be lost
   * (dapper_ipc_abort). For stop-now paths. */
  abort() {
    return this._close(true);
  }

  _close(abort) {
    if (this._destroyed) return Promise.resolve();
    if (this._closing) {
      if (abort) native.lib().abort.async(this._handle, () => {}); // ends a lingering cleanup at once
      return this._closing;
    }
    const lib = native.lib();
    const fn = abort ? lib.abort : lib.cleanup;
    this._generation++;
    this._closing = new Promise((resolve, reject) => {
      this._stopPull(); // before the library closes the handle the loop watches
      this._end();
      this.emit('_closed');
      fn.async(this._handle, (error, status) => {
        this._forget();
        this._closing = null;
        if (error) reject(error);
        else if (status !== 0) reject(new IPCError(lib.status_string(status), status));
        else resolve();
      });
    });
    return this._closing;
  }

  /** cleanup(), then releases the native handle: the manager is unusable afterwards. */
  async destroy() {
    if (this._destroyed) return;
    await this.cleanup();
    this._destroyed = true;
    native.check(native.lib().manager_destroy(this._handle));
  }
}

IPCManager._nativeConfig = nativeConfig;
const { SessionListener } = require('./lib/sessions')(IPCManager);

module.exports = {
  IPCManager,
  SessionListener,
  IPCError,
  Status,
  Kind,
  configFromLauncherArgs,
  get libraryPath() { return native.lib().path; },
  LIBRARY_ENV: native.LIBRARY_ENV,
};
