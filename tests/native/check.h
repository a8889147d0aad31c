/*
 * What the C test programs (hardening.c, lifecycle.c) share: a check that prints
 * "ok:" or "FAILED:" and counts failures, and the calling thread's last error.
 * Header-only; each program includes it once.
 */
#ifndef DAPPER_IPC_TESTS_CHECK_H
#define DAPPER_IPC_TESTS_CHECK_H

#include <dapper_ipc.h>

#include <stdarg.h>
#include <stdio.h>

/* The longest any test waits for an event before it calls the promise broken. */
#define WAIT_SECONDS 20

static int failures;

static void check(int condition, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", condition ? "ok" : "FAILED");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!condition)
        failures++;
}

static const char *last_error(void)
{
    static __thread char message[512];
    dapper_ipc_last_error(message, sizeof message, NULL);
    return message;
}

#endif
