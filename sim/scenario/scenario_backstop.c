/*
 * The watchdog's backstop thread (scenario_backstop.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim/base/log.h"
#include "sim/base/monotonic.h"
#include "sim/scenario/scenario_backstop.h"

#define NOT_IN_LUA INT64_MIN

struct sc_backstop {
    pthread_t thread;
    pthread_mutex_t lock;       /* with wake: stop at once */
    pthread_cond_t wake;
    bool stop;                  /* under lock */
    _Atomic int64_t since_ms;   /* monotonic ms the call began; NOT_IN_LUA */
    _Atomic int64_t limit_ms;   /* the watchdog; 0 none */
    char path[4096];            /* the script: written before the thread */
};

/* Everything the thread does once the script is stuck: one line on
 * stderr with write(2), then _exit. */
static void give_up(const struct sc_backstop *b, int64_t limit_ms)
{
    char msg[4400];
    int n = snprintf(msg, sizeof msg, "kpm31c-sim: error: scenario %s: the "
                     "watchdog (%g s) could not stop the script: it is "
                     "inside a C function (a string pattern?); stopping "
                     "the process\n", b->path, (double)limit_ms / 1000);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n
                                                     : sizeof msg - 1;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, msg + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    _exit(2);
}

static void *watch(void *arg)
{
    struct sc_backstop *b = arg;
    struct timespec at;

    clock_gettime(CLOCK_MONOTONIC, &at);
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        at.tv_nsec += SC_BACKSTOP_PERIOD_MS * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->wake, &b->lock, &at);
        if (b->stop)
            break;
        int64_t since = atomic_load(&b->since_ms);
        int64_t limit = atomic_load(&b->limit_ms);
        if (since != NOT_IN_LUA && limit > 0 &&
            monotonic_ms() - since > limit + SC_BACKSTOP_GRACE_MS)
            give_up(b, limit);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

struct sc_backstop *sc_backstop_start(const char *path)
{
    struct sc_backstop *b = calloc(1, sizeof *b);
    pthread_condattr_t ca;
    int err = ENOMEM;

    if (!b)
        goto fail;
    snprintf(b->path, sizeof b->path, "%s", path);
    atomic_init(&b->since_ms, NOT_IN_LUA);
    atomic_init(&b->limit_ms, 0);
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_init(&ca);
    /* the period in monotonic time, like the stamps */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &ca);
    pthread_condattr_destroy(&ca);
    err = pthread_create(&b->thread, NULL, watch, b);
    if (err == 0)
        return b;
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free(b);
fail:
    log_warn("scenario %s: the watchdog's backstop thread cannot start "
             "(%s): a script stuck in a C function is not stopped", path,
             strerror(err));
    return NULL;
}

void sc_backstop_limit(struct sc_backstop *b, double watchdog_s)
{
    if (b)
        atomic_store(&b->limit_ms, watchdog_s > 0
                     ? (int64_t)ceil(watchdog_s * 1000) : 0);
}

void sc_backstop_enter(struct sc_backstop *b)
{
    if (b)
        atomic_store(&b->since_ms, monotonic_ms());
}

void sc_backstop_leave(struct sc_backstop *b)
{
    if (b)
        atomic_store(&b->since_ms, NOT_IN_LUA);
}

void sc_backstop_stop(struct sc_backstop *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
