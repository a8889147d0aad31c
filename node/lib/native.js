'use strict';
// koffi declarations of include/dapper_ipc.h, the library search, and errors.
const fs = require('fs');
const path = require('path');
const koffi = require('koffi');
// The header's constants and struct layouts, generated from include/dapper_ipc.h.
const abi = require('./abi.generated');

const { Status, Kind } = abi;

const LIBRARY_ENV = 'DAPPER_IPC_LIBRARY';
const PACKAGE_DIR = path.resolve(__dirname, '..');

const STATUS_NAMES = new Map(Object.entries(Status).map(([name, value]) => [value, name]));

const EVENT_CONNECTED = abi.Event.CONNECTED;
const EVENT_DISCONNECTED = abi.Event.DISCONNECTED;
const FLAG_REQUIRE_AUTH = abi.Flags.REQUIRE_AUTH;
const FLAG_RECONNECT = abi.Flags.RECONNECT;
const ADOPT_BORROW = abi.AdoptFlags.BORROW;
const FLAG_ALLOW_TLS12 = abi.Flags.ALLOW_TLS12;
const EVENT_RECONNECTING = abi.Event.RECONNECTING;

/**
 * Every failure of the library, with its status (a negative dapper_ipc_status), the
 * status's name as `code` ('E_TIMEOUT'), and the library's message (dapper_ipc_last_error)
 * as `message`. `status` is null only when the library cannot be found or loaded.
 */
class IPCError extends Error {
  constructor(message, status = null) {
    super(message);
    this.name = 'IPCError';
    this.status = status;
    this.code = status === null ? 'E_LOAD' : (STATUS_NAMES.get(status) || `E_${-status}`);
  }
}

function libraryNames() {
  if (process.platform === 'win32') return ['dapper_ipc.dll'];
  if (process.platform === 'darwin') return ['libdapper_ipc.dylib'];
  return ['libdapper_ipc.so'];
}

function tryLoad(file) {
  const lib = koffi.load(file);
  lib.func('const char *dapper_ipc_version(void)'); // throws: not this library
  pin(file);
  return lib;
}

/*
 * Keeps the library mapped until the process ends. koffi unloads a library (dlclose) when
 * Node tears its environment down, but every thread that ran the library (the libuv
 * worker threads of the async calls) still has the .NET runtime's thread-exit
 * destructor registered, and those threads exit after that: into unmapped code, a
 * segfault at exit (seen on every natural exit after one fn.async call). A second
 * dlopen with RTLD_NODELETE makes the unload a no-op. POSIX only; on Windows the
 * loader keeps a DLL whose threads are alive (untested here).
 */
function pin(file) {
  if (process.platform === 'win32') return;
  const RTLD_NOW = 2;
  const RTLD_NODELETE = process.platform === 'darwin' ? 0x80 : 0x1000;
  const candidates = process.platform === 'darwin' ? ['libSystem.B.dylib'] : ['libc.so.6', 'libdl.so.2', 'libc.so'];
  for (const name of candidates) {
    let dlopen;
    try {
      dlopen = koffi.load(name).func('void *dlopen(const char *file, int mode)');
    } catch {
      continue;
    }
    if (dlopen(file, RTLD_NOW | RTLD_NODELETE) !== null) return;
  }
  throw new Error(`could not pin ${file} in memory (dlopen with RTLD_NODELETE failed)`);
}

/** [lib, path]: DAPPER_IPC_LIBRARY, then the package's folder (a bundled copy), then the
 * system loader (LD_LIBRARY_PATH, ldconfig; DYLD_LIBRARY_PATH; PATH on Windows). */
function load() {
  if (chosen !== null) return [tryLoad(chosen), chosen];
  const explicit = process.env[LIBRARY_ENV];
  if (explicit) {
    // An explicit choice is not second-guessed: if it is wrong, say so, do not fall back.
    if (!fs.existsSync(explicit)) throw new IPCError(`${LIBRARY_ENV}=${explicit}: no such file`);
    try {
      return [tryLoad(explicit), explicit];
    } catch (error) {
      throw new IPCError(`${LIBRARY_ENV}=${explicit} cannot be loaded: ${error.message}`);
    }
  }
  const looked = [`${LIBRARY_ENV} (not set)`];
  for (const name of libraryNames()) {
    const candidate = path.join(PACKAGE_DIR, name);
    looked.push(candidate);
    if (fs.existsSync(candidate)) {
      try {
        return [tryLoad(candidate), candidate];
      } catch (error) {
        throw new IPCError(`${candidate} cannot be loaded: ${error.message}`);
      }
    }
  }
  for (const name of libraryNames()) {
    looked.push(`${name} through the system loader`);
    try {
      return [tryLoad(name), name];
    } catch (error) {
      looked.push(`(${error.message})`);
    }
  }
  throw new IPCError(`libdapper_ipc not found; looked at: ${looked.join('; ')}. ` +
    `Set ${LIBRARY_ENV} to the library's path, or bundle it (node/README.md).`);
}

const Manager = koffi.struct('dapper_ipc_manager', abi.structs.dapper_ipc_manager);
const SessionListener = koffi.struct('dapper_ipc_session_listener', abi.structs.dapper_ipc_session_listener);
// user_data as an integer, as for the batch callback: it carries a session listener's token.
const OfferCb = koffi.proto('int32_t dapper_ipc_session_offer_cb(intptr_t user, const char *session_id, const uint8_t *hello, size_t length)');
const Config = koffi.struct('dapper_ipc_config', abi.structs.dapper_ipc_config);
const Frame = koffi.struct('dapper_ipc_frame', abi.structs.dapper_ipc_frame);
const Stats = koffi.struct('dapper_ipc_stats', abi.structs.dapper_ipc_stats);
// user_data is declared as an integer (the same register as void * on every supported ABI):
// it carries a manager's token, never a pointer.
// frames as a plain pointer: the package reads the dapper_ipc_frame array itself (FrameLayout),
// a DataView over it costs less than koffi decoding a struct per frame.
const BatchCb = koffi.proto('void dapper_ipc_batch_cb(intptr_t user, const void *frames, size_t count)');
const POINTER_SIZE = koffi.sizeof('void *');
const FrameLayout = Object.freeze({
  size: koffi.sizeof(Frame),
  length: koffi.offsetof(Frame, 'length'),
  kind: koffi.offsetof(Frame, 'kind'),
  littleEndian: require('os').endianness() === 'LE',
  /** A pointer or size_t field of the array at byte offset `at`, as a Number (exact: user
   * space addresses stay below 2^53 on every 64-bit platform Node runs on). */
  word(view, at) {
    return POINTER_SIZE === 8 ? Number(view.getBigUint64(at, this.littleEndian)) : view.getUint32(at, this.littleEndian);
  },
});
const StateCb = koffi.proto('void dapper_ipc_state_cb(intptr_t user, int32_t event, int32_t status, const char *reason)');

let loaded = null;
let chosen = null; // a file named by useLibrary

/** Loads `file` (as the main thread found it) rather than searching: for worker threads. */
function useLibrary(file) {
  chosen = file;
}

/** The library's functions (loaded once, on first use). */
function lib() {
  if (loaded) return loaded;
  const [handle, file] = load();
  const f = (proto) => handle.func(proto);
  loaded = {
    path: file,
    version: f('const char *dapper_ipc_version(void)'),
    status_string: f('const char *dapper_ipc_status_string(int32_t status)'),
    last_error: f('int32_t dapper_ipc_last_error(_Out_ uint8_t *buf, size_t cap, _Out_ size_t *needed)'),
    config_init: f('int32_t dapper_ipc_config_init(_Inout_ dapper_ipc_config *config, size_t size)'),
    manager_create: f('int32_t dapper_ipc_manager_create(_Out_ dapper_ipc_manager *out)'),
    manager_destroy: f('int32_t dapper_ipc_manager_destroy(dapper_ipc_manager manager)'),
    set_batch_callback: f('int32_t dapper_ipc_set_batch_callback(dapper_ipc_manager manager, dapper_ipc_batch_cb *on_batch, dapper_ipc_state_cb *on_state, intptr_t user)'),
    create_listener: f('int32_t dapper_ipc_create_listener(dapper_ipc_manager manager, const dapper_ipc_config *config)'),
    launcher_args: f('int32_t dapper_ipc_launcher_args(dapper_ipc_manager manager, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length, _Out_ int32_t *argc)'),
    auth_token: f('int32_t dapper_ipc_auth_token(dapper_ipc_manager manager, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length)'),
    tls_fingerprint: f('int32_t dapper_ipc_tls_fingerprint(dapper_ipc_manager manager, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length)'),
    connect: f('int32_t dapper_ipc_connect(dapper_ipc_manager manager, const dapper_ipc_config *config)'),
    adopt: f('int32_t dapper_ipc_adopt(dapper_ipc_manager manager, intptr_t read_handle, intptr_t write_handle, uint32_t flags)'),
    wait_for_client: f('int32_t dapper_ipc_wait_for_client(dapper_ipc_manager manager, int32_t timeout_ms)'),
    start_reader: f('int32_t dapper_ipc_start_reader(dapper_ipc_manager manager)'),
    recv_batch: f('int32_t dapper_ipc_recv_batch(dapper_ipc_manager manager, void *buf, size_t cap, void *frames, size_t max_frames, void *count, int32_t timeout_ms)'),
    readable_handle: f('int32_t dapper_ipc_readable_handle(dapper_ipc_manager manager, _Out_ intptr_t *handle)'),
    send: f('int32_t dapper_ipc_send(dapper_ipc_manager manager, int32_t kind, const uint8_t *payload, size_t length)'),
    send_batch: f('int32_t dapper_ipc_send_batch(dapper_ipc_manager manager, const dapper_ipc_frame *frames, size_t count, _Out_ size_t *sent)'),
    cleanup: f('int32_t dapper_ipc_cleanup(dapper_ipc_manager manager)'),
    abort: f('int32_t dapper_ipc_abort(dapper_ipc_manager manager)'),
    is_connected: f('int32_t dapper_ipc_is_connected(dapper_ipc_manager manager, _Out_ int32_t *connected)'),
    get_stats: f('int32_t dapper_ipc_get_stats(dapper_ipc_manager manager, _Inout_ dapper_ipc_stats *out)'),
    session_listener_create: f('int32_t dapper_ipc_session_listener_create(_Out_ dapper_ipc_session_listener *out)'),
    session_listener_destroy: f('int32_t dapper_ipc_session_listener_destroy(dapper_ipc_session_listener listener)'),
    session_listener_set_hello_limits: f('int32_t dapper_ipc_session_listener_set_hello_limits(dapper_ipc_session_listener listener, int32_t timeout_ms, uint32_t max_size)'),
    session_listener_set_offer_callback: f('int32_t dapper_ipc_session_listener_set_offer_callback(dapper_ipc_session_listener listener, dapper_ipc_session_offer_cb *offer, intptr_t user)'),
    session_listener_listen: f('int32_t dapper_ipc_session_listener_listen(dapper_ipc_session_listener listener, const dapper_ipc_config *config)'),
    session_listener_launcher_args: f('int32_t dapper_ipc_session_listener_launcher_args(dapper_ipc_session_listener listener, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length, _Out_ int32_t *argc)'),
    session_listener_auth_token: f('int32_t dapper_ipc_session_listener_auth_token(dapper_ipc_session_listener listener, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length)'),
    session_listener_expect: f('int32_t dapper_ipc_session_listener_expect(dapper_ipc_session_listener listener, const char *session_id)'),
    session_listener_accept: f('int32_t dapper_ipc_session_listener_accept(dapper_ipc_session_listener listener, const char *session_id, int32_t timeout_ms, _Out_ dapper_ipc_manager *manager)'),
    session_hello: f('int32_t dapper_ipc_session_hello(dapper_ipc_manager manager, _Out_ uint8_t *buf, size_t cap, _Out_ size_t *length)'),
  };
  const probe = { struct_size: 0 };
  // The size both sides know: the library never reads past it.
  if (loaded.config_init(probe, koffi.sizeof(Config)) !== 0) throw new IPCError('dapper_ipc_config_init failed', Status.E_INTERNAL);
  loaded.configSize = probe.struct_size;
  return loaded;
}

/** The strings a copy-out function (launcher_args and the like) fills: [buffer, length, argc]. */
function copyOut(fn, ...args) {
  const length = [0];
  const argc = [0];
  const status = fn(...args, null, 0, length, argc);
  if (status !== Status.E_BUFFER_TOO_SMALL) check(status);
  const buf = Buffer.alloc(length[0]);
  check(fn(...args, buf, buf.length, length, argc));
  return [buf, length[0], argc[0]];
}

/** The launcher arguments fn (dapper_ipc_launcher_args or the session listener's) copies out. */
function launcherArgs(fn, handle) {
  const [buf, length, argc] = copyOut(fn, handle);
  return buf.toString('utf8', 0, Math.max(0, length - 1)).split('\0').slice(0, argc);
}

/** A NUL-terminated text result (a token, a hello) that fn copies out. */
function textResult(fn, handle) {
  const [buf, length] = copyOut((h, b, cap, len) => fn(h, b, cap, len), handle);
  return buf.toString('utf8', 0, Math.max(0, length - 1));
}

/** The calling thread's last error message (call it right after the failing call). */
function lastError() {
  const native = lib();
  const needed = [0];
  native.last_error(null, 0, needed);
  const buf = Buffer.alloc(Math.max(needed[0], 1));
  native.last_error(buf, buf.length, needed);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/** The IPCError for a failing status, with the library's message for this thread. */
function errorFor(status, fallback) {
  const message = fallback || lastError() || lib().status_string(status);
  return new IPCError(message, status);
}

function check(status) {
  if (status !== 0) throw errorFor(status);
}

module.exports = {
  koffi, Status, Kind, IPCError, EVENT_CONNECTED, EVENT_DISCONNECTED, FLAG_REQUIRE_AUTH,
  EVENT_RECONNECTING, FLAG_RECONNECT, FLAG_ALLOW_TLS12, ADOPT_BORROW,
  LIBRARY_ENV, Manager, SessionListener, Config, Frame, Stats, FrameLayout, BatchCb, StateCb, OfferCb, lib, lastError, errorFor,
  check, libraryNames, launcherArgs, textResult, useLibrary,
};
