"""The optimizer algorithms' records, defined once for both backends.

Each algorithm has an options record (its hyper-parameters, in the field
order of its C struct in csrc/mg_optim.h) and the names of its per-parameter
state buffers (in the order the C step takes them).  micrograd.optim builds
the record from a parameter group; the compiled step (micrograd/_core_params.pxi
over csrc/mg_optim.c) and its Python twin (micrograd/_params_py.py over
micrograd/_optim_py.py) both read it.

Both parameter arrays also take their parameters through param_layout: one
check of what an optimizer may optimize, and one way of numbering the distinct
parameters, which is the order of the state that get_state and set_state show.
"""
from collections import namedtuple

from ._convert import operand

Algorithm = namedtuple("Algorithm", "name options buffers")

SGD = Algorithm("sgd", namedtuple("SGDOptions", "lr momentum dampening weight_decay "
                                                "nesterov maximize"),
                ("momentum_buffer",))
ADAM = Algorithm("adam", namedtuple("AdamOptions", "lr beta1 beta2 eps weight_decay "
                                                  "amsgrad maximize decoupled"),
                 ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"))
RMSPROP = Algorithm("rmsprop", namedtuple("RMSpropOptions", "lr alpha eps weight_decay "
                                                           "momentum centered maximize"),
                    ("square_avg", "grad_avg", "momentum_buffer"))
ADAGRAD = Algorithm("adagrad", namedtuple("AdagradOptions", "lr lr_decay weight_decay eps "
                                                           "maximize"),
                    ("sum",))

ALGORITHMS = {a.name: a for a in (SGD, ADAM, RMSPROP, ADAGRAD)}

# a parameter array's parameters and state are fixed when it is made
REINIT = "a parameter array is made once; make a new one instead of calling __init__ again"


def param_layout(params, number, backend):
    """params as a tuple, checked to be Numbers (instances of number, the
    backend named backend's class); the distinct ones in order of first
    listing; and each listed parameter's index among the distinct ones."""
    params = tuple(params)
    for p in params:
        if not isinstance(p, number):
            operand(p, backend)              # the mixing error, if it is one
            raise TypeError(f"optimizer can only optimize Numbers, but one of the "
                            f"params is {type(p).__name__}")
    where, distinct, idx = {}, [], []
    for p in params:
        if id(p) not in where:
            where[id(p)] = len(distinct)
            distinct.append(p)
        idx.append(where[id(p)])
    return params, tuple(distinct), idx
