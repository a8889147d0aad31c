/*
 * dapper_ipc.h - the C ABI of libdapper_ipc, the inter-process transport of
 * the Dapper debug adapter.
 *
 * C99, usable from C++. Every function returns a dapper_ipc_status (0 on
 * success, a negative code on failure) unless it says otherwise; on failure a
 * message describing the error is available on the calling thread through
 * dapper_ipc_last_error(). No function ever lets an error escape any other way:
 * a NULL pointer, a zero, stale or never-issued handle and a too-small buffer
 * are all reported as status codes.
 *
 * Strings passed in and out are UTF-8 and NUL-terminated.
 *
 * Callback contract (as in libuv): when a function that would lead to a
 * callback returns an error, that callback is never called for that call.
 * After dapper_ipc_cleanup() or dapper_ipc_manager_destroy() returns on a
 * thread that is not one of that manager's reader threads, no callback of that
 * manager is running or will run again, whatever happened before: a callback
 * that already ran cleanup on its own manager and is still running is waited
 * for, and so is the reader of a listener that callback created again. One
 * manager never has two callbacks running at once: a reader started from
 * inside a callback makes its first callback after that callback returned.
 * Called on a reader thread (inside a callback), cleanup and destroy of another
 * manager wait for that manager's reader too, except where the wait would
 * close a cycle (two callbacks destroying each other's managers): the second
 * one closes without waiting, returns, and the other reader ends when its
 * callback returns. No wait inside the library ever deadlocks on another.
 *
 * Wire format: every message is one DP v1 frame (magic "DP", version 1, kind,
 * 32-bit big-endian payload length, payload). The library does not parse the
 * payload: it is handed to the host exactly as received, so a payload that is
 * not UTF-8 or not JSON is delivered as is and the stream stays in sync.
 *
 * fork(): a child of a process that has used the library may only exec (or
 * call async-signal-safe functions until it does): the library's threads and
 * locks are not in the child. fork followed at once by exec, or posix_spawn,
 * is safe, and the parent's connections go on undisturbed. Sockets are
 * created close-on-exec, so a launcher started this way inherits none.
 *
 * Linking: on Linux the library is libdapper_ipc.so (SONAME libdapper_ipc.so.0,
 * the major version: programs record that name, installed as
 * libdapper_ipc.so.0.1.0 with the symlinks libdapper_ipc.so.0 and
 * libdapper_ipc.so), on macOS libdapper_ipc.dylib (install name
 * @rpath/libdapper_ipc.0.dylib), on Windows dapper_ipc.dll. The library is
 * only built shared; DAPPER_IPC_API and DAPPER_IPC_CALL are defined by this header and
 * are not meant to be set by users.
 */
#ifndef DAPPER_IPC_H
#define DAPPER_IPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DAPPER_IPC_API __declspec(dllimport)
#define DAPPER_IPC_CALL __cdecl
#else
#define DAPPER_IPC_API __attribute__((visibility("default")))
#define DAPPER_IPC_CALL
#endif

/* The version, kept in this one place; the build reads it from here:
   dapper_ipc_version(), the SONAME libdapper_ipc.so.<MAJOR> and the installed
   file name, the CMake package and pkg-config versions, and the Python
   package's version all come from these lines (docs/RELEASING.md). */
#define DAPPER_IPC_VERSION_MAJOR 0
#define DAPPER_IPC_VERSION_MINOR 1
#define DAPPER_IPC_VERSION_PATCH 0
#define DAPPER_IPC_VERSION_STRING "0.1.0"

/* Status codes. Zero is success; every error is negative. The quoted words
   that open the comment of each code are what dapper_ipc_status_string
   returns for it. */
typedef enum dapper_ipc_status {
    /* "ok" */
    DAPPER_IPC_OK = 0,
    /* "invalid argument": a NULL pointer where one is not allowed, or a value
       out of range. */
    DAPPER_IPC_E_INVALID_ARGUMENT = -1,
    /* "invalid handle": a zero handle, one never issued, or one already
       destroyed. */
    DAPPER_IPC_E_INVALID_HANDLE = -2,
    /* "invalid state": the call does not fit the manager's state (a
       connection already exists, wait_for_client before create_listener,
       callbacks set after the reader started, ...). */
    DAPPER_IPC_E_INVALID_STATE = -3,
    /* "buffer too small": an output buffer is too small; the needed size is
       reported. */
    DAPPER_IPC_E_BUFFER_TOO_SMALL = -4,
    /* "not connected": send() with no connected peer (before a client
       arrived, or after cleanup). */
    DAPPER_IPC_E_NOT_CONNECTED = -5,
    /* "timed out": a wait (wait_for_client, connect, a send waiting for the
       client, recv) ran out of time. */
    DAPPER_IPC_E_TIMEOUT = -6,
    /* "unsupported on this platform": the transport does not exist on this
       platform (pipe on POSIX). */
    DAPPER_IPC_E_UNSUPPORTED = -7,
    /* "address in use": the address (tcp port, unix path) is taken by a live
       listener. */
    DAPPER_IPC_E_ADDRESS_IN_USE = -8,
    /* "connection refused": connect() found nobody listening within the
       connect timeout. */
    DAPPER_IPC_E_CONNECTION_REFUSED = -9,
    /* "connection closed": the connection has ended: the peer left, or it was
       closed. */
    DAPPER_IPC_E_CLOSED = -10,
    /* "protocol error": the peer sent a frame with a wrong magic or
       version. */
    DAPPER_IPC_E_PROTOCOL = -11,
    /* "frame too large": a frame longer than the configured maximum (sent or
       received). */
    DAPPER_IPC_E_FRAME_TOO_LARGE = -12,
    /* "i/o error": an operating-system error (including running out of file
       descriptors); the last-error message names it. */
    DAPPER_IPC_E_IO = -13,
    /* "path too long": a unix socket path does not fit sun_path (never
       truncated). */
    DAPPER_IPC_E_PATH_TOO_LONG = -14,
    /* "cancelled by cleanup": the wait was ended by cleanup on another
       thread. */
    DAPPER_IPC_E_CANCELLED = -15,
    /* "path exists": something exists at a caller-given path that is not a
       stale socket (a file, a directory, a symlink): it is never removed. */
    DAPPER_IPC_E_PATH_EXISTS = -16,
    /* "send timed out": send() could not hand the frame to the kernel within
       send_timeout_ms: the peer stopped reading. If part of the frame had
       already gone out, the stream is cut and the connection is closed (the
       message says so); otherwise the connection stays usable. */
    DAPPER_IPC_E_SEND_TIMEOUT = -17,
    /* "internal error": a bug in the library; the message says where (never a
       .NET type name). The host keeps running. */
    DAPPER_IPC_E_INTERNAL = -99
} dapper_ipc_status;

/* Frame kinds of DP v1. */
typedef enum dapper_ipc_kind {
    DAPPER_IPC_KIND_EVENT = 1,   /* launcher to adapter */
    DAPPER_IPC_KIND_COMMAND = 2  /* adapter to launcher */
} dapper_ipc_kind;

/* What the state callback reports. */
typedef enum dapper_ipc_event {
    /* A peer is connected (a client was accepted, or connect succeeded and
       the reader started). status is DAPPER_IPC_OK. It runs on the reader
       thread, so it may come before or after dapper_ipc_wait_for_client
       returns on another thread. */
    DAPPER_IPC_EVENT_CONNECTED = 1,
    /* The connection ended without the host asking: status is
       DAPPER_IPC_OK when the peer closed cleanly between frames,
       DAPPER_IPC_E_CLOSED when it vanished mid-frame or the connection was
       reset (a peer that closes with frames of ours still unread resets it), DAPPER_IPC_E_PROTOCOL
       or DAPPER_IPC_E_FRAME_TOO_LARGE for a bad header, DAPPER_IPC_E_IO for a
       socket error, DAPPER_IPC_E_TIMEOUT with the reason "peer unresponsive
       for N ms" when heartbeats (dapper_ipc_config.heartbeat_ms) found the peer
       frozen. The reader has stopped; the manager's connection is closed.
       Closes that the host asked for (cleanup, destroy) are not reported. */
    DAPPER_IPC_EVENT_DISCONNECTED = 2,
    /* DAPPER_IPC_FLAG_RECONNECT: the connection dropped (status and reason
       say how, as for DISCONNECTED) and this end is getting it back: a
       connecting end reconnects with backoff (50 ms doubling to 2 s), a
       listener waits for its client's return, both for up to
       reconnect_timeout_ms. Sends made meanwhile wait (within
       send_timeout_ms). Either CONNECTED follows (reason "resumed: ..."),
       every frame sent before or meanwhile then delivered exactly once and
       in order, or DISCONNECTED with the reason the resume failed (the time
       ran out; the peer is a different process than before, a restarted
       listener; more unacknowledged data than resume_buffer_bytes). */
    DAPPER_IPC_EVENT_RECONNECTING = 3
} dapper_ipc_event;

/* Log levels, matching Python's logging by order. */
typedef enum dapper_ipc_log_level {
    DAPPER_IPC_LOG_DEBUG = 0,
    DAPPER_IPC_LOG_INFO = 1,
    DAPPER_IPC_LOG_WARNING = 2,
    DAPPER_IPC_LOG_ERROR = 3
} dapper_ipc_log_level;

/* Bits of dapper_ipc_config.flags. */
typedef enum dapper_ipc_flags {
    /* Listener: require each client's first frame to carry a random token
       (see dapper_ipc_auth_token); a client without it is refused and logged.
       Off by default, so launchers that know nothing of it keep working. */
    DAPPER_IPC_FLAG_REQUIRE_AUTH = 1,
    /* Survive a dropped connection with nothing lost or duplicated, between
       two ends of this library that both set it (docs/protocol.md, "resume").
       The connecting end announces it with a control frame (kind 3) right
       after connect (after the auth frame and the heartbeat announcement);
       a listener with the flag answers it, and from then on each end keeps
       the frames it sent until the peer acknowledges them (at most
       resume_buffer_bytes) and each acknowledges what it delivered. When the
       connection drops by anything but this end's cleanup, the state
       callback reports DAPPER_IPC_EVENT_RECONNECTING; the connecting end
       reconnects, the listener keeps its endpoint open and takes the same
       client back (its auth frame included), the two exchange the counts of
       frames each delivered, replay what the other lacks, and the callback
       reports DAPPER_IPC_EVENT_CONNECTED. A returning peer that is another
       process (a random id per connection, in the announcement, tells) is
       refused: DISCONNECTED with the reason. Without the peer's answer (a
       stock launcher, a listener without the flag) nothing new is sent and
       a drop is reported as before. Works with the reader thread (callbacks)
       and in the pull mode (recv, recv_batch, readable_handle): there, with
       this flag, the first recv or readable_handle starts the library's own
       reader thread, which reads, acknowledges and resumes as in the callback
       mode and hands the host's frames to a bounded queue (4 MiB) that recv
       drains: one copy and one thread hop per read, in this mode only (the
       pull mode without the flag reads on the caller's thread). When the
       queue is full the thread stops reading, so the peer's sends wait as
       with a host that does not call recv. The state callback (set before
       the first recv) reports RECONNECTING, CONNECTED and DISCONNECTED on
       that thread (a recv inside it is DAPPER_IPC_E_INVALID_STATE: it would
       wait for its own thread); recv keeps taking the frames queued before a drop, and
       after a failed resume returns them, then the final status (E_CLOSED,
       or E_TIMEOUT for a peer the heartbeats found unresponsive);
       frames_received (dapper_ipc_stats) counts a frame once queued. The
       readable handle is then a descriptor of the library's own (Linux: an
       epoll fd, macOS: a kqueue fd, watching a flag the thread sets while
       frames are queued or the end is pending; Windows: recv only,
       readable_handle returns E_UNSUPPORTED): the same number across every
       reconnect.
       Heartbeats (heartbeat_ms) run again on every resumed connection with
       the periods announced the first time; a peer they find unresponsive is
       a drop like any other (RECONNECTING with that reason), and when the
       resume then fails too (a frozen process answers nothing) DISCONNECTED
       keeps "peer unresponsive for N ms" ahead of the resume's reason. A
       connecting end whose offer was never answered (the listener lacks the
       flag) makes one rejoin try after a drop
       (the drop may have overtaken the answer): when it finds nobody
       listening, is closed, or goes unanswered for 5 s, DISCONNECTED says
       "the listener never answered this end's resume offer", without waiting
       out reconnect_timeout_ms. Costs one copy of each sent frame into
       a ring allocated once per connection, and an acknowledgement (a 17-byte
       control frame) per read that delivered frames; nothing with the flag
       off. */
    DAPPER_IPC_FLAG_RECONNECT = 2,
    /* tls and wss: accept TLS 1.2 as well (listener and client). Without it
       only TLS 1.3 is negotiated; a peer that offers less is refused. */
    DAPPER_IPC_FLAG_ALLOW_TLS12 = 4
} dapper_ipc_flags;

/* Bits of dapper_ipc_adopt's flags. */
typedef enum dapper_ipc_adopt_flags {
    /* The host keeps the handles: cleanup ends the stream (a socket is shut
       down both ways, so the peer reads end-of-file) but never closes them;
       closing them is the host's, after cleanup. Without it the library owns
       them and closes each exactly once, at cleanup (or when adopt fails). */
    DAPPER_IPC_ADOPT_BORROW = 1
} dapper_ipc_adopt_flags;

/* The environment variable a launcher reads the auth token from when its
   config->auth_token is NULL. Pass the token to the launcher this way (or in
   an inherited file), never on its command line: other users can read a
   process's arguments. */
#define DAPPER_IPC_AUTH_TOKEN_ENV "DAPPER_IPC_AUTH_TOKEN"

/* A manager handle: an integer id, never reused, so a stale handle is an
   error code rather than a use-after-free. The zero value is never valid. */
typedef struct dapper_ipc_manager {
    uint64_t id;
} dapper_ipc_manager;

/* Transport settings. Initialise with dapper_ipc_config_init and set what
   you need: every zero field means "the default". The strings are
   read during the call that takes the config and not kept. Every string
   must be valid UTF-8: one that is not is refused with
   DAPPER_IPC_E_INVALID_ARGUMENT naming the field (it is never bound or
   looked up under a different, "repaired" name). */
typedef struct dapper_ipc_config {
    /* sizeof(dapper_ipc_config); lets later versions grow the struct.
       dapper_ipc_config_init sets it. */
    uint32_t struct_size;
    /* Largest payload accepted or sent, in bytes. 0: 64 MiB. The ceiling is
       2147483639 (INT32_MAX minus the 8-byte header: the whole frame must fit
       in one buffer below 2 GiB); a larger value makes create_listener and
       connect return DAPPER_IPC_E_INVALID_ARGUMENT. */
    uint32_t max_frame_size;
    /* "auto", "unix", "tcp", "pipe", "ws" or "shm", case-insensitive. NULL or
       "auto": unix on POSIX, pipe on Windows. "ws" is a WebSocket (RFC 6455)
       over tcp, so a browser page can be the peer: host and port as for tcp;
       the endpoint is ws://host:port/ (any other path: HTTP 404), the
       launcher arguments are --ipc ws --ipc-host H --ipc-port P; the
       subprotocol dapper.dp.v1 is required, and every DP frame, header
       included, is one binary message (docs/protocol.md). With
       DAPPER_IPC_FLAG_REQUIRE_AUTH the token is offered as a second
       subprotocol, dapper.token.<token>, instead of a first frame (a missing
       or wrong one: HTTP 401).
       "shm" (Linux only; DAPPER_IPC_E_UNSUPPORTED on macOS and Windows) is
       shared memory between two ends of this library: reached like unix
       (path; launcher arguments --ipc shm --ipc-path P), whose socket stays
       open as the liveness signal, while the frames travel through two
       rings in one sealed memfd the listener passes over it
       (docs/protocol.md). Stock Dapper peers do not speak it.
       "tls" is tcp with TLS 1.3 (1.2 only with DAPPER_IPC_FLAG_ALLOW_TLS12),
       DP frames unchanged inside it: host and port as for tcp; the launcher
       arguments are --ipc tls --ipc-host H --ipc-port P
       --ipc-tls-fingerprint sha256:<64 hex>. The listener's certificate is
       tls_cert_file/tls_key_file, or a fresh self-signed ECDSA P-256 one made
       in memory (see dapper_ipc_tls_fingerprint). The client pins
       tls_fingerprint, or without it checks the system trust store and the
       host name. With DAPPER_IPC_FLAG_REQUIRE_AUTH the token frame travels
       inside tls. A send that times out once OpenSSL has taken part of a
       record cannot be taken back: E_SEND_TIMEOUT, and the connection closes.
       "wss" is "ws" inside the same tls (wss://host:port/; --ipc wss ...). OpenSSL 3 (libssl.so.3 and libcrypto.so.3; on macOS
       libssl.3.dylib, Homebrew's openssl@3 too) is loaded at the first use
       of tls: where it is missing, and on Windows, tls and wss fail with
       DAPPER_IPC_E_UNSUPPORTED and a message naming the library, while every
       other transport works.
       "stdio" (connect and connect_argv's "--ipc stdio" only; POSIX): the
       launcher side speaks over its own stdin and stdout, the adapter having
       spawned it with pipes and adopted them (dapper_ipc_adopt). Nothing else
       may write to that stdout, so connect moves the stream away: it
       duplicates fd 0 and fd 1 to private descriptors (close-on-exec) for the
       library, then points fd 0 at /dev/null and fd 1 at fd 2 (stderr), so a
       stray printf or Python print goes to stderr and a stray read of stdin
       sees end-of-file. This is not undone at cleanup (cleanup closes the
       private descriptors, so the adapter reads end-of-file); a process takes
       its stdio over once (a second connect over stdio is
       DAPPER_IPC_E_INVALID_STATE). create_listener refuses "stdio".
       Any other name is a transport registered with
       dapper_ipc_register_transport; path is then its address. */
    const char *transport;
    /* tcp: the host to bind or connect to. NULL: 127.0.0.1. An empty (or
       all-blank) string is DAPPER_IPC_E_INVALID_ARGUMENT, for a listener and
       for connect. Binding a non-loopback address works but logs a security
       warning (tcp and ws; tls and wss, encrypted and authenticated, do not). */
    const char *host;
    /* unix: the socket path. For a listener, NULL means a fresh private
       directory (mode 0700) under the temp directory holding the socket
       (mode 0600); a caller-given path must fit sun_path, and its directory
       must exist. While a listener binds a caller-given path it holds an
       exclusive lock on the file "<path>.lock" beside it (created and removed
       by that step; a process killed meanwhile may leave it, and the next
       listener uses and removes it). A lock file owned by another user is
       refused with DAPPER_IPC_E_PATH_EXISTS, and a lock someone else holds
       for over 5 s ends the wait with DAPPER_IPC_E_ADDRESS_IN_USE, so the
       lock cannot make create_listener hang. Required for connect. */
    const char *path;
    /* pipe (Windows only): the pipe, as a full path (\\.\pipe\name) or a
       bare name. For a listener, NULL means a random name; the pipe is
       created in message mode for the current user only, local clients
       only, and fails with DAPPER_IPC_E_ADDRESS_IN_USE if the name exists.
       Required for connect. send_timeout_ms does not apply to pipes. */
    const char *pipe_name;
    /* tcp: the port. For a listener, 0 means an ephemeral port chosen by the
       OS (the launcher arguments carry the resolved one). Required (> 0) for
       connect. */
    int32_t port;
    /* connect: how long to keep retrying while nobody listens, in ms.
       0: 3000 (what the launcher allows). Negative: try once. */
    int32_t connect_timeout_ms;
    /* ---- added in 0.1.0 after the fields above; a struct_size that stops
       before them (48 bytes on 64-bit) means "defaults" for them ---- */
    /* How long send() may wait for a peer that stopped reading, in ms.
       0: 30000. Negative: no limit. It is one deadline for the whole call
       (send, or send_batch however many writes it takes), counted from its
       start, also when part of the data has already gone out. */
    int32_t send_timeout_ms;
    /* dapper_ipc_flags. */
    uint32_t flags;
    /* connect: the token to present to a listener that requires one (the
       client sends it as its first frame). NULL: the value of the environment
       variable DAPPER_IPC_AUTH_TOKEN if set, else none. */
    const char *auth_token;
    /* ---- added after auth_token; a struct_size that stops before it (64
       bytes on 64-bit) means the default ---- */
    /* Listener: how long dapper_ipc_send / dapper_ipc_send_batch made before
       the client arrived wait for it, in ms, then send (a launcher that is
       still starting gets the commands sent meanwhile). The sending thread
       accepts the client itself when no other thread is accepting. 0: 10000.
       Negative: no wait (DAPPER_IPC_E_NOT_CONNECTED at once, as before). */
    int32_t client_wait_ms;
    /* ---- added after client_wait_ms; a struct_size that stops before it (68
       bytes on 64-bit) means the default ---- */
    /* Heartbeats, in ms: 0 (the default) or negative: off. They run only
       between two ends of this library that both enabled them: the
       connecting end sends a control frame (kind 3, docs/protocol.md) as its
       first frame (after the auth frame), the listener answers it, and from
       then on each end sends a heartbeat every heartbeat_ms and answers the
       peer's. A peer from which nothing at all came for 3 x the larger of
       the two ends' heartbeat_ms, while nothing of it waited unread, is
       declared dead: the connection is closed and the state callback reports
       DAPPER_IPC_EVENT_DISCONNECTED with DAPPER_IPC_E_TIMEOUT and the reason
       "peer unresponsive for N ms" (pull mode: recv returns that status and
       message). A listener whose client's first frame is an ordinary one (the
       Python launcher, any stock peer) sends it nothing new; a listener with
       heartbeats off drops the announcement and answers nothing, so the
       client sends no heartbeats either. Control frames never reach the
       callbacks, recv, or the frame and byte counts of dapper_ipc_get_stats.
       One thread per connection with heartbeats on ("dapper-ipc-heartbeat")
       sends them and watches the deadline; nothing is added to the frame path.
       The reader thread reads and answers control frames; in the pull mode
       recv and recv_batch do (returning E_TIMEOUT when only control frames
       came), so a pull-mode host must call recv for the announcement to be
       answered; once heartbeats run, its own keep going between its recv
       calls, and unread data waiting for it never counts as the peer's
       silence.
       Not for a client of a session listener (its first frame must be the
       session hello). Without heartbeats a tcp connection still notices a
       dead remote host: keepalive is on (first probe after 15 s idle, then
       every 5 s, 6 probes) and, on Linux, TCP_USER_TIMEOUT is 45 s, so a
       host that vanished is reported within about 45 s. */
    int32_t heartbeat_ms;
    /* ---- added after heartbeat_ms; a struct_size that stops before it
       (72 bytes on 64-bit) means the default ---- */
    /* ws listener: origins allowed besides loopback, comma-separated, each
       scheme://host[:port] as a browser sends it (e.g.
       "https://ide.example.com"). A request with an Origin header is accepted
       only when that origin's host is the listener's host, localhost,
       127.0.0.1 or [::1] (any scheme and port), or the origin is listed here;
       any other gets HTTP 403 and a log line naming it. A request without
       Origin (a native client) is accepted. NULL: loopback only. */
    const char *ws_origins;
    /* ---- added after ws_origins; a struct_size that stops before them
       (80 bytes on 64-bit) means the defaults ---- */
    /* DAPPER_IPC_FLAG_RECONNECT: how long a connecting end keeps
       reconnecting, and a listener waits for its client's return, after a
       drop, in ms. 0: 30000. Negative: no limit. */
    int32_t reconnect_timeout_ms;
    /* DAPPER_IPC_FLAG_RECONNECT: the most bytes of sent frames (headers
       included) kept until the peer acknowledges them, allocated once per
       connection. 0: 4 MiB. When a frame does not fit, the oldest
       unacknowledged ones are dropped from it, and a reconnect that would
       need them fails (DISCONNECTED, saying so) rather than lose them. */
    uint32_t resume_buffer_bytes;
    /* ---- added after resume_buffer_bytes; a struct_size that stops before
       them (88 bytes on 64-bit) means the defaults ---- */
    /* shm listener: the bytes of each of the two rings (one per direction)
       in the shared memory it makes for its client. 0: 1 MiB (1048576).
       A power of two from 4096 to 1 GiB, else create_listener returns
       DAPPER_IPC_E_INVALID_ARGUMENT. The client takes the listener's size
       (its own value is not used). */
    uint32_t shm_ring_bytes;
    /* shm: how long a reader with nothing to read (and a writer with no room
       in the ring) keeps polling the ring, in microseconds, before it sleeps
       on a futex; while it polls it yields the CPU (sched_yield) between
       looks, so a peer on the same CPU can run. 0: 50. Negative: never
       poll, sleep at once. */
    int32_t shm_spin_us;
    /* ---- added after shm_spin_us; a struct_size that stops before
       them (96 bytes on 64-bit) means NULL ---- */
    /* tls/wss listener: the certificate (chain) and its private key, PEM
       files, read once by create_listener. Both or neither; NULL: a fresh
       self-signed certificate. A file that cannot be read, or a key that
       does not match: DAPPER_IPC_E_INVALID_ARGUMENT naming it. */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* tls/wss client: "sha256:" and the 64 hex digits (either case; colons
       between bytes allowed) of the listener's certificate's DER, as the
       launcher arguments carry it. Only that certificate is accepted; a
       different one fails connect with DAPPER_IPC_E_PROTOCOL and a message
       showing both. NULL: the system trust store and the host name decide
       (a refusal is DAPPER_IPC_E_PROTOCOL with OpenSSL's reason). */
    const char *tls_fingerprint;
} dapper_ipc_config;

/* One frame: in dapper_ipc_send_batch (read by the library), and in
   dapper_ipc_recv_batch and dapper_ipc_batch_cb (written by it). */
typedef struct dapper_ipc_frame {
    /* The payload; may be NULL only when length is 0. */
    const void *payload;
    size_t length;
    /* DAPPER_IPC_KIND_EVENT or DAPPER_IPC_KIND_COMMAND (received: the kind
       byte as it came). */
    int32_t kind;
} dapper_ipc_frame;

/* Called on the manager's reader thread for every frame received, in order.
   payload points into the library's receive buffer and is valid only until
   the callback returns; copy what you keep. length may be 0 (payload is
   then still a valid, non-NULL pointer, with nothing to read). kind is the
   frame's kind byte as received (1 and 2 are defined).
   The callback may call any function of this library, including send,
   cleanup and destroy on its own manager (cleanup then does not wait for the
   reader: it closes the connection, and the reader thread ends when the
   callback returns; a cleanup or destroy on another thread waits for that),
   and create_listener/connect and start_reader again (the new reader's first
   callback comes after this one returned). */
typedef void(DAPPER_IPC_CALL *dapper_ipc_message_cb)(void *user_data, int32_t kind,
                                                     const uint8_t *payload, size_t length);

/* dapper_ipc_message_cb for many frames at once (dapper_ipc_set_batch_callback):
   called on the reader thread with every whole frame that one read of the
   socket brought in (up to 256 a call), in order, so a host that pays per
   call (an FFI, a hop to an event loop) pays per burst instead of per
   frame. frames[0 .. count) are valid only until the callback returns
   (their payloads point into the library's receive buffer; a payload of
   length 0 is a valid, non-NULL pointer); count is at least 1. Same
   reentrancy rules as dapper_ipc_message_cb; after a cleanup called from
   it, no further callback is made, also for the frames left in the batch. */
typedef void(DAPPER_IPC_CALL *dapper_ipc_batch_cb)(void *user_data, const dapper_ipc_frame *frames,
                                                   size_t count);

/* Called on the manager's reader thread when the connection starts or ends
   (see dapper_ipc_event). reason is a UTF-8 message, valid only during the
   call, never NULL. Same reentrancy rules as dapper_ipc_message_cb. */
typedef void(DAPPER_IPC_CALL *dapper_ipc_state_cb)(void *user_data, int32_t event, int32_t status,
                                                   const char *reason);

/* Called for library log messages of at least the configured level, on the
   thread where the event happened (the caller's thread for warnings raised
   by a call, a reader thread otherwise), possibly on several threads at once.
   message is valid only during the call. Must not call back into the library's
   logging setup (dapper_ipc_set_log_callback). */
typedef void(DAPPER_IPC_CALL *dapper_ipc_log_cb)(void *user_data, int32_t level, const char *message);

/* ---- library ------------------------------------------------------------ */

/* The library's version string ("0.1.0"), in static storage.
   Thread: any.
   Returns: the string, never NULL (not a status). */
DAPPER_IPC_API const char *DAPPER_IPC_CALL dapper_ipc_version(void);

/* A static English description of a status code ("invalid handle"): the
   quoted words that open the code's comment in dapper_ipc_status.
   Thread: any.
   Returns: the string, never NULL; "unknown status" for a code not listed
   in dapper_ipc_status (not a status). */
DAPPER_IPC_API const char *DAPPER_IPC_CALL dapper_ipc_status_string(int32_t status);

/* Copies the calling thread's last error message into buf, NUL-terminated.
   The message describes the most recent call on this thread that failed; a
   call that succeeds empties it, except the two destroy functions, which
   leave it as it was; this function never changes it. buf may be
   NULL when cap is 0 (to ask for the size); *needed (if not NULL) receives
   the size the message needs, terminator included. As for every function
   that fills a buffer, nothing of a result that does not fit is written.
   Thread: any (each thread has its own last error).
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_BUFFER_TOO_SMALL: cap is smaller than
   needed (buf then holds an empty string if cap > 0);
   DAPPER_IPC_E_INVALID_ARGUMENT: buf is NULL and cap > 0. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_last_error(char *buf, size_t cap, size_t *needed);

/* Routes the library's log messages to cb (NULL: silence, the default),
   process-wide. Messages below min_level are dropped before formatting. It
   takes effect for messages raised after it returns; a message being
   delivered on another thread at that moment may still reach the previous
   callback, so keep the previous user_data valid until every manager is
   cleaned up, or for the life of the process.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: a level outside
   DEBUG..ERROR. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_set_log_callback(dapper_ipc_log_cb cb, void *user_data,
                                                                   int32_t min_level);

/* Zeroes the first `size` bytes of *config and sets struct_size to the size
   both sides know. Pass sizeof(dapper_ipc_config) as the caller compiled it
   (or use dapper_ipc_config_init_default(&cfg)): the library never writes
   past it, so a program built against an older, smaller struct stays safe.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: config is NULL, or
   size is smaller than the first layout of the struct. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_config_init(dapper_ipc_config *config, size_t size);
#define dapper_ipc_config_init_default(config) dapper_ipc_config_init((config), sizeof *(config))

/* ---- managers ----------------------------------------------------------- */

/* Creates a manager: one connection, one reader thread once started.
   *out receives its handle.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: out is NULL. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_manager_create(dapper_ipc_manager *out);

/* Cleans up (as dapper_ipc_cleanup, with the same waits and linger) and
   retires the handle: every later call with it returns
   DAPPER_IPC_E_INVALID_HANDLE. When it succeeds it leaves the calling
   thread's last error as it was (as POSIX free() keeps errno), so a
   finalizer that destroys a manager between a failing call and the
   dapper_ipc_last_error that reads its message cannot erase it.
   Thread: any, including a reader thread inside a callback (its own
   manager's, or another's: the callback contract at the top says when it
   waits).
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_HANDLE: a zero, stale or
   never-issued handle. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_manager_destroy(dapper_ipc_manager manager);

/* Sets the message and state callbacks and the user_data passed to them
   (one call for both). Either callback may
   be NULL (messages or state changes are then dropped). Set them before
   dapper_ipc_start_reader. user_data is not touched by the library; it must
   stay valid until cleanup or destroy returns.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_HANDLE;
   DAPPER_IPC_E_INVALID_STATE: the reader runs (until cleanup). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_set_callback(dapper_ipc_manager manager,
                                                               dapper_ipc_message_cb on_message,
                                                               dapper_ipc_state_cb on_state,
                                                               void *user_data);

/* dapper_ipc_set_callback with a batch callback instead of the per-frame
   one: the reader hands over the frames of each read in one call. Replaces
   the callbacks set before (by either function). Same rules otherwise.
   Thread: any.
   Returns: as dapper_ipc_set_callback. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_set_batch_callback(dapper_ipc_manager manager,
                                                                     dapper_ipc_batch_cb on_batch,
                                                                     dapper_ipc_state_cb on_state,
                                                                     void *user_data);

/* dapper_ipc_set_callback under its 0.1.0 name, kept so that hosts built or
   written against 0.1.0 (C programs, ctypes bindings) keep working;
   identical in every respect. New code uses dapper_ipc_set_callback.
   Thread and returns: as dapper_ipc_set_callback. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_set_callbacks(dapper_ipc_manager manager,
                                                                dapper_ipc_message_cb on_message,
                                                                dapper_ipc_state_cb on_state,
                                                                void *user_data);

/* Creates a listener (the adapter side) and binds it at once, so a launcher
   started afterwards finds it; a client is accepted later by
   dapper_ipc_wait_for_client or dapper_ipc_start_reader (a late client
   waits in the backlog). config may be NULL for all defaults.
   A unix listener falls back to tcp, with a warning through the log
   callback, only when unix sockets do not exist on the platform, or when
   config->path is NULL and the library's own private socket cannot be set
   up. A caller-given path is never replaced by tcp. A caller-given path
   holding a socket nobody listens on (a listener that died) is replaced;
   the probe, removal and bind run under the path's lock (see
   dapper_ipc_config.path), so of two listeners racing for one path, in
   threads or in processes, exactly one succeeds.
   Thread: any, but not concurrently with another call that changes this
   manager's state (create_listener, connect, wait_for_client, start_reader).
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_STATE: the manager already
   has a listener or connection (cleanup first);
   DAPPER_IPC_E_INVALID_ARGUMENT: an unknown transport or a bad field (the
   message names it); DAPPER_IPC_E_UNSUPPORTED: pipe on POSIX;
   DAPPER_IPC_E_ADDRESS_IN_USE: a taken port, a path with a live listener,
   or a path lock held elsewhere for over 5 s; DAPPER_IPC_E_PATH_TOO_LONG;
   DAPPER_IPC_E_PATH_EXISTS: a file, directory or symlink at the path, or a
   lock file of another user; DAPPER_IPC_E_IO: a caller-given path that
   cannot be bound (its directory does not exist, no permission, ...: the
   message names the path and the OS reason), or out of file descriptors
   ("too many open files ..."). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_create_listener(dapper_ipc_manager manager,
                                                                  const dapper_ipc_config *config);

/* Copies the launcher arguments of the manager's listener into buf as
   consecutive NUL-terminated strings, exactly the arguments the Python
   launcher parses: "--ipc\0unix\0--ipc-path\0/tmp/dapper-ab12cd/ipc.sock\0",
   or for tcp --ipc tcp --ipc-host H --ipc-port P with the resolved port.
   *length (if not NULL) receives the total size, every terminator
   included; *argc (if not NULL) the number of strings. The caller owns buf.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_BUFFER_TOO_SMALL: cap is too small
   (*length is set; buf then holds an empty string if cap > 0, never part of
   the list); DAPPER_IPC_E_INVALID_ARGUMENT: buf is NULL and cap > 0;
   DAPPER_IPC_E_INVALID_STATE: the manager has no listener. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_launcher_args(dapper_ipc_manager manager, char *buf,
                                                                size_t cap, size_t *length,
                                                                int32_t *argc);

/* Copies the listener's auth token (made for DAPPER_IPC_FLAG_REQUIRE_AUTH:
   64 hex characters from the OS's random generator) into buf,
   NUL-terminated; *length (if not NULL) receives the size needed,
   terminator included. Hand it to the launcher through
   DAPPER_IPC_AUTH_TOKEN_ENV, never its command line.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_BUFFER_TOO_SMALL (buf then holds an
   empty string if cap > 0, never part of the token);
   DAPPER_IPC_E_INVALID_ARGUMENT: buf is NULL and cap > 0;
   DAPPER_IPC_E_INVALID_STATE: no listener, or one that does not require
   auth. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_auth_token(dapper_ipc_manager manager, char *buf,
                                                             size_t cap, size_t *length);

/* Copies the fingerprint of the manager's tls or wss listener's
   certificate, "sha256:" and 64 lower-case hex digits (the SHA-256 of its
   DER), NUL-terminated, into buf; *length (if not NULL) receives the size
   needed, terminator included. The launcher arguments carry the same
   string after --ipc-tls-fingerprint.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_BUFFER_TOO_SMALL (buf then holds an
   empty string if cap > 0); DAPPER_IPC_E_INVALID_ARGUMENT: buf is NULL and
   cap > 0; DAPPER_IPC_E_INVALID_STATE: no listener, or one that is not tls
   or wss. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_tls_fingerprint(dapper_ipc_manager manager, char *buf,
                                                                  size_t cap, size_t *length);

/* Connects to an existing listener (the launcher side), retrying while
   nobody listens until config->connect_timeout_ms (default 3000 ms); blocks
   the calling thread meanwhile. tcp needs port (host defaults to
   127.0.0.1); unix needs path. Each retry is logged at DEBUG; the retry
   messages and the final error name the reason ("no socket file at <path>",
   "connection refused: nobody is listening on the socket file <path>", ...).
   Thread: any, with the same rule as create_listener; cleanup on another
   thread cancels it.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_CONNECTION_REFUSED: the time ran out;
   DAPPER_IPC_E_INVALID_STATE: a listener or connection exists;
   DAPPER_IPC_E_INVALID_ARGUMENT: a missing port or path (the message names
   the field) or a bad field; DAPPER_IPC_E_CANCELLED: cleanup ran meanwhile;
   DAPPER_IPC_E_UNSUPPORTED; DAPPER_IPC_E_PATH_TOO_LONG; DAPPER_IPC_E_IO
   (also out of file descriptors: "too many open files ..."). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_connect(dapper_ipc_manager manager,
                                                          const dapper_ipc_config *config);

/* Connects as dapper_ipc_connect does, with the transport taken from a
   launcher's command line: the options dapper_ipc_launcher_args produces,
   --ipc unix|tcp|pipe with --ipc-path P (unix), --ipc-host H and --ipc-port N
   (tcp; host defaults to 127.0.0.1) or --ipc-pipe NAME (pipe), each as two
   arguments or as "--opt=value". Every other argument (argv[0], the
   launcher's own options) is ignored, so pass main's argc and argv as they
   are. Uses the default connect timeout (3000 ms), no frame-size or send
   limits beyond the defaults, and the auth token from the environment
   variable DAPPER_IPC_AUTH_TOKEN if set. argv and its strings are read during
   the call and not kept.
   Thread: as dapper_ipc_connect.
   Returns: the statuses of dapper_ipc_connect, and
   DAPPER_IPC_E_INVALID_ARGUMENT, with a message naming the option, when
   --ipc is missing or not unix/tcp/pipe, the option its transport needs is
   missing or empty, an option is given twice with different values, an
   option of another transport is present (--ipc-port with --ipc unix, ...),
   an option is the last argument with no value, an option's value is not
   valid UTF-8 (the launcher's own arguments may be any bytes), or --ipc-port
   is not a number from 1 to 65535; also for argc < 0, argv NULL with
   argc > 0, or a NULL among argv[0..argc-1]. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_connect_argv(dapper_ipc_manager manager, int argc,
                                                               const char *const *argv);

/* Blocks until a client is connected to the manager's listener, or
   timeout_ms passes (negative: no limit). If the reader thread is already
   accepting, this waits for it; otherwise the calling thread accepts. With
   DAPPER_IPC_FLAG_REQUIRE_AUTH a client counts once its token checked out;
   others are refused, logged, and the wait goes on. A client that hung up
   without sending anything before it was accepted (another listener probing
   the path, a port scanner) is skipped the same way. A listener serves one
   client: once one was accepted this keeps returning DAPPER_IPC_OK, even
   after it left (dapper_ipc_is_connected tells; cleanup and create_listener
   again for another).
   Thread: any other than the reader thread.
   Returns: DAPPER_IPC_OK, at once if a client is already connected (or the
   manager was made by connect); DAPPER_IPC_E_TIMEOUT;
   DAPPER_IPC_E_CANCELLED: cleanup ran meanwhile; DAPPER_IPC_E_INVALID_STATE:
   before create_listener, or on the reader thread; DAPPER_IPC_E_IO:
   accepting failed (out of file descriptors: "too many open files ..."; the
   client stays queued and a later wait can accept it). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_wait_for_client(dapper_ipc_manager manager,
                                                                  int32_t timeout_ms);

/* Starts the manager's reader thread (one dedicated thread, not a pool
   thread). For a listener with no client yet it first accepts one; then it
   reads frames and calls the message callback for each, on that thread,
   with no hand-off in between.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_STATE: no listener or
   connection, the reader already runs, or dapper_ipc_recv or
   dapper_ipc_readable_handle was used on this connection (frames may be
   buffered there). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_start_reader(dapper_ipc_manager manager);

/* Sends one frame: the 8-byte header and the payload in one gathered
   write, so frames from concurrent senders never interleave. Returns when
   the whole frame is handed to the kernel (it may block while the peer is
   not reading). On a listener whose client has not arrived yet it first
   waits for the client, up to config->client_wait_ms (10 s by default).
   kind is DAPPER_IPC_KIND_EVENT or DAPPER_IPC_KIND_COMMAND; payload may be
   NULL only when length is 0; the library does not keep it. Never raises
   SIGPIPE, and never changes the host's signal dispositions.
   Thread: any, concurrently, including the callbacks.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_NOT_CONNECTED: no listener or
   connection, or a listener without a client when client_wait_ms is
   negative (the listener stays usable); DAPPER_IPC_E_TIMEOUT: no client came
   within client_wait_ms (nothing was sent; the listener stays usable);
   DAPPER_IPC_E_CANCELLED: cleanup ran while it waited for the client;
   DAPPER_IPC_E_CLOSED: the peer left or the connection failed or was
   cleaned up; DAPPER_IPC_E_SEND_TIMEOUT: the peer stopped reading for
   send_timeout_ms (one deadline for the whole call);
   DAPPER_IPC_E_FRAME_TOO_LARGE: above max_frame_size;
   DAPPER_IPC_E_INVALID_ARGUMENT: a bad kind, or a NULL payload with a
   length. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_send(dapper_ipc_manager manager, int32_t kind,
                                                       const void *payload, size_t length);

/* Sends count frames in order, in as few writes as the OS allows (one
   writev per 256 frames on POSIX; frame by frame on Windows and over
   pipes), holding the send lock for the whole batch so no frame of another
   sender lands between them. Use it when several frames are ready at once
   (128-byte frames go out several times faster than one dapper_ipc_send
   each); nothing is queued, so a lone message is still best sent with
   dapper_ipc_send. Every frame is checked first: a bad one fails the call
   with nothing sent. frames may be NULL only when count is 0 (which sends
   nothing). *frames_sent (if not NULL) receives the number of frames handed
   whole to the kernel, also on failure: after DAPPER_IPC_E_SEND_TIMEOUT
   between two frames the connection stays usable and the caller may resume
   from there; a frame cut in two closes the connection (the message says
   so). Like dapper_ipc_send, it first waits for a listener's client up to
   config->client_wait_ms. The library does not keep frames or payloads.
   Thread: any, concurrently, including the callbacks.
   Returns: DAPPER_IPC_OK when every frame went out; otherwise the statuses
   of dapper_ipc_send. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_send_batch(dapper_ipc_manager manager,
                                                             const dapper_ipc_frame *frames,
                                                             size_t count, size_t *frames_sent);

/* ---- pull mode --------------------------------------------------------- */

/* Reads one frame on the calling thread, for a manager whose reader thread
   is not running (the pull mode, as nng_recv / zmq_recv): no callback and no
   thread between the socket and the caller. Frames that one read brought in
   together are kept in the library's buffer and returned by the next calls
   without a system call. On a listener whose client has not arrived yet it
   first accepts one (or waits for the thread accepting), within the same
   timeout. buf/cap: where the payload is copied (buf may be NULL when cap is
   0). *length (required) receives the payload's size; *kind (may be NULL)
   the frame's kind byte. timeout_ms: 0 returns at once, negative waits
   without limit. Once recv or readable_handle has been used,
   dapper_ipc_start_reader on that connection returns
   DAPPER_IPC_E_INVALID_STATE (frames may be buffered here).
   Thread: any, one at a time per manager (sends may run concurrently on
   other threads).
   Returns: DAPPER_IPC_OK with the frame copied;
   DAPPER_IPC_E_BUFFER_TOO_SMALL: the next frame is larger than cap (*length
   and *kind describe it, nothing is copied and the frame is kept for the
   next call: call again with a buffer of *length bytes);
   DAPPER_IPC_E_TIMEOUT: no whole frame within timeout_ms (*length is 0;
   nothing is lost, a frame arriving in part stays buffered);
   DAPPER_IPC_E_CLOSED: the peer closed the connection or it was reset (this
   and every later call, at once); DAPPER_IPC_E_PROTOCOL or
   DAPPER_IPC_E_FRAME_TOO_LARGE: a bad header, DAPPER_IPC_E_IO: a socket
   error (the connection is then closed; every later call returns the
   same); DAPPER_IPC_E_CANCELLED: cleanup ran before or during the call (a
   cleanup on another thread ends a recv in progress at once; on Windows tcp
   it waits for it up to the 2 s linger, then aborts the connection);
   DAPPER_IPC_E_INVALID_STATE: the reader thread runs, another thread is
   inside recv or readable_handle on this manager, or there is no listener
   or connection; DAPPER_IPC_E_UNSUPPORTED: a timeout other than negative
   over a pipe; DAPPER_IPC_E_INVALID_ARGUMENT: a NULL length, or a NULL buf
   with cap > 0. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_recv(dapper_ipc_manager manager, void *buf, size_t cap,
                                                       size_t *length, int32_t *kind, int32_t timeout_ms);

/* dapper_ipc_recv for many frames in one call: every whole frame already in
   the library's buffer that fits (so a burst that one read brought in is
   taken at once), or else the next one to arrive within timeout_ms. The
   payloads are copied back to back into buf/cap (buf may be NULL when cap is
   0), and frames[0 .. *count) describe them in order: payload points into
   buf, length and kind are the frame's. At most max_frames frames (and at
   most 1024) are taken; the rest stay buffered for the next call. The same
   rules as dapper_ipc_recv otherwise: a listener accepts its client first,
   and the call excludes the reader thread.
   Thread: any, one at a time per manager (sends may run concurrently on
   other threads); not concurrently with dapper_ipc_recv.
   Returns: DAPPER_IPC_OK with *count >= 1;
   DAPPER_IPC_E_BUFFER_TOO_SMALL: the next frame alone is larger than cap
   (frames[0].length and .kind describe it, its payload is NULL, *count is
   0, and the frame is kept for the next call); DAPPER_IPC_E_TIMEOUT: no
   whole frame within timeout_ms (*count is 0); the final and error statuses
   of dapper_ipc_recv (E_CLOSED, E_PROTOCOL, E_FRAME_TOO_LARGE, E_IO,
   E_CANCELLED, E_INVALID_STATE, E_UNSUPPORTED), which come only on a call
   that returns no frame (frames taken before a bad header are returned
   first); DAPPER_IPC_E_INVALID_ARGUMENT: a NULL count or frames, max_frames
   0, or a NULL buf with cap > 0. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_recv_batch(dapper_ipc_manager manager, void *buf, size_t cap,
                                                             dapper_ipc_frame *frames, size_t max_frames,
                                                             size_t *count, int32_t timeout_ms);

/* *handle receives an OS handle that an event loop waits on, ready exactly
   when dapper_ipc_recv (or dapper_ipc_recv_batch) with timeout 0 would
   return something other than DAPPER_IPC_E_TIMEOUT: a whole frame is in the
   library's buffer (so a burst that one read brought in keeps it ready until
   every frame is taken), or the connection ended (recv returns the final
   status). It is also ready while bytes that the library has not read yet
   wait in the socket: usually a frame; when they are only part of one, recv
   takes them and returns DAPPER_IPC_E_TIMEOUT, after which the handle is not
   ready until more arrives. What it is:
   - Linux: an epoll file descriptor; macOS: a kqueue file descriptor. Either
     is readable to poll, select, epoll/kqueue or libuv (uv_poll) while ready.
   - Windows: a manual-reset event HANDLE, signalled while ready: wait on it
     with WaitForSingleObject/WaitForMultipleObjects or register it with
     RegisterWaitForSingleObject (or an event loop's wait on handles); it is
     not a socket for select or WSAPoll.
   Level-triggered: drain it with recv(timeout 0) until E_TIMEOUT. The
   library owns the handle: do not read, write, close, set or reset it;
   remove it from your poller (or unregister the wait) before cleanup or
   destroy, which close it. The same handle is returned for the life of the
   connection (with DAPPER_IPC_FLAG_RECONNECT: of the session, the same
   descriptor across every reconnect; see the flag).
   Thread: any, not concurrently with recv on the same manager.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_NOT_CONNECTED: a listener whose
   client has not arrived (wait_for_client first), or no listener or
   connection; DAPPER_IPC_E_INVALID_STATE: the reader thread runs or another
   thread is inside recv; DAPPER_IPC_E_CANCELLED: cleanup began;
   DAPPER_IPC_E_UNSUPPORTED: the pipe transport and registered transports
   (recv takes no timeout there: use recv with a negative timeout, or the
   reader) and the BSDs other than macOS (adopted sockets and pipes have
   it), and Windows with DAPPER_IPC_FLAG_RECONNECT; DAPPER_IPC_E_IO; DAPPER_IPC_E_INVALID_ARGUMENT:
   handle is NULL. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_readable_handle(dapper_ipc_manager manager, intptr_t *handle);

/* Closes the listener and the connection, stops the reader thread and waits
   for it, then forgets the connection: the manager can create a listener or
   connect again. Idempotent.
   Closing never waits for the peer to read, reply or close: every frame a
   send already reported as sent reaches the peer, then end-of-file, and
   cleanup returns as soon as that is certain. The sending side is shut
   down first and what the peer still sends is discarded. Over unix sockets
   and pipes what was sent is already in the peer's queue, so nothing is
   waited for. Over tcp, cleanup waits until the peer's kernel has
   acknowledged every byte (Linux SIOCOUTQ, macOS SO_NWRITE; usually so
   before the first check), because closing with unread input makes the
   kernel reset the connection, and a reset drops what is still in flight.
   Only data still in flight to a peer that has stopped reading is waited
   for, at most 2 s (the linger); then the connection is reset and that
   data is lost. Windows tcp, which reports no acknowledged count, instead
   waits for the peer's end-of-file, at most the same 2 s.
   dapper_ipc_abort does not wait at all.
   The unix socket file is removed only while it is still the socket this
   listener bound (same device and inode: a file put at the path since, or
   another listener's socket there, is left alone; the same check is made
   when the process exits without cleanup), and so is the directory the
   library made for it. Blocked calls on other threads (send,
   wait_for_client, connect) return DAPPER_IPC_E_CLOSED or
   DAPPER_IPC_E_CANCELLED at once.
   Thread: any. Called from a callback on the reader thread it closes
   everything but cannot wait for its own thread: the reader lingers and ends
   when the callback returns, no further callback is made, and a later
   cleanup or destroy on another thread waits for it (see the callback
   contract at the top).
   Returns: DAPPER_IPC_OK (also when there was nothing to clean up);
   DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_cleanup(dapper_ipc_manager manager);

/* As dapper_ipc_cleanup, without the linger: the connection closes both
   ways at once, so frames still queued in the kernel may be lost and the
   peer may see a reset. A cleanup or destroy lingering on another thread
   ends its linger at once too. For paths that must stop now (Ctrl-C, a
   fatal error); everything else, and the waits for readers, as
   dapper_ipc_cleanup. Idempotent.
   Thread: any, including the callbacks.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_abort(dapper_ipc_manager manager);

/* *connected receives 1 while a peer is connected, else 0 (no listener or
   connection yet, a listener still waiting, or the peer left).
   Thread: any, including the callbacks.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: connected is NULL;
   DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_is_connected(dapper_ipc_manager manager,
                                                               int32_t *connected);

/* What dapper_ipc_stats.state says. */
typedef enum dapper_ipc_state {
    /* No listener and no connection (before create_listener or connect, or
       after cleanup). */
    DAPPER_IPC_STATE_IDLE = 0,
    /* A listener waits for its client. */
    DAPPER_IPC_STATE_LISTENING = 1,
    /* A peer is connected. */
    DAPPER_IPC_STATE_CONNECTED = 2,
    /* DAPPER_IPC_FLAG_RECONNECT: the connection dropped and is being
       resumed (see DAPPER_IPC_EVENT_RECONNECTING). */
    DAPPER_IPC_STATE_RECONNECTING = 3,
    /* The connection ended (the peer left, an error, heartbeats found it
       dead) and cleanup has not run yet. */
    DAPPER_IPC_STATE_CLOSED = 4
} dapper_ipc_state;

/* A manager's counters (dapper_ipc_get_stats). Always on: they cost no lock
   and no allocation. Every count is over the manager's whole life, across
   cleanups and new connections. Only the host's own frames are counted:
   control frames (heartbeats) are not. */
typedef struct dapper_ipc_stats {
    /* The caller sets sizeof(dapper_ipc_stats); the library fills the fields
       that fit in it, so later versions may append fields. */
    uint32_t struct_size;
    /* A dapper_ipc_state. */
    int32_t state;
    /* Frames a send or send_batch handed whole to the kernel (with
       DAPPER_IPC_FLAG_RECONNECT also those a drop left to the resume's
       replay; a replay is never counted again). */
    uint64_t frames_sent;
    /* Frames delivered to the host (callbacks, batch callback or recv). */
    uint64_t frames_received;
    /* The bytes of those sent frames, 8-byte headers included. */
    uint64_t bytes_sent;
    /* The bytes of those delivered frames, 8-byte headers included. */
    uint64_t bytes_received;
    /* Connections established (clients accepted, connects that succeeded). */
    uint64_t connects;
    /* Nanoseconds sends spent waiting for a peer that was not reading: from
       the moment the kernel's send buffer was full until the send finished
       or gave up (POSIX sockets, exactly: a send that never waited adds 0;
       Windows, and pipes, count sends that took over 1 ms whole). */
    uint64_t send_blocked_ns;
    /* Milliseconds since the last frame sent / delivered; -1: never. */
    int64_t last_send_ms_ago;
    int64_t last_receive_ms_ago;
    /* The round trip of the last heartbeat answered, in microseconds; -1:
       none (heartbeats off, or not answered yet). */
    int64_t heartbeat_rtt_us;
} dapper_ipc_stats;

/* Fills *out with the manager's counters (the fields that fit in
   out->struct_size; the smallest struct_size accepted is 8, which gets the
   state only). The counters are read without a lock while other threads
   send and receive: each is exact, but they are not one snapshot.
   Thread: any, including the callbacks.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: out is NULL, or
   out->struct_size is below 8; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_get_stats(dapper_ipc_manager manager, dapper_ipc_stats *out);

/* ---- session listeners ------------------------------------------------- */

/* A session listener: ONE shared endpoint (a unix socket or a tcp port) for
   many subprocess launchers. Dapper starts each child of a debuggee as a
   launcher of its own (--subprocess --session-id ID --parent-session-id ID
   plus the listener's launcher arguments); each connects to the shared
   endpoint and sends as its first frame a kind 1 event
     {"event": "dapper/sessionHello",
      "body": {"sessionId": "ID", "parentSessionId": "ID", "pid": N}}
   after which it is an ordinary launcher connection (docs/protocol.md).
   The listener accepts any number of clients at once; each client's hello
   (after its auth frame, with DAPPER_IPC_FLAG_REQUIRE_AUTH) is read on a
   thread of its own within a deadline and a size limit, then routed by
   body.sessionId to a session the host expected (expect), or, when an offer
   callback is set, offered to it. A hello that is late, too large,
   malformed, not a kind 1 event, for an unknown session or for one that is
   already connected closes that connection and is logged at WARNING (with
   the peer's pid where the OS tells it: unix sockets on Linux and macOS); it
   never disturbs the other sessions. An accepted session is handed out as
   an ordinary dapper_ipc_manager (connected, as if made by connect): every
   manager function works on it (callbacks or the pull mode, send,
   send_batch, cleanup, destroy), and dapper_ipc_session_hello gives its
   hello. Frames the child sent right after its hello wait in the socket for
   that manager's reader or recv. A session id is routed once: a second hello
   with the same id is refused while the first session's manager is open
   (after its cleanup or destroy the id may be expected again).
   Threads: one accepting thread per listening session listener
   ("dapper-ipc-sessions"), which reads and routes a hello that is already
   whole in the socket when the client is accepted (the usual case), and one
   thread per other client ("dapper-ipc-hello": its hello is still coming,
   its token comes first, or the offer callback must decide) until that
   client is routed or refused; all of them are joined by destroy. The log
   callback may run on any of them. */
typedef struct dapper_ipc_session_listener {
    uint64_t id;
} dapper_ipc_session_listener;

/* Called for a hello whose session id nobody expected, on the thread that
   read it (several may run at once, one per client). session_id is the
   hello's body.sessionId, NUL-terminated; hello/length the hello frame's
   JSON payload as received (not NUL-terminated); both valid only during
   the call. Return nonzero to accept the session (it is then accepted with
   dapper_ipc_session_listener_accept as if it had been expected), 0 to
   refuse it (the connection is closed and logged). An accept for that id
   (on another thread: while an offer callback is set, accept waits for an id
   nobody expected) returns the session once the callback has returned. It
   may call any function of this library, destroy of its own listener
   included (which then does not wait for the calling thread). */
typedef int32_t(DAPPER_IPC_CALL *dapper_ipc_session_offer_cb)(void *user_data, const char *session_id,
                                                              const uint8_t *hello, size_t length);

/* Creates a session listener (not listening yet). *out receives its handle:
   an integer id, never reused; the zero value is never valid.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: out is NULL. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_create(dapper_ipc_session_listener *out);

/* Sets how long a client may take from its connect to its whole hello (its
   auth frame included), in ms (0: 5000), and the largest hello payload, in
   bytes (0: 16384); a larger hello is refused unread. For clients accepted
   after the call.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: a negative
   timeout, or a size above 64 MiB; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_set_hello_limits(
    dapper_ipc_session_listener listener, int32_t timeout_ms, uint32_t max_size);

/* Sets the callback offered the sessions nobody expected (NULL: refuse
   them all, the default), and its user_data, which must stay valid until
   destroy returns or the callback is replaced. For hellos read after the
   call.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_set_offer_callback(
    dapper_ipc_session_listener listener, dapper_ipc_session_offer_cb offer, void *user_data);

/* Binds the shared endpoint and starts accepting on the listener's thread.
   config as for dapper_ipc_create_listener, with the same defaults and
   security (a private 0700 directory holding a 0600 socket, the same-uid
   check, loopback for tcp, DAPPER_IPC_FLAG_REQUIRE_AUTH, max_frame_size and
   send_timeout_ms for every session); config may be NULL. "auto" is the
   platform default, as for a manager: a named pipe on Windows, whose
   listener makes an instance of the name per client (the first with
   FILE_FLAG_FIRST_PIPE_INSTANCE, each with the manager's flags and
   owner-only DACL), the next before a connected one is handed over.
   client_wait_ms does not apply (an accepted session is connected). Once
   per session listener.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_STATE: it already listens;
   DAPPER_IPC_E_UNSUPPORTED: the pipe transport where pipes do not exist
   (POSIX); otherwise the statuses of dapper_ipc_create_listener. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_listen(dapper_ipc_session_listener listener,
                                                                          const dapper_ipc_config *config);

/* The launcher arguments of the shared endpoint, as dapper_ipc_launcher_args
   gives them (consecutive NUL-terminated strings): every child launcher gets
   these, plus its own --session-id and --parent-session-id.
   Thread: any.
   Returns: as dapper_ipc_launcher_args; DAPPER_IPC_E_INVALID_STATE: not
   listening (before listen). */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_launcher_args(
    dapper_ipc_session_listener listener, char *buf, size_t cap, size_t *length, int32_t *argc);

/* The token every child must present before its hello, for an endpoint
   made with DAPPER_IPC_FLAG_REQUIRE_AUTH; as dapper_ipc_auth_token (hand it
   over in DAPPER_IPC_AUTH_TOKEN_ENV).
   Thread: any.
   Returns: as dapper_ipc_auth_token; DAPPER_IPC_E_INVALID_STATE: not
   listening, or no auth required. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_auth_token(
    dapper_ipc_session_listener listener, char *buf, size_t cap, size_t *length);

/* Announces a session id (UTF-8, NUL-terminated, not empty): its hello will
   be routed to it. Call it before starting the child (a hello for an id not
   yet expected is refused, or offered). May be called before listen.
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_STATE: the id is already
   expected, or connected and its manager still open, or the listener is
   destroyed; DAPPER_IPC_E_INVALID_ARGUMENT: session_id NULL, empty or not
   UTF-8; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_expect(dapper_ipc_session_listener listener,
                                                                          const char *session_id);

/* Waits up to timeout_ms (negative: no limit) for the client of an
   expected (or offered and accepted) session, then *manager receives a new
   manager handle that owns its connection: connected, no reader yet (set
   callbacks and start_reader, or use recv), the hello available through
   dapper_ipc_session_hello. A client that arrived before the call is handed
   over at once. The handle is the caller's to destroy
   (dapper_ipc_manager_destroy); destroying the session listener cleans the
   session up (as dapper_ipc_cleanup) but leaves the handle valid until then.
   *manager is zeroed on failure.
   Thread: any; several threads may wait for different sessions at once.
   An id nobody expected is waited for while an offer callback is set (it
   may yet be offered and accepted); without one it is an error at once.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_TIMEOUT; DAPPER_IPC_E_CANCELLED: the
   listener was destroyed meanwhile; DAPPER_IPC_E_INVALID_STATE: the id is
   not expected and no offer callback is set, or it was accepted already; DAPPER_IPC_E_INVALID_ARGUMENT: session_id NULL, empty or not
   UTF-8, or manager NULL; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_accept(dapper_ipc_session_listener listener,
                                                                          const char *session_id,
                                                                          int32_t timeout_ms,
                                                                          dapper_ipc_manager *manager);

/* Closes the shared endpoint (and removes its socket file and directory),
   refuses the clients whose hello is still coming, waits for the
   listener's threads (an offer callback still running included, unless it
   is the caller), then cleans up every session it routed, accepted or not,
   as dapper_ipc_cleanup does (their lingers, where there are any, run side
   by side), and
   retires the handle. When it succeeds it leaves the calling thread's last
   error as it was, as dapper_ipc_manager_destroy does.
   Thread: any, including an offer callback and a manager's callbacks (a
   session's own reader is then not waited for: as cleanup from a callback).
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_listener_destroy(dapper_ipc_session_listener listener);

/* Copies the hello of a session's manager (made by
   dapper_ipc_session_listener_accept) into buf: the hello frame's JSON
   payload exactly as received, NUL-terminated; *length (if not NULL)
   receives the size needed, terminator included.
   Thread: any, including the callbacks.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_BUFFER_TOO_SMALL (buf then holds an
   empty string if cap > 0); DAPPER_IPC_E_INVALID_ARGUMENT: buf is NULL and
   cap > 0; DAPPER_IPC_E_INVALID_STATE: the manager was not made by a
   session listener; DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_session_hello(dapper_ipc_manager manager, char *buf, size_t cap,
                                                                size_t *length);

/* Makes the manager connected over a stream the host already holds: a
   connected socket (read_handle == write_handle: a socketpair made before
   spawning the launcher, a descriptor inherited from a parent or from
   systemd socket activation) or a pipe pair (read_handle the end the peer
   writes to, write_handle the end it reads from: a child's stdout and stdin).
   From here it is a connected manager like one made by connect: callbacks
   and start_reader, or recv; send, send_batch, limits, heartbeats off,
   cleanup. No auth frame and no announcement is sent: the host vouches for
   the peer. Default config (64 MiB frames, 30 s send timeout).
   A socket is driven like any socket of the library (its send timeout is set
   on it with SO_SNDTIMEO); a pipe (or any other descriptor) with poll, read
   and write, which never changes its flags (O_NONBLOCK stays as it was), so a
   descriptor shared with other processes is not disturbed; a pipe write
   goes out in pieces of at most PIPE_BUF bytes, each after poll says there
   is room, so a send to a peer that stopped reading times out and cleanup
   never waits for it. A pipe has no half-close: the peer reads end-of-file
   when the write handle is closed, at cleanup for an owned one; a borrowed
   one stays open until the host closes it. recv with a timeout and
   readable_handle work over both.
   flags: DAPPER_IPC_ADOPT_BORROW or 0 (the library owns the handles: they
   are closed exactly once, at cleanup, or before adopt returns an error,
   so the host must not close them itself).
   POSIX: handles are file descriptors. Windows: not done yet,
   DAPPER_IPC_E_UNSUPPORTED (and owned handles are not closed).
   Thread: as dapper_ipc_connect.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_STATE: the manager already
   has a listener or connection; DAPPER_IPC_E_INVALID_ARGUMENT: a negative
   handle, a handle that is not open, two different handles of which one is
   a socket, unknown flag bits; DAPPER_IPC_E_UNSUPPORTED: Windows;
   DAPPER_IPC_E_INVALID_HANDLE. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_adopt(dapper_ipc_manager manager, intptr_t read_handle,
                                                        intptr_t write_handle, uint32_t flags);

/* The functions of a transport the host brings (dapper_ipc_register_transport).
   They only move bytes: framing, limits, the reader thread, pull mode, batch,
   heartbeats and the lifecycle stay the library's. `user` is the pointer given
   at registration; `listener` and `connection` are the host's own handles,
   made by listen, accept and connect, which the library passes back and never
   reads. A status is one of dapper_ipc_status; a failing op may leave a
   message with nothing: the library names the transport and the op in its
   own message. Every op is called on a thread of the library or of the host
   (the one that called create_listener, connect, send, cleanup..., which is
   the reader thread when a callback sends or cleans up), never while the
   library holds a lock another op waits for; an op must not call back into
   the library for the same manager. An op may be NULL only where noted.
   Initialise with memset 0 and struct_size = sizeof(dapper_ipc_transport_ops);
   fields are appended, never reordered. */
typedef struct dapper_ipc_transport_ops {
    /* sizeof(dapper_ipc_transport_ops) of the caller. */
    uint32_t struct_size;
    /* create_listener: makes a listener at address (config->path, may be
       NULL: the host picks one) and sets *listener. The thread that called
       create_listener; may block (bind). NULL: the transport cannot listen
       (create_listener is DAPPER_IPC_E_UNSUPPORTED). */
    int32_t(DAPPER_IPC_CALL *listen)(void *user, const char *address, void **listener);
    /* Copies the address a launcher connects to, NUL-terminated, into buf
       (cap bytes): the value of --ipc-address in the launcher arguments
       ("--ipc <name> --ipc-address <address>"). Called once, right after
       listen, on the same thread; DAPPER_IPC_E_BUFFER_TOO_SMALL asks again
       with a larger buffer. Required with listen. */
    int32_t(DAPPER_IPC_CALL *launcher_address)(void *user, void *listener, char *buf, size_t cap);
    /* Waits up to timeout_ms (negative: no limit) for one client and sets
       *connection: DAPPER_IPC_OK, DAPPER_IPC_E_TIMEOUT when none came, any
       other status when the listener failed or was stopped. The manager's
       reader thread or the thread in wait_for_client, one at a time; it
       blocks, and stop_listener on another thread must make it return
       promptly. Required with listen. */
    int32_t(DAPPER_IPC_CALL *accept)(void *user, void *listener, int32_t timeout_ms, void **connection);
    /* Makes a blocked accept return and every later one fail. Cleanup's
       thread, concurrently with accept; must not block. Called once. */
    void(DAPPER_IPC_CALL *stop_listener)(void *user, void *listener);
    /* Releases the listener. Called once, after stop_listener, when no accept
       runs or will run; any thread. */
    void(DAPPER_IPC_CALL *close_listener)(void *user, void *listener);
    /* connect and connect_argv: connects to address (config->path, or
       --ipc-address) within timeout_ms and sets *connection; a status
       otherwise (DAPPER_IPC_E_CONNECTION_REFUSED when nobody is there). The
       thread that called connect; may block. NULL: the transport cannot
       connect (DAPPER_IPC_E_UNSUPPORTED). */
    int32_t(DAPPER_IPC_CALL *connect)(void *user, const char *address, int32_t timeout_ms, void **connection);
    /* Reads at most cap (> 0) bytes into buf, blocking until at least one is
       there: returns how many, 0 at end of stream, or a negative status
       (the connection then ends: DAPPER_IPC_EVENT_DISCONNECTED with that
       status and a reason naming the op). One thread at a time (the reader
       thread, or the host's thread in recv), concurrently with write,
       shutdown and nothing else. shutdown on another thread must make a
       blocked read return (0 or a status) promptly. Required. */
    intptr_t(DAPPER_IPC_CALL *read)(void *user, void *connection, void *buf, size_t cap);
    /* Writes from buf (len > 0 bytes): returns how many were taken (at least
       1; the library calls again with the rest), or a negative status (the
       send fails with it and the connection is closed if part of a frame went
       out). One thread at a time (senders are serialised), concurrently with
       read and shutdown. It may block while the peer does not read;
       shutdown must make it return promptly. Small frames of one send or
       batch come gathered in one buffer; a frame above 64 KiB comes as its
       8-byte header, then its payload, unsplit. Required. */
    intptr_t(DAPPER_IPC_CALL *write)(void *user, void *connection, const void *buf, size_t len);
    /* Ends the stream both ways: the peer should read end-of-file, a blocked
       read returns, a blocked write fails, later ones fail. Any thread
       (cleanup's, a sender's that cut a frame, the reader's), concurrently
       with read and write; must not block. Called once. Required: it is how
       cleanup reaches a read blocked on a silent peer. */
    void(DAPPER_IPC_CALL *shutdown)(void *user, void *connection);
    /* Releases the connection. Called once, after shutdown, when no read or
       write runs or will run; any thread. Required. */
    void(DAPPER_IPC_CALL *close)(void *user, void *connection);
} dapper_ipc_transport_ops;

/* Registers a transport the host brings under name: from then on
   config->transport = name (create_listener, connect) and "--ipc name
   --ipc-address A" (connect_argv) use ops. ops is copied (struct_size
   bytes of it); user is kept and passed to every op. Registrations last as
   long as the process: a name cannot be registered twice. name: 1 to 32 of
   a-z, 0-9, '-' and '_' (compared without case).
   Thread: any.
   Returns: DAPPER_IPC_OK; DAPPER_IPC_E_INVALID_ARGUMENT: name or ops NULL,
   a bad name, the name of a built-in transport (auto, unix, tcp, pipe, ws,
   stdio: they cannot be replaced), struct_size too small, read, write,
   shutdown or close NULL, listen without launcher_address, accept,
   stop_listener or close_listener;
   DAPPER_IPC_E_INVALID_STATE: the name is already registered. */
DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_register_transport(const char *name,
                                                                     const dapper_ipc_transport_ops *ops,
                                                                     void *user);

#ifdef __cplusplus
}
#endif

#endif /* DAPPER_IPC_H */
