"""The PyTorch bridge: nn models to and from torch.nn.Sequential, and state dicts.

Use it through micrograd.nn: ``model.to_torch()``, ``nn.MLP.from_torch(seq)``,
``model.torch_state_dict()`` and ``model.load_torch_state_dict(sd)``.  The
functions here work on a model's linear layers, given as (nin, neurons) pairs,
so that this module needs nothing from nn (nn calls it).

A layer of nout neurons over nin inputs is ``torch.nn.Linear(nin, nout)`` in
float64, with weight[j, i] = neuron j's w[i] and bias[j] = neuron j's b,
followed by its activation's module, if it has one.  Only the named
activations with torch's default parameters have a torch module; a callable
has none.  torch is optional (pip install 'micrograd-core[torch]') and is
imported only when a function here is called.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_torch", "state_dict", "load_state_dict", "read_sequential"]

# micrograd's activation name -> the torch.nn class with the same function
_MODULES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU", "silu": "SiLU",
            "elu": "ELU", "leaky_relu": "LeakyReLU", "softplus": "Softplus"}
_NAMES = {cls: name for name, cls in _MODULES.items()}
# micrograd's named activations are torch's defaults; other settings have no name here
_DEFAULTS = {"GELU": {"approximate": "none"}, "ELU": {"alpha": 1.0},
             "LeakyReLU": {"negative_slope": 0.01},
             "Softplus": {"beta": 1.0, "threshold": 20.0}}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("the PyTorch bridge needs torch: "
                          "pip install 'micrograd-core[torch]'") from None
    return torch


def _activation(k, neurons):
    """The one activation of layer k's neurons, as a name or None."""
    shown = sorted({_show(n.activation) for n in neurons})
    if len(shown) > 1:
        raise ValueError(f"layer {k}'s neurons have different activations ({', '.join(shown)}); "
                         f"a torch.nn.Linear layer is followed by one")
    act = neurons[0].activation if neurons else None
    if act is not None and not isinstance(act, str):
        raise TypeError(f"layer {k}'s activation {_show(act)} is a callable, which has no "
                        f"PyTorch module; only the named activations convert: "
                        f"{', '.join(_MODULES)}")
    return act


def _show(act):
    return repr(act) if act is None or isinstance(act, str) else getattr(act, "__name__", repr(act))


def _plan(layers):
    """[(position in the Sequential, nin, neurons, activation)] per layer."""
    out, pos = [], 0
    for k, (nin, neurons) in enumerate(layers):
        act = _activation(k, neurons)
        out.append((pos, nin, neurons, act))
        pos += 1 if act is None else 2
    return out


def to_torch(layers: list[tuple[int, list[Any]]]) -> Any:
    """A torch.nn.Sequential of float64 Linear and activation modules."""
    torch = _torch()
    modules = []
    for _, nin, neurons, act in _plan(layers):
        # skip_init: no random initialisation, so torch's global RNG is left alone
        linear = torch.nn.utils.skip_init(torch.nn.Linear, nin, len(neurons),
                                          dtype=torch.float64)
        weight, bias = _tensors(torch, nin, neurons)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        modules.append(linear)
        if act is not None:
            modules.append(getattr(torch.nn, _MODULES[act])())
    return torch.nn.Sequential(*modules)


def _tensors(torch, nin, neurons):
    weight = torch.tensor([[w.value for w in n.w] for n in neurons], dtype=torch.float64)
    bias = torch.tensor([n.b.value for n in neurons], dtype=torch.float64)
    return weight.reshape(len(neurons), nin), bias


def state_dict(layers: list[tuple[int, list[Any]]]) -> dict[str, Any]:
    """{"0.weight": tensor, "0.bias": tensor, ...}, keyed as to_torch's Sequential."""
    torch = _torch()
    out = {}
    for pos, nin, neurons, _ in _plan(layers):
        out[f"{pos}.weight"], out[f"{pos}.bias"] = _tensors(torch, nin, neurons)
    return out


def load_state_dict(layers: list[tuple[int, list[Any]]], state: Any) -> None:
    """Set the weights from a state dict keyed as state_dict() keys it.

    Everything is checked first (keys, shapes, values), so a refused state
    dict changes nothing."""
    torch = _torch()
    plan = _plan(layers)
    shapes = {}
    for pos, nin, neurons, _ in plan:
        shapes[f"{pos}.weight"], shapes[f"{pos}.bias"] = (len(neurons), nin), (len(neurons),)
    missing, unexpected = set(shapes) - set(state), set(state) - set(shapes)
    if missing or unexpected:
        raise KeyError(f"torch state_dict mismatch: missing {sorted(missing)}, "
                       f"unexpected {sorted(unexpected)}")
    values = {}
    for key, shape in shapes.items():
        t = state[key]
        # via NumPy, so that a list of floats is float64 (torch would make it float32)
        t = t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
        if tuple(t.shape) != shape:
            raise ValueError(f"torch state_dict: {key} has shape {tuple(t.shape)}, "
                             f"expected {shape}")
        if t.is_complex():
            raise TypeError(f"torch state_dict: {key} is {t.dtype}, not a real tensor")
        values[key] = t.detach().to("cpu", torch.float64).tolist()
    for pos, _, neurons, _ in plan:
        assign(neurons, values[f"{pos}.weight"], values[f"{pos}.bias"])


def assign(neurons: list, weight: list[list[float]], bias: list[float]) -> None:
    """Each neuron's weights from its row of weight, and its bias."""
    for n, row, b in zip(neurons, weight, bias):
        for w, v in zip(n.w, row):
            w.value = v
        n.b.value = b


def read_sequential(module: Any) -> tuple[int, list[tuple[list[list[float]], list[float], Any]]]:
    """(nin, [(weight rows, biases, activation name or None)] per Linear) of a
    torch.nn.Sequential of Linear and activation modules (or a lone Linear)."""
    torch = _torch()
    nn = torch.nn
    if isinstance(module, nn.Linear):
        module = nn.Sequential(module)
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch takes a torch.nn.Sequential of Linear and activation "
                        f"modules, not {type(module).__name__}")
    layers, nin = [], None
    for i, m in enumerate(module):
        where = f"module {i} of the Sequential ({type(m).__name__})"
        if type(m) is nn.Linear:
            if m.bias is None:
                raise ValueError(f"{where} has no bias (bias=False); a micrograd neuron "
                                 f"always has one")
            if layers and m.in_features != len(layers[-1][1]):
                raise ValueError(f"{where} takes {m.in_features} inputs, but the Linear "
                                 f"before it gives {len(layers[-1][1])}")
            nin = m.in_features if nin is None else nin
            weight = m.weight.detach().to("cpu", torch.float64).tolist()
            layers.append([weight, m.bias.detach().to("cpu", torch.float64).tolist(), None])
        elif type(m).__name__ in _NAMES and type(m) is getattr(nn, type(m).__name__):
            if not layers or layers[-1][2] is not None:
                raise ValueError(f"{where} does not follow a Linear: a micrograd layer "
                                 f"has one activation after its linear part")
            for attr, default in _DEFAULTS.get(type(m).__name__, {}).items():
                if getattr(m, attr) != default:
                    raise ValueError(f"{where} has {attr}={getattr(m, attr)!r}; micrograd's "
                                     f"{_NAMES[type(m).__name__]!r} is torch's default, "
                                     f"{attr}={default!r}")
            layers[-1][2] = _NAMES[type(m).__name__]
        else:
            raise TypeError(f"{where} has no micrograd counterpart; from_torch takes "
                            f"Linear and {', '.join(_NAMES)} modules")
    if not layers:
        raise ValueError("from_torch: the Sequential holds no Linear; an MLP needs at least one")
    return nin, [tuple(layer) for layer in layers]
