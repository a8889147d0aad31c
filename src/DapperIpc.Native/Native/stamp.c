/*
 * Clocks for the statistics and the heartbeats, outside .NET's own, which pay a GC
 * transition per read.
 *
 * dapper_ipc_stamp: read once per read of the socket (last_receive_ms_ago), so it must
 * cost next to nothing: the CPU's invariant time-stamp counter where there is one (x86-64
 * with CPUID 80000007h EDX bit 8; the generic timer's virtual count on arm64), else
 * CLOCK_MONOTONIC in ns. Its unit is unknown here: managed code converts stamps to
 * milliseconds against the Stopwatch (Transports/StampClock.cs).
 *
 * dapper_ipc_coarse_ms: milliseconds of a cheap monotonic clock, for the heartbeat thread.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "shim.h"

#if defined(__x86_64__) || defined(__i386__)
static int invariant_tsc;

/* At load: whether the counter ticks at one rate in every power state (and so measures time). */
__attribute__((constructor)) static void probe_tsc(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d))
        invariant_tsc = (d >> 8) & 1;
}
#endif

static int64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

DAPPER_IPC_SHIM_API int64_t dapper_ipc_stamp(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_expect(invariant_tsc, 1))
        return (int64_t)__rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return (int64_t)v;
#endif
    return monotonic_ns();
}

DAPPER_IPC_SHIM_API int64_t dapper_ipc_coarse_ms(void)
{
    struct timespec t;
#if defined(CLOCK_MONOTONIC_COARSE)
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
#else
    clock_gettime(CLOCK_MONOTONIC, &t);
#endif
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
