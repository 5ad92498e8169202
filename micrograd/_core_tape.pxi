# Included by _core.pyx; the twin of micrograd/_tape_py.py.
# =============================================================================
# Tracing, and the tape replayed in C (csrc/mg_tape.c, csrc/mg_replay.c)
# =============================================================================
# The public side (shapes, reductions, pickles, the Tape class users hold) is
# micrograd/tape.py; this is the backend part: opening and closing a trace,
# flattening the traced graph, and running chunks of lanes without the GIL.
from libc.string cimport memset

cdef extern from "mg_tape.h" nogil:
    ctypedef uint32_t mg_ref
    ctypedef struct mg_instr:
        uint8_t op
        uint8_t kind
        uint32_t out
        mg_ref a, b
        double c, c2
    ctypedef struct mg_tape:
        mg_instr *code
        size_t ncode, ngrad
        mg_ref *args
        uint8_t *args_first
        size_t nargs
        double *consts
        size_t nconst
        mg_ref *outs
        size_t nout
        uint32_t nin, npar, nlane
        int prunes
        size_t lanes
        size_t npacked
    ctypedef struct mg_work:
        double *val
    ctypedef int (*mg_custom_fn)(void *ctx, const mg_tape *t, mg_work *w, const double *params,
                                 const mg_instr *ins, size_t first, size_t n,
                                 int partials) noexcept with gil
    double mg_tape_value(const mg_tape *t, const mg_work *w, const double *params, mg_ref r,
                         size_t l) noexcept
    double *mg_tape_partials(const mg_tape *t, mg_work *w, const mg_instr *ins) noexcept
    ctypedef struct mg_run:
        const double *x
        const double *params
        double *out
        int backward
        double *input_grads
        double *param_grads
        double *param_sum
        double *out_sum
        int plain
        const double *packed
        mg_custom_fn custom
        void *custom_ctx
        double *chunk_outs
        double *chunk_sums
    void mg_tape_pack(const mg_tape *tape, const double *params, double *packed) noexcept
    void mg_tape_add(double *total, const double *part, size_t n) noexcept
    void mg_tape_read_params(mg_node **nodes, size_t n, double *values) noexcept
    void mg_tape_add_grads(mg_node **nodes, size_t n, const double *grads, double divisor) noexcept
    int mg_tape_build(mg_tape *tape, mg_node **roots, size_t nroots, mg_node **inputs,
                      size_t nin, mg_node ***params, mg_check_fn check, void *ctx) except -2
    int mg_tape_check(mg_tape *tape) noexcept
    void mg_tape_free(mg_tape *tape) noexcept
    int mg_work_alloc(mg_work *w, const mg_tape *tape) noexcept
    void mg_work_free(mg_work *w) noexcept
    int mg_tape_run(const mg_tape *tape, mg_work *works, int nthreads, const mg_run *run,
                    size_t B, double *slots, double *param_total, double *out_total,
                    int (*check)(void *) noexcept with gil, void *ctx) nogil
    size_t mg_tape_wave(const mg_tape *tape, size_t B, int nthreads) noexcept
    int mg_tape_threads(const mg_tape *tape, size_t B, int requested) noexcept
    int mg_tape_jvp(const mg_tape *tape, const double *x, const double *v, const double *params,
                    size_t B, double *out, double *tout, mg_custom_fn custom,
                    void *ctx) nogil


cdef extern from "Python.h":
    double PyFloat_AsDouble(object o) except? -1.0


# -- tracing -------------------------------------------------------------------
def _trace_begin():
    """Open a trace; returns what _trace_end needs to close it."""
    cdef unsigned previous = mg_trace_begin()
    if previous == MG_TRACE_FULL:
        raise RuntimeError(_TRACES_FULL)
    return previous


def _trace_end(previous):
    mg_trace_end(previous)


def _trace_input(value):
    """A leaf for an input of the function being traced: reading it raises."""
    cdef Number n = Number(value)
    n.node.trace = <uint16_t>mg_trace_current()
    return n


# -- the tape --------------------------------------------------------------------
cdef int _check_build(void *ctx) noexcept with gil:
    return PyErr_CheckSignals()


@cython.final
@cython.binding(False)     # methods check self when called unbound (see Number)
@cython.auto_pickle(False)
cdef class _Tape:
    """A flattened graph and the C replay of it (see micrograd.tape.Tape)."""

    cdef mg_tape tape
    cdef readonly tuple params          # the parameter Numbers, in order
    cdef mg_node **pnodes
    cdef mg_work *works                 # nworks workspaces, reused by calls
    cdef int nworks                     # that do not overlap
    cdef bint works_busy
    cdef double *slots                  # nslots doubles: chunk sums (mg_tape_wave)
    cdef size_t nslots
    cdef readonly int threads_used      # by the last call (for tests)
    cdef public bint plain              # replay with the plain interpreter (the oracle)

    def __dealloc__(self):
        mg_tape_free(&self.tape)
        self._drop_works()
        free(self.pnodes)

    @staticmethod
    def build(outputs, inputs):
        """Flatten the graphs of the output Numbers; inputs are the leaves that
        become the lanes' values."""
        cdef _Tape self = _Tape.__new__(_Tape)
        cdef Py_ssize_t i, nroots = len(outputs), nin = len(inputs)
        cdef mg_node **roots = <mg_node **>malloc(max(nroots, 1) * sizeof(mg_node *))
        cdef mg_node **ins = <mg_node **>malloc(max(nin, 1) * sizeof(mg_node *))
        cdef mg_node **found = NULL
        cdef int status
        try:
            if roots == NULL or ins == NULL:
                raise MemoryError()
            for i in range(nroots):
                roots[i] = &(<Number?>outputs[i]).node
            for i in range(nin):
                ins[i] = &(<Number?>inputs[i]).node
            status = mg_tape_build(&self.tape, roots, nroots, ins, nin, &found,
                                   _check_build, NULL)
            if status == -1:
                raise MemoryError("micrograd: out of memory while flattening the graph")
            if status == -3:
                raise ValueError("trace: an input appears twice")
            self.pnodes = found
            for i in range(<Py_ssize_t>self.tape.npar):    # see micrograd/tape.py, trace
                if found[i].trace != 0 and mg_trace_is_open(found[i].trace):
                    raise _traced_read("", "tracing a function that uses the value")
            self.params = tuple([<object>_owner(found[i]) for i in range(self.tape.npar)])
        finally:
            free(roots)
            free(ins)
        return self

    @staticmethod
    def from_state(dict state, params):
        """A tape from to_state() and fresh parameter Numbers (a pickle)."""
        cdef _Tape self = _Tape.__new__(_Tape)
        cdef Py_ssize_t i
        cdef list code = state["code"], args = state["args"], consts = state["consts"]
        cdef list outs = state["outs"]
        cdef mg_tape *t = &self.tape
        t.ncode, t.nargs, t.nconst, t.nout = len(code), len(args), len(consts), len(outs)
        t.ngrad, t.nin, t.npar = state["ngrad"], state["nin"], len(params)
        t.code = <mg_instr *>malloc(max(t.ncode, <size_t>1) * sizeof(mg_instr))
        t.args = <mg_ref *>malloc(max(t.nargs, <size_t>1) * sizeof(mg_ref))
        t.args_first = <uint8_t *>malloc(max(t.nargs, <size_t>1))
        t.consts = <double *>malloc(max(t.nconst, <size_t>1) * sizeof(double))
        t.outs = <mg_ref *>malloc(max(t.nout, <size_t>1) * sizeof(mg_ref))
        self.pnodes = <mg_node **>malloc(max(t.npar, <size_t>1) * sizeof(mg_node *))
        if not (t.code and t.args and t.args_first and t.consts and t.outs and self.pnodes):
            raise MemoryError()
        for i in range(<Py_ssize_t>t.ncode):
            name, out, a, b, c, c2 = code[i]
            op = _optable.from_tape_name(name)
            if op < 0:
                raise ValueError(f"tape: unknown op {name!r}")
            t.code[i].op, t.code[i].kind = op, mg_op_kind(op)
            t.code[i].out, t.code[i].a, t.code[i].b = out, a, b
            # a custom op's c comes as its name (mg_tape_check lays out c2)
            t.code[i].c, t.code[i].c2 = _custom_from_state(op, c, b), c2
        for i in range(<Py_ssize_t>t.nargs):
            t.args[i] = args[i]
        for i in range(<Py_ssize_t>t.nconst):
            t.consts[i] = consts[i]
        for i in range(<Py_ssize_t>t.nout):
            t.outs[i] = outs[i]
        status = mg_tape_check(t)
        if status == -2:
            raise MemoryError()
        if status < 0:
            raise ValueError("tape: the pickled tape is not consistent")
        self.params = tuple(params)
        for i in range(<Py_ssize_t>t.npar):
            self.pnodes[i] = &(<Number?>self.params[i]).node
        return self

    def to_state(self):
        """The tape as plain lists, each op named by its row's CODE (unique)."""
        cdef mg_tape *t = &self.tape
        cdef size_t i
        return {"nin": t.nin, "ngrad": t.ngrad,
                "code": [(_optable.tape_name(t.code[i].op), t.code[i].out, t.code[i].a, t.code[i].b,
                          _custom_to_state(t.code[i].op, t.code[i].c), t.code[i].c2)
                         for i in range(t.ncode)],
                "args": [t.args[i] for i in range(t.nargs)],
                "consts": [t.consts[i] for i in range(t.nconst)],
                "outs": [t.outs[i] for i in range(t.nout)]}

    @property
    def shape(self):
        """(inputs, outputs, instructions, lanes per chunk)."""
        return (self.tape.nin, self.tape.nout, self.tape.ncode, self.tape.lanes)

    def param_values(self):
        cdef size_t i
        return [self.pnodes[i].value for i in range(self.tape.npar)]

    def add_param_grads(self, double[::1] grads, double divisor=1.0):
        """Leaves accumulate: each parameter's .gradient gains its entry
        (divided by divisor: a mean's batch size)."""
        if self.tape.npar:
            mg_tape_add_grads(self.pnodes, self.tape.npar, &grads[0], divisor)

    def backward_into_params(self, const double[:, ::1] x, double divisor, int threads):
        """run() with backward, then each parameter's .gradient gains its
        total divided by divisor: tape.backward's one call."""
        cdef double *total = <double *>calloc(max(<size_t>self.tape.npar, <size_t>1),
                                              sizeof(double))
        cdef double value
        cdef size_t i
        if total == NULL:
            raise MemoryError()
        try:
            value = self._run(x, None, None, None, total, True, threads)
            mg_tape_add_grads(self.pnodes, self.tape.npar, total, divisor)
        finally:
            free(total)
        return value

    def run(self, const double[:, ::1] x, double[:, ::1] out, double[:, ::1] input_grads,
            double[:, ::1] param_grads, double[::1] param_total, bint backward, int threads,
            double[::1] chunk_outs=None, double[:, ::1] chunk_sums=None):
        """Replay over the rows of x, chunk by chunk; returns the sum of the
        first output over all lanes (chunk sums added in chunk order).

        Each argument but x may be None.  param_total gains the chunks' sums
        of the per-lane parameter gradients, in chunk order, from 0.0; with
        threads > 1, the chunks are shared out and their sums kept until
        they can be added in that order, so the bits never depend on threads.
        chunk_outs and chunk_sums (with param_total) get each chunk's first-
        output sum and parameter sums, as they are added.
        """
        cdef size_t nchunks = (x.shape[0] + self.tape.lanes - 1) // self.tape.lanes
        _check_chunk_arrays(chunk_outs, chunk_sums, param_total, nchunks, self.tape.npar)
        return self._run(x, out, input_grads, param_grads,
                         &param_total[0] if param_total is not None else NULL, backward, threads,
                         &chunk_outs[0] if chunk_outs is not None and nchunks else NULL,
                         &chunk_sums[0, 0] if chunk_sums is not None and nchunks
                         and self.tape.npar else NULL)

    cdef double _run(self, const double[:, ::1] x, double[:, ::1] out,
                     double[:, ::1] input_grads, double[:, ::1] param_grads,
                     double *param_total, bint backward, int threads,
                     double *chunk_outs=NULL, double *chunk_sums=NULL) except? -1.0:
        cdef mg_tape *t = &self.tape
        cdef size_t B = x.shape[0]
        cdef double *pvals = <double *>malloc(max(<size_t>t.npar, <size_t>1) * sizeof(double))
        cdef double *packed = <double *>malloc(max(t.npacked, <size_t>1) * sizeof(double))
        cdef mg_work *works = NULL
        cdef double *slots = NULL
        cdef size_t nslots
        cdef mg_run run
        cdef size_t i
        cdef int n, status
        cdef double total = 0.0
        cdef bint own = False
        cdef list failed = [None]           # a custom op's exception (_custom_lanes)
        if pvals == NULL or packed == NULL:
            free(pvals)
            free(packed)
            raise MemoryError()
        try:
            # read at every call: optimizers move them
            mg_tape_read_params(self.pnodes, t.npar, pvals)
            mg_tape_pack(t, pvals, packed)   # the dense runs' weights, once a call
            memset(&run, 0, sizeof(run))
            run.x = &x[0, 0] if B else NULL
            run.params = pvals
            run.packed = packed
            run.out = &out[0, 0] if out is not None and B else NULL
            run.backward = backward
            run.plain = self.plain
            run.chunk_outs = chunk_outs
            run.chunk_sums = chunk_sums
            run.input_grads = &input_grads[0, 0] if input_grads is not None and B else NULL
            run.param_grads = &param_grads[0, 0] if param_grads is not None and B else NULL
            run.custom = _custom_lanes
            run.custom_ctx = <void *>failed
            n = mg_tape_threads(t, B, threads)
            self.threads_used = n
            nslots = mg_tape_wave(t, B, n) * (t.npar + 1)
            if self.works_busy:          # a call in another thread has the tape's
                works = _new_works(t, n)
                own = True
                slots = <double *>malloc(nslots * sizeof(double))
                if slots == NULL:
                    raise MemoryError()
            else:
                if self.nworks < n:
                    self._drop_works()
                    self.works = _new_works(t, n)
                    self.nworks = n
                if self.nslots < nslots:
                    free(self.slots)
                    self.slots = <double *>malloc(nslots * sizeof(double))
                    self.nslots = nslots if self.slots != NULL else 0
                    if self.slots == NULL:
                        raise MemoryError()
                works = self.works
                slots = self.slots
                self.works_busy = True
            with nogil:
                status = mg_tape_run(t, works, n, &run, B, slots, param_total, &total,
                                     _check_run, <void *>failed)
            if failed[0] is not None:
                raise failed[0]
            if status == 1:
                _reraise()
            if status < 0:
                raise MemoryError()
            return total
        finally:
            free(pvals)
            free(packed)
            if own:
                _free_works(works, n)
                free(slots)
            elif works != NULL:
                self.works_busy = False

    def jvp(self, const double[:, ::1] x, const double[:, ::1] v, double[:, ::1] out,
            double[:, ::1] tout):
        """Forward mode over the rows of x: out gets the outputs and tout their
        tangents along the rows of v (csrc/mg_interp.c, mg_tape_jvp)."""
        cdef mg_tape *t = &self.tape
        cdef size_t B = x.shape[0]
        cdef double *pvals = <double *>malloc(max(<size_t>t.npar, <size_t>1) * sizeof(double))
        cdef int status
        cdef list failed = [None]
        if pvals == NULL:
            raise MemoryError()
        try:
            mg_tape_read_params(self.pnodes, t.npar, pvals)
            if B == 0:
                return
            with nogil:
                status = mg_tape_jvp(t, &x[0, 0], &v[0, 0], pvals, B, &out[0, 0], &tout[0, 0],
                                     _custom_lanes, <void *>failed)
            if failed[0] is not None:
                raise failed[0]
            if status < 0:
                raise MemoryError()
        finally:
            free(pvals)

    cdef void _drop_works(self):
        _free_works(self.works, self.nworks)
        self.works = NULL
        self.nworks = 0
        free(self.slots)
        self.slots = NULL
        self.nslots = 0


cdef mg_work *_new_works(mg_tape *t, int n) except NULL:
    """n workspaces for t, or MemoryError."""
    cdef mg_work *works = <mg_work *>calloc(max(n, 1), sizeof(mg_work))
    cdef int k
    if works == NULL:
        raise MemoryError()
    for k in range(n):
        if mg_work_alloc(&works[k], t) < 0:
            _free_works(works, n)
            raise MemoryError()
    return works


cdef void _free_works(mg_work *works, int n) noexcept:
    cdef int k
    if works == NULL:
        return
    for k in range(n):
        mg_work_free(&works[k])
    free(works)


cdef int _check_run(void *ctx) noexcept with gil:
    """Between chunks: 1 if a custom op failed (its exception is in ctx, a
    one-item list), or if a signal handler raised (Ctrl-C), the exception left
    set for _reraise."""
    if (<list>ctx)[0] is not None:
        return 1
    return 1 if PyErr_CheckSignals() < 0 else 0


cdef int _custom_lanes(void *ctx, const mg_tape *t, mg_work *w, const double *params,
                       const mg_instr *ins, size_t first, size_t n, int partials) noexcept with gil:
    """A custom op's lanes for the C replay (mg_custom_fn): the shared
    CustomOp.lanes on its operands' values (the twin: _tape_py's
    Tape._custom_lanes).  The first exception is kept in ctx, a one-item
    list, for the caller to raise; later calls do nothing."""
    cdef list failed = <list>ctx
    cdef size_t i, l, L = t.lanes
    cdef double *y = w.val + <size_t>ins.out * L
    cdef double *part = mg_tape_partials(t, w, ins)
    if failed[0] is not None:
        return -1
    try:
        cols = [[mg_tape_value(t, w, params, t.args[ins.a + i], l) for l in range(n)]
                for i in range(ins.b)]
        ys, rows = _custom_op_of(ins.c).lanes(cols, partials)
        for l in range(n):
            y[l] = ys[l]
        if partials:
            for i in range(ins.b):
                row = rows[i]
                for l in range(n):
                    part[i * L + l] = row[l]
    except BaseException as exc:
        failed[0] = exc
        return -1
    return 0


cdef int _reraise() except -1:
    """Propagates the exception _check_run left set."""
    return -1



# -- hooks: a tape does not run them ----------------------------------------------
def _tape_hooks(outputs, params):
    """Whether a Number a tape would replay (a parameter, or a node of the
    outputs' graphs) has a hook.  Looked for only while some hook is
    registered anywhere (the twin: micrograd/_tape_py.py, tape_hooks)."""
    cdef mg_order order
    cdef size_t i
    if _hooks_live == 0:
        return False
    for p in params:
        if _hooks_of(<Number?>p):
            return True
    for out in outputs:
        if (<Number?>out).node.op == MG_LEAF:
            continue
        order.nodes, order.len, order.cap, order.prunes = NULL, 0, 0, 0
        if mg_topo_collect(&(<Number>out).node, &order, 0, NULL, NULL) == -1:
            raise MemoryError("micrograd: out of memory")
        try:
            for i in range(order.len):
                if _hooks_of(<Number>_owner(order.nodes[i])):
                    return True
        finally:
            mg_order_unmark(&order)
            mg_order_free(&order)
    return False


# -- the dense-layer kernels (csrc/mg_gemm.h) and the machine's bound -------------
cdef extern from "mg_gemm.h" nogil:
    const char *mg_gemm_path()
    int mg_gemm_select(const char *name)

cdef extern from "mg_peak.h" nogil:
    int MG_PEAK_MACS
    double mg_mac_loop(size_t iters)


def gemm_path():
    """The dense-layer kernels in use: "avx512", "avx2" or "portable"
    (MICROGRAD_NO_SIMD=1 forces "portable"; every path gives the same bits)."""
    return mg_gemm_path().decode()


def gemm_select(str name):
    """Use the kernels `name` ("avx512", "avx2", "portable" or "auto") from now
    on; ValueError if this CPU cannot run them.  For tests and benchmarks."""
    if mg_gemm_select(name.encode()) < 0:
        raise ValueError(f"gemm_select: {name!r} is not available on this machine")


def mac_rate(double seconds=0.2):
    """This core's rate of separate multiplies and adds (per second of this
    thread's CPU time, so that other processes on a shared machine do not
    lower it), on the widest vectors it has: the bound of a dense layer's
    exact kernels."""
    import time
    cdef size_t iters = 1 << 16
    cdef double t0, elapsed, best = 0.0
    while True:
        t0 = time.thread_time()
        with nogil:
            mg_mac_loop(iters)
        elapsed = time.thread_time() - t0
        if elapsed > seconds / 5:
            break
        iters *= 4
    for _ in range(5):
        t0 = time.thread_time()
        with nogil:
            mg_mac_loop(iters)
        elapsed = time.thread_time() - t0
        best = max(best, iters * MG_PEAK_MACS / elapsed)
    return best
