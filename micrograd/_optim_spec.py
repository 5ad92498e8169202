"""The optimizer algorithms' records, defined once for both backends.

Each algorithm has an options record (its hyper-parameters, in the field
order of its C struct in csrc/mg_optim.h) and the names of its per-parameter
state buffers (in the order the C step takes them).  micrograd.optim builds
the record from a parameter group; the compiled step (micrograd/_core_params.pxi
over csrc/mg_optim.c) and its Python twin (micrograd/_params_py.py over
micrograd/_optim_py.py) both read it.
"""
from collections import namedtuple

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
