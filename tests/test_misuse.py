"""The misuse suite: every public function and method, called with wrong
types, wrong lengths, NaN/inf and NumPy inputs, on both backends at once.

Each call must end one of two ways on both: the same exception type and
message, or the same result bit for bit (and the same state left behind in
the Numbers it was given).  Arguments are drawn as specs and made once per
backend, so each backend gets its own Numbers with the same values.
"""
import copy
import inspect
import math
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

import micrograd
from micrograd import functions, losses, optim, transforms
from micrograd import _core_py

from conftest import needs_core

pytestmark = needs_core


class Num:
    """A spec: a Number of value v (an op's result if interior)."""

    def __init__(self, v, interior):
        self.v, self.interior = v, interior

    def make(self, M):
        n = M.Number(self.v)
        return n * 1.0 if self.interior else n

    def __repr__(self):
        return f"Num({self.v!r}{', interior' if self.interior else ''})"


class Chn:
    """A spec: a Chain started at v."""

    def __init__(self, v):
        self.v = v

    def make(self, M):
        return M.Chain(self.v)

    def __repr__(self):
        return f"Chn({self.v!r})"


class Opaque:
    """An object nothing knows how to use."""

    def __repr__(self):
        return "Opaque()"


def make(spec, M):
    if isinstance(spec, (Num, Chn)):
        return spec.make(M)
    if isinstance(spec, list):
        return [make(s, M) for s in spec]
    if isinstance(spec, tuple):
        return tuple(make(s, M) for s in spec)
    if isinstance(spec, dict):
        return {k: make(v, M) for k, v in spec.items()}
    return spec


FLOATS = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e308, 5e-324,
                                                 math.inf, -math.inf, math.nan, 710.0, 1e-300]))
REALS = st.one_of(
    FLOATS,
    st.integers(-10, 10), st.sampled_from([2 ** 53 + 1, -(2 ** 63), 10 ** 400]),
    st.booleans(),
    st.decimals(allow_nan=False, places=3, min_value=-100, max_value=100),
    st.fractions(max_denominator=7),
    FLOATS.map(np.float64), st.floats(width=32).map(np.float32),
    st.integers(-2 ** 31, 2 ** 31 - 1).map(np.int64), st.booleans().map(np.bool_),
)
JUNK = st.one_of(
    st.none(), st.text(max_size=2), st.just(b"x"), st.just(1j), st.just(Opaque()),
    st.just(np.array(1.5)), st.just(np.array([1.0, 2.0])), st.just(np.array([])),
    st.just(Decimal("NaN")), st.just([]), st.just(()), st.just({}),
)
NUMBERS = st.builds(Num, FLOATS, st.booleans())
ATOMS = st.one_of(REALS, JUNK, NUMBERS, NUMBERS, st.builds(Chn, FLOATS))
ANY = st.recursive(ATOMS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                  st.tuples(inner, inner)), max_leaves=6)
ARGS = st.lists(ANY, max_size=3)
# mostly the kind of value a call expects, sometimes anything
LIKELY = st.one_of(REALS, NUMBERS, NUMBERS, REALS, ANY)
KWARGS = st.dictionaries(st.sampled_from(["other", "approximate", "beta", "threshold",
                                          "negative_slope", "alpha", "lo", "hi", "gradient",
                                          "value", "x", "reduction", "margin", "lr"]),
                         ANY, max_size=2)
ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def ours(x):
    return hasattr(type(x), "_mg_backend") or isinstance(x, (micrograd.Chain, _core_py.Chain))


def seen(x, depth=0):
    """What a result is, comparably across backends: Numbers by value and
    gradient bits, floats by repr, containers item by item."""
    if depth > 4:
        return "..."
    if hasattr(type(x), "_mg_backend"):
        return ("Number", repr(x.gradient), repr(x._prev and len(x._prev)), x.op,
                repr(x.value) if not x.op.startswith("trace") else "")
    if isinstance(x, (micrograd.Chain, _core_py.Chain)):
        return ("Chain", repr(x))
    if isinstance(x, (float, int, str, bytes, bool, type(None))):
        return (type(x).__name__, repr(x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [seen(i, depth + 1) for i in x])
    if isinstance(x, (set, frozenset)):
        return (type(x).__name__, len(x))
    if isinstance(x, dict):
        return ("dict", sorted((repr(k), seen(v, depth + 1)) for k, v in x.items()))
    return ("object", type(x).__name__)


def outcome(call, M, specs):
    """(what the call gave or raised, the state of the Numbers it was given)."""
    made = make(specs, M)
    try:
        result = ("ok", seen(call(M, made)))
    except Exception as exc:        # noqa: BLE001 - the exception is the outcome
        result = ("raise", type(exc).__name__, ADDRESS.sub("0x?", str(exc)))
    finally:
        M.set_grad_enabled(True)
    return result, seen(made)


def same_on_both(both, call, specs):
    core, ref = both
    got = outcome(call, core, specs)
    want = outcome(call, ref, specs)
    assert got == want, f"\ncore      {got}\nreference {want}"


NUMBER_METHODS = sorted(
    name for name in dir(_core_py.Number)
    if not name.startswith("_") and callable(getattr(_core_py.Number, name))
) + ["__init__"]
# Special methods are called with the number of arguments their protocol
# passes: a C slot called directly with another count answers in CPython's
# words, which no Python function can match, and no operator does that.
DUNDERS = {name: 1 for name in ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
                                "__rmul__", "__truediv__", "__rtruediv__", "__pow__",
                                "__rpow__", "__format__", "__lt__", "__eq__", "__delattr__",
                                "__getattribute__", "__deepcopy__"]}
DUNDERS.update({name: 0 for name in ["__neg__", "__pos__", "__abs__", "__float__", "__bool__",
                                     "__copy__", "__reduce__", "__hash__"]})
DUNDERS["__setattr__"] = 2


def arity(fn):
    """How many positional arguments fn takes after self."""
    params = list(inspect.signature(fn).parameters.values())
    return len([p for p in params if p.name != "self" and p.kind in (p.POSITIONAL_ONLY,
                                                                         p.POSITIONAL_OR_KEYWORD)])


def arguments(fn):
    """Arguments for fn: usually as many as it takes, of the kinds it takes;
    sometimes too few or too many, of any kind, with stray keywords."""
    n = arity(fn)
    return st.one_of(st.tuples(st.lists(LIKELY, min_size=n, max_size=n), st.just({})),
                     st.tuples(st.lists(LIKELY, min_size=max(n - 1, 0), max_size=n), KWARGS),
                     st.tuples(ARGS, KWARGS))


@given(name=st.sampled_from(NUMBER_METHODS), receiver=NUMBERS, data=st.data())
def test_number_methods(both, name, receiver, data):
    args, kwargs = data.draw(arguments(getattr(_core_py.Number, name)))

    def call(M, made):
        recv, a, k = made
        return getattr(recv, name)(*a, **k)
    same_on_both(both, call, (receiver, args, kwargs))


@given(name=st.sampled_from(sorted(DUNDERS)), receiver=NUMBERS, args=st.lists(ANY, min_size=2,
                                                                              max_size=2))
def test_special_methods(both, name, receiver, args):
    def call(M, made):
        recv, a = made
        if name == "__deepcopy__":
            a = [{}]
        result = getattr(recv, name)(*a[:DUNDERS[name]])
        return result if name != "__hash__" else type(result)
    same_on_both(both, call, (receiver, args))


OPERATORS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a ** b, "pow3": lambda a, b: pow(a, b, 3),
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "@": lambda a, b: a @ b,
    "//": lambda a, b: a // b, "%": lambda a, b: a % b, "neg": lambda a, b: -a,
    "abs": lambda a, b: abs(a), "float": lambda a, b: float(a), "int": lambda a, b: int(a),
    "bool": lambda a, b: bool(a), "round": lambda a, b: round(a), "index": lambda a, b: [0][a],
    "format": lambda a, b: format(a, b) if isinstance(b, str) else format(a),
    "iter": lambda a, b: list(a), "len": lambda a, b: len(a), "item": lambda a, b: a[0],
    "+=": lambda a, b: a.__iadd__(b) if hasattr(a, "__iadd__") else a,
    "in": lambda a, b: a in b if isinstance(b, (list, tuple)) else None,
    "math.exp": lambda a, b: math.exp(a), "np.add": lambda a, b: np.add(a, b),
    "sum()": lambda a, b: sum([a, b]),
}


@given(op=st.sampled_from(sorted(OPERATORS)), left=st.one_of(NUMBERS, st.builds(Chn, FLOATS)),
       right=ANY, flip=st.booleans())
def test_operators(both, op, left, right, flip):
    def call(M, made):
        a, b = made
        if not (ours(a) or ours(b)):
            return "neither operand is ours: Python's own arithmetic"
        return OPERATORS[op](b, a) if flip else OPERATORS[op](a, b)
    same_on_both(both, call, (left, right))


ATTRIBUTES = ["value", "gradient", "data", "grad", "op", "children", "_prev", "_op", "foo",
              "backward", "relu", "__class__", "__dict__"]


@given(attr=st.sampled_from(ATTRIBUTES), receiver=NUMBERS, value=ANY,
       how=st.sampled_from(["set", "del", "get"]))
def test_attribute_access(both, attr, receiver, value, how):
    def call(M, made):
        recv, v = made
        if how == "set":
            return setattr(recv, attr, v)
        if how == "del":
            return delattr(recv, attr)
        got = getattr(recv, attr)
        return got if not callable(got) else type(got).__name__ in ("method", "builtin_function_or_method", "cython_function_or_method")
    same_on_both(both, call, (receiver, value))


MODULE_FUNCTIONS = ["Number", "Chain", "sum", "dot", "where", "maximum", "minimum", "gt", "ge",
                    "lt", "le", "clamp",
                    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
                    "detect_anomaly", "is_anomaly_enabled"]


@given(name=st.sampled_from(MODULE_FUNCTIONS), data=st.data())
def test_module_functions(both, name, data):
    fn = getattr(_core_py, name)
    args, kwargs = data.draw(arguments(fn.__init__ if isinstance(fn, type) else fn))

    def call(M, made):
        a, k = made
        return getattr(M, name)(*a, **k)
    same_on_both(both, call, (args, kwargs))


@given(name=st.sampled_from(sorted(functions.__all__)), data=st.data())
def test_top_level_functions(both, name, data):
    args, kwargs = data.draw(arguments(getattr(functions, name)))

    def call(M, made):
        a, k = made
        if not any(hasattr(type(x), "_mg_backend") for x in a):
            return "no Number: the active backend decides"
        return getattr(functions, name)(*a, **k)
    same_on_both(both, call, (args, kwargs))


CHAIN_METHODS = sorted(name for name in dir(_core_py.Chain)
                       if not name.startswith("_") and callable(getattr(_core_py.Chain, name)))


@given(name=st.sampled_from(CHAIN_METHODS), start=st.one_of(LIKELY, st.lists(LIKELY, max_size=3)),
       data=st.data())
def test_chain_methods(both, name, start, data):
    args, kwargs = data.draw(arguments(getattr(_core_py.Chain, name)))

    def call(M, made):
        s, a, k = made
        return getattr(M.Chain(s), name)(*a, **k)
    same_on_both(both, call, (start, args, kwargs))


LOSSES = ["mse", "hinge", "binary_cross_entropy", "cross_entropy"]


BATCHES = st.one_of(LIKELY, st.lists(LIKELY, max_size=4), st.lists(st.lists(LIKELY, max_size=3),
                                                                    max_size=3),
                    st.lists(FLOATS, max_size=4).map(np.array),
                    st.lists(st.integers(-1, 3), max_size=4).map(np.array))


@given(name=st.sampled_from(LOSSES), pred=BATCHES, target=BATCHES,
       kwargs=st.dictionaries(st.sampled_from(["reduction", "margin"]),
                              st.one_of(st.sampled_from(["mean", "sum", "none", "max"]), LIKELY),
                              max_size=1))
def test_losses(both, name, pred, target, kwargs):
    args = [pred, target]

    def call(M, made):
        a, k = made
        return getattr(losses, name)(*a, **k)
    same_on_both(both, call, (args, kwargs))


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
HYPER = st.dictionaries(st.sampled_from(["lr", "momentum", "dampening", "weight_decay",
                                         "nesterov", "betas", "eps", "amsgrad", "maximize",
                                         "alpha", "centered", "lr_decay",
                                         "initial_accumulator_value", "foo"]),
                        st.one_of(REALS, REALS, JUNK, st.tuples(REALS, REALS)), max_size=3)


@given(name=st.sampled_from(OPTIMIZERS),
       params=st.one_of(st.lists(NUMBERS, max_size=3), st.lists(NUMBERS, max_size=3).map(
           lambda ps: [{"params": ps}]), ANY), hyper=HYPER,
       grads=st.lists(FLOATS, min_size=1, max_size=3), steps=st.integers(0, 3))
def test_optimizers(both, name, params, hyper, grads, steps):
    def call(M, made):
        ps, h = made
        opt = getattr(optim, name)(ps, **h)
        leaves = [p for g in opt.param_groups for p in g["params"]]
        for _ in range(steps):
            for p, g in zip(leaves, grads * len(leaves)):
                p.grad = g
            opt.step()
        return [p.value for p in leaves], opt.state_dict()["state"]
    same_on_both(both, call, (params, hyper))


@given(params=st.one_of(st.lists(NUMBERS, max_size=3), ANY), max_norm=st.one_of(REALS, JUNK),
       norm_type=st.one_of(REALS, JUNK),
       grads=st.lists(FLOATS, min_size=1, max_size=3), value=st.booleans())
def test_clipping(both, params, max_norm, norm_type, grads, value):
    def call(M, made):
        ps = made
        items = ps if isinstance(ps, list) else [ps]
        for p, g in zip([p for p in items if hasattr(type(p), "_mg_backend")], grads * 4):
            p.grad = g
        if value:
            return optim.clip_grad_value_(ps, max_norm)
        return optim.clip_grad_norm_(ps, max_norm, norm_type)
    same_on_both(both, call, params)


@given(which=st.sampled_from(["grad", "value_and_grad", "gradcheck"]),
       args=st.lists(LIKELY, max_size=3),
       argnums=st.one_of(st.integers(-3, 3), st.lists(st.integers(-3, 3), max_size=2), JUNK))
def test_transforms(both, which, args, argnums):
    f = lambda *xs: sum(((x * x).tanh() for x in xs), 0.0) if xs else 0.0   # noqa: E731

    def call(M, made):
        if which == "gradcheck":
            return transforms.gradcheck(f, *made)
        return getattr(transforms, which)(f, argnums)(*made)
    same_on_both(both, call, args)


def test_the_suite_compares_something(both):
    """A check of the harness: different results are told apart."""
    core, ref = both
    with pytest.raises(AssertionError):
        same_on_both(both, lambda M, made: 1.0 if M is core else 2.0, ())
    with pytest.raises(AssertionError):
        same_on_both(both, lambda M, made: (_ for _ in ()).throw(
            ValueError("a" if M is core else "b")), ())
    copy.deepcopy(Num(1.0, True))


UNBOUND = r'''
import sys
import micrograd._core as C, micrograd._core_py as P
rows = {}
for m in (C, P):
    for cls in (m.Number, m.Chain):
        for name in sorted(dir(cls)):
            if name.startswith("_") or not callable(getattr(cls, name)):
                continue                  # properties are descriptors, which check self
            for extra in range(3):
                print(m.BACKEND, cls.__name__, name, extra, file=sys.stderr, flush=True)
                try:
                    getattr(cls, name)(5, *([1.0] * extra))
                    got = "returned"
                except Exception as exc:
                    got = f"{type(exc).__name__}: {exc}"
                rows.setdefault((cls.__name__, name, extra), {})[m.BACKEND] = got
for key, got in sorted(rows.items()):
    print(key, got["core"] == got["python"] and got["core"].startswith("TypeError"), got)
'''


def test_a_method_called_unbound_on_another_object_is_refused_not_crashed():
    """micrograd._core.Chain.add(5, 1) and Number.backward(5) read an int as a
    Chain or a Number and crashed the interpreter: Cython's method objects do
    not check self (Cython #1903).  Every public method of both classes, on
    both backends, now refuses a wrong self with one TypeError (in a child
    process, so that a crash fails this test and not the suite)."""
    import subprocess
    import sys
    pytest.importorskip("micrograd._core")
    out = subprocess.run([sys.executable, "-c", UNBOUND], capture_output=True, text=True)
    assert out.returncode == 0, ("crashed at", out.stderr.strip().splitlines()[-1:])
    rows = out.stdout.splitlines()
    assert len(rows) > 150, out.stdout[:500]
    bad = [row for row in rows if " True " not in row]
    assert not bad, bad[:5]


@pytest.mark.parametrize("make, words", [
    (lambda m: m.Number([1, 2]), "must be real number, not list"),
    (lambda m: m.Number("abc"), "must be real number, not str"),
    (lambda m: m.Number(2.0) + np.array([1.0, 2.0]), "array of shape (2,)"),
    (lambda m: np.array([1.0, 2.0]) + m.Number(2.0), "array of shape (2,)"),
    (lambda m: m.Number(2.0).mul(np.ones((2, 3))), "array of shape (2, 3)"),
    (lambda m: optim.SGD(_model(m), lr=0.1), "got the MLP itself: pass its .parameters()"),
    (lambda m: optim.SGD([m.Number(1.0)], lr="0.1"), "lr must be a real number, not str"),
    (lambda m: optim.Adam([m.Number(1.0)], betas=(0.9, "x")), "betas must be a real number"),
    (lambda m: optim.RMSprop([m.Number(1.0)], alpha=None), "alpha must be a real number"),
    (lambda m: optim.Adagrad([m.Number(1.0)], eps=b"1"), "eps must be a real number"),
], ids=["list", "str", "number-array", "array-number", "method-array", "model", "lr-str",
        "betas", "alpha", "eps"])
def test_a_newcomers_mistakes_name_what_is_expected(both, make, words):
    """Messages that said strings were allowed, 'MLP' object is not iterable,
    '<' not supported between 'str' and 'float', or spoke of __array_ufunc__
    and concatenation: now each says what is expected, the same on both."""
    got = []
    for m in both:
        with pytest.raises(TypeError) as info:
            make(m)
        got.append(str(info.value))
    assert got[0] == got[1] and words in got[0], got


def _model(m):
    """A model (the optimizer refuses it before it looks at its weights)."""
    from micrograd import nn
    return nn.MLP(2, [3, 1])
