# See csrc/mg_graph.h for the node layout and the traversal, csrc/mg_ops.def for
# the op table; micrograd/_core.pyx includes the parts that use these.
from libc.stdint cimport uint8_t, uint16_t, uint32_t

cdef extern from "mg_graph.h" nogil:
    # Op codes: every row of csrc/mg_ops.def is MG_<CODE>, declared in the
    # generated micrograd/_core_table.pxi (tools/regen.py), the one place the
    # Cython layer gets them from.
    enum:
        MG_KIND_LEAF, MG_KIND_BINARY, MG_KIND_CONST, MG_KIND_UNARY, MG_KIND_PARAM
        MG_KIND_RANGE, MG_KIND_STOP, MG_KIND_SELECT, MG_KIND_NARY, MG_KIND_CUSTOM
    enum:
        MG_OK, MG_EZERODIV, MG_EDOM, MG_ERANGE
    enum:
        MG_FLAG_MARK, MG_FLAG_BLOCK, MG_FLAG_REACHED, MG_FLAG_EXTRA
    enum:
        MG_CHECK_EVERY

    # ===========================================================================
    # The node, embedded in each Number
    # ===========================================================================
    ctypedef struct mg_node:
        double value            # forward result
        double gradient         # d root / d node after backward
        double c                # constant operand (CONST, PARAM; RANGE's lo)
        uint8_t op              # op code
        uint8_t flags           # MG_FLAG_*
        uint16_t trace          # the trace that made the node, 0 if none
        uint32_t n              # operand slots

    ctypedef int (*mg_check_fn)(void *ctx) noexcept with gil

    const char *mg_op_name(int op) noexcept
    int mg_op_kind(int op) noexcept
    int mg_op_arity(int op) noexcept
    int mg_eval_unary(int op, double x, double *out) noexcept
    int mg_eval_binary(int op, double a, double b, double *out) noexcept
    int mg_eval_range(int op, double x, double lo, double hi, double *out) noexcept

    void mg_node_leaf(mg_node *node, double value) noexcept
    void mg_node_unary(mg_node *node, int op, double value, mg_node *x) noexcept
    void mg_node_binary(mg_node *node, int op, double value, mg_node *a, mg_node *b) noexcept
    void mg_node_const(mg_node *node, int op, double value, mg_node *x, double c) noexcept
    void mg_node_range(mg_node *node, int op, double value, mg_node *x, double lo,
                       double hi) noexcept
    int mg_node_block(mg_node *node, int op, uint32_t n) noexcept      # -1: no memory
    mg_node **mg_block_kids(const mg_node *node) noexcept
    double *mg_block_consts(const mg_node *node) noexcept
    int mg_block_eval(mg_node *node) noexcept
    void mg_node_release(mg_node *node) noexcept
    mg_node *mg_node_kid(const mg_node *node, uint32_t i) noexcept
    double mg_node_hi(const mg_node *node) noexcept

    int mg_grad_enabled() noexcept
    void mg_set_grad_enabled(int enabled) noexcept
    int mg_anomaly_enabled() noexcept
    void mg_set_anomaly(int enabled) noexcept
    int mg_plain() noexcept
    unsigned mg_trace_current() noexcept
    unsigned mg_trace_begin() noexcept
    void mg_trace_end(unsigned previous) noexcept
    int mg_trace_is_open(unsigned id) noexcept
    enum: MG_TRACE_FULL

    # -1: out of memory (no exception set); -2: check() raised (exception set)
    int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx) except -2

    # The traversal and one node's propagation, for the sweeps written in
    # Cython (hooks, anomaly mode, gradient graphs): csrc/mg_graph.h
    ctypedef struct mg_order:
        mg_node **nodes
        size_t len, cap
        int prunes
    int mg_topo_sort(mg_node *root, mg_order *order, mg_check_fn check, void *ctx) except -2
    int mg_topo_collect(mg_node *root, mg_order *order, int zero, mg_check_fn check,
                        void *ctx) except -2
    void mg_order_unmark(const mg_order *order) noexcept
    void mg_order_free(mg_order *order) noexcept
    void mg_propagate(mg_node *node) noexcept
    void mg_propagate_tracked(mg_node *node) noexcept
    # forward mode (csrc/mg_forward.c)
    void mg_forward_sweep(const mg_order *order) noexcept

cdef extern from "mg_optim.h" nogil:
    # ===========================================================================
    # Optimizer steps over a parameter group (csrc/mg_optim.h: state per
    # distinct parameter, owned by the caller)
    # ===========================================================================
    ctypedef struct mg_sgd_opts:
        double lr, momentum, dampening, weight_decay
        int nesterov, maximize
    ctypedef struct mg_adam_opts:
        double lr, beta1, beta2, eps, weight_decay
        int amsgrad, maximize, decoupled
    ctypedef struct mg_rmsprop_opts:
        double lr, alpha, eps, weight_decay, momentum
        int centered, maximize
    ctypedef struct mg_adagrad_opts:
        double lr, lr_decay, weight_decay, eps
        int maximize

    void mg_sgd_step(mg_node **p, const uint32_t *idx, size_t n, double **bufs,
                     double *steps, const mg_sgd_opts *o) noexcept
    void mg_adam_step(mg_node **p, const uint32_t *idx, size_t n, double **bufs,
                      double *steps, const mg_adam_opts *o) noexcept
    void mg_rmsprop_step(mg_node **p, const uint32_t *idx, size_t n, double **bufs,
                         double *steps, const mg_rmsprop_opts *o) noexcept
    void mg_adagrad_step(mg_node **p, const uint32_t *idx, size_t n, double **bufs,
                         double *steps, const mg_adagrad_opts *o) noexcept
