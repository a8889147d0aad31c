/*
 * iceoryx's C binding (Debian package libiceoryx-binding-c-dev), the reference the shm
 * transport is compared with in bench/run.py: a 128-byte ping-pong between two processes,
 * each publisher loaning a chunk, each subscriber woken by a WaitSet (iceoryx's blocking
 * wait, as our reader's futex). iox-roudi must be running (run.py starts one).
 *
 *   iceoryx_rtt ping N SECONDS SAMPLES   measures N round trips (or SECONDS), writes doubles
 *   iceoryx_rtt pong                     answers until killed
 *
 * Prints n= p50_us= p99_us= as bench.c's rtt does.
 */
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct end {
    iox_pub_storage_t pub_storage;
    iox_sub_storage_t sub_storage;
    iox_ws_storage_t ws_storage;
    iox_pub_t pub;
    iox_sub_t sub;
    iox_ws_t ws;
};

static void open_end(struct end *e, const char *out, const char *in)
{
    iox_pub_options_t po;
    iox_pub_options_init(&po);
    po.historyCapacity = 0;
    e->pub = iox_pub_init(&e->pub_storage, "DapperBench", "Rtt", out, &po);
    iox_sub_options_t so;
    iox_sub_options_init(&so);
    so.queueCapacity = 16;
    so.historyRequest = 0;
    e->sub = iox_sub_init(&e->sub_storage, "DapperBench", "Rtt", in, &so);
    e->ws = iox_ws_init(&e->ws_storage);
    iox_ws_attach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA, 0, NULL);
}

static int send128(struct end *e, const void *payload)
{
    void *chunk;
    if (iox_pub_loan_chunk(e->pub, &chunk, 128) != AllocationResult_SUCCESS)
        return 0;
    memcpy(chunk, payload, 128);
    iox_pub_publish_chunk(e->pub, chunk);
    return 1;
}

/* Waits for one sample and copies it out. */
static void take128(struct end *e, void *out)
{
    const void *chunk;
    while (iox_sub_take_chunk(e->sub, &chunk) != ChunkReceiveResult_SUCCESS) {
        iox_notification_info_t infos[4];
        uint64_t missed;
        iox_ws_wait(e->ws, infos, 4, &missed);
    }
    memcpy(out, chunk, 128);
    iox_sub_release_chunk(e->sub, chunk);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "pong") == 0) {
        iox_runtime_init("dapper-bench-pong");
        struct end e;
        open_end(&e, "Pong", "Ping");
        char buf[128];
        for (;;) {
            take128(&e, buf);
            send128(&e, buf);
        }
    }
    if (argc != 5 || strcmp(argv[1], "ping") != 0) {
        fprintf(stderr, "usage: %s ping N SECONDS SAMPLES | pong\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    double deadline = now_us() + atof(argv[3]) * 1e6;
    iox_runtime_init("dapper-bench-ping");
    struct end e;
    open_end(&e, "Ping", "Pong");
    while ((!iox_pub_has_subscribers(e.pub) || iox_sub_get_subscription_state(e.sub) != SubscribeState_SUBSCRIBED)
           && now_us() < deadline)
        usleep(1000);
    char buf[128];
    memset(buf, 'x', sizeof buf);
    long warmup = n / 10;
    double *samples = malloc(sizeof(double) * (size_t)(n + warmup));
    long got = 0;
    for (; got < n + warmup && now_us() < deadline; got++) {
        double t0 = now_us();
        if (!send128(&e, buf))
            break;
        take128(&e, buf);
        samples[got] = now_us() - t0;
    }
    long kept = got > warmup ? got - warmup : got;
    double *s = samples + (got - kept);
    FILE *f = fopen(argv[4], "wb");
    if (f != NULL) {
        fwrite(s, sizeof(double), (size_t)kept, f);
        fclose(f);
    }
    qsort(s, (size_t)kept, sizeof(double), cmp);
    if (kept == 0) {
        printf("n=0\n");
        return 1;
    }
    printf("n=%ld p50_us=%.2f p99_us=%.2f\n", kept, s[kept / 2], s[kept * 99 / 100]);
    return 0;
}
