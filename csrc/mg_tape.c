/* mg_tape.c -- building a tape from a graph: flattening, the rewrites that
 * change no bit (a layer's activations after the layer; first contributions;
 * dense runs), the checks of a tape rebuilt from a pickle, and workspaces.
 * mg_tape.h has the layout; mg_replay.c runs it; docs/design.md ("The tape")
 * explains both. */
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

/* ---- building ------------------------------------------------------------ */

/* An open-addressing map from node pointers to references. */
typedef struct {
    mg_node **keys;
    mg_ref *vals;
    size_t cap, len;
} refmap;

static size_t slot_of(const refmap *m, const mg_node *key)
{
    size_t h = (size_t)(((uintptr_t)key >> 4) * (uintptr_t)0x9E3779B97F4A7C15ull);
    size_t i = h & (m->cap - 1);
    while (m->keys[i] != NULL && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_init(refmap *m, size_t expected)
{
    m->cap = 64;
    while (m->cap < 2 * expected + 2) m->cap *= 2;
    m->len = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    return (m->keys && m->vals) ? 0 : -1;
}

static void map_free(refmap *m)
{
    free(m->keys);
    free(m->vals);
}

/* 1 and *ref if present, 0 if not, -1 out of memory (growing). */
static int map_get(const refmap *m, const mg_node *key, mg_ref *ref)
{
    size_t i = slot_of(m, key);
    if (m->keys[i] == NULL) return 0;
    *ref = m->vals[i];
    return 1;
}

static int map_put(refmap *m, mg_node *key, mg_ref ref)
{
    size_t i;
    if (2 * (m->len + 1) > m->cap) {
        refmap bigger;
        size_t j;
        if (map_init(&bigger, m->cap) < 0) { map_free(&bigger); return -1; }
        for (j = 0; j < m->cap; j++)
            if (m->keys[j] != NULL) {
                size_t k = slot_of(&bigger, m->keys[j]);
                bigger.keys[k] = m->keys[j];
                bigger.vals[k] = m->vals[j];
                bigger.len++;
            }
        map_free(m);
        *m = bigger;
    }
    i = slot_of(m, key);
    if (m->keys[i] == NULL) m->len++;
    m->keys[i] = key;
    m->vals[i] = ref;
    return 0;
}

typedef struct {
    refmap map;
    mg_node **params;
    size_t npar, parcap;
    uint32_t nlane;
} builder;

/* The reference of an operand: a lane slot, or a parameter (a leaf seen for
 * the first time becomes the next one).  -1 out of memory. */
static int ref_of(builder *b, mg_node *node, mg_ref *ref)
{
    int found = map_get(&b->map, node, ref);
    if (found) return 0;
    if (b->npar == b->parcap) {
        size_t cap = b->parcap ? 2 * b->parcap : 64;
        mg_node **p = realloc(b->params, cap * sizeof *p);
        if (p == NULL) return -1;
        b->params = p;
        b->parcap = cap;
    }
    *ref = b->nlane + (mg_ref)b->npar;
    b->params[b->npar++] = node;
    return map_put(&b->map, node, *ref);
}


/* Whether dots k and m have the same second half, and m's first half holds
 * no lane slot (so that no operand gets contributions through both halves). */
static int same_layer(const mg_tape *t, const mg_instr *k, const mg_instr *m)
{
    size_t j, half = k->b / 2, base = (size_t)t->nlane + t->npar;
    if (m->op != MG_DOT || m->b != k->b) return 0;
    for (j = 0; j < half; j++) {
        mg_ref r = t->args[m->a + half + j], s = t->args[k->a + half + j];
        if (t->args[m->a + j] < t->nlane) return 0;
        if (r != s && !(r >= base && s >= base     /* two constants, equal */
                        && memcmp(&t->consts[r - base], &t->consts[s - base], sizeof(double)) == 0))
            return 0;
    }
    return 1;
}

/* Whether u is an activation of d: one operand, d's value. */
static int activation_of(const mg_instr *u, const mg_instr *d)
{
    return (u->kind == MG_KIND_UNARY || u->kind == MG_KIND_CONST || u->kind == MG_KIND_PARAM
            || u->kind == MG_KIND_RANGE) && u->a == d->out;
}

static mg_ref renumbered(const mg_tape *t, const uint32_t *where, mg_ref r)
{
    return (r >= t->nin && r < t->nlane) ? t->nin + where[r - t->nin] : r;
}

/* The graph's order interleaves a layer's neurons with their activations
 * (dot, relu, dot, relu, ...); this moves the activations after the layer
 * (dot, dot, ..., relu, relu, ...), so that the dots form a dense run.  An
 * activation only reads its own dot, and no dot of the layer reads an
 * activation, so every slot keeps the order of its users: each lane's
 * contributions come in the same order, and the bits do not change. */
static int schedule(mg_tape *t)
{
    size_t n = t->ncode, i = 0, pos = 0, j, m;
    uint32_t *order = malloc((n + 1) * sizeof *order), *where = malloc((n + 1) * sizeof *where);
    mg_instr *code = malloc((n + 1) * sizeof *code);
    if (order == NULL || where == NULL || code == NULL) {
        free(order); free(where); free(code);
        return -1;
    }
    while (i < n) {
        const mg_instr *d0 = &t->code[i];
        size_t pairs = 0;
        for (j = i; j + 1 < n && (j < t->ngrad) == (i < t->ngrad) && (j + 1 < t->ngrad) == (i < t->ngrad);
             j += 2) {
            if (t->code[j].op != MG_DOT || !same_layer(t, d0, &t->code[j])
                || !activation_of(&t->code[j + 1], &t->code[j])) break;
            pairs++;
        }
        if (pairs >= 2) {
            for (m = 0; m < pairs; m++) order[pos++] = (uint32_t)(i + 2 * m);
            for (m = 0; m < pairs; m++) order[pos++] = (uint32_t)(i + 2 * m + 1);
            i += 2 * pairs;
        } else {
            order[pos++] = (uint32_t)i++;
        }
    }
    for (i = 0; i < n; i++) where[order[i]] = (uint32_t)i;
    for (i = 0; i < n; i++) {
        code[i] = t->code[order[i]];
        code[i].out = (uint32_t)(t->nin + i);
        if (!mg_block_kind(code[i].kind)) {
            code[i].a = renumbered(t, where, code[i].a);
            if (code[i].kind == MG_KIND_BINARY) code[i].b = renumbered(t, where, code[i].b);
        }
    }
    for (i = 0; i < t->nargs; i++) t->args[i] = renumbered(t, where, t->args[i]);
    for (i = 0; i < t->nout; i++) t->outs[i] = renumbered(t, where, t->outs[i]);
    memcpy(t->code, code, n * sizeof *code);
    free(order);
    free(where);
    free(code);
    return 0;
}

/* Dense runs among the first output's instructions, where nothing prunes:
 * each is an mg_dense (mg_tape.h), at least 2 neurons long, and runs[k] marks
 * its first instruction (1 + its index, with MG_RUN_START) and its last.
 *
 * A run's backward handles the first halves neuron by neuron and then the
 * shared second half operand by operand (mg_replay.c), which adds each
 * slot's contributions in the sweep's order only if no slot gets them
 * through both halves and no slot appears twice in the second half; a run
 * is kept only where that holds (usable() below). */

/* Whether the second half of dot d holds each lane slot and parameter at
 * most once.  stamp[] is scratch over lane slots and parameters, holding
 * values other than tag. */
static int distinct_half(const mg_tape *t, const mg_instr *d, uint32_t *stamp, uint32_t tag)
{
    size_t j, half = d->b / 2, nslots = (size_t)t->nlane + t->npar;
    for (j = 0; j < half; j++) {
        mg_ref r = t->args[d->a + half + j];
        if (r >= nslots) continue;                 /* a constant: no adjoint */
        if (stamp[r] == tag) return 0;
        stamp[r] = tag;
    }
    return 1;
}

/* Whether dot m's first half avoids the slots stamped with tag. */
static int apart(const mg_tape *t, const mg_instr *m, const uint32_t *stamp, uint32_t tag)
{
    size_t j, half = m->b / 2, nslots = (size_t)t->nlane + t->npar;
    for (j = 0; j < half; j++) {
        mg_ref r = t->args[m->a + j];
        if (r < nslots && stamp[r] == tag) return 0;
    }
    return 1;
}

static int find_runs(mg_tape *t)
{
    size_t k = 0, len;
    uint32_t *stamp, tag = 0;
    mg_dense *d;
    free(t->runs);
    free(t->dense);
    t->dense = NULL;
    t->ndense = t->npacked = t->maxrun = t->maxhalf = 0;
    t->runs = calloc(t->ncode + 1, sizeof *t->runs);
    t->dense = malloc((t->ncode / 2 + 1) * sizeof *t->dense);
    if (t->runs == NULL || t->dense == NULL) return -1;
    if (t->prunes) return 0;
    stamp = calloc((size_t)t->nlane + t->npar + 1, sizeof *stamp);
    if (stamp == NULL) return -1;
    while (k < t->ngrad) {
        const mg_instr *in = &t->code[k];
        len = 1;
        if (in->op == MG_DOT && same_layer(t, in, in)
            && distinct_half(t, in, stamp, ++tag) && apart(t, in, stamp, tag)) {
            while (k + len < t->ngrad && same_layer(t, in, &t->code[k + len])
                   && apart(t, &t->code[k + len], stamp, tag))
                len++;
            if (len >= 2) {
                d = &t->dense[t->ndense++];
                d->k0 = k;
                d->len = len;
                d->half = in->b / 2;
                d->w = t->npacked;
                d->first_only = d->nonly = 0;
                t->npacked += 2 * len * d->half;
                t->runs[k] = (uint32_t)t->ndense | MG_RUN_START;
                t->runs[k + len - 1] = (uint32_t)t->ndense;
                if (len > t->maxrun) t->maxrun = len;
                if (d->half > t->maxhalf) t->maxhalf = d->half;
            }
        }
        k += len;
    }
    free(stamp);
    return 0;
}

/* Each run's MG_ONLY weights, as (entry of its J x K gradients, parameter)
 * pairs, so that a chunk copies their sums without scanning every weight;
 * and its other parameter weights (a bias, whose partner is the constant 1,
 * or a shared weight), as (neuron, operand) pairs in the sweep's order, the
 * only weights a chunk that sums parameters gives per-lane adjoints. */
static int list_weights(mg_tape *t)
{
    size_t r, j, i, count = 0;
    free(t->only);
    free(t->rest);
    t->nonly = t->nrest = 0;
    for (r = 0; r < t->ndense; r++) count += t->dense[r].len * t->dense[r].half;
    t->only = malloc((2 * count + 1) * sizeof *t->only);
    t->rest = malloc((2 * count + 1) * sizeof *t->rest);
    if (t->only == NULL || t->rest == NULL) return -1;
    for (r = 0; r < t->ndense; r++) {
        mg_dense *d = &t->dense[r];
        d->first_only = t->nonly;
        d->first_rest = t->nrest;
        for (j = d->len; j-- > 0;)
            for (i = 0; i < d->half; i++) {
                size_t at = t->code[d->k0 + j].a + i;
                if (t->args_first[at] == MG_ONLY) {
                    t->only[2 * t->nonly] = (uint32_t)(j * d->half + i);
                    t->only[2 * t->nonly + 1] = t->args[at] - t->nlane;
                    t->nonly++;
                } else if (t->args[at] < (size_t)t->nlane + t->npar) {
                    t->rest[2 * t->nrest] = (uint32_t)j;
                    t->rest[2 * t->nrest + 1] = (uint32_t)i;
                    t->nrest++;
                }
            }
        d->nonly = t->nonly - d->first_only;
        d->nrest = t->nrest - d->first_rest;
        d->direct = 0;
        /* every weight a parameter (a run's weights are never lane slots, and
         * constants follow the parameters, so consecutive references could
         * run on into them: p0 + J K <= npar) */
        if (t->args[t->code[d->k0].a] - t->nlane + d->len * d->half <= t->npar) {
            size_t p0 = t->args[t->code[d->k0].a] - t->nlane, ok = 1;
            for (j = 0; j < d->len && ok; j++)
                for (i = 0; i < d->half && ok; i++)
                    ok = t->args[t->code[d->k0 + j].a + i] == t->nlane + p0 + j * d->half + i;
            if (ok) d->direct = 1 + p0;
        }
    }
    return 0;
}

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p))
#else
#define PREFETCH(p) ((void)0)
#endif
/* How far ahead the parameter loops prefetch: each node is its own heap
 * object, so the hardware cannot guess the next address. */
#define AHEAD 16

void mg_tape_read_params(mg_node *const *nodes, size_t n, double *values)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (i + AHEAD < n) PREFETCH(nodes[i + AHEAD]);
        values[i] = nodes[i]->value;
    }
}

void mg_tape_add_grads(mg_node *const *nodes, size_t n, const double *grads, double divisor)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (i + AHEAD < n) PREFETCH(nodes[i + AHEAD]);
        nodes[i]->gradient += (divisor == 1.0) ? grads[i] : grads[i] / divisor;
    }
}

void mg_tape_pack(const mg_tape *t, const double *params, double *packed)
{
    size_t r, j, i, base = (size_t)t->nlane + t->npar;
    for (r = 0; r < t->ndense; r++) {
        const mg_dense *d = &t->dense[r];
        double *fwd = packed + d->w, *rev = fwd + d->len * d->half;
        if (d->direct) {                /* consecutive parameters: rows copied */
            memcpy(fwd, params + (d->direct - 1), d->len * d->half * sizeof(double));
            for (j = 0; j < d->len; j++)
                memcpy(rev + (d->len - 1 - j) * d->half, fwd + j * d->half,
                       d->half * sizeof(double));
            continue;
        }
        for (j = 0; j < d->len; j++) {
            const mg_ref *first = t->args + t->code[d->k0 + j].a;
            double *row = fwd + j * d->half, *back = rev + (d->len - 1 - j) * d->half;
            for (i = 0; i < d->half; i++) {
                mg_ref a = first[i];    /* a weight: a parameter or a constant */
                row[i] = back[i] = (a < base) ? params[a - t->nlane] : t->consts[a - base];
            }
        }
    }
}

/* Counts a contribution to r, if r is a parameter. */
static void count_use(const mg_tape *t, uint32_t *uses, mg_ref r)
{
    if (r >= t->nlane && r < (size_t)t->nlane + t->npar) uses[r - t->nlane]++;
}

/* Marks r's first contribution, if this is it; 1 if so. */
static int first_time(unsigned char *seen, const mg_tape *t, mg_ref r)
{
    if (r >= (size_t)t->nlane + t->npar || seen[r]) return 0;
    seen[r] = 1;
    return 1;
}

/* Fills the derived fields: nlane, prunes, lanes, and, where nothing prunes,
 * which contribution to each adjoint comes first in backward order and which
 * inputs and parameters get none (see mg_tape.h).  0, or -1 out of memory. */
static int finish(mg_tape *t)
{
    size_t i, j, nslots;
    unsigned char *seen;
    uint32_t *uses;
    t->nlane = t->nin + (uint32_t)t->ncode;
    t->prunes = 0;
    for (i = 0; i < t->ncode; i++) {
        t->code[i].first = 0;
        if (t->code[i].kind == MG_KIND_SELECT || t->code[i].kind == MG_KIND_STOP) t->prunes = 1;
    }
    memset(t->args_first, 0, t->nargs);
    t->lanes = mg_tape_lanes(t);
    if (find_runs(t) < 0) return -1;
    free(t->unreached);
    free(t->folded);
    t->unreached = NULL;
    t->folded = NULL;
    t->nunreached = t->nfolded = 0;
    free(t->all);
    t->folded = malloc(((size_t)t->npar + 1) * sizeof *t->folded);
    t->all = malloc(((size_t)t->npar + 1) * sizeof *t->all);
    if (t->folded == NULL || t->all == NULL) return -1;
    for (i = 0; i < t->npar; i++) t->all[i] = (uint32_t)i;
    nslots = (size_t)t->nlane + t->npar;
    if (t->prunes) {
        for (i = 0; i < t->npar; i++) t->folded[t->nfolded++] = (uint32_t)i;
        return 0;
    }
    seen = calloc(nslots + 1, 1);
    uses = calloc((size_t)t->npar + 1, sizeof *uses);
    t->unreached = malloc((t->nin + (size_t)t->npar + 1) * sizeof *t->unreached);
    if (seen == NULL || uses == NULL || t->unreached == NULL) {
        free(seen);
        free(uses);
        return -1;
    }
    first_time(seen, t, t->outs[0]);              /* the seed comes first */
    if (t->outs[0] >= t->nlane) uses[t->outs[0] - t->nlane]++;
    for (i = t->ngrad; i-- > 0;) {
        mg_instr *in = &t->code[i];
        if (mg_block_kind(in->kind)) {
            for (j = in->a; j < (size_t)in->a + in->b; j++) {
                t->args_first[j] = (uint8_t)first_time(seen, t, t->args[j]);
                count_use(t, uses, t->args[j]);
            }
            continue;
        }
        if (first_time(seen, t, in->a)) in->first |= 1u;
        if (in->kind == MG_KIND_BINARY && first_time(seen, t, in->b)) in->first |= 2u;
        count_use(t, uses, in->a);
        if (in->kind == MG_KIND_BINARY) count_use(t, uses, in->b);
    }
    for (i = 0; i < nslots; i++)
        if (!seen[i] && (i < t->nin || i >= t->nlane)) t->unreached[t->nunreached++] = (mg_ref)i;
    /* a parameter used once, by a dot, whose partner holds a lane value */
    for (i = 0; i < t->ngrad; i++) {
        mg_instr *in = &t->code[i];
        size_t half = in->b / 2;
        if (in->op != MG_DOT) continue;
        for (j = 0; j < in->b; j++) {
            mg_ref r = t->args[in->a + j], partner = t->args[in->a + (j < half ? j + half : j - half)];
            if (r >= t->nlane && r < nslots && uses[r - t->nlane] == 1 && partner < t->nlane) {
                t->args_first[in->a + j] = MG_ONLY;
                uses[r - t->nlane] = 0;            /* taken care of */
            }
        }
    }
    for (i = 0; i < t->npar; i++)
        if (uses[i] != 0 || seen[t->nlane + i] == 0) t->folded[t->nfolded++] = (uint32_t)i;
    free(seen);
    free(uses);
    return list_weights(t);
}

int mg_tape_build(mg_tape *t, mg_node *const *roots, size_t nroots,
                  mg_node *const *inputs, size_t nin, mg_node ***params,
                  mg_check_fn check, void *ctx)
{
    mg_order order = {NULL, 0, 0, 0};
    builder b;
    size_t i, j, r, nargs = 0;
    int status = 0;

    memset(t, 0, sizeof *t);
    memset(&b, 0, sizeof b);
    *params = NULL;
    for (r = 0; r < nroots; r++) {
        status = mg_topo_collect(roots[r], &order, 0, check, ctx);
        if (status < 0) return status;
        if (r == 0) t->ngrad = order.len;
    }
    t->nin = (uint32_t)nin;
    t->ncode = order.len;
    b.nlane = (uint32_t)(nin + order.len);
    for (i = 0; i < order.len; i++)
        if (order.nodes[i]->flags & MG_FLAG_BLOCK) nargs += order.nodes[i]->n;
    t->code = malloc((order.len ? order.len : 1) * sizeof *t->code);
    t->args = malloc((nargs ? nargs : 1) * sizeof *t->args);
    t->args_first = malloc(nargs ? nargs : 1);
    t->consts = malloc((nargs ? nargs : 1) * sizeof *t->consts);
    t->outs = malloc((nroots ? nroots : 1) * sizeof *t->outs);
    if (!t->code || !t->args || !t->args_first || !t->consts || !t->outs
        || map_init(&b.map, 2 * (order.len + nin) + 64) < 0) {
        status = -1;
        goto done;
    }
    for (i = 0; i < nin && status == 0; i++) {
        mg_ref seen;
        if (map_get(&b.map, inputs[i], &seen)) status = -3;
        else if (map_put(&b.map, inputs[i], (mg_ref)i) < 0) status = -1;
    }
    for (i = 0; i < order.len && status == 0; i++)
        if (map_put(&b.map, order.nodes[i], (mg_ref)(nin + i)) < 0) status = -1;
    for (i = 0; i < order.len && status == 0; i++) {
        mg_node *node = order.nodes[i];
        mg_instr *in = &t->code[i];
        in->op = node->op;
        in->kind = (uint8_t)mg_kinds[node->op];
        in->first = 0;
        in->out = (uint32_t)(nin + i);
        in->a = in->b = 0;
        in->c = node->c;
        in->c2 = 0.0;
        if (mg_block_kind(in->kind)) {
            mg_node **kids = mg_block_kids(node);
            double *cst = mg_block_consts(node);
            in->a = (mg_ref)t->nargs;
            in->b = node->n;
            if (in->kind == MG_KIND_CUSTOM) {
                /* its operands; the node's partials are its sample's, and
                 * each lane gets its own from the callback */
                in->b = node->n / 2;
                in->c2 = (double)t->npart;
                t->npart += in->b;
            }
            for (j = 0; j < in->b && status == 0; j++) {
                if (kids[j] != NULL) {
                    if (ref_of(&b, kids[j], &t->args[t->nargs]) < 0) status = -1;
                } else {
                    t->consts[t->nconst] = cst[j];
                    t->args[t->nargs] = (mg_ref)t->nconst++;   /* rebased below */
                    t->args[t->nargs] |= 0x80000000u;
                }
                t->nargs++;
            }
            continue;
        }
        if (in->kind == MG_KIND_RANGE) in->c2 = node->kids.one.c2;
        if (ref_of(&b, node->kids.two[0], &in->a) < 0) status = -1;
        if (in->kind == MG_KIND_BINARY && status == 0
            && ref_of(&b, node->kids.two[1], &in->b) < 0) status = -1;
    }
    for (r = 0; r < nroots && status == 0; r++)
        if (ref_of(&b, roots[r], &t->outs[r]) < 0) status = -1;
    t->nout = nroots;
    if (status == 0) {
        /* constants come after the parameters, now that their count is known */
        for (j = 0; j < t->nargs; j++)
            if (t->args[j] & 0x80000000u)
                t->args[j] = b.nlane + (mg_ref)b.npar + (t->args[j] & 0x7FFFFFFFu);
        t->npar = (uint32_t)b.npar;
        t->nlane = (uint32_t)(nin + order.len);
        if (schedule(t) < 0 || finish(t) < 0) {
            status = -1;
        } else {
            *params = b.params;
            b.params = NULL;
        }
    }
done:
    mg_order_unmark(&order);
    mg_order_free(&order);
    map_free(&b.map);
    free(b.params);
    if (status < 0) mg_tape_free(t);
    return status;
}

int mg_tape_check(mg_tape *t)
{
    size_t i, j, nref;
    if (t->ngrad > t->ncode || t->nout == 0) return -1;
    t->nlane = t->nin + (uint32_t)t->ncode;
    t->npart = 0;
    nref = (size_t)t->nlane + t->npar + t->nconst;
    for (i = 0; i < t->ncode; i++) {
        mg_instr *in = &t->code[i];
        int kind = mg_op_kind(in->op);
        if (kind < 0 || kind == MG_KIND_LEAF || kind != in->kind || in->out != t->nin + i)
            return -1;
        if (kind == MG_KIND_CUSTOM) {
            /* its partials' rows, as mg_tape_build lays them out (c, the op's
             * registry index, is the caller's to check: C has no registry) */
            in->c2 = (double)t->npart;
            t->npart += in->b;
        }
        if (mg_block_kind(kind)) {
            if ((size_t)in->a + in->b > t->nargs || in->b == 0) return -1;
            if ((in->op == MG_DOT && in->b % 2) || (in->op == MG_WHERE && in->b != 3)) return -1;
            for (j = in->a; j < (size_t)in->a + in->b; j++)
                if (t->args[j] >= nref || (t->args[j] < t->nlane && t->args[j] >= in->out)) return -1;
        } else {
            if (in->a >= nref || (in->a < t->nlane && in->a >= in->out)) return -1;
            if (kind == MG_KIND_BINARY && (in->b >= nref || (in->b < t->nlane && in->b >= in->out)))
                return -1;
        }
    }
    for (i = 0; i < t->nout; i++)
        if (t->outs[i] >= (size_t)t->nlane + t->npar) return -1;
    return finish(t) < 0 ? -2 : 0;
}

void mg_tape_free(mg_tape *t)
{
    free(t->code);
    free(t->args);
    free(t->args_first);
    free(t->unreached);
    free(t->folded);
    free(t->all);
    free(t->runs);
    free(t->dense);
    free(t->only);
    free(t->rest);
    free(t->consts);
    free(t->outs);
    memset(t, 0, sizeof *t);
}

double mg_tape_value(const mg_tape *t, const mg_work *w, const double *params, mg_ref r,
                     size_t l)
{
    if (r < t->nlane) return w->val[(size_t)r * t->lanes + l];
    if (r < (size_t)t->nlane + t->npar) return params[r - t->nlane];
    return t->consts[r - t->nlane - t->npar];
}

double *mg_tape_partials(const mg_tape *t, mg_work *w, const mg_instr *in)
{
    return w->part + (size_t)in->c2 * t->lanes;
}

void mg_tape_custom(const mg_tape *t, mg_work *w, const double *params, const mg_instr *in,
                    size_t first, size_t n, int partials, mg_custom_fn fn, void *ctx)
{
    size_t l, i, L = t->lanes;
    if (fn != NULL) {
        (void)fn(ctx, t, w, params, in, first, n, partials);
        return;
    }
    for (l = 0; l < n; l++) w->val[(size_t)in->out * L + l] = NAN;
    if (partials)
        for (i = 0; i < in->b; i++)
            for (l = 0; l < n; l++) mg_tape_partials(t, w, in)[i * L + l] = NAN;
}

size_t mg_tape_lanes(const mg_tape *t)
{
    size_t per_lane = 16 * (size_t)t->nlane + (t->prunes ? (size_t)t->nlane : 0) + 8 * t->npart
                      + 1;
    size_t lanes = 256;
    while (lanes > 8 && lanes * per_lane > 1024 * 1024) lanes /= 2;
    return lanes;
}

int mg_work_alloc(mg_work *w, const mg_tape *t)
{
    size_t L = t->lanes;
    memset(w, 0, sizeof *w);
    w->val = malloc(((size_t)t->nlane * L + 1) * sizeof(double));
    w->adj = malloc(((size_t)t->nlane * L + 1) * sizeof(double));
    w->padj = malloc(((size_t)t->npar * L + 1) * sizeof(double));
    w->reach = t->prunes ? malloc((size_t)t->nlane * L + 1) : NULL;
    w->packed = malloc((t->npacked + 1) * sizeof(double));
    w->xrows = malloc((t->maxhalf + 1) * sizeof *w->xrows);
    w->rows = malloc((2 * t->maxrun + 1) * sizeof *w->rows);
    w->bcast = malloc((t->maxhalf * L + 1) * sizeof(double));
    w->gw = malloc((t->maxrun * t->maxhalf + 1) * sizeof(double));
    w->firsts = malloc(t->maxhalf + 1);
    w->part = malloc((t->npart * L + 1) * sizeof(double));
    if (!w->part || !w->val || !w->adj || !w->padj || (t->prunes && !w->reach) || !w->packed || !w->xrows
        || !w->rows || !w->bcast || !w->gw || !w->firsts) {
        mg_work_free(w);
        return -1;
    }
    return 0;
}

void mg_work_free(mg_work *w)
{
    free(w->val);
    free(w->adj);
    free(w->padj);
    free(w->reach);
    free(w->packed);
    free((void *)w->xrows);
    free(w->rows);
    free(w->bcast);
    free(w->gw);
    free(w->firsts);
    free(w->part);
    memset(w, 0, sizeof *w);
}
