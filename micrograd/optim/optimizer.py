"""The Optimizer base: parameter groups, state and state dicts, as torch.optim.

Each group's parameters and the state of its distinct parameters live in a
parameter array of their backend (micrograd/_core_params.pxi in C, or its
twin micrograd/_params_py.py); step() updates each group with one call,
passing the group's hyper-parameters as one options record
(micrograd/_optim_spec.py).  What torch.optim users rely on holds:

- edits to ``param_groups`` (a group's "params" list, its values, groups
  appended or added with ``add_param_group``) are seen by the next
  ``step()`` and ``zero_grad()``; a parameter keeps its state while it stays
  in the optimizer, wherever it moves;
- a parameter in two groups is refused (torch's message); one listed twice
  in a group is updated twice per step with one state, as torch does;
- ``state`` maps each parameter to its state, as torch's does;
- ``state_dict()`` is torch's layout (parameters numbered across groups),
  and ``load_state_dict`` takes one back, from JSON too (string keys), and
  checks all of it before it changes anything.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Optional

from .. import _optim_spec as spec
from .._backend import module_of
from .._convert import is_number

__all__ = ["Optimizer"]


def check_reals(**values):
    """Refuse, naming it, a hyper-parameter that is not a real number, before
    the range checks compare it (a string gave "'<' not supported ...")."""
    for name, value in values.items():
        for v in (value if isinstance(value, tuple) else (value,)):
            real(v, name)


def real(value, name):
    """A hyper-parameter or state value as the C step takes it: a float
    (NumPy scalars and Decimals converted as float() converts them), never a
    string, a Number or None."""
    if is_number(value) or isinstance(value, (str, bytes, bytearray, complex)) or value is None:
        raise TypeError(f"optimizer: {name} must be a real number, not {type(value).__name__}")
    return float(value)


class Optimizer:
    """param_groups, state, zero_grad, step, state_dict and load_state_dict."""

    _algorithm: Any = None      # a subclass's micrograd._optim_spec.Algorithm

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if is_number(params):
            raise TypeError("params argument given to the optimizer should be an iterable "
                            "of Numbers or dicts, but got Number")
        if callable(getattr(params, "parameters", None)):
            raise TypeError(f"params argument given to the optimizer should be an iterable "
                            f"of Numbers or dicts, but got the {type(params).__name__} "
                            f"itself: pass its .parameters()")
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._arrays: list[Any] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group ({'params': [...], and any hyper-parameters}); what it does
        not give comes from the defaults.  A parameter already in a group is
        refused, with torch's message."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if is_number(params):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections,"
                            " but the ordering of Numbers in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        for p in params:
            if not is_number(p):
                raise TypeError(f"optimizer can only optimize Numbers, but one of the params "
                                f"is {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "each is updated as many times as it is listed, as in torch.optim",
                          UserWarning, stacklevel=3)
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    def _sync(self) -> list[Any]:
        """The parameter arrays, made again for every group whose parameters
        changed since the last call, carrying each parameter's state along."""
        arrays = self._arrays
        fresh = [i for i, g in enumerate(self.param_groups)
                 if i >= len(arrays) or not arrays[i].same(g["params"])]
        if not fresh and len(arrays) == len(self.param_groups):
            return arrays
        old = {id(p): (arr, j) for arr in arrays for j, p in enumerate(arr.distinct)}
        new = list(arrays[:len(self.param_groups)])
        for i in fresh:
            group = self.param_groups[i]
            arr = module_of(group["params"])._ParamArray(group["params"], self._algorithm.name,
                                                         self._fill(group))
            for name in ("step",) + self._algorithm.buffers:
                values = arr.get_state(name)
                for j, p in enumerate(arr.distinct):
                    if id(p) in old:
                        src, k = old[id(p)]
                        values[j] = src.get_state(name)[k]
                arr.set_state(name, values)
            if i < len(new):
                new[i] = arr
            else:
                new.append(arr)
        self._arrays = new
        return new

    def _fill(self, group: dict[str, Any]) -> float:
        """The value a new parameter's buffers start at."""
        return 0.0

    def _options(self, group: dict[str, Any]) -> tuple:
        raise NotImplementedError

    # -- stepping -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Every parameter's gradient back to 0.0 (a Number always has a
        float gradient, so set_to_none changes nothing)."""
        for arr in self._sync():
            arr.zero_grad()

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One update of every group; with closure, call it first (with grad
        enabled, as torch does) and return what it returns."""
        loss = None
        if closure is not None:
            params = [p for g in self.param_groups for p in g["params"]]
            with module_of(params).enable_grad():
                loss = closure()
        for group, arr in zip(self.param_groups, self._sync()):
            arr.step(self._options(group))
        return loss

    # -- state ----------------------------------------------------------------------
    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The state entries a parameter of this group has, as torch's."""
        return ("step",) + self._algorithm.buffers

    def _entry(self, group, columns, j) -> Optional[dict[str, Any]]:
        """The j-th distinct parameter's state from its group's state columns,
        or None if it has none yet."""
        if columns["step"][j] == 0.0:
            return None
        return {name: columns[name][j] for name in self._keys(group)}

    def _entries(self):
        """(parameter, its state) for every parameter with state."""
        for group, arr in zip(self.param_groups, self._sync()):
            columns = {name: arr.get_state(name) for name in ("step",) + self._algorithm.buffers}
            for j, p in enumerate(arr.distinct):
                entry = self._entry(group, columns, j)
                if entry is not None:
                    yield p, entry

    @property
    def state(self) -> Mapping:
        """Each parameter's state, as torch.optim's state (a fresh copy)."""
        return _State(dict(self._entries()))

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]},
        parameters numbered across groups in order, as torch numbers them."""
        index: dict[int, int] = {}
        groups, start = [], 0
        for group in self.param_groups:
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(group["params"])
            groups.append(packed)
        state = {index[id(p)]: entry for p, entry in self._entries()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take a state_dict() back (or its JSON round trip); everything is
        checked before anything changes."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(saved["params"]) != len(mine["params"])
               for saved, mine in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't "
                             "match the size of optimizer's group")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        by_index = {}
        for saved, mine in zip(groups, self.param_groups):
            for k, p in zip(saved["params"], mine["params"]):
                by_index[int(k)] = (p, mine)
        plan = []
        for k, entry in saved_state.items():
            if k not in by_index:
                raise ValueError(f"loaded state dict has state for parameter {k}, which no "
                                 f"group holds")
            p, group = by_index[k]
            keys = self._keys(group)
            if not isinstance(entry, dict) or set(entry) != set(keys):
                got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                raise ValueError(f"loaded state dict does not match this optimizer: parameter "
                                 f"{k} has state {got}, {type(self).__name__} keeps "
                                 f"{sorted(keys)}")
            plan.append((p, {name: real(entry[name], name) for name in keys}))
        for saved, mine in zip(groups, self.param_groups):
            for name, value in saved.items():
                if name != "params":
                    mine[name] = value
        arrays = self._sync()
        where = {id(p): (arr, j) for arr in arrays for j, p in enumerate(arr.distinct)}
        for p, entry in plan:
            arr, j = where[id(p)]
            entry.setdefault("step", 1.0)           # SGD's state has no step: a buffer is one
            for name in ("step",) + self._algorithm.buffers:
                if name in entry:
                    values = arr.get_state(name)
                    values[j] = entry[name]
                    arr.set_state(name, values)

    # -- copying ----------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "param_groups": self.param_groups,
                "state_dict": self.state_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.defaults = state["defaults"]
        self.param_groups = state["param_groups"]
        self._arrays = []
        self.load_state_dict(state["state_dict"])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


class _State(Mapping):
    """Parameter -> its state, read only (a snapshot taken when asked)."""

    def __init__(self, entries: dict) -> None:
        self._entries = entries

    def __getitem__(self, p: Any) -> dict[str, Any]:
        return self._entries[p]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{p!r}: {v!r}' for p, v in self._entries.items())}}}"
