"""The reference parameter array: the twin of micrograd/_core_params.pxi.

An optimizer group's parameters and its algorithm's state buffers, one float
per parameter each, stepped by micrograd/_optim_py.py (the twin of
csrc/mg_optim.c).  The parameters are fixed at creation and the buffers are
only read or written whole, with their length checked, so no step can see a
buffer and a parameter list of different lengths.
"""
from ._convert import operand, to_float
from ._number_py import BACKEND, Number
from ._optim_py import STEPS
from ._optim_spec import ALGORITHMS

__all__ = ["ParamArray"]


class ParamArray:
    """Parameters (Numbers of this backend) and an algorithm's state buffers."""

    __slots__ = ("_params", "_algorithm", "_buffers")

    def __init__(self, params, algorithm, initial=0.0):
        params = tuple(params)
        for p in params:
            if not isinstance(p, Number):
                operand(p, BACKEND)              # the mixing error, if it is one
                raise TypeError(f"optimizer parameters must be Numbers, not {type(p).__name__}")
        spec = ALGORITHMS[algorithm]
        fill = to_float(initial, BACKEND)
        self._params, self._algorithm = params, spec
        self._buffers = [[fill] * len(params) for _ in spec.buffers]

    @property
    def params(self):
        return self._params

    def same(self, params):
        """Whether params holds exactly this array's Numbers, in order."""
        return len(params) == len(self._params) and all(
            p is q for p, q in zip(params, self._params))

    def zero_grad(self):
        """Every parameter's gradient back to 0.0."""
        for p in self._params:
            p._gradient = 0.0

    def get_state(self, name):
        """A copy of the named buffer, as a list of floats."""
        return list(self._buffers[self._algorithm.buffers.index(name)])

    def set_state(self, name, values):
        """Replace the named buffer; values must be one real per parameter."""
        values = [to_float(v, BACKEND) for v in values]
        if len(values) != len(self._params):
            raise ValueError(f"state {name!r} has {len(values)} values for "
                             f"{len(self._params)} parameters")
        self._buffers[self._algorithm.buffers.index(name)] = values

    def step(self, step, options):
        """One update of every parameter with the options record."""
        STEPS[self._algorithm.name](self._params, self._buffers, float(step), options)
