# Included by _core.pyx (one extension module); the loops are csrc/mg_optim.c.
# =============================================================================
# ParamArray: an optimizer's parameters and state, stepped in C
# =============================================================================
from array import array as _array
from libc.stdlib cimport malloc


cdef double *_data(object buf) except NULL:
    cdef double[::1] view = buf
    return &view[0]


@cython.auto_pickle(False)
cdef class ParamArray:
    """Parameters (Numbers of this backend) and named state buffers, one
    double per parameter; the update loops are csrc/mg_optim.c."""

    cdef mg_node **nodes
    cdef size_t n
    cdef readonly list params        # holds the Numbers the pointers point into
    cdef dict buffers

    def __init__(self, params):
        cdef Py_ssize_t i
        free(self.nodes)
        self.nodes = NULL
        self.params = list(params)
        for p in self.params:
            if not isinstance(p, Number):
                _py_operand(p, BACKEND)          # the mixing error, if it is one
                raise TypeError(f"optimizer parameters must be Numbers, not {type(p).__name__}")
        self.n = len(self.params)
        self.nodes = <mg_node **>malloc(max(self.n, 1) * sizeof(mg_node *))
        if self.nodes == NULL:
            raise MemoryError()
        for i in range(<Py_ssize_t>self.n):
            self.nodes[i] = &(<Number>self.params[i]).node
        self.buffers = {}

    def __dealloc__(self):
        free(self.nodes)

    def state(self, name, fill=0.0):
        """The named buffer (created filled with `fill`), as floats."""
        if name not in self.buffers:
            self.buffers[name] = _array("d", [float(fill)]) * max(<Py_ssize_t>self.n, 1)
        return self.buffers[name]

    def sgd(self, bint buf_ready, double lr, double momentum, double dampening,
            double weight_decay, bint nesterov, bint maximize):
        cdef mg_sgd_opts o = mg_sgd_opts(lr, momentum, dampening, weight_decay, nesterov, maximize)
        mg_sgd_step(self.nodes, self.n, _data(self.state("momentum_buffer")), buf_ready, &o)

    def adam(self, double step, double lr, double beta1, double beta2, double eps,
             double weight_decay, bint amsgrad, bint maximize, bint decoupled):
        cdef mg_adam_opts o = mg_adam_opts(lr, beta1, beta2, eps, weight_decay,
                                           amsgrad, maximize, decoupled)
        mg_adam_step(self.nodes, self.n, _data(self.state("exp_avg")),
                     _data(self.state("exp_avg_sq")), _data(self.state("max_exp_avg_sq")),
                     step, &o)

    def rmsprop(self, double lr, double alpha, double eps, double weight_decay,
                double momentum, bint centered, bint maximize):
        cdef mg_rmsprop_opts o = mg_rmsprop_opts(lr, alpha, eps, weight_decay, momentum,
                                                 centered, maximize)
        mg_rmsprop_step(self.nodes, self.n, _data(self.state("square_avg")),
                        _data(self.state("grad_avg")), _data(self.state("momentum_buffer")), &o)

    def adagrad(self, double step, double lr, double lr_decay, double weight_decay,
                double eps, bint maximize, double initial_accumulator_value=0.0):
        cdef mg_adagrad_opts o = mg_adagrad_opts(lr, lr_decay, weight_decay, eps, maximize)
        mg_adagrad_step(self.nodes, self.n, _data(self.state("sum", initial_accumulator_value)),
                        step, &o)
