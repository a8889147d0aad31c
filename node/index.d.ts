// Types of the dapper-ipc package (index.js).
import { EventEmitter } from 'events';

/** dapper_ipc_status: 0, or a negative code. */
export declare const Status: Readonly<{
  OK: 0;
  E_INVALID_ARGUMENT: -1;
  E_INVALID_HANDLE: -2;
  E_INVALID_STATE: -3;
  E_BUFFER_TOO_SMALL: -4;
  E_NOT_CONNECTED: -5;
  E_TIMEOUT: -6;
  E_UNSUPPORTED: -7;
  E_ADDRESS_IN_USE: -8;
  E_CONNECTION_REFUSED: -9;
  E_CLOSED: -10;
  E_PROTOCOL: -11;
  E_FRAME_TOO_LARGE: -12;
  E_IO: -13;
  E_PATH_TOO_LONG: -14;
  E_CANCELLED: -15;
  E_PATH_EXISTS: -16;
  E_SEND_TIMEOUT: -17;
  E_INTERNAL: -99;
}>;
export type StatusName = keyof typeof Status;
export type StatusCode = (typeof Status)[StatusName];

/** DP v1 frame kinds: 1 event (launcher to adapter), 2 command (adapter to launcher). */
export declare const Kind: Readonly<{ EVENT: 1; COMMAND: 2 }>;
/** The kind byte as received (1 and 2 are defined). */
export type FrameKind = number;

/** The environment variable that names the library's file. */
export declare const LIBRARY_ENV: 'DAPPER_IPC_LIBRARY';
/** The path of the library this package loaded (loads it on first use). */
export declare const libraryPath: string;

/**
 * Every failure: `status` is the library's dapper_ipc_status, `code` its name
 * ('E_TIMEOUT'), `message` the library's message (dapper_ipc_last_error). `status` is
 * null (code 'E_LOAD') only when the library cannot be found or loaded.
 */
export declare class IPCError extends Error {
  constructor(message: string, status?: number | null);
  readonly status: number | null;
  readonly code: StatusName | 'E_LOAD' | string;
  /** sendMany(): the frames that went out whole before the failure. */
  sent?: number;
}

/** Where to listen or connect. Every omitted field means the library's default. */
export interface TransportConfig {
  /** 'auto' (unix on POSIX, pipe on Windows), 'unix', 'tcp' or 'pipe'; any case. */
  transport?: string;
  /** tcp host (127.0.0.1). Binding a non-loopback address logs a security warning. */
  host?: string;
  /** tcp port; 0 or omitted for a listener: an ephemeral port. Required to connect. */
  port?: number;
  /** unix socket path; omitted for a listener: a fresh private directory. Required to connect. */
  path?: string;
  /** Windows named pipe. */
  pipeName?: string;
  /** Largest payload sent or accepted, bytes (64 MiB). */
  maxFrameSize?: number;
  /** connect(): ms to keep retrying while nobody listens (3000; negative: one attempt). */
  connectTimeoutMs?: number;
  /** send(): ms to wait for a peer that stopped reading (30000; negative: no limit). */
  sendTimeoutMs?: number;
  /** Listener: clients must present a token first (see IPCManager.authToken). */
  requireAuth?: boolean;
  /** Client: the token to present (default: the DAPPER_IPC_AUTH_TOKEN environment variable). */
  authToken?: string;
  /** Listener: ms a send made before the client arrived waits for it, then sends (10000;
   *  negative: no wait, E_NOT_CONNECTED at once). The wait runs on a worker thread, not the loop. */
  clientWaitMs?: number;
}

/** How the connection ended without the host asking (the library's state callback). */
export interface DisconnectReason {
  /** Status.OK: the peer closed between frames; E_CLOSED, E_PROTOCOL, E_FRAME_TOO_LARGE, E_IO otherwise. */
  status: number;
  reason: string;
}

/** The config a launcher connects with, from the arguments createListener returned. */
export declare function configFromLauncherArgs(args: readonly string[]): TransportConfig;

export interface IPCManagerEvents {
  /** A parsed JSON message, with its frame's kind. */
  message: [message: any, kind: FrameKind];
  /** Every frame's payload, copied into a Buffer the listener may keep. */
  data: [payload: Buffer, kind: FrameKind];
  /** A payload that is not JSON ('message' skips it; 'data' has it). */
  parseError: [error: Error, payload: Buffer, kind: FrameKind];
  connected: [];
  disconnected: [reason: DisconnectReason];
}

export declare class IPCManager extends EventEmitter {
  constructor();
  /** The loaded library's path and version. */
  static readonly library: { path: string; version: string };
  /** True from createListener/connect until cleanup. */
  readonly isEnabled: boolean;
  readonly isListener: boolean;
  /** True while a peer is connected. */
  readonly isConnected: boolean;
  /** Set when the peer left or the connection failed. */
  disconnectReason: DisconnectReason | null;
  /** The launcher arguments of the listener (--ipc ...). */
  readonly launcherArgs: string[];
  /** The token a launcher must present (requireAuth); hand it over in DAPPER_IPC_AUTH_TOKEN, never argv. */
  readonly authToken: string;
  /** The child's hello (`{event: 'dapper/sessionHello', body: {sessionId, parentSessionId, pid}}`) for a manager a SessionListener accepted; null otherwise. */
  readonly hello: SessionHello | null;

  /** Binds now and returns the launcher arguments; the client is accepted by waitForClient, startReader or a send. Throws IPCError (an unknown config key included). */
  createListener(config?: TransportConfig): string[];
  /** Connects (retrying on a worker thread while nobody listens). Rejects with IPCError. */
  connect(config: TransportConfig): Promise<void>;
  /** Starts the reader: 'message', 'data', 'connected', 'disconnected' from then on (a listener accepts its client first). Throws IPCError (E_INVALID_STATE before createListener/connect or when it runs). */
  startReader(): this;
  /** Resolves once a client is connected; rejects with IPCError (E_TIMEOUT, E_INVALID_STATE, E_CANCELLED). Negative or omitted timeout: no limit. */
  waitForClient(timeoutMs?: number): Promise<void>;

  /** Sends a value as JSON; resolves once the frame is with the kernel (the call runs on a worker thread; sends keep their order). Kind: COMMAND on a listener, EVENT on a client. Rejects with IPCError. */
  send(message: unknown, kind?: FrameKind): Promise<void>;
  /** Sends a payload the caller encoded (a string is sent as UTF-8; copied at the call). Rejects with IPCError. */
  sendBytes(payload: Uint8Array | string, kind?: FrameKind): Promise<void>;
  /** Sends several values as JSON in one batch (dapper_ipc_send_batch). Rejects with IPCError with `sent`. */
  sendMany(messages: readonly unknown[], kind?: FrameKind): Promise<void>;

  /** The parsed messages received from now on, in order; ends when the peer leaves or at cleanup. Starts the reader if it is not running. */
  messages(): AsyncIterableIterator<any>;

  /** Closes (peer sees end-of-file after every frame sent), stops the reader; resolves once it ended. Idempotent. */
  cleanup(): Promise<void>;
  /** As cleanup, without the linger (dapper_ipc_abort): for stop-now paths. */
  abort(): Promise<void>;
  /** cleanup(), then releases the native handle: unusable afterwards. */
  destroy(): Promise<void>;

  /** Lets the process exit while this manager is open (it is cleaned up when the loop runs dry). */
  unref(): this;
  /** Keeps the process alive while this manager is open (the default). */
  ref(): this;

  on<E extends keyof IPCManagerEvents>(event: E, listener: (...args: IPCManagerEvents[E]) => void): this;
  once<E extends keyof IPCManagerEvents>(event: E, listener: (...args: IPCManagerEvents[E]) => void): this;
  off<E extends keyof IPCManagerEvents>(event: E, listener: (...args: IPCManagerEvents[E]) => void): this;
  addListener<E extends keyof IPCManagerEvents>(event: E, listener: (...args: IPCManagerEvents[E]) => void): this;
  removeListener<E extends keyof IPCManagerEvents>(event: E, listener: (...args: IPCManagerEvents[E]) => void): this;
  emit<E extends keyof IPCManagerEvents>(event: E, ...args: IPCManagerEvents[E]): boolean;
}

/** The first frame of a subprocess launcher on a shared endpoint. */
export interface SessionHello {
  event: 'dapper/sessionHello';
  body: { sessionId: string; parentSessionId?: string | null; pid?: number | null; [member: string]: unknown };
  [member: string]: unknown;
}

export interface SessionListenerOptions {
  /** How long a client may take from its connect to its whole hello, in ms (5000 by default). */
  helloTimeoutMs?: number;
  /** The largest hello, in bytes (16384 by default). */
  maxHelloSize?: number;
  /** Decides about session ids nobody expected (runs on the loop); true accepts. */
  offer?: (hello: SessionHello) => boolean;
}

/**
 * One shared endpoint (unix by default, or tcp) for many subprocess launchers, each routed
 * by its hello to an IPCManager of its own. Refused hellos are closed and logged by the
 * library; the other sessions go on.
 */
export declare class SessionListener {
  constructor(options?: SessionListenerOptions);
  /** Binds and returns the launcher arguments every child gets (plus its own --session-id ...). Throws IPCError. */
  createListener(config?: TransportConfig): string[];
  readonly launcherArgs: string[];
  /** The token every child presents before its hello (requireAuth). */
  readonly authToken: string;
  /** Announces a session id before its child starts. Throws IPCError (E_INVALID_STATE if already expected or connected). */
  expect(sessionId: string): void;
  /** Resolves to the session's IPCManager (connected, reader started, `hello` set); rejects with IPCError (E_TIMEOUT, E_INVALID_STATE, E_CANCELLED). */
  accept(sessionId: string, timeoutMs?: number): Promise<IPCManager>;
  /** Sets (or with null removes) the callback for ids nobody expected. */
  setOfferCallback(offer: ((hello: SessionHello) => boolean) | null): void;
  /** Closes the endpoint and ends every session it accepted. Idempotent. */
  cleanup(): Promise<void>;
}
