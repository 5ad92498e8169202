# Included by _core.pyx; the twin of micrograd/_params_py.py.
# =============================================================================
# The optimizers' parameter array, stepped in C (csrc/mg_optim.c)
# =============================================================================
# The parameters are fixed when the array is made (a tuple holds the Numbers
# that the node pointers point into) and the state is C arrays owned here,
# read and written only whole with their length checked: nothing reachable
# from Python can give a C loop a length that differs from the array's.
from libc.stdint cimport uint32_t as _u32
from micrograd._optim_spec import (ALGORITHMS as _ALGORITHMS, REINIT as _REINIT,
                                   param_layout as _param_layout)


@cython.final
@cython.binding(False)     # methods check self when called unbound (see Number)
@cython.auto_pickle(False)
cdef class _ParamArray:
    """Parameters (Numbers of this backend) and their optimizer state."""

    cdef mg_node **nodes
    cdef _u32 *idx                    # each listed parameter's distinct index
    cdef double *store                # every buffer, then the step counts
    cdef double *bufs[4]
    cdef double *steps
    cdef size_t n, ndistinct, nbufs
    cdef readonly tuple params
    cdef readonly tuple distinct
    cdef object algorithm
    cdef bint made

    def __cinit__(self, params, str algorithm, initial=0.0):
        cdef size_t i
        cdef double fill = _real(initial)
        self.params, self.distinct, idx = _param_layout(params, Number, BACKEND)
        self.algorithm = _ALGORITHMS[algorithm]
        self.n, self.ndistinct = len(self.params), len(self.distinct)
        self.nbufs = len(self.algorithm.buffers)
        self.nodes = <mg_node **>malloc(max(self.n, <size_t>1) * sizeof(mg_node *))
        self.idx = <_u32 *>malloc(max(self.n, <size_t>1) * sizeof(_u32))
        self.store = <double *>malloc(((self.nbufs + 1) * self.ndistinct + 1) * sizeof(double))
        if self.nodes == NULL or self.idx == NULL or self.store == NULL:
            raise MemoryError()
        for i in range(self.n):
            self.nodes[i] = &(<Number>self.params[i]).node
            self.idx[i] = <_u32>idx[i]
        for i in range(self.nbufs):
            self.bufs[i] = self.store + i * self.ndistinct
        self.steps = self.store + self.nbufs * self.ndistinct
        for i in range(self.nbufs * self.ndistinct):
            self.store[i] = fill
        for i in range(self.ndistinct):
            self.steps[i] = 0.0

    def __init__(self, params, str algorithm, initial=0.0):
        if self.made:
            raise TypeError(_REINIT)
        self.made = True

    def __dealloc__(self):
        free(self.nodes)
        free(self.idx)
        free(self.store)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def same(self, params):
        """Whether params lists exactly this array's Numbers, in order (an
        optimizer asks at every zero_grad and step: a list is read without
        a generic index per item)."""
        cdef Py_ssize_t i, n = <Py_ssize_t>self.n
        cdef list as_list
        if len(params) != n:
            return False
        if type(params) is list:
            as_list = params
            for i in range(n):
                if as_list[i] is not self.params[i]:
                    return False
            return True
        for i in range(n):
            if params[i] is not self.params[i]:
                return False
        return True

    def zero_grad(self):
        """Every parameter's gradient back to 0.0."""
        cdef size_t i
        for i in range(self.n):
            self.nodes[i].gradient = 0.0
        if _RECORDS:
            for i in range(self.n):
                _drop_graph(self.nodes[i])

    cdef double *_column(self, str name) except NULL:
        if name == "step":
            return self.steps
        return self.bufs[self.algorithm.buffers.index(name)]

    def get_state(self, str name):
        """A copy of the named buffer ("step": the step counts), one float per
        distinct parameter."""
        cdef double *b = self._column(name)
        return [b[i] for i in range(self.ndistinct)]

    def set_state(self, str name, values):
        """Replace the named buffer: one real per distinct parameter."""
        cdef double *b = self._column(name)
        cdef Py_ssize_t i
        values = [_real(v) for v in values]
        if len(values) != <Py_ssize_t>self.ndistinct:
            raise ValueError(f"state {name!r} has {len(values)} values for "
                             f"{self.ndistinct} parameters")
        for i in range(<Py_ssize_t>self.ndistinct):
            b[i] = values[i]

    def step(self, options):
        """One update of every listed parameter with the options record (its
        fields in micrograd._optim_spec's order)."""
        cdef str name = self.algorithm.name
        o = options                           # a namedtuple, read by position
        cdef mg_sgd_opts sgd
        cdef mg_adam_opts adam
        cdef mg_rmsprop_opts rms
        cdef mg_adagrad_opts ada
        if name == "sgd":
            sgd = mg_sgd_opts(o[0], o[1], o[2], o[3], o[4],
                              o[5])
            mg_sgd_step(self.nodes, self.idx, self.n, self.bufs, self.steps, &sgd)
        elif name == "adam":
            adam = mg_adam_opts(o[0], o[1], o[2], o[3], o[4],
                                o[5], o[6], o[7])
            mg_adam_step(self.nodes, self.idx, self.n, self.bufs, self.steps, &adam)
        elif name == "rmsprop":
            rms = mg_rmsprop_opts(o[0], o[1], o[2], o[3], o[4],
                                  o[5], o[6])
            mg_rmsprop_step(self.nodes, self.idx, self.n, self.bufs, self.steps, &rms)
        else:
            ada = mg_adagrad_opts(o[0], o[1], o[2], o[3], o[4])
            mg_adagrad_step(self.nodes, self.idx, self.n, self.bufs, self.steps, &ada)
