"""Neural networks: Module, Neuron, Layer, MLP.

Drop-in compatible with micrograd 0.1.0's `micrograd.nn`: the same names,
signatures, attributes, return shapes and reprs.  A neuron draws its weights
as `random.uniform(-1, 1)` from Python's global `random` (one per input, in
order; bias 0), so a seeded run starts from the original's weights, and it
adds in the original's order, b + w0*x0 + w1*x1 + ..., as one n-ary `dot`
node, so the numbers come out the same.

Beyond 0.1.0: an activation per layer (`activation='tanh'`, or a callable),
a seedable initializer (`rng=random.Random(0)` or `seed=0` on MLP),
`state_dict()` / `load_state_dict()` keyed by stable names, NumPy rows as
inputs and `predict(X)` over a NumPy batch, the PyTorch bridge (`to_torch()`,
`MLP.from_torch()`, `torch_state_dict()`, `load_torch_state_dict()`; see
micrograd/torch_bridge.py) and a table of layers in a notebook.
"""
from __future__ import annotations

import numbers
import random
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

import numpy as np

from . import _notebook, torch_bridge
from ._backend import impl as _impl, module_of
from ._convert import is_number

if TYPE_CHECKING:
    from ._core import Number

__all__ = ["Module", "Neuron", "Layer", "MLP"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu", "softplus")


class Module:
    """Anything with parameters."""

    def __call__(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across
        backward calls), and drop its gradient graph (grad_node)."""
        for p in self.parameters():
            p.grad = 0
            p.grad_node = None

    def parameters(self) -> list[Number]:
        """The model's parameters (leaf Numbers), in a fixed order."""
        return []

    def named_parameters(self) -> list[tuple[str, Number]]:
        """(name, parameter) pairs in parameters() order; subclasses name them."""
        return [(str(i), p) for i, p in enumerate(self.parameters())]

    def state_dict(self) -> dict[str, float]:
        """{name: value} for every parameter, in parameters() order."""
        return {name: p.value for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Set parameter values from state_dict(); names must match exactly."""
        named = dict(self.named_parameters())
        missing, unexpected = set(named) - set(state), set(state) - set(named)
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {sorted(missing)}, "
                           f"unexpected {sorted(unexpected)}")
        for name, p in named.items():
            p.value = state[name]

    def predict(self, X: Any) -> np.ndarray:
        """The model on each row of X (a 2-D array or a list of rows), without
        a graph: a float64 array of shape (n,) for one output, else (n, nout).
        Each value is model(row).value, bit for bit."""
        rows = np.asarray(X)
        if rows.ndim != 2:
            raise ValueError(f"predict takes a batch of shape (n, inputs), one row per "
                             f"sample, not shape {rows.shape}; call the model on one row")
        takes = self._takes()
        # checked here, not only by the calls: an empty batch makes none, and
        # would pass any width; the message is the one a call gives
        if takes is not None and rows.shape[1] != takes[0]:
            raise _wrong_width(takes[1], takes[0], rows.shape[1])
        with module_of(self.parameters()).no_grad():
            outs = [self(row) for row in rows.tolist()]
        values = [float(y) if is_number(y) else [float(v) for v in y] for y in outs]
        nout = self._nout()
        empty = (0,) if nout is None or nout == 1 else (0, nout)
        return np.array(values, dtype=np.float64) if values else np.empty(empty)

    def _nout(self) -> Optional[int]:
        """How many outputs a call gives, where the model says."""
        return None

    def _takes(self) -> Optional[tuple[int, str]]:
        """(how many inputs a call takes, the name its errors give), where the
        model says."""
        return None

    # -- the PyTorch bridge (micrograd/torch_bridge.py) ------------------------
    def _linear_layers(self) -> list[tuple[int, list[Neuron]]]:
        """(nin, neurons) for each layer, in order."""
        raise TypeError(f"{type(self).__name__} has no PyTorch form: Neuron, Layer and MLP "
                        f"convert")

    def to_torch(self) -> Any:
        """A torch.nn.Sequential of float64 Linear and activation modules with
        this model's weights (pip install 'micrograd-core[torch]')."""
        return torch_bridge.to_torch(self._linear_layers())

    def torch_state_dict(self) -> dict[str, Any]:
        """The weights as to_torch().state_dict() has them: float64 tensors
        keyed "0.weight", "0.bias", "2.weight", ... as the Sequential numbers
        its modules (activations take a number and have no weights)."""
        return torch_bridge.state_dict(self._linear_layers())

    def load_torch_state_dict(self, state: Any) -> None:
        """Set the weights from a state dict of to_torch()'s layout (tensors,
        arrays or lists); a mismatched key or shape raises before any change."""
        torch_bridge.load_state_dict(self._linear_layers(), state)

    # -- notebooks -------------------------------------------------------------
    def _layer_rows(self) -> list[tuple[Any, ...]]:
        """(layer, inputs, outputs, activation, parameters) per layer."""
        return []

    def _repr_html_(self) -> Optional[str]:
        return _notebook.module_html(self)


def _width(n, what):
    """n as a layer width: an int >= 0 (0 is allowed, as in torch.nn.Linear)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{what} must be an int >= 0, not {n!r}")
    return int(n)


def _inputs(x, nin, who):
    """x as a list of nin inputs.  A lone Number or real is one input, so a
    layer of one neuron (which returns its output bare, as 0.1.0 does) can
    feed the next layer."""
    ndim = getattr(x, "ndim", None)
    if ndim == 0 or is_number(x) or isinstance(x, numbers.Real):
        xs = [x]
    elif ndim is not None and hasattr(x, "tolist"):
        if ndim != 1:
            raise ValueError(f"{who} takes one row of {nin} inputs, not an array of shape "
                             f"{getattr(x, 'shape', '?')}; predict() takes a batch")
        # the Python floats float() gives for each item, without a NumPy scalar each
        xs = x.tolist()
    elif isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{who} takes a sequence of {nin} inputs, not {type(x).__name__}")
    else:
        xs = list(x)
    if len(xs) != nin:
        raise _wrong_width(who, nin, len(xs))
    return xs


def _wrong_width(who, nin, got):
    return ValueError(f"{who} takes {nin} input{'' if nin == 1 else 's'}, got {got}")


def _activation_of(nonlin, activation):
    if activation is None:
        return "relu" if nonlin else None
    if callable(activation) or activation in _ACTIVATIONS:
        return activation
    raise ValueError(f"unknown activation {activation!r}; choose from {_ACTIVATIONS} "
                     f"or pass a callable")


class Neuron(Module):
    """b + w . x, then the activation (ReLU unless nonlin=False)."""

    def __init__(self, nin: int, nonlin: bool = True, activation: Any = None,
                 rng: Optional[random.Random] = None) -> None:
        uniform = (rng or random).uniform
        self.w = [_impl.Number(uniform(-1, 1)) for _ in range(_width(nin, "nin"))]
        self.b = _impl.Number(0)
        self.activation = _activation_of(nonlin, activation)

    @property
    def activation(self):
        """Its activation, by name (such as "tanh"), a callable, or None for linear."""
        return self._activation

    @activation.setter
    def activation(self, f):
        self._activation = f
        self.nonlin = f is not None
        # resolved once: the method itself for a named activation
        self._fn = f if f is None or callable(f) else getattr(_impl.Number, f)

    def __getstate__(self) -> dict[str, Any]:
        # the resolved method belongs to one backend: a pickle keeps the name
        return {k: v for k, v in self.__dict__.items() if k != "_fn"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.activation = state["_activation"]

    def __call__(self, x: Iterable[Any]) -> Any:
        return self._forward([1.0] + _inputs(x, len(self.w), repr(self)))

    def _forward(self, ones_x):
        """[1.0] + x given: a Layer builds it once for all its neurons."""
        act = _impl.dot([self.b] + self.w, ones_x)
        return act if self._fn is None else self._fn(act)

    def parameters(self) -> list[Number]:
        """The weights w0, w1, ..., then the bias b."""
        return self.w + [self.b]

    def named_parameters(self) -> list[tuple[str, Number]]:
        return [(f"w{i}", w) for i, w in enumerate(self.w)] + [("b", self.b)]

    def _nout(self) -> Optional[int]:
        return 1

    def _takes(self) -> Optional[tuple[int, str]]:
        return len(self.w), repr(self)

    def _linear_layers(self) -> list[tuple[int, list[Neuron]]]:
        return [(len(self.w), [self])]

    def _layer_rows(self) -> list[tuple[Any, ...]]:
        return [_row(0, len(self.w), [self])]

    def __repr__(self) -> str:
        f = self.activation
        kind = ("Linear" if f is None else "ReLU" if f == "relu"
                else f.title() if isinstance(f, str) else getattr(f, "__name__", "Custom"))
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons over the same inputs; one output is returned bare."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.nin = _width(nin, "nin")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(_width(nout, "nout"))]

    def __call__(self, x: Iterable[Any]) -> Any:
        ones_x = [1.0] + _inputs(x, self.nin, self._name())
        out = [n._forward(ones_x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def _name(self) -> str:
        return f"Layer({self.nin}, {len(self.neurons)})"

    def parameters(self) -> list[Number]:
        """Each neuron's parameters in turn."""
        return [p for n in self.neurons for p in n.parameters()]

    def named_parameters(self) -> list[tuple[str, Number]]:
        return [(f"neurons.{i}.{name}", p) for i, n in enumerate(self.neurons)
                for name, p in n.named_parameters()]

    def _nout(self) -> Optional[int]:
        return len(self.neurons)

    def _takes(self) -> Optional[tuple[int, str]]:
        return self.nin, self._name()

    def _linear_layers(self) -> list[tuple[int, list[Neuron]]]:
        return [(self.nin, self.neurons)]

    def _layer_rows(self) -> list[tuple[Any, ...]]:
        return [_row(0, self.nin, self.neurons)]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of neurons: ReLU hidden layers and a linear last layer by default.

    `activations` gives one activation per layer (None for linear); `seed`
    draws the weights from random.Random(seed) instead of the global random.
    """

    def __init__(self, nin: int, nouts: Sequence[int], activations: Optional[Sequence[Any]] = None,
                 seed: Optional[int] = None) -> None:
        if isinstance(nouts, (str, bytes)) or not hasattr(nouts, "__iter__"):
            raise TypeError(f"nouts must be a sequence of layer widths, not "
                            f"{type(nouts).__name__}")
        sizes = [_width(nin, "nin")] + [_width(n, "each of nouts") for n in nouts]
        if len(sizes) == 1:
            raise ValueError("an MLP needs at least one layer: nouts is empty")
        nouts = sizes[1:]
        if activations is None:
            activations = ["relu"] * (len(nouts) - 1) + [None]
        if len(activations) != len(nouts):
            raise ValueError(f"{len(nouts)} layers but {len(activations)} activations")
        rng = None if seed is None else random.Random(seed)
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=activations[i] is not None,
                             activation=activations[i], rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Number]:
        """Each layer's parameters in turn."""
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Number]]:
        return [(f"layers.{i}.{name}", p) for i, layer in enumerate(self.layers)
                for name, p in layer.named_parameters()]

    def _nout(self) -> Optional[int]:
        return self.layers[-1]._nout()

    def _takes(self) -> Optional[tuple[int, str]]:
        return self.layers[0]._takes()

    def _linear_layers(self) -> list[tuple[int, list[Neuron]]]:
        return [(layer.nin, layer.neurons) for layer in self.layers]

    def _layer_rows(self) -> list[tuple[Any, ...]]:
        return [_row(i, layer.nin, layer.neurons) for i, layer in enumerate(self.layers)]

    @classmethod
    def from_torch(cls, module: Any) -> MLP:
        """The MLP of a torch.nn.Sequential of Linear (with bias) and activation
        modules (relu, tanh, sigmoid, gelu, silu, elu, leaky_relu, softplus with
        torch's default parameters), each activation after a Linear; its
        weights exactly (float32 weights convert exactly to float64)."""
        nin, layers = torch_bridge.read_sequential(module)
        # seed=0: the weights are overwritten, so draw none from the global random
        model = cls(nin, [len(bias) for _, bias, _ in layers],
                    activations=[act for _, _, act in layers], seed=0)
        for layer, (weight, bias, _) in zip(model.layers, layers):
            torch_bridge.assign(layer.neurons, weight, bias)
        return model

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def _row(i, nin, neurons):
    """A layer's row of the notebook table."""
    def name(f):
        if f is None:
            return "linear"
        return f if isinstance(f, str) else getattr(f, "__name__", "custom")
    names = sorted({name(n.activation) for n in neurons})
    return (i, nin, len(neurons), ", ".join(names) or "-",
            sum(len(n.parameters()) for n in neurons))
