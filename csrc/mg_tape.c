/* mg_tape.c -- building a tape from a graph, and replaying it over lanes.
 * See mg_tape.h for the layout and docs/design.md for the design.
 *
 * Every kernel below is one loop over a chunk's lanes for one instruction,
 * calling the op's fwd_/bwd_ from mg_formulas.h per lane, so that a lane
 * computes what a node computes; the loops over + - * and dot's products are
 * what the compiler vectorises (never contracting: -ffp-contract=off). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

/* On x86-64 Linux with GCC, the replay loops are also compiled for AVX2 and
 * the machine picks the version it can run: wider vectors, the same IEEE
 * operations, so the same bits (AVX2 alone has no fused multiply-add, and
 * -ffp-contract=off forbids contracting anyway). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MG_VECTOR __attribute__((target_clones("avx2", "default")))
#else
#define MG_VECTOR
#endif

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

static int is_block(int kind)
{
    return kind == MG_KIND_SELECT || kind == MG_KIND_NARY;
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
        if (!is_block(code[i].kind)) {
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
 * runs[k] = the length of the run that ends at k, and that length with
 * MG_RUN_START at the run's first instruction (runs are at least 2 long). */
#define MG_RUN_START 0x80000000u
static int find_runs(mg_tape *t)
{
    size_t k = 0, len;
    free(t->runs);
    t->maxrun = 0;
    t->runs = calloc(t->ncode + 1, sizeof *t->runs);
    if (t->runs == NULL) return -1;
    if (t->prunes) return 0;
    while (k < t->ngrad) {
        const mg_instr *in = &t->code[k];
        len = 1;
        if (in->op == MG_DOT && same_layer(t, in, in)) {
            while (k + len < t->ngrad && same_layer(t, in, &t->code[k + len])) len++;
            if (len >= 2) {
                t->runs[k] = (uint32_t)len | MG_RUN_START;
                t->runs[k + len - 1] = (uint32_t)len;
                if (len > t->maxrun) t->maxrun = len;
            }
        }
        k += len;
    }
    return 0;
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
    t->folded = malloc(((size_t)t->npar + 1) * sizeof *t->folded);
    if (t->folded == NULL) return -1;
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
        if (is_block(in->kind)) {
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
    return 0;
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
        if (is_block(in->kind)) {
            mg_node **kids = mg_block_kids(node);
            double *cst = mg_block_consts(node);
            in->a = (mg_ref)t->nargs;
            in->b = node->n;
            for (j = 0; j < node->n && status == 0; j++) {
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
    nref = (size_t)t->nlane + t->npar + t->nconst;
    for (i = 0; i < t->ncode; i++) {
        mg_instr *in = &t->code[i];
        int kind = mg_op_kind(in->op);
        if (kind < 0 || kind == MG_KIND_LEAF || kind != in->kind || in->out != t->nin + i)
            return -1;
        if (is_block(kind)) {
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
    free(t->runs);
    free(t->consts);
    free(t->outs);
    memset(t, 0, sizeof *t);
}

size_t mg_tape_lanes(const mg_tape *t)
{
    size_t per_lane = 16 * (size_t)t->nlane + 8 * (size_t)t->npar
                      + (t->prunes ? (size_t)t->nlane : 0) + 1;
    size_t lanes = 256;
    while (lanes > 8 && lanes * per_lane > 512 * 1024) lanes /= 2;
    return lanes;
}

int mg_work_alloc(mg_work *w, const mg_tape *t)
{
    size_t L = t->lanes;
    w->val = malloc(((size_t)t->nlane * L + 1) * sizeof(double));
    w->adj = malloc(((size_t)t->nlane * L + 1) * sizeof(double));
    w->padj = malloc(((size_t)t->npar * L + 1) * sizeof(double));
    w->reach = t->prunes ? malloc((size_t)t->nlane * L + 1) : NULL;
    w->gt = calloc((t->maxrun + 8) * L + 1, sizeof(double));
    if (!w->val || !w->adj || !w->padj || !w->gt || (t->prunes && !w->reach)) {
        mg_work_free(w);
        return -1;
    }
    return 0;
}

void mg_work_free(mg_work *w)
{
    free(w->gt);
    free(w->val);
    free(w->adj);
    free(w->padj);
    free(w->reach);
    memset(w, 0, sizeof *w);
}

/* ---- replaying ------------------------------------------------------------ */

/* An operand as a kernel sees it: values with stride 1 (a lane slot) or 0
 * (a parameter or a constant), and where its contributions go, if anywhere. */
typedef struct {
    const double *v;
    size_t s;
    double *adj;              /* NULL for a constant */
    unsigned char *reach;     /* lane slots of a tape that prunes */
    int first;                /* this is the adjoint's first contribution */
} opnd;

static opnd view(const mg_tape *t, mg_work *w, const double *params, mg_ref r)
{
    opnd o;
    size_t L = t->lanes;
    o.first = 0;
    if (r < t->nlane) {
        o.v = w->val + (size_t)r * L;
        o.s = 1;
        o.adj = w->adj + (size_t)r * L;
        o.reach = w->reach ? w->reach + (size_t)r * L : NULL;
    } else if (r < t->nlane + t->npar) {
        o.v = params + (r - t->nlane);
        o.s = 0;
        o.adj = w->padj + (size_t)(r - t->nlane) * L;
        o.reach = NULL;
    } else {
        o.v = t->consts + (r - t->nlane - t->npar);
        o.s = 0;
        o.adj = NULL;
        o.reach = NULL;
    }
    return o;
}

/* One loop per stride combination, so that the common ones vectorise. */
#define LOOP1(call)                                                          \
    if (x.s) { for (l = 0; l < n; l++) { double xv = x.v[l]; call; } }      \
    else { double xv = x.v[0]; for (l = 0; l < n; l++) { call; } }
#define LOOP2(call)                                                          \
    if (a.s && b.s) { for (l = 0; l < n; l++) { double av = a.v[l], bv = b.v[l]; call; } } \
    else if (a.s) { double bv = b.v[0]; for (l = 0; l < n; l++) { double av = a.v[l]; call; } } \
    else if (b.s) { double av = a.v[0]; for (l = 0; l < n; l++) { double bv = b.v[l]; call; } } \
    else { double av = a.v[0], bv = b.v[0]; for (l = 0; l < n; l++) { call; } }

/* Four products of a dot at once, where each is a parameter (or constant)
 * times a lane value, as in a neuron: y = (((y + w0 x0) + w1 x1) + w2 x2) + w3 x3
 * per lane, the same additions in the same order as one at a time, with y
 * kept in a register.  0 if the four are not of that shape. */
MG_VECTOR static void axpy4(double *restrict y, size_t n, double w0, const double *restrict x0,
                            double w1, const double *restrict x1, double w2,
                            const double *restrict x2, double w3, const double *restrict x3)
{
    size_t l;
    for (l = 0; l < n; l++)
        y[l] = (((y[l] + w0 * x0[l]) + w1 * x1[l]) + w2 * x2[l]) + w3 * x3[l];
}

static int dot4(const mg_tape *t, mg_work *w, const double *params, const mg_ref *args,
                size_t i, size_t half, double *y, size_t n)
{
    opnd a0 = view(t, w, params, args[i]), b0 = view(t, w, params, args[i + half]);
    opnd a1 = view(t, w, params, args[i + 1]), b1 = view(t, w, params, args[i + 1 + half]);
    opnd a2 = view(t, w, params, args[i + 2]), b2 = view(t, w, params, args[i + 2 + half]);
    opnd a3 = view(t, w, params, args[i + 3]), b3 = view(t, w, params, args[i + 3 + half]);
    if (a0.s || a1.s || a2.s || a3.s || !b0.s || !b1.s || !b2.s || !b3.s) return 0;
    /* y is the dot's own slot, never one of its operands: restrict holds */
    axpy4(y, n, a0.v[0], b0.v, a1.v[0], b1.v, a2.v[0], b2.v, a3.v[0], b3.v);
    return 1;
}

MG_VECTOR static void forward_block(const mg_tape *t, mg_work *w, const double *params,
                          const mg_instr *in, double *y, size_t n)
{
    size_t l, i, half = in->b / 2;
    const mg_ref *args = t->args + in->a;
    if (in->op == MG_WHERE) {
        opnd c = view(t, w, params, args[0]);
        opnd a = view(t, w, params, args[1]), b = view(t, w, params, args[2]);
        for (l = 0; l < n; l++)
            y[l] = mg_where_picks_a(c.v[l * c.s]) ? a.v[l * a.s] : b.v[l * b.s];
    } else if (in->op == MG_SUM) {
        for (l = 0; l < n; l++) y[l] = 0.0;
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            LOOP1(y[l] = y[l] + xv)
        }
    } else {                                   /* dot: from the first product */
        for (i = 0; i < half; i++) {
            opnd a = view(t, w, params, args[i]), b = view(t, w, params, args[i + half]);
            if (i == 0) { LOOP2(y[l] = av * bv) }
            else if (i + 4 <= half && dot4(t, w, params, args, i, half, y, n)) { i += 3; }
            else { LOOP2(y[l] = y[l] + av * bv) }
        }
    }
}

/* ---- dense runs (mg_tape.h) --------------------------------------------------- */

/* adj (+)= g * v per lane, v a lane slot (stride 1) or one value (stride 0):
 * a dot's contribution to one operand.  adj is never g's or v's slot. */
MG_VECTOR static void scaled(double *restrict adj, size_t n, const double *restrict g,
                             const double *restrict v, size_t stride, int first)
{
    size_t l;
    if (stride && first) for (l = 0; l < n; l++) adj[l] = 0.0 + g[l] * v[l];
    else if (stride) for (l = 0; l < n; l++) adj[l] += g[l] * v[l];
    else {
        double c = v[0];
        if (first) for (l = 0; l < n; l++) adj[l] = 0.0 + g[l] * c;
        else for (l = 0; l < n; l++) adj[l] += g[l] * c;
    }
}


/* Four neurons at once: y[k][l] += w[k][q] * x[q][l] for q = 0..3 in turn,
 * each lane value loaded once for the four. */
MG_VECTOR static void layer44(double *restrict y0, double *restrict y1, double *restrict y2,
                              double *restrict y3, const double *const *x, const double *w,
                              size_t n)
{
    const double *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2];
    const double *restrict x3 = x[3];
    size_t l;
    for (l = 0; l < n; l++) {
        double a = x0[l], b = x1[l], c = x2[l], d = x3[l];
        y0[l] = (((y0[l] + w[0] * a) + w[1] * b) + w[2] * c) + w[3] * d;
        y1[l] = (((y1[l] + w[4] * a) + w[5] * b) + w[6] * c) + w[7] * d;
        y2[l] = (((y2[l] + w[8] * a) + w[9] * b) + w[10] * c) + w[11] * d;
        y3[l] = (((y3[l] + w[12] * a) + w[13] * b) + w[14] * c) + w[15] * d;
    }
}

/* The forward of a run: each neuron's first product, then the others in
 * order, four neurons and four lane operands at a time where they are so. */
static void forward_run(const mg_tape *t, mg_work *w, const double *params, size_t k0,
                        size_t len, size_t n)
{
    size_t L = t->lanes, half = t->code[k0].b / 2, kk, i, j, l;
    for (kk = 0; kk < len; kk += 4) {
        size_t m = (len - kk < 4) ? len - kk : 4;
        const mg_instr *ins[4];
        double *ys[4];
        for (j = 0; j < m; j++) {
            ins[j] = &t->code[k0 + kk + j];
            ys[j] = w->val + (size_t)ins[j]->out * L;
            {
                opnd a = view(t, w, params, t->args[ins[j]->a]);
                opnd b = view(t, w, params, t->args[ins[j]->a + half]);
                double *y = ys[j];
                LOOP2(y[l] = av * bv)
            }
        }
        for (i = 1; i < half;) {
            const double *xs[4];
            double ws[16];
            size_t q = 0;
            while (q < 4 && i + q < half && t->args[ins[0]->a + half + i + q] < t->nlane) q++;
            if (m == 4 && q == 4) {
                for (q = 0; q < 4; q++) {
                    xs[q] = view(t, w, params, t->args[ins[0]->a + half + i + q]).v;
                    for (j = 0; j < 4; j++)
                        ws[4 * j + q] = view(t, w, params, t->args[ins[j]->a + i + q]).v[0];
                }
                layer44(ys[0], ys[1], ys[2], ys[3], xs, ws, n);
                i += 4;
                continue;
            }
            for (j = 0; j < m; j++) {
                opnd a = view(t, w, params, t->args[ins[j]->a + i]);
                opnd b = view(t, w, params, t->args[ins[j]->a + half + i]);
                double *y = ys[j];
                LOOP2(y[l] = y[l] + av * bv)
            }
            i++;
        }
    }
}

/* The chunk sums of parameters used once: acc[q][k] = sum over lanes, in
 * order, of gt[l][k] * x[q][l], for four operands q and eight neurons k at a
 * time (gt holds the run's adjoints lane by lane, padded to eight).  Written
 * with vectors of four doubles where the compiler has them (each element
 * its own IEEE multiply and add, as in the scalar loop below). */
#if defined(__GNUC__) || defined(__clang__)
typedef double mg_v4 __attribute__((vector_size(32)));

#define MG_LOAD4(v, p) memcpy(&(v), (p), sizeof(v))

MG_VECTOR static void run_sums(const double *restrict gt, size_t stride,
                               const double *const *x, double *acc, size_t n)
{
    mg_v4 a0 = {0.0, 0.0, 0.0, 0.0}, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
    mg_v4 a3 = a0, b3 = a0;
    const double *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2];
    const double *restrict x3 = x[3];
    size_t l;
    for (l = 0; l < n; l++) {
        mg_v4 g0, g1;
        MG_LOAD4(g0, gt + l * stride);
        MG_LOAD4(g1, gt + l * stride + 4);
        mg_v4 v0 = {x0[l], x0[l], x0[l], x0[l]}, v1 = {x1[l], x1[l], x1[l], x1[l]};
        mg_v4 v2 = {x2[l], x2[l], x2[l], x2[l]}, v3 = {x3[l], x3[l], x3[l], x3[l]};
        a0 += g0 * v0; b0 += g1 * v0;
        a1 += g0 * v1; b1 += g1 * v1;
        a2 += g0 * v2; b2 += g1 * v2;
        a3 += g0 * v3; b3 += g1 * v3;
    }
    memcpy(acc, &a0, sizeof a0); memcpy(acc + 4, &b0, sizeof b0);
    memcpy(acc + 8, &a1, sizeof a1); memcpy(acc + 12, &b1, sizeof b1);
    memcpy(acc + 16, &a2, sizeof a2); memcpy(acc + 20, &b2, sizeof b2);
    memcpy(acc + 24, &a3, sizeof a3); memcpy(acc + 28, &b3, sizeof b3);
}
#else
static void run_sums(const double *restrict gt, size_t stride,
                     const double *const *x, double *acc, size_t n)
{
    size_t l, k, q;
    for (k = 0; k < 32; k++) acc[k] = 0.0;
    for (l = 0; l < n; l++)
        for (q = 0; q < 4; q++)
            for (k = 0; k < 8; k++) acc[8 * q + k] += gt[l * stride + k] * x[q][l];
}
#endif

/* An operand's contributions from the run's neurons, last neuron first:
 * adj[l] (=0.0 +, or +=) g[k][l] * wk, in that order, four neurons a pass. */
MG_VECTOR static void run_adds(double *restrict adj, int first, const double *const *g,
                               const double *wv, size_t m, size_t n)
{
    size_t k = 0, l;
    if (first) {
        const double *restrict g0 = g[0];
        double w0 = wv[0];
        for (l = 0; l < n; l++) adj[l] = 0.0 + g0[l] * w0;
        k = 1;
    }
    for (; k + 4 <= m; k += 4) {
        const double *restrict g0 = g[k], *restrict g1 = g[k + 1], *restrict g2 = g[k + 2];
        const double *restrict g3 = g[k + 3];
        double w0 = wv[k], w1 = wv[k + 1], w2 = wv[k + 2], w3 = wv[k + 3];
        for (l = 0; l < n; l++)
            adj[l] = (((adj[l] + g0[l] * w0) + g1[l] * w1) + g2[l] * w2) + g3[l] * w3;
    }
    for (; k < m; k++) {
        const double *restrict g0 = g[k];
        double w0 = wv[k];
        for (l = 0; l < n; l++) adj[l] += g0[l] * w0;
    }
}

/* The backward of a run [k0, k0 + len): neurons last to first, as the nodes
 * would be swept.  Each parameter of a first half gets its contributions (or,
 * used once and summed, a share of run_sums); each operand of the common
 * second half gets the run's contributions in one pass (run_adds). */
static void backward_run(const mg_tape *t, mg_work *w, const double *params, double *param_sum,
                         size_t k0, size_t len, size_t n)
{
    size_t L = t->lanes, half = t->code[k0].b / 2, kk, i, l;
    const double *gs[64];
    double wv[64];
    /* the first halves, neuron by neuron */
    for (kk = len; kk-- > 0;) {
        const mg_instr *in = &t->code[k0 + kk];
        const double *g = w->adj + (size_t)in->out * L;
        for (i = 0; i < half; i++) {
            opnd x = view(t, w, params, t->args[in->a + i]);
            opnd p = view(t, w, params, t->args[in->a + half + i]);
            if (!x.adj || (param_sum && t->args_first[in->a + i] == MG_ONLY)) continue;
            scaled(x.adj, n, g, p.v, p.s, t->args_first[in->a + i]);
        }
    }
    /* the second half, operand by operand, the run's neurons in sweep order */
    for (i = 0; i < half; i++) {
        mg_ref r = t->args[t->code[k0].a + half + i];
        opnd x = view(t, w, params, r);
        size_t done = 0;
        if (!x.adj) continue;
        while (done < len) {
            size_t m = (len - done < 64) ? len - done : 64, j;
            for (j = 0; j < m; j++) {
                const mg_instr *in = &t->code[k0 + len - 1 - done - j];
                gs[j] = w->adj + (size_t)in->out * L;
                wv[j] = view(t, w, params, t->args[in->a + i]).v[0];
            }
            run_adds(x.adj, done == 0 && t->args_first[t->code[k0 + len - 1].a + half + i],
                     gs, wv, m, n);
            done += m;
        }
    }
    /* the parameters used once, eight neurons and four operands at a time */
    if (param_sum) {
        size_t stride = (len + 7) / 8 * 8, kb, q;
        double acc[32];
        for (kk = 0; kk < len; kk++) {
            const double *g = w->adj + (size_t)t->code[k0 + kk].out * L;
            for (l = 0; l < n; l++) w->gt[l * stride + kk] = g[l];
        }
        for (kk = len; kk < stride; kk++)
            for (l = 0; l < n; l++) w->gt[l * stride + kk] = 0.0;
        for (i = 0; i < half; i += 4) {
            const double *xs[4];
            size_t nq = (half - i < 4) ? half - i : 4;
            int any = 0;
            for (q = 0; q < 4; q++) {
                mg_ref r = t->args[t->code[k0].a + half + i + (q < nq ? q : 0)];
                xs[q] = (r < t->nlane) ? w->val + (size_t)r * L : w->gt;   /* not MG_ONLY */
            }
            for (kk = 0; kk < len && !any; kk++)
                for (q = 0; q < nq; q++)
                    if (t->args_first[t->code[k0 + kk].a + i + q] == MG_ONLY) any = 1;
            if (!any) continue;
            for (kb = 0; kb < stride; kb += 8) {
                run_sums(w->gt + kb, stride, xs, acc, n);
                for (q = 0; q < nq; q++)
                    for (kk = kb; kk < kb + 8 && kk < len; kk++) {
                        size_t at = t->code[k0 + kk].a + i + q;
                        if (t->args_first[at] == MG_ONLY)
                            param_sum[t->args[at] - t->nlane] = acc[8 * q + (kk - kb)];
                    }
            }
        }
    }
}

/* The outcome of fwd_ is the IEEE value; its status only matters op by op. */
#define MG_OP(CODE, stem, name, kind, arity, doc) FWD_##kind(CODE, stem)
#define FWD_LEAF(CODE, stem)
#define FWD_BINARY(CODE, stem) case MG_##CODE: { LOOP2((void)fwd_##stem(av, bv, &y[l])) } break;
#define FWD_CONST(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, c, &y[l])) } break;
#define FWD_PARAM FWD_CONST
#define FWD_UNARY(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, &y[l])) } break;
#define FWD_RANGE(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, c, c2, &y[l])) } break;
#define FWD_STOP(CODE, stem) case MG_##CODE: { LOOP1(y[l] = xv) } break;
#define FWD_SELECT(CODE, stem)
#define FWD_NARY(CODE, stem)

MG_VECTOR static void forward(const mg_tape *t, mg_work *w, const double *params, size_t n)
{
    size_t k, l, L = t->lanes;
    for (k = 0; k < t->ncode; k++) {
        const mg_instr *in = &t->code[k];
        double *y = w->val + (size_t)in->out * L;
        double c = in->c, c2 = in->c2;
        opnd x, a, b;
        (void)c; (void)c2;
        if (t->runs[k] & MG_RUN_START) {
            size_t len = t->runs[k] & ~MG_RUN_START;
            forward_run(t, w, params, k, len, n);
            k += len - 1;
            continue;
        }
        if (is_block(in->kind)) {
            forward_block(t, w, params, in, y, n);
            continue;
        }
        x = a = b = view(t, w, params, in->a);
        if (in->kind == MG_KIND_BINARY) b = view(t, w, params, in->b);
        switch (in->op) {
#include "mg_ops.def"
        default:
            break;
        }
    }
}
#undef FWD_LEAF
#undef FWD_BINARY
#undef FWD_CONST
#undef FWD_PARAM
#undef FWD_UNARY
#undef FWD_RANGE
#undef FWD_STOP
#undef FWD_SELECT
#undef FWD_NARY
#undef MG_OP

/* A contribution to an operand: stored if it is the first (as 0.0 + v: what
 * adding to a zero gives, -0.0 included), else added; the operand reached. */
#define ADD_TO(o, v) do {                                                       \
        if ((o).first) (o).adj[l] = 0.0 + (v); else (o).adj[l] += (v);         \
        if ((o).reach) (o).reach[l] = 1;                                        \
    } while (0)

/* The chunk sums of up to eight parameters that a dot uses once each, with
 * lane partners x[k]: sum[k] = 0.0 + g[0] x[k][0] + g[1] x[k][1] + ..., in
 * lane order, the eight sums in flight together.  (A lane's gradient for
 * such a parameter is 0.0 + g x; adding that or g x to a sum that started at
 * +0.0 gives the same bits, as such a sum is never -0.0.) */
#define MG_SUMS 8
static void dot_sums(const double *restrict g, const double *const *x, double *const *sum,
                     size_t k, size_t n)
{
    double acc[MG_SUMS] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const double *xk[MG_SUMS];
    size_t l, j;
    for (j = 0; j < MG_SUMS; j++) xk[j] = x[j < k ? j : 0];
    for (l = 0; l < n; l++) {
        double gl = g[l];
        for (j = 0; j < MG_SUMS; j++) acc[j] += gl * xk[j][l];
    }
    for (j = 0; j < k; j++) *sum[j] = acc[j];
}

MG_VECTOR static void backward_block(const mg_tape *t, mg_work *w, const double *params,
                                     double *param_sum,
                           const mg_instr *in, const double *g, const unsigned char *live,
                           size_t n)
{
    size_t l, i, half = in->b / 2;
    const mg_ref *args = t->args + in->a;
    if (in->op == MG_WHERE) {
        /* the picked operand only: the other is skipped, never multiplied by 0 */
        opnd c = view(t, w, params, args[0]);
        opnd a = view(t, w, params, args[1]), b = view(t, w, params, args[2]);
        for (l = 0; l < n; l++) {
            if (!live[l]) continue;
            if (mg_where_picks_a(c.v[l * c.s])) { if (a.adj) ADD_TO(a, g[l]); }
            else if (b.adj) ADD_TO(b, g[l]);
        }
    } else if (in->op == MG_SUM) {
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            if (!x.adj) continue;
            x.first = t->args_first[in->a + i];
            for (l = 0; l < n; l++) {
                if (live && !live[l]) continue;
                ADD_TO(x, g[l]);
            }
        }
    } else {                                   /* dot: each operand times its partner */
        const double *xs[MG_SUMS];
        double *sums[MG_SUMS];
        size_t k = 0;
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            opnd p = view(t, w, params, args[i < half ? i + half : i - half]);
            if (param_sum && t->args_first[in->a + i] == MG_ONLY) {
                xs[k] = p.v;
                sums[k++] = param_sum + (args[i] - t->nlane);
                if (k == MG_SUMS) {
                    dot_sums(g, xs, sums, k, n);
                    k = 0;
                }
                continue;
            }
            if (!x.adj) continue;
            if (live || x.reach) {
                for (l = 0; l < n; l++) {
                    if (live && !live[l]) continue;
                    ADD_TO(x, g[l] * p.v[l * p.s]);
                }
            } else {
                scaled(x.adj, n, g, p.v, p.s, t->args_first[in->a + i]);
            }
        }
        if (k) dot_sums(g, xs, sums, k, n);
    }
}

#define MG_OP(CODE, stem, name, kind, arity, doc) BWD_##kind(CODE, stem)
#define LIVE (live == NULL || live[l])
#define BWD_LEAF(CODE, stem)
#define BWD_BINARY(CODE, stem) case MG_##CODE: {                                \
        for (l = 0; l < n; l++) {                                               \
            double da, db;                                                      \
            if (!LIVE) continue;                                                \
            bwd_##stem(g[l], a.v[l * a.s], b.v[l * b.s], y[l], &da, &db);       \
            if (a.adj) ADD_TO(a, da);                                           \
            if (b.adj) ADD_TO(b, db);                                           \
        } } break;
/* One operand's contributions, call(xv) per lane: a tracked loop where the
 * tape prunes, else plain loops with restrict pointers (the operand, the
 * node's value and its adjoint are three different slots), which vectorise. */
#define BWD1(call)                                                              \
    if (!x.adj) break;                                                          \
    if (live) {                                                                 \
        for (l = 0; l < n; l++) {                                               \
            double xv, gl, yl;                                                  \
            if (!live[l]) continue;                                             \
            xv = x.v[l * x.s];                                                  \
            gl = g[l];                                                          \
            yl = y[l];                                                          \
            ADD_TO(x, call);                                                    \
        }                                                                       \
    } else {                                                                    \
        double *restrict ad = x.adj;                                            \
        const double *restrict gg = g, *restrict yy = y, *restrict xs = x.v;    \
        if (x.s && x.first)                                                     \
            for (l = 0; l < n; l++) { double xv = xs[l], gl = gg[l], yl = yy[l]; \
                                      ad[l] = 0.0 + (call); }                   \
        else if (x.s)                                                           \
            for (l = 0; l < n; l++) { double xv = xs[l], gl = gg[l], yl = yy[l]; \
                                      ad[l] += (call); }                        \
        else {                                                                  \
            double xv = xs[0];                                                  \
            if (x.first)                                                        \
                for (l = 0; l < n; l++) { double gl = gg[l], yl = yy[l];        \
                                          ad[l] = 0.0 + (call); }               \
            else                                                                \
                for (l = 0; l < n; l++) { double gl = gg[l], yl = yy[l];        \
                                          ad[l] += (call); }                    \
        }                                                                       \
    }
#define BWD_CONST(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl, c)) } break;
#define BWD_PARAM BWD_CONST
#define BWD_UNARY(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl)) } break;
#define BWD_RANGE(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl, c, c2)) } break;
#define BWD_STOP(CODE, stem) case MG_##CODE: break;
#define BWD_SELECT(CODE, stem)
#define BWD_NARY(CODE, stem)

MG_VECTOR static void backward(const mg_tape *t, mg_work *w, const double *params,
                               double *param_sum, size_t n)
{
    size_t k, l, L = t->lanes;
    for (k = t->ngrad; k-- > 0;) {
        const mg_instr *in = &t->code[k];
        const double *y = w->val + (size_t)in->out * L;
        const double *g = w->adj + (size_t)in->out * L;
        const unsigned char *live = w->reach ? w->reach + (size_t)in->out * L : NULL;
        double c = in->c, c2 = in->c2;
        opnd x, a, b;
        (void)c; (void)c2; (void)y;
        if (t->runs[k] && !(t->runs[k] & MG_RUN_START)) {
            size_t len = t->runs[k];
            backward_run(t, w, params, param_sum, k + 1 - len, len, n);
            k -= len - 1;
            continue;
        }
        if (is_block(in->kind)) {
            backward_block(t, w, params, param_sum, in, g, live, n);
            continue;
        }
        x = a = b = view(t, w, params, in->a);
        x.first = a.first = in->first & 1u;
        if (in->kind == MG_KIND_BINARY) {
            b = view(t, w, params, in->b);
            b.first = (in->first >> 1) & 1u;
        }
        switch (in->op) {
#include "mg_ops.def"
        default:
            break;
        }
    }
}
#undef BWD_LEAF
#undef BWD_BINARY
#undef BWD_CONST
#undef BWD_PARAM
#undef BWD_UNARY
#undef BWD_RANGE
#undef BWD_STOP
#undef BWD_SELECT
#undef BWD_NARY
#undef LIVE
#undef BWD1
#undef MG_OP

/* sum[p] = 0.0 + adj[p][0] + adj[p][1] + ..., in lane order, for the
 * parameters on t->folded: eight at a time, so that eight independent sums
 * are in flight. */
MG_VECTOR static void fold(const mg_tape *t, const double *adj, size_t n, double *sum)
{
    size_t L = t->lanes, m = t->nfolded, i = 0, l, k;
    const uint32_t *p = t->folded;
    for (; i + 8 <= m; i += 8) {
        double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (l = 0; l < n; l++)
            for (k = 0; k < 8; k++) acc[k] += adj[p[i + k] * L + l];
        for (k = 0; k < 8; k++) sum[p[i + k]] = acc[k];
    }
    for (; i < m; i++) {
        double acc = 0.0;
        for (l = 0; l < n; l++) acc += adj[p[i] * L + l];
        sum[p[i]] = acc;
    }
}

void mg_tape_chunk(const mg_tape *t, mg_work *w, const mg_run *run, size_t first, size_t n)
{
    size_t i, l, L = t->lanes;
    const double *params = run->params;
    for (i = 0; i < t->nin; i++)
        for (l = 0; l < n; l++)
            w->val[i * L + l] = run->x[(first + l) * t->nin + i];
    forward(t, w, params, n);
    if (run->out)
        for (i = 0; i < t->nout; i++) {
            opnd o = view(t, w, params, t->outs[i]);
            for (l = 0; l < n; l++)
                run->out[(first + l) * t->nout + i] = o.v[l * o.s];
        }
    if (run->out_sum) {
        opnd o = view(t, w, params, t->outs[0]);
        double acc = 0.0;
        for (l = 0; l < n; l++) acc += o.v[l * o.s];
        *run->out_sum = acc;
    }
    if (!run->backward) return;
    if (t->prunes) {
        for (i = 0; i < (size_t)t->nlane; i++)
            memset(w->adj + i * L, 0, n * sizeof(double));
        for (i = 0; i < t->npar; i++)
            memset(w->padj + i * L, 0, n * sizeof(double));
        for (i = 0; i < (size_t)t->nlane; i++)
            memset(w->reach + i * L, 0, n);
    } else {
        for (i = 0; i < t->nunreached; i++) {
            opnd o = view(t, w, params, t->unreached[i]);
            memset(o.adj, 0, n * sizeof(double));
        }
    }
    {
        /* the seed, d out / d out = 1 in every lane: always the output's
         * first contribution (a leaf output has no instructions above it) */
        opnd o = view(t, w, params, t->outs[0]);
        for (l = 0; l < n; l++) {
            o.adj[l] = 1.0;
            if (o.reach) o.reach[l] = 1;
        }
    }
    /* with no per-lane parameter gradients wanted, a dot sums its parameters
     * used once straight into param_sum; fold() sums the others */
    backward(t, w, params, run->param_grads ? NULL : run->param_sum, n);
    if (run->input_grads)
        for (i = 0; i < t->nin; i++)
            for (l = 0; l < n; l++)
                run->input_grads[(first + l) * t->nin + i] = w->adj[i * L + l];
    if (run->param_grads)
        for (i = 0; i < t->npar; i++)
            for (l = 0; l < n; l++)
                run->param_grads[(first + l) * t->npar + i] = w->padj[i * L + l];
    if (run->param_sum) fold(t, w->padj, n, run->param_sum);
}
