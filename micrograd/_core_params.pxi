# Included by _core.pyx; the twin of micrograd/_params_py.py.
# =============================================================================
# The optimizers' parameter array, stepped in C (csrc/mg_optim.c)
# =============================================================================
# The parameters are fixed when the array is made (a tuple holds the Numbers
# that the node pointers point into) and the buffers are C arrays owned here,
# read and written only whole with their length checked: nothing reachable
# from Python can give a C loop a length that differs from the array's.
from micrograd._optim_spec import ALGORITHMS as _ALGORITHMS


@cython.final
@cython.auto_pickle(False)
cdef class _ParamArray:
    """Parameters (Numbers of this backend) and an algorithm's state buffers."""

    cdef mg_node **nodes
    cdef double *store               # every buffer, one after another
    cdef double *bufs[4]
    cdef size_t n, nbufs
    cdef readonly tuple params
    cdef object algorithm

    def __cinit__(self, params, str algorithm, initial=0.0):
        cdef size_t i
        cdef double fill = _real(initial)
        params = tuple(params)
        for p in params:
            if not isinstance(p, Number):
                _py_operand(p, BACKEND)          # the mixing error, if it is one
                raise TypeError(f"optimizer parameters must be Numbers, not {type(p).__name__}")
        self.algorithm = _ALGORITHMS[algorithm]
        self.params = params
        self.n = len(params)
        self.nbufs = len(self.algorithm.buffers)
        self.nodes = <mg_node **>malloc(max(self.n, <size_t>1) * sizeof(mg_node *))
        self.store = <double *>malloc(max(self.n * self.nbufs, <size_t>1) * sizeof(double))
        if self.nodes == NULL or self.store == NULL:
            raise MemoryError()
        for i in range(self.n):
            self.nodes[i] = &(<Number>params[i]).node
        for i in range(self.n * self.nbufs):
            self.store[i] = fill
        for i in range(self.nbufs):
            self.bufs[i] = self.store + i * self.n

    def __dealloc__(self):
        free(self.nodes)
        free(self.store)

    cdef double *_buffer(self, str name) except NULL:
        return self.bufs[self.algorithm.buffers.index(name)]

    def same(self, params):
        """Whether params holds exactly this array's Numbers, in order."""
        cdef Py_ssize_t i, n = <Py_ssize_t>self.n
        if len(params) != n:
            return False
        for i in range(n):
            if params[i] is not self.params[i]:
                return False
        return True

    def zero_grad(self):
        """Every parameter's gradient back to 0.0."""
        cdef size_t i
        for i in range(self.n):
            self.nodes[i].gradient = 0.0

    def get_state(self, str name):
        """A copy of the named buffer, as a list of floats."""
        cdef double *b = self._buffer(name)
        return [b[i] for i in range(self.n)]

    def set_state(self, str name, values):
        """Replace the named buffer; values must be one real per parameter."""
        cdef double *b = self._buffer(name)
        cdef Py_ssize_t i
        values = [_real(v) for v in values]
        if len(values) != <Py_ssize_t>self.n:
            raise ValueError(f"state {name!r} has {len(values)} values for "
                             f"{self.n} parameters")
        for i in range(<Py_ssize_t>self.n):
            b[i] = values[i]

    def step(self, step, options):
        """One update of every parameter with the options record."""
        cdef double s = _real(step)
        cdef str name = self.algorithm.name
        cdef mg_sgd_opts sgd
        cdef mg_adam_opts adam
        cdef mg_rmsprop_opts rms
        cdef mg_adagrad_opts ada
        if name == "sgd":
            sgd = mg_sgd_opts(options.lr, options.momentum, options.dampening,
                              options.weight_decay, options.nesterov, options.maximize)
            mg_sgd_step(self.nodes, self.n, self.bufs, s, &sgd)
        elif name == "adam":
            adam = mg_adam_opts(options.lr, options.beta1, options.beta2, options.eps,
                                options.weight_decay, options.amsgrad, options.maximize,
                                options.decoupled)
            mg_adam_step(self.nodes, self.n, self.bufs, s, &adam)
        elif name == "rmsprop":
            rms = mg_rmsprop_opts(options.lr, options.alpha, options.eps, options.weight_decay,
                                  options.momentum, options.centered, options.maximize)
            mg_rmsprop_step(self.nodes, self.n, self.bufs, s, &rms)
        else:
            ada = mg_adagrad_opts(options.lr, options.lr_decay, options.weight_decay,
                                  options.eps, options.maximize)
            mg_adagrad_step(self.nodes, self.n, self.bufs, s, &ada)
