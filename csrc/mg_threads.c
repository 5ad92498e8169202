/* mg_threads.c -- a replay's chunks shared out over threads (mg_tape.h,
 * mg_tape_run; docs/design.md, "Reductions and threads").
 *
 * The calling thread and nthreads - 1 threads started for the call take
 * chunks in waves: within a wave any thread takes the next chunk not taken,
 * and writes its sums into that chunk's slot; at the end of a wave the
 * calling thread adds the slots in chunk order.  Which thread ran a chunk
 * changes no bit, so results are the same for any number of threads.  Waves
 * bound the memory for the slots; the threads live for one call, so nothing
 * survives it (no pool to break across fork()).
 *
 * The calling thread also calls check(ctx) after each chunk it runs (the
 * Cython layer checks for Ctrl-C there); a nonzero result stops every thread
 * at its next chunk and mg_tape_run returns it, having added nothing. */
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

#if !defined(_WIN32)
#include <pthread.h>
#define MG_THREADS 1
#endif

/* Chunks a wave holds per thread at least, and the doubles of chunk sums a
 * wave may hold (32 MiB) when that allows more. */
#define MG_WAVE 4
#define MG_SLOTS ((size_t)4 << 20)

/* What starting and joining a thread costs, in ns of work it must save; and
 * the rate at which its core's caches fill with its workspace and the packed
 * weights (bytes per ns), which a fresh thread pays for again every call. */
#define MG_THREAD_NS 30000.0
#define MG_FILL_RATE 10.0

typedef struct {
    const mg_tape *t;
    const mg_run *run;            /* the call's run; param_sum and out_sum unset */
    size_t B, nchunks, wave, start, count, next;
    int sums_wanted;
    double *sums, *outs;          /* per chunk of the wave: npar sums, 1 out */
    int stop, done_waves;
#ifdef MG_THREADS
    pthread_mutex_t lock;
    pthread_cond_t go, idle;
#endif
    int waiting, nthreads, epoch;
} job;

/* One chunk of the wave, by whichever thread took it. */
static void one_chunk(job *j, mg_work *w, size_t c)
{
    mg_run run = *j->run;
    size_t L = j->t->lanes, first = (j->start + c) * L;
    run.param_sum = j->sums_wanted ? j->sums + c * j->t->npar : NULL;
    run.out_sum = j->outs + c;
    mg_tape_chunk(j->t, w, &run, first, (j->B - first < L) ? j->B - first : L);
}

/* The next chunk of the wave for this thread, or (size_t)-1. */
static size_t take(job *j)
{
    size_t c = (size_t)-1;
#ifdef MG_THREADS
    int shared = j->nthreads > 1;        /* alone, the lock was never made */
    if (shared) pthread_mutex_lock(&j->lock);
#endif
    if (!j->stop && j->next < j->count) c = j->next++;
#ifdef MG_THREADS
    if (shared) pthread_mutex_unlock(&j->lock);
#endif
    return c;
}

#ifdef MG_THREADS
typedef struct {
    job *j;
    mg_work *w;
} worker;

/* A started thread: runs chunks while a wave has some, then waits for the
 * next wave (epoch) or the end (done_waves). */
static void *work(void *arg)
{
    worker *me = arg;
    job *j = me->j;
    int seen = 0;
    for (;;) {
        size_t c;
        pthread_mutex_lock(&j->lock);
        while (j->epoch == seen && !j->done_waves) pthread_cond_wait(&j->go, &j->lock);
        if (j->done_waves) {
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
        seen = j->epoch;
        pthread_mutex_unlock(&j->lock);
        while ((c = take(j)) != (size_t)-1) one_chunk(j, me->w, c);
        pthread_mutex_lock(&j->lock);
        if (++j->waiting == j->nthreads - 1) pthread_cond_signal(&j->idle);
        pthread_mutex_unlock(&j->lock);
    }
}
#endif

size_t mg_tape_wave(const mg_tape *t, size_t B, int nthreads)
{
    size_t nchunks = (B + t->lanes - 1) / t->lanes, wave;
    if (nthreads <= 1) return 1;                 /* each chunk added at once */
    /* as many chunks as MG_SLOTS doubles of sums hold, at least MG_WAVE a
     * thread: a wave ends with every thread but one idle while the last
     * chunk finishes and the sums are added, so fewer waves waste less */
    wave = MG_SLOTS / ((size_t)t->npar + 1);
    if (wave < (size_t)nthreads * MG_WAVE) wave = (size_t)nthreads * MG_WAVE;
    return wave < nchunks ? wave : (nchunks ? nchunks : 1);
}

int mg_tape_run(const mg_tape *t, mg_work *works, int nthreads, const mg_run *run, size_t B,
                double *slots, double *param_total, double *out_total, int (*check)(void *),
                void *ctx)
{
    job j;
    size_t i, c, npar = t->npar, L = t->lanes;
    int status = 0, started = 0;
#ifdef MG_THREADS
    pthread_t *ids = NULL;
    worker *ws = NULL;
#endif
    memset(&j, 0, sizeof j);
    j.t = t;
    j.run = run;
    j.B = B;
    j.nchunks = (B + L - 1) / L;
    j.sums_wanted = param_total != NULL;
#ifndef MG_THREADS
    nthreads = 1;
#endif
    if (nthreads < 1) nthreads = 1;
    if ((size_t)nthreads > j.nchunks) nthreads = j.nchunks ? (int)j.nchunks : 1;
    j.nthreads = nthreads;
    j.wave = mg_tape_wave(t, B, nthreads);
    j.sums = slots;
    j.outs = slots + j.wave * npar;
    *out_total = 0.0;
#ifdef MG_THREADS
    if (nthreads > 1) {
        ids = malloc((size_t)nthreads * sizeof *ids);
        ws = malloc((size_t)nthreads * sizeof *ws);
        if (ids == NULL || ws == NULL || pthread_mutex_init(&j.lock, NULL) != 0) {
            status = -1;
            goto out;
        }
        pthread_cond_init(&j.go, NULL);
        pthread_cond_init(&j.idle, NULL);
        for (i = 1; i < (size_t)nthreads; i++) {
            ws[i].j = &j;
            ws[i].w = &works[i];
            if (pthread_create(&ids[i], NULL, work, &ws[i]) != 0) break;
            started++;
        }
        j.nthreads = started + 1;      /* the threads that could be started */
    }
#endif
    for (j.start = 0; j.start < j.nchunks && status == 0; j.start += j.count) {
        j.count = (j.nchunks - j.start < j.wave) ? j.nchunks - j.start : j.wave;
        j.next = 0;
#ifdef MG_THREADS
        if (started) {
            pthread_mutex_lock(&j.lock);
            j.waiting = 0;
            j.epoch++;
            pthread_cond_broadcast(&j.go);
            pthread_mutex_unlock(&j.lock);
        }
#endif
        while ((c = take(&j)) != (size_t)-1) {
            one_chunk(&j, &works[0], c);
            if (check && (status = check(ctx)) != 0) {
#ifdef MG_THREADS
                if (started) pthread_mutex_lock(&j.lock);
#endif
                j.stop = 1;
#ifdef MG_THREADS
                if (started) pthread_mutex_unlock(&j.lock);
#endif
            }
        }
#ifdef MG_THREADS
        if (started) {
            pthread_mutex_lock(&j.lock);
            while (j.waiting < started) pthread_cond_wait(&j.idle, &j.lock);
            pthread_mutex_unlock(&j.lock);
        }
#endif
        if (status) break;
        for (c = 0; c < j.count; c++) {       /* in chunk order */
            *out_total += j.outs[c];
            if (param_total) mg_tape_add(param_total, j.sums + c * npar, npar);
            /* kept for a caller that adds them to other shards' (micrograd/_shards.py) */
            if (run->chunk_outs) run->chunk_outs[j.start + c] = j.outs[c];
            if (run->chunk_sums && param_total)
                memcpy(run->chunk_sums + (j.start + c) * npar, j.sums + c * npar,
                       npar * sizeof(double));
        }
    }
#ifdef MG_THREADS
    if (started) {
        pthread_mutex_lock(&j.lock);
        j.done_waves = 1;
        pthread_cond_broadcast(&j.go);
        pthread_mutex_unlock(&j.lock);
        for (i = 1; i <= (size_t)started; i++) pthread_join(ids[i], NULL);
    }
    if (nthreads > 1 && ids != NULL && ws != NULL) {
        pthread_cond_destroy(&j.go);
        pthread_cond_destroy(&j.idle);
        pthread_mutex_destroy(&j.lock);
    }
out:
    free(ids);
    free(ws);
#endif
    return status;
}

/* The threads worth using for B lanes, at most `requested`: never more than
 * chunks, and more than one only where the work they take off the slowest
 * thread (estimated from the tape: its instructions, and its dense runs'
 * multiply-adds, per lane) is above what starting them and filling their
 * caches costs.  Chunks
 * are whole, so two threads on 100 lanes in chunks of 64 save only 36. */
int mg_tape_threads(const mg_tape *t, size_t B, int requested)
{
    size_t r, L = t->lanes, nchunks = (B + L - 1) / L;
    double per_lane = 0.5 * (double)t->ncode;
    double cost = MG_THREAD_NS + (16.0 * (double)t->nlane * (double)L
                                  + 8.0 * (double)t->npacked) / MG_FILL_RATE;
    int n;
    for (r = 0; r < t->ndense; r++)
        per_lane += 0.04 * 3.0 * (double)(t->dense[r].len * t->dense[r].half);
    for (n = requested; n > 1; n--) {
        size_t most = (nchunks + (size_t)n - 1) / (size_t)n * L;   /* the slowest's lanes */
        if ((size_t)n <= nchunks && most < B
            && per_lane * (double)(B - most) >= cost * (n - 1))
            break;
    }
    return n < 1 ? 1 : n;
}
