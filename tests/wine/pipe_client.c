/* A launcher-side pipe client for the Wine lane, built with mingw. It makes exactly the
 * calls CPython's multiprocessing.connection makes for an AF_PIPE address (PipeClient,
 * PipeConnection._send_bytes / _recv_bytes / _get_more_data):
 *   connect: WaitNamedPipeW(name, 1000); CreateFileW(GENERIC_READ|GENERIC_WRITE, 0, NULL,
 *            OPEN_EXISTING, FILE_FLAG_OVERLAPPED); SetNamedPipeHandleState(PIPE_READMODE_MESSAGE)
 *   send:    one overlapped WriteFile per message, then GetOverlappedResult(wait)
 *   recv:    overlapped ReadFile of 128 bytes; on ERROR_MORE_DATA, PeekNamedPipe for the
 *            rest of the message and one more ReadFile of exactly that; ERROR_BROKEN_PIPE
 *            is end-of-file.
 * Every message must be exactly one DP v1 frame (header + payload), as the launcher's
 * recv_bytes() expects.
 *
 *   pipe_client sizes NAME          send frames of 0 B .. 4 MiB+, expect each echoed back
 *   pipe_client both NAME COUNT     send COUNT frames while reading COUNT frames
 *   pipe_client eof NAME COUNT      read COUNT frames, then expect end-of-file
 *   pipe_client garbage NAME        send bytes that are not a frame, then expect end-of-file
 *   pipe_client one NAME            send one frame, read one frame
 *   pipe_client session NAME ID COUNT
 *                                   a subprocess launcher on a session listener's pipe: send the
 *                                   sessionHello of session ID first, then COUNT frames
 *                                   {"from":"ID","n":k}; read COUNT frames, each exactly
 *                                   {"to":"ID","n":k} (no cross-talk), then expect end-of-file
 *   pipe_client refused NAME ID     send the sessionHello of session ID, then expect end-of-file
 *                                   (the listener refused it) with no message before it
 *   pipe_client silent NAME         send nothing; expect end-of-file (the hello deadline passed)
 *   pipe_client squat NAME          create the pipe first (unlimited instances), print "ready",
 *                                   hold it until stdin closes
 *   pipe_client probe NAME          probe what this OS enforces (prints "first-instance: yes|no",
 *                                   "reject-remote: accepted|refused", "default-owner: yes|no":
 *                                   whether a pipe made with default security has an owner)
 *   pipe_client listen NAME [owned] the other way round: listen as multiprocessing.connection's
 *                                   AF_PIPE Listener does (the Python and Node suites' listening
 *                                   peer on Windows), print "listening", accept one client, echo
 *                                   each frame as one message until end-of-file. "owned": the one
 *                                   difference, a security descriptor naming this user the owner
 *                                   (Wine gives a pipe made with default security no owner)
 * Listener (PipeListener._new_handle / accept): CreateNamedPipeW(PIPE_ACCESS_DUPLEX |
 * FILE_FLAG_OVERLAPPED, FILE_FLAG_FIRST_PIPE_INSTANCE on the first handle; PIPE_TYPE_MESSAGE |
 * PIPE_READMODE_MESSAGE | PIPE_WAIT; PIPE_UNLIMITED_INSTANCES; 8192-byte buffers;
 * NMPWAIT_WAIT_FOREVER); accept makes the next handle first, then an overlapped
 * ConnectNamedPipe on the first (ERROR_PIPE_CONNECTED and ERROR_NO_DATA: already connected).
 * Exit 0: passed; 1: failed (the reason on stderr).
 */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static HANDLE pipe_handle;

static void fail(const char *what, DWORD error)
{
    fprintf(stderr, "pipe_client: %s (error %lu)\n", what, (unsigned long)error);
    exit(1);
}

static wchar_t *wide(const char *s)
{
    size_t n = strlen(s) + 1;
    wchar_t *w = malloc(n * sizeof *w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, (int)n);
    return w;
}

static void connect_pipe(const char *name)
{
    wchar_t *address = wide(name);
    for (int attempt = 0;; attempt++) {
        /* multiprocessing: WaitNamedPipe(address, 1000), then CreateFile; retry on
           ERROR_SEM_TIMEOUT / ERROR_PIPE_BUSY until its timeout. */
        if (!WaitNamedPipeW(address, 1000)) {
            DWORD e = GetLastError();
            if ((e == ERROR_SEM_TIMEOUT || e == ERROR_PIPE_BUSY) && attempt < 20)
                continue;
            fail("WaitNamedPipeW", e);
        }
        pipe_handle = CreateFileW(address, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
        if (pipe_handle != INVALID_HANDLE_VALUE)
            break;
        DWORD e = GetLastError();
        if ((e == ERROR_SEM_TIMEOUT || e == ERROR_PIPE_BUSY) && attempt < 20)
            continue;
        fail("CreateFileW", e);
    }
    DWORD mode = PIPE_READMODE_MESSAGE;
    if (!SetNamedPipeHandleState(pipe_handle, &mode, NULL, NULL))
        fail("SetNamedPipeHandleState(PIPE_READMODE_MESSAGE)", GetLastError());
    free(address);
}

/* _send_bytes: one overlapped WriteFile; wait for its event; GetOverlappedResult(wait). */
static void send_message(const uint8_t *data, DWORD length)
{
    OVERLAPPED ov = {0};
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!WriteFile(pipe_handle, data, length, NULL, &ov)) {
        DWORD e = GetLastError();
        if (e != ERROR_IO_PENDING)
            fail("WriteFile", e);
        if (WaitForMultipleObjects(1, &ov.hEvent, FALSE, INFINITE) != WAIT_OBJECT_0)
            fail("WaitForMultipleObjects(write)", GetLastError());
    }
    DWORD written = 0;
    if (!GetOverlappedResult(pipe_handle, &ov, &written, TRUE))
        fail("GetOverlappedResult(write)", GetLastError());
    if (written != length)
        fail("a short write", written);
    CloseHandle(ov.hEvent);
}

/* _recv_bytes: a 128-byte overlapped ReadFile; ERROR_MORE_DATA continues with
   _get_more_data (PeekNamedPipe for what is left of the message, one ReadFile of it).
   Returns the message (caller frees) or NULL at end-of-file. */
static uint8_t *recv_message(DWORD *length)
{
    uint8_t *buffer = malloc(128);
    OVERLAPPED ov = {0};
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ReadFile(pipe_handle, buffer, 128, NULL, &ov)) {
        DWORD e = GetLastError();
        if (e == ERROR_BROKEN_PIPE) {
            CloseHandle(ov.hEvent);
            free(buffer);
            return NULL;
        }
        if (e != ERROR_IO_PENDING && e != ERROR_MORE_DATA)
            fail("ReadFile", e);
        if (e == ERROR_IO_PENDING && WaitForMultipleObjects(1, &ov.hEvent, FALSE, INFINITE) != WAIT_OBJECT_0)
            fail("WaitForMultipleObjects(read)", GetLastError());
    }
    DWORD got = 0;
    BOOL ok = GetOverlappedResult(pipe_handle, &ov, &got, TRUE);
    DWORD e = ok ? 0 : GetLastError();
    CloseHandle(ov.hEvent);
    if (ok) {
        *length = got;
        return buffer;
    }
    if (e == ERROR_BROKEN_PIPE) {
        free(buffer);
        return NULL;
    }
    if (e != ERROR_MORE_DATA)
        fail("GetOverlappedResult(read)", e);
    DWORD left = 0;
    if (!PeekNamedPipe(pipe_handle, NULL, 0, NULL, NULL, &left))
        fail("PeekNamedPipe", GetLastError());
    buffer = realloc(buffer, got + left);
    OVERLAPPED more = {0};
    more.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ReadFile(pipe_handle, buffer + got, left, NULL, &more)) {
        DWORD e2 = GetLastError();
        if (e2 != ERROR_IO_PENDING)
            fail("ReadFile(rest of the message)", e2);
        if (WaitForMultipleObjects(1, &more.hEvent, FALSE, INFINITE) != WAIT_OBJECT_0)
            fail("WaitForMultipleObjects(rest)", GetLastError());
    }
    DWORD rest = 0;
    if (!GetOverlappedResult(pipe_handle, &more, &rest, TRUE))
        fail("GetOverlappedResult(rest of the message)", GetLastError());
    if (rest != left)
        fail("the rest of the message is short", rest);
    CloseHandle(more.hEvent);
    *length = got + rest;
    return buffer;
}

/* A frame: "DP", version 1, kind, big-endian length, payload. Payload bytes follow a
   pattern from (seq, i) so the other side can check every byte. */
static uint8_t pattern(uint32_t seq, uint32_t i) { return (uint8_t)(seq * 131u + i * 7u + (i >> 8)); }

static uint8_t *make_frame(uint8_t kind, uint32_t seq, uint32_t payload, DWORD *length)
{
    uint32_t n = payload; /* from 4 bytes on, the first 4 payload bytes carry seq */
    uint8_t *f = malloc(8 + (size_t)n + 1);
    f[0] = 'D', f[1] = 'P', f[2] = 1, f[3] = kind;
    f[4] = (uint8_t)(n >> 24), f[5] = (uint8_t)(n >> 16), f[6] = (uint8_t)(n >> 8), f[7] = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++)
        f[8 + i] = pattern(seq, i);
    if (n >= 4)
        f[8] = (uint8_t)(seq >> 24), f[9] = (uint8_t)(seq >> 16), f[10] = (uint8_t)(seq >> 8), f[11] = (uint8_t)seq;
    *length = 8 + n;
    return f;
}

/* Checks that a message is exactly one well-formed frame; returns its payload length. */
static uint32_t check_frame(const uint8_t *m, DWORD length, const char *what)
{
    if (length < 8 || m[0] != 'D' || m[1] != 'P' || m[2] != 1)
        fail(what, length);
    uint32_t n = (uint32_t)m[4] << 24 | (uint32_t)m[5] << 16 | (uint32_t)m[6] << 8 | m[7];
    if (n != length - 8) {
        fprintf(stderr, "pipe_client: %s: a message of %lu bytes holds a frame of %lu: not one frame per message\n", what,
                (unsigned long)length, (unsigned long)n + 8);
        exit(1);
    }
    return n;
}

/* The next message, which must be one whole frame (its payload length in *n); end-of-file
   fails with early_eof. */
static uint8_t *recv_frame(const char *what, const char *early_eof, uint32_t k, uint32_t *n)
{
    DWORD got;
    uint8_t *m = recv_message(&got);
    if (m == NULL)
        fail(early_eof, k);
    *n = check_frame(m, got, what);
    return m;
}

static uint32_t frame_seq(const uint8_t *m, uint32_t n)
{
    return n < 4 ? 0 : (uint32_t)m[8] << 24 | (uint32_t)m[9] << 16 | (uint32_t)m[10] << 8 | m[11];
}

static void check_payload(const uint8_t *m, uint32_t n, uint32_t seq, const char *what)
{
    for (uint32_t i = n < 4 ? 0 : 4; i < n; i++)
        if (m[8 + i] != pattern(seq, i)) {
            fprintf(stderr, "pipe_client: %s: payload byte %lu of frame %lu differs\n", what, (unsigned long)i, (unsigned long)seq);
            exit(1);
        }
}

static int run_sizes(void)
{
    static const uint32_t sizes[] = {0, 1, 3, 4, 127, 128, 129, 4096, 65535, 65536, 65537, 1 << 20, (4u << 20) + 7};
    for (uint32_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        DWORD length;
        uint8_t *f = make_frame(1, k, sizes[k], &length);
        send_message(f, length);
        free(f);
        DWORD got;
        uint8_t *m = recv_message(&got);
        if (m == NULL)
            fail("end-of-file instead of the echo", k);
        uint32_t n = check_frame(m, got, "echo");
        if (n != sizes[k] || (n >= 4 && frame_seq(m, n) != k))
            fail("the echo is not the frame sent", k);
        check_payload(m, n, k, "echo");
        free(m);
        printf("echo %lu bytes: ok\n", (unsigned long)sizes[k]);
    }
    return 0;
}

static uint32_t both_count;

static DWORD WINAPI writer(void *arg)
{
    (void)arg;
    for (uint32_t k = 0; k < both_count; k++) {
        DWORD length;
        uint8_t *f = make_frame(1, k, 4 + (k * 7919u) % 70000u, &length);
        send_message(f, length);
        free(f);
    }
    return 0;
}

static int run_both(uint32_t count)
{
    both_count = count;
    HANDLE t = CreateThread(NULL, 0, writer, NULL, 0, NULL);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t n;
        uint8_t *m = recv_frame("both", "end-of-file before every frame arrived", k, &n);
        if (frame_seq(m, n) != k || n != 4 + (k * 7919u) % 70000u)
            fail("a frame out of order or of the wrong size", k);
        check_payload(m, n, k, "both");
        free(m);
    }
    WaitForSingleObject(t, INFINITE);
    printf("both ways: %lu frames each way: ok\n", (unsigned long)count);
    return 0;
}

static int run_eof(uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        uint32_t n;
        uint8_t *m = recv_frame("eof", "end-of-file before every frame sent before cleanup arrived", k, &n);
        if (frame_seq(m, n) != k)
            fail("a frame out of order", k);
        free(m);
    }
    DWORD got;
    if (recv_message(&got) != NULL)
        fail("a message after the last frame instead of end-of-file", got);
    printf("eof: %lu frames, then end-of-file: ok\n", (unsigned long)count);
    return 0;
}

static int run_garbage(void)
{
    const char *junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    send_message((const uint8_t *)junk, (DWORD)strlen(junk));
    DWORD got;
    uint8_t *m = recv_message(&got);
    if (m != NULL)
        fail("a message instead of end-of-file after garbage", got);
    printf("garbage: the server closed the pipe: ok\n");
    return 0;
}

static int run_one(void)
{
    DWORD length;
    uint8_t *f = make_frame(1, 1, 16, &length);
    send_message(f, length);
    free(f);
    DWORD got;
    uint8_t *m = recv_message(&got);
    if (m == NULL)
        fail("end-of-file instead of a frame", 0);
    check_frame(m, got, "one");
    free(m);
    printf("one: ok\n");
    return 0;
}

/* One kind-1 frame of a JSON text, as one message. */
static void send_json(const char *json)
{
    size_t n = strlen(json);
    uint8_t *f = malloc(8 + n);
    f[0] = 'D', f[1] = 'P', f[2] = 1, f[3] = 1;
    f[4] = (uint8_t)(n >> 24), f[5] = (uint8_t)(n >> 16), f[6] = (uint8_t)(n >> 8), f[7] = (uint8_t)n;
    memcpy(f + 8, json, n);
    send_message(f, (DWORD)(8 + n));
    free(f);
}

static void send_hello(const char *id)
{
    char hello[512];
    snprintf(hello, sizeof hello,
             "{\"event\":\"dapper/sessionHello\",\"body\":{\"sessionId\":\"%s\",\"parentSessionId\":\"root\",\"pid\":%lu}}", id,
             (unsigned long)GetCurrentProcessId());
    send_json(hello);
}

static int run_session(const char *id, uint32_t count)
{
    char text[256];
    send_hello(id);
    for (uint32_t k = 0; k < count; k++) {
        snprintf(text, sizeof text, "{\"from\":\"%s\",\"n\":%lu}", id, (unsigned long)k);
        send_json(text);
    }
    for (uint32_t k = 0; k < count; k++) {
        uint32_t n;
        uint8_t *m = recv_frame("session", "end-of-file before every frame of the session arrived", k, &n);
        snprintf(text, sizeof text, "{\"to\":\"%s\",\"n\":%lu}", id, (unsigned long)k);
        if (m[3] != 1 || n != strlen(text) || memcmp(m + 8, text, n) != 0) {
            fprintf(stderr, "pipe_client: session %s: frame %lu is %.*s, not %s\n", id, (unsigned long)k, (int)n, (const char *)m + 8, text);
            exit(1);
        }
        free(m);
    }
    DWORD got;
    if (recv_message(&got) != NULL)
        fail("a message after the session's last frame instead of end-of-file", got);
    printf("session %s: %lu frames each way, then end-of-file: ok\n", id, (unsigned long)count);
    return 0;
}

static int run_refused(const char *id)
{
    if (id != NULL)
        send_hello(id);
    DWORD got;
    if (recv_message(&got) != NULL)
        fail("a message instead of end-of-file after a hello the listener should refuse", got);
    printf("refused %s: the listener closed the pipe: ok\n", id != NULL ? id : "(silent)");
    return 0;
}

/* What the OS enforces of CreateNamedPipe's flags, so the lane reports a check it cannot
   make as skipped. NAME must be unused. */
static int run_probe(const char *name)
{
    wchar_t *w = wide(name);
    HANDLE a = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 2, 4096, 4096, 0, NULL);
    if (a == INVALID_HANDLE_VALUE)
        fail("CreateNamedPipeW(probe)", GetLastError());
    HANDLE b = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_TYPE_MESSAGE, 2, 4096, 4096, 0, NULL);
    printf("first-instance: %s\n", b == INVALID_HANDLE_VALUE ? "yes" : "no");
    if (b != INVALID_HANDLE_VALUE)
        CloseHandle(b);
    CloseHandle(a);
    /* Remote clients need a second machine: only whether the flag is accepted is known. */
    HANDLE c = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_REJECT_REMOTE_CLIENTS, 1, 4096, 4096, 0, NULL);
    printf("reject-remote: %s\n", c == INVALID_HANDLE_VALUE ? "refused" : "accepted");
    if (c != INVALID_HANDLE_VALUE)
        CloseHandle(c);
    /* A pipe made with default security, as multiprocessing makes its pipes: does it have
       an owner a client can check? (Windows: always; Wine: none.) */
    HANDLE d = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 1, 4096, 4096, 0, NULL);
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR descriptor = NULL;
    int has_owner = d != INVALID_HANDLE_VALUE &&
                    GetSecurityInfo(d, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL,
                                    &descriptor) == ERROR_SUCCESS &&
                    owner != NULL;
    printf("default-owner: %s\n", has_owner ? "yes" : "no");
    if (descriptor != NULL)
        LocalFree(descriptor);
    if (d != INVALID_HANDLE_VALUE)
        CloseHandle(d);
    free(w);
    return 0;
}

static int run_squat(const char *name)
{
    wchar_t *w = wide(name);
    HANDLE a = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
    if (a == INVALID_HANDLE_VALUE)
        fail("CreateNamedPipeW(squat)", GetLastError());
    printf("ready\n");
    char line[16];
    while (fgets(line, sizeof line, stdin) != NULL) {
    }
    CloseHandle(a);
    free(w);
    return 0;
}

/* "owned": owner and only user this process's user, the security the library's own listener sets. */
static SECURITY_ATTRIBUTES *owned_by_this_user(void)
{
    static SECURITY_ATTRIBUTES attributes;
    HANDLE token;
    char user[256];
    DWORD n;
    wchar_t *sid, sddl[512];
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) ||
        !GetTokenInformation(token, TokenUser, user, sizeof user, &n) ||
        !ConvertSidToStringSidW(((TOKEN_USER *)user)->User.Sid, &sid))
        fail("the user's SID", GetLastError());
    CloseHandle(token);
    swprintf(sddl, sizeof sddl / sizeof *sddl, L"O:%lsD:P(A;;GA;;;%ls)", sid, sid);
    LocalFree(sid);
    attributes.nLength = sizeof attributes;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &attributes.lpSecurityDescriptor, NULL))
        fail("ConvertStringSecurityDescriptorToSecurityDescriptorW", GetLastError());
    return &attributes;
}

/* PipeListener._new_handle: BUFSIZE is 8192 in multiprocessing.connection; security NULL
   (the default) unless "owned". */
static SECURITY_ATTRIBUTES *listener_security;

static HANDLE listener_handle(const wchar_t *name, int first)
{
    DWORD flags = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    HANDLE h = CreateNamedPipeW(name, flags, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                PIPE_UNLIMITED_INSTANCES, 8192, 8192, NMPWAIT_WAIT_FOREVER, listener_security);
    if (h == INVALID_HANDLE_VALUE)
        fail("CreateNamedPipeW(listener)", GetLastError());
    return h;
}

static int run_listen(const char *name)
{
    wchar_t *w = wide(name);
    HANDLE first = listener_handle(w, 1);
    printf("listening\n");
    /* accept(): the next instance first, then wait for a client on the first one. */
    HANDLE next = listener_handle(w, 0);
    OVERLAPPED ov = {0};
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ConnectNamedPipe(first, &ov)) {
        DWORD e = GetLastError();
        if (e == ERROR_IO_PENDING) {
            if (WaitForMultipleObjects(1, &ov.hEvent, FALSE, INFINITE) != WAIT_OBJECT_0)
                fail("WaitForMultipleObjects(accept)", GetLastError());
            DWORD ignored;
            if (!GetOverlappedResult(first, &ov, &ignored, TRUE))
                fail("GetOverlappedResult(accept)", GetLastError());
        } else if (e != ERROR_PIPE_CONNECTED && e != ERROR_NO_DATA) {
            fail("ConnectNamedPipe", e);
        }
    }
    CloseHandle(ov.hEvent);
    pipe_handle = first;
    uint32_t frames = 0;
    DWORD got;
    uint8_t *m;
    while ((m = recv_message(&got)) != NULL) {
        check_frame(m, got, "listen");
        send_message(m, got);
        free(m);
        frames++;
    }
    printf("listen: %lu frames echoed, then end-of-file: ok\n", (unsigned long)frames);
    CloseHandle(first);
    CloseHandle(next);
    free(w);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: pipe_client sizes|both|eof|garbage|one|session|refused|silent|squat|probe|listen NAME [COUNT|owned|ID [COUNT]]\n");
        return 2;
    }
    const char *mode = argv[1], *name = argv[2];
    if (strcmp(mode, "probe") == 0)
        return run_probe(name);
    if (strcmp(mode, "squat") == 0)
        return run_squat(name);
    if (strcmp(mode, "listen") == 0) {
        if (argc >= 4 && strcmp(argv[3], "owned") == 0)
            listener_security = owned_by_this_user();
        return run_listen(name);
    }
    connect_pipe(name);
    if (strcmp(mode, "sizes") == 0)
        return run_sizes();
    if (strcmp(mode, "both") == 0 && argc >= 4)
        return run_both((uint32_t)strtoul(argv[3], NULL, 10));
    if (strcmp(mode, "eof") == 0 && argc >= 4)
        return run_eof((uint32_t)strtoul(argv[3], NULL, 10));
    if (strcmp(mode, "garbage") == 0)
        return run_garbage();
    if (strcmp(mode, "one") == 0)
        return run_one();
    if (strcmp(mode, "session") == 0 && argc >= 5)
        return run_session(argv[3], (uint32_t)strtoul(argv[4], NULL, 10));
    if (strcmp(mode, "refused") == 0 && argc >= 4)
        return run_refused(argv[3]);
    if (strcmp(mode, "silent") == 0)
        return run_refused(NULL);
    fprintf(stderr, "pipe_client: unknown mode %s\n", mode);
    return 2;
}
