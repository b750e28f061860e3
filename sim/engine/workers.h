/*
 * A small pool of worker threads for the engine: one job at a time, cut
 * into parts; the calling thread (the loop, which owns all I/O) runs part
 * 0 itself and returns when every part is done. Nothing but the job's
 * own data is touched by the workers.
 */
#ifndef SIM_WORKERS_H
#define SIM_WORKERS_H

#include <pthread.h>
#include <stdbool.h>

typedef void workers_fn(void *ctx, unsigned part);

struct workers {
    unsigned count;             /* parts: the caller and count - 1 threads */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    unsigned long generation;   /* a new job when it changes */
    unsigned pending;           /* parts still running */
    bool quit;
    workers_fn *fn;
    void *ctx;
};

/* Start count - 1 threads (count 1: none). 0, or -1 when a thread could
 * not be started (then the pool runs every part on the caller). */
int workers_start(struct workers *w, unsigned count);

/* Run fn(ctx, part) for part 0 .. count - 1, part 0 on this thread. */
void workers_run(struct workers *w, workers_fn *fn, void *ctx);

void workers_stop(struct workers *w);

#endif
