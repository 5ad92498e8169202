"""The ops added through the table: where, maximum, minimum, clamp, log1p,
expm1, atan.  Both backends, against torch float64 where torch has them."""
import math
import struct

import pytest
from hypothesis import given, strategies as st

import micrograd
from graphs import same_float

NAN, INF = math.nan, math.inf
VALUES = [-3.0, -1.0, -0.0, 0.0, 0.5, 1.0, 2.5, INF, -INF, NAN]


def bits(x):
    return struct.pack("<d", x)


# -- where -----------------------------------------------------------------------
def test_where_picks_and_sends_the_gradient_to_the_pick_only(impl):
    x, y = impl.Number(2.0), impl.Number(5.0)
    for cond, picked in ((1.0, x), (0.0, y), (-1.0, y), (NAN, y), (impl.Number(3.0), x)):
        x.gradient = y.gradient = 0.0
        out = impl.where(cond, x * 3.0, y * 7.0)
        assert out.value == picked.value * (3.0 if picked is x else 7.0) and out.op == "where"
        out.backward()
        assert (x.gradient, y.gradient) == ((3.0, 0.0) if picked is x else (0.0, 7.0))


def test_where_with_reals_and_no_numbers(impl):
    assert impl.where(1.0, 2.0, 3.0).value == 2.0 and impl.where(1.0, 2.0, 3.0).op == ""
    x = impl.Number(4.0)
    out = impl.where(-1.0, x, 9.0)
    assert out.value == 9.0
    out.backward()
    assert x.gradient == 0.0
    with pytest.raises(TypeError):
        impl.where("yes", x, 1.0)


def test_the_condition_gets_no_gradient(impl):
    c = impl.Number(0.5)
    cond = c * 2.0
    out = impl.where(cond, c, 1.0)
    out.backward()
    assert c.gradient == 1.0 and cond.gradient == 0.0


@given(st.floats(-5, 5), st.floats(0.0, 4.0), st.sampled_from([INF, -INF, NAN]))
def test_an_inf_or_nan_in_the_branch_not_taken_never_leaks(both, cond, v, poison):
    """sqrt at 0 has an infinite derivative, and poison * x an inf or NaN one:
    neither may reach x through the branch where() did not take."""
    results = []
    for m in both:
        x = m.Number(v)
        picked, poisoned = x * 1.5, (x * 0.0).sqrt() + x * poison
        out = m.where(cond, picked, poisoned) if cond > 0 else m.where(cond, poisoned, picked)
        out.backward()
        results.append((out.value, x.gradient))
        assert x.gradient == 1.5
    assert bits(results[0][0]) == bits(results[1][0])


# -- maximum, minimum ------------------------------------------------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_match_torch(impl, torch, name):
    tf = getattr(torch, name)
    for a in VALUES:
        for b in VALUES:
            for form in ("nodes", "const_right", "const_left"):
                x, y = impl.Number(a), impl.Number(b)
                tx = torch.tensor(a, dtype=torch.float64, requires_grad=True)
                ty = torch.tensor(b, dtype=torch.float64, requires_grad=True)
                if form == "nodes":
                    out, tout = getattr(impl, name)(x, y), tf(tx, ty)
                elif form == "const_right":
                    out, tout = getattr(impl, name)(x, b), tf(tx, ty.detach())
                else:
                    out, tout = getattr(impl, name)(a, y), tf(tx.detach(), ty)
                out.backward()
                tout.backward()
                if not (a == b == 0.0):          # torch returns its first zero
                    assert same_float(out.value, tout.item()), (name, form, a, b)
                for ours, theirs in ((x, tx), (y, ty)):
                    if theirs.grad is not None:
                        assert same_float(ours.gradient, theirs.grad.item()), (name, form, a, b)


def test_maximum_of_signed_zeros_is_ieee_and_symmetric(impl):
    for a, b in ((0.0, -0.0), (-0.0, 0.0)):
        assert bits(impl.maximum(impl.Number(a), b).value) == bits(0.0)
        assert bits(impl.minimum(a, impl.Number(b)).value) == bits(-0.0)


def test_pairwise_methods_and_errors(impl):
    x = impl.Number(2.0)
    assert x.maximum(3.0).value == 3.0 and x.minimum(3.0).value == 2.0
    assert impl.maximum(1.0, 2.0).value == 2.0 and impl.maximum(1.0, 2.0).op == ""
    with pytest.raises(TypeError, match="maximum"):
        x.maximum("3")


# -- clamp -------------------------------------------------------------------------
@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (None, 0.5), (0.5, None), (1.0, -1.0),
                                   (0.0, 0.0), (-INF, INF)])
def test_clamp_matches_torch(impl, torch, lo, hi):
    for v in VALUES + [1.0, -1.0, 0.5]:
        x = impl.Number(v)
        tx = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        out, tout = impl.clamp(x, lo, hi), torch.clamp(tx, lo, hi)
        out.backward()
        tout.backward()
        assert same_float(out.value, tout.item()), (v, lo, hi)
        assert same_float(x.gradient, tx.grad.item()), (v, lo, hi)


def test_clamp_forms(impl):
    x = impl.Number(3.0)
    assert x.clamp(hi=2.0).value == 2.0 and x.clamp(hi=2.0).op == "clamp"
    assert x.clamp(hi=2.0).children == (x,)
    assert impl.clamp(5.0, 0.0, 1.0).value == 1.0
    with pytest.raises(ValueError, match="at least one"):
        impl.clamp(x)
    with pytest.raises(TypeError):
        x.clamp("0", 1.0)


# -- log1p, expm1, atan ------------------------------------------------------------
GRID = [-0.999, -0.5, -1e-10, -5e-324, 0.0, 1e-300, 1e-10, 0.3, 1.0, 3.0, 30.0, 700.0,
        -30.0, -700.0, 1e10, 1e200, -1e200]


@pytest.mark.parametrize("name", ["log1p", "expm1", "atan"])
def test_new_unary_ops_match_torch_or_are_closer_to_the_truth(impl, torch, name):
    """Equal to torch to 1e-12 (value) and 1e-10 (gradient), or nearer the
    50-digit truth than torch where torch's formula loses accuracy."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    truth = {"log1p": (mpmath.log1p, lambda v: 1 / (1 + v)),
             "expm1": (mpmath.expm1, mpmath.exp),
             "atan": (mpmath.atan, lambda v: 1 / (1 + v * v))}[name]
    for v in GRID:
        x = impl.Number(v)
        try:
            y = getattr(x, name)()
        except (ValueError, OverflowError):
            continue
        y.backward()
        tx = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        ty = getattr(torch, name)(tx)
        ty.backward()
        for ours, theirs, exact, rel in ((y.value, ty.item(), truth[0], 1e-12),
                                         (x.gradient, tx.grad.item(), truth[1], 1e-10)):
            if math.isclose(ours, theirs, rel_tol=rel, abs_tol=1e-300):
                continue
            t = exact(mpmath.mpf(v))
            assert abs(ours - t) <= abs(theirs - t), (name, v, ours, theirs)


@pytest.mark.parametrize("name,v", [("log1p", -1.0), ("log1p", -2.0), ("expm1", 1000.0),
                                    ("log1p", -INF)])
def test_new_ops_raise_as_math_does(impl, name, v):
    with pytest.raises(Exception) as expected:
        getattr(math, name)(v)
    with pytest.raises(expected.type) as got:
        getattr(impl.Number(v), name)()
    assert str(got.value) == str(expected.value)


def test_chain_steps_of_the_new_ops(impl):
    x = impl.Number(0.5)
    c = impl.Chain(x).maximum(0.7).minimum(impl.Number(0.6)).clamp(0.0, 0.55).log1p().atan()
    c = c.expm1().where(1.0, 0.0)
    assert [s.op for s in c.steps] == ["maximum", "minimum", "clamp", "log1p", "atan", "expm1",
                                       "where"]
    expect = math.expm1(math.atan(math.log1p(0.55)))
    assert c.result().value == expect
    assert "clamp(lo=0.0, hi=0.55)" in repr(c) and "where(cond=1.0, other=0.0)" in repr(c)


def test_top_level_functions_follow_their_operands_backend(both):
    for m in both:
        x = m.Number(0.25)
        assert isinstance(micrograd.where(x, x, 1.0), m.Number)
        assert isinstance(micrograd.maximum(1.0, x), m.Number)
        assert isinstance(micrograd.clamp(x, 0.0), m.Number)
        assert isinstance(micrograd.log1p(x), m.Number)
    assert isinstance(micrograd.atan(0.5), micrograd.Number)
