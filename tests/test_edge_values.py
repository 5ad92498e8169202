"""Every op's forward and backward formulas at fixed edge values, on both
backends: no exception, and the same bits (NaN matches NaN).

Deterministic, not hypothesis: zeros of both signs, subnormals, the smallest
normal, +-1, halves, huge values, the overflow and underflow points of exp,
infinities and NaN, in every operand position.  The formulas are reached
through a one-op tape, whose replay keeps the IEEE value where a Number would
raise (log(0), 1/0), so one call covers every edge value at once; the core's
fast and plain replays and the reference's must agree."""
import math

import numpy as np
import pytest

import micrograd as mg
from graphs import BINARY, PARAM, UNARY, binop

EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.5, -0.5, 2.0,
         -2.0, 3.0, 1e-10, -1e-10, 20.0, -20.0, 40.0, -40.0, 709.78, -745.2, 1e300, -1e300,
         1.7976931348623157e308, math.inf, -math.inf, math.nan]


def canonical(a):
    """The bytes of a float64 array with every NaN made one NaN."""
    a = np.array(a, dtype=np.float64)
    a[np.isnan(a)] = np.nan
    return a.tobytes()


def cases():
    """(name, number of inputs, fn(mod) -> the function to trace)."""
    out = [(f"unary {u}", 1, lambda mod, u=u: (lambda x: abs(x) if u == "abs"
                                               else getattr(x, u)()))
           for u in UNARY]
    out += [(f"binary {b}", 2, lambda mod, b=b: (lambda x, y: binop(mod, b, x, y)))
            for b in BINARY]
    for c in EDGES:
        out += [(f"const {b} {c!r}", 1, lambda mod, b=b, c=c: (lambda x: binop(mod, b, x, c)))
                for b in BINARY]
        out += [(f"rconst {b} {c!r}", 1, lambda mod, b=b, c=c: (lambda x: binop(mod, b, c, x)))
                for b in BINARY]
        out += [(f"param {p} {c!r}", 1, lambda mod, p=p, c=c: (lambda x: PARAM[p](x, c)))
                for p in sorted(PARAM)]
        out += [(f"clamp lo={c!r}", 1, lambda mod, c=c: (lambda x: mod.clamp(x, c, None))),
                (f"clamp hi={c!r}", 1, lambda mod, c=c: (lambda x: mod.clamp(x, None, c))),
                (f"clamp [{c!r}, 1]", 1, lambda mod, c=c: (lambda x: mod.clamp(x, c, 1.0)))]
    out += [("where", 3, lambda mod: (lambda c, a, b: mod.where(c, a, b))),
            ("sum", 3, lambda mod: (lambda a, b, c: mod.sum([a, b, c, 1.0]))),
            ("dot", 2, lambda mod: (lambda a, b: mod.dot([a, b, 2.0], [b, -1.0, a])))]
    return out


CASES = cases()


def replay(mod, make, nin, X, plain=False):
    """(values, input gradients) of a one-op tape over the rows of X, or the
    exception tracing raised (an argument the op refuses, on both backends)."""
    try:
        tape = mg.trace(make(mod), *[mod.Number(1.0) for _ in range(nin)])
    except (ValueError, TypeError, ArithmeticError) as exc:
        return type(exc), str(exc)
    tape.replay = "plain" if plain else "fast"
    vals, grads = tape.value_and_grad(X, reduction="none", wrt="inputs")
    return canonical(vals), canonical(grads)


def test_every_op_has_edge_cases():
    # every op of the table appears among the cases, by kind
    names = {name.split()[1] if " " in name else name for name, _, _ in CASES}
    assert set(UNARY) <= names and set(BINARY) <= names and set(PARAM) <= names


@pytest.mark.parametrize("name,nin,make", CASES, ids=[c[0] for c in CASES])
def test_formulas_at_edge_values_agree_on_both_backends(both, name, nin, make):
    core, py = both
    grid = np.array(np.meshgrid(*[EDGES] * nin, indexing="ij")).reshape(nin, -1).T
    if nin == 3:                       # 26^3 rows: a slice of the cube is enough
        grid = grid[::7]
    X = np.ascontiguousarray(grid)
    want = replay(py, make, nin, X)
    assert replay(core, make, nin, X) == want, name
    assert replay(core, make, nin, X, plain=True) == want, name


def _raised(mod, make, nin, row):
    """What an op on Numbers of mod does at row: its value's bits, or the
    type and words of what it raised."""
    try:
        out = make(mod)(*[mod.Number(v) for v in row])
        return ("value", canonical([out.value]))
    except Exception as exc:            # an op's error: compared, type and words
        return (type(exc).__name__, str(exc))


def test_errors_at_the_edges_are_the_reference_s_on_the_core(both):
    """The core builds an op's error from the formula's status alone
    (micrograd._errors.op_error), no longer by calling the reference's
    formula: at every edge value of every op the two raise the same exception
    with the same words (division by zero, 0 ** -1, pow overflow, log(-1),
    exp(1000), sin(inf), ...)."""
    core, ref = both
    raised = 0
    for name, nin, make in CASES:
        rows = [[v] for v in EDGES] if nin == 1 else [[a, b] for a in EDGES for b in EDGES] \
            if nin == 2 else [[a, 1.0, -1.0] for a in EDGES]
        for row in rows:
            got, want = _raised(core, make, nin, row), _raised(ref, make, nin, row)
            assert got == want, (name, row, got, want)
            raised += got[0] != "value"
    assert raised > 100                 # the edges do reach every kind of error


def test_a_negative_base_to_a_fractional_power_is_a_domain_error(impl):
    """(-5e-324) ** -745.2 has a complex result, so a ValueError as for any
    negative base and fractional exponent (C's status); the reference let
    Python's complex power overflow first and raised OverflowError."""
    for a, b in ((-5e-324, -745.2), (-2.0, 0.5), (-1e300, 1e-300 + 0.5)):
        with pytest.raises(ValueError, match="math domain error"):
            impl.Number(a) ** b
        with pytest.raises(ValueError, match="math domain error"):
            impl.Number(a) ** impl.Number(b)
