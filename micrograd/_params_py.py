"""The reference parameter array: the twin of micrograd/_core_params.pxi.

An optimizer group's parameters, as listed (a parameter may be listed twice),
and the state of its distinct parameters: the algorithm's buffers, one float
per distinct parameter each, and their step counts, stepped by
micrograd/_optim_py.py (the twin of csrc/mg_optim.c).  The parameters are
fixed at creation and the state is only read or written whole, with its
length checked, so no step can see a state and a parameter list that
disagree.
"""
from ._convert import to_float
from ._number_py import BACKEND, Number, drop_graph
from ._optim_py import STEPS
from ._optim_spec import ALGORITHMS, REINIT, param_layout

__all__ = ["ParamArray"]


class ParamArray:
    """Parameters (Numbers of this backend) and their optimizer state."""

    __slots__ = ("_params", "_distinct", "_idx", "_algorithm", "_buffers", "_steps")

    def __init__(self, params, algorithm, initial=0.0):
        if hasattr(self, "_params"):
            raise TypeError(REINIT)
        params, distinct, idx = param_layout(params, Number, BACKEND)
        spec = ALGORITHMS[algorithm]
        fill = to_float(initial, BACKEND)
        self._params, self._distinct, self._idx = params, distinct, idx
        self._algorithm = spec
        self._buffers = [[fill] * len(distinct) for _ in spec.buffers]
        self._steps = [0.0] * len(distinct)

    @property
    def params(self):
        return self._params

    @property
    def distinct(self):
        """The distinct parameters, in order of first listing: the state's order."""
        return self._distinct

    def same(self, params):
        """Whether params lists exactly this array's Numbers, in order."""
        return len(params) == len(self._params) and all(
            p is q for p, q in zip(params, self._params))

    def zero_grad(self):
        """Every parameter's gradient back to 0.0."""
        for p in self._params:
            p._gradient = 0.0
            drop_graph(p)

    def get_state(self, name):
        """A copy of the named buffer ("step": the step counts), one float per
        distinct parameter."""
        if name == "step":
            return list(self._steps)
        return list(self._buffers[self._algorithm.buffers.index(name)])

    def set_state(self, name, values):
        """Replace the named buffer: one real per distinct parameter."""
        if name == "step":
            self._steps = self._checked(name, values)
        else:
            self._buffers[self._algorithm.buffers.index(name)] = self._checked(name, values)

    def _checked(self, name, values):
        values = [to_float(v, BACKEND) for v in values]
        if len(values) != len(self._distinct):
            raise ValueError(f"state {name!r} has {len(values)} values for "
                             f"{len(self._distinct)} parameters")
        return values

    def step(self, options):
        """One update of every listed parameter with the options record."""
        STEPS[self._algorithm.name](self._params, self._idx, self._buffers, self._steps, options)
