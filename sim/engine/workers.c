#include "sim/engine/workers.h"

#include <stdlib.h>
#include <string.h>

struct worker_arg {
    struct workers *w;
    unsigned part;
};

static void *worker_main(void *p)
{
    struct worker_arg a = *(struct worker_arg *)p;
    struct workers *w = a.w;
    unsigned long seen = 0;

    free(p);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->quit && w->generation == seen)
            pthread_cond_wait(&w->go, &w->lock);
        if (w->quit)
            break;
        seen = w->generation;
        pthread_mutex_unlock(&w->lock);
        w->fn(w->ctx, a.part);
        pthread_mutex_lock(&w->lock);
        if (--w->pending == 0)
            pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int workers_start(struct workers *w, unsigned count)
{
    memset(w, 0, sizeof *w);
    w->count = 1;
    if (count <= 1)
        return 0;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->go, NULL);
    pthread_cond_init(&w->done, NULL);
    w->threads = calloc(count - 1, sizeof *w->threads);
    if (!w->threads)
        return -1;
    for (unsigned k = 1; k < count; k++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (!a)
            return -1;
        *a = (struct worker_arg){ w, k };
        if (pthread_create(&w->threads[k - 1], NULL, worker_main, a)) {
            free(a);
            return -1;
        }
        w->count = k + 1;
    }
    return 0;
}

void workers_run(struct workers *w, workers_fn *fn, void *ctx)
{
    if (w->count <= 1) {
        fn(ctx, 0);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->fn = fn;
    w->ctx = ctx;
    w->pending = w->count - 1;
    w->generation++;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->lock);
    fn(ctx, 0);
    pthread_mutex_lock(&w->lock);
    while (w->pending > 0)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void workers_stop(struct workers *w)
{
    if (!w->threads)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->lock);
    for (unsigned k = 1; k < w->count; k++)
        pthread_join(w->threads[k - 1], NULL);
    free(w->threads);
    w->threads = NULL;
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->go);
    pthread_cond_destroy(&w->done);
    w->count = 1;
}
