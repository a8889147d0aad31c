/* The cost of the library itself: time from dlopen to the first completed round trip
   (load, create listener, connect, one message each way), and the resident memory the
   process gains by loading it and opening one connection. */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int got;

static void on_message(void *u, int32_t k, const uint8_t *p, size_t n)
{
    (void)u, (void)k, (void)p, (void)n;
    pthread_mutex_lock(&lock);
    got++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_got(int n)
{
    pthread_mutex_lock(&lock);
    while (got < n)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

#define BIND(name) __typeof__(&dapper_ipc_##name) name = (__typeof__(&dapper_ipc_##name))dlsym(h, "dapper_ipc_" #name)

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long rss0 = rss_kib();
    double t0 = now_ms();
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    BIND(manager_create); BIND(config_init); BIND(create_listener); BIND(launcher_args); BIND(connect);
    BIND(set_callbacks); BIND(start_reader); BIND(wait_for_client); BIND(send); BIND(manager_destroy);

    dapper_ipc_manager s, c;
    dapper_ipc_config a, b;
    char args[512];
    size_t len;
    manager_create(&s);
    manager_create(&c);
    set_callbacks(s, on_message, NULL, NULL);
    set_callbacks(c, on_message, NULL, NULL);
    config_init(&a, sizeof a);
    a.transport = "unix";
    create_listener(s, &a);
    launcher_args(s, args, sizeof args, &len, NULL);
    start_reader(s);
    config_init(&b, sizeof b);
    b.transport = "unix";
    b.path = args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1;
    connect(c, &b);
    start_reader(c);
    wait_for_client(s, 5000);
    send(s, DAPPER_IPC_KIND_COMMAND, "{\"seq\":1}", 9);
    wait_got(1);
    send(c, DAPPER_IPC_KIND_EVENT, "{\"event\":1}", 11);
    wait_got(2);
    double t1 = now_ms();
    printf("load_to_first_round_trip_ms=%.2f rss_gain_kib=%ld\n", t1 - t0, rss_kib() - rss0);
    manager_destroy(c);
    manager_destroy(s);
    return 0;
}
