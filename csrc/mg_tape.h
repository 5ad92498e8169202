/*
 * mg_tape.h -- a recorded graph as a tape of instructions, replayed over a
 * batch of lanes.  docs/design.md ("The tape") explains the design.
 *
 * Building
 * --------
 * mg_tape_build() flattens the graphs of some roots (the outputs of a traced
 * function) into instructions: one per interior node, in the one topological
 * order of mg_topo_collect (the first root's graph first), so a lane replays
 * exactly the nodes, formulas (mg_formulas.h) and operand order of the graph.
 * Every value has a reference:
 *
 *   [0, nlane)                   lane slots, one value per lane: the inputs
 *                                first (nin of them), then one per instruction
 *   [nlane, nlane + npar)        parameters: the leaves the graphs reached that
 *                                are not inputs, one value for all lanes
 *   [nlane + npar, ...)          constants: the real operands of block ops
 *
 * A custom op (micrograd.custom_op) is an instruction of kind CUSTOM whose
 * args are its operands alone; its value and, when gradients or tangents
 * are wanted, its partials come per chunk from the run's callback (Python's
 * forward and derivative, called with the GIL), the partials into rows of
 * the workspace (`part`, row c2 + i for operand i; c is the op's registry
 * index), which backward and forward mode use as a dot uses its partners.
 *
 * Replaying
 * ---------
 * A chunk of at most `lanes` lanes runs at a time.  Its values live in a
 * workspace as struct of arrays, val[slot * lanes + lane], so each
 * instruction is one loop over the chunk's lanes.  Forward runs every
 * instruction; backward runs the first root's instructions, code[0..ngrad),
 * in reverse, with adjoints laid out like the values; parameters get one
 * adjoint per lane too, because a lane must accumulate exactly as the graph
 * of that one sample does.  Forward keeps the IEEE value where Python would
 * raise (the status of fwd_ is ignored).
 *
 * Where no instruction prunes, which contribution to each adjoint comes first
 * is known when the tape is built: that one is stored as 0.0 + v (exactly
 * what adding to a zeroed adjoint gives), so no adjoint is cleared before a
 * backward pass but the few that no contribution reaches.
 *
 * A dense run is a sequence of dot instructions (a layer of neurons) whose
 * first halves are parameters or constants and whose second halves are the
 * same operands: they replay together, each lane value loaded once for four
 * neurons, each operand's contributions from the run added in one pass, and
 * the parameters' chunk sums computed four neurons at a time.  Every lane
 * still adds the same terms in the same order as the nodes do.
 *
 * Nothing here allocates while replaying, takes a lock or touches Python (but
 * a custom op's callback, which takes the GIL): a chunk is a pure function of
 * the tape, its inputs and the workspace, so chunks may run on several
 * threads, each with its own workspace.
 */
#ifndef MICROGRAD_MG_TAPE_H
#define MICROGRAD_MG_TAPE_H

#include <stddef.h>
#include <stdint.h>
#include "mg_graph.h"

typedef uint32_t mg_ref;

typedef struct {
    uint8_t op;             /* row of mg_ops.def */
    uint8_t kind;           /* its MG_KIND_ */
    uint16_t first;         /* bit k: operand k's first contribution (below) */
    uint32_t out;           /* lane slot */
    mg_ref a, b;            /* operands; a block op: first index in args, count */
    double c, c2;           /* constants of CONST, PARAM and RANGE ops */
} mg_instr;

typedef struct {
    mg_instr *code;
    size_t ncode, ngrad;    /* all instructions; those of the first root */
    mg_ref *args;           /* operands of block ops */
    uint8_t *args_first;    /* 1 where that operand's contribution is its first */
    size_t nargs;
    double *consts;
    size_t nconst;
    mg_ref *outs;           /* one reference per root */
    size_t nout;
    uint32_t nin, npar, nlane;
    size_t npart;           /* rows of custom ops' partials, one per operand */
    int prunes;             /* a where() or stop_gradient: backward tracks reach */
    size_t lanes;           /* the chunk size */
    mg_ref *unreached;      /* inputs and parameters no contribution reaches */
    size_t nunreached;
    uint32_t *folded;       /* the parameters whose chunk sums come from their
                               per-lane adjoints (the others: MG_ONLY below) */
    size_t nfolded;
    uint32_t *all;          /* 0, 1, ..., npar - 1 */
    uint32_t *runs;         /* per instruction: 0, or 1 + the index in dense of
                               the run it starts (with MG_RUN_START) or ends */
    struct mg_dense *dense; /* the dense runs, in order */
    size_t ndense;
    size_t npacked;         /* doubles in a packed copy of the runs' weights */
    uint32_t *only;         /* pairs (entry of a run's J x K weight gradients,
                               parameter): the MG_ONLY weights of every run */
    size_t nonly;
    uint32_t *rest;         /* pairs (neuron, operand) of the runs' other
                               parameter weights, in sweep order */
    size_t nrest;
    size_t maxrun, maxhalf; /* the most neurons, and operands per half, of a run */
} mg_tape;

/* A dense run: J = len neurons (dot instructions k0, k0 + 1, ...) over the
 * same K = half inputs, replayed as matrix products (mg_gemm.h).  Its weights
 * (the first halves: parameters or constants) are packed once per call, J x K
 * in neuron order at w and again in sweep order (last neuron first) at
 * w + J * K; its MG_ONLY weights are only[2 * first_only ...]. */
typedef struct mg_dense {
    size_t k0, len, half, w, first_only, nonly;
    size_t first_rest, nrest;   /* its weights that are parameters but not
                                   MG_ONLY: rest[2 * first_rest ...] */
    size_t direct;          /* 1 + p where weight (j, i) is parameter p + j K + i
                               for every j and i (an nn layer), else 0 */
} mg_dense;

/* args_first values: 1 the operand's first contribution; MG_ONLY its only
 * one, to a parameter through a dot, whose chunk sum the dot accumulates
 * directly, in lane order, when no per-lane parameter gradient is wanted. */
#define MG_ONLY 2
/* runs[k] of the first instruction of a dense run carries this bit */
#define MG_RUN_START 0x80000000u

/* The kinds whose operands are a block (args): where, sum, dot, custom ops. */
static inline int mg_block_kind(int kind)
{
    return kind == MG_KIND_SELECT || kind == MG_KIND_NARY || kind == MG_KIND_CUSTOM;
}

/* Flattens the graphs of roots[0..nroots) with inputs[0..nin) (leaves) as
 * the first lane slots.  On success fills *tape and *params (the parameter
 * leaves, in order of first use: the caller frees it with free()) and
 * returns 0; -1 out of memory; -2 the check callback aborted; -3 an input
 * appears twice.  Marks are clear afterwards either way. */
int mg_tape_build(mg_tape *tape, mg_node *const *roots, size_t nroots,
                  mg_node *const *inputs, size_t nin, mg_node ***params,
                  mg_check_fn check, void *ctx);
/* Fills *tape from its arrays (a tape rebuilt from a pickle): computes
 * nlane, ngrad stays as given, prunes and lanes; the arrays are the caller's
 * until mg_tape_free.  -1 if a reference or an op is out of range
 * (or a custom op: a pickled tape cannot name one). */
int mg_tape_check(mg_tape *tape);
void mg_tape_free(mg_tape *tape);

/* The chunk size for a tape: a power of two from 8 to 256 such that a
 * chunk's workspace stays near 512 KiB.  A function of the tape alone, so
 * results never depend on the batch split or the number of threads. */
size_t mg_tape_lanes(const mg_tape *tape);

/* A workspace for one thread: values, adjoints, parameter adjoints, reach. */
typedef struct {
    double *val, *adj, *padj;
    unsigned char *reach;
    double *packed;         /* the runs' weights, when the call packed none */
    const double **xrows;   /* a run's input rows (maxhalf) */
    double **rows;          /* a run's output or adjoint rows (2 x maxrun) */
    double *bcast;          /* inputs of one value, as rows (maxhalf x lanes) */
    double *gw;             /* a run's weight gradients (maxrun x maxhalf) */
    unsigned char *firsts;  /* which inputs get their first contribution */
    double *part;           /* custom ops' partials: npart rows of lanes */
} mg_work;

int mg_work_alloc(mg_work *w, const mg_tape *tape);     /* 0, or -1 */
void mg_work_free(mg_work *w);

/* A custom instruction's lanes [0, n) of a chunk whose first lane is
 * `first`: fills its value slot (w->val + in->out * lanes) and, with
 * `partials`, its partial rows (mg_tape_partials); reads its operands with
 * mg_tape_value.  Nonzero if it failed: the caller keeps why, the chunk runs
 * on, and the run's check stops the replay after it (mg_tape_run).  Without
 * a callback, a custom op's lanes are NaN. */
typedef int (*mg_custom_fn)(void *ctx, const mg_tape *t, mg_work *w, const double *params,
                            const mg_instr *in, size_t first, size_t n, int partials);
double mg_tape_value(const mg_tape *t, const mg_work *w, const double *params, mg_ref r,
                     size_t l);
double *mg_tape_partials(const mg_tape *t, mg_work *w, const mg_instr *in);
/* Runs in's callback, or fills NaN where there is none. */
void mg_tape_custom(const mg_tape *t, mg_work *w, const double *params, const mg_instr *in,
                    size_t first, size_t n, int partials, mg_custom_fn fn, void *ctx);

/* What one chunk computes.  Pointers may be NULL where a result is not
 * wanted; arrays indexed by lane are the whole batch's (row-major), and the
 * chunk writes its rows [first, first + n). */
typedef struct {
    const double *x;        /* B x nin inputs */
    const double *params;   /* npar parameter values */
    double *out;            /* B x nout outputs */
    int backward;           /* run the backward pass of the first output */
    double *input_grads;    /* B x nin: each lane's gradient for its inputs */
    double *param_grads;    /* B x npar: each lane's gradient for the parameters */
    double *param_sum;      /* npar: the sum over the chunk's lanes, in lane
                               order, from 0.0 */
    double *out_sum;        /* 1: the sum of the first output over the chunk */
    int plain;              /* replay with mg_tape_chunk_plain (the oracle) */
    const double *packed;   /* mg_tape_pack of params, or NULL: each chunk packs */
    mg_custom_fn custom;    /* custom ops' lanes (NULL: the tape has none) */
    void *custom_ctx;
    /* read by mg_tape_run alone: per chunk of the batch, as each is added to
     * the totals, its out_sum and (with param_total) its npar param_sum */
    double *chunk_outs;     /* nchunks */
    double *chunk_sums;     /* nchunks x npar */
} mg_run;

/* values[i] = nodes[i]->value, and nodes[i]->gradient += grads[i] / divisor
 * (grads[i] itself when divisor is 1), for i < n: a tape's parameters read
 * and given their gradients once a call, prefetching the nodes ahead. */
void mg_tape_read_params(mg_node *const *nodes, size_t n, double *values);
void mg_tape_add_grads(mg_node *const *nodes, size_t n, const double *grads, double divisor);

/* The dense runs' weights, read from params and the constants, as the runs
 * use them (t->npacked doubles): once per call, shared by its chunks. */
void mg_tape_pack(const mg_tape *tape, const double *params, double *packed);

void mg_tape_chunk(const mg_tape *tape, mg_work *w, const mg_run *run, size_t first,
                   size_t n);

/* Replays lanes [0, B) of run in chunks on nthreads threads (this one and
 * nthreads - 1 started for the call, each with its works[k]): out_total is
 * the sum of the chunks' out_sum, and param_total (if not NULL) gains their
 * param_sum, both added in chunk order, so the bits never depend on
 * nthreads (mg_threads.c), the chunks' sums going through slots.  check(ctx),
 * if not NULL, is called after each chunk this thread runs; a nonzero result
 * stops the replay, is returned, and nothing is added.  -1 out of memory. */
int mg_tape_run(const mg_tape *tape, mg_work *works, int nthreads, const mg_run *run, size_t B,
                double *slots, double *param_total, double *out_total, int (*check)(void *),
                void *ctx);

/* The chunks a wave of mg_tape_run holds; slots must hold that many times
 * npar + 1 doubles (the caller keeps them between calls: a fresh multi-MB
 * buffer each call would cost its page faults every time). */
size_t mg_tape_wave(const mg_tape *tape, size_t B, int nthreads);

/* The threads worth using for B lanes, at most requested (mg_threads.c). */
int mg_tape_threads(const mg_tape *tape, size_t B, int requested);

/* total[i] += part[i] for i < n: a chunk's sums added to the call's. */
void mg_tape_add(double *total, const double *part, size_t n);

/* The plain interpreter (mg_interp.c): instruction by instruction, lane by
 * lane, every adjoint zeroed and added to, no lowering of any kind.  The
 * oracle that mg_tape_chunk must match bit for bit; run->plain selects it. */
void mg_tape_chunk_plain(const mg_tape *tape, mg_work *w, const mg_run *run, size_t first,
                         size_t n);

/* Forward mode (mg_interp.c, plainly interpreted): for each of the B rows of
 * x (B x nin) and of v (B x nin, the inputs' tangents), out (B x nout) gets
 * the outputs and tout (B x nout) their tangents, each lane the bits of
 * micrograd.jvp on its sample; parameters have no tangent.  0, or -1 out of
 * memory. */
int mg_tape_jvp(const mg_tape *tape, const double *x, const double *v, const double *params,
                size_t B, double *out, double *tout, mg_custom_fn custom, void *ctx);

#endif /* MICROGRAD_MG_TAPE_H */
